#!/usr/bin/python3
# tests/galera.py -- start and drive a REAL three-node MariaDB Galera cluster on 127.0.0.1 for
# sluice's integration tests (session-scoped pytest fixtures) and demos.  Each node is a mariadbd
# process this module owns (Popen, by PID), configured only by its own generated cnf file, so the
# distro's /etc/mysql configuration and /var/lib/mysql are never used.  Every node also serves
# TLS to its SQL clients with a throw-away CA made at start() (plain clients still work).  See
# /work/shared/GALERA-ON-ONE-MACHINE.md for the traps this code works around.
"""Real three-node MariaDB Galera cluster on one machine, for tests.

Library use::

    cluster = GaleraCluster("/tmp/some-dir", base_port=14000)
    cluster.start()                 # node1 bootstraps, node2 and node3 join via rsync SST
    conn = cluster.connect(0)       # pymysql connection to node1 as sluice_test over TCP
    cluster.kill(2)                 # SIGKILL node3
    cluster.wait_evicted(2)         # survivors drop it from the view (~11 s)
    cluster.restart(2)              # --wsrep-recover, rejoin via IST, wait until Synced
    cluster.stop()                  # graceful, idempotent, also registered with atexit

TLS: start() makes ``basedir/tls/`` with a test CA (``cluster.tls_ca``), one server certificate
for CN=localhost, SAN IP:127.0.0.1 + DNS:localhost that all nodes share (``cluster.tls_cert``,
``cluster.tls_key``) and an unrelated CA that signed nothing (``cluster.tls_other_ca``, for
negative tests).  Nodes offer TLS but do not require it; Galera's own replication and SST
traffic stay plain.  E.g. ``cluster.connect(0, ssl={"ca": cluster.tls_ca})``.

Command line::

    /usr/bin/python3 tests/galera.py start --dir DIR [--base-port N]

Must run as root (mariadbd itself runs as the ``mysql`` user; root talks to it over the unix
socket).  Nodes are numbered 0-based in the API and named node1..nodeN.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import dataclasses
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Iterable, Sequence

import pymysql

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
RUN_AS = "mysql"
HOST = "127.0.0.1"
# A file we drop into every node directory we create: start() only ever wipes a node directory
# that carries it, so pointing --dir at the wrong place cannot destroy someone else's data.
MARKER = ".sluice-galera-node"
# The TLS directory inside basedir; carries MARKER too, for the same reason.
TLS_SUBDIR = "tls"
# Certificates are made fresh by every start(); they only need to outlive one test session.
TLS_DAYS = 30
# Polling interval for every wait in this module.  Waits are condition-driven; this is only the
# gap between two checks.
POLL = 0.25

# Relaxed group-communication timeouts.  On a loaded 2-core machine (sluice + clients + three
# mariadbd) the gcomm threads can go unscheduled for several seconds; with the default
# evs.suspect_timeout=PT5S every node then suspects the others, the cluster splits into
# non-Primary components and every query fails with error 1047 (WSREP has not yet prepared node
# for application use).  The price: a really dead node is evicted after ~11 s instead of ~5.5 s.
RELAXED_GCOMM = ("evs.keepalive_period=PT1S;evs.suspect_timeout=PT10S;"
                 "evs.inactive_timeout=PT30S;evs.install_timeout=PT15S;"
                 "gmcast.peer_timeout=PT10S")

_RECOVERED_RE = re.compile(
    r"WSREP: Recovered position:\s*([0-9a-fA-F]{8}-[0-9a-fA-F-]{27}):(-?\d+)")


class GaleraError(RuntimeError):
    """Anything that went wrong while starting, restarting or querying the cluster."""


class PortInUseError(GaleraError):
    """A port the cluster needs is already bound by some other process."""


@dataclasses.dataclass(frozen=True)
class DbUser:
    """An account created on every node, as both 'name'@'127.0.0.1' and 'name'@'localhost'.

    ``privileges`` is the text between GRANT and TO, e.g. "ALL PRIVILEGES ON *.*".
    ``grant_option`` appends WITH GRANT OPTION.
    """
    name: str
    password: str
    privileges: str
    grant_option: bool = False


# The first user is the one connect() uses by default.  With skip-name-resolve a TCP client from
# 127.0.0.1 only ever matches the '@127.0.0.1' account, a socket client only '@localhost'.
DEFAULT_USERS: tuple[DbUser, ...] = (
    DbUser("sluice_test", "sluice_test", "ALL PRIVILEGES ON *.*", grant_option=True),
    # What a health checker needs: SHOW STATUS needs nothing, PROCESS for the processlist,
    # REPLICATION CLIENT (= BINLOG MONITOR in 10.11) and SLAVE MONITOR for SHOW SLAVE STATUS.
    DbUser("monitor", "monitor_pw", "PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.*"),
    # A second application account: COM_CHANGE_USER, and KILL across users, need two.
    DbUser("sluice_other", "other_pw", "ALL PRIVILEGES ON sluice_test.*"),
)
DEFAULT_DATABASES: tuple[str, ...] = ("sluice_test",)


@dataclasses.dataclass(frozen=True)
class NodePorts:
    """The four TCP ports of one node, all bound on 127.0.0.1."""
    sql: int    # client protocol
    gcomm: int  # group communication (base_port / gmcast.listen_addr)
    ist: int    # incremental state transfer receiver (ist.recv_addr)
    sst: int    # rsync SST receiver (wsrep_sst_receive_address)


@dataclasses.dataclass(frozen=True)
class RestartResult:
    """What restart() did: the recovered position, how the node caught up, how long it took."""
    position: str | None    # "uuid:seqno" from --wsrep-recover, None if nothing usable
    state_transfer: str     # "IST", "SST" or "unknown" (read from the error log)
    recover_seconds: float  # time spent in mariadbd --wsrep-recover
    join_seconds: float     # from spawning mariadbd until Synced and cluster size restored
    evict_seconds: float    # time restart() still had to wait for the eviction (0 if done)


# ---------------------------------------------------------------------------------------------
# process helpers

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int):
    """Return a preexec_fn making the child get SIGKILL when the spawning thread dies.

    atexit does not run when the test runner is killed by a signal; this makes sure no mariadbd
    outlives us even then.  It runs after Popen has switched uid/gid (a credential change clears
    the parent-death signal, which is also why we drop to ``mysql`` ourselves instead of letting
    mariadbd do it).  Caveat: the signal fires when the *thread* that called Popen exits, so drive
    a cluster from a long-lived thread (normally the main one).
    """
    def preexec() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # parent already gone before prctl took effect
            os._exit(1)
    return preexec


def _exited(pid: int) -> bool:
    """True if child ``pid`` has exited, WITHOUT reaping it.

    Keeping the zombie keeps its PID (and so its process group id) reserved, so the following
    killpg() cannot hit an unrelated process that happens to reuse the number.
    """
    try:
        res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped
    return res is not None


def _port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port (or the wildcard address).

    SO_REUSEADDR mirrors what mariadbd and galera do, so lingering TIME_WAIT connections from a
    previous run do not count as "taken"; a listening socket still does.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _stop_distro_mariadb() -> None:
    """Stop Debian's own mariadb service if it runs; never touches /var/lib/mysql.

    It is not managed by systemd here, so ask the SysV script.  Only the service script is used:
    we do not signal a process we did not start ourselves.
    """
    running = False
    pidfile = "/run/mysqld/mysqld.pid"
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
            running = True
    except (OSError, ValueError):
        pass
    if not running and shutil.which("service"):
        r = subprocess.run(["service", "mariadb", "status"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running = r.returncode == 0
    if running:
        print("galera.py: stopping the distro mariadb service", file=sys.stderr)
        subprocess.run(["service", "mariadb", "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


# ---------------------------------------------------------------------------------------------

class GaleraCluster:
    """A Galera cluster of ``nodes`` mariadbd processes on 127.0.0.1, owned by this object.

    Node i (0-based) is ``node{i+1}``, lives in ``basedir/node{i+1}/`` (cnf, datadir, socket,
    pid file, error log) and uses SQL port base_port+10*i, gcomm P=base_port+10*i+1, IST P+1 and
    SST P+2.  All nodes serve TLS to SQL clients with the material in ``basedir/tls/``
    (attributes tls_dir, tls_ca, tls_cert, tls_key, tls_other_ca).  Nothing happens until
    start().  Not thread-safe; use from one thread.
    """

    def __init__(self, basedir: str, base_port: int = 14000, nodes: int = 3,
                 users: Sequence[DbUser] = DEFAULT_USERS,
                 databases: Sequence[str] = DEFAULT_DATABASES,
                 cluster_name: str = "sluice_test") -> None:
        """Describe the cluster; touches neither files nor processes.

        ``users[0]`` is the account connect() uses unless root=True.  ``databases`` are created
        after bootstrap and replicate like everything else.
        """
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        if not users:
            raise ValueError("need at least one user (connect() logs in as users[0])")
        self.basedir = os.path.abspath(basedir)
        self.base_port = base_port
        self.nodes = nodes
        self.users = tuple(users)
        self.databases = tuple(databases)
        self.cluster_name = cluster_name
        self._procs: list[subprocess.Popen | None] = [None] * nodes
        self._outs: list = [None] * nodes       # file objects for each mariadbd's stdout/stderr
        self._atexit_registered = False
        # Wall-clock measurements of the last operations, in seconds, for reports and tests:
        # "start", "evict", "restart" (total), "recover", "join".
        self.timings: dict[str, float] = {}
        self._killed_at: list[float | None] = [None] * nodes
        # TLS material, written by start() (paths only here).  tls_ca signed tls_cert;
        # tls_other_ca is an unrelated CA that signed nothing (a verifier given it must refuse
        # the nodes' certificate).
        self.tls_dir = os.path.join(self.basedir, TLS_SUBDIR)
        self.tls_ca = os.path.join(self.tls_dir, "ca.pem")
        self.tls_cert = os.path.join(self.tls_dir, "server.pem")
        self.tls_key = os.path.join(self.tls_dir, "server.key")
        self.tls_other_ca = os.path.join(self.tls_dir, "other-ca.pem")

    # -- naming and layout -------------------------------------------------------------------

    @property
    def node_ports(self) -> list[NodePorts]:
        """Ports of every node, index = node number."""
        return [self._ports(i) for i in range(self.nodes)]

    def _ports(self, i: int) -> NodePorts:
        self._check_index(i)
        sql = self.base_port + 10 * i
        return NodePorts(sql=sql, gcomm=sql + 1, ist=sql + 2, sst=sql + 3)

    def sql_port(self, i: int) -> int:
        """TCP port of node i's SQL listener on 127.0.0.1."""
        return self._ports(i).sql

    def node_name(self, i: int) -> str:
        """wsrep_node_name of node i: 'node1' for i=0."""
        self._check_index(i)
        return f"node{i + 1}"

    def nodes_yaml(self, indent: int = 6) -> str:
        """The items of a sluice cluster's ``nodes:`` list for this cluster, one per line:
        name, address on 127.0.0.1 and priority i + 1 (node1 is the writer)."""
        return "\n".join(
            f'{" " * indent}- {{ name: {self.node_name(i)}, address: "{HOST}:{self.sql_port(i)}", '
            f'priority: {i + 1} }}' for i in range(self.nodes))

    def node_dir(self, i: int) -> str:
        """basedir/node{i+1}: holds the cnf, error log, socket, pid file and the datadir."""
        return os.path.join(self.basedir, self.node_name(i))

    def datadir(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "data")

    def socket_path(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "mysqld.sock")

    def error_log(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "error.log")

    def cnf_path(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "my.cnf")

    def pid_file(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "mysqld.pid")

    def pid(self, i: int) -> int | None:
        """PID of node i's mariadbd if it is running, else None."""
        return self._procs[i].pid if self.is_running(i) else None

    def _check_index(self, i: int) -> None:
        if not 0 <= i < self.nodes:
            raise IndexError(f"node index {i} out of range 0..{self.nodes - 1}")

    # -- state queries -------------------------------------------------------------------------

    def is_running(self, i: int) -> bool:
        """True if the mariadbd we started for node i has not exited (says nothing about sync)."""
        self._check_index(i)
        p = self._procs[i]
        return p is not None and p.returncode is None and not _exited(p.pid)

    def running_nodes(self) -> list[int]:
        """Indexes of the nodes whose mariadbd process is alive."""
        return [i for i in range(self.nodes) if self.is_running(i)]

    def connect(self, i: int, root: bool = False, **kw) -> pymysql.connections.Connection:
        """Open a pymysql connection to node i.

        Default: TCP to 127.0.0.1:sql_port(i) as users[0] (sluice_test).  ``root=True``: root
        over node i's unix socket (socket authentication, we run as OS root).  ``kw`` is passed
        to pymysql.connect and overrides the defaults (e.g. database=, autocommit=, user=).
        """
        self._check_index(i)
        if root:
            args = dict(unix_socket=self.socket_path(i), user="root", connect_timeout=5)
        else:
            u = self.users[0]
            args = dict(host=HOST, port=self.sql_port(i), user=u.name, password=u.password,
                        connect_timeout=5)
        args.update(kw)
        return pymysql.connect(**args)

    def _status_many(self, i: int, names: Iterable[str]) -> dict[str, str]:
        """SHOW GLOBAL STATUS for several variables at once, over the root socket.

        Raises pymysql errors if the node does not answer; callers that poll treat that as
        "not ready yet".  Works even when the node is non-Primary (1047 only hits real queries).
        """
        names = list(names)
        conn = self.connect(i, root=True, connect_timeout=2, read_timeout=5)
        try:
            with conn.cursor() as cur:
                placeholders = ",".join(["%s"] * len(names))
                cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (" + placeholders + ")",
                            names)
                return {name.lower(): value for name, value in cur.fetchall()}
        finally:
            conn.close()

    def status(self, i: int, var: str) -> str | None:
        """Value of global status variable ``var`` on node i (e.g. 'wsrep_cluster_size').

        Returns None if the variable does not exist; raises GaleraError if the node does not
        answer.
        """
        try:
            return self._status_many(i, [var]).get(var.lower())
        except pymysql.MySQLError as e:
            raise GaleraError(f"{self.node_name(i)}: cannot read status {var}: {e}") from e

    def rss_bytes(self, i: int) -> int:
        """Resident set size of node i's mariadbd (0 if not running)."""
        pid = self.pid(i)
        if pid is None:
            return 0
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def tail_log(self, i: int, lines: int = 40) -> str:
        """Last ``lines`` lines of node i's error log (for error messages)."""
        return self._tail(self.error_log(i), lines)

    @staticmethod
    def _tail(path: str, lines: int) -> str:
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                data = f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"(no log at {path}: {e})"
        return "\n".join(data.splitlines()[-lines:])

    # -- files ---------------------------------------------------------------------------------

    def _cnf_text(self, i: int) -> str:
        p = self._ports(i)
        peers = ",".join(f"{HOST}:{self._ports(j).gcomm}" for j in range(self.nodes))
        provider_options = ";".join([
            f"base_host={HOST}",
            f"base_port={p.gcomm}",
            f"gmcast.listen_addr=tcp://{HOST}:{p.gcomm}",  # default listens on 0.0.0.0
            f"ist.recv_addr={HOST}:{p.ist}",
            "gcache.size=16M",
            RELAXED_GCOMM,
        ])
        return f"""\
# Generated by sluice tests/galera.py for {self.node_name(i)} of a test-only Galera cluster.
# mariadbd is started with --defaults-file=<this file>, so no other option file is read.
[mysqld]
user                     = {RUN_AS}
datadir                  = {self.datadir(i)}
socket                   = {self.socket_path(i)}
pid-file                 = {self.pid_file(i)}
log-error                = {self.error_log(i)}
port                     = {p.sql}
bind-address             = {HOST}
skip-name-resolve
# sluice's health checks connect and disconnect without logging in; with the default (100)
# 127.0.0.1 would soon be blocked for everyone.
max_connect_errors       = 1000000000
max_connections          = 300
# tests move 20 MB blobs
max_allowed_packet       = 64M
# The default (2000) makes mariadbd ask for ~32000 file descriptors, more than the hard limit
# a non-root process may raise to, which only produces a warning per start.
table_open_cache         = 400

# Galera requirements
binlog_format            = ROW
default_storage_engine   = InnoDB
innodb_autoinc_lock_mode = 2

# Small footprint: three nodes on one small machine (~110 MB each).
performance_schema       = OFF
innodb_buffer_pool_size  = 32M
# Redo log must still absorb a 20 MB blob comfortably.
innodb_log_file_size     = 48M
# Durability comes from the other nodes; skipping the fsync per commit keeps tests fast.
innodb_flush_log_at_trx_commit = 2

wsrep_on                 = ON
wsrep_provider           = {PROVIDER}
wsrep_cluster_name       = {self.cluster_name}
wsrep_cluster_address    = gcomm://{peers}
wsrep_node_name          = {self.node_name(i)}
wsrep_node_address       = {HOST}
wsrep_node_incoming_address = {HOST}:{p.sql}
wsrep_sst_method         = rsync
wsrep_sst_receive_address = {HOST}:{p.sst}
# Ports/addresses so three nodes share one host (defaults 4567/4568/4444 would collide), plus
# relaxed group-communication timeouts: on a loaded 2-core machine the gcomm threads get starved
# for seconds, and the default evs.suspect_timeout=PT5S then splits the cluster into non-Primary
# components (every query fails with error 1047).  Cost: a dead node is evicted after ~11 s.
wsrep_provider_options   = "{provider_options}"

# TLS for SQL clients (sluice's backend hop).  Offered, not required: no
# require_secure_transport, plain clients keep working.  One certificate (127.0.0.1/localhost)
# serves every node.  Galera's replication traffic stays plain (no socket.ssl options).
ssl_ca                   = {self.tls_ca}
ssl_cert                 = {self.tls_cert}
ssl_key                  = {self.tls_key}

[sst]
# wsrep_sst_rsync reads ssl-ca/ssl-cert/ssl-key from [mysqld] too, and with no ssl-mode it
# derives VERIFY_CA from them and then insists on stunnel (not installed): every SST/IST
# would abort.  Keep state transfers plain, like the rest of the replication traffic.
ssl-mode                 = DISABLED
"""

    def _prepare_dirs(self) -> None:
        """Create fresh, mysql-owned node directories; refuse to wipe foreign ones."""
        os.makedirs(self.basedir, exist_ok=True)
        # mkdtemp() makes 0700 directories; mariadbd (running as mysql) must be able to
        # traverse basedir to reach its node directory.
        st = os.stat(self.basedir)
        if st.st_mode & 0o011 != 0o011:
            os.chmod(self.basedir, (st.st_mode & 0o7777) | 0o011)
        pw = pwd.getpwnam(RUN_AS)
        for i in range(self.nodes):
            d = self.node_dir(i)
            if os.path.lexists(d):
                if os.listdir(d) and not os.path.exists(os.path.join(d, MARKER)):
                    raise GaleraError(f"{d} exists, is not empty and was not created by "
                                      f"galera.py; refusing to wipe it")
                shutil.rmtree(d)
            os.makedirs(self.datadir(i))
            with open(os.path.join(d, MARKER), "w") as f:
                f.write("node directory created by sluice tests/galera.py; wiped on start()\n")
            with open(self.cnf_path(i), "w") as f:
                f.write(self._cnf_text(i))
            for path in (d, self.datadir(i)):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o755)
            os.chmod(self.datadir(i), 0o750)
        # Every parent directory must be traversable by mysql too, or mariadbd fails with an
        # obscure "Can't change dir" message; check it up front.
        r = subprocess.run(["test", "-w", self.node_dir(0)], user=pw.pw_uid, group=pw.pw_gid,
                           extra_groups=[])
        if r.returncode != 0:
            raise GaleraError(f"user {RUN_AS} cannot write {self.node_dir(0)}: a parent of "
                              f"{self.basedir} is not traversable by {RUN_AS}")

    def _make_tls(self) -> None:
        """(Re)create basedir/tls/: a test CA, a server certificate + key it signed, and an
        unrelated CA, all with the openssl CLI.

        Server certificate: CN=localhost, subjectAltName IP:127.0.0.1 and DNS:localhost,
        extendedKeyUsage serverAuth.  The key is owned by mysql (mode 0600) so mariadbd can read
        it; the directory (0755) and the certificates (0644) are readable by everyone.
        """
        d = self.tls_dir
        if os.path.lexists(d):
            if os.listdir(d) and not os.path.exists(os.path.join(d, MARKER)):
                raise GaleraError(f"{d} exists, is not empty and was not created by "
                                  f"galera.py; refusing to wipe it")
            shutil.rmtree(d)
        os.makedirs(d)
        os.chmod(d, 0o755)
        with open(os.path.join(d, MARKER), "w") as f:
            f.write("TLS material created by sluice tests/galera.py; wiped on start()\n")

        def openssl(*args: str) -> None:
            try:
                r = subprocess.run(["openssl", *args], stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60, cwd=d)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise GaleraError(f"openssl {args[0]} failed: {e}") from None
            if r.returncode != 0:
                raise GaleraError(f"openssl {' '.join(args)} failed (exit {r.returncode}):\n"
                                  f"{r.stderr.strip()}")

        def make_ca(pem: str, key: str, cn: str) -> None:
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", str(TLS_DAYS), "-subj", f"/O=sluice tests/CN={cn}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout", key, "-out", pem)

        ca_key = os.path.join(d, "ca.key")
        make_ca(self.tls_ca, ca_key, f"sluice test CA {self.cluster_name}")
        make_ca(self.tls_other_ca, os.path.join(d, "other-ca.key"),
                "sluice unrelated test CA")
        csr = os.path.join(d, "server.csr")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
                "-subj", "/O=sluice tests/CN=localhost", "-keyout", self.tls_key, "-out", csr)
        ext = os.path.join(d, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = IP:127.0.0.1, DNS:localhost\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.tls_ca, "-CAkey", ca_key,
                "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                "-days", str(TLS_DAYS), "-sha256", "-extfile", ext, "-out", self.tls_cert)
        os.unlink(csr)
        os.unlink(ext)
        for pem in (self.tls_ca, self.tls_cert, self.tls_other_ca):
            os.chmod(pem, 0o644)
        pw = pwd.getpwnam(RUN_AS)
        os.chown(self.tls_key, pw.pw_uid, pw.pw_gid)
        os.chmod(self.tls_key, 0o600)

    def _check_ports(self, indexes: Iterable[int]) -> None:
        """Raise PortInUseError naming every taken port of the given nodes."""
        taken = []
        for i in indexes:
            p = self._ports(i)
            for kind, port in (("sql", p.sql), ("gcomm", p.gcomm), ("ist", p.ist),
                               ("sst", p.sst)):
                if not _port_free(port):
                    taken.append(f"{HOST}:{port} ({self.node_name(i)} {kind})")
        if taken:
            raise PortInUseError("ports already in use: " + ", ".join(taken) +
                                 "; pick another base port (e.g. SLUICE_TEST_BASE_PORT or "
                                 "--base-port) or stop whatever listens there")

    def _init_datadir(self, i: int, deadline: float) -> None:
        """mariadb-install-db into node i's empty datadir (only the bootstrap node needs it)."""
        cmd = [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir(i)}", f"--user={RUN_AS}",
               "--auth-root-authentication-method=socket", "--skip-test-db",
               # same InnoDB geometry as the server will use, so no redo resize on first start
               "--innodb-log-file-size=48M", "--innodb-buffer-pool-size=32M"]
        log = os.path.join(self.node_dir(i), "install-db.log")
        with open(log, "wb") as out:
            try:
                r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT,
                                   timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise GaleraError(f"mariadb-install-db for {self.node_name(i)} timed out:\n"
                                  + self._tail(log, 40)) from None
        if r.returncode != 0:
            raise GaleraError(f"mariadb-install-db for {self.node_name(i)} failed "
                              f"(exit {r.returncode}):\n" + self._tail(log, 40))

    # -- process control -----------------------------------------------------------------------

    def _popen_kwargs(self, i: int) -> dict:
        pw = pwd.getpwnam(RUN_AS)
        return dict(
            stdin=subprocess.DEVNULL,
            cwd=self.node_dir(i),
            # Run as mysql from the start (see _die_with_parent for why not via user=mysql).
            user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
            # Own session/process group: a Ctrl-C in the terminal reaches only us, and we stop
            # the nodes in order; also lets _reap() clean up SST helpers (rsync) with killpg.
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
            close_fds=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOME": self.node_dir(i)},
        )

    def _spawn(self, i: int, extra: Sequence[str] = ()) -> None:
        """Start node i's mariadbd in the background; does not wait for anything."""
        if self.is_running(i):
            raise GaleraError(f"{self.node_name(i)} is already running")
        self._close_out(i)
        out = open(os.path.join(self.node_dir(i), "mariadbd.out"), "ab")
        # --defaults-file must come first; it is the only option file mariadbd will read.
        cmd = [MARIADBD, f"--defaults-file={self.cnf_path(i)}", *extra]
        out.write(("\n=== " + time.strftime("%F %T") + " " + " ".join(cmd) + "\n").encode())
        out.flush()
        self._procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          **self._popen_kwargs(i))
        self._outs[i] = out
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _close_out(self, i: int) -> None:
        if self._outs[i] is not None:
            self._outs[i].close()
            self._outs[i] = None

    def _reap(self, i: int) -> int | None:
        """After node i's mariadbd has exited: kill leftovers of its process group, reap it.

        Leftovers are SST helpers (wsrep_sst_rsync, rsync daemon) that would otherwise keep the
        SST port bound.  The process group id is the mariadbd PID we own, and it is still held
        by the unreaped zombie, so the killpg cannot hit anyone else.  Returns the exit status.
        """
        p = self._procs[i]
        if p is None:
            return None
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        rc = p.wait()
        self._close_out(i)
        return rc

    def _wait_exit(self, i: int, timeout: float) -> bool:
        """Wait up to ``timeout`` s for node i's mariadbd to exit (not reaping); True if it did."""
        p = self._procs[i]
        end = time.monotonic() + timeout
        while True:
            if p is None or p.returncode is not None or _exited(p.pid):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def _raise_if_dead(self, i: int, what: str) -> None:
        p = self._procs[i]
        if p is not None and (p.returncode is not None or _exited(p.pid)):
            rc = self._reap(i)
            raise GaleraError(f"{self.node_name(i)}: mariadbd exited (status {rc}) while "
                              f"{what}; tail of {self.error_log(i)}:\n{self.tail_log(i)}")

    def _wait_cluster(self, members: Sequence[int], deadline: float, what: str) -> None:
        """Poll until every node in ``members`` is Synced, Primary, ready, and reports
        wsrep_cluster_size == len(members).  Raises GaleraError with the log tail of the node
        that is lagging when ``deadline`` (time.monotonic()) passes or a member process exits.
        """
        want = str(len(members))
        names = ["wsrep_local_state_comment", "wsrep_cluster_size", "wsrep_cluster_status",
                 "wsrep_ready"]
        last: dict[int, str] = {}
        while True:
            laggard = None
            for i in members:
                self._raise_if_dead(i, what)
                try:
                    st = self._status_many(i, names)
                except pymysql.MySQLError as e:
                    last[i] = f"not answering ({e.args[0] if e.args else e})"
                    laggard = i if laggard is None else laggard
                    continue
                last[i] = (f"{st.get('wsrep_local_state_comment')}, "
                           f"{st.get('wsrep_cluster_status')}, "
                           f"size {st.get('wsrep_cluster_size')}, "
                           f"ready {st.get('wsrep_ready')}")
                ok = (st.get("wsrep_local_state_comment") == "Synced"
                      and st.get("wsrep_cluster_status") == "Primary"
                      and st.get("wsrep_ready") == "ON"
                      and st.get("wsrep_cluster_size") == want)
                if not ok and laggard is None:
                    laggard = i
            if laggard is None:
                return
            if time.monotonic() >= deadline:
                states = "; ".join(f"{self.node_name(j)}: {s}" for j, s in sorted(last.items()))
                raise GaleraError(
                    f"timed out {what} ({states}); tail of {self.error_log(laggard)}:\n"
                    f"{self.tail_log(laggard)}")
            time.sleep(POLL)

    def _create_accounts(self, i: int) -> None:
        """Create users[] (both hosts) and databases[] on node i; Galera replicates the DDL."""
        conn = self.connect(i, root=True, autocommit=True)
        try:
            with conn.cursor() as cur:
                for db in self.databases:
                    cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
                for u in self.users:
                    for host in (HOST, "localhost"):
                        acct = f"'{u.name}'@'{host}'"
                        cur.execute(f"CREATE OR REPLACE USER {acct} IDENTIFIED BY %s",
                                    (u.password,))
                        cur.execute(f"GRANT {u.privileges} TO {acct}"
                                    + (" WITH GRANT OPTION" if u.grant_option else ""))
        finally:
            conn.close()

    # -- public lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 120.0, stop_distro_service: bool = True) -> float:
        """Create and start the whole cluster from nothing; return the seconds it took.

        Stops the distro's mariadb service (if running), refuses if any port is taken, wipes
        and recreates the node directories, makes fresh TLS material (see _make_tls),
        initialises node1, bootstraps it, creates the accounts, then starts the other nodes ONE
        AT A TIME (each joins by rsync SST), waiting
        after every step until all started nodes are Synced with the right cluster size.
        On any failure (deadline ``timeout`` exceeded, a mariadbd exiting early) everything is
        stopped again and GaleraError is raised with the tail of the failing node's error log.
        """
        if os.geteuid() != 0:
            raise GaleraError("galera.py must run as root (it runs mariadbd as mysql and talks "
                              "to it as root over the unix socket)")
        if self.running_nodes():
            raise GaleraError("cluster already started")
        t0 = time.monotonic()
        deadline = t0 + timeout
        if stop_distro_service:
            _stop_distro_mariadb()
        self._check_ports(range(self.nodes))
        try:
            self._prepare_dirs()
            self._make_tls()
            self._init_datadir(0, deadline)
            self._spawn(0, ["--wsrep-new-cluster"])
            self._wait_cluster([0], deadline, f"bootstrapping {self.node_name(0)}")
            self._create_accounts(0)
            for i in range(1, self.nodes):
                # One at a time: concurrent SSTs from one donor are slow and fragile here.
                self._spawn(i)
                self._wait_cluster(list(range(i + 1)), deadline,
                                   f"waiting for {self.node_name(i)} to join")
        except BaseException:
            # SIGKILL, not stop(): the data is thrown away anyway, and a node in the middle of
            # an SST ignores SIGTERM until the transfer is over (measured: 30 s+ of waiting).
            self.abort()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self.timings["start"]

    def kill(self, i: int) -> None:
        """SIGKILL node i's mariadbd (by the PID we own) and reap it.  Simulates a crash: the
        survivors only notice through the gcomm timeouts (see wait_evicted)."""
        p = self._procs[i]
        if not self.is_running(i):
            raise GaleraError(f"{self.node_name(i)} is not running")
        os.kill(p.pid, signal.SIGKILL)
        self._killed_at[i] = time.monotonic()
        self._wait_exit(i, 30)
        self._reap(i)

    def wait_evicted(self, i: int, timeout: float = 60.0) -> float:
        """Wait until every running node has dropped node i from its view.

        "Dropped" means node i's address is gone from wsrep_incoming_addresses and
        wsrep_cluster_size no longer counts it.  Returns the seconds since kill(i) (or since
        this call if node i was not killed by us).  With the relaxed timeouts this is ~11 s.
        Raises GaleraError on timeout.  Returns at once if no other node is running.
        """
        if self.is_running(i):
            raise GaleraError(f"{self.node_name(i)} is still running")
        t_call = time.monotonic()
        since = self._killed_at[i] if self._killed_at[i] is not None else t_call
        deadline = t_call + timeout
        target = f"{HOST}:{self.sql_port(i)}"
        last = {}
        while True:
            survivors = self.running_nodes()
            pending = []
            for j in survivors:
                try:
                    st = self._status_many(j, ["wsrep_incoming_addresses",
                                               "wsrep_cluster_size"])
                except pymysql.MySQLError as e:
                    last[j] = f"not answering ({e})"
                    pending.append(j)
                    continue
                addrs = [a.strip() for a in (st.get("wsrep_incoming_addresses") or "").split(",")]
                last[j] = f"size {st.get('wsrep_cluster_size')}, members {addrs}"
                if target in addrs or int(st.get("wsrep_cluster_size") or 0) > len(addrs):
                    pending.append(j)
            if not pending:
                took = time.monotonic() - since
                self.timings["evict"] = took
                return took
            if time.monotonic() >= deadline:
                raise GaleraError(f"{self.node_name(i)} not evicted after {timeout:.0f} s: " +
                                  "; ".join(f"{self.node_name(j)}: {s}" for j, s in last.items()))
            time.sleep(POLL)

    def _recover_position(self, i: int, deadline: float) -> str | None:
        """Run mariadbd --wsrep-recover on node i's datadir; return "uuid:seqno" or None.

        After SIGKILL grastate.dat says seqno -1; the real position is in InnoDB and only this
        recovery run prints it.  None means no usable position (node will need a full SST).
        """
        log = os.path.join(self.node_dir(i), "wsrep-recover.log")
        try:
            os.unlink(log)
        except FileNotFoundError:
            pass
        kw = self._popen_kwargs(i)
        cmd = [MARIADBD, f"--defaults-file={self.cnf_path(i)}", "--wsrep-recover",
               f"--log-error={log}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **kw)
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise GaleraError(f"{self.node_name(i)}: --wsrep-recover timed out:\n"
                              + self._tail(log, 40)) from None
        try:
            with open(log, errors="replace") as f:
                found = _RECOVERED_RE.findall(f.read())
        except OSError:
            found = []
        if rc != 0 or not found:
            raise GaleraError(f"{self.node_name(i)}: --wsrep-recover failed (exit {rc}) or "
                              f"printed no position:\n" + self._tail(log, 40))
        uuid, seqno = found[-1]
        if int(seqno) < 0 or uuid == "00000000-0000-0000-0000-000000000000":
            return None
        return f"{uuid}:{seqno}"

    def restart(self, i: int, timeout: float = 120.0) -> RestartResult:
        """Bring a killed node i back and wait until the cluster is whole again.

        Waits for the survivors to evict the old instance (a new one cannot join before), runs
        --wsrep-recover and starts mariadbd with --wsrep-start-position so the node catches up
        by IST instead of a full SST, then waits until every running node is Synced with
        cluster size == number of running nodes.  Raises GaleraError (with log tail) on failure
        or when ``timeout`` s are exceeded; the node is then stopped.
        """
        if self.is_running(i):
            raise GaleraError(f"{self.node_name(i)} is already running")
        if not self.running_nodes():
            # It would wait forever for a Primary component; after a full stop use start().
            raise GaleraError(f"cannot restart {self.node_name(i)}: no other node is running")
        t0 = time.monotonic()
        deadline = t0 + timeout
        evict_from = time.monotonic()
        self.wait_evicted(i, timeout=max(1.0, deadline - time.monotonic()))
        evict_wait = time.monotonic() - evict_from
        self._check_ports([i])
        t_rec = time.monotonic()
        position = self._recover_position(i, deadline)
        recover_s = time.monotonic() - t_rec
        log_offset = os.path.getsize(self.error_log(i)) if os.path.exists(self.error_log(i)) else 0
        t_join = time.monotonic()
        self._spawn(i, [f"--wsrep-start-position={position}"] if position else [])
        try:
            members = sorted(set(self.running_nodes()) | {i})
            self._wait_cluster(members, deadline, f"waiting for {self.node_name(i)} to rejoin")
        except BaseException:
            self._stop_node(i, 0)  # half-joined: do not wait for a graceful exit
            raise
        join_s = time.monotonic() - t_join
        self._killed_at[i] = None
        self.timings.update(restart=time.monotonic() - t0, recover=recover_s, join=join_s)
        return RestartResult(position=position, state_transfer=self._transfer_kind(i, log_offset),
                             recover_seconds=recover_s, join_seconds=join_s,
                             evict_seconds=evict_wait)

    def _transfer_kind(self, i: int, offset: int) -> str:
        """How node i caught up since error-log ``offset``: 'SST', 'IST' or 'unknown'."""
        try:
            with open(self.error_log(i), "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "unknown"
        # MariaDB runs the SST script on every join, even when the donor then only sends an IST,
        # and logs "SST received" either way; a full SST is also followed by an "IST received".
        # The script's own verdict is the reliable signal.
        m = re.search(r"WSREP_SST: \[INFO\] \S+ (SST|IST) completed on joiner", text)
        if m:
            return m.group(1)
        if re.search(r"Receiving IST: \d+ writesets", text):
            return "IST"
        return "unknown"

    def _stop_node(self, i: int, timeout: float) -> None:
        """SIGTERM node i, wait up to ``timeout`` s, then SIGKILL; always reaps.
        ``timeout`` 0 means SIGKILL straight away."""
        p = self._procs[i]
        if p is None:
            return
        if p.returncode is None and not _exited(p.pid):
            if timeout > 0:
                os.kill(p.pid, signal.SIGTERM)  # alive and unreaped, so the PID is still ours
            if timeout <= 0 or not self._wait_exit(i, timeout):
                os.kill(p.pid, signal.SIGKILL)
                self._wait_exit(i, 30)
        self._reap(i)
        self._procs[i] = None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every node gracefully (SIGTERM by PID, bounded wait, then SIGKILL).

        Idempotent and safe to call at any time (also runs from atexit).  Nodes are stopped one
        after the other, highest first, so each shutdown is an orderly leave of a healthy
        cluster.  Never leaves a process of ours behind.
        """
        for i in reversed(range(self.nodes)):
            try:
                self._stop_node(i, timeout)
            except Exception as e:  # keep going: the other nodes must be stopped too
                print(f"galera.py: stopping {self.node_name(i)}: {e}", file=sys.stderr)

    def abort(self) -> None:
        """SIGKILL every node at once and reap them: fast cleanup when the data does not
        matter (failed start).  Idempotent."""
        for i in range(self.nodes):
            try:
                self._stop_node(i, 0)
            except Exception as e:
                print(f"galera.py: killing {self.node_name(i)}: {e}", file=sys.stderr)

    def __enter__(self) -> "GaleraCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# command line

class _StopRequested(Exception):
    pass


def _raise_stop(signum, frame):
    raise _StopRequested(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; see --help."""
    ap = argparse.ArgumentParser(
        prog="galera.py",
        description="Run a real MariaDB Galera cluster on 127.0.0.1 for sluice tests and demos.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser(
        "start", help="start the cluster and keep it running until SIGINT/SIGTERM",
        description="Start the cluster, print one 'nodeN 127.0.0.1:PORT Synced' line per node, "
                    "then stay in the foreground until SIGINT/SIGTERM and stop it cleanly.")
    sp.add_argument("--dir", required=True,
                    help="base directory; node directories node1.. are (re)created inside it")
    sp.add_argument("--base-port", type=int, default=14000,
                    help="SQL port of node1 (node i: +10*i; gcomm/IST/SST: +1/+2/+3); "
                         "default 14000")
    sp.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    sp.add_argument("--timeout", type=float, default=120.0,
                    help="seconds allowed for the whole start (default 120)")
    args = ap.parse_args(argv)

    cluster = GaleraCluster(args.dir, base_port=args.base_port, nodes=args.nodes)
    # Signals become an exception so that a Ctrl-C during start() also stops what was started.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        took = cluster.start(timeout=args.timeout)
        for i in range(cluster.nodes):
            print(f"{cluster.node_name(i)} {HOST}:{cluster.sql_port(i)} "
                  f"{cluster.status(i, 'wsrep_local_state_comment')}")
        sys.stdout.flush()
        print(f"galera.py: cluster up in {took:.1f} s, data in {cluster.basedir}; "
              f"SIGINT/SIGTERM stops it", file=sys.stderr)
        reported = set()
        while True:
            time.sleep(1)
            for i in range(cluster.nodes):
                if i not in reported and not cluster.is_running(i):
                    reported.add(i)
                    print(f"galera.py: {cluster.node_name(i)} exited unexpectedly; see "
                          f"{cluster.error_log(i)}", file=sys.stderr)
    except _StopRequested:
        pass
    except GaleraError as e:
        print(f"galera.py: {e}", file=sys.stderr)
        return 1
    finally:
        # Ignore further signals while shutting down so a second Ctrl-C cannot orphan nodes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
    print("galera.py: cluster stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
