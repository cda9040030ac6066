"""BCAST/1 key tables for bcast_client.py and scripts/conformance.

Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.
"""

# Keys of every body after "t", in canonical order (PROTOCOL.md section 6).
KEY_ORDER = {
    "hello": ("v", "name", "session", "token", "rooms"),
    "msg": ("room", "text", "id"),
    "dm": ("to", "text", "id"),
    "ping": ("id",),
    "who": ("id",),
    "rooms": ("id",),
    "history": ("room", "after", "limit", "id"),
    "bye": ("id",),
}
EVENT_KEY_ORDER = {
    "welcome": (
        "v",
        "name",
        "session",
        "epoch",
        "hb_ivl",
        "liveness",
        "sys_seq",
        "rooms",
        "max_text",
        "ts",
    ),
    "ack": ("id", "room", "seq"),
    "error": ("code", "reason", "id"),
    "pong": ("id",),
    "who": ("users", "id"),
    "rooms": ("list", "id"),
    "history": ("room", "msgs", "first", "last", "epoch", "id"),
    "dm": ("from", "text", "ts"),
    "msg": ("epoch", "seq", "ts", "room", "from", "text"),
    "batch": ("epoch", "room", "msgs"),
    "pack": ("epoch", "room", "seq", "ts", "names", "entries"),
    "join": ("epoch", "seq", "ts", "name"),
    "leave": ("epoch", "seq", "ts", "name", "reason"),
    "hb": ("epoch", "ts", "sys_seq", "rooms", "clients"),
    "shutdown": ("epoch", "seq", "ts", "reason"),
}

# The REQUIRED keys of each event and their kind (uint, str, seq_map, array):
# what scripts/conformance checks of every body it receives.
EVENT_SHAPES = {
    "welcome": {
        "v": "uint",
        "name": "str",
        "session": "str",
        "epoch": "uint",
        "hb_ivl": "uint",
        "liveness": "uint",
        "sys_seq": "uint",
        "rooms": "seq_map",
        "max_text": "uint",
        "ts": "uint",
    },
    "ack": {"id": "uint"},
    "error": {"code": "str", "reason": "str"},
    "pong": {},
    "who": {"users": "array"},
    "rooms": {"list": "array"},
    "history": {"room": "str", "msgs": "array", "first": "uint", "last": "uint", "epoch": "uint"},
    "dm": {"from": "str", "text": "str", "ts": "uint"},
    "msg": {
        "epoch": "uint",
        "seq": "uint",
        "ts": "uint",
        "room": "str",
        "from": "str",
        "text": "str",
    },
    "batch": {"epoch": "uint", "room": "str", "msgs": "array"},
    "pack": {
        "epoch": "uint",
        "room": "str",
        "seq": "uint",
        "ts": "uint",
        "names": "array",
        "entries": "array",
    },
    "join": {"epoch": "uint", "seq": "uint", "ts": "uint", "name": "str"},
    "leave": {"epoch": "uint", "seq": "uint", "ts": "uint", "name": "str", "reason": "str"},
    "hb": {
        "epoch": "uint",
        "ts": "uint",
        "sys_seq": "uint",
        "rooms": "seq_map",
        "clients": "uint",
    },
    "shutdown": {"epoch": "uint", "seq": "uint", "ts": "uint", "reason": "str"},
}
