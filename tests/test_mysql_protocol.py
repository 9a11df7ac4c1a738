# tests/test_mysql_protocol.py -- MySQL protocol conformance of a target (a Galera node, or sluice's
# mysql listener; see mysql_targets.py) with real clients: the `mariadb` CLI (TLS, auth errors,
# batches, source, LOAD DATA LOCAL, 20 MB blobs, compression), PyMySQL and mysqlclient (types,
# utf8mb4, streaming, change_user, affected rows, KILL, result sets) and C programs for prepared
# statements, cursors and the rarer commands.  Every value read back is compared.
import datetime
import decimal
import hashlib
import json
import os
import re
import struct
import subprocess
import threading
import time
import uuid
import zlib

import MySQLdb
import MySQLdb.constants.CLIENT
import MySQLdb.cursors
import pymysql
import pymysql.cursors
import pytest
from pymysql import _auth as pymysql_auth
from pymysql.charset import charset_by_name
from pymysql.constants import CLIENT as PYMYSQL_CLIENT
from pymysql.constants import COMMAND as PYMYSQL_COMMAND

from mysql_targets import *  # noqa: F401,F403  (fixtures: target, cleanup, c_client)
from mysql_targets import (CAUSAL_READS, DB, OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, admin,
                           cli, cli_query, mysqldb_connect, pymysql_connect, target_fixture,
                           wait_on_all_nodes)

# Every test here runs on both of the workers' engines: io_uring (io_engine: auto, on kernels
# that have it) and epoll, the path kept for kernels without it.
target = target_fixture("sluice,sluice-epoll")

MiB = 1024 * 1024
CACHING_SHA2_PLUGIN = "/usr/lib/x86_64-linux-gnu/libmariadb3/plugin/caching_sha2_password.so"
NO_TLS_ON_DIRECT = "this target offers no TLS (no CA known for it)"


def crc_sum(rows) -> int:
    """Python twin of SQL SUM(CRC32(CONCAT_WS('|', col1, col2, ...))) over ``rows``."""
    return sum(zlib.crc32("|".join(str(v) for v in row).encode("utf-8")) for row in rows)


# ---- drivers ---------------------------------------------------------------------------------

class Driver:
    """What differs between PyMySQL and mysqlclient, behind one face."""

    def __init__(self, name, connect, module, sscursor, client_consts):
        self.name = name
        self._connect = connect
        self.module = module
        self.SSCursor = sscursor
        self.CLIENT = client_consts

    def connect(self, t, **kw):
        return self._connect(t, **kw)

    def ping(self, conn):
        if self.module is pymysql:
            conn.ping(reconnect=False)
        else:
            conn.ping()

    def __repr__(self):
        return self.name


DRIVERS = {
    "pymysql": Driver("pymysql", pymysql_connect, pymysql, pymysql.cursors.SSCursor,
                      PYMYSQL_CLIENT),
    "mysqldb": Driver("mysqldb", mysqldb_connect, MySQLdb, MySQLdb.cursors.SSCursor,
                      MySQLdb.constants.CLIENT),
}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request):
    return DRIVERS[request.param]


def one(conn, sql, args=None):
    """Run a query, return its only row."""
    with conn.cursor() as c:
        c.execute(sql, args)
        rows = c.fetchall()
    assert len(rows) == 1, f"{sql}: {rows!r}"
    return tuple(rows[0])


def error_code(exc) -> int:
    return exc.args[0] if exc.args else -1


# ---- mariadb CLI -----------------------------------------------------------------------------

# Note: this `mariadb` (10.11.19) has ssl=TRUE by default, so against a listener that offers TLS
# (sluice) every CLI test below runs over TLS unless it says --skip-ssl, without verifying the
# certificate.  The drivers (PyMySQL, mysqlclient) stay plaintext unless asked.

def test_cli_plain_login(target):
    rows = cli_query(target, "SELECT 1, CURRENT_USER(), DATABASE(), @@character_set_client",
                     "--skip-ssl")
    assert len(rows) == 1
    one_, user, db, cs = rows[0]
    assert one_ == "1"
    assert user.startswith(f"{USER}@"), user
    assert db == DB
    assert cs == "utf8mb4"
    r = cli(target, "--skip-ssl", "-e", "\\s")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^SSL:\s+Not in use", r.stdout, re.M), r.stdout


def test_cli_second_user_from_password_file(target):
    # sluice knows sluice_other only by its plaintext password (password_file), not a hash.
    rows = cli_query(target, "SELECT CURRENT_USER(), COUNT(*) FROM seq_1_to_3",
                     user=OTHER_USER, password=OTHER_PASSWORD)
    assert rows[0][0].startswith(f"{OTHER_USER}@") and rows[0][1] == "3", rows


def test_cli_tls_cipher_in_use(target):
    if not target.tls_ca:
        pytest.skip(NO_TLS_ON_DIRECT)
    # --ssl-verify-server-cert makes TLS mandatory (a plaintext server is error 2026) and checks
    # the certificate against the CA and 127.0.0.1.  The status command shows the client side.
    r = cli(target, "--ssl", f"--ssl-ca={target.tls_ca}", "--ssl-verify-server-cert",
            "-e", "\\s")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^SSL:\s+Cipher in use is (\S+)", r.stdout, re.M)
    assert m, f"no cipher in the status output:\n{r.stdout}"
    # The greeting offers TLS, so this client (ssl=TRUE by default) takes it unasked.
    r = cli(target, "-e", "\\s")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^SSL:\s+Cipher in use is", r.stdout, re.M), r.stdout
    # And queries work over it, with a result larger than one TLS record.
    rows = cli_query(target, "SELECT LENGTH(REPEAT('t', 1000000)), MD5(REPEAT('t', 1000000))",
                     "--ssl", f"--ssl-ca={target.tls_ca}", "--ssl-verify-server-cert")
    assert rows == [["1000000", hashlib.md5(b"t" * 1000000).hexdigest()]]


def test_cli_tls_wrong_ca_is_refused(target, tmp_path):
    if not target.tls_ca:
        pytest.skip(NO_TLS_ON_DIRECT)
    other_ca = tmp_path / "other.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=not-sluice", "-keyout", str(tmp_path / "other.key"),
                        "-out", str(other_ca)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = cli(target, "--ssl", f"--ssl-ca={other_ca}", "--ssl-verify-server-cert",
            "-e", "SELECT 1")
    assert r.returncode != 0 and "ERROR 2026" in r.stderr, (r.stdout, r.stderr)


