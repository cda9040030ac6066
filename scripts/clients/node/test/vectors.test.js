// Every vector of proto/vectors: decode the bytes to the logical message,
// encode the message to the exact bytes; malformed bodies are refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DecodeError, decode, encode } from "../bcast.js";

const dir = new URL("../../../../proto/vectors/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, dir), "utf8"));
const messages = load("messages.json");
const invalid = load("invalid.json");
const hex = (bytes) => Buffer.from(bytes).toString("hex");

// JSON numbers past 2^53 would already be rounded by JSON.parse: the vectors
// keep to safe integers, and the decoder gives Numbers for those.
test("the vectors are there", () => {
  assert.ok(messages.length >= 28, `${messages.length} valid vectors`);
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
      assert.equal(v.topic, m.t === "msg" || m.t === "batch" ? `room/${m.room}/` : "sys/");
    });
  }
}

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
