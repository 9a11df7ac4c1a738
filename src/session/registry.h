/*
 * The registry of client sessions by the connection id sluice gave them,
 * so `KILL [QUERY] n` from one client can find session n's backend threads
 * (one per node the session has a connection to), whichever worker it runs
 * on. An entry is put when a session logs in or changes user and removed
 * at close, under a mutex; the thread ids themselves change with every
 * pooled connection a statement takes, so the session stores them in its
 * control block with relaxed atomics, and KILL reads them there.
 */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define REGISTRY_MAX_NODES 64 /* = CONFIG_MAX_NODES */

struct event;
struct worker;

/* Where a KILL CONNECTION of a session stands. */
enum registry_kill {
	REGISTRY_KILL_NONE,
	/* Being carried out: the killer is interrupting the session's
	 * statement on its node. An "interrupted" answer, or the loss of the
	 * node, now means the session was killed, not that it may retry. */
	REGISTRY_KILL_PENDING,
	/* Done: the session ends as soon as its worker sees the wake event. */
	REGISTRY_KILL_CONFIRMED,
};

/*
 * What other threads may touch of a live session, through the registry and
 * only under its lock: the session owns it and removes its entry (under the
 * lock) before freeing it.
 */
struct registry_ctl {
	atomic_int kill;      /* enum registry_kill */
	atomic_int busy_node; /* the node running the session's command now, or -1 */
	/* Per node of the cluster: the node's thread id of the session's
	 * connection there now, 0 if it holds none. Written by the session's
	 * worker only. */
	atomic_uint *threads;
	/* ... and the last one it held there, kept after it went back to the
	 * pool: the id CONNECTION_ID() gave the client. */
	atomic_uint *seen;
	int n_nodes;	       /* of both arrays, <= REGISTRY_MAX_NODES */
	struct event *wake;    /* on the session's worker; activated on CONFIRMED */
	struct worker *worker; /* kicked after that (worker_kick) */
};

struct registry_entry {
	uint32_t id; /* sluice's connection id, from the greeting */
	char user[256];
	int cluster;
	struct registry_ctl *ctl;
	/* registry_find() only: ctl->threads as they were read. */
	uint32_t threads[REGISTRY_MAX_NODES];
	/* registry_find() only: ctl->busy_node as it was read. */
	int busy_node;
};

void registry_put(const struct registry_entry *e);
void registry_remove(uint32_t id);

/* Move session id's KILL CONNECTION state: PENDING before its statement
 * is interrupted on the node, CONFIRMED once the node agreed (which also
 * wakes the session's worker), NONE when the node refused. Nothing if the
 * session is gone. Any thread. */
void registry_kill(uint32_t id, enum registry_kill state);

/* Find a session by sluice id; failing that, by a node thread id, because
 * clients also kill by the id CONNECTION_ID() returns, which is a node's:
 * the session holding that thread of the cluster now (on node first),
 * else the one that held it last; self (the asking session) only when no
 * other session matches. */
bool registry_find(uint32_t id, int cluster, int node, uint32_t self, struct registry_entry *out)
	__attribute__((warn_unused_result));

#endif
