/*
 * The health monitor: a thread with its own event base that checks every
 * node of every cluster each monitor.interval, applies fall/rise, and
 * publishes a new immutable snapshot (snapshot.h) whenever a node changes
 * state. The check itself is a struct probe (probe.h).
 *
 * Threads: health_create/start/stop/destroy from the main thread;
 * health_suspect from any thread; the publish callback runs on the monitor
 * thread.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct health;
struct snapshot;

/* Receives one reference to the new snapshot, which it now owns. */
typedef void (*health_publish_fn)(struct snapshot *snap, void *arg);

/* A monitor for every node in cfg (it takes a reference).
 * Returns NULL when out of memory or an event base cannot be made. */
struct health *health_create(const struct config *cfg, health_publish_fn publish, void *arg)
	__attribute__((warn_unused_result));

/* Start the thread, check every node once and wait (at most the largest
 * monitor timeout plus a margin) until each has a first verdict, so traffic
 * is not refused just because sluice has only started. The first verdict
 * decides a node's state; afterwards fall/rise apply. Publishes the first
 * snapshot before returning. */
bool health_start(struct health *h) __attribute__((warn_unused_result));

/* A data-path failure on this node (refused or timed-out connect, dropped
 * connection): check it now instead of at the next tick. Any thread. */
void health_suspect(struct health *h, size_t cluster, size_t node);

/* A session lost a statement in flight or an open transaction on this node
 * (counted in its next failover event). Any thread. */
/* Move to cfg, a reload of the configuration in use with the same clusters and nodes
 * (config_diff found nothing that needs a restart). Consumes one reference. Any thread;
 * applied on the monitor thread. */
void health_set_config(struct health *h, const struct config *cfg);

void health_lost(struct health *h, size_t cluster, size_t node);

/* Stop the thread and wait for it. Idempotent. */
void health_stop(struct health *h);

void health_destroy(struct health *h);

#endif
