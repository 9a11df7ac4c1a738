#!/usr/bin/python3
# bench/proxy_compare.py -- sluice next to HAProxy and a direct connection, in one run.
# Starts (or reuses, --cluster-port) a real three-node Galera cluster (tests/galera.py), one
# HAProxy (Debian's 2.6, tcp mode, round-robin, nbthread 2) and one sluice (2 workers, a
# `mode: tcp` readers listener and a `mode: mysql` listener with primary_reads), then runs
# sysbench oltp_point_select and oltp_read_only against node1 directly, HAProxy, sluice-tcp and
# sluice-mysql, alternating the targets inside every round.  Per run: QPS, latency, the proxy's
# CPU, system calls per query (perf or strace, on a short extra run), RSS.  Optionally measures
# RSS per idle logged-in client (--idle-clients).  Prints tables, writes JSON, CSV and a plot to
# bench/results/.  Bounded in time; asserts nothing about speed.  See bench/README.md.
"""Compare sluice with HAProxy and a direct connection on a real Galera cluster.

Usage (as root, with a built daemon)::

    /usr/bin/python3 bench/proxy_compare.py --time 20 --rounds 2
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

import pymysql  # noqa: E402

from galera import GaleraCluster  # noqa: E402
from sluice_proc import Sluice, free_port  # noqa: E402
from sluice_config import DB, HOST, MONITOR_PASSWORD as MONITOR_PW, MONITOR_USER, PASSWORD, USER, USER_HASH  # noqa: E402
from benchlib import (Stop, end_workdir, ignore_stop_signals, loadavg, log,  # noqa: E402
                      open_session, sluice_copy, start_workdir, write_monitor_pw)

HAPROXY = "/usr/sbin/haproxy"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
NODES = 3
PROXY_THREADS = 2  # sluice workers and HAProxy nbthread: the same on both sides
# HAProxy's global maxconn.  A sluice listener's default max_connections is 10000, but
# HAProxy wants 2 * maxconn + ~20 descriptors at start and the hard limit here is 20000.
HAPROXY_MAXCONN = 9000

# sluice-* run on io_uring (io_engine: auto); sluice-*-epoll are a second sluice with
# io_engine: epoll, the path kept for kernels where io_uring is disabled.
# sluice-mysql-1node is a third listener of the io_uring sluice, on a second cluster entry for the
# same three nodes whose reads all go to node1: the mysql listener without the per-statement
# round-robin, to tell the proxy's own cost from what rotating every read costs.
# haproxy-1node is a second frontend of the same HAProxy whose backend is node1 alone: the
# baseline for sluice-mysql-1node, and for sluice-mysql in oltp_read_only, whose BEGIN ...
# COMMIT transactions run on the writer (DESIGN.md), where HAProxy spreads them over three nodes.
TARGETS = ("direct", "haproxy", "haproxy-1node", "sluice-tcp", "sluice-mysql",
           "sluice-mysql-1node", "sluice-tcp-epoll", "sluice-mysql-epoll")
WORKLOADS = ("oltp_point_select", "oltp_read_only")
# Queries sysbench counts per transaction (its "queries" line, BEGIN and COMMIT included), to
# turn --rate (queries/s) into sysbench's --rate (transactions/s).
QUERIES_PER_TRX = {"oltp_point_select": 1, "oltp_read_only": 16,
                   "oltp_read_only/skip_trx": 14}
# The proxies whose idle-client RSS is measured, in this order.
IDLE_TARGETS = ("haproxy", "sluice-mysql", "sluice-tcp")

EXIT_OK, EXIT_RUNS_FAILED, EXIT_FAIL = 0, 1, 2





# ---- /proc -------------------------------------------------------------------------------------

def proc_cpu_split_ticks(pid: int) -> tuple[int, int]:
    """utime and stime of a process (all its threads), in clock ticks: fields 14 and 15 of
    /proc/PID/stat, counted after the closing parenthesis of the command name."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    return sum(proc_cpu_split_ticks(pid))


def proc_status_kb(pid: int, key: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def cpu_times() -> list[int]:
    """The machine's CPU times from /proc/stat: user nice system idle iowait irq softirq
    steal, in clock ticks."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def cpu_shares(t0: list[int], t1: list[int]) -> dict:
    """Shares of all CPUs' time between two cpu_times(), in percent: busy (not idle or
    iowait), nice (niced jobs of other people), steal."""
    d = [b - a for a, b in zip(t0, t1)]
    total = sum(d) or 1
    return {"busy_pct": round(100 * (total - d[3] - d[4]) / total, 1),
            "nice_pct": round(100 * d[1] / total, 1),
            "steal_pct": round(100 * d[7] / total, 1)}



def busy_processes(interval: float = 1.0, min_pct: float = 5.0) -> list[dict]:
    """Processes that used at least min_pct of a CPU over `interval` seconds: what else the
    shared machine is doing.  Only reads /proc."""
    def snap() -> dict[int, tuple[str, int]]:
        out = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        raw = f.read()
                    comm = raw[raw.index("(") + 1:raw.rindex(")")]
                    fields = raw.rsplit(")", 1)[1].split()
                    out[int(d)] = (comm, int(fields[11]) + int(fields[12]))
                except (OSError, ValueError, IndexError):
                    pass
        return out
    a = snap()
    time.sleep(interval)
    res = []
    for pid, (comm, ticks) in snap().items():
        if pid in a and a[pid][0] == comm:
            pct = 100 * (ticks - a[pid][1]) / CLK_TCK / interval
            if pct >= min_pct:
                res.append({"pid": pid, "comm": comm, "cpu_pct": round(pct, 1)})
    return sorted(res, key=lambda r: -r["cpu_pct"])


# ---- the cluster -------------------------------------------------------------------------------

class Nodes:
    """The three SQL ports, whether this script started the cluster or found it running.
    Every query goes over TCP as sluice_test (which has every privilege), so an already
    running cluster needs nothing else."""

    def __init__(self, base_port: int, error_logs: list[str] | None = None):
        self.ports = [base_port + 10 * i for i in range(NODES)]
        # The nodes' error logs when this script started the cluster (see stall_marks).
        self.error_logs = error_logs or []

    def name(self, i: int) -> str:
        return f"node{i + 1}"

    def connect(self, i: int, **kw) -> pymysql.connections.Connection:
        args = dict(host=HOST, port=self.ports[i], user=USER, password=PASSWORD,
                    database=DB, connect_timeout=5, read_timeout=30, autocommit=True)
        args.update(kw)
        return pymysql.connect(**args)

    def status(self, names: tuple[str, ...], as_int: bool = True) -> list[dict]:
        """SHOW GLOBAL STATUS values of every node (integers unless as_int is false)."""
        out = []
        where = ",".join(f"'{n}'" for n in names)
        for i in range(NODES):
            conn = self.connect(i)
            try:
                with conn.cursor() as c:
                    c.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({where})")
                    out.append({k: int(v) if as_int else v for k, v in c.fetchall()})
            finally:
                conn.close()
        return out

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait until every node is Synced, ready and in one Primary component of all three;
        returns the seconds waited.  On a starved machine Galera's group communication can
        miss its timeouts and leave the nodes non-Primary (error 1047) for a while."""
        t0 = time.monotonic()
        last = None
        while True:
            try:
                st = self.status(("wsrep_ready", "wsrep_local_state", "wsrep_cluster_size",
                                  "wsrep_cluster_status"), as_int=False)
                last = st
                if all(x.get("wsrep_ready") == "ON" and x.get("wsrep_local_state") == "4"
                       and x.get("wsrep_cluster_size") == str(NODES)
                       and x.get("wsrep_cluster_status") == "Primary" for x in st):
                    return time.monotonic() - t0
            except pymysql.MySQLError as e:
                last = e
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the cluster is not ready after {timeout:.0f} s: {last}")
            time.sleep(0.25)

    def stall_marks(self) -> list[int]:
        """Sizes of the nodes' error logs: stalls_since() counts what was logged after."""
        return [os.path.getsize(p) if os.path.exists(p) else 0 for p in self.error_logs]

    def stalls_since(self, marks: list[int]) -> int:
        """Galera's complaints of a starved group-communication thread in the error logs since
        `marks`: "last inactive check more than PT1.5S ago" and "suspecting node".  A run with
        any is a run in which the machine stalled the cluster for seconds."""
        n = 0
        for path, off in zip(self.error_logs, marks):
            try:
                with open(path, "rb") as f:
                    f.seek(off)
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            n += text.count("last inactive check more than") + text.count("suspecting node")
        return n


