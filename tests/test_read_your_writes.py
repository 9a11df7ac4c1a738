# tests/test_read_your_writes.py -- a session reads its own writes through sluice's default
# configuration (causal_reads is not set: session), with real clients: the mariadb CLI (LOAD DATA
# LOCAL INFILE then COUNT(*), an INSERT over the compressed protocol, a write to another database
# read back after USE), PyMySQL and mysqlclient insert-then-read loops; and causal_reads: global
# across connections (a 20 MB LONGBLOB committed by one connection is read by another one, opened
# after the COMMIT returned, on a reader).  Every round is repeated: one lucky round proves
# nothing, since Galera readers apply a write a moment after the writer acknowledged it.
import hashlib
import os
import subprocess
import time

import MySQLdb
import pymysql
import pytest

from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH

READERS = {"node2", "node3"}
os.environ.setdefault("SLUICE_TEST_MONITOR_PW", "monitor_pw")


def _config(galera, port: int, causal: str = "") -> str:
    nodes = galera.nodes_yaml()
    return f"""\
workers: 2
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera{causal} }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_env: SLUICE_TEST_MONITOR_PW }}
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
"""


def _start(sluice, galera, causal: str = ""):
    port = free_port()
    s = sluice(_config(galera, port, causal))
    s.wait_log(r"writer is node1\b")
    return s, port


@pytest.fixture
def db2(galera):
    """A second database, dropped at the end."""
    name = f"ryw_{os.urandom(4).hex()}"
    conn = galera.connect(0, autocommit=True)
    with conn.cursor() as c:
        c.execute(f"CREATE DATABASE `{name}`")
    yield name
    with conn.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _cli(port: int, sql: str, *extra: str) -> list[str]:
    r = subprocess.run(["mariadb", "-h", HOST, "-P", str(port), "--protocol=TCP", f"-u{USER}",
                        f"-p{PASSWORD}", "--skip-ssl", "--local-infile=1", "-B", "-N", *extra,
                        DB, "-e", sql], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split("\n")[:-1]


def test_cli_load_data_then_count(galera, sluice, db2, tmp_path):
    """One mariadb session: LOAD DATA LOCAL INFILE of 10,000 rows, then SELECT COUNT(*)."""
    s, port = _start(sluice, galera)
    data = tmp_path / "rows.tsv"
    data.write_text("".join(f"{i}\tvalue-{i}\n" for i in range(10000)))
    for n in range(5):
        t = f"`{db2}`.load{n}"
        out = _cli(port, f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(32)); "
                         f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE {t}; "
                         f"SELECT COUNT(*), @@wsrep_node_name FROM {t}")
        assert out[-1].split("\t")[0] == "10000", out


def test_cli_compressed_insert_then_read(galera, sluice, db2):
    """An INSERT over the compressed protocol (mariadb -C), then the row, 20 times, each in a
    new session."""
    s, port = _start(sluice, galera)
    t = f"`{db2}`.comp"
    _cli(port, f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(32))")
    for n in range(20):
        out = _cli(port, f"INSERT INTO {t} VALUES ({n}, 'c{n}'); "
                         f"SELECT v FROM {t} WHERE id = {n}", "-C")
        assert out == [f"c{n}"], (n, out)


def test_cli_write_in_another_database(galera, sluice, db2):
    """USE db2; INSERT ...; USE db1; SELECT ... FROM db2.t: the write is seen, 20 times."""
    s, port = _start(sluice, galera)
    t = f"`{db2}`.other"
    _cli(port, f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(32))")
    for n in range(20):
        out = _cli(port, f"USE `{db2}`; INSERT INTO other VALUES ({n}, 'o{n}'); USE {DB}; "
                         f"SELECT v FROM {t} WHERE id = {n}")
        assert out == [f"o{n}"], (n, out)


@pytest.mark.parametrize("driver", ["pymysql", "mysqlclient"])
def test_driver_insert_then_read(galera, sluice, db2, driver):
    """200 rounds of INSERT then SELECT of that row on one connection: never a miss; reads
    that no reader has applied yet are served by the writer, the others by the readers."""
    s, port = _start(sluice, galera)
    connect = pymysql.connect if driver == "pymysql" else MySQLdb.connect
    kw = dict(host=HOST, port=port, user=USER, password=PASSWORD, database=db2,
              autocommit=True)
    conn = connect(**kw)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE rw (id INT PRIMARY KEY, v VARCHAR(32))")
        misses, where = 0, {}
        for n in range(200):
            cur.execute("INSERT INTO rw VALUES (%s, %s)", (n, f"r{n}"))
            cur.execute("SELECT v, @@wsrep_node_name FROM rw WHERE id = %s", (n,))
            row = cur.fetchone()
            misses += row is None or row[0] != f"r{n}"
            if row:
                where[row[1]] = where.get(row[1], 0) + 1
        assert misses == 0, f"{misses} of 200 reads missed their own write; reads on {where}"
        # The readers still serve reads that do not follow a write closely.
        seen = set()
        for _ in range(100):
            cur.execute("SELECT @@wsrep_node_name")
            seen.add(cur.fetchone()[0])
            if READERS <= seen:
                break
            time.sleep(0.05)  # the monitor sees the readers catch up within a check or two
        assert READERS <= seen, seen
    finally:
        conn.close()


