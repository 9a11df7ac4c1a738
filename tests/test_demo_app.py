# tests/test_demo_app.py -- sluice-demo, the product catalogue web app (demo/), driven over HTTP
# against the REAL three-node Galera cluster through a real sluice (`mode: mysql` listener plus the
# stats server).  What it must do:
#
#   - a create is a POST answered 303 (POST-redirect-GET); the page it leads to lists the new
#     product (read-your-writes through one sluice session) and its badge says the write ran on
#     the writer, which the nodes themselves confirm (@@wsrep_node_name over a direct connection,
#     and the row read back from node1);
#   - reloading the list spreads its reads over at least two readers and never the writer
#     (primary_reads is off), as the badges say and sluice's own per-node counters confirm;
#   - edit and delete work, each with its badge; invalid input gets a 4xx with a message in words
#     and changes nothing in the database; text is HTML-escaped everywhere; search and paging;
#   - the footer shows the node states from the stats API; without it, roles are "unknown";
#     its dashboard link is --dashboard-url when given (a browser's address for sluice), else
#     --stats-url;
#   - a busy port and bad options stop the start with a message naming the flag;
#   - failover: with the writer SIGKILLed, every page either works or says in words that it could
#     not be served (HTTP 503), the app never dies, and the next requests work on the new writer.
#     The killed node is restarted and the cluster left whole for the tests after this file.
#
# The app is $SLUICE_DEMO_BIN, else demo/sluice-demo beside $SLUICE_BIN's build, else
# build/demo/sluice-demo.  Each app and sluice must exit 0 on SIGTERM, and the app's log must hold
# no sanitizer report (the ASan build's leak check runs at that exit).
from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from galera import GaleraError
from sluice_config import HOST, PASSWORD, USER, USER_HASH, wait_until
from sluice_proc import REPO, Sluice, free_port

MONITOR_PW = "monitor_pw"
POLL = 0.05
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                          r"runtime error:")
BADGE_RE = re.compile(r'<li class="badge [^"]*" data-kind="(read|write)" data-node="([^"]*)" '
                      r'data-role="([^"]*)"[^>]*>((?:read|written) on [^<]*?)'
                      r'(?: <span class="note">([^<]*)</span>)?</li>')
DB_WORDS = ("The database did not answer", "The change was not saved")


def demo_binary() -> str:
    """$SLUICE_DEMO_BIN, else sluice-demo in the build that $SLUICE_BIN comes from, else build/."""
    if os.environ.get("SLUICE_DEMO_BIN"):
        return os.environ["SLUICE_DEMO_BIN"]
    if os.environ.get("SLUICE_BIN"):
        build = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["SLUICE_BIN"])))
        candidate = os.path.join(build, "demo", "sluice-demo")
        if os.path.exists(candidate):
            return candidate
    return os.path.join(REPO, "build", "demo", "sluice-demo")


# ---- processes -------------------------------------------------------------------------------

def sluice_config(galera, workdir: str, port: int, stats_port: int) -> str:
    with open(os.path.join(workdir, "monitor.pw"), "w") as f:
        f.write(MONITOR_PW + "\n")
    return f"""\
workers: 2
state_file: {workdir}/states
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_file: {workdir}/monitor.pw, interval: 250ms,
               timeout: 500ms, fall: 2, rise: 2 }}
    queue_timeout: 30s
    nodes:
{galera.nodes_yaml()}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
stats: {{ bind: "{HOST}:{stats_port}" }}
"""


