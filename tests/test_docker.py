# tests/test_docker.py -- the compose demo in docker/, checked without a container runtime:
# docker-compose accepts compose.yaml, sluice accepts docker/sluice.yaml, the nodes' Galera
# settings are those of the test cluster (tests/galera.py), the images run unprivileged with
# health checks, the start order waits for health, the passwords agree across files, and the
# two node scripts decide right (start-node.sh on scratch datadirs, the health check on a fake
# client). Nothing here builds an image or starts a container.
import hashlib
import os
import re
import select
import shlex
import shutil
import socket
import subprocess

import pytest

from galera import DEFAULT_USERS, GaleraCluster
from sluice_proc import REPO, sluice_binary

DOCKER = os.path.join(REPO, "docker")
COMPOSE = os.path.join(DOCKER, "compose.yaml")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
SLUICE_YAML = os.path.join(DOCKER, "sluice.yaml")
GALERA_CNF = os.path.join(DOCKER, "galera", "galera.cnf")
START_NODE = os.path.join(DOCKER, "galera", "start-node.sh")
HEALTHCHECK = os.path.join(DOCKER, "galera", "healthcheck-galera.sh")
INIT_DIR = os.path.join(DOCKER, "init")
GALERA_SERVICES = ("galera1", "galera2", "galera3")
# The compose file's build targets that are images of their own.
TARGETS = ("sluice", "demo")


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _yaml(path: str):
    # PyYAML comes with docker-compose (python3-yaml); only the tests that parse YAML need it.
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose():
    return _yaml(COMPOSE)


@pytest.fixture(scope="module")
def sluice_cfg():
    return _yaml(SLUICE_YAML)


