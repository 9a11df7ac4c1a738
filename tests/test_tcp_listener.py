# tests/test_tcp_listener.py -- layer-4 (mode: tcp) listeners in front of the real three-node
# Galera cluster, driven by the real `mariadb` client and PyMySQL: round-robin over readers,
# a stable primary, failover when a node is SIGKILLed and its return, a 20 MB LONGBLOB, and
# bounded memory when a client stops reading.
import hashlib
import os
import re
import subprocess
import socket
import threading
import time

import pymysql
import pytest

from sluice_proc import free_port
from sluice_config import PASSWORD, USER

INTERVAL_MS, TIMEOUT_MS, FALL, RISE = 200, 400, 2, 2


def tcp_config(galera, rw_port, ro_port, level="debug", buffer_size="256k"):
    nodes = galera.nodes_yaml()
    return f"""\
workers: 2
buffer_size: {buffer_size}
listeners:
  - {{ name: rw, bind: "127.0.0.1:{rw_port}", mode: tcp, cluster: galera, route: primary }}
  - {{ name: ro, bind: "127.0.0.1:{ro_port}", mode: tcp, cluster: galera, route: readers }}
clusters:
  - name: galera
    type: galera
    monitor: {{ interval: {INTERVAL_MS}ms, timeout: {TIMEOUT_MS}ms, fall: {FALL}, rise: {RISE} }}
    connect_timeout: 1s
    nodes:
{nodes}
logging: {{ level: {level} }}
"""


@pytest.fixture
def proxy(galera, sluice):
    """sluice with a primary (rw) and a readers (ro) tcp listener in front of the cluster."""
    rw, ro = free_port(), free_port()
    s = sluice(tcp_config(galera, rw, ro))
    s.rw, s.ro = rw, ro
    return s


