# tests/test_replication.py -- a `type: replication` cluster against a REAL MariaDB primary
# with two asynchronous replicas (tests/replication.py; primary SQL port
# $SLUICE_TEST_REPL_BASE_PORT, default 15000, replica i at +10*i).  The priorities would make
# replica1 the writer if sluice ignored @@read_only; the writer must come from read_only=OFF.
# Where a statement ran is told by the server itself: reads answer SELECT @@port, writes store
# @@port in the row (row-based binlog, so the replicas keep the primary's value).
#
# Covered: writer from read_only, writes on the primary only, reads alternating over the two
# replicas (primary_reads off); a replica whose SQL thread stops, and one delayed beyond max_lag
# (MASTER_DELAY), leaves the read rotation and comes back; a manual switchover (demote the
# primary, promote replica2) moves the writer, and reverting it moves it back.
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid

import pymysql
import pytest

from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH

PRIMARY, REPLICA1, REPLICA2 = 0, 1, 2
PRIORITY = {PRIMARY: 3, REPLICA1: 1, REPLICA2: 2}
os.environ.setdefault("SLUICE_TEST_MONITOR_PW", "monitor_pw")


@pytest.fixture(scope="session")
def replication():
    """A started tests/replication.py ReplicationSet (primary + 2 replicas), for the session.
    Tests that change replication or read_only must restore them before they end."""
    from replication import ReplicationSet

    basedir = tempfile.mkdtemp(prefix="sluice-repl-")
    rs = ReplicationSet(basedir, base_port=int(os.environ.get("SLUICE_TEST_REPL_BASE_PORT",
                                                              "15000")))
    try:
        took = rs.start()
        print(f"\nreplication set up in {took:.1f} s")
        yield rs
    finally:
        rs.stop()
        shutil.rmtree(basedir, ignore_errors=True)


@pytest.fixture
def table(replication):
    """A fresh table (id, port = @@port of the server that ran the INSERT, tag), created on
    the primary, present on both replicas; dropped on the primary (and so everywhere) after."""
    name = f"t_repl_{uuid.uuid4().hex[:10]}"
    replication.query(PRIMARY, f"CREATE TABLE `{DB}`.`{name}` (id INT AUTO_INCREMENT "
                               f"PRIMARY KEY, port INT NOT NULL, tag VARCHAR(16) NOT NULL)")
    for i in (REPLICA1, REPLICA2):
        replication.wait_caught_up(i)
    yield name
    replication.query(PRIMARY, f"DROP TABLE IF EXISTS `{DB}`.`{name}`")


def config(rs, port: int, causal_reads: str | None = "off") -> str:
    """causal_reads: "off" for the tests of the rotation itself (reads right after a write
    would otherwise go to the primary), None for the default (session)."""
    causal = f", causal_reads: {causal_reads}" if causal_reads else ""
    nodes = "\n".join(
        f'      - {{ name: {rs.node_name(i)}, address: "{HOST}:{rs.sql_port(i)}", '
        f'priority: {PRIORITY[i]} }}' for i in range(3))
    return f"""\
workers: 2
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: repl{causal} }}
clusters:
  - name: repl
    type: replication
    monitor: {{ user: monitor, password_env: SLUICE_TEST_MONITOR_PW, interval: 200ms,
               timeout: 400ms, fall: 1, rise: 1 }}
    max_lag: 2s
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
logging: {{ level: debug }}
"""


def start(sluice, rs, causal_reads: str | None = "off"):
    """sluice in front of the set, once it has picked the primary as the writer."""
    port = free_port()
    s = sluice(config(rs, port, causal_reads))
    s.wait_log(r"cluster repl: writer is primary$", timeout=20)
    return s, port


def connect(port: int) -> pymysql.connections.Connection:
    return pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True, connect_timeout=10, read_timeout=30)


def reads(rs, cur, n: int) -> list[str]:
    """``n`` autocommit reads through sluice; the name of the server that answered each."""
    names = {rs.sql_port(i): rs.node_name(i) for i in range(3)}
    out = []
    for _ in range(n):
        cur.execute("SELECT @@port")
        out.append(names[cur.fetchone()[0]])
    return out


def alternating(seq: list[str], a: str, b: str) -> bool:
    return set(seq) == {a, b} and all(x != y for x, y in zip(seq, seq[1:]))


def write(cur, name: str, tag: str, n: int = 1) -> None:
    for _ in range(n):
        cur.execute(f"INSERT INTO `{name}` (port, tag) VALUES (@@port, %s)", (tag,))


