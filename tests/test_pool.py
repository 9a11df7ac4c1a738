# Backend connection pooling (pool.mode: transaction, the default) against the real Galera
# cluster: many more clients than the nodes' max_connections, logins that log in to no node,
# sessions sharing one node connection without seeing each other's settings, users or
# prepared statements, transactions that keep their connection, KILL QUERY reaching the
# statement that runs now, a killed node's pooled connections closed, pins that end with their
# cause (the last temporary table dropped) or last (CALL), also from prepared statements, a
# session taking its own parked connection back as it left it, and pool.mode: session.
# Clients: PyMySQL, mysqlclient, PHP mysqli (server-side prepared statements), the mariadb CLI.
import re
import subprocess
import threading
import time
import urllib.request

import MySQLdb
import pymysql
import pytest

from sluice_config import (DB, HOST, OTHER_HASH, OTHER_PASSWORD, OTHER_USER, PASSWORD, USER,
                           USER_HASH, galera_nodes, listener, sluice_yaml, wait_until)
from sluice_proc import free_port

USERS = ({"name": USER, "password_hash": f'"{USER_HASH}"'},
         {"name": OTHER_USER, "password_hash": f'"{OTHER_HASH}"'})
OTHER_DB = "sluice_pool_other"


def start(galera, sluice, pool: dict, workers: int = 1, queue_timeout: str = "20s"):
    port, stats_port = free_port(), free_port()
    cfg = sluice_yaml([listener("app", port)], galera_nodes(galera),
                      cluster_keys={"queue_timeout": queue_timeout, "pool": pool}, users=USERS,
                      workers=workers, stats={"bind": f'"{HOST}:{stats_port}"'})
    s = sluice(cfg)
    s.port, s.stats = port, f"http://{HOST}:{stats_port}"
    wait_until(lambda: per_node(s, "connections") is not None, "the stats server")
    return s


def per_node(s, name: str) -> dict[str, float] | None:
    """sluice_node_<name> per node, from /metrics (None while the server is not up)."""
    try:
        with urllib.request.urlopen(s.stats + "/metrics", timeout=10) as r:
            body = r.read().decode()
    except OSError:
        return None
    got = {}
    for m in re.finditer(rf'^sluice_node_{name}\{{[^}}]*node="([^"]+)"[^}}]*\}} (\S+)$', body, re.M):
        got[m.group(1)] = got.get(m.group(1), 0) + float(m.group(2))
    return got


def connect(s, user=USER, password=PASSWORD, db=DB, **kw):
    return pymysql.connect(host=HOST, port=s.port, user=user, password=password, database=db,
                           autocommit=True, connect_timeout=20, read_timeout=60, **kw)


def connect_mysqlclient(s):
    """A mysqlclient (MySQLdb) session through sluice s, autocommit on."""
    return MySQLdb.connect(host=HOST, port=s.port, user=USER, passwd=PASSWORD, db=DB,
                           autocommit=True)


def one(conn, sql, args=None):
    with conn.cursor() as c:
        c.execute(sql, args)
        return c.fetchone()


def node_threads(galera, user: str) -> int:
    """Connections of user on every node, as the nodes count them."""
    total = 0
    for i in range(galera.nodes):
        conn = galera.connect(i, root=True)
        try:
            total += one(conn, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                               "WHERE USER = %s", (user,))[0]
        finally:
            conn.close()
    return total


