# Three more real client libraries through sluice against the real Galera cluster: Node mysql2
# (execute() and query()), Perl DBD::MariaDB (mariadb_server_prepare=1) and MariaDB
# Connector/J (useServerPrepStmts=true). Each runs one program from tests/clients/ that opens
# two sessions at once and interleaves them: server-side prepared SELECTs with parameters (the
# same and different texts, a statement closed and prepared again), a time_zone per session
# read back every round, a transaction rolled back, AUTO_INCREMENT inserts (text and prepared)
# against LAST_INSERT_ID(), and CURRENT_USER(). Each program runs through sluice with
# pool.mode transaction and one node connection per node and worker (so the two sessions
# really take turns on the same node connections), with pool.mode session, and directly
# against node1; the same checks hold every time.
import json
import os
import random
import re
import shutil
import subprocess
import urllib.request

import pytest

from sluice_config import DB, HOST, PASSWORD, USER, galera_nodes, listener, sluice_yaml
from sluice_proc import free_port

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
CONNECTOR_J = "/usr/share/java/mariadb-java-client.jar"
NPM_CACHE = os.path.expanduser("~/.cache/sluice-npm")
ROUNDS = 32  # as the programs run them
# npm's messages when it cannot reach the registry at all.
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT",
                  "ENETUNREACH", "EHOSTUNREACH", "network request", "socket hang up")


@pytest.fixture(scope="module")
def tables(galera):
    """clients_t (id 1..100, v = id * 10), clients_tx (rolled back into) and clients_ai
    (AUTO_INCREMENT), created as root on node1."""
    conn = galera.connect(0, root=True)
    try:
        with conn.cursor() as c:
            c.execute(f"USE {DB}")
            c.execute("CREATE TABLE IF NOT EXISTS clients_t (id INT PRIMARY KEY, v INT) "
                      "ENGINE=InnoDB")
            c.execute("INSERT IGNORE INTO clients_t SELECT seq, seq * 10 FROM seq_1_to_100")
            c.execute("CREATE TABLE IF NOT EXISTS clients_tx (id BIGINT PRIMARY KEY, "
                      "who VARCHAR(40)) ENGINE=InnoDB")
            c.execute("CREATE TABLE IF NOT EXISTS clients_ai (id BIGINT AUTO_INCREMENT "
                      "PRIMARY KEY, who VARCHAR(40)) ENGINE=InnoDB")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def mysql2():
    """node_modules with mysql2@3, installed with npm into ~/.cache/sluice-npm (kept between
    runs). Skips only when npm cannot reach its registry and nothing is installed yet."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed (Debian packages nodejs and npm)")
    os.makedirs(NPM_CACHE, exist_ok=True)
    out = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "mysql2@3"],
                         cwd=NPM_CACHE, capture_output=True, text=True, timeout=300)
    modules = os.path.join(NPM_CACHE, "node_modules")
    if out.returncode != 0:
        text = out.stdout + out.stderr
        installed = os.path.isfile(os.path.join(modules, "mysql2", "package.json"))
        if not any(e in text for e in NETWORK_ERRORS):
            pytest.fail(f"npm install mysql2@3 failed:\n{text[-3000:]}")
        if not installed:
            pytest.skip(f"npm's registry is unreachable, mysql2 cannot be installed:\n"
                        f"{text[-800:]}")
    return modules


@pytest.fixture(scope="module")
def connector_j(tmp_path_factory):
    """Clients.java compiled once (javac, against Connector/J): the java command line."""
    if not os.path.isfile(CONNECTOR_J):
        pytest.fail(f"{CONNECTOR_J} is missing (Debian package libmariadb-java)")
    classes = tmp_path_factory.mktemp("connector-j")
    out = subprocess.run(["javac", "-cp", CONNECTOR_J, "-d", str(classes),
                          os.path.join(CLIENTS_DIR, "Clients.java")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return ["java", "-cp", f"{CONNECTOR_J}:{classes}", "Clients"]


@pytest.fixture
def program(request, tables, client) -> tuple[list[str], dict]:
    """The client's program as a command line, and its environment."""
    env = dict(os.environ)
    if client == "mysql2":
        env["NODE_PATH"] = request.getfixturevalue("mysql2")
        return ["node", os.path.join(CLIENTS_DIR, "clients.js")], env
    if client == "dbd-mariadb":
        return ["perl", os.path.join(CLIENTS_DIR, "clients.pl")], env
    return request.getfixturevalue("connector_j"), env


def start(galera, sluice, pool: dict):
    port, stats_port = free_port(), free_port()
    cfg = sluice_yaml([listener("app", port)], galera_nodes(galera),
                      cluster_keys={"queue_timeout": "10s", "pool": pool}, workers=1,
                      stats={"bind": f'"{HOST}:{stats_port}"'})
    s = sluice(cfg)
    s.port, s.stats = port, f"http://{HOST}:{stats_port}"
    return s


def per_reason(s) -> dict[str, int]:
    """sluice_routing_decisions_total by reason, from /metrics."""
    with urllib.request.urlopen(s.stats + "/metrics", timeout=10) as r:
        body = r.read().decode()
    return {m.group(1): int(float(m.group(2))) for m in re.finditer(
        r'^sluice_routing_decisions_total\{reason="([^"]+)"\} (\S+)$', body, re.M)}


def stmt_executes(galera) -> int:
    """COM_STMT_EXECUTEs the nodes have run, all together."""
    total = 0
    for i in range(galera.nodes):
        conn = galera.connect(i, root=True)
        try:
            with conn.cursor() as c:
                c.execute("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")
                total += int(c.fetchone()[1])
        finally:
            conn.close()
    return total


