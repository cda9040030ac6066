#!/usr/bin/python3
"""The Python client against the shared vectors (proto/vectors): it decodes
every valid body to its logical message, encodes every logical message to
the exact bytes, expands a pack to the msgs it means, and its decoder rejects every body that is malformed as
MessagePack (the other invalid vectors need a broker: the C++ tests and the
conformance runner check those) or beyond its limits."""
import json
import os
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "clients", "python"))
import bcast_client  # noqa: E402

VECTORS = os.path.join(ROOT, "proto", "vectors")
# Invalid vectors whose fault is in the encoding itself, not in the meaning.
MALFORMED = {"empty", "not_msgpack", "array_not_map", "truncated_map", "trailing_bytes",
             "missing_t", "duplicate_key", "invalid_utf8_text"}


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


class Vectors(unittest.TestCase):
    def test_valid_vectors_decode_and_encode_byte_for_byte(self):
        vectors = load("messages.json")
        self.assertGreaterEqual(len(vectors), 20)
        for v in vectors:
            with self.subTest(v["name"]):
                data = bytes.fromhex(v["msgpack"])
                self.assertEqual(bcast_client.decode(data), v["message"])
                encoded = bcast_client.encode(v["message"], event=v["kind"] == "event")
                self.assertEqual(encoded.hex(), v["msgpack"])

    def test_a_pack_means_its_msgs(self):
        packs = [v for v in load("messages.json") if "means" in v]
        self.assertTrue(packs)
        for v in packs:
            with self.subTest(v["name"]):
                msgs = bcast_client.pack_msgs(bcast_client.check_event(v["message"]))
                self.assertEqual(msgs, [m["message"] for m in v["means"]])
                self.assertEqual([bcast_client.encode(m, event=True).hex() for m in msgs],
                                 [m["msgpack"] for m in v["means"]])

    def test_a_pack_entry_with_an_empty_text_is_a_msg_with_that_text(self):
        # An entry's text is a str, and "" is one (PROTOCOL.md 6.3); only a
        # request's text must be non-empty, and the broker checks that.
        pack = next(v["message"] for v in load("messages.json") if v["name"] == "room_pack")
        data = bcast_client.encode(dict(pack, entries=[[0, 0, "one"], [1, 1, ""]]), event=True)
        msgs = bcast_client.pack_msgs(bcast_client.check_event(bcast_client.decode(data)))
        self.assertEqual([(m["seq"], m["from"], m["text"]) for m in msgs], [(44, "alice", "one"), (45, "bob", "")])

    def test_malformed_vectors_are_rejected(self):
        vectors = {v["name"]: v for v in load("invalid.json")}
        self.assertTrue(MALFORMED <= set(vectors))
        for name in sorted(MALFORMED):
            with self.subTest(name), self.assertRaises(ValueError):
                bcast_client.decode(bytes.fromhex(vectors[name]["msgpack"]))


    def test_an_hb_or_welcome_whose_rooms_are_not_room_to_seq_is_refused(self):
        for rooms in ({"lobby": "x" * 1000}, {"lobby": -1}, {"lobby": [1]}):
            with self.subTest(rooms=rooms), self.assertRaises(ValueError):
                bcast_client.check_event({"t": "hb", "epoch": 1, "ts": 2, "sys_seq": 0, "rooms": rooms,
                                          "clients": 1})
        self.assertEqual(bcast_client.check_event({"t": "hb", "epoch": 1, "ts": 2, "sys_seq": 0,
                                                   "rooms": {"lobby": 7}, "clients": 1})["t"], "hb")

    def test_the_decoder_limits_hold_for_every_body(self):
        # PROTOCOL.md 5 item 7, 12: at most 8 levels (the body's map is the
        # first), no str, bin, array or map over 65536 bytes or entries.
        def hb_with(x):  # an hb whose extra key x holds the MessagePack bytes ``x``
            return bytes.fromhex("87a174a26862a565706f636801a2747302a77379735f73657100a5726f6f6d7380"
                                 "a7636c69656e747300a178") + x

        def declares(head, n, each=b""):
            return bytes([head]) + struct.pack(">I", n) + each * n
        keys = b"".join(b"\xa5%05d\x00" % i for i in range(65537))
        within = {"8 levels": b"\x91" * 7 + b"\x00", "a str of 65536 bytes": declares(0xdb, 65536, b"a"),
                  "an array of 65536": declares(0xdd, 65536, b"\x00"),
                  "a map of 65536": declares(0xdf, 65536) + keys[:7 * 65536]}
        # These exercise the client's own limits (_check_depth, the max_*_len
        # it gives msgpack): without them each would decode.
        beyond = {"9 levels": b"\x91" * 8 + b"\x00",
                  "a str of 65537 bytes": declares(0xdb, 65537, b"a"), "a bin of 65537": declares(0xc6, 65537, b"a"),
                  "an array of 65537": declares(0xdd, 65537, b"\x00"), "a map of 65537": declares(0xdf, 65537) + keys}
        # Regression checks only: msgpack-python refuses these by itself (a
        # length past the data, nesting past its 1024 levels), with or
        # without the client's limits; kept so that stays true.
        beyond.update({"regression: 100000 levels": b"\x91" * 100000 + b"\x00",
                       "regression: an array declaring 2^32 - 1": declares(0xdd, 2**32 - 1),
                       "regression: a map declaring 2^32 - 1": declares(0xdf, 2**32 - 1)})
        for what, x in within.items():
            with self.subTest(what):
                self.assertEqual(bcast_client.check_event(bcast_client.decode(hb_with(x)))["t"], "hb")
        for what, x in beyond.items():
            with self.subTest(what), self.assertRaises(ValueError):
                bcast_client.decode(hb_with(x))


if __name__ == "__main__":
    unittest.main()