def native_password_hash(password: str) -> str:
    """What SELECT PASSWORD(password) prints: mysql_native_password's stored hash."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


# ---- the tools accept the files -------------------------------------------------------------

def _docker_compose() -> str | None:
    return shutil.which("docker-compose") or (
        "/usr/bin/docker-compose" if os.access("/usr/bin/docker-compose", os.X_OK) else None)


def test_compose_config_is_valid():
    dc = _docker_compose()
    if dc is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    r = subprocess.run([dc, "-f", COMPOSE, "config", "-q"], capture_output=True, text=True,
                       cwd=DOCKER, timeout=120)
    assert r.returncode == 0, f"docker-compose config -q failed:\n{r.stdout}{r.stderr}"
    # An unset variable without a default is only a warning, and -q hides it; here it fails.
    r = subprocess.run([dc, "-f", COMPOSE, "config"], capture_output=True, text=True,
                       cwd=DOCKER, timeout=120)
    assert r.returncode == 0 and "is not set" not in r.stderr, r.stderr


def test_sluice_check_accepts_the_demo_config(tmp_path):
    binary = sluice_binary()
    assert os.access(binary, os.X_OK), (f"no sluice binary at {binary}: build it first "
                                        f"(meson setup build && ninja -C build) or set SLUICE_BIN")
    # No environment beyond PATH and another working directory: the file must need neither
    # (secrets come from files relative to it, node addresses need no name lookup).
    r = subprocess.run([binary, "--check", "-c", SLUICE_YAML], capture_output=True, text=True,
                       cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert r.returncode == 0, f"sluice --check failed:\n{r.stdout}{r.stderr}"
    assert "configuration is valid" in r.stdout


def test_native_password_hash_is_what_mariadb_prints():
    # SELECT PASSWORD('demo') on MariaDB 10.11.
    assert native_password_hash("demo") == "*C142FB215B6E05B7C134B1A653AD4B455157FD79"


# ---- Galera settings: the same as the test cluster's ----------------------------------------

# Options the test harness sets that the demo's nodes must not copy, with the reason.
HARNESS_ONLY = {
    ("mysqld", "user"): "the image's entrypoint switches to the mysql user itself",
    ("mysqld", "datadir"): "the image's /var/lib/mysql, a named volume",
    ("mysqld", "socket"): "the image's default",
    ("mysqld", "pid_file"): "the image's default",
    ("mysqld", "log_error"): "a container logs to stderr (docker compose logs)",
    ("mysqld", "port"): "one node per container: the default 3306",
    ("mysqld", "bind_address"): "the harness listens on 127.0.0.1; a container on its network",
    ("mysqld", "wsrep_cluster_name"): "the demo cluster is not the test cluster",
    ("mysqld", "wsrep_cluster_address"): "addresses: loopback ports there, the network here",
    ("mysqld", "wsrep_node_name"): "per node: compose's command line",
    ("mysqld", "wsrep_node_address"): "per node: compose's command line",
    ("mysqld", "wsrep_node_incoming_address"): "defaults to the node address and port",
    ("mysqld", "wsrep_sst_receive_address"): "defaults to the node address, port 4444",
    ("mysqld", "ssl_ca"): "the harness's throw-away CA; the demo's nodes serve no TLS",
    ("mysqld", "ssl_cert"): "the harness's throw-away CA; the demo's nodes serve no TLS",
    ("mysqld", "ssl_key"): "the harness's throw-away CA; the demo's nodes serve no TLS",
}
# wsrep_provider_options that only let three nodes share 127.0.0.1 (a container has the
# default ports to itself).
PROVIDER_HARNESS_ONLY = {"base_host", "base_port", "gmcast.listen_addr", "ist.recv_addr"}
# Must be among the compared options, or the comparison has lost its point.
MUST_COMPARE = {("mysqld", k) for k in (
    "binlog_format", "default_storage_engine", "innodb_autoinc_lock_mode", "wsrep_on",
    "wsrep_provider", "wsrep_sst_method", "wsrep_provider_options")}
MUST_COMPARE_PROVIDER = {"gcache.size", "evs.suspect_timeout", "evs.inactive_timeout",
                         "evs.install_timeout", "evs.keepalive_period", "gmcast.peer_timeout"}


def parse_cnf(text: str) -> dict[tuple[str, str], str | None]:
    """A MariaDB option file as {(section, option): value}; option names lower-case with '-'
    as '_' (mariadbd treats them alike), quotes around a value removed, None for a bare flag.
    A repeated option is an error: the comparison must not depend on which one wins."""
    out: dict[tuple[str, str], str | None] = {}
    section = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            section = m.group(1).strip().lower()
            continue
        assert section is not None, f"line {n}: option before any [section]: {raw}"
        key, eq, value = line.partition("=")
        key = key.strip().lower().replace("-", "_")
        val: str | None = value.strip() if eq else None
        if val and len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
            val = val[1:-1]
        assert (section, key) not in out, f"line {n}: [{section}] {key} given twice"
        out[(section, key)] = val
    return out


def provider_options(value: str) -> dict[str, str]:
    opts = {}
    for item in filter(None, (s.strip() for s in value.split(";"))):
        k, _, v = item.partition("=")
        opts[k.strip()] = v.strip()
    return opts


def cnf_differences(harness_text: str, docker_text: str) -> tuple[list[str], set, set]:
    """Where the docker cnf disagrees with the harness's on an option both must share.
    Returns (differences in words, options compared, provider options compared)."""
    harness, docker = parse_cnf(harness_text), parse_cnf(docker_text)
    diffs, compared, compared_provider = [], set(), set()
    for key, want in harness.items():
        if key in HARNESS_ONLY:
            continue
        compared.add(key)
        if key not in docker:
            diffs.append(f"[{key[0]}] {key[1]}: missing (tests/galera.py sets {want!r})")
            continue
        got = docker[key]
        if key[1] == "wsrep_provider_options":
            hp, dp = provider_options(want or ""), provider_options(got or "")
            for pk, pv in hp.items():
                if pk in PROVIDER_HARNESS_ONLY:
                    continue
                compared_provider.add(pk)
                if dp.get(pk) != pv:
                    diffs.append(f"wsrep_provider_options {pk}: {dp.get(pk)!r}, "
                                 f"tests/galera.py has {pv!r}")
        elif got != want:
            diffs.append(f"[{key[0]}] {key[1]}: {got!r}, tests/galera.py has {want!r}")
    return diffs, compared, compared_provider


def _harness_cnfs() -> list[str]:
    # Describing a cluster touches no file and no process; _cnf_text only formats text.
    cluster = GaleraCluster("/nonexistent/sluice-test-docker", base_port=14000)
    return [cluster._cnf_text(i) for i in range(cluster.nodes)]


def test_galera_cnf_matches_the_test_cluster():
    docker_text = _read(GALERA_CNF)
    for i, harness_text in enumerate(_harness_cnfs()):
        diffs, compared, compared_provider = cnf_differences(harness_text, docker_text)
        assert not diffs, (f"docker/galera/galera.cnf differs from tests/galera.py's cnf of "
                           f"node{i + 1}:\n  " + "\n  ".join(diffs))
        assert MUST_COMPARE <= compared, MUST_COMPARE - compared
        assert MUST_COMPARE_PROVIDER <= compared_provider, \
            MUST_COMPARE_PROVIDER - compared_provider


def test_harness_only_list_is_current():
    # An option the harness no longer sets must leave HARNESS_ONLY, or a new option of the
    # same name could slip through uncompared.
    harness = parse_cnf(_harness_cnfs()[0])
    assert not set(HARNESS_ONLY) - set(harness), set(HARNESS_ONLY) - set(harness)
    opts = provider_options(harness[("mysqld", "wsrep_provider_options")] or "")
    assert PROVIDER_HARNESS_ONLY <= set(opts), PROVIDER_HARNESS_ONLY - set(opts)


def test_cnf_comparison_catches_a_difference():
    harness_text = _harness_cnfs()[0]
    docker_text = _read(GALERA_CNF)
    changed = (docker_text.replace("binlog_format            = ROW", "binlog_format = MIXED")
               .replace("evs.suspect_timeout=PT10S", "evs.suspect_timeout=PT5S")
               .replace("wsrep_sst_method         = rsync\n", ""))
    assert changed != docker_text
    diffs, _, _ = cnf_differences(harness_text, changed)
    assert any("binlog_format" in d and "MIXED" in d for d in diffs), diffs
    assert any("evs.suspect_timeout" in d and "PT5S" in d for d in diffs), diffs
    assert any("wsrep_sst_method: missing" in d for d in diffs), diffs


# ---- Dockerfile -----------------------------------------------------------------------------

def parse_dockerfile(text: str) -> list[dict]:
    """Stages in order: {"name", "base", "ins": [(KEYWORD, arguments)]}; continuation lines
    joined, comments dropped."""
    stages: list[dict] = []
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "Dockerfile ends in a continuation"
    for line in logical:
        kw, _, args = line.partition(" ")
        kw = kw.upper()
        if kw == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            assert m, f"FROM line not understood: {line}"
            stages.append({"name": m.group(2), "base": m.group(1), "ins": []})
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1]["ins"].append((kw, args.strip()))
    return stages


def stage_chain(stages: list[dict], name: str) -> list[dict]:
    """The stage and those it is built FROM, base first."""
    by_name = {s["name"]: s for s in stages if s["name"]}
    chain = []
    s = by_name[name]
    while s is not None:
        chain.insert(0, s)
        s = by_name.get(s["base"])
    return chain


def apt_packages(instructions) -> set[str]:
    """Packages named by `apt-get install` in RUN instructions."""
    pkgs = set()
    for kw, args in instructions:
        if kw != "RUN":
            continue
        for cmd in re.split(r"&&|;", args):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                pkgs |= {w for w in after if not w.startswith("-")}
    return pkgs


@pytest.fixture(scope="module")
def stages():
    return parse_dockerfile(_read(DOCKERFILE))


def _packages_txt() -> set[str]:
    with open(os.path.join(REPO, "scripts", "packages.txt")) as f:
        return {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}


def test_dockerfile_is_multistage_debian_12(stages):
    names = [s["name"] for s in stages]
    for want in ("build", "runtime", *TARGETS):
        assert want in names, f"no stage {want!r} in docker/Dockerfile: {names}"
    assert names[-1] == "sluice", "a build without --target should make the daemon"
    for s in stages:
        if s["base"] not in names:
            assert s["base"] in ("debian:12-slim", "debian:bookworm", "debian:bookworm-slim"), \
                f"stage {s['name']} is FROM {s['base']}, not Debian 12"


def test_build_stage_builds_with_meson_from_listed_packages(stages):
    build = stage_chain(stages, "build")
    runs = " ".join(a for s in build for kw, a in s["ins"] if kw == "RUN")
    assert re.search(r"meson setup \S+ --buildtype=release", runs), runs
    assert re.search(r"ninja -C \S+", runs), runs
    assert re.search(r"meson install -C \S+ --destdir /out", runs), runs
    pkgs = apt_packages(i for s in build for i in s["ins"])
    want = {"build-essential", "meson", "ninja-build", "pkg-config", "libevent-dev",
            "libyaml-dev", "libssl-dev", "zlib1g-dev", "libmariadb-dev"}
    assert want <= pkgs, want - pkgs
    assert pkgs <= _packages_txt(), ("build packages missing from scripts/packages.txt: "
                                     f"{pkgs - _packages_txt()}")


RUNTIME_LIBS = {"libevent-2.1-7", "libevent-pthreads-2.1-7", "libevent-openssl-2.1-7",
                "libyaml-0-2", "libssl3", "zlib1g", "libmariadb3", "ca-certificates"}


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_targets_are_unprivileged_with_healthcheck(stages, target):
    chain = stage_chain(stages, target)
    ins = [i for s in chain for i in s["ins"]]
    users = [a for kw, a in ins if kw == "USER"]
    assert users, f"target {target} sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"target {target} runs as {users[-1]}"
    checks = [a for kw, a in ins if kw == "HEALTHCHECK"]
    assert checks and not checks[-1].upper().startswith("NONE"), \
        f"target {target} has no HEALTHCHECK"
    assert any(kw in ("ENTRYPOINT", "CMD") for kw, _ in ins)
    pkgs = apt_packages(ins)
    assert RUNTIME_LIBS <= pkgs, RUNTIME_LIBS - pkgs
    build_only = {p for p in pkgs if p.endswith("-dev")} | (
        pkgs & {"build-essential", "meson", "ninja-build", "pkg-config", "gcc"})
    assert not build_only, f"build packages in the runtime image: {build_only}"
    # The health check's tool must be in the image.
    tool = re.search(r"CMD\s+(?:\[\s*\")?(\S+?)[\s\"]", checks[-1]).group(1)
    assert tool in pkgs or tool in ("sh", "grep"), f"HEALTHCHECK uses {tool}, not installed"
    copied = " ".join(a for kw, a in ins if kw == "COPY")
    binary = "sluice-demo" if target == "demo" else "sluice"
    assert re.search(rf"--from=build \S+/{binary} ", copied), copied


def test_dockerignore_keeps_build_dirs_out():
    ignore = _read(os.path.join(DOCKER, "Dockerfile.dockerignore")).split()
    for pattern in (".git", "build", "build-*"):
        assert pattern in ignore


def test_runtime_packages_cover_the_binaries_libraries():
    """Every shared library the built binaries load comes from a runtime package of the image
    or from a package one of them depends on (this machine is Debian 12, like the image)."""
    if not (shutil.which("ldd") and shutil.which("dpkg-query")):
        pytest.skip("needs ldd and dpkg (Debian)")
    binaries = [sluice_binary()]
    demo = os.path.join(os.path.dirname(os.path.dirname(sluice_binary())), "demo", "sluice-demo")
    if os.path.exists(demo):
        binaries.append(demo)
    assert os.access(binaries[0], os.X_OK), f"no sluice binary at {binaries[0]}"
    pkgs = apt_packages(i for s in stage_chain(parse_dockerfile(_read(DOCKERFILE)), "sluice")
                        for i in s["ins"])
    allowed = set(pkgs) | {"libc6"}
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", p], capture_output=True,
                           text=True)
        allowed |= {d.strip().split()[0].split(":")[0]
                    for d in re.split(r"[,|]", r.stdout) if d.strip()}
    missing = []
    for b in binaries:
        out = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        # The suite's second pass runs a sanitizer build; the image holds the release build,
        # which links none of the sanitizers' runtime (nor the C++ runtime they pull in).
        sanitized = re.search(r"lib(asan|ubsan)\.so", out) is not None
        for lib in re.findall(r"=>\s+(/\S+)", out):
            if sanitized and re.search(r"/lib(asan|ubsan|gcc_s|stdc\+\+)\.so", lib):
                continue
            owner = None
            for path in (lib, lib.removeprefix("/usr"), "/usr" + lib):
                r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0]
                    break
            if owner is None or owner not in allowed:
                missing.append(f"{os.path.basename(b)}: {lib} ({owner or 'no package'})")
    assert not missing, "libraries not in the runtime image:\n  " + "\n  ".join(missing)


# ---- compose.yaml ---------------------------------------------------------------------------

def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume."""
    out = []
    for v in service.get("volumes", []):
        parts = v.split(":")
        out.append((parts[0], parts[1]))
    return out


