#!/usr/bin/python3
# bench/pool_compare.py -- what backend connection pooling (clusters[].pool, issue 13) buys.
# Starts (or reuses, --cluster-dir) a real three-node Galera cluster (tests/galera.py) and
# sluice's `mode: mysql` listener with pool.mode transaction (the default) and session, then
# measures, in one run: (1) the connect rate of short clients (connect, SELECT 1, quit) from
# several processes, against node1 directly and through sluice; (2) sysbench throughput at 8
# and 64 threads, transaction against session mode (direct as a reference); (3) the node
# connections and sluice's memory behind N idle logged-in clients.  Prints tables, writes
# bench/results/pool_compare.{csv,json,png}.  Bounded in time; asserts nothing about speed.
"""Compare sluice's pool.mode transaction and session (and a direct connection).

Usage (as root, with a built daemon)::

    /usr/bin/python3 bench/pool_compare.py --time 10 --rounds 2 \\
        --sluice-bin /tmp/build-bench/src/sluice

Exit status: 0 done, 1 some measurement failed (see the tables and the JSON), 2 the run
failed (setup error, interrupted).  See "Connection pooling" in bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(REPO, "tests"))

import pymysql  # noqa: E402

# proxy_compare owns the cluster view (Nodes), sysbench, the /proc readers and the table
# renderer; this script only adds what pooling needs.
from proxy_compare import (CLK_TCK, NODE_COUNTERS, NODES, Nodes, backend_conns,  # noqa: E402
                           busy_processes, check_sluice_config, counter_deltas, fmt,
                           machine_info, mean, prepare_tables, proc_cpu_ticks,
                           proc_status_kb, render, run_sysbench, tcp_established,
                           wait_node_conns, wait_spread)
from benchlib import (Stop, end_workdir, ignore_stop_signals, loadavg, log,  # noqa: E402
                      open_session, percentile, sluice_copy, start_workdir,
                      write_monitor_pw)
from galera import GaleraCluster  # noqa: E402
from sluice_config import (DB, HOST, MONITOR_PASSWORD, MONITOR_USER, PASSWORD,  # noqa: E402
                           USER, galera_nodes, listener, sluice_yaml)
from sluice_proc import Sluice, free_port  # noqa: E402

MODES = ("transaction", "session")
TARGETS = ("direct", "pool=transaction", "pool=session")
WORKLOADS = ("oltp_point_select", "oltp_read_only")
THREADS = (8, 64)
WORKERS = 2  # sluice's worker threads
BIG_CLIENTS = 10000  # the second idle-client count, transaction mode only (--skip-10k)
# A listener's max_connections (default 10000) must let BIG_CLIENTS in, with room for the
# readiness checks.
LISTENER_MAX_CONNECTIONS = BIG_CLIENTS + 2000

EXIT_OK, EXIT_RUNS_FAILED, EXIT_FAIL = 0, 1, 2


def target_mode(target: str) -> str | None:
    """The pool.mode of a target, None for direct."""
    return target.split("=", 1)[1] if target.startswith("pool=") else None


# ---- sluice ------------------------------------------------------------------------------------

class PoolSluice:
    """One sluice with one `mode: mysql` listener whose cluster has the given pool.mode (the
    other pool keys at their defaults), a stats listener for /metrics, and a monitor that logs
    in (interval and timeout at their defaults).  primary_reads is on so that reads use all
    three nodes (as in proxy_compare, and so that proxy_compare.wait_spread can check that
    every node is reached)."""

    def __init__(self, workdir: str, cluster: GaleraCluster, mode: str, monitor_pw: str,
                 tag: str):
        self.mode = mode
        self.port, self.stats_port = free_port(), free_port()
        while self.stats_port == self.port:
            self.stats_port = free_port()
        self.yaml = sluice_yaml(
            [listener("app", self.port, primary_reads=True,
                      max_connections=LISTENER_MAX_CONNECTIONS)],
            galera_nodes(cluster),
            monitor={"user": MONITOR_USER, "password_file": monitor_pw},
            cluster_keys={"pool": {"mode": mode}}, workers=WORKERS,
            logging={"level": "info"}, stats={"bind": f'"{HOST}:{self.stats_port}"'})
        self.sluice = Sluice(workdir, self.yaml, f"sluice-{tag}")
        self.stopped = False

    @property
    def pid(self) -> int:
        return self.sluice.pid

    def start(self) -> None:
        """Start, and return once the writer is known and reads reach every node."""
        check_sluice_config(os.environ["SLUICE_BIN"], self.sluice.config_path)
        self.sluice.start()
        self.sluice.wait_log(r"writer is node1\b", 30)
        wait_spread(self.port, f"sluice pool={self.mode}", self.check_alive)

    def check_alive(self) -> None:
        """Raise if the process has exited (with the end of its log)."""
        if self.sluice.proc is not None and self.sluice.proc.poll() is not None:
            raise RuntimeError(f"sluice pool={self.mode} exited with "
                               f"{self.sluice.proc.returncode}:\n{self.sluice.log()[-2000:]}")

    def metrics(self, name: str) -> dict[str, float]:
        """sluice_node_<name> per node from /metrics, summed over the other labels."""
        url = f"http://{HOST}:{self.stats_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode()
        got: dict[str, float] = {}
        for m in re.finditer(rf'^sluice_node_{name}\{{[^}}]*node="([^"]+)"[^}}]*\}} (\S+)$',
                             body, re.M):
            got[m.group(1)] = got.get(m.group(1), 0) + float(m.group(2))
        return got

    def metric_total(self, name: str) -> float:
        """sluice_node_<name> summed over every node."""
        return sum(self.metrics(name).values())

    def cpu_ticks(self) -> int:
        return proc_cpu_ticks(self.pid)

    def log_problems(self, since: int = 0) -> dict[str, int]:
        """Warning and error lines of the log after byte offset `since`, counted by their text
        without the time stamp and with the session's number and client port as N and P."""
        out: dict[str, int] = {}
        for ln in self.sluice.log()[since:].splitlines():
            m = re.match(r"\S+ \S+ (warning|error|crit\w*|fatal)\b(.*)", ln, re.I)
            if m:
                key = re.sub(r"\bC-\d+", "C-N", m.group(1) + m.group(2))
                key = re.sub(r"(\d+\.\d+\.\d+\.\d+):\d+", r"\1:P", key)
                out[key] = out.get(key, 0) + 1
        return out

    def stop(self) -> str | None:
        """SIGTERM by PID; idempotent.  Returns a problem, or None."""
        if self.stopped:
            return None
        self.stopped = True
        try:
            rc = self.sluice.stop()
        except Exception as e:  # noqa: BLE001 (Sluice.stop raises AssertionError on a hang)
            return f"stopping sluice pool={self.mode}: {e}"
        return None if rc == 0 else f"sluice pool={self.mode} exited with {rc}; log " \
                                    f"{self.sluice.log_path}"


