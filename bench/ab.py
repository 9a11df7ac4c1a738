#!/usr/bin/python3
# bench/ab.py -- two sluice builds (or more) against each other and HAProxy, in one run.
# proxy_compare.py measures one build against HAProxy and a direct connection; this one puts
# several builds side by side, so that a change is judged against the build before it under
# the same machine noise.  Each build runs as its own sluice (one at a time, with the
# listeners of proxy_compare: tcp, mysql, mysql with every read on node1), HAProxy beside them.
# Targets alternate round by round (odd rounds in reverse); for each run it prints QPS and the
# CPU per query of the proxy (user and system, from /proc) and of the three mariadbd.
# sysbench runs as fast as it goes, or at --rate queries/s.  Asserts nothing.
"""Compare sluice builds with each other and with HAProxy, CPU per query, in one run.

Usage (as root, with a cluster from tests/galera.py on 18000 and two builds)::

    /usr/bin/python3 bench/ab.py --cluster-port 18000 \\
        old=/tmp/sluice-old new=build/src/sluice --threads 1 --rounds 3 --time 8

Each target is LABEL=BINARY (every listener of that build) or the word haproxy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, os.path.join(REPO, "tests"))

import proxy_compare as pc  # noqa: E402
from benchlib import end_workdir, log, start_workdir, write_monitor_pw  # noqa: E402
from sluice_config import MONITOR_PASSWORD  # noqa: E402

LISTENERS = ("tcp", "mysql", "mysql-1node")


def node_pids(ports: list[int]) -> list[int]:
    """The mariadbd listening on the cluster's SQL ports."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    pids = set()
    for line in out.splitlines():
        for p in ports:
            if f"127.0.0.1:{p} " in line:
                m = re.search(r"pid=(\d+)", line)
                if m:
                    pids.add(int(m.group(1)))
    return sorted(pids)


