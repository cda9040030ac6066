#!/usr/bin/python3
"""Writes the BCAST/1 test vectors (messages.json, invalid.json) next to it.

Each valid vector is a message in the canonical key order of PROTOCOL.md,
its exact MessagePack bytes (hex) and, for publications, the PUB topic; a
`pack` vector also lists under "means" the `msg` bodies it stands for.
Each invalid vector is a body with the error code a broker must answer to a
client that has joined (hello vectors: to a connection without a session).
The C++ codec tests and every client's tests read these files; rerun this
script only to add vectors, and check the diff: bytes must never change.
"""
import json
import os

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = 1795318932146
TS = 1795318933918


def msg_body(seq, frm, text, room="lobby"):
    return {"t": "msg", "epoch": EPOCH, "seq": seq, "ts": TS, "room": room, "from": frm, "text": text}


VALID = [
    # name, kind, topic, message (keys in canonical order)
    ("hello", "request", None, {"t": "hello", "v": 1, "name": "alice"}),
    ("hello_full", "request", None,
     {"t": "hello", "v": 1, "name": "Zoë", "session": "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7",
      "token": "s3cret", "rooms": ["lobby", "dev"]}),
    ("msg", "request", None, {"t": "msg", "room": "lobby", "text": "hi", "id": 1}),
    ("msg_without_id", "request", None, {"t": "msg", "room": "dev", "text": "fire and forget"}),
    ("msg_utf8_and_big_id", "request", None,
     {"t": "msg", "room": "lobby", "text": "héllo 👋 日本", "id": 4294967296}),
    ("dm", "request", None, {"t": "dm", "to": "bob", "text": "psst", "id": 2}),
    ("ping", "request", None, {"t": "ping"}),
    ("ping_with_id", "request", None, {"t": "ping", "id": 3}),
    ("who", "request", None, {"t": "who", "id": 4}),
    ("rooms", "request", None, {"t": "rooms", "id": 6}),
    ("history_newest", "request", None, {"t": "history", "room": "lobby", "limit": 20}),
    ("history_after", "request", None, {"t": "history", "room": "dev", "after": 41, "limit": 1000, "id": 5}),
    ("bye", "request", None, {"t": "bye"}),
    ("welcome", "event", None,
     {"t": "welcome", "v": 1, "name": "alice", "session": "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7",
      "epoch": EPOCH, "hb_ivl": 1000, "liveness": 3, "sys_seq": 7, "rooms": {"dev": 0, "lobby": 42},
      "max_text": 4096, "ts": TS}),
    ("ack_msg", "event", None, {"t": "ack", "id": 1, "room": "lobby", "seq": 43}),
    ("ack_dm", "event", None, {"t": "ack", "id": 2}),
    ("error", "event", None, {"t": "error", "code": "too-large", "reason": "text is 5000 bytes; the limit is 4096", "id": 9}),
    ("error_without_id", "event", None, {"t": "error", "code": "name-taken", "reason": "the name 'alice' is in use"}),
    ("pong", "event", None, {"t": "pong", "id": 3}),
    ("who_answer", "event", None,
     {"t": "who", "users": [{"name": "alice", "since": TS - 5000}, {"name": "bob", "since": TS}], "id": 4}),
    ("rooms_answer", "event", None,
     {"t": "rooms", "list": [{"room": "dev", "last": 0}, {"room": "lobby", "last": 42, "idle": 1500}], "id": 6}),
    ("history_answer", "event", None,
     {"t": "history", "room": "lobby", "msgs": [msg_body(41, "bob", "one"), msg_body(42, "alice", "two")],
      "first": 1, "last": 42, "epoch": EPOCH, "id": 5}),
    ("history_empty", "event", None,
     {"t": "history", "room": "quiet", "msgs": [], "first": 1, "last": 0, "epoch": EPOCH}),
    ("dm_delivery", "event", None, {"t": "dm", "from": "alice", "text": "psst", "ts": TS}),
    ("room_msg", "event", "room/lobby/", msg_body(43, "alice", "hi")),
    ("room_msg_action", "event", "room/dev/", msg_body(1, "bob", "/me waves", room="dev")),
    ("room_batch", "event", "room/lobby/",
     {"t": "batch", "epoch": EPOCH, "room": "lobby",
      "msgs": [msg_body(44, "alice", "one"), msg_body(45, "bob", "two"), msg_body(46, "alice", "three")]}),
    ("room_pack", "event", "room/lobby/",
     {"t": "pack", "epoch": EPOCH, "room": "lobby", "seq": 44, "ts": TS, "names": ["alice", "bob"],
      "entries": [[0, 0, "one"], [1, 1, "two"], [300, 0, "three"]]}),
    ("join", "event", "sys/", {"t": "join", "epoch": EPOCH, "seq": 8, "ts": TS, "name": "carol"}),
    ("leave", "event", "sys/", {"t": "leave", "epoch": EPOCH, "seq": 9, "ts": TS, "name": "carol", "reason": "timeout"}),
    ("hb", "event", "sys/",
     {"t": "hb", "epoch": EPOCH, "ts": TS, "sys_seq": 9, "rooms": {"lobby": 43}, "clients": 2}),
    ("shutdown", "event", "sys/", {"t": "shutdown", "epoch": EPOCH, "seq": 10, "ts": TS, "reason": "shutdown"}),
]


