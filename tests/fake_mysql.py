# tests/fake_mysql.py -- a small fake MySQL 8 server speaking the real client/server protocol,
# for tests where no real server can be used: the server side of caching_sha2_password (MariaDB
# has none) and scripted answers, e.g. a MySQL Group Replication member for the monitor.
"""A protocol-level fake MySQL 8 server for tests, run in background threads.

What it does:

* listens on 127.0.0.1 (a free port unless told), one thread per connection;
* sends a HandshakeV10 greeting like a MySQL 8 server (configurable version, auth plugin,
  DEPRECATE_EOF; CLIENT_SSL only when ``tls`` is given), upgrades to TLS on an SSLRequest;
* parses the whole HandshakeResponse41 (see ``Login``), switches the client to the account's
  plugin with an AuthSwitchRequest when they differ, and authenticates with
  ``mysql_native_password`` or ``caching_sha2_password`` exactly as MySQL 8 does: the fast path
  against an in-memory cache of SHA256(SHA256(password)), full authentication with the
  plaintext password over TLS, or RSA-OAEP (the server's own 2048-bit key, sent on request)
  without TLS.  Every outcome is recorded in ``auth_log``;
* in the command phase answers COM_QUIT, COM_PING, COM_INIT_DB, COM_RESET_CONNECTION and
  COM_QUERY; queries get scripted answers (``add_query``: OK, ERR or a text-protocol result
  set), then a few built-ins (SELECT 1, @@version, @@version_comment, DATABASE(),
  CONNECTION_ID(), CURRENT_USER(), SET ..., SHOW WARNINGS), else ERR 1064.

What it does NOT do: parse or execute SQL (a query is matched whole, a multi-statement text
is one query), prepared statements (COM_STMT_*), COM_CHANGE_USER, COM_FIELD_LIST and the other
commands (all ERR 1047), compression, LOAD DATA LOCAL, session state tracking, transactions
(only the autocommit status bit follows SET autocommit), sha256_password or any other plugin,
host-based accounts (an account is a user name; the cache is keyed by user name), password
expiry, the X protocol.  A malformed login packet gets ERR 1043 (Bad handshake), a packet
with the wrong sequence id ERR 1156; both close the connection, as MySQL does.

Unexpected exceptions in a connection thread (bugs in the fake) are kept in ``errors``;
a client going away at any point is normal and leaves no trace.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import selectors
import socket
import ssl
import struct
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

# --- protocol constants ---------------------------------------------------------------------

CLIENT_LONG_PASSWORD = 1 << 0
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_SSL = 1 << 11
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
CLIENT_DEPRECATE_EOF = 1 << 24

BASE_CAPABILITIES = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
                     | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
                     | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS
                     | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS
                     | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)

SERVER_STATUS_AUTOCOMMIT = 0x0002

COM_QUIT = 0x01
COM_INIT_DB = 0x02
COM_QUERY = 0x03
COM_PING = 0x0E
COM_RESET_CONNECTION = 0x1F

NATIVE = "mysql_native_password"
CACHING_SHA2 = "caching_sha2_password"
PLUGINS = (NATIVE, CACHING_SHA2)

SCRAMBLE_LENGTH = 20
MAX_PAYLOAD = 0xFFFFFF
BINARY_CHARSET = 63

# caching_sha2_password AuthMoreData bytes
SHA2_REQUEST_PUBLIC_KEY = 0x02
SHA2_FAST_AUTH_OK = 0x03
SHA2_PERFORM_FULL_AUTH = 0x04

ER_BAD_HANDSHAKE = (1043, "08S01", "Bad handshake")
ER_UNKNOWN_COMMAND = (1047, "08S01", "Unknown command")
ER_PACKETS_OUT_OF_ORDER = (1156, "08S01", "Got packets out of order")
ER_NOT_SUPPORTED_AUTH_MODE = (1251, "08004", "Client does not support authentication protocol "
                              "requested by server; consider upgrading MySQL client")


class FieldType:
    """Column type codes of the protocol (enum_field_types)."""
    DECIMAL = 0
    TINY = 1
    SHORT = 2
    LONG = 3
    FLOAT = 4
    DOUBLE = 5
    NULL = 6
    TIMESTAMP = 7
    LONGLONG = 8
    INT24 = 9
    DATE = 10
    TIME = 11
    DATETIME = 12
    YEAR = 13
    VARCHAR = 15
    BIT = 16
    JSON = 245
    NEWDECIMAL = 246
    ENUM = 247
    SET = 248
    TINY_BLOB = 249
    MEDIUM_BLOB = 250
    LONG_BLOB = 251
    BLOB = 252
    VAR_STRING = 253
    STRING = 254
    GEOMETRY = 255


class ColumnFlag:
    """Column definition flags."""
    NOT_NULL = 1
    PRI_KEY = 2
    UNIQUE_KEY = 4
    MULTIPLE_KEY = 8
    BLOB = 16
    UNSIGNED = 32
    ZEROFILL = 64
    BINARY = 128


T = FieldType
_INTEGER_TYPES = {T.TINY, T.SHORT, T.INT24, T.LONG, T.LONGLONG, T.YEAR, T.BIT}
_TEMPORAL_TYPES = {T.DATE, T.TIME, T.DATETIME, T.TIMESTAMP}
_BLOB_TYPES = {T.TINY_BLOB, T.BLOB, T.MEDIUM_BLOB, T.LONG_BLOB}
# Types whose result-set column charset is binary (63) unless told otherwise.
_BINARY_TYPES = (_INTEGER_TYPES | _TEMPORAL_TYPES | _BLOB_TYPES
                 | {T.DECIMAL, T.NEWDECIMAL, T.FLOAT, T.DOUBLE, T.NULL, T.GEOMETRY, T.JSON})
_FIXED_LENGTH = {T.TINY: 4, T.SHORT: 6, T.INT24: 9, T.LONG: 11, T.LONGLONG: 20, T.YEAR: 4,
                 T.FLOAT: 12, T.DOUBLE: 22, T.DATE: 10, T.TIME: 10, T.DATETIME: 19,
                 T.TIMESTAMP: 19, T.TINY_BLOB: 255, T.BLOB: 65535, T.MEDIUM_BLOB: 16777215,
                 T.LONG_BLOB: 4294967295, T.NULL: 0}
NOT_FIXED_DEC = 31

# --- packet helpers -------------------------------------------------------------------------


def packet(seq: int, payload: bytes) -> bytes:
    """One packet (payload under 16 MiB) with its header: 3-byte length, sequence id."""
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def lenenc_int(n: int) -> bytes:
    """A length-encoded integer."""
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")


def lenenc_str(data: bytes) -> bytes:
    """A length-encoded string."""
    return lenenc_int(len(data)) + data


class ConnectionClosed(Exception):
    """The peer went away (EOF); not an error."""


class ProtocolError(Exception):
    """The client broke the protocol: answer with this ERR and close."""

    def __init__(self, code: int, sqlstate: str, message: str):
        super().__init__(f"{code} ({sqlstate}) {message}")
        self.code, self.sqlstate, self.message = code, sqlstate, message


class Reader:
    """A bounded cursor over one payload; reading past the end raises ProtocolError
    (Bad handshake, since only login packets are parsed field by field)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.remaining() < n:
            raise ProtocolError(*ER_BAD_HANDSHAKE)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "little")

    def lenenc_int(self) -> int:
        first = self.uint(1)
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.uint(2)
        if first == 0xFD:
            return self.uint(3)
        if first == 0xFE:
            return self.uint(8)
        raise ProtocolError(*ER_BAD_HANDSHAKE)  # 0xFB (NULL) and 0xFF are not lengths

    def lenenc_bytes(self) -> bytes:
        return self.take(self.lenenc_int())

    def nul_bytes(self, required: bool = True) -> bytes:
        """Bytes up to a NUL (consumed, not returned); without a NUL, the rest of the payload
        if not ``required``."""
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            if required:
                raise ProtocolError(*ER_BAD_HANDSHAKE)
            end = len(self.data)
        out = self.data[self.pos:end]
        self.pos = min(end + 1, len(self.data))
        return out

    def rest(self) -> bytes:
        return self.take(self.remaining())


