/*
 * Failover events: each change of a cluster's writer from a node that was
 * lost, with its measured timeline. The monitor opens an event when it
 * publishes the new writer; the first worker that sees a write succeed on
 * the new writer closes it with the client-visible duration (from the
 * first failed check or data-path failure on the old writer to that
 * write). Kept in memory for the stats page, logged at info.
 *
 * Threads: failover_begin on the monitor thread; failover_first_write from
 * workers (atomics, no lock); failover_recent from any thread (a consistent
 * enough copy: fields are read one by one).
 */
#ifndef SLUICE_FAILOVER_H
#define SLUICE_FAILOVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAILOVER_KEEP 16 /* events kept per process */

struct failover_event {
	uint64_t id;		/* 1, 2, ...; 0: slot unused */
	const char *cluster;	/* failover.c's own copy: outlives configs */
	const char *old_writer; /* ... */
	const char *new_writer; /* ... or NULL: the cluster has no writer */
	uint64_t failed_ms;	/* old writer's first failure seen (monotonic ms) */
	uint64_t switched_ms;	/* new writer published */
	_Atomic uint64_t
		first_write_ms; /* first write acknowledged on the new writer; 0: none yet */
	/* Sessions that lost a statement or a transaction on the old writer:
	 * its counter (owned by the monitor) less its value while healthy. */
	const atomic_uint *lost;
	unsigned lost_base;
};

/* Monotonic milliseconds, the clock of every field above. */
uint64_t failover_now_ms(void);

/* Record that the writer of cluster moved from old_writer to new_writer
 * (NULL: none), the old one having first failed at failed_ms. Returns the
 * event (lives until the process exits) for snapshots to point at. */
struct failover_event *failover_begin(const char *cluster, const char *old_writer,
				      const char *new_writer, uint64_t failed_ms,
				      const atomic_uint *lost, unsigned lost_base);

/* Sessions that lost a statement or transaction to the event's old writer. */
unsigned failover_sessions(const struct failover_event *ev);

/* A write succeeded on writer, the cluster's writer now (ev's new writer,
 * or the one found later when ev had none): the first one closes the event
 * and logs its durations. Cheap when already closed. */
void failover_first_write(struct failover_event *ev, const char *writer);

/* A Galera cluster configuration change (wsrep_cluster_conf_id), which the
 * failover timeline shows beside sluice's own steps. */
struct failover_conf {
	const char *cluster; /* failover.c's own copy: outlives configs */
	const char *node;    /* the node whose check saw it first (ditto) */
	uint64_t conf_id;
	uint64_t at_ms; /* monotonic ms: the start of that check */
};

/* Note that node of cluster reports configuration conf_id (the first node
 * to do so records it). Monitor thread. */
void failover_conf_change(const char *cluster, const char *node, uint64_t conf_id,
			  uint64_t at_ms);

/* Up to max changes of cluster seen between from_ms and to_ms, newest first.
 * Any thread (a change recorded meanwhile may be half-copied: stats only). */
size_t failover_conf_changes(const char *cluster, uint64_t from_ms, uint64_t to_ms,
			     struct failover_conf *out, size_t max);

/* Failover events of cluster (by name) since start. Any thread. */
uint64_t failover_count(const char *cluster);

/* Copy up to max of the most recent events, newest first. Returns the
 * count. */
size_t failover_recent(struct failover_event *out, size_t max);

#endif
