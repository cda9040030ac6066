#!/usr/bin/python3
"""The Python client joins a CURVE broker with admitted keys (issue 15):
keys from `broadcast-server keygen` load with pyzmq's zmq.auth, the client
posts and sees its message; a key the broker does not admit gets no welcome.
Usage: test_curve.py BROADCAST_SERVER_BINARY"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "clients", "python"))
import bcast_client  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "broadcast-server")


class Curve(unittest.TestCase):
    def test_an_admitted_key_chats_and_a_stranger_gets_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            allow = os.path.join(d, "allow")
            os.mkdir(allow)
            for name, where in (("server", d), ("alice", allow), ("mallory", d)):
                subprocess.run([BINARY, "keygen", name, "--dir", where], check=True, capture_output=True)
            broker = subprocess.Popen([BINARY, "start", "--db", ":memory:", "--in", "0", "--out", "0",
                                       "--log-level", "off", "--curve-secret",
                                       os.path.join(d, "server.key_secret"), "--allow", allow],
                                      stdout=subprocess.PIPE)
            try:
                banner = broker.stdout.readline().decode()
                in_ep, out_ep = re.search(r"in (\S+) \(ROUTER\), out (\S+) \(PUB\)", banner).groups()
                server_key = os.path.join(d, "server.key")
                alice = bcast_client.Client("alice", in_ep, out_ep, timeout=10, server_key=server_key,
                                            key=os.path.join(allow, "alice.key_secret"))
                alice.send("over CURVE")
                seen = next(e for e in alice.events(timeout=10) if e.get("t") == "msg")
                self.assertEqual(seen["text"], "over CURVE")
                alice.close()
                with self.assertRaises(TimeoutError):
                    bcast_client.Client("mallory", in_ep, out_ep, timeout=1.5, server_key=server_key,
                                        key=os.path.join(d, "mallory.key_secret"))
            finally:
                broker.send_signal(signal.SIGINT)
                self.assertEqual(broker.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
