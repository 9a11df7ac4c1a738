# tests/mysql_targets.py -- the `target` fixture and client helpers shared by
# test_mysql_protocol.py and test_sysbench.py: the same tests run against a Galera node directly
# (SLUICE_PROTOCOL_TARGET=direct, the reference behaviour) or against sluice's `mode: mysql`
# listener in front of the cluster (SLUICE_PROTOCOL_TARGET=sluice, the default; "direct,sluice"
# runs both). sluice-epoll is sluice with io_engine: epoll, the path for kernels without io_uring;
# a module that wants both engines makes its fixture with target_fixture("sluice,sluice-epoll").
# Test modules import it with `from mysql_targets import *  # noqa` so pytest sees the fixtures.
"""Targets, client helpers and cleanup fixtures for the MySQL-protocol integration tests."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from sluice_proc import Sluice, free_port  # noqa: E402
from sluice_config import HOST, PASSWORD, USER, USER_HASH

__all__ = [
    "HOST", "DB", "USER", "PASSWORD", "OTHER_USER", "OTHER_PASSWORD", "CAUSAL_READS",
    "DATA_DIR", "Target", "target", "cleanup", "c_client", "unique_name", "cli", "cli_query",
    "admin", "pymysql_connect", "mysqldb_connect", "wait_on_all_nodes", "target_fixture",
]

DB = "sluice_test"
OTHER_USER, OTHER_PASSWORD = "sluice_other", "other_pw"
DATA_DIR = os.path.join(_TESTS_DIR, "data")
TARGET_ENV = "SLUICE_PROTOCOL_TARGET"
KINDS = ("direct", "sluice", "sluice-epoll")

# Every helper connection runs this first.  Through sluice, reads outside a transaction go
# round-robin to the Galera readers, which apply a write slightly after the writer committed
# it; a test that writes and then reads back would be flaky for reasons that have nothing to do
# with the protocol.  wsrep_sync_wait=1 makes each read wait until its node has applied
# everything committed before it (Galera's causal reads).  It is ordinary session state, so
# sluice must also replay it on every backend connection of the session.  COM_CHANGE_USER and
# COM_RESET_CONNECTION reset it; tests using those read nothing that replication could delay.
CAUSAL_READS = "SET SESSION wsrep_sync_wait = 1"

# The monitor logs in with the harness's monitor account and checks each node's wsrep state.
os.environ.setdefault("SLUICE_TEST_MONITOR_PW", "monitor_pw")


def _kinds(default: str = "sluice") -> list[str]:
    raw = os.environ.get(TARGET_ENV, default)
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"{TARGET_ENV}={raw!r}: expected a comma-separated list of "
                         f"{', '.join(KINDS)}")
    return kinds


@dataclasses.dataclass
class Target:
    """Where the clients under test connect."""
    kind: str                  # 'direct', 'sluice' or 'sluice-epoll'
    host: str
    port: int
    tls_ca: str | None         # CA file that verifies the server's certificate; None: no TLS
    galera: object             # the GaleraCluster behind it (for setup, checks and cleanup)
    proc: Sluice | None = None  # the sluice daemon (the sluice kinds only)

    def __str__(self) -> str:
        return f"{self.kind}({self.host}:{self.port})"


def _make_certificate(d: str) -> tuple[str, str]:
    """Self-signed server certificate for 127.0.0.1 (CN and SAN), made with the openssl CLI."""
    cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl req failed:\n{r.stderr}"
    return cert, key


def sluice_mysql_config(galera, port: int, cert: str, key: str, other_pw_file: str,
                        io_engine: str = "auto") -> str:
    nodes = galera.nodes_yaml()
    return f"""\
workers: 2
io_engine: {io_engine}
listeners:
  - name: app
    bind: "{HOST}:{port}"
    mode: mysql
    cluster: galera
    tls: {{ cert: {cert}, key: {key} }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_env: SLUICE_TEST_MONITOR_PW, interval: 200ms,
               timeout: 400ms }}
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
  - {{ name: {OTHER_USER}, password_file: {other_pw_file} }}
