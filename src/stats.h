/*
 * Per-node traffic counters. One table (NODE_METRICS) names every counter
 * with its kind and help text; the struct fields come from it, and so will
 * the JSON keys and Prometheus lines of the stats server. Each worker owns
 * a shard (no locks, no atomics on the data path); readers sum the shards.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdint.h>

/* X(name, kind, help) */
#define NODE_METRICS(X)                                                                            \
	X(statements, counter, "commands sent to the node")                                        \
	X(bytes_in, counter, "bytes received from the node")                                       \
	X(bytes_out, counter, "bytes sent to the node")                                            \
	X(errors, counter, "commands that failed, logins refused and connections lost")            \
	X(connects, counter, "backend logins that succeeded")                                      \
	X(connect_failures, counter, "backend connects or logins that could not complete")

struct node_stats {
#define NODE_STATS_FIELD(name, kind, help) uint64_t name;
	NODE_METRICS(NODE_STATS_FIELD)
#undef NODE_STATS_FIELD
};

#endif
