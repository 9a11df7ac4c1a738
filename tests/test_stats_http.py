# tests/test_stats_http.py -- the stats server on stats.bind against the real Galera cluster:
# /api/v1/status and /metrics follow the traffic (counters grow on the node that answered), a
# SIGKILLed node goes down in both, promtool accepts the metrics, /api/v1/events streams the
# statements with their node and the health changes and failover of a writer kill, the admin
# action works only with the right credentials, bad requests get a JSON 4xx, and no secret is
# ever in an answer.
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pymysql
import pytest

from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH, wait_until

ADMIN, ADMIN_PW = "admin", "s3cret-admin-pw"
MONITOR_PW = "monitor_pw"


def _config(galera, port, stats_port, tmp_path, admin=True) -> str:
    nodes = galera.nodes_yaml()
    (tmp_path / "monitor.pw").write_text(MONITOR_PW + "\n")
    (tmp_path / "admin.pw").write_text(ADMIN_PW + "\n")
    os.chmod(tmp_path / "admin.pw", 0o600)
    admin_keys = f", admin_user: {ADMIN}, admin_password_file: {tmp_path}/admin.pw" \
        if admin else ""
    return f"""\
workers: 2
state_file: {tmp_path}/states
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_file: {tmp_path}/monitor.pw, interval: 250ms,
               timeout: 500ms }}
    queue_timeout: 30s
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
stats: {{ bind: "{HOST}:{stats_port}", feed_rate: 1000{admin_keys} }}
"""


@pytest.fixture
def stats(galera, sluice, tmp_path):
    """sluice with a stats server (admin account on); returns (daemon, sql port, base url)."""
    port, stats_port = free_port(), free_port()
    s = sluice(_config(galera, port, stats_port, tmp_path))
    s.wait_log(r"writer is node1\b")
    return s, port, f"http://{HOST}:{stats_port}"