# "--ssl" is TLS whenever the server offers it (plaintext on direct); both must refuse alike.
TLS_MODES = pytest.mark.parametrize("tls", ["--skip-ssl", "--ssl"], ids=["plain", "tls"])


@TLS_MODES
def test_cli_bad_password(target, tls):
    r = cli(target, tls, "-e", "SELECT 1", password="not-the-password")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "ERROR 1045 (28000)" in r.stderr, r.stderr
    assert f"Access denied for user '{USER}'" in r.stderr, r.stderr
    assert r.stdout == ""


@TLS_MODES
def test_cli_unknown_user(target, tls):
    # MariaDB answers an unknown user with a made-up auth plugin picked from a hash of the
    # name (against user enumeration); for some names ('sluice_nobody') that ends in 1698
    # instead of 1045.  This name gets 1045 from the server, which is what sluice must say.
    r = cli(target, tls, "-e", "SELECT 1", user="sluice_unknown", password="whatever")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "ERROR 1045 (28000)" in r.stderr, r.stderr
    assert "Access denied for user 'sluice_unknown'" in r.stderr, r.stderr


def test_cli_multi_statement_batch(target, cleanup):
    t = cleanup.table("t_batch")
    sql = (f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(20)); "
           f"INSERT INTO {t} VALUES (1, 'one'), (2, 'two'), (3, 'three'); "
           f"SELECT id, v FROM {t} ORDER BY id; "
           f"UPDATE {t} SET v = UPPER(v) WHERE id >= 2; "
           f"SELECT COUNT(*), GROUP_CONCAT(v ORDER BY id) FROM {t}; "
           f"SELECT 'done'")
    r = cli(target, "-B", "-N", "-e", sql)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1\tone", "2\ttwo", "3\tthree", "3\tone,TWO,THREE", "done"]


def _source_script(t: str, proc: str) -> tuple[str, int, int]:
    """A SQL script with comments, 200 INSERTs, a DELIMITER change and a procedure.
    Returns (text, expected row count, expected SUM(n))."""
    lines = [
        "-- a script for `source`: comments of every kind, a delimiter change, a procedure",
        "# hash comment",
        "/* a block comment;",
        "   spanning lines; with semicolons */",
        f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(64), n INT) CHARSET utf8mb4;",
    ]
    total = 0
    for i in range(1, 201):
        if i % 50 == 0:  # a statement over several lines
            lines.append(f"INSERT INTO {t}\n  (id, v, n)\n  VALUES ({i}, 'multi\nline', {i});")
        elif i % 7 == 0:
            lines.append(f"INSERT INTO {t} VALUES ({i}, 'semi; colon -- not a comment', {i}); "
                         f"-- trailing comment {i}")
        else:
            lines.append(f"INSERT INTO {t} VALUES ({i}, 'row {i} \u00fc\U0001F600', {i});")
        total += i
    lines += [
        f"UPDATE {t} SET n = n * 1 WHERE id <= 10;",
        "SET @added = 25;",
        "DELIMITER //",
        f"CREATE PROCEDURE {proc}(IN k INT)",
        "BEGIN",
        "  DECLARE i INT DEFAULT 0;  -- semicolons inside the body",
        "  WHILE i < k DO",
        f"    INSERT INTO {t} VALUES (1000 + i, CONCAT('proc-', i), i);",
        "    SET i = i + 1;",
        "  END WHILE;",
        f"  SELECT COUNT(*) FROM {t} WHERE id >= 1000;",
        "END //",
        "DELIMITER ;",
        f"CALL {proc}(@added);",
        f"SELECT COUNT(*), SUM(n) FROM {t};",
    ]
    return "\n".join(lines) + "\n", 200 + 25, total + sum(range(25))


def test_cli_source_file(target, cleanup, tmp_path):
    t, proc = cleanup.table("t_source"), cleanup.procedure("p_source")
    text, count, total = _source_script(t, proc)
    assert text.count(";") > 200
    path = tmp_path / "script.sql"
    path.write_text(text, encoding="utf-8")
    r = cli(target, "-B", "-N", "-e", f"source {path}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["25", f"{count}\t{total}"]
    rows = cli_query(target, f"SELECT v FROM {t} WHERE id IN (7, 8, 50) ORDER BY id")
    assert rows == [["semi; colon -- not a comment"], ["row 8 \u00fc\U0001F600"],
                    ["multi\\nline"]]  # batch mode escapes the newline


def test_cli_load_data_local_infile(target, cleanup, tmp_path):
    t = cleanup.table("t_load")
    rows = []
    for i in range(1, 10001):
        name = f'name {i}, "quoted" \u00fc\U0001F600' if i % 3 else f"plain{i}"
        cents = (i * 7919) % 1000000
        rows.append((i, name, f"{cents // 100}.{cents % 100:02d}"))
    csv = ["id,name,amount"]
    for i, name, amount in rows:
        csv.append(f'{i},"{name.replace(chr(34), chr(34) * 2)}",{amount}')
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(csv) + "\n", encoding="utf-8")
    sql = (f"CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(10,2)) "
           f"CHARSET utf8mb4; "
           f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {t} CHARACTER SET utf8mb4 "
           f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
           f"IGNORE 1 LINES (id, name, amount); "
           f"SELECT ROW_COUNT(); "
           f"SELECT COUNT(*), SUM(amount), SUM(CRC32(CONCAT_WS('|', id, name, amount))) "
           f"FROM {t}")
    r = cli(target, "-B", "-N", "--local-infile=1", "-e", sql)
    assert r.returncode == 0, r.stderr
    want_sum = sum(decimal.Decimal(a) for _, _, a in rows)
    assert r.stdout.splitlines() == ["10000", f"10000\t{want_sum}\t{crc_sum(rows)}"]


