#!/usr/bin/python3
# bench/stats_overhead.py -- what the stats server (issue 10) costs the data path.
# Starts its own three-node Galera cluster (tests/galera.py), prepares sysbench's tables on
# node1 directly, then runs sysbench oltp_point_select through sluice's `mode: mysql` listener
# (a fresh sluice for every run) in alternated situations: (a) no HTTP client at all, (b) the
# dashboard's load (one client polling /api/v1/status every second and one /api/v1/events stream
# read continuously) with stats.feed_rate 50, (c) the same with feed_rate 1000, and (d) no
# dashboard but 1,000 idle TCP connections plus 20 slowloris clients on the stats port.  It
# reports QPS per situation, the ratio to (a) and the sluice process's CPU per query.  A second
# sluice with 3 static clusters of 10 nodes then serves 200 sequential GET /metrics and
# /api/v1/status to three kinds of client (keep-alive, keep-alive with quick ACKs, a new
# connection each), timed.  Prints tables and writes JSON to
# bench/results/.  Bounded in time; asserts nothing about speed.  Exit status: 0 done, 2 the run
# failed (errors, setup, interrupted).  See bench/README.md.
"""Benchmark the data-path cost of sluice's stats server, its feed and slow HTTP clients.

Usage (as root, with a built daemon)::

    /usr/bin/python3 bench/stats_overhead.py --seconds 20 --rounds 2
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import os
import platform
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

import pymysql  # noqa: E402

from galera import GaleraCluster  # noqa: E402
from sluice_proc import Sluice, free_port, sluice_binary  # noqa: E402
from sluice_config import DB, HOST, MONITOR_PASSWORD as MONITOR_PW, MONITOR_USER, PASSWORD, USER, USER_HASH  # noqa: E402
from benchlib import (Stop, end_workdir, ignore_stop_signals, loadavg, log,  # noqa: E402
                      percentile, start_workdir, write_monitor_pw)

TABLES, TABLE_SIZE = 2, 10000
PS_MODES = ("disable", "auto")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The situations of goals 1 and 3.  feed_rate is the daemon's stats.feed_rate (not reloadable:
# every run starts its own sluice, so each gets the right one).
SITUATIONS = {
    "a": {"label": "(a) no HTTP client", "feed_rate": 50, "dashboard": False, "slow": False},
    "b": {"label": "(b) dashboard, feed 50/s", "feed_rate": 50, "dashboard": True,
          "slow": False},
    "c": {"label": "(c) dashboard, feed 1000/s", "feed_rate": 1000, "dashboard": True,
          "slow": False},
    "d": {"label": "(d) 1000 idle + 20 slowloris", "feed_rate": 50, "dashboard": False,
          "slow": True},
}

# Goal 2: the big configuration.
BIG_CLUSTERS, BIG_NODES = 3, 10
# Down nodes of the big configuration: ports (from the base port) where nothing listens; the
# cluster's own ports are base+0..base+33.
DOWN_PORT_OFFSET = 60

# Bounds of the slow-client load (goal 3).
SLOW_OPEN_BATCH = 100          # idle connections opened per batch ...
SLOW_OPEN_PAUSE = 0.05         # ... with this pause between batches (the listen backlog is 128)
SLOW_MAX_OPENS_FACTOR = 30     # total connects at most this many times the target count
# What a slowloris client sends at once; then one more byte of the header value a second.
SLOWLORIS_START = b"GET /api/v1/status HTTP/1.1\r\nHost: bench\r\nX-Slow: "

EXIT_OK, EXIT_FAIL = 0, 2





# ---- sluice ----------------------------------------------------------------------------------

def data_config(cluster: GaleraCluster, port: int, stats_port: int, feed_rate: int,
                workers: int, monitor_pw: str) -> str:
    """The data-path sluice: one mysql listener on the Galera cluster (node1 the writer by
    priority, reads round-robin on node2/node3), a monitor that logs in, and the stats server."""
    nodes = "\n".join(
        f'      - {{ name: {cluster.node_name(i)}, address: "{HOST}:{cluster.sql_port(i)}", '
        f'priority: {i + 1} }}' for i in range(3))
    return f"""\
workers: {workers}
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: {MONITOR_USER}, password_file: {monitor_pw}, interval: 250ms,
               timeout: 500ms }}
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
stats: {{ bind: "{HOST}:{stats_port}", feed_rate: {feed_rate} }}
logging: {{ level: info }}
"""


def big_config(cluster: GaleraCluster, port: int, stats_port: int, down_ports: list[int],
               workers: int, monitor_pw: str) -> str:
    """Goal 2: 3 static clusters of 10 nodes each: the three Galera nodes (up) and seven
    addresses where nothing listens (down).  Addresses must be unique within a cluster, not
    across clusters, so every cluster uses the same ten."""
    addrs = [cluster.sql_port(i) for i in range(3)] + down_ports
    assert len(addrs) == BIG_NODES
    out = [f"workers: {workers}", "listeners:",
           f'  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: static1 }}',
           "clusters:"]
    for c in range(BIG_CLUSTERS):
        out.append(f"  - name: static{c + 1}\n    type: static\n"
                   f"    monitor: {{ user: {MONITOR_USER}, password_file: {monitor_pw}, "
                   f"interval: 250ms, timeout: 500ms }}\n    nodes:")
        for n, p in enumerate(addrs):
            out.append(f'      - {{ name: c{c + 1}n{n + 1}, address: "{HOST}:{p}", '
                       f'priority: {n + 1} }}')
    out += ["users:", f'  - {{ name: {USER}, password_hash: "{USER_HASH}" }}',
            f'stats: {{ bind: "{HOST}:{stats_port}", feed_rate: 50 }}',
            "logging: { level: info }", ""]
    return "\n".join(out)


def http_get(stats_port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, stats_port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_status(stats_port: int, pred, what: str, timeout: float = 30.0) -> dict:
    """Poll /api/v1/status (one connection per poll, closed) until pred(doc) holds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            code, body = http_get(stats_port, "/api/v1/status")
            if code == 200:
                doc = json.loads(body)
                if pred(doc):
                    return doc
                last = doc
            else:
                last = f"HTTP {code}"
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = e
        if time.monotonic() > deadline:
            raise RuntimeError(f"stats: {what} not reached within {timeout:.0f} s; last "
                               f"{json.dumps(last)[:2000] if isinstance(last, dict) else last!r}")
        time.sleep(0.1)


