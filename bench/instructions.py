#!/usr/bin/python3
# bench/instructions.py -- sluice's own user-space work per query, counted, not timed.
# Runs sluice under valgrind's callgrind against a running Galera cluster (--cluster-port, as
# bench/proxy_compare.py's) and counts the instructions its worker threads execute in the data
# path per sysbench query: everything under the worker's ring loop (completions, deferred
# work, the loop's turns, the submission and the wait).  Timers, the monitor's probes and
# libevent's own runs of the base are left out: under valgrind they run far more often per
# query than at full speed.  The count does not depend on the machine's load, which CPU time
# on this shared machine does; it says nothing about the kernel's share.  io_uring only
# (under the epoll engine those functions do not run).
# --events-only counts what completions and deferred steps call, without the loop's turns (up
# to four a query at one client) and waits; it needs a build without link-time optimization
# (meson setup -Db_lto=false), which inlines handle_completions.  Asserts nothing.
"""Count sluice's user-space instructions per query with callgrind.

Usage (as root, with a cluster from tests/galera.py on 18000 and a built daemon)::

    /usr/bin/python3 bench/instructions.py --cluster-port 18000 --sluice-bin build/src/sluice
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "bench"))

import proxy_compare as pc  # noqa: E402
from benchlib import end_workdir, log, sluice_copy, start_workdir, write_monitor_pw  # noqa: E402
from sluice_proc import free_port  # noqa: E402

# The worker's data path, as callgrind names the functions to count inside.
# The default: on in the worker thread's function, off again inside libevent's runs of the
# base (callgrind toggles on each entry and exit).  While queries are counted the worker runs
# only its ring loop, which link-time optimization inlines into worker_main; a thread's entry
# point is never inlined, but LTO may rename it (worker_main.lto_priv.0), hence the wildcard.
COLLECT_LOOP = ("worker_main*", "event_base_loop")
# --events-only: what a completion and a deferred step call, without the loop's turns and its
# wait.  (Before 2026-12-07's eighth part this was the default, with liburing's timed wait
# io_uring_submit_and_wait_timeout counted too; the wait that replaced it is a tail call, which
# callgrind's toggles cannot follow.)
COLLECT_EVENTS = ("handle_completions", "defer_run")


def collected(args) -> tuple:
    return COLLECT_EVENTS if args.events_only else COLLECT_LOOP


TARGETS = ("sluice-mysql", "sluice-tcp")
WARMUP_EVENTS = 200  # pools filled, statements prepared, before counting


def callgrind_totals(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals line")


def sysbench(workload: str, port: int, args, events: int) -> int:
    """Run exactly `events` sysbench events (no time limit); the number of queries."""
    cmd = pc.sysbench_cmd(workload, port, args, f"--threads={args.threads}", f"--events={events}",
                          "--time=0",
                          f"--db-ps-mode={args.ps_mode}", *args.sysbench_arg, "run")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "FATAL" in out:
        raise RuntimeError(f"sysbench {workload} on {port} failed:\n{out[-2000:]}")
    return int(pc.parse_sysbench(out)["queries"])


def label(workload: str) -> str:
    """A workload's name in file names: a script's base name without .lua."""
    return os.path.basename(workload).removesuffix(".lua")


def one(args, workdir: str, nodes, monitor_pw: str, target: str, workload: str) -> dict:
    tcp_port, mysql_port = free_port(), free_port()
    name = label(workload)
    conf = os.path.join(workdir, f"{target}-{name}.yaml")
    text = pc.sluice_config(nodes, tcp_port, mysql_port, monitor_pw)
    # Probes are left out of the count, but fewer of them keep the run short.
    text = text.replace("interval: 250ms", "interval: 5s").replace("timeout: 500ms", "timeout: 2s")
    if args.workers:
        text = text.replace(f"workers: {pc.PROXY_THREADS}\n", f"workers: {args.workers}\n", 1)
    if args.max_per_node:
        # Sessions share connections when threads exceed workers x max_per_node.
        text = text.replace("    type: galera\n",
                            f"    type: galera\n    pool: {{ max_per_node: {args.max_per_node} }}\n")
    with open(conf, "w") as f:
        f.write(text)
    out = os.path.join(workdir, f"cg-{target}-{name}")
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
           *[f"--toggle-collect={fn}" for fn in collected(args)],
           f"--callgrind-out-file={out}.%p", args.sluice_bin, "-c", conf]
    logf = open(os.path.join(workdir, f"{target}-{name}.log"), "w")
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    try:
        port = mysql_port if target == "sluice-mysql" else tcp_port
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open(logf.name) as f:
                if "sluice started" in f.read():
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"sluice under valgrind exited; see {logf.name} (--keep keeps it)")
            time.sleep(0.5)
        else:
            raise RuntimeError(f"sluice under valgrind did not start; see {logf.name} (--keep keeps it)")
        pc.wait_spread(port, target, lambda: None, timeout=120)
        sysbench(workload, port, args, WARMUP_EVENTS)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       capture_output=True, timeout=60)
        # A script of bench/ (many_statements.lua) runs one query an event.
        events = args.queries // pc.QUERIES_PER_TRX.get(workload, 1) or 1
        queries = sysbench(workload, port, args, events)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True, timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        logf.close()
    dumps = [p for p in glob.glob(f"{out}.*") if p.endswith(".1")]
    if len(dumps) != 1:
        raise RuntimeError(f"expected one callgrind dump, found {dumps}")
    ir = callgrind_totals(dumps[0])
    return {"target": target, "workload": workload, "queries": queries, "instructions": ir,
            "per_query": ir / queries}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cluster-port", type=int, required=True,
                    help="node1's port of a running cluster (tests/galera.py start)")
    ap.add_argument("--sluice-bin", default=os.path.join(REPO, "build", "src", "sluice"))
    ap.add_argument("--queries", type=int, default=1600,
                    help="queries counted per run (default 1600)")
    ap.add_argument("--workloads", nargs="+", default=list(pc.WORKLOADS),
                    help="sysbench's own, or a script's path (bench/many_statements.lua)")
    ap.add_argument("--sysbench-arg", action="append", default=[],
                    help="one more option for sysbench's runs (repeat for more), e.g. "
                         "--sysbench-arg=--statements=200")
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    ap.add_argument("--threads", type=int, default=1,
                    help="sysbench threads (default 1); the warm-up and the count use them all")
    ap.add_argument("--workers", type=int, default=0,
                    help=f"sluice's workers (default: proxy_compare's {pc.PROXY_THREADS})")
    ap.add_argument("--max-per-node", type=int, default=0,
                    help="the cluster's pool.max_per_node (default: sluice's), to make "
                         "sessions share connections")
    ap.add_argument("--ps-mode", default="auto", choices=("auto", "disable"),
                    help="sysbench --db-ps-mode: auto uses server-side prepared statements")
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=10000)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per sysbench run")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--events-only", action="store_true",
                    help="count only what completions and deferred steps call, not the loop's "
                         "turns and waits")
    args = ap.parse_args()
    args.skip_trx = False

    workdir = start_workdir("sluice-instructions-")
    rows = []
    built = args.sluice_bin
    try:
        # A copy: a rebuild during the run changes nothing.
        built = os.path.abspath(args.sluice_bin)
        args.sluice_bin = sluice_copy(workdir, built)
        nodes = pc.Nodes(args.cluster_port)
        log(f"sysbench tables: {pc.prepare_tables(nodes, args)}")
        monitor_pw = write_monitor_pw(workdir, pc.MONITOR_PW)
        for workload in args.workloads:
            for target in args.targets:
                r = one(args, workdir, nodes, monitor_pw, target, workload)
                log(f"{workload:18} {target:13} {r['per_query']:8.0f} instructions/query "
                    f"({r['queries']} queries)")
                rows.append(r)
    finally:
        end_workdir(workdir, args.keep)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, f"instructions-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"benchmark": "instructions", "command": " ".join(sys.argv),
                   "sluice_bin": built, "collect": collected(args), "runs": rows}, f, indent=2)
    print(f"\n{'workload':18} {'target':13} {'instructions/query':>18}")
    for r in rows:
        print(f"{r['workload']:18} {r['target']:13} {r['per_query']:18.0f}")
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
