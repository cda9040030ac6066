// A mixed room: chat.js and the C++ `broadcast-server connect` against the
// real broker (BCAST_BINARY), each seeing the other's messages in order with
// the right `from`; the text renderings agree; example.js runs.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

const HERE = fileURLToPath(new URL("..", import.meta.url));
const BINARY = process.env.BCAST_BINARY;
const NODE = process.execPath;
const LIMIT = 20000; // ms: the deadline of every wait
const running = new Set();
let endpoints;

// A child process whose stdout lines are collected and announced.
function start(command, args) {
  const child = spawn(command, args, { cwd: HERE, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const proc = Object.assign(new EventEmitter(), { child, lines: [], stderr: "", exit: null, name: args.join(" ") });
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop();
    proc.lines.push(...parts);
    proc.emit("change");
  });
  child.stderr.setEncoding("utf8").on("data", (chunk) => { proc.stderr += chunk; });
  child.on("exit", (code, signal) => {
    proc.exit = { code, signal };
    running.delete(proc);
    proc.emit("change");
  });
  running.add(proc);
  return proc;
}

// Resolves when check(proc) holds; rejects at the deadline or when the
// process ends first.
function waitFor(proc, what, check, limit = LIMIT) {
  return new Promise((resolve, reject) => {
    const done = (err) => {
      clearTimeout(timer);
      proc.off("change", poll);
      if (err) reject(err); else resolve();
    };
    const fail = (why) => done(new Error(`${proc.name}: ${why} waiting for ${what}\nstdout:\n${proc.lines.join("\n")}\nstderr:\n${proc.stderr}`));
    const poll = () => {
      if (check(proc)) done();
      else if (proc.exit) fail(`exited ${JSON.stringify(proc.exit)}`);
    };
    const timer = setTimeout(() => fail("timed out"), limit);
    proc.on("change", poll);
    poll();
  });
}

const exited = (proc) => waitFor(proc, "exit", (p) => p.exit !== null);
const hasLine = (pred) => (p) => p.lines.some(pred);
const jsonEvents = (proc) => proc.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

function cpp(name, room, json) {
  return start(BINARY, ["connect", "--name", name, "--in", endpoints.in, "--out", endpoints.out,
                        "--room", room, ...(json ? ["--json"] : [])]);
}

function node(name, room, json) {
  return start(NODE, ["chat.js", "--name", name, "--in", endpoints.in, "--out", endpoints.out,
                      "--room", room, ...(json ? ["--json"] : [])]);
}

before(async () => {
  assert.ok(BINARY, "BCAST_BINARY names the broadcast-server binary");
  const broker = start(BINARY, ["start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200", "--log-level", "off"]);
  let match;
  await waitFor(broker, "the listening line", (p) => {
    match = p.lines.map((l) => /in (\S+) \(ROUTER\), out (\S+) \(PUB\)/.exec(l)).find(Boolean);
    return Boolean(match);
  });
  endpoints = { in: match[1], out: match[2] };
});

after(() => {
  for (const proc of running) proc.child.kill("SIGKILL");
});

