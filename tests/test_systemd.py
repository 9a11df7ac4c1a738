# tests/test_systemd.py -- the service unit and the readiness protocol: systemd-analyze rates the
# unit's sandbox 2.0 or lower and verifies it, and a daemon started with a NOTIFY_SOCKET the test
# owns says READY=1 (with MAINPID) only once it serves, then STATUS= with the writer and
# STOPPING=1 on SIGTERM.
import os
import re
import shutil
import signal
import socket
import subprocess

import pymysql

from sluice_proc import free_port
from sluice_config import HOST, USER_HASH

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIT = os.path.join(REPO, "systemd", "sluice.service")


def test_unit_sandbox_exposure_is_low():
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian's systemd) is missing"
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", UNIT],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for sluice\.service: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_verifies(tmp_path):
    """systemd-analyze verify, with ExecStart pointing at the built daemon and the man pages
    the unit names findable (they are installed by meson install)."""
    exe = os.environ.get("SLUICE_BIN", os.path.join(REPO, "build", "src", "sluice"))
    unit = tmp_path / "sluice.service"
    unit.write_text(open(UNIT).read().replace("/usr/sbin/sluice", os.path.abspath(exe)))
    for section, page in (("man8", "sluice.8"), ("man5", "sluice.yaml.5")):
        (tmp_path / "man" / section).mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(REPO, "man", page), tmp_path / "man" / section / page)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "MANPATH": str(tmp_path / "man")})
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


def test_notify_ready_status_stopping(galera, tmp_path):
    """READY=1 comes after the listener serves (the first verdicts are in); STATUS= names the
    writer; SIGTERM sends STOPPING=1 before the daemon exits 0."""
    from sluice_proc import sluice_binary
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(30)
    port = free_port()
    (tmp_path / "monitor.pw").write_text("monitor_pw\n")
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(f"""\
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_file: {tmp_path}/monitor.pw }}
    nodes:
{galera.nodes_yaml()}
users:
  - {{ name: sluice_test, password_hash: "{USER_HASH}" }}
""")
    log = open(tmp_path / "sluice.log", "w")
    proc = subprocess.Popen([sluice_binary(), "-c", str(cfg)], stdout=log, stderr=log,
                            env={**os.environ, "NOTIFY_SOCKET": sock_path})
    messages = []
    try:
        while not any("READY=1" in m for m in messages):
            messages.append(server.recv(4096).decode())
        ready = next(m for m in messages if "READY=1" in m)
        assert f"MAINPID={proc.pid}" in ready, ready
        # Ready means serving.
        conn = pymysql.connect(host=HOST, port=port, user="sluice_test", password="sluice_test",
                               connect_timeout=5)
        conn.close()
        # STATUS= follows the monitor's published states (the first round may land just
        # after READY=1).
        want = re.compile(r"^STATUS=galera: writer node1, 3/3 nodes up$")
        while not any(want.match(m) for m in messages):
            messages.append(server.recv(4096).decode())
        proc.send_signal(signal.SIGTERM)
        while not any("STOPPING=1" in m for m in messages):
            messages.append(server.recv(4096).decode())
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        server.close()
