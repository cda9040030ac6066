#!/usr/bin/python3
"""Bytes on the wire per delivered message: starts a broker (the binary given)
with `--db :memory:` on free loopback ports, sends a burst of messages of one
size from one DEALER, and counts what one raw SUB receives for them: frame
bytes (topic + body) and ZMTP bytes (frame bytes plus each frame's flags and
length header). A burst sent at once is what the broker packs; the figure is
per message, packs and lone msgs together.

Usage: scripts/wire_bytes.py BROKER [--sizes 64,1024] [--count 20000]
"""
import argparse
import socket
import subprocess
import sys
import time

import msgpack
import zmq


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def messages_in(body):
    """How many room messages one publication carries (msg, batch or pack)."""
    b = msgpack.unpackb(body)
    return {"msg": 1, "batch": len(b.get("msgs", [])), "pack": len(b.get("entries", []))}.get(b["t"], 0)


def zmtp(frame):
    return frame + (2 if frame < 256 else 9)  # flags byte and a short or long length


def measure(broker, size, count):
    port_in, port_out = free_port(), free_port()
    proc = subprocess.Popen([broker, "start", "--in", str(port_in), "--out", str(port_out), "--db", ":memory:"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"room/lobby/")
        sub.setsockopt(zmq.SUBSCRIBE, b"sys/")
        sub.connect(f"tcp://127.0.0.1:{port_out}")
        if not sub.poll(10000):  # the first hb: subscribed
            sys.exit("no heartbeat from the broker")
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.SNDHWM, 0)
        dealer.connect(f"tcp://127.0.0.1:{port_in}")
        dealer.send(msgpack.packb({"t": "hello", "v": 1, "name": "wire", "rooms": ["lobby"]}))
        if not dealer.poll(10000) or msgpack.unpackb(dealer.recv())["t"] != "welcome":
            sys.exit("no welcome")
        text = "x" * size
        for _ in range(count):
            dealer.send(msgpack.packb({"t": "msg", "room": "lobby", "text": text}))
        got = frames = wire = 0
        deadline = time.monotonic() + 60
        while got < count and time.monotonic() < deadline:
            if not sub.poll(1000):
                continue
            topic, body = sub.recv_multipart()
            if topic != b"room/lobby/":
                continue
            got += messages_in(body)
            frames += 1
            wire += zmtp(len(topic)) + zmtp(len(body))
        if got < count:
            sys.exit(f"only {got} of {count} messages arrived")
        return frames, wire, got
    finally:
        ctx.destroy(linger=0)
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("broker")
    parser.add_argument("--sizes", default="64,1024")
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    print("| text | publications | messages/publication | ZMTP bytes/message | framing bytes/message |")
    print("|---|---|---|---|---|")
    for size in map(int, args.sizes.split(",")):
        frames, wire, got = measure(args.broker, size, args.count)
        print(f"| {size} B | {frames} | {got / frames:.1f} | {wire / got:.1f} | {wire / got - size:.1f} |")


if __name__ == "__main__":
    main()
