# tests/test_backend_auth.py -- sluice logging in to nodes with the plugins that need the
# user's plaintext password (users[].password_file):
#   * MariaDB's client_ed25519, against the real Galera cluster (auth_ed25519 installed on every
#     node, one account IDENTIFIED VIA ed25519);
#   * MySQL 8's caching_sha2_password, fast path and full authentication (over TLS, and over
#     plain TCP with the server's RSA key), against tests/fake_mysql.py, because MariaDB has no
#     server side of that plugin.
# The client always logs in to sluice with mysql_native_password; sluice answers each node's
# own challenge.
import pymysql
import pytest

from fake_mysql import FakeMySQL
from sluice_proc import free_port
from test_fake_mysql import certs  # noqa: F401  (a fixture: throwaway CA + 127.0.0.1 cert)
from sluice_config import HOST

ED_USER, ED_PASSWORD = "sluice_ed", "ed!pw 25519"
SHA2_USER, SHA2_PASSWORD = "app8", "sha2-Secret"


def sluice_config(port: int, nodes: list[tuple[str, int]], users: str, cluster_type: str,
                  tls: str | None = None) -> str:
    node_lines = "\n".join(
        f'      - {{ name: {name}, address: "{HOST}:{p}", priority: {i + 1} }}'
        for i, (name, p) in enumerate(nodes))
    tls_line = f"    tls: {tls}\n" if tls else ""
    return f"""\
workers: 2
listeners:
  - name: app
    bind: "{HOST}:{port}"
    mode: mysql
    cluster: c
clusters:
  - name: c
    type: {cluster_type}
    monitor: {{ interval: 200ms, timeout: 400ms }}
{tls_line}    nodes:
{node_lines}
users:
{users}
logging: {{ level: debug }}
"""


def connect(port: int, user: str, password: str, **kw):
    args = dict(host=HOST, port=port, user=user, password=password, connect_timeout=5,
                read_timeout=30, autocommit=True)
    args.update(kw)
    return pymysql.connect(**args)


def wait_login(port: int, user: str, password: str, timeout: float = 30.0):
    """sluice accepts once the monitor has a first verdict; retry until a login works."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(port, user, password)
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_refused(port: int, user: str, password: str, done, timeout: float = 30.0):
    """Log in until the attempt fails in the way ``done(error)`` accepts (sluice refuses every
    login until its monitor has a first verdict, with another error).  Returns the error."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        with pytest.raises(pymysql.err.OperationalError) as e:
            connect(port, user, password)
        if done(e.value) or time.monotonic() > deadline:
            return e.value
        time.sleep(0.1)


# --- client_ed25519 against the real cluster ------------------------------------------------