def _env(service: dict) -> dict:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return env


def _ip(compose: dict, name: str) -> str:
    return compose["services"][name]["networks"]["galera"]["ipv4_address"]


def test_every_service_has_a_healthcheck(compose):
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        assert hc and not hc.get("disable"), f"service {name} has no healthcheck"
        test = hc["test"]
        assert test and test not in (["NONE"], "NONE"), f"service {name}: healthcheck {test}"


def test_start_order_waits_for_health(compose):
    svcs = compose["services"]
    for g in GALERA_SERVICES:
        assert svcs["sluice"]["depends_on"][g]["condition"] == "service_healthy", g
    assert svcs["demo"]["depends_on"]["sluice"]["condition"] == "service_healthy"
    # galera1 starts first and stops last (it is then the node safe to bootstrap).
    for g in GALERA_SERVICES[1:]:
        assert "galera1" in svcs[g]["depends_on"], g
    assert "depends_on" not in svcs["galera1"]


def test_galera_nodes(compose):
    svcs = compose["services"]
    ips = {g: _ip(compose, g) for g in GALERA_SERVICES}
    data_volumes = set()
    check_password_path = re.search(r"GALERA_CHECK_PASSWORD_FILE:-([^}]+)\}",
                                    _read(HEALTHCHECK)).group(1)
    for g in GALERA_SERVICES:
        svc = svcs[g]
        assert svc["image"] == "mariadb:10.11"
        mounts = dict((t, s) for s, t in _mounts(svc))
        data = mounts["/var/lib/mysql"]
        assert data in compose["volumes"], f"{g}: /var/lib/mysql is not a named volume"
        data_volumes.add(data)
        assert mounts["/etc/mysql/conf.d/galera.cnf"] == "./galera/galera.cnf"
        assert mounts["/usr/local/bin/start-node.sh"] == "./galera/start-node.sh"
        assert "start-node.sh" in " ".join(svc["entrypoint"])
        assert mounts[check_password_path] == "./secrets/monitor.pw"
        assert ("/docker-entrypoint-initdb.d" in mounts) == (g == "galera1"), \
            f"{g}: init SQL belongs to galera1 only"
        env = _env(svc)
        assert (env.get("GALERA_FIRST_NODE") == "1") == (g == "galera1")
        assert env["GALERA_PEERS"].split() == [ips[o] for o in GALERA_SERVICES if o != g]
        assert f"--wsrep_node_name={g}" in svc["command"]
        assert f"--wsrep_node_address={ips[g]}" in svc["command"]
    assert len(data_volumes) == len(GALERA_SERVICES), "nodes share a data volume"
    cnf = parse_cnf(_read(GALERA_CNF))
    assert cnf[("mysqld", "wsrep_cluster_address")] == \
        "gcomm://" + ",".join(ips[g] for g in GALERA_SERVICES)


