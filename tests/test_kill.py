# tests/test_kill.py -- KILL through sluice as users of MariaDB expect it, with several clients
# (PyMySQL, the mariadb CLI, mariadb-admin, PHP mysqli): KILL [CONNECTION] ends the victim's
# client connection at once and the killer gets OK; KILL QUERY ends the running statement with
# 1317 and the session goes on; a killed statement is never retried on another node.  Through
# sluice, plain SELECTs run on a reader while the killer's KILL arrives at whatever node sluice
# picks, so these cover the cross-node cases; against a node directly (target "direct") the
# same tests show MariaDB's own behaviour.
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pymysql
import pytest

from mysql_targets import *  # noqa: F401,F403  (fixtures: target)
from mysql_targets import PASSWORD, USER, admin, cli, pymysql_connect
from sluice_config import wait_until


def one(conn, sql):
    with conn.cursor() as c:
        c.execute(sql)
        rows = c.fetchall()
    assert len(rows) == 1, f"{sql}: {rows!r}"
    return tuple(rows[0])


def error_code(exc) -> int:
    return exc.args[0] if exc and exc.args else -1


def _running_on(galera, marker: str) -> list[int]:
    """Indexes of the nodes whose processlist shows a statement carrying ``marker``."""
    found = []
    for i in range(3):
        conn = galera.connect(i, autocommit=True)
        try:
            with conn.cursor() as c:
                c.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                          "WHERE ID <> CONNECTION_ID() AND INFO LIKE %s", (f"%{marker}%",))
                if c.fetchone()[0]:
                    found.append(i)
        finally:
            conn.close()
    return found


def _wait_running(galera, marker: str, timeout: float = 20.0) -> list[int]:
    return wait_until(lambda: _running_on(galera, marker), f"statement {marker} to start",
                      timeout)


def _wait_gone(galera, marker: str, timeout: float = 10.0) -> None:
    """The statement is not running anywhere (and stays so: checked twice, 0.5 s apart, since
    a retried read would show up again on another node)."""
    wait_until(lambda: not _running_on(galera, marker),
               f"statement {marker} to end after the KILL", timeout)
    time.sleep(0.5)
    assert _running_on(galera, marker) == [], f"statement {marker} was sent again"


class _Sleeper:
    """A PyMySQL session that has touched every node (so it holds a connection to each through
    sluice), set a user variable, and runs SELECT SLEEP(30) in a thread."""

    def __init__(self, target):
        self.conn = pymysql_connect(target, causal=False, read_timeout=60)
        for _ in range(4):
            one(self.conn, "SELECT @@hostname")
        one(self.conn, "SELECT @kill_test := 1")
        self.id = one(self.conn, "SELECT CONNECTION_ID()")[0]
        self.marker = f"victim-{uuid.uuid4().hex[:12]}"
        self.result = self.error = None
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = one(self.conn, f"SELECT SLEEP(30) /* {self.marker} */")
        except pymysql.MySQLError as e:
            self.error = e
        self.ended.set()

    def start(self, galera):
        self.thread.start()
        return _wait_running(galera, self.marker)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


def _socket_closed(conn, timeout: float = 10.0) -> bool:
    """Whether the server end of an idle PyMySQL connection closes within ``timeout``."""
    sock = conn._sock
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


def test_kill_idle_session_with_nodes_everywhere(target):
    """PyMySQL: the victim has a user variable and connections to every node; the KILL is OK
    (not 1094 from a node whose thread sluice closed meanwhile) and the victim's connection
    closes at once, without it sending anything."""
    victim = _Sleeper(target)
    killer = pymysql_connect(target)
    try:
        with killer.cursor() as c:
            c.execute(f"KILL {victim.id}")
        assert _socket_closed(victim.conn), "the killed idle session's socket stayed open"
        # Again: the id is gone now.
        deadline = time.monotonic() + 10
        while True:
            with pytest.raises(pymysql.MySQLError) as e, killer.cursor() as c:
                c.execute(f"KILL {victim.id}")
            if error_code(e.value) == 1094 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert error_code(e.value) == 1094, e.value
        assert f"Unknown thread id: {victim.id}" in str(e.value)
    finally:
        killer.close()
        victim.close()