def test_cli_longblob_20mb(target, cleanup, tmp_path):
    t = cleanup.table("t_blob")
    data = os.urandom(20 * MiB)
    cli_query(target, f"CREATE TABLE {t} (id INT PRIMARY KEY, b LONGBLOB)")
    # In through the CLI: one 40 MB statement with a hex literal, fed on stdin.
    r = cli(target, "--max-allowed-packet=64M",
            input=f"INSERT INTO {t} VALUES (1, 0x{data.hex()});\n")
    assert r.returncode == 0, r.stderr
    rows = cli_query(target, f"SELECT LENGTH(b), SHA2(b, 256) FROM {t} WHERE id = 1",
                     "--max-allowed-packet=64M")
    assert rows == [[str(len(data)), hashlib.sha256(data).hexdigest()]]
    # Out through the CLI: --raw prints the bytes unescaped.
    r = cli(target, "-B", "-N", "--raw", "--max-allowed-packet=64M",
            "-e", f"SELECT b FROM {t} WHERE id = 1", binary=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data + b"\n", f"{len(r.stdout)} bytes back"
    # In through PyMySQL (escaped binary string), out through both.
    data2 = os.urandom(20 * MiB)
    conn = pymysql_connect(target, max_allowed_packet=64 * MiB)
    try:
        with conn.cursor() as c:
            c.execute(f"INSERT INTO {t} VALUES (2, %s)", (data2,))
            assert c.rowcount == 1
            c.execute(f"SELECT b FROM {t} WHERE id = 2")
            assert c.fetchone()[0] == data2
    finally:
        conn.close()
    rows = cli_query(target, f"SELECT LENGTH(b), SHA2(b, 256) FROM {t} WHERE id = 2")
    assert rows == [[str(len(data2)), hashlib.sha256(data2).hexdigest()]]


def test_cli_use_other_database(target, cleanup):
    db2 = cleanup.database("sluice_test2")
    setup = (f"CREATE DATABASE {db2}; USE {db2}; "
             f"CREATE TABLE t (v VARCHAR(20)); INSERT INTO t VALUES ('in {db2[-4:]}'); "
             f"SELECT DATABASE(); SELECT v FROM t")
    assert cli_query(target, setup) == [[db2], [f"in {db2[-4:]}"]]
    # The CLI turns `USE` into COM_INIT_DB.  Repeated reads: every backend that may answer one
    # (sluice spreads reads over the readers) must be in the new database.
    reads = "; ".join(["SELECT DATABASE(), (SELECT COUNT(*) FROM t)"] * 6)
    rows = cli_query(target, f"USE {db2}; {reads}")
    assert rows == [[db2, "1"]] * 6
    assert cli_query(target, "SELECT DATABASE()") == [[DB]]


def test_cli_missing_table(target):
    r = cli(target, "-e", "SELECT * FROM sluice_no_such_table")
    assert r.returncode == 1
    assert "ERROR 1146 (42S02)" in r.stderr, r.stderr
    assert f"Table '{DB}.sluice_no_such_table' doesn't exist" in r.stderr, r.stderr
    # The session survives the error: with --force a script goes on with the next statement
    # (on stdin; -e stops at the first error even then).
    r = cli(target, "-B", "-N", "--force",
            input="SELECT * FROM sluice_no_such_table;\nSELECT 'after', CONNECTION_ID();\n")
    assert "ERROR 1146 (42S02) at line 1" in r.stderr, r.stderr
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["after"]


def test_cli_compressed_protocol(target, cleanup):
    big = 5 * MiB
    # A 5 MB row out: compressed packets carry a result larger than one compressed frame.
    r = cli(target, "-C", "-B", "-N", "--max-allowed-packet=64M",
            "-e", f"SELECT REPEAT('x', {big})")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "x" * big + "\n", f"{len(r.stdout)} chars back"
    # A 5 MB incompressible value in, and back out as hex.
    t = cleanup.table("t_compress")
    data = os.urandom(big)
    r = cli(target, "-C", "--max-allowed-packet=64M",
            input=f"CREATE TABLE {t} (id INT PRIMARY KEY, b LONGBLOB);\n"
                  f"INSERT INTO {t} VALUES (1, 0x{data.hex()});\n")
    assert r.returncode == 0, r.stderr
    rows = cli_query(target, f"SELECT LENGTH(b), HEX(b) FROM {t}", "-C",
                     "--max-allowed-packet=64M")
    assert rows == [[str(big), data.hex().upper()]]
    if target.kind == "direct":
        # Through sluice only the client hop is compressed, so only checkable here.
        assert cli_query(target, "SHOW SESSION STATUS LIKE 'Compression'", "-C") == \
            [["Compression", "ON"]]
        assert cli_query(target, "SHOW SESSION STATUS LIKE 'Compression'") == \
            [["Compression", "OFF"]]


def test_cli_caching_sha2_default_auth(target):
    if not os.path.exists(CACHING_SHA2_PLUGIN):
        pytest.skip(f"the mariadb client has no caching_sha2_password plugin "
                    f"({CACHING_SHA2_PLUGIN})")
    # The client answers the greeting with a caching_sha2_password scramble; the server must
    # send an auth switch to mysql_native_password and accept the second answer.
    rows = cli_query(target, "SELECT CURRENT_USER()", "--default-auth=caching_sha2_password")
    assert rows[0][0].startswith(f"{USER}@"), rows
    r = cli(target, "--default-auth=caching_sha2_password", "-e", "SELECT 1",
            password="wrong-password")
    assert r.returncode == 1 and "ERROR 1045 (28000)" in r.stderr, r.stderr


def test_admin_ping_status_version(target):
    r = admin(target, "ping")  # COM_PING
    assert r.returncode == 0 and r.stdout.strip() == "mysqld is alive", (r.stdout, r.stderr)
    r = admin(target, "status")  # COM_STATISTICS
    assert r.returncode == 0, r.stderr
    assert re.match(r"Uptime: \d+\s+Threads: \d+\s+Questions: \d+\s+Slow queries: \d+",
                    r.stdout), r.stdout
    r = admin(target, "version")
    assert r.returncode == 0 and re.search(r"Server version\s+10\.11\.", r.stdout), r.stdout


# ---- PyMySQL and mysqlclient -------------------------------------------------------------------

def test_driver_tls(target, driver, tmp_path):
    if not target.tls_ca:
        pytest.skip(NO_TLS_ON_DIRECT)
    if driver.module is pymysql:
        conn = pymysql_connect(target, ssl_ca=target.tls_ca, ssl_verify_cert=True,
                               ssl_verify_identity=True)
        cipher = conn._sock.cipher() if hasattr(conn._sock, "cipher") else None
        assert cipher, "PyMySQL did not switch to TLS"
    else:
        # Connector/C silently falls back to plaintext unless told to verify the server, and
        # mysqlclient 1.4 can only say so through an option file.  The "=1" matters: a bare
        # `ssl-verify-server-cert` line is ignored by Connector/C 3.3.
        cnf = tmp_path / "tls.cnf"
        cnf.write_text(f"[client]\nssl-ca={target.tls_ca}\nssl-verify-server-cert=1\n")
        conn = mysqldb_connect(target, read_default_file=str(cnf))
    try:
        n = 3 * MiB
        assert one(conn, "SELECT LENGTH(REPEAT('z', %s)), CURRENT_USER()", (n,)) == \
            (n, f"{USER}@127.0.0.1")
    finally:
        conn.close()


def test_transactions_commit_and_rollback(target, driver, cleanup):
    t = cleanup.table("t_tx")
    conn = driver.connect(target)
    try:
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
            conn.begin()
            c.executemany(f"INSERT INTO {t} VALUES (%s, %s)", [(1, "one"), (2, "two")])
            conn.commit()
            conn.begin()
            c.execute(f"INSERT INTO {t} VALUES (3, 'three'), (4, 'four')")
            c.execute(f"UPDATE {t} SET v = 'changed' WHERE id = 1")
            c.execute(f"DELETE FROM {t} WHERE id = 2")
            # Our own uncommitted changes are visible to us...
            c.execute(f"SELECT id, v FROM {t} ORDER BY id")
            assert [tuple(r) for r in c.fetchall()] == [(1, "changed"), (3, "three"),
                                                        (4, "four")]
            assert one(conn, "SELECT @@in_transaction") == (1,)
            conn.rollback()
            assert one(conn, "SELECT @@in_transaction") == (0,)
            # SQL-level transaction statements, and autocommit off.
            c.execute("START TRANSACTION")
            c.execute(f"INSERT INTO {t} VALUES (5, 'five')")
            c.execute("ROLLBACK")
            conn.autocommit(False)
            c.execute(f"INSERT INTO {t} VALUES (6, 'six')")
            conn.rollback()
            c.execute(f"INSERT INTO {t} VALUES (7, 'seven')")
            conn.commit()
            conn.autocommit(True)
            c.execute(f"SELECT id, v FROM {t} ORDER BY id")
            got = [tuple(r) for r in c.fetchall()]
    finally:
        conn.close()
    want = [(1, "one"), (2, "two"), (7, "seven")]
    assert got == want
    # And the committed state is what the cluster holds.
    direct = target.galera.connect(0, database=DB)
    try:
        with direct.cursor() as c:
            c.execute(f"SELECT id, v FROM {t} ORDER BY id")
            assert [tuple(r) for r in c.fetchall()] == want
    finally:
        direct.close()


UTF8_SAMPLES = [
    "plain ascii",
    "Gr\u00fc\u00dfe, \u00c6r\u00f8sk\u00f8bing",            # 2-byte
    "\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8",                # 3-byte
    "\U0001F600\U0001F389\U0001F680",                            # emoji, 4-byte
    "\U0001D11E \U0002070E \U0001D306 \U0001F004",              # other planes, 4-byte
    "\U0001F469\u200d\U0001F469\u200d\U0001F467 \U0001F3F3\ufe0f\u200d\U0001F308",  # ZWJ
    "mixed \u00fc\U0001F600\u65e5\U0001D11E end",
    "",
]


def test_utf8mb4_round_trip(target, driver, cleanup):
    t = cleanup.table("t_utf8")
    conn = driver.connect(target)
    try:
        assert one(conn, "SELECT @@character_set_client, @@character_set_connection, "
                         "@@character_set_results") == ("utf8mb4",) * 3
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (id INT PRIMARY KEY, "
                      f"s VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, "
                      f"x TEXT CHARACTER SET utf8mb4)")
            c.executemany(f"INSERT INTO {t} VALUES (%s, %s, %s)",
                          [(i, s, s * 50) for i, s in enumerate(UTF8_SAMPLES)])
            c.execute(f"SELECT id, s, x, HEX(s), CHAR_LENGTH(s), LENGTH(s) FROM {t} ORDER BY id")
            rows = c.fetchall()
            assert len(rows) == len(UTF8_SAMPLES)
            for (i, s, x, hx, chars, octets), want in zip(rows, UTF8_SAMPLES):
                raw = want.encode("utf-8")
                assert (s, x) == (want, want * 50), i
                assert hx == raw.hex().upper(), i          # the server stored the exact bytes
                assert (chars, octets) == (len(want), len(raw)), i
            # 4-byte characters in a literal and a parameter; non-ASCII metadata (identifiers
            # are limited to the BMP in MariaDB, so the alias has no emoji).
            c.execute("SELECT _utf8mb4 X'F09F9880', %s AS `\u65e5\u00fc`", ("\U0001D11E",))
            assert tuple(c.fetchone()) == ("\U0001F600", "\U0001D11E")
            assert c.description[1][0] == "\u65e5\u00fc"
            c.execute(f"SELECT id FROM {t} WHERE s = %s", (UTF8_SAMPLES[5],))
            assert [tuple(r) for r in c.fetchall()] == [(5,)]
    finally:
        conn.close()


TYPES_DDL = """(
  id INT PRIMARY KEY,
  ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT, bu BIGINT UNSIGNED,
  de DECIMAL(65,30), fl FLOAT, db DOUBLE,
  da DATE, dt DATETIME(6), ts TIMESTAMP NULL, tm TIME(6), yr YEAR,
  ch CHAR(10), vc VARCHAR(255), tx TEXT, bl BLOB, bn BINARY(16),
  en ENUM('a','b','c'), st SET('x','y','z'), bt BIT(64), js JSON
) CHARSET utf8mb4"""
TYPE_COLUMNS = ["ti", "si", "mi", "i", "bi", "bu", "de", "fl", "db", "da", "dt", "ts", "tm",
                "yr", "ch", "vc", "tx", "bl", "bn", "en", "st", "bt", "js"]
D = decimal.Decimal
JSON_DOC = {"a": [1, 2.5, "\u00fc\U0001F600", None], "b": {"c": True, "d": "x\"y"}}
TYPE_ROWS = {
    1: dict(ti=-128, si=-32768, mi=-8388608, i=-2147483648, bi=-9223372036854775808,
            bu=18446744073709551615,
            de=D("12345678901234567890123456789012345.123456789012345678901234567890"),
            fl=1.5, db=1.7976931348623157e308, da=datetime.date(9999, 12, 31),
            dt=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
            ts=datetime.datetime(2001, 2, 3, 4, 5, 6),
            tm=-datetime.timedelta(hours=838, minutes=59, seconds=58, microseconds=999999),
            yr=2155, ch="abc", vc="hello, world \u00fc\U0001F600", tx="\u00fc" * 30000,
            bl=bytes(range(256)) * 100, bn=b"\x00\x01binary\x00\xff" + b"\x00" * 6,
            en="b", st="x,z", bt=0xFFFFFFFFFFFFFFFF, js=JSON_DOC),
    2: dict(ti=127, si=32767, mi=8388607, i=2147483647, bi=9223372036854775807, bu=0,
            de=D("-0.000000000000000000000000000001"), fl=-0.0, db=2.718281828459045,
            da=datetime.date(1000, 1, 1), dt=datetime.datetime(1000, 1, 1, 0, 0, 0, 1),
            ts=datetime.datetime(1970, 1, 1, 5, 30, 1),  # 00:00:01 UTC in +05:30
            tm=-datetime.timedelta(seconds=1, microseconds=500000), yr=1901, ch="",
            vc="", tx="", bl=b"", bn=b"\xff" * 16, en="c", st="", bt=0x8000000000000001,
            js=[]),
}
# How the values are sent: both drivers mangle negative timedeltas (PyMySQL sends
# '-839:00:01.000001' for -838:59:58.999999), so TIME goes as text, JSON as its text.
def _time_text(td):
    sign, td = ("-", -td) if td < datetime.timedelta(0) else ("", td)
    secs = td.days * 86400 + td.seconds
    return f"{sign}{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}.{td.microseconds:06d}"


TYPE_PARAMS = {"tm": _time_text, "js": json.dumps}
# UNIX_TIMESTAMP(ts) the server must report, whatever the session time zone.
TS_EPOCH = {1: 981153306, 2: 1}


def _normalize(col, value):
    if col == "bt":
        return int.from_bytes(value, "big") if value is not None else None
    if col == "js":
        return json.loads(value) if value is not None else None
    if col == "st" and isinstance(value, set):
        return ",".join(sorted(value))
    return value


def test_column_types(target, driver, cleanup):
    t = cleanup.table("t_types")
    conn = driver.connect(target)
    try:
        with conn.cursor() as c:
            # A session time zone that differs from the server's: a backend that missed this
            # SET would return shifted TIMESTAMPs and a different UNIX_TIMESTAMP.
            c.execute("SET time_zone = '+05:30'")
            c.execute(f"CREATE TABLE {t} {TYPES_DDL}")
            cols = ", ".join(["id"] + TYPE_COLUMNS)
            marks = ", ".join(["%s"] * (len(TYPE_COLUMNS) + 1))
            for id_, row in TYPE_ROWS.items():
                values = [TYPE_PARAMS.get(k, lambda v: v)(row[k]) for k in TYPE_COLUMNS]
                c.execute(f"INSERT INTO {t} ({cols}) VALUES ({marks})", [id_] + values)
            c.execute(f"INSERT INTO {t} (id) VALUES (3)")  # every other column NULL
            c.execute(f"SELECT {cols} FROM {t} ORDER BY id")
            names = [d[0] for d in c.description]
            rows = c.fetchall()
            assert names == ["id"] + TYPE_COLUMNS
            assert [r[0] for r in rows] == [1, 2, 3]
            for r in rows[:2]:
                want = TYPE_ROWS[r[0]]
                got = {k: _normalize(k, v) for k, v in zip(TYPE_COLUMNS, r[1:])}
                for k in TYPE_COLUMNS:
                    assert got[k] == want[k] and type(got[k]) is type(want[k]), \
                        (r[0], k, got[k], want[k])
            assert tuple(rows[2][1:]) == (None,) * len(TYPE_COLUMNS)
            # The same values as the server sees them, in text.
            c.execute(f"SELECT id, UNIX_TIMESTAMP(ts), CAST(bu AS CHAR), HEX(bt), "
                      f"CAST(de AS CHAR), tm FROM {t} WHERE id < 3 ORDER BY id")
            text = [tuple(r) for r in c.fetchall()]
    finally:
        conn.close()
    assert [(r[0], r[1]) for r in text] == [(1, TS_EPOCH[1]), (2, TS_EPOCH[2])]
    assert text[0][2:5] == ("18446744073709551615", "FFFFFFFFFFFFFFFF",
                            "12345678901234567890123456789012345.123456789012345678901234567890")
    assert text[1][2:5] == ("0", "8000000000000001", "-0.000000000000000000000000000001")


def test_executemany_1000_rows(target, driver, cleanup):
    t = cleanup.table("t_many")
    rows = [(i, f"name-{i}-\u00fc" if i % 10 else None, i * 3) for i in range(1, 1001)]
    conn = driver.connect(target)
    try:
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(40), n INT) "
                      f"CHARSET utf8mb4")
            c.executemany(f"INSERT INTO {t} (id, name, n) VALUES (%s, %s, %s)", rows)
            assert c.rowcount == 1000
            # executemany of a statement that is not a multi-row INSERT: one round trip each.
            c.executemany(f"UPDATE {t} SET n = n + %s WHERE id = %s",
                          [(1, i) for i in range(1, 101)])
            assert c.rowcount == 100
            got = one(conn, f"SELECT COUNT(*), SUM(n), SUM(name IS NULL), "
                            f"SUM(CRC32(CONCAT_WS('|', id, name, n))) FROM {t}")
    finally:
        conn.close()
    final = [(i, name, n + (1 if i <= 100 else 0)) for i, name, n in rows]
    # CONCAT_WS skips NULLs, so the Python twin does too.
    want_crc = crc_sum([tuple(v for v in r if v is not None) for r in final])
    assert tuple(int(v) for v in got) == (1000, sum(r[2] for r in final), 100, want_crc)


