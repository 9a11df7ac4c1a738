# Shared pytest fixtures for sluice's tests.  Each fixture should stay self-contained: import
# heavy or optional modules (pymysql, the Galera harness) inside the fixture, so that tests which
# do not use a fixture can run without its dependencies.
import os
import shutil
import sys
import tempfile

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def galera():
    """A real three-node MariaDB Galera cluster on 127.0.0.1, shared by the whole session.

    Yields a started tests/galera.py GaleraCluster (node1 SQL port = $SLUICE_TEST_BASE_PORT,
    default 14000; node i at +10*i).  Tests that kill a node must restart() it before they end,
    so later tests find three Synced nodes.  Everything is stopped and the data directory
    removed at the end of the session.  Needs root and /usr/bin/python3 (Debian's pymysql).
    """
    if _TESTS_DIR not in sys.path:
        sys.path.insert(0, _TESTS_DIR)
    from galera import GaleraCluster

    basedir = tempfile.mkdtemp(prefix="sluice-galera-")
    base_port = int(os.environ.get("SLUICE_TEST_BASE_PORT", "14000"))
    cluster = GaleraCluster(basedir, base_port=base_port)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(basedir, ignore_errors=True)


@pytest.fixture
def sluice(tmp_path):
    """Factory for sluice daemons: ``sluice(config_yaml)`` starts one and returns its
    tests/sluice_proc.py Sluice. Every daemon is stopped with SIGTERM at the end of the test,
    and the test fails unless it exited 0."""
    if _TESTS_DIR not in sys.path:
        sys.path.insert(0, _TESTS_DIR)
    from sluice_proc import Sluice

    started = []

    def start(config: str, name: str = "sluice") -> "Sluice":
        s = Sluice(str(tmp_path), config, name)
        started.append(s)
        return s.start()

    yield start
    for s in started:
        rc = s.stop()
        assert rc == 0, f"sluice exited with {rc} after SIGTERM:\n{s.log()[-3000:]}"
