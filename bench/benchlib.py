# bench/benchlib.py -- what the benchmark scripts share: stopping on a signal like on Ctrl-C,
# the timestamped progress log, the machine's load average, nearest-rank percentiles.
"""Small helpers shared by the scripts in bench/."""

from __future__ import annotations

import signal
import sys
import time


class Stop(Exception):
    """SIGTERM or SIGHUP arrived: clean up as on Ctrl-C."""


def raise_stop(signum, frame):
    """Signal handler: turn the signal into Stop in the main thread."""
    raise Stop(signal.Signals(signum).name)


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