def ok_payload(status: int, affected: int = 0, insert_id: int = 0, warnings: int = 0,
               info: str = "", header: int = 0x00) -> bytes:
    """OK packet (header 0xFE: the OK that ends a result set under DEPRECATE_EOF)."""
    out = bytes([header]) + lenenc_int(affected) + lenenc_int(insert_id)
    out += struct.pack("<HH", status, warnings)
    return out + info.encode()


def err_payload(code: int, sqlstate: str, message: str) -> bytes:
    return b"\xff" + struct.pack("<H", code) + b"#" + sqlstate.encode()[:5] + message.encode()


def eof_payload(status: int, warnings: int = 0) -> bytes:
    return b"\xfe" + struct.pack("<HH", warnings, status)


def new_scramble() -> bytes:
    """20 random bytes in 1..127 (no NUL), like MySQL's generate_user_salt."""
    return bytes(1 + b % 127 for b in os.urandom(SCRAMBLE_LENGTH))


def xor_bytes(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b``, ``b`` repeated cyclically."""
    return bytes(x ^ b[i % len(b)] for i, x in enumerate(a))


# --- auth math (server side: what MySQL stores and how it checks an answer) ------------------

def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def native_verify(password: bytes, scramble: bytes, answer: bytes) -> bool:
    """mysql_native_password: the answer is SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
    Checked the server's way, from the stored SHA1(SHA1(pw)) only."""
    if not password:
        return answer == b""
    if len(answer) != 20:
        return False
    stage2 = sha1(sha1(password))
    stage1 = xor_bytes(answer, sha1(scramble + stage2))
    return hmac.compare_digest(sha1(stage1), stage2)


def sha2_fast_verify(cached_stage2: bytes, scramble: bytes, answer: bytes) -> bool:
    """caching_sha2_password fast path: the answer is SHA256(pw) XOR SHA256(stage2 + scramble)
    with stage2 = SHA256(SHA256(pw)) (MySQL's Validate_scramble hashes stage2 first, then the
    nonce).  Checked from the cached stage2 only."""
    if len(answer) != 32:
        return False
    stage1 = xor_bytes(answer, sha256(cached_stage2 + scramble))
    return hmac.compare_digest(sha256(stage1), cached_stage2)


# --- scripted answers -----------------------------------------------------------------------

@dataclass(frozen=True)
class Ok:
    """An OK packet; ``status`` None means the session's own status flags.  ``seq_skip``
    makes a broken server: the packet's sequence id is that much too high."""
    affected: int = 0
    insert_id: int = 0
    status: Optional[int] = None
    warnings: int = 0
    info: str = ""
    seq_skip: int = 0


@dataclass(frozen=True)
class Err:
    """An ERR packet."""
    code: int
    sqlstate: str
    message: str


@dataclass(frozen=True)
class Column:
    """One column definition.  Unset fields are derived from the type and the values:
    charset binary (63) for numbers, dates, blobs and JSON, else the server's; length from
    the type or the longest value; flags NOT_NULL when no value is NULL, BINARY with the
    binary charset; decimals 0 for integers and dates, 31 for strings and floating point."""
    name: str
    type: int = FieldType.VAR_STRING
    flags: Optional[int] = None
    charset: Optional[int] = None
    length: Optional[int] = None
    decimals: Optional[int] = None
    schema: str = ""
    table: str = ""
    org_table: str = ""
    org_name: Optional[str] = None


ColumnSpec = Union[Column, Sequence[Any]]


@dataclass
class ResultSet:
    """A text-protocol result set.  ``columns``: Column objects or tuples (name, type[, flags]);
    ``rows``: sequences of values, each str, bytes, None (NULL) or anything str() renders."""
    columns: list
    rows: list = field(default_factory=list)
    status: Optional[int] = None
    warnings: int = 0

    def __post_init__(self):
        self.columns = [c if isinstance(c, Column) else Column(*c) for c in self.columns]
        self.rows = [list(r) for r in self.rows]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} values for "
                                 f"{len(self.columns)} columns")


