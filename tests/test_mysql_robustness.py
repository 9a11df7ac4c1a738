# tests/test_mysql_robustness.py -- bad input on a mode: mysql listener: garbage handshakes,
# oversized and empty packets, a client that never logs in, wrong passwords. Each must end that
# one session with a proper MySQL ERR packet (or a close) while the daemon keeps serving others.
import os
import socket
import ssl
import struct
import zlib

import pymysql
import pytest

from fake_mysql import packet
from sluice_proc import free_port
from sluice_config import USER_HASH as HASH


@pytest.fixture
def mysql_proxy(galera, sluice):
    port = free_port()
    nodes = galera.nodes_yaml()
    s = sluice(f"""\
workers: 2
listeners:
  - {{ name: app, bind: "127.0.0.1:{port}", mode: mysql, cluster: galera, login_timeout: 1s }}
clusters:
  - name: galera
    monitor: {{ interval: 200ms, timeout: 400ms }}
    nodes:
{nodes}
users:
  - {{ name: sluice_test, password_hash: "{HASH}" }}
""")
    s.port = port
    return s


def recv_exactly(sock, n):
    """n bytes from sock, or None at EOF."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_packet(sock):
    """One MySQL packet: (sequence id, payload), or None at EOF."""
    head = recv_exactly(sock, 4)
    if head is None:
        return None
    body = recv_exactly(sock, head[0] | head[1] << 8 | head[2] << 16)
    return None if body is None else (head[3], body)


def still_serves(port):
    c = pymysql.connect(host="127.0.0.1", port=port, user="sluice_test", password="sluice_test",
                        connect_timeout=10)
    with c.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    c.close()


def err_of(payload):
    assert payload[0] == 0xFF, payload
    code = payload[1] | payload[2] << 8
    assert payload[3:4] == b"#", payload
    return code, payload[4:9].decode(), payload[9:].decode()


@pytest.mark.parametrize("name,response", [
    ("garbage", os.urandom(64)),
    ("too short", b"\x01\x02\x03"),
    ("no protocol 41", struct.pack("<IIB", 0x0, 1 << 24, 45) + b"\0" * 23 + b"x\0"),
    ("user without NUL", struct.pack("<IIB", 0x000FA685, 1 << 24, 45) + b"\0" * 23 + b"abc"),
    ("auth length past the end",
     struct.pack("<IIB", 0x000FA685 & ~(1 << 21), 1 << 24, 45) + b"\0" * 23 + b"u\0\xff"),
])
def test_malformed_handshake_gets_err_and_daemon_lives(mysql_proxy, name, response):
    with socket.create_connection(("127.0.0.1", mysql_proxy.port), timeout=10) as s:
        seq, greeting = read_packet(s)
        assert greeting[0] == 10
        s.sendall(packet(1, response))
        reply = read_packet(s)
        assert reply is not None, "closed without an error packet"
        code, state, msg = err_of(reply[1])
        assert (code, state) == (1043, "08S01"), msg
        assert read_packet(s) is None  # and the session is closed
    still_serves(mysql_proxy.port)


def test_oversized_login_packet_is_refused(mysql_proxy):
    with socket.create_connection(("127.0.0.1", mysql_proxy.port), timeout=10) as s:
        read_packet(s)
        s.sendall(b"\xff\xff\xff\x01" + b"x" * 1000)  # announces 16 MiB, sends a little
        code, _, msg = err_of(read_packet(s)[1])
        assert code == 1043 and "too large" in msg
    still_serves(mysql_proxy.port)


def test_client_that_never_logs_in_is_dropped(mysql_proxy):
    with socket.create_connection(("127.0.0.1", mysql_proxy.port), timeout=10) as s:
        read_packet(s)
        # login_timeout is 1 s: the daemon closes; recv returns EOF well before our timeout.
        assert s.recv(1) == b""
    assert "login timed out" in mysql_proxy.log()
    still_serves(mysql_proxy.port)


def test_empty_command_packet_is_an_unknown_command_as_on_the_server(mysql_proxy):
    """MariaDB reads an empty packet as a command it does not know: 1047, and the connection
    goes on. So does sluice, also for two empty packets sent at once with a query behind."""
    c = pymysql.connect(host="127.0.0.1", port=mysql_proxy.port, user="sluice_test",
                        password="sluice_test")
    c._sock.sendall(packet(0, b""))
    seq, payload = read_packet(c._sock)
    assert seq == 1
    code, state, msg = err_of(payload)
    assert (code, state, msg) == (1047, "08S01", "Unknown command")
    with c.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    c._sock.sendall(packet(0, b"") + packet(0, b"") + packet(0, b"\x03SELECT 2"))
    for _ in range(2):
        assert err_of(read_packet(c._sock)[1])[0] == 1047
    seq, payload = read_packet(c._sock)  # the result set's column count
    assert seq == 1 and payload == b"\x01"
    c._force_close()
    still_serves(mysql_proxy.port)


def test_wrong_password_and_unknown_user_look_the_same(mysql_proxy):
    errors = []
    for user, password in (("sluice_test", "wrong"), ("nobody", "sluice_test")):
        with pytest.raises(pymysql.err.OperationalError) as e:
            pymysql.connect(host="127.0.0.1", port=mysql_proxy.port, user=user,
                            password=password)
        errors.append(e.value.args)
    assert errors[0] == (1045, "Access denied for user 'sluice_test'@'127.0.0.1' "
                               "(using password: YES)")
    assert errors[1] == (1045, "Access denied for user 'nobody'@'127.0.0.1' "
                               "(using password: YES)")
    still_serves(mysql_proxy.port)


def _native_answer(password: bytes, salt: bytes) -> bytes:
    import hashlib
    s1 = hashlib.sha1(password).digest()
    s3 = hashlib.sha1(salt + hashlib.sha1(s1).digest()).digest()
    return bytes(a ^ b for a, b in zip(s1, s3))


def _login_packet(greeting: bytes) -> bytes:
    """A HandshakeResponse41 for sluice_test answering the greeting's scramble."""
    i = greeting.index(b"\0", 1) + 1 + 4
    salt = greeting[i:i + 8]
    i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
    salt += greeting[i:i + 12]
    caps = 0x000FA685 | 0x00080000  # PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, ...
    return (struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23 + b"sluice_test\0"
            + bytes([20]) + _native_answer(b"sluice_test", salt) + b"mysql_native_password\0")


