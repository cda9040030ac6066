#!/usr/bin/python3
# Writes the fuzz targets' seed corpora and dictionary from the protocol's
# test vectors (proto/vectors/messages.json and invalid.json):
#   corpus/codec/  every vector's exact bytes, one file each (fuzz_codec)
#   corpus/core/   step sequences in fuzz_core's input format (see the top of
#                  fuzz_core.cpp): chat sessions, resume, expiry, history
#                  edges, every refusal, and every vector body sent raw
#   bcast.dict     MessagePack spellings of every key and type name
# Run it after changing the vectors or fuzz_core's format, and commit the
# output with it. Files named regress-* are inputs kept by hand (findings
# turned into regression seeds); this script leaves them alone.
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "..", "proto", "vectors")

# fuzz_core's pools, by index (names, rooms, texts in fuzz_core.cpp).
ALICE, BOB, CAROL, ZOE, DAVE, NO_NAME, TWO_WORDS, LONG_NAME, CTL_NAME = range(9)
LOBBY, DEV, R1, ABC, NO_ROOM, UPPER_ROOM, LONG_ROOM, SLASH_ROOM = range(8)
HI, ME, UTF8, EIGHT, TWENTY, HUNDRED, EMPTY, HUGE = range(8)

RAW, REQUEST, MUTATED, EXPIRE, HEARTBEAT, OTHER = 0, 1, 4, 5, 6, 7
HELLO, MSG, DM, PING, WHO, HISTORY, ROOMS, BYE = range(8)


def header(route, action, delimiter=False, wait=b""):
    """A step header; `wait` is b"" (no time passes), 1 byte or 2 bytes of ms,
    or None (every silent session expires)."""
    time = 3 if wait is None else len(wait or b"")
    return bytes([route | (4 if delimiter else 0) | action << 3 | time << 6]) + (wait or b"")


def hello(route, name, rooms=(), session=None, token=None, v=1, many_rooms=None, **kw):
    """session: None, ("token", i) for the i-th token seen, or bytes."""
    f = (1 if v != 1 else 0)
    tail = b""
    if isinstance(session, tuple):
        f |= 1 << 1
        tail += bytes([session[1]])
    elif session is not None:
        f |= 2 << 1
        tail += bytes([len(session)]) + session
    if token is not None:
        f |= 8
        if token == b"tok":
            f |= 16
        else:
            tail += bytes([len(token)]) + token
    if many_rooms is not None:
        f |= 7 << 5
        room_bytes = bytes([many_rooms]) + bytes([i % 4 for i in range(many_rooms)])
    else:
        f |= len(rooms) << 5
        room_bytes = bytes(rooms)
    return header(route, REQUEST, **kw) + bytes([HELLO, f, name]) + tail + room_bytes


def msg(route, room, text, id_=0, **kw):
    return header(route, REQUEST, **kw) + bytes([MSG, room, text, id_])


def dm(route, to, text, id_=0, **kw):
    return header(route, REQUEST, **kw) + bytes([DM, to, text, id_])


def simple(route, kind, id_=0, **kw):
    return header(route, REQUEST, **kw) + bytes([kind, id_])


def history(route, room, after=None, limit=None, id_=0, back=None, **kw):
    """after/limit: None (absent) or a number below 200; limit 1000+k for
    k < 4; back=k: after = the room's last seq - k (k < 54)."""
    a = 0 if after is None else after + 1
    if back is not None:
        a = 201 + back
    if limit is None:
        lb = 0
    elif limit >= 1000:
        lb = 251 + (limit - 1000)
    else:
        lb = limit + 1
    return header(route, REQUEST, **kw) + bytes([HISTORY, room, a, lb, id_])


def raw(route, body, **kw):
    n = bytes([len(body)]) if len(body) < 255 else b"\xff" + len(body).to_bytes(2, "little")
    return header(route, RAW, **kw) + n + body


def duty(action, wait=b""):
    return header(0, action, wait=wait)


def other(route, which, tail=b""):
    return header(route, OTHER) + bytes([which]) + tail