# ---- 1. connect rate ---------------------------------------------------------------------------

def connect_worker(port: int, seconds: float, go, results) -> None:
    """One client process: after `go` is set, connect (MySQLdb, autocommit), run SELECT 1 and
    quit, again and again for `seconds`.  Puts a dict on `results`: connects that completed,
    errors by code with the first message of each, the time of each completed cycle, and
    the CPU time this process used."""
    import MySQLdb  # only the children need it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    go.wait(60)
    ok, errors, first, lat = 0, {}, {}, []
    cpu0 = os.times()
    t0 = time.monotonic()
    deadline = t0 + seconds
    while True:
        t = time.monotonic()
        if t >= deadline:
            break
        try:
            conn = MySQLdb.connect(host=HOST, port=port, user=USER, passwd=PASSWORD, db=DB,
                                   autocommit=True, connect_timeout=10)
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                cur.fetchall()
            finally:
                conn.close()
            ok += 1
            lat.append(time.monotonic() - t)
        except MySQLdb.MySQLError as e:
            code = str(e.args[0]) if e.args else type(e).__name__
            errors[code] = errors.get(code, 0) + 1
            first.setdefault(code, str(e)[:300])
    cpu1 = os.times()
    results.put({"ok": ok, "errors": errors, "first_error": first,
                 "elapsed_s": time.monotonic() - t0, "lat": lat,
                 "cpu_s": cpu1.user - cpu0.user + cpu1.system - cpu0.system})


def node1_pid(cluster: GaleraCluster) -> int:
    """node1's mariadbd, from its pid file (also when another process started it)."""
    with open(cluster.pid_file(0)) as f:
        return int(f.read().strip())


def connect_rate(port: int, seconds: float, k: int, px: PoolSluice | None,
                 node_pid: int) -> dict:
    """K processes of connect_worker against `port` for `seconds`.  Returns connects/s,
    errors, the latency of one connect-query-quit cycle, the CPU of the clients and of node1
    (node_pid) in percent of one CPU, and for sluice its CPU and the node logins it made per
    client connect (sluice_node_connects_total)."""
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=connect_worker, args=(port, seconds, go, results), daemon=True)
             for _ in range(k)]
    for p in procs:
        p.start()
    got = []
    try:
        logins0 = px.metric_total("connects_total") if px else None
        ticks0 = px.cpu_ticks() if px else None
        node_ticks0 = proc_cpu_ticks(node_pid)
        t0 = time.monotonic()
        go.set()
        for _ in procs:
            got.append(results.get(timeout=seconds + 60))
        wall = time.monotonic() - t0
        ticks1 = px.cpu_ticks() if px else None
        node_ticks1 = proc_cpu_ticks(node_pid)
        logins1 = px.metric_total("connects_total") if px else None
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)
    ok = sum(g["ok"] for g in got)
    errors: dict[str, int] = {}
    first: dict[str, str] = {}
    for g in got:
        for c, n in g["errors"].items():
            errors[c] = errors.get(c, 0) + n
        for c, msg in g["first_error"].items():
            first.setdefault(c, msg)
    lat = sorted(x for g in got for x in g["lat"])
    elapsed = max(g["elapsed_s"] for g in got)
    out = {"connects": ok, "elapsed_s": round(elapsed, 2), "connects_per_s": ok / elapsed,
           "errors": errors, "first_error": first,
           "p50_ms": 1000 * percentile(lat, 50), "p99_ms": 1000 * percentile(lat, 99),
           "client_cpu_pct": round(100 * sum(g["cpu_s"] for g in got) / wall, 1),
           "node1_cpu_pct": round(100 * (node_ticks1 - node_ticks0) / CLK_TCK / wall, 1)}
    if px:
        out["sluice_cpu_pct"] = round(100 * (ticks1 - ticks0) / CLK_TCK / wall, 1)
        out["node_logins_per_connect"] = round((logins1 - logins0) / ok, 3) if ok else None
    return out


# ---- 2. sysbench throughput --------------------------------------------------------------------

def sysbench_args(args, threads: int) -> argparse.Namespace:
    """The attributes proxy_compare's sysbench helpers read: prepared statements (auto),
    sysbench's default transactions in oltp_read_only (BEGIN, 14 reads, COMMIT)."""
    return argparse.Namespace(threads=threads, ps_mode="auto", skip_trx=False,
                              tables=args.tables, table_size=args.table_size)


