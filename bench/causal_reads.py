#!/usr/bin/python3
# bench/causal_reads.py -- what the `causal_reads` setting of a `mode: mysql` listener costs.
# Starts its own three-node Galera cluster (tests/galera.py) and one sluice with three listeners
# that differ only in causal_reads (off / session / global), then runs two workloads with a few
# PyMySQL client threads against each listener and against the nodes directly: (a) point reads,
# (b) INSERT then SELECT of the same row (read-after-write), counting the SELECTs that did not
# see the row.  Prints a table and writes the same numbers as JSON to bench/results/.  Bounded in
# time; asserts nothing about speed.  Exit status: 0 done, 1 a causal_reads session/global
# listener missed a row (a correctness bug), 2 the run failed (errors, setup, interrupted).
# See bench/README.md.
"""Benchmark the cost of sluice's causal_reads (off / session / global) on Galera.

Usage (as root, with a built daemon)::

    /usr/bin/python3 bench/causal_reads.py --seconds 10 --threads 4
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
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
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH  # noqa: E402
from benchlib import (Stop, end_workdir, ignore_stop_signals, log, percentile,  # noqa: E402
                      start_workdir)

TABLE = "bench_causal_reads"
MODES = ("off", "session", "global")
PREFILL_ROWS = 1000
# Per thread, before the timed window: opens sluice's lazy backend connections (one per node
# a session uses) so that logins are not measured.  Their misses still count for correctness.
WARMUP_OPS = 20
# Ids written by workload (b) start here, far above the pre-filled 1..PREFILL_ROWS.
RAW_FIRST_ID = 1_000_000
READ_SQL = f"SELECT v FROM `{TABLE}` WHERE id = %s"
INSERT_SQL = f"INSERT INTO `{TABLE}` (id, v) VALUES (%s, %s)"
WORKLOADS = {
    "read": "read-only: SELECT v FROM t WHERE id = <random pre-filled id>",
    "raw": "read-after-write: INSERT a new id, then SELECT it back by id",
}

EXIT_OK, EXIT_MISS, EXIT_FAIL = 0, 1, 2





# ---- sluice ----------------------------------------------------------------------------------

def sluice_config(cluster: GaleraCluster, ports: dict[str, int], workers: int) -> str:
    """One sluice, three `mode: mysql` listeners on the same cluster, identical except
    causal_reads.  Node i has priority i+1: node1 is the writer, node2/node3 serve reads."""
    nodes = "\n".join(
        f'      - {{ name: {cluster.node_name(i)}, address: "{HOST}:{cluster.sql_port(i)}", '
        f'priority: {i + 1} }}' for i in range(3))
    listeners = "".join(f"""\
  - name: causal_{mode}
    bind: "{HOST}:{ports[mode]}"
    mode: mysql
    cluster: galera
    primary_reads: false
    causal_reads: {mode}
""" for mode in MODES)
    return f"""\
workers: {workers}
listeners:
{listeners}clusters:
  - name: galera
    type: galera
    monitor: {{ interval: 200ms, timeout: 400ms }}
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
logging: {{ level: info }}
"""


def wait_sluice_ready(s: Sluice, ports: dict[str, int], timeout: float = 60.0) -> None:
    """The daemon logs 'started' before its monitor has a verdict: wait until it names node1
    the writer and every listener has served reads from both node2 and node3."""
    s.wait_log(r"writer is node1\b", timeout)
    deadline = time.monotonic() + timeout
    for mode, port in ports.items():
        seen: set[str] = set()
        last = None
        while seen != {"node2", "node3"}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"listener causal_{mode}: reads reached only {seen} within "
                                   f"{timeout:.0f} s (last error {last!r})\n{s.log()[-3000:]}")
            try:
                conn = connect(port)
                try:
                    with conn.cursor() as c:
                        for _ in range(4):
                            c.execute("SELECT @@wsrep_node_name")
                            seen.add(c.fetchone()[0])
                finally:
                    conn.close()
            except pymysql.MySQLError as e:
                last = e
                time.sleep(0.1)
        if seen - {"node2", "node3"}:
            raise RuntimeError(f"listener causal_{mode}: reads went to {seen}")


def connect(port: int) -> pymysql.connections.Connection:
    return pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True, connect_timeout=10, read_timeout=60,
                           write_timeout=60)


# ---- cluster helpers -------------------------------------------------------------------------

def root_query(cluster: GaleraCluster, i: int, *sqls: str):
    """Run statements on node i over its root socket; return the rows of the last one."""
    conn = cluster.connect(i, root=True, autocommit=True)
    try:
        with conn.cursor() as c:
            for sql in sqls:
                c.execute(sql)
            return c.fetchall()
    finally:
        conn.close()


def settle(cluster: GaleraCluster) -> None:
    """Wait until node2 and node3 have applied everything node1 committed (a read with
    wsrep_sync_wait waits for that), so one run's backlog does not slow the next."""
    for i in (1, 2):
        root_query(cluster, i, "SET SESSION wsrep_sync_wait = 1",
                   f"SELECT COUNT(*) FROM `{DB}`.`{TABLE}`")


