# tests/test_reload.py -- SIGHUP against the real Galera cluster: a valid file applies users,
# weights, primary_reads/causal_reads, monitor settings and logging at once, open sessions
# included; a change that needs a restart and an invalid file change nothing, and the log says
# where (FILE:LINE:COL) and why; the service manager hears RELOADING=1 then READY=1; sysbench
# through sluice across 20 reloads sees 0 errors. Sessions are checked with PyMySQL, mysqlclient
# (MySQLdb) and the mariadb CLI.
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import MySQLdb
import pymysql
import pytest

from sluice_proc import free_port, sluice_binary
from sluice_config import HOST, OTHER_HASH, USER_HASH, galera_nodes, listener, sluice_yaml






def config(galera, port, tmp_path, *, weights=(1, 1, 1), primary_reads=False,
           causal_reads="session", users=("sluice_test",), level="info", interval="250ms",
           bind_port=None, extra_node=False, max_connections=10000):
    """The file as the tests rewrite it; every parameter is a reloadable key except bind_port
    and extra_node."""
    nodes = galera_nodes(galera)
    for n, w in zip(nodes, weights):
        n["weight"] = w
    if extra_node:
        nodes.append({"name": "node9", "address": f'"{HOST}:{free_port()}"'})
    hashes = {"sluice_test": USER_HASH, "sluice_other": OTHER_HASH}
    (tmp_path / "monitor.pw").write_text("monitor_pw\n")
    return sluice_yaml(
        [listener("app", bind_port or port, primary_reads=primary_reads,
                  causal_reads=causal_reads, max_connections=max_connections)],
        nodes, workers=None,
        monitor={"user": "monitor", "password_file": f"{tmp_path}/monitor.pw",
                 "interval": interval},
        users=[{"name": u, "password_hash": f'"{hashes[u]}"'} for u in users],
        logging={"level": level})


def rewrite(s, text):
    """Replace the daemon's file the way an editor would (a new file renamed over it)."""
    tmp = s.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, s.config_path)


def reload(s, expect):
    """SIGHUP and wait for the log line that ends this reload (expect: a regex)."""
    at = s.log_size()
    os.kill(s.pid, signal.SIGHUP)
    return s.wait_log(expect, after=at)


def node_of(conn) -> str:
    cur = conn.cursor()
    cur.execute("SELECT @@wsrep_node_name")
    return cur.fetchone()[0]


def reads(conn, n=12) -> set[str]:
    return {node_of(conn) for _ in range(n)}


def connect(port, user="sluice_test", password="sluice_test"):
    return pymysql.connect(host=HOST, port=port, user=user, password=password,
                           database="sluice_test", connect_timeout=5, autocommit=True)