Result = Union[Ok, Err, ResultSet]
Answer = Union[Result, Callable[["re.Match[str]"], Result]]


def _value_bytes(value: Any) -> Optional[bytes]:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode()


def _column_def(col: Column, values: list, server_charset: int) -> bytes:
    """The ColumnDefinition41 payload of ``col`` whose values in the rows are ``values``."""
    charset = col.charset
    if charset is None:
        charset = BINARY_CHARSET if col.type in _BINARY_TYPES else server_charset
    encoded = [_value_bytes(v) for v in values]
    present = [v for v in encoded if v is not None]
    length = col.length
    if length is None:
        length = _FIXED_LENGTH.get(col.type)
    if length is None:
        longest = max((len(v) for v in present), default=0)
        length = longest * (1 if charset == BINARY_CHARSET else 4)
    flags = col.flags
    if flags is None:
        flags = ColumnFlag.NOT_NULL if len(present) == len(encoded) else 0
        if charset == BINARY_CHARSET:
            flags |= ColumnFlag.BINARY
        if col.type in _BLOB_TYPES:
            flags |= ColumnFlag.BLOB
    decimals = col.decimals
    if decimals is None:
        if col.type in (T.DECIMAL, T.NEWDECIMAL) or col.type in _TEMPORAL_TYPES:
            decimals = max((len(v.partition(b".")[2]) for v in present), default=0)
        elif col.type in _INTEGER_TYPES:
            decimals = 0
        else:
            decimals = NOT_FIXED_DEC
    out = lenenc_str(b"def") + lenenc_str(col.schema.encode()) + lenenc_str(col.table.encode())
    out += lenenc_str(col.org_table.encode()) + lenenc_str(col.name.encode())
    out += lenenc_str((col.name if col.org_name is None else col.org_name).encode())
    out += b"\x0c" + struct.pack("<HIBHB", charset, min(length, 0xFFFFFFFF), col.type,
                                 flags, decimals)
    return out + b"\0\0"


def _compile(pattern: Union[str, "re.Pattern[str]"]) -> "re.Pattern[str]":
    if isinstance(pattern, re.Pattern):
        return pattern
    if isinstance(pattern, str):
        return re.compile(re.escape(normalize_query(pattern)), re.IGNORECASE)
    raise TypeError(f"query pattern must be str or re.Pattern, not {type(pattern).__name__}")


