#!/usr/bin/python3
"""One room, four implementations: the C++ CLI, the Python, Node.js and Ruby
chat programs (scripts/clients/*) join the same broker, each sends three
lines, and every one of them must show all twelve messages, each once, in
the same order (seq 1..12), with the right `from`.

Usage: mixed_room_test.py BROADCAST_SERVER_BINARY"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CLIENTS = os.path.join(ROOT, "scripts", "clients")
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "broadcast-server")
DEADLINE = 20.0


def command(lang, name, in_ep, out_ep):
    args = ["--name", name, "--in", in_ep, "--out", out_ep, "--json"]
    return {
        "cpp": [BINARY, "connect"] + args,
        "python": ["/usr/bin/python3", os.path.join(CLIENTS, "python", "bcast_client.py"), "chat"] + args,
        "node": ["/usr/bin/node", os.path.join(CLIENTS, "node", "chat.js")] + args,
        "ruby": ["/usr/bin/ruby", os.path.join(CLIENTS, "ruby", "chat.rb")] + args,
    }[lang]


class Peer:
    def __init__(self, argv):
        # stderr goes to a file: an undrained pipe could block a chatty peer.
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.buffer = b""
        self.events = []

    def read_until(self, predicate, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while not predicate(self.events):
            left = end - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return predicate(self.events)
                self.buffer += chunk
                *lines, self.buffer = self.buffer.split(b"\n")
                self.events += [json.loads(line) for line in lines if line.strip()]
        return True

    def messages(self):
        return [e for e in self.events if e.get("type") == "msg"]


class MixedRoom(unittest.TestCase):
    def setUp(self):
        self.broker = subprocess.Popen([BINARY, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                                        "--log-level", "off"], stdout=subprocess.PIPE)
        self.addCleanup(lambda: self.broker.poll() is None and self.broker.kill())
        ready, _, _ = select.select([self.broker.stdout], [], [], DEADLINE)
        self.assertTrue(ready, "the broker printed no banner")
        banner = self.broker.stdout.readline().decode()
        self.in_ep, self.out_ep = re.search(r"in (\S+) \(ROUTER\), out (\S+) \(PUB\)", banner).groups()
        self.peers = {}

    def tearDown(self):
        for peer in self.peers.values():
            if peer.proc.poll() is None:
                peer.proc.kill()
            peer.proc.wait()
            for pipe in (peer.proc.stdin, peer.proc.stdout, peer.stderr):
                pipe.close()
        self.broker.send_signal(signal.SIGINT)
        self.assertEqual(self.broker.wait(timeout=10), 0)
        self.broker.stdout.close()

    def test_four_languages_share_one_room(self):
        langs = ["cpp", "python", "node", "ruby"]
        # A listener whose first line says its subscription is live sees
        # every peer's join: then that peer is in the room.
        observer = Peer([BINARY, "listen", "--json", "--presence", "--in", self.in_ep, "--out", self.out_ep])
        self.peers["observer"] = observer
        self.assertTrue(observer.read_until(lambda ev: any(e.get("status") == "joined" for e in ev)))
        for lang in langs:
            self.peers[lang] = Peer(command(lang, lang + "-peer", self.in_ep, self.out_ep))
            name = lang + "-peer"
            joined = lambda ev: any(e.get("type") == "join" and e.get("name") == name for e in ev)  # noqa: E731
            self.assertTrue(observer.read_until(joined), f"{lang} did not join: {observer.events}")
        for lang in langs:
            self.peers[lang].proc.stdin.write("".join(f"{lang} says {i}\n" for i in range(1, 4)).encode())
            self.peers[lang].proc.stdin.flush()
        seen = {}
        for lang, peer in self.peers.items():
            if lang == "observer":
                continue
            ok = peer.read_until(lambda ev: len([e for e in ev if e.get("type") == "msg"]) >= 12)
            if not ok:
                peer.proc.kill()
                peer.stderr.seek(0)
                self.fail(f"{lang} saw only {peer.messages()}; stderr: {peer.stderr.read()}")
            seen[lang] = [(m["seq"], m["from"], m["text"]) for m in peer.messages()]
        reference = seen["cpp"]
        self.assertEqual([s for s, _, _ in reference], list(range(1, 13)))
        for lang, messages in seen.items():
            self.assertEqual(messages, reference, f"{lang} saw a different room")
        for _, sender, text in reference:
            self.assertEqual(sender, text.split(" ")[0] + "-peer")
        for lang in langs:
            peer = self.peers[lang]
            peer.proc.stdin.close()
            self.assertEqual(peer.proc.wait(timeout=DEADLINE), 0, f"{lang} exit code")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