def test_streamed_result_100k_rows(target, driver):
    n = 100_000
    want_sum = n * (n + 1) // 2
    want_xor = 0
    for i in range(1, n + 1):
        want_xor ^= int(hashlib.md5(str(i).encode()).hexdigest()[:16], 16)
    conn = driver.connect(target)
    try:
        cur = conn.cursor(driver.SSCursor)  # unbuffered: rows are read as they are fetched
        cur.execute(f"SELECT seq, MD5(seq) FROM seq_1_to_{n}")
        count = total = xor = 0
        while True:
            batch = cur.fetchmany(997)
            if not batch:
                break
            for seq, md5 in batch:
                count += 1
                total += seq
                xor ^= int(md5[:16], 16)
        cur.close()
        assert (count, total, xor) == (n, want_sum, want_xor)
        # Abandon a streamed result early: the driver drains it, the session goes on.
        cur = conn.cursor(driver.SSCursor)
        cur.execute(f"SELECT seq FROM seq_1_to_{n}")
        assert [r[0] for r in cur.fetchmany(10)] == list(range(1, 11))
        cur.close()
        assert one(conn, "SELECT 'still in step'") == ("still in step",)
    finally:
        conn.close()


def test_ping_and_select_db(target, driver, cleanup):
    db2 = cleanup.database("sluice_test2")
    conn = driver.connect(target)
    try:
        driver.ping(conn)  # COM_PING
        with conn.cursor() as c:
            c.execute(f"CREATE DATABASE {db2}")
            c.execute(f"CREATE TABLE {db2}.t (v VARCHAR(20))")
            c.execute(f"INSERT INTO {db2}.t VALUES ('over there')")
        conn.select_db(db2)  # COM_INIT_DB
        for _ in range(4):   # whichever backend answers
            assert one(conn, "SELECT DATABASE(), v FROM t") == (db2, "over there")
        with pytest.raises(driver.module.Error) as e:
            conn.select_db("sluice_no_such_db")
        assert error_code(e.value) == 1049
        assert one(conn, "SELECT DATABASE()") == (db2,)  # a failed COM_INIT_DB changes nothing
        conn.select_db(DB)
        assert one(conn, "SELECT DATABASE()") == (DB,)
        driver.ping(conn)
    finally:
        conn.close()


