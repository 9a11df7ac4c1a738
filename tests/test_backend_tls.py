# tests/test_backend_tls.py -- TLS on sluice's backend hop (clusters[].tls: ca, verify), against
# the real Galera cluster, whose nodes serve a certificate for 127.0.0.1 signed by galera.tls_ca.
# The client hop stays plain; the node's own SHOW SESSION STATUS 'Ssl_cipher' tells whether
# sluice's connection to it is encrypted.  Covers verify full/ca with the right CA, verify
# full/ca with an unrelated CA (login refused, log names the verification failure), verify none.
import hashlib
import os
import re
import time

import pymysql
import pytest

from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH

ER_UNKNOWN_ERROR = 1105
NO_NODE = "sluice: no node of cluster 'galera' can take this session"


def config(galera, port: int, tls: str | None) -> str:
    """sluice YAML: one plain mode: mysql listener in front of the three nodes; ``tls`` is the
    text of the cluster's tls: map (e.g. "{ ca: /x.pem, verify: full }") or None for none."""
    nodes = galera.nodes_yaml()
    tls_line = f"    tls: {tls}\n" if tls is not None else ""
    return f"""\
workers: 2
listeners:
  - name: app
    bind: "{HOST}:{port}"
    mode: mysql
    cluster: galera
clusters:
  - name: galera
    type: galera
    monitor: {{ interval: 200ms, timeout: 400ms }}
{tls_line}    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
logging: {{ level: info }}
"""


def connect(port: int, **kw) -> pymysql.connections.Connection:
    """PyMySQL through sluice, plaintext on the client hop (no ssl argument)."""
    args = dict(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                connect_timeout=5, read_timeout=30, autocommit=True)
    args.update(kw)
    return pymysql.connect(**args)


def start_ready(sluice, galera, tls: str | None):
    """Start sluice and wait until a login plus SELECT 1 goes through (the daemon says
    'started' before its monitor has a verdict on the nodes).  Returns (daemon, port)."""
    port = free_port()
    s = sluice(config(galera, port, tls))
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        try:
            conn = connect(port)
            try:
                with conn.cursor() as c:
                    c.execute("SELECT 1")
                    if c.fetchone() == (1,):
                        return s, port
            finally:
                conn.close()
        except pymysql.MySQLError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no SELECT 1 through sluice within 30 s: {last!r}\n{s.log()[-4000:]}")


def daemon_log(s) -> str:
    """sluice's log with its work directory masked: the directory is named after the test
    ("test_verify_...") and appears in the first line, which would match any 'verif' search."""
    return s.log().replace(s.workdir, "<workdir>")


def tls_verify_failures(s) -> list[str]:
    """Log lines reporting a failed TLS certificate verification (wording matched loosely:
    OpenSSL says 'certificate verify failed')."""
    return re.findall(r"^.*\bTLS\b.*verif.*$", daemon_log(s), re.M | re.I)


def ssl_cipher(conn) -> str:
    """The node's view of the connection it serves (sluice's backend hop)."""
    with conn.cursor() as c:
        c.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = c.fetchone()
    assert row is not None and row[0] == "Ssl_cipher", row
    return row[1] or ""


def assert_refused(s, port: int, timeout: float = 30.0) -> str:
    """Every login through sluice fails with 1105 until the log names a TLS verification
    failure; then one more attempt must fail with the 'no node ... can take this session'
    error.  Returns the log (work directory masked)."""
    deadline = time.monotonic() + timeout
    while True:
        with pytest.raises(pymysql.MySQLError) as ei:
            connect(port).close()
        assert ei.value.args[0] == ER_UNKNOWN_ERROR, ei.value.args
        if tls_verify_failures(s):
            break
        assert time.monotonic() < deadline, \
            f"no TLS verification failure logged within {timeout} s:\n{s.log()[-4000:]}"
        time.sleep(0.1)
    with pytest.raises(pymysql.MySQLError) as ei:
        connect(port).close()
    code, msg = ei.value.args[0], ei.value.args[1]
    assert code == ER_UNKNOWN_ERROR, ei.value.args
    assert msg.startswith(NO_NODE), msg
    failures = tls_verify_failures(s)
    print(f"\nclient got: {code} {msg}\nsluice logged: {failures[0]}")
    # The session tried every node, and each one's certificate failed verification.
    named = {m for line in failures for m in re.findall(r"\bnode(\d+)\b", line)}
    assert named >= {"1", "2", "3"}, failures
    return daemon_log(s)


def test_verify_full_right_ca_encrypts_backend_hop(galera, sluice):
    s, port = start_ready(sluice, galera, f"{{ ca: {galera.tls_ca}, verify: full }}")
    conn = connect(port)
    try:
        assert ssl_cipher(conn) != "", "backend hop is not encrypted"
        with conn.cursor() as c:
            c.execute("SELECT CURRENT_USER(), DATABASE(), 6 * 7")
            user, db, n = c.fetchone()
        assert user.startswith(f"{USER}@") and db == DB and n == 42
    finally:
        conn.close()
    assert not tls_verify_failures(s), s.log()[-3000:]


