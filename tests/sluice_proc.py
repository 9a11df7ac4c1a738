# tests/sluice_proc.py -- run the real sluice binary for integration tests: write its YAML
# config, start it in the foreground, wait for readiness by reading its log (never by sleeping),
# and stop it with SIGTERM, checking that it exits 0.
"""A sluice daemon process owned by a test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLL = 0.05


def sluice_binary() -> str:
    """The binary under test: $SLUICE_BIN (meson passes it) or the default build directory."""
    return os.environ.get("SLUICE_BIN", os.path.join(REPO, "build", "src", "sluice"))


class Sluice:
    """One sluice process with its own config file and log file.

    ``config`` is the YAML text. The process logs to ``workdir/sluice.log``; ``log()`` returns
    it and ``wait_log(pattern)`` waits for a line matching a regular expression.
    """

    def __init__(self, workdir: str, config: str, name: str = "sluice"):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self, timeout: float = 30.0) -> "Sluice":
        """Start (again, after stop()) and wait until the daemon logs that it is accepting (or
        fails). A new start begins a new log file."""
        self.returncode = None
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sluice_binary(), "-c", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_log(r"sluice started", timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern: str, timeout: float = 30.0, after: int = 0) -> re.Match:
        """Wait for a log line matching ``pattern`` at or after byte offset ``after``.

        Fails the test with the log if the process exits or the time runs out.
        """
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(), after)
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"sluice exited with {self.proc.returncode} before "
                                     f"logging /{pattern}/:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line /{pattern}/ within {timeout} s:\n"
                                     f"{self.log()[-4000:]}")
            time.sleep(POLL)

    def log_size(self) -> int:
        return os.path.getsize(self.log_path)

    def rss_bytes(self) -> int:
        """Resident set size of the process, from /proc."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait, return the exit status (SIGKILL and fail if it hangs)."""
        if self.proc is None or self.returncode is not None:
            return self.returncode or 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sluice did not stop within {timeout} s of SIGTERM")
        self.returncode = self.proc.returncode
        self._log.close()
        return self.returncode


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that no earlier call in
    this process returned.

    The kernel may give the same port to two binds in a row once the first socket is closed, so
    ``a, b = free_port(), free_port()`` could otherwise name one port twice (CI saw a stats server
    refused because its port was the SQL listener's)."""
    import socket
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError("no TCP port on 127.0.0.1 that was not handed out before")
