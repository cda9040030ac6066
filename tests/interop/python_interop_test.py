#!/usr/bin/python3
"""Interop of the Python client (scripts/clients/python/bcast_client.py) with the C++ broker
and the C++ client, over loopback. Usage: python_interop_test.py BROKER_BINARY

Every wait polls with a deadline; every subprocess is killed in tearDown; the
broker is stopped with SIGINT and must exit 0.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "clients", "python", "bcast_client.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import bcast_client  # noqa: E402
from line_proc import Proc  # noqa: E402

BROKER = None  # set from argv[1]
WAIT = 20.0  # seconds any single expected thing may take


def deadline():
    return time.monotonic() + WAIT


class PythonInterop(unittest.TestCase):
    def setUp(self):
        self.procs, self.clients = [], []
        self.broker = self.spawn([BROKER, "start", "--db", ":memory:", "--in", "0", "--out", "0"])
        try:
            line = self.broker.readline(deadline())
            found = re.search(r"in (tcp://127\.0\.0\.1:\d+) \(ROUTER\), "
                              r"out (tcp://127\.0\.0\.1:\d+) \(PUB\)", line or "")
            self.assertTrue(found, f"unexpected first line {line!r}; stderr: {self.broker.err()}")
        except BaseException:
            self.broker.kill()  # tearDown does not run when setUp fails
            raise
        self.in_ep, self.out_ep = found.groups()

    def tearDown(self):
        for c in self.clients:
            c.close()
        for p in self.procs[1:]:
            p.kill()
        self.broker.p.send_signal(signal.SIGINT)
        try:
            rc, log = self.broker.wait_exit(deadline()), self.broker.err()
        finally:
            self.broker.kill()
        self.assertEqual(rc, 0, f"broker exit code; stderr: {log}")

    def spawn(self, argv, stdin=False):
        p = Proc(argv, stdin, self.pump)
        self.procs.append(p)
        return p

    def pump(self):
        for c in self.clients:
            c.poll(0)

    def wait_for(self, client, condition, what):
        end = deadline()
        while not condition():
            self.assertLess(time.monotonic(), end, f"timed out waiting for {what}")
            client.poll(0.05)

    def client(self, name, **kwargs):
        c = bcast_client.Client(name, self.in_ep, self.out_ep, timeout=WAIT, **kwargs)
        self.clients.append(c)
        return c

    def collect(self, client, seen, predicate):
        """Collects client's events into seen until one satisfies predicate."""
        if any(predicate(e) for e in seen):
            return
        for e in client.events(WAIT):
            seen.append(e)
            if predicate(e):
                return
        self.fail(f"timed out; events so far: {seen}")

    def test_python_library_and_cpp_client_exchange(self):
        py = self.client("py")
        seen = []
        cpp = self.spawn([BROKER, "connect", "--json", "--name", "cpp",
                          "--in", self.in_ep, "--out", self.out_ep], stdin=True)
        cpp.read_until(lambda l: json.loads(l).get("status") == "joined", deadline())
        self.collect(py, seen, lambda e: e["t"] == "join" and e["name"] == "cpp")

        cpp.write("c1\nc2 ü\nc3\n")
        ids = [py.send(text) for text in ("p1", "p2", "p3")]
        dm_id = py.dm("cpp", "secret")
        cpp_texts = ["c1", "c2 ü", "c3"]
        self.collect(py, seen, lambda e: e["t"] == "msg" and e["text"] == "c3")
        self.collect(py, seen, lambda e: e["t"] == "msg" and e["text"] == "p3")
        self.wait_for(py, lambda: py.unacked == 0, "acks of py's messages")
        msgs = [e for e in seen if e["t"] == "msg"]
        self.assertEqual([e["seq"] for e in msgs], list(range(1, len(msgs) + 1)))
        self.assertEqual([e["text"] for e in msgs if e["from"] == "cpp"], cpp_texts)
        self.assertEqual([e["text"] for e in msgs if e["from"] == "py"], ["p1", "p2", "p3"])
        self.assertTrue(all(e["room"] == "lobby" for e in msgs))

        # cpp sees py's messages with the seqs py was acked, and the dm.
        out = []
        wanted = lambda: ({"p3", "secret"} <= {o.get("text") for o in out if o["type"] in ("msg", "dm")}
                          and len([o for o in out if o["type"] == "ack"]) == 3)
        while not wanted():
            out.append(json.loads(cpp.read_until(lambda l: True, deadline())))
        for o in out:
            self.assertNotEqual(o["type"], "error", out)
        by_cpp = [o for o in out if o["type"] == "msg" and o["from"] == "py"]
        self.assertEqual([o["text"] for o in by_cpp], ["p1", "p2", "p3"])
        self.assertEqual([o["seq"] for o in by_cpp], [py.acked[i] for i in ids])
        dms = [o for o in out if o["type"] == "dm"]
        self.assertEqual([(o["from"], o["text"]) for o in dms], [("py", "secret")])
        self.assertIn(dm_id, py.acked)
        # py sees cpp's messages at the seqs cpp was acked.
        cpp_acks = sorted(o["seq"] for o in out if o["type"] == "ack")
        self.assertEqual([e["seq"] for e in msgs if e["from"] == "cpp"], cpp_acks)
        self.assertEqual(sorted(u["name"] for u in py.who()), ["cpp", "py"])

        cpp.p.stdin.close()
        self.assertEqual(cpp.wait_exit(deadline()), 0, cpp.err())
        self.collect(py, seen, lambda e: e["t"] == "leave" and e["name"] == "cpp")
        self.assertEqual(seen[-1]["reason"], "bye")

    def test_python_library_takes_packs_apart(self):
        """3000 piped lines reach the broker at once; it publishes them in
        packs (a raw SUB counts them), and the Python library delivers every
        message once, in seq order."""
        import msgpack
        import zmq
        raw = zmq.Context.instance().socket(zmq.SUB)
        raw.setsockopt(zmq.SUBSCRIBE, b"room/lobby/")
        raw.setsockopt(zmq.SUBSCRIBE, b"sys/")
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(self.out_ep)
        self.assertTrue(raw.poll(int(WAIT * 1000)), "no hb on the raw SUB")  # subscribed
        py = self.client("py")
        seen = []
        lines = [f"line {i}" for i in range(1, 3001)]
        # Its echo of the room goes nowhere: a full stdout pipe would stall it.
        sender = subprocess.Popen([BROKER, "connect", "--name", "piper", "--in", self.in_ep,
                                   "--out", self.out_ep], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            sender.communicate("".join(line + "\n" for line in lines).encode(), timeout=WAIT)
        finally:
            sender.kill()
        self.assertEqual(sender.returncode, 0)
        self.collect(py, seen, lambda e: e["t"] == "msg" and e["text"] == lines[-1])
        msgs = [e for e in seen if e["t"] == "msg"]
        self.assertEqual([e["text"] for e in msgs], lines)
        self.assertEqual([e["seq"] for e in msgs], list(range(1, 3001)))
        packs = 0
        while raw.poll(0):
            topic, body = raw.recv_multipart()
            packs += topic == b"room/lobby/" and msgpack.unpackb(body)["t"] == "pack"
        raw.close()
        self.assertGreater(packs, 0, "3000 lines at once, none packed")

    def test_chat_cli_to_cpp_listener(self):
        count = 20
        warm = self.client("warm", rooms=("pipe",))
        listener = self.spawn([BROKER, "listen", "--json", "--presence", "--room", "pipe", "--count", str(count),
                               "--in", self.in_ep, "--out", self.out_ep])
        # The listener shows what is published after it subscribed; when that
        # is is known only once it prints: send warm-up lines one by one until
        # it does, then read up to the last one sent.
        is_msg = lambda l: json.loads(l)["type"] == "msg"
        texts, sent = [], 0
        while not texts:
            self.assertLess(sent, 10, f"listener never printed; stderr: {listener.err()}")
            sent += 1
            warm.send(f"warm-{sent}", room="pipe")
            try:
                texts.append(json.loads(listener.read_until(is_msg, time.monotonic() + 2.0))["text"])
            except AssertionError:
                pass
        while texts[-1] != f"warm-{sent}":
            texts.append(json.loads(listener.read_until(is_msg, deadline()))["text"])
        lines = [f"line-{i} é" for i in range(1, count - len(texts) + 1)]

        chat = self.spawn([sys.executable, SCRIPT, "chat", "--name", "chatpy", "--room", "pipe",
                           "--in", self.in_ep, "--out", self.out_ep], stdin=True)
        chat.write("".join(line + "\n" for line in lines))
        chat.p.stdin.close()
        self.assertEqual(chat.wait_exit(deadline()), 0, chat.err())
        shown = []
        while (line := chat.readline(deadline())) is not None:
            shown.append(line)
        own = [l for l in shown if re.fullmatch(r"\d\d:\d\d:\d\d chatpy: .*", l)]
        self.assertEqual([l[9 + len("chatpy: "):] for l in own], lines, shown)

        got, events = [], []
        while (line := listener.readline(deadline())) is not None:
            events.append(json.loads(line))
        got = [o for o in events if o["type"] == "msg"]
        self.assertEqual(listener.wait_exit(deadline()), 0, listener.err())
        self.assertEqual([o for o in events if o["type"] not in ("msg", "join", "leave")], [])
        self.assertIn({"type": "join", "name": "chatpy"},
                      [{k: o.get(k) for k in ("type", "name")} for o in events])
        self.assertEqual([(o.get("from"), o.get("text")) for o in got], [("chatpy", l) for l in lines])
        self.assertEqual([o["seq"] for o in got], list(range(sent + 1, sent + 1 + len(lines))))

    def test_chat_cli_json_matches_cpp(self):
        py = self.client("watcher")
        chat = self.spawn([sys.executable, SCRIPT, "chat", "--json", "--name", "pyjson",
                           "--in", self.in_ep, "--out", self.out_ep], stdin=True)
        cpp = self.spawn([BROKER, "connect", "--json", "--name", "cppjson",
                          "--in", self.in_ep, "--out", self.out_ep], stdin=True)
        for p in (chat, cpp):
            p.read_until(lambda l: '"status":"joined"' in l, deadline())
        seen = []
        self.collect(py, seen, lambda e: e["t"] == "join" and e["name"] == "pyjson")
        self.collect(py, seen, lambda e: e["t"] == "join" and e["name"] == "cppjson")
        py.send('quote " back\\ tab\t end')
        py_line = lambda l: '"from":"watcher"' in l
        a, b = (p.read_until(py_line, deadline()) for p in (chat, cpp))
        self.assertEqual(a, b)
        self.assertEqual(json.loads(a)["text"], 'quote " back\\ tab\t end')
        for p in (chat, cpp):
            p.p.stdin.close()
            self.assertEqual(p.wait_exit(deadline()), 0, p.err())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python_interop_test.py BROKER_BINARY")
    BROKER = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