def com_select(cluster: GaleraCluster) -> list[int]:
    """Com_select of every node (read directly; SHOW STATUS is not a Com_select itself)."""
    return [int(root_query(cluster, i, "SHOW GLOBAL STATUS LIKE 'Com_select'")[0][1])
            for i in range(3)]


def make_table(cluster: GaleraCluster) -> None:
    conn = cluster.connect(0, database=DB, autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute(f"DROP TABLE IF EXISTS `{TABLE}`")
            c.execute(f"CREATE TABLE `{TABLE}` (id BIGINT PRIMARY KEY, v INT) ENGINE=InnoDB")
            c.execute(f"INSERT INTO `{TABLE}` (id, v) SELECT seq, seq % 1000 "
                      f"FROM seq_1_to_{PREFILL_ROWS}")
    finally:
        conn.close()
    settle(cluster)
    for i in range(3):
        n = root_query(cluster, i, f"SELECT COUNT(*) FROM `{DB}`.`{TABLE}`")[0][0]
        if n != PREFILL_ROWS:
            raise RuntimeError(f"{cluster.node_name(i)} has {n} rows, want {PREFILL_ROWS}")


# ---- one run: T threads, one workload, one target ---------------------------------------------

class Target:
    """Where a run's statements go.  ``write_port``/``read_port``: the same port for one
    connection per thread (a sluice listener, or node1 directly), different ports for two."""

    def __init__(self, key: str, label: str, write_port: int, read_port: int,
                 mode: str | None = None):
        self.key, self.label = key, label
        self.write_port, self.read_port = write_port, read_port
        self.mode = mode  # the causal_reads mode for sluice targets, None for direct ones

    def open(self):
        w = connect(self.write_port)
        if self.read_port == self.write_port:
            return w, w
        try:
            return w, connect(self.read_port)
        except BaseException:
            w.close()
            raise


class ThreadResult:
    def __init__(self):
        self.op_lat: list[float] = []     # seconds per operation (read, or INSERT+SELECT)
        self.read_lat: list[float] = []   # workload raw: the SELECT alone
        self.write_lat: list[float] = []  # workload raw: the INSERT alone
        self.misses = 0
        self.warmup_misses = 0
        self.error: str | None = None
        self.end = 0.0


def worker(target: Target, workload: str, idx: int, seed: int, ids, barrier, shared,
           stop: threading.Event, res: ThreadResult) -> None:
    rng = random.Random(seed)
    conns = ()
    try:
        w, r = target.open()
        conns = (w,) if w is r else (w, r)
        wc, rc = w.cursor(), r.cursor()
        clock = time.perf_counter

        def one(timed: bool) -> None:
            if workload == "read":
                t0 = clock()
                rc.execute(READ_SQL, (rng.randint(1, PREFILL_ROWS),))
                row = rc.fetchone()
                t1 = clock()
                if row is None:
                    raise RuntimeError("a pre-filled row is missing")
                if timed:
                    res.op_lat.append(t1 - t0)
                return
            new_id = next(ids)
            v = rng.randint(1, 1_000_000_000)
            t0 = clock()
            wc.execute(INSERT_SQL, (new_id, v))
            t1 = clock()
            rc.execute(READ_SQL, (new_id,))
            row = rc.fetchone()
            t2 = clock()
            missed = row is None or row[0] != v
            if timed:
                res.op_lat.append(t2 - t0)
                res.write_lat.append(t1 - t0)
                res.read_lat.append(t2 - t1)
                res.misses += missed
            else:
                res.warmup_misses += missed

        for _ in range(WARMUP_OPS):
            one(False)
        barrier.wait()
        deadline = shared["deadline"]
        while not stop.is_set() and time.monotonic() < deadline:
            one(True)
    except threading.BrokenBarrierError:
        res.error = res.error or "aborted (another thread failed)"
    except Exception as e:  # reported by the main thread; the run is then a failure
        res.error = f"thread {idx}: {type(e).__name__}: {e}"
        barrier.abort()
    finally:
        res.end = time.monotonic()
        for c in conns:
            try:
                c.close()
            except Exception:
                pass



def lat_summary(vals: list[float]) -> dict:
    s = sorted(vals)
    ms = 1000.0
    return {"mean_ms": statistics.fmean(s) * ms if s else float("nan"),
            "p50_ms": percentile(s, 50) * ms, "p99_ms": percentile(s, 99) * ms,
            "max_ms": s[-1] * ms if s else float("nan")}


def run(cluster: GaleraCluster, target: Target, workload: str, seconds: float, threads: int,
        ids, seed: int) -> dict:
    """One timed run; returns its numbers (see README for the fields)."""
    shared: dict = {}

    def go():  # runs once, when every thread has warmed up
        shared["start"] = time.monotonic()
        shared["deadline"] = shared["start"] + seconds

    stop = threading.Event()
    barrier = threading.Barrier(threads, action=go, timeout=120)
    results = [ThreadResult() for _ in range(threads)]
    sel_before = com_select(cluster)
    ths = [threading.Thread(target=worker, name=f"bench-{i}", daemon=True,
                            args=(target, workload, i, seed * 1000 + i, ids, barrier, shared,
                                  stop, results[i]))
           for i in range(threads)]
    try:
        for t in ths:
            t.start()
        limit = time.monotonic() + seconds + 180
        for t in ths:
            while t.is_alive():
                t.join(0.2)
                if time.monotonic() > limit:
                    raise RuntimeError(f"{target.label}/{workload}: threads did not finish")
    finally:
        stop.set()
        for t in ths:
            t.join(5)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"{target.label} / {workload}: " + "; ".join(errors))
    sel_after = com_select(cluster)
    elapsed = max(r.end for r in results) - shared["start"]
    ops = sum(len(r.op_lat) for r in results)
    out = {
        "target": target.key, "label": target.label, "causal_reads": target.mode,
        "workload": workload, "threads": threads, "seconds": round(elapsed, 3), "ops": ops,
        "ops_per_s": ops / elapsed if elapsed > 0 else 0.0,
        "latency": lat_summary([x for r in results for x in r.op_lat]),
        "misses": sum(r.misses for r in results),
        "warmup_misses": sum(r.warmup_misses for r in results),
        "warmup_ops": WARMUP_OPS * threads,
        # Com_select deltas per node, including this script's warm-up and bookkeeping reads:
        # shows where the reads went.
        "com_select": {cluster.node_name(i): sel_after[i] - sel_before[i] for i in range(3)},
    }
    if workload == "raw":
        out["read_latency"] = lat_summary([x for r in results for x in r.read_lat])
        out["write_latency"] = lat_summary([x for r in results for x in r.write_lat])
        out["miss_rate"] = out["misses"] / ops if ops else 0.0
    return out