def test_bind_mounts_and_build_contexts_exist(compose):
    for name, svc in compose["services"].items():
        for src, _ in _mounts(svc):
            if src.startswith("."):
                assert os.path.exists(os.path.join(DOCKER, src)), f"{name}: {src} missing"
        build = svc.get("build")
        if build:
            ctx = os.path.normpath(os.path.join(DOCKER, build["context"]))
            assert os.path.isfile(os.path.join(ctx, build["dockerfile"]))
            assert build["target"] in [s["name"] for s in parse_dockerfile(_read(DOCKERFILE))]


def _published(svc: dict) -> set[int]:
    return {int(str(p).split(":")[-1].split("/")[0]) for p in svc.get("ports", [])}


def test_ports(compose, sluice_cfg):
    svcs = compose["services"]
    listeners = {ln["name"]: ln for ln in sluice_cfg["listeners"]}
    assert listeners["app"]["mode"] == "mysql" and listeners["app"]["bind"] == "0.0.0.0:3306"
    assert (listeners["rw"]["mode"], listeners["rw"]["route"]) == ("tcp", "primary")
    assert listeners["rw"]["bind"] == "0.0.0.0:3307"
    assert (listeners["ro"]["mode"], listeners["ro"]["route"]) == ("tcp", "readers")
    assert listeners["ro"]["bind"] == "0.0.0.0:3308"
    assert sluice_cfg["stats"]["bind"] == "0.0.0.0:8404"
    assert _published(svcs["sluice"]) == {3306, 3307, 3308, 8404}
    assert _published(svcs["demo"]) == {8080}