NODE_COUNTERS = ("Com_select", "Com_stmt_execute", "Questions")


def counter_deltas(before: list[dict], after: list[dict]) -> dict[str, list[int]]:
    return {k: [a.get(k, 0) - b.get(k, 0) for b, a in zip(before, after)]
            for k in NODE_COUNTERS}


# ---- sysbench ----------------------------------------------------------------------------------

def sysbench_cmd(workload: str, port: int, args, *extra: str) -> list[str]:
    cmd = ["sysbench", workload, "--db-driver=mysql", f"--mysql-host={HOST}",
           f"--mysql-port={port}", f"--mysql-user={USER}", f"--mysql-password={PASSWORD}",
           f"--mysql-db={DB}", f"--tables={args.tables}", f"--table-size={args.table_size}",
           "--mysql-ignore-errors=none"]
    if workload == "oltp_read_only" and args.skip_trx:
        cmd.append("--skip_trx=on")
    return cmd + list(extra)


def prepare_tables(nodes: Nodes, args) -> str:
    """Create sysbench's tables on node1 unless every node already has them, complete.
    Returns what it did."""
    def complete_everywhere() -> bool:
        for i in range(NODES):
            conn = nodes.connect(i)
            try:
                with conn.cursor() as c:
                    # Reads wait until the node has applied everything ordered before them.
                    c.execute("SET SESSION wsrep_sync_wait = 1")
                    for t in range(1, args.tables + 1):
                        try:
                            c.execute(f"SELECT COUNT(*) FROM sbtest{t}")
                        except pymysql.MySQLError:
                            return False
                        if c.fetchone()[0] != args.table_size:
                            return False
            finally:
                conn.close()
        return True

    if complete_everywhere():
        return "reused"
    for step, timeout in (("cleanup", 120), ("prepare", 600)):
        r = subprocess.run(sysbench_cmd("oltp_read_only", nodes.ports[0], args, "--threads=2",
                                        step), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"sysbench {step} on node1 failed:\n{r.stdout}{r.stderr}")
    if not complete_everywhere():
        raise RuntimeError("after sysbench prepare, some node lacks rows")
    return "prepared"


def sb_float(out: str, name: str) -> float:
    m = re.search(rf"^\s*{re.escape(name)}:\s+([0-9.]+)", out, re.M)
    if not m:
        raise RuntimeError(f"no '{name}' in the sysbench report:\n{out[-3000:]}")
    return float(m.group(1))


def parse_sysbench(out: str) -> dict:
    q = re.search(r"^\s*queries:\s+(\d+)\s+\(([0-9.]+) per sec", out, re.M)
    t = re.search(r"^\s*transactions:\s+(\d+)\s+\(([0-9.]+) per sec", out, re.M)
    if not q or not t:
        raise RuntimeError(f"no 'queries:'/'transactions:' in the sysbench report:\n"
                           f"{out[-3000:]}")
    return {"queries": int(q.group(1)), "qps": float(q.group(2)),
            "transactions": int(t.group(1)), "tps": float(t.group(2)),
            "total_time_s": sb_float(out, "total time"),
            "ignored_errors": int(sb_float(out, "ignored errors")),
            "reconnects": int(sb_float(out, "reconnects")),
            "lat_avg_ms": sb_float(out, "avg"), "lat_p95_ms": sb_float(out, "95th percentile"),
            "lat_max_ms": sb_float(out, "max")}


def run_sysbench(workload: str, port: int, args, seconds: int, rate_trx: int) -> dict:
    """One sysbench run; raises RuntimeError with the report's tail when it fails."""
    extra = [f"--threads={args.threads}", f"--time={seconds}", f"--db-ps-mode={args.ps_mode}",
             "--percentile=95", "--rand-type=uniform", "--report-interval=0"]
    if rate_trx:
        extra.append(f"--rate={rate_trx}")
    r = subprocess.run(sysbench_cmd(workload, port, args, *extra, "run"), capture_output=True,
                       text=True, timeout=seconds + 60)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "FATAL" in out:
        raise RuntimeError(f"sysbench {workload} on port {port} exited with {r.returncode}:\n"
                           f"{out[-2000:]}")
    res = parse_sysbench(out)
    if res["ignored_errors"] or res["reconnects"]:
        raise RuntimeError(f"sysbench had errors or reconnects:\n{out[-2000:]}")
    return res


# ---- system call counting ----------------------------------------------------------------------