def throughput_run(nodes: Nodes, port: int, px: PoolSluice | None, workload: str,
                   threads: int, args) -> dict:
    """One sysbench run against `port` (sluice `px`, or None for node1 directly), with the
    nodes' counters and sluice's CPU and node logins around it.  Errors are returned, not
    raised, so the other runs still happen."""
    out: dict = {"workload": workload, "threads": threads}
    try:
        nodes.wait_ready()
        if px:
            px.check_alive()
            logins0, ticks0 = px.metric_total("connects_total"), px.cpu_ticks()
        before = nodes.status(NODE_COUNTERS)
        t0 = time.monotonic()
        out.update(run_sysbench(workload, port, sysbench_args(args, threads), args.time, 0))
        wall = time.monotonic() - t0
        out["node_counters"] = counter_deltas(before, nodes.status(NODE_COUNTERS))
        if px:
            out["sluice_cpu_pct"] = round(100 * (px.cpu_ticks() - ticks0) / CLK_TCK / wall, 1)
            out["node_logins"] = int(px.metric_total("connects_total") - logins0)
            out["rss_kb"] = proc_status_kb(px.pid, "VmRSS")
    except (RuntimeError, OSError, pymysql.MySQLError, subprocess.SubprocessError) as e:
        out["error"] = f"{type(e).__name__}: {e}"[:3000]
    return out


# ---- 3. idle clients ---------------------------------------------------------------------------

def processlist_counts(roots: list) -> list[int | None]:
    """Connections of the test user on each node, from information_schema.PROCESSLIST, over
    root connections opened before the clients (a node at max_connections accepts no new
    one).  None where the query failed."""
    out = []
    for conn in roots:
        try:
            with conn.cursor() as c:
                c.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s",
                          (USER,))
                out.append(int(c.fetchone()[0]))
        except pymysql.MySQLError:
            out.append(None)
    return out


def open_idle_clients(port: int, n: int, threads: int, deadline_s: float, what: str):
    """Open up to n PyMySQL clients from `threads` threads, each client running SELECT 1 and
    then kept open and idle.  Several at once, because a client that sluice makes wait (a
    full pool.max_per_node) takes queue_timeout (10 s) to fail.  Returns (open connections,
    errors by code, first message per code, clients tried, seconds taken)."""
    conns: list = []
    errors: dict[str, int] = {}
    first: dict[str, str] = {}
    lock = threading.Lock()
    todo = iter(range(n))
    t0 = time.monotonic()
    tried = 0

    def opener() -> None:
        nonlocal tried
        while time.monotonic() - t0 < deadline_s:
            with lock:
                k = next(todo, None)
                if k is None:
                    return
                tried += 1
            try:
                conn = open_session(HOST, port, USER, PASSWORD, DB, 30, 60)
                with lock:
                    conns.append(conn)
            except pymysql.MySQLError as e:
                code = str(e.args[0]) if e.args else type(e).__name__
                with lock:
                    errors[code] = errors.get(code, 0) + 1
                    first.setdefault(code, f"client {k + 1}: {e}"[:300])
            if (k + 1) % 1000 == 0:
                log(f"  {what}: {k + 1}/{n} started, {len(conns)} open, errors "
                    f"{errors_text(errors)}")

    pool = [threading.Thread(target=opener, daemon=True) for _ in range(min(threads, n))]
    for t in pool:
        t.start()
    for t in pool:
        # Bounded: every client times out within connect_timeout + read_timeout.
        t.join(max(1.0, deadline_s - (time.monotonic() - t0)) + 120)
    if any(t.is_alive() for t in pool):
        raise RuntimeError(f"{what}: client threads still running after the deadline")
    return conns, errors, first, tried, time.monotonic() - t0


def idle_phase(px: PoolSluice, cluster: GaleraCluster, nodes: Nodes, n: int, threads: int,
               deadline_s: float, settle_s: float) -> dict:
    """n idle logged-in clients through a freshly started sluice: how many got in, the
    errors, the node connections behind them (as the nodes count them, as sluice's /metrics
    counts them, and as sockets of the sluice process) and sluice's RSS, right after the
    clients are in, and again after settle_s seconds of idleness (pool.idle_timeout, 60 s by
    default, closes pooled connections beyond min_idle that the opening burst left)."""
    roots = [cluster.connect(i, root=True, autocommit=True) for i in range(NODES)]
    conns: list = []
    try:
        # The readiness check's sessions are gone; let sluice close what they held.
        time.sleep(1)
        rss0 = proc_status_kb(px.pid, "VmRSS")
        log_mark = px.sluice.log_size()
        conns, errors, first, tried, open_s = open_idle_clients(
            px.port, n, threads, deadline_s, f"pool={px.mode} {n}")
        time.sleep(1)  # connections given back after the last SELECT 1 settle in the pool
        rss1 = proc_status_kb(px.pid, "VmRSS")
        ok = len(conns)
        at_once = {"processlist": processlist_counts(roots),
                   "metrics_connections": px.metrics("connections"),
                   "metrics_idle": px.metrics("idle_connections"),
                   "sluice_sockets": backend_conns(px.pid, nodes)}
        later = {}
        if settle_s > 0:
            log(f"  pool={px.mode}: {ok} clients in, node conns {at_once['processlist']}; "
                f"idle for {settle_s:.0f} s")
            time.sleep(settle_s)
            later = {"processlist_later": processlist_counts(roots),
                     "metrics_connections_later": px.metrics("connections"),
                     "sluice_sockets_later": backend_conns(px.pid, nodes),
                     "rss_later_kb": proc_status_kb(px.pid, "VmRSS")}
        return {"target": f"pool={px.mode}", "clients": n, "tried": tried, "logged_in": ok,
                "failed": sum(errors.values()), "errors": errors, "first_error": first,
                "open_s": round(open_s, 1),
                **at_once, **later,
                "rss_before_kb": rss0, "rss_after_kb": rss1,
                "rss_per_client_kb": round(rss1 / n, 2),
                "rss_growth_per_client_kb": round((rss1 - rss0) / ok, 2) if ok else None,
                "settle_s": settle_s, "log_problems": px.log_problems(log_mark)}
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001 (closing is best effort)
                pass
        for r in roots:
            r.close()


