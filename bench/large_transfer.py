#!/usr/bin/python3
# bench/large_transfer.py -- large results and large statements through each target, against
# a direct connection in the same run: one 16 MiB row, 300,000 small rows, a 20 MiB INSERT.
"""Time large transfers direct, through HAProxy and through sluice (tcp and mysql listeners,
io_uring and epoll), and print each target's median as a ratio to the direct one.

A proxy that streams adds little to a transfer that the nodes and the client dominate; one
that waits somewhere (a buffer bound, a loop's timer) shows it here at once. The 2026-12-07
run that added this script found sluice's io_uring loop taking 10 ms per 256 KiB forwarded:
a 16 MiB row was 9x slower than direct, with epoll at 1.1x.

Usage: bench/large_transfer.py --cluster-port 18000 [--rounds 5] [--sluice-bin PATH]
(a running cluster from `tests/galera.py start`), or without --cluster-port to start one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "bench"))

import MySQLdb  # noqa: E402

import proxy_compare as pc  # noqa: E402
from benchlib import Stop, end_workdir, log, sluice_copy, start_workdir, write_monitor_pw  # noqa: E402
from galera import GaleraCluster  # noqa: E402

TARGETS = ("direct", "haproxy-1node", "sluice-tcp", "sluice-mysql", "sluice-tcp-epoll",
           "sluice-mysql-epoll")
BIG_ROW = 16 << 20
ROWS = 300_000
INSERT = 20 << 20


def connect(port: int):
    # mysqlclient (Connector/C): reads a whole result as fast as it comes.
    return MySQLdb.connect(host=pc.HOST, port=port, user=pc.USER, password=pc.PASSWORD,
                           database=pc.DB, autocommit=True, connect_timeout=10,
                           read_timeout=120)


def timed(fn) -> float:
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def one_round(port: int, blob: bytes, digest: str) -> dict[str, float]:
    """Each transfer once on one connection; checks what came back."""
    conn = connect(port)
    cur = conn.cursor()
    out = {}

    def big_row():
        # sluice:primary keeps the mysql listener's read on node1, as HAProxy's 1node target.
        cur.execute(f"SELECT REPEAT('x', {BIG_ROW}) /* sluice:primary */")
        assert len(cur.fetchone()[0]) == BIG_ROW

    def many_rows():
        cur.execute(f"SELECT seq, REPEAT('y', 100) FROM seq_1_to_{ROWS} /* sluice:primary */")
        assert len(cur.fetchall()) == ROWS

    def insert():
        cur.execute("REPLACE INTO bench_large_transfer VALUES (%s, %s)", (port, blob))

    out["16 MiB row"] = timed(big_row)
    out["300k rows"] = timed(many_rows)
    out["20 MiB insert"] = timed(insert)
    cur.execute("SELECT SHA2(b, 256) FROM bench_large_transfer WHERE id = %s /* sluice:primary */",
                (port,))
    assert cur.fetchone()[0] == digest
    conn.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cluster-port", type=int, help="node1's port of a running cluster")
    ap.add_argument("--base-port", type=int, default=21000,
                    help="where to start a cluster when no --cluster-port (default 21000)")
    ap.add_argument("--sluice-bin", default=os.path.join(REPO, "build", "src", "sluice"))
    ap.add_argument("--rounds", type=int, default=5, help="rounds, targets alternated (5)")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)

    workdir = start_workdir("sluice-bench-large-")
    binary = sluice_copy(workdir, args.sluice_bin)
    monitor_pw = write_monitor_pw(workdir, pc.MONITOR_PW)
    nodes = pc.Nodes(args.cluster_port or args.base_port)
    cluster = px = None
    times: dict[str, dict[str, list[float]]] = {t: {} for t in TARGETS}
    try:
        if not args.cluster_port:
            cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
            log(f"cluster up in {cluster.start():.1f} s")
        setup = nodes.connect(0)
        with setup.cursor() as c:
            c.execute("CREATE TABLE IF NOT EXISTS bench_large_transfer "
                      "(id INT PRIMARY KEY, b LONGBLOB)")
            c.execute("SELECT @@max_allowed_packet")
            if c.fetchone()[0] < INSERT + (1 << 20):
                raise RuntimeError("the nodes' max_allowed_packet is below 21 MiB")
        px = pc.Proxies(workdir, nodes, monitor_pw, binary, "large")
        px.start()
        blob = os.urandom(INSERT)
        digest = hashlib.sha256(blob).hexdigest()
        for rnd in range(1, args.rounds + 1):
            for target in TARGETS:
                got = one_round(px.ports[target], blob, digest)
                for k, v in got.items():
                    times[target].setdefault(k, []).append(v)
            log(f"round {rnd}: " + ", ".join(
                f"{t} {times[t]['16 MiB row'][-1] * 1000:.0f} ms" for t in TARGETS))
        with setup.cursor() as c:
            c.execute("DROP TABLE bench_large_transfer")
        setup.close()
    except (KeyboardInterrupt, Stop):
        log("interrupted")
        return 1
    finally:
        if px:
            for p in px.stop():
                log(p)
        if cluster:
            cluster.stop()
        end_workdir(workdir, args.keep)

    kinds = list(times["direct"])
    rows = [["target"] + [f"{k} ms (x direct)" for k in kinds]]
    summary = {}
    for t in TARGETS:
        line = [t]
        for k in kinds:
            med = statistics.median(times[t][k])
            base = statistics.median(times["direct"][k])
            line.append(f"{med * 1000:.0f} ({med / base:.2f})")
            summary.setdefault(t, {})[k] = {"median_s": med, "ratio": med / base,
                                            "all_s": times[t][k]}
        rows.append(line)
    print(pc.render(rows))
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir,
                        time.strftime("large_transfer-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump({"rounds": args.rounds, "sluice_bin": args.sluice_bin, "results": summary},
                  f, indent=1)
    print(f"written: {os.path.relpath(path, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