def test_verify_full_carries_1mb_result(galera, sluice):
    """1 MiB of rows (1024 x 1 KiB) plus one 1 MiB value, compared byte for byte."""
    s, port = start_ready(sluice, galera, f"{{ ca: {galera.tls_ca}, verify: full }}")
    conn = connect(port)
    try:
        assert ssl_cipher(conn) != ""
        with conn.cursor() as c:
            c.execute("SELECT seq, REPEAT(CHAR(65 + seq % 26 USING ascii), 1024) "
                      "FROM seq_1_to_1024 ORDER BY seq")
            rows = c.fetchall()
            c.execute("SELECT REPEAT('0123456789abcdef', 65536), "
                      "MD5(REPEAT('0123456789abcdef', 65536))")
            big, md5 = c.fetchone()
    finally:
        conn.close()
    assert [r[0] for r in rows] == list(range(1, 1025))
    assert all(r[1] == chr(65 + r[0] % 26) * 1024 for r in rows)
    assert len(big) == 1 << 20
    assert hashlib.md5(big.encode()).hexdigest() == md5


def test_no_tls_backend_hop_is_plain(galera, sluice):
    s, port = start_ready(sluice, galera, None)
    conn = connect(port)
    try:
        assert ssl_cipher(conn) == ""
    finally:
        conn.close()


def test_verify_full_wrong_ca_refuses_login(galera, sluice):
    port = free_port()
    s = sluice(config(galera, port, f"{{ ca: {galera.tls_other_ca}, verify: full }}"))
    assert_refused(s, port)


def test_verify_ca_right_ca_encrypts(galera, sluice):
    s, port = start_ready(sluice, galera, f"{{ ca: {galera.tls_ca}, verify: ca }}")
    conn = connect(port)
    try:
        assert ssl_cipher(conn) != ""
    finally:
        conn.close()


def test_verify_ca_wrong_ca_refuses_login(galera, sluice):
    port = free_port()
    s = sluice(config(galera, port, f"{{ ca: {galera.tls_other_ca}, verify: ca }}"))
    assert_refused(s, port)


def test_verify_none_wrong_ca_still_encrypts(galera, sluice):
    s, port = start_ready(sluice, galera, f"{{ ca: {galera.tls_other_ca}, verify: none }}")
    conn = connect(port)
    try:
        assert ssl_cipher(conn) != ""
        with conn.cursor() as c:
            c.execute("SELECT 1")
            assert c.fetchone() == (1,)
    finally:
        conn.close()
    assert not tls_verify_failures(s), s.log()[-3000:]


@pytest.fixture
def monitor_tls_user(galera):
    """A monitor account that may log in only over TLS (REQUIRE SSL), as on nodes that
    require TLS of every account; dropped at the end."""
    root = galera.connect(0, root=True, autocommit=True)
    with root.cursor() as c:
        c.execute("CREATE OR REPLACE USER 'monitor_tls'@'127.0.0.1' IDENTIFIED BY 'tls_pw' "
                  "REQUIRE SSL")
        c.execute("GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* "
                  "TO 'monitor_tls'@'127.0.0.1'")
    os.environ["SLUICE_TEST_MONITOR_TLS_PW"] = "tls_pw"
    yield "monitor_tls"
    with root.cursor() as c:
        c.execute("DROP USER IF EXISTS 'monitor_tls'@'127.0.0.1'")
    root.close()


def monitored(galera, port: int, tls: str) -> str:
    return config(galera, port, tls).replace(
        "monitor: { interval: 200ms, timeout: 400ms }",
        "monitor: { user: monitor_tls, password_env: SLUICE_TEST_MONITOR_TLS_PW, "
        "interval: 200ms, timeout: 400ms }")


@pytest.mark.parametrize("verify", ["full", "ca", "none"])
def test_monitor_logs_in_over_tls(galera, sluice, monitor_tls_user, verify):
    """The monitor's checks use the cluster's tls too: an account that requires TLS passes
    them (before, the monitor logged in in the clear and every node stayed down), and the
    checks read Galera's state, so the nodes come up Synced."""
    port = free_port()
    s = sluice(monitored(galera, port, f"{{ ca: {galera.tls_ca}, verify: {verify} }}"))
    for n in ("node1", "node2", "node3"):
        s.wait_log(rf"node {n} \(cluster galera, [^)]*\) is UP")
    conn = connect(port)
    try:
        with conn.cursor() as c:
            c.execute("SELECT 1")
            assert c.fetchone() == (1,)
    finally:
        conn.close()
    assert "Access denied" not in s.log()


def test_monitor_over_tls_refuses_a_node_certificate_it_cannot_verify(galera, sluice,
                                                                      monitor_tls_user):
    port = free_port()
    s = sluice(monitored(galera, port, f"{{ ca: {galera.tls_other_ca}, verify: ca }}"))
    s.wait_log(r"node node1 \(cluster galera.*(certificate|TLS)", timeout=30)
    assert not re.search(r"is UP", s.log()), s.log()[-3000:]
