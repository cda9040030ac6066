#!/usr/bin/node
// node chat.js --name N --in EP --out EP [--room R]... [--token T] [--timeout S] [--json]
//
// Sends each stdin line to the first room and prints every event as
// `broadcast-server connect` does in a pipe (or its --json lines). At end of
// input it waits until its messages are acked and have come back, says bye
// and exits 0. Exit codes as the C++ client: 3 no broker, 4 name taken or
// invalid, 5 a message or the hello refused.
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Client, ProtocolError, jsonLine, textLine } from "./bcast.js";

const usage =
  "usage: node chat.js --name N [--in EP] [--out EP] [--room R]... [--token T | --token-file F] [--timeout S] [--json]\n" +
  "  --in/--out: a port (5555), host:port or endpoint (tcp://host:5555); default $BCAST_IN/$BCAST_OUT or 5555/5556";

// --in/--out as broadcast-server takes them: a bare port (on localhost),
// host:port, [v6]:port, or a ZeroMQ endpoint; null when it is none of them.
function endpoint(spec) {
  if (spec.includes("://")) return spec;
  const colon = spec.lastIndexOf(":");
  const host = colon < 0 ? "127.0.0.1" : spec.slice(0, colon);
  const port = spec.slice(colon + 1);
  if (!/^\d+$/.test(port) || Number(port) > 65535 || host === "") return null;
  return `tcp://${host}:${port}`;
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      help: { type: "boolean", short: "h", default: false },
      name: { type: "string" },
      in: { type: "string", default: process.env.BCAST_IN ?? "5555" },
      out: { type: "string", default: process.env.BCAST_OUT ?? "5556" },
      room: { type: "string", multiple: true },
      token: { type: "string", default: process.env.BCAST_TOKEN },
      "token-file": { type: "string" },
      timeout: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
    },
  }));
} catch (e) {
  console.error(`chat.js: ${e.message}\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
if (!args.name) {
  console.error(usage);
  process.exit(2);
}
for (const flag of ["in", "out"]) {
  const resolved = endpoint(args[flag]);
  if (resolved === null) {
    console.error(`chat.js: --${flag}: '${args[flag]}' is neither a port (5555), host:port nor an endpoint\n${usage}`);
    process.exit(2);
  }
  args[flag] = resolved;
}

// A token file (its first line) wins over --token and $BCAST_TOKEN.
if (args["token-file"]) args.token = readFileSync(args["token-file"], "utf8").split("\n")[0].trim();
const timeout = Number(args.timeout) * 1000;
const rooms = args.room ?? ["lobby"];
const showRoom = rooms.length > 1;
let code = 0;

const print = (line) => { if (line !== null) process.stdout.write(line + "\n"); };
const client = new Client({
  name: args.name, in: args.in, out: args.out, rooms, token: args.token, timeout, reportAcks: args.json,
  onEvent(e) {
    if (e.t === "error") {
      code = 5;
      if (!args.json) {
        const ref = e.id !== undefined ? `message ${e.id} refused: ` : "";
        console.error(`chat.js: ${ref}${e.code}: ${e.reason}`);
        return;
      }
    }
    print(args.json ? jsonLine(e) : textLine(e, { showRoom }));
  },
});

try {
  await client.connect();
} catch (e) {
  console.error(`chat.js: ${e.message}`);
  process.exit(e instanceof ProtocolError ? (["name-taken", "invalid-name"].includes(e.code) ? 4 : 5) : 3);
}

let number = 0;
const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", (line) => {
  number += 1;
  line = line.replace(/\r$/, "");
  if (!line) return;
  try {
    client.send(line);
  } catch (e) {
    console.error(`chat.js: line ${number} not sent: ${e.message}`);
    code = 5;
  }
});
await new Promise((resolve) => input.once("close", resolve));

// End of input: wait until everything is acked and seen, within the timeout.
const deadline = performance.now() + timeout;
while (client.unacked > 0 || !client.caughtUp()) {
  if (performance.now() >= deadline) {
    console.error(`chat.js: ${client.unacked} message(s) not acknowledged`);
    code = 3;
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await client.close();
process.exitCode = code;