def test_sluice_nodes_are_the_compose_nodes(compose, sluice_cfg):
    (cluster,) = sluice_cfg["clusters"]
    assert cluster["type"] == "galera"
    nodes = {n["name"]: n["address"] for n in cluster["nodes"]}
    assert nodes == {g: f"{_ip(compose, g)}:3306" for g in GALERA_SERVICES}


def test_sluice_files_are_mounted_where_the_config_expects_them(compose, sluice_cfg, stages):
    svc = compose["services"]["sluice"]
    mounts = _mounts(svc)
    cmd = next(a for kw, a in stage_chain(stages, "sluice")[-1]["ins"] if kw == "CMD")
    conf = re.search(r'"-c",\s*"([^"]+)"', cmd).group(1)
    sources = [os.path.normpath(os.path.join(DOCKER, s)) for s, t in mounts if t == conf]
    assert sources == [SLUICE_YAML], f"{conf} is not docker/sluice.yaml in the container"
    secrets = [sluice_cfg["clusters"][0]["monitor"]["password_file"],
               sluice_cfg["stats"]["admin_password_file"]]
    for rel in secrets:
        assert not os.path.isabs(rel), f"{rel}: --check could not read it on this machine"
        inside = os.path.join(os.path.dirname(conf), rel)
        src = next((os.path.join(s, os.path.relpath(inside, t)) for s, t in mounts
                    if inside == t or inside.startswith(t.rstrip("/") + "/")), None)
        assert src, f"{inside} is not mounted into the sluice container"
        assert os.path.normpath(os.path.join(DOCKER, src)) == \
            os.path.normpath(os.path.join(DOCKER, rel))
    assert "/var/lib/sluice" in [t for _, t in mounts]
    assert sluice_cfg["state_file"].startswith("/var/lib/sluice/")