def all_up(doc: dict) -> bool:
    cl = doc["clusters"][0]
    return cl.get("writer") == "node1" and all(n["state"] == "up" for n in cl["nodes"])


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def thread_ticks(pid: int) -> dict[int, int]:
    """utime + stime of every thread of a process, by thread id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return out


def thread_names(tids: list[int], workers: int) -> dict[int, str]:
    """Names for sluice's threads.  server_create starts them in this order: the main thread
    (listeners, signals), the workers, the health checks, the stats server; thread ids grow in
    creation order.  If the count does not match, the threads stay numbered."""
    tids = sorted(tids)
    if len(tids) == workers + 3:
        names = ["main"] + [f"worker{i}" for i in range(workers)] + ["health", "stats"]
    else:
        names = [f"thread{i}" for i in range(len(tids))]
    return dict(zip(tids, names))



def cpu_times() -> list[int]:
    """The machine's aggregate CPU times from /proc/stat (user nice system idle iowait irq
    softirq steal), in clock ticks."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def cpu_shares(t0: list[int], t1: list[int]) -> dict:
    """Percent of all CPUs' time between two cpu_times(): busy (everything but idle and
    iowait), nice (niced processes, e.g. a background fuzzer), steal (the hypervisor)."""
    d = [b - a for a, b in zip(t0, t1)]
    total = sum(d) or 1
    return {"busy_pct": round(100 * (total - d[3] - d[4]) / total, 1),
            "nice_pct": round(100 * d[1] / total, 1),
            "steal_pct": round(100 * d[7] / total, 1),
            "idle_pct": round(100 * (d[3] + d[4]) / total, 1)}


def busy_processes(interval: float = 1.0, min_pct: float = 5.0) -> list[dict]:
    """Processes that used at least min_pct of one CPU over `interval` seconds (what else the
    machine is doing; read from /proc, nothing is signalled)."""
    def snap() -> dict[int, tuple[str, int]]:
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    raw = f.read()
                comm = raw[raw.index("(") + 1:raw.rindex(")")]
                fields = raw.rsplit(")", 1)[1].split()
                out[int(d)] = (comm, int(fields[11]) + int(fields[12]), int(fields[16]))
            except (OSError, ValueError, IndexError):
                pass
        return out
    a = snap()
    time.sleep(interval)
    b = snap()
    res = []
    for pid, (comm, ticks, nice) in b.items():
        if pid in a and a[pid][0] == comm:
            pct = 100 * (ticks - a[pid][1]) / CLK_TCK / interval
            if pct >= min_pct:
                res.append({"pid": pid, "comm": comm, "nice": nice, "cpu_pct": round(pct, 1)})
    return sorted(res, key=lambda r: -r["cpu_pct"])


# ---- sysbench ----------------------------------------------------------------------------------

def sysbench_cmd(port: int, command: str, *extra: str) -> list[str]:
    return ["sysbench", "oltp_point_select", "--db-driver=mysql", f"--mysql-host={HOST}",
            f"--mysql-port={port}", f"--mysql-user={USER}", f"--mysql-password={PASSWORD}",
            f"--mysql-db={DB}", f"--tables={TABLES}", f"--table-size={TABLE_SIZE}",
            "--mysql-ignore-errors=none", *extra, command]


def sb_value(out: str, name: str) -> float:
    m = re.search(rf"^\s*{re.escape(name)}:?\s+([0-9.]+)", out, re.M)
    if not m:
        raise RuntimeError(f"no '{name}' in the sysbench report:\n{out[-3000:]}")
    return float(m.group(1))


def prepare_tables(cluster: GaleraCluster) -> None:
    port = cluster.sql_port(0)
    for cmd, timeout in (("cleanup", 120), ("prepare", 300)):
        r = subprocess.run(sysbench_cmd(port, cmd, "--threads=2"), capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"sysbench {cmd} on node1 failed:\n{r.stdout}{r.stderr}")
    # Every node has the rows before the first run (a read with wsrep_sync_wait waits).
    for i in range(3):
        conn = cluster.connect(i, database=DB, autocommit=True)
        try:
            with conn.cursor() as c:
                c.execute("SET SESSION wsrep_sync_wait = 1")
                for t in range(1, TABLES + 1):
                    c.execute(f"SELECT COUNT(*) FROM sbtest{t}")
                    n = c.fetchone()[0]
                    if n != TABLE_SIZE:
                        raise RuntimeError(f"{cluster.node_name(i)}: sbtest{t} has {n} rows")
        finally:
            conn.close()


def run_sysbench(port: int, ps_mode: str, threads: int, seconds: float) -> dict:
    cmd = sysbench_cmd(port, "run", f"--threads={threads}", f"--time={int(seconds)}",
                       f"--db-ps-mode={ps_mode}", "--report-interval=0", "--rand-type=uniform")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "FATAL" in out:
        raise RuntimeError(f"sysbench run (ps-mode {ps_mode}) failed with {r.returncode}:\n"
                           f"{out[-3000:]}")
    m = re.search(r"^\s*queries:\s+(\d+)\s+\(([0-9.]+) per sec", out, re.M)
    if not m:
        raise RuntimeError(f"no 'queries:' line in the sysbench report:\n{out[-3000:]}")
    res = {"queries": int(m.group(1)), "qps": float(m.group(2)),
           "total_time_s": sb_value(out, "total time"),
           "ignored_errors": int(sb_value(out, "ignored errors")),
           "reconnects": int(sb_value(out, "reconnects")),
           "lat_avg_ms": sb_value(out, "avg"), "lat_p95_ms": sb_value(out, "95th percentile"),
           "lat_max_ms": sb_value(out, "max")}
    if res["ignored_errors"] or res["reconnects"]:
        raise RuntimeError(f"sysbench had errors or reconnects:\n{out[-3000:]}")
    return res


