# tests/test_fake_mysql.py -- proves tests/fake_mysql.py against real clients directly (no
# sluice): PyMySQL, mysqlclient (MySQLdb on MariaDB Connector/C) and the mariadb CLI log in
# through every caching_sha2_password path (fast, full over TLS, full with RSA) and
# mysql_native_password (with and without an auth switch), read scripted result sets, and
# survive clients that vanish.  A small hand-written client covers what none of them does:
# the greeting's bytes, DEPRECATE_EOF, a plaintext password without TLS, raw commands.
import datetime
import decimal
import hashlib
import re
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from fake_mysql import (CACHING_SHA2, CLIENT_CONNECT_ATTRS, CLIENT_DEPRECATE_EOF,
                        CLIENT_PLUGIN_AUTH, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
                        CLIENT_PROTOCOL_41, CLIENT_SECURE_CONNECTION, CLIENT_SSL, NATIVE,
                        Column, Err, FakeMySQL, FieldType, Ok, ResultSet)
from sluice_config import HOST, wait_until

USERS = {"alice": "alice-pw", "bob": "bob-pw"}
PLUGINS = {"bob": NATIVE}  # alice uses the greeting's plugin, caching_sha2_password
MYSQL8_CAPS = (1 << 0, 1 << 2, 1 << 3, 1 << 9, 1 << 13, 1 << 15, 1 << 16, 1 << 17, 1 << 18,
               1 << 19, 1 << 20, 1 << 21)


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def fake():
    """Factory: ``fake(**kwargs)`` starts a FakeMySQL (alice: caching_sha2, bob: native by
    default).  All are stopped at the end, and the test fails if one hit an internal error."""
    started = []

    def make(**kwargs) -> FakeMySQL:
        kwargs.setdefault("users", USERS)
        kwargs.setdefault("user_plugins", PLUGINS)
        f = FakeMySQL(**kwargs).start()
        started.append(f)
        return f

    yield make
    for f in started:
        f.stop()
    for f in started:
        assert f.errors == [], "\n".join(f.errors)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1 (IP SAN) signed by it, made with
    python3-cryptography: {"ca", "cert", "key"} paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    d = tmp_path_factory.mktemp("certs")
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject_cn, key, issuer_cn, issuer_key, ca: bool):
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                              False, False), critical=True)
        else:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    paths = {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server-key.pem"}
    paths["ca"].write_bytes(cert("fake CA", ca_key, "fake CA", ca_key, True)
                            .public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert(HOST, key, "fake CA", ca_key, False)
                              .public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return {k: str(v) for k, v in paths.items()}


def tls_of(certs):
    return (certs["cert"], certs["key"])


def pymysql_connect(f, user="alice", password=None, **kwargs):
    import pymysql
    return pymysql.connect(host=HOST, port=f.port, user=user,
                           password=USERS.get(user, "") if password is None else password,
                           connect_timeout=10, **kwargs)


def mysqldb_connect(f, user="alice", password=None, **kwargs):
    import MySQLdb
    return MySQLdb.connect(host=HOST, port=f.port, user=user,
                           passwd=USERS.get(user, "") if password is None else password,
                           connect_timeout=10, **kwargs)


def query(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    cur.close()
    return rows



# --- a minimal hand-written client, for what no real client here does -----------------------

def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def native_answer(password: bytes, nonce: bytes) -> bytes:
    s1 = hashlib.sha1(password).digest()
    return xor(s1, hashlib.sha1(nonce + hashlib.sha1(s1).digest()).digest())


def sha2_answer(password: bytes, nonce: bytes) -> bytes:
    s1 = hashlib.sha256(password).digest()
    s2 = hashlib.sha256(s1).digest()
    return xor(s1, hashlib.sha256(s2 + nonce).digest())


class RawClient:
    """Speaks the protocol byte by byte: greeting, HandshakeResponse41, raw packets."""

    def __init__(self, port: int):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.seq = 0
        self.greeting = self.parse_greeting(self.read())

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("server closed the connection")
            buf += chunk
        return buf

    def read(self) -> bytes:
        header = self.recv_exact(4)
        assert header[3] == self.seq, f"sequence id {header[3]}, expected {self.seq}"
        self.seq = (self.seq + 1) & 0xFF
        return self.recv_exact(int.from_bytes(header[:3], "little"))

    def write(self, payload: bytes, seq=None):
        self.seq = self.seq if seq is None else seq
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF

    @staticmethod
    def parse_greeting(p: bytes) -> dict:
        g = {"protocol": p[0]}
        end = p.index(b"\0", 1)
        g["version"] = p[1:end].decode()
        i = end + 1
        g["thread_id"], part1, filler = struct.unpack_from("<I8sB", p, i)
        i += 13
        caps_lo, g["charset"], g["status"], caps_hi, g["data_len"] = struct.unpack_from(
            "<HBHHB", p, i)
        i += 8
        g["reserved"] = p[i:i + 10]
        i += 10
        part2_len = max(13, g["data_len"] - 8)
        part2 = p[i:i + part2_len]
        i += part2_len
        g["capabilities"] = caps_lo | caps_hi << 16
        g["filler"], g["part2_nul"] = filler, part2[-1]
        g["scramble"] = part1 + part2[:-1]
        g["plugin"] = p[i:p.index(b"\0", i)].decode()
        g["trailing"] = p[p.index(b"\0", i) + 1:]
        return g

    def login(self, user: str, password: str, extra_caps: int = 0) -> bytes:
        """Send a HandshakeResponse41 answering the greeting's plugin; return the reply."""
        caps = (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
                | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_ATTRS | extra_caps)
        nonce, plugin = self.greeting["scramble"], self.greeting["plugin"]
        answer = (sha2_answer if plugin == CACHING_SHA2 else native_answer)(password.encode(),
                                                                            nonce)
        attrs = b"\x03key\x05value"
        self.write(struct.pack("<IIB23x", caps, 1 << 24, 255) + user.encode() + b"\0"
                   + bytes([len(answer)]) + answer + plugin.encode() + b"\0"
                   + bytes([len(attrs)]) + attrs)
        return self.read()

    def command(self, payload: bytes) -> bytes:
        self.write(payload, seq=0)
        return self.read()

    def close(self):
        self.sock.close()


def err_code(payload: bytes) -> int:
    assert payload[0] == 0xFF, f"not an ERR packet: {payload!r}"
    return struct.unpack_from("<H", payload, 1)[0]


# --- greeting and robustness ----------------------------------------------------------------

def test_greeting_is_a_mysql8_handshake_v10(fake, certs):
    f = fake(server_version="8.0.99-test")
    a, b = RawClient(f.port), RawClient(f.port)
    for c in (a, b):
        g = c.greeting
        assert g["protocol"] == 10 and g["version"] == "8.0.99-test"
        assert g["filler"] == 0 and g["reserved"] == b"\0" * 10 and g["part2_nul"] == 0
        assert g["data_len"] == 21 and len(g["scramble"]) == 20
        assert all(1 <= x <= 127 for x in g["scramble"])
        assert g["plugin"] == "caching_sha2_password" and g["trailing"] == b""
        assert g["charset"] == 255 and g["status"] == 0x0002  # utf8mb4_0900_ai_ci, AUTOCOMMIT
        assert all(g["capabilities"] & cap for cap in MYSQL8_CAPS)
        assert not g["capabilities"] & (CLIENT_SSL | CLIENT_DEPRECATE_EOF)
    assert b.greeting["thread_id"] == a.greeting["thread_id"] + 1
    assert a.greeting["scramble"] != b.greeting["scramble"]
    a.close()
    b.close()

    c = RawClient(fake(tls=tls_of(certs), deprecate_eof=True, charset=45,
                       auth_plugin=NATIVE).port)
    g = c.greeting
    assert g["capabilities"] & CLIENT_SSL and g["capabilities"] & CLIENT_DEPRECATE_EOF
    assert g["charset"] == 45 and g["plugin"] == "mysql_native_password"
    c.close()


def test_clients_vanishing_at_any_point_do_not_disturb_the_server(fake, certs):
    f = fake(tls=tls_of(certs))
    RawClient(f.port).close()  # right after the greeting, like sluice's TCP health check
    c = RawClient(f.port)
    c.sock.sendall(b"\x40\x00\x00")  # half a packet header
    c.close()
    c = RawClient(f.port)
    c.write(struct.pack("<IIB23x", CLIENT_PROTOCOL_41 | CLIENT_SSL, 1 << 24, 255))  # SSLRequest
    c.close()  # ... and no TLS handshake
    c = RawClient(f.port)
    c.write(struct.pack("<IIB23x", CLIENT_PROTOCOL_41, 1 << 24, 255) + b"alice\0", seq=5)
    c.seq = 1  # the server answers in its own sequence: greeting 0, ERR 1
    assert err_code(c.read()) == 1156  # Got packets out of order
    c.close()
    conn = pymysql_connect(f)
    assert query(conn, "SELECT 1") == ((1,),)
    conn.close()
    wait_until(lambda: f.active_connections == 0)
    assert f.auth_log == [("alice", "caching_sha2_password", "fast")]


def test_many_concurrent_clients(fake):
    f = fake()
    results, failures = [], []

    def client(i):
        try:
            conn = pymysql_connect(f, "alice" if i % 2 else "bob")
            results.append(query(conn, "SELECT CONNECTION_ID()")[0][0])
            conn.close()
        except Exception as e:  # reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(set(results)) == 24
    assert sorted(r.path for r in f.auth_log) == ["fast"] * 12 + ["native"] * 12


def test_stop_closes_connections_and_is_idempotent(fake):
    import pymysql
    f = fake()
    conn = pymysql_connect(f)
    f.stop()
    with pytest.raises(pymysql.err.OperationalError):
        query(conn, "SELECT 1")
    f.stop()
    with pytest.raises(OSError):
        socket.create_connection((HOST, f.port), timeout=5).close()
    with FakeMySQL(f.port, users=USERS) as again:  # the port is free again
        assert again.port == f.port


# --- caching_sha2_password with PyMySQL -----------------------------------------------------

def test_pymysql_sha2_fast_path(fake):
    f = fake()
    conn = pymysql_connect(f, database="app")
    assert query(conn, "SELECT DATABASE()") == (("app",),)
    conn.close()
    assert f.auth_log == [("alice", "caching_sha2_password", "fast")]
    login = f.logins[0]
    assert (login.user, login.client_plugin, login.database, login.tls) == \
        ("alice", "caching_sha2_password", "app", False)
    assert login.attrs["_client_name"] == "pymysql"


def test_pymysql_sha2_full_auth_over_tls_then_fast(fake, certs):
    f = fake(tls=tls_of(certs), sha2_cache_prefilled=False)
    for _ in range(2):
        conn = pymysql_connect(f, ssl={"ca": certs["ca"]})
        assert query(conn, "SELECT CURRENT_USER()") == (("alice@%",),)
        conn.close()
    f.flush_sha2_cache()
    pymysql_connect(f, ssl={"ca": certs["ca"]}).close()
    assert [r.path for r in f.auth_log] == ["full-tls", "fast", "full-tls"]
    assert all(login.tls for login in f.logins)


def test_pymysql_sha2_full_auth_with_rsa_then_fast(fake):
    f = fake(sha2_cache_prefilled=False)
    pymysql_connect(f).close()  # PyMySQL asks for the public key (0x02)
    pymysql_connect(f).close()
    f.flush_sha2_cache()
    pymysql_connect(f, server_public_key=f.public_key_pem).close()  # key known: no request
    assert [r.path for r in f.auth_log] == ["full-rsa", "fast", "full-rsa"]


@pytest.mark.parametrize("prefilled", [True, False])
@pytest.mark.parametrize("tls", [False, True])
def test_pymysql_wrong_password_is_denied(fake, certs, prefilled, tls):
    import pymysql
    f = fake(sha2_cache_prefilled=prefilled, tls=tls_of(certs) if tls else None)
    ssl_args = {"ssl": {"ca": certs["ca"]}} if tls else {}
    for user in ("alice", "nobody"):
        with pytest.raises(pymysql.err.OperationalError) as e:
            pymysql_connect(f, user, "wrong", **ssl_args)
        assert e.value.args == (1045, f"Access denied for user '{user}'@'{HOST}' "
                                      "(using password: YES)")
    assert f.auth_log == [("alice", "caching_sha2_password", "denied"),
                          ("nobody", "caching_sha2_password", "denied")]
    pymysql_connect(f, **ssl_args).close()  # the right password still works


def test_pymysql_auth_switch_both_ways(fake):
    f = fake()  # greeting: caching_sha2_password; bob's account: mysql_native_password
    pymysql_connect(f, "bob").close()
    assert f.auth_log == [("bob", "mysql_native_password", "native")]
    assert f.logins[0].client_plugin == "caching_sha2_password"

    g = fake(auth_plugin=NATIVE, user_plugins={"alice": CACHING_SHA2})
    pymysql_connect(g).close()
    # PyMySQL 1.0.2 hashes the AuthSwitchRequest's nonce with its trailing NUL, so the fast
    # answer is wrong even though alice is cached; a real MySQL 8 then asks for full
    # authentication too, and the RSA path (which uses the first 20 bytes) succeeds.
    assert g.auth_log == [("alice", "caching_sha2_password", "full-rsa")]
    assert g.logins[0].client_plugin == "mysql_native_password"


# --- mysqlclient (MySQLdb on MariaDB Connector/C) and the mariadb CLI -----------------------

def test_mysqldb_native_password_after_auth_switch(fake):
    f = fake()
    conn = mysqldb_connect(f, "bob", db="shop")
    assert query(conn, "SELECT DATABASE()") == (("shop",),)
    conn.close()
    assert f.auth_log == [("bob", "mysql_native_password", "native")]
    assert f.logins[0].attrs["_client_name"] == "libmariadb"


def test_mysqldb_sha2_full_auth_over_tls_then_fast(fake, certs):
    f = fake(tls=tls_of(certs), sha2_cache_prefilled=False)
    for _ in range(2):
        conn = mysqldb_connect(f, ssl={"ca": certs["ca"]})
        assert query(conn, "SELECT 1") == ((1,),)
        conn.close()
    assert [r.path for r in f.auth_log] == ["full-tls", "fast"]
    assert all(login.tls for login in f.logins)


def test_mysqldb_sha2_full_auth_with_rsa_then_fast(fake):
    # Connector/C 3.3 requests the server's public key by itself when it has none.
    f = fake(sha2_cache_prefilled=False)
    for _ in range(2):
        conn = mysqldb_connect(f)
        assert query(conn, "SELECT 1") == ((1,),)
        conn.close()
    assert [r.path for r in f.auth_log] == ["full-rsa", "fast"]


def test_mysqldb_wrong_password_is_denied(fake):
    import MySQLdb
    f = fake()
    for user in ("alice", "bob"):
        with pytest.raises(MySQLdb.OperationalError) as e:
            mysqldb_connect(f, user, "wrong")
        assert e.value.args[0] == 1045
    assert [r.path for r in f.auth_log] == ["denied", "denied"]


def run_mariadb(f, user, *args):
    if shutil.which("mariadb") is None:
        pytest.skip("the mariadb CLI is not installed")
    return subprocess.run(["mariadb", "--no-defaults", f"-h{HOST}", "-P", str(f.port),
                           f"-u{user}", f"-p{USERS[user]}", *args],
                          capture_output=True, text=True, timeout=30)


def test_mariadb_cli_native_user(fake):
    f = fake()
    r = run_mariadb(f, "bob", "-e", "SELECT 1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1"]
    assert f.auth_log == [("bob", "mysql_native_password", "native")]
    assert "SELECT 1" in f.queries


def test_mariadb_cli_sha2_over_tls(fake, certs):
    f = fake(tls=tls_of(certs), sha2_cache_prefilled=False)
    r = run_mariadb(f, "alice", f"--ssl-ca={certs['ca']}", "-e", "SELECT @@version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["@@version", "8.0.36-fake"]
    assert f.auth_log == [("alice", "caching_sha2_password", "full-tls")]


# --- the command phase ----------------------------------------------------------------------

def test_scripted_result_set_with_types_and_nulls(fake):
    f = fake()
    f.add_query("SELECT * FROM t", ResultSet(
        columns=[("id", FieldType.LONGLONG), ("name", FieldType.VAR_STRING),
                 ("price", FieldType.NEWDECIMAL), ("ratio", FieldType.DOUBLE),
                 ("born", FieldType.DATE), ("seen", FieldType.DATETIME),
                 ("raw", FieldType.BLOB), Column("note", FieldType.BLOB, charset=255)],
        rows=[[1, "ünï", "12.50", "0.25", "2024-02-29", "2024-02-29 13:14:15", b"\x00\xff",
               "text"],
              ["2", None, None, None, None, None, None, None]]))
    conn = pymysql_connect(f)
    cur = conn.cursor()
    assert cur.execute("select * from t;  ") == 2  # case, trailing ';' and spaces ignored
    assert cur.fetchall() == (
        (1, "ünï", decimal.Decimal("12.50"), 0.25, datetime.date(2024, 2, 29),
         datetime.datetime(2024, 2, 29, 13, 14, 15), b"\x00\xff", "text"),
        (2, None, None, None, None, None, None, None))
    assert [d[:2] for d in cur.description] == [
        ("id", 8), ("name", 253), ("price", 246), ("ratio", 5), ("born", 10), ("seen", 12),
        ("raw", 252), ("note", 252)]
    conn.close()


def test_scripted_ok_err_regex_callable_and_builtins(fake):
    import pymysql
    f = fake(server_version="8.0.40-x")
    f.add_query("UPDATE t SET a = 1", Ok(affected=3, insert_id=7))
    f.add_query("DROP TABLE t", Err(1051, "42S02", "Unknown table 'app.t'"))
    f.add_query(re.compile(r"SELECT (\d+) \+ (\d+)"),
                lambda m: ResultSet([("sum", FieldType.LONGLONG)],
                                    [[int(m.group(1)) + int(m.group(2))]]))
    conn = pymysql_connect(f)
    cur = conn.cursor()
    assert cur.execute("UPDATE t SET a = 1") == 3 and cur.lastrowid == 7
    with pytest.raises(pymysql.err.OperationalError) as e:
        cur.execute("DROP TABLE t")
    assert e.value.args == (1051, "Unknown table 'app.t'")
    assert query(conn, "SELECT 2 + 40") == ((42,),)
    with pytest.raises(pymysql.err.ProgrammingError) as e:
        cur.execute("SELECT nothing")
    assert e.value.args[0] == 1064 and "near 'SELECT nothing'" in e.value.args[1]
    assert query(conn, "SELECT @@version") == (("8.0.40-x",),)
    assert query(conn, "select @@version_comment limit 1")[0][0].startswith("MySQL")
    assert query(conn, "SELECT CONNECTION_ID()") == ((f.logins[0].thread_id,),)
    assert query(conn, "SET NAMES utf8mb4") == ()
    assert query(conn, "SHOW WARNINGS") == ()
    assert f.queries[-3:] == ["SELECT CONNECTION_ID()", "SET NAMES utf8mb4", "SHOW WARNINGS"]
    conn.close()


def test_answers_change_while_connected(fake):
    import pymysql
    f = fake()
    role = re.compile(r"SELECT member_role FROM .*", re.I | re.S)
    f.add_query(role, ResultSet([("member_role", FieldType.VAR_STRING)], [["PRIMARY"]]))
    conn = pymysql_connect(f)
    sql = "SELECT member_role FROM performance_schema.replication_group_members"
    assert query(conn, sql) == (("PRIMARY",),)
    f.add_query(role, ResultSet([("member_role", FieldType.VAR_STRING)], [["SECONDARY"]]))
    assert query(conn, sql) == (("SECONDARY",),)
    f.remove_query(role)
    with pytest.raises(pymysql.err.ProgrammingError) as e:
        query(conn, sql)
    assert e.value.args[0] == 1064
    conn.close()


def test_commands_ping_init_db_reset_and_unknown(fake):
    import pymysql
    f = fake()
    conn = pymysql_connect(f)
    conn.ping(reconnect=False)
    conn.select_db("other")  # COM_INIT_DB
    assert query(conn, "SELECT DATABASE()") == (("other",),)
    conn.autocommit(False)
    assert not conn.get_autocommit()  # the status flag follows SET AUTOCOMMIT
    conn._execute_command(0x1F, b"")  # COM_RESET_CONNECTION
    conn._read_ok_packet()
    assert conn.get_autocommit()
    conn._execute_command(0x09, b"")  # COM_STATISTICS: not implemented
    with pytest.raises(pymysql.err.OperationalError) as e:
        conn._read_packet()
    assert e.value.args == (1047, "Unknown command")
    assert query(conn, "SELECT 1") == ((1,),)  # still usable
    conn.close()
    wait_until(lambda: f.active_connections == 0)  # COM_QUIT closed it


# --- what only a hand-written client exercises ----------------------------------------------

def result_packets(c: RawClient, sql: str, count: int) -> list:
    """Send COM_QUERY and read ``count`` packets; a COM_PING answered with an OK of sequence
    id 1 right after proves the reply had no more."""
    packets = [c.command(b"\x03" + sql.encode())]
    packets += [c.read() for _ in range(count - 1)]
    assert c.command(b"\x0e")[0] == 0x00
    return packets


@pytest.mark.parametrize("deprecate_eof", [False, True])
def test_result_set_framing_with_and_without_deprecate_eof(fake, deprecate_eof):
    f = fake(deprecate_eof=deprecate_eof)
    f.add_query("SELECT two", ResultSet([("a", FieldType.LONG), ("b", FieldType.VAR_STRING)],
                                        [[1, "x"], [None, "y"]]))
    c = RawClient(f.port)
    assert c.login("alice", USERS["alice"], CLIENT_DEPRECATE_EOF if deprecate_eof else 0) \
        == b"\x01\x03"
    assert c.read()[0] == 0x00  # OK
    assert f.logins[0].attrs == {"key": "value"}
    packets = result_packets(c, "SELECT two", 6 if deprecate_eof else 7)
    assert packets[0] == b"\x02"
    assert packets[1].startswith(b"\x03def\x00\x00\x00\x01a\x01a\x0c")
    charset, length, type_, flags, decimals = struct.unpack("<HIBHB", packets[1][-12:-2])
    assert (charset, length, type_, flags & 0x81, decimals) == (63, 11, 3, 0x80, 0)
    rows = [b"\x011\x01x", b"\xfb\x01y"]
    if deprecate_eof:
        assert packets[3:5] == rows
        assert packets[5] == b"\xfe\x00\x00\x02\x00\x00\x00"  # OK with 0xFE header
    else:
        assert packets[3] == b"\xfe\x00\x00\x02\x00"  # EOF: warnings, status AUTOCOMMIT
        assert packets[4:6] == rows
        assert packets[6] == b"\xfe\x00\x00\x02\x00"
    c.close()


def test_sha2_plaintext_password_without_tls_is_denied(fake):
    f = fake(sha2_cache_prefilled=False)
    c = RawClient(f.port)
    assert c.login("alice", USERS["alice"]) == b"\x01\x04"  # perform full authentication
    c.write(USERS["alice"].encode() + b"\0")  # in clear, on a plain connection
    reply = c.read()
    assert err_code(reply) == 1045 and reply[3:9] == b"#28000"
    assert f.auth_log == [("alice", "caching_sha2_password", "denied")]
    c.close()