@pytest.fixture(scope="module")
def other_db(galera):
    conn = galera.connect(0, root=True)
    try:
        with conn.cursor() as c:
            c.execute(f"CREATE DATABASE IF NOT EXISTS {OTHER_DB}")
            c.execute(f"GRANT ALL ON {OTHER_DB}.* TO '{USER}'@'{HOST}'")
            c.execute(f"GRANT SELECT ON {DB}.* TO '{OTHER_USER}'@'{HOST}'")
            c.execute(f"USE {DB}")
            c.execute(f"CREATE TABLE IF NOT EXISTS {DB}.pool_t "
                      "(id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
            c.execute(f"INSERT IGNORE INTO {DB}.pool_t SELECT seq, seq * 10 FROM seq_1_to_1000")
        conn.commit()
    finally:
        conn.close()
    return OTHER_DB


def test_thousands_of_idle_clients_hold_a_few_node_connections(galera, sluice, other_db):
    """400, then 2,000 PyMySQL clients log in through sluice, run a statement and stay idle.
    The nodes allow 300 connections each; without pooling 97 of the first 400 got 1040."""
    s = start(galera, sluice, {"max_per_node": 10, "min_idle": 2}, workers=2)
    cap = 2 * 3 * 10  # workers x nodes x max_per_node
    clients, errors = [], []
    try:
        for target in (400, 2000):
            while len(clients) < target:
                try:
                    conn = connect(s)
                    assert one(conn, "SELECT 1") == (1,)
                    clients.append(conn)
                except pymysql.err.MySQLError as e:
                    errors.append(e)
                    if len(errors) > 5:
                        break
            assert not errors, errors[:5]
            assert len(clients) == target
            on_nodes = node_threads(galera, USER)
            assert on_nodes <= cap, f"{on_nodes} node connections for {target} idle clients"
            opened = sum(per_node(s, "connects_total").values())
            assert opened <= cap, f"{opened} node logins for {target} clients"
        # Every one of them is still a working session.
        for conn in clients[::10]:
            assert one(conn, "SELECT v FROM pool_t WHERE id = 7") == (70,)
        reuses = sum(per_node(s, "pool_reuses_total").values())
        assert reuses >= 2000 - cap, reuses
    finally:
        for conn in clients:
            conn.close()


def test_two_thousand_busy_clients_share_the_cap(galera, sluice, other_db):
    """2,000 sessions run point selects from 40 threads for a few seconds: every statement
    answers right, and the node connections never pass workers x nodes x max_per_node."""
    s = start(galera, sluice, {"max_per_node": 4, "min_idle": 0}, workers=2)
    cap = 2 * 3 * 4
    clients = [connect(s) for _ in range(2000)]
    stop = threading.Event()
    errors, done, peak = [], [0] * 40, [0]

    def work(k: int) -> None:
        mine = clients[k::40]
        i = 0
        while not stop.is_set():
            conn = mine[i % len(mine)]
            key = (k * 37 + i) % 1000 + 1
            try:
                got = one(conn, "SELECT v FROM pool_t WHERE id = %s", (key,))
                if got != (key * 10,):
                    errors.append((key, got))
            except pymysql.err.MySQLError as e:
                errors.append(e)
            i += 1
            done[k] = i

    def watch() -> None:
        while not stop.is_set():
            now = per_node(s, "connections") or {}
            peak[0] = max(peak[0], sum(now.values()))
            time.sleep(0.1)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(40)]
    threads.append(threading.Thread(target=watch))
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while sum(done) < 4000 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        assert not errors, errors[:5]
        assert sum(done) >= 4000
        assert 0 < peak[0] <= cap, peak[0]
        assert node_threads(galera, USER) <= cap
    finally:
        stop.set()
        for conn in clients:
            conn.close()