def test_global_across_connections(galera, sluice, db2):
    """causal_reads: global: connection A commits a 20 MB LONGBLOB row; connection B, opened
    after A's COMMIT returned, reads it on a reader and sees all of it. 5 rounds."""
    s, port = _start(sluice, galera, ", causal_reads: global")
    kw = dict(host=HOST, port=port, user=USER, password=PASSWORD, database=db2,
              autocommit=True, max_allowed_packet=64 * 1024 * 1024)
    a = pymysql.connect(**kw)
    try:
        with a.cursor() as c:
            c.execute("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
        blob = os.urandom(20 * 1024 * 1024)
        digest = hashlib.sha256(blob).hexdigest()
        for n in range(5):
            with a.cursor() as c:
                c.execute("BEGIN")
                c.execute("INSERT INTO blobs VALUES (%s, %s)", (n, blob))
                c.execute("COMMIT")
            b = pymysql.connect(**kw)
            try:
                with b.cursor() as c:
                    c.execute("SELECT LENGTH(b), SHA2(b, 256) = %s, @@wsrep_node_name "
                              "FROM blobs WHERE id = %s", (digest, n))
                    row = c.fetchone()
            finally:
                b.close()
            assert row is not None and row[0] == len(blob) and row[1] == 1, (n, row)
            assert row[2] in READERS, row
    finally:
        a.close()


def test_reads_on_the_writer_do_not_pin_later_reads_there(galera, sluice):
    """Only writes count as the session's writes. A read that ran on the writer (primary_reads:
    true takes it there every third time) and a COM_PING (connection pools ping between
    statements; it runs on the writer) must not send the reads after them to the writer until
    the monitor's next check: before the fix, sysbench's prepared point selects through a
    primary_reads listener all ran on node1, and pinged PyMySQL sessions read from node1."""
    s, port = _start(sluice, galera, ", primary_reads: true")

    def executes():
        out = []
        for i in range(3):
            conn = galera.connect(i, autocommit=True)
            with conn.cursor() as c:
                c.execute("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")
                out.append(int(c.fetchone()[1]))
            conn.close()
        return out

    sb = ["sysbench", "oltp_point_select", "--db-driver=mysql", f"--mysql-host={HOST}",
          f"--mysql-user={USER}", f"--mysql-password={PASSWORD}", f"--mysql-db={DB}",
          "--tables=1", "--table-size=1000", "--mysql-ignore-errors=none"]
    subprocess.run(sb + [f"--mysql-port={port}", "cleanup"], capture_output=True, timeout=120)
    r = subprocess.run(sb + [f"--mysql-port={port}", "prepare"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        before = executes()
        r = subprocess.run(sb + [f"--mysql-port={port}", "--threads=2", "--events=3000",
                                 "--time=0", "--db-ps-mode=auto", "run"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        spread = [a - b for a, b in zip(executes(), before)]
    finally:
        subprocess.run(sb + [f"--mysql-port={port}", "cleanup"], capture_output=True,
                       timeout=120)
    # Round-robin over three nodes: about 1,000 each; before the fix ~3,000 / 0 / 0.
    assert all(n >= 600 for n in spread), spread

    # COM_PING between reads, primary_reads off (the default): no read on the writer.
    s2, port2 = _start(sluice, galera)
    conn = pymysql.connect(host=HOST, port=port2, user=USER, password=PASSWORD, database=DB,
                           autocommit=True)
    seen = []
    with conn.cursor() as c:
        for _ in range(30):
            conn.ping(reconnect=False)
            c.execute("SELECT @@wsrep_node_name")
            seen.append(c.fetchone()[0])
    conn.close()
    assert set(seen) == READERS, seen



def _node(cur) -> str:
    cur.execute("SELECT @@wsrep_node_name")
    return cur.fetchone()[0]


def test_without_positions_reads_after_a_write_stay_on_the_writer_and_the_log_says_so(
        galera, sluice):
    """A monitor without a user reads no positions, so sluice cannot tell when a reader has
    applied a session's write: that session's reads stay on the writer (safe), and the log
    says why at start, with what to change. A causal_reads: off listener is not warned about,
    and its reads after a write go on rotating."""
    port, off = free_port(), free_port()
    cfg = _config(galera, port).replace(
        "    monitor: { user: monitor, password_env: SLUICE_TEST_MONITOR_PW }\n", "")
    cfg = cfg.replace("clusters:\n", f"  - {{ name: off, bind: \"{HOST}:{off}\", mode: mysql, "
                                     f"cluster: galera, causal_reads: off }}\nclusters:\n", 1)
    s = sluice(cfg)
    s.wait_log(r"writer is node1\b")
    warning = s.wait_log(r"warning server: listener (\S+): causal_reads: session needs the "
                         r"nodes' applied positions, .*give clusters\[\]\.monitor a user")
    assert warning.group(1) == "app"
    assert "listener off:" not in s.log()

    setup = galera.connect(0, autocommit=True)
    with setup.cursor() as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {DB}.ryw_blind (id INT AUTO_INCREMENT PRIMARY KEY)")
    try:
        # mysqlclient (Connector/C) on one listener, PyMySQL on the other.
        for driver, p, after_write in ((MySQLdb, port, {"node1"}), (pymysql, off, READERS)):
            conn = driver.connect(host=HOST, port=p, user=USER, password=PASSWORD, database=DB,
                                  autocommit=True)
            c = conn.cursor()
            assert {_node(c) for _ in range(6)} == READERS
            c.execute("INSERT INTO ryw_blind VALUES ()")
            assert {_node(c) for _ in range(20)} == after_write
            c.close()
            conn.close()
    finally:
        with setup.cursor() as c:
            c.execute(f"DROP TABLE IF EXISTS {DB}.ryw_blind")
        setup.close()
