#!/usr/bin/python3
"""Terminal test of the interactive chat (`broadcast-server connect` at a tty).

Runs real `connect` sessions in a private tmux server against a broker of
its own, reads the screen with `tmux capture-pane` and waits with deadlines
(polling), never with fixed sleeps. The chat is full-screen: a message pane
(columns 0..80 at 100 columns), the user list right of it, a status bar on
the second-last row and the input line on the last.

Usage: chat_terminal_test.py PATH/TO/broadcast-server [unittest options]
Needs tmux and the Python standard library only.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import unittest
import uuid

BINARY = ""
POLL_S = 0.05
DEADLINE_S = 20.0
COLS, ROWS = 100, 30
# The user list's columns (app/chat_screen.hpp: user_list_columns), shown
# while the message pane keeps min_pane_columns beside it.
USER_LIST_COLUMNS = 19
MIN_PANE_COLUMNS = 41
MAX_TEXT = 4096  # the broker's default max_text
INPUT_LIMIT = 4 * MAX_TEXT  # the input line keeps at most this (app/chat_terminal.cpp)
TIME = r"\d\d:\d\d:\d\d"
# Any run of SGR sequences, as tmux re-encodes them in `capture-pane -e`.
SGR_RUN = r"(?:\x1b\[[0-9;:]*m)*"
PALETTE = [33, 35, 37, 40, 71, 74, 97, 103, 130, 133, 136, 166, 167, 169, 172, 176]


def name_colour(name):
    """The 256-colour index the client gives `name` (FNV-1a over the palette)."""
    h = 2166136261
    for byte in name.encode():
        h ^= byte
        h = (h * 16777619) & 0xFFFFFFFF
    return PALETTE[h % len(PALETTE)]


def split_at_column(row, column):
    """`row` cut where `column` terminal columns are used (wide characters take two)."""
    used = 0
    for i, ch in enumerate(row):
        if used >= column:
            return row[:i], row[i:]
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return row, ""


def rss_kib(pid):
    """The resident memory of process `pid`, KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class Output:
    """Collects a subprocess's stdout (and stderr) lines on background threads."""

    def __init__(self, proc, label):
        self.proc = proc
        self.label = label
        self._lines = []
        self._errors = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._read, args=(proc.stdout, self._lines), daemon=True)]
        if proc.stderr is not None:
            self.threads.append(
                threading.Thread(target=self._read, args=(proc.stderr, self._errors), daemon=True))
        for t in self.threads:
            t.start()

    def _read(self, pipe, into):
        fd = pipe.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            partial += chunk
            *complete, partial = partial.split(b"\n")
            with self._lock:
                into.extend(line.decode("utf-8", "replace") for line in complete)
        if partial:
            with self._lock:
                into.append(partial.decode("utf-8", "replace"))

    def lines(self):
        with self._lock:
            return list(self._lines)

    def events(self):
        """The stdout lines that are JSON objects, parsed."""
        out = []
        for line in self.lines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def dump(self):
        with self._lock:
            return "\n".join([f"--- {self.label} (exit {self.proc.poll()}) stdout ---", *self._lines,
                              f"--- {self.label} stderr ---", *self._errors])


