# Smoke test of tests/galera.py, the real Galera cluster the integration tests run against:
# three Synced nodes, replication node1 -> node3, and kill + restart (IST) of a node.
# Run with: /usr/bin/python3 -m pytest -v tests/test_galera_harness.py   (as root)
import uuid

NODE1, NODE3 = 0, 2


def _read_on(cluster, i, token):
    """Rows with ``token`` as seen by node i, after waiting for it to catch up (sync wait)."""
    conn = cluster.connect(i, database="sluice_test", autocommit=True)
    try:
        with conn.cursor() as cur:
            # Make the read wait until node i has applied everything committed cluster-wide
            # before it started; without it the read could race the applier.
            cur.execute("SET SESSION wsrep_sync_wait=1")
            cur.execute("SELECT v FROM harness_smoke WHERE v=%s", (token,))
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def _write_on(cluster, i, token):
    conn = cluster.connect(i, database="sluice_test", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS harness_smoke ("
                        " id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64) NOT NULL)")
            cur.execute("INSERT INTO harness_smoke (v) VALUES (%s)", (token,))
    finally:
        conn.close()


def test_three_nodes_synced(galera):
    print(f"\ncluster start: {galera.timings['start']:.1f} s")
    for i in range(3):
        assert galera.status(i, "wsrep_cluster_size") == "3", galera.node_name(i)
        assert galera.status(i, "wsrep_local_state_comment") == "Synced", galera.node_name(i)
        assert galera.status(i, "wsrep_cluster_status") == "Primary", galera.node_name(i)
    total_rss = sum(galera.rss_bytes(i) for i in range(3))
    print(f"total RSS of 3 mariadbd: {total_rss / 2**20:.0f} MiB")


def test_row_written_on_node1_visible_on_node3(galera):
    token = uuid.uuid4().hex
    _write_on(galera, NODE1, token)
    assert _read_on(galera, NODE3, token) == [token]


def test_kill_and_restart_node3(galera):
    galera.kill(NODE3)
    assert not galera.is_running(NODE3)
    evict = galera.wait_evicted(NODE3)
    for i in (0, 1):
        assert galera.status(i, "wsrep_cluster_size") == "2"

    # Written while node3 is down: it must arrive through IST.
    token = uuid.uuid4().hex
    _write_on(galera, NODE1, token)

    res = galera.restart(NODE3)
    print(f"\nkill->evicted {evict:.1f} s; restart: recover {res.recover_seconds:.1f} s + "
          f"join {res.join_seconds:.1f} s via {res.state_transfer} (position {res.position})")
    assert res.position is not None
    assert res.state_transfer == "IST"
    for i in range(3):
        assert galera.status(i, "wsrep_cluster_size") == "3"
        assert galera.status(i, "wsrep_local_state_comment") == "Synced"
    assert _read_on(galera, NODE3, token) == [token]