# ---- report ----------------------------------------------------------------------------------

def fmt(x: float, digits: int = 2) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def table(rows: list[dict]) -> str:
    head = ["target", "workload", "ops/s", "mean ms", "p50 ms", "p99 ms",
            "rd p50", "rd p99", "misses", "miss %"]
    lines = [head]
    for r in rows:
        lat, rd = r["latency"], r.get("read_latency")
        lines.append([
            r["label"], r["workload"], f"{r['ops_per_s']:.0f}", fmt(lat["mean_ms"]),
            fmt(lat["p50_ms"]), fmt(lat["p99_ms"]),
            fmt(rd["p50_ms"]) if rd else "-", fmt(rd["p99_ms"]) if rd else "-",
            str(r["misses"]) if r["workload"] == "raw" else "-",
            fmt(100 * r["miss_rate"], 3) if r["workload"] == "raw" else "-"])
    return render(lines)


def ratios(rows: list[dict]) -> list[dict]:
    """Throughput of each sluice mode against sluice off and against node1 direct."""
    by = {(r["target"], r["workload"]): r for r in rows}
    out = []
    for wl in WORKLOADS:
        direct = by.get(("direct", wl))
        off = by.get(("sluice_off", wl))
        for mode in MODES:
            r = by.get((f"sluice_{mode}", wl))
            if not r:
                continue
            out.append({
                "workload": wl, "causal_reads": mode, "ops_per_s": r["ops_per_s"],
                "vs_sluice_off": r["ops_per_s"] / off["ops_per_s"] if off and off["ops_per_s"]
                else None,
                "vs_direct_node1": r["ops_per_s"] / direct["ops_per_s"]
                if direct and direct["ops_per_s"] else None,
                "p50_ms_minus_sluice_off": r["latency"]["p50_ms"] - off["latency"]["p50_ms"]
                if off else None,
            })
    return out


