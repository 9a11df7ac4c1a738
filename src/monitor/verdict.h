/*
 * What a node's answers mean: the SQL the health check runs for each cluster type, and the
 * pure evaluation of the rows that come back into a probe_result (serves, writable, lag,
 * state, error). No I/O: probe.c runs the statements and hands the result sets over as
 * tables of strings; the unit tests hand over tables they wrote.
 */
#ifndef SLUICE_VERDICT_H
#define SLUICE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* What one health check of a node found (probe.c fills in how it went, verdict_evaluate()
 * what the answers mean). */
struct probe_result {
	bool ok;     /* the check completed: logged in and answered (liveness: greeted) */
	bool serves; /* the cluster type's verdict: may receive traffic (reads at least) */
	/* May be the writer. galera: serves and Synced (never a donor); group_replication:
	 * ONLINE and PRIMARY; replication: @@read_only is 0; static and liveness: true. */
	bool writable;
	bool donor; /* galera: a state transfer donor, otherwise ready: may keep the writer
		     * role it has, is never given it */
	/* Not ok because the check's deadline passed without an answer: the node may be slow or
	 * stalled, which is not proof that it is dead (refused, reset, or its own word is). */
	bool timed_out;
	uint32_t latency_us; /* from the start of the check to the verdict */
	/* How far the node has applied the cluster's writes, comparable between the nodes of one
	 * cluster: galera wsrep_last_committed, replication the sequence number of
	 * @@gtid_current_pos (one GTID domain); -1 when unknown. */
	int64_t position;
	/* galera: wsrep_incoming_addresses, the members of the node's component as it sees them
	 * ("host:port,..."); "" otherwise or unknown. */
	char members[256];
	/* galera: the node's own health figures (counters since it started); known false
	 * otherwise or when missing. */
	struct probe_galera {
		bool known;
		uint64_t fc_paused_ns;	/* wsrep_flow_control_paused_ns */
		uint64_t recv_queue;	/* wsrep_local_recv_queue */
		uint64_t cert_failures; /* wsrep_local_cert_failures */
		uint64_t bf_aborts;	/* wsrep_local_bf_aborts */
		uint64_t cluster_size;
		uint64_t conf_id; /* wsrep_cluster_conf_id */
	} galera;
	int64_t lag_ms; /* replication: Seconds_Behind_Master * 1000; -1 otherwise/unknown */
	/* Why not ok ("Access denied for user ...", "timed out after 500 ms connecting"), or why
	 * not serving ("wsrep_local_state 2 (Donor/Desynced)", "MEMBER_STATE RECOVERING",
	 * "replica 42 s behind (max_lag 10 s)"); empty when serving. */
	char error[128];
	/* Short, for logs and stats: "Synced", "Donor/Desynced", "ONLINE PRIMARY", "replica lag
	 * 0 s", "primary", "read-only", "up"; when not ok: "unreachable", "login failed",
	 * "timed out", "query failed" (liveness: "down"). */
	char state[48];
	char server_version[64]; /* mysql_get_server_info() or the greeting's; "" if not reached */
};

/* The most statements one check runs (replication: @@read_only, then the replica status). */
#define VERDICT_MAX_QUERIES 2

/* One result set, as text: the column names, then the cells row by row (cells[r * n_cols +
 * c]); a NULL cell is SQL NULL. Columns are looked up by name, case-insensitively, so their
 * order and any extra columns do not matter. The pointers are borrowed for the call. */
struct verdict_table {
	const char *const *names; /* n_cols column names */
	const char *const *cells; /* n_rows * n_cols values */
	size_t n_cols;
	size_t n_rows;
};

/* The statements a check of a node of this type runs, in order; *n receives their count
 * (1..VERDICT_MAX_QUERIES). Each returns exactly one result set. Static strings. */
const char *const *verdict_queries(enum cluster_type type, size_t *n);

/* Whether a check of this type reads the node's applied position (probe_result.position),
 * which read-your-writes needs to send a session's reads after a write to a reader. */
bool verdict_has_positions(enum cluster_type type);

/* Judge the answers of a node of cluster cc. tables[i] is the result set of statement i of
 * verdict_queries(cc->type), and n must be their count (anything else is a bug). Sets ok
 * (the node answered), serves, writable, lag_ms, state and error; leaves latency_us and
 * server_version alone. An answer that lacks what the verdict needs (a missing column or
 * variable, a value that is not what the server documents) is "answered, not serving" with
 * an error that says what was missing. */
void verdict_evaluate(const struct config_cluster *cc, const struct verdict_table *tables, size_t n,
		      struct probe_result *res);

/* The sequence number of a MariaDB GTID position with one domain ("0-1-42" is 42); 0 for an
 * empty position (nothing written yet); -1 for NULL, several domains, or anything else, which
 * then cannot be compared. */
int64_t verdict_gtid_seq(const char *pos);

#endif
