#!/usr/bin/python3
"""The Python client against a broker on IPv6 (start --bind ::1): the
library with tcp://[::1]:PORT endpoints and the chat program with
[::1]:PORT each send a message and receive it. Exits 77 (ctest: skipped)
when the machine has no IPv6 loopback.
Usage: test_ipv6.py BROADCAST_SERVER_BINARY"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
CLIENT_DIR = os.path.join(ROOT, "scripts", "clients", "python")
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "broadcast-server")
LIMIT = 20.0  # s: the deadline of every wait
sys.path.insert(0, CLIENT_DIR)
import bcast_client  # noqa: E402


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class IPv6(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = subprocess.Popen([BINARY, "start", "--bind", "::1", "--in", "0", "--out", "0",
                                       "--db", ":memory:", "--heartbeat", "200", "--log-level", "off"],
                                      stdout=subprocess.PIPE)
        deadline, banner = time.monotonic() + LIMIT, b""
        while b"\n" not in banner:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([cls.broker.stdout], [], [], left)[0]:
                cls.tearDownClass()
                raise AssertionError(f"no listening line from the broker: {banner!r}")
            chunk = os.read(cls.broker.stdout.fileno(), 4096)
            if not chunk:
                cls.tearDownClass()
                raise AssertionError(f"the broker exited: {banner!r}")
            banner += chunk
        match = re.search(r"in (tcp://\[::1\]:(\d+)) \(ROUTER\), out (tcp://\[::1\]:(\d+)) \(PUB\)", banner.decode())
        if not match:
            cls.tearDownClass()
            raise AssertionError(f"the broker is not on [::1]: {banner!r}")
        cls.in_ep, cls.in_port, cls.out_ep, cls.out_port = match.groups()

    @classmethod
    def tearDownClass(cls):
        if cls.broker.poll() is None:
            cls.broker.send_signal(signal.SIGINT)
            try:
                cls.broker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.broker.kill()
                cls.broker.wait()

    def test_endpoint_takes_ipv6(self):
        self.assertEqual(bcast_client.endpoint("[::1]:5555"), "tcp://[::1]:5555")
        self.assertEqual(bcast_client.endpoint("tcp://[::1]:5555"), "tcp://[::1]:5555")
        self.assertEqual(bcast_client.endpoint("5555"), "tcp://127.0.0.1:5555")

    def test_library_sends_and_receives_over_ipv6(self):
        with bcast_client.Client("py-v6", self.in_ep, self.out_ep, rooms=["v6-lib"], timeout=LIMIT) as c:
            c.send("hello over IPv6")
            got = None
            for e in c.events(timeout=LIMIT):  # ends at the deadline
                if e.get("t") == "msg" and e.get("from") == "py-v6":
                    got = e
                    break
            self.assertIsNotNone(got, "our message never came back")
            self.assertEqual((got["room"], got["text"], got["seq"]), ("v6-lib", "hello over IPv6", 1))

    def test_chat_with_bracketed_host_port(self):
        run = subprocess.run(["/usr/bin/python3", os.path.join(CLIENT_DIR, "bcast_client.py"), "chat",
                              "--name", "py-v6-chat", "--in", f"[::1]:{self.in_port}",
                              "--out", f"[::1]:{self.out_port}", "--room", "v6-chat", "--json",
                              "--timeout", str(LIMIT)],
                             input="hi from [::1]\n", capture_output=True, text=True, timeout=3 * LIMIT)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn('"type":"msg","room":"v6-chat","seq":1,', run.stdout)
        self.assertIn('"from":"py-v6-chat","text":"hi from [::1]"}', run.stdout)


if __name__ == "__main__":
    if not ipv6_loopback():
        print("skipped: this machine has no IPv6 loopback (::1)")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1])