class ChatTerminalTest(unittest.TestCase):
    """Each test gets its own broker, tmux server and $HOME."""

    # ---- fixtures ---------------------------------------------------------

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chat-terminal-")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.outputs = []
        self.sessions = []
        self.socket = f"bcast-chat-test-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.tmux_env = {k: v for k, v in os.environ.items()
                         if k not in ("TMUX", "TMUX_PANE", "NO_COLOR", "XDG_STATE_HOME")}
        self.tmux_env["HOME"] = self.home
        self.tmux_started = False

        self.broker, self.endpoints = self.start_broker()

    def start_broker(self, *extra):
        """A broker of this test (with `extra` options) and its --in/--out arguments."""
        broker = self.spawn("broker", ["start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                                       "--log-level", "off", *extra])
        first = self.wait_for(lambda: broker.lines()[:1], "the broker's first stdout line",
                              dump=broker.dump)[0]
        m = re.search(r"in (tcp://\S+) \(ROUTER\), out (tcp://\S+) \(PUB\)", first)
        self.assertIsNotNone(m, f"unexpected broker banner: {first!r}")
        return broker, ["--in", m.group(1), "--out", m.group(2)]

    def tearDown(self):
        if self.tmux_started:
            # The processes below are stopped even when tmux itself died.
            socket_path = os.path.join(self.tmux_env.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}", self.socket)
            subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "kill-server"],
                           env=self.tmux_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10, check=False)
            try:
                os.unlink(socket_path)
            except FileNotFoundError:
                pass
        for out in reversed(self.outputs):  # clients first, the broker last
            proc = out.proc
            if proc.stdin is not None and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for t in out.threads:
                t.join(timeout=5)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers: processes ------------------------------------------------

    def spawn(self, label, args, stdin=None):
        env = dict(self.tmux_env)
        proc = subprocess.Popen([BINARY, *args], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        out = Output(proc, label)
        self.outputs.append(out)
        return out

    def listen(self, room=None):
        """A `listen --json --presence` subprocess, once it has heard from the broker."""
        args = ["listen", *self.endpoints, "--json", "--presence"] + (["--room", room] if room else [])
        out = self.spawn(f"listen {room or 'lobby'}", args)
        self.wait_for(lambda: any(e.get("type") == "status" and e.get("status") == "joined"
                                  for e in out.events()), f"listener on {room or 'lobby'} to join",
                      dump=out.dump)
        return out

    def piped(self, name, args=()):
        """A piped `connect --name NAME --json`; write lines with say()."""
        out = self.spawn(f"connect {name}", ["connect", *self.endpoints, "--name", name, "--json", *args],
                         stdin=subprocess.PIPE)
        self.wait_for(lambda: any(e.get("type") == "status" and e.get("status") == "joined"
                                  for e in out.events()), f"{name} to join", dump=out.dump)
        return out

    @staticmethod
    def say(out, *lines):
        out.proc.stdin.write("".join(line + "\n" for line in lines).encode())
        out.proc.stdin.flush()

    def send(self, name, text):
        result = subprocess.run([BINARY, "send", *self.endpoints, "--name", name, text],
                                env=self.tmux_env, capture_output=True, timeout=DEADLINE_S)
        self.assertEqual(result.returncode, 0, f"send as {name} failed: {result.stderr!r}")

    def wait_event(self, out, pred, what):
        return self.wait_for(lambda: [e for e in out.events() if pred(e)], what, dump=out.dump)


    def msg_event(self, out, text, room="lobby", sender=None):
        """Waits for the message `text` in `room` at `out`."""
        return self.wait_event(out, lambda e: e.get("type") == "msg" and e.get("room") == room
                               and e.get("text") == text and (sender is None or e.get("from") == sender),
                               f"the message {text[:40]!r} in {room} at {out.label}")

    # ---- helpers: tmux -----------------------------------------------------

    def tmux(self, *args):
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                env=self.tmux_env, capture_output=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode("utf-8", "replace")

    def chat(self, session, name="alice", args=(), env=None):
        """Starts `connect --name NAME` at a 100x30 terminal in tmux session `session`."""
        pane_env = {"HOME": self.home, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        pane_env.update(env or {})
        status_file = os.path.join(self.tmp, f"{session}.status")
        command = ["env", "-u", "NO_COLOR", "-u", "XDG_STATE_HOME", "-u", "LC_ALL",
                   *(f"{k}={v}" for k, v in pane_env.items()),
                   BINARY, "connect", *self.endpoints, "--name", name, *args]
        # The exit status goes to a file: tmux 3.3 sometimes misses the
        # SIGCHLD of a pane's process (it stays a zombie, #{pane_dead_status}
        # empty), so a shell that waits for the chat reports it instead.
        # The shell ignores SIGINT and SIGHUP so that it outlives the chat;
        # the chat itself gets default handling.
        command = ["sh", "-c", 'trap : INT HUP; status_file="$1"; shift; "$@"; echo "$?" > "$status_file.tmp"; '
                   'mv "$status_file.tmp" "$status_file"', "sh", status_file, *command]
        new = ["new-session", "-d", "-s", session, "-x", str(COLS), "-y", str(ROWS),
               shlex.join(command)]
        if not self.tmux_started:
            # A placeholder session holds the server while the options are
            # set: dead panes stay readable (remain-on-exit).
            self.tmux("new-session", "-d", "-s", "placeholder", "-x", str(COLS), "-y", str(ROWS), "cat",
                      ";", "set-option", "-g", "remain-on-exit", "on")
            self.tmux_started = True
        self.tmux(*new)
        self.sessions.append(session)
        return session

    def size(self, target):
        width, height = self.tmux("display-message", "-p", "-t", target, "#{pane_width} #{pane_height}").split()
        return int(width), int(height)

    def screen(self, target, escapes=False):
        """The rows of the screen as they are now (a full-screen program has no scrollback)."""
        args = ["capture-pane", "-p", "-t", target]
        if escapes:
            args.append("-e")
        return self.tmux(*args).split("\n")[:self.size(target)[1]]

    @staticmethod
    def pane_width(width):
        return width - USER_LIST_COLUMNS if width - USER_LIST_COLUMNS >= MIN_PANE_COLUMNS else width

    def layout(self, target):
        """(message pane rows, user list rows, status bar, input row) as text."""
        width, height = self.size(target)
        rows = self.screen(target) + [""] * height
        pane_width = self.pane_width(width)
        cut = [split_at_column(row, pane_width) for row in rows[:height - 2]]
        pane = [left.rstrip() for left, _ in cut]
        users = [right[1:].strip() for _, right in cut] if pane_width < width else []
        return pane, users, rows[height - 2].strip(), rows[height - 1].rstrip()

    def pane(self, target):
        return self.layout(target)[0]

    def users(self, target):
        return [u for u in self.layout(target)[1] if u]

    def status_bar(self, target):
        return self.layout(target)[2]

    def input_row(self, target):
        return self.layout(target)[3]

    def type(self, target, text):
        self.tmux("send-keys", "-t", target, "-l", text)

    def type_long(self, target, text):
        """Types `text` unbracketed, in pieces tmux takes (a command is at most ~16 KiB)."""
        piece = 8192
        for start in range(0, len(text), piece):
            self.type(target, text[start:start + piece])

    def paste(self, target, text):
        """Pastes `text` as a terminal does with bracketed paste on."""
        path = os.path.join(self.tmp, "paste-buffer")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.tmux("load-buffer", "-b", "test-paste", path)
        self.tmux("paste-buffer", "-p", "-d", "-b", "test-paste", "-t", target)

    def key(self, target, *keys):
        self.tmux("send-keys", "-t", target, *keys)

    def enter(self, target, text):
        self.type(target, text)
        self.key(target, "Enter")

    def cursor(self, target):
        x, y = self.tmux("display-message", "-p", "-t", target, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def chat_pid(self, target):
        """The pid of the chat process (the child of the pane's shell)."""
        shell = int(self.tmux("display-message", "-p", "-t", target, "#{pane_pid}").strip())

        def child():
            try:
                with open(f"/proc/{shell}/task/{shell}/children", encoding="ascii") as f:
                    return [int(p) for p in f.read().split()]
            except FileNotFoundError:
                return None
        return self.wait_for(child, f"the chat process in {target}")[0]

    def exit_status(self, target):
        """The chat's exit status once it ended."""
        status_file = os.path.join(self.tmp, f"{target}.status")

        def ended():
            try:
                with open(status_file, encoding="ascii") as f:
                    return (True, int(f.read().strip()))
            except FileNotFoundError:
                return None
        return self.wait_for(ended, f"the chat in {target} to exit")[1]

    def dump(self):
        parts = []
        for s in self.sessions:
            try:
                parts.append(f"--- screen of {s} ---\n" + "\n".join(self.screen(s)).rstrip("\n"))
            except Exception as e:  # noqa: BLE001 - diagnostics only
                parts.append(f"--- screen of {s}: {e}")
        parts += [o.dump() for o in self.outputs if not o.label.startswith("broker")]
        return "\n".join(parts)

    def wait_for(self, probe, what, timeout=DEADLINE_S, dump=None):
        """Polls `probe` until it returns something truthy; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}\n"
                          + (dump or self.dump)())
            time.sleep(POLL_S)

    def find(self, lines, pattern):
        rx = re.compile(pattern)
        return [i for i, line in enumerate(lines) if rx.search(line)]

    def wait_pane(self, target, pattern, what=None, count=1):
        """Waits until `count` message pane rows match `pattern`; returns the pane."""
        def probe():
            pane = self.pane(target)
            return pane if len(self.find(pane, pattern)) >= count else None
        return self.wait_for(probe, what or f"a pane row matching {pattern!r} in {target}")

    def wait_status(self, target, pattern):
        return self.wait_for(lambda: re.search(pattern, self.status_bar(target)),
                             f"the status bar of {target} to match {pattern!r}")

    def wait_input(self, target, expected):
        """Waits until the input row is exactly `expected` (trailing spaces are
        not captured) with the cursor at its end."""
        def probe():
            if self.input_row(target) != expected:
                return None
            x, y = self.cursor(target)
            height = self.size(target)[1]
            return (y == height - 1 and x in (len(expected), len(expected) + 1)) or None
        self.wait_for(probe, f"the input row {expected!r} in {target}")

    def wait_joined(self, target, online, room="lobby"):
        self.wait_pane(target, rf"^— {online} online —$", f"'— {online} online —' in {target}")
        self.wait_input(target, f"{room}>")
        self.wait_status(target, r"\| connected")

    def complete(self, target, typed, completed):
        """Types `typed`, presses Tab, and waits for the input line to read `completed`."""
        self.type(target, typed)
        self.key(target, "Tab")
        self.wait_input(target, completed)

    def alice_alone_with_a_listener(self):
        """A listener on the lobby, then alice's chat, joined with 1 online:
        returns (listener, chat target)."""
        lobby = self.listen()
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        return lobby, chat

    # ---- the tests -----------------------------------------------------------

    def test_01_half_typed_line_survives_ten_incoming_messages(self):
        bob = self.piped("bob")
        listener = self.listen()
        chat = self.chat("alice")
        self.wait_joined(chat, online=2)

        self.type(chat, "hello wor")
        self.wait_input(chat, "lobby> hello wor")
        self.say(bob, *(f"message {i} from bob" for i in range(1, 11)))
        self.wait_pane(chat, rf"^{TIME} bob: message 10 from bob$")
        pane = self.pane(chat)
        positions = [self.find(pane, rf"^{TIME} bob: message {i} from bob$") for i in range(1, 11)]
        self.assertTrue(all(len(p) == 1 for p in positions), self.dump())
        self.assertEqual([p[0] for p in positions], sorted(p[0] for p in positions),
                         "bob's messages out of order\n" + self.dump())
        # The input line is intact, the cursor at its end; nothing of it leaked into the pane.
        self.wait_input(chat, "lobby> hello wor")
        self.assertFalse(self.find(pane, "hello wor"), self.dump())

        self.type(chat, "ld")
        self.key(chat, "Enter")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): hello world$")
        self.wait_input(chat, "lobby>")
        for out in (bob, listener):
            self.msg_event(out, "hello world", sender="alice")

    def test_02_who_msg_reply_join_quit(self):
        carol = self.piped("carol")
        lobby = self.listen()
        dev = self.listen("dev")
        chat = self.chat("alice")
        self.wait_joined(chat, online=2)
        bob = self.chat("bob", name="bob")
        self.wait_joined(bob, online=3)

        self.enter(chat, "/who")
        pane = self.wait_pane(chat, r"^\* online: ")
        who = pane[self.find(pane, r"^\* online: ")[-1]]
        for name in ("alice", "bob", "carol"):
            self.assertRegex(who, rf"\b{name} \(since {TIME}\)")
        self.wait_input(chat, "lobby>")

        self.enter(chat, "/msg bob psst, only for you")
        self.wait_pane(bob, rf"^{TIME} \(private\) alice: psst, only for you$")
        self.wait_pane(chat, rf"^{TIME} \(private to bob\) alice \(you\): psst, only for you$")
        self.enter(bob, "/reply got it")
        self.wait_pane(chat, rf"^{TIME} \(private\) bob: got it$")
        self.wait_pane(bob, rf"^{TIME} \(private to alice\) bob \(you\): got it$")
        # A public message after them: once others have that, they would have had the private ones.
        self.enter(chat, "after the secret")
        for out in (carol, lobby):
            self.msg_event(out, "after the secret")
        for out in (carol, lobby, dev):
            self.assertFalse([line for line in out.lines() if "psst" in line or "got it" in line],
                             f"a private message reached {out.label}\n" + self.dump())

        self.enter(chat, "/join dev")
        self.wait_pane(chat, r"^\* talking in dev$")
        self.wait_input(chat, "dev>")
        self.wait_status(chat, r"^alice \| dev \| connected")
        self.enter(chat, "hello dev")
        self.msg_event(dev, "hello dev", room="dev", sender="alice")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): hello dev$")
        self.assertFalse([e for e in lobby.events() if e.get("text") == "hello dev"],
                         "the message for dev went to lobby")

        self.enter(chat, "/rooms")
        self.wait_pane(chat, r"^\* you follow: lobby dev \(current\)$")
        self.wait_pane(chat, r"^\* rooms on the broker: dev \(last #1, \d+ s ago\), lobby \(last #\d+, \d+ s ago\)$")
        self.wait_input(chat, "dev>")

        self.enter(chat, "/quit")
        self.assertEqual(self.exit_status(chat), 0, self.dump())
        leave = self.wait_event(lobby, lambda e: e.get("type") == "leave" and e.get("name") == "alice",
                                "alice's leave")
        self.assertEqual(leave[0].get("reason"), "bye", self.dump())

    def test_03_unknown_command_gives_a_hint_and_sends_nothing(self):
        lobby, chat = self.alice_alone_with_a_listener()
        self.enter(chat, "/reply too soon")
        self.wait_pane(chat, r"^\* nobody has sent you a private message yet$")
        self.enter(chat, "/frobnicate the widgets")
        pane = self.wait_pane(chat, "frobnicate")
        self.wait_input(chat, "lobby>")
        hits = self.find(pane, "frobnicate")
        self.assertEqual(len(hits), 1, "the hint is not one line (or the input was echoed)\n" + self.dump())
        self.assertRegex(pane[hits[0]], r"^\* .*/frobnicate.*/help")

        self.enter(chat, "marker after the hint")
        self.msg_event(lobby, "marker after the hint")
        self.assertFalse([line for line in lobby.lines() if "frobnicate" in line or "too soon" in line],
                         "a command was sent to the room\n" + self.dump())

    def test_04_colours_only_without_no_color(self):
        coloured = self.chat("coloured", name="alice")
        self.wait_joined(coloured, online=1)
        env_off = self.chat("env-off", name="nora", env={"NO_COLOR": "1"})
        self.wait_joined(env_off, online=2)
        flag_off = self.chat("flag-off", name="nick", args=("--no-color",))
        self.wait_joined(flag_off, online=3)
        self.send("bob", "colour check")
        for target, me in ((coloured, "alice"), (env_off, "nora"), (flag_off, "nick")):
            self.wait_pane(target, rf"^{TIME} bob: colour check$")
            self.enter(target, f"this is {me}")
            self.wait_pane(target, rf"^{TIME} {me} \(you\): this is {me}$")
            self.wait_input(target, "lobby>")

        for target in (env_off, flag_off):
            rows = self.screen(target, escapes=True)
            coloured_rows = [r for r in rows if re.search(r"\x1b\[(?:[0-9;]*;)?(?:38|48);5;", r)
                             or re.search(r"\x1b\[(?:[0-9;]*;)?3[0-7](?:;|m)", r)]
            self.assertFalse(coloured_rows, f"colours in {target}:\n" + "\n".join(map(repr, coloured_rows)))

        rows = self.screen(coloured, escapes=True)
        bob_line = [line for line in rows if "colour check" in line]
        own_line = [line for line in rows if "this is alice" in line]
        self.assertTrue(bob_line and own_line, "\n".join(map(repr, rows)))
        self.assertRegex(bob_line[0], rf"\x1b\[[0-9;]*38;5;{name_colour('bob')}m{SGR_RUN}bob{SGR_RUN}: ")
        self.assertRegex(own_line[0],
                         rf"\x1b\[[0-9;]*38;5;{name_colour('alice')}m{SGR_RUN}alice{SGR_RUN} \(you\): ")
        self.assertRegex(own_line[0], r"\x1b\[[0-9;]*\b1[;m]", "own name not bold: " + repr(own_line[0]))

    def test_05_every_way_out_says_bye_and_restores_the_terminal(self):
        lobby = self.listen()
        ways = (("ctrl-d", lambda t: self.key(t, "C-d")),
                ("ctrl-c", lambda t: self.key(t, "C-c")),
                ("sighup", lambda t: os.kill(self.chat_pid(t), signal.SIGHUP)),
                ("sigterm", lambda t: os.kill(self.chat_pid(t), signal.SIGTERM)),
                # The terminal itself goes away (its window or ssh session closed): SIGHUP.
                ("closed", lambda t: self.tmux("kill-session", "-t", t)))
        for session, leave in ways:
            with self.subTest(way=session):
                chat = self.chat(session, name="alice")
                self.wait_joined(chat, online=1)
                self.chat_pid(chat)
                before = len([e for e in lobby.events() if e.get("type") == "leave"])
                leave(chat)
                self.assertEqual(self.exit_status(chat), 0, f"exit status after {session}\n" + self.dump())
                leaves = self.wait_for(
                    lambda: [e for e in lobby.events() if e.get("type") == "leave"][before:],
                    f"alice's leave after {session}")
                self.assertEqual(leaves[0].get("name"), "alice")
                self.assertEqual(leaves[0].get("reason"), "bye", f"left after {session} without a bye")
                if session == "closed":
                    continue
                # endwin(): the terminal is back on its normal screen, not the chat's.
                alternate = self.tmux("display-message", "-p", "-t", chat, "#{alternate_on}").strip()
                self.assertEqual(alternate, "0", f"the terminal was left in the chat's screen after {session}")

    def test_06_control_characters_are_neutralised(self):
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        self.send("bob", "before the escapes")
        self.wait_pane(chat, rf"^{TIME} bob: before the escapes$")
        self.send("eve", "\x1b[2J\x1b]0;pwned\x07 tail")
        self.wait_pane(chat, rf"^{TIME} eve: \^\[\[2J\^\[\]0;pwned\^G tail$")
        self.wait_input(chat, "lobby>")
        pane = self.pane(chat)
        self.assertTrue(self.find(pane, rf"^{TIME} bob: before the escapes$"), "the screen was cleared\n" + self.dump())
        self.assertTrue(self.find(pane, r"^— 1 online —$"), "the screen was cleared\n" + self.dump())
        title = self.tmux("display-message", "-p", "-t", chat, "#{pane_title}").strip()
        self.assertNotIn("pwned", title, "the received text set the terminal title")
        raw = [line for line in self.screen(chat, escapes=True) if "pwned" in line]
        self.assertEqual(len(raw), 1)
        self.assertNotRegex(raw[0], r"\x1b\[2J|\x1b\]|\x07")

    def test_07_input_history_persists_across_sessions(self):
        first = self.chat("first")
        self.wait_joined(first, online=1)
        self.enter(first, "remember me")
        self.wait_pane(first, rf"^{TIME} alice \(you\): remember me$")
        self.wait_input(first, "lobby>")
        self.key(first, "C-d")
        self.assertEqual(self.exit_status(first), 0, self.dump())
        path = os.path.join(self.home, ".local", "state", "broadcast-server", "history")
        self.assertTrue(os.path.isfile(path), f"no history file at {path}")

        second = self.chat("second")
        self.wait_joined(second, online=1)
        self.key(second, "Up")
        self.wait_input(second, "lobby> remember me")
        self.key(second, "Enter")
        self.wait_pane(second, rf"^{TIME} alice \(you\): remember me$", "the recalled line sent (in the "
                       "backlog and again live)", count=2)
        self.wait_input(second, "lobby>")

    def test_08_backlog_then_online_count_on_join(self):
        bob = self.piped("bob")
        self.say(bob, *(f"backlog {i}" for i in range(1, 26)))
        bob.proc.stdin.close()  # bob leaves once all 25 are acknowledged
        self.wait_for(lambda: bob.proc.poll() is not None, "bob to send all and leave", dump=bob.dump)
        self.assertEqual(bob.proc.returncode, 0, bob.dump())

        for session, name, args, first, online in (("default", "alice", (), 6, 1),
                                                   ("three", "amy", ("--history", "3"), 23, 2)):
            with self.subTest(history=args):
                chat = self.chat(session, name=name, args=args)
                self.wait_joined(chat, online=online)
                pane = self.pane(chat)
                shown = [(i, int(m.group(1))) for i, line in enumerate(pane)
                         if (m := re.match(rf"^{TIME} bob: backlog (\d+)$", line))]
                self.assertEqual([n for _, n in shown], list(range(first, 26)), self.dump())
                online_at = self.find(pane, rf"^— {online} online —$")
                self.assertEqual(len(online_at), 1, self.dump())
                self.assertGreater(online_at[0], shown[-1][0], "the online line is not after the backlog")

    def test_09_keys_never_freeze_the_chat_while_messages_arrive(self):
        bob = self.piped("bob")
        lobby = self.listen()
        chat = self.chat("alice")
        self.wait_joined(chat, online=2)
        stop = threading.Event()
        sent = []

        def chatter():  # bob talks all through the test
            i = 0
            while not stop.is_set():
                i += 1
                self.say(bob, f"tick {i}")
                sent.append(i)
                stop.wait(0.1)
        talker = threading.Thread(target=chatter, daemon=True)
        talker.start()
        try:
            # Keys libedit blocked on (Esc, Ctrl-R, Alt-x), F-keys, arrows,
            # and escape sequences no terminfo names (ESC [ 2 5 ~).
            keys = ["Escape", "C-r", "M-x", "M-[", "F1", "F5", "F12", "Up", "Down", "Left", "Right",
                    "Home", "End", "IC", "BTab", "C-Left", "M-Up", "Escape", "C-r", "M-f", ("PPage", "NPage")]
            for k in keys:
                self.key(chat, *k) if isinstance(k, tuple) else self.key(chat, k)
                before = sent[-1]
                # Every key is followed by bob's next messages on screen: nothing blocks.
                self.wait_pane(chat, rf"^{TIME} bob: tick {before + 1}$",
                               f"bob's tick {before + 1} on alice's screen after {k}")
            self.type(chat, "\x1b[25~")
            self.key(chat, "Escape")
            self.wait_pane(chat, rf"^{TIME} bob: tick {sent[-1] + 1}$", "bob's ticks after the lone Esc")
        finally:
            stop.set()
            talker.join()
        # No key left text behind in the input line (an unknown sequence, a lone Esc).
        self.wait_input(chat, "lobby>")
        self.enter(chat, "still here")
        self.msg_event(lobby, "still here", sender="alice")
        leaves = [e for e in lobby.events() if e.get("type") == "leave" and e.get("name") == "alice"]
        self.assertFalse(leaves, "alice timed out while pressing keys\n" + self.dump())

    def test_10_pastes_of_any_size_never_crash(self):
        lobby, chat = self.alice_alone_with_a_listener()
        pid = self.chat_pid(chat)
        rss_before = rss_kib(pid)
        for size in (1024, 8 * 1024, 64 * 1024, 1024 * 1024):
            with self.subTest(paste="bracketed", size=size):
                text = "B" * (size - len(str(size))) + str(size)
                self.paste(chat, text)
                if size <= MAX_TEXT:
                    self.wait_for(lambda: self.input_row(chat).endswith(text[-20:]),
                                  "the pasted line in the input row")
                    self.key(chat, "Enter")
                    self.msg_event(lobby, text, sender="alice")
                else:
                    self.wait_pane(chat, rf"^\* paste not used: too long: {size} bytes, the most is {MAX_TEXT}$")
                self.wait_input(chat, "lobby>")
            with self.subTest(paste="typed", size=size):
                text = "T" * (size - len(str(size))) + str(size)
                self.type_long(chat, text)
                self.key(chat, "Enter")
                if size <= MAX_TEXT:
                    self.msg_event(lobby, text, sender="alice")
                elif size <= INPUT_LIMIT:
                    self.wait_pane(chat, rf"^\* not sent: too long: {size} bytes, the most is {MAX_TEXT}$")
                else:  # the input line kept only INPUT_LIMIT bytes of it: both counts are named
                    self.wait_pane(chat, rf"^\* not sent: you typed {size} bytes \(the input line "
                                         rf"kept {INPUT_LIMIT}\), the most is {MAX_TEXT}$")
                self.wait_input(chat, "lobby>")
        self.assertEqual(self.chat_pid(chat), pid)
        self.enter(chat, "after the pastes")
        self.msg_event(lobby, "after the pastes", sender="alice")
        self.assertFalse([e for e in lobby.events() if e.get("type") == "msg" and len(e.get("text")) > MAX_TEXT])
        # The input line holds a bounded amount whatever is typed: the process stays small.
        # (Not under ASan: its quarantine keeps 256 MiB of freed memory.)
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(rss_kib(pid) - rss_before, 64 * 1024, "1 MiB pastes cost the chat over 64 MiB")

    def test_11_multi_line_paste_is_confirmed_and_sent_as_one_message(self):
        lobby, chat = self.alice_alone_with_a_listener()
        self.type(chat, "kept ")
        self.paste(chat, "first line\nsecond line\nthird line\n")
        self.wait_input(chat, "send 3 lines as one message? (y/n)")
        self.key(chat, "y")
        self.msg_event(lobby, "first line\nsecond line\nthird line", sender="alice")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): third line$")
        self.wait_input(chat, "lobby> kept")
        self.key(chat, "C-u")
        self.paste(chat, "not\nthis\n")
        self.wait_input(chat, "send 2 lines as one message? (y/n)")
        self.key(chat, "n")
        self.wait_pane(chat, r"^\* paste of 2 lines dropped$")
        self.wait_input(chat, "lobby>")
        self.enter(chat, "marker")
        self.msg_event(lobby, "marker")
        self.assertFalse([e for e in lobby.events() if e.get("text", "").startswith("not")], self.dump())

    def test_12_resize_while_typing_redraws_everything(self):
        lobby, chat = self.alice_alone_with_a_listener()
        self.type(chat, "typed before ")
        self.wait_input(chat, "lobby> typed before")
        self.assertIn("alice", self.users(chat))
        self.tmux("resize-window", "-t", chat, "-x", "50", "-y", "12")
        # Narrow: no user list; the status bar and input line on the new last rows.
        self.wait_for(lambda: self.size(chat) == (50, 12), "the window to be 50x12")
        self.wait_input(chat, "lobby> typed before")
        self.wait_status(chat, r"^alice \| lobby \| connected")
        self.assertFalse([r for r in self.screen(chat) if "\u2502" in r], "the user list shown at 50 columns")
        self.send("bob", "while narrow")
        self.wait_pane(chat, rf"^{TIME} bob: while narrow$")
        # Too narrow for the line: it scrolls sideways; wider again, its start
        # comes back (the recheck saw `lobby> here` until Home was pressed).
        self.tmux("resize-window", "-t", chat, "-x", "12", "-y", "5")
        self.wait_for(lambda: self.size(chat) == (12, 5), "the window to be 12x5")
        self.wait_for(lambda: not self.input_row(chat).startswith("lobby> typed"), "the line scrolled")
        self.tmux("resize-window", "-t", chat, "-x", "120", "-y", "40")
        self.wait_for(lambda: self.size(chat) == (120, 40), "the window to be 120x40")
        self.wait_input(chat, "lobby> typed before")
        self.wait_for(lambda: "alice" in self.users(chat), "the user list back at 120 columns")
        self.type(chat, "and after")
        self.key(chat, "Enter")
        self.msg_event(lobby, "typed before and after", sender="alice")

    def test_13_scrollback_with_page_up_and_down(self):
        bob = self.piped("bob")
        chat = self.chat("alice")
        self.wait_joined(chat, online=2)
        self.say(bob, *(f"line {i:02d}" for i in range(1, 61)))
        self.wait_pane(chat, rf"^{TIME} bob: line 60$")
        self.assertFalse(self.find(self.pane(chat), r"bob: line 10$"))
        self.key(chat, "PPage")
        pane = self.wait_pane(chat, r"^-- more below \(\d+\) --$")
        self.assertFalse(self.find(pane, r"bob: line 60$"), "PgUp did not scroll\n" + self.dump())
        self.key(chat, "PPage")
        pane = self.wait_pane(chat, rf"^{TIME} bob: line 10$", "line 10 after two PgUp")
        top = pane[0]
        below = int(re.match(r"^-- more below \((\d+)\) --$", pane[-1]).group(1))
        # New lines do not move a view that is scrolled up: the marker counts them.
        self.say(bob, "line 61")
        self.wait_pane(chat, rf"^-- more below \({below + 1}\) --$")
        self.assertEqual(self.pane(chat)[0], top, "a new message moved the scrolled view\n" + self.dump())
        self.key(chat, "NPage")
        self.key(chat, "NPage")
        self.key(chat, "NPage")
        self.wait_pane(chat, rf"^{TIME} bob: line 61$")
        self.assertFalse(self.find(self.pane(chat), r"more below"), self.dump())

    def test_14_tab_completes_names_and_commands(self):
        self.piped("carol")
        self.piped("bob")
        chat = self.chat("alice")
        self.wait_joined(chat, online=3)
        self.wait_for(lambda: {"bob", "carol"} <= set(self.users(chat)), "bob and carol in the user list")
        self.complete(chat, "ca", "lobby> carol:")
        self.complete(chat, "ask b", "lobby> carol: ask bob")
        self.key(chat, "C-u")
        self.complete(chat, "/he", "lobby> /help")
        self.key(chat, "Enter")
        self.wait_pane(chat, r"^/reply TEXT ")

    def test_15_unread_counts_and_switching_rooms(self):
        chat = self.chat("alice", args=("--room", "lobby", "--room", "dev", "--room", "ops"))
        self.wait_joined(chat, online=1)
        bob = self.piped("bob", args=("--room", "dev"))
        self.say(bob, *(f"dev news {i}" for i in range(1, 4)))
        self.send("carol", "lobby news")
        self.wait_status(chat, r"unread: dev \(3\)$")
        self.wait_pane(chat, rf"^{TIME} carol: lobby news$")
        self.assertFalse(self.find(self.pane(chat), "dev news"), "dev's lines shown in lobby")
        self.key(chat, "M-2")
        self.wait_input(chat, "dev>")
        pane = self.wait_pane(chat, rf"^{TIME} bob: dev news 3$")
        self.assertEqual(len(self.find(pane, "dev news")), 3, self.dump())
        self.assertNotIn("unread", self.status_bar(chat))
        self.key(chat, "C-n")
        self.wait_input(chat, "ops>")
        self.key(chat, "C-p")
        self.key(chat, "C-p")
        self.wait_input(chat, "lobby>")
        self.wait_status(chat, r"^alice \| lobby \| connected$")

    def test_16_user_list_follows_joins_and_leaves(self):
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        self.assertEqual(self.users(chat), ["1 online", "alice"])
        bob = self.piped("bob")
        self.wait_for(lambda: self.users(chat) == ["2 online", "alice", "bob"], "bob in the user list")
        carol = self.piped("carol")
        self.wait_for(lambda: self.users(chat) == ["3 online", "alice", "bob", "carol"], "carol too")
        bob.proc.stdin.close()
        self.wait_for(lambda: self.users(chat) == ["2 online", "alice", "carol"], "bob gone from the list")
        self.wait_pane(chat, r"^\* bob left$")
        self.assertTrue(carol.proc.poll() is None)

    def test_17_mentions_and_private_messages_are_highlighted(self):
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        bob = self.chat("bob", name="bob")
        self.wait_joined(bob, online=2)
        self.enter(bob, "nothing for malice here")
        self.wait_pane(chat, rf"^{TIME} bob: nothing for malice here$")

        def bell():  # tmux flags a bell in a window no client is looking at
            return self.tmux("display-message", "-p", "-t", chat, "#{window_bell_flag}").strip()
        self.assertEqual(bell(), "0", "the bell rang for a message that does not name alice")
        self.enter(bob, "hey Alice, look at this")
        self.wait_for(lambda: bell() == "1", "the bell for the mention")
        self.enter(bob, "/msg alice just between us")
        self.wait_pane(chat, rf"^{TIME} \(private\) bob: just between us$")
        rows = self.screen(chat, escapes=True)
        reverse = r"\x1b\[(?:[0-9;]*;)?7[;m]"

        def row_with(text):
            hits = [r for r in rows if text in r]
            self.assertEqual(len(hits), 1, "\n".join(map(repr, rows)))
            return hits[0]
        self.assertRegex(row_with("hey Alice, look"), reverse, "a mention is not highlighted")
        self.assertRegex(row_with("just between us"), reverse, "a private message is not highlighted")
        self.assertNotRegex(row_with("for malice here"), reverse, "a word containing the name is highlighted")

    def test_18_lines_typed_while_disconnected_are_pending_until_acked(self):
        lobby, chat = self.alice_alone_with_a_listener()
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            self.wait_status(chat, r"\| connection-lost")
            self.enter(chat, "said while away")
            self.wait_pane(chat, rf"^{TIME} alice \(you\): said while away  \(pending\)$")
            self.wait_status(chat, r"\| 1 pending$")
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)
        self.wait_status(chat, r"\| connected$")
        self.msg_event(lobby, "said while away", sender="alice")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): said while away$")
        self.wait_for(lambda: not self.find(self.pane(chat), r"\(pending\)"), "the pending mark to go")

    def test_18b_a_line_typed_before_the_loss_is_noticed_shows_pending(self):
        # The newcomer's finding: typed just after the broker froze, the line
        # vanished until the client noticed the loss seconds later.
        lobby, chat = self.alice_alone_with_a_listener()
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            self.enter(chat, "typed as it froze")
            self.wait_pane(chat, rf"^{TIME} alice \(you\): typed as it froze  \(pending\)$")
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)
        self.msg_event(lobby, "typed as it froze", sender="alice")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): typed as it froze$")
        self.wait_for(lambda: not self.find(self.pane(chat), r"\(pending\)"), "the pending mark to go")

    def test_19_no_broker_is_said_at_once_and_the_terminal_restored(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.endpoints = ["--in", f"tcp://127.0.0.1:{port}", "--out", f"tcp://127.0.0.1:{port}"]
        chat = self.chat("alice", args=("--timeout", "3"))
        # At once, before any answer or refusal: where it is connecting to.
        first = self.wait_for(lambda: self.status_bar(chat), "the status bar")
        self.assertRegex(first, rf"^alice \| lobby \| (connecting to tcp://127\.0\.0\.1:{port}…|unreachable)$")
        self.wait_status(chat, r"\| unreachable$")
        self.wait_pane(chat, rf"^\* no broker at tcp://127\.0\.0\.1:{port} ")
        self.assertEqual(self.exit_status(chat), 3, self.dump())
        # tmux scrolls a dead pane's screen by a row for its "Pane is dead": the history too.
        restored = self.tmux("capture-pane", "-p", "-S", "-", "-t", chat).split("\n")
        self.assertTrue(self.find(restored, rf"^broadcast-server: no answer from the broker at "
                                            rf"tcp://127\.0\.0\.1:{port} within 3\.0 s$"),
                        "the reason is not on the restored terminal\n" + "\n".join(restored))
        alternate = self.tmux("display-message", "-p", "-t", chat, "#{alternate_on}").strip()
        self.assertEqual(alternate, "0", "the terminal was left in the chat's screen")

    def test_20_line_editing_keys_and_wide_characters(self):
        lobby, chat = self.alice_alone_with_a_listener()
        self.type(chat, "world")
        self.key(chat, "Home")
        self.type(chat, "hello ")
        self.key(chat, "End")
        self.type(chat, "!!")
        self.key(chat, "BSpace")
        self.key(chat, "C-a", "Right", "DC", "C-e")
        self.wait_input(chat, "lobby> hllo world!")
        self.key(chat, "C-w")  # the word before the cursor goes, its space stays
        self.wait_for(lambda: self.input_row(chat) == "lobby> hllo" and self.cursor(chat)[0] == 12,
                      "'hllo ' with the cursor after the space")
        self.key(chat, "Left", "Left", "C-u")
        self.wait_for(lambda: self.input_row(chat) == "lobby> o" and self.cursor(chat)[0] == 7,
                      "'o ' with the cursor at its start")
        self.key(chat, "C-e", "C-u")
        # Wide characters take two columns: the cursor follows them.
        self.type(chat, "日本語")
        self.wait_for(lambda: self.input_row(chat) == "lobby> 日本語" and self.cursor(chat)[0] == 13,
                      "three wide characters, the cursor 6 columns after the prompt")
        self.key(chat, "BSpace")
        self.wait_for(lambda: self.input_row(chat) == "lobby> 日本" and self.cursor(chat)[0] == 11,
                      "a wide character erased whole")
        self.type(chat, " héllo ✓")
        self.key(chat, "Enter")
        self.msg_event(lobby, "日本 héllo ✓", sender="alice")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): 日本 héllo ✓$")

    def test_21_rate_limit_is_said_once_and_nothing_is_lost(self):
        # A broker that takes one message a second from a session, after a
        # burst of three (joining takes two: the backlog and /who).
        self.broker, self.endpoints = self.start_broker("--rate", "1", "--burst", "3")
        lobby, chat = self.alice_alone_with_a_listener()
        lines = [f"quick {i}" for i in range(1, 7)]
        for line in lines:
            self.enter(chat, line)
        self.wait_status(chat, r"\| rate-limited")
        for line in lines:
            self.msg_event(lobby, line, sender="alice")
        self.wait_pane(chat, r"^\* sending again: the server took every message it held back$")
        self.wait_status(chat, r"\| connected$")
        pane = self.pane(chat)
        # Said once each (the first row of a notice the pane wraps).
        self.assertEqual(len(self.find(pane, r"^\* sending too fast for the server \(too many messages\): your")), 1,
                         self.dump())
        self.assertEqual(len(self.find(pane, r"^\* sending again")), 1, self.dump())
        for line in lines:
            self.assertEqual(len(self.find(pane, rf"^{TIME} alice \(you\): {line}$")), 1, self.dump())

    def test_22_crash_resume_off_is_said_in_the_pane(self):
        # A file where the state directory should be: nothing can be kept there.
        blocker = os.path.join(self.tmp, "not-a-directory")
        with open(blocker, "w", encoding="ascii") as f:
            f.write("x")
        chat = self.chat("alice", env={"XDG_STATE_HOME": blocker})
        self.wait_joined(chat, online=1)
        pane = self.pane(chat)
        self.assertEqual(len(self.find(pane, r"^\* crash resume is off: cannot create ")), 1, self.dump())
        # The notice wraps at the pane's width: compared without spaces.
        self.assertIn(f"{blocker}/broadcast-server:Notadirectory".replace(" ", ""),
                      "".join(pane).replace(" ", ""), self.dump())
        self.enter(chat, "still works")
        self.wait_pane(chat, rf"^{TIME} alice \(you\): still works$")

def main():
    global BINARY
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} PATH/TO/broadcast-server [unittest options]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"{BINARY}: not an executable")
    if shutil.which("tmux") is None:
        sys.exit("tmux is not installed (Debian package tmux)")
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