def test_admin_kill_of_a_sleeping_session(target):
    """mariadb-admin kill ID while the victim sleeps (on a reader through sluice): the victim's
    client sees its connection end at once and its statement runs nowhere afterwards."""
    victim = _Sleeper(target)
    try:
        victim.start(target.galera)
        r = admin(target, "kill", str(victim.id))
        assert r.returncode == 0, r.stderr
        assert victim.ended.wait(15), "the victim was not woken by mariadb-admin kill"
        assert victim.result is None and error_code(victim.error) in (2013, 2006, 1927), \
            (victim.result, victim.error)
        _wait_gone(target.galera, victim.marker)
    finally:
        victim.close()


def test_cli_kill_query_then_session_goes_on(target):
    """The mariadb CLI runs KILL QUERY: the victim's statement ends with 1317 at once, is not
    retried anywhere, and the victim's session (with its user variable) goes on."""
    victim = _Sleeper(target)
    try:
        victim.start(target.galera)
        r = cli(target, "-e", f"KILL QUERY {victim.id}")
        assert r.returncode == 0, r.stderr
        assert victim.ended.wait(15), "KILL QUERY did not end the statement"
        assert victim.result == (1,) or error_code(victim.error) == 1317, \
            (victim.result, victim.error)
        _wait_gone(target.galera, victim.marker)
        assert one(victim.conn, "SELECT 'alive', @kill_test") == ("alive", 1)
    finally:
        victim.close()


def test_pymysql_kill_connection_of_a_busy_session(target):
    """PyMySQL's KILL CONNECTION of a session sleeping on a reader: OK for the killer, 2013 for
    the victim at once, and nothing left running."""
    victim = _Sleeper(target)
    killer = pymysql_connect(target)
    try:
        victim.start(target.galera)
        with killer.cursor() as c:
            c.execute(f"KILL CONNECTION {victim.id}")
        assert victim.ended.wait(15), "the victim was not woken by KILL CONNECTION"
        assert error_code(victim.error) in (2013, 2006, 1927), (victim.result, victim.error)
        _wait_gone(target.galera, victim.marker)
        assert one(killer, "SELECT 'killer fine'") == ("killer fine",)
    finally:
        killer.close()
        victim.close()


PHP_KILL = r"""
$l = mysqli_init();
$l->real_connect($argv[1], $argv[2], $argv[3], $argv[4], (int)$argv[5]);
echo $l->kill((int)$argv[6]) ? "killed\n" : ("failed " . $l->errno . "\n");
"""


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed")
def test_php_mysqli_kill(target):
    """PHP mysqli's kill() (COM_PROCESS_KILL) of a session sleeping on a reader wakes it."""
    victim = _Sleeper(target)
    try:
        victim.start(target.galera)
        r = subprocess.run(["php", "-r", PHP_KILL, "--", target.host, USER, PASSWORD, "sluice_test",
                            str(target.port), str(victim.id)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.strip() == "killed", r.stdout + r.stderr
        assert victim.ended.wait(15), "the victim was not woken by mysqli::kill"
        assert error_code(victim.error) in (2013, 2006, 1927), (victim.result, victim.error)
        _wait_gone(target.galera, victim.marker)
    finally:
        victim.close()


def test_kill_itself(target):
    """KILL QUERY of one's own id interrupts only the KILL (1317); KILL of one's own id ends
    the connection, as on MariaDB."""
    conn = pymysql_connect(target)
    try:
        own = one(conn, "SELECT CONNECTION_ID()")[0]
        with pytest.raises(pymysql.MySQLError) as e, conn.cursor() as c:
            c.execute(f"KILL QUERY {own}")
        assert error_code(e.value) == 1317, e.value
        assert one(conn, "SELECT 'still here'") == ("still here",)
        with pytest.raises(pymysql.MySQLError) as e, conn.cursor() as c:
            c.execute(f"KILL {own}")
        assert error_code(e.value) in (2013, 1927), e.value
    finally:
        conn.close()
