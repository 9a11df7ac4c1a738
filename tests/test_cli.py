# tests/test_cli.py -- the sluice command line and `--check` against real files: every example
# in conf/, the configuration written in DESIGN.md, and a file with five different mistakes
# that must produce five FILE:LINE:COL errors in one run.
import os
import re
import subprocess

import pytest

from sluice_proc import REPO, sluice_binary

CONF_ENV = {"SLUICE_MONITOR_PASSWORD": "monitor-pw", "SLUICE_REPORTING_PASSWORD": "report-pw"}


def run(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sluice_binary(), *args], capture_output=True, text=True,
                          env=full_env, timeout=30)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and re.match(r"sluice \d+\.\d+\.\d+", r.stdout)
    r = run("--help")
    assert r.returncode == 0
    for opt in ("--config", "--check", "--list-keys", "--version", "--help"):
        assert opt in r.stdout


def test_usage_errors_exit_2():
    assert run().returncode == 2                       # no -c
    assert run("--bogus").returncode == 2
    assert run("-c", "x.yaml", "extra").returncode == 2


def test_missing_file_is_reported():
    r = run("--check", "-c", "/nonexistent/sluice.yaml")
    assert r.returncode == 1
    assert "/nonexistent/sluice.yaml:0:0: cannot open the configuration" in r.stderr


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(REPO, "conf"))
                                        if f.endswith((".yaml", ".yml"))))
def test_every_conf_example_is_valid(name):
    r = run("--check", "-c", os.path.join(REPO, "conf", name), env=CONF_ENV)
    assert r.returncode == 0, r.stderr
    assert "configuration is valid" in r.stdout


DESIGN_CONFIG = """\
listeners:
  - name: app
    bind: "0.0.0.0:3306"
    mode: mysql
    cluster: main
    tls: { cert: {dir}/server.pem, key: {dir}/server.key }   # optional
  - { name: ro,  bind: "0.0.0.0:3307", mode: tcp, cluster: main, route: readers }
clusters:
  - name: main
    type: galera            # galera | group_replication | replication | static
    monitor: { user: monitor, password_file: {dir}/monitor.pw, interval: 250ms }
    nodes:
      - { name: db1, address: "10.0.0.11:3306", priority: 1 }
      - { name: db2, address: "10.0.0.12:3306" }
      - { name: db3, address: "10.0.0.13:3306" }
users:
  - { name: app, password_hash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19" }
  - { name: reporting, password_file: {dir}/reporting.pw }   # plaintext: any backend plugin
stats: { bind: "0.0.0.0:8404", admin_user: admin, admin_password_file: {dir}/admin.pw }
"""


def test_design_config_is_valid(tmp_path):
    """The configuration DESIGN.md shows, with its files created where it expects them."""
    for f in ("server.pem", "server.key", "monitor.pw", "reporting.pw", "admin.pw"):
        (tmp_path / f).write_text("secret\n")
    path = tmp_path / "sluice.yaml"
    path.write_text(DESIGN_CONFIG.replace("{dir}", str(tmp_path)))
    r = run("--check", "-c", str(path))
    assert r.returncode == 0, r.stderr
    assert "3 listener" not in r.stdout and "2 listener(s), 1 cluster(s), 2 user(s)" in r.stdout


FIVE_MISTAKES = """\
listeners:
  - name: ro
    bind: "127.0.0.1:70000"
    mode: tcp
    cluster: mian
    route: reader
clusters:
  - name: main
    monitor: { interval: soon }
    nodes:
      - { name: db1, address: "127.0.0.1:3306" }
      - { name: db2, address: "127.0.0.1:3307", wieght: 2 }
"""


def test_five_mistakes_five_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(FIVE_MISTAKES)
    r = run("--check", "-c", str(path))
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith(str(path) + ":")]
    p = str(path)
    assert errors == [
        f"{p}:3:11: listeners[0].bind: bad address '127.0.0.1:70000': port '70000' is not in 1-65535",
        f"{p}:5:14: listeners[0]: no cluster named 'mian' (did you mean 'main'?)",
        f"{p}:6:12: listeners[0].route: unknown value 'reader' (did you mean 'readers'?); one of: primary, readers",
        f"{p}:9:26: clusters[0].monitor.interval: 'soon' is not a duration such as 250ms or 2s",
        f"{p}:12:49: clusters[0].nodes[1]: unknown key 'wieght' (did you mean 'weight'?)",
    ], r.stderr
    assert r.stderr.rstrip().endswith("5 errors in " + p)


def test_bad_certificate_stops_the_start(tmp_path):
    """A tls: file that exists but is no certificate passes --check (which only checks that it
    is readable) and must stop the daemon at start with a message naming the file, instead of
    failing every TLS client later."""
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    path = tmp_path / "tls.yaml"
    path.write_text("""\
listeners:
  - { name: app, bind: "127.0.0.1:1", mode: mysql, cluster: c,
      tls: { cert: cert.pem, key: key.pem } }
clusters:
  - { name: c, nodes: [ { name: n1, address: "127.0.0.1:2" } ] }
users:
  - { name: app, password_hash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19" }
""")
    assert run("--check", "-c", str(path)).returncode == 0
    r = run("-c", str(path))
    assert r.returncode == 1
    assert f"listener app: cannot load certificate '{tmp_path}/cert.pem'" in r.stderr, r.stderr


def test_bind_conflict_names_the_config_line(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        path = tmp_path / "busy.yaml"
        path.write_text(f"""\
listeners:
  - name: ro
    bind: "127.0.0.1:{port}"
    mode: tcp
    cluster: c
clusters:
  - {{ name: c, nodes: [ {{ name: n1, address: "127.0.0.1:2" }} ] }}
""")
        r = run("-c", str(path))
    assert r.returncode == 1
    assert f"{path}:3:11: listener ro: cannot bind 127.0.0.1:{port}: Address already in use" \
        in r.stderr
