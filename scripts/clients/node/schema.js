// BCAST/1 key tables for bcast.js.
// Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.

// Known keys per type and their types (uint, str, text = a non-empty str,
// str_array, seq_map, msg_array, or an array of one of STRUCTS); a request
// and an event of the same `t` share one entry (a key has the same type in
// both). `id` is checked for every body.
export const KEYS = {
  hello: { v: "uint", name: "str", session: "str", token: "str", rooms: "str_array" },
  msg: { room: "str", text: "text", epoch: "uint", seq: "uint", ts: "uint", from: "str" },
  dm: { to: "str", text: "text", from: "str", ts: "uint" },
  ping: {},
  who: { users: "user_array" },
  rooms: { list: "room_array" },
  history: {
    room: "str",
    after: "uint",
    limit: "uint",
    msgs: "msg_array",
    first: "uint",
    last: "uint",
    epoch: "uint",
  },
  bye: {},
  welcome: {
    v: "uint",
    name: "str",
    session: "str",
    epoch: "uint",
    hb_ivl: "uint",
    liveness: "uint",
    sys_seq: "uint",
    rooms: "seq_map",
    max_text: "uint",
    ts: "uint",
  },
  ack: { room: "str", seq: "uint" },
  error: { code: "str", reason: "str" },
  pong: {},
  batch: { epoch: "uint", room: "str", msgs: "msg_array" },
  pack: {
    epoch: "uint",
    room: "str",
    seq: "uint",
    ts: "uint",
    names: "str_array",
    entries: "pack_array",
  },
  join: { epoch: "uint", seq: "uint", ts: "uint", name: "str" },
  leave: { epoch: "uint", seq: "uint", ts: "uint", name: "str", reason: "str" },
  hb: { epoch: "uint", ts: "uint", sys_seq: "uint", rooms: "seq_map", clients: "uint" },
  shutdown: { epoch: "uint", seq: "uint", ts: "uint", reason: "str" },
};

// Keys a broker's body (PROTOCOL.md 6.2, 6.3) must have, by type.
export const EVENT_REQUIRED = {
  welcome: [
    "v", "name", "session", "epoch", "hb_ivl", "liveness", "sys_seq", "rooms", "max_text", "ts",
  ],
  ack: ["id"],
  error: ["code", "reason"],
  pong: [],
  who: ["users"],
  rooms: ["list"],
  history: ["room", "msgs", "first", "last", "epoch"],
  dm: ["from", "text", "ts"],
  msg: ["epoch", "seq", "ts", "room", "from", "text"],
  batch: ["epoch", "room", "msgs"],
  pack: ["epoch", "room", "seq", "ts", "names", "entries"],
  join: ["epoch", "seq", "ts", "name"],
  leave: ["epoch", "seq", "ts", "name", "reason"],
  hb: ["epoch", "ts", "sys_seq", "rooms", "clients"],
  shutdown: ["epoch", "seq", "ts", "reason"],
};

// Keys a client's body (PROTOCOL.md 6.1) must have, by type.
export const REQUEST_REQUIRED = {
  hello: ["v", "name"],
  msg: ["text"],
  dm: ["to", "text"],
  ping: [],
  who: [],
  rooms: [],
  history: [],
  bye: [],
};

// The maps an array type of KEYS holds: each key's type, and the keys
// every entry must have; a positional one's entries are arrays of the
// values in key order, without keys.
export const STRUCTS = {
  user_array: { keys: { name: "str", since: "uint" }, required: ["name", "since"] },
  room_array: { keys: { room: "str", last: "uint", idle: "uint" }, required: ["room", "last"] },
  pack_array: { keys: { dts: "uint", sender: "uint", text: "str" }, required: ["dts", "sender", "text"], positional: true },
};