def get(url: str, auth: str | None = None, method: str = "GET", body: bytes | None = None):
    """(status, headers, body bytes) of one request; never raises on an HTTP error."""
    req = urllib.request.Request(url, data=body, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def status(base: str) -> dict:
    code, _, body = get(base + "/api/v1/status")
    assert code == 200, body
    return json.loads(body)


def node(doc: dict, name: str) -> dict:
    return next(n for n in doc["clusters"][0]["nodes"] if n["name"] == name)


def metric(base: str, name: str, **labels) -> float:
    code, _, body = get(base + "/metrics")
    assert code == 200
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^sluice_{name}\{{{re.escape(want)}\}} (\S+)$", body.decode(), re.M)
    assert m, f"no sluice_{name}{{{want}}} in /metrics"
    return float(m.group(1))



class Events(threading.Thread):
    """Reads /api/v1/events in the background; ``events`` collects (name, data) pairs."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
        self.events: list[tuple[str, dict]] = []
        self.opened = threading.Event()
        self.start()
        # Readiness: the stream's first line arrived, so sluice counts this listener.
        assert self.opened.wait(10), "the event stream did not open"

    def run(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if b": sluice" in buf:
                    self.opened.set()
                # Every complete "event:/data:" record so far (chunked framing between them
                # is ignored: a record is never split by it in what sluice sends).
                parts = re.findall(rb"event: (\w+)\r?\ndata: (\{[^\n]*\})", buf)
                self.events = [(e.decode(), json.loads(d)) for e, d in parts]
        except OSError:
            return

    def of(self, name: str) -> list[dict]:
        return [d for e, d in self.events if e == name]

    def close(self):
        self.sock.close()


def test_status_and_metrics_follow_the_traffic(stats):
    s, port, base = stats
    before = status(base)
    conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True)
    try:
        with conn.cursor() as c:
            for _ in range(10):
                c.execute("SELECT @@wsrep_node_name")
            c.execute("CREATE TABLE IF NOT EXISTS stats_t (a INT PRIMARY KEY)")
            c.execute("REPLACE INTO stats_t VALUES (1)")
            c.execute("DROP TABLE stats_t")
    finally:
        conn.close()
    after = status(base)
    reads = {n: node(after, n)["counters"]["reads"] - node(before, n)["counters"]["reads"]
             for n in ("node1", "node2", "node3")}
    # The driver's own statements at connect may add one.
    assert reads["node1"] == 0 and 5 <= reads["node2"] <= 6 and 5 <= reads["node3"] <= 6, reads
    assert node(after, "node1")["counters"]["writes"] > node(before, "node1")["counters"]["writes"]
    assert node(after, "node2")["latency"]["read"]["p99"] > 0
    assert after["clusters"][0]["writer"] == "node1"
    assert node(after, "node1")["role"] == "writer" and node(after, "node1")["state"] == "up"
    assert node(after, "node1")["check"]["verdict"] == "Synced"
    assert node(after, "node1")["galera"]["cluster_size"] == 3
    lst = after["listeners"][0]
    assert lst["connections_total"] >= 1 and lst["name"] == "app"
    assert metric(base, "node_client_statements_total", cluster="galera", node="node2",
                  kind="read") >= 5
    assert metric(base, "node_writer", cluster="galera", node="node1") == 1
    assert metric(base, "node_state", cluster="galera", node="node2", state="up") == 1
    assert metric(base, "statement_duration_seconds_count", cluster="galera", node="node3",
                  kind="read") >= 5


def test_promtool_accepts_the_metrics(stats):
    s, port, base = stats
    assert shutil.which("promtool"), "promtool (Debian's prometheus package) is not installed"
    code, headers, body = get(base + "/metrics")
    assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        r.stdout + r.stderr


def test_no_secret_in_any_answer(stats):
    s, port, base = stats
    for path in ("/api/v1/status", "/metrics", "/"):
        code, _, body = get(base + path)
        text = body.decode("utf-8", "replace")
        for secret in (USER_HASH, USER_HASH[1:], ADMIN_PW, MONITOR_PW):
            assert secret not in text, f"{secret!r} in {path}"
    doc = status(base)
    assert doc["config"]["users"][0]["password_hash"] == "<redacted>"


def test_admin_state_needs_the_credentials(stats):
    s, port, base = stats
    url = base + "/api/v1/clusters/galera/nodes/node3/state"
    body = json.dumps({"state": "drain"}).encode()
    code, headers, _ = get(url, method="POST", body=body)
    assert code == 401 and "Basic" in headers.get("WWW-Authenticate", "")
    assert get(url, f"{ADMIN}:wrong", "POST", body)[0] == 401
    assert get(url, f"nobody:{ADMIN_PW}", "POST", body)[0] == 401
    code, _, answer = get(url, f"{ADMIN}:{ADMIN_PW}", "POST", body)
    assert code == 200 and json.loads(answer)["state"] == "drain", answer
    wait_until(lambda: node(status(base), "node3")["state"] == "drain", "node3 drained")
    assert "drain" in node(status(base), "node3")["why"]
    assert metric(base, "node_state", cluster="galera", node="node3", state="drain") == 1
    code, _, answer = get(url, f"{ADMIN}:{ADMIN_PW}", "POST", b'{"state": "ready"}')
    assert code == 200, answer
    wait_until(lambda: node(status(base), "node3")["state"] == "up", "node3 ready again")
    # Wrong inputs: a clear JSON error each.
    for path, method, data, want in (
            ("/api/v1/clusters/galera/nodes/nodeX/state", "POST", body, 404),
            ("/api/v1/clusters/nope/nodes/node3/state", "POST", body, 404),
            ("/api/v1/clusters/galera/nodes/node3/state", "POST", b'{"state": "up"}', 400),
            ("/api/v1/clusters/galera/nodes/node3/state", "POST", b"not json", 400),
            ("/api/v1/clusters/galera/nodes/node3/state", "GET", None, 405),
            ("/api/v1/status", "POST", b"{}", 405),
            ("/api/v2/whatever", "GET", None, 404),
            ("/no/such/page", "GET", None, 404)):
        code, headers, answer = get(base + path, f"{ADMIN}:{ADMIN_PW}", method, data)
        assert code == want, (path, method, code, answer)
        assert headers["Content-Type"] == "application/json"
        assert json.loads(answer)["error"], answer


def test_admin_actions_off_without_an_account(galera, sluice, tmp_path):
    port, stats_port = free_port(), free_port()
    s = sluice(_config(galera, port, stats_port, tmp_path, admin=False))
    s.wait_log(r"writer is node1\b")
    base = f"http://{HOST}:{stats_port}"
    assert status(base)["admin"] is False
    code, _, answer = get(base + "/api/v1/clusters/galera/nodes/node3/state",
                          f"{ADMIN}:{ADMIN_PW}", "POST", b'{"state": "drain"}')
    assert code == 403 and "admin actions are off" in json.loads(answer)["error"]


def test_oversized_headers_are_refused(stats):
    s, port, base = stats
    host, sport = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(sport)), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                     b"\r\n\r\n")
        reply = sock.recv(200)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply
    assert status(base)["version"]


def test_events_show_statements_and_a_killed_node(stats, galera):
    s, port, base = stats
    ev = Events(base)
    try:
        conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                               autocommit=True)
        with conn.cursor() as c:
            for _ in range(6):
                c.execute("SELECT @@wsrep_node_name")
        wait_until(lambda: len(ev.of("statement")) >= 6, "6 statement events")
        st = ev.of("statement")
        assert {e["node"] for e in st if e["kind"] == "read"} == {"node2", "node3"}, st
        assert all(e["user"] == USER and e["listener"] == "app" for e in st)
        # A reader dies: down in the stream, the status and the metrics.
        galera.kill(2)
        try:
            wait_until(lambda: any(e["node"] == "node3" and e["state"] == "down"
                                   for e in ev.of("health")), "node3 down in the stream")
            assert node(status(base), "node3")["state"] == "down"
            assert node(status(base), "node3")["why"]
            assert metric(base, "node_state", cluster="galera", node="node3",
                          state="down") == 1
        finally:
            galera.restart(2)
        wait_until(lambda: node(status(base), "node3")["state"] == "up", "node3 back", 60)
        conn.close()
    finally:
        ev.close()


def test_events_show_a_writer_failover(stats, galera):
    s, port, base = stats
    ev = Events(base)
    try:
        galera.kill(0)
        try:
            wait_until(lambda: ev.of("failover"), "a failover event", 60)
            fo = ev.of("failover")[0]
            assert fo["old_writer"] == "node1" and fo["new_writer"] == "node2", fo
            assert fo["phases"]["detection_ms"] >= 0
            doc = status(base)
            assert doc["clusters"][0]["writer"] == "node2"
            assert doc["clusters"][0]["failovers"][0]["id"] == fo["id"]
            assert metric(base, "failovers_total", cluster="galera") >= 1
            # A write on the new writer (after Galera's own reconfiguration) closes the event.
            conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD,
                                   database=DB, autocommit=True, read_timeout=60)
            with conn.cursor() as c:
                c.execute("CREATE TABLE IF NOT EXISTS stats_fo (a INT PRIMARY KEY)")
                c.execute("REPLACE INTO stats_fo VALUES (1)")
                c.execute("DROP TABLE stats_fo")
            conn.close()
            wait_until(lambda: status(base)["clusters"][0]["failovers"][0]["first_write_ms"],
                       "the failover's first write")
            # Galera's reconfiguration (the survivors' new conf id) lands on the timeline.
            wait_until(lambda: status(base)["clusters"][0]["failovers"][0]["conf_changes"],
                       "Galera's configuration change on the failover's timeline")
            done = status(base)["clusters"][0]["failovers"][0]
            assert done["phases"]["first_write_ms"] is not None
            assert all(c["node"] in ("node2", "node3") for c in done["conf_changes"]), done
        finally:
            galera.restart(0)
    finally:
        ev.close()


def test_connections_are_bounded(stats):
    """256 keep-alive clients are served; the 257th waits (accept pauses) while the MySQL
    listener never notices; once some of the others go, it is served."""
    import http.client
    s, port, base = stats
    host, sport = base.removeprefix("http://").split(":")
    conns = []
    try:
        for _ in range(256):
            c = http.client.HTTPConnection(host, int(sport), timeout=10)
            c.request("GET", "/api/v1/status")
            r = c.getresponse()
            assert r.status == 200
            r.read()
            conns.append(c)
        extra = http.client.HTTPConnection(host, int(sport), timeout=1)
        with pytest.raises(OSError):  # a timeout: it waits in the backlog
            extra.request("GET", "/metrics")
            extra.getresponse()
        extra.close()
        conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB)
        with conn.cursor() as c:
            c.execute("SELECT 1")
        conn.close()
        for c in conns[:10]:
            c.close()
        wait_until(lambda: get(base + "/metrics")[0] == 200, "a new client served again")
    finally:
        for c in conns:
            c.close()


def test_trickling_client_is_cut_off(stats):
    """A client that sends its request one byte a second (slowloris) keeps evhttp's own
    timeout alive forever; the stats server ends it 10 s after it connected."""
    s, port, base = stats
    host, sport = base.removeprefix("http://").split(":")
    request = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    with socket.create_connection((host, int(sport)), timeout=30) as sock:
        sock.settimeout(1)
        t0 = time.monotonic()
        closed = None
        for byte in request:  # 50+ bytes at one a second: far longer than the deadline
            try:
                sock.send(bytes([byte]))
                if sock.recv(100) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = time.monotonic() - t0
                break
    assert closed is not None, "the trickling client was never cut off"
    assert status(base)["version"]