# ---- tables, CSV, plot -------------------------------------------------------------------------

def errors_text(errors: dict[str, int]) -> str:
    """'code: count, ...' or 0."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "0"


def summarize_connect(runs: list[dict]) -> list[dict]:
    """Per target: mean connects/s over the rounds, the ratio to direct, errors summed."""
    out = []
    for t in TARGETS:
        rs = [r for r in runs if r["target"] == t and "error" not in r]
        if not rs:
            continue
        errs: dict[str, int] = {}
        for r in rs:
            for c, n in r["errors"].items():
                errs[c] = errs.get(c, 0) + n
        out.append({"target": t, "runs": len(rs),
                    "connects_per_s": mean([r["connects_per_s"] for r in rs]),
                    "min": min(r["connects_per_s"] for r in rs),
                    "max": max(r["connects_per_s"] for r in rs),
                    "p50_ms": mean([r["p50_ms"] for r in rs]),
                    "p99_ms": mean([r["p99_ms"] for r in rs]),
                    "errors": errs,
                    "client_cpu_pct": mean([r["client_cpu_pct"] for r in rs]),
                    "node1_cpu_pct": mean([r["node1_cpu_pct"] for r in rs]),
                    "sluice_cpu_pct": mean([r.get("sluice_cpu_pct") for r in rs]),
                    "node_logins_per_connect": mean([r.get("node_logins_per_connect")
                                                     for r in rs])})
    d = next((s for s in out if s["target"] == "direct"), None)
    for s in out:
        s["vs_direct"] = s["connects_per_s"] / d["connects_per_s"] if d else None
    return out


def connect_table(ss: list[dict]) -> str:
    """Table 1, from summarize_connect()."""
    rows = [["target", "runs", "connects/s", "min-max", "vs direct", "p50 ms", "p99 ms",
             "errors (code: n)", "clients CPU %", "node1 CPU %", "sluice CPU %",
             "node logins/connect"]]
    for s in ss:
        rows.append([s["target"], str(s["runs"]), fmt(s["connects_per_s"], 0),
                     f"{s['min']:.0f}-{s['max']:.0f}", fmt(s["vs_direct"], 2),
                     fmt(s["p50_ms"], 2), fmt(s["p99_ms"], 2), errors_text(s["errors"]),
                     fmt(s["client_cpu_pct"], 0), fmt(s["node1_cpu_pct"], 0),
                     fmt(s["sluice_cpu_pct"], 0), fmt(s["node_logins_per_connect"], 2)])
    return render(rows, right_from=1)


def summarize_throughput(runs: list[dict]) -> list[dict]:
    """Per workload, threads and target: mean QPS and p95 over the rounds; the ratio of
    transaction to session mode, and of each to direct."""
    out = []
    for wl in WORKLOADS:
        for th in THREADS:
            for t in TARGETS:
                rs = [r for r in runs if (r["workload"], r["threads"], r["target"]) ==
                      (wl, th, t)]
                ok = [r for r in rs if "error" not in r]
                if not rs:
                    continue
                out.append({"workload": wl, "threads": th, "target": t, "runs": len(ok),
                            "failed": len(rs) - len(ok),
                            "qps": mean([r["qps"] for r in ok]),
                            "qps_min": min((r["qps"] for r in ok), default=None),
                            "qps_max": max((r["qps"] for r in ok), default=None),
                            "p95_ms": mean([r["lat_p95_ms"] for r in ok]),
                            "sluice_cpu_pct": mean([r.get("sluice_cpu_pct") for r in ok]),
                            "node_logins": mean([r.get("node_logins") for r in ok])})
    for s in out:
        def qps_of(target):
            o = next((x for x in out if (x["workload"], x["threads"], x["target"]) ==
                      (s["workload"], s["threads"], target)), None)
            return o["qps"] if o else None
        sess, direct = qps_of("pool=session"), qps_of("direct")
        s["vs_session"] = s["qps"] / sess if s["qps"] and sess else None
        s["vs_direct"] = s["qps"] / direct if s["qps"] and direct else None
    return out


def throughput_table(ss: list[dict]) -> str:
    """Table 2, from summarize_throughput()."""
    rows = [["workload", "threads", "target", "runs", "QPS", "QPS min-max", "p95 ms",
             "vs session", "vs direct", "sluice CPU %", "node logins/run"]]
    for s in ss:
        rng = "-" if s["qps_min"] is None else f"{s['qps_min']:.0f}-{s['qps_max']:.0f}"
        rows.append([s["workload"], str(s["threads"]), s["target"],
                     str(s["runs"]) + (f" ({s['failed']} failed)" if s["failed"] else ""),
                     fmt(s["qps"], 0), rng, fmt(s["p95_ms"], 2), fmt(s["vs_session"], 2),
                     fmt(s["vs_direct"], 2), fmt(s["sluice_cpu_pct"], 0),
                     fmt(s["node_logins"], 0)])
    return render(rows, right_from=3)


def node_conns_text(counts: list[int | None] | None) -> str:
    """Connections per node as 'total (node1/node2/node3)'; ? where the count failed."""
    if counts is None:
        return "-"
    total = sum(x for x in counts if x is not None)
    return f"{total} (" + "/".join("?" if x is None else str(x) for x in counts) + ")"


def idle_table(idle: list[dict]) -> str:
    """Table 3, from the idle_phase() results."""
    rows = [["target", "clients", "logged in", "errors (code: n)", "node conns at once",
             "/metrics at once", "node conns after idle", "RSS MiB", "RSS/N KiB",
             "growth KiB/client", "open s"]]
    for r in idle:
        if "error" in r:
            rows.append([r["target"], str(r["clients"]), "FAILED"] + ["-"] * 8)
            continue
        rows.append([r["target"], str(r["clients"]), str(r["logged_in"]),
                     errors_text(r["errors"]), node_conns_text(r["processlist"]),
                     f"{sum(r['metrics_connections'].values()):.0f}",
                     node_conns_text(r.get("processlist_later")),
                     fmt(r["rss_after_kb"] / 1024), fmt(r["rss_per_client_kb"], 2),
                     fmt(r["rss_growth_per_client_kb"], 2), fmt(r["open_s"])])
    return render(rows, right_from=1)


def csv_rows(conn_ss: list[dict], tput_ss: list[dict], idle: list[dict]) -> list[dict]:
    """Every summary line as one CSV row; `section` says which table it belongs to."""
    rows = []
    for s in conn_ss:
        rows.append({"section": "connect", "target": s["target"], "runs": s["runs"],
                     "connects_per_s": s["connects_per_s"], "vs_direct": s["vs_direct"],
                     "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"],
                     "errors": errors_text(s["errors"]), "client_cpu_pct": s["client_cpu_pct"],
                     "node1_cpu_pct": s["node1_cpu_pct"], "sluice_cpu_pct": s["sluice_cpu_pct"],
                     "node_logins_per_connect": s["node_logins_per_connect"]})
    for s in tput_ss:
        rows.append({"section": "throughput", "target": s["target"], "workload": s["workload"],
                     "threads": s["threads"], "runs": s["runs"], "failed": s["failed"],
                     "qps": s["qps"], "qps_min": s["qps_min"], "qps_max": s["qps_max"],
                     "p95_ms": s["p95_ms"], "vs_session": s["vs_session"],
                     "vs_direct": s["vs_direct"], "sluice_cpu_pct": s["sluice_cpu_pct"],
                     "node_logins": s["node_logins"]})
    for r in idle:
        row = {"section": "idle", "target": r["target"], "clients": r["clients"]}
        if "error" in r:
            row["errors"] = r["error"][:200]
        else:
            row.update({"logged_in": r["logged_in"], "errors": errors_text(r["errors"]),
                        "node_conns_processlist": sum(x for x in r["processlist"] if x),
                        "node_conns_metrics": sum(r["metrics_connections"].values()),
                        "node_conns_after_idle": sum(x for x in r["processlist_later"] if x)
                        if "processlist_later" in r else None,
                        "rss_mib": r["rss_after_kb"] / 1024,
                        "rss_per_client_kb": r["rss_per_client_kb"],
                        "rss_growth_per_client_kb": r["rss_growth_per_client_kb"]})
        rows.append(row)
    return rows


def write_csv(path: str, rows: list[dict]) -> None:
    """The rows of csv_rows(); the header is the union of their keys, in order."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({k: round(v, 3) if isinstance(v, float) else
                        ("" if v is None else v) for k, v in r.items()})


