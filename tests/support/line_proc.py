"""A child process for the Python tests (install, interop): its stdout is
read line by line with deadlines, its stderr kept in a file for failure
messages, and it is killed by kill() whatever state it is in. Standard
library only. Starting the right program and judging its output are the
tests' business.
"""
import os
import select
import subprocess
import tempfile
import time


class Proc:
    """A subprocess whose stdout is read line by line with deadlines."""

    def __init__(self, argv, stdin=False, pump=lambda: None, env=None):
        """stdin=True gives it a pipe (write()); pump() is called while
        waiting: it keeps in-process clients alive. env replaces the
        environment when given."""
        self.stderr, self.argv, self.pump = tempfile.TemporaryFile(), argv, pump
        try:
            self.p = subprocess.Popen(argv, env=env,
                                      stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self.stderr)
        except OSError:
            self.stderr.close()
            raise
        self.buffer, self.lines, self.eof = b"", [], False

    def readline(self, deadline):
        """The next stdout line (str), or None at end of output; fails at the deadline."""
        while b"\n" not in self.buffer and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for output of {self.argv[:3]}; "
                                     f"so far {self.lines}; stderr: {self.err()}")
            self.pump()
            if select.select([self.p.stdout], [], [], min(left, 0.05))[0]:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                self.buffer += chunk
                self.eof = not chunk
        if b"\n" not in self.buffer:
            return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.lines.append(line.decode())
        return self.lines[-1]

    def read_until(self, predicate, deadline):
        """Reads lines until one satisfies predicate; returns it."""
        while True:
            line = self.readline(deadline)
            if line is None:
                raise AssertionError(f"{self.argv[:3]} ended early; output {self.lines}; "
                                     f"stderr: {self.err()}")
            if predicate(line):
                return line

    def write(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def wait_exit(self, deadline):
        """The exit code; fails if it has not exited by the deadline."""
        while self.p.poll() is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.argv[:3]} did not exit; stderr: {self.err()}")
            self.pump()
            time.sleep(0.02)  # polling for the exit, with a deadline
        return self.p.returncode

    def err(self):
        """The last 2000 characters of its stderr so far."""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.stderr):
            if f is not None:
                f.close()