def test_change_user_mysqlclient(target):
    conn = mysqldb_connect(target)
    try:
        c = conn.cursor()
        c.execute("SET @before = 'set'")
        assert one(conn, "SELECT CURRENT_USER(), @before") == (f"{USER}@127.0.0.1", "set")
        conn.change_user(OTHER_USER, OTHER_PASSWORD, DB)  # COM_CHANGE_USER
        # A new session: the other account, its privileges, no user variables.
        assert one(conn, "SELECT CURRENT_USER(), @before IS NULL, DATABASE()") == \
            (f"{OTHER_USER}@127.0.0.1", 1, DB)
        with pytest.raises(MySQLdb.Error) as e:
            c.execute("CREATE DATABASE sluice_other_may_not")
        assert error_code(e.value) == 1044
        conn.change_user(USER, PASSWORD, DB)
        assert one(conn, "SELECT CURRENT_USER()") == (f"{USER}@127.0.0.1",)
        # A wrong password is refused, and the session carries on as before.
        with pytest.raises(MySQLdb.Error) as e:
            conn.change_user(OTHER_USER, "wrong-password", DB)
        assert error_code(e.value) == 1045
        assert one(conn, "SELECT CURRENT_USER()") == (f"{USER}@127.0.0.1",)
    finally:
        conn.close()