# ---- the dashboard's load: status poller and event stream reader ------------------------------

class StatusPoller(threading.Thread):
    """GET /api/v1/status every second over one keep-alive connection (reopened on error)."""

    def __init__(self, stats_port: int, stop: threading.Event, interval: float = 1.0):
        super().__init__(name="status-poller", daemon=True)
        self.port, self.stop, self.interval = stats_port, stop, interval
        self.polls = 0
        self.errors = 0
        self.lat_ms: list[float] = []
        self.bytes = 0
        self.cpu_s = 0.0
        self.first = threading.Event()

    def run(self):
        t_cpu = time.thread_time()
        conn = None
        nxt = time.monotonic()
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                t0 = time.perf_counter()
                conn.request("GET", "/api/v1/status")
                r = conn.getresponse()
                body = r.read()
                t1 = time.perf_counter()
                if r.status != 200:
                    raise http.client.HTTPException(f"HTTP {r.status}")
                json.loads(body)  # what a dashboard does with it
                self.polls += 1
                self.bytes += len(body)
                self.lat_ms.append((t1 - t0) * 1000)
                self.first.set()
            except (OSError, http.client.HTTPException, ValueError):
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
            nxt += self.interval
            self.stop.wait(max(0.0, nxt - time.monotonic()))
        if conn is not None:
            conn.close()
        self.cpu_s = time.thread_time() - t_cpu


class EventReader(threading.Thread):
    """Reads /api/v1/events continuously; counts statement events and dropped counts."""

    RX_DROPPED = re.compile(rb"event: dropped\r?\ndata: \{\"count\":(\d+)\}")

    def __init__(self, stats_port: int, stop: threading.Event):
        super().__init__(name="event-reader", daemon=True)
        self.stop = stop
        self.sock = socket.create_connection((HOST, stats_port), timeout=10)
        self.sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
        self.opened = threading.Event()
        self.statements = 0
        self.dropped = 0
        self.bytes = 0
        self.closed_by_server = False
        self.cpu_s = 0.0

    def counts(self) -> tuple[int, int, int]:
        return self.statements, self.dropped, self.bytes

    def run(self):
        t_cpu = time.thread_time()
        self.sock.settimeout(0.5)
        buf = b""
        try:
            while not self.stop.is_set():
                try:
                    chunk = self.sock.recv(262144)
                except socket.timeout:
                    continue
                if not chunk:
                    self.closed_by_server = True
                    return
                self.bytes += len(chunk)
                buf += chunk
                if not self.opened.is_set() and b": sluice" in buf:
                    self.opened.set()
                end = buf.rfind(b"\n\n")
                if end < 0:
                    continue
                done, buf = buf[:end], buf[end + 2:]
                self.statements += done.count(b"event: statement")
                self.dropped += sum(int(x) for x in self.RX_DROPPED.findall(done))
        except OSError:
            self.closed_by_server = True
        finally:
            self.cpu_s = time.thread_time() - t_cpu
            self.sock.close()


# ---- goal 3: idle connections and slowloris clients ------------------------------------------

