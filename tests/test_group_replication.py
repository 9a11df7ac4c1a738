# tests/test_group_replication.py -- a `type: group_replication` cluster.  Debian ships no MySQL
# server, so the three members are tests/fake_mysql.py fakes that answer the monitor's query on
# performance_schema.replication_group_members with a scripted MEMBER_STATE / MEMBER_ROLE (and a
# scripted answer naming the member for the application's statements).  What is tested is
# sluice's part: the monitor logs in with its own account, takes the writer from MEMBER_ROLE
# PRIMARY, serves reads only from ONLINE members, and follows a change of primary.
import re

import pymysql
import pytest

from fake_mysql import FakeMySQL, Ok, ResultSet
from sluice_proc import free_port
from sluice_config import HOST, wait_until

APP_USER, APP_PASSWORD = "app", "app_pw"
MONITOR_USER, MONITOR_PASSWORD = "monitor", "monitor_pw"
GR_QUERY = re.compile(r"SELECT\s+MEMBER_STATE.*replication_group_members.*", re.S | re.I)
WHO = "SELECT @@hostname"
WRITE = re.compile(r"INSERT INTO t .*", re.S | re.I)


def member(f: FakeMySQL, state: str, role: str) -> None:
    f.add_query(GR_QUERY, ResultSet([("MEMBER_STATE", 253), ("MEMBER_ROLE", 253)],
                                    [[state, role]]))


@pytest.fixture
def members():
    fakes = []
    for i in range(3):
        f = FakeMySQL(users={APP_USER: APP_PASSWORD, MONITOR_USER: MONITOR_PASSWORD},
                      user_plugins={APP_USER: "mysql_native_password",
                                    MONITOR_USER: "mysql_native_password"},
                      auth_plugin="mysql_native_password").start()
        f.add_query(WHO, ResultSet([("@@hostname", 253)], [[f"m{i + 1}"]]))
        f.add_query(WRITE, Ok(affected=1))
        fakes.append(f)
    member(fakes[0], "ONLINE", "PRIMARY")
    member(fakes[1], "ONLINE", "SECONDARY")
    member(fakes[2], "ONLINE", "SECONDARY")
    yield fakes
    for f in fakes:
        f.stop()
    for f in fakes:
        assert f.errors == [], "\n".join(f.errors)


def config(port: int, fakes, pw_file, causal_reads: str | None = "off") -> str:
    """causal_reads off: these tests watch roles and the rotation; with the default
    (session), reads that follow a session's write stay on the primary (see below)."""
    import hashlib
    double = hashlib.sha1(hashlib.sha1(APP_PASSWORD.encode()).digest()).hexdigest().upper()
    # Priorities would make m3 the writer if roles were ignored.
    causal = f", causal_reads: {causal_reads}" if causal_reads else ""
    nodes = "\n".join(
        f'      - {{ name: m{i + 1}, address: "{HOST}:{f.port}", priority: {3 - i} }}'
        for i, f in enumerate(fakes))
    return f"""\
workers: 2
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: gr{causal} }}
clusters:
  - name: gr
    type: group_replication
    monitor: {{ user: {MONITOR_USER}, password_file: {pw_file}, interval: 150ms,
               timeout: 500ms, fall: 1, rise: 1 }}
    nodes:
{nodes}
users:
  - {{ name: {APP_USER}, password_hash: "*{double}" }}
logging: {{ level: debug }}
"""



def writes_on(fakes) -> list[int]:
    return [sum(1 for q in f.queries if WRITE.fullmatch(q.strip())) for f in fakes]