def test_reload_applies_to_open_sessions(galera, sluice, tmp_path):
    port = free_port()
    s = sluice(config(galera, port, tmp_path))
    py = connect(port)
    my = MySQLdb.connect(host=HOST, port=port, user="sluice_test", passwd="sluice_test",
                         db="sluice_test", connect_timeout=5)
    my.autocommit(True)
    try:
        assert reads(py) == {"node2", "node3"}
        assert reads(my) == {"node2", "node3"}
        with pytest.raises(pymysql.err.OperationalError) as e:
            connect(port, "sluice_other", "other_pw")
        assert e.value.args[0] == 1045

        # Weights, primary_reads, a new user, debug logging, a slower monitor: all at once.
        rewrite(s, config(galera, port, tmp_path, weights=(1, 1, 0), primary_reads=True,
                          users=("sluice_test", "sluice_other"), level="debug",
                          interval="400ms"))
        reload(s, r"reload: .*: 5 changes applied; open sessions keep running")
        log = s.log()
        for line in (r"clusters\[galera\]\.nodes\[node3\]\.weight: 1 -> 0",
                     r"listeners\[app\]\.primary_reads: false -> true",
                     r"users: 1 -> 2 entries", r"logging\.level: info -> debug",
                     r"clusters\[galera\]\.monitor\.interval: 250ms -> 400ms"):
            assert re.search(r"sluice\.yaml:\d+:\d+: " + line, log), (line, log[-3000:])
        # The open sessions, not reconnected, follow the new weights and primary_reads.
        assert reads(py) == {"node1", "node2"}
        assert reads(my) == {"node1", "node2"}
        other = connect(port, "sluice_other", "other_pw")
        assert reads(other) == {"node1", "node2"}
        # The mariadb CLI, a new client: the same.
        out = subprocess.run(
            ["mariadb", f"-h{HOST}", f"-P{port}", "-usluice_other", "-pother_pw", "-N", "-e",
             "SELECT @@wsrep_node_name; SELECT @@wsrep_node_name; SELECT @@wsrep_node_name"],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert set(out.stdout.split()) <= {"node1", "node2"}, out.stdout
        assert re.search(r"debug ", s.log()), "logging.level debug did not apply"

        # Take sluice_other away again: new logins are refused, its open session goes on.
        rewrite(s, config(galera, port, tmp_path, weights=(1, 1, 0), primary_reads=True))
        reload(s, r"reload: .*: 3 changes applied")
        with pytest.raises(pymysql.err.OperationalError) as e:
            connect(port, "sluice_other", "other_pw")
        assert e.value.args[0] == 1045
        assert reads(other) <= {"node1", "node2"}
        cur = other.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS reload_t (id INT PRIMARY KEY, v INT)")
        cur.execute("REPLACE INTO reload_t VALUES (1, 42)")
        cur.execute("SELECT v FROM reload_t WHERE id = 1")  # read-your-writes after a reload
        assert cur.fetchone()[0] == 42
        cur.execute("DROP TABLE reload_t")
        other.close()

        # Back to the first file: reads leave the writer again.
        rewrite(s, config(galera, port, tmp_path))
        reload(s, r"reload: .*changes applied")
        assert reads(py) == {"node2", "node3"}
        assert reads(my) == {"node2", "node3"}
    finally:
        py.close()
        my.close()


def test_reload_refuses_changes_that_need_a_restart(galera, sluice, tmp_path):
    port, other_port = free_port(), free_port()
    s = sluice(config(galera, port, tmp_path))
    conn = connect(port)
    try:
        # A new bind address and a new node need a restart; the weight beside them must not
        # sneak in either: all or nothing.
        rewrite(s, config(galera, port, tmp_path, weights=(1, 1, 0), bind_port=other_port,
                          extra_node=True))
        reload(s, r"reload: .*: 2 changes above need a restart; nothing was changed")
        log = s.log()
        assert re.search(rf"error reload: {re.escape(s.config_path)}:2:\d+: "
                         rf"listeners\[app\]\.bind: {HOST}:{port} -> {HOST}:{other_port}: "
                         r"needs a restart", log), log[-3000:]
        assert re.search(rf"{re.escape(s.config_path)}:\d+:\d+: clusters\[galera\]\.nodes: "
                         r"3 -> 4 entries: adding or removing entries needs a restart", log)
        assert reads(conn) == {"node2", "node3"}  # node3 still has weight 1
        with pytest.raises(pymysql.err.OperationalError):
            connect(other_port)
        assert reads(connect(port)) == {"node2", "node3"}
    finally:
        conn.close()


def test_reload_invalid_file_keeps_the_old_configuration(galera, sluice, tmp_path):
    port = free_port()
    s = sluice(config(galera, port, tmp_path))
    conn = connect(port)
    try:
        good = config(galera, port, tmp_path, weights=(1, 1, 0))
        # Two mistakes in one file: a misspelt key and a bad duration. Both are reported.
        bad = good.replace("interval: 250ms", "interval: 25 0ms").replace(
            "primary_reads:", "primary_read:")
        rewrite(s, bad)
        reload(s, r"reload: 2 errors in .*: nothing was changed")
        log = s.log()
        path = re.escape(s.config_path)
        assert re.search(rf"error reload: {path}:2:\d+: .*primary_read.*did you mean "
                         r"'primary_reads'", log), log[-3000:]
        assert re.search(rf"error reload: {path}:6:\d+: .*interval", log), log[-3000:]
        assert reads(conn) == {"node2", "node3"}
        # Not YAML at all.
        rewrite(s, good.replace("clusters:", "clusters: [", 1))
        reload(s, r"reload: 1 error in .*: nothing was changed")
        assert re.search(rf"error reload: {path}:\d+:\d+: YAML syntax error", s.log())
        assert reads(conn) == {"node2", "node3"}
        # Fixed: it applies.
        rewrite(s, good)
        reload(s, r"reload: .*: 1 change applied")
        assert reads(conn) == {"node2"}
        # Unchanged file: nothing to do.
        reload(s, r"reload: .*: no changes")
    finally:
        conn.close()


def test_reload_notifies_the_service_manager(galera, tmp_path):
    """RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants) then READY=1, for a reload
    that applies and for one that is refused."""
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(30)
    port = free_port()
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(config(galera, port, tmp_path))
    log = open(tmp_path / "sluice.log", "w")
    proc = subprocess.Popen([sluice_binary(), "-c", str(cfg)], stdout=log, stderr=log,
                            env={**os.environ, "NOTIFY_SOCKET": sock_path})

    def until(pred):
        while True:
            m = server.recv(4096).decode()
            if pred(m):
                return m

    try:
        until(lambda m: "READY=1" in m)
        for text in (config(galera, port, tmp_path, weights=(1, 1, 0)), "listeners: [\n"):
            cfg.write_text(text)
            proc.send_signal(signal.SIGHUP)
            m = until(lambda m: "RELOADING=1" in m)
            assert re.search(r"^MONOTONIC_USEC=\d+$", m, re.M), m
            until(lambda m: m.strip() == "READY=1")
        conn = connect(port)
        assert reads(conn) == {"node2"}  # the first reload applied, the second did not
        conn.close()
        proc.send_signal(signal.SIGTERM)
        until(lambda m: "STOPPING=1" in m)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        server.close()


SECONDS = int(os.environ.get("SLUICE_SYSBENCH_SECONDS", "30"))


def sysbench(port, command, *extra, timeout):
    cmd = ["sysbench", "oltp_read_write", "--db-driver=mysql", f"--mysql-host={HOST}",
           f"--mysql-port={port}", "--mysql-user=sluice_test", "--mysql-password=sluice_test",
           "--mysql-db=sluice_test", "--tables=1", "--table-size=5000",
           "--mysql-ignore-errors=none", *extra, command]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_sysbench_through_20_reloads(galera, sluice, tmp_path):
    """sysbench oltp_read_write, 4 threads, while sluice reloads 20 times, alternating files
    that move reads (weights, primary_reads), switch causal_reads, add and remove a user and
    change the monitor interval: 0 errors, 0 reconnects, 20 reloads applied."""
    if not shutil.which("sysbench"):
        pytest.fail("sysbench is not installed")
    port = free_port()
    s = sluice(config(galera, port, tmp_path))
    variants = [
        config(galera, port, tmp_path, weights=(1, 1, 0), primary_reads=True,
               users=("sluice_test", "sluice_other"), interval="300ms"),
        config(galera, port, tmp_path, weights=(1, 0, 1), causal_reads="global",
               max_connections=500),
    ]
    assert sysbench(port, "cleanup", timeout=120).returncode == 0
    r = sysbench(port, "prepare", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    run_seconds = max(SECONDS, 10)
    applied = []
    stop = threading.Event()

    def reloader():
        # Spread the 20 reloads over the run, leaving its first and last second alone:
        # reload i is due at 1 + i * gap seconds; one that is late (on a loaded machine a
        # reload's log line can be slow to come) does not push the others later.
        gap = (run_seconds - 2) / 20
        start = time.monotonic()
        for i in range(20):
            time.sleep(max(0.0, start + 1 + i * gap - time.monotonic()))
            if stop.is_set():
                return
            rewrite(s, variants[i % 2])
            applied.append(reload(s, r"reload: .*(changes applied|no changes|nothing was)"))

    t = threading.Thread(target=reloader)
    try:
        t.start()
        r = sysbench(port, "run", "--threads=4", f"--time={run_seconds}", "--report-interval=0",
                     "--delete_inserts=0", "--rand-type=uniform", "--db-ps-mode=auto",
                     timeout=run_seconds + 180)
    finally:
        stop.set()
        t.join(120)
        sysbench(port, "cleanup", timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "FATAL" not in out, out
    assert int(re.search(r"ignored errors:\s+(\d+)", out).group(1)) == 0, out
    assert int(re.search(r"reconnects:\s+(\d+)", out).group(1)) == 0, out
    assert len(applied) == 20
    assert all("changes applied" in m.group(0) for m in applied), [m.group(0) for m in applied]
