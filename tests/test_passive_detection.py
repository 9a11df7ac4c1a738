# tests/test_passive_detection.py -- a reader that leaves Galera's primary component answers
# reads of tables with ERROR 1047 ("WSREP has not yet prepared node for application use").
# sluice must not pass that on: the read goes to another reader, and the error makes the monitor
# check the node at once.  The monitor's own interval is set to a minute here, so the node can
# only be marked down within the test's bounded loop through that passive path.
import os
import re
import threading
import time

import pymysql

from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, galera_nodes, listener, sluice_yaml

os.environ.setdefault("SLUICE_TEST_MONITOR_PW", "monitor_pw")


def config(galera, port: int) -> str:
    return sluice_yaml([listener("app", port)], galera_nodes(galera), workers=1,
                       monitor={"user": "monitor", "password_env": "SLUICE_TEST_MONITOR_PW",
                                "interval": "60s", "timeout": "2s", "fall": 1, "rise": 1},
                       logging={"level": "debug"})


def isolate(galera, i: int, on: bool) -> None:
    conn = galera.connect(i, root=True, autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute(f"SET GLOBAL wsrep_provider_options='gmcast.isolate={1 if on else 0}'")
    finally:
        conn.close()


def test_not_ready_reader_is_retried_and_checked_at_once(galera, sluice):
    port = free_port()
    s = sluice(config(galera, port))
    s.wait_log(r"cluster galera: writer is node1", timeout=30)
    setup = galera.connect(0, root=True, autocommit=True)
    with setup.cursor() as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {DB}.passive (a INT)")
        c.execute(f"INSERT INTO {DB}.passive VALUES (1)")
    conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True, connect_timeout=10, read_timeout=60)
    cur = conn.cursor()
    read = f"SELECT COUNT(*), @@wsrep_node_name FROM {DB}.passive"
    seen = set()
    deadline = time.monotonic() + 30
    while seen != {"node2", "node3"}:  # both readers have a connection of this session
        cur.execute(read)
        seen.add(cur.fetchone()[1])
        assert time.monotonic() < deadline, seen

    errors, answers = [], []
    isolate(galera, 2, True)
    try:
        # Galera takes ~11 s (its suspect timeout) to drop node3 out of the primary component;
        # read until sluice has met the 1047 and marked node3 down, then a little longer.  The
        # bound stays well under the monitor's 60 s interval, so only the passive path can
        # have marked it down in time.
        deadline = time.monotonic() + 40
        down_at = None
        while True:
            try:
                cur.execute(read)
                answers.append(cur.fetchone())
            except pymysql.MySQLError as e:
                errors.append(e.args)
            log = s.log()
            if down_at is None and re.search(r"node node3 \(cluster galera, [^)]*\) is DOWN",
                                             log):
                down_at = len(answers)
            if down_at is not None and len(answers) >= down_at + 50:
                break
            assert time.monotonic() < deadline, f"node3 never marked down:\n{log[-3000:]}"
        assert errors == [], errors
        log = s.log()
        assert re.search(r"node node3 is not ready \(1047 WSREP has not yet prepared", log), \
            log[-3000:]
        assert "wsrep_cluster_status non-Primary" in log or "wsrep_ready OFF" in log, \
            log[-3000:]
        # Every read was answered, with the right count, and after the down none by node3.
        assert all(a[0] == 1 for a in answers)
        assert {a[1] for a in answers[down_at:]} == {"node2"}
    finally:
        isolate(galera, 2, False)
        deadline = time.monotonic() + 120
        while not (galera.status(2, "wsrep_local_state") == "4" and
                   all(galera.status(i, "wsrep_cluster_size") == "3" for i in range(3))):
            assert time.monotonic() < deadline, "node3 did not rejoin"
            time.sleep(0.2)
        with setup.cursor() as c:
            c.execute(f"DROP TABLE IF EXISTS {DB}.passive")
        setup.close()
        conn.close()