# What a `pack` vector means (6.3): the `msg` bodies of its entries, in order.
MEANS = {
    "room_pack": [msg_body(44, "alice", "one"), dict(msg_body(45, "bob", "two"), ts=TS + 1),
                  dict(msg_body(46, "alice", "three"), ts=TS + 300)],
}


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


INVALID = [
    # name, hex bytes, error code, why
    ("empty", b"", "bad-request", "no body"),
    ("not_msgpack", b"\xc1\x00\xff", "bad-request", "0xc1 is never valid MessagePack"),
    ("array_not_map", pack(["msg", "hi"]), "bad-request", "the body is not a map"),
    ("truncated_map", pack({"t": "msg", "text": "hi"})[:-1], "bad-request", "the map is cut short"),
    ("trailing_bytes", pack({"t": "ping"}) + b"\x00", "bad-request", "bytes after the map"),
    ("missing_t", pack({"text": "hi"}), "bad-request", "no type"),
    ("unknown_t", pack({"t": "launch", "id": 6}), "bad-request", "unknown type"),
    ("text_not_string", pack({"t": "msg", "text": 5, "id": 7}), "bad-request", "text must be a string"),
    ("id_negative", pack({"t": "msg", "text": "hi", "id": -1}), "bad-request", "id must be unsigned"),
    ("duplicate_key", b"\x83\xa1t\xa3msg\xa4text\xa1a\xa4text\xa1b", "bad-request", "a key twice"),
    ("invalid_utf8_text", b"\x82\xa1t\xa3msg\xa4text\xa4caf\xc3", "bad-request", "a cut UTF-8 sequence"),
    ("binary_text", pack({"t": "msg", "text": b"hi"}), "bad-request", "text as bin, not str"),
    ("empty_text", pack({"t": "msg", "text": "", "id": 8}), "bad-request", "empty text"),
    ("text_too_large", pack({"t": "msg", "text": "x" * 4097, "id": 9}), "too-large", "one byte over max_text"),
    ("room_invalid", pack({"t": "msg", "room": "Not A Room", "text": "hi", "id": 10}), "invalid-room", "room rule"),
    ("history_limit_too_large", pack({"t": "history", "limit": 1001, "id": 11}), "too-large", "limit over 1000"),
    ("dm_unknown_user", pack({"t": "dm", "to": "nobody-here", "text": "hi", "id": 12}), "unknown-user", "no such user"),
    ("hello_bad_version", pack({"t": "hello", "v": 2, "name": "vector-hello"}), "version", "hello: v must be 1"),
    ("hello_bad_name", pack({"t": "hello", "v": 1, "name": "two words"}), "invalid-name", "hello: whitespace in name"),
]


def main():
    messages = [{"name": n, "kind": k, "topic": t, "message": m, "msgpack": pack(m).hex()}
                for n, k, t, m in VALID]
    for v in messages:
        if v["name"] in MEANS:
            v["means"] = [{"message": m, "msgpack": pack(m).hex()} for m in MEANS[v["name"]]]
    invalid = []
    for n, body, code, why in INVALID:
        entry = {"name": n, "msgpack": body.hex(), "error": code, "why": why,
                 "sender": "connection" if n.startswith("hello_") else "session"}
        invalid.append(entry)
    with open(os.path.join(HERE, "messages.json"), "w") as f:
        json.dump(messages, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(HERE, "invalid.json"), "w") as f:
        json.dump(invalid, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