class PerfCounter:
    """`perf stat -e raw_syscalls:sys_enter -p PID`, counting exactly between enable() and
    disable(): perf starts with its events off (-D -1) and answers every command on its control
    FIFO with "ack", so the window is known to be open before the run starts."""

    def __init__(self, pid: int, workdir: str, tag: str):
        self.ctl = os.path.join(workdir, f"perf-{tag}.ctl")
        self.ack = os.path.join(workdir, f"perf-{tag}.ack")
        self.out = os.path.join(workdir, f"perf-{tag}.out")
        for p in (self.ctl, self.ack):
            if os.path.exists(p):
                os.unlink(p)
            os.mkfifo(p)
        self.proc = subprocess.Popen(
            ["perf", "stat", "-e", "raw_syscalls:sys_enter", "-x", ",", "-o", self.out,
             "-D", "-1", "--control", f"fifo:{self.ctl},{self.ack}", "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Opening a FIFO blocks until the other side opens it; perf opens both at start.  A
        # perf that dies first would leave us blocked, so open in non-blocking mode and poll.
        self.ctl_fd = self._open(self.ctl, os.O_WRONLY)
        self.ack_fd = self._open(self.ack, os.O_RDONLY)

    def _open(self, path: str, mode: int) -> int:
        deadline = time.monotonic() + 10
        while True:
            try:
                return os.open(path, mode | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader on the FIFO yet
                if mode == os.O_RDONLY:
                    raise
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"perf stat did not start: "
                                   f"{self.proc.stderr.read().decode(errors='replace')[-500:]}"
                                   if self.proc.poll() is not None else "perf stat: no FIFO")
            time.sleep(0.02)

    def _command(self, word: str) -> None:
        os.write(self.ctl_fd, word.encode() + b"\n")
        deadline = time.monotonic() + 10
        got = b""
        while b"ack" not in got:
            try:
                got += os.read(self.ack_fd, 64)
            except BlockingIOError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"perf stat did not acknowledge '{word}'")
            time.sleep(0.005)

    def enable(self) -> None:
        self._command("enable")

    def disable(self) -> None:
        self._command("disable")

    def finish(self) -> int:
        """Stop perf (SIGINT: it writes its counts and exits) and return the count."""
        self.close()
        with open(self.out) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) > 2 and parts[2] == "raw_syscalls:sys_enter":
                    return int(parts[0])
        raise RuntimeError(f"no count in perf's output {self.out}")

    def close(self) -> None:
        """Idempotent; also the cleanup path after an error."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in ("ctl_fd", "ack_fd"):
            if getattr(self, fd, None) is not None:
                os.close(getattr(self, fd))
                setattr(self, fd, None)


def perf_works() -> tuple[bool, str]:
    """Whether perf can count syscall tracepoints here (needs root or a low
    perf_event_paranoid, and tracefs)."""
    if not shutil.which("perf"):
        return False, "perf is not installed (Debian package linux-perf)"
    try:
        r = subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter", "-x", ",", "--",
                            "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"perf stat failed: {e}"
    m = re.search(r"^(\d+),,raw_syscalls:sys_enter", r.stderr, re.M)
    if r.returncode != 0 or not m or int(m.group(1)) == 0:
        return False, f"perf stat cannot count raw_syscalls:sys_enter: {r.stderr.strip()[-300:]}"
    return True, f"perf stat counted {m.group(1)} syscalls of /bin/true"


def strace_count(pid: int, workdir: str, tag: str, run) -> tuple[int, dict, object]:
    """Attach `strace -c -f -p PID` (all threads), call run(), detach; return strace's total
    call count, the count per system call and run()'s result.  strace stops the process at
    every system call, so the run under it is slow and only serves to count calls per
    query."""
    out = os.path.join(workdir, f"strace-{tag}.out")
    proc = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # strace says "Process PID attached" for every thread once it holds them.
        deadline = time.monotonic() + 10
        seen = b""
        os.set_blocking(proc.stderr.fileno(), False)
        while b"attached" not in seen:
            chunk = proc.stderr.read() or b""
            seen += chunk
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"strace did not attach: {seen.decode(errors='replace')}")
            time.sleep(0.02)
        res = run()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # Rows: % time, seconds, usecs/call, calls, [errors,] syscall; the last is "total".
    per_call = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[3].isdigit():
                if parts[-1] == "total":
                    return int(parts[3]), per_call, res
                per_call[parts[-1]] = int(parts[3])
    raise RuntimeError(f"no total line in strace's summary {out}")


# ---- HAProxy -----------------------------------------------------------------------------------

def haproxy_config(nodes: Nodes, port: int, one_node_port: int) -> str:
    servers = "\n".join(f"    server {nodes.name(i)} {HOST}:{nodes.ports[i]} check inter 1s"
                        for i in range(NODES))
    return f"""\
# Written by bench/proxy_compare.py: layer-4 round-robin over the three Galera nodes, and a
# second frontend that sends everything to node1.
global
    nbthread {PROXY_THREADS}
    maxconn {HAPROXY_MAXCONN}

defaults
    mode tcp
    timeout connect 1s
    timeout client 1h
    timeout server 1h

frontend galera_in
    bind {HOST}:{port}
    default_backend galera

backend galera
    balance roundrobin
    # TCP connect checks: a node that refuses connections leaves the rotation.
{servers}

frontend node1_in
    bind {HOST}:{one_node_port}
    default_backend node1

backend node1
    server {nodes.name(0)} {HOST}:{nodes.ports[0]} check inter 1s
