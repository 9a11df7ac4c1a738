/*
 * Node-state snapshots: what the health monitor knows about every node of
 * every cluster, frozen at one moment. The monitor builds a new snapshot on
 * each change and hands a reference to every worker; workers read theirs
 * without locks. This module also holds the pure routing choices made from a
 * snapshot (which node is the writer, the weighted reader rotation), so they
 * can be unit-tested without sockets.
 */
#ifndef SLUICE_SNAPSHOT_H
#define SLUICE_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* How many of a node's recent applied positions a snapshot carries: at the default interval
 * (250 ms), two seconds of them. */
#define SNAPSHOT_POSITIONS 8

/* What one check read of a node's applied position (probe.h). */
struct node_position {
	uint64_t checked_ms; /* when that check started (failover_now_ms); 0: no such check */
	int64_t position;    /* -1: unknown */
};

/* One node as the monitor last saw it. */
struct node_view {
	const char *name; /* borrowed from the snapshot's config (held) */
	bool up;	  /* passed fall/rise: may receive traffic */
	bool writable;	  /* may be the writer (cluster type's verdict; true for liveness) */
	int admin;	  /* enum node_admin (opstate.h): ready, drain, maintenance */
	uint64_t admin_ms; /* when the operator set it (failover_now_ms), 0: at start */
	uint32_t weight;
	uint32_t priority;
	uint32_t check_us; /* duration of the last check, microseconds */
	int64_t lag_ms;	   /* replication delay, -1 when not a replica or unknown */
	char state[48];	   /* the check's short state: "Synced", "ONLINE PRIMARY", ... */
	char last_error[128];
	char server_version[64]; /* from the node's greeting, "" until seen */
	/* Its applied position at its last checks, newest first. */
	struct node_position positions[SNAPSHOT_POSITIONS];
	/* galera: its own health between its last two checks (known false otherwise). */
	struct node_galera {
		bool known;
		double fc_paused_pct;	 /* % of the time flow control paused replication */
		uint64_t recv_queue;	 /* write sets waiting to be applied */
		double cert_failures_ps; /* certification failures per second */
		double bf_aborts_ps;	 /* brute-force aborts per second */
		uint64_t cluster_size;
		uint64_t conf_id;
	} galera;
};

struct cluster_view {
	size_t n_nodes;
	struct node_view *nodes;
	int writer; /* index into nodes, -1 when no node can take writes */
	/* Some node is in maintenance (its connections close before a
	 * session's next command). */
	bool maintenance;
	/* Weighted, interleaved rotation of the up nodes with weight > 0 (smooth
	 * weighted round-robin), reduced by the weights' gcd. Workers index it
	 * with a shared counter, so the rotation is strict across threads. */
	uint16_t *readers;
	size_t n_readers;
	/* The same rotation without the writer: where a mysql listener sends
	 * reads unless primary_reads is on. */
	uint16_t *replicas;
	size_t n_replicas;
	/* The last failover of this cluster (failover.h), or NULL: workers
	 * close it when a write succeeds on the new writer. */
	struct failover_event *failover;
};

struct snapshot {
	atomic_uint refs;
	const struct config *cfg; /* the config it was built from: a reference */
	/* Bumped when a node's state or role changes, not when only positions
	 * moved: what a statement waiting for a writer watches. */
	uint64_t generation;
	size_t n_clusters;
	struct cluster_view *clusters;
};

/* A snapshot for cfg with every node up/down as given by up[c][n] (NULL:
 * all down), with writers and reader rotations computed. One reference,
 * owned by the caller. */
struct snapshot *snapshot_create(const struct config *cfg, bool *const *up, uint64_t generation)
	__attribute__((warn_unused_result));

/* Take another reference; release with snapshot_unref. Both are safe from
 * any thread. */
struct snapshot *snapshot_ref(struct snapshot *snap);
void snapshot_unref(struct snapshot *snap);

/* Recompute writer, reader rotation and the maintenance flag of cluster view
 * v from its nodes' up/writable/weight/priority/admin. The writer is the up,
 * writable node with the lowest (priority, name), except that sticky (the
 * current writer, or -1) keeps the role while it is up and writable unless
 * failback is on: a node that comes back does not take the role from a
 * healthy writer. Used by snapshot_create (sticky -1) and by the monitor
 * before it publishes. */
void snapshot_compute_roles(struct cluster_view *v, int sticky, bool failback);

/* Fill order[] with the node indexes to try for a write, best first: the
 * writer, then the other up nodes by (priority, name); only those that may
 * take writes when writable_only (a replica is no fallback for a client
 * that wants the primary; any node can check a login). Returns the count,
 * 0 when there is no writer. order must have room for v->n_nodes entries. */
size_t snapshot_writer_order(const struct cluster_view *v, bool writable_only, uint16_t *order);

/* The node to log in to for a session that needs just one: the writer,
 * else the up node (not drained, not in maintenance) with the lowest
 * (priority, name); -1 when no node is up. */
int snapshot_login_node(const struct cluster_view *v);

/* Fill order[] with the node indexes to try for a read: the rotation entry
 * picked by ticket, then the following distinct nodes of the rotation, so a
 * refused connect moves on to the next reader. with_writer: rotate over
 * every up node (readers), else over the up nodes but the writer
 * (replicas). Returns the count, 0 when that rotation is empty. */
size_t snapshot_reader_order(const struct cluster_view *v, uint64_t ticket, bool with_writer,
			     uint16_t *order);

/*
 * Has node r of v surely applied every write the cluster had committed by since_ms (a
 * failover_now_ms moment: when a session saw its write acknowledged)? True when a check of
 * the writer that started at or after since_ms found it at position W (the earliest such
 * check: the tightest bound) and r's newest known position is at least W. False when that is
 * not known yet (no such writer check, positions unknown, no writer): the caller then reads
 * from the writer, which has the write. Pure; for the read-your-writes rule (causal_reads).
 */
bool snapshot_caught_up(const struct cluster_view *v, size_t r, uint64_t since_ms);

/* Whether some node is in maintenance in after and was not in before (NULL:
 * no node was); both snapshots are of configurations with the same
 * clusters and nodes (a reload changes neither). */
bool snapshot_maintenance_began(const struct snapshot *before, const struct snapshot *after);

#endif
