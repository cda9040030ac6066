// A small Node.js client for broadcast-server (BCAST/1; proto/PROTOCOL.md is
// the spec). It follows the same steps as scripts/clients/python/bcast_client.py:
//
// 1. A SUB connects to the broker's OUT (PUB) endpoint and subscribes to
//    `sys/` and `room/<r>/` per followed room *before* the hello. Publications
//    are two frames, [topic][body]; every body is one MessagePack map.
// 2. A DEALER (IMMEDIATE, random routing id not starting with a zero byte)
//    connects to IN (ROUTER); a request or an answer is one frame.
// 3. `hello` is repeated every 1000 ms (later: every hb_ivl) until
//    `welcome`; at the first one each stream starts after the seqs it
//    announces. A later `welcome` of the same epoch (a resume) keeps every
//    room's last and the sys position: what was published before it may
//    still wait on the SUB, so its `rooms` are applied only once an `hb`
//    with `ts` >= `welcome.ts` arrives (or after liveness * hb_ivl), then
//    fills as usual. Publications that arrive while no welcome has come are
//    kept for it (replayed after it) if the client acts on them (room msgs;
//    join, leave, shutdown, hb on sys/): up to 100 000 or 64 MiB of them
//    (their strings, an hb's room names) for all rooms and sys/ together,
//    the rest dropped. A room msg dropped is filled from history (it is
//    announced); a join or leave dropped is lost, as missed presence cannot
//    be refilled (PROTOCOL.md 10.2). connect() also waits for a first
//    publication (an `hb` at the latest): it proves the subscription live.
// 4. Room `msg`s are numbered per room: duplicates are dropped, later seqs
//    held (up to 100 000 or 64 MiB of them per room; past that the newest
//    are let go, as history has them), and a gap is filled from `history`;
//    seqs below `first` are lost.
//    An answer that moves nothing (a seq announced that history never had)
//    pauses that room's fills for hb_ivl.
//    A `pack` (or an older broker's `batch`) is its msgs, in turn; a
//    malformed one is ignored whole, and the fill repairs the gap.
// 5. `msg`/`dm` carry ids and are re-sent every 2 * hb_ivl until acked
//    (at most 256 unacked on the wire, the rest wait in id order); the
//    broker de-duplicates by id. A `msg` of ours delivered from a room acks
//    the one pending `msg` with its room and text, if only one matches: its
//    `ack` may have been lost (PROTOCOL.md 10.3). Order: pending requests are
//    re-sent in id order, and once one is refused `rate-limited` nothing
//    newer goes out until it is acked: it is retried alone after 10 ms,
//    doubling while refused, up to hb_ivl / 2.
// 6. An idle client pings every hb_ivl. A silent broker, `shutdown`, a new
//    `epoch`, `no-session` or our own `leave` (not `bye`) published after the
//    welcome make the client say hello again (with its session token, to
//    resume): once; `no-session` errors while it waits, or for requests sent
//    before the latest welcome, are ignored, and pending requests are re-sent
//    after the welcome, in id order, before anything new. Bodies of an
//    unknown `t` are ignored. At a new epoch each room first delivers the
//    old epoch's held messages and reports as `lost` every seq of it
//    announced (or acked to us) but never delivered.
//
// uint64 values decode as Number when they are safe integers and as BigInt
// beyond Number.MAX_SAFE_INTEGER; either may be given to encode(), which
// writes every integer in its shortest form, as the broker does.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { Encoder } from "@msgpack/msgpack";
import * as zmq from "zeromq";
import { EVENT_REQUIRED, KEYS, REQUEST_REQUIRED, STRUCTS } from "./schema.js";

// ---------------------------------------------------------------- encoding --

/** A body the decoder refuses (the broker would answer `bad-request`). */
export class DecodeError extends Error {}

/** The broker refused our hello: `code` is the error code of PROTOCOL.md 11. */
export class ProtocolError extends Error {
  constructor(code, reason) {
    super(`${code}: ${reason}`);
    this.code = code;
    this.reason = reason;
  }
}

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const TWO_32 = 2 ** 32;
const MAX_U64 = (1n << 64n) - 1n;
// A BigInt as a Number when it is a safe integer, as decode() gives uint64s.
const small = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