def pymysql_change_user(conn, user: str, password: str, db: str) -> None:
    """COM_CHANGE_USER by hand (PyMySQL has no API for it): mysql_native_password scramble
    against the greeting's salt, db, charset, plugin name; follows an auth switch."""
    caps = conn.server_capabilities & conn.client_flag
    auth = pymysql_auth.scramble_native_password(password.encode(), conn.salt)
    payload = user.encode() + b"\0" + bytes([len(auth)]) + auth + db.encode() + b"\0"
    payload += struct.pack("<H", charset_by_name(conn.charset).id)
    if caps & PYMYSQL_CLIENT.PLUGIN_AUTH:
        payload += b"mysql_native_password\0"
    if caps & PYMYSQL_CLIENT.CONNECT_ATTRS:
        payload += b"\0"  # no attributes
    conn.password = password.encode()
    conn._execute_command(PYMYSQL_COMMAND.COM_CHANGE_USER, payload)
    pkt = conn._read_packet()  # raises on an error packet
    if pkt.is_auth_switch_request():
        pkt.read_uint8()
        pkt = conn._process_auth(pkt.read_string(), pkt)
    assert pkt.is_ok_packet()
    conn.user, conn.db = user.encode(), db.encode()


def test_change_user_pymysql_raw(target):
    conn = pymysql_connect(target)
    try:
        assert one(conn, "SELECT CURRENT_USER()") == (f"{USER}@127.0.0.1",)
        pymysql_change_user(conn, OTHER_USER, OTHER_PASSWORD, DB)
        assert one(conn, "SELECT CURRENT_USER(), DATABASE()") == (f"{OTHER_USER}@127.0.0.1", DB)
        with pytest.raises(pymysql.err.MySQLError) as e:
            pymysql_change_user(conn, USER, "wrong-password", DB)
        assert error_code(e.value) == 1045
        assert one(conn, "SELECT CURRENT_USER()") == (f"{OTHER_USER}@127.0.0.1",)
    finally:
        conn.close()


