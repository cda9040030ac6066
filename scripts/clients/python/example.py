#!/usr/bin/python3
# Join the lobby, post a score, print what the room says for five seconds.
import os
from bcast_client import Client

IN = os.environ.get("BCAST_IN", "tcp://127.0.0.1:5555")
OUT = os.environ.get("BCAST_OUT", "tcp://127.0.0.1:5556")

with Client("scoreboard", IN, OUT, token=os.environ.get("BCAST_TOKEN")) as room:
    room.send("home 2 : 1 away")
    for e in room.events(timeout=5):
        if e["t"] == "msg":
            print(f'{e["from"]}: {e["text"]}', flush=True)
        elif e["t"] in ("join", "leave"):
            print(f'* {e["name"]} {"joined" if e["t"] == "join" else "left"}', flush=True)