@pytest.fixture(scope="module")
def ed25519_user(galera):
    """Install auth_ed25519 on every node (plugins are not replicated) and create one account
    identified by it (the account is)."""
    for i in range(3):
        conn = galera.connect(i, root=True)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PLUGINS "
                        "WHERE PLUGIN_NAME = 'ed25519'")
            if cur.fetchone()[0] == 0:
                cur.execute("INSTALL SONAME 'auth_ed25519'")
        conn.close()
    conn = galera.connect(0, root=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{ED_USER}'@'%'")
        cur.execute(f"CREATE USER '{ED_USER}'@'%' IDENTIFIED VIA ed25519 "
                    f"USING PASSWORD('{ED_PASSWORD}')")
        cur.execute(f"GRANT ALL ON sluice_test.* TO '{ED_USER}'@'%'")
    conn.close()
    yield ED_USER
    conn = galera.connect(0, root=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{ED_USER}'@'%'")
    conn.close()


def galera_nodes(galera):
    return [(galera.node_name(i), galera.sql_port(i)) for i in range(3)]


def test_ed25519_login_to_every_node(galera, ed25519_user, sluice, tmp_path):
    pw = tmp_path / "ed.pw"
    pw.write_text(ED_PASSWORD + "\n")
    port = free_port()
    s = sluice(sluice_config(port, galera_nodes(galera),
                             f"  - {{ name: {ED_USER}, password_file: {pw} }}", "galera"))
    conn = wait_login(port, ED_USER, ED_PASSWORD)
    nodes = set()
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0] == f"{ED_USER}@%"
        # Reads rotate over the readers: each one is a login of its own, with ed25519.
        for _ in range(6):
            cur.execute("SELECT @@wsrep_node_name, CURRENT_USER()")
            name, user = cur.fetchone()
            assert user == f"{ED_USER}@%"
            nodes.add(name)
    conn.close()
    assert len(nodes) >= 2, nodes
    assert "client_ed25519" in s.log()


def test_ed25519_wrong_configured_password_is_refused_by_the_node(galera, ed25519_user, sluice,
                                                                  tmp_path):
    pw = tmp_path / "ed.pw"
    pw.write_text("not the password\n")
    port = free_port()
    sluice(sluice_config(port, galera_nodes(galera),
                         f"  - {{ name: {ED_USER}, password_file: {pw} }}", "galera"))
    # sluice accepts the password it was given; the node then refuses the signature.
    err = wait_refused(port, ED_USER, "not the password", lambda e: e.args[0] == 1045)
    assert err.args[0] == 1045
    assert f"Access denied for user '{ED_USER}'@'127.0.0.1'" in err.args[1]


# --- caching_sha2_password against the fake MySQL 8 -----------------------------------------

@pytest.fixture
def mysql8(certs):  # noqa: F811
    servers = []

    def make(**kw) -> FakeMySQL:
        kw.setdefault("users", {SHA2_USER: SHA2_PASSWORD})
        kw.setdefault("sha2_cache_prefilled", False)
        f = FakeMySQL(**kw).start()
        servers.append(f)
        return f

    yield make
    for f in servers:
        f.stop()
    for f in servers:
        assert f.errors == [], "\n".join(f.errors)


def sha2_paths(f: FakeMySQL) -> list[str]:
    return [r.path for r in f.auth_log if r.user == SHA2_USER]


def test_caching_sha2_full_auth_with_rsa_then_fast(mysql8, sluice, tmp_path):
    f = mysql8()
    pw = tmp_path / "app8.pw"
    pw.write_text(SHA2_PASSWORD + "\n")
    port = free_port()
    sluice(sluice_config(port, [("m1", f.port)],
                         f"  - {{ name: {SHA2_USER}, password_file: {pw} }}", "static"))
    conn = wait_login(port, SHA2_USER, SHA2_PASSWORD)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0].startswith(SHA2_USER)
    conn.close()
    # No cache on the server at first: full authentication, in the clear, so with the RSA key.
    assert sha2_paths(f)[0] == "full-rsa"
    conn = connect(port, SHA2_USER, SHA2_PASSWORD)
    conn.close()
    assert sha2_paths(f)[-1] == "fast"


def test_caching_sha2_full_auth_over_tls(mysql8, sluice, tmp_path, certs):  # noqa: F811
    f = mysql8(tls=(certs["cert"], certs["key"]))
    pw = tmp_path / "app8.pw"
    pw.write_text(SHA2_PASSWORD + "\n")
    port = free_port()
    sluice(sluice_config(port, [("m1", f.port)],
                         f"  - {{ name: {SHA2_USER}, password_file: {pw} }}", "static",
                         tls=f"{{ ca: {certs['ca']}, verify: full }}"))
    conn = wait_login(port, SHA2_USER, SHA2_PASSWORD)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
    conn.close()
    assert sha2_paths(f)[0] == "full-tls"
    assert all(login.tls for login in f.logins if login.user == SHA2_USER)
    f.flush_sha2_cache()
    connect(port, SHA2_USER, SHA2_PASSWORD).close()
    assert sha2_paths(f)[-1] == "full-tls"


def test_caching_sha2_wrong_configured_password(mysql8, sluice, tmp_path):
    f = mysql8()
    pw = tmp_path / "app8.pw"
    pw.write_text("wrong\n")
    port = free_port()
    sluice(sluice_config(port, [("m1", f.port)],
                         f"  - {{ name: {SHA2_USER}, password_file: {pw} }}", "static"))
    err = wait_refused(port, SHA2_USER, "wrong", lambda e: e.args[0] == 1045)
    assert err.args[0] == 1045
    assert "denied" in sha2_paths(f)


def test_caching_sha2_full_auth_needs_a_plaintext_password(mysql8, sluice, tmp_path):
    """A user configured with only the native hash cannot answer a caching_sha2 server: the
    client gets an error, and the log says what to configure."""
    import hashlib
    f = mysql8()
    double = hashlib.sha1(hashlib.sha1(SHA2_PASSWORD.encode()).digest()).hexdigest().upper()
    port = free_port()
    s = sluice(sluice_config(port, [("m1", f.port)],
                             f'  - {{ name: {SHA2_USER}, password_hash: "*{double}" }}',
                             "static"))
    err = wait_refused(port, SHA2_USER, SHA2_PASSWORD, lambda e: "plaintext password" in s.log())
    assert err.args[0] in (1105, 2013), err.args
    assert "needs a plaintext password (password_file)" in s.log()
    assert "full-rsa" not in sha2_paths(f)