def plot(path: str, conn_ss: list[dict], tput_ss: list[dict], idle: list[dict],
         title: str) -> str:
    """Three panels: connects/s per target, QPS per workload and threads, node connections
    per idle-client run.  Needs python3-matplotlib; returns what was done."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: python3-matplotlib is not installed"
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    colors = {"direct": "tab:gray", "pool=transaction": "tab:blue", "pool=session": "tab:orange"}
    ax = axes[0]
    ax.bar([s["target"] for s in conn_ss], [s["connects_per_s"] for s in conn_ss],
           color=[colors[s["target"]] for s in conn_ss])
    ax.set_title("connect + SELECT 1 + quit, per second", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    ax = axes[1]
    groups = [(wl, th) for wl in WORKLOADS for th in THREADS
              if any((s["workload"], s["threads"]) == (wl, th) for s in tput_ss)]
    width = 0.8 / len(TARGETS)
    for k, t in enumerate(TARGETS):
        vals = []
        for g in groups:
            s = next((x for x in tput_ss if (x["workload"], x["threads"], x["target"]) ==
                      (*g, t)), None)
            vals.append(s["qps"] if s and s["qps"] else 0)
        ax.bar([i + (k - 1) * width for i in range(len(groups))], vals, width, label=t,
               color=colors[t])
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{wl.replace('oltp_', '')}\n{th} threads" for wl, th in groups],
                       fontsize=8)
    ax.set_title("sysbench QPS (mean of rounds)", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[2]
    ok = [r for r in idle if "error" not in r]
    xs = range(len(ok))
    ax.bar([x - 0.2 for x in xs], [sum(x for x in r["processlist"] if x) for r in ok], 0.4,
           color=[colors[r["target"]] for r in ok], label="right after opening")
    ax.bar([x + 0.2 for x in xs], [sum(x for x in r.get("processlist_later") or [] if x)
                                   for r in ok], 0.4,
           color=[colors[r["target"]] for r in ok], alpha=0.45, label="after idle_timeout")
    for i, r in enumerate(ok):
        ax.annotate(f"{r['logged_in']} in", (i, 0), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{r['target']}\n{r['clients']} clients" for r in ok])
    ax.legend(fontsize=8)
    ax.set_title("node connections behind N idle clients", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    for a in axes:
        a.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"plot: {path}"


# ---- main --------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="sluice's pool.mode transaction against session (and a direct "
                    "connection): connect rate, sysbench throughput, node connections and "
                    "memory behind idle clients.  Needs root.")
    ap.add_argument("--time", type=int, default=10,
                    help="seconds per connect-rate and sysbench run (default 10)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds over the targets, alternating their order (default 2)")
    ap.add_argument("--connect-procs", type=int, default=4,
                    help="client processes of the connect-rate test (default 4)")
    ap.add_argument("--clients", type=int, default=2000,
                    help="idle clients per sluice mode (default 2000)")
    ap.add_argument("--skip-10k", action="store_true",
                    help=f"skip the {BIG_CLIENTS} idle clients through pool=transaction")
    ap.add_argument("--open-threads", type=int, default=200,
                    help="threads opening the idle clients (default 200)")
    ap.add_argument("--idle-wait", type=float, default=62,
                    help="seconds the idle clients stay open before the node connections are "
                         "counted again: pool.idle_timeout (60 s) plus the 1 s sweep; 0 "
                         "skips it (default 62)")
    ap.add_argument("--idle-timeout", type=float, default=300,
                    help="seconds allowed for opening the idle clients of one run "
                         "(default 300)")
    ap.add_argument("--tables", type=int, default=4, help="sysbench tables (default 4)")
    ap.add_argument("--table-size", type=int, default=10000,
                    help="rows per table (default 10000)")
    ap.add_argument("--base-port", type=int, default=21000,
                    help="node1's SQL port (node i at +10*i; default 21000)")
    ap.add_argument("--cluster-dir", default=None,
                    help="use the cluster that `tests/galera.py start --dir DIR --base-port "
                         "N` runs there instead of starting one")
    ap.add_argument("--sluice-bin", default=os.path.join(REPO, "build", "src", "sluice"),
                    help="the daemon (default build/src/sluice); copied at the start, so a "
                         "rebuild during the run changes nothing")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"),
                    help="where pool_compare.csv, .json and .png go (default bench/results)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (configs, logs, cluster data)")
    a = ap.parse_args(argv)
    if not 1 <= a.time <= 600 or not 1 <= a.rounds <= 20 or not 1 <= a.connect_procs <= 64:
        ap.error("--time 1..600, --rounds 1..20, --connect-procs 1..64")
    if not 1 <= a.clients <= BIG_CLIENTS:
        ap.error(f"--clients 1..{BIG_CLIENTS}")
    return a


def raise_nofile(clients: int) -> None:
    """Every idle client is a descriptor here and one in sluice (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, clients + 2000))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if clients + 500 > want:
        raise RuntimeError(f"{clients} idle clients need ~{clients + 500} file descriptors; "
                           f"the hard limit is {hard}")