"""


class HAProxy:
    """A haproxy process owned by this script, in the foreground (-db), stopped by PID."""

    def __init__(self, workdir: str, config: str, name: str):
        self.config_path = os.path.join(workdir, f"{name}.cfg")
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.proc: subprocess.Popen | None = None
        self._log = None

    def check(self) -> None:
        r = subprocess.run([HAPROXY, "-c", "-f", self.config_path], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"haproxy -c refused {self.config_path}:\n{r.stdout}{r.stderr}")

    def start(self) -> None:
        self.check()
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> int | None:
        """SIGTERM by PID (haproxy's hard stop), SIGKILL after 10 s; idempotent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


# ---- sluice ------------------------------------------------------------------------------------

def sluice_config(nodes: Nodes, tcp_port: int, mysql_port: int, monitor_pw: str,
                  io_engine: str = "auto", one_node_port: int = 0) -> str:
    """Two listeners on one sluice: layer 4 (route: readers, round-robin over every healthy
    node, as HAProxy) and the MySQL protocol (read/write split; primary_reads so that reads
    use all three nodes, as HAProxy; causal_reads left at its default, session).  With
    one_node_port, a third: the MySQL protocol on a second entry for the same cluster whose
    nodes 2 and 3 have weight 0, so that node1 (the writer) serves every read."""
    def node_lines(weights: tuple[int, ...]) -> str:
        return "\n".join(
            f'      - {{ name: {nodes.name(i)}, address: "{HOST}:{nodes.ports[i]}", '
            f'priority: {i + 1}, weight: {weights[i]} }}' for i in range(NODES))
    monitor = (f"{{ user: {MONITOR_USER}, password_file: {monitor_pw}, interval: 250ms,\n"
               f"               timeout: 500ms }}")
    one_listener = one_cluster = ""
    if one_node_port:
        one_listener = (f'  - {{ name: app1, bind: "{HOST}:{one_node_port}", mode: mysql, '
                        f'cluster: galera1,\n      primary_reads: true }}\n')
        one_cluster = (f"  - name: galera1\n    type: galera\n    monitor: {monitor}\n"
                       f"    nodes:\n{node_lines((1,) + (0,) * (NODES - 1))}\n")
    return f"""\
# Written by bench/proxy_compare.py.
workers: {PROXY_THREADS}
io_engine: {io_engine}
listeners:
  - {{ name: l4, bind: "{HOST}:{tcp_port}", mode: tcp, cluster: galera, route: readers }}
  - {{ name: app, bind: "{HOST}:{mysql_port}", mode: mysql, cluster: galera,
      primary_reads: true }}
{one_listener}clusters:
  - name: galera
    type: galera
    monitor: {monitor}
    nodes:
{node_lines((1,) * NODES)}
{one_cluster}users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
logging: {{ level: info }}
"""


def check_sluice_config(binary: str, path: str) -> None:
    r = subprocess.run([binary, "--check", "-c", path], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"sluice --check refused {path}:\n{r.stdout}{r.stderr}")


# ---- readiness ---------------------------------------------------------------------------------

def spread_nodes(target: str) -> int:
    """How many nodes a target's reads reach when it is ready."""
    return 1 if target.endswith("-1node") else NODES


def wait_spread(port: int, what: str, check_alive, timeout: float = 30.0,
                nodes: int = NODES) -> dict[str, int]:
    """Connect to a target again and again (a few reads per connection) until reads have come
    from `nodes` nodes (all three by default); returns how many reads each node served.  This is the readiness
    check of a proxy: its listener accepts, logs in, and reaches every node.  check_alive()
    raises if the proxy process has exited."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    last = None
    while len(seen) < nodes:
        check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: reads reached only {sorted(seen)} within {timeout:.0f} "
                               f"s (last error {last!r})")
        try:
            conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD,
                                   database=DB, connect_timeout=5, read_timeout=10,
                                   autocommit=True)
            try:
                with conn.cursor() as c:
                    for _ in range(3):
                        c.execute("SELECT @@wsrep_node_name")
                        name = c.fetchone()[0]
                        seen[name] = seen.get(name, 0) + 1
            finally:
                conn.close()
        except pymysql.MySQLError as e:
            last = e
            time.sleep(0.1)
    return seen


class Proxies:
    """The HAProxy and the sluice of one phase, with their ports; started together and stopped
    together, each by its own PID."""

    def __init__(self, workdir: str, nodes: Nodes, monitor_pw: str, binary: str, tag: str):
        ports: set[int] = set()
        while len(ports) < 7:
            ports.add(free_port())
        self.ports = dict(zip(("haproxy", "haproxy-1node", "sluice-tcp", "sluice-mysql",
                               "sluice-mysql-1node", "sluice-tcp-epoll", "sluice-mysql-epoll"),
                              sorted(ports)))
        self.ports["direct"] = nodes.ports[0]
        self.haproxy = HAProxy(workdir, haproxy_config(nodes, self.ports["haproxy"],
                                                       self.ports["haproxy-1node"]),
                               f"haproxy-{tag}")
        self.sluice_yaml = sluice_config(nodes, self.ports["sluice-tcp"],
                                         self.ports["sluice-mysql"], monitor_pw,
                                         one_node_port=self.ports["sluice-mysql-1node"])
        self.sluice = Sluice(workdir, self.sluice_yaml, f"sluice-{tag}")
        self.sluice_epoll_yaml = sluice_config(nodes, self.ports["sluice-tcp-epoll"],
                                               self.ports["sluice-mysql-epoll"], monitor_pw,
                                               io_engine="epoll")
        self.sluice_epoll = Sluice(workdir, self.sluice_epoll_yaml, f"sluice-epoll-{tag}")
        self.binary = binary
        self.spread: dict[str, dict[str, int]] = {}
        self.stopped = False

    def start(self, which: tuple[str, ...] = ("haproxy", "sluice", "sluice-epoll")) -> None:
        if "haproxy" in which:
            self.haproxy.start()
            for t in ("haproxy", "haproxy-1node"):
                self.spread[t] = wait_spread(self.ports[t], t, self.check_alive,
                                             nodes=spread_nodes(t))
        for name, sl, suffix in (("sluice", self.sluice, ""),
                                 ("sluice-epoll", self.sluice_epoll, "-epoll")):
            if name not in which:
                continue
            check_sluice_config(self.binary, sl.config_path)
            sl.start()
            sl.wait_log(r"writer is node1\b", 30)
            for t in ("sluice-tcp" + suffix, "sluice-mysql" + suffix):
                self.spread[t] = wait_spread(self.ports[t], t, self.check_alive)
            if not suffix:
                t = "sluice-mysql-1node"
                self.spread[t] = wait_spread(self.ports[t], t, self.check_alive,
                                             nodes=spread_nodes(t))

    def pid(self, target: str) -> int | None:
        if target.startswith("haproxy"):
            return self.haproxy.pid
        if target.startswith("sluice"):
            return (self.sluice_epoll if target.endswith("-epoll") else self.sluice).pid
        return None

    def check_alive(self) -> None:
        if self.haproxy.proc is not None and not self.haproxy.alive():
            raise RuntimeError(f"haproxy exited with {self.haproxy.proc.returncode}:\n"
                               f"{self.haproxy.log()[-2000:]}")
        for sl in (self.sluice, self.sluice_epoll):
            if sl.proc is not None and sl.proc.poll() is not None:
                raise RuntimeError(f"sluice exited with {sl.proc.returncode}:\n"
                                   f"{sl.log()[-2000:]}")

    def stop(self) -> list[str]:
        """Stop both (whatever happens to one, the other is stopped too); returns problems.
        Idempotent: the cleanup path calls it again for every phase."""
        if self.stopped:
            return []
        self.stopped = True
        problems = []
        try:
            rc = self.haproxy.stop()
            if rc not in (None, 0, -signal.SIGTERM, 128 + signal.SIGTERM):
                problems.append(f"haproxy exited with {rc}")
        except Exception as e:
            problems.append(f"stopping haproxy: {e}")
        for sl in (self.sluice, self.sluice_epoll):
            try:
                rc = sl.stop()  # 0 also for one never started (an idle-clients phase)
                if rc != 0:
                    problems.append(f"sluice exited with {rc}; log {sl.log_path}")
            except Exception as e:
                problems.append(f"stopping sluice: {e}")
        return problems


# ---- one measured run --------------------------------------------------------------------------

def rate_for(workload: str, args) -> int:
    """sysbench's --rate (transactions/s) for --rate (queries/s)."""
    key = workload + ("/skip_trx" if workload == "oltp_read_only" and args.skip_trx else "")
    return max(1, round(args.rate / QUERIES_PER_TRX[key]))


def one_run(px: Proxies, nodes: Nodes, target: str, workload: str, load: str, rnd: int,
            args, workdir: str, syscall_method: str) -> dict:
    """Run sysbench against one target and measure the proxy around it.  A failed run is
    returned with its error, so the other runs still happen."""
    rate_trx = rate_for(workload, args) if load == "rate" else 0
    out = {"round": rnd, "target": target, "workload": workload, "load": load,
           "rate_trx_per_s": rate_trx or None, "port": px.ports[target]}
    pid = px.pid(target)
    tag = f"r{rnd}-{workload}-{load}-{target}"
    perf = None
    try:
        px.check_alive()
        # Start from a whole cluster that the proxy reaches completely: after a stall the
        # nodes, then sluice's monitor (rise: 2 checks), take a moment to come back.
        out["ready_wait_s"] = round(nodes.wait_ready(), 2)
        if target != "direct":
            wait_spread(px.ports[target], target, px.check_alive, nodes=spread_nodes(target))
        marks = nodes.stall_marks()
        node0 = nodes.status(NODE_COUNTERS)
        m0 = cpu_times()
        if pid is not None:
            ticks0 = proc_cpu_ticks(pid)
        t0 = time.monotonic()
        sb = run_sysbench(workload, px.ports[target], args, args.time, rate_trx)
        wall = time.monotonic() - t0
        if pid is not None:
            ticks1 = proc_cpu_ticks(pid)
        m1 = cpu_times()
        node1 = nodes.status(NODE_COUNTERS)
        out["galera_stalls"] = nodes.stalls_since(marks)
        out.update(sb)
        out["wall_s"] = round(wall, 2)
        out["machine_cpu"] = cpu_shares(m0, m1)
        out["node_counters"] = counter_deltas(node0, node1)
        if pid is not None:
            cpu_s = (ticks1 - ticks0) / CLK_TCK
            out["proxy_cpu_s"] = round(cpu_s, 2)
            out["proxy_cpu_pct"] = round(100 * cpu_s / wall, 1)
            out["cpu_us_per_query"] = round(1e6 * cpu_s / sb["queries"], 2)
            out["rss_kb"] = proc_status_kb(pid, "VmRSS")
            out["hwm_kb"] = proc_status_kb(pid, "VmHWM")
            if syscall_method == "perf":
                # A separate, short run under perf: perf's counters cost a process at every
                # context switch of its threads, which inflated the timed run's CPU (the mysql
                # listener at one thread, whose worker changes CPU about every other query,
                # measured 57 us a query with perf attached and 46-47 without).
                perf = PerfCounter(pid, workdir, tag)
                perf.enable()
                sb2 = run_sysbench(workload, px.ports[target], args, args.strace_time, rate_trx)
                perf.disable()
                n = perf.finish()
                perf = None
                out["syscalls"] = n
                out["syscalls_per_query"] = round(n / sb2["queries"], 3)
                out["syscall_method"] = f"perf ({args.strace_time} s extra run)"
            elif syscall_method == "strace":
                # A separate, short run under strace: it slows the proxy down a lot, so its
                # QPS and CPU are not used, only calls per query.
                n, per_call, sb2 = strace_count(pid, workdir, tag, lambda: run_sysbench(
                    workload, px.ports[target], args, args.strace_time, rate_trx))
                out["syscalls"] = n
                out["syscalls_per_query"] = round(n / sb2["queries"], 3)
                out["syscall_method"] = f"strace ({args.strace_time} s extra run)"
                out["strace_run"] = {
                    "queries": sb2["queries"], "qps": sb2["qps"],
                    "per_query": {k: round(v / sb2["queries"], 3) for k, v in
                                  sorted(per_call.items(), key=lambda kv: -kv[1])}}
    except (RuntimeError, OSError, pymysql.MySQLError, subprocess.SubprocessError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        if perf is not None:
            perf.close()
    return out


def plan(args) -> list[tuple[int, str, str, str]]:
    """(round, workload, load, target) in order.  Within a round every workload runs all its
    targets one after the other, in TARGETS order (direct, haproxy, ...) in odd rounds and
    the reverse in even rounds, so a slow drift of the shared machine favours no target."""
    loads = ([] if args.rate_only else ["max"]) + (["rate"] if args.rate else [])
    out = []
    for rnd in range(1, args.rounds + 1):
        order = list(args.targets) if rnd % 2 else list(reversed(args.targets))
        for wl in args.workloads:
            for load in loads:
                for t in order:
                    out.append((rnd, wl, load, t))
    return out


# ---- idle clients ------------------------------------------------------------------------------

def tcp_established(remote_ports: list[int]) -> list[tuple[int, int]]:
    """(remote port, socket inode) of every ESTABLISHED IPv4 TCP socket on this machine whose
    peer port is one of remote_ports, from /proc/net/tcp: the client side of connections to
    the nodes.  Needs no SQL connection, which a node at max_connections would refuse."""
    hexports = {f"{p:04X}": p for p in remote_ports}
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            port = hexports.get(parts[2].rsplit(":", 1)[1])
            if port is not None and parts[3] == "01":
                out.append((port, int(parts[9])))
    return out


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets a process holds (its /proc/PID/fd links "socket:[N]")."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def backend_conns(pid: int, nodes: Nodes) -> list[int]:
    """Connections the process holds to each node."""
    mine = socket_inodes(pid)
    conns = tcp_established(nodes.ports)
    return [sum(1 for port, ino in conns if port == p and ino in mine) for p in nodes.ports]


def wait_node_conns(nodes: Nodes, limit: int, timeout: float = 30.0) -> int:
    """Wait until at most `limit` connections to the nodes are open on this machine (a proxy's
    connections close asynchronously after its clients go); returns the last count."""
    deadline = time.monotonic() + timeout
    while True:
        n = len(tcp_established(nodes.ports))
        if n <= limit or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def idle_clients(px: Proxies, nodes: Nodes, target: str, n: int, deadline_s: float) -> dict:
    """Open n PyMySQL connections through a freshly started proxy, one after the other, each
    running SELECT 1 and then staying open and idle; the proxy's RSS before and after gives
    the memory per logged-in idle client.  Clients the proxy or a node refused are counted by
    error code, and the proxy's connections to the nodes are counted."""
    pid = px.pid(target)
    port = px.ports[target]
    # The readiness check's clients are gone; wait until the proxy has closed their backend
    # connections too (sluice's monitor keeps at most one per node).
    deadline = time.monotonic() + 30
    while sum(bc0 := backend_conns(pid, nodes)) > NODES and time.monotonic() < deadline:
        time.sleep(0.1)
    rss0 = proc_status_kb(pid, "VmRSS")
    conns = []
    errors: dict[str, int] = {}
    first_error: dict[str, str] = {}
    t0 = time.monotonic()
    tried = 0
    try:
        for k in range(n):
            if time.monotonic() - t0 > deadline_s:
                break
            tried += 1
            try:
                conns.append(open_session(HOST, port, USER, PASSWORD, DB, 10, 30))
            except pymysql.MySQLError as e:
                code = str(e.args[0]) if e.args else type(e).__name__
                errors[code] = errors.get(code, 0) + 1
                first_error.setdefault(code, f"client {k + 1}: {e}"[:300])
            if (k + 1) % 500 == 0:
                log(f"  {target}: {k + 1}/{n} tried, {len(conns)} logged in")
        open_s = time.monotonic() - t0
        rss1 = proc_status_kb(pid, "VmRSS")
        bc1 = backend_conns(pid, nodes)
        ok = len(conns)
        return {"target": target, "requested": n, "tried": tried, "succeeded": ok,
                "failed": sum(errors.values()), "stopped_at_deadline": tried < n,
                "errors": errors,
                "first_error": first_error, "open_s": round(open_s, 1),
                "rss_before_kb": rss0, "rss_after_kb": rss1,
                "rss_per_client_kb": round((rss1 - rss0) / ok, 2) if ok else None,
                "backend_conns_before": bc0, "backend_conns_after": bc1,
                "backend_conns_per_client": round((sum(bc1) - sum(bc0)) / ok, 2) if ok
                else None}
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:
                pass


# ---- summary, tables, plot ---------------------------------------------------------------------

def fmt(v, nd: int = 1) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def render(rows: list[list[str]], right_from: int = 1) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.ljust(w) if i < right_from else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def summarize(runs: list[dict]) -> list[dict]:
    """Means over the rounds per (workload, load, target), with ratios to HAProxy."""
    keys = []
    for r in runs:
        k = (r["workload"], r["load"], r["target"])
        if k not in keys:
            keys.append(k)
    out = []
    for wl, load, t in keys:
        ok = [r for r in runs if (r["workload"], r["load"], r["target"]) == (wl, load, t)
              and "error" not in r]
        failed = sum(1 for r in runs if (r["workload"], r["load"], r["target"]) ==
                     (wl, load, t) and "error" in r)
        s = {"workload": wl, "load": load, "target": t, "runs": len(ok), "failed": failed,
             "qps": mean([r["qps"] for r in ok]),
             "qps_min": min((r["qps"] for r in ok), default=None),
             "qps_max": max((r["qps"] for r in ok), default=None),
             "p95_ms": mean([r["lat_p95_ms"] for r in ok]),
             "avg_ms": mean([r["lat_avg_ms"] for r in ok]),
             "cpu_us_per_query": mean([r.get("cpu_us_per_query") for r in ok]),
             "proxy_cpu_pct": mean([r.get("proxy_cpu_pct") for r in ok]),
             "syscalls_per_query": mean([r.get("syscalls_per_query") for r in ok]),
             "syscall_method": next((r["syscall_method"] for r in ok
                                     if "syscall_method" in r), None),
             "rss_mib": max((r["rss_kb"] / 1024 for r in ok if "rss_kb" in r), default=None),
             "busy_pct": mean([r["machine_cpu"]["busy_pct"] for r in ok]),
             "runs_with_stalls": sum(1 for r in ok if r.get("galera_stalls"))}
        out.append(s)
    def ratio(s, base, key):
        h = next((x for x in out if (x["workload"], x["load"], x["target"]) ==
                  (s["workload"], s["load"], base)), None)
        return (s[key] / h[key]) if h and h[key] and s[key] else None

    for s in out:
        s["qps_vs_haproxy"] = ratio(s, "haproxy", "qps")
        s["cpu_vs_haproxy"] = ratio(s, "haproxy", "cpu_us_per_query")
        # Against HAProxy sending everything to node1, where sluice-mysql-1node's reads and
        # sluice-mysql's transactions go: the proxies' costs with the same node spread.
        s["cpu_vs_haproxy_1node"] = ratio(s, "haproxy-1node", "cpu_us_per_query")
    return out


def load_label(load: str, args) -> str:
    return "max" if load == "max" else f"{args.rate}/s"


def runs_table(runs: list[dict], args) -> str:
    rows = [["round", "workload", "load", "target", "QPS", "p95 ms", "avg ms", "proxy CPU %",
             "CPU us/q", "syscalls/q", "RSS MiB", "busy %", "stalls", "reads node1/2/3"]]
    for r in runs:
        if "error" in r:
            rows.append([str(r["round"]), r["workload"], load_label(r["load"], args),
                         r["target"], "FAILED"] + ["-"] * 9)
            continue
        nc = r["node_counters"]
        # A prepared SELECT's execution counts in both Com_stmt_execute and Com_select.
        reads = nc["Com_select"]
        rows.append([str(r["round"]), r["workload"], load_label(r["load"], args), r["target"],
                     f"{r['qps']:.0f}", fmt(r["lat_p95_ms"], 2), fmt(r["lat_avg_ms"], 2),
                     fmt(r.get("proxy_cpu_pct")), fmt(r.get("cpu_us_per_query")),
                     fmt(r.get("syscalls_per_query"), 2),
                     fmt(r["rss_kb"] / 1024 if "rss_kb" in r else None),
                     fmt(r["machine_cpu"]["busy_pct"], 0), str(r.get("galera_stalls", "-")),
                     "/".join(str(x) for x in reads)])
    return render(rows, right_from=4)


def summary_table(ss: list[dict], args) -> str:
    rows = [["workload", "load", "target", "runs", "QPS", "QPS min-max", "p95 ms", "avg ms",
             "CPU us/q", "syscalls/q", "RSS MiB", "QPS vs HAProxy", "CPU vs HAProxy",
             "CPU vs HAProxy 1node"]]
    for s in ss:
        rng = "-" if s["qps_min"] is None else f"{s['qps_min']:.0f}-{s['qps_max']:.0f}"
        rows.append([s["workload"], load_label(s["load"], args), s["target"],
                     str(s["runs"]) + (f" ({s['failed']} failed)" if s["failed"] else "")
                     + (f" ({s['runs_with_stalls']} stalled)" if s["runs_with_stalls"] else ""),
                     fmt(s["qps"], 0), rng, fmt(s["p95_ms"], 2), fmt(s["avg_ms"], 2),
                     fmt(s["cpu_us_per_query"]), fmt(s["syscalls_per_query"], 2),
                     fmt(s["rss_mib"]), fmt(s["qps_vs_haproxy"], 2),
                     fmt(s["cpu_vs_haproxy"], 2), fmt(s["cpu_vs_haproxy_1node"], 2)])
    return render(rows, right_from=3)


def idle_table(idle: list[dict]) -> str:
    rows = [["target", "clients", "logged in", "failed (code: count)", "RSS before MiB",
             "RSS after MiB", "KiB/client", "backend conns/client", "open s"]]
    for r in idle:
        if "error" in r:
            rows.append([r["target"], str(r.get("requested", "-")), "FAILED"] + ["-"] * 6)
            continue
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        rows.append([r["target"], str(r["requested"]), str(r["succeeded"]), errs,
                     fmt(r["rss_before_kb"] / 1024), fmt(r["rss_after_kb"] / 1024),
                     fmt(r["rss_per_client_kb"]), fmt(r["backend_conns_per_client"], 2),
                     fmt(r["open_s"])])
    return render(rows, right_from=1)


def write_csv(path: str, ss: list[dict]) -> None:
    cols = ["workload", "load", "target", "runs", "failed", "qps", "qps_min", "qps_max",
            "p95_ms", "avg_ms", "cpu_us_per_query", "proxy_cpu_pct", "syscalls_per_query",
            "syscall_method", "rss_mib", "qps_vs_haproxy", "cpu_vs_haproxy",
            "cpu_vs_haproxy_1node", "busy_pct",
            "runs_with_stalls"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for s in ss:
            w.writerow(["" if s[c] is None else (round(s[c], 3) if isinstance(s[c], float)
                                                  else s[c]) for c in cols])


def plot(path: str, ss: list[dict], args, title: str) -> str:
    """Bar charts of QPS, p95 and CPU per query per workload and target.  matplotlib if
    python3-matplotlib is installed, else gnuplot; returns what was done."""
    groups = []
    for s in ss:
        g = (s["workload"], s["load"])
        if g not in groups:
            groups.append(g)
    targets = [t for t in TARGETS if any(s["target"] == t for s in ss)]

    def val(g, t, key):
        s = next((x for x in ss if (x["workload"], x["load"], x["target"]) == (*g, t)), None)
        return (s[key] if s and s[key] is not None else 0.0)

    metrics = [("qps", "QPS (mean of rounds)"), ("p95_ms", "p95 latency, ms"),
               ("cpu_us_per_query", "proxy CPU, us per query"),
               ("syscalls_per_query", "proxy syscalls per query")]
    glabels = [f"{wl.replace('oltp_', '')}\n{load_label(ld, args)}" for wl, ld in groups]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, axes = plt.subplots(2, 2, figsize=(11, 8))
        axes = list(axes.flat)
        width = 0.8 / len(targets)
        for ax, (key, label) in zip(axes, metrics):
            for k, t in enumerate(targets):
                xs = [g + (k - (len(targets) - 1) / 2) * width for g in range(len(groups))]
                ax.bar(xs, [val(g, t, key) for g in groups], width, label=t)
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels(glabels, fontsize=8)
            ax.set_title(label, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return f"plot (matplotlib): {path}"
    if shutil.which("gnuplot"):
        data = path[:-4] + ".dat"
        with open(data, "w") as f:
            f.write("# group " + " ".join(f"{t}/{k}" for k, _ in metrics for t in targets)
                    + "\n")
            for g, gl in zip(groups, glabels):
                f.write(gl.replace("\n", "/") + " " + " ".join(
                    f"{val(g, t, k):.3f}" for k, _ in metrics for t in targets) + "\n")
        script = ["set terminal png size 1100,800",
                  f"set output '{path}'", "set style data histograms",
                  "set style histogram clustered gap 1", "set style fill solid",
                  "set yrange [0:*]", "set termoption noenhanced", "set key top left",
                  "set xtics rotate by -20",
                  f"set multiplot layout 2,2 title '{title}'"]
        for m, (key, label) in enumerate(metrics):
            cols = [2 + m * len(targets) + k for k in range(len(targets))]
            script.append(f"set title '{label}'")
            script.append("plot " + ", ".join(
                f"'{data}' using {c}:xtic(1) title '{t}'" for c, t in zip(cols, targets)))
        script.append("unset multiplot")
        r = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                           capture_output=True, timeout=60)
        os.unlink(data)
        if r.returncode == 0:
            return f"plot (gnuplot): {path}"
        return f"no plot: gnuplot failed: {r.stderr.strip()[-300:]}"
    return ("no plot: neither python3-matplotlib nor gnuplot is installed; "
            "`apt-get install -y python3-matplotlib` (Debian) adds it")


# ---- machine description -------------------------------------------------------------------------

def machine_info(nodes: Nodes, binary: str, binary_copy: str) -> dict:
    info = {"nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "loadavg": loadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else None
    except OSError:
        pass

    def first_line(cmd: list[str]) -> str | None:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None
    info["sysbench"] = first_line(["sysbench", "--version"])
    info["haproxy"] = first_line([HAPROXY, "-v"])
    info["perf"] = first_line(["perf", "--version"])
    info["sluice"] = first_line([binary_copy, "--version"])
    info["sluice_binary"] = os.path.abspath(binary)
    try:
        st = os.stat(binary)
        info["sluice_binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                    time.localtime(st.st_mtime))
        with open(binary_copy, "rb") as f:
            info["sluice_binary_sha256"] = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        pass
    git = ["git", "-C", REPO]
    info["git_commit"] = first_line(git + ["rev-parse", "HEAD"])
    try:
        conn = nodes.connect(0)
        try:
            with conn.cursor() as c:
                c.execute("SELECT VERSION()")
                info["mariadb"] = c.fetchone()[0]
                c.execute("SHOW GLOBAL STATUS LIKE 'wsrep_provider_version'")
                info["galera"] = c.fetchone()[1]
                c.execute("SELECT @@max_connections")
                info["node_max_connections"] = c.fetchone()[0]
        finally:
            conn.close()
    except pymysql.MySQLError:
        pass
    return info


# ---- main --------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Compare sluice (mode tcp and mode mysql) with HAProxy and a direct "
                    "connection: sysbench QPS and latency, the proxy's CPU and system calls "
                    "per query, RSS; optionally RSS per idle client.  Needs root.")
    ap.add_argument("--time", type=int, default=20, help="seconds per sysbench run (default 20)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over every target (default 2)")
    ap.add_argument("--threads", type=int, default=8,
                    help="sysbench threads (default 8; 1 for a latency run)")
    ap.add_argument("--rate", type=int, default=0,
                    help="also run every target at this fixed rate, in queries/s (sysbench "
                         "--rate, converted to transactions/s per workload); default off")
    ap.add_argument("--rate-only", action="store_true",
                    help="with --rate: only the fixed-rate runs, no saturation runs")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated (default {','.join(WORKLOADS)})")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help=f"comma-separated, in this order in odd rounds (default "
                         f"{','.join(TARGETS)})")
    ap.add_argument("--skip-trx", action="store_true",
                    help="oltp_read_only with --skip_trx=on (autocommit reads, no BEGIN/COMMIT);"
                         " default: sysbench's default, one transaction per event")
    ap.add_argument("--ps-mode", choices=("auto", "disable"), default="auto",
                    help="sysbench --db-ps-mode: auto = server-side prepared statements, "
                         "disable = text queries (default auto)")
    ap.add_argument("--tables", type=int, default=4, help="sysbench tables (default 4)")
    ap.add_argument("--table-size", type=int, default=10000,
                    help="rows per table (default 10000)")
    ap.add_argument("--syscalls", choices=("auto", "perf", "strace", "off"), default="auto",
                    help="how to count the proxy's system calls, on a short extra run after "
                         "each timed one: perf stat, strace -c, or not; auto = perf if it "
                         "works, else strace (default auto)")
    ap.add_argument("--strace-time", type=int, default=3,
                    help="seconds of the extra run that counts system calls (perf or strace; "
                         "default 3)")
    ap.add_argument("--idle-clients", type=int, default=0,
                    help="also measure RSS per idle logged-in client with this many clients "
                         "(default 0: off)")
    ap.add_argument("--idle-only", action="store_true",
                    help="with --idle-clients: skip the sysbench runs")
    ap.add_argument("--idle-timeout", type=float, default=300,
                    help="seconds allowed for opening the idle clients, per proxy (default 300)")
    ap.add_argument("--cluster-port", type=int, default=0,
                    help="use an already running cluster whose node1 listens here (nodes at "
                         "+10, +20; user sluice_test and monitor must exist) instead of "
                         "starting one")
    ap.add_argument("--base-port", type=int, default=17000,
                    help="node1's SQL port of the cluster this script starts (default 17000)")
    ap.add_argument("--sluice-bin", default=os.path.join(REPO, "build", "src", "sluice"),
                    help="the daemon (default build/src/sluice); copied to the temporary "
                         "directory at the start, so a rebuild during the run changes nothing")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"),
                    help="where the JSON, CSV and PNG go (default bench/results)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (configs, logs, cluster data)")
    a = ap.parse_args(argv)
    a.workloads = [w for w in a.workloads.split(",") if w]
    a.targets = [t for t in a.targets.split(",") if t]
    if any(w not in WORKLOADS for w in a.workloads) or not a.workloads:
        ap.error(f"--workloads: choose from {', '.join(WORKLOADS)}")
    if any(t not in TARGETS for t in a.targets) or not a.targets:
        ap.error(f"--targets: choose from {', '.join(TARGETS)}")
    if not 1 <= a.time <= 600 or not 1 <= a.rounds <= 20 or not 1 <= a.threads <= 256:
        ap.error("--time 1..600, --rounds 1..20, --threads 1..256")
    if a.rate < 0 or (a.rate_only and not a.rate):
        ap.error("--rate must be positive; --rate-only needs --rate")
    if not 0 <= a.idle_clients <= 20000 or (a.idle_only and not a.idle_clients):
        ap.error("--idle-clients 0..20000; --idle-only needs --idle-clients")
    if not 1 <= a.strace_time <= 60:
        ap.error("--strace-time 1..60")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    me = "proxy_compare.py"
    if os.geteuid() != 0:
        print(f"{me}: must run as root (mariadbd runs as mysql; perf and strace attach to "
              f"the proxies)", file=sys.stderr)
        return EXIT_FAIL
    for need, what in ((args.sluice_bin, "the sluice binary (ninja -C build)"),
                       (HAPROXY, "haproxy (Debian package haproxy)")):
        if not os.access(need, os.X_OK):
            print(f"{me}: no {what} at {need}", file=sys.stderr)
            return EXIT_FAIL
    if not shutil.which("sysbench"):
        print(f"{me}: sysbench is not installed", file=sys.stderr)
        return EXIT_FAIL
    # Every idle client is a socket here and, through a proxy, one or two more there.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * args.idle_clients + 1000))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if args.idle_clients + 200 > want:
        print(f"{me}: --idle-clients {args.idle_clients} needs ~{args.idle_clients + 200} file "
              f"descriptors; the hard limit is {hard}", file=sys.stderr)
        return EXIT_FAIL

    syscall_method, syscall_note = "off", "not counted (--syscalls off)"
    if args.syscalls in ("auto", "perf"):
        ok, syscall_note = perf_works()
        if ok:
            syscall_method = "perf"
        elif args.syscalls == "perf":
            print(f"{me}: {syscall_note}", file=sys.stderr)
            return EXIT_FAIL
    if syscall_method == "off" and args.syscalls in ("auto", "strace"):
        if shutil.which("strace"):
            syscall_method = "strace"
            syscall_note = (syscall_note + "; " if args.syscalls == "auto" else "") + \
                f"strace -c -f on an extra {args.strace_time} s run per proxy run"
        else:
            syscall_note += "; strace is not installed either"

    workdir = start_workdir("sluice-bench-proxy-")
    binary = sluice_copy(workdir, args.sluice_bin)
    monitor_pw = write_monitor_pw(workdir, MONITOR_PW)

    cluster = None
    nodes = Nodes(args.cluster_port or args.base_port)
    phases: list[Proxies] = []
    runs: list[dict] = []
    idle: list[dict] = []
    status = EXIT_FAIL
    t_start = time.monotonic()
    try:
        busy_before = busy_processes()
        log("busy before the start: " + (", ".join(
            f"{p['comm']} (pid {p['pid']}) {p['cpu_pct']:.0f}%" for p in busy_before)
            or "nothing"))
        log(f"system calls: {syscall_method} ({syscall_note})")
        if args.cluster_port:
            log(f"using the running cluster at {HOST}:{nodes.ports}")
        else:
            cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
            nodes.error_logs = [cluster.error_log(i) for i in range(NODES)]
            log(f"starting a 3-node Galera cluster on {HOST}:{args.base_port}.. in {workdir}")
            log(f"cluster up in {cluster.start():.1f} s")
        did = prepare_tables(nodes, args)
        log(f"sysbench tables: {did} ({args.tables} x {args.table_size} rows)")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info_before = machine_info(nodes, args.sluice_bin, binary)

        configs = {}
        if not args.idle_only:
            px = Proxies(workdir, nodes, monitor_pw, binary, "bench")
            phases.append(px)
            px.start()
            with open(px.haproxy.config_path) as f:
                configs = {"haproxy": f.read(), "sluice": px.sluice_yaml,
                           "sluice-epoll": px.sluice_epoll_yaml}
            log(f"haproxy pid {px.haproxy.pid} on :{px.ports['haproxy']}, sluice pid "
                f"{px.sluice.pid} (tcp :{px.ports['sluice-tcp']}, mysql "
                f":{px.ports['sluice-mysql']}), sluice epoll pid {px.sluice_epoll.pid}; "
                f"readiness reads per node: {px.spread}")
            todo = plan(args)
            per_run = args.time + 2 + (args.strace_time + 2 if syscall_method != "off" else 0)
            log(f"{len(todo)} sysbench runs of {args.time} s, {args.threads} threads "
                f"(~{len(todo) * per_run / 60:.0f} min)")
            for n, (rnd, wl, load, target) in enumerate(todo, 1):
                r = one_run(px, nodes, target, wl, load, rnd, args, workdir, syscall_method)
                if "error" in r:
                    # Once more (one_run waits for the cluster first): on this shared machine
                    # a failure is mostly a cluster stalled by someone else's load.
                    log(f"[{n}/{len(todo)}] round {rnd} {wl} {load} {target}: failed, "
                        f"retrying once: {r['error'][:300]}")
                    first = r["error"]
                    r = one_run(px, nodes, target, wl, load, rnd, args, workdir,
                                syscall_method)
                    r["first_attempt_error"] = first
                runs.append(r)
                if "error" in r:
                    log(f"[{n}/{len(todo)}] round {rnd} {wl} {load} {target}: FAILED "
                        f"{r['error'][:1500]}")
                    continue
                log(f"[{n}/{len(todo)}] round {rnd} {wl} {load_label(load, args)} "
                    f"{target:12s}: {r['qps']:7.0f} QPS, p95 {r['lat_p95_ms']:.2f} ms"
                    + (f", proxy {r['proxy_cpu_pct']:.0f}% CPU, {r['cpu_us_per_query']:.1f} "
                       f"us/q" if "cpu_us_per_query" in r else "")
                    + (f", {r['syscalls_per_query']:.2f} syscalls/q"
                       if "syscalls_per_query" in r else "")
                    + f", machine busy {r['machine_cpu']['busy_pct']:.0f}%")
            for p in px.stop():
                log(p)

        if args.idle_clients:
            base_conns = len(tcp_established(nodes.ports))
            for target in IDLE_TARGETS:
                # A fresh proxy for each: memory freed by an earlier phase would hide growth.
                px = Proxies(workdir, nodes, monitor_pw, binary, f"idle-{target}")
                phases.append(px)
                try:
                    px.start(("haproxy",) if target == "haproxy" else ("sluice",))
                    log(f"idle clients: {args.idle_clients} through {target} (pid "
                        f"{px.pid(target)})")
                    r = idle_clients(px, nodes, target, args.idle_clients, args.idle_timeout)
                    idle.append(r)
                    log(f"  {target}: {r['succeeded']} logged in, errors {r['errors']}, RSS "
                        f"{r['rss_before_kb'] / 1024:.1f} -> {r['rss_after_kb'] / 1024:.1f} "
                        f"MiB, {fmt(r['rss_per_client_kb'])} KiB/client")
                except (RuntimeError, OSError, pymysql.MySQLError, AssertionError) as e:
                    idle.append({"target": target, "requested": args.idle_clients,
                                 "error": f"{type(e).__name__}: {e}"[:3000]})
                    log(f"  {target}: FAILED {e}")
                finally:
                    for p in px.stop():
                        log(p)
                # The next proxy starts with the nodes' connection slots free again.
                wait_node_conns(nodes, base_conns)

        ss = summarize(runs)
        title = (f"proxy_compare {time.strftime('%Y-%m-%d %H:%M')}: {args.threads} threads x "
                 f"{args.time} s x {args.rounds} rounds, {info_before['nproc']} CPUs (shared)")
        if not runs:
            title = (f"proxy_compare {time.strftime('%Y-%m-%d %H:%M')}: idle clients only, "
                     f"{info_before['nproc']} CPUs (shared)")
        print()
        print(title)
        if runs:
            print(f"sysbench {', '.join(args.workloads)}: --db-ps-mode={args.ps_mode} "
                  f"--rand-type=uniform --tables={args.tables} --table-size={args.table_size}; "
                  f"oltp_read_only "
                  + ("--skip_trx=on" if args.skip_trx else "with sysbench's default "
                     "transactions (BEGIN, 14 reads, COMMIT = 16 queries)")
                  + (f"; fixed rate {args.rate} queries/s = "
                     + ", ".join(f"{wl} --rate={rate_for(wl, args)}" for wl in args.workloads)
                     if args.rate else ""))
            print(f"CPU us/q = the proxy process's utime+stime during the run / sysbench's "
                  f"queries; syscalls/q by {syscall_method}; RSS = VmRSS after the run "
                  f"(highest over the rounds); direct = node1 without a proxy; stalls = "
                  f"Galera's warnings of a starved group-communication thread during the run "
                  f"(a machine stall)")
            print()
            print(runs_table(runs, args))
            print()
            print(summary_table(ss, args))
        if idle:
            print()
            print(f"idle clients (PyMySQL, SELECT 1 then idle; a fresh proxy each; node "
                  f"max_connections {info_before.get('node_max_connections')}):")
            print(idle_table(idle))

        os.makedirs(args.results_dir, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = os.path.join(args.results_dir, f"proxy_compare-{stamp}")
        info = machine_info(nodes, args.sluice_bin, binary)
        info["loadavg_before"] = info_before["loadavg"]
        info["busy_processes_before"] = busy_before
        info["busy_processes_after"] = busy_processes()
        with open(base + ".json", "w") as f:
            json.dump({"benchmark": "proxy_compare", "started": started,
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "elapsed_s": round(time.monotonic() - t_start, 1),
                       "command": " ".join([sys.executable] + sys.argv),
                       "args": vars(args), "syscall_method": syscall_method,
                       "syscall_note": syscall_note, "machine": info, "configs": configs,
                       "runs": runs, "summary": ss, "idle_clients": idle}, f, indent=2)
            f.write("\n")
        written = [base + ".json"]
        if ss:
            write_csv(base + ".csv", ss)
            written.append(base + ".csv")
            note = plot(base + ".png", ss, args, title)
            if note.startswith("plot"):
                written.append(base + ".png")
            else:
                print(f"\n{note}")
        print("\nwritten: " + ", ".join(os.path.relpath(p) for p in written))
        log(f"done in {time.monotonic() - t_start:.0f} s")
        status = EXIT_RUNS_FAILED if any("error" in r for r in runs + idle) else EXIT_OK
    except KeyboardInterrupt:
        log("interrupted; stopping")
    except Stop as e:
        log(f"{e}; stopping")
    except Exception as e:
        log(f"failed: {type(e).__name__}: {e}")
        args.keep = True
    finally:
        # A second Ctrl-C must not leave a proxy or a node behind.
        ignore_stop_signals()
        for px in phases:
            for p in px.stop():
                log(p)
        if cluster is not None:
            cluster.stop()
        end_workdir(workdir, args.keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
