// The Node.js client against a broker on IPv6 (start --bind ::1): the
// library with tcp://[::1]:PORT endpoints and chat.js with [::1]:PORT each
// send a message and receive it. Exits 77 (ctest: skipped) when the machine
// has no IPv6 loopback.
// Usage: BCAST_BINARY=build/app/broadcast-server node tests/clients/node/ipv6.test.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const CLIENT_DIR = fileURLToPath(new URL("../../../scripts/clients/node/", import.meta.url));
const BINARY = process.env.BCAST_BINARY;
const LIMIT = 20000; // ms: the deadline of every wait

const hasIpv6Loopback = await new Promise((resolve) => {
  const server = createServer();
  server.once("error", () => resolve(false));
  server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)));
});
if (!hasIpv6Loopback) {
  console.log("skipped: this machine has no IPv6 loopback (::1)");
  process.exit(77);
}

const { after, before, test } = await import("node:test");
const { Client } = await import(new URL("bcast.js", `file://${CLIENT_DIR}`).href);
let broker;
let ports;

// Resolves with check()'s value once it is truthy; re-checked on each of
// `emitter`'s `events`; rejects when check() throws or at the deadline.
function until(what, emitter, events, check) {
  return new Promise((resolve, reject) => {
    const poll = () => {
      let value;
      try {
        value = check();
      } catch (e) {
        done();
        reject(e);
        return;
      }
      if (!value) return;
      done();
      resolve(value);
    };
    const done = () => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, poll);
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}`)); }, LIMIT);
    for (const e of events) emitter.on(e, poll);
    poll();
  });
}

before(async () => {
  assert.ok(BINARY, "BCAST_BINARY names the broadcast-server binary");
  broker = spawn(BINARY, ["start", "--bind", "::1", "--in", "0", "--out", "0", "--db", ":memory:",
                          "--heartbeat", "200", "--log-level", "off"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  broker.stdout.setEncoding("utf8").on("data", (chunk) => { out += chunk; broker.stdout.emit("grown"); });
  const match = await until("the broker's listening line", broker.stdout, ["grown", "end"], () => {
    assert.equal(broker.exitCode, null, `the broker exited: ${out}`);
    return /in tcp:\/\/\[::1\]:(\d+) \(ROUTER\), out tcp:\/\/\[::1\]:(\d+) \(PUB\)/.exec(out);
  });
  ports = { in: match[1], out: match[2] };
});

after(() => {
  broker?.kill("SIGINT");
});

test("the library sends and receives over tcp://[::1]", async () => {
  const client = new Client({ name: "node-v6", in: `tcp://[::1]:${ports.in}`, out: `tcp://[::1]:${ports.out}`,
                              rooms: ["v6-lib"], timeout: LIMIT });
  const seen = [];
  client.on("event", (e) => seen.push(e));
  await client.connect();
  try {
    client.send("hello over IPv6");
    const got = await until("our message back", client, ["event"],
                            () => seen.find((e) => e.t === "msg" && e.from === "node-v6"));
    assert.deepEqual([got.room, got.text, got.seq], ["v6-lib", "hello over IPv6", 1]);
  } finally {
    await client.close();
  }
});

test("chat.js takes [::1]:PORT", async () => {
  const chat = spawn(process.execPath, [`${CLIENT_DIR}chat.js`, "--name", "node-v6-chat", "--in", `[::1]:${ports.in}`,
                                        "--out", `[::1]:${ports.out}`, "--room", "v6-chat", "--json",
                                        "--timeout", String(LIMIT / 1000)],
                     { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  chat.stdout.setEncoding("utf8").on("data", (chunk) => { stdout += chunk; });
  chat.stderr.setEncoding("utf8").on("data", (chunk) => { stderr += chunk; });
  chat.stdin.end("hi from [::1]\n");
  const exited = new Promise((resolve) => chat.on("exit", (code, signal) => resolve({ code, signal })));
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 3 * LIMIT); });
  const status = await Promise.race([exited, deadline]);
  clearTimeout(timer);
  if (status === null) chat.kill("SIGKILL");
  assert.deepEqual(status, { code: 0, signal: null }, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  const msgs = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((e) => e.type === "msg");
  assert.equal(msgs.length, 1, stdout);
  assert.deepEqual([msgs[0].room, msgs[0].seq, msgs[0].from, msgs[0].text], ["v6-chat", 1, "node-v6-chat", "hi from [::1]"]);
});