def rows_by_port(rs, i: int, name: str, tag: str) -> dict[int, int]:
    """{port recorded in the row: count} of the rows tagged ``tag``, read on server i."""
    got = rs.query(i, f"SELECT port, COUNT(*) AS n FROM `{DB}`.`{name}` WHERE tag = %s "
                      f"GROUP BY port", (tag,))
    return {r["port"]: r["n"] for r in got}


def node_line(name: str, state: str, why: str = "") -> str:
    """Regex of sluice's line for node ``name`` going UP or DOWN (DOWN: with reason ``why``)."""
    return (rf"node {name} \(cluster repl, [^)]*\) is {state}" +
            (rf" after \d+ failed checks?: {why}" if why else ""))


def gtid_seq(rs) -> int:
    """Sequence number of the primary's last binlogged transaction (one domain, one server)."""
    pos = rs.query(PRIMARY, "SELECT @@gtid_binlog_pos AS p")[0]["p"]
    return int(pos.rsplit("-", 1)[1]) if pos else 0


def test_writer_from_read_only_writes_on_primary_reads_on_replicas(replication, sluice, table):
    """The writer is the server with read_only=OFF (the primary, though its priority is the
    worst); 10 writes run there only (the primary binlogs exactly 10 transactions, every row
    carries its port on every server); 20 reads alternate between the replicas."""
    rs = replication
    s, port = start(sluice, rs)
    for r in ("replica1", "replica2"):
        assert re.search(node_line(r, "UP"), s.log()), s.log()
    conn = connect(port)
    try:
        cur = conn.cursor()
        before = gtid_seq(rs)
        write(cur, table, "a", 10)
        assert gtid_seq(rs) - before == 10
        for i in (REPLICA1, REPLICA2):
            rs.wait_caught_up(i)
        for i in range(3):
            assert rows_by_port(rs, i, table, "a") == {rs.sql_port(PRIMARY): 10}, \
                rs.node_name(i)
        seen = reads(rs, cur, 20)
        assert alternating(seen, "replica1", "replica2"), seen
    finally:
        conn.close()


def test_replica_out_of_rotation_when_not_applying_or_lagging(replication, sluice, table):
    """replica1's SQL thread stops: it is DOWN at once, reads go to replica2 only, a write
    still lands on the primary (and not on replica1); SQL thread back: UP, reads alternate.
    Then real lag: MASTER_DELAY=30 on replica1 and a write make its Seconds_Behind_Master
    grow past max_lag (2 s): DOWN with the lag; the delay reset: UP again."""
    rs = replication
    s, port = start(sluice, rs)
    conn = connect(port)
    cur = conn.cursor()
    delayed = stopped = False
    try:
        since = s.log_size()
        rs.stop_sql_thread(REPLICA1)
        stopped = True
        s.wait_log(node_line("replica1", "DOWN", "replica: Slave_SQL_Running No"),
                   timeout=20, after=since)
        seen = reads(rs, cur, 10)
        assert set(seen) == {"replica2"}, seen
        write(cur, table, "b")
        rs.wait_caught_up(REPLICA2)
        assert rows_by_port(rs, PRIMARY, table, "b") == {rs.sql_port(PRIMARY): 1}
        assert rows_by_port(rs, REPLICA2, table, "b") == {rs.sql_port(PRIMARY): 1}
        assert rows_by_port(rs, REPLICA1, table, "b") == {}

        since = s.log_size()
        rs.start_sql_thread(REPLICA1)
        stopped = False
        s.wait_log(node_line("replica1", "UP"), timeout=20, after=since)
        rs.wait_caught_up(REPLICA1)
        seen = reads(rs, cur, 20)
        assert alternating(seen, "replica1", "replica2"), seen

        # Real lag.  Restarting replication may itself flap replica1 (threads briefly not
        # running); the line waited for is the one naming the lag.
        since = s.log_size()
        rs.set_delay(REPLICA1, 30)
        delayed = True
        write(cur, table, "c")
        m = s.wait_log(node_line("replica1", "DOWN", r"replica (\d+) s behind \(max_lag 2 s\)"),
                       timeout=20, after=since)
        assert int(m.group(1)) > 2, m.group(0)
        seen = reads(rs, cur, 10)
        assert set(seen) == {"replica2"}, seen
        assert rows_by_port(rs, REPLICA1, table, "c") == {}  # the event is still waiting

        since = s.log_size()
        rs.set_delay(REPLICA1, 0)
        delayed = False
        s.wait_log(node_line("replica1", "UP"), timeout=20, after=since)
        rs.wait_caught_up(REPLICA1)
        assert rows_by_port(rs, REPLICA1, table, "c") == {rs.sql_port(PRIMARY): 1}
        seen = reads(rs, cur, 20)
        assert alternating(seen, "replica1", "replica2"), seen
    finally:
        conn.close()
        if stopped:
            rs.start_sql_thread(REPLICA1)
        if delayed:
            rs.set_delay(REPLICA1, 0)
        rs.wait_caught_up(REPLICA1)


