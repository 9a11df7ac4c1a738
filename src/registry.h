/*
 * The registry of client sessions by the connection id sluice gave them,
 * so `KILL [QUERY] n` from one client can find session n's backend threads
 * (one per node the session has a connection to), whichever worker it runs
 * on. Updated when a session opens or loses a backend connection and at
 * close; looked up by KILL. A mutex guards it: none of this is per
 * statement.
 */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define REGISTRY_MAX_NODES 64 /* = CONFIG_MAX_NODES */

struct registry_entry {
	uint32_t id; /* sluice's connection id, from the greeting */
	char user[256];
	int cluster;
	/* Per node of the cluster: the node's thread id for the session's
	 * connection to it, 0 if it has none. */
	uint32_t threads[REGISTRY_MAX_NODES];
	/* The session's "killed" flag, set by registry_kill() under the
	 * registry's lock (the session removes itself before it is freed). */
	atomic_bool *killed;
};

void registry_put(const struct registry_entry *e);
void registry_remove(uint32_t id);

/* KILL CONNECTION id succeeded on the nodes: raise the session's flag, so
 * it ends even if it sends a command before its node connections report
 * the kill. */
void registry_kill(uint32_t id);

/* Find a session by sluice id; failing that, by the node thread id of one
 * of its connections, because clients also kill by the id CONNECTION_ID()
 * returns, which is a node's: a thread of (cluster, node) first, else one
 * on another node of the cluster if exactly one session has it. */
bool registry_find(uint32_t id, int cluster, int node, struct registry_entry *out)
	__attribute__((warn_unused_result));

#endif