def normalize_query(text: str) -> str:
    """What patterns are matched against: the text without surrounding whitespace and one
    trailing ';'."""
    text = text.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    return text


# --- records --------------------------------------------------------------------------------

class AuthRecord(NamedTuple):
    """One login attempt: the account's plugin and the path taken: "native", "fast",
    "full-tls", "full-rsa", "empty" (caching_sha2_password account with an empty password)
    or "denied"."""
    user: str
    plugin: str
    path: str


@dataclass(frozen=True)
class Login:
    """A parsed HandshakeResponse41."""
    thread_id: int
    user: str
    capabilities: int
    max_packet: int
    charset: int
    client_plugin: Optional[str]
    database: Optional[str]
    attrs: dict
    tls: bool


# --- packet framing -------------------------------------------------------------------------

class PacketIO:
    """MySQL packet framing over a blocking socket: 3-byte length, 1-byte sequence id,
    payloads of 16 MiB - 1 and more split and joined.  ``seq`` is the next id expected or
    sent; ``reset()`` starts a new command.  Reads take exactly the bytes of a packet, so
    nothing is buffered when the socket is upgraded to TLS."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.seq = 0

    def reset(self) -> None:
        self.seq = 0

    def _recv_exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionClosed()
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read(self) -> bytes:
        payload = b""
        while True:
            header = self._recv_exact(4)
            length = int.from_bytes(header[:3], "little")
            if header[3] != self.seq:
                raise ProtocolError(*ER_PACKETS_OUT_OF_ORDER)
            self.seq = (self.seq + 1) & 0xFF
            payload += self._recv_exact(length)
            if length < MAX_PAYLOAD:
                return payload

    def frame(self, payload: bytes) -> bytes:
        out = bytearray()
        while True:
            chunk, payload = payload[:MAX_PAYLOAD], payload[MAX_PAYLOAD:]
            out += len(chunk).to_bytes(3, "little") + bytes([self.seq]) + chunk
            self.seq = (self.seq + 1) & 0xFF
            if len(chunk) < MAX_PAYLOAD:
                return bytes(out)

    def write(self, *payloads: bytes) -> None:
        self.sock.sendall(b"".join(self.frame(p) for p in payloads))


# --- one connection -------------------------------------------------------------------------

class _Session:
    """One client connection, served by its own thread (``run``)."""

    def __init__(self, server: "FakeMySQL", sock: socket.socket, peer: tuple, thread_id: int):
        self.server = server
        self.sock = sock
        self.peer_host = peer[0]
        self.thread_id = thread_id
        self.io = PacketIO(sock)
        self.tls = False
        self.user = ""
        self.database: Optional[str] = None
        self.autocommit = True
        self.deprecate_eof = False
        self.thread: Optional[threading.Thread] = None
        self._sock_lock = threading.Lock()
        self._closing = False

    @property
    def status(self) -> int:
        return SERVER_STATUS_AUTOCOMMIT if self.autocommit else 0

    # lifecycle

    def run(self) -> None:
        try:
            self._serve()
        except (ConnectionClosed, OSError):  # includes ssl.SSLError: the peer went away
            pass
        except ProtocolError as e:
            self._try_send(err_payload(e.code, e.sqlstate, e.message))
        except Exception:
            self.server._record_error(traceback.format_exc())
        finally:
            self._close()
            self.server._forget(self)

    def abort(self) -> None:
        """From another thread: make the session's blocking I/O fail so its thread ends."""
        with self._sock_lock:
            self._closing = True
            try:
                # The plain socket method: on an SSLSocket it shuts the TCP connection down
                # without touching the TLS state the session thread is using.
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self) -> None:
        with self._sock_lock:
            self._closing = True
            try:
                self.sock.close()
            except OSError:
                pass

    def _try_send(self, payload: bytes) -> None:
        try:
            self.io.write(payload)
        except OSError:
            pass

    def _serve(self) -> None:
        scramble = new_scramble()
        self.io.write(self._greeting(scramble))
        login, answer = self._read_login()
        self.server._record_login(login)
        self.user = login.user
        self.database = login.database
        self.deprecate_eof = bool(login.capabilities & self.server.capabilities
                                  & CLIENT_DEPRECATE_EOF)
        if not self._authenticate(login, scramble, answer):
            return
        self.io.write(ok_payload(self.status))
        self._command_loop()

    # connection phase

    def _greeting(self, scramble: bytes) -> bytes:
        srv = self.server
        caps = srv.capabilities
        out = b"\x0a" + srv.server_version.encode() + b"\0"
        out += struct.pack("<I", self.thread_id) + scramble[:8] + b"\0"
        out += struct.pack("<HBHH", caps & 0xFFFF, srv.charset, self.status, caps >> 16)
        out += bytes([SCRAMBLE_LENGTH + 1]) + b"\0" * 10
        out += scramble[8:] + b"\0" + srv.auth_plugin.encode() + b"\0"
        return out

    def _read_login(self) -> tuple:
        """Read the HandshakeResponse41 (after an SSLRequest and the TLS upgrade if the client
        asks for it): the Login and the auth response."""
        payload = self.io.read()
        caps = Reader(payload).uint(4) if len(payload) >= 4 else 0
        if len(payload) == 32 and caps & CLIENT_SSL:
            if self.server.ssl_context is None:
                raise ProtocolError(*ER_BAD_HANDSHAKE)
            self._start_tls()
            payload = self.io.read()
        return self._parse_login(payload)

    def _start_tls(self) -> None:
        with self._sock_lock:
            if self._closing:
                raise ConnectionClosed()
            tls_sock = self.server.ssl_context.wrap_socket(self.sock, server_side=True,
                                                           do_handshake_on_connect=False)
            self.sock = self.io.sock = tls_sock
        tls_sock.do_handshake()
        self.tls = True

    def _parse_login(self, payload: bytes) -> tuple:
        r = Reader(payload)
        caps = r.uint(4)
        if not caps & CLIENT_PROTOCOL_41:
            raise ProtocolError(*ER_BAD_HANDSHAKE)
        max_packet = r.uint(4)
        charset = r.uint(1)
        r.take(23)
        user = r.nul_bytes().decode("utf-8", "replace")
        if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
            answer = r.lenenc_bytes()
        elif caps & CLIENT_SECURE_CONNECTION:
            answer = r.take(r.uint(1))
        else:
            answer = r.nul_bytes()
        database = client_plugin = None
        if caps & CLIENT_CONNECT_WITH_DB and r.remaining():
            database = r.nul_bytes(required=False).decode("utf-8", "replace")
        if caps & CLIENT_PLUGIN_AUTH and r.remaining():
            client_plugin = r.nul_bytes(required=False).decode("ascii", "replace")
        attrs = {}
        if caps & CLIENT_CONNECT_ATTRS and r.remaining():
            attrs = self._parse_attrs(Reader(r.lenenc_bytes()))
        login = Login(self.thread_id, user, caps, max_packet, charset, client_plugin,
                      database or None, attrs, self.tls)
        return login, answer

    @staticmethod
    def _parse_attrs(r: Reader) -> dict:
        attrs = {}
        while r.remaining():
            key = r.lenenc_bytes().decode("utf-8", "replace")
            attrs[key] = r.lenenc_bytes().decode("utf-8", "replace")
        return attrs

    # authentication

    def _authenticate(self, login: Login, scramble: bytes, answer: bytes) -> bool:
        """Run the account's plugin; on failure send ERR 1045.  True when logged in."""
        srv = self.server
        password, plugin = srv._account(login.user)
        client_plugin = login.client_plugin if login.capabilities & CLIENT_PLUGIN_AUTH else NATIVE
        if client_plugin != plugin:
            if not login.capabilities & CLIENT_PLUGIN_AUTH:
                srv._record_auth(login.user, plugin, "denied")
                raise ProtocolError(*ER_NOT_SUPPORTED_AUTH_MODE)
            scramble = new_scramble()
            self.io.write(b"\xfe" + plugin.encode() + b"\0" + scramble + b"\0")
            answer = self.io.read()
        if plugin == NATIVE:
            path = self._auth_native(password, scramble, answer)
        else:
            path = self._auth_sha2(login.user, password, scramble, answer)
        srv._record_auth(login.user, plugin, path)
        if path == "denied":
            using = "YES" if answer not in (b"", b"\0") else "NO"
            self.io.write(err_payload(1045, "28000", f"Access denied for user '{login.user}'@"
                                      f"'{self.peer_host}' (using password: {using})"))
            return False
        return True

    def _auth_native(self, password: Optional[bytes], scramble: bytes, answer: bytes) -> str:
        if password is not None and native_verify(password, scramble, answer):
            return "native"
        return "denied"

    def _auth_sha2(self, user: str, password: Optional[bytes], scramble: bytes,
                   answer: bytes) -> str:
        """caching_sha2_password as MySQL 8's caching_sha2_password_authenticate."""
        if answer in (b"", b"\0"):
            return "empty" if password == b"" else "denied"
        if len(answer) != 32:
            return "denied"
        cached = self.server._sha2_cached(user)
        if password is not None and cached and sha2_fast_verify(cached, scramble, answer):
            self.io.write(bytes([0x01, SHA2_FAST_AUTH_OK]))
            return "fast"
        self.io.write(bytes([0x01, SHA2_PERFORM_FULL_AUTH]))
        packet = self.io.read()
        if not packet:
            return "denied"
        if self.tls:
            path, given = "full-tls", packet[:-1]  # the password and its NUL
        else:
            path, given = "full-rsa", self._rsa_password(packet, scramble)
        if password is None or given is None or not hmac.compare_digest(given, password):
            return "denied"
        self.server._sha2_remember(user, password)
        return path

    def _rsa_password(self, packet: bytes, scramble: bytes) -> Optional[bytes]:
        """Without TLS: answer a public key request, then decrypt RSA-OAEP((pw + NUL) XOR
        scramble).  None when the client sent anything else (e.g. a plaintext password)."""
        if packet == bytes([SHA2_REQUEST_PUBLIC_KEY]):
            self.io.write(b"\x01" + self.server.public_key_pem)
            packet = self.io.read()
        plain = self.server._rsa_decrypt(packet)
        if plain is None:
            return None
        return xor_bytes(plain, scramble).split(b"\0", 1)[0]

    # command phase

    def _command_loop(self) -> None:
        while True:
            self.io.reset()
            packet = self.io.read()
            command, arg = (packet[0], packet[1:]) if packet else (None, b"")
            if command == COM_QUIT:
                return
            if command == COM_PING:
                self.io.write(ok_payload(self.status))
            elif command == COM_INIT_DB:
                self.database = arg.decode("utf-8", "replace")
                self.io.write(ok_payload(self.status))
            elif command == COM_RESET_CONNECTION:
                self.autocommit = True
                self.io.write(ok_payload(self.status))
            elif command == COM_QUERY:
                text = arg.decode("utf-8", "replace")
                self.server._record_query(text)
                self._send_result(self.server._answer(self, text))
            else:
                self.io.write(err_payload(*ER_UNKNOWN_COMMAND))

    def _send_result(self, result: Result) -> None:
        if isinstance(result, Ok):
            status = self.status if result.status is None else result.status
            self.io.seq = (self.io.seq + result.seq_skip) & 0xFF
            self.io.write(ok_payload(status, result.affected, result.insert_id,
                                     result.warnings, result.info))
        elif isinstance(result, Err):
            self.io.write(err_payload(result.code, result.sqlstate, result.message))
        elif isinstance(result, ResultSet):
            self.io.write(*self._result_set_payloads(result))
        else:
            raise TypeError(f"a query answer must be Ok, Err or ResultSet, not {result!r}")

    def _result_set_payloads(self, rs: ResultSet) -> list:
        status = self.status if rs.status is None else rs.status
        out = [lenenc_int(len(rs.columns))]
        for i, col in enumerate(rs.columns):
            out.append(_column_def(col, [row[i] for row in rs.rows], self.server.charset))
        if not self.deprecate_eof:
            out.append(eof_payload(status))
        for row in rs.rows:
            values = (_value_bytes(v) for v in row)
            out.append(b"".join(b"\xfb" if v is None else lenenc_str(v) for v in values))
        if self.deprecate_eof:
            out.append(ok_payload(status, warnings=rs.warnings, header=0xFE))
        else:
            out.append(eof_payload(status, rs.warnings))
        return out

    # built-in answers: (regex matched against the normalized query, method(match))

    def builtin_answer(self, query: str) -> Result:
        for rx, method in _BUILTINS:
            m = rx.fullmatch(query)
            if m:
                return method(self, m)
        return Err(1064, "42000", "You have an error in your SQL syntax; check the manual that "
                   "corresponds to your MySQL server version for the right syntax to use near "
                   f"'{query[:80]}' at line 1")

    def _one_value(self, m: "re.Match[str]", type_: int, value: Any) -> ResultSet:
        return ResultSet([Column(m.group("expr"), type_)], [[value]])

    def _select_1(self, m):
        return self._one_value(m, T.LONGLONG, "1")

    def _select_version(self, m):
        return self._one_value(m, T.VAR_STRING, self.server.server_version)

    def _select_version_comment(self, m):
        return self._one_value(m, T.VAR_STRING, self.server.version_comment)

    def _select_database(self, m):
        return self._one_value(m, T.VAR_STRING, self.database)

    def _select_connection_id(self, m):
        col = Column(m.group("expr"), T.LONGLONG,
                     flags=ColumnFlag.NOT_NULL | ColumnFlag.UNSIGNED | ColumnFlag.BINARY)
        return ResultSet([col], [[self.thread_id]])

    def _select_current_user(self, m):
        return self._one_value(m, T.VAR_STRING, f"{self.user}@%")

    def _set_autocommit(self, m):
        self.autocommit = m.group("value").lower() in ("1", "on", "true")
        return Ok()

    def _set(self, m):
        return Ok()

    def _show_warnings(self, m):
        return ResultSet([Column("Level", T.VAR_STRING, length=28),
                          Column("Code", T.LONG, flags=ColumnFlag.NOT_NULL
                                 | ColumnFlag.UNSIGNED | ColumnFlag.BINARY, length=4),
                          Column("Message", T.VAR_STRING, length=2048)], [])


