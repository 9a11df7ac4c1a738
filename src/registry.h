/*
 * The registry of client sessions by the connection id sluice gave them,
 * so `KILL [QUERY] n` from one client can find session n's backend thread,
 * whichever worker it runs on. Updated at login, backend (re)connect and
 * close; looked up by KILL. A mutex guards it: none of this is per
 * statement.
 */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

struct registry_entry {
	uint32_t id;		/* sluice's connection id, from the greeting */
	char user[256];
	int cluster;
	int node;		/* node of the session's backend, -1 if none */
	uint32_t backend_thread; /* the node's thread id for it, 0 if none */
};

void registry_put(const struct registry_entry *e);
void registry_remove(uint32_t id);

/* Find a session by sluice id; failing that, by the backend thread id of a
 * session on (cluster, node), because clients also kill by the id
 * CONNECTION_ID() returns, which is the node's. */
bool registry_find(uint32_t id, int cluster, int node, struct registry_entry *out)
	__attribute__((warn_unused_result));

#endif