def _closed(sock) -> bool:
    """The peer closed (EOF or reset) instead of sending another packet."""
    try:
        return read_packet(sock) is None
    except ConnectionResetError:
        return True


def _out_of_order(port: int, login_seq: int, command_seq: int):
    """Log in with the HandshakeResponse numbered login_seq, then send SELECT 1 numbered
    command_seq; returns the first reply that is not the expected OK/result start."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        _, greeting = read_packet(s)
        s.sendall(packet(login_seq, _login_packet(greeting)))
        seq, reply = read_packet(s)
        if reply[0] == 0xFF:
            return seq, err_of(reply), _closed(s)
        s.sendall(packet(command_seq, b"\x03SELECT 1"))
        seq, reply = read_packet(s)
        return seq, err_of(reply), _closed(s)


@pytest.mark.parametrize("login_seq,command_seq", [(7, 0), (0, 0), (1, 3), (1, 1)],
                         ids=["login 7", "login 0", "command 3", "command 1"])
def test_packets_out_of_order_are_refused_like_mariadb(mysql_proxy, galera, login_seq,
                                                       command_seq):
    """A HandshakeResponse must be packet 1 and a command packet 0: MariaDB answers anything
    else with 1156 (08S01) "Got packets out of order", numbered as the expected packet, and
    closes. sluice answers exactly like the node does."""
    node = _out_of_order(galera.sql_port(0), login_seq, command_seq)
    got = _out_of_order(mysql_proxy.port, login_seq, command_seq)
    assert node[1][:2] == (1156, "08S01") and node[1][2] == "Got packets out of order", node
    assert got == node
    assert got[2]  # closed after the error
    still_serves(mysql_proxy.port)


def test_node_packets_out_of_order_end_that_session(sluice):
    """A node that numbers its answer wrongly (tests/fake_mysql.py, one static node): the
    client gets 1156 (08S01) from sluice and its session ends; others go on."""
    from fake_mysql import FakeMySQL, Ok

    fake = FakeMySQL(users={"sluice_test": "sluice_test"},
                     user_plugins={"sluice_test": "mysql_native_password"},
                     auth_plugin="mysql_native_password").start()
    try:
        fake.add_query("DO 'broken'", Ok(seq_skip=3))
        fake.add_query("DO 'fine'", Ok())
        port = free_port()
        sluice(f"""\
listeners:
  - {{ name: app, bind: "127.0.0.1:{port}", mode: mysql, cluster: fake }}
clusters:
  - name: fake
    type: static
    nodes: [{{ name: f1, address: "127.0.0.1:{fake.port}" }}]
users:
  - {{ name: sluice_test, password_hash: "{HASH}" }}
