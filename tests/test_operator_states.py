# tests/test_operator_states.py -- drain and maintenance, set with `sluice --set-state` into the
# config's state_file, against the real three-node cluster (priority = node number, so node1 is
# the writer, node2 and node3 the readers).  Checks that a drained node takes no new statements
# while a transaction already open there finishes, that maintenance ends an open transaction at
# once, and that the states survive a restart of sluice.
import os
import re
import subprocess
import time

import pymysql
import pytest

from sluice_proc import Sluice, free_port, sluice_binary
from sluice_config import (DB, HOST, PASSWORD, USER, galera_nodes, listener, sluice_yaml,
                           wait_until)

os.environ.setdefault("SLUICE_TEST_MONITOR_PW", "monitor_pw")


def config(galera, port: int) -> str:
    return sluice_yaml([listener("app", port)], galera_nodes(galera), state_file="states",
                       monitor={"user": "monitor", "password_env": "SLUICE_TEST_MONITOR_PW",
                                "interval": "200ms", "timeout": "400ms"},
                       logging={"level": "debug"})


def set_state(s: Sluice, what: str) -> None:
    r = subprocess.run([sluice_binary(), "-c", s.config_path, "--set-state", what],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert what.split("=")[1] in r.stdout


def connect(port: int):
    return pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True, connect_timeout=10, read_timeout=60)


def node(cur) -> str:
    cur.execute("SELECT @@wsrep_node_name")
    return cur.fetchone()[0]


