# tests/sluice_config.py -- what the integration tests share about sluice itself: the test
# accounts (one definition of the application user's password hash), one builder for the YAML
# configuration that the tests write, and one wait_until. The Galera harness (galera.py) owns
# the cluster; tests/sluice_proc.py owns the daemon process.
"""Test accounts, the sluice YAML builder and wait_until."""

from __future__ import annotations

import hashlib
import time
from typing import Callable, Iterable, TypeVar

HOST = "127.0.0.1"
USER = PASSWORD = DB = "sluice_test"  # galera.py's first account and database
OTHER_USER, OTHER_PASSWORD = "sluice_other", "other_pw"
MONITOR_USER, MONITOR_PASSWORD = "monitor", "monitor_pw"


def native_hash(password: str) -> str:
    """What SELECT PASSWORD(password) prints: the mysql_native_password hash sluice's
    password_hash takes."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


USER_HASH = native_hash(PASSWORD)
OTHER_HASH = native_hash(OTHER_PASSWORD)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return flow(v)
    return str(v)


def flow(mapping: dict) -> str:
    """A YAML flow mapping, { key: value, ... }; None values are left out. Strings go in as
    written, so an address must carry its own quotes when it needs them."""
    return "{ " + ", ".join(f"{k}: {_value(v)}" for k, v in mapping.items()
                            if v is not None) + " }"


def listener(name: str, port: int, mode: str = "mysql", cluster: str = "galera",
             **keys) -> dict:
    """One listeners: item on 127.0.0.1:port (extra keys as sluice.yaml(5) names them)."""
    return {"name": name, "bind": f'"{HOST}:{port}"', "mode": mode, "cluster": cluster, **keys}


def galera_nodes(galera) -> list[dict]:
    """The test cluster's nodes as nodes: items: node1..node3, priorities 1..3."""
    return [{"name": galera.node_name(i), "address": f'"{HOST}:{galera.sql_port(i)}"',
             "priority": i + 1} for i in range(galera.nodes)]


def sluice_yaml(listeners: Iterable[dict], nodes: Iterable[dict], *, cluster: str = "galera",
                cluster_type: str | None = "galera", monitor: dict | None = None,
                cluster_keys: dict | None = None,
                users: Iterable[dict] | None = ({"name": USER, "password_hash": f'"{USER_HASH}"'},),
                workers: int | None = 2, logging: dict | None = None, stats: dict | None = None,
                **top) -> str:
    """A whole configuration with one cluster. monitor: its monitor: keys (None: no monitor
    block, the liveness check); cluster_keys: the cluster's other keys in order (tls,
    queue_timeout, ...); users: None for no users: block; top: other top-level keys
    (state_file, buffer_size, ...). Lists are written one item per line in flow style."""
    lines = []
    if workers is not None:
        lines.append(f"workers: {workers}")
    for k, v in top.items():
        if v is not None:
            lines.append(f"{k}: {_value(v)}")
    lines.append("listeners:")
    lines += [f"  - {flow(item)}" for item in listeners]
    lines.append("clusters:")
    lines.append(f"  - name: {cluster}")
    if cluster_type:
        lines.append(f"    type: {cluster_type}")
    if monitor is not None:
        lines.append(f"    monitor: {flow(monitor)}")
    for k, v in (cluster_keys or {}).items():
        if v is not None:
            lines.append(f"    {k}: {_value(v)}")
    lines.append("    nodes:")
    lines += [f"      - {flow(n)}" for n in nodes]
    if users is not None:
        lines.append("users:")
        lines += [f"  - {flow(u)}" for u in users]
    if logging is not None:
        lines.append(f"logging: {flow(logging)}")
    if stats is not None:
        lines.append(f"stats: {flow(stats)}")
    return "\n".join(lines) + "\n"


T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str = "the condition", timeout: float = 30.0,
               interval: float = 0.05, detail: Callable[[], str] | None = None) -> T:
    """Call probe until it returns something true, and return that. After timeout seconds
    fail with an AssertionError naming what (and detail(), for the state to look at).
    Exceptions from probe are not caught."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f"\n{detail()}" if detail else ""))
        time.sleep(interval)
