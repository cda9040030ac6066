#!/usr/bin/python3
"""The fresh-clone check: `cmake --install BUILD_DIR --prefix TMP` puts every
file the README's "Installing" table names in place (and nothing of the
clients' tests or node_modules), then the README's first example runs with
the INSTALLED binary, found on PATH as `broadcast-server`, as a new user with
an empty home: start a broker (free ports, the default history directory),
`listen` to the lobby, `send` a message, the listener prints it, the broker
stops cleanly. Usage: install_test.py CMAKE_COMMAND BUILD_DIR

Every wait polls with a deadline; every subprocess is killed at the end.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from line_proc import Proc  # noqa: E402

CMAKE, BUILD_DIR = None, None  # set from argv
# Seconds any single expected thing may take: generous for a sanitizer build
# on a loaded 2-core machine; nothing waits this long when it works.
WAIT = 30.0

# Relative to the prefix: what the README's "Installing" table promises.
EXPECTED_FILES = [
    "bin/broadcast-server",
    "share/broadcast-server/clients/python/bcast_client.py",
    "share/broadcast-server/clients/python/bcast_schema.py",
    "share/broadcast-server/clients/python/example.py",
    "share/broadcast-server/clients/node/bcast.js",
    "share/broadcast-server/clients/node/schema.js",
    "share/broadcast-server/clients/node/chat.js",
    "share/broadcast-server/clients/node/example.js",
    "share/broadcast-server/clients/node/package.json",
    "share/broadcast-server/clients/node/package-lock.json",
    "share/broadcast-server/clients/ruby/bcast.rb",
    "share/broadcast-server/clients/ruby/bcast_schema.rb",
    "share/broadcast-server/clients/ruby/chat.rb",
    "share/broadcast-server/clients/ruby/example.rb",
    "share/doc/broadcast-server/PROTOCOL.md",
    "share/doc/broadcast-server/vectors/messages.json",
    "share/doc/broadcast-server/vectors/invalid.json",
    "share/doc/broadcast-server/LICENSE",
    "share/doc/broadcast-server/CHANGELOG.md",
]
# Directory names that must never be installed.
NOT_INSTALLED = {"node_modules", "test", "__pycache__"}


def deadline():
    return time.monotonic() + WAIT


def json_line(line):
    try:
        return json.loads(line)
    except ValueError:
        return {}


class Install(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bcast-install-")
        self.prefix = os.path.join(self.tmp.name, "prefix")
        self.home = os.path.join(self.tmp.name, "home")
        os.mkdir(self.home)
        self.procs = []
        # cmake --install writes BUILD_DIR/install_manifest.txt: keep the
        # user's own (the README's uninstall line reads it).
        self.manifest = os.path.join(BUILD_DIR, "install_manifest.txt")
        self.saved_manifest = None
        if os.path.exists(self.manifest):
            with open(self.manifest, "rb") as f:
                self.saved_manifest = f.read()

    def tearDown(self):
        for p in self.procs:
            p.kill()
        if self.saved_manifest is None:
            if os.path.exists(self.manifest):
                os.remove(self.manifest)
        else:
            with open(self.manifest, "wb") as f:
                f.write(self.saved_manifest)
        self.tmp.cleanup()

    def install(self):
        done = subprocess.run([CMAKE, "--install", BUILD_DIR, "--prefix", self.prefix],
                              capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def user_env(self):
        """A new user's environment: an empty home, the prefix's bin first on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BCAST_"))}
        env["HOME"] = self.home
        env["PATH"] = os.path.join(self.prefix, "bin") + os.pathsep + env.get("PATH", "")
        return env

    def spawn(self, argv, env):
        p = Proc(argv, env=env)
        self.procs.append(p)
        return p

    def test_install_puts_every_file_in_place(self):
        self.install()
        for rel in EXPECTED_FILES:
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, rel)), f"missing {rel}")
        self.assertTrue(os.access(os.path.join(self.prefix, "bin/broadcast-server"), os.X_OK))
        for root, dirs, _ in os.walk(self.prefix):
            bad = NOT_INSTALLED & set(dirs)
            self.assertFalse(bad, f"{sorted(bad)} installed under {root}")

    def test_installed_binary_runs_the_readme_first_example(self):
        self.install()
        env = self.user_env()
        installed = os.path.join(self.prefix, "bin", "broadcast-server")
        self.assertEqual(shutil.which("broadcast-server", path=env["PATH"]), installed)

        # `broadcast-server start`, on free ports instead of 5555 and 5556.
        broker = self.spawn(["broadcast-server", "start", "--in", "0", "--out", "0"], env)
        line = broker.read_until(lambda l: "listening" in l, deadline())
        found = re.search(r"in (tcp://\S+) .*out (tcp://\S+)", line)
        self.assertTrue(found, f"unexpected listening line {line!r}")
        ports = ["--in", found.group(1), "--out", found.group(2)]

        listener = self.spawn(["broadcast-server", "listen", "--room", "lobby", "--count", "1",
                               "--json", *ports], env)
        listener.read_until(lambda l: json_line(l).get("status") == "joined", deadline())

        sent = subprocess.run(["broadcast-server", "send", "--name", "ci", "build 812 passed",
                               *ports], env=env, capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(sent.returncode, 0, sent.stderr)

        got = json_line(listener.read_until(lambda l: json_line(l).get("type") == "msg",
                                            deadline()))
        self.assertEqual((got["room"], got["from"], got["text"]), ("lobby", "ci", "build 812 passed"))
        self.assertEqual(listener.wait_exit(deadline()), 0, listener.err())

        broker.p.send_signal(signal.SIGTERM)
        self.assertEqual(broker.wait_exit(deadline()), 0, broker.err())
        # The default history directory, in the new user's home, holds the message.
        rooms = os.path.join(self.home, ".local", "state", "broadcast-server", "rooms")
        self.assertTrue(os.path.isdir(rooms), f"no history directory {rooms}: {broker.err()}")
        self.assertTrue(os.listdir(rooms), f"empty history directory {rooms}")


if __name__ == "__main__":
    CMAKE, BUILD_DIR = sys.argv[1], os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