""")
        conn = pymysql.connect(host="127.0.0.1", port=port, user="sluice_test",
                               password="sluice_test")
        with pytest.raises(pymysql.err.OperationalError) as e, conn.cursor() as c:
            c.execute("DO 'broken'")
        assert e.value.args == (1156, "sluice: the node sent packets out of order"), e.value
        with pytest.raises(pymysql.err.MySQLError):
            with conn.cursor() as c:
                c.execute("DO 'fine'")
        other = pymysql.connect(host="127.0.0.1", port=port, user="sluice_test",
                                password="sluice_test")
        with other.cursor() as c:
            c.execute("DO 'fine'")
        other.close()
    finally:
        fake.stop()
    assert fake.errors == [], fake.errors


def test_tls_hello_sent_with_the_ssl_request(galera, sluice):
    """A client may send its TLS ClientHello in the same segment as the SSLRequest packet (it
    does not wait for anything in between). sluice reads both at once; the TLS layer must
    start from the ClientHello it already has, not wait for bytes that will never come (the
    client waits for the ServerHello): before the fix, the login timed out."""
    port = free_port()
    sluice(f"""\
listeners:
  - {{ name: app, bind: "127.0.0.1:{port}", mode: mysql, cluster: galera, login_timeout: 5s,
      tls: {{ cert: {galera.tls_cert}, key: {galera.tls_key} }} }}
clusters:
  - name: galera
    monitor: {{ interval: 200ms, timeout: 400ms }}
    nodes:
{galera.nodes_yaml()}
users:
  - {{ name: sluice_test, password_hash: "{HASH}" }}
""")
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            seq, greeting = read_packet(sock)
            assert seq == 0 and greeting[0] == 10
            # CLIENT_LONG_PASSWORD | PROTOCOL_41 | SSL | TRANSACTIONS | SECURE_CONNECTION
            caps = 0x1 | 0x200 | 0x800 | 0x2000 | 0x8000
            ssl_request = struct.pack("<IIB23x", caps, 1 << 24, 45)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ctx.wrap_bio(incoming, outgoing)
            with pytest.raises(ssl.SSLWantReadError):
                tls.do_handshake()
            hello = outgoing.read()
            # One send: the request for TLS and the ClientHello together.
            sock.sendall(packet(1, ssl_request) + hello)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pending = outgoing.read()
                    if pending:
                        sock.sendall(pending)
                    data = sock.recv(65536)
                    assert data, "sluice closed the connection during the TLS handshake"
                    incoming.write(data)
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        finally:
            sock.close()


def _compressed_login(port: int):
    """Log in asking for the compressed protocol (CLIENT_COMPRESS); the OK is the last plain
    packet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    _, greeting = read_packet(s)
    login = bytearray(_login_packet(greeting))
    login[0] |= 0x20  # CLIENT_COMPRESS
    s.sendall(packet(1, bytes(login)))
    seq, reply = read_packet(s)
    assert reply[0] == 0x00, reply
    return s


def _frame(seq: int, body: bytes, plain_len: int = 0) -> bytes:
    """A compressed frame: 3-byte length, sequence id, 3-byte length before deflate (0:
    stored)."""
    return len(body).to_bytes(3, "little") + bytes([seq]) + plain_len.to_bytes(3, "little") + body


def _read_frame(sock):
    """One compressed frame's plain bytes, or None at EOF (or a reset)."""
    try:
        head = recv_exactly(sock, 7)
        body = head and recv_exactly(sock, int.from_bytes(head[:3], "little"))
    except ConnectionResetError:
        return None
    if body is None:
        return None
    plain_len = int.from_bytes(head[4:7], "little")
    return zlib.decompress(body) if plain_len else body


def test_corrupt_compressed_frame_gets_1157_and_daemon_lives(mysql_proxy, galera):
    """A compressed frame that does not inflate: the frames after it cannot be found, so the
    session ends. MariaDB just closes; sluice first says why, with 1157 (08S01) "Couldn't
    uncompress communication packet" (MariaDB's own code for it) in a compressed frame. A good
    command before it is answered as usual, and other sessions go on."""
    select_1 = _frame(0, packet(0, b"\x03SELECT 1"))
    corrupt = _frame(0, b"\x78\x9c" + b"not deflate data", 100)

    with _compressed_login(galera.sql_port(0)) as node:
        node.sendall(select_1)
        assert _read_frame(node)
        node.sendall(corrupt)
        assert _read_frame(node) is None  # closed, no error

    with _compressed_login(mysql_proxy.port) as s:
        s.sendall(select_1)
        plain = _read_frame(s)
        assert plain and plain[4] == 1, plain  # a result set of one column
        s.sendall(corrupt)
        plain = _read_frame(s)
        assert plain is not None, "closed without an error"
        length = int.from_bytes(plain[:3], "little")
        assert plain[3] == 1 and len(plain) == 4 + length, plain
        assert err_of(plain[4:]) == (1157, "08S01", "Couldn't uncompress communication packet")
        assert _read_frame(s) is None  # then closed
    still_serves(mysql_proxy.port)