def wait_ready(s: Sluice, port: int) -> None:
    s.wait_log(r"cluster galera: writer is", timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            connect(port).close()
            return
        except pymysql.MySQLError:
            assert time.monotonic() < deadline, s.log()[-3000:]
            time.sleep(0.1)


def test_drain_maintenance_and_restart(galera, sluice, tmp_path):
    port = free_port()
    s = sluice(config(galera, port))
    wait_ready(s, port)
    conn = connect(port)
    cur = conn.cursor()
    assert {node(cur) for _ in range(10)} == {"node2", "node3"}

    # A read-only transaction is running on a reader when that reader is drained: it
    # finishes there; new reads go elsewhere.
    cur.execute("START TRANSACTION READ ONLY")
    trx_node = node(cur)
    other = "node3" if trx_node == "node2" else "node2"
    mark = s.log_size()
    set_state(s, f"galera/{trx_node}=drain")
    s.wait_log(rf"node {trx_node} \(cluster galera\): ready -> drain \(operator\)", after=mark)
    assert {node(cur) for _ in range(5)} == {trx_node}
    cur.execute("COMMIT")
    assert {node(cur) for _ in range(10)} == {other}

    # Draining the writer hands the role on (node2 or node3, whichever is not drained);
    # a transaction open on it still commits there.
    writes = connect(port)
    wcur = writes.cursor()
    wcur.execute(f"CREATE TABLE IF NOT EXISTS {DB}.opstate_t (id INT PRIMARY KEY, n VARCHAR(64))")
    wcur.execute(f"DELETE FROM {DB}.opstate_t")
    wcur.execute("BEGIN")
    wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (1, @@wsrep_node_name)")
    mark = s.log_size()
    set_state(s, "galera/node1=drain")
    s.wait_log(rf"cluster galera: writer is {other}, was node1", after=mark)
    wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (2, @@wsrep_node_name)")
    wcur.execute("COMMIT")
    wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (3, @@wsrep_node_name)")
    wcur.execute(f"SELECT id, n FROM {DB}.opstate_t ORDER BY id")
    assert wcur.fetchall() == ((1, "node1"), (2, "node1"), (3, other))

    # Remembered across a restart of sluice: the drained nodes get nothing.
    s.stop()
    s.start()
    wait_ready(s, port)
    assert re.search(rf"cluster galera: writer is {other}", s.log())
    conn = connect(port)
    cur = conn.cursor()
    # Only one node serves: it is the writer and takes the reads too.
    assert {node(cur) for _ in range(6)} == {other}

    # Maintenance is "out now": a transaction open on the node ends, with a clear error.
    writes = connect(port)
    wcur = writes.cursor()
    set_state(s, "galera/node1=ready")
    s.wait_log(r"node node1 \(cluster galera\): drain -> ready \(operator\)")
    wcur.execute("BEGIN")
    wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (4, @@wsrep_node_name)")
    mark = s.log_size()
    set_state(s, f"galera/{other}=maintenance")
    s.wait_log(rf"cluster galera: writer is node1, was {other}", after=mark)
    with pytest.raises(pymysql.err.OperationalError) as e:
        wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (5, @@wsrep_node_name)")
    assert e.value.args[0] == 1213 and "rolled back" in e.value.args[1], e.value.args
    # The session goes on, on the new writer.
    wcur.execute(f"INSERT INTO {DB}.opstate_t VALUES (6, @@wsrep_node_name)")
    wcur.execute(f"SELECT id, n FROM {DB}.opstate_t WHERE id >= 4 ORDER BY id")
    assert wcur.fetchall() == ((6, "node1"),)

    for n in ("node1", "node2", "node3"):
        set_state(s, f"galera/{n}=ready")
    wcur.execute(f"DROP TABLE {DB}.opstate_t")
    conn.close()
    writes.close()


def test_set_state_refuses_unknown_nodes_and_missing_state_file(galera, tmp_path):
    cfg = tmp_path / "s.yaml"
    port = free_port()
    cfg.write_text(config(galera, port))
    r = subprocess.run([sluice_binary(), "-c", str(cfg), "--set-state", "galera/node9=drain"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "no node 'node9'" in r.stderr
    r = subprocess.run([sluice_binary(), "-c", str(cfg), "--set-state", "galera/node2=off"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "ready|drain|maintenance" in r.stderr
    cfg.write_text(config(galera, port).replace("state_file: states\n", ""))
    r = subprocess.run([sluice_binary(), "-c", str(cfg), "--set-state", "galera/node2=drain"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "no state_file" in r.stderr


def test_maintenance_closes_tcp_connections_to_the_node_and_drain_does_not(galera, sluice):
    """A tcp listener cannot move a connection mid-stream, so maintenance ("out now") closes
    the ones forwarding to that node, and only those; drain lets them run on. Two client
    libraries: PyMySQL (pure Python) and mysqlclient (Connector/C)."""
    import MySQLdb

    port, ro = free_port(), free_port()
    s = sluice(sluice_yaml([listener("app", port), listener("ro", ro, mode="tcp",
                                                             route="readers")],
                           galera_nodes(galera), state_file="states",
                           monitor={"user": "monitor", "password_env": "SLUICE_TEST_MONITOR_PW",
                                    "interval": "200ms", "timeout": "400ms"}))
    wait_ready(s, port)

    def open_all() -> list:
        conns = []
        for i in range(9):
            if i % 2:
                conns.append(MySQLdb.connect(host=HOST, port=ro, user=USER, password=PASSWORD,
                                             database=DB, connect_timeout=10, read_timeout=60))
            else:
                conns.append(connect(ro))
        return conns

    def on(conns) -> list[str]:
        names = []
        for c in conns:
            cur = c.cursor()
            names.append(node(cur))
            cur.close()
        return names

    # Drain: connections already on node2 keep working; new ones go elsewhere.
    conns = open_all()
    names = on(conns)
    assert set(names) == {"node1", "node2", "node3"}, names
    mark = s.log_size()
    set_state(s, "galera/node2=drain")
    s.wait_log(r"node node2 \(cluster galera\): ready -> drain \(operator\)", after=mark)
    assert on(conns) == names
    assert "node2" not in on(open_all())
    set_state(s, "galera/node2=ready")
    s.wait_log(r"node node2 \(cluster galera\): drain -> ready \(operator\)", after=mark)

    # Maintenance: the connections on node2 are closed, the others go on.
    conns = open_all()
    names = on(conns)
    victims = names.count("node2")
    assert victims >= 2, names
    mark = s.log_size()
    set_state(s, "galera/node2=maintenance")
    wait_until(lambda: s.log()[mark:].count("node node2 is in maintenance: closing the "
                                            "connection to it") == victims,
               f"{victims} tcp connections closed", timeout=10)
    for c, name in zip(conns, names):
        cur = c.cursor()
        if name == "node2":
            with pytest.raises((pymysql.err.OperationalError, pymysql.err.InterfaceError,
                                MySQLdb.OperationalError)):
                cur.execute("SELECT 1")
        else:
            assert node(cur) == name
    assert "node2" not in on(open_all())
    set_state(s, "galera/node2=ready")