def cli_node_name(port):
    """One new `mariadb` client connection: which node answered."""
    r = subprocess.run(["mariadb", "-h127.0.0.1", f"-P{port}", f"-u{USER}", f"-p{PASSWORD}",
                        "--connect-timeout=10", "-N", "-B", "-e", "SELECT @@wsrep_node_name"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_readers_round_robin_over_all_three(proxy):
    seen = [cli_node_name(proxy.ro) for _ in range(30)]
    # Strict rotation: every window of three consecutive connections covers all three nodes.
    for k in range(0, 30, 3):
        assert sorted(seen[k:k + 3]) == ["node1", "node2", "node3"], seen
    assert {n: seen.count(n) for n in set(seen)} == {"node1": 10, "node2": 10, "node3": 10}


def test_primary_always_the_same_node(proxy):
    seen = {cli_node_name(proxy.rw) for _ in range(10)}
    assert seen == {"node1"}  # priority 1


def test_weights_are_honoured(galera, sluice):
    rw, ro = free_port(), free_port()
    cfg = tcp_config(galera, rw, ro).replace("priority: 1 }", "priority: 1, weight: 3 }")
    s = sluice(cfg)
    seen = [cli_node_name(ro) for _ in range(25)]
    counts = {n: seen.count(n) for n in set(seen)}
    assert counts == {"node1": 15, "node2": 5, "node3": 5}, seen
    # Smooth rotation: the heavy node never answers more than twice in a row.
    assert "node1,node1,node1" not in ",".join(seen), seen


def test_sigkill_failover_and_return(galera, proxy):
    """Kill the writer (node1): new connections keep succeeding on the others, none reaches
    the dead node after sluice has marked it down, the primary moves to node2, and once
    node1 is back and Synced it gets connections again."""
    victim = 0
    mark = proxy.log_size()
    galera.kill(victim)
    t_kill = time.monotonic()

    # Connections right after the kill: none may fail, whether or not the monitor has
    # noticed yet (a refused connect moves on to the next node).
    early = [cli_node_name(proxy.ro) for _ in range(6)]
    assert "node1" not in early

    down = proxy.wait_log(r"node node1 \(cluster galera, [^)]*\) is DOWN", timeout=30, after=mark)
    t_down = time.monotonic()
    print(f"\nsluice marked node1 down {t_down - t_kill:.3f} s after SIGKILL "
          f"(check window {FALL} x {INTERVAL_MS} ms + {TIMEOUT_MS} ms)")
    after_down = proxy.log_size()

    seen = [cli_node_name(proxy.ro) for _ in range(30)]
    assert {n: seen.count(n) for n in set(seen)} == {"node2": 15, "node3": 15}, seen
    assert {cli_node_name(proxy.rw) for _ in range(5)} == {"node2"}
    # Not even attempted: no connect to node1 once it was marked down.
    assert "connecting to node node1" not in proxy.log()[after_down:]

    galera.restart(victim)  # waits until node1 is Synced and the cluster size is 3 again
    proxy.wait_log(r"node node1 \(cluster galera, [^)]*\) is UP", timeout=30, after=down.end())
    seen = [cli_node_name(proxy.ro) for _ in range(30)]
    assert {n: seen.count(n) for n in set(seen)} == {"node1": 10, "node2": 10, "node3": 10}, seen
    # The writer is sticky (failback: false, the default): node1 is back, node2 keeps the role.
    assert cli_node_name(proxy.rw) == "node2"


def connect(port, **kw):
    return pymysql.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD,
                           database="sluice_test", connect_timeout=10, **kw)


def test_longblob_20mb_round_trip(proxy):
    blob = os.urandom(20 * 1024 * 1024)
    digest = hashlib.sha256(blob).hexdigest()
    with connect(proxy.rw, autocommit=True, max_allowed_packet=64 << 20) as c:
        with c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS blobs (id INT PRIMARY KEY, b LONGBLOB)")
            cur.execute("REPLACE INTO blobs VALUES (1, %s)", (blob,))
    # Read it back through the readers port from every node (one connection per node).
    for _ in range(3):
        with connect(proxy.ro, max_allowed_packet=64 << 20) as c:
            with c.cursor() as cur:
                cur.execute("SET SESSION wsrep_sync_wait = 1")  # see the write on any node
                cur.execute("SELECT b, LENGTH(b), SHA2(b, 256) FROM blobs WHERE id = 1")
                b, length, server_digest = cur.fetchone()
                assert length == len(blob)
                assert server_digest == digest
                assert hashlib.sha256(b).hexdigest() == digest


def test_client_that_stops_reading_does_not_grow_memory(galera, proxy):
    """A client asks for 300 MB and reads nothing: sluice must stop reading from the node once
    buffer_size is queued, so its RSS stays near where it was and the query stays blocked on
    the server instead of being absorbed by the proxy."""
    rss_before = proxy.rss_bytes()
    c = connect(proxy.ro)
    node = c.cursor()
    node.execute("SELECT @@wsrep_node_name")
    node_name = node.fetchone()[0]
    marker = f"stall-{os.getpid()}-{time.monotonic_ns()}"
    # unbuffered: read the result header, leave every row unread.
    c.query(f"SELECT /* {marker} */ REPEAT('x', 1048576) FROM seq_1_to_300", unbuffered=True)

    idx = int(node_name[-1]) - 1
    admin = galera.connect(idx, root=True)
    try:
        # Wait until the flow has stopped: the node has sent what TCP and sluice will take,
        # and sluice's RSS no longer moves between two looks.
        deadline = time.monotonic() + 20
        last, stable = -1, 0
        while time.monotonic() < deadline and stable < 4:
            time.sleep(0.25)
            rss = proxy.rss_bytes()
            stable = stable + 1 if abs(rss - last) < 64 * 1024 else 0
            last = rss
        growth = proxy.rss_bytes() - rss_before
        with admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()", (f"%{marker}%",))
            running = [row[0] for row in cur.fetchall() if row[0] is not None]
        print(f"\nRSS growth with a stalled 300 MB result: {growth / 1024:.0f} KiB")
        assert running, "the query finished: sluice absorbed the whole result"
        # buffer_size is 256 KiB per direction; allow generous allocator slack.
        assert growth < 16 * 1024 * 1024, f"sluice grew by {growth} bytes"
        with admin.cursor() as cur:
            for qid in running:
                cur.execute(f"KILL {int(qid)}")
    finally:
        admin.close()
        # Drop the stalled connection without draining 300 MB through it.
        if c._result is not None:
            c._result.unbuffered_active = False
        c._force_close()


def test_no_usable_node_gives_a_mysql_error(sluice):
    """All nodes down: the client gets a proper MySQL error naming the cluster, not a hang or
    a bare disconnect."""
    dead1, dead2, ro = free_port(), free_port(), free_port()
    s = sluice(f"""\
listeners:
  - {{ name: ro, bind: "127.0.0.1:{ro}", mode: tcp, cluster: gone, route: readers }}
clusters:
  - name: gone
    monitor: {{ interval: 100ms, timeout: 200ms }}
    nodes:
      - {{ name: a, address: "127.0.0.1:{dead1}" }}
      - {{ name: b, address: "127.0.0.1:{dead2}" }}
""")
    r = subprocess.run(["mariadb", "-h127.0.0.1", f"-P{ro}", "-uany", "-e", "SELECT 1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    # Connector/C wraps an error that arrives before the handshake in its own 2002 and
    # quotes sluice's code and message.
    assert re.search(r"1105 - sluice: no healthy node in cluster 'gone' for listener 'ro'",
                     r.stderr), r.stderr
    # PyMySQL reports the server's error as is.
    with pytest.raises(pymysql.err.MySQLError) as e:
        pymysql.connect(host="127.0.0.1", port=ro, user="any", connect_timeout=10)
    assert e.value.args == (1105, "sluice: no healthy node in cluster 'gone' for listener 'ro' "
                            "(route readers)")


def test_node_that_refuses_before_its_greeting_is_down_with_its_words(sluice):
    """A server that answers a new connection with an ERR packet instead of a greeting (as
    MariaDB does when the host is blocked or max_connections is reached) is down, and the log
    says the server's code and message, as the codec reads them."""
    msg = b"Host '127.0.0.1' is blocked because of many connection errors"
    err = b"\xff" + (1129).to_bytes(2, "little") + msg
    packet = len(err).to_bytes(3, "little") + b"\x00" + err
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.sendall(packet)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        ro = free_port()
        s = sluice(f"""\
listeners:
  - {{ name: ro, bind: "127.0.0.1:{ro}", mode: tcp, cluster: blocked, route: readers }}
clusters:
  - name: blocked
    monitor: {{ interval: 200ms, timeout: 500ms, fall: 1 }}
    nodes:
      - {{ name: a, address: "127.0.0.1:{srv.getsockname()[1]}" }}
""")
        s.wait_log(r"node a .*server refused: 1129 Host '127\.0\.0\.1' is blocked because of "
                   r"many connection errors", timeout=20)
    finally:
        stop.set()
        t.join(5)
        srv.close()
