#!/usr/bin/python3
"""The broker binary survives connections reset while their input queue is
full (issue 15, found by the attack session): with ZMTP heartbeats on, libzmq
4.3.4 aborts the whole process (`Assertion failed: !_io_error`,
stream_engine_base.cpp:331) when that happens, so any peer could kill the
broker. 200 hand-written ZMTP DEALERs, opened over 5 s so heartbeat timers
would be due, each queue 1500 requests and reset with RST; the broker must
still answer an honest client. Usage: reset_flood_test.py BROADCAST_SERVER"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

import msgpack
import zmq

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "broadcast-server")


def raw_dealer(port):
    """A ZMTP 3.0 NULL DEALER over a plain socket, handshake done."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32)
    got = b""
    while len(got) < 64:
        got += s.recv(64 - len(got))
    ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
    s.sendall(bytes([0x04, len(ready)]) + ready)
    header = s.recv(2)
    s.recv(header[1])
    return s


class ResetFlood(unittest.TestCase):
    def test_resets_with_full_input_queues_do_not_abort_the_broker(self):
        broker = subprocess.Popen([BINARY, "start", "--db", ":memory:", "--in", "0", "--out", "0",
                                   "--log-level", "off"], stdout=subprocess.PIPE)
        try:
            banner = broker.stdout.readline().decode()
            in_ep, _ = re.search(r"in (\S+) \(ROUTER\), out (\S+) \(PUB\)", banner).groups()
            port = int(in_ep.rsplit(":", 1)[1])
            ping = msgpack.packb({"t": "ping"})
            frames = (bytes([0, len(ping)]) + ping) * 1500
            peers = []
            for _ in range(200):
                peers.append(raw_dealer(port))
                time.sleep(5.0 / 200)  # paces openings so heartbeat timers spread: load, not sync
            for p in peers:
                p.sendall(frames)
            for p in peers:
                p.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                p.close()
            ctx = zmq.Context()
            honest = ctx.socket(zmq.DEALER)
            honest.setsockopt(zmq.LINGER, 0)
            honest.connect(in_ep)
            honest.send(msgpack.packb({"t": "ping", "id": 7}))
            self.assertTrue(honest.poll(10000), "no answer: the broker is gone or stuck")
            answer = msgpack.unpackb(honest.recv())
            self.assertEqual(answer.get("id"), 7)
            self.assertIsNone(broker.poll(), "the broker exited")
            ctx.destroy(linger=0)
        finally:
            broker.send_signal(signal.SIGINT)
            self.assertEqual(broker.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
