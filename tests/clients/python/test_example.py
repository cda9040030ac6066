#!/usr/bin/python3
"""Runs scripts/clients/python/example.py (the README's Python example)
against a real broker: it must show its own message and exit 0.
Usage: test_example.py BROADCAST_SERVER_BINARY"""
import os
import re
import signal
import subprocess
import sys
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
EXAMPLE = os.path.join(ROOT, "scripts", "clients", "python", "example.py")
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "broadcast-server")


class Example(unittest.TestCase):
    def test_example_posts_and_prints(self):
        broker = subprocess.Popen([BINARY, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--log-level", "off"],
                                  stdout=subprocess.PIPE)
        try:
            banner = broker.stdout.readline().decode()
            in_ep, out_ep = re.search(r"in (\S+) \(ROUTER\), out (\S+) \(PUB\)", banner).groups()
            env = dict(os.environ, BCAST_IN=in_ep, BCAST_OUT=out_ep)
            run = subprocess.run(["/usr/bin/python3", EXAMPLE], env=env, capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("scoreboard: home 2 : 1 away", run.stdout)
        finally:
            broker.send_signal(signal.SIGINT)
            self.assertEqual(broker.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