def test_writer_is_the_primary_member_and_follows_a_change(members, sluice, tmp_path):
    pw = tmp_path / "monitor.pw"
    pw.write_text(MONITOR_PASSWORD + "\n")
    port = free_port()
    s = sluice(config(port, members, pw))
    s.wait_log(r"cluster gr: writer is m1", timeout=20)
    # The monitor logged in with its own account and asked for the member's state.
    assert any(q for f in members for q in f.queries if GR_QUERY.fullmatch(q.strip()))
    assert all(any(l.user == MONITOR_USER for l in f.logins) for f in members)

    conn = pymysql.connect(host=HOST, port=port, user=APP_USER, password=APP_PASSWORD,
                           connect_timeout=5, read_timeout=30, autocommit=True)
    with conn.cursor() as c:
        before = writes_on(members)
        for i in range(10):
            c.execute(f"INSERT INTO t VALUES ({i})")
        assert [a - b for a, b in zip(writes_on(members), before)] == [10, 0, 0]
        seen = []
        for _ in range(20):
            c.execute(WHO)
            seen.append(c.fetchone()[0])
        # Reads go to the ONLINE secondaries, in turn; the primary serves none.
        assert sorted(set(seen)) == ["m2", "m3"] and seen.count("m2") == 10, seen

        # A new primary is elected; m3 goes RECOVERING.
        member(members[0], "ONLINE", "SECONDARY")
        member(members[1], "ONLINE", "PRIMARY")
        member(members[2], "RECOVERING", "SECONDARY")
        # m1 may be seen as a secondary before m2 as the primary: then there is a moment
        # with no writer, and the line does not say "was m1".
        s.wait_log(r"cluster gr: writer is m2", timeout=20)
        wait_until(lambda: "m3" in s.log() and re.search(r"node m3 .* is DOWN", s.log()),
                   "m3 out of service")
        before = writes_on(members)
        for i in range(10, 20):
            c.execute(f"INSERT INTO t VALUES ({i})")
        assert [a - b for a, b in zip(writes_on(members), before)] == [0, 10, 0]
        seen = []
        for _ in range(10):
            c.execute(WHO)
            seen.append(c.fetchone()[0])
        # m1 (now a secondary) serves the reads; m3 (recovering) none.
        assert set(seen) == {"m1"}, seen
    conn.close()


def test_no_primary_means_writes_wait_then_fail(members, sluice, tmp_path):
    pw = tmp_path / "monitor.pw"
    pw.write_text(MONITOR_PASSWORD + "\n")
    port = free_port()
    cfg = config(port, members, pw).replace("    nodes:", "    queue_timeout: 1s\n    nodes:", 1)
    s = sluice(cfg)
    s.wait_log(r"cluster gr: writer is m1", timeout=20)
    conn = pymysql.connect(host=HOST, port=port, user=APP_USER, password=APP_PASSWORD,
                           connect_timeout=5, read_timeout=30, autocommit=True)
    member(members[0], "ONLINE", "SECONDARY")
    s.wait_log(r"cluster gr: no node can take writes", timeout=20)
    with conn.cursor() as c:
        # Reads still work, from any ONLINE member.
        c.execute(WHO)
        assert c.fetchone()[0] in ("m1", "m2", "m3")
        with pytest.raises(pymysql.err.OperationalError) as e:
            c.execute("INSERT INTO t VALUES (1)")
        assert e.value.args[0] == 1105
        assert "no usable writer" in e.value.args[1]
        # A primary again: the same connection writes.
        member(members[2], "ONLINE", "PRIMARY")
        s.wait_log(r"cluster gr: writer is m3", timeout=20)
        c.execute("INSERT INTO t VALUES (2)")
    conn.close()


def test_reads_after_a_write_stay_on_the_primary_by_default(members, sluice, tmp_path):
    """causal_reads: session (the default) on Group Replication: the monitor does not know how
    far a member has applied the group's transactions, so after a session's write its reads
    go to the primary, which has it; a session that has not written reads from the
    secondaries."""
    pw = tmp_path / "monitor.pw"
    pw.write_text(MONITOR_PASSWORD + "\n")
    port = free_port()
    s = sluice(config(port, members, pw, causal_reads=None))
    s.wait_log(r"cluster gr: writer is m1", timeout=20)
    conn = pymysql.connect(host=HOST, port=port, user=APP_USER, password=APP_PASSWORD,
                           connect_timeout=5, read_timeout=30, autocommit=True)
    with conn.cursor() as c:
        seen = []
        for _ in range(4):
            c.execute(WHO)
            seen.append(c.fetchone()[0])
        assert sorted(set(seen)) == ["m2", "m3"], seen
        c.execute("INSERT INTO t VALUES (100)")
        seen = []
        for _ in range(6):
            c.execute(WHO)
            seen.append(c.fetchone()[0])
        assert set(seen) == {"m1"}, seen
    conn.close()
    assert "router: read_your_writes" in s.log()
