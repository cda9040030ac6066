// Every vector of proto/vectors: decode the bytes to the logical message,
// encode the message to the exact bytes, unpack a pack to the msgs it means;
// malformed bodies, pack entries among them, and those beyond the decoder
// limits are refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DecodeError, decode, encode, unpack } from "../bcast.js";

const dir = new URL("../../../../proto/vectors/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, dir), "utf8"));
const messages = load("messages.json");
const invalid = load("invalid.json");
const hex = (bytes) => Buffer.from(bytes).toString("hex");

// JSON numbers past 2^53 would already be rounded by JSON.parse: the vectors
// keep to safe integers, and the decoder gives Numbers for those.
test("the vectors are there", () => {
  assert.ok(messages.length >= 29, `${messages.length} valid vectors`);
  assert.ok(messages.some((v) => v.means), "a pack vector with the msgs it means");
  assert.ok(invalid.length >= 19, `${invalid.length} invalid vectors`);
});

for (const v of messages) {
  test(`decode ${v.name}`, () => {
    assert.deepStrictEqual(decode(Buffer.from(v.msgpack, "hex"), v.kind), v.message);
  });
  test(`encode ${v.name}`, () => {
    assert.equal(hex(encode(v.message)), v.msgpack);
  });
  if (v.topic !== null) {
    test(`topic ${v.name}`, () => {
      const m = v.message;
      assert.equal(v.topic, ["msg", "batch", "pack"].includes(m.t) ? `room/${m.room}/` : "sys/");
    });
  }
  if (v.means) {
    test(`unpack ${v.name}`, () => {
      const msgs = unpack(decode(Buffer.from(v.msgpack, "hex"), v.kind));
      assert.deepStrictEqual(msgs, v.means.map((m) => m.message));
      assert.deepEqual(msgs.map((m) => hex(encode(m))), v.means.map((m) => m.msgpack));
    });
  }
}

// The room_pack vector with one change: what its shape check refuses, and
// what is well-shaped but malformed (PROTOCOL.md 6.3).
const pack = messages.find((v) => v.name === "room_pack").message;
const packWith = (changes) => encode({ ...pack, ...changes });
const withEntry = (entry) => packWith({ entries: [pack.entries[0], entry] });
const misshapen = {
  "an entry of two values": withEntry([1, 1]),
  "an entry of four values": withEntry([1, 1, "two", 0]),
  "an entry that is a map": withEntry({ dts: 1, sender: 1, text: "two" }),
  "a dts that is a str": withEntry(["1", 1, "two"]),
  "a negative sender": withEntry([1, -1, "two"]),
  "a text that is a uint": withEntry([1, 1, 2]),
  "names that are not strs": packWith({ names: ["alice", 2] }),
};
for (const [why, bytes] of Object.entries(misshapen)) {
  test(`a pack with ${why} does not decode`, () => {
    assert.throws(() => decode(bytes, "event"), DecodeError);
  });
}
const malformed = {
  "no entries": packWith({ entries: [] }),
  "a sender past names": withEntry([1, 2, "two"]),
  "a seq past uint64": packWith({ seq: 2n ** 64n - 2n }),
  "a ts past uint64": packWith({ ts: 2n ** 64n - 300n }),
  "65 entries": packWith({ entries: Array.from({ length: 65 }, () => [0, 0, "x"]) }),
};
for (const [why, bytes] of Object.entries(malformed)) {
  test(`a pack with ${why} decodes but does not unpack`, () => {
    assert.throws(() => unpack(decode(bytes, "event")), DecodeError);
  });
}

// An entry's text is a str, and "" is one (PROTOCOL.md 6.3): it means a msg
// whose text is "", which a broker's msg may carry; only a request's may not.
test("a pack entry with an empty text unpacks to a msg with that text", () => {
  const msgs = unpack(decode(withEntry([1, 1, ""]), "event"));
  assert.deepEqual(msgs.map((m) => [m.seq, m.from, m.text]), [[44, "alice", "one"], [45, "bob", ""]]);
  const room = messages.find((v) => v.name === "room_msg").message;
  assert.equal(decode(encode({ ...room, text: "" }), "event").text, "");
  assert.throws(() => decode(encode({ t: "msg", room: "lobby", text: "" }), "request"), DecodeError);
});

for (const v of invalid) {
  const bytes = Buffer.from(v.msgpack, "hex");
  if (v.error === "bad-request") {
    test(`reject ${v.name} (${v.why})`, () => {
      assert.throws(() => decode(bytes, "request"), DecodeError);
    });
  } else {
    test(`invalid ${v.name} is well-formed (${v.error} needs a broker)`, (t) => {
      assert.doesNotThrow(() => decode(bytes, "request"));
      t.skip(`${v.error} ("${v.why}") is decided by the broker, not the decoder`);
    });
  }
}

test("uint64 beyond 2^53 decodes as an exact BigInt and encodes back", () => {
  const big = 2n ** 64n - 1n;
  const bytes = encode({ t: "ack", id: big, room: "lobby", seq: 2n ** 53n + 1n });
  const m = decode(bytes, "event");
  assert.equal(m.id, big);
  assert.equal(m.seq, 2n ** 53n + 1n);
  assert.equal(hex(encode(m)), hex(bytes));
  assert.equal(hex(encode({ t: "ping", id: 7n })), "82a174a470696e67a2696407"); // small BigInt: fixint
  assert.equal(hex(encode({ t: "ping", id: 2 ** 32 })), "82a174a470696e67a26964cf0000000100000000");
});

test("a room named __proto__ is an ordinary key", () => {
  const m = decode(encode(JSON.parse('{"t":"hb","epoch":1,"ts":2,"sys_seq":0,"rooms":{"__proto__":3},"clients":1}')), "event");
  assert.equal(Object.getOwnPropertyDescriptor(m.rooms, "__proto__").value, 3);
});

test("nesting deeper than 8 levels is refused", () => {
  let deep = "81a174a470696e67".replace(/^81/, "82") + "a178";
  deep += "91".repeat(8) + "00";
  assert.throws(() => decode(Buffer.from(deep, "hex")), DecodeError);
  const ok = "82a174a470696e67a178" + "91".repeat(7) + "00";
  assert.equal(decode(Buffer.from(ok, "hex")).t, "ping");
});

// PROTOCOL.md 5 item 7, 12: at most 8 levels (the body's map is the first),
// no str, bin, array or map over 65536 bytes or entries.
test("the decoder limits hold for every body", () => {
  const hb = Buffer.from("87a174a26862a565706f636801a2747302a77379735f73657100a5726f6f6d7380a7636c69656e747300a178", "hex");
  const declares = (head, n, byte) => { // n entries or bytes, each `byte` (none: only declared)
    const out = Buffer.alloc(5 + (byte === undefined ? 0 : n), byte ?? 0);
    out[0] = head;
    out.writeUInt32BE(n, 1);
    return out;
  };
  const keys = Buffer.concat(Array.from({ length: 65537 }, (_, i) => Buffer.from(`\xa5${String(i).padStart(5, "0")}\0`, "latin1")));
  const nested = (levels) => Buffer.concat([Buffer.alloc(levels, 0x91), Buffer.from([0])]);
  const within = {
    "8 levels": nested(7), "a str of 65536 bytes": declares(0xdb, 65536, 0x61), "an array of 65536": declares(0xdd, 65536, 0),
    "a map of 65536": Buffer.concat([declares(0xdf, 65536), keys.subarray(0, 7 * 65536)]),
  };
  const beyond = {
    "9 levels": nested(8), "100000 levels": nested(100000), "a str of 65537 bytes": declares(0xdb, 65537, 0x61),
    "a bin of 65537": declares(0xc6, 65537, 0x61), "an array of 65537": declares(0xdd, 65537, 0),
    "a map of 65537": Buffer.concat([declares(0xdf, 65537), keys]),
    "an array declaring 2^32 - 1": declares(0xdd, 2 ** 32 - 1), "a map declaring 2^32 - 1": declares(0xdf, 2 ** 32 - 1),
  };
  for (const [what, x] of Object.entries(within)) assert.equal(decode(Buffer.concat([hb, x]), "event").t, "hb", what);
  for (const [what, x] of Object.entries(beyond)) assert.throws(() => decode(Buffer.concat([hb, x]), "event"), DecodeError, what);
});
