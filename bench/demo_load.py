#!/usr/bin/python3
# bench/demo_load.py -- load sluice-demo (demo/) with wrk and bench/demo_load.lua, and say where
# the reads went.  Starts its own three-node Galera cluster (tests/galera.py), one sluice (a
# `mode: mysql` listener and the stats server) and the app, then runs each workload for --seconds
# and prints, per workload: requests/s and latency (wrk), the read badges per node (what the nodes
# said on the pages), sluice's per-node read and write counters, and the nodes' own Com_select /
# Com_insert / Com_update counters (read directly over each node's root socket, corrected for
# the idle rate of sluice's health checks measured first).  Asserts nothing about speed.  Exit
# status: 0 done, 2 the run failed.  Results: bench/demo_load.md.
"""Benchmark sluice-demo through sluice with wrk.

Usage (as root, with sluice and sluice-demo built in build/)::

    /usr/bin/python3 bench/demo_load.py --seconds 30 --threads 2 --connections 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from galera import GaleraCluster  # noqa: E402
from sluice_proc import Sluice, free_port  # noqa: E402
from sluice_config import HOST, PASSWORD, USER, USER_HASH  # noqa: E402

LUA = os.path.join(REPO, "bench", "demo_load.lua")
# name -> (create %, detail %, what it is); the rest of each mix is list pages.
WORKLOADS = {
    "mix": (10, 60, "10 % create, 60 % product page, 30 % list page"),
    "read-only": (0, 70, "70 % product page, 30 % list page"),
}
COUNTERS = ("Com_select", "Com_insert", "Com_update", "Com_stmt_execute")
IDLE_SECONDS = 5.0


def node_counters(cluster) -> dict[str, dict[str, int]]:
    out = {}
    for i in range(cluster.nodes):
        conn = cluster.connect(i, root=True, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                            % ",".join(["%s"] * len(COUNTERS)), COUNTERS)
                out[cluster.node_name(i)] = {k: int(v) for k, v in cur.fetchall()}
        finally:
            conn.close()
    return out


def sluice_counters(stats_url: str) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(stats_url + "/api/v1/status", timeout=10) as r:
        doc = json.loads(r.read())
    return {n["name"]: n["counters"] for n in doc["clusters"][0]["nodes"]}


def delta(after: dict, before: dict) -> dict:
    return {n: {k: after[n][k] - before[n][k] for k in after[n]} for n in after}


def run_wrk(url: str, seconds: int, threads: int, connections: int, create: int,
            detail: int) -> tuple[str, dict]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", LUA,
           url, "--", str(create), str(detail)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    text = out.stdout
    summary = {}
    for key in ("requests/s", "latency ms", "requests by kind", "status", "read badges by node"):
        m = re.search(rf"^{re.escape(key)}: (.*)$", text, re.M)
        summary[key] = m.group(1) if m else ""
    return text, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=30, help="length of each wrk run")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections (-c)")
    ap.add_argument("--base-port", type=int, default=16500,
                    help="SQL port of node1 of the cluster this starts (default 16500)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated, of {', '.join(WORKLOADS)}")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("demo_load: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    app_bin = os.path.join(REPO, "build", "demo", "sluice-demo")
    if os.environ.get("SLUICE_DEMO_BIN"):
        app_bin = os.environ["SLUICE_DEMO_BIN"]
    if not os.path.exists(app_bin):
        print(f"demo_load: no {app_bin}: build first (ninja -C build)", file=sys.stderr)
        return 2

    workdir = tempfile.mkdtemp(prefix="sluice-demo-load-")
    os.chmod(workdir, 0o755)
    cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
    sluice = app = None
    try:
        print(f"starting the cluster in {workdir} ...", flush=True)
        cluster.start()
        sql_port, stats_port, http_port = free_port(), free_port(), free_port()
        with open(os.path.join(workdir, "monitor.pw"), "w") as f:
            f.write("monitor_pw\n")
        sluice = Sluice(workdir, f"""\
listeners:
  - {{ name: app, bind: "{HOST}:{sql_port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_file: {workdir}/monitor.pw, interval: 250ms,
               timeout: 500ms }}
    nodes:
{cluster.nodes_yaml()}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
stats: {{ bind: "{HOST}:{stats_port}" }}
""").start()
        sluice.wait_log(r"writer is node1\b")
        stats_url = f"http://{HOST}:{stats_port}"
        app_log = open(os.path.join(workdir, "app.log"), "w")
        app = subprocess.Popen(
            [app_bin, "--listen", f"{HOST}:{http_port}", "--mysql-port", str(sql_port),
             "--mysql-user", USER, "--database", "demo", "--stats-url", stats_url,
             "--init-schema"],
            stdout=app_log, stderr=subprocess.STDOUT,
            env=dict(os.environ, SLUICE_DEMO_MYSQL_PASSWORD=PASSWORD))
        deadline = time.monotonic() + 30
        while "serving http://" not in open(app_log.name).read():
            if app.poll() is not None or time.monotonic() > deadline:
                print("demo_load: sluice-demo did not start:\n" + open(app_log.name).read(),
                      file=sys.stderr)
                return 2
            time.sleep(0.05)
        url = f"http://{HOST}:{http_port}"

        # The health checks' own statements on each node, per second, with no load.
        n0 = node_counters(cluster)
        time.sleep(IDLE_SECONDS)
        idle = {n: {k: v / IDLE_SECONDS for k, v in d.items()}
                for n, d in delta(node_counters(cluster), n0).items()}

        results = {}
        for name in args.workloads.split(","):
            create, detail, what = WORKLOADS[name]
            n0, s0, t0 = node_counters(cluster), sluice_counters(stats_url), time.monotonic()
            text, summary = run_wrk(url, args.seconds, args.threads, args.connections, create,
                                    detail)
            took = time.monotonic() - t0
            nodes, sl = delta(node_counters(cluster), n0), delta(sluice_counters(stats_url), s0)
            results[name] = dict(what=what, wrk=summary, nodes=nodes, sluice=sl)
            print(f"\n## {name}: {what}\n\n```\n{text.strip()}\n```\n")
            print("| node | read badges | sluice reads | sluice writes | sluice in txn "
                  "| Com_select (- checks) | Com_insert | Com_update |")
            print("|---|---|---|---|---|---|---|---|")
            badges = dict(kv.split("=") for kv in summary["read badges by node"].split())
            for n in sorted(nodes):
                sel = nodes[n]["Com_select"] - idle[n]["Com_select"] * took
                print(f"| {n} | {badges.get(n, 0)} | {sl[n]['reads']} | {sl[n]['writes']} "
                      f"| {sl[n]['transaction']} | {sel:.0f} | {nodes[n]['Com_insert']} "
                      f"| {nodes[n]['Com_update']} |")
        print(f"\nmachine: {platform.node()}, {os.cpu_count()} CPUs, "
              f"{platform.platform()}; wrk -t{args.threads} -c{args.connections} "
              f"-d{args.seconds}s; health-check Com_select per node and second at idle: "
              + ", ".join(f"{n} {idle[n]['Com_select']:.1f}" for n in sorted(idle)))
        return 0
    except Exception as e:  # report, then clean up
        print(f"demo_load: {e!r}", file=sys.stderr)
        return 2
    finally:
        if app is not None and app.poll() is None:
            app.terminate()
            app.wait(15)
        if sluice is not None:
            sluice.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
