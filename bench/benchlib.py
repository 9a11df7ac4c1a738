# bench/benchlib.py -- what the benchmark scripts share: stopping on a signal like on Ctrl-C,
# the timestamped progress log, the machine's load average, nearest-rank percentiles.
"""Small helpers shared by the scripts in bench/."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time


class Stop(Exception):
    """SIGTERM or SIGHUP arrived: clean up as on Ctrl-C."""


def raise_stop(signum, frame):
    """Signal handler: turn the signal into Stop in the main thread."""
    raise Stop(signal.Signals(signum).name)


def start_workdir(prefix: str) -> str:
    """Turn SIGTERM and SIGHUP into Stop, and make the run's scratch directory (mode 0711:
    mariadbd runs as mysql and must reach the cluster's directory inside it)."""
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.chmod(workdir, 0o711)
    return workdir


def sluice_copy(workdir: str, sluice_bin: str) -> str:
    """A copy of the sluice binary in workdir (a rebuild during the run changes nothing),
    which tests/sluice_proc.py's Sluice runs (SLUICE_BIN)."""
    binary = os.path.join(workdir, "sluice")
    shutil.copy2(sluice_bin, binary)
    os.environ["SLUICE_BIN"] = binary
    return binary


def write_monitor_pw(workdir: str, password: str) -> str:
    """The monitor's password file (0600) in workdir; returns its path."""
    path = os.path.join(workdir, "monitor.pw")
    with open(path, "w") as f:
        f.write(password + "\n")
    os.chmod(path, 0o600)
    return path


def ignore_stop_signals() -> None:
    """While cleaning up: a second Ctrl-C (or SIGTERM, SIGHUP) must not leave a process of
    the run behind."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def end_workdir(workdir: str, keep: bool) -> None:
    """Remove the run's scratch directory, or say where it was kept."""
    if keep:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[str]:
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def open_session(host: str, port: int, user: str, password: str, db: str,
                 connect_timeout: float, read_timeout: float):
    """A PyMySQL session (autocommit) that has logged in and run SELECT 1, as an idle client
    of the benchmarks is; closed again if the SELECT fails. Raises pymysql.MySQLError."""
    import pymysql

    conn = pymysql.connect(host=host, port=port, user=user, password=password, database=db,
                           connect_timeout=connect_timeout, read_timeout=read_timeout,
                           autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute("SELECT 1")
            c.fetchall()
    except BaseException:
        conn.close()
        raise
    return conn


def percentile(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]