def test_a_login_that_finds_a_pooled_connection_logs_in_nowhere(galera, sluice, other_db):
    """200 connect / query / quit cycles (the mariadb CLI and mysqlclient): a handful of node
    logins, the rest served from the pool."""
    s = start(galera, sluice, {"max_per_node": 5})
    for k in range(100):
        # autocommit on: mysqlclient's default (off) ties a session to its connection.
        conn = connect_mysqlclient(s)
        conn.query("SELECT 1")
        conn.store_result()
        conn.close()
    for k in range(100):
        out = subprocess.run(["mariadb", "-h", HOST, "-P", str(s.port), "-u", USER,
                              f"-p{PASSWORD}", DB, "-N", "-e", "SELECT 40 + 2"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "42", out.stderr
    logins = sum(per_node(s, "connects_total").values())
    reuses = sum(per_node(s, "pool_reuses_total").values())
    # Two client libraries (different capabilities) x at most 3 nodes x max_per_node.
    assert logins <= 2 * 3 * 5, logins
    assert reuses >= 200 - logins, (logins, reuses)


def test_settings_and_databases_stay_with_their_session(galera, sluice, other_db):
    """Two sessions with different time_zone, sql_mode and database take turns on the single
    pooled connection per node (max_per_node 1): each always sees its own."""
    s = start(galera, sluice, {"max_per_node": 1})
    a, b = connect(s), connect(s)
    try:
        one(a, "SET time_zone = '+01:00', sql_mode = 'ANSI_QUOTES'")
        one(b, "SET time_zone = '+05:30', sql_mode = 'TRADITIONAL'")
        b.select_db(other_db)
        seen = {"a": set(), "b": set()}
        # On the writer, so both use its one connection (readers would alternate).
        q = "/* sluice:primary */ SELECT @@time_zone, @@sql_mode, DATABASE(), CONNECTION_ID()"
        for _ in range(15):
            tz, mode, db, tid = one(a, q)
            assert (tz, mode, db) == ("+01:00", "ANSI_QUOTES", DB)
            seen["a"].add(tid)
            tz, mode, db, tid = one(b, q)
            assert tz == "+05:30" and "STRICT_ALL_TABLES" in mode and db == other_db
            seen["b"].add(tid)
        # They did share node connections: that is what was tested.
        assert seen["a"] & seen["b"], seen
    finally:
        a.close()
        b.close()
    # A new session gets none of it.
    c = connect(s)
    try:
        assert one(c, "SELECT @@time_zone, DATABASE()") == ("SYSTEM", DB)
    finally:
        c.close()


def test_a_connection_left_in_another_state_is_reset_before_use(galera, sluice, other_db):
    """One writer connection (max_per_node 1): a session leaves its time_zone on it and quits;
    the next logs in on it and quits at once (it never ran a statement there); the third
    must still not see the first one's setting."""
    s = start(galera, sluice, {"max_per_node": 1})
    q = "/* sluice:primary */ SELECT @@time_zone, CONNECTION_ID()"
    a = connect(s)
    one(a, "SET time_zone = '+07:00'")
    tz, tid = one(a, q)
    assert tz == "+07:00"
    a.close()
    connect(s).close()
    c = connect(s)
    try:
        tz, tid_c = one(c, q)
        assert tid_c == tid, "not the same node connection: the test proves nothing"
        assert tz == "SYSTEM"
    finally:
        c.close()


@pytest.mark.parametrize("multi", [True, False], ids=["multi_statements", "one_by_one"])
def test_session_state_is_restored_in_one_round_trip(galera, sluice, other_db, multi):
    """Three SETs (two ending in a comment) reach a reader connection that never saw them:
    as one multi-statement when the client's connection takes those (2 commands on that node:
    the replay and the read), else one by one (4); the read sees all three."""
    from pymysql.constants import CLIENT
    s = start(galera, sluice, {})
    a = connect(s, client_flag=CLIENT.MULTI_STATEMENTS if multi else 0)
    try:
        one(a, "SET time_zone = '+02:00' -- east")
        one(a, "SET sql_mode = 'ANSI_QUOTES' # quotes")
        one(a, "SET max_join_size = 1000000")
        before = per_node(s, "statements_total")
        tz, mode, mjs, where = one(a, "SELECT @@time_zone, @@sql_mode, @@max_join_size, "
                                      "@@wsrep_node_name")
        after = per_node(s, "statements_total")
        assert (tz, mode, mjs) == ("+02:00", "ANSI_QUOTES", 1000000)
        assert where in ("node2", "node3")
        assert after[where] - before[where] == (2 if multi else 4), (before, after)
    finally:
        a.close()


@pytest.mark.parametrize("client", ["pymysql", "mysqlclient"])
def test_a_session_takes_its_own_connection_back_as_it_left_it(galera, sluice, other_db, client):
    """A session's reader connections go back to the pool after each read, but while nobody else
    takes them they are still the session's: after a new SET, its next read on a reader runs on
    the very connection it had there (same CONNECTION_ID()), caught up by that one SET, without a
    reset and a replay of everything (2 commands on that node, not 3 or 4)."""
    s = start(galera, sluice, {})
    a = connect(s) if client == "pymysql" else connect_mysqlclient(s)
    q = "SELECT @@time_zone, @@sql_mode, @@wsrep_node_name, CONNECTION_ID()"
    try:
        one(a, "SET time_zone = '+03:00'")
        had = {}
        for _ in range(4):
            tz, _mode, where, tid = one(a, q)
            assert tz == "+03:00"
            had[where] = tid
        assert set(had) == {"node2", "node3"}, had
        one(a, "SET sql_mode = 'ANSI_QUOTES'")
        before = per_node(s, "statements_total")
        reuses = per_node(s, "pool_reuses_total")
        tz, mode, where, tid = one(a, q)
        after = per_node(s, "statements_total")
        assert (tz, mode) == ("+03:00", "ANSI_QUOTES")
        assert tid == had[where], f"{where}: connection {tid}, the session had {had[where]}"
        # The one SET, then the read. A connection taken for another session's state is reset
        # first and replays the whole history: 3 commands (mysqlclient asks for
        # multi-statements, so both SETs go as one) or 4 (PyMySQL, one by one).
        assert after[where] - before[where] == 2, (where, before, after)
        # The pool counted the take as a reuse, and counts parked connections as idle ones.
        assert per_node(s, "pool_reuses_total")[where] == reuses[where] + 1
        assert sum(per_node(s, "idle_connections").values()) >= 2
    finally:
        a.close()


def test_an_insert_keeps_its_connection_for_last_insert_id_then_lets_go(galera, sluice,
                                                                        other_db):
    """mysqlclient: an INSERT that generates an id keeps its writer connection for the next
    statements, so LAST_INSERT_ID() there is the insert's; a session that then goes idle gives
    the connection back within about a second (HOLD_MS), instead of holding it while idle."""
    s = start(galera, sluice, {"max_per_node": 2})
    root = galera.connect(0, root=True)
    with root.cursor() as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {DB}.pool_ai "
                  "(id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    root.close()
    conn = connect_mysqlclient(s)
    try:
        cur = conn.cursor()
        for _ in range(5):
            cur.execute("INSERT INTO pool_ai (v) VALUES (1)")
            got = conn.insert_id()
            cur.execute("SELECT v FROM pool_t WHERE id = 1")  # a read in between
            cur.execute("SELECT LAST_INSERT_ID()")
            assert cur.fetchone() == (got,)
        wait_until(lambda: sum(per_node(s, "in_use_connections").values()) == 0,
                   "the idle session to give its connection back", timeout=10,
                   detail=lambda: str(per_node(s, "in_use_connections")))
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_users_are_never_mixed(galera, sluice, other_db):
    """Two users (PyMySQL and mysqlclient) take turns with one connection per node allowed:
    each statement runs as its session's user."""
    s = start(galera, sluice, {"max_per_node": 1})
    a = connect(s)
    b = MySQLdb.connect(host=HOST, port=s.port, user=OTHER_USER, passwd=OTHER_PASSWORD, db=DB)
    try:
        for _ in range(10):
            assert one(a, "SELECT CURRENT_USER()")[0].startswith(USER + "@")
            cur = b.cursor()
            cur.execute("SELECT CURRENT_USER(), USER()")
            cu, u = cur.fetchone()
            assert cu.startswith(OTHER_USER + "@") and u.startswith(OTHER_USER + "@")
    finally:
        a.close()
        b.close()


def run_php(s, path, script: str) -> None:
    """Write script to path and run it with PHP against sluice s (its arguments: port, user,
    password, database); it must exit 0 having printed "ok"."""
    path.write_text(script)
    out = subprocess.run(["php", str(path), str(s.port), USER, PASSWORD, DB],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr


# How each PHP script below starts: errors as exceptions, and two sessions, $a and $b, through
# sluice (run_php's arguments).
PHP_TWO_SESSIONS = r"""<?php
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
[$_, $port, $user, $pw, $db] = $argv;
$a = new mysqli('127.0.0.1', $user, $pw, $db, (int)$port);
$b = new mysqli('127.0.0.1', $user, $pw, $db, (int)$port);
"""

PHP_PREPARED = PHP_TWO_SESSIONS + r"""
$sa = $a->prepare('SELECT v, ? FROM pool_t WHERE id = ?');
$sb = $b->prepare('SELECT v + 1, ? FROM pool_t WHERE id = ?');
$sc = $b->prepare('SELECT v, ? FROM pool_t WHERE id = ?');  /* a's text, b's statement */
for ($i = 1; $i <= 40; $i++) {
    foreach ([[$sa, 0, 'a'], [$sb, 1, 'b'], [$sc, 0, 'c']] as [$st, $plus, $tag]) {
        $id = ($i * 7) % 1000 + 1;
        $st->bind_param('si', $tag, $id);
        $st->execute();
        $st->bind_result($v, $t);
        $st->fetch();
        $st->free_result();
        if ($v != $id * 10 + $plus || $t !== $tag) {
            fwrite(STDERR, "round $i $tag: got $v/$t for id $id\n");
            exit(1);
        }
    }
    if ($i == 20) { $sa->close(); $sa = $a->prepare('SELECT v, ? FROM pool_t WHERE id = ?'); }
}
echo "ok\n";
"""


def test_prepared_statements_interleave_across_sessions(galera, sluice, other_db, tmp_path):
    """PHP mysqli (server-side prepared statements): two sessions with three statements, two of
    them the same text, execute in turns over one pooled connection per node."""
    s = start(galera, sluice, {"max_per_node": 1})
    run_php(s, tmp_path / "prepared.php", PHP_PREPARED)


# Types bound once per statement (bind_param before the loop), so every later execute binds none
# and the node uses the types it last had. One statement on the pooled connection is shared by
# three with the same text and other types: two sessions' (a, b), and a second of a's (c), also
# inside a transaction, where a keeps the connection. sluice must send a statement's own types
# whenever the node last had another's, and may leave them out only when they are the same.
PHP_BOUND_TYPES = PHP_TWO_SESSIONS + r"""
$sql = 'SELECT ?, v FROM pool_t WHERE id = ?';
$st = ['a' => $a->prepare($sql), 'b' => $b->prepare($sql), 'c' => $a->prepare($sql)];
$st['a']->bind_param('si', $val['a'], $id['a']);   /* VARCHAR, LONGLONG */
$st['b']->bind_param('di', $val['b'], $id['b']);   /* DOUBLE, LONGLONG */
$st['c']->bind_param('ii', $val['c'], $id['c']);   /* LONGLONG, LONGLONG */
$turns = ['a', 'a', 'b', 'c', 'a', 'c', 'b', 'b', 'c', 'c'];
for ($i = 1; $i <= 80; $i++) {
    if ($i == 40) $a->begin_transaction();
    if ($i == 60) $a->commit();
    $who = $turns[$i % count($turns)];
    $id[$who] = ($i * 13) % 1000 + 1;
    $val[$who] = $who == 'a' ? "t$i" : ($who == 'b' ? $i + 0.5 : $i * 1000003);
    $st[$who]->execute();
    $st[$who]->bind_result($got, $v);
    $st[$who]->fetch();
    $st[$who]->free_result();
    if ($got != $val[$who] || $v != $id[$who] * 10) {
        fwrite(STDERR, "turn $i ($who): got " . var_export($got, true) . "/$v, want " .
               var_export($val[$who], true) . "/" . ($id[$who] * 10) . "\n");
        exit(1);
    }
}
echo "ok\n";
"""


def test_prepared_statements_keep_their_own_types_on_a_shared_connection(galera, sluice,
                                                                        other_db, tmp_path):
    """PHP mysqli binds each statement's types once: three statements with the same text and
    other types, in two sessions, take turns on one pooled connection per node (also inside a
    transaction), and each reads back its own values."""
    s = start(galera, sluice, {"max_per_node": 1})
    run_php(s, tmp_path / "bound_types.php", PHP_BOUND_TYPES)


# One session keeps 150 statements prepared (an application's statement cache) and executes
# them in turn, three rounds.
MANY_STATEMENTS = 150
PHP_MANY_STATEMENTS = PHP_TWO_SESSIONS + r"""
$n = (int)getenv('STATEMENTS');
$st = [];
for ($k = 0; $k < $n; $k++)
    $st[$k] = $a->prepare("SELECT v + $k FROM pool_t WHERE id = ? /* statement $k */");
for ($round = 0; $round < 3; $round++) {
    for ($k = 0; $k < $n; $k++) {
        $id = ($k * 7 + $round) % 1000 + 1;
        $st[$k]->bind_param('i', $id);
        $st[$k]->execute();
        $st[$k]->bind_result($v);
        $st[$k]->fetch();
        $st[$k]->free_result();
        if ($v != $id * 10 + $k) {
            fwrite(STDERR, "round $round statement $k: got $v for id $id\n");
            exit(1);
        }
    }
}
echo "ok\n";
"""


def stmt_counters(galera) -> dict[str, int]:
    """Com_stmt_prepare and Com_stmt_close, summed over the nodes."""
    total = {"Com_stmt_prepare": 0, "Com_stmt_close": 0}
    for i in range(galera.nodes):
        conn = galera.connect(i, root=True)
        try:
            with conn.cursor() as c:
                c.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                          "('Com_stmt_prepare', 'Com_stmt_close')")
                for name, value in c.fetchall():
                    total[name] += int(value)
        finally:
            conn.close()
    return total


def test_a_session_with_many_statements_prepares_each_once_per_node(galera, sluice, other_db,
                                                                   tmp_path, monkeypatch):
    """PHP mysqli: a session with 150 prepared statements executes each three times, its reads
    spread over the nodes. Each statement is prepared at most once on each node and none is
    closed there: the connection keeps them all, it does not evict and prepare again (with 64
    a connection, this made the nodes prepare on most executes)."""
    s = start(galera, sluice, {"max_per_node": 1})
    before = stmt_counters(galera)
    monkeypatch.setenv("STATEMENTS", str(MANY_STATEMENTS))
    run_php(s, tmp_path / "many_statements.php", PHP_MANY_STATEMENTS)
    after = stmt_counters(galera)
    prepared = after["Com_stmt_prepare"] - before["Com_stmt_prepare"]
    closed = after["Com_stmt_close"] - before["Com_stmt_close"]
    assert MANY_STATEMENTS <= prepared <= galera.nodes * MANY_STATEMENTS, (prepared, closed)
    assert closed == 0, (prepared, closed)


def test_a_transaction_keeps_its_connection(galera, sluice, other_db):
    """Inside BEGIN ... COMMIT every statement runs on one node connection, and no other
    session gets it meanwhile."""
    s = start(galera, sluice, {"max_per_node": 2})
    a, b = connect(s), connect(s)
    try:
        one(a, "BEGIN")
        tid = one(a, "SELECT CONNECTION_ID()")[0]
        for k in range(10):
            one(a, "UPDATE pool_t SET v = v WHERE id = %s", (k + 1,))
            other = one(b, "/* sluice:primary */ SELECT CONNECTION_ID()")[0]
            assert other != tid
            assert one(a, "SELECT CONNECTION_ID()") == (tid,)
        one(a, "COMMIT")
    finally:
        a.close()
        b.close()


def test_kill_query_reaches_the_statement_running_now(galera, sluice, other_db):
    """Two pooled sessions sleep; KILL QUERY with one's id (the greeting's, as
    mysqlclient's thread_id() gives it) interrupts that one only."""
    s = start(galera, sluice, {"max_per_node": 3})
    victim = MySQLdb.connect(host=HOST, port=s.port, user=USER, passwd=PASSWORD, db=DB)
    bystander = connect(s)
    results = {}

    def sleep(name, conn):
        t0 = time.monotonic()
        try:
            cur = conn.cursor()
            cur.execute("SELECT SLEEP(15)")
            results[name] = (cur.fetchone(), time.monotonic() - t0)
        except (MySQLdb.Error, pymysql.err.MySQLError) as e:
            results[name] = (e.args[0], time.monotonic() - t0)

    threads = [threading.Thread(target=sleep, args=("victim", victim)),
               threading.Thread(target=sleep, args=("bystander", bystander))]
    for t in threads:
        t.start()
    killer = connect(s)
    roots = [galera.connect(i, root=True) for i in range(galera.nodes)]

    def both_sleep_on_the_nodes() -> bool:
        return sum(one(r, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                          "WHERE INFO = 'SELECT SLEEP(15)'")[0] for r in roots) >= 2

    try:
        wait_until(both_sleep_on_the_nodes, "both SLEEP(15) running on the nodes", 10)
        one(killer, f"KILL QUERY {victim.thread_id()}")
        threads[0].join(10)
        assert "victim" in results and results["victim"][1] < 10, results
        assert results["victim"][0] in ((1,), 1317), results
        assert threads[1].is_alive(), "the bystander's statement was interrupted too"
        cur = victim.cursor()
        cur.execute("SELECT 'alive'")
        assert cur.fetchone() == ("alive",)
    finally:
        for r in roots:
            r.close()
        threads[1].join(20)
        killer.close()
        victim.close()
        bystander.close()
    assert results["bystander"][0] == (0,), results


def test_a_killed_node_loses_its_pooled_connections(galera, sluice, other_db):
    """SIGKILL node3 while the pool holds idle connections to it: they are closed (the
    stats say so), reads go on on node2, and node3 comes back."""
    s = start(galera, sluice, {"max_per_node": 4, "min_idle": 4})
    clients = [connect(s) for _ in range(6)]
    try:
        for _ in range(3):
            for conn in clients:
                assert one(conn, "SELECT v FROM pool_t WHERE id = 3") == (30,)
        wait_until(lambda: per_node(s, "idle_connections").get("node3", 0) > 0,
                   "idle pooled connections to node3")
        galera.kill(2)
        wait_until(lambda: per_node(s, "connections").get("node3", 1) == 0,
                   "node3's pooled connections to close", timeout=30,
                   detail=lambda: str(per_node(s, "connections")))
        assert per_node(s, "idle_connections").get("node3") == 0
        for conn in clients:
            assert one(conn, "SELECT v FROM pool_t WHERE id = 4") == (40,)
    finally:
        if not galera.is_running(2):
            galera.restart(2)
        for conn in clients:
            conn.close()


def test_session_mode_keeps_connections_with_their_session(galera, sluice, other_db):
    """pool.mode: session is the old behaviour: a session's node connection is its own (the
    same CONNECTION_ID() on the writer every time), nothing is idle in the pool, and
    max_per_node caps nothing (three sessions with max_per_node 1 all run at once)."""
    s = start(galera, sluice, {"mode": "session", "max_per_node": 1})
    sessions = [connect(s) for _ in range(3)]
    try:
        ids = [{one(c, "/* sluice:primary */ SELECT CONNECTION_ID()")[0] for _ in range(5)}
               for c in sessions]
        assert all(len(i) == 1 for i in ids), ids
        assert len(set.union(*ids)) == 3, ids
        assert sum(per_node(s, "idle_connections").values()) == 0
        assert sum(per_node(s, "pool_waits_total").values()) == 0
    finally:
        for c in sessions:
            c.close()


# With one writer connection per worker and a short queue_timeout, another session's writer
# statement shows whether a session holds that connection: it gets it at once when the
# session let go, and 1040 after QUEUE_TIMEOUT when the session is pinned to it.
QUEUE_TIMEOUT = "2s"
PROBE = "/* sluice:primary */ SELECT CONNECTION_ID()"


def writer_is_held(probe_conn) -> bool:
    """True when the probe session cannot get the writer connection (1040), False when it
    can; anything else fails the test."""
    cur = probe_conn.cursor()
    try:
        cur.execute(PROBE)
        cur.fetchall()
        return False
    except (MySQLdb.OperationalError, pymysql.err.OperationalError) as e:
        assert e.args[0] == 1040, e
        return True


@pytest.mark.parametrize("client", ["pymysql", "mysqlclient"])
def test_temporary_tables_pin_until_the_last_is_dropped(galera, sluice, other_db, client):
    """A session that creates temporary tables keeps its writer connection (no other session
    gets it, so no one else sees or loses the tables) until it dropped every one of them:
    DROP TEMPORARY TABLE, DROP TABLE, by any spelling of the same table; a DROP of a table it
    does not have changes nothing. Then the connection is shared again."""
    s = start(galera, sluice, {"max_per_node": 1}, queue_timeout=QUEUE_TIMEOUT)
    # b is the same library as a: a pooled connection goes only to a session with the same
    # capabilities and character set, so b can get a's connection itself.
    if client == "pymysql":
        a, b = connect(s), connect(s)
    else:
        a, b = connect_mysqlclient(s), connect_mysqlclient(s)
    try:
        cur = a.cursor()
        cur.execute("CREATE TEMPORARY TABLE pool_tmp1 (x INT)")
        cur.execute("INSERT INTO pool_tmp1 VALUES (1)")
        cur.execute(f"CREATE TEMPORARY TABLE `{DB}`.pool_tmp2 (x INT)")
        cur.execute(PROBE)
        tid = cur.fetchone()[0]
        assert writer_is_held(b)
        for sql in ("DROP TEMPORARY TABLE IF EXISTS pool_nosuch", "DROP TABLE pool_tmp1",
                    f"SELECT COUNT(*) FROM {DB}.pool_tmp2"):
            cur.execute(sql)
            assert writer_is_held(b), f"let go after {sql}"
        cur.execute(PROBE)
        assert cur.fetchone() == (tid,)
        cur.execute("DROP TEMPORARY TABLE pool_tmp2")  # the last one: the pin ends
        assert not writer_is_held(b)
        bc = b.cursor()
        bc.execute(PROBE)
        assert bc.fetchone() == (tid,), "b did not get the connection a let go"
        with pytest.raises((MySQLdb.ProgrammingError, pymysql.err.ProgrammingError)) as e:
            bc.execute("SELECT * FROM pool_tmp2")
        assert e.value.args[0] == 1146
    finally:
        a.close()
        b.close()


def create_pool_proc(galera) -> None:
    """pool_proc(): a procedure that creates a temporary table and sets a user variable."""
    root = galera.connect(0, root=True)
    try:
        with root.cursor() as c:
            c.execute(f"CREATE OR REPLACE PROCEDURE {DB}.pool_proc() BEGIN "
                      "CREATE TEMPORARY TABLE pool_proc_t (x INT); "
                      "INSERT INTO pool_proc_t VALUES (7); SET @pool_v = 7; END")
    finally:
        root.close()


def test_a_procedure_call_pins_and_its_state_never_leaks(galera, sluice, other_db):
    """CALL of a procedure that creates a temporary table and sets a user variable (which
    sluice cannot see): the session (PyMySQL) keeps its connection and finds both there; when
    it ends, another session (mysqlclient) finds neither."""
    create_pool_proc(galera)
    s = start(galera, sluice, {"max_per_node": 1}, queue_timeout=QUEUE_TIMEOUT)
    a = connect(s)
    b = connect_mysqlclient(s)
    try:
        tid = one(a, PROBE)[0]
        one(a, "CALL pool_proc()")
        assert writer_is_held(b)
        assert one(a, "SELECT x FROM pool_proc_t") == (7,)
        assert one(a, "SELECT @pool_v") == (7,)
        assert one(a, PROBE) == (tid,)
        a.close()
        wait_until(lambda: not writer_is_held(b), "the ended session's connection")
        bc = b.cursor()
        bc.execute("SELECT @pool_v")
        assert bc.fetchone() == (None,)
        with pytest.raises(MySQLdb.ProgrammingError) as e:
            bc.execute("SELECT * FROM pool_proc_t")
        assert e.value.args[0] == 1146
    finally:
        if a.open:
            a.close()
        b.close()
    assert per_reason_total(s, "procedure_call") >= 1


def per_reason_total(s, reason: str) -> int:
    """sluice_routing_decisions_total for one reason, from /metrics."""
    with urllib.request.urlopen(s.stats + "/metrics", timeout=10) as r:
        body = r.read().decode()
    m = re.search(rf'^sluice_routing_decisions_total\{{reason="{reason}"\}} (\S+)$', body, re.M)
    return int(float(m.group(1))) if m else 0


PHP_PREPARED_STATE = PHP_TWO_SESSIONS + r"""
$probe = '/* sluice:primary */ SELECT CONNECTION_ID()';
function run($conn, $sql) {  /* a server-side prepared statement, as mysqli makes them */
    $st = $conn->prepare($sql);
    $st->execute();
    $res = $st->get_result();
    $row = $res ? $res->fetch_row() : null;
    $st->close();
    return $row;
}
function held($b, $probe) {
    try { run($b, $probe); return false; }
    catch (mysqli_sql_exception $e) {
        if ($e->getCode() != 1040) { throw $e; }
        return true;
    }
}
function check($ok, $what) { if (!$ok) { fwrite(STDERR, "$what\n"); exit(1); } }
$tid = run($a, $probe)[0];
run($a, 'CREATE TEMPORARY TABLE pool_ptmp (x INT)');
run($a, 'INSERT INTO pool_ptmp VALUES (5)');
check(held($b, $probe), 'not pinned after a prepared CREATE TEMPORARY TABLE');
check(run($a, 'SELECT x FROM pool_ptmp')[0] == 5, 'the temporary table is gone');
run($a, 'DROP TEMPORARY TABLE pool_ptmp');
check(!held($b, $probe), 'still pinned after the prepared DROP');
check(run($b, $probe)[0] == $tid, 'b did not get the connection a let go');
run($a, "SELECT GET_LOCK('pool_php_lock', 5)");
check(held($b, $probe), 'not pinned after a prepared GET_LOCK');
run($a, "SELECT RELEASE_LOCK('pool_php_lock')");
check(!held($b, $probe), 'still pinned after the prepared RELEASE_LOCK');
run($a, 'CALL pool_proc()');
check(held($b, $probe), 'not pinned after a prepared CALL');
check(run($a, 'SELECT @pool_v')[0] == 7, 'the variable the procedure set is gone');
echo "ok
";
"""


def test_prepared_statements_pin_as_their_text_does(galera, sluice, other_db, tmp_path):
    """PHP mysqli, every statement a server-side prepared one: CREATE TEMPORARY TABLE pins
    until its DROP, GET_LOCK until RELEASE_LOCK, CALL for good, as the same texts do in
    COM_QUERY."""
    create_pool_proc(galera)
    s = start(galera, sluice, {"max_per_node": 1}, queue_timeout=QUEUE_TIMEOUT)
    run_php(s, tmp_path / "prepared_state.php", PHP_PREPARED_STATE)


def test_handler_pins_until_its_handlers_are_closed(galera, sluice, other_db):
    """HANDLER ... OPEN (mysqlclient): the open handler lives on the connection, so the
    session keeps it until it closed every handler it opened."""
    s = start(galera, sluice, {"max_per_node": 1}, queue_timeout=QUEUE_TIMEOUT)
    a, b = connect_mysqlclient(s), connect_mysqlclient(s)
    try:
        cur = a.cursor()
        cur.execute("HANDLER pool_t OPEN")
        cur.execute("HANDLER pool_t OPEN AS pool_h2")
        assert writer_is_held(b)
        cur.execute("HANDLER pool_t READ `PRIMARY` FIRST")
        assert cur.fetchone() is not None
        cur.execute("HANDLER pool_t CLOSE")
        assert writer_is_held(b)
        cur.execute("HANDLER pool_h2 READ `PRIMARY` FIRST")
        assert cur.fetchone() is not None
        cur.execute("HANDLER pool_h2 CLOSE")
        assert not writer_is_held(b)
    finally:
        a.close()
        b.close()


def test_lastval_is_the_sessions_own(galera, sluice, other_db):
    """NEXTVAL then LASTVAL (PyMySQL): the session keeps its connection for the next
    statements (as after an insert id), so another session that wants the same connection
    meanwhile waits and LASTVAL() is the session's own value."""
    root = galera.connect(0, root=True)
    try:
        with root.cursor() as c:
            c.execute(f"CREATE SEQUENCE IF NOT EXISTS {DB}.pool_seq NOCACHE")  # Galera: no cache
    finally:
        root.close()
    s = start(galera, sluice, {"max_per_node": 1})
    a, b = connect(s), connect(s)
    other = {}

    def take_one():
        other["v"] = one(b, "/* sluice:primary */ SELECT NEXTVAL(pool_seq)")[0]

    try:
        for _ in range(3):
            mine = one(a, "SELECT NEXTVAL(pool_seq)")[0]
            waits = sum(per_node(s, "pool_waits_total").values())
            t = threading.Thread(target=take_one)
            t.start()
            # b asks for the writer connection first, and waits in line for it.
            wait_until(lambda: sum(per_node(s, "pool_waits_total").values()) > waits,
                       "b waiting for the connection a holds")
            assert one(a, "SELECT LASTVAL(pool_seq)") == (mine,)
            t.join(20)
            assert other["v"] != mine
    finally:
        a.close()
        b.close()