def _rx(text: str) -> "re.Pattern[str]":
    return re.compile(text, re.IGNORECASE | re.DOTALL)


_BUILTINS = [
    (_rx(r"SELECT\s+(?P<expr>1)"), _Session._select_1),
    (_rx(r"SELECT\s+(?P<expr>@@version)"), _Session._select_version),
    (_rx(r"SELECT\s+(?P<expr>@@version_comment)\s+LIMIT\s+1"), _Session._select_version_comment),
    (_rx(r"SELECT\s+(?P<expr>DATABASE\(\s*\))"), _Session._select_database),
    (_rx(r"SELECT\s+(?P<expr>CONNECTION_ID\(\s*\))"), _Session._select_connection_id),
    (_rx(r"SELECT\s+(?P<expr>CURRENT_USER\(\s*\))"), _Session._select_current_user),
    (_rx(r"SET\s+(?:@@(?:SESSION\.)?|SESSION\s+)?AUTOCOMMIT\s*=\s*"
         r"(?P<value>0|1|ON|OFF|TRUE|FALSE)"), _Session._set_autocommit),
    (_rx(r"SET\s.*"), _Session._set),
    (_rx(r"SHOW\s+WARNINGS"), _Session._show_warnings),
]


# --- the server -----------------------------------------------------------------------------

