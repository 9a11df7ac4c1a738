/*
 * Per-node traffic counters and statement latency histograms. One table
 * (NODE_METRICS) names every counter with its kind and help text; the struct
 * fields, the JSON keys and the Prometheus lines all come from it. Each
 * worker owns a shard (no locks, no atomics on the data path); readers sum
 * the shards (a reader may see a shard mid-update: stats, not accounts).
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* X(name, kind, prometheus name, help); kind is counter or gauge. */
#define NODE_METRICS(X)                                                                            \
	X(statements, counter, "statements_total", "commands sent to the node, sluice's own too")   \
	X(reads, counter, "reads_total", "client statements run as reads outside a transaction")    \
	X(writes, counter, "writes_total", "client statements run as writes outside a transaction") \
	X(transaction, counter, "transaction_statements_total",                                     \
	  "client statements run inside a transaction")                                            \
	X(bytes_in, counter, "received_bytes_total", "bytes received from the node")               \
	X(bytes_out, counter, "sent_bytes_total", "bytes sent to the node")                        \
	X(errors, counter, "errors_total",                                                         \
	  "commands that failed, logins refused and connections lost")                             \
	X(connects, counter, "connects_total", "backend logins that succeeded")                    \
	X(connect_failures, counter, "connect_failures_total",                                     \
	  "backend connects or logins that could not complete")                                    \
	X(open_connections, gauge, "connections", "backend connections open now")                 \
	X(idle_connections, gauge, "idle_connections",                                             \
	  "backend connections idle in the pool, open and logged in")                              \
	X(in_use_connections, gauge, "in_use_connections",                                         \
	  "backend connections held by a client session or logging in")                            \
	X(pool_reuses, counter, "pool_reuses_total",                                               \
	  "node connections taken from the pool instead of logging in")                            \
	X(pool_waits, counter, "pool_waits_total",                                                 \
	  "times a statement waited for a connection (pool.max_per_node reached)")

/* What a client statement was, for the counters and the histograms. */
enum stat_kind {
	STAT_READ,
	STAT_WRITE,
	STAT_TRANSACTION,
	STAT_KINDS,
};

const char *stat_kind_str(enum stat_kind kind); /* "read", "write", "transaction" */

/* Histogram bucket upper bounds, in seconds (Prometheus "le"), ascending;
 * one more bucket counts everything above the last (+Inf). */
#define STAT_BUCKETS 16
extern const double stat_bucket_le[STAT_BUCKETS];

struct node_stats {
#define NODE_STATS_FIELD(name, kind, prom, help) uint64_t name;
	NODE_METRICS(NODE_STATS_FIELD)
#undef NODE_STATS_FIELD
	/* Statement durations, from the command sent to the last byte of its
	 * answer: per kind, counts per bucket (not cumulative) and the sum. */
	uint64_t hist[STAT_KINDS][STAT_BUCKETS + 1];
	uint64_t hist_sum_us[STAT_KINDS];
};

/* Count one client statement of kind that took us microseconds. */
void stats_observe(struct node_stats *ns, enum stat_kind kind, uint64_t us);

/* Add shard b to the sum a. */
void stats_add(struct node_stats *a, const struct node_stats *b);

/* The q-quantile (0..1) of kind's durations in seconds, read off the
 * buckets (linear within a bucket; the last finite bound for +Inf);
 * negative when no statement of that kind was counted. */
double stats_quantile(const struct node_stats *ns, enum stat_kind kind, double q);

#endif