test("chat.js and the C++ client see each other's messages in order", async () => {
  const room = "node-mix";
  const c = cpp("cpp-peer", room, true);
  await waitFor(c, "joined", hasLine((l) => l.includes('"status":"joined"')));
  const n = node("node-peer", room, true);
  await waitFor(n, "joined", hasLine((l) => l.includes('"status":"joined"')));
  const count = 20;
  // Interleaved writes: both send while the other is sending.
  for (let i = 1; i <= count; i++) {
    c.child.stdin.write(`from cpp ${i}\n`);
    n.child.stdin.write(`from node ${i} ✓ "quoted"\n`);
  }
  const msgs = (proc) => jsonEvents(proc).filter((e) => e.type === "msg");
  for (const proc of [c, n]) await waitFor(proc, `${2 * count} messages`, (p) => msgs(p).length >= 2 * count);
  c.child.stdin.end();
  n.child.stdin.end();
  await Promise.all([exited(c), exited(n)]);
  assert.deepEqual(c.exit, { code: 0, signal: null }, c.stderr);
  assert.deepEqual(n.exit, { code: 0, signal: null }, n.stderr);

  const seen = { cpp: msgs(c), node: msgs(n) };
  for (const [who, list] of Object.entries(seen)) {
    assert.equal(list.length, 2 * count, `${who} saw each message once`);
    list.forEach((m, i) => {
      assert.equal(m.room, room);
      assert.equal(m.seq, i + 1, `${who}: seqs in order`);
    });
    const texts = (from) => list.filter((m) => m.from === from).map((m) => m.text);
    assert.deepEqual(texts("cpp-peer"), Array.from({ length: count }, (_, i) => `from cpp ${i + 1}`), who);
    assert.deepEqual(texts("node-peer"), Array.from({ length: count }, (_, i) => `from node ${i + 1} ✓ "quoted"`), who);
  }
  // Both saw the same room, message for message.
  assert.deepEqual(seen.node, seen.cpp);
  // Acks were reported for chat.js's own messages, with their seqs.
  const acks = jsonEvents(n).filter((e) => e.type === "ack");
  assert.deepEqual(acks.map((a) => a.id).sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i + 1));
  for (const a of acks) {
    assert.equal(seen.node.find((m) => m.seq === a.seq).from, "node-peer");
  }
});

test("chat.js prints the lines the C++ client prints", async () => {
  const room = "node-text";
  const c = cpp("cpp-watch", room, false);
  const n = node("node-watch", room, false);
  // Both watchers are joined and hear sys/ once both print a probe's leave
  // (presence is never refilled from history, so it proves both SUBs live).
  const deadline = performance.now() + LIMIT;
  for (let i = 1; ; i++) {
    const probe = node(`probe-${i}`, room, false);
    probe.child.stdin.end();
    await exited(probe);
    const left = hasLine((l) => l === `* probe-${i} left`);
    const both = Promise.all([c, n].map((p) => waitFor(p, `probe-${i}'s leave`, left, 1000)));
    if (await both.then(() => true, () => false)) break;
    assert.ok(performance.now() < deadline, "the watchers never both heard a probe");
  }
  const sender = node("node-talker", room, false);
  sender.child.stdin.end("hi there\n/me waves\ntab\there\n");
  await exited(sender);
  assert.equal(sender.exit.code, 0, sender.stderr);
  const talker = (l) => l.includes("node-talker");
  for (const proc of [c, n]) {
    await waitFor(proc, "node-talker's leave", hasLine((l) => l === "* node-talker left"));
  }
  c.child.stdin.end();
  n.child.stdin.end();
  await Promise.all([exited(c), exited(n)]);
  assert.equal(c.exit.code, 0, c.stderr);
  assert.equal(n.exit.code, 0, n.stderr);
  const expected = c.lines.filter(talker);
  assert.match(expected[1], /^\d\d:\d\d:\d\d node-talker: hi there$/);
  assert.match(expected[2], /^\d\d:\d\d:\d\d \* node-talker waves$/);
  assert.match(expected[3], /^\d\d:\d\d:\d\d node-talker: tab\^Ihere$/);
  assert.deepEqual(expected.slice(0, 1).concat(expected.slice(-1)), ["* node-talker joined", "* node-talker left"]);
  assert.deepEqual(n.lines.filter(talker), expected);
  assert.deepEqual(sender.lines, expected.slice(1, 4));
});

test("example.js runs against the broker", async () => {
  const ex = start(NODE, ["example.js", endpoints.in, endpoints.out]);
  await exited(ex);
  assert.equal(ex.exit.code, 0, ex.stderr);
  assert.ok(ex.lines.some((l) => /^node-\d+: hello from Node\.js$/.test(l)), ex.lines.join("\n"));
});