_RSA_KEY: tuple | None = None
_RSA_LOCK = threading.Lock()


def _process_rsa_key() -> tuple:
    """One RSA key pair (private key, public PEM) for every fake in this process."""
    global _RSA_KEY
    with _RSA_LOCK:
        if _RSA_KEY is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _RSA_KEY = (key, key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return _RSA_KEY


class FakeMySQL:
    """A fake MySQL 8 server on 127.0.0.1.

    ``port``: 0 (the default) picks a free one; ``.port`` is known as soon as the object
    exists (the socket is bound and listening in the constructor; ``start()`` begins accepting).
    ``users``: {name: plaintext password}; ``user_plugins``: {name: plugin} for accounts not
    using ``auth_plugin`` (the greeting's plugin, also used for unknown users, who are always
    denied).  ``tls``: (certfile, keyfile) to offer TLS.  ``sha2_cache_prefilled``: whether the
    caching_sha2_password cache starts with every account (else the first login of each needs
    full authentication).  ``deprecate_eof``: offer CLIENT_DEPRECATE_EOF.
    """

    version_comment = "MySQL Community Server - GPL (fake)"

    def __init__(self, port: int = 0, *, users: Optional[dict] = None,
                 user_plugins: Optional[dict] = None, server_version: str = "8.0.36-fake",
                 auth_plugin: str = CACHING_SHA2, tls: Optional[tuple] = None,
                 deprecate_eof: bool = False, charset: int = 255,
                 sha2_cache_prefilled: bool = True):
        if auth_plugin not in PLUGINS:
            raise ValueError(f"unsupported auth plugin {auth_plugin!r}")
        self.server_version = server_version
        self.auth_plugin = auth_plugin
        self.charset = charset
        self.capabilities = BASE_CAPABILITIES
        if deprecate_eof:
            self.capabilities |= CLIENT_DEPRECATE_EOF
        self.ssl_context: Optional[ssl.SSLContext] = None
        if tls is not None:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_context.load_cert_chain(*tls)
            self.capabilities |= CLIENT_SSL

        self.sha2_cache_prefilled = sha2_cache_prefilled
        self._lock = threading.RLock()
        self._accounts: dict = {}
        self._sha2_cache: dict = {}
        for name, password in (users or {}).items():
            self.add_user(name, password, (user_plugins or {}).get(name))
        self._answers: list = []  # [(key, compiled pattern, answer)], newest last
        self._auth_log: list = []
        self._queries: list = []
        self._logins: list = []
        self._errors: list = []
        self._rsa_key = None
        self._rsa_pem = b""

        self._sessions: set = set()
        self._next_thread_id = 0
        self._started = self._stopped = False
        self._accept_thread: Optional[threading.Thread] = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind(("127.0.0.1", port))
            self._listener.listen(128)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()

    # lifecycle

    def __enter__(self) -> "FakeMySQL":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "FakeMySQL":
        # The RSA key, made now rather than in the middle of a client's handshake: 2048-bit
        # key generation can take seconds on a loaded machine, longer than a client's read
        # timeout ("Couldn't read RSA public key from server").
        self._rsa()
        with self._lock:
            if self._started or self._stopped:
                raise RuntimeError("FakeMySQL.start() called twice or after stop()")
            self._started = True
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"fake-mysql-{self.port}-accept")
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection, join all threads.  Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._accept_thread is not None:
            self._accept_thread.join()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.abort()
        for session in sessions:
            session.thread.join(timeout=10)

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._accept_one()

    def _accept_one(self) -> None:
        try:
            sock, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            self._record_error(traceback.format_exc())
            return
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._next_thread_id += 1
            session = _Session(self, sock, peer, self._next_thread_id)
            self._sessions.add(session)
        session.thread = threading.Thread(target=session.run, daemon=True,
                                          name=f"fake-mysql-{self.port}-{session.thread_id}")
        session.thread.start()

    def _forget(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    # accounts and the caching_sha2_password cache

    def add_user(self, name: str, password: str, plugin: Optional[str] = None) -> None:
        """Add or replace an account; it is put in the sha2 cache if ``sha2_cache_prefilled``,
        else dropped from it (like ALTER USER)."""
        plugin = plugin or self.auth_plugin
        if plugin not in PLUGINS:
            raise ValueError(f"unsupported auth plugin {plugin!r}")
        with self._lock:
            self._accounts[name] = (password.encode(), plugin)
            if self.sha2_cache_prefilled:
                self._sha2_remember(name, password.encode())
            else:
                self._sha2_cache.pop(name, None)

    def _account(self, name: str) -> tuple:
        """(password bytes or None for an unknown user, plugin)."""
        with self._lock:
            return self._accounts.get(name, (None, self.auth_plugin))

    def flush_sha2_cache(self) -> None:
        """Empty the caching_sha2_password cache (like FLUSH PRIVILEGES)."""
        with self._lock:
            self._sha2_cache.clear()

    def _sha2_remember(self, name: str, password: bytes) -> None:
        with self._lock:
            self._sha2_cache[name] = sha256(sha256(password))

    def _sha2_cached(self, name: str) -> Optional[bytes]:
        with self._lock:
            return self._sha2_cache.get(name)

    @property
    def public_key_pem(self) -> bytes:
        """The PEM (SubjectPublicKeyInfo) of the server's RSA key, made on first use."""
        return self._rsa()[1]

    def _rsa(self) -> tuple:
        with self._lock:
            if self._rsa_key is None:
                self._rsa_key, self._rsa_pem = _process_rsa_key()
            return self._rsa_key, self._rsa_pem

    def _rsa_decrypt(self, cipher: bytes) -> Optional[bytes]:
        """RSA-OAEP (SHA-1, MGF1/SHA-1) decryption, None unless ``cipher`` is a valid one."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        key = self._rsa()[0]
        if len(cipher) != key.key_size // 8:
            return None
        try:
            return key.decrypt(cipher, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                                    algorithm=hashes.SHA1(), label=None))
        except ValueError:
            return None

    # scripted answers

    def add_query(self, pattern: Union[str, "re.Pattern[str]"], result: Answer) -> None:
        """Answer queries matching ``pattern`` with ``result``; replaces the answer of an equal
        pattern, and newer patterns are tried first.  A str pattern matches the whole query
        case-insensitively, a compiled regex must fullmatch it; either way the query is first
        stripped of surrounding whitespace and a trailing ';'.  ``result`` is Ok, Err,
        ResultSet, or a callable taking the re.Match and returning one of them."""
        rx = _compile(pattern)
        key = (rx.pattern, rx.flags)
        with self._lock:
            self._answers = [a for a in self._answers if a[0] != key]
            self._answers.append((key, rx, result))

    def remove_query(self, pattern: Union[str, "re.Pattern[str]"]) -> None:
        rx = _compile(pattern)
        with self._lock:
            self._answers = [a for a in self._answers if a[0] != (rx.pattern, rx.flags)]

    def _answer(self, session: _Session, text: str) -> Result:
        query = normalize_query(text)
        with self._lock:
            answers = list(reversed(self._answers))
        for _, rx, answer in answers:
            m = rx.fullmatch(query)
            if m:
                return answer(m) if callable(answer) else answer
        return session.builtin_answer(query)

    # records (each property returns a copy)

    @property
    def auth_log(self) -> list:
        """[AuthRecord(user, plugin, path)] in order of the login attempts."""
        with self._lock:
            return list(self._auth_log)

    @property
    def queries(self) -> list:
        """Every COM_QUERY text received, in order."""
        with self._lock:
            return list(self._queries)

    @property
    def logins(self) -> list:
        """[Login] for every HandshakeResponse parsed."""
        with self._lock:
            return list(self._logins)

    @property
    def errors(self) -> list:
        """Tracebacks of unexpected exceptions in connection threads (bugs in the fake)."""
        with self._lock:
            return list(self._errors)

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _record_auth(self, user: str, plugin: str, path: str) -> None:
        with self._lock:
            self._auth_log.append(AuthRecord(user, plugin, path))

    def _record_query(self, text: str) -> None:
        with self._lock:
            self._queries.append(text)

    def _record_login(self, login: Login) -> None:
        with self._lock:
            self._logins.append(login)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)
