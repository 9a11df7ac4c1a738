# tests/test_sysbench.py -- sysbench oltp_read_write (8 threads, 2 tables of 10,000 rows) against
# the target of mysql_targets.py (a Galera node directly, or sluice's mysql listener), once with
# server-side prepared statements (--db-ps-mode=auto) and once with plain text queries
# (disable).  No error may be ignored: any error aborts sysbench and fails the test.
# $SLUICE_SYSBENCH_SECONDS sets the run time (default 30).
import os
import re
import shutil
import subprocess

import pytest

from mysql_targets import *  # noqa: F401,F403  (fixtures: target)
from mysql_targets import DB, PASSWORD, USER

SECONDS = int(os.environ.get("SLUICE_SYSBENCH_SECONDS", "30"))
TABLES, TABLE_SIZE, THREADS = 2, 10000, 8
# Statements per oltp_read_write transaction as run here: 10 point selects and 4 range selects;
# an index update and a non-index update; BEGIN and COMMIT.
READS, WRITES, OTHERS = 14, 2, 2
# Why not the stock workload: its delete+insert pair (DELETE ... WHERE id=?, then INSERT that id)
# takes InnoDB gap locks under REPEATABLE READ, and two transactions deleting in the same gap
# then deadlock on their inserts (1213).  That happens about once a minute with 8 threads on
# 10,000-row tables even directly against one node, with the default "special" key
# distribution and with a uniform one -- a property of the workload, not of the protocol.  With
# errors not ignored that is a flaky test, so the pair is switched off; the remaining updates
# touch existing rows by primary key (record locks only), and uniform keys keep two transactions
# from crossing on the same two rows.  No deadlock in trial runs of several minutes.
WORKLOAD = ["--delete_inserts=0", "--rand-type=uniform"]


def sysbench(t, command, *extra, timeout):
    cmd = ["sysbench", "oltp_read_write", "--db-driver=mysql",
           f"--mysql-host={t.host}", f"--mysql-port={t.port}", f"--mysql-user={USER}",
           f"--mysql-password={PASSWORD}", f"--mysql-db={DB}",
           f"--tables={TABLES}", f"--table-size={TABLE_SIZE}",
           # sysbench ignores 1213, 1020 and 1205 unless told otherwise: ignore nothing.
           "--mysql-ignore-errors=none",
           *extra, command]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def stat(output: str, name: str) -> int:
    m = re.search(rf"^\s*{name}:\s+(\d+)", output, re.M)
    assert m, f"no '{name}:' line in the sysbench report:\n{output}"
    return int(m.group(1))


@pytest.mark.parametrize("ps_mode", ["auto", "disable"])
def test_oltp_read_write(target, ps_mode):
    if not shutil.which("sysbench"):
        pytest.fail("sysbench is not installed")
    # Leftovers of an aborted earlier run would make prepare fail.
    r = sysbench(target, "cleanup", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        prepare_run_check(target, ps_mode)
    finally:
        r = sysbench(target, "cleanup", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def prepare_run_check(target, ps_mode):
    r = sysbench(target, "prepare", "--threads=2", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Inserting {TABLE_SIZE} records into 'sbtest{TABLES}'" in r.stdout
    r = sysbench(target, "run", f"--threads={THREADS}", f"--time={SECONDS}",
                 f"--db-ps-mode={ps_mode}", "--report-interval=0", *WORKLOAD,
                 timeout=SECONDS + 180)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "FATAL" not in out, out
    assert stat(out, "ignored errors") == 0, out
    assert stat(out, "reconnects") == 0, out
    tx = stat(out, "transactions")
    assert tx > 0, out
    # Every transaction ran all of its statements successfully.  (How sysbench 1.0 splits the
    # non-SELECT statements between "write" and "other" is its own affair -- it books most of
    # the UPDATEs under "other" -- so only their sum is fixed.)
    assert stat(out, "read") == READS * tx, out
    assert stat(out, "write") + stat(out, "other") == (WRITES + OTHERS) * tx, out
    assert stat(out, "write") > 0, out
    assert stat(out, "total") == (READS + WRITES + OTHERS) * tx, out
    # No row was lost or added, and every node holds the same data.
    sums = []
    for i in range(3):
        conn = target.galera.connect(i, database=DB, autocommit=True)
        try:
            with conn.cursor() as c:
                c.execute("SET SESSION wsrep_sync_wait = 1")
                node = []
                for n in range(1, TABLES + 1):
                    c.execute(f"SELECT COUNT(*), SUM(k), SUM(CRC32(CONCAT(id, c, pad))) "
                              f"FROM sbtest{n}")
                    node.append(tuple(int(v) for v in c.fetchone()))
                sums.append(node)
        finally:
            conn.close()
    assert all(node[n][0] == TABLE_SIZE for node in sums for n in range(TABLES)), sums
    assert sums[0] == sums[1] == sums[2], sums