class SlowClients(threading.Thread):
    """Holds ``idle`` TCP connections that send nothing and ``loris`` connections that send a
    request line and then one header byte per second, never finishing the headers.  Every
    connection the server closes is reopened, for as long as the run lasts, at most
    SLOW_MAX_OPENS_FACTOR times the target count in total."""

    def __init__(self, stats_port: int, idle: int, loris: int, stop: threading.Event,
                 deadline: float):
        super().__init__(name="slow-clients", daemon=True)
        self.port, self.idle_n, self.loris_n = stats_port, idle, loris
        self.stop, self.deadline = stop, deadline
        self.max_opens = SLOW_MAX_OPENS_FACTOR * (idle + loris)
        self.sel = selectors.DefaultSelector()
        self.socks: dict[socket.socket, str] = {}  # socket -> "idle" | "loris"
        self.st = {"idle_opens": 0, "idle_closed_by_server": 0, "idle_lifetimes_s": [],
                   "loris_opens": 0, "loris_closed_by_server": 0, "loris_lifetimes_s": [],
                   "loris_bytes_sent": 0, "connect_errors": 0, "responses": 0,
                   "open_cap_reached": False, "held_samples": []}
        self.opened_at: dict[socket.socket, float] = {}
        self.ready = threading.Event()
        self.cpu_s = 0.0
        self.error: str | None = None

    def _open(self, kind: str) -> bool:
        if self.st["idle_opens"] + self.st["loris_opens"] >= self.max_opens:
            self.st["open_cap_reached"] = True
            return False
        s = socket.socket()
        s.setblocking(False)
        rc = s.connect_ex((HOST, self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            self.st["connect_errors"] += 1
            return False
        self.socks[s] = kind
        self.opened_at[s] = time.monotonic()
        self.sel.register(s, selectors.EVENT_READ)
        self.st[f"{kind}_opens"] += 1
        if kind == "loris":
            self._send(s, SLOWLORIS_START)
        return True

    def _close(self, s: socket.socket, by_server: bool) -> str:
        kind = self.socks.pop(s)
        self.sel.unregister(s)
        if by_server:
            self.st[f"{kind}_closed_by_server"] += 1
            self.st[f"{kind}_lifetimes_s"].append(time.monotonic() - self.opened_at[s])
        self.opened_at.pop(s, None)
        s.close()
        return kind

    def _send(self, s: socket.socket, data: bytes) -> None:
        try:
            n = s.send(data)
            self.st["loris_bytes_sent"] += n
        except BlockingIOError:
            pass  # still connecting, or the buffer is full: skip this byte
        except OSError:
            self._close(s, True)

    def held(self) -> tuple[int, int]:
        kinds = list(self.socks.values())
        return kinds.count("idle"), kinds.count("loris")

    def run(self):
        t_cpu = time.thread_time()
        try:
            for k in range(self.loris_n):
                self._open("loris")
            while self.held()[0] < self.idle_n and not self.stop.is_set():
                for _ in range(min(SLOW_OPEN_BATCH, self.idle_n - self.held()[0])):
                    self._open("idle")
                self.stop.wait(SLOW_OPEN_PAUSE)
            self.ready.set()
            next_byte = time.monotonic() + 1.0
            while not self.stop.is_set() and time.monotonic() < self.deadline:
                for key, _ in self.sel.select(timeout=0.2):
                    s = key.fileobj
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self.st["responses"] += 1  # e.g. an error reply; then it closes
                        continue
                    kind = self._close(s, True)
                    self._open(kind)
                now = time.monotonic()
                if now >= next_byte:
                    next_byte += 1.0
                    for s, kind in list(self.socks.items()):
                        if kind == "loris":
                            self._send(s, b"a")
                    # Refill what a failed send closed.
                    while self.held()[1] < self.loris_n and self._open("loris"):
                        pass
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            self.ready.set()
        finally:
            now = time.monotonic()
            self.st["loris_open_at_end"] = sum(k == "loris" for k in self.socks.values())
            self.st["loris_max_age_at_end_s"] = max(
                (now - self.opened_at[s] for s, k in self.socks.items() if k == "loris"),
                default=None)
            for s in list(self.socks):
                self._close(s, False)
            self.sel.close()
            self.cpu_s = time.thread_time() - t_cpu


def server_side_established(port: int) -> int:
    """Connections in ESTABLISHED whose local port is ``port`` (the server's side), from
    /proc/net/tcp: what the stats port holds right now."""
    n = 0
    hexport = f":{port:04X}"
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split(None, 4)
                    if parts[1].endswith(hexport) and parts[3] == "01":
                        n += 1
        except OSError:
            pass
    return n


# ---- one run -----------------------------------------------------------------------------------

def one_run(cluster: GaleraCluster, workdir: str, monitor_pw: str, sit_key: str, ps_mode: str,
            rnd: int, args, workers: int) -> dict:
    sit = SITUATIONS[sit_key]
    port, stats_port = free_port(), free_port()
    while stats_port == port:
        stats_port = free_port()
    config = data_config(cluster, port, stats_port, sit["feed_rate"], workers, monitor_pw)
    sl = Sluice(workdir, config, f"sluice-r{rnd}-{ps_mode}-{sit_key}")
    stop = threading.Event()
    helpers: list[threading.Thread] = []
    out: dict = {"round": rnd, "ps_mode": ps_mode, "situation": sit_key,
                 "label": sit["label"], "feed_rate": sit["feed_rate"]}
    try:
        sl.start()
        sl.wait_log(r"writer is node1\b", 30)
        # Readiness (one short HTTP request, closed before the run): every node is up.
        wait_status(stats_port, all_up, "node1 writer and all nodes up")
        poller = reader = slow = None
        held_samples: list[tuple[int, int, int]] = []
        if sit["dashboard"]:
            reader = EventReader(stats_port, stop)
            reader.start()
            helpers.append(reader)
            poller = StatusPoller(stats_port, stop)
            poller.start()
            helpers.append(poller)
            if not reader.opened.wait(10) or not poller.first.wait(10):
                raise RuntimeError("the dashboard clients did not start")
        if sit["slow"]:
            slow = SlowClients(stats_port, args.idle_conns, args.slowloris, stop,
                               time.monotonic() + args.seconds + 60)
            slow.start()
            helpers.append(slow)
            if not slow.ready.wait(30) or slow.error:
                raise RuntimeError(f"the slow clients did not start: {slow.error}")
            time.sleep(0.5)  # let the server accept the last batch
            held_samples.append((0, *slow.held()))
            out["stats_port_established_at_start"] = server_side_established(stats_port)
        ev0 = reader.counts() if reader else (0, 0, 0)
        polls0 = poller.polls if poller else 0
        sampler_stop = threading.Event()
        established: list[int] = []

        def sample():  # what the stats port holds during the run (goal 3)
            while not sampler_stop.wait(2.0):
                established.append(server_side_established(stats_port))
                if slow is not None:
                    held_samples.append((int(time.monotonic()), *slow.held()))

        sampler = None
        if slow is not None:
            sampler = threading.Thread(target=sample, name="sampler", daemon=True)
            sampler.start()
        load0, mach0 = loadavg(), cpu_times()
        thr0 = thread_ticks(sl.pid)
        cpu0, t0 = proc_cpu_ticks(sl.pid), time.monotonic()
        sb = run_sysbench(port, ps_mode, args.threads, args.seconds)
        cpu1, t1 = proc_cpu_ticks(sl.pid), time.monotonic()
        thr1 = thread_ticks(sl.pid)
        mach = cpu_shares(mach0, cpu_times())
        ev1 = reader.counts() if reader else (0, 0, 0)
        polls1 = poller.polls if poller else 0
        sampler_stop.set()
        if sampler is not None:
            sampler.join(5)
        stop.set()
        for h in helpers:
            h.join(15)
        cpu_s = (cpu1 - cpu0) / CLK_TCK
        names = thread_names(list(thr1), workers)
        threads_cpu = {names[tid]: (ticks - thr0.get(tid, 0)) / CLK_TCK
                       for tid, ticks in sorted(thr1.items())}
        out.update(sb)
        out.update({
            "wall_s": round(t1 - t0, 3),
            "sluice_cpu_s": cpu_s,
            "sluice_cpu_pct": 100 * cpu_s / (t1 - t0) if t1 > t0 else 0.0,
            "sluice_cpu_us_per_query": 1e6 * cpu_s / sb["queries"] if sb["queries"] else None,
            "sluice_threads_cpu_s": threads_cpu,
            # The stats server's own thread, in percent of one CPU (None if not identified).
            "stats_thread_cpu_pct": 100 * threads_cpu["stats"] / (t1 - t0)
            if "stats" in threads_cpu and t1 > t0 else None,
            "loadavg_before": load0, "loadavg_after": loadavg(),
            # The whole machine during the run: everything this benchmark runs is included
            # in busy; nice is niced background work (none of this benchmark's processes).
            "machine_cpu": mach,
        })
        if reader is not None:
            secs = t1 - t0
            out["feed"] = {
                "statement_events": ev1[0] - ev0[0],
                "statement_events_per_s": (ev1[0] - ev0[0]) / secs,
                "dropped": ev1[1] - ev0[1], "bytes": ev1[2] - ev0[2],
                "stream_closed_by_server": reader.closed_by_server,
                "reader_cpu_s": reader.cpu_s,
            }
            lat = sorted(poller.lat_ms)
            out["status_polls"] = {
                "during_run": polls1 - polls0, "total": poller.polls,
                "errors": poller.errors, "bytes_total": poller.bytes,
                "p50_ms": percentile(lat, 50), "max_ms": lat[-1] if lat else None,
                "poller_cpu_s": poller.cpu_s,
            }
            if reader.closed_by_server or poller.errors:
                raise RuntimeError(f"dashboard clients failed: stream closed "
                                   f"{reader.closed_by_server}, poll errors {poller.errors}")
        if slow is not None:
            st = dict(slow.st)
            for k in ("idle_lifetimes_s", "loris_lifetimes_s"):
                v = sorted(st.pop(k))
                st[k.replace("_s", "") + "_summary_s"] = {
                    "n": len(v), "min": v[0] if v else None,
                    "p50": percentile(v, 50) if v else None, "max": v[-1] if v else None}
            st["held_samples"] = held_samples
            st["stats_port_established_samples"] = established
            st["client_cpu_s"] = slow.cpu_s
            st["error"] = slow.error
            out["slow_clients"] = st
            if slow.error:
                raise RuntimeError(f"slow clients failed: {slow.error}")
    finally:
        stop.set()
        for h in helpers:
            h.join(15)
        rc = sl.stop()
        if rc != 0:
            raise RuntimeError(f"sluice exited with {rc}; log in {sl.log_path}")
    out["sluice_log_warnings"] = len(re.findall(r"\b(warning|error)\b", sl.log(), re.I))
    return out


# ---- goal 2: /metrics and /api/v1/status for 3 clusters x 10 nodes ------------------------------

# How goal 2's GETs are sent.  "keepalive": http.client, one keep-alive connection per
# endpoint (what the brief asks for; what a scraper that reuses its connection sees).
# "keepalive_quickack": the same over a raw socket that sets TCP_QUICKACK before every recv, so
# the client never delays its ACKs: what is left is the server's own time to render and send.
# "new_conn": http.client, a new connection for every request.
BIG_VARIANTS = ("keepalive", "keepalive_quickack", "new_conn")
BIG_UNTIMED = 10  # requests per endpoint and variant before the timed ones


def _raw_get(sock: socket.socket, path: str) -> tuple[int, bytes]:
    """One GET on a keep-alive raw socket with TCP_QUICKACK before every recv."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(262144)
        if not chunk:
            raise RuntimeError(f"GET {path}: connection closed")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    code = int(lines[0].split()[1])
    length = next((int(ln.split(b":", 1)[1]) for ln in lines[1:]
                   if ln.lower().startswith(b"content-length:")), None)
    if length is None:
        raise RuntimeError(f"GET {path}: no Content-Length")
    while len(body) < length:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(262144)
        if not chunk:
            raise RuntimeError(f"GET {path}: connection closed")
        body += chunk
    if len(body) != length:
        raise RuntimeError(f"GET {path}: {len(body)} bytes after a {length}-byte body")
    return code, body


def time_gets(stats_port: int, path: str, variant: str, n: int):
    """BIG_UNTIMED + n sequential GETs; returns (sorted latencies in ms, body sizes, a body)."""
    lat, sizes, body = [], set(), b""
    conn = sock = None
    try:
        if variant == "keepalive":
            conn = http.client.HTTPConnection(HOST, stats_port, timeout=10)
        elif variant == "keepalive_quickack":
            sock = socket.create_connection((HOST, stats_port), timeout=10)
        for k in range(BIG_UNTIMED + n):
            t0 = time.perf_counter()
            if sock is not None:
                code, body = _raw_get(sock, path)
            else:
                c = conn or http.client.HTTPConnection(HOST, stats_port, timeout=10)
                try:
                    c.request("GET", path)
                    r = c.getresponse()
                    code, body = r.status, r.read()
                    if conn is not None and r.getheader("Connection", "").lower() == "close":
                        raise RuntimeError(f"GET {path}: the server closed the keep-alive "
                                           f"connection")
                finally:
                    if conn is None:
                        c.close()
            dt = (time.perf_counter() - t0) * 1000
            if code != 200:
                raise RuntimeError(f"GET {path}: HTTP {code}")
            if k >= BIG_UNTIMED:
                lat.append(dt)
                sizes.add(len(body))
    finally:
        if conn is not None:
            conn.close()
        if sock is not None:
            sock.close()
    lat.sort()
    return lat, sizes, body


def big_render(cluster: GaleraCluster, workdir: str, monitor_pw: str, args,
               workers: int) -> dict:
    down = [args.base_port + DOWN_PORT_OFFSET + k for k in range(BIG_NODES - 3)]
    for p in down:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((HOST, p)) == 0:
                raise RuntimeError(f"port {p} (meant to be a down node) has a listener")
    port, stats_port = free_port(), free_port()
    while stats_port == port:
        stats_port = free_port()
    config = big_config(cluster, port, stats_port, down, workers, monitor_pw)
    sl = Sluice(workdir, config, "sluice-big")
    res: dict = {"clusters": BIG_CLUSTERS, "nodes_per_cluster": BIG_NODES,
                 "requests": args.requests, "config": config}
    try:
        sl.start()

        def settled(doc):  # 3 up per cluster, and every down node has failed a check
            unchecked = ("no check has passed", "no check has finished yet")
            return all(sum(n["state"] == "up" for n in c["nodes"]) == 3 and
                       all(n["state"] == "up" or n["why"] not in unchecked
                           for n in c["nodes"])
                       for c in doc["clusters"])

        doc = wait_status(stats_port, settled, "3 up and 7 down nodes in every cluster", 30)
        res["states"] = {c["name"]: sorted({n["state"] for n in c["nodes"]})
                         for c in doc["clusters"]}
        # A little traffic so that counters and latency histograms of a few nodes are not zero.
        conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                               autocommit=True, connect_timeout=10, read_timeout=30)
        try:
            with conn.cursor() as c:
                for _ in range(50):
                    c.execute("SELECT 1")
                    c.fetchall()
        finally:
            conn.close()
        for variant in BIG_VARIANTS:
            for path in ("/metrics", "/api/v1/status"):
                lat, sizes, body = time_gets(stats_port, path, variant, args.requests)
                res.setdefault(variant, {})[path] = {
                    "n": len(lat), "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                    "max_ms": lat[-1], "mean_ms": statistics.fmean(lat),
                    "body_bytes_min": min(sizes), "body_bytes_max": max(sizes)}
                if path == "/metrics":
                    res["metrics_series"] = sum(
                        1 for ln in body.decode().splitlines() if ln and not ln.startswith("#"))
    finally:
        rc = sl.stop()
        if rc != 0:
            raise RuntimeError(f"sluice (big config) exited with {rc}; log in {sl.log_path}")
    return res


# ---- report ------------------------------------------------------------------------------------


def fmt(x, digits: int = 2) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def render(lines: list[list[str]], left: int = 3) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i < left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def runs_table(rows: list[dict]) -> str:
    lines = [["round", "ps-mode", "situation", "QPS", "lat avg ms", "p95 ms",
              "sluice CPU %", "CPU us/query", "stats thr %", "feed ev/s", "dropped/s", "busy %",
              "nice %"]]
    for r in rows:
        feed = r.get("feed")
        lines.append([str(r["round"]), r["ps_mode"], r["label"], f"{r['qps']:.0f}",
                      fmt(r["lat_avg_ms"]), fmt(r["lat_p95_ms"]), fmt(r["sluice_cpu_pct"], 1),
                      fmt(r["sluice_cpu_us_per_query"], 1), fmt(r["stats_thread_cpu_pct"], 2),
                      fmt(feed["statement_events_per_s"], 1) if feed else "-",
                      fmt(feed["dropped"] / r["wall_s"], 0) if feed else "-",
                      fmt(r["machine_cpu"]["busy_pct"], 0), fmt(r["machine_cpu"]["nice_pct"], 0)])
    return render(lines)


def summarize(rows: list[dict]) -> list[dict]:
    """Per ps-mode and situation: mean QPS and CPU/query over the rounds, and the ratios to
    situation (a) of the same ps-mode (mean over the rounds, and the per-round range)."""
    out = []
    for ps in PS_MODES:
        base = [r for r in rows if r["ps_mode"] == ps and r["situation"] == "a"]
        if not base:
            continue
        base_qps = statistics.fmean(r["qps"] for r in base)
        base_cpu = statistics.fmean(r["sluice_cpu_us_per_query"] for r in base)
        base_by_round = {r["round"]: r for r in base}
        for key in SITUATIONS:
            rs = [r for r in rows if r["ps_mode"] == ps and r["situation"] == key]
            if not rs:
                continue
            qps = statistics.fmean(r["qps"] for r in rs)
            cpu = statistics.fmean(r["sluice_cpu_us_per_query"] for r in rs)
            per_round = [r["qps"] / base_by_round[r["round"]]["qps"] for r in rs
                         if r["round"] in base_by_round]
            st_thr = [r["stats_thread_cpu_pct"] for r in rs
                      if r["stats_thread_cpu_pct"] is not None]
            out.append({"ps_mode": ps, "situation": key, "label": SITUATIONS[key]["label"],
                        "stats_thread_cpu_pct": statistics.fmean(st_thr) if st_thr else None,
                        "runs": len(rs), "qps_mean": qps,
                        "qps_min": min(r["qps"] for r in rs),
                        "qps_max": max(r["qps"] for r in rs),
                        "qps_vs_a": qps / base_qps,
                        "qps_vs_a_same_round_min": min(per_round) if per_round else None,
                        "qps_vs_a_same_round_max": max(per_round) if per_round else None,
                        "cpu_us_per_query": cpu, "cpu_vs_a": cpu / base_cpu})
    return out


def summary_table(ss: list[dict]) -> str:
    lines = [["ps-mode", "situation", "runs", "QPS mean", "QPS min-max", "vs (a)",
              "same-round vs (a)", "CPU us/query", "CPU vs (a)", "stats thr %"]]
    for s in ss:
        rr = "-" if s["qps_vs_a_same_round_min"] is None else \
            f"{s['qps_vs_a_same_round_min']:.3f}-{s['qps_vs_a_same_round_max']:.3f}"
        lines.append([s["ps_mode"], s["label"], str(s["runs"]), f"{s['qps_mean']:.0f}",
                      f"{s['qps_min']:.0f}-{s['qps_max']:.0f}", f"{s['qps_vs_a']:.3f}", rr,
                      fmt(s["cpu_us_per_query"], 1), f"{s['cpu_vs_a']:.2f}",
                      fmt(s["stats_thread_cpu_pct"], 2)])
    return render(lines, left=2)


def big_table(big: dict) -> str:
    lines = [["client", "endpoint", "requests", "body bytes", "p50 ms", "p99 ms", "max ms",
              "mean ms"]]
    for variant in BIG_VARIANTS:
        for path in ("/metrics", "/api/v1/status"):
            r = big[variant][path]
            size = str(r["body_bytes_max"]) if r["body_bytes_min"] == r["body_bytes_max"] \
                else f"{r['body_bytes_min']}-{r['body_bytes_max']}"
            lines.append([variant, path, str(r["n"]), size, fmt(r["p50_ms"], 3),
                          fmt(r["p99_ms"], 3), fmt(r["max_ms"], 3), fmt(r["mean_ms"], 3)])
    return render(lines, left=2)


def slow_text(rows: list[dict]) -> str:
    out = []
    for r in rows:
        st = r.get("slow_clients")
        if not st:
            continue
        est = st["stats_port_established_samples"]
        il = st["idle_lifetimes_summary_s"]
        out.append(
            f"(d) round {r['round']} ps-mode {r['ps_mode']}, sysbench {r['wall_s']:.0f} s: "
            f"held at the start {st['held_samples'][0][1]} idle + {st['held_samples'][0][2]} "
            f"slowloris (server side established: {r.get('stats_port_established_at_start')}); "
            f"during the run the stats port held {min(est) if est else '-'}-"
            f"{max(est) if est else '-'} connections.\n"
            f"  idle: {st['idle_opens']} opened, {st['idle_closed_by_server']} closed by the "
            f"server" + (f" (after {fmt(il['min'], 1)}-{fmt(il['max'], 1)} s) and reopened"
                         if il["n"] else "") + ".\n"
            f"  slowloris: {st['loris_opens']} opened, {st['loris_closed_by_server']} closed by "
            f"the server, {st['loris_open_at_end']} still open at the end (oldest "
            f"{fmt(st['loris_max_age_at_end_s'], 1)} s), {st['loris_bytes_sent']} bytes sent.  "
            f"Connect errors {st['connect_errors']}, replies {st['responses']}"
            + ("; OPEN CAP REACHED" if st["open_cap_reached"] else ""))
    return "\n".join(out)


def machine_info(cluster: GaleraCluster | None) -> dict:
    info = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "uname": " ".join(platform.uname()),
        "python": platform.python_version(),
        "loadavg": loadavg(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else None
        with open("/proc/meminfo") as f:
            info["mem_total"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        info["sysbench"] = subprocess.run(["sysbench", "--version"], capture_output=True,
                                          text=True, timeout=10).stdout.strip()
        st = os.stat(sluice_binary())
        info["sluice_binary"] = sluice_binary()
        info["sluice_binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                    time.localtime(st.st_mtime))
        info["sluice_version"] = subprocess.run(
            [sluice_binary(), "--version"], capture_output=True, text=True,
            timeout=10).stdout.strip()
        git = ["git", "-C", REPO]
        info["git_commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                                            text=True, timeout=10).stdout.strip()
        info["git_dirty"] = bool(subprocess.run(
            git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
            text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    if cluster is not None:
        try:
            conn = cluster.connect(0, root=True, autocommit=True)
            try:
                with conn.cursor() as c:
                    c.execute("SELECT VERSION()")
                    info["mariadb"] = c.fetchone()[0]
                    c.execute("SHOW GLOBAL STATUS LIKE 'wsrep_provider_version'")
                    info["galera"] = c.fetchone()[1]
            finally:
                conn.close()
        except pymysql.MySQLError:
            pass
    return info


# ---- main ------------------------------------------------------------------------------------

def plan(rounds: int, slow_runs: int) -> list[tuple[int, str, str]]:
    """(round, ps_mode, situation) in order.  Situations a, b, c alternate inside every round
    and ps-mode, in forward order in odd rounds and reverse order in even ones, so that a slow
    drift of the machine does not favour one situation.  Situation (d) runs in the last
    `slow_runs` rounds, ps-mode disable, right after that round's (a)."""
    out = []
    for rnd in range(1, rounds + 1):
        order = ["a", "b", "c"] if rnd % 2 else ["c", "b", "a"]
        for ps in PS_MODES:
            for key in order:
                out.append((rnd, ps, key))
                if key == "a" and ps == "disable" and rnd > rounds - slow_runs:
                    out.append((rnd, ps, "d"))
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Measure what sluice's stats server, its statement feed and slow HTTP "
                    "clients cost the data path, and how long /metrics takes for 3 clusters x "
                    "10 nodes, on a three-node Galera cluster it starts itself.  Needs root.")
    ap.add_argument("--seconds", type=int, default=20,
                    help="length of each sysbench run (default 20)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of situations a, b, c per ps-mode (default 2)")
    ap.add_argument("--threads", type=int, default=8, help="sysbench threads (default 8)")
    ap.add_argument("--slow-runs", type=int, default=1,
                    help="rounds (the last ones) that also run situation (d), ps-mode disable "
                         "(default 1; 0 skips goal 3)")
    ap.add_argument("--idle-conns", type=int, default=1000,
                    help="idle TCP connections held on the stats port in (d) (default 1000)")
    ap.add_argument("--slowloris", type=int, default=20,
                    help="slowloris clients in (d) (default 20)")
    ap.add_argument("--requests", type=int, default=200,
                    help="timed GETs per endpoint for the 3x10 config (default 200)")
    ap.add_argument("--base-port", type=int,
                    default=int(os.environ.get("SLUICE_BENCH_BASE_PORT", "19500")),
                    help="node1's SQL port (node i at +10*i); default $SLUICE_BENCH_BASE_PORT "
                         "or 19500")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"),
                    help="where the JSON goes (default bench/results)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (cluster data, sluice logs)")
    a = ap.parse_args(argv)
    if not 1 <= a.seconds <= 600:
        ap.error("--seconds must be in 1..600")
    if not 1 <= a.rounds <= 20:
        ap.error("--rounds must be in 1..20")
    if not 1 <= a.threads <= 256:
        ap.error("--threads must be in 1..256")
    if not 0 <= a.slow_runs <= a.rounds:
        ap.error("--slow-runs must be in 0..--rounds")
    if not 0 <= a.idle_conns <= 5000 or not 0 <= a.slowloris <= 500:
        ap.error("--idle-conns at most 5000, --slowloris at most 500")
    if not 1 <= a.requests <= 100000:
        ap.error("--requests must be in 1..100000")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if os.geteuid() != 0:
        print("stats_overhead.py: must run as root (it starts mariadbd as the mysql user)",
              file=sys.stderr)
        return EXIT_FAIL
    if not os.access(sluice_binary(), os.X_OK):
        print(f"stats_overhead.py: no daemon at {sluice_binary()}; build it with "
              f"`ninja -C build` (or set SLUICE_BIN)", file=sys.stderr)
        return EXIT_FAIL
    if not shutil.which("sysbench"):
        print("stats_overhead.py: sysbench is not installed", file=sys.stderr)
        return EXIT_FAIL
    need_fds = args.idle_conns + args.slowloris + 200
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need_fds:
        print(f"stats_overhead.py: needs {need_fds} file descriptors (ulimit -n is {soft})",
              file=sys.stderr)
        return EXIT_FAIL

    workdir = start_workdir("sluice-bench-stats-")
    cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
    status = EXIT_FAIL
    rows: list[dict] = []
    workers = os.cpu_count() or 2
    t_start = time.monotonic()
    try:
        others_before = busy_processes()
        log("busy before the start: " + (", ".join(
            f"{p['comm']} (pid {p['pid']}, nice {p['nice']}) {p['cpu_pct']:.0f}%"
            for p in others_before) or "nothing"))
        log(f"starting a 3-node Galera cluster on {HOST}:{args.base_port}.. in {workdir}")
        took = cluster.start()
        log(f"cluster up in {took:.1f} s; preparing sysbench tables on node1")
        prepare_tables(cluster)
        monitor_pw = write_monitor_pw(workdir, MONITOR_PW)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info_before = machine_info(cluster)
        runs = plan(args.rounds, args.slow_runs)
        log(f"{len(runs)} sysbench runs of {args.seconds} s, {args.threads} threads "
            f"(~{len(runs) * (args.seconds + 3):.0f} s), each with a fresh sluice")
        for rnd, ps, key in runs:
            r = one_run(cluster, workdir, monitor_pw, key, ps, rnd, args, workers)
            rows.append(r)
            extra = ""
            if "feed" in r:
                extra = (f", feed {r['feed']['statement_events_per_s']:.0f} ev/s, "
                         f"{r['status_polls']['during_run']} status polls")
            if "slow_clients" in r:
                st = r["slow_clients"]
                extra = (f", slow clients: idle opens {st['idle_opens']}, loris opens "
                         f"{st['loris_opens']}")
            log(f"round {rnd} {ps:7s} {r['label']:30s}: {r['qps']:7.0f} QPS, sluice "
                f"{r['sluice_cpu_pct']:.0f}% CPU, {r['sluice_cpu_us_per_query']:.1f} us/query, "
                f"machine busy {r['machine_cpu']['busy_pct']:.0f}% (nice "
                f"{r['machine_cpu']['nice_pct']:.0f}%){extra}")

        log(f"goal 2: a sluice with {BIG_CLUSTERS} static clusters x {BIG_NODES} nodes, "
            f"{args.requests} GETs per endpoint")
        big = big_render(cluster, workdir, monitor_pw, args, workers)
        ss = summarize(rows)

        print()
        print(f"stats_overhead benchmark: sysbench oltp_point_select, {args.threads} threads x "
              f"{args.seconds} s per run, {args.rounds} round(s), {info_before['nproc']} CPUs, "
              f"kernel {info_before['kernel']}, load {' '.join(info_before['loadavg'])} at "
              f"the start")
        print("CPU = utime+stime of the sluice process during the run; us/query = that / "
              "queries; stats thr % = the stats server's thread, in % of one CPU; feed ev/s = "
              "statement events the stream delivered; busy/nice % = the whole machine during "
              "the run (nice = niced background jobs)\n")
        print(runs_table(rows))
        print()
        print(summary_table(ss))
        if any("slow_clients" in r for r in rows):
            print()
            print(slow_text(rows))
        print()
        print(f"goal 2: {BIG_CLUSTERS} static clusters x {BIG_NODES} nodes (3 up, 7 down each), "
              f"{args.requests} sequential GETs per endpoint and client kind (client-side "
              f"time, request sent to body read; /metrics has {big['metrics_series']} "
              f"series).  keepalive = http.client on one keep-alive connection; "
              f"keepalive_quickack = one keep-alive connection whose client ACKs at once "
              f"(TCP_QUICKACK); new_conn = a new connection per request\n")
        print(big_table(big))

        os.makedirs(args.results_dir, exist_ok=True)
        path = os.path.join(args.results_dir,
                            f"stats_overhead-{time.strftime('%Y%m%d-%H%M%S')}.json")
        info = machine_info(cluster)
        info["loadavg_before"] = info_before["loadavg"]
        info["busy_processes_before"] = others_before
        info["busy_processes_after"] = busy_processes()
        with open(path, "w") as f:
            json.dump({
                "benchmark": "stats_overhead", "started": started,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "elapsed_s": round(time.monotonic() - t_start, 1),
                "args": vars(args), "situations": SITUATIONS,
                "sysbench": {"test": "oltp_point_select", "tables": TABLES,
                             "table_size": TABLE_SIZE, "rand_type": "uniform"},
                "machine": info,
                "sluice_config_example": data_config(cluster, 0, 1, 50, workers,
                                                     "monitor.pw"),
                "runs": rows, "summary": ss, "big_config_render": big,
            }, f, indent=2)
            f.write("\n")
        rel = os.path.relpath(path)
        print(f"\nJSON: {path if rel.startswith('..') else rel}")
        log(f"done in {time.monotonic() - t_start:.0f} s")
        status = EXIT_OK
    except KeyboardInterrupt:
        log("interrupted; stopping")
    except Stop as e:
        log(f"{e}; stopping")
    except Exception as e:
        log(f"failed: {type(e).__name__}: {e}")
        args.keep = True
    finally:
        # A second Ctrl-C must not leave a daemon or a node behind.  (Every sluice was already
        # stopped by one_run / big_render's own finally.)
        ignore_stop_signals()
        cluster.stop()
        end_workdir(workdir, args.keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