logging: {{ level: info }}
"""


def _wait_accepting(t: Target, timeout: float = 30.0) -> None:
    """Readiness: a real login plus SELECT 1 through the listener succeeds (the daemon logs
    'started' before its monitor has found a writer)."""
    import pymysql
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = pymysql.connect(host=t.host, port=t.port, user=USER, password=PASSWORD,
                                   database=DB, connect_timeout=5, read_timeout=10)
            try:
                with conn.cursor() as c:
                    c.execute("SELECT 1")
                    if c.fetchone() == (1,):
                        return
            finally:
                conn.close()
        except pymysql.MySQLError as e:
            last = e
        if time.monotonic() > deadline:
            log = t.proc.log()[-4000:] if t.proc else ""
            raise AssertionError(f"{t} not answering SELECT 1 within {timeout} s: {last}\n{log}")
        time.sleep(0.1)


def _serve(kind: str, galera, tmp_path_factory):
    """The server the clients under test talk to; one sluice daemon per test module."""
    if kind == "direct":
        # node1 directly.  It has no server certificate, so TLS tests skip here.
        yield Target("direct", HOST, galera.sql_port(0), galera.tls_ca, galera)
        return
    d = str(tmp_path_factory.mktemp("sluice-mysql"))
    cert, key = _make_certificate(d)
    other_pw = os.path.join(d, "other.pw")
    with open(other_pw, "w") as f:
        f.write(OTHER_PASSWORD + "\n")
    os.chmod(other_pw, 0o600)
    port = free_port()
    engine = "epoll" if kind == "sluice-epoll" else "auto"
    proc = Sluice(d, sluice_mysql_config(galera, port, cert, key, other_pw, engine),
                  "sluice-mysql")
    try:
        proc.start()
        proc.wait_log(r"worker 0 waits in " + ("epoll" if engine == "epoll" else "io_uring"), 5)
        t = Target(kind, HOST, port, cert, galera, proc)
        _wait_accepting(t)
        yield t
    finally:
        rc = proc.stop()
    assert rc == 0, f"sluice exited with {rc} after SIGTERM:\n{proc.log()[-3000:]}"


def target_fixture(default: str):
    """A `target` fixture: the servers the clients under test talk to, one module-scoped
    instance per kind in SLUICE_PROTOCOL_TARGET, else in `default` (comma-separated kinds).
    Assign it to `target` in a test module that wants other kinds than sluice alone."""
    @pytest.fixture(scope="module", params=_kinds(default))
    def target(request, galera, tmp_path_factory):
        yield from _serve(request.param, galera, tmp_path_factory)
    return target


target = target_fixture("sluice")


def unique_name(prefix: str) -> str:
    """A table/procedure/database name no other test (or earlier run) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cleanup(galera):
    """Factory: ``name = cleanup.table("t_blob")`` (also .procedure, .database) returns a unique
    name and drops that object on node1 directly when the test ends, pass or fail."""
    drops: list[str] = []

    class _Cleanup:
        @staticmethod
        def table(prefix: str, db: str = DB) -> str:
            name = unique_name(prefix)
            drops.append(f"DROP TABLE IF EXISTS `{db}`.`{name}`")
            return name

        @staticmethod
        def procedure(prefix: str, db: str = DB) -> str:
            name = unique_name(prefix)
            drops.append(f"DROP PROCEDURE IF EXISTS `{db}`.`{name}`")
            return name

        @staticmethod
        def database(prefix: str) -> str:
            name = unique_name(prefix)
            drops.append(f"DROP DATABASE IF EXISTS `{name}`")
            return name

        @staticmethod
        def sql(statement: str) -> None:
            drops.append(statement)

    yield _Cleanup()
    conn = galera.connect(0, autocommit=True)
    try:
        with conn.cursor() as c:
            for stmt in reversed(drops):
                c.execute(stmt)
    finally:
        conn.close()


def wait_on_all_nodes(galera, sql: str, expected, timeout: float = 30.0) -> None:
    """Wait until ``sql`` returns ``expected`` (fetchall()) on every node, queried directly.
    For setup done outside the target that a later command may read on any reader."""
    deadline = time.monotonic() + timeout
    for i in range(3):
        conn = galera.connect(i, autocommit=True)
        try:
            while True:
                import pymysql
                try:
                    with conn.cursor() as c:
                        c.execute(sql)
                        got = c.fetchall()
                except pymysql.err.OperationalError as e:
                    # A read the node aborts while it applies replicated DDL (Galera's
                    # brute-force abort: 1213) is transient: ask again.
                    if e.args[0] != 1213:
                        raise
                    got = e.args
                if got == expected:
                    break
                assert time.monotonic() < deadline, \
                    f"{galera.node_name(i)}: {sql!r} gave {got!r}, want {expected!r}"
                time.sleep(0.05)
        finally:
            conn.close()


