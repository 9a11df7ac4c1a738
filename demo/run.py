#!/usr/bin/python3
# demo/run.py -- the quick-start demo: a real three-node MariaDB Galera cluster on 127.0.0.1
# (tests/galera.py), sluice in front of it with a MySQL-protocol port, a read-write and a
# read-only port and its dashboard, and sluice-demo (the product catalogue web app, demo/) on
# the MySQL-protocol port.  Prints what to open and three things to try.  Stays in the
# foreground; a node killed with kill -9 is brought back once Galera has evicted it; Ctrl-C stops
# the app, sluice and the cluster.
"""Start the sluice demo. Run through scripts/demo.sh, which installs and builds first."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from galera import GaleraCluster, GaleraError, PortInUseError  # noqa: E402
from sluice_config import USER_HASH  # noqa: E402

# The binaries of ./scripts/build.sh; SLUICE_BIN and SLUICE_DEMO_BIN point elsewhere.
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(REPO, "build", "src", "sluice"))
SLUICE_DEMO = os.environ.get("SLUICE_DEMO_BIN", os.path.join(REPO, "build", "demo", "sluice-demo"))
HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # for sluice to name a writer and for the app to answer
POLL = 0.1

CONFIG = """\
# Written by demo/run.py. app speaks MySQL (sluice logs clients in itself, sends writes to
# the writer and spreads reads over the other nodes); the layer-4 listeners rw (to the
# writer) and ro (round-robin) forward bytes untouched. The monitor logs in to each node and
# checks its Galera state.
state_file: states
listeners:
  - {{ name: app, bind: "127.0.0.1:{app}", mode: mysql, cluster: demo }}
  - {{ name: rw, bind: "127.0.0.1:{rw}", mode: tcp, cluster: demo, route: primary }}
  - {{ name: ro, bind: "127.0.0.1:{ro}", mode: tcp, cluster: demo, route: readers }}
clusters:
  - name: demo
    type: galera
    monitor: {{ user: monitor, password_file: monitor.pw, interval: 250ms, timeout: 500ms,
               fall: 2, rise: 2 }}
    nodes:
{nodes}
users:
  - {{ name: sluice_test, password_hash: "{user_hash}" }}
stats: {{ bind: "127.0.0.1:{stats}", admin_user: admin, admin_password_file: admin.pw }}
logging: {{ level: info }}
"""


class Stop(Exception):
    """Ctrl-C or SIGTERM while something long (a node restart) was running."""


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def check_ports(args) -> bool:
    """Every port the demo binds must be free; say which flag moves a taken one."""
    taken = [(port, flag) for port, flag in (
        (args.app_port, "--app-port"), (args.rw_port, "--rw-port"), (args.ro_port, "--ro-port"),
        (args.stats_port, "--stats-port"), (args.demo_port, "--demo-port"))
        if not port_free(port)]
    for port, flag in taken:
        print(f"demo: port {port} ({flag}) is already in use on {HOST}: stop what uses it or "
              f"pass another {flag}", file=sys.stderr)
    return not taken


def wait_for(what: str, ready, proc: subprocess.Popen) -> None:
    """Poll ``ready()`` until it is true; fail if ``proc`` exits or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready within {START_TIMEOUT:.0f} s")
        time.sleep(POLL)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200 and b'"writer":null' not in r.read()
    except OSError:
        return False