def ratio_table(rs: list[dict]) -> str:
    lines = [["workload", "causal_reads", "ops/s", "vs sluice off", "vs direct node1",
              "p50 +ms vs off"]]
    for r in rs:
        lines.append([r["workload"], r["causal_reads"], f"{r['ops_per_s']:.0f}",
                      fmt(r["vs_sluice_off"]), fmt(r["vs_direct_node1"]),
                      f"{r['p50_ms_minus_sluice_off']:+.2f}"
                      if r["p50_ms_minus_sluice_off"] is not None else "-"])
    return render(lines)


def render(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine_info(cluster: GaleraCluster | None) -> dict:
    info = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "uname": " ".join(platform.uname()),
        "python": platform.python_version(),
        "pymysql": getattr(pymysql, "__version__", "?"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
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
            info["mariadb"] = root_query(cluster, 0, "SELECT VERSION()")[0][0]
            info["galera"] = root_query(cluster, 0, "SHOW GLOBAL STATUS LIKE "
                                        "'wsrep_provider_version'")[0][1]
        except pymysql.MySQLError:
            pass
    return info


# ---- main ------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Measure what sluice's causal_reads (off/session/global) costs on a real "
                    "three-node Galera cluster it starts itself.  Needs root.")
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="length of each timed run (default 10)")
    ap.add_argument("--threads", type=int, default=4,
                    help="client threads, one connection each (default 4)")
    ap.add_argument("--base-port", type=int,
                    default=int(os.environ.get("SLUICE_BENCH_BASE_PORT", "19000")),
                    help="node1's SQL port (node i at +10*i); default $SLUICE_BENCH_BASE_PORT "
                         "or 19000")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"),
                    help="where the JSON goes (default bench/results)")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the read ids")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (cluster data, sluice log)")
    a = ap.parse_args(argv)
    if not 0 < a.seconds <= 600:
        ap.error("--seconds must be in (0, 600]")
    if not 1 <= a.threads <= 64:
        ap.error("--threads must be in 1..64")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep the table after the progress lines
    if os.geteuid() != 0:
        print("causal_reads.py: must run as root (it starts mariadbd as the mysql user)",
              file=sys.stderr)
        return EXIT_FAIL
    if not os.access(sluice_binary(), os.X_OK):
        print(f"causal_reads.py: no daemon at {sluice_binary()}; build it with "
              f"`ninja -C build` (or set SLUICE_BIN)", file=sys.stderr)
        return EXIT_FAIL

    workdir = start_workdir("sluice-bench-causal-")
    cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
    sl: Sluice | None = None
    status = EXIT_FAIL
    rows: list[dict] = []
    try:
        log(f"starting a 3-node Galera cluster on {HOST}:{args.base_port}.. in {workdir}")
        took = cluster.start()
        log(f"cluster up in {took:.1f} s")
        make_table(cluster)

        ports: dict[str, int] = {}
        while len(set(ports.values())) < len(MODES):
            ports = {mode: free_port() for mode in MODES}
        config = sluice_config(cluster, ports, workers=os.cpu_count() or 2)
        sl = Sluice(workdir, config, "sluice")
        sl.start()
        wait_sluice_ready(sl, ports)
        log("sluice up: " + ", ".join(f"causal_reads {m} on :{p}" for m, p in ports.items()))

        direct = Target("direct", "direct node1", cluster.sql_port(0), cluster.sql_port(0))
        split = Target("direct_split", "direct w:node1 r:node2", cluster.sql_port(0),
                       cluster.sql_port(1))
        sluices = [Target(f"sluice_{m}", f"sluice {m}", ports[m], ports[m], m) for m in MODES]
        plan = [(t, "read") for t in [direct] + sluices] + \
               [(t, "raw") for t in [direct, split] + sluices]
        ids = itertools.count(RAW_FIRST_ID)
        log(f"{len(plan)} runs of {args.seconds:g} s, {args.threads} threads each "
            f"(~{len(plan) * (args.seconds + 2):.0f} s)")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info_before = machine_info(cluster)
        for n, (target, wl) in enumerate(plan):
            settle(cluster)
            r = run(cluster, target, wl, args.seconds, args.threads, ids, args.seed + n)
            rows.append(r)
            extra = f", misses {r['misses']}/{r['ops']}" if wl == "raw" else ""
            log(f"{target.label:24s} {wl:4s}: {r['ops_per_s']:7.0f} ops/s, p50 "
                f"{r['latency']['p50_ms']:.2f} ms, p99 {r['latency']['p99_ms']:.2f} ms{extra}; "
                f"Com_select {r['com_select']}")

        rs = ratios(rows)
        print()
        print(f"causal_reads benchmark: {args.threads} threads x {args.seconds:g} s per run, "
              f"{info_before['nproc']} CPUs, kernel {info_before['kernel']}")
        print("workloads: " + "; ".join(f"{k} = {v}" for k, v in WORKLOADS.items()))
        print("latency = per operation (raw: INSERT + SELECT); rd = the SELECT alone\n")
        print(table(rows))
        print()
        print(ratio_table(rs))

        bad = [r for r in rows if r["causal_reads"] in ("session", "global")
               and (r["misses"] or r["warmup_misses"])]
        status = EXIT_MISS if bad else EXIT_OK
        for r in bad:
            print(f"\nCORRECTNESS BUG: causal_reads {r['causal_reads']} missed "
                  f"{r['misses']} timed + {r['warmup_misses']} warm-up read(s) of a row the "
                  f"same session had just written", file=sys.stderr)

        os.makedirs(args.results_dir, exist_ok=True)
        path = os.path.join(args.results_dir,
                            f"causal_reads-{time.strftime('%Y%m%d-%H%M%S')}.json")
        info = machine_info(cluster)
        info["loadavg_before"] = info_before["loadavg"]
        with open(path, "w") as f:
            json.dump({
                "benchmark": "causal_reads", "started": started,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "args": {"seconds": args.seconds, "threads": args.threads,
                         "base_port": args.base_port, "seed": args.seed},
                "workloads": WORKLOADS, "prefill_rows": PREFILL_ROWS,
                "warmup_ops_per_thread": WARMUP_OPS, "machine": info,
                "sluice_config": config, "runs": rows, "ratios": rs,
                "correct": not bad,
            }, f, indent=2)
            f.write("\n")
        rel = os.path.relpath(path)
        print(f"\nJSON: {path if rel.startswith('..') else rel}")
    except KeyboardInterrupt:
        log("interrupted; stopping")
    except Stop as e:
        log(f"{e}; stopping")
    except Exception as e:
        log(f"failed: {type(e).__name__}: {e}")
        if sl is not None:
            print(f"--- sluice log (tail) ---\n{sl.log()[-3000:]}", file=sys.stderr)
    finally:
        # A second Ctrl-C must not leave a daemon or a node behind.
        ignore_stop_signals()
        if sl is not None:
            try:
                rc = sl.stop()
                if rc != 0:
                    log(f"sluice exited with {rc}; log in {sl.log_path}")
                    args.keep = True
            except Exception as e:
                log(f"stopping sluice: {e}")
                args.keep = True
        cluster.stop()
        end_workdir(workdir, args.keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
