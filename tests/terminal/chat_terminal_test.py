#!/usr/bin/python3
"""Terminal test of the interactive chat (`broadcast-server connect` at a tty).

Runs real `connect` sessions in a private tmux server against a broker of
its own, reads the screen with `tmux capture-pane` and waits with deadlines
(polling), never with fixed sleeps.

Usage: chat_terminal_test.py PATH/TO/broadcast-server [unittest options]
Needs tmux and the Python standard library only.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

BINARY = ""
POLL_S = 0.05
DEADLINE_S = 15.0
COLS, ROWS = 100, 30
TIME = r"\d\d:\d\d:\d\d"
ESC = "\x1b"
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


def last_non_blank(lines):
    """(index, text) of the last line with something on it, or (-1, "")."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            return i, lines[i]
    return -1, ""


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

        broker = self.spawn("broker", ["start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                                       "--log-level", "off"])
        first = self.wait_for(lambda: broker.lines()[:1], "the broker's first stdout line",
                              dump=broker.dump)[0]
        m = re.search(r"in (tcp://\S+) \(ROUTER\), out (tcp://\S+) \(PUB\)", first)
        self.assertIsNotNone(m, f"unexpected broker banner: {first!r}")
        self.endpoints = ["--in", m.group(1), "--out", m.group(2)]

    def tearDown(self):
        if self.tmux_started:
            socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
            subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "kill-server"],
                           env=self.tmux_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10, check=False)
            if socket_path:
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
        """A `listen --json` subprocess, once it has heard from the broker."""
        args = ["listen", *self.endpoints, "--json"] + (["--room", room] if room else [])
        out = self.spawn(f"listen {room or 'lobby'}", args)
        self.wait_for(lambda: any(e.get("type") == "status" and e.get("status") == "joined"
                                  for e in out.events()), f"listener on {room or 'lobby'} to join",
                      dump=out.dump)
        return out

    def piped(self, name):
        """A piped `connect --name NAME --json`; write lines with say()."""
        out = self.spawn(f"connect {name}", ["connect", *self.endpoints, "--name", name, "--json"],
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

    # ---- helpers: tmux -----------------------------------------------------

    def tmux(self, *args):
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                env=self.tmux_env, capture_output=True, timeout=10)
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
        # The shell traps SIGINT (Ctrl-C reaches the whole foreground group)
        # so that it outlives the chat; the chat itself gets default handling.
        command = ["sh", "-c", 'trap : INT; status_file="$1"; shift; "$@"; echo "$?" > "$status_file.tmp"; '
                   'mv "$status_file.tmp" "$status_file"', "sh", status_file, *command]
        new = ["new-session", "-d", "-s", session, "-x", str(COLS), "-y", str(ROWS),
               shlex.join(command)]
        if not self.tmux_started:
            # A placeholder session holds the server while the options are
            # set: dead panes stay readable (remain-on-exit), and an erase of
            # the whole screen does not push it into the scrollback
            # (scroll-on-clear, which a real terminal does not do either).
            self.tmux("new-session", "-d", "-s", "placeholder", "-x", str(COLS), "-y", str(ROWS), "cat",
                      ";", "set-option", "-g", "remain-on-exit", "on",
                      ";", "set-option", "-g", "scroll-on-clear", "off")
            self.tmux_started = True
        self.tmux(*new)
        self.sessions.append(session)
        return session

    def screen(self, target, escapes=False, scrollback=False):
        args = ["capture-pane", "-p", "-t", target]
        if escapes:
            args.append("-e")
        if scrollback:
            args += ["-S", "-"]
        return self.tmux(*args).split("\n")

    def prompt_line(self, target):
        return last_non_blank(self.screen(target))[1]

    def type(self, target, text):
        self.tmux("send-keys", "-t", target, "-l", text)

    def key(self, target, *keys):
        self.tmux("send-keys", "-t", target, *keys)

    def enter(self, target, text):
        self.type(target, text)
        self.key(target, "Enter")

    def cursor(self, target):
        x, y = self.tmux("display-message", "-p", "-t", target, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

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
                parts.append(f"--- screen of {s} (with scrollback) ---\n" + "\n".join(
                    self.screen(s, scrollback=True)).rstrip("\n"))
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

    def wait_line(self, target, pattern, what=None, scrollback=True):
        """Waits until a screen line matches `pattern`; returns the screen."""
        def probe():
            lines = self.screen(target, scrollback=scrollback)
            return lines if self.find(lines, pattern) else None
        return self.wait_for(probe, what or f"a line matching {pattern!r} in {target}")

    def wait_prompt(self, target, expected):
        """Waits until the last line on screen is exactly `expected` (trailing
        spaces are not captured) with the cursor at its end."""
        def probe():
            lines = self.screen(target)
            index, text = last_non_blank(lines)
            if text != expected:
                return None
            x, y = self.cursor(target)
            # The prompt's trailing space is not captured: the cursor may sit one further.
            return (y == index and x in (len(expected), len(expected) + 1)) or None
        self.wait_for(probe, f"the input line {expected!r} in {target}")

    def wait_joined(self, target, online, room="lobby"):
        self.wait_line(target, rf"^— {online} online —$", f"'— {online} online —' in {target}")
        self.wait_prompt(target, f"{room}>")

    # ---- the tests -----------------------------------------------------------

    def test_1_half_typed_line_survives_ten_incoming_messages(self):
        bob = self.piped("bob")
        listener = self.listen()
        chat = self.chat("alice")
        self.wait_joined(chat, online=2)

        self.type(chat, "hello wor")
        self.wait_prompt(chat, "lobby> hello wor")
        self.say(bob, *(f"message {i} from bob" for i in range(1, 11)))

        def all_ten():
            lines = self.screen(chat, scrollback=True)
            found = [self.find(lines, rf"^{TIME} bob: message {i} from bob$") for i in range(1, 11)]
            return lines if all(len(f) == 1 for f in found) else None
        lines = self.wait_for(all_ten, "bob's ten messages on alice's screen")
        # The input line is intact and still the last line, cursor at its end.
        self.wait_prompt(chat, "lobby> hello wor")
        lines = self.screen(chat, scrollback=True)
        positions = [self.find(lines, rf"^{TIME} bob: message {i} from bob$")[0] for i in range(1, 11)]
        prompt_at = last_non_blank(lines)[0]
        self.assertEqual(positions, sorted(positions), "bob's messages out of order\n" + self.dump())
        self.assertLess(positions[-1], prompt_at, "messages not above the input line\n" + self.dump())
        self.assertEqual(self.find(lines, "hello wor"), [prompt_at],
                         "the half-typed line is shown more than once (garbled)\n" + self.dump())

        self.type(chat, "ld")
        self.key(chat, "Enter")
        lines = self.wait_line(chat, rf"^{TIME} alice \(you\): hello world$")
        self.wait_prompt(chat, "lobby>")
        lines = self.screen(chat, scrollback=True)
        self.assertEqual(len(self.find(lines, "hello wor")), 1,
                         "the sent line left an echo or a fragment behind\n" + self.dump())
        for out in (bob, listener):
            self.wait_event(out, lambda e: e.get("type") == "msg" and e.get("from") == "alice"
                            and e.get("room") == "lobby" and e.get("text") == "hello world",
                            f"'hello world' from alice at {out.label}")

    def test_2_who_msg_join_quit(self):
        bob = self.piped("bob")
        carol = self.piped("carol")
        lobby = self.listen()
        dev = self.listen("dev")
        chat = self.chat("alice")
        self.wait_joined(chat, online=3)

        self.enter(chat, "/who")
        lines = self.wait_line(chat, r"^\* online: ")
        who = lines[self.find(lines, r"^\* online: ")[-1]]
        for name in ("alice", "bob", "carol"):
            self.assertRegex(who, rf"\b{name} \(since {TIME}\)")
        self.wait_prompt(chat, "lobby>")

        self.enter(chat, "/msg bob psst, only for you")
        self.wait_event(bob, lambda e: e.get("type") == "dm" and e.get("from") == "alice"
                        and e.get("text") == "psst, only for you", "alice's private message at bob")
        self.wait_line(chat, rf"^{TIME} \(private to bob\) alice \(you\): psst, only for you$")
        # A public message after it: once others have that, they would have had the private one.
        self.enter(chat, "after the secret")
        for out in (bob, carol, lobby):
            self.wait_event(out, lambda e: e.get("type") == "msg" and e.get("text") == "after the secret",
                            f"'after the secret' at {out.label}")
        for out in (carol, lobby, dev):
            self.assertFalse([line for line in out.lines() if "psst" in line],
                             f"the private message reached {out.label}\n" + self.dump())

        self.enter(chat, "/join dev")
        self.wait_line(chat, r"^\* talking in dev$")
        self.wait_prompt(chat, "dev>")
        self.enter(chat, "hello dev")
        self.wait_event(dev, lambda e: e.get("type") == "msg" and e.get("room") == "dev"
                        and e.get("from") == "alice" and e.get("text") == "hello dev",
                        "'hello dev' published in dev")
        self.wait_line(chat, r"alice \(you\): hello dev$")
        self.assertFalse([e for e in lobby.events() if e.get("text") == "hello dev"],
                         "the message for dev went to lobby")

        self.enter(chat, "/quit")
        self.assertEqual(self.exit_status(chat), 0, self.dump())
        leave = self.wait_event(lobby, lambda e: e.get("type") == "leave" and e.get("name") == "alice",
                                "alice's leave")
        self.assertEqual(leave[0].get("reason"), "bye", self.dump())

    def test_3_unknown_command_gives_a_hint_and_sends_nothing(self):
        lobby = self.listen()
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        self.enter(chat, "/frobnicate the widgets")
        self.wait_line(chat, "frobnicate")
        self.wait_prompt(chat, "lobby>")
        lines = self.screen(chat, scrollback=True)
        hits = self.find(lines, "frobnicate")
        self.assertEqual(len(hits), 1, "the hint is not one line (or the input was echoed)\n" + self.dump())
        self.assertRegex(lines[hits[0]], r"^\* .*/frobnicate.*/help")
        self.assertEqual(last_non_blank(lines)[0], hits[0] + 1, self.dump())

        self.enter(chat, "marker after the hint")
        self.wait_event(lobby, lambda e: e.get("type") == "msg" and e.get("text") == "marker after the hint",
                        "the marker message")
        self.assertFalse([line for line in lobby.lines() if "frobnicate" in line],
                         "the unknown command was sent to the room\n" + self.dump())

    def test_4_colours_only_without_no_color(self):
        coloured = self.chat("coloured", name="alice")
        self.wait_joined(coloured, online=1)
        env_off = self.chat("env-off", name="nora", env={"NO_COLOR": "1"})
        self.wait_joined(env_off, online=2)
        flag_off = self.chat("flag-off", name="nick", args=("--no-color",))
        self.wait_joined(flag_off, online=3)
        self.send("bob", "colour check")
        for target, me in ((coloured, "alice"), (env_off, "nora"), (flag_off, "nick")):
            self.wait_line(target, rf"^{TIME} bob: colour check$")
            self.enter(target, f"this is {me}")
            self.wait_line(target, rf"^{TIME} {me} \(you\): this is {me}$")
            self.wait_prompt(target, "lobby>")

        for target in (env_off, flag_off):
            lines = self.screen(target, escapes=True, scrollback=True)
            prompt_at = last_non_blank(lines)[0]
            chat_lines = [line for line in lines[:prompt_at] if line.strip()]
            self.assertTrue(chat_lines)
            tainted = [line for line in chat_lines if ESC in line]
            self.assertFalse(tainted, f"escape sequences in {target}:\n" + "\n".join(map(repr, tainted)))

        lines = self.screen(coloured, escapes=True, scrollback=True)
        bob_line = [line for line in lines if "colour check" in line]
        own_line = [line for line in lines if "this is alice" in line]
        self.assertTrue(bob_line and own_line, "\n".join(map(repr, lines)))
        self.assertRegex(bob_line[0], rf"\x1b\[[0-9;]*38;5;{name_colour('bob')}m{SGR_RUN}bob{SGR_RUN}: ")
        self.assertRegex(own_line[0],
                         rf"\x1b\[[0-9;]*38;5;{name_colour('alice')}m{SGR_RUN}alice{SGR_RUN} \(you\): ")
        self.assertIn("\x1b[1m", own_line[0], "own name not marked bold: " + repr(own_line[0]))

    def test_5_ctrl_d_and_ctrl_c_leave_cleanly(self):
        lobby = self.listen()
        for session, keys in (("ctrl-d", "C-d"), ("ctrl-c", "C-c")):
            with self.subTest(keys=keys):
                chat = self.chat(session, name="alice")
                self.wait_joined(chat, online=1)
                before = len([e for e in lobby.events() if e.get("type") == "leave"])
                self.key(chat, keys)
                self.assertEqual(self.exit_status(chat), 0, f"exit status after {keys}\n" + self.dump())
                leaves = self.wait_for(
                    lambda: [e for e in lobby.events() if e.get("type") == "leave"][before:],
                    f"alice's leave after {keys}")
                self.assertEqual(leaves[0].get("name"), "alice")
                self.assertEqual(leaves[0].get("reason"), "bye", f"left after {keys} without a bye")

    def test_6_control_characters_are_neutralised(self):
        chat = self.chat("alice")
        self.wait_joined(chat, online=1)
        self.send("bob", "before the escapes")
        self.wait_line(chat, rf"^{TIME} bob: before the escapes$")
        self.send("eve", "\x1b[2J\x1b]0;pwned\x07 tail")
        self.wait_line(chat, rf"^{TIME} eve: \^\[\[2J\^\[\]0;pwned\^G tail$")
        self.wait_prompt(chat, "lobby>")
        visible = self.screen(chat)  # the screen itself, not the scrollback
        self.assertTrue(self.find(visible, rf"^{TIME} bob: before the escapes$"),
                        "the screen was cleared\n" + self.dump())
        self.assertTrue(self.find(visible, r"^— 1 online —$"), "the screen was cleared\n" + self.dump())
        title = self.tmux("display-message", "-p", "-t", chat, "#{pane_title}").strip()
        self.assertNotIn("pwned", title, "the received text set the terminal title")
        raw = [line for line in self.screen(chat, escapes=True) if "pwned" in line]
        self.assertEqual(len(raw), 1)
        self.assertNotRegex(raw[0], r"\x1b\[2J|\x1b\]|\x07")

    def test_7_input_history_persists_across_sessions(self):
        first = self.chat("first")
        self.wait_joined(first, online=1)
        self.enter(first, "remember me")
        self.wait_line(first, rf"^{TIME} alice \(you\): remember me$")
        self.wait_prompt(first, "lobby>")
        self.key(first, "C-d")  # leaves without adding to the history
        self.assertEqual(self.exit_status(first), 0, self.dump())
        path = os.path.join(self.home, ".local", "state", "broadcast-server", "history")
        self.assertTrue(os.path.isfile(path), f"no history file at {path}")

        second = self.chat("second")
        self.wait_joined(second, online=1)
        self.key(second, "Up")
        self.wait_prompt(second, "lobby> remember me")
        self.key(second, "Enter")
        self.wait_for(lambda: len(self.find(self.screen(second, scrollback=True),
                                            rf"^{TIME} alice \(you\): remember me$")) == 2,
                      "the recalled line sent (it shows in the backlog and again live)")
        self.wait_prompt(second, "lobby>")
        self.key(second, "C-d")
        self.assertEqual(self.exit_status(second), 0, self.dump())

    def test_8_backlog_then_online_count_on_join(self):
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
                lines = self.screen(chat, scrollback=True)
                shown = [(i, int(m.group(1))) for i, line in enumerate(lines)
                         if (m := re.match(rf"^{TIME} bob: backlog (\d+)$", line))]
                self.assertEqual([n for _, n in shown], list(range(first, 26)), self.dump())
                online_at = self.find(lines, rf"^— {online} online —$")
                self.assertEqual(len(online_at), 1, self.dump())
                self.assertGreater(online_at[0], shown[-1][0], "the online line is not after the backlog")
                self.assertEqual(last_non_blank(lines)[0], online_at[0] + 1, self.dump())


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
