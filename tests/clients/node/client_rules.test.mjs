// The Node.js client's sending and recovery rules (PROTOCOL.md 10.1-10.4)
// against a scripted broker on loopback: at most 256 unacked messages on the
// wire, its own publication as the ack of a message, the seqs an abandoned
// epoch took with it reported lost, a resume that waits for the SUB to catch
// up, one hello per no-session, order kept under rate-limited, its own leave
// as the end of its session, a pack delivered as its msgs (an entry's empty
// text too) and a malformed one ignored, its gap filled from history, a fill
// answer that moves nothing pausing that room's fills for hb_ivl, a body
// beyond the decoder limits ignored, at most 64 MiB of messages held after a
// gap or kept until a welcome (the rest filled from history). The scripted
// broker speaks the bodies of proto/vectors/messages.json (the welcome of
// "alice" in an epoch where lobby is at seq 42, her msg "hi" with id 1, its
// publication and ack at seq 43), so the client's bytes are checked against
// them too. Then a real broker takes 300 messages through the window, each
// acked once. Every wait has a deadline.
// Usage: BCAST_BINARY=build/app/broadcast-server node tests/clients/node/client_rules.test.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const CLIENT_DIR = fileURLToPath(new URL("../../../scripts/clients/node/", import.meta.url));
const { Client, decode, encode } = await import(new URL("bcast.js", `file://${CLIENT_DIR}`).href);
const zmq = createRequire(`${CLIENT_DIR}package.json`)("zeromq");
const msgpackEncoder = new (createRequire(`${CLIENT_DIR}package.json`)("@msgpack/msgpack").Encoder)();
const { KEYS } = await import(new URL("schema.js", `file://${CLIENT_DIR}`).href);
const VECTORS = Object.fromEntries(
  JSON.parse(readFileSync(new URL("../../../proto/vectors/messages.json", import.meta.url), "utf8")).map((v) => [v.name, v]));
const EPOCH = VECTORS.welcome.message.epoch;
const BINARY = process.env.BCAST_BINARY;
const LIMIT = 20000; // ms: the deadline of every wait
const HB_EVERY = 50; // ms between the scripted broker's heartbeats

const vector = (name, changes = {}) => ({ ...VECTORS[name].message, ...changes });
const vectorBytes = (name) => Buffer.from(VECTORS[name].msgpack, "hex");