def run_connect_phase(args, cluster: GaleraCluster, nodes: Nodes,
                      sluices: dict[str, PoolSluice]) -> list[dict]:
    """Connect rate of every target, --rounds times, the order reversed every other round."""
    runs = []
    for rnd in range(1, args.rounds + 1):
        order = TARGETS if rnd % 2 else tuple(reversed(TARGETS))
        for t in order:
            mode = target_mode(t)
            px = sluices[mode] if mode else None
            port = px.port if px else nodes.ports[0]
            try:
                nodes.wait_ready()
                r = connect_rate(port, args.time, args.connect_procs, px, node1_pid(cluster))
            except (RuntimeError, OSError, pymysql.MySQLError) as e:
                r = {"error": f"{type(e).__name__}: {e}"[:3000]}
            r.update(round=rnd, target=t, loadavg=loadavg())
            runs.append(r)
            if "error" in r:
                log(f"connect round {rnd} {t}: FAILED {r['error'][:500]}")
            else:
                log(f"connect round {rnd} {t:16s}: {r['connects_per_s']:6.0f}/s, p99 "
                    f"{r['p99_ms']:.1f} ms, errors {errors_text(r['errors'])}, clients "
                    f"{r['client_cpu_pct']:.0f}% CPU, node1 {r['node1_cpu_pct']:.0f}% CPU"
                    + (f", sluice {r['sluice_cpu_pct']:.0f}% CPU, "
                       f"{r['node_logins_per_connect']} node logins/connect" if px else "")
                    + f", load {' '.join(r['loadavg'])}")
                for code, msg in r["first_error"].items():
                    log(f"  first {code}: {msg}")
    return runs