def test_switchover_follows_read_only(replication, sluice, table):
    """A manual switchover in the safe order (demote the primary, then promote replica2):
    sluice has no writer in between, then replica2; writes through an existing and a new
    session land on replica2 only; reads go to the two read-only servers (primary and
    replica1).  Reverting it makes the primary the writer again."""
    rs = replication
    s, port = start(sluice, rs)
    old = connect(port)
    try:
        since = s.log_size()
        rs.query(PRIMARY, "SET GLOBAL read_only = ON")
        s.wait_log(r"cluster repl: no node can take writes", timeout=20, after=since)
        rs.query(REPLICA2, "SET GLOBAL read_only = OFF")
        s.wait_log(r"cluster repl: writer is replica2$", timeout=20, after=since)

        write(old.cursor(), table, "d")
        new = connect(port)
        try:
            write(new.cursor(), table, "d")
            seen = reads(rs, new.cursor(), 20)
        finally:
            new.close()
        assert rows_by_port(rs, REPLICA2, table, "d") == {rs.sql_port(REPLICA2): 2}
        for i in (PRIMARY, REPLICA1):
            assert rows_by_port(rs, i, table, "d") == {}, rs.node_name(i)
        assert alternating(seen, "primary", "replica1"), seen
        # replica2's own rows would clash with the ids the primary hands out next.
        rs.query(REPLICA2, f"DELETE FROM `{DB}`.`{table}` WHERE tag = 'd'")

        since = s.log_size()
        rs.query(REPLICA2, "SET GLOBAL read_only = ON")
        s.wait_log(r"cluster repl: no node can take writes", timeout=20, after=since)
        rs.query(PRIMARY, "SET GLOBAL read_only = OFF")
        s.wait_log(r"cluster repl: writer is primary$", timeout=20, after=since)
        write(old.cursor(), table, "e")
        assert rows_by_port(rs, PRIMARY, table, "e") == {rs.sql_port(PRIMARY): 1}
    finally:
        old.close()
        rs.query(REPLICA2, f"DELETE FROM `{DB}`.`{table}` WHERE tag = 'd'")
        rs.query(REPLICA2, "SET GLOBAL read_only = ON")
        rs.query(PRIMARY, "SET GLOBAL read_only = OFF")


def test_read_your_writes_with_gtids(replication, sluice, table):
    """causal_reads: session, the default, on a replication cluster: both replicas apply every
    transaction a second late (MASTER_DELAY=1, within max_lag).  Each of 20 insert-then-read
    rounds through sluice reads its row back: the monitor knows each server's GTID position,
    and a read goes to a replica only once that replica has applied the session's last write,
    else to the primary.  Once the replicas have it, reads go to them again."""
    rs = replication
    s, port = start(sluice, rs, causal_reads=None)
    names = {rs.sql_port(i): rs.node_name(i) for i in range(3)}
    conn = connect(port)
    cur = conn.cursor()
    try:
        for i in (REPLICA1, REPLICA2):
            rs.set_delay(i, 1)
        since = s.log_size()
        misses, where = 0, []
        for n in range(20):
            cur.execute(f"INSERT INTO `{table}` (port, tag) VALUES (@@port, %s)", (f"ryw{n}",))
            row_id = cur.lastrowid
            cur.execute(f"SELECT tag, @@port FROM `{table}` WHERE id = %s", (row_id,))
            row = cur.fetchone()
            if row is None or row[0] != f"ryw{n}":
                misses += 1
            where.append(names[row[1]] if row else names[rs.sql_port(PRIMARY)])
        assert misses == 0, f"{misses} of 20 reads missed their own write; reads on {where}"
        assert "primary" in where, where
        # A second later the replicas have the writes, the monitor has seen it, and reads
        # spread over them again.
        deadline = time.monotonic() + 15
        seen = set()
        while seen != {"replica1", "replica2"}:
            assert time.monotonic() < deadline, f"reads stayed on the primary: {seen}"
            seen |= {x for x in reads(rs, cur, 2) if x != "primary"}
            time.sleep(0.1)
    finally:
        conn.close()
        for i in (REPLICA1, REPLICA2):
            rs.set_delay(i, 0)
            rs.wait_caught_up(i)