// Resolves with check()'s value once it is truthy, looking every few ms;
// rejects at the deadline.
async function until(what, check, seen = []) {
  const deadline = Date.now() + LIMIT;
  for (let value = check(); ; value = check()) {
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(seen, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((resolve) => { setTimeout(resolve, 5); });
  }
}

// A ROUTER and a PUB on ephemeral loopback ports: answers hello with
// `welcome`, who with the vectors' who answer, publishes `hb` every
// HB_EVERY ms and keeps every request it gets. Its sends go one after
// another, in the order asked for (a zeromq socket sends one at a time).
class ScriptedBroker {
  async start() {
    this.router = new zmq.Router();
    this.pub = new zmq.Publisher({ sendHighWaterMark: 0 }); // a stalled client's queue is kept whole
    await this.router.bind("tcp://127.0.0.1:*");
    await this.pub.bind("tcp://127.0.0.1:*");
    this.requests = []; // {bytes, body, at (ms)}, in arrival order
    this.hbSent = []; // ts of each hb
    this.answer = () => undefined; // answer(body) -> bodies to reply, or undefined to answer as usual
    this.welcome = vector("welcome");
    this.hb = vector("hb", { sys_seq: 7, rooms: { lobby: 42 } });
    this.sending = Promise.resolve();
    this.heartbeat = setInterval(() => { this.publish("sys/", this.hb); this.hbSent.push(this.hb.ts); }, HB_EVERY);
    this.receiving = this.receive();
    return this;
  }

  get in() { return this.router.lastEndpoint; }
  get out() { return this.pub.lastEndpoint; }

  async receive() {
    try {
      for await (const [peer, bytes] of this.router) {
        this.peer = peer;
        const body = decode(bytes, "request");
        this.requests.push({ bytes, body, at: performance.now() });
        const answers = this.answer(body);
        if (answers) for (const answer of answers) this.reply(answer);
        else if (body.t === "hello") this.reply(this.welcome);
        else if (body.t === "who") this.reply(vector("who_answer", { id: body.id }));
      }
    } catch (e) {
      if (!this.router.closed) throw e;
    }
  }

  // Sends `frames` on `socket` after everything asked for before.
  queue(socket, frames) {
    this.sending = this.sending.then(() => (socket.closed ? undefined : socket.send(frames)));
  }

  /** Publishes `body` (bytes, or an object to encode) on `topic`. */
  publish(topic, body) {
    this.queue(this.pub, [topic, body instanceof Uint8Array ? body : encode(body)]);
  }

  /** Sends `body` (bytes, or an object) to the client. */
  reply(body) {
    this.queue(this.router, [this.peer, body instanceof Uint8Array ? body : encode(body)]);
  }

  bodies(t) { return this.requests.map((r) => r.body).filter((b) => b.t === t); }

  async close() {
    clearInterval(this.heartbeat);
    await this.sending;
    this.router.close();
    this.pub.close();
    await this.receiving;
  }
}

// A scripted broker and "alice" joined to it, both closed after `body`;
// `answer` is the broker's first answer hook.
async function withAlice(body, answer) {
  const broker = await new ScriptedBroker().start();
  if (answer) broker.answer = answer(broker);
  const client = new Client({ name: "alice", in: broker.in, out: broker.out, rooms: ["lobby"], timeout: LIMIT,
                              reportAcks: true });
  const events = [];
  client.on("event", (e) => events.push(e));
  try {
    await client.connect();
    // Once who is answered, the client has handled every reply sent before
    // it, and the broker has every request the client had to send.
    const sync = () => client.who(LIMIT);
    await body({ broker, client, events, sync });
  } finally {
    await client.close();
    await broker.close();
  }
}

const msgIds = (broker) => new Set(broker.bodies("msg").map((b) => b.id));
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ofType = (events, t) => events.filter((e) => e.t === t);

test("at most 256 unacked on the wire, the rest wait in order", () => withAlice(async ({ broker, client, sync }) => {
  const ids = range(1, 300).map((i) => client.send(`line ${i}`));
  assert.deepEqual(ids, range(1, 300));
  await until("256 messages", () => msgIds(broker).size >= 256);
  await sync();
  assert.deepEqual(msgIds(broker), new Set(range(1, 256)), "the first 256 ids, no more");
  for (const id of range(1, 10)) broker.reply(vector("ack_msg", { id, seq: 42 + id }));
  await until("10 more messages", () => msgIds(broker).size >= 266);
  await sync();
  assert.deepEqual(msgIds(broker), new Set(range(1, 266)), "10 acks let the next 10 out");
  assert.equal(client.unacked, 290);
}));

test("its own publication acks the message, the late ack is ignored", () => withAlice(async ({ broker, client, events, sync }) => {
  const id = client.send("hi");
  await until("the msg", () => broker.bodies("msg").length);
  assert.deepEqual(broker.requests.at(-1).bytes, vectorBytes("msg"), "the msg vector's bytes");
  broker.publish("room/lobby/", vectorBytes("room_msg")); // and no ack
  await until("the ack", () => ofType(events, "ack").length, events);
  assert.equal(client.unacked, 0);
  assert.deepEqual([...client.acked], [[id, 43]]);
  broker.reply(vectorBytes("ack_msg")); // the broker's ack, late
  await sync();
  assert.deepEqual(ofType(events, "ack"), [{ t: "ack", id: 1, room: "lobby", seq: 43 }], "one ack, the late one ignored");
  assert.deepEqual(ofType(events, "msg").map((e) => e.seq), [43]);
}));

test("its own publication matching two pending waits for the ack", () => withAlice(async ({ broker, client, events, sync }) => {
  const first = client.send("hi");
  const second = client.send("hi");
  await until("both msgs", () => broker.bodies("msg").length === 2);
  broker.publish("room/lobby/", vectorBytes("room_msg"));
  await until("the publication", () => ofType(events, "msg").length, events);
  await sync();
  assert.equal(client.unacked, 2, "either could be the one published");
  broker.reply(vectorBytes("ack_msg"));
  await until("the ack of the first", () => client.unacked === 1, events);
  broker.publish("room/lobby/", vector("room_msg", { seq: 44 }));
  await until("the second acked", () => client.unacked === 0, events);
  assert.deepEqual([...client.acked], [[first, 43], [second, 44]]);
}));

test("a new epoch reports what the old one announced but never delivered", () => withAlice(async ({ broker, client, events, sync }) => {
  // Ours, acked at 48 and never published; 45 held after a gap; 46 announced.
  client.send("hi");
  await until("the msg", () => broker.bodies("msg").length);
  broker.reply(vector("ack_msg", { seq: 48 }));
  broker.publish("room/lobby/", vector("room_msg", { seq: 45, from: "bob", text: "held" }));
  broker.publish("sys/", vector("hb", { sys_seq: 7, rooms: { lobby: 46 } }));
  await until("a fill of the gap", () => broker.bodies("history").length);
  await sync();
  assert.deepEqual(ofType(events, "msg"), [], "45 waits for 43 and 44");
  const newEpoch = EPOCH + 1;
  broker.welcome = vector("welcome", { epoch: newEpoch, rooms: { lobby: 0 } });
  broker.hb = vector("hb", { epoch: newEpoch, sys_seq: 1, rooms: {} });
  await until("the welcome of the new epoch", () => client.epoch === newEpoch, events);
  const told = events.filter((e) => e.t === "lost" || e.t === "msg" || e.status === "epoch-reset")
    .map((e) => [e.t, e.first_seq ?? e.seq ?? e.status, e.count]);
  assert.deepEqual(told, [["lost", 43, 2], ["msg", 45, undefined], ["lost", 46, 3], ["status", "epoch-reset", undefined]]);
  assert.equal(broker.bodies("hello").at(-1).session, VECTORS.welcome.message.session, "it resumed");
}));

test("a resume waits for the SUB to catch up before filling", () => withAlice(async ({ broker, events, sync }) => {
  // Heartbeats from before the resume's welcome; 1300 messages published
  // after it reach the SUB before the first hb that follows it.
  const ts = VECTORS.welcome.message.ts;
  broker.hb = vector("hb", { ts: ts - 1, sys_seq: 7, rooms: { lobby: 42 } });
  await sync();
  broker.welcome = vector("welcome", { ts: ts + 1000, rooms: { dev: 0, lobby: 1342 } });
  broker.reply({ t: "error", code: "no-session", reason: "no session" });
  await until("the resume's hello", () => broker.bodies("hello").length === 2, events);
  await sync(); // the welcome is handled: a fill it opened is out by now
  assert.deepEqual(broker.bodies("history"), [], "no fill before an hb that follows the welcome");
  for (const seq of range(43, 1342)) broker.publish("room/lobby/", vector("room_msg", { seq, from: "bob", text: `${seq}` }));
  broker.hb = vector("hb", { ts: ts + 1000, sys_seq: 7, rooms: { lobby: 1342 } });
  await until("1300 messages", () => ofType(events, "msg").length >= 1300);
  await sync();
  assert.deepEqual(ofType(events, "msg").map((e) => e.seq), range(43, 1342), "each once, in order");
  assert.deepEqual(ofType(events, "lost"), []);
  assert.deepEqual(broker.bodies("history"), [], "nothing was missing");
}));

test("no-session says hello once and re-sends pending in id order", () => withAlice(async ({ broker, client, sync }) => {
  const ids = range(1, 5).map((i) => client.send(`line ${i}`));
  await until("the resume's hello", () => broker.bodies("hello").length === 2);
  await until("the messages again", () => broker.bodies("msg").length === 10);
  await sync();
  const sent = broker.requests.map((r) => r.body).filter((b) => b.t === "hello" || b.t === "msg");
  assert.deepEqual(sent.map((b) => b.t), ["hello", ...Array(5).fill("msg"), "hello", ...Array(5).fill("msg")],
                   "exactly one hello for five no-session errors");
  assert.deepEqual(sent.slice(7).map((b) => b.id), ids, "re-sent in id order");
}, (broker) => (body) => (body.t === "msg" && broker.bodies("hello").length === 1
  ? [{ t: "error", code: "no-session", reason: "no session", id: body.id }] : undefined)));

test("a rate-limited message holds the newer ones back", () => {
  let refusals = 3; // message 1 is refused three times, then accepted
  const answer = () => (body) => {
    if (body.t !== "msg") return undefined;
    if (body.id === 1 && refusals > 0) {
      refusals--;
      return [{ t: "error", code: "rate-limited", reason: "slow down", id: 1 }];
    }
    return [vector("ack_msg", { id: body.id, seq: 42 + body.id })];
  };
  return withAlice(async ({ broker, client }) => {
    client.send("line 1");
    await until("message 1 retried", () => broker.bodies("msg").length === 2);
    for (const i of range(2, 5)) client.send(`line ${i}`);
    await until("all acked", () => client.unacked === 0);
    assert.deepEqual(broker.bodies("msg").map((b) => b.id), [1, 1, 1, 1, 2, 3, 4, 5]);
  }, answer);
});

test("its own leave after the welcome says hello again", () => withAlice(async ({ broker, events, sync }) => {
  broker.publish("sys/", vector("leave", { seq: 8, name: "alice", reason: "bye" }));
  broker.publish("sys/", encode({ t: "unknown-type", epoch: EPOCH, seq: 8 })); // ignored
  broker.reply(encode({ t: "unknown-type", id: 1 }));
  await until("the bye seen", () => ofType(events, "leave").length, events);
  await sync();
  assert.equal(broker.bodies("hello").length, 1, "a bye is not a lost session");
  broker.publish("sys/", vector("leave", { seq: 9, name: "alice", reason: "timeout" }));
  await until("a second hello", () => broker.bodies("hello").length === 2, events);
  assert.equal(broker.bodies("hello").at(-1).session, VECTORS.welcome.message.session);
}));

// The msgs the room_pack vector means (seqs 44-46), after bob's 43.
const bobsMsg = vector("room_msg", { from: "bob", text: "before" });
const packed = VECTORS.room_pack.means.map((m) => m.message);

test("a pack is its msgs, delivered in order", () => withAlice(async ({ broker, events, sync }) => {
  broker.publish("room/lobby/", bobsMsg);
  broker.publish("room/lobby/", vectorBytes("room_pack"));
  await until("four messages", () => ofType(events, "msg").length === 4, events);
  await sync();
  assert.deepEqual(ofType(events, "msg"), [bobsMsg, ...packed]);
  assert.deepEqual(ofType(events, "msg").map((e) => [e.seq, e.from]), [[43, "bob"], [44, "alice"], [45, "bob"], [46, "alice"]]);
  assert.deepEqual(broker.bodies("history"), [], "nothing was missing");
}));

test("a pack entry with an empty text is delivered as a msg with that text", () => withAlice(async ({ broker, events, sync }) => {
  broker.publish("room/lobby/", bobsMsg);
  broker.publish("room/lobby/", vector("room_pack", { entries: [[0, 0, "one"], [1, 1, ""]] })); // 44, 45
  await until("three messages", () => ofType(events, "msg").length === 3, events);
  await sync();
  assert.deepEqual(ofType(events, "msg").map((e) => [e.seq, e.from, e.text]),
                   [[43, "bob", "before"], [44, "alice", "one"], [45, "bob", ""]]);
  assert.deepEqual(broker.bodies("history"), [], "nothing was missing");
}));

// PROTOCOL.md 5 item 7, 12: at most 8 levels (the body's map is the first),
// no str, array or map over 65536 bytes or entries; beyond them a body is
// ignored like any malformed one.
test("a body beyond the decoder limits is ignored", () => withAlice(async ({ broker, events, sync }) => {
  const msgWith = (seq, text, x) => { // a msg whose extra key x holds the MessagePack bytes `x`
    const bytes = encode(vector("room_msg", { seq, text, from: "bob" }));
    return Buffer.concat([Buffer.from([bytes[0] + 1]), bytes.subarray(1), Buffer.from([0xa1, 0x78]), x]);
  };
  const declares = (head, n, byte) => { // n entries or bytes, each `byte` (none: only declared)
    const out = Buffer.alloc(5 + (byte === undefined ? 0 : n), byte ?? 0);
    out[0] = head;
    out.writeUInt32BE(n, 1);
    return out;
  };
  const keys = Array.from({ length: 65537 }, (_, i) => Buffer.from(`\xa5${String(i).padStart(5, "0")}\0`, "latin1"));
  const nested = (levels, x) => Buffer.concat([Buffer.alloc(levels, 0x91), x]);
  broker.publish("room/lobby/", msgWith(43, "at the limits", nested(6, declares(0xdd, 65536, 0))));
  for (const x of [nested(8, Buffer.from([0])), declares(0xdb, 65537, 0x61), declares(0xdd, 65537, 0),
                   Buffer.concat([declares(0xdf, 65537), ...keys]), declares(0xdd, 2 ** 32 - 1)]) {
    broker.publish("room/lobby/", msgWith(44, "beyond them", x));
  }
  broker.publish("room/lobby/", vector("room_msg", { seq: 44, text: "after", from: "bob" }));
  await until("seq 44", () => ofType(events, "msg").some((e) => e.seq === 44), events);
  await sync();
  assert.deepEqual(ofType(events, "msg").map((e) => [e.seq, e.text]), [[43, "at the limits"], [44, "after"]]);
}));

test("a malformed pack is ignored whole and its gap filled from history", () => {
  const answer = () => (body) => (body.t === "history"
    ? [vector("history_answer", { msgs: packed.filter((m) => m.seq > body.after), first: 1, last: 47 })] : undefined);
  return withAlice(async ({ broker, events, sync }) => {
    const after = vector("room_msg", { seq: 47, from: "bob", text: "after" });
    broker.publish("room/lobby/", bobsMsg);
    broker.publish("room/lobby/", vector("room_pack", { entries: [[0, 0, "one"], [1, 2, "two"], [300, 0, "three"]] }));
    broker.publish("room/lobby/", after);
    await until("five messages", () => ofType(events, "msg").length === 5, events);
    await sync();
    assert.deepEqual(ofType(events, "msg"), [bobsMsg, ...packed, after], "44-46 from history, in order");
    assert.deepEqual(broker.bodies("history").map((b) => b.after), [43], "one fill, after 43");
    assert.deepEqual(ofType(events, "lost"), []);
  }, answer);
});

// PROTOCOL.md 10.2: a msg at seq 2^64 - 1 that history never holds (a forged
// one) is asked for once per heartbeat interval, not once per round trip; an
// answer that moves last lets the next fill go at once.
test("a fill answer that moves nothing pauses that room's fills for hb_ivl", () => {
  const hbIvl = VECTORS.welcome.message.hb_ivl;
  const nothing = vector("history_answer", { msgs: [], first: 1, last: 43, id: undefined });
  const moves = vector("history_answer", { msgs: [vector("room_msg", { seq: 44, from: "bob" })], first: 1, last: 44,
                                           id: undefined });
  const answers = [nothing, nothing, nothing, moves]; // then nothing again
  const answer = () => (body) => (body.t === "history" ? [answers.shift() ?? nothing] : undefined);
  return withAlice(async ({ broker, events, sync }) => {
    const fills = () => broker.requests.filter((r) => r.body.t === "history").map((r) => r.at); // arrival times
    broker.publish("room/lobby/", vector("room_msg", { seq: 43, from: "bob" }));
    broker.publish("room/lobby/", vector("room_msg", { seq: 2n ** 64n - 1n, from: "bob" }));
    for (const n of [1, 2, 3]) { // answers 1-3 move nothing: one fill per hb_ivl
      await until(`fill ${n + 1}`, () => fills().length > n, events);
      const gap = fills()[n] - fills()[n - 1];
      assert.ok(gap >= hbIvl, `fill ${n + 1} came ${gap} ms after the one before, before hb_ivl`);
      assert.ok(gap < 2 * hbIvl, `fill ${n + 1} came ${gap} ms after the one before, not once hb_ivl was over`);
    }
    await until("fill 5", () => fills().length > 4, events); // answer 4 moved last to 44
    const gap = fills()[4] - fills()[3];
    assert.ok(gap < hbIvl / 2, `${gap} ms after an answer that moves last, not at once`);
    await sync(); // answer 5 moved nothing: no fill for hb_ivl
    assert.deepEqual(broker.bodies("history").map((b) => b.after), [43, 43, 43, 43, 44]);
    assert.deepEqual(ofType(events, "msg").map((e) => e.seq), [43, 44]);
    assert.deepEqual(ofType(events, "lost"), []);
  }, answer);
});

// PROTOCOL.md 10.2: after the gap at 43, 1500 msgs of 60000 bytes (90 MB)
// are held only up to 64 MiB, the newest let go; once 43 comes, what was
// held is delivered in order, and the rest asked for.
test("messages held after a gap are bounded at 64 MiB and the rest filled", () => withAlice(async ({ broker, events, sync }) => {
  const text = "x".repeat(60000);
  const seqs = () => ofType(events, "msg").map((e) => e.seq);
  for (const seq of range(44, 1543)) {
    broker.publish("room/lobby/", vector("room_msg", { seq, text, from: "bob" }));
    if (seq % 50 === 0) await new Promise((resolve) => { setTimeout(resolve, 5); }); // let the client read
  }
  broker.publish("sys/", vector("join")); // seen once all before it are
  await until("the join after them", () => ofType(events, "join").length);
  assert.deepEqual(seqs(), [], "44 and on wait for 43");
  broker.reply(vector("history_answer", { msgs: [vector("room_msg", { seq: 43, from: "bob" })], first: 1, last: 1543,
                                          id: undefined }));
  await until("the answer", () => seqs().length);
  const shown = seqs();
  assert.deepEqual(shown, range(43, 42 + shown.length), "in order, from 43");
  assert.ok(shown.length > 1000 && shown.length <= 1 + Math.floor(64 * 2 ** 20 / 60000), `${shown.length} shown: more than 64 MiB held`);
  await until("the rest asked for", () => broker.bodies("history").some((b) => b.after === shown.at(-1)));
  // What was delivered no longer counts: a later msg is held again.
  broker.publish("room/lobby/", vector("room_msg", { seq: 1544, from: "bob" }));
  broker.publish("sys/", vector("join", { seq: 9 }));
  await until("the join after it", () => ofType(events, "join").length === 2);
  const rest = range(shown.at(-1) + 1, 1543).map((seq) => vector("room_msg", { seq, from: "bob" }));
  broker.reply(vector("history_answer", { msgs: rest, first: 1, last: 1543, id: undefined }));
  await until("the answer", () => seqs().length > shown.length);
  await sync();
  assert.deepEqual(seqs(), range(43, 1544), "1544 was held");
  assert.deepEqual(ofType(events, "lost"), []);
}, () => (body) => (body.t === "history" ? [] : undefined))); // answered here

// PROTOCOL.md 10.2 bounds what is held and kept by the strings it counts,
// and unknown keys are ignored (section 6): msgs and a join padded with
// unknown keys are held, kept and delivered without them, so what is
// counted is what is kept.
test("what is held, kept or queued carries only the keys the schema defines", () => withAlice(async ({ broker, client, events }) => {
  const pad = Object.fromEntries(range(0, 7).map((i) => [`pad${i}`, "x".repeat(1000)]));
  const padded = (name, changes) => msgpackEncoder.encode({ ...vector(name, changes), ...pad });
  const extra = (m) => Object.keys(m).filter((k) => k !== "t" && k !== "id" && !(k in KEYS[m.t]));
  for (const seq of [44, 45]) broker.publish("room/lobby/", padded("room_msg", { seq, from: "bob" }));
  broker.publish("sys/", padded("join"));
  await until("the join after them", () => ofType(events, "join").length, events);
  const s = client._streams.get("lobby");
  assert.deepEqual([...s.held.keys()], [44n, 45n]);
  assert.deepEqual([...s.held.values()].map(extra), [[], []], "held with its padding");
  assert.deepEqual(extra(ofType(events, "join")[0]), [], "queued with its padding");
  const answer = vector("history_answer", { msgs: [{ ...vector("room_msg", { seq: 43, from: "bob" }), ...pad }], first: 1,
                                            last: 45, id: undefined });
  delete answer.id;
  broker.reply(msgpackEncoder.encode({ ...answer, ...pad }));
  await until("the answer", () => ofType(events, "msg").length === 3, events);
  assert.deepEqual(ofType(events, "msg").map(extra), [[], [], []], "delivered with its padding");
  // Kept until a welcome: a resume waits for one.
  broker.answer = (body) => (body.t === "hello" ? [] : undefined);
  broker.reply({ t: "error", code: "no-session", reason: "no session" });
  await until("the resume's hello", () => broker.bodies("hello").length === 2);
  broker.publish("room/lobby/", padded("room_msg", { seq: 46, from: "bob" }));
  broker.publish("sys/", padded("join", { seq: 9 }));
  await until("both kept", () => client._stash.filter((m) => m.t !== "hb").length === 2);
  assert.deepEqual(client._stash.filter((m) => m.t !== "hb").map(extra), [[], []], "kept with its padding");
}, () => (body) => (body.t === "history" ? [] : undefined))); // answered here

// PROTOCOL.md 10.2: 1200 msgs of 60000 bytes (72 MB) published while a
// resume waits for its welcome are kept for it only up to 64 MiB; after it
// the rest is asked for from history.
test("publications kept until the welcome are bounded at 64 MiB and the rest filled", () => withAlice(async ({ broker, client, events }) => {
  const { ts } = VECTORS.welcome.message;
  const text = "x".repeat(60000);
  broker.answer = (body) => (body.t === "hello" ? [] : undefined); // welcomed below
  broker.reply({ t: "error", code: "no-session", reason: "no session" });
  await until("the resume's hello", () => broker.bodies("hello").length === 2);
  for (const seq of range(43, 1242)) {
    broker.publish("room/lobby/", vector("room_msg", { seq, text, from: "bob" }));
    if (seq % 50 === 0) await new Promise((resolve) => { setTimeout(resolve, 5); }); // let the client read
  }
  broker.publish("sys/", vector("hb", { ts: ts + 1000, sys_seq: 7, rooms: { lobby: 1242 } }));
  // Nothing shows what an unwelcomed client read: look at what it keeps.
  await until("the hb after them kept", () => client._stash.some((m) => m.t === "hb" && m.ts === ts + 1000));
  broker.reply(vector("welcome", { ts: ts + 1000, rooms: { dev: 0, lobby: 1242 } }));
  await until("the welcome", () => ofType(events, "msg").length);
  const shown = ofType(events, "msg").map((e) => e.seq);
  assert.deepEqual(shown, range(43, 42 + shown.length), "in order, from 43");
  assert.ok(shown.length > 1000 && shown.length <= Math.floor(64 * 2 ** 20 / 60000), `${shown.length} shown: more than 64 MiB kept`);
  await until("the rest asked for", () => broker.bodies("history").length);
  assert.deepEqual(broker.bodies("history").map((b) => b.after), [shown.at(-1)], "the rest is asked for");
  assert.deepEqual(ofType(events, "lost"), []);
}));

// PROTOCOL.md 10.2: before a welcome only what is acted on when published
// is kept, each charged its strings: 400 hbs of 2000 rooms with 120-byte
// names (a charge of 121 MB; 64 bytes each before) are kept only up to 64
// MiB, a dm published (never acted on) not at all; after the welcome the
// client works as before.
test("publications kept until the welcome are charged whole and the rest dropped", () => withAlice(async ({ broker, client, events, sync }) => {
  const { ts } = VECTORS.welcome.message;
  broker.answer = (body) => (body.t === "hello" ? [] : undefined); // welcomed below
  broker.reply({ t: "error", code: "no-session", reason: "no session" });
  await until("the resume's hello", () => broker.bodies("hello").length === 2);
  let bigRead = 0;
  let dmRead = false;
  const handle = client._onPublished.bind(client);
  client._onPublished = (m) => { // what the SUB gave
    if (m.t === "hb" && Object.keys(m.rooms).length === 2000) bigRead++;
    if (m.t === "dm") dmRead = true;
    handle(m);
  };
  const rooms = Object.fromEntries(range(0, 1999).map((i) => [String(i).padStart(5, "0") + "r".repeat(115), 0]));
  const big = encode(vector("hb", { ts: ts + 1, sys_seq: 7, rooms }));
  for (const n of range(1, 400)) {
    broker.publish("sys/", big);
    if (n % 20 === 0) await new Promise((resolve) => { setTimeout(resolve, 5); }); // let the client read
  }
  broker.publish("sys/", { t: "dm", from: "bob", text: "p".repeat(1000), ts });
  await until("all read", () => dmRead);
  assert.equal(bigRead, 400);
  const bytes = (...strs) => strs.reduce((n, x) => n + Buffer.byteLength(x), 0);
  const cost = (m) => 64 + ({ msg: () => bytes(m.text, m.from, m.room), join: () => bytes(m.name),
                               leave: () => bytes(m.name, m.reason), shutdown: () => bytes(m.reason),
                               hb: () => Object.keys(m.rooms).reduce((n, r) => n + 32 + bytes(r), 0) }[m.t] ?? (() => 0))();
  const charged = client._stash.reduce((n, m) => n + cost(m), 0);
  assert.ok(charged <= 64 * 2 ** 20, `${charged} bytes kept: more than 64 MiB`);
  assert.ok(!client._stash.some((m) => m.t === "dm"), "a dm kept, though never acted on");
  assert.ok(client._stash.filter((m) => m.t === "hb" && Object.keys(m.rooms).length === 2000).length > 200, "up to it");
  assert.equal(client._stashBytes, charged);
  broker.reply(vector("welcome", { ts: ts + 1000, rooms: { dev: 0, lobby: 42 } }));
  await until("the welcome", () => client._joined);
  broker.publish("room/lobby/", vectorBytes("room_msg"));
  await until("seq 43", () => ofType(events, "msg").length);
  await sync();
  assert.deepEqual(ofType(events, "msg").map((e) => e.seq), [43]);
  assert.deepEqual(client._stash, []);
}));

// PROTOCOL.md 10.2: a history entry that is a map but not a msg (no text)
// is ignored, as in a batch; the valid ones are held and delivered, and the
// DEALER is still read.
test("a malformed history entry is ignored and the client keeps reading", () => {
  const bob = { from: "bob" };
  const answers = [
    vector("history_answer", { msgs: [vector("room_msg", { seq: 43, ...bob }), { t: "msg", epoch: EPOCH, seq: 44 },
                                      vector("room_msg", { seq: 45, ...bob })], first: 1, last: 46, id: undefined }),
    vector("history_answer", { msgs: [vector("room_msg", { seq: 44, ...bob })], first: 1, last: 46, id: undefined }),
  ];
  const answer = () => (body) => (body.t === "history" ? [answers.shift()].filter(Boolean) : undefined);
  return withAlice(async ({ broker, events, sync }) => {
    broker.publish("room/lobby/", vector("room_msg", { seq: 46, ...bob }));
    await until("43-46", () => ofType(events, "msg").length === 4, events);
    await sync();
    assert.deepEqual(ofType(events, "msg").map((e) => e.seq), [43, 44, 45, 46]);
    assert.deepEqual(broker.bodies("history").map((b) => b.after), [42, 43]);
    assert.deepEqual(ofType(events, "lost"), []);
  }, answer);
});

// PROTOCOL.md 10.2: 100 000 msgs held after the gap at 43; each live one
// above them is let go at once, not after a scan of all held (1-3 ms each,
// so the client fell behind). A complexity check: the bound is generous.
test("a room full of held messages lets newer ones go without scanning them", () => withAlice(async ({ client, events }) => {
  const bob = { from: "bob", text: "x" };
  for (let seq = 44; seq < 100044; seq++) client._onPublished(vector("room_msg", { seq, ...bob }));
  const s = client._streams.get("lobby");
  assert.equal(s.held.size, 100000);
  const live = range(100044, 120043).map((seq) => vector("room_msg", { seq, ...bob }));
  const start = performance.now();
  for (const m of live) client._onPublished(m);
  const took = performance.now() - start;
  assert.ok(took < 2000, `20 000 live msgs took ${took} ms`);
  assert.equal(s.newest, 100043n, "the newest were let go");
  assert.ok(!s.held.has(100044n));
  client._onHistory(vector("history_answer", { msgs: [vector("room_msg", { seq: 43, ...bob })], first: 1, last: 120043,
                                                id: undefined }));
  assert.equal(s.last, 100042, "43 came: 100043 was let go, 43-100042 delivered");
  assert.equal(ofType(events, "msg").length, 100000);
  assert.deepEqual([s.held.size, s.newest], [0, 0n]);
}));

// PROTOCOL.md 10.2: an answer that moved nothing paused lobby's fills for
// hb_ivl; the new epoch starts the room over, pause and all.
test("a new epoch fills at once though the old one paused fills", () => {
  const hbIvl = VECTORS.welcome.message.hb_ivl;
  const newEpoch = EPOCH + 1;
  const nothing = vector("history_answer", { msgs: [], first: 1, last: 43, id: undefined });
  let answered = false;
  const answer = () => (body) => {
    if (body.t !== "history" || answered) return undefined;
    answered = true;
    return [nothing];
  };
  return withAlice(async ({ broker, client, events, sync }) => {
    broker.publish("sys/", vector("hb", { sys_seq: 7, rooms: { lobby: 44 } }));
    await until("the fill", () => broker.bodies("history").length, events);
    await sync(); // its answer moved nothing: paused
    assert.ok(client._streams.get("lobby").fillNotBefore > performance.now() + hbIvl / 2, "paused");
    broker.welcome = vector("welcome", { epoch: newEpoch, rooms: { lobby: 5 } });
    broker.hb = vector("hb", { epoch: newEpoch, sys_seq: 1, rooms: { lobby: 5 } });
    await until("the new epoch's fill", () => broker.bodies("history").some((b) => b.after === 0), events);
    const asked = broker.requests.filter((r) => r.body.t === "hello" || r.body.t === "history");
    assert.deepEqual(asked.slice(-2).map((r) => [r.body.t, r.body.after]), [["hello", undefined], ["history", 0]]);
    const gap = asked.at(-1).at - asked.at(-2).at;
    assert.ok(gap < hbIvl / 2, `the new epoch's first fill came ${gap} ms after its hello: it waited for the old pause`);
  }, answer);
});

test("hello is retried every second before the first welcome", async () => {
  const broker = await new ScriptedBroker().start();
  broker.answer = (body) => (body.t === "hello" && broker.bodies("hello").length === 1 ? [] : undefined);
  const client = new Client({ name: "alice", in: broker.in, out: broker.out, rooms: ["lobby"], timeout: LIMIT });
  try {
    await client.connect();
  } finally {
    await client.close();
    await broker.close();
  }
  const hellos = broker.requests.filter((r) => r.body.t === "hello").map((r) => r.at);
  assert.equal(hellos.length, 2);
  assert.ok(hellos[1] - hellos[0] >= 900 && hellos[1] - hellos[0] < 1500, `${hellos[1] - hellos[0]} ms`);
});

test("a real broker takes 300 messages through the window, each acked once, in order", async () => {
  assert.ok(BINARY, "BCAST_BINARY names the broadcast-server binary");
  const broker = spawn(BINARY, ["start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                                "--log-level", "off"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  broker.stdout.setEncoding("utf8").on("data", (chunk) => { out += chunk; });
  try {
    const [, inEp, outEp] = await until("the broker's listening line", () => /in (\S+) \(ROUTER\), out (\S+) \(PUB\)/.exec(out));
    const client = new Client({ name: "alice", in: inEp, out: outEp, rooms: ["lobby"], timeout: LIMIT, reportAcks: true });
    const events = [];
    client.on("event", (e) => events.push(e));
    await client.connect();
    const texts = range(1, 300).map((i) => `line ${i}`);
    try {
      for (const text of texts) client.send(text);
      await until("every ack and message", () => client.unacked === 0 && client.caughtUp());
    } finally {
      await client.close();
    }
    assert.deepEqual(ofType(events, "msg").map((e) => e.text), texts);
    assert.deepEqual(ofType(events, "ack").map((e) => e.id).sort((a, b) => a - b), range(1, 300));
    assert.deepEqual([...client.acked].sort((a, b) => a[0] - b[0]), range(1, 300).map((i) => [i, i]));
  } finally {
    broker.kill("SIGINT");
  }
});