def run_throughput_phase(args, nodes: Nodes, sluices: dict[str, PoolSluice]) -> list[dict]:
    """sysbench for every workload, thread count and target, --rounds times, alternating."""
    todo = [(rnd, wl, th, t) for rnd in range(1, args.rounds + 1) for wl in WORKLOADS
            for th in THREADS for t in (TARGETS if rnd % 2 else tuple(reversed(TARGETS)))]
    log(f"{len(todo)} sysbench runs of {args.time} s (~{len(todo) * (args.time + 3) / 60:.0f} "
        f"min)")
    runs = []
    for n, (rnd, wl, th, t) in enumerate(todo, 1):
        mode = target_mode(t)
        px = sluices[mode] if mode else None
        port = px.port if px else nodes.ports[0]
        r = throughput_run(nodes, port, px, wl, th, args)
        if "error" in r:
            # Once more: on this shared machine a failure is mostly a stalled cluster.
            log(f"[{n}/{len(todo)}] {wl} {th} {t}: failed, retrying once: {r['error'][:500]}")
            first = r["error"]
            r = throughput_run(nodes, port, px, wl, th, args)
            r["first_attempt_error"] = first
        r.update(round=rnd, target=t, loadavg=loadavg())
        runs.append(r)
        if "error" in r:
            log(f"[{n}/{len(todo)}] round {rnd} {wl} {th} threads {t}: FAILED "
                f"{r['error'][:1500]}")
        else:
            log(f"[{n}/{len(todo)}] round {rnd} {wl} {th:2d} threads {t:16s}: "
                f"{r['qps']:7.0f} QPS, p95 {r['lat_p95_ms']:.2f} ms"
                + (f", sluice {r['sluice_cpu_pct']:.0f}% CPU, {r['node_logins']} node logins"
                   if px else "") + f", load {' '.join(r['loadavg'])}")
    return runs


