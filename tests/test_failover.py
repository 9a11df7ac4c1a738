# tests/test_failover.py -- failover of a `mode: mysql` listener in front of the real three-node
# Galera cluster (priorities 1, 2, 3: node1 is the writer of a freshly started sluice), with a
# node SIGKILLed under load.  What the daemon must do (DESIGN.md, "Health and failover"):
#
#   - an autocommit write in flight on the writer when it dies gets ONE error (its outcome is
#     unknown); statements sent after that wait (up to queue_timeout) for the next writer instead
#     of failing, and the client connection stays usable without a reconnect;
#   - a transaction open on the dead writer fails with ERROR 1213 (40001) naming the node and
#     saying it was rolled back (for the statement in flight, or for the session's next one; a
#     ROLLBACK is answered OK), and the session then goes on on the new writer;
#   - an autocommit read whose reader dies before answering is retried elsewhere, invisibly;
#   - nothing acknowledged is lost;
#   - the writer is sticky (failback: false): a returning node does not take the role back;
#   - a Galera node serves only when Synced: reads keep working while a node rejoins (the last
#     test, beyond the list);
#   - sluice's share of a writer failover -- what comes after Galera itself has evicted the dead
#     node (the survivors block every commit until then, 11-21 s with the harness's relaxed gcomm
#     timeouts) -- is a few hundred milliseconds at most.  The median over
#     $SLUICE_FAILOVER_ROUNDS kills (default 5) of the current writer must stay under 300 ms;
#     that is the only wall-clock assertion, by request.
#
# Every test leaves the shared cluster whole: a killed node is restarted (Synced) before the test
# ends, also when it fails.  sluice runs with `logging: { level: debug }` and an assertion message
# carries its health / failover / session lines.  Where something ran is told by the nodes: rows
# store @@wsrep_node_name of the node that executed the INSERT, and wsrep_local_commits deltas
# are read directly over the nodes' root sockets.
from __future__ import annotations

import collections
import os
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid

import pymysql
import pytest

from galera import GaleraError
from sluice_proc import free_port
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH
from sluice_config import wait_until as shared_wait_until

MONITOR_USER, MONITOR_PASSWORD = "monitor", "monitor_pw"  # made by tests/galera.py
CLUSTER = "galera"
THREADS = 8
WARMUP_ACKS = 20              # acknowledged inserts per thread before a kill
ROUNDS = int(os.environ.get("SLUICE_FAILOVER_ROUNDS", "5"))
SLUICE_SHARE_LIMIT = 0.300    # seconds, for the median of sluice's share
SIZE_POLL = 0.02              # how often the survivors' wsrep_cluster_size is read
WAIT_POLL = 0.05              # gap between two looks of a condition wait
# Bounds of the waits: Galera evicts a dead node after 11-21 s, sluice queues for up to 30 s,
# and the clients' read_timeout is 60 s.
EVICT_BOUND = 90.0
RECOVER_BOUND = 90.0
MAX_STATEMENTS = 500_000      # per client thread and round: every loop is bounded


# ---- sluice ------------------------------------------------------------------------------------

def failover_config(galera, port: int, monitor_pw_file: str, writer_grace: str = "") -> str:
    """One plain `mode: mysql` listener, a galera cluster with priorities 1, 2, 3, monitor checks
    that log in, a 30 s queue for statements waiting for a writer, and a sticky writer."""
    nodes = galera.nodes_yaml()
    return f"""\
workers: 2
listeners:
  - name: app
    bind: "{HOST}:{port}"
    mode: mysql
    cluster: {CLUSTER}
clusters:
  - name: {CLUSTER}
    type: galera
    monitor:
      user: {MONITOR_USER}
      password_file: {monitor_pw_file}
      interval: 250ms
      timeout: 500ms
      fall: 2
      rise: 2{f"{chr(10)}      writer_grace: {writer_grace}" if writer_grace else ""}
    queue_timeout: 30s
    failback: false
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
logging: {{ level: debug }}
"""


def connect(port: int, **kw) -> pymysql.connections.Connection:
    """PyMySQL through sluice, autocommit, with a read timeout long enough for a statement that
    waits for Galera's eviction of a dead node."""
    args = dict(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                charset="utf8mb4", autocommit=True, connect_timeout=10, read_timeout=60,
                write_timeout=60)
    args.update(kw)
    return pymysql.connect(**args)


@pytest.fixture(autouse=True)
def sqlstate(monkeypatch):
    """PyMySQL drops the SQLSTATE of an ERR packet; keep it as ``exc.sqlstate``."""
    original = pymysql.err.raise_mysql_exception

    def raise_with_sqlstate(data):
        try:
            original(data)
        except pymysql.err.MySQLError as e:
            e.sqlstate = data[4:9].decode("ascii", "replace") if data[3:4] == b"#" else None
            raise

    monkeypatch.setattr(pymysql.err, "raise_mysql_exception", raise_with_sqlstate)