def run(galera, program: tuple[list[str], dict], port: int, s=None) -> list[dict]:
    """Run the client's program against 127.0.0.1:port; its JSON lines, after checking that it
    finished and that its SELECTs ran as server-side prepared statements. On failure the
    message carries its output and sluice's log."""
    argv, env = program
    executes = stmt_executes(galera)
    base = random.randrange(1, 10**9) * 10
    out = subprocess.run(argv + [HOST, str(port), USER, PASSWORD, DB, str(base)], env=env,
                         capture_output=True, text=True, timeout=120)
    events = []
    for line in out.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"ev": "garbage", "line": line})
    ok = out.returncode == 0 and events and events[-1] == {"ev": "done"}
    log = f"\n--- sluice log ---\n{s.log()[-6000:]}" if s is not None else ""
    assert ok, (f"{os.path.basename(argv[-1])} exited {out.returncode}\n--- last output ---\n"
                + "\n".join(out.stdout.splitlines()[-8:])
                + f"\n--- stderr ---\n{out.stderr[-3000:]}{log}")
    executes = stmt_executes(galera) - executes
    assert executes >= 3 * ROUNDS, f"only {executes} COM_STMT_EXECUTE on the nodes"
    return events


def check(events: list[dict]) -> dict[str, set]:
    """Every result the program printed is right. Returns the node connection ids each
    session's writer statements ran on."""
    by = {}
    for e in events:
        by.setdefault(e["ev"], []).append(e)
    assert set(by) <= {"user", "prep", "tz", "trx", "insert", "done"}, by.keys()

    users = {e["sess"]: e for e in by["user"]}
    for sess in "ab":
        assert users[sess]["current_user"] == f"{USER}@{HOST}", users[sess]
        assert users[sess]["prepared"] == f"{USER}@{HOST}", users[sess]

    want = {"sa": (0, "a"), "sb": (1, "b"), "sc": (0, "c")}
    assert len(by["prep"]) == 3 * ROUNDS
    for e in by["prep"]:
        plus, tag = want[e["stmt"]]
        assert int(e["id"]) == (e["round"] * 7) % 100 + 1, e
        assert e["row"] is not None and len(e["row"]) == 2, e
        assert (int(e["row"][0]), str(e["row"][1])) == (int(e["id"]) * 10 + plus, tag), e

    cids = {"a": set(), "b": set()}
    rounds = {"a": 0, "b": 0}
    for e in by["tz"]:
        sess, r = e["sess"], e["round"]
        if sess == "b":
            expect = "+05:30"
        else:
            expect = "+01:00" if isinstance(r, int) and r <= 16 else "-03:00"
        assert e["tz"] == expect, e
        cids[sess].add(int(e["cid"]))
        rounds[sess] += isinstance(r, int)
    assert rounds == {"a": ROUNDS, "b": ROUNDS}

    trx = {e["sess"]: e for e in by["trx"]}
    for sess in "ab":
        assert trx[sess]["inside"] == [sess], trx[sess]
        assert int(trx[sess]["after"]) == 0, trx[sess]

    assert len(by["insert"]) == 4
    for e in by["insert"]:
        assert int(e["insert_id"]) > 0, e
        assert int(e["last_insert_id"]) == int(e["insert_id"]), e
        assert e["row_who"] == e["who"], e
    assert len({int(e["insert_id"]) for e in by["insert"]}) == 4, by["insert"]
    return cids


CLIENTS = ["mysql2", "dbd-mariadb", "connector-j"]


# DBD::MariaDB with mariadb_server_prepare=1 sends even do("SET time_zone = '+01:00'") as
# COM_STMT_PREPARE + COM_STMT_EXECUTE. sluice cannot replay a SET it only has as a prepared
# statement, so it pins the session to its connection (routing reason prepared_set): each
# session keeps its own, so this client needs two per node, and the sessions never share one.
PINS = {"dbd-mariadb"}


@pytest.mark.parametrize("client", CLIENTS)
def test_two_sessions_share_one_connection_per_node(galera, sluice, program, client):
    """pool.mode transaction, max_per_node 1, one worker: the two sessions take turns on the
    same node connection (the writer's CONNECTION_ID() is seen by both) and every result is
    still the session's own. A client whose SETs are prepared statements pins each session
    to its own connection instead, and its results are still its own."""
    pins = client in PINS
    s = start(galera, sluice, {"mode": "transaction", "max_per_node": 2 if pins else 1})
    cids = check(run(galera, program, s.port, s))
    if pins:
        assert not cids["a"] & cids["b"], f"pinned sessions shared a connection: {cids}"
        assert per_reason(s).get("prepared_set", 0) >= 2
    else:
        assert cids["a"] & cids["b"], f"the sessions never shared a node connection: {cids}"


@pytest.mark.parametrize("client", CLIENTS)
def test_pool_mode_session(galera, sluice, program):
    """pool.mode session: each session keeps its own writer connection throughout."""
    s = start(galera, sluice, {"mode": "session"})
    cids = check(run(galera, program, s.port, s))
    assert len(cids["a"]) == 1 and len(cids["b"]) == 1 and not cids["a"] & cids["b"], cids


@pytest.mark.parametrize("client", CLIENTS)
def test_directly_against_a_node(galera, program):
    """The same program straight to node1: the reference the runs through sluice match."""
    cids = check(run(galera, program, galera.sql_port(0)))
    assert len(cids["a"]) == 1 and len(cids["b"]) == 1 and not cids["a"] & cids["b"], cids