def run_idle_phase(args, workdir: str, cluster: GaleraCluster, nodes: Nodes, monitor_pw: str,
                   phases: list[PoolSluice]) -> list[dict]:
    """Idle clients through a fresh sluice per run (memory freed by an earlier run would hide
    growth): --clients through each mode, then BIG_CLIENTS through transaction mode."""
    plan = [(m, args.clients) for m in MODES]
    if not args.skip_10k:
        plan.append(("transaction", BIG_CLIENTS))
    base = len(tcp_established(nodes.ports))
    out = []
    for mode, n in plan:
        px = PoolSluice(workdir, cluster, mode, monitor_pw, f"idle-{mode}-{n}")
        phases.append(px)
        try:
            px.start()
            log(f"idle clients: {n} through pool={mode} (sluice pid {px.pid}), load "
                f"{' '.join(loadavg())}")
            r = idle_phase(px, cluster, nodes, n, args.open_threads, args.idle_timeout,
                           args.idle_wait)
            log(f"  pool={mode}: {r['logged_in']}/{n} logged in in {r['open_s']} s, errors "
                f"{errors_text(r['errors'])}, node conns processlist {r['processlist']}, "
                f"/metrics {r['metrics_connections']}, sockets {r['sluice_sockets']}, RSS "
                f"{r['rss_before_kb'] / 1024:.1f} -> {r['rss_after_kb'] / 1024:.1f} MiB"
                + (f"; after {r['settle_s']:.0f} s idle: processlist "
                   f"{r['processlist_later']}, /metrics {r['metrics_connections_later']}"
                   if "processlist_later" in r else ""))
            for code, msg in r["first_error"].items():
                log(f"  first {code}: {msg}")
            for line, count in r["log_problems"].items():
                log(f"  sluice log, {count} x: {line}")
        except (RuntimeError, OSError, pymysql.MySQLError, AssertionError) as e:
            r = {"target": f"pool={mode}", "clients": n, "error": f"{type(e).__name__}: {e}"[:3000]}
            log(f"  pool={mode} {n}: FAILED {e}")
        finally:
            problem = px.stop()
            if problem:
                log(problem)
        out.append(r)
        # The next run starts with the nodes' connection slots free again.
        left = wait_node_conns(nodes, base, timeout=60)
        if left > base:
            log(f"  {left - base} node connections still open after 60 s")
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    me = "pool_compare.py"
    if os.geteuid() != 0:
        print(f"{me}: must run as root (mariadbd runs as mysql; root reads the processlist "
              f"over the nodes' sockets)", file=sys.stderr)
        return EXIT_FAIL
    if not os.access(args.sluice_bin, os.X_OK):
        print(f"{me}: no sluice binary at {args.sluice_bin}", file=sys.stderr)
        return EXIT_FAIL
    if not shutil.which("sysbench"):
        print(f"{me}: sysbench is not installed", file=sys.stderr)
        return EXIT_FAIL
    try:
        raise_nofile(args.clients if args.skip_10k else BIG_CLIENTS)
    except RuntimeError as e:
        print(f"{me}: {e}", file=sys.stderr)
        return EXIT_FAIL

    workdir = start_workdir("sluice-bench-pool-")
    binary = sluice_copy(workdir, args.sluice_bin)
    monitor_pw = write_monitor_pw(workdir, MONITOR_PASSWORD)

    started_cluster = False
    cluster = GaleraCluster(args.cluster_dir or os.path.join(workdir, "galera"),
                            base_port=args.base_port)
    nodes = Nodes(args.base_port, [cluster.error_log(i) for i in range(NODES)])
    phases: list[PoolSluice] = []
    conn_runs: list[dict] = []
    tput_runs: list[dict] = []
    idle: list[dict] = []
    status = EXIT_FAIL
    t_start = time.monotonic()
    try:
        busy_before = busy_processes()
        log(f"load {' '.join(loadavg())}; busy before the start: " + (", ".join(
            f"{p['comm']} (pid {p['pid']}) {p['cpu_pct']:.0f}%" for p in busy_before)
            or "nothing"))
        if args.cluster_dir:
            log(f"using the running cluster of {args.cluster_dir} at {HOST}:{nodes.ports}")
        else:
            log(f"starting a 3-node Galera cluster on {HOST}:{args.base_port}.. in {workdir}")
            started_cluster = True
            log(f"cluster up in {cluster.start():.1f} s")
        log(f"cluster ready after {nodes.wait_ready():.1f} s")
        log(f"sysbench tables: {prepare_tables(nodes, sysbench_args(args, 2))} ({args.tables} x "
            f"{args.table_size} rows)")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info_before = machine_info(nodes, args.sluice_bin, binary)

        # Phases 1 and 2: both modes' sluices run side by side, the targets alternate.
        sluices = {m: PoolSluice(workdir, cluster, m, monitor_pw, f"bench-{m}") for m in MODES}
        phases += sluices.values()
        for px in sluices.values():
            px.start()
            log(f"sluice pool={px.mode}: pid {px.pid}, mysql :{px.port}, stats "
                f":{px.stats_port}")
        configs = {m: px.yaml for m, px in sluices.items()}
        log_marks = {m: px.sluice.log_size() for m, px in sluices.items()}
        phase_load = {"connect": loadavg()}
        conn_runs = run_connect_phase(args, cluster, nodes, sluices)
        phase_load["throughput"] = loadavg()
        tput_runs = run_throughput_phase(args, nodes, sluices)
        bench_log_problems = {m: px.log_problems(log_marks[m]) for m, px in sluices.items()}
        for m, lines in bench_log_problems.items():
            for line, count in lines.items():
                log(f"sluice pool={m} log, {count} x: {line}")
        for px in sluices.values():
            problem = px.stop()
            if problem:
                log(problem)
        # Phase 3.
        phase_load["idle"] = loadavg()
        idle = run_idle_phase(args, workdir, cluster, nodes, monitor_pw, phases)

        conn_ss = summarize_connect(conn_runs)
        tput_ss = summarize_throughput(tput_runs)
        load_after = loadavg()
        title = (f"pool_compare {time.strftime('%Y-%m-%d %H:%M')}: {args.time} s x "
                 f"{args.rounds} rounds, {info_before['nproc']} CPUs (shared), load "
                 f"{' '.join(info_before['loadavg'])} at the start, "
                 f"{' '.join(load_after)} at the end")
        print()
        print(title)
        print(f"sluice: {WORKERS} workers, one mysql listener (primary_reads), pool defaults "
              f"but mode (max_per_node 50, min_idle 2, idle_timeout 60s); direct = node1")
        print()
        print(f"1. connect rate: {args.connect_procs} processes, MySQLdb, connect + SELECT 1 + "
              f"quit, {args.time} s per run (node logins/connect: sluice_node_connects_total "
              f"per client connect); load {' '.join(phase_load['connect'])}")
        print(connect_table(conn_ss))
        print()
        print(f"2. throughput: sysbench --db-ps-mode=auto --rand-type=uniform "
              f"--tables={args.tables} --table-size={args.table_size}; oltp_read_only with "
              f"BEGIN/COMMIT (16 queries per transaction); node logins = backend logins "
              f"sluice made during the run; load {' '.join(phase_load['throughput'])}")
        print(throughput_table(tput_ss))
        print()
        print(f"3. idle clients (PyMySQL, SELECT 1 then idle, opened by {args.open_threads} "
              f"threads; a fresh sluice each; node max_connections "
              f"{info_before.get('node_max_connections')}; node conns = {USER}'s rows in "
              f"PROCESSLIST, total (node1/node2/node3), right after the clients are in and "
              f"after {args.idle_wait:.0f} s idle; RSS = sluice's VmRSS with the clients "
              f"in, RSS/N = RSS / clients, growth = (RSS - RSS before) / logged in; load "
              f"{' '.join(phase_load['idle'])})")
        print(idle_table(idle))

        os.makedirs(args.results_dir, exist_ok=True)
        base = os.path.join(args.results_dir, "pool_compare")
        info = machine_info(nodes, args.sluice_bin, binary)
        info["loadavg_before"] = info_before["loadavg"]
        info["busy_processes_before"] = busy_before
        info["busy_processes_after"] = busy_processes()
        for r in conn_runs:
            r.pop("lat", None)
        with open(base + ".json", "w") as f:
            json.dump({"benchmark": "pool_compare", "started": started,
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "elapsed_s": round(time.monotonic() - t_start, 1),
                       "command": " ".join([sys.executable] + sys.argv), "args": vars(args),
                       "machine": info, "configs": configs, "phase_load": phase_load,
                       "bench_log_problems": bench_log_problems,
                       "connect_runs": conn_runs, "connect_summary": conn_ss,
                       "throughput_runs": tput_runs, "throughput_summary": tput_ss,
                       "idle_clients": idle}, f, indent=2)
            f.write("\n")
        write_csv(base + ".csv", csv_rows(conn_ss, tput_ss, idle))
        written = [base + ".csv", base + ".json"]
        note = plot(base + ".png", conn_ss, tput_ss, idle, title)
        if note.startswith("plot"):
            written.append(base + ".png")
        else:
            print(f"\n{note}")
        print("\nwritten: " + ", ".join(os.path.relpath(p) for p in written))
        log(f"done in {time.monotonic() - t_start:.0f} s")
        failed = any("error" in r for r in conn_runs + tput_runs + idle)
        status = EXIT_RUNS_FAILED if failed else EXIT_OK
    except KeyboardInterrupt:
        log("interrupted; stopping")
    except Stop as e:
        log(f"{e}; stopping")
    except Exception as e:  # noqa: BLE001 (report, clean up, keep the directory)
        log(f"failed: {type(e).__name__}: {e}")
        args.keep = True
    finally:
        # A second Ctrl-C must not leave a sluice or a node behind.
        ignore_stop_signals()
        for px in phases:
            problem = px.stop()
            if problem:
                log(problem)
        if started_cluster:
            cluster.stop()
        end_workdir(workdir, args.keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