# ---- accounts and passwords -----------------------------------------------------------------

def _init_sql() -> str:
    return "\n".join(_read(os.path.join(INIT_DIR, f))
                     for f in sorted(os.listdir(INIT_DIR)) if f.endswith(".sql"))


def sql_users(sql: str) -> dict[str, tuple[str, str]]:
    return {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"CREATE USER (?:IF NOT EXISTS )?'(\w+)'@'([^']*)' IDENTIFIED BY '([^']*)'", sql)}


def sql_grants(sql: str, user: str) -> set[tuple[str, str]]:
    """{(privilege, on)} granted to user."""
    out = set()
    for m in re.finditer(r"GRANT (.+?) ON (\S+) TO '(\w+)'@'[^']*'", sql):
        if m.group(3) == user:
            out |= {(p.strip().upper(), m.group(2)) for p in m.group(1).split(",")}
    return out


def test_passwords_agree(compose, sluice_cfg):
    sql = _init_sql()
    users = sql_users(sql)
    for u in sluice_cfg["users"]:
        assert u["name"] in users, f"sluice user {u['name']} is not created by docker/init"
        host, password = users[u["name"]]
        assert host == "%", "sluice logs in to the nodes from its own address"
        assert u["password_hash"] == native_password_hash(password), \
            f"{u['name']}: password_hash in docker/sluice.yaml is not the init SQL's password"
    monitor = sluice_cfg["clusters"][0]["monitor"]
    with open(os.path.join(DOCKER, monitor["password_file"])) as f:
        monitor_pw = f.readline().rstrip("\r\n")
    assert users[monitor["user"]] == ("%", monitor_pw)
    # The demo app logs in to sluice's mysql listener as a sluice user.
    cmd = compose["services"]["demo"]["command"]
    opts = dict(zip(cmd[0::2], cmd[1::2]))
    assert opts["--mysql-host"] == "sluice"
    assert opts["--mysql-port"] == sluice_cfg["listeners"][0]["bind"].rsplit(":", 1)[1]
    app = {u["name"]: u["password_hash"] for u in sluice_cfg["users"]}
    assert app[opts["--mysql-user"]] == native_password_hash(opts["--mysql-password"])
    assert opts["--listen"].endswith(":8080")


def test_demo_app_options_exist(compose, sluice_cfg):
    """The demo's command line uses only options sluice-demo has (demo/options.c), its
    stats URL is sluice's stats server, and its footer's dashboard link is that server's port
    as published on the host (the compose service name does not resolve in a browser)."""
    longopts = dict(re.findall(r'\{"([a-z-]+)",\s*(required|no)_argument',
                               _read(os.path.join(REPO, "demo", "options.c"))))
    assert {"listen", "mysql-host", "mysql-port", "mysql-user", "mysql-password"} <= set(longopts)
    cmd = compose["services"]["demo"]["command"]
    i = 0
    while i < len(cmd):
        name = cmd[i].removeprefix("--")
        assert cmd[i].startswith("--") and name in longopts, f"sluice-demo has no {cmd[i]}"
        i += 2 if longopts[name] == "required" else 1
    opts = dict(zip(cmd[0::2], cmd[1::2]))
    stats_port = sluice_cfg["stats"]["bind"].rsplit(":", 1)[1]
    assert opts["--stats-url"] == f"http://sluice:{stats_port}"
    # "127.0.0.1:${SLUICE_STATS_PORT:-8404}:8404": the host port, variable and all.
    (published,) = [str(p) for p in compose["services"]["sluice"]["ports"]
                    if str(p).rsplit(":", 1)[1] == stats_port]
    host_port = published.rsplit(":", 1)[0].partition(":")[2]
    assert opts["--dashboard-url"] == f"http://localhost:{host_port}"
    assert opts["--database"] == "demo"