def options(per_room=0, budget=0, rate=False, token=False, max_text=0, heartbeat=0, liveness=3,
            history_rate=False):
    """Indexes into fuzz_core's tables: per_room {1000,0,1,3}, budget
    {256 MiB,64,300,4096}, max_text {4096,1,8,64}, heartbeat {1000,10,100,250}."""
    o = per_room | budget << 2 | (16 if rate else 0) | (32 if token else 0) | max_text << 6
    return bytes([o, heartbeat | (liveness - 1) << 2 | (16 if history_rate else 0)])


def core_seeds(requests, events, invalid):
    seeds = {}
    seeds["chat"] = options() + b"".join([
        hello(0, ALICE, rooms=[LOBBY]),
        hello(1, BOB, delimiter=True),
        msg(0, LOBBY, HI, 1),
        msg(1, LOBBY, ME, 1, delimiter=True),
        msg(0, LOBBY, HI, 1),                      # retried id: acked, not published
        msg(0, DEV, UTF8, 2, wait=b"\x10"),
        history(1, LOBBY, after=0, delimiter=True),
        simple(0, WHO, 3),
        simple(1, PING, 4),
        dm(0, BOB, HI, 5),
        dm(0, DAVE, HI, 6),                        # unknown-user
        duty(HEARTBEAT, wait=b"\x00\x01"),
        simple(0, BYE),
        duty(HEARTBEAT),
    ])
    seeds["resume_and_expiry"] = options(heartbeat=2, liveness=2) + b"".join([
        hello(0, ALICE),
        hello(1, CAROL),
        hello(2, ALICE, session=("token", 0)),     # resume on a new routing id
        msg(2, LOBBY, HI, 1),
        hello(2, ALICE, rooms=[DEV, LOBBY, DEV]),  # retried hello, rooms replaced
        hello(2, BOB),                             # renaming: bad-request
        simple(1, PING, wait=b"\x90"),
        duty(EXPIRE, wait=b"\x40"),
        duty(EXPIRE, wait=None),                   # everyone silent: timeouts
        simple(2, PING, 7),                        # no-session
        hello(3, ALICE, session=("token", 0)),     # stale token: a new join
    ])
    seeds["history_edges"] = options(per_room=3, budget=2) + b"".join(
        [hello(0, ZOE)]
        + [msg(0, LOBBY if i % 3 else DEV, HI, i + 1) for i in range(8)]
        + [
            history(0, LOBBY),
            history(0, LOBBY, after=2, limit=2, id_=20),
            history(0, DEV, after=150),
            history(0, LOBBY, back=1),
            history(0, LOBBY, back=4, limit=3),
            history(0, LOBBY, limit=0),
            history(0, LOBBY, limit=1001),          # too-large
            history(3, UPPER_ROOM),                 # invalid-room, no session
            history(3, ABC, after=0, limit=1000),   # empty room, no session
        ]
    )
    seeds["dormant_rejoin"] = options(heartbeat=1, liveness=1) + b"".join([
        hello(0, ALICE, rooms=[LOBBY]),
        msg(0, LOBBY, HI, 1),
        dm(0, ALICE, ME, 2),                       # to herself
        duty(EXPIRE, wait=None),                   # timeout: dormant, token kept
        msg(0, LOBBY, HI, 1),                      # no-session
        hello(1, ALICE, session=("token", 0)),     # rejoins: join, same token
        msg(1, LOBBY, HI, 1),                      # the retry is acked, not published
        dm(1, ALICE, ME, 2),
        msg(1, LOBBY, UTF8, 3),
        simple(1, BYE),
        hello(2, ALICE, session=("token", 0)),     # after bye the token is gone
    ])
    seeds["history_budget"] = options(history_rate=True) + b"".join(
        [hello(0, BOB)]
        + [msg(0, DEV, HI) for _ in range(8)]
        + [history(0, DEV, id_=1), history(0, DEV, after=0, limit=3, id_=2),
           history(3, DEV, id_=3), history(3, DEV, after=6, id_=4),
           history(0, DEV, after=0, limit=3, id_=5, wait=b"\xe8\x03")]
    )
    seeds["refusals"] = options(max_text=2, token=True) + b"".join([
        hello(0, ALICE, v=2),                      # version
        hello(0, TWO_WORDS, token=b"tok"),         # invalid-name
        hello(0, ALICE),                           # unauthorized (no token)
        hello(0, ALICE, token=b"nope"),            # unauthorized
        hello(0, ALICE, token=b"tok", rooms=[NO_ROOM]),  # invalid-room
        hello(0, ALICE, token=b"tok", many_rooms=70),    # bad-request: too many rooms
        hello(0, ALICE, token=b"tok"),
        hello(1, ALICE, token=b"tok"),             # name-taken
        msg(0, LOBBY, EMPTY, 1),                   # bad-request: empty text
        msg(0, LOBBY, TWENTY, 2),                  # too-large
        msg(0, LONG_ROOM, HI, 3),                  # invalid-room
        msg(0, SLASH_ROOM, HI, 4),                 # invalid-room
        simple(3, PING, 5),                        # no-session
        simple(3, BYE, 6),                         # no-session
        other(1, 0, b"\x03"),                      # bad envelope, 3 frames
        other(0, 1, bytes([MSG, LOBBY, HI, 9])),   # refused: shutting down
        other(0, 2),                               # shutdown
    ])
    seeds["rate_limit"] = options(rate=True) + b"".join(
        [hello(0, CAROL), hello(1, DAVE)]
        + [msg(0, R1, HI, i + 1) for i in range(5)]
        + [simple(0, WHO, 9), history(0, R1, id_=10), dm(0, DAVE, HI, 11)]
        + [msg(0, R1, HI, 12, wait=b"\xe8\x03")]   # a second later: allowed again
    )
    seeds["mutated"] = options() + b"".join([
        hello(0, ALICE),
        header(0, MUTATED) + bytes([MSG, LOBBY, HI, 1]) + b"\x05\x80",   # a flipped byte
        header(0, MUTATED) + bytes([MSG, LOBBY, HI, 2]) + b"\x0a\x00",   # cut short
        header(1, MUTATED) + bytes([HELLO, 0, BOB]) + b"\x00\x01",
    ])
    for name, body in requests:
        seeds["raw_" + name] = options() + hello(0, ALICE) + hello(1, BOB) + raw(0, body)
    seeds["raw_events"] = options() + hello(0, ALICE) + b"".join(raw(0, b) for _, b in events)
    # Bodies over 1000 bytes (text_too_large) stay in the codec corpus: small
    # seeds keep fuzz_core's inputs short, and max_text options cover too-large.
    seeds["raw_invalid"] = options() + hello(0, ALICE) + hello(1, BOB) + b"".join(
        raw(3 if sender == "connection" else 0, b) for _, b, sender in invalid if len(b) <= 1000)
    return seeds