def stop_process(proc, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        print(f"demo: {name} did not stop within 15 s; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base-port", type=int, default=14000,
                    help="SQL port of node1; node2 and node3 use +10 and +20 (default 14000)")
    ap.add_argument("--rw-port", type=int, default=3307, help="sluice read-write port")
    ap.add_argument("--ro-port", type=int, default=3308, help="sluice read-only port")
    ap.add_argument("--app-port", type=int, default=3309, help="sluice MySQL-protocol port")
    ap.add_argument("--stats-port", type=int, default=8404,
                    help="sluice's dashboard and metrics port (stats.bind, default 8404)")
    ap.add_argument("--demo-port", type=int, default=8080,
                    help="port of the web app sluice-demo (default 8080)")
    ap.add_argument("--dir", help="working directory (default: a new temporary one)")
    args = ap.parse_args()

    for binary in (SLUICE, SLUICE_DEMO):
        if not os.access(binary, os.X_OK):
            print(f"demo: {binary} is missing: build first (./scripts/build.sh)",
                  file=sys.stderr)
            return 1
    if not check_ports(args):
        return 1
    workdir = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="sluice-demo-")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)  # mariadbd runs as mysql and must reach its datadir below
    # The app's database exists from the start (and the account may create it too).
    cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port,
                            databases=("sluice_test", "demo"))
    sluice = app = None
    state = {"stop": False, "busy": False}

    def on_signal(signum, frame):
        state["stop"] = True
        if state["busy"]:
            raise Stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"Starting a three-node Galera cluster in {workdir} (about 30 s)...", flush=True)
        state["busy"] = True
        try:
            took = cluster.start()
        except PortInUseError as e:
            print(f"demo: {e} (the cluster uses --base-port {args.base_port} and up)",
                  file=sys.stderr)
            return 1
        state["busy"] = False
        print(f"Cluster Synced in {took:.1f} s.", flush=True)
        nodes = "\n".join(
            f'      - {{ name: {cluster.node_name(i)}, address: "127.0.0.1:{cluster.sql_port(i)}",'
            f' priority: {i + 1} }}' for i in range(3))
        cfg_path = os.path.join(workdir, "sluice.yaml")
        monitor = next(u for u in cluster.users if u.name == "monitor")
        pw_path = os.path.join(workdir, "monitor.pw")
        with open(pw_path, "w") as f:
            f.write(monitor.password + "\n")
        os.chmod(pw_path, 0o600)
        admin_pw = "demo-admin"
        with open(os.path.join(workdir, "admin.pw"), "w") as f:
            f.write(admin_pw + "\n")
        os.chmod(os.path.join(workdir, "admin.pw"), 0o600)
        with open(cfg_path, "w") as f:
            f.write(CONFIG.format(user_hash=USER_HASH, rw=args.rw_port, ro=args.ro_port, app=args.app_port, nodes=nodes,
                                  stats=args.stats_port))
        sluice = subprocess.Popen([SLUICE, "-c", cfg_path])
        stats_url = f"http://{HOST}:{args.stats_port}"
        wait_for("sluice", lambda: http_ok(stats_url + "/api/v1/status"), sluice)

        u = cluster.users[0]
        # The password through the environment, not the command line (ps shows that).
        app = subprocess.Popen(
            [SLUICE_DEMO, "--listen", f"{HOST}:{args.demo_port}", "--mysql-host", HOST,
             "--mysql-port", str(args.app_port), "--mysql-user", u.name, "--database", "demo",
             "--stats-url", stats_url, "--init-schema"],
            env=dict(os.environ, SLUICE_DEMO_MYSQL_PASSWORD=u.password))
        demo_url = f"http://{HOST}:{args.demo_port}/"
        wait_for("sluice-demo", lambda: http_ok(demo_url + "healthz"), app)

        print(f"""
sluice is running with {cfg_path}
  The demo web app:         {demo_url}
  Dashboard:                {stats_url}/  (admin actions: admin / {admin_pw})
  Metrics:                  {stats_url}/metrics
  MySQL protocol (split):   mariadb -h127.0.0.1 -P{args.app_port} -u{u.name} -p{u.password}
  read-write (writer):      mariadb -h127.0.0.1 -P{args.rw_port} -u{u.name} -p{u.password}
  read-only (round-robin):  mariadb -h127.0.0.1 -P{args.ro_port} -u{u.name} -p{u.password}

Three things to try in {demo_url}
  1. Reload the product list: the badge under it says which node read it, and it changes
     with every reload ("read on node2 (reader)", then node3). Create or edit a product: the
     page after it says "written on node1 (writer)" and already shows the change.
  2. Drain a node, and the reads stay on the others (=ready brings it back):
       {SLUICE} -c {cfg_path} --set-state demo/node2=drain
  3. Kill the writer's mariadbd and watch the failover on the pages and the dashboard:
       kill -9 {cluster.pid(0)}
     Pages keep working or say in words that they could not be served; writes wait while
     Galera evicts the dead node (10-20 s), then run on the new writer (node2, the next by
     priority). This script brings node1 back afterwards; the writer stays where it is
     (failback: false).

Nodes directly: {', '.join(f'{cluster.node_name(i)}=127.0.0.1:{cluster.sql_port(i)}' for i in range(3))}
Press Ctrl-C to stop the app, sluice and the cluster.
""", flush=True)
        while not state["stop"]:
            for proc, name in ((sluice, "sluice"), (app, "sluice-demo")):
                if proc.poll() is not None and not state["stop"]:
                    print(f"demo: {name} exited with status {proc.returncode}", file=sys.stderr)
                    return 1
            for i in range(cluster.nodes):
                if not cluster.is_running(i) and not state["stop"]:
                    name = cluster.node_name(i)
                    print(f"demo: {name}'s mariadbd is gone; bringing it back once Galera has "
                          f"evicted it (Ctrl-C stops everything)...", flush=True)
                    state["busy"] = True
                    try:
                        r = cluster.restart(i)
                        print(f"demo: {name} is back (evicted after {r.evict_seconds:.0f} s, "
                              f"rejoined by {r.state_transfer} in {r.join_seconds:.0f} s); "
                              f"its mariadbd is now pid {cluster.pid(i)}", flush=True)
                    except GaleraError as e:
                        print(f"demo: could not bring {name} back: {e}", file=sys.stderr)
                        return 1
                    finally:
                        state["busy"] = False
            time.sleep(0.2)
        return 0
    except Stop:
        return 0
    except RuntimeError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    finally:
        # No more interruptions: a second Ctrl-C must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping...", flush=True)
        stop_process(app, "sluice-demo")
        stop_process(sluice, "sluice")
        cluster.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