def test_monitor_has_the_test_clusters_grants(sluice_cfg):
    (harness_monitor,) = [u for u in DEFAULT_USERS if u.name == "monitor"]
    privs, _, on = harness_monitor.privileges.rpartition(" ON ")
    want = {(p.strip().upper(), on) for p in privs.split(",")}
    assert sql_grants(_init_sql(), sluice_cfg["clusters"][0]["monitor"]["user"]) == want


def test_demo_database(sluice_cfg):
    sql = _init_sql()
    assert ("ALL PRIVILEGES", "demo.*") in sql_grants(sql, "demo")
    m = re.search(r"CREATE TABLE (?:IF NOT EXISTS )?demo\.products \((.*?)\) ENGINE\s*=\s*InnoDB",
                  sql, re.S)
    assert m, "no demo.products table in docker/init"
    cols = " ".join(m.group(1).split())
    for col in ("id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "name VARCHAR(200) NOT NULL",
                "price DECIMAL(10,2) NOT NULL", "stock INT NOT NULL",
                "updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
                "ON UPDATE CURRENT_TIMESTAMP(6)"):
        assert col in cols, f"demo.products lacks {col!r}"
    assert re.search(r"INSERT INTO demo\.products", sql), "no sample products"


# ---- the node scripts -----------------------------------------------------------------------