@pytest.mark.parametrize("found_rows", [False, True], ids=["affected", "found_rows"])
def test_affected_rows_and_insert_id(target, driver, found_rows, cleanup):
    t = cleanup.table("t_affected")
    kw = {"client_flag": driver.CLIENT.FOUND_ROWS} if found_rows else {}
    conn = driver.connect(target, **kw)
    try:
        with conn.cursor() as c:
            def row_count():  # the server's own idea of the last statement's row count
                c.execute("SELECT ROW_COUNT()")
                return c.fetchone()[0]

            c.execute(f"CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, grp INT, v INT)")
            c.execute(f"INSERT INTO {t} (grp, v) VALUES (1, 0)")
            first = c.lastrowid
            assert c.rowcount == 1 and first == conn.insert_id() > 0
            assert one(conn, "SELECT LAST_INSERT_ID()") == (first,)
            # A multi-row insert reports the id of its first row.
            c.execute(f"INSERT INTO {t} (grp, v) VALUES (1, 1), (1, 0), (2, 0), (2, 0)")
            assert c.rowcount == 4
            batch = c.lastrowid
            assert batch == conn.insert_id() > first
            assert one(conn, "SELECT LAST_INSERT_ID()") == (batch,)
            c.execute(f"INSERT INTO {t} (id, grp, v) VALUES (1000, 3, 0)")
            assert c.lastrowid == 1000
            # Three rows match, two change: FOUND_ROWS makes the count 3.
            c.execute(f"UPDATE {t} SET v = 1 WHERE grp = 1")
            want = 3 if found_rows else 2
            assert c.rowcount == want
            assert row_count() == want
            c.execute(f"UPDATE {t} SET v = 1 WHERE grp = 1")
            assert c.rowcount == (3 if found_rows else 0)
            c.execute(f"UPDATE {t} SET v = 5 WHERE grp = 99")
            assert c.rowcount == 0
            c.execute(f"INSERT INTO {t} (id, grp, v) VALUES (1000, 3, 7) "
                      f"ON DUPLICATE KEY UPDATE v = VALUES(v)")
            assert c.rowcount == 2
            c.execute(f"INSERT INTO {t} (id, grp, v) VALUES (1000, 3, 7) "
                      f"ON DUPLICATE KEY UPDATE v = VALUES(v)")
            assert c.rowcount == (1 if found_rows else 0)
            c.execute(f"DELETE FROM {t} WHERE grp = 2")
            assert c.rowcount == 2
            assert row_count() == 2
            c.execute(f"UPDATE {t} SET v = 9 WHERE grp = 1")
            if driver.module is MySQLdb:
                info = conn.info()
            else:
                info = c._result.message.decode()
            assert re.search(r"Rows matched: 3\s+Changed: 3\s+Warnings: 0", info), info
    finally:
        conn.close()


def test_stored_procedure_two_result_sets(target, driver, cleanup):
    t, proc = cleanup.table("t_proc"), cleanup.procedure("p_two")
    conn = driver.connect(target)
    try:
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (id INT PRIMARY KEY)")
            c.execute(f"CREATE PROCEDURE {proc}(IN k INT) BEGIN "
                      f"SELECT k AS a, 'first' AS b; "
                      f"INSERT INTO {t} SELECT seq FROM seq_1_to_5; "
                      f"SELECT id, id * k FROM {t} ORDER BY id; "
                      f"END")
            c.execute(f"CALL {proc}(7)")  # SERVER_MORE_RESULTS_EXISTS between the sets
            sets = [[tuple(r) for r in c.fetchall()]]
            while c.nextset():
                sets.append([tuple(r) for r in c.fetchall()] if c.description else None)
            assert sets == [[(7, "first")], [(i, 7 * i) for i in range(1, 6)], None]
            assert one(conn, "SELECT COUNT(*) FROM " + t) == (5,)
    finally:
        conn.close()
    # A multi-statement COM_QUERY (CLIENT_MULTI_STATEMENTS at connect) gives one set each.
    conn = driver.connect(target, client_flag=driver.CLIENT.MULTI_STATEMENTS)
    try:
        with conn.cursor() as c:
            c.execute(f"SELECT 1; UPDATE {t} SET id = id + 10 WHERE id > 3; "
                      f"SELECT COUNT(*), SUM(id) FROM {t}")
            sets = [[tuple(r) for r in c.fetchall()]]
            while c.nextset():
                sets.append([tuple(r) for r in c.fetchall()] if c.description else c.rowcount)
            assert sets[0] == [(1,)] and sets[1] == 2
            assert [tuple(int(v) for v in r) for r in sets[2]] == [(5, 35)]
            assert len(sets) == 3
        assert one(conn, "SELECT 'in step'") == ("in step",)
    finally:
        conn.close()


def test_mysqlclient_compression(target, cleanup):
    t = cleanup.table("t_mcomp")
    data = os.urandom(5 * MiB)
    conn = mysqldb_connect(target, compress=True)
    try:
        assert one(conn, "SELECT REPEAT('x', %s)", (5 * MiB,)) == ("x" * 5 * MiB,)
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (id INT PRIMARY KEY, b LONGBLOB)")
            c.execute(f"INSERT INTO {t} VALUES (1, %s)", (data,))
        assert one(conn, f"SELECT b, SHA2(b, 256) FROM {t}") == \
            (data, hashlib.sha256(data).hexdigest())
        if target.kind == "direct":
            assert one(conn, "SHOW SESSION STATUS LIKE 'Compression'") == ("Compression", "ON")
    finally:
        conn.close()


class _CachingSha2FirstConnection(pymysql.connections.Connection):
    """PyMySQL that answers the greeting as a caching_sha2_password client would (PyMySQL 1.0
    has no option for the first plugin; it just echoes the server's)."""

    def _get_server_information(self):
        super()._get_server_information()
        self._auth_plugin_name = "caching_sha2_password"


def test_pymysql_caching_sha2_first_answer(target):
    kw = dict(host=target.host, port=target.port, user=USER, database=DB, connect_timeout=10)
    conn = _CachingSha2FirstConnection(password=PASSWORD, **kw)
    try:
        assert one(conn, "SELECT CURRENT_USER()") == (f"{USER}@127.0.0.1",)
    finally:
        conn.close()
    with pytest.raises(pymysql.err.MySQLError) as e:
        _CachingSha2FirstConnection(password="wrong-password", **kw)
    assert error_code(e.value) == 1045


# ---- KILL ------------------------------------------------------------------------------------

def _wait_running(galera, marker: str, timeout: float = 20.0) -> None:
    """Readiness: some node's processlist shows the statement carrying ``marker`` executing
    SLEEP (checked on the nodes directly, whichever one sluice sent it to)."""
    deadline = time.monotonic() + timeout
    conns = [galera.connect(i, autocommit=True) for i in range(3)]
    try:
        while True:
            for conn in conns:
                with conn.cursor() as c:
                    c.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                              "WHERE ID <> CONNECTION_ID() AND STATE = 'User sleep' "
                              "AND INFO LIKE %s", (f"%{marker}%",))
                    if c.fetchone()[0]:
                        return
            assert time.monotonic() < deadline, f"statement {marker} never started"
            time.sleep(0.05)
    finally:
        for conn in conns:
            conn.close()


class _Victim:
    """A connection running SELECT SLEEP(30) in a thread; records how it ended."""

    def __init__(self, target):
        self.conn = pymysql_connect(target, causal=False)
        self.id = one(self.conn, "SELECT CONNECTION_ID()")[0]
        self.marker = f"victim-{uuid.uuid4().hex[:12]}"
        self.result = self.error = self.elapsed = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.monotonic()
        try:
            self.result = one(self.conn, f"SELECT SLEEP(30) /* {self.marker} */")
        except pymysql.MySQLError as e:
            self.error = e
        self.elapsed = time.monotonic() - t0

    def start(self, galera):
        self.thread.start()
        _wait_running(galera, self.marker)