def dictionary(messages):
    words = set()

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                words.add(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) < 16:
            words.add(value)

    for v in messages:
        walk(v["message"])
    lines = []
    for w in sorted(words):
        data = w.encode()
        if len(data) < 32:
            data = bytes([0xA0 | len(data)]) + data   # MessagePack fixstr
        lines.append('"' + "".join(f"\\x{b:02x}" for b in data) + '"')
    return "# MessagePack spellings of BCAST/1 keys and values; written by make_corpus.py\n" + \
        "\n".join(lines) + "\n"


def write_dir(path, files):
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):
        if not old.startswith("regress-"):
            os.remove(os.path.join(path, old))
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    with open(os.path.join(VECTORS, "messages.json")) as f:
        messages = json.load(f)
    with open(os.path.join(VECTORS, "invalid.json")) as f:
        invalid = json.load(f)
    codec = {f"{v['kind']}-{v['name']}": bytes.fromhex(v["msgpack"]) for v in messages}
    codec.update({f"invalid-{v['name']}": bytes.fromhex(v["msgpack"]) for v in invalid})
    requests = [(v["name"], bytes.fromhex(v["msgpack"])) for v in messages if v["kind"] == "request"]
    events = [(v["name"], bytes.fromhex(v["msgpack"])) for v in messages if v["kind"] == "event"]
    bad = [(v["name"], bytes.fromhex(v["msgpack"]), v["sender"]) for v in invalid]
    write_dir(os.path.join(HERE, "corpus", "codec"), codec)
    write_dir(os.path.join(HERE, "corpus", "core"), core_seeds(requests, events, bad))
    with open(os.path.join(HERE, "bcast.dict"), "w") as f:
        f.write(dictionary(messages))


if __name__ == "__main__":
    main()