@pytest.mark.parametrize("script", [START_NODE, HEALTHCHECK])
def test_scripts_parse(script):
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script", [START_NODE, HEALTHCHECK])
def test_scripts_pass_shellcheck(script):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    r = subprocess.run(["shellcheck", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


UUID = "6c3f1b2e-9a41-11ee-8c7a-0242ac1d2c0b"


def _grastate(datadir, uuid=UUID, seqno=-1, safe=0):
    with open(os.path.join(datadir, "grastate.dat"), "w") as f:
        f.write(f"# GALERA saved state\nversion: 2.1\nuuid:    {uuid}\nseqno:   {seqno}\n"
                f"safe_to_bootstrap: {safe}\n")


@pytest.fixture
def peer():
    """A loopback port that refuses connections until listen() is called on the socket:
    bound but not listening, it answers a connect with RST at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def _start_node(datadir, peer_port, first=False, extra_env=None, **kw):
    env = {"PATH": "/usr/bin:/bin", "GALERA_DATADIR": str(datadir),
           "GALERA_PEERS": "127.0.0.1", "GALERA_GCOMM_PORT": str(peer_port),
           **({"GALERA_FIRST_NODE": "1"} if first else {}), **(extra_env or {})}
    return subprocess.run(["bash", START_NODE, "--wsrep_node_name=x"], capture_output=True,
                          text=True, env=env, timeout=30, **kw)


# (what the datadir holds, first node?, a peer listening?) -> decision
START_CASES = [
    ("empty", True, False, "new"),
    ("empty", False, False, "wait"),
    ("empty", True, True, "join"),           # galera1's volume lost while the others run
    ("initialised", True, False, "new"),     # the image's init ran, Galera never did
    ("safe", False, False, "bootstrap"),     # left the cluster last, whoever it is
    ("safe", True, True, "join"),            # peers already run: never a second cluster
    ("crashed", True, False, "join"),        # gvwstate.dat: pc.recovery re-forms the cluster
    ("stopped", True, False, "wait"),        # another node left last
    ("stopped", False, True, "join"),
]


@pytest.mark.parametrize("state,first,listening,want", START_CASES,
                         ids=[f"{c[0]}-{'first' if c[1] else 'other'}-"
                              f"{'peer' if c[2] else 'alone'}" for c in START_CASES])
def test_start_node_decides(tmp_path, peer, state, first, listening, want):
    if state == "initialised":
        _grastate(tmp_path, uuid="00000000-0000-0000-0000-000000000000")
        os.mkdir(tmp_path / "mysql")
    elif state in ("safe", "crashed", "stopped"):
        _grastate(tmp_path, safe=1 if state == "safe" else 0)
        if state == "crashed":
            (tmp_path / "gvwstate.dat").write_text("my_uuid: x\n")
    if listening:
        peer.listen()
    r = _start_node(tmp_path, peer.getsockname()[1], first,
                    extra_env={"START_NODE_DRY_RUN": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == want


def _fake_entrypoint(tmp_path) -> str:
    """A docker-entrypoint.sh that records its arguments; returns the bin directory."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "docker-entrypoint.sh"
    fake.write_text('#!/bin/sh\necho "entrypoint $*"\n')
    fake.chmod(0o755)
    return str(bindir)


def _read_until(stream, text: str, timeout: float = 10.0) -> str:
    """What a child writes to a pipe, up to the first chunk that completes text. Reads the file
    descriptor itself: a buffered readline() could hold data that select() no longer sees."""
    seen = b""
    while text.encode() not in seen:
        ready, _, _ = select.select([stream], [], [], timeout)
        assert ready, f"no {text!r} within {timeout} s; got:\n{seen.decode()}"
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"the pipe closed before {text!r}; got:\n{seen.decode()}"
        seen += chunk
    return seen.decode()


def test_start_node_starts_a_new_cluster_with_the_flag(tmp_path, peer):
    datadir = tmp_path / "data"
    datadir.mkdir()
    bindir = _fake_entrypoint(tmp_path)
    r = _start_node(datadir, peer.getsockname()[1], first=True,
                    extra_env={"PATH": f"{bindir}:/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "entrypoint mariadbd --wsrep_node_name=x --wsrep-new-cluster"
    assert "decision: new" in r.stderr


def test_start_node_waits_for_a_peer_then_joins(tmp_path, peer):
    datadir = tmp_path / "data"
    datadir.mkdir()
    _grastate(datadir)
    bindir = _fake_entrypoint(tmp_path)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "GALERA_DATADIR": str(datadir),
           "GALERA_PEERS": "127.0.0.1", "GALERA_GCOMM_PORT": str(peer.getsockname()[1])}
    p = subprocess.Popen(["bash", START_NODE, "--wsrep_node_name=x"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        err = _read_until(p.stderr, "waiting for a peer")
        assert p.poll() is None, "start-node.sh did not wait for the peer"
        peer.listen()
        out, rest = p.communicate(timeout=15)
        err += rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "waiting for a peer" in err
    assert out.strip() == "entrypoint mariadbd --wsrep_node_name=x"


def test_start_node_stops_on_sigterm_while_waiting(tmp_path, peer):
    datadir = tmp_path / "data"
    datadir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "GALERA_DATADIR": str(datadir),
           "GALERA_PEERS": "127.0.0.1", "GALERA_GCOMM_PORT": str(peer.getsockname()[1])}
    # Twenty times: the stop lands at a different point of the wait loop each time. A stop
    # while bash parsed a command substitution there once ended the script with status 2.
    for _ in range(20):
        p = subprocess.Popen(["bash", START_NODE], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            # Once it logs its decision the trap is set.
            assert "decision: wait" in _read_until(p.stderr, "decision:")
            p.terminate()
            assert p.wait(timeout=10) == 143, p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()


def _healthcheck(tmp_path, status_lines: str, client_rc: int = 0):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / "client.log"
    fake = bindir / "mariadb"
    fake.write_text("#!/bin/sh\n"
                    f'echo "pwd=$MYSQL_PWD args=$*" >> "{log}"\n'
                    f"printf '%s' '{status_lines}'\n"
                    f"exit {client_rc}\n")
    fake.chmod(0o755)
    pw = tmp_path / "monitor.pw"
    pw.write_text("s3cret\nsecond line\n")
    r = subprocess.run(["bash", HEALTHCHECK], capture_output=True, text=True, timeout=30,
                       env={"PATH": f"{bindir}:/usr/bin:/bin",
                            "GALERA_CHECK_PASSWORD_FILE": str(pw)})
    return r, (log.read_text() if log.exists() else "")


def _status(state="Synced", ready="ON", component="Primary") -> str:
    return (f"wsrep_cluster_status\t{component}\nwsrep_local_state_comment\t{state}\n"
            f"wsrep_ready\t{ready}\n")


def test_healthcheck_healthy_when_synced(tmp_path):
    r, log = _healthcheck(tmp_path, _status())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pwd=s3cret " in log and "-u monitor" in log and "-h 127.0.0.1" in log


@pytest.mark.parametrize("status", [
    _status(state="Donor/Desynced"), _status(state="Joining"), _status(ready="OFF"),
    _status(component="non-Primary"), ""], ids=["donor", "joining", "not-ready",
                                               "non-primary", "empty"])
def test_healthcheck_unhealthy_otherwise(tmp_path, status):
    r, _ = _healthcheck(tmp_path, status)
    assert r.returncode == 1, r.stdout + r.stderr


def test_healthcheck_unhealthy_when_the_client_fails(tmp_path):
    r, _ = _healthcheck(tmp_path, _status(), client_rc=1)
    assert r.returncode != 0