class Proxy:
    """HAProxy, or one sluice build with proxy_compare's listeners; started on first use."""

    def __init__(self, label: str, binary: str | None, workdir: str, nodes, monitor_pw: str,
                 ports: dict[str, int]):
        self.label, self.ports, self.proc = label, ports, None
        self.log_path = os.path.join(workdir, f"{label}.log")
        if binary is None:
            self.config = os.path.join(workdir, "haproxy.cfg")
            with open(self.config, "w") as f:
                f.write(pc.haproxy_config(nodes, ports["haproxy"]))
            self.cmd = [pc.HAPROXY, "-f", self.config, "-db"]
        else:
            self.config = os.path.join(workdir, f"{label}.yaml")
            with open(self.config, "w") as f:
                f.write(pc.sluice_config(nodes, ports["tcp"], ports["mysql"], monitor_pw,
                                         one_node_port=ports["mysql-1node"]))
            # A copy: a rebuild during the run changes nothing.
            copy = os.path.join(workdir, f"sluice-{label}")
            shutil.copy2(binary, copy)
            self.cmd = [copy, "-c", self.config]

    def start(self) -> None:
        if self.proc is not None:
            return
        self.proc = subprocess.Popen(self.cmd, stdout=open(self.log_path, "w"),
                                     stderr=subprocess.STDOUT)
        haproxy = self.cmd[0] == pc.HAPROXY
        for port in [self.ports["haproxy"]] if haproxy else [self.ports[k] for k in LISTENERS]:
            pc.wait_spread(port, self.label, self.check, nodes=1)
        time.sleep(1.0)  # the monitor's first rounds

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.label} exited; see {self.log_path} (--keep keeps it)")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def sysbench(port: int, args, seconds: int) -> int:
    """One run (at args.rate queries/s when set, else as fast as it goes); the number of
    queries."""
    rate = [f"--rate={pc.rate_for(args.workload, args)}"] if args.rate else []
    out = subprocess.run(pc.sysbench_cmd(args.workload, port, args, f"--threads={args.threads}",
                                         f"--time={seconds}", "--rand-type=uniform",
                                         "--report-interval=0", *rate, "run"),
                         capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"queries:\s+(\d+)", out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"sysbench failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="+", help="LABEL=BINARY, or haproxy")
    ap.add_argument("--cluster-port", type=int, required=True)
    ap.add_argument("--listeners", default=",".join(LISTENERS),
                    help=f"which listeners of each build (default {','.join(LISTENERS)})")
    ap.add_argument("--workload", default="oltp_point_select")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rate", type=int, default=0,
                    help="queries/s, as proxy_compare's --rate (default: as fast as it goes)")
    ap.add_argument("--time", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=10000)
    ap.add_argument("--skip-trx", action="store_true")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    listeners = args.listeners.split(",")

    workdir = start_workdir("sluice-ab-")
    nodes = pc.Nodes(args.cluster_port)
    monitor_pw = write_monitor_pw(workdir, MONITOR_PASSWORD)
    nports = node_pids(nodes.ports)
    proxies: dict[str, Proxy] = {}
    runs: list[tuple[str, Proxy, int]] = []  # (name, proxy, port)
    results: dict[str, list[dict]] = {}
    try:
        log(f"sysbench tables: {pc.prepare_tables(nodes, args)}")
        taken: set[int] = set()
        for t in args.targets:
            ports = {}
            for k in ("haproxy",) + LISTENERS:
                while (port := pc.free_port()) in taken:
                    pass
                taken.add(port)
                ports[k] = port
            if t == "haproxy":
                proxies[t] = Proxy(t, None, workdir, nodes, monitor_pw, ports)
                runs.append((t, proxies[t], ports["haproxy"]))
                continue
            label, _, binary = t.partition("=")
            if not binary or not os.path.exists(binary):
                ap.error(f"{t}: give LABEL=BINARY with an existing binary")
            proxies[label] = Proxy(label, binary, workdir, nodes, monitor_pw, ports)
            runs += [(f"{label} {li}", proxies[label], ports[li]) for li in listeners]
        for r in range(args.rounds):
            for name, proxy, port in (runs if r % 2 == 0 else list(reversed(runs))):
                for other in proxies.values():  # one sluice at a time, HAProxy stays
                    if other is not proxy and other.label != "haproxy":
                        other.stop()
                proxy.start()
                sysbench(port, args, 1)  # warm-up
                u0, s0 = pc.proc_cpu_split_ticks(proxy.proc.pid)
                n0 = sum(pc.proc_cpu_ticks(p) for p in nports)
                t0 = time.monotonic()
                q = sysbench(port, args, args.time)
                wall = time.monotonic() - t0
                u1, s1 = pc.proc_cpu_split_ticks(proxy.proc.pid)
                n1 = sum(pc.proc_cpu_ticks(p) for p in nports)
                us_per_q = 1e6 / pc.CLK_TCK / q
                row = {"round": r + 1, "queries": q, "qps": q / wall,
                       "user_us": (u1 - u0) * us_per_q, "sys_us": (s1 - s0) * us_per_q,
                       "nodes_us": (n1 - n0) * us_per_q}
                results.setdefault(name, []).append(row)
                log(f"r{r + 1} {name:22s} {row['qps']:8.0f} q/s  proxy {row['user_us']:5.1f} "
                    f"user + {row['sys_us']:5.1f} sys us/q  nodes {row['nodes_us']:5.1f} us/q")
    finally:
        for p in proxies.values():
            p.stop()
        end_workdir(workdir, args.keep)

    med = statistics.median
    base = results.get("haproxy")
    print(f"\n{'target':22s} {'QPS':>8s} {'user':>6s} {'sys':>6s} {'proxy us/q':>10s} "
          f"{'nodes us/q':>10s} {'CPU vs HAProxy':>14s}")
    for name, rows in results.items():
        total = med(r["user_us"] + r["sys_us"] for r in rows)
        ratio = (f"{total / med(r['user_us'] + r['sys_us'] for r in base):14.2f}" if base
                 else f"{'-':>14s}")
        print(f"{name:22s} {med(r['qps'] for r in rows):8.0f} "
              f"{med(r['user_us'] for r in rows):6.1f} {med(r['sys_us'] for r in rows):6.1f} "
              f"{total:10.1f} {med(r['nodes_us'] for r in rows):10.1f} {ratio}")
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, time.strftime("ab-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump({"benchmark": "ab", "args": vars(args), "runs": results}, f, indent=1)
    print(f"\nwritten: {os.path.relpath(path, REPO)} (medians over {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
