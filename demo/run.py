#!/usr/bin/python3
# demo/run.py -- the quick-start demo: a real three-node MariaDB Galera cluster on 127.0.0.1
# (tests/galera.py), sluice in front of it with a read-write and a read-only port, and a
# printout of how to connect. Stays in the foreground; Ctrl-C stops sluice and the cluster.
"""Start the sluice demo. Run through scripts/demo.sh, which installs and builds first."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from galera import GaleraCluster  # noqa: E402

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
  - {{ name: sluice_test, password_hash: "*22BDAA0F198FAC9AE76BB203D3E7F8C5BEC0C8FE" }}
stats: {{ bind: "127.0.0.1:{stats}", admin_user: admin, admin_password_file: admin.pw }}
logging: {{ level: info }}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base-port", type=int, default=14000,
                    help="SQL port of node1; node2 and node3 use +10 and +20 (default 14000)")
    ap.add_argument("--rw-port", type=int, default=3307, help="sluice read-write port")
    ap.add_argument("--ro-port", type=int, default=3308, help="sluice read-only port")
    ap.add_argument("--app-port", type=int, default=3309, help="sluice MySQL-protocol port")
    ap.add_argument("--stats-port", type=int, default=8404,
                    help="sluice's dashboard and metrics port (stats.bind, default 8404)")
    ap.add_argument("--dir", help="working directory (default: a new temporary one)")
    args = ap.parse_args()

    workdir = args.dir or tempfile.mkdtemp(prefix="sluice-demo-")
    os.chmod(workdir, 0o755)  # mariadbd runs as mysql and must reach its datadir below
    cluster = GaleraCluster(os.path.join(workdir, "galera"), base_port=args.base_port)
    sluice = None
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"Starting a three-node Galera cluster in {workdir} (about 30 s)...", flush=True)
        took = cluster.start()
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
            f.write(CONFIG.format(rw=args.rw_port, ro=args.ro_port, app=args.app_port, nodes=nodes,
                                  stats=args.stats_port))
        sluice = subprocess.Popen([os.path.join(REPO, "build", "src", "sluice"), "-c", cfg_path])
        u = cluster.users[0]
        print(f"""
sluice is running with {cfg_path}
  Dashboard:                http://127.0.0.1:{args.stats_port}/  (admin actions: admin / {admin_pw})
  Metrics:                  http://127.0.0.1:{args.stats_port}/metrics
  MySQL protocol (split):   mariadb -h127.0.0.1 -P{args.app_port} -u{u.name} -p{u.password}
  read-write (writer):      mariadb -h127.0.0.1 -P{args.rw_port} -u{u.name} -p{u.password}
  read-only (round-robin):  mariadb -h127.0.0.1 -P{args.ro_port} -u{u.name} -p{u.password}
Try:  mariadb -h127.0.0.1 -P{args.ro_port} -u{u.name} -p{u.password} -e 'SELECT @@wsrep_node_name'
      (run it a few times: each new connection lands on the next node)
      mariadb -h127.0.0.1 -P{args.app_port} -u{u.name} -p{u.password} -e 'SELECT @@wsrep_node_name; SELECT @@wsrep_node_name'
      (through the MySQL port every read goes to the next reader)
Drain a node: {os.path.join(REPO, "build", "src", "sluice")} -c {cfg_path} --set-state demo/node2=drain
Nodes directly: {', '.join(f'{cluster.node_name(i)}=127.0.0.1:{cluster.sql_port(i)}' for i in range(3))}
Press Ctrl-C to stop sluice and the cluster.
""", flush=True)
        while not stop["now"]:
            if sluice.poll() is not None and not stop["now"]:
                print(f"sluice exited with status {sluice.returncode}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        print("Stopping...", flush=True)
        if sluice is not None and sluice.poll() is None:
            sluice.send_signal(signal.SIGTERM)
            try:
                sluice.wait(15)
            except subprocess.TimeoutExpired:
                sluice.kill()
                sluice.wait()
        cluster.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