# ---- clients ------------------------------------------------------------------------------

def _cli_base(prog: str, t: Target, user: str, password: str) -> list[str]:
    return [prog, "-h", t.host, "-P", str(t.port), "--protocol=TCP", f"--user={user}",
            f"--password={password}", "--connect-timeout=10"]


def cli(t: Target, *args: str, input=None, user: str = USER, password: str = PASSWORD,
        database: str | None = DB, causal: bool = True, binary: bool = False,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the `mariadb` command-line client against the target (over TCP) and return the
    CompletedProcess.  ``args`` come after the connection options (e.g. "-B", "-N", "-e", sql).
    Text mode (utf-8) unless ``binary``; ``input`` is fed to stdin."""
    cmd = _cli_base("mariadb", t, user, password) + ["--default-character-set=utf8mb4"]
    if causal:
        cmd.append(f"--init-command={CAUSAL_READS}")
    if database:
        cmd.append(f"--database={database}")
    cmd += list(args)
    kw = {} if binary else {"text": True, "encoding": "utf-8", "errors": "replace"}
    return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, **kw)


def cli_query(t: Target, sql: str, *args: str, **kw) -> list[list[str]]:
    """Batch-mode query through the CLI; asserts success, returns rows as lists of strings."""
    r = cli(t, "-B", "-N", *args, "-e", sql, **kw)
    assert r.returncode == 0, f"mariadb -e {sql[:200]!r} failed ({r.returncode}):\n{r.stderr}"
    return [line.split("\t") for line in r.stdout.splitlines()]


def admin(t: Target, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `mariadb-admin` against the target."""
    return subprocess.run(_cli_base("mariadb-admin", t, USER, PASSWORD) + list(args),
                          capture_output=True, text=True, timeout=timeout)


def pymysql_connect(t: Target, causal: bool = True, **kw):
    """PyMySQL connection as sluice_test to database sluice_test, utf8mb4, autocommit on."""
    import pymysql
    args = dict(host=t.host, port=t.port, user=USER, password=PASSWORD, database=DB,
                charset="utf8mb4", autocommit=True, connect_timeout=10, read_timeout=120,
                write_timeout=120)
    if causal:
        args["init_command"] = CAUSAL_READS
    args.update(kw)
    return pymysql.connect(**args)


def mysqldb_connect(t: Target, causal: bool = True, **kw):
    """mysqlclient (MySQLdb, Connector/C underneath) connection, same defaults."""
    import MySQLdb
    args = dict(host=t.host, port=t.port, user=USER, password=PASSWORD, database=DB,
                charset="utf8mb4", autocommit=True, connect_timeout=10, read_timeout=120,
                write_timeout=120)
    if causal:
        args["init_command"] = CAUSAL_READS
    args.update(kw)
    return MySQLdb.connect(**args)


# ---- C clients ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def c_client(tmp_path_factory):
    """Factory: ``c_client("ps_client")`` compiles tests/data/ps_client.c against MariaDB
    Connector/C (once per session) and returns the executable's path."""
    built: dict[str, str] = {}
    outdir = tmp_path_factory.mktemp("c-clients")

    def build(name: str) -> str:
        if name in built:
            return built[name]
        for tool in ("gcc", "pkg-config"):
            assert shutil.which(tool), f"{tool} is needed to build tests/data/{name}.c"
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"],
                               capture_output=True, text=True)
        assert flags.returncode == 0, f"pkg-config libmariadb: {flags.stderr}"
        exe = str(outdir / name)
        r = subprocess.run(["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                            "-o", exe, os.path.join(DATA_DIR, f"{name}.c")]
                           + flags.stdout.split(), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"compiling {name}.c failed:\n{r.stderr}"
        built[name] = exe
        return exe

    return build