class DemoApp:
    """One sluice-demo process; its stdout and stderr go to ``workdir/NAME.log``."""

    def __init__(self, workdir: str, args: list[str], name: str = "app",
                 password: str | None = PASSWORD):
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.args = [demo_binary()] + args
        self.password = password
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True, timeout: float = 30.0) -> "DemoApp":
        assert os.path.exists(self.args[0]), (
            f"no sluice-demo at {self.args[0]}: build it (ninja -C build) or set "
            f"SLUICE_DEMO_BIN")
        env = dict(os.environ)
        if self.password is not None:
            env["SLUICE_DEMO_MYSQL_PASSWORD"] = self.password
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env)
        if wait:
            self.wait_log(r"serving http://", timeout)
        return self

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern: str, timeout: float = 30.0) -> re.Match:
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            assert self.proc.poll() is None, (
                f"sluice-demo exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            assert time.monotonic() < deadline, (
                f"sluice-demo never logged /{pattern}/:\n{self.log()[-3000:]}")
            time.sleep(POLL)

    def wait_exit(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def stop(self) -> None:
        """SIGTERM; the app must exit 0 with no sanitizer report in its log."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluice-demo did not stop within 15 s of SIGTERM")
        self._log.close()
        log = self.log()
        assert self.proc.returncode == 0, (
            f"sluice-demo exited with {self.proc.returncode}:\n{log[-4000:]}")
        assert not SANITIZER_RE.search(log), f"sanitizer report from sluice-demo:\n{log[-6000:]}"
        self.proc = None


class Stack:
    """sluice (mysql listener + stats) and sluice-demo in front of the shared cluster, with a
    database of its own (dropped at stop())."""

    def __init__(self, galera, workdir: str, extra_args: tuple[str, ...] = ()):
        self.galera = galera
        self.workdir = workdir
        self.sql_port, self.stats_port, self.http_port = free_port(), free_port(), free_port()
        self.database = f"demo_{uuid.uuid4().hex[:8]}"
        self.stats_url = f"http://{HOST}:{self.stats_port}"
        self.base = f"http://{HOST}:{self.http_port}"
        self.sluice = Sluice(workdir, sluice_config(galera, workdir, self.sql_port,
                                                    self.stats_port))
        self.app = DemoApp(workdir, [
            "--listen", f"{HOST}:{self.http_port}", "--mysql-host", HOST,
            "--mysql-port", str(self.sql_port), "--mysql-user", USER,
            "--database", self.database, "--stats-url", self.stats_url, "--init-schema",
            "--verbose", *extra_args])

    def start(self) -> "Stack":
        self.sluice.start()
        self.sluice.wait_log(r"writer is node1\b")
        self.app.start()
        return self

    def stop(self) -> None:
        try:
            self.app.stop()
        finally:
            rc = self.sluice.stop()
            try:
                conn = self.galera.connect(self.galera.running_nodes()[0], root=True,
                                           autocommit=True)
                with conn.cursor() as cur:
                    cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
                conn.close()
            except Exception:  # the data is per test session anyway
                pass
            assert rc == 0, f"sluice exited with {rc}:\n{self.sluice.log()[-3000:]}"

    # -- direct looks at the nodes, bypassing sluice and the app --

    def rows_on(self, idx: int, where: str = "1", args: tuple = ()) -> list[tuple]:
        """(id, name, price as str, stock) of matching products read from node ``idx`` directly,
        after a causality wait."""
        conn = self.galera.connect(idx, root=True, database=self.database, autocommit=True,
                                   read_timeout=60)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION wsrep_sync_wait = 1")
                cur.execute(f"SELECT id, name, CAST(price AS CHAR), stock FROM products "
                            f"WHERE {where} ORDER BY id", args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def status(self) -> dict:
        with urllib.request.urlopen(self.stats_url + "/api/v1/status", timeout=10) as r:
            return json.loads(r.read())

    def reads_per_node(self) -> dict[str, int]:
        return {n["name"]: n["counters"]["reads"] for n in self.status()["clusters"][0]["nodes"]}


def wsrep_name(galera, idx: int) -> str:
    """@@wsrep_node_name, asked of node ``idx`` over a direct connection."""
    conn = galera.connect(idx, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@wsrep_node_name")
            return cur.fetchone()[0]
    finally:
        conn.close()


# ---- HTTP ------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 303 comes back to the test as it is


_opener = urllib.request.build_opener(_NoRedirect)


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8")

    def badges(self) -> list[dict]:
        """The page's badges: kind, node, role, text and note (the write before a redirect)."""
        return [dict(kind=m[0], node=m[1], role=m[2], text=html.unescape(m[3]), note=m[4])
                for m in BADGE_RE.findall(self.text)]

    def product_ids(self) -> list[int]:
        table = re.search(r'<table id="products">.*?</table>', self.text, re.S)
        return [int(x) for x in re.findall(r'<td class="num">(\d+)</td><td><a href="/products/',
                                           table.group(0))] if table else []


def request(base: str, path: str, form: dict | None = None, method: str | None = None,
            body: bytes | None = None, content_type: str | None = None,
            timeout: float = 60) -> Reply:
    """One request; a form is sent urlencoded as POST.  Never follows a redirect, never raises
    on an HTTP status."""
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        content_type = content_type or "application/x-www-form-urlencoded"
    req = urllib.request.Request(base + path, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


def create(stack: Stack, name: str, price: str = "9.99", stock: str = "3") -> tuple[int, Reply]:
    """POST a new product, follow the 303 by hand; (new id, the page it led to)."""
    r = request(stack.base, "/products/new", {"name": name, "price": price, "stock": stock})
    assert r.status == 303, f"create answered {r.status}:\n{r.text[-2000:]}"
    location = r.headers["Location"]
    assert location.startswith("/?done="), location
    page = request(stack.base, location)
    assert page.status == 200, page.text[-2000:]
    m = re.search(r"Created \u201c.*?\u201d \(product (\d+)\)\.", html.unescape(page.text))
    assert m, f"no 'Created' message after the redirect:\n{page.text[-2000:]}"
    return int(m.group(1)), page



# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(galera, tmp_path_factory):
    s = Stack(galera, str(tmp_path_factory.mktemp("demo"))).start()
    try:
        yield s
    finally:
        s.stop()


# ---- tests -----------------------------------------------------------------------------------

def test_man_page_names_every_option():
    """man/sluice-demo.1 documents every option of --help, renders without groff warnings, and
    man/meson.build installs it."""
    r = subprocess.run([demo_binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", r.stdout))
    assert {"--listen", "--mysql-user", "--stats-url", "--init-schema"} <= options
    page = open(os.path.join(REPO, "man", "sluice-demo.1")).read()
    missing = sorted(o for o in options if o.replace("-", "\\-") not in page)
    assert not missing, f"man/sluice-demo.1 does not name {missing}"
    assert "SLUICE_DEMO_MYSQL_PASSWORD" in page
    assert "install_man('sluice-demo.1')" in open(os.path.join(REPO, "man", "meson.build")).read()
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (apt-get install groff-base)")
    g = subprocess.run([groff, "-man", "-ww", "-z", os.path.join(REPO, "man", "sluice-demo.1")],
                       capture_output=True, text=True, timeout=30)
    assert g.returncode == 0 and g.stderr == "", g.stderr


def test_create_redirects_and_the_list_shows_it_written_on_the_writer(galera, stack):
    writer = wsrep_name(galera, 0)
    assert writer == "node1"
    assert stack.status()["clusters"][0]["writer"] == writer
    name = f"Widget {uuid.uuid4().hex[:8]}"
    pid, page = create(stack, name, "12.34", "5")
    # The list right after the redirect shows the new product (read-your-writes) ...
    assert pid in page.product_ids()
    assert f'<a href="/products/{pid}">{name}</a>' in page.text
    # ... and the write's badge, told by the node that ran the INSERT.
    badges = page.badges()
    write = [b for b in badges if b["kind"] == "write"]
    assert len(write) == 1, badges
    assert write[0]["node"] == writer and write[0]["role"] == "writer", write
    assert write[0]["text"] == f"written on {writer} (writer)"
    assert write[0]["note"] == "(the change, before this page)"
    reads = [b for b in badges if b["kind"] == "read"]
    assert len(reads) == 1 and reads[0]["text"].startswith("read on node"), badges
    # The row is on the writer, as typed.
    assert stack.rows_on(0, "id = %s", (pid,)) == [(pid, name, "12.34", 5)]


def test_read_your_writes_every_time(stack):
    """Twenty create-then-list rounds: each list already shows its product, although most of
    the lists are read on a reader."""
    read_nodes = set()
    for i in range(20):
        pid, page = create(stack, f"RYW {i} {uuid.uuid4().hex[:6]}")
        assert pid in page.product_ids(), f"round {i}: product {pid} missing from the list"
        read_nodes |= {b["node"] for b in page.badges() if b["kind"] == "read"}
    assert read_nodes, "no read badge at all"


def causal_reads_on(galera, idx: int) -> int:
    """Galera's count of reads that waited for causality (wsrep_sync_wait) on node ``idx``."""
    return int(galera.status(idx, "wsrep_causal_reads"))


def test_every_page_sees_a_product_created_just_before(galera, stack):
    """A product page asked for right after the create is read by the READ session on a reader,
    never the writer; each of those reads waits on its reader for every earlier commit
    (wsrep_sync_wait), so the product is always there, whichever reader serves it."""
    before = [causal_reads_on(galera, i) for i in (1, 2)]
    nodes = []
    for i in range(12):
        pid, _ = create(stack, f"Seen at once {i} {uuid.uuid4().hex[:6]}")
        # Twice: the two reads go to the two readers in turn.
        for _ in range(2):
            detail = request(stack.base, f"/products/{pid}")
            assert detail.status == 200, f"round {i}: product {pid}:\n{detail.text[-1500:]}"
            reads = [b for b in detail.badges() if b["kind"] == "read"]
            assert len(reads) == 1 and reads[0]["role"] == "reader", detail.badges()
            nodes.append(reads[0]["node"])
    assert set(nodes) == {"node2", "node3"}, nodes
    # Each read of the READ session was a causal read on the reader that ran it.
    after = [causal_reads_on(galera, i) for i in (1, 2)]
    for idx, name in ((0, "node2"), (1, "node3")):
        assert after[idx] - before[idx] >= nodes.count(name), (name, before, after, nodes)


def test_reloads_spread_reads_over_readers_never_the_writer(stack):
    writer = stack.status()["clusters"][0]["writer"]
    assert writer == "node1"
    # A write just before (the app's other session) must not pull these reads to the writer.
    create(stack, "just written")
    before = stack.reads_per_node()
    seen = []
    for _ in range(12):
        r = request(stack.base, "/")
        assert r.status == 200
        reads = [b for b in r.badges() if b["kind"] == "read"]
        assert len(reads) == 1, r.badges()
        seen.append(reads[0])
    after = stack.reads_per_node()
    nodes = [b["node"] for b in seen]
    assert all(b["role"] == "reader" for b in seen), seen
    assert writer not in nodes, nodes
    assert len(set(nodes)) >= 2, f"all reads on one node: {nodes}"
    assert set(nodes) <= {"node2", "node3"}, nodes
    # sluice's own counters agree: no read on the writer, one per reload on the readers.
    delta = {n: after[n] - before[n] for n in after}
    assert delta[writer] == 0, delta
    assert sum(delta.values()) >= 12, delta
    for n in set(nodes):
        assert delta[n] >= nodes.count(n), (n, nodes, delta)


def test_detail_edit_and_delete(galera, stack):
    pid, _ = create(stack, "Edit me", "1.00", "1")
    detail = request(stack.base, f"/products/{pid}")
    assert detail.status == 200
    assert '<h1 id="name">Edit me</h1>' in detail.text
    assert [b["kind"] for b in detail.badges()] == ["read"]

    form = request(stack.base, f"/products/{pid}/edit")
    assert form.status == 200 and 'value="Edit me"' in form.text

    r = request(stack.base, f"/products/{pid}/edit",
                {"name": "Edited", "price": "2.5", "stock": "7"})
    assert r.status == 303, r.text[-1500:]
    assert r.headers["Location"].startswith(f"/products/{pid}?done=")
    page = request(stack.base, r.headers["Location"])
    assert page.status == 200
    assert "Saved \u201cEdited\u201d." in html.unescape(page.text)
    assert '<dd id="price">2.50</dd>' in page.text and '<dd id="stock">7</dd>' in page.text
    write = [b for b in page.badges() if b["kind"] == "write"]
    assert [(b["node"], b["role"]) for b in write] == [("node1", "writer")], page.badges()
    assert stack.rows_on(1, "id = %s", (pid,)) == [(pid, "Edited", "2.50", 7)]

    confirm = request(stack.base, f"/products/{pid}/delete")
    assert confirm.status == 200
    assert f'action="/products/{pid}/delete"' in confirm.text and "Edited" in confirm.text
    r = request(stack.base, f"/products/{pid}/delete", {})
    assert r.status == 303 and r.headers["Location"].startswith("/?done=")
    page = request(stack.base, r.headers["Location"])
    assert f"Deleted product {pid}." in page.text
    assert pid not in page.product_ids()
    assert [(b["kind"], b["node"]) for b in page.badges()][0] == ("write", "node1")
    assert stack.rows_on(2, "id = %s", (pid,)) == []

    gone = request(stack.base, f"/products/{pid}")
    assert gone.status == 404 and f"There is no product {pid}" in gone.text
    again = request(stack.base, f"/products/{pid}/delete", {})
    assert again.status == 404 and f"There is no product {pid}" in again.text
    assert request(stack.base, f"/products/{pid}/edit",
                   {"name": "x", "price": "1", "stock": "1"}).status == 404


@pytest.mark.parametrize("form,status,message", [
    ({"name": "", "price": "1", "stock": "1"}, 422, "Enter a name"),
    ({"name": "   ", "price": "1", "stock": "1"}, 422, "Enter a name"),
    ({"price": "1", "stock": "1"}, 422, "Enter a name"),
    ({"name": "x" * 201, "price": "1", "stock": "1"}, 422, "at most 200 are allowed"),
    ({"name": "ok", "price": "1.234", "stock": "1"}, 422, "at most two decimals"),
    ({"name": "ok", "price": "-1", "stock": "1"}, 422, "The price cannot be negative"),
    ({"name": "ok", "price": "100000000", "stock": "1"}, 422, "at most 99999999.99"),
    ({"name": "ok", "price": "abc", "stock": "1"}, 422, "for example 12.50"),
    ({"name": "ok", "price": "1", "stock": "1.5"}, 422, "whole number"),
    ({"name": "ok", "price": "1", "stock": "-3"}, 422, "The stock cannot be negative"),
    ({"name": "ok", "price": "1", "stock": "1000000001"}, 422, "at most 1000000000"),
    ({"name": "tab\there", "price": "1", "stock": "1"}, 422, "control character"),
], ids=lambda v: v if isinstance(v, (int, str)) else None)
def test_invalid_input_is_refused_in_words_and_changes_nothing(stack, form, status, message):
    before = stack.rows_on(0)
    r = request(stack.base, "/products/new", form)
    assert r.status == status, r.text[-1500:]
    assert message in html.unescape(r.text)
    assert "The product was not saved" in r.text
    assert "This page ran no statement." in r.text
    # The form comes back with what was typed.
    if form.get("price"):
        assert f'value="{html.escape(form["price"])}"' in r.text
    assert stack.rows_on(0) == before


def test_malformed_requests_get_4xx(stack):
    pid, _ = create(stack, "Untouched", "3.00", "3")
    before = stack.rows_on(0)
    cases = [
        (request(stack.base, "/products/new", body=b"name=%zz&price=1&stock=1",
                 content_type="application/x-www-form-urlencoded"), 400, "broken %-escape"),
        (request(stack.base, "/products/new", body=b"name=a%00b&price=1&stock=1",
                 content_type="application/x-www-form-urlencoded"), 400, "NUL character"),
        (request(stack.base, "/products/new", body=b'{"name":"x"}',
                 content_type="application/json"), 415, "x-www-form-urlencoded"),
        (request(stack.base, f"/products/{pid}/edit", {"name": "", "price": "x", "stock": ""}),
         422, "Enter a name"),
        (request(stack.base, "/?page=0"), 400, "page number"),
        (request(stack.base, "/?page=abc"), 400, "page number"),
        (request(stack.base, "/?q=" + "x" * 201), 400, "at most 200 characters"),
        (request(stack.base, "/products/abc"), 404, "no such page"),
        (request(stack.base, "/products/0123"), 404, "no such page"),
        (request(stack.base, "/products/99999999999"), 404, "There is no product"),
        (request(stack.base, "/", method="DELETE"), 405, "can only be read"),
        (request(stack.base, f"/products/{pid}", {"name": "x"}), 405, "can only be read"),
    ]
    for reply, status, words in cases:
        assert reply.status == status, (status, words, reply.text[-1000:])
        assert words in html.unescape(reply.text), (words, reply.text[-1000:])
    # A body over the 64 KiB a form may have is refused by evhttp before any page code runs.
    big = request(stack.base, "/products/new", body=b"name=" + b"x" * 70000 + b"&price=1",
                  content_type="application/x-www-form-urlencoded")
    assert big.status == 413
    assert stack.rows_on(0) == before
    # HEAD: the status and headers of GET, no body.
    head = request(stack.base, f"/products/{pid}", method="HEAD")
    assert head.status == 200 and head.text == ""
    assert head.headers["Content-Type"] == "text/html; charset=utf-8"


def test_everything_is_html_escaped(stack):
    name = "<script>alert(\"x\")</script> & 'q'"
    pid, page = create(stack, name)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"
    detail = request(stack.base, f"/products/{pid}")
    edit = request(stack.base, f"/products/{pid}/edit")
    search = request(stack.base, "/?q=" + urllib.parse.quote("<script>"))
    for r in (page, detail, edit, search):
        assert "<script>" not in r.text, r.text[-2000:]
        assert escaped in r.text or "&lt;script&gt;" in r.text
    assert escaped in page.text and escaped in detail.text
    assert f'value="{escaped}"' in edit.text
    assert "Products matching &ldquo;&lt;script&gt;&rdquo;" in search.text
    assert pid in search.product_ids()
    # A hostile value in a field that fails validation is escaped in the form too.
    r = request(stack.base, "/products/new", {"name": '"><img src=x>', "price": "x", "stock": "1"})
    assert r.status == 422 and 'value="&quot;&gt;&lt;img src=x&gt;"' in r.text


def test_search_and_paging(stack):
    tag = uuid.uuid4().hex[:8]
    ids = [create(stack, f"pg-{tag}-{i:02d}")[0] for i in range(25)]
    p1 = request(stack.base, f"/?q=pg-{tag}")
    assert p1.status == 200
    assert '<p id="count">25 products match.' in p1.text
    assert '<span id="page">Page 1 of 2</span>' in p1.text
    assert p1.product_ids() == sorted(ids, reverse=True)[:20]
    nxt = re.search(r'<a rel="next" href="([^"]+)"', p1.text)
    assert nxt, p1.text[-1500:]
    p2 = request(stack.base, html.unescape(nxt.group(1)))
    assert '<span id="page">Page 2 of 2</span>' in p2.text
    assert p2.product_ids() == sorted(ids, reverse=True)[20:]
    assert 'rel="next"' not in p2.text and 'rel="prev"' in p2.text
    # Search is a substring of the name; % and _ are literal, not LIKE wildcards.
    assert len(request(stack.base, f"/?q=pg-{tag}-0").product_ids()) == 10
    assert request(stack.base, f"/?q=pg_{tag}").product_ids() == []
    assert request(stack.base, "/?q=" + urllib.parse.quote(f"pg-{tag}%")).product_ids() == []
    past = request(stack.base, f"/?q=pg-{tag}&page=9")
    assert past.status == 200 and "Page 9 is past the last page (2)." in past.text
    # Every page ran exactly one statement, a read.
    for r in (p1, p2, past):
        assert [b["kind"] for b in r.badges()] == ["read"]


def test_footer_names_node_states_and_links_the_dashboard(stack):
    r = request(stack.base, "/")
    footer = re.search(r"<footer>.*</footer>", r.text, re.S).group(0)
    text = re.sub(r"<[^>]+>", "", footer)
    assert "Cluster galera:" in text
    for name, role in (("node1", "writer"), ("node2", "reader"), ("node3", "reader")):
        assert f"{name}: up/{role}" in text, text
    assert f'<a href="{stack.stats_url}/">sluice dashboard</a>' in footer


def test_footer_links_the_dashboard_url_given(stack, tmp_path):
    """--dashboard-url (as docker/compose.yaml gives it: the address a browser on the host has
    for sluice, where the app's --stats-url is a compose service name) is the footer's link,
    HTML-escaped; the node states still come from --stats-url.  A bad one stops the start with
    exit status 2, naming the flag."""
    dashboard = "http://localhost:18404/sluice&co"
    port = free_port()
    app = DemoApp(str(tmp_path), ["--listen", f"{HOST}:{port}", "--mysql-port",
                                  str(stack.sql_port), "--mysql-user", USER,
                                  "--database", stack.database, "--stats-url", stack.stats_url,
                                  "--dashboard-url", dashboard], name="dashboard").start()
    try:
        r = request(f"http://{HOST}:{port}", "/")
        assert r.status == 200
        footer = re.search(r"<footer>.*</footer>", r.text, re.S).group(0)
        assert ' <a href="http://localhost:18404/sluice&amp;co/">sluice dashboard</a>' in footer
        assert stack.stats_url not in r.text
        text = re.sub(r"<[^>]+>", "", footer)
        assert "Cluster galera:" in text and "node1: up/writer" in text, text
    finally:
        app.stop()

    for bad, words in (("javascript:alert(1)", "must start with http:// or https://"),
                       ("http://localhost:0", "bad port"),
                       ("http://localhost/?next=x", "'?'")):
        r = subprocess.run([demo_binary(), "--listen", f"{HOST}:{free_port()}", "--mysql-user",
                            USER, "--stats-url", stack.stats_url, "--dashboard-url", bad],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "--dashboard-url" in r.stderr and words in r.stderr, (
            bad, r.returncode, r.stderr)


def test_without_stats_roles_are_unknown(galera, stack, tmp_path):
    """An app whose --stats-url answers nothing still serves, says why in the footer and calls
    the roles unknown; one without --stats-url says how to get them."""
    dead = free_port()
    for name, extra in (("nostats", ["--stats-url", f"http://{HOST}:{dead}"]), ("bare", [])):
        port = free_port()
        app = DemoApp(str(tmp_path), ["--listen", f"{HOST}:{port}", "--mysql-port",
                                      str(stack.sql_port), "--mysql-user", USER,
                                      "--database", stack.database, *extra], name=name).start()
        try:
            r = request(f"http://{HOST}:{port}", "/")
            assert r.status == 200
            roles = {b["role"] for b in r.badges()}
            assert roles == {"role unknown"}, r.badges()
            assert re.search(r"read on node\d \(role unknown\)", r.text)
            footer = re.search(r"<footer>.*</footer>", r.text, re.S).group(0)
            if extra:
                assert "stats API did not answer" in footer and "Connection refused" in footer
            else:
                assert "start sluice-demo with <code>--stats-url</code>" in footer
                assert "sluice dashboard" not in footer  # no URL given, no link
        finally:
            app.stop()


def test_start_up_errors_name_the_flag(stack, tmp_path):
    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        app = DemoApp(str(tmp_path), ["--listen", f"{HOST}:{port}", "--mysql-port",
                                      str(stack.sql_port), "--mysql-user", USER], name="busy")
        app.start(wait=False)
        assert app.wait_exit() == 1
        assert (f"cannot listen on {HOST}:{port} (--listen): port {port} is already in use"
                in app.log()), app.log()
    finally:
        busy.close()

    def run(*args, env=None):
        return subprocess.run([demo_binary(), *args], capture_output=True, text=True,
                              timeout=30, env=env)
    r = run("--help")
    assert r.returncode == 0
    for flag in ("--listen", "--mysql-host", "--mysql-port", "--mysql-user", "--mysql-password",
                 "--mysql-password-file", "--database", "--stats-url", "--dashboard-url",
                 "--init-schema",
                 "SLUICE_DEMO_MYSQL_PASSWORD"):
        assert flag in r.stdout, flag
    r = run("--mysql-user", USER, "--no-such-flag")
    assert r.returncode == 2 and "unknown option '--no-such-flag'" in r.stderr
    r = run("--mysql-user", USER, "--listen", "nonsense")
    assert r.returncode == 2 and "--listen wants HOST:PORT" in r.stderr
    r = run("--listen", f"{HOST}:{free_port()}")
    assert r.returncode == 2 and "--mysql-user" in r.stderr
    r = run("--mysql-user", USER, "--database", "x`; DROP")
    assert r.returncode == 2 and "--database" in r.stderr
    pw_file = tmp_path / "pw"
    pw_file.write_text("")
    r = run("--mysql-user", USER, "--mysql-password-file", str(pw_file))
    assert r.returncode == 2 and "is empty" in r.stderr
    # A wrong password is refused at start, naming the options to check.
    env = dict(os.environ, SLUICE_DEMO_MYSQL_PASSWORD="wrong")
    r = run("--listen", f"{HOST}:{free_port()}", "--mysql-port", str(stack.sql_port),
            "--mysql-user", USER, "--database", stack.database, env=env)
    assert r.returncode == 1 and "refused the login" in r.stderr and "--mysql-user" in r.stderr
    # The password file works (and the right password logs in).
    pw_file.write_text(PASSWORD + "\n")
    port = free_port()
    app = DemoApp(str(tmp_path), ["--listen", f"{HOST}:{port}", "--mysql-port",
                                  str(stack.sql_port), "--mysql-user", USER, "--database",
                                  stack.database, "--mysql-password-file", str(pw_file)],
                  name="pwfile", password=None).start()
    try:
        assert request(f"http://{HOST}:{port}", "/").status == 200
    finally:
        app.stop()


# ---- failover (last: it kills the writer; its own sluice and app) ------------------------------

def wait_whole(galera, timeout: float = 120.0) -> None:
    """Every node Synced in a Primary component of three."""
    def whole():
        try:
            return all(galera.status(i, "wsrep_local_state_comment") == "Synced"
                       and galera.status(i, "wsrep_cluster_size") == "3" for i in range(3))
        except GaleraError:
            return False
    wait_until(whole, "the cluster whole again", timeout)


def served_or_said_so(r: Reply) -> str:
    """'ok' for a page that worked, 'said' for a 503 that says in words what happened; fails the
    test for anything else."""
    if r.status in (200, 303):
        return "ok"
    assert r.status == 503, f"HTTP {r.status}:\n{r.text[-2000:]}"
    assert any(w in r.text for w in DB_WORDS), r.text[-2000:]
    assert re.search(r"MySQL said, during &ldquo;[^&]+&rdquo;: .+ \(error \d+\)", r.text)
    assert r.headers.get("Retry-After") == "1"
    return "said"


def test_writer_killed_pages_work_or_say_so_then_work(galera, tmp_path):
    # A statement timeout shorter than Galera's eviction of a dead node (11-21 s here), so that
    # a write caught by it fails and its page has to say so in words.
    stack = Stack(galera, str(tmp_path), ("--mysql-timeout", "5")).start()
    # And a second app with the default timeout (30 s), whose create waits the eviction out: its
    # answer must still reach the client (evhttp's own timers run out while the app blocks).
    patient_port = free_port()
    patient = DemoApp(str(tmp_path), [
        "--listen", f"{HOST}:{patient_port}", "--mysql-port", str(stack.sql_port),
        "--mysql-user", USER, "--database", stack.database, "--stats-url", stack.stats_url],
        name="patient").start()
    patient_reply: list = []
    outcomes: list[tuple[str, str]] = []
    mark = 0
    try:
        pid, page = create(stack, "before the kill")
        assert [(b["node"], b["role"]) for b in page.badges() if b["kind"] == "write"] == [
            ("node1", "writer")]
        request(f"http://{HOST}:{patient_port}", "/")  # its connections are open before the kill
        mark = stack.sluice.log_size()
        galera.kill(0)

        def patient_create():
            try:
                patient_reply.append(request(f"http://{HOST}:{patient_port}", "/products/new",
                                             {"name": "waited", "price": "1", "stock": "1"},
                                             timeout=120))
            except Exception as e:  # e.g. RemoteDisconnected: the answer was lost
                patient_reply.append(e)
        waiter = threading.Thread(target=patient_create)
        waiter.start()
        # Until sluice has a new writer and a create has gone through on it, keep using the app:
        # every answer is a page that works or a 503 that says what happened.
        deadline = time.monotonic() + 120
        new_writer = None
        i = 0
        while True:
            i += 1
            assert time.monotonic() < deadline, f"no successful create after the kill: {outcomes}"
            r = request(stack.base, "/")
            outcomes.append(("list", served_or_said_so(r)))
            r = request(stack.base, "/products/new",
                        {"name": f"during the kill {i}", "price": "1", "stock": "1"})
            outcome = served_or_said_so(r)
            outcomes.append(("create", outcome))
            assert stack.app.proc.poll() is None, "sluice-demo died"
            if outcome == "ok":
                page = request(stack.base, r.headers["Location"])
                write = [b for b in page.badges() if b["kind"] == "write"]
                m = re.search(r"writer is (node\d+), was node1\b", stack.sluice.log()[mark:])
                if m and write and write[0]["node"] == m.group(1):
                    new_writer = m.group(1)
                    break
        # The next requests all work, on the new writer.
        for _ in range(3):
            assert request(stack.base, "/").status == 200
        pid2, page = create(stack, "after the failover")
        write = [b for b in page.badges() if b["kind"] == "write"]
        assert [(b["node"], b["role"]) for b in write] == [(new_writer, "writer")]
        idx = int(new_writer.removeprefix("node")) - 1
        assert wsrep_name(galera, idx) == new_writer
        assert stack.status()["clusters"][0]["writer"] == new_writer
        assert stack.rows_on(idx, "id = %s", (pid2,))[0][1] == "after the failover"
        assert request(stack.base, f"/products/{pid}").status == 200
        footer = re.search(r"<footer>.*</footer>", page.text, re.S).group(0)
        assert "node1: <span class=\"state-down\">down</span>" in footer, footer
        waiter.join(150)
        assert patient_reply and isinstance(patient_reply[0], Reply), patient_reply
        served_or_said_so(patient_reply[0])
        print(f"\npatient app's create during the failover: HTTP {patient_reply[0].status}")
        print(f"\nfailover outcomes ({len(outcomes)} requests): "
              f"{sum(o == 'ok' for _, o in outcomes)} served, "
              f"{sum(o == 'said' for _, o in outcomes)} said so; {outcomes}")
    finally:
        try:
            if not galera.is_running(0):
                galera.restart(0)
            wait_whole(galera)
            stack.sluice.wait_log(r"node node1 \(cluster galera, [^)]*\) is UP", timeout=30,
                                  after=mark)
        finally:
            try:
                patient.stop()
            finally:
                stack.stop()