def err_tuple(e: BaseException) -> tuple:
    """(code, sqlstate, message) of an exception from PyMySQL."""
    args = getattr(e, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    msg = args[1] if len(args) > 1 else repr(e)
    return code, getattr(e, "sqlstate", None), msg


def wait_until(pred, timeout: float, what: str, detail=lambda: "") -> None:
    """sluice_config.wait_until with this file's argument order and poll interval."""
    shared_wait_until(pred, what, timeout, WAIT_POLL, detail)


def node_index(name: str) -> int:
    return int(name.removeprefix("node")) - 1


WRITER_RE = re.compile(rf"cluster {CLUSTER}: writer is (node\d+)(?:, was (node\d+))?")


def current_writer(s) -> str:
    """The writer sluice named last ("cluster galera: writer is X[, was Y]")."""
    found = WRITER_RE.findall(s.log())
    assert found, f"sluice never logged a writer:\n{s.log()[-3000:]}"
    return found[-1][0]


EVIDENCE_RE = re.compile(r"failover|writer is|is UP|is DOWN|check failed|lost node|waiting up to|"
                         r"retrying|no usable writer|rolled back|outcome|no node|error|refused",
                         re.I)


def evidence(s, since: int = 0, lines: int = 60) -> str:
    """sluice's health, failover and session-loss lines logged after byte ``since``."""
    text = s.log()[since:]
    hits = [ln for ln in text.splitlines() if EVIDENCE_RE.search(ln)]
    return "\n--- sluice log (filtered) ---\n" + "\n".join(hits[-lines:])


def failover_lines(s, since: int = 0) -> list[str]:
    return [ln for ln in s.log()[since:].splitlines()
            if "failover" in ln or WRITER_RE.search(ln)]


def up_re(name: str) -> str:
    return rf"node {name} \(cluster {CLUSTER}, [^)]*\) is UP"


def down_re(name: str) -> str:
    return rf"node {name} \(cluster {CLUSTER}, [^)]*\) is DOWN"


# ---- the cluster ---------------------------------------------------------------------------

def wait_whole(galera, timeout: float = 120.0) -> None:
    """Every node running, Synced, Primary, ready, with cluster size 3."""
    last = {}

    def whole():
        for i in range(3):
            try:
                st = {v: galera.status(i, v) for v in (
                    "wsrep_local_state_comment", "wsrep_cluster_size", "wsrep_cluster_status",
                    "wsrep_ready")}
            except GaleraError as e:
                last[i] = repr(e)
                return False
            last[i] = st
            if (st.get("wsrep_local_state_comment") != "Synced"
                    or st.get("wsrep_cluster_size") != "3"
                    or st.get("wsrep_cluster_status") != "Primary"
                    or st.get("wsrep_ready") != "ON"):
                return False
        return True

    wait_until(whole, timeout, "cluster whole again", lambda: repr(last))


def ensure_whole(galera) -> None:
    """Restart any node an earlier (failed) test left dead, then wait for three Synced nodes."""
    for i in range(3):
        if not galera.is_running(i):
            galera.restart(i)
    wait_whole(galera)


def restart_and_wait_up(galera, s, idx: int, since: int) -> None:
    """Restart killed node ``idx``, wait until it is Synced with the cluster whole and until
    sluice has logged it DOWN and then UP again (after byte ``since``)."""
    name = galera.node_name(idx)
    down = s.wait_log(down_re(name), timeout=30, after=since)
    galera.restart(idx)
    wait_whole(galera)
    s.wait_log(up_re(name), timeout=30, after=down.end())


def local_commits(galera) -> dict[int, int]:
    return {i: int(galera.status(i, "wsrep_local_commits")) for i in galera.running_nodes()}


def rows_on(galera, idx: int, table: str, columns: str = "id") -> list[tuple]:
    """All rows of ``table`` on node ``idx``, read directly after a causality wait (so the node
    has applied everything the cluster committed before the read)."""
    conn = galera.connect(idx, root=True, database=DB, autocommit=True, read_timeout=60)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION wsrep_sync_wait = 1")
            cur.execute(f"SELECT {columns} FROM `{table}`")
            return list(cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def new_table(galera):
    """Factory: ``new_table(columns, rows=None)`` creates a uniquely named table on a running node
    directly, waits until every running node has it (and its rows), and drops it at the end."""
    made: list[str] = []

    def make(columns: str, rows: str | None = None) -> str:
        name = f"failover_{uuid.uuid4().hex[:10]}"
        i = galera.running_nodes()[0]
        conn = galera.connect(i, root=True, database=DB, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE TABLE `{name}` ({columns})")
                made.append(name)
                if rows:
                    cur.execute(f"INSERT INTO `{name}` {rows}")
        finally:
            conn.close()
        for j in galera.running_nodes():
            rows_on(galera, j, name, "COUNT(*)")
        return name

    yield make
    running = galera.running_nodes()
    if running and made:
        conn = galera.connect(running[0], root=True, database=DB, autocommit=True)
        try:
            with conn.cursor() as cur:
                for name in made:
                    cur.execute(f"DROP TABLE IF EXISTS `{name}`")
        finally:
            conn.close()


@pytest.fixture
def proxy(galera, sluice, tmp_path):
    """sluice in front of a whole cluster, ready: it named node1 the writer and new sessions'
    reads reach both readers."""
    ensure_whole(galera)
    pw = tmp_path / "monitor.pw"
    pw.write_text(MONITOR_PASSWORD + "\n")
    os.chmod(pw, 0o600)
    port = free_port()
    s = sluice(failover_config(galera, port, str(pw)))
    s.port = port
    s.wait_log(rf"cluster {CLUSTER}: writer is node1\b")
    seen: set[str] = set()
    last = []

    def readers_reached():
        try:
            conn = connect(port)
            try:
                with conn.cursor() as cur:
                    for _ in range(3):
                        cur.execute("SELECT @@wsrep_node_name")
                        seen.add(cur.fetchone()[0])
            finally:
                conn.close()
        except pymysql.MySQLError as e:
            last[:] = [e]
        return {"node2", "node3"} <= seen

    wait_until(readers_reached, 30, "reads through sluice reach node2 and node3",
               lambda: f"seen {seen}, last error {last}\n{s.log()[-3000:]}")
    return s


# ---- load ----------------------------------------------------------------------------------

class Inserter:
    """One client connection through sluice inserting unique ids in a loop (autocommit),
    recording every acknowledged id and every error with monotonic times."""

    def __init__(self, k: int, port: int, table: str):
        self.k = k
        self.table = table
        self.conn = connect(port)
        self.seq = 0
        self.attempted: set[int] = set()
        self.acked_all: list[int] = []
        self.reset()

    def reset(self) -> None:
        self.acks: list[tuple[int, float, float]] = []     # (id, t_start, t_end)
        self.errors: list[tuple] = []                      # (code, sqlstate, msg, t0, t1)
        self.broken: BaseException | None = None           # the connection is gone
        self.failed_ids: list[int] = []                    # ids of the errored inserts

    def insert_once(self) -> bool:
        self.seq += 1
        i = self.k * 1_000_000_000 + self.seq
        self.attempted.add(i)
        t0 = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"INSERT INTO `{self.table}` (id, node) "
                            f"VALUES (%s, @@wsrep_node_name)", (i,))
        except Exception as e:  # noqa: BLE001 -- everything is recorded and judged later
            t1 = time.monotonic()
            self.errors.append((*err_tuple(e), t0, t1))
            self.failed_ids.append(i)
            if not isinstance(e, pymysql.MySQLError) or not self.conn.open:
                self.broken = e
            return False
        t1 = time.monotonic()
        self.acks.append((i, t0, t1))
        self.acked_all.append(i)
        return True

    def loop(self, stop: threading.Event) -> None:
        for _ in range(MAX_STATEMENTS):
            if stop.is_set() or self.broken is not None:
                return
            self.insert_once()


class SizePoller(threading.Thread):
    """Reads wsrep_cluster_size on each survivor every SIZE_POLL s over a kept root connection
    and records, per node, when the query that first saw a size below 3 was sent."""

    def __init__(self, galera, nodes: list[int]):
        super().__init__(daemon=True)
        self.conns = {i: galera.connect(i, root=True, read_timeout=10) for i in nodes}
        self.seen: dict[int, float] = {}
        self.polls = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + EVICT_BOUND + 60
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                for i, conn in self.conns.items():
                    if i in self.seen:
                        continue
                    t = time.monotonic()
                    with conn.cursor() as cur:
                        cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'")
                        size = int(cur.fetchone()[1])
                    if size < 3:
                        self.seen[i] = t
                self.polls += 1
                if len(self.seen) == len(self.conns):
                    return
                self.stop.wait(SIZE_POLL)
        except BaseException as e:  # noqa: BLE001 -- reported by the test
            self.error = e
        finally:
            for conn in self.conns.values():
                conn.close()


def start_threads(clients, target) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    threads = [threading.Thread(target=target(c), args=(stop,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    return stop, threads


def stop_threads(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for t in threads:
        t.join(75)  # a statement can wait for its read_timeout (60 s)
    alive = [t for t in threads if t.is_alive()]
    assert not alive, f"{len(alive)} client threads still running 75 s after being stopped"


def error_report(clients) -> str:
    out = []
    for c in clients:
        for code, state, msg, t0, t1 in c.errors:
            out.append(f"  client {c.k}: {code} ({state}) {msg!r} after {t1 - t0:.3f} s")
        if c.broken is not None:
            out.append(f"  client {c.k}: connection broken: {c.broken!r}")
    return "\n".join(out) or "  (none)"


# ---- 1. writes survive the writer's death ----------------------------------------------------

def writer_kill_round(rnd: int, galera, s, clients: list[Inserter], table: str) -> dict:
    """One kill of the current writer under the insert load; returns the measurements.  The
    killed node is restarted (Synced, UP in sluice) before this returns, also on failure."""
    old = current_writer(s)
    widx = node_index(old)
    survivors = [i for i in range(3) if i != widx]
    for c in clients:
        c.reset()
    mark = s.log_size()
    try:
        commits0 = local_commits(galera)
        stop, threads = start_threads(clients, lambda c: c.loop)
        poller = None
        try:
            wait_until(lambda: all(len(c.acks) >= WARMUP_ACKS for c in clients)
                       or any(c.broken or c.errors for c in clients), 60,
                       f"round {rnd}: {WARMUP_ACKS} acknowledged inserts per thread",
                       lambda: error_report(clients) + evidence(s))
            assert not any(c.errors for c in clients), \
                f"round {rnd}: errors before the kill:\n{error_report(clients)}{evidence(s)}"
            # The writer sluice names is the node where the inserts commit.
            commits1 = local_commits(galera)
            delta = {galera.node_name(i): commits1[i] - commits0[i] for i in commits1}
            assert max(delta, key=delta.get) == old, \
                f"round {rnd}: sluice says the writer is {old}, local commits grew {delta}"

            poller = SizePoller(galera, survivors)
            poller.start()
            wait_until(lambda: poller.polls > 0 or poller.error or not poller.is_alive(), 10,
                       "size poller running")
            assert poller.error is None and not poller.seen, (poller.error, poller.seen)
            mark = s.log_size()
            t_kill = time.monotonic()
            galera.kill(widx)
            t_dead = time.monotonic()  # the old writer has exited and been reaped

            poller.join(EVICT_BOUND)
            assert poller.error is None, f"round {rnd}: size poller failed: {poller.error!r}"
            assert len(poller.seen) == len(survivors), \
                f"round {rnd}: survivors did not evict {old} within {EVICT_BOUND} s: " \
                f"{poller.seen}"
            t_reconfig = min(poller.seen.values())
            spread = max(poller.seen.values()) - t_reconfig

            # t_first_ok: the first insert sent after the old writer was dead and acknowledged
            # after the survivors were seen reconfigured.  (Statements sluice had already moved to the
            # new writer may complete a few ms before the poller sees the new size; they are
            # reported as t_first_any, which can be earlier than t_reconfig.)
            def first_ok(since):
                after = [t1 for c in clients for (_, t0, t1) in c.acks
                         if t0 > t_dead and t1 >= since]
                return min(after) if after else None

            wait_until(lambda: first_ok(t_reconfig) is not None
                       or all(c.broken for c in clients),
                       RECOVER_BOUND, f"round {rnd}: an insert acknowledged after killing {old}",
                       lambda: error_report(clients) + evidence(s, mark))
            t_first_ok = first_ok(t_reconfig)
            t_first_any = first_ok(t_dead)
            assert t_first_ok is not None, \
                f"round {rnd}: every connection broke:\n{error_report(clients)}" \
                f"{evidence(s, mark)}"

            # Keep the load on after recovery: every connection must be served again.
            def recovered():
                return (time.monotonic() >= t_first_ok + 1.5 and
                        all(c.broken or sum(1 for (_, t0, _) in c.acks if t0 > t_first_ok) >= 20
                            for c in clients))

            wait_until(recovered, 60, f"round {rnd}: every client served again after the "
                       "failover", lambda: error_report(clients) + evidence(s, mark))
            # When the last of the clients had its first insert after the kill acknowledged.
            t_all_ok = max(min(t1 for (_, t0, t1) in c.acks if t0 > t_dead) for c in clients)
        finally:
            stop_threads(stop, threads)
            if poller is not None:
                poller.stop.set()
                poller.join(15)

        log_ev = evidence(s, mark)
        m = s.wait_log(rf"cluster {CLUSTER}: writer is (node\d+), was {old}\b", timeout=5,
                       after=mark)
        new = m.group(1)
        assert new != old

        # No connection broke; at most one error each; the errors came from sluice as
        # MySQL ERR packets (the connection stays), not from a dropped socket.
        assert not any(c.broken for c in clients), \
            f"round {rnd}: connections broken by the failover:\n{error_report(clients)}{log_ev}"
        too_many = [c.k for c in clients if len(c.errors) > 1]
        assert not too_many, \
            f"round {rnd}: clients {too_many} got more than one error for one kill:\n" \
            f"{error_report(clients)}{log_ev}"
        errors = [(code, state, msg) for c in clients for (code, state, msg, _, _) in c.errors]
        assert all(code is not None and code < 2000 for code, _, _ in errors), \
            f"round {rnd}: client-side errors:\n{error_report(clients)}{log_ev}"

        # Every connection is still usable: one more insert each, no reconnect.
        unusable = []
        for c in clients:
            if not c.insert_once():
                unusable.append((c.k, c.errors[-1][:3]))
        assert not unusable, f"round {rnd}: connections not usable after the failover: " \
                             f"{unusable}{evidence(s, mark)}"

        # Nothing acknowledged is lost: both survivors hold every acknowledged id, the same
        # rows, and nothing that was never sent; what was acknowledged after the kill ran on
        # the new writer.
        acked = {i for c in clients for i in c.acked_all}
        attempted = set().union(*(c.attempted for c in clients))
        post_kill = {i for c in clients for (i, t0, _) in c.acks if t0 > t_dead}
        on = {}
        for j in survivors:
            rows = rows_on(galera, j, table, "id, node")
            ids = [r[0] for r in rows]
            on[j] = set(ids)
            missing = acked - on[j]
            assert not missing, \
                f"round {rnd}: {galera.node_name(j)} lacks {len(missing)} acknowledged ids, " \
                f"e.g. {sorted(missing)[:10]}"
            assert on[j] <= attempted, f"round {rnd}: rows nobody inserted on {j}"
            wrong = {(i, n) for i, n in rows if i in post_kill and n != new}
            assert not wrong, f"round {rnd}: inserts acknowledged after the kill ran elsewhere " \
                              f"than {new}: {sorted(wrong)[:10]}"
        a, b = survivors
        assert len(on[a]) == len(on[b]) and on[a] == on[b], \
            f"round {rnd}: survivors differ: {len(on[a])} vs {len(on[b])} rows, " \
            f"{len(on[a] - on[b])} / {len(on[b] - on[a])} only on one"
        # Inserts that got an error but committed anyway (their outcome was unknown).
        failed = {i for c in clients for i in c.failed_ids}
        unknown = f"{len(failed & on[a])} of {len(failed)}"

        restart_and_wait_up(galera, s, widx, mark)
    finally:
        if not galera.is_running(widx):  # failed above: leave the cluster whole anyway
            galera.restart(widx)

    # The restarted node caught up with everything acknowledged so far.
    missing = acked - {r[0] for r in rows_on(galera, widx, table)}
    assert not missing, f"round {rnd}: restarted {old} lacks {len(missing)} acknowledged ids"

    return dict(round=rnd, old=old, new=new, cluster_s=t_reconfig - t_kill,
                sluice_s=t_first_ok - t_reconfig, first_any_s=t_first_any - t_reconfig,
                all_ok_s=t_all_ok - t_reconfig, reconfig_spread=spread, errors=errors,
                acked=len(acked), unknown_committed=unknown,
                sluice_lines=failover_lines(s, mark))


def test_write_loop_survives_writer_kill(galera, proxy, new_table):
    """8 autocommit insert loops through sluice; the current writer is SIGKILLed ROUNDS times
    (restarted in between).  Each kill costs each connection at most one error, no connection
    has to reconnect, nothing acknowledged is lost, and sluice's share of the outage has a
    median under 300 ms.  sluice's share = t_first_ok - t_reconfig, where t_reconfig is when a
    query (sent every 20 ms to each survivor directly) first saw wsrep_cluster_size drop, and
    t_first_ok the first acknowledgement, at or after t_reconfig, of an insert sent after the
    SIGKILL."""
    s = proxy
    table = new_table("id BIGINT PRIMARY KEY, node VARCHAR(16) NOT NULL")
    clients = [Inserter(k + 1, s.port, table) for k in range(THREADS)]
    results = []
    try:
        for rnd in range(1, ROUNDS + 1):
            r = writer_kill_round(rnd, galera, s, clients, table)
            results.append(r)
            print(f"\nround {rnd}: killed {r['old']} -> writer {r['new']}; cluster "
                  f"reconfiguration {r['cluster_s']:.3f} s after SIGKILL (survivors "
                  f"{r['reconfig_spread'] * 1000:.0f} ms apart); sluice's share "
                  f"{r['sluice_s'] * 1000:.0f} ms (first ack of a post-kill insert at "
                  f"{r['first_any_s'] * 1000:+.0f} ms, every client served at "
                  f"{r['all_ok_s'] * 1000:+.0f} ms, relative to the reconfiguration); "
                  f"client errors {dict(collections.Counter(r['errors']))}, of which "
                  f"{r['unknown_committed']} committed all the same; "
                  f"{r['acked']} ids acknowledged so far, all present")
            for ln in r["sluice_lines"]:
                print(f"    {ln}")
    finally:
        for c in clients:
            c.conn.close()
    shares = [r["sluice_s"] for r in results]
    cluster = [r["cluster_s"] for r in results]
    print(f"\nsluice's share (s):          {['%.3f' % v for v in shares]}, "
          f"median {statistics.median(shares):.3f}")
    print(f"cluster reconfiguration (s): {['%.3f' % v for v in cluster]}, "
          f"median {statistics.median(cluster):.3f}")
    assert statistics.median(shares) < SLUICE_SHARE_LIMIT, \
        f"median of sluice's share {statistics.median(shares):.3f} s >= " \
        f"{SLUICE_SHARE_LIMIT} s: {shares}{evidence(s)}"


# ---- 2. reads survive a reader's death ---------------------------------------------------------

class Reader:
    """One client connection through sluice running autocommit reads in a loop, alternating
    SELECT COUNT(*) (checked against the known count) and SELECT @@wsrep_node_name."""

    def __init__(self, k: int, port: int, table: str, count: int):
        self.k = k
        self.table = table
        self.count = count
        self.conn = connect(port)
        self.reads: list[tuple[float, float, str | None]] = []   # (t0, t1, node or None)
        self.errors: list[tuple] = []
        self.broken: BaseException | None = None

    def read_once(self, n: int) -> None:
        t0 = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                if n % 2:
                    cur.execute("SELECT @@wsrep_node_name")
                    node = cur.fetchone()[0]
                else:
                    cur.execute(f"SELECT COUNT(*) FROM `{self.table}`")
                    got = cur.fetchone()[0]
                    node = None
                    if got != self.count:
                        raise AssertionError(f"COUNT(*) gave {got}, want {self.count}")
        except Exception as e:  # noqa: BLE001 -- recorded, judged by the test
            self.errors.append((*err_tuple(e), t0, time.monotonic()))
            if not isinstance(e, (pymysql.MySQLError, AssertionError)) or not self.conn.open:
                self.broken = e
            return
        self.reads.append((t0, time.monotonic(), node))

    def loop(self, stop: threading.Event) -> None:
        for n in range(MAX_STATEMENTS):
            if stop.is_set() or self.broken is not None:
                return
            self.read_once(n)


def reads_since(c: Reader, t: float) -> int:
    return sum(1 for (t0, _, _) in c.reads if t0 > t)


def test_read_loop_survives_reader_kill(galera, proxy, new_table):
    """8 autocommit read loops through sluice; a reader is SIGKILLed.  No client sees an error
    (reads that lost their reader before answering are retried elsewhere); after the node is
    back (Synced, UP) reads reach it again."""
    s = proxy
    table = new_table("id INT PRIMARY KEY", "SELECT seq FROM seq_1_to_100")
    writer = current_writer(s)
    victim = max(i for i in range(3) if galera.node_name(i) != writer)
    vname = galera.node_name(victim)
    clients = [Reader(k + 1, s.port, table, 100) for k in range(THREADS)]
    mark = s.log_size()
    try:
        stop, threads = start_threads(clients, lambda c: c.loop)
        try:
            wait_until(lambda: all(len(c.reads) >= 50 for c in clients)
                       or any(c.errors for c in clients), 60,
                       "50 reads per thread before the kill",
                       lambda: error_report(clients) + evidence(s))
            assert not any(c.errors for c in clients), \
                f"errors before the kill:\n{error_report(clients)}{evidence(s)}"
            answered = {n for c in clients for (_, _, n) in c.reads if n}
            assert vname in answered, f"{vname} answered no read before the kill: {answered}"
            mark = s.log_size()
            t_kill = time.monotonic()
            galera.kill(victim)
            t_dead = time.monotonic()
            wait_until(lambda: (time.monotonic() >= t_kill + 2 and
                                all(reads_since(c, t_kill) >= 200 for c in clients))
                       or any(c.broken for c in clients), 60,
                       "2 s and 200 reads per thread after the kill",
                       lambda: f"reads since kill {[reads_since(c, t_kill) for c in clients]}\n"
                               + error_report(clients) + evidence(s, mark))
        finally:
            stop_threads(stop, threads)
        after = sum(reads_since(c, t_kill) for c in clients)
        retried = s.log()[mark:].count("retrying the read on another node")
        nodes_after = {n for c in clients for (t0, _, n) in c.reads if n and t0 > t_dead}
        print(f"\n{after} reads after killing {vname}; sluice logged {retried} retried "
              f"read(s); answered by {sorted(nodes_after)}")
        assert not any(c.errors for c in clients), \
            f"client-visible errors around the death of {vname}:\n{error_report(clients)}" \
            f"{evidence(s, mark)}"
        ghosts = [(c.k, t0 - t_dead) for c in clients for (t0, _, n) in c.reads
                  if n == vname and t0 > t_dead]
        assert not ghosts, f"reads sent after {vname} had exited were answered by it: {ghosts}"
        # Every connection still works.
        for c in clients:
            c.read_once(1)
        assert not any(c.errors for c in clients), error_report(clients) + evidence(s, mark)

        restart_and_wait_up(galera, s, victim, mark)

        # Back: reads reach it again, on the old connections and on new ones.
        seen: list[str] = []

        def reached():
            for c in clients:
                c.read_once(1)
            seen.extend(n for c in clients for (_, _, n) in c.reads[-1:] if n)
            conn = connect(s.port)
            try:
                with conn.cursor() as cur:
                    for _ in range(3):
                        cur.execute("SELECT @@wsrep_node_name")
                        seen.append(cur.fetchone()[0])
            finally:
                conn.close()
            return vname in seen or any(c.errors for c in clients)

        wait_until(reached, 30, f"reads reach {vname} again",
                   lambda: f"seen {seen[-30:]}\n" + evidence(s, mark))
        assert not any(c.errors for c in clients), error_report(clients) + evidence(s, mark)
        print(f"reads reach {vname} again: {seen.count(vname)} of the last {len(seen)}")
    finally:
        for c in clients:
            c.conn.close()
        if not galera.is_running(victim):
            galera.restart(victim)


# ---- 3. a transaction on the dead writer -----------------------------------------------------

def test_transaction_on_dead_writer(galera, proxy, new_table):
    """Four sessions each have a transaction with one INSERT open on the writer when it is
    SIGKILLed.  The next statement -- an INSERT, a COMMIT -- fails with 1213 (40001) naming the
    node and saying the transaction was rolled back; a ROLLBACK is answered OK.  The fourth
    session's COMMIT is under way when the writer dies (sent to the writer, stopped first so
    that it cannot answer): sluice cannot know whether it committed, and says so with 1158
    (08S01), never 'rolled back'.  None of the rows exists on the survivors, and each session
    then runs INSERT + SELECT on the new writer without reconnecting."""
    s = proxy
    table = new_table("id INT PRIMARY KEY, node VARCHAR(16) NOT NULL")
    old = current_writer(s)
    widx = node_index(old)
    survivors = [i for i in range(3) if i != widx]
    kinds = ["insert", "commit", "rollback", "inflight"]
    conns = {k: connect(s.port) for k in kinds}
    doomed = {k: 10 + n for n, k in enumerate(kinds)}
    later = {k: 20 + n for n, k in enumerate(kinds)}
    after_id = {k: 30 + n for n, k in enumerate(kinds)}
    mark = s.log_size()
    try:
        for k, c in conns.items():
            with c.cursor() as cur:
                cur.execute("SET SESSION wsrep_sync_wait = 1")  # replayed on every node
                cur.execute("BEGIN")
                cur.execute(f"INSERT INTO `{table}` VALUES (%s, @@wsrep_node_name)",
                            (doomed[k],))
                cur.execute("SELECT @@wsrep_node_name, @@in_transaction")
                assert cur.fetchone() == (old, 1), k
        os.kill(galera.pid(widx), signal.SIGSTOP)
        inflight = {}

        def commit_in_flight():
            try:
                with conns["inflight"].cursor() as cur:
                    cur.execute("COMMIT")
                inflight["got"] = "OK"
            except pymysql.MySQLError as e:
                inflight["got"] = err_tuple(e)

        mark = s.log_size()
        committer = threading.Thread(target=commit_in_flight)
        committer.start()
        s.wait_log(rf"command 0x03 \(\d+ bytes\) -> node {old} ", after=mark)
        mark = s.log_size()
        galera.kill(widx)  # SIGKILL ends a stopped process too
        committer.join(90)
        assert not committer.is_alive(), "the COMMIT under way got no answer"
        got = inflight["got"]
        print(f"\nCOMMIT under way when the writer died: {got}")
        assert got != "OK" and got[0] == 1158 and got[1] == "08S01" and old in got[2] \
            and "unknown" in got[2] and "rolled back" not in got[2], \
            f"COMMIT in flight: {got}; want 1158 (08S01), outcome unknown{evidence(s, mark)}"
        # Let sluice notice the three lost connections (it logs each); if it does not, the
        # statements below find out in flight: an INSERT must give the same error, a COMMIT
        # the same or, sent to a dead node, outcome unknown.
        try:
            wait_until(lambda: s.log()[mark:].count(f"lost node {old}") >= 4, 10,
                       "sluice notices the lost transactions")
            noticed = True
        except AssertionError:
            noticed = False
        print(f"\nsluice logged the lost connections before the next statements: {noticed}")

        outcomes = {}
        for k, c in conns.items():
            if k == "inflight":
                continue
            with c.cursor() as cur:
                try:
                    if k == "insert":
                        cur.execute(f"INSERT INTO `{table}` VALUES (%s, @@wsrep_node_name)",
                                    (later[k],))
                    elif k == "commit":
                        cur.execute("COMMIT")
                    else:
                        cur.execute("ROLLBACK")
                    outcomes[k] = "OK"
                except pymysql.MySQLError as e:
                    outcomes[k] = err_tuple(e)
        print(f"next statements after the kill: {outcomes}")
        for k in ("insert", "commit"):
            got = outcomes[k]
            if k == "commit" and not noticed and got != "OK" and got[0] == 1158:
                continue  # sent to the dead node before sluice saw it die: unknown
            assert got != "OK" and got[0] == 1213 and got[1] == "40001" and old in got[2] \
                and "rolled back" in got[2], \
                f"{k} after the writer died: {got}; want 1213 (40001) naming {old} and " \
                f"'rolled back'{evidence(s, mark)}"
        if noticed:
            assert outcomes["rollback"] == "OK", \
                f"ROLLBACK of a transaction sluice knew was lost: {outcomes['rollback']}" \
                f"{evidence(s, mark)}"
        else:
            assert outcomes["rollback"] == "OK" or outcomes["rollback"][0] == 1213, \
                outcomes["rollback"]

        # The same sessions go on, on the new writer (this waits for Galera's eviction).
        new = None
        for k, c in conns.items():
            assert c.open, f"{k}: the connection was closed"
            with c.cursor() as cur:
                try:
                    cur.execute("SELECT @@in_transaction")
                    assert cur.fetchone()[0] == 0, f"{k}: still in a transaction"
                    cur.execute(f"INSERT INTO `{table}` VALUES (%s, @@wsrep_node_name)",
                                (after_id[k],))
                    cur.execute(f"SELECT node FROM `{table}` WHERE id = %s", (after_id[k],))
                    row = cur.fetchone()
                except pymysql.MySQLError as e:
                    raise AssertionError(f"{k}: {err_tuple(e)} after the failover"
                                         f"{evidence(s, mark)}") from e
            assert row is not None, f"{k}: its own insert is not visible"
            new = new or current_writer(s)
            assert row[0] == new != old, f"{k}: insert ran on {row[0]}, writer is {new}"

        for j in survivors:
            ids = {r[0] for r in rows_on(galera, j, table)}
            assert not ids & set(doomed.values()), \
                f"rows of rolled back transactions on {galera.node_name(j)}: {sorted(ids)}"
            assert not ids & set(later.values()), sorted(ids)
            assert set(after_id.values()) <= ids, sorted(ids)
        print("failover lines:\n    " + "\n    ".join(failover_lines(s, mark)))
        restart_and_wait_up(galera, s, widx, mark)
    finally:
        for c in conns.values():
            c.close()
        if galera.is_running(widx):  # failed before the kill: never leave it stopped
            os.kill(galera.pid(widx), signal.SIGCONT)
        else:  # failed above: leave the cluster whole anyway
            galera.restart(widx)


# ---- 4. failback: false --------------------------------------------------------------------

def test_failback_false_keeps_new_writer(galera, proxy, new_table):
    """Kill the writer (node1), let node2 take over, bring node1 back (Synced, UP): writes keep
    landing on node2, on the old connection and on new ones; sluice never names node1 the
    writer again."""
    s = proxy
    table = new_table("id INT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(16) NOT NULL, "
                      "phase VARCHAR(8) NOT NULL")
    conn = connect(s.port)

    def write(c, phase):
        with c.cursor() as cur:
            cur.execute(f"INSERT INTO `{table}` (node, phase) VALUES (@@wsrep_node_name, %s)",
                        (phase,))

    mark = s.log_size()
    try:
        for _ in range(5):
            write(conn, "before")
        old = current_writer(s)
        assert old == "node1"
        mark = s.log_size()
        galera.kill(0)
        new = s.wait_log(r"cluster galera: writer is (node\d+), was node1\b", timeout=30,
                         after=mark).group(1)
        try:
            write(conn, "during")  # waits for Galera's eviction of node1
        except pymysql.MySQLError as e:
            raise AssertionError(f"write after the failover: {err_tuple(e)}"
                                 f"{evidence(s, mark)}") from e
        restart_and_wait_up(galera, s, 0, mark)
    finally:
        if not galera.is_running(0):  # failed above: leave the cluster whole anyway
            galera.restart(0)
    up = s.wait_log(up_re("node1"), timeout=5, after=mark)
    t_up = time.monotonic()

    commits0 = local_commits(galera)
    other = connect(s.port)
    try:
        n = 0
        for n in range(1, 10_001):
            write(conn if n % 2 else other, "after")
            if n >= 40 and time.monotonic() >= t_up + 2.0:
                break
    finally:
        other.close()
        conn.close()
    commits1 = local_commits(galera)
    delta = {galera.node_name(i): commits1[i] - commits0[i] for i in commits1}

    rows = rows_on(galera, node_index(new), table, "phase, node")
    by_phase = {}
    for phase, node in rows:
        by_phase.setdefault(phase, []).append(node)
    print(f"\nwriter {new} after killing node1; rows per phase and node: "
          f"{ {p: {x: v.count(x) for x in set(v)} for p, v in by_phase.items()} }; "
          f"wsrep_local_commits deltas after node1 returned: {delta}")
    assert set(by_phase["before"]) == {"node1"}
    assert set(by_phase["during"]) == {new}
    switches = failover_lines(s, mark)
    assert "node1" not in by_phase["after"] and delta["node1"] == 0, \
        f"node1 took writes again after it returned (failback: false): {delta}\n" + \
        "\n".join(switches)
    # Sticky also means no other switch: the writer that took over keeps the role.
    assert set(by_phase["after"]) == {new}, \
        f"writes after node1 returned ran on " \
        f"{ {x: by_phase['after'].count(x) for x in set(by_phase['after'])} }, " \
        f"want only {new}{evidence(s, mark)}"
    assert delta[new] >= n, delta
    later = [ln for ln in s.log()[up.start():].splitlines() if WRITER_RE.search(ln)]
    assert not later, f"writer changed after node1 came back: {later}"


# ---- 5. a rejoining node gets reads only once it is Synced -----------------------------------

def test_reads_stay_clean_while_a_node_rejoins(galera, proxy, new_table):
    """Beyond the issue's list: DESIGN.md says a Galera node serves only when Synced (state 4,
    wsrep_ready ON, Primary).  Read loops keep running while a killed reader restarts and
    catches up (IST); no client may see an error (such as 1047 from a joining node) and the
    node gets reads again once it is back."""
    s = proxy
    table = new_table("id INT PRIMARY KEY", "SELECT seq FROM seq_1_to_100")
    writer = current_writer(s)
    victim = max(i for i in range(3) if galera.node_name(i) != writer)
    vname = galera.node_name(victim)
    clients = [Reader(k + 1, s.port, table, 100) for k in range(4)]
    mark = s.log_size()
    galera.kill(victim)
    stop, threads = start_threads(clients, lambda c: c.loop)
    try:
        down = s.wait_log(down_re(vname), timeout=30, after=mark)
        t_restart = time.monotonic()
        galera.restart(victim)
        t_synced = time.monotonic()
        wait_whole(galera)
        s.wait_log(up_re(vname), timeout=30, after=down.end())
        wait_until(lambda: any(n == vname for c in clients for (t0, _, n) in c.reads
                               if t0 > t_synced) or any(c.broken for c in clients), 30,
                   f"reads reach {vname} again", lambda: evidence(s, mark))
    finally:
        stop_threads(stop, threads)
        for c in clients:
            c.conn.close()
        if not galera.is_running(victim):  # failed above: leave the cluster whole anyway
            galera.restart(victim)
    during = [e for c in clients for e in c.errors]
    print(f"\nrestart of {vname} took {t_synced - t_restart:.1f} s; "
          f"{sum(len(c.reads) for c in clients)} reads, {len(during)} errors")
    assert not during, f"client-visible errors while {vname} rejoined:\n" \
                       f"{error_report(clients)}{evidence(s, mark)}"


# ---- 2b. prepared statement reads survive a reader's death ------------------------------------

PS_SECONDS = 14      # each client runs this long; the reader dies after KILL_AFTER
KILL_AFTER = 6.0

PHP_PDO_READS = r"""
$pdo = new PDO("mysql:host=$argv[1];port=$argv[2];dbname=$argv[3]", $argv[4], $argv[5],
               [PDO::ATTR_EMULATE_PREPARES => false, PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
// Galera's auto_increment_increment spreads sysbench's ids: take the next one.
$st = $pdo->prepare("SELECT id, @@wsrep_node_name FROM sbtest1 WHERE id >= ? ORDER BY id LIMIT 1");
$end = microtime(true) + (float)$argv[6];
$ok = 0; $errors = 0; $nodes = [];
while (microtime(true) < $end) {
    try {
        $st->execute([mt_rand(1, 900)]);
        $row = $st->fetch(PDO::FETCH_NUM);
        $st->closeCursor();
        if ($row === false) { $errors++; continue; }
        $nodes[$row[1]] = ($nodes[$row[1]] ?? 0) + 1;
        $ok++;
    } catch (PDOException $e) {
        $errors++;
        fwrite(STDERR, $e->getMessage() . "\n");
    }
}
ksort($nodes);
echo "ok $ok errors $errors " . json_encode($nodes) . "\n";
"""


def _sysbench_ps(port: int, command: str, *extra: str, timeout: float):
    cmd = ["sysbench", "oltp_point_select", "--db-driver=mysql", f"--mysql-host={HOST}",
           f"--mysql-port={port}", f"--mysql-user={USER}", f"--mysql-password={PASSWORD}",
           f"--mysql-db={DB}", "--tables=1", "--table-size=1000", "--mysql-ignore-errors=none",
           *extra, command]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) \
        if command == "run" else subprocess.run(cmd, capture_output=True, text=True,
                                                timeout=timeout)


@pytest.fixture
def sbtable(galera):
    """sysbench's sbtest1 (1000 rows), made on node1 directly and present on every node."""
    port = galera.sql_port(0)
    r = _sysbench_ps(port, "cleanup", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _sysbench_ps(port, "prepare", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for i in range(3):
        conn = galera.connect(i, autocommit=True, database=DB)
        try:
            wait_until(lambda: _count(conn) == 1000, 60, f"sbtest1 on {galera.node_name(i)}")
        finally:
            conn.close()
    yield
    _sysbench_ps(port, "cleanup", timeout=120)


def _count(conn) -> int:
    """sbtest1's rows as the node sees them; -1 while a read of it is aborted because the
    node is applying sysbench's replicated writes (Galera's brute-force abort, 1213): ask
    again."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM sbtest1")
            return cur.fetchone()[0]
    except pymysql.err.OperationalError as e:
        if e.args[0] != 1213:
            raise
        return -1


def test_prepared_reads_survive_reader_kill(galera, proxy, sbtable):
    """sysbench oltp_point_select with server-side prepared statements (4 threads) and PHP PDO
    with native prepares (2 processes) run through sluice; a reader is SIGKILLed after 6 s.
    A COM_STMT_EXECUTE read that lost its reader before any byte of its answer reached the
    client is prepared on another reader and sent there: 0 errors for every client."""
    s = proxy
    writer = current_writer(s)
    victim = max(i for i in range(3) if galera.node_name(i) != writer)
    vname = galera.node_name(victim)
    mark = s.log_size()
    try:
        sb = _sysbench_ps(s.port, "run", "--threads=4", f"--time={PS_SECONDS}",
                          "--db-ps-mode=auto", "--report-interval=1", timeout=0)
        php = [subprocess.Popen(["php", "-r", PHP_PDO_READS, "--", HOST, str(s.port), DB, USER,
                                 PASSWORD, str(PS_SECONDS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
        time.sleep(KILL_AFTER)  # the load runs for PS_SECONDS; the kill lands in its middle
        galera.kill(victim)
        sb_out, _ = sb.communicate(timeout=PS_SECONDS + 60)
        php_out = [p.communicate(timeout=PS_SECONDS + 60) for p in php]
        retried = s.log()[mark:].count("retrying the read on another node")
        print(f"\nsysbench:\n{sb_out[-1200:]}\nphp: {[o for o, _ in php_out]}\n"
              f"sluice retried {retried} read(s) after killing {vname}")
        assert sb.returncode == 0, f"sysbench exit {sb.returncode}:\n{sb_out}{evidence(s, mark)}"
        m = re.search(r"ignored errors:\s+(\d+)", sb_out)
        assert m and int(m.group(1)) == 0, sb_out
        assert re.search(r"queries:\s+[1-9]\d*", sb_out), sb_out
        for (out, err), p in zip(php_out, php):
            assert p.returncode == 0, err
            m = re.match(r"ok (\d+) errors (\d+)", out)
            assert m and int(m.group(1)) > 0 and int(m.group(2)) == 0, \
                f"php: {out}{err}{evidence(s, mark)}"
        assert retried > 0, "no read was in flight on the dead reader" + evidence(s, mark)
    finally:
        if not galera.is_running(victim):
            restart_and_wait_up(galera, s, victim, mark)


# ---- 5. a stalled writer is not a dead writer -------------------------------------------------

FREEZE_SECONDS = 1.5
FREEZES = 3


def freeze(galera, idx: int, seconds: float) -> None:
    """SIGSTOP node idx's mariadbd for ``seconds``, then SIGCONT (always)."""
    pid = galera.pid(idx)
    assert pid, f"{galera.node_name(idx)} has no pid"
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def stalls_ended(log: str) -> bool:
    """Every stalled writer the monitor logged as kept has answered again since."""
    return (len(re.findall(r"writer \S+ \(cluster \S+\) has not answered", log))
            == len(re.findall(r"writer \S+ \(cluster \S+\) answers again after", log)))


def test_frozen_writer_is_not_replaced(galera, proxy, new_table):
    """The writer is frozen (SIGSTOP) for 1.5 s, three times, each once the monitor has seen it
    answer again, while 4 connections insert through sluice with the default monitor settings
    (interval 250 ms, timeout 500 ms, fall 2, writer_grace 3 s).  Its checks time out, but slow
    is not dead: the writer never moves, no client sees an error, every acknowledged row is
    there, and the log says why the writer was kept and when it answered again."""
    s = proxy
    table = new_table("id BIGINT PRIMARY KEY, node VARCHAR(16) NOT NULL")
    writer = current_writer(s)
    widx = node_index(writer)
    clients = [Inserter(k + 1, s.port, table) for k in range(4)]
    mark = s.log_size()
    try:
        stop, threads = start_threads(clients, lambda c: c.loop)
        try:
            wait_until(lambda: all(len(c.acks) >= 20 for c in clients)
                       or any(c.errors for c in clients), 60, "20 inserts per client",
                       lambda: error_report(clients) + evidence(s))
            for n in range(FREEZES):
                before = [len(c.acks) for c in clients]
                freeze(galera, widx, FREEZE_SECONDS)
                # The clients go on after the thaw before the next freeze.
                wait_until(lambda: all(len(c.acks) > b + 10 for c, b in zip(clients, before))
                           or any(c.errors for c in clients), 60,
                           f"inserts after thaw {n + 1}",
                           lambda: error_report(clients) + evidence(s, mark))
                # The next freeze starts a stall of its own: the monitor has seen the
                # writer answer again after every stall it logged.
                wait_until(lambda: stalls_ended(s.log()[mark:]), 30,
                           f"the monitor to see the writer answer after thaw {n + 1}",
                           lambda: evidence(s, mark))
        finally:
            stop_threads(stop, threads)
        log = s.log()[mark:]
        assert not any(c.errors for c in clients), \
            f"client errors around the freezes:\n{error_report(clients)}{evidence(s, mark)}"
        assert "failover:" not in log and current_writer(s) == writer, evidence(s, mark)
        assert not re.search(down_re(writer), log), evidence(s, mark)
        kept = re.findall(rf"writer {writer} \(cluster {CLUSTER}\) has not answered", log)
        print(f"\n{sum(len(c.acks) for c in clients)} inserts; the writer was kept through "
              f"{len(kept)} stall(s) the monitor saw")
        assert kept, "the freezes were never seen by the monitor" + evidence(s, mark)
        acked = [i for c in clients for i in c.acked_all]
        got = {r[0] for r in rows_on(galera, widx, table)}
        assert set(acked) <= got, f"{len(set(acked) - got)} acknowledged rows are missing"
    finally:
        for c in clients:
            c.conn.close()


def grace_proxy(galera, sluice, tmp_path, writer_grace: str):
    """sluice in front of a whole cluster with that writer_grace, once node1 is the writer."""
    ensure_whole(galera)
    pw = tmp_path / "monitor.pw"
    pw.write_text(MONITOR_PASSWORD + "\n")
    port = free_port()
    s = sluice(failover_config(galera, port, str(pw), writer_grace=writer_grace))
    s.port = port
    s.wait_log(rf"cluster {CLUSTER}: writer is node1\b")
    return s


def test_writer_frozen_past_grace_is_replaced(galera, sluice, tmp_path):
    """With writer_grace: 2s, a writer frozen for 5 s is first kept (its checks time out: the
    log says it stays the writer), then replaced once it has been silent for 2 s, and the DOWN
    line says so."""
    s = grace_proxy(galera, sluice, tmp_path, "2s")
    mark = s.log_size()
    freeze(galera, 0, 5.0)
    m = s.wait_log(r"node node1 \(cluster galera, [^)]*\) is DOWN after \d+ failed checks?: "
                   r"timed out after 500 ms [a-z ]+; no answer for (\d+) ms "
                   r"\(writer_grace 2000 ms\)", timeout=20, after=mark)
    assert 2000 <= int(m.group(1)) < 5000, m.group(0)
    s.wait_log(r"cluster galera: writer is node2, was node1", timeout=20, after=mark)
    assert re.search(r"writer node1 \(cluster galera\) has not answered", s.log()[mark:])
    # node1 answers again and is UP, but the writer stays node2 (failback: false).
    s.wait_log(up_re("node1"), timeout=30, after=mark)
    assert current_writer(s) == "node2", evidence(s, mark)


def test_writer_evicted_by_galera_is_replaced(galera, sluice, tmp_path):
    """With writer_grace longer than Galera's own eviction (30 s against ~11 s here), a writer
    frozen for 16 s is replaced as soon as a survivor reports the members of its primary
    component without it, and the DOWN line names that evidence; after the thaw node1 rejoins
    the cluster."""
    s = grace_proxy(galera, sluice, tmp_path, "30s")
    mark = s.log_size()
    try:
        freeze(galera, 0, 16.0)
        m = s.wait_log(r"node node1 \(cluster galera, [^)]*\) is DOWN after \d+ failed checks?: "
                       r"[^\n]*; (node[23]) lists its cluster's members without it",
                       timeout=20, after=mark)
        s.wait_log(r"cluster galera: writer is node2, was node1", timeout=20, after=mark)
        print(f"\n{m.group(0)}")
    finally:
        wait_whole(galera)