// Integers in their shortest encoding: small ones as Numbers, those of 2^32
// and more as BigInt (the encoder writes a BigInt as uint 64, and with
// useBigInt64 it would write a large Number as a float).
function canonical(value) {
  if (typeof value === "bigint") {
    if (value < 0n || value > MAX_U64) throw new RangeError(`integer out of range: ${value}`);
    return value < BigInt(TWO_32) ? Number(value) : value;
  }
  if (typeof value === "number" && Number.isInteger(value) && value >= TWO_32) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`unsafe integer: ${value}; use a BigInt`);
    return BigInt(value);
  }
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) Object.defineProperty(out, k, { value: canonical(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Encodes one body (keys in the object's order) as MessagePack bytes. */
export function encode(body) {
  return encoder.encode(canonical(body));
}

const MAX_DEPTH = 8;
const MAX_ENTRIES = 65536;
const utf8 = new TextDecoder("utf-8", { fatal: true });

// A strict reader of one MessagePack value: well-formed UTF-8 str, string
// keys that appear once per map, depth and size limits (PROTOCOL.md 5).
// Map keys are set as own properties, so a room named `__proto__` is safe.
class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.b.length) throw new DecodeError("body is cut short");
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8() { return this.b[this.need(1)]; }
  u16() { return this.v.getUint16(this.need(2)); }
  u32() { return this.v.getUint32(this.need(4)); }

  count(n) {
    if (n > MAX_ENTRIES) throw new DecodeError(`declares ${n} entries or bytes; the limit is ${MAX_ENTRIES}`);
    return n;
  }

  str(n) {
    const at = this.need(this.count(n));
    try {
      return utf8.decode(this.b.subarray(at, at + n));
    } catch {
      throw new DecodeError("string is not valid UTF-8");
    }
  }

  bin(n) {
    const at = this.need(this.count(n));
    return this.b.slice(at, at + n);
  }

  big(unsigned) {
    const at = this.need(8);
    const n = unsigned ? this.v.getBigUint64(at) : this.v.getBigInt64(at);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }

  array(n, depth) {
    const out = [];
    for (let i = this.count(n); i > 0; i--) out.push(this.value(depth));
    return out;
  }

  map(n, depth) {
    const out = {};
    for (let i = this.count(n); i > 0; i--) {
      const key = this.value(depth);
      if (typeof key !== "string") throw new DecodeError("map key is not a string");
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new DecodeError(`key "${key}" appears twice`);
      Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  value(depth = 0) {
    const c = this.u8();
    if (c <= 0x7f) return c;
    if (c >= 0xe0) return c - 0x100;
    if (c >= 0xa0 && c <= 0xbf) return this.str(c & 0x1f);
    const nested = (c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf);
    if (nested && depth >= MAX_DEPTH) throw new DecodeError(`nested deeper than ${MAX_DEPTH} levels`);
    if (c >= 0x80 && c <= 0x8f) return this.map(c & 0x0f, depth + 1);
    if (c >= 0x90 && c <= 0x9f) return this.array(c & 0x0f, depth + 1);
    switch (c) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(this.u8());
      case 0xc5: return this.bin(this.u16());
      case 0xc6: return this.bin(this.u32());
      case 0xca: return this.v.getFloat32(this.need(4));
      case 0xcb: return this.v.getFloat64(this.need(8));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return this.big(true);
      case 0xd0: return this.v.getInt8(this.need(1));
      case 0xd1: return this.v.getInt16(this.need(2));
      case 0xd2: return this.v.getInt32(this.need(4));
      case 0xd3: return this.big(false);
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16(), depth + 1);
      case 0xdd: return this.array(this.u32(), depth + 1);
      case 0xde: return this.map(this.u16(), depth + 1);
      case 0xdf: return this.map(this.u32(), depth + 1);
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: { // fixext: skipped as opaque
        this.need(1 + 2 ** (c - 0xd4));
        return undefined;
      }
      case 0xc7: case 0xc8: case 0xc9: { // ext 8/16/32
        const n = c === 0xc7 ? this.u8() : c === 0xc8 ? this.u16() : this.u32();
        this.need(1 + this.count(n));
        return undefined;
      }
      default: throw new DecodeError(`0x${c.toString(16)} is not MessagePack`);
    }
  }
}

const isUint = (x) => (typeof x === "number" && Number.isInteger(x) && x >= 0) ||
  (typeof x === "bigint" && x >= 0n && x <= MAX_U64);
const isStr = (x) => typeof x === "string";
const isArray = (x) => Array.isArray(x);
const isMap = (x) => x !== null && typeof x === "object" && !Array.isArray(x) && !(x instanceof Uint8Array);
const isText = (x) => isStr(x) && x.length > 0;
const isStrArray = (x) => isArray(x) && x.every(isStr);
const isSeqMap = (x) => isMap(x) && Object.values(x).every(isUint);

// The value check of each key type of schema.js (generated from
// proto/schema/bcast1.json, with the KEYS, EVENT_REQUIRED, REQUEST_REQUIRED
// and STRUCTS tables): an array of a struct is checked entry by entry, an
// entry of a positional struct being an array of exactly its keys' values.
const CHECKS = {
  uint: isUint, str: isStr, text: isText, str_array: isStrArray, seq_map: isSeqMap,
  msg_array: (x) => isArray(x) && x.every(isMap),
};
for (const [type, struct] of Object.entries(STRUCTS)) {
  const fields = Object.entries(struct.keys);
  const isEntry = struct.positional
    ? (e) => isArray(e) && e.length === fields.length && fields.every(([, t], i) => CHECKS[t](e[i]))
    : (e) => isMap(e) && struct.required.every((k) => k in e) && fields.every(([k, t]) => !(k in e) || CHECKS[t](e[k]));
  CHECKS[type] = (x) => isArray(x) && x.every(isEntry);
}

/**
 * Decodes one body: exactly one MessagePack map with a known string `t`, a
 * uint `id` if any, and known keys of the right types. `kind` "event" (what
 * a broker sends) or "request" (what a client sends) also checks the
 * REQUIRED keys of that direction. Throws DecodeError.
 */
export function decode(bytes, kind) {
  const reader = new Reader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  if (reader.b.length === 0) throw new DecodeError("empty body");
  const body = reader.value();
  if (reader.pos !== reader.b.length) throw new DecodeError("body has bytes after its MessagePack map");
  checkBody(body, kind);
  return body;
}

// Throws DecodeError unless `body` is a map of a known type with known keys
// of the right types (and, for `kind`, its REQUIRED keys).
function checkBody(body, kind) {
  if (!isMap(body)) throw new DecodeError("body is not a MessagePack map");
  if ("id" in body && !isUint(body.id)) throw new DecodeError("id must be an unsigned integer");
  if (!isStr(body.t)) throw new DecodeError("t (the type) is missing or not a string");
  const keys = KEYS[body.t];
  const required = (kind === "event" ? EVENT_REQUIRED : kind === "request" ? REQUEST_REQUIRED : KEYS)[body.t];
  if (!keys || !required) throw new DecodeError(`unknown type "${body.t}"`);
  for (const [key, type] of Object.entries(keys)) {
    // Only a request's text must be non-empty: a broker's msg or dm (and a
    // pack entry) carries a str (PROTOCOL.md 6.2, 6.3).
    const check = type === "text" && kind === "event" ? isStr : CHECKS[type];
    if (key in body && !check(body[key])) throw new DecodeError(`${body.t}.${key} has the wrong type or is empty`);
  }
  for (const key of kind ? required : []) {
    if (!(key in body)) throw new DecodeError(`${body.t} without ${key}`);
  }
}

/**
 * The `msg` bodies a decoded `pack` means (PROTOCOL.md 6.3), in seq order:
 * entry i is `{t: "msg", epoch, seq: seq + i, ts: ts + dts, room, from:
 * names[sender], text}`. Throws DecodeError if the pack is malformed: no
 * entries or more than 64, a sender past `names`, or a msg that would not
 * decode (a seq or ts past uint64).
 */
export function unpack(pack) {
  if (pack.entries.length === 0 || pack.entries.length > 64) {
    throw new DecodeError(`a pack of ${pack.entries.length} entries, not 1 to 64`);
  }
  return pack.entries.map(([dts, sender, text], i) => {
    if (sender >= pack.names.length) throw new DecodeError(`pack entry ${i}: sender ${sender} is past its ${pack.names.length} names`);
    const msg = { t: "msg", epoch: pack.epoch, seq: small(BigInt(pack.seq) + BigInt(i)),
                  ts: small(BigInt(pack.ts) + BigInt(dts)), room: pack.room, from: pack.names[sender], text };
    checkBody(msg, "event");
    return msg;
  });
}

// ------------------------------------------------------------------ client --

const WINDOW = 256; // unacked requests on the wire (PROTOCOL.md 10.3)
// The first retry of a request refused as rate-limited (PROTOCOL.md 10.3),
// in ms; the pause doubles while it is refused, up to hb_ivl / 2.
const RATE_LIMITED_PAUSE = 10;
// Hello is repeated this often (ms) until the first welcome tells hb_ivl
// (PROTOCOL.md 10.1 step 3: the broker's default).
const HELLO_RETRY = 1000;
// What is held per room after a gap, and what is kept until a welcome, is
// bounded (PROTOCOL.md 10.2, as the C++ client): at most HELD_MAX messages
// and HELD_MAX_BYTES of them (footprint(), stashCost()). Past either the
// newest are let go: a room msg is still announced, so the fill brings it
// from history; presence (join, leave) let go before a welcome cannot be
// refilled (PROTOCOL.md 10.2).
const HELD_MAX = 100000;
const HELD_MAX_BYTES = 64 * 1024 * 1024;
// What a held msg costs, in bytes: its strings (UTF-8), and 64 besides.
const footprint = (m) => 64 + Buffer.byteLength(m.text) + Buffer.byteLength(m.from) + Buffer.byteLength(m.room);
// What keeping publication `m` until the welcome costs, in bytes (as the C++
// client; PROTOCOL.md 10.2), or undefined for one not kept: only what is
// acted on when published is, each charged 64 and its strings (an hb 32 and
// the name per room), so no body is kept for free.
const byteSum = (...strs) => strs.reduce((n, x) => n + (x === undefined ? 0 : Buffer.byteLength(x)), 0);
function stashCost(m) {
  if (m.t === "msg") return footprint(m);
  if (m.t === "join" || m.t === "leave" || m.t === "shutdown") return 64 + byteSum(m.name, m.reason);
  if (m.t === "hb") return Object.keys(m.rooms).reduce((n, room) => n + 32 + Buffer.byteLength(room), 64);
  return undefined;
}
// `m` with only its `t`, its `id` and the keys KEYS defines for its type.
// Unknown keys are ignored on input, and dropped before an event is kept
// (held, stashed for the welcome, queued): what footprint() and stashCost()
// count is then what is kept (PROTOCOL.md 10.2).
function known(m) {
  const keys = KEYS[m.t];
  if (!keys) return m;
  const out = { t: m.t };
  for (const k of ["id", ...Object.keys(keys)]) if (Object.hasOwn(m, k)) out[k] = m[k];
  return out;
}
const same = (a, b) => a !== undefined && b !== undefined && BigInt(a) === BigInt(b);
const max = (a, b) => (BigInt(a) >= BigInt(b) ? a : b);
const now = () => performance.now();

/**
 * One named session. `await connect()`, then `send()`/`dm()`/`who()`; read
 * events with `for await (const e of client.events())` or an `onEvent`
 * callback (also emitted as "event"). Events are broker bodies (msg, join,
 * leave, shutdown, dm, error; ack with reportAcks), `{t: "lost", room,
 * first_seq, count}` for seqs history no longer has, and `{t: "status",
 * status, detail}` as the C++ client reports them (joined, connection-lost,
 * reconnected, server-shutdown, epoch-reset).
 */
export class Client extends EventEmitter {
  constructor({ name, in: inEndpoint = "tcp://127.0.0.1:5555", out: outEndpoint = "tcp://127.0.0.1:5556",
                rooms = ["lobby"], token, timeout = 10000, reportAcks = false, onEvent } = {}) {
    super();
    if (!name) throw new TypeError("a name is required");
    Object.assign(this, { name, inEndpoint, outEndpoint, token, timeout, reportAcks });
    this.rooms = rooms.length ? [...rooms] : ["lobby"];
    this.hbIvl = HELLO_RETRY;
    this.liveness = 3;
    this.maxText = 4096;
    this.session = undefined;
    this.epoch = undefined;
    this.acked = new Map(); // request id -> seq (undefined for a dm)
    // held: seq (a BigInt) -> msg after a gap, heldBytes their footprint()s,
    // newest the highest held seq (0n: none); fillNotBefore: no fill of the
    // room before then (PROTOCOL.md 10.2).
    this._streams = new Map(this.rooms.map((r) => [r, { last: 0, announced: 0, held: new Map(), heldBytes: 0, newest: 0n,
                                                        fillSent: undefined, fillNotBefore: -Infinity }]));
    this._sysLast = 0;
    this._welcomeSysSeq = 0;
    this._welcomeAt = -Infinity;
    this._deferred = undefined; // a resume's {rooms, ts, deadline}
    this._blocked = undefined; // the rate-limited request's {id, pause, timer}
    this._ackedSeq = new Map(); // room -> highest seq of ours acked
    this._pending = new Map(); // id -> {bytes, sentAt, room, text}; Map order is id order
    this._replies = new Map(); // id -> resolve, for who
    this._queue = [];
    this._wake = null;
    this._onEvent = onEvent;
    this._nextId = 1;
    this._joined = false;
    this._everJoined = false;
    this._displaced = false; // our session was resumed elsewhere
    this._heardSub = false;
    this._lost = false;
    this._closed = false;
    this._stash = [];
    this._stashBytes = 0; // the stashCost()s of what _stash keeps for the welcome
    this._lastSent = -Infinity;
    this._helloSent = -Infinity;
    this._lastHeard = now();
  }

  /** Joins: resolves once welcomed and the SUB is live; rejects with
   * ProtocolError when the broker refuses, or on timeout. */
  async connect() {
    // maxMessageSize: twice the largest frame a broker sends (PROTOCOL.md 12).
    const common = { linger: 1000, reconnectInterval: 100, reconnectMaxInterval: 5000,
                     heartbeatInterval: 5000, heartbeatTimeout: 15000, maxMessageSize: 2 * 1024 * 1024 };
    // An IPv6 literal (tcp://[::1]:5555) needs the IPV6 option (host names
    // stay IPv4, as in the C++ client).
    const ipv6 = (endpoint) => String(endpoint).startsWith("tcp://[");
    this._sub = new zmq.Subscriber({ ...common, receiveHighWaterMark: 10000, ipv6: ipv6(this.outEndpoint) });
    this._sub.subscribe("sys/", ...this.rooms.map((r) => `room/${r}/`));
    this._sub.connect(this.outEndpoint);
    const id = randomBytes(16);
    id[0] = 0x4e; // "N": never a zero first byte
    this._dealer = new zmq.Dealer({ ...common, immediate: true, sendTimeout: 0, routingId: id.toString("latin1"),
                                   ipv6: ipv6(this.inEndpoint) });
    this._dealer.connect(this.inEndpoint);
    const joined = new Promise((resolve, reject) => { this._joinWaiter = { resolve, reject }; });
    const deadline = setTimeout(() => this._failJoin(new Error(`no welcome from the broker at ${this.inEndpoint}`)), this.timeout);
    this._receive(this._sub, 2, (m) => this._onPublished(m));
    this._receive(this._dealer, 1, (m) => this._onReply(m));
    this._lastHeard = now();
    this._sayHello();
    this._schedule();
    try {
      await joined;
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Queues a room message, sent until acked; returns its id. */
  send(text, room = this.rooms[0]) {
    this._checkText(text);
    return this._request({ t: "msg", room, text });
  }

  /** Queues a private message to `to`, sent until acked; returns its id. */
  dm(to, text) {
    this._checkText(text);
    return this._request({ t: "dm", to, text });
  }

  /** Resolves to the users online: [{name, since}]. */
  who(timeout = 5000) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const ask = () => this._transmit(encode({ t: "who", id }));
      const retry = setInterval(ask, this.hbIvl);
      const done = setTimeout(() => finish(null, new Error("no answer to who")), timeout);
      const finish = (users, err) => {
        clearInterval(retry);
        clearTimeout(done);
        this._replies.delete(id);
        if (err) reject(err); else resolve(users);
      };
      this._replies.set(id, (m) => finish(m.users));
      ask();
    });
  }

  /** Yields events in order until the client is closed. */
  async *events() {
    while (true) {
      while (this._queue.length) yield this._queue.shift();
      if (this._closed) return;
      await new Promise((resolve) => { this._wake = resolve; });
    }
  }

  /** Requests not acked yet. */
  get unacked() { return this._pending.size; }

  /** True when every acked message of ours has come back on SUB. */
  caughtUp() {
    for (const [room, seq] of this._ackedSeq) if (BigInt(this._streams.get(room).last) < BigInt(seq)) return false;
    return true;
  }

  /** Says bye when joined and closes the sockets (bounded linger). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._timer);
    clearTimeout(this._blocked?.timer);
    if (this._joined) this._transmit(encode({ t: "bye" }));
    this._joined = false;
    this._sub?.close();
    this._dealer?.close();
    this._wake?.();
  }

  // -- internals ---------------------------------------------------------

  _checkText(text) {
    const n = Buffer.byteLength(String(text));
    if (n === 0 || n > this.maxText) throw new RangeError(`text is ${n} bytes; the broker takes 1 to ${this.maxText}`);
  }

  _emit(e) {
    if (this._onEvent) this._onEvent(e);
    else this._queue.push(e);
    this.emit("event", e);
    if (this._wake) { const wake = this._wake; this._wake = null; wake(); }
  }

  _failJoin(err) {
    if (this._joinWaiter) { this._joinWaiter.reject(err); this._joinWaiter = null; }
  }

  async _receive(socket, frames, handle) {
    try {
      for await (const msg of socket) {
        if (msg.length !== frames) continue; // not a publication / an answer
        let body;
        try {
          body = decode(msg[msg.length - 1], "event");
        } catch {
          continue; // undecodable bodies are ignored
        }
        handle(body);
      }
    } catch (e) {
      if (!this._closed) this.emit("error", e);
    }
  }

  _schedule() {
    if (this._closed) return;
    this._timer = setTimeout(() => { this._timers(); this._schedule(); }, Math.max(this.hbIvl / 4, 5));
  }

  _request(body) {
    body.id = this._nextId++;
    this._pending.set(body.id, { bytes: encode(body), sentAt: undefined, room: body.room, text: body.text });
    this._sendQueued();
    return body.id;
  }

  // Sends the pending requests within the window not sent yet.
  _sendQueued() {
    if (this._joined) this._resend(Infinity);
  }

  // Sends without blocking; false when there is no connection (IMMEDIATE).
  _transmit(bytes, onFail) {
    if (!this._dealer || this._dealer.closed) return false;
    try {
      this._dealer.send(bytes).catch(() => onFail?.());
    } catch {
      return false; // busy: try again on the next tick
    }
    this._lastSent = now();
    return true;
  }

  // Sends the never-sent requests, and those unacked for `olderThan` ms, of
  // the first WINDOW pending; while one is refused as rate-limited, only
  // that one (its own timer retries it after each refusal).
  _resend(olderThan) {
    const t = now();
    if (this._blocked) {
      const entry = this._pending.get(this._blocked.id);
      if (olderThan !== Infinity && t - entry.sentAt >= olderThan && this._transmit(entry.bytes)) entry.sentAt = t;
      return;
    }
    let inFlight = 0;
    for (const entry of this._pending.values()) {
      if (++inFlight > WINDOW) return;
      if (entry.sentAt === undefined || t - entry.sentAt >= olderThan) {
        entry.sentAt = t;
        if (!this._transmit(entry.bytes, () => { entry.sentAt = undefined; })) { entry.sentAt = undefined; return; }
      }
    }
  }

  _sayHello() {
    if (this._displaced) return; // our session was resumed elsewhere: never take it back
    const hello = { t: "hello", v: 1, name: this.name };
    if (this.session) hello.session = this.session;
    if (this.token) hello.token = this.token;
    hello.rooms = this.rooms;
    this._transmit(encode(hello));
    this._helloSent = now();
  }

  _rejoin(status, detail) {
    if (status) this._emit({ t: "status", status, detail });
    if (this._joined) {
      this._joined = false;
      this._sayHello();
    }
  }

  _timers() {
    const t = now();
    if (this._joined && !this._lost && t - this._lastHeard > this.liveness * this.hbIvl) {
      this._lost = true; // the broker is silent: gone, or restarted
      this._rejoin("connection-lost", "no heartbeat from the broker");
    }
    if (!this._joined) {
      if (t - this._helloSent >= this.hbIvl) this._sayHello();
      return;
    }
    if (this._deferred && t >= this._deferred.deadline) this._applyDeferred(); // a clock stepped back
    if (t - this._lastSent >= this.hbIvl) this._transmit(encode({ t: "ping" }));
    this._resend(2 * this.hbIvl);
    this._requestFills();
  }

  _onReply(reply) {
    const m = known(reply); // what is queued or kept, no more (PROTOCOL.md 10.2)
    this._lastHeard = now();
    const { t, id, code } = m;
    if (t === "welcome") {
      this._onWelcome(m);
    } else if (t === "ack") {
      this._onAck(id, m.room, m.seq);
    } else if (t === "error" && code === "session-moved") {
      this._joined = false;
      this._displaced = true;
      this.session = undefined;
      this._emit(m);
    } else if (t === "error" && code === "no-session") {
      // One hello per lost session: while it waits, or for a request sent
      // before the latest welcome, the error is stale.
      const entry = this._pending.get(id);
      if (entry?.sentAt === undefined || entry.sentAt > this._welcomeAt) this._rejoin();
    } else if (t === "error" && code === "rate-limited" && this._pending.has(id)) {
      this._onRateLimited(id);
    } else if (t === "error" && id === undefined && !this._everJoined) {
      this._failJoin(new ProtocolError(code, m.reason));
    } else if (t === "error") {
      if ((code === "shutting-down" || code === "rate-limited" || code === "unavailable") && this._pending.has(id)) return;
      if (id !== undefined && !this._pending.delete(id)) return; // a ping, a fill, a retry
      this._unblock(id);
      this._emit(m);
      this._sendQueued(); // the window moved
    } else if (t === "history") {
      this._onHistory(m);
    } else if (t === "dm") {
      this._emit(m);
    } else if (t === "who" && this._replies.has(id)) {
      this._replies.get(id)(m);
    }
  }

  // Holds everything newer than `id` until it is accepted; retries it alone
  // after a pause that doubles while it is refused.
  _onRateLimited(id) {
    const blocked = this._blocked;
    if (blocked && BigInt(id) > BigInt(blocked.id)) return; // sent before an older one's refusal
    const pause = blocked && same(blocked.id, id) ? Math.min(2 * blocked.pause, this.hbIvl / 2) : RATE_LIMITED_PAUSE;
    clearTimeout(blocked?.timer);
    const timer = setTimeout(() => {
      const entry = this._pending.get(id);
      if (entry && this._joined && this._transmit(entry.bytes)) entry.sentAt = now();
    }, pause);
    this._blocked = { id, pause, timer };
  }

  // Back to the whole window once the blocked request `id` is answered.
  _unblock(id) {
    if (!this._blocked || !same(this._blocked.id, id)) return;
    clearTimeout(this._blocked.timer);
    this._blocked = undefined;
  }

  // Ends pending request `id`; a second ack for it is ignored.
  _onAck(id, room, seq) {
    if (!this._pending.delete(id)) return;
    this._unblock(id);
    this.acked.set(id, seq);
    if (this._streams.has(room) && seq !== undefined) this._ackedSeq.set(room, max(this._ackedSeq.get(room) ?? 0, seq));
    if (this.reportAcks) this._emit({ t: "ack", id, ...(room === undefined ? {} : { room, seq }) });
    this._sendQueued(); // the window moved
  }

  // The broker carries out a session's messages in order and publishes each
  // once, so a publication under our name is one of ours on the wire:
  // certain only when a single pending msg has its room and text. One at or
  // below a seq already acked to us is that message or an earlier one, never
  // a later pending one with the same text.
  _ackByPublication(m) {
    if (BigInt(m.seq) <= BigInt(this._ackedSeq.get(m.room) ?? 0)) return;
    let match;
    let inFlight = 0;
    for (const [id, p] of this._pending) {
      if (p.sentAt === undefined || ++inFlight > WINDOW) break;
      if (p.room !== m.room || p.text !== m.text) continue;
      if (match !== undefined) return;
      match = id;
    }
    if (match !== undefined) this._onAck(match, m.room, m.seq);
  }

  _onWelcome(w) {
    if (this._joined) return; // the answer to a repeated hello
    const first = this.epoch === undefined;
    const newEpoch = !first && !same(this.epoch, w.epoch);
    const wasLost = this._lost;
    if (newEpoch) this._endEpoch();
    Object.assign(this, { session: w.session, epoch: w.epoch, hbIvl: Math.max(Number(w.hb_ivl), 10),
                          liveness: Math.max(Number(w.liveness), 1), maxText: Number(w.max_text) });
    this._deferred = undefined;
    for (const [room, s] of this._streams) {
      // A new epoch's first fill goes at once: the old pause is over too.
      if (newEpoch) Object.assign(s, { last: 0, announced: 0, held: new Map(), heldBytes: 0, newest: 0n, fillNotBefore: -Infinity });
      else if (first) s.last = Object.prototype.hasOwnProperty.call(w.rooms, room) ? w.rooms[room] : 0;
      s.fillSent = undefined;
    }
    if (first || newEpoch) {
      this._announce(w.rooms);
      this._sysLast = w.sys_seq;
    } else {
      // A resume: what was published before this welcome may still wait on
      // the SUB (a client that stalled has a queue there); a fill opened now
      // would report it lost (PROTOCOL.md 10.1 step 5).
      this._deferred = { rooms: w.rooms, ts: w.ts ?? 0, deadline: now() + this.liveness * this.hbIvl };
    }
    if (newEpoch) this._ackedSeq.clear();
    this._welcomeSysSeq = w.sys_seq;
    this._welcomeAt = now();
    this._joined = true;
    this._lost = false;
    this._lastHeard = now();
    if (first) this._emit({ t: "status", status: "joined", detail: w.name });
    if (newEpoch) this._emit({ t: "status", status: "epoch-reset", detail: "the broker started a new epoch" });
    if (!first && (wasLost || newEpoch)) this._emit({ t: "status", status: "reconnected", detail: "" });
    this._everJoined = true;
    this._resend(0); // pending requests first, in id order
    const stash = this._stash;
    this._stash = [];
    this._stashBytes = 0;
    for (const m of stash) if (m.epoch === undefined || same(m.epoch, this.epoch)) this._onPublished(m);
    this._requestFills();
    this._checkJoined();
  }

  // Raises each followed room's announced seq (an hb's or a welcome's).
  _announce(rooms) {
    for (const [room, last] of Object.entries(rooms)) {
      const r = this._streams.get(room);
      if (r) r.announced = max(r.announced, last);
    }
  }

  _applyDeferred() {
    this._announce(this._deferred.rooms);
    this._deferred = undefined;
  }

  _checkJoined() {
    if (this._joinWaiter && this._joined && this._heardSub) {
      this._joinWaiter.resolve();
      this._joinWaiter = null;
    }
  }

  _onPublished(m) {
    if (m.t === "batch") {
      // Several msgs of one room in one publication: each in turn.
      for (const item of m.msgs) {
        try {
          checkBody(item, "event");
        } catch (e) {
          if (e instanceof DecodeError) continue; // undecodable bodies are ignored
          throw e;
        }
        if (item.t === "msg") this._onPublished(item);
      }
      return;
    }
    if (m.t === "pack") {
      // Several msgs of one room, what they share written once: each in turn.
      let msgs;
      try {
        msgs = unpack(m);
      } catch (e) {
        if (e instanceof DecodeError) return; // a malformed pack is ignored whole, as undecodable
        throw e;
      }
      for (const msg of msgs) this._onPublished(msg);
      return;
    }
    m = known(m); // what is stashed, held or queued, no more (PROTOCOL.md 10.2)
    this._lastHeard = now();
    if (!this._heardSub) {
      this._heardSub = true;
      this._checkJoined();
    }
    if (this._joined && m.epoch !== undefined && !same(m.epoch, this.epoch)) {
      this._rejoin(); // the broker started a new epoch
    }
    if (!this._joined) {
      // Kept for the welcome, as much as fits (PROTOCOL.md 10.2).
      const cost = stashCost(m);
      if (cost !== undefined && this._stash.length < HELD_MAX && this._stashBytes + cost <= HELD_MAX_BYTES) {
        this._stash.push(m);
        this._stashBytes += cost;
      }
      return;
    }
    const s = this._streams.get(m.room);
    if (m.t === "msg" && s && BigInt(m.seq) > BigInt(s.last)) {
      s.announced = max(s.announced, m.seq);
      this._hold(s, m);
      this._release(s);
    } else if ((m.t === "join" || m.t === "leave" || m.t === "shutdown") && BigInt(m.seq) > BigInt(this._sysLast)) {
      this._sysLast = m.seq;
      if (m.t === "shutdown") {
        this._emit({ t: "status", status: "server-shutdown", detail: m.reason, ts: m.ts });
        this._lost = true;
        this._joined = false; // then hello until it is back
      } else {
        this._emit(m);
      }
      if (m.t === "leave" && m.name === this.name && m.reason !== "bye" && BigInt(m.seq) > BigInt(this._welcomeSysSeq)) {
        this._rejoin(); // the broker ended our session (a timeout we did not see)
      }
    } else if (m.t === "hb") {
      this._announce(m.rooms);
      this._sysLast = max(this._sysLast, m.sys_seq);
      if (this._deferred && BigInt(m.ts) >= BigInt(this._deferred.ts)) this._applyDeferred(); // the SUB caught up
    }
    this._requestFills();
  }

  _onHistory(h) {
    const s = this._streams.get(h.room);
    if (!s || !same(h.epoch, this.epoch)) return; // not ours, or from before an epoch change
    s.fillSent = undefined;
    const last = s.last;
    s.announced = max(s.announced, h.last);
    for (const m of h.msgs) {
      // Each entry a msg, as in a batch: a malformed one is ignored, not held.
      try {
        checkBody(m, "event");
      } catch (e) {
        if (e instanceof DecodeError) continue;
        throw e;
      }
      if (m.t === "msg" && BigInt(m.seq) > BigInt(s.last)) this._hold(s, known(m));
    }
    // Seqs older than the oldest kept, and not held from SUB, are gone.
    let goneUntil = BigInt(h.first);
    for (const seq of s.held.keys()) if (seq < goneUntil) goneUntil = seq;
    if (s.held.size === 0 && BigInt(s.announced) + 1n < goneUntil) goneUntil = BigInt(s.announced) + 1n;
    this._lose(h.room, s, goneUntil - 1n);
    this._release(s);
    // History has nothing past last, yet a later seq was announced (one never
    // stored, such as a forged msg at 2^64 - 1): ask again after hb_ivl, not
    // once per round trip (PROTOCOL.md 10.2).
    if (same(s.last, last)) s.fillNotBefore = now() + this.hbIvl;
    this._requestFills();
  }

  // The old epoch's last word, before a new one resets the rooms: held
  // messages are delivered; gaps, and seqs announced (or acked to us) but
  // never received, are reported lost (PROTOCOL.md 10.4).
  _endEpoch() {
    for (const [room, s] of this._streams) {
      const announced = BigInt(max(s.announced, this._ackedSeq.get(room) ?? 0));
      for (const seq of [...s.held.keys()].sort((a, b) => (a < b ? -1 : 1))) {
        this._lose(room, s, seq - 1n);
        this._take(s, seq);
      }
      this._lose(room, s, announced);
    }
  }

  // Reports the seqs after the room's last, up to `until` (a BigInt), lost and skips them.
  _lose(room, s, until) {
    const last = BigInt(s.last);
    if (until <= last) return;
    this._emit({ t: "lost", room, first_seq: small(last + 1n), count: small(until - last) });
    s.last = small(until);
  }

  // Holds msg `m` of stream `s` until the seqs before it are delivered,
  // unless held already. Past HELD_MAX messages or HELD_MAX_BYTES the newest
  // are let go (PROTOCOL.md 10.2): a message newer than all held is simply
  // not kept.
  _hold(s, m) {
    const seq = BigInt(m.seq);
    const cost = footprint(m);
    if (s.held.has(seq)) return;
    if (seq > s.newest && (s.held.size >= HELD_MAX || s.heldBytes + cost > HELD_MAX_BYTES)) return; // it would be let go: no scan
    s.held.set(seq, m);
    s.heldBytes += cost;
    if (seq > s.newest) s.newest = seq;
    while (s.held.size > HELD_MAX || s.heldBytes > HELD_MAX_BYTES) this._unhold(s, s.newest);
  }

  // Takes held message `seq` (a BigInt) out of stream `s`, keeping heldBytes right.
  _unhold(s, seq) {
    const m = s.held.get(seq);
    s.held.delete(seq);
    s.heldBytes -= footprint(m);
    if (seq === s.newest) { // the one scan, and only then
      s.newest = 0n;
      for (const held of s.held.keys()) if (held > s.newest) s.newest = held;
    }
    return m;
  }

  _release(s) {
    for (let next = BigInt(s.last) + 1n; s.held.has(next); next++) this._take(s, next);
  }

  // Delivers held message `seq` (a BigInt) of stream `s`.
  _take(s, seq) {
    const m = this._unhold(s, seq);
    s.last = m.seq;
    if (m.from === this.name) this._ackByPublication(m);
    this._emit(m);
  }

  _requestFills() {
    if (!this._joined) return;
    const t = now();
    for (const [room, s] of this._streams) {
      const due = t >= s.fillNotBefore && (s.fillSent === undefined || t - s.fillSent >= 2 * this.hbIvl);
      if (BigInt(s.announced) > BigInt(s.last) && due) {
        if (this._transmit(encode({ t: "history", room, after: s.last, limit: 1000 }))) s.fillSent = t;
      }
    }
  }
}

// ------------------------------------------------------------- rendering --
// The renderings of the C++ client in a pipe (client/src/format.cpp).

const pad = (n) => String(n).padStart(2, "0");

/** HH:MM:SS, local time, of a broker timestamp in ms. */
export function clock(ts) {
  const d = new Date(Number(ts));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Control characters shown as ^X, ^? and \u00XX, as the C++ client does. */
export function sanitize(text) {
  let out = "";
  for (const ch of String(text)) {
    const c = ch.codePointAt(0);
    if (c < 0x20) out += "^" + String.fromCharCode(c + 0x40);
    else if (c === 0x7f) out += "^?";
    else if (c >= 0x80 && c <= 0x9f) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out;
}

/** The text line of an event, or null for events shown as nothing. */
export function textLine(e, { showRoom = false } = {}) {
  const s = sanitize;
  switch (e.t) {
    case "msg": {
      const head = `${clock(e.ts)} ${showRoom ? `[${e.room}] ` : ""}`;
      return e.text.startsWith("/me ") ? `${head}* ${s(e.from)} ${s(e.text.slice(4))}` : `${head}${s(e.from)}: ${s(e.text)}`;
    }
    case "dm": return `${clock(e.ts)} (private) ${s(e.from)}: ${s(e.text)}`;
    case "join": return `* ${s(e.name)} joined`;
    case "leave": return `* ${s(e.name)} left${e.reason && e.reason !== "bye" ? ` (${s(e.reason)})` : ""}`;
    case "lost": {
      const last = BigInt(e.first_seq) + BigInt(e.count) - 1n;
      return `* ${e.count} message(s) in ${e.room} could not be recovered (seq ${e.first_seq}-${last})`;
    }
    case "status": return {
      "connection-lost": "* connection lost — reconnecting…",
      reconnected: "* reconnected",
      "server-shutdown": "* server shut down — waiting for it to return",
      "epoch-reset": "* the server started a new history; numbering restarts",
    }[e.status] ?? null;
    default: return null;
  }
}

/** A JSON string as the C++ client writes it (only ", \ and C0 escaped). */
export function jsonString(text) {
  let out = '"';
  for (const ch of String(text)) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

const JSON_FIELDS = {
  msg: ["room", "seq", "ts", "from", "text"], join: ["name", "ts"], leave: ["name", "reason", "ts"],
  dm: ["from", "text", "ts"], lost: ["room", "first_seq", "count"], ack: ["id", "room", "seq"],
  error: ["code", "reason", "id"], status: ["status", "detail"],
};

/** The --json line of an event: the C++ client's json_line. */
export function jsonLine(e) {
  const fields = JSON_FIELDS[e.t];
  if (!fields) return null;
  const parts = [`"type":"${e.t}"`];
  for (const k of fields) {
    const v = e[k];
    if (v === undefined || v === null) continue;
    parts.push(`"${k}":${typeof v === "string" ? jsonString(v) : String(v)}`);
  }
  return `{${parts.join(",")}}`;
}