def test_kill_query_same_user(target):
    victim = _Victim(target)
    killer = pymysql_connect(target)
    try:
        victim.start(target.galera)
        with killer.cursor() as c:
            c.execute(f"KILL QUERY {victim.id}")
        victim.thread.join(25)
        assert not victim.thread.is_alive(), "SELECT SLEEP(30) still running after KILL QUERY"
        assert victim.elapsed < 20
        # SLEEP either returns 1 (interrupted) or the statement fails with 1317.
        assert victim.result == (1,) or error_code(victim.error) == 1317, \
            (victim.result, victim.error)
        # Only the statement was killed, not the connection.
        assert one(victim.conn, "SELECT 'alive', CONNECTION_ID()") == ("alive", victim.id)
    finally:
        killer.close()
        victim.conn.close()


def test_kill_connection(target):
    victim = pymysql_connect(target)
    killer = pymysql_connect(target)
    try:
        vid = one(victim, "SELECT CONNECTION_ID()")[0]
        with killer.cursor() as c:
            c.execute(f"KILL {vid}")
        with pytest.raises(pymysql.err.MySQLError) as e:
            one(victim, "SELECT 1")
        assert error_code(e.value) in (2013, 2006), e.value
        # The id is gone for good (the server may take a moment to end the killed thread).
        deadline = time.monotonic() + 10
        while True:
            try:
                with killer.cursor() as c:
                    c.execute(f"KILL {vid}")
                err = None
            except pymysql.err.MySQLError as e:
                err = e
                if error_code(e) == 1094:
                    break
            assert time.monotonic() < deadline, f"KILL {vid} again: {err!r}, want 1094"
            time.sleep(0.05)
        assert f"Unknown thread id: {vid}" in str(err)
    finally:
        killer.close()
        victim.close()


def test_kill_query_of_another_user_is_refused(target):
    victim = _Victim(target)
    other = pymysql_connect(target, user=OTHER_USER, password=OTHER_PASSWORD)
    try:
        victim.start(target.galera)
        with pytest.raises(pymysql.err.MySQLError) as e, other.cursor() as c:
            c.execute(f"KILL QUERY {victim.id}")
        assert error_code(e.value) == 1095, e.value
        assert "You are not owner of thread" in str(e.value)
        # The same through the CLI, with the SQLSTATE.
        r = cli(target, "-e", f"KILL QUERY {victim.id}", user=OTHER_USER,
                password=OTHER_PASSWORD)
        assert r.returncode == 1 and "ERROR 1095 (HY000)" in r.stderr, r.stderr
        assert "You are not owner of thread" in r.stderr
        assert victim.thread.is_alive()  # still sleeping: nothing was killed
        with pytest.raises(pymysql.err.MySQLError) as e, other.cursor() as c:
            c.execute("KILL QUERY 4000000000")
        assert error_code(e.value) == 1094
    finally:
        # Stop the sleeper as its owner so the test does not wait 30 s.
        owner = pymysql_connect(target)
        try:
            with owner.cursor() as c:
                c.execute(f"KILL QUERY {victim.id}")
        finally:
            owner.close()
        if victim.thread.ident is not None:
            victim.thread.join(25)
        victim.conn.close()
        other.close()


# ---- C API: server-side prepared statements and the rarer commands -----------------------------

def _run_c_client(exe, *args, timeout=120):
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{os.path.basename(exe)} exit {r.returncode}:\n{r.stdout}{r.stderr}"
    return r.stdout.strip()


def test_prepared_statements_and_cursor(target, c_client, cleanup):
    t = cleanup.table("t_ps")
    cleanup.sql(f"DROP TABLE IF EXISTS {DB}.{t}_c")
    out = _run_c_client(c_client("ps_client"), target.host, target.port, USER, PASSWORD, DB, t,
                        CAUSAL_READS)
    nulls = sum((i % 3 == 0) + (i % 4 == 0) + (i % 5 == 0) + (i % 7 == 0) + (i % 2 == 0)
                for i in range(1, 101))
    assert out == (f"ps_client OK executes=100 nulls={nulls} long_data={MiB} select_rows=100 "
                   f"cursor_rows=1000 cursor_rows_after_reset=25")
    # Check what landed in the cluster, on a node directly.
    long_data = bytes((k * 31 + (k >> 8)) & 0xFF for k in range(MiB))
    want_n = sum(i * 1000000007 * (-1 if i % 2 else 1) for i in range(1, 101) if i % 3)
    conn = target.galera.connect(0, database=DB)
    try:
        with conn.cursor() as c:
            c.execute(f"SELECT COUNT(*), SUM(n), SUM(d IS NULL), SUM(b IS NULL) FROM {t} "
                      f"WHERE id <= 100")
            assert tuple(int(v) for v in c.fetchone()) == (100, want_n, 25, 50)
            c.execute(f"SELECT n, d, s, t, LENGTH(b), SHA2(b, 256) FROM {t} WHERE id = 1000")
            assert c.fetchone() == (42, None, "long", None, MiB,
                                    hashlib.sha256(long_data).hexdigest())
            c.execute(f"SELECT s, t FROM {t} WHERE id = 11")
            assert c.fetchone() == ("row-11-\u00fc\U0001F600",
                                    datetime.datetime(2024, 12, 12, 11, 34, 56, 11007))
            c.execute(f"SELECT COUNT(*) FROM {t}_c")
            assert c.fetchone() == (1000,)
    finally:
        conn.close()


def test_capi_rare_commands(target, c_client, cleanup):
    t = cleanup.table("t_capi")
    conn = target.galera.connect(0, database=DB, autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute(f"CREATE TABLE {t} (a INT, b VARCHAR(10), c_text TEXT)")
    finally:
        conn.close()
    # COM_FIELD_LIST is not a SELECT: make sure any node may answer it.
    wait_on_all_nodes(target.galera, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                      f"TABLE_SCHEMA = '{DB}' AND TABLE_NAME = '{t}'", ((3,),))
    out = _run_c_client(c_client("capi_client"), target.host, target.port, USER, PASSWORD, DB,
                        t)
    assert out == ("capi_client OK ping statistics field_list set_option reset_connection "
                   "init_db quit")
