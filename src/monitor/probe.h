/*
 * One health check of one node on the monitor's event base, never blocking it. With a monitor
 * account: log in (a connection kept between checks; Connector/C's non-blocking API driven by
 * libevent), run the cluster type's SQL and let verdict.c judge the answer. Without one: the
 * liveness check, a TCP connect and the server's MySQL greeting.
 *
 * Liveness:
 *   IDLE --start--> CONNECTING --TCP connected--> GREETING --first packet--> DONE
 * SQL (the connection is kept between checks):
 *   IDLE --start, no connection--> CONNECTING --logged in--> QUERYING
 *   IDLE --start, connection kept--------------------------> QUERYING
 *   QUERYING --answered--> STORING --rows, more statements--> QUERYING
 *                                  --rows of the last one---> DONE (verdict.c judged)
 *   QUERYING or STORING --kept connection found lost--> CONNECTING (once per check)
 * Both:
 *   any running state --error, timeout--> DONE (SQL: the connection is dropped)
 *   DONE --deferred event: done() called--> IDLE
 */
#ifndef SLUICE_PROBE_H
#define SLUICE_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "monitor/verdict.h" /* struct probe_result */

struct config_cluster;
struct config_node;
struct event_base;
struct probe;

/* Called once per probe_start(), on the base's thread, from an event of the probe's own once
 * the check has let go of its timers, its liveness socket and its result sets (the SQL
 * connection stays open for the next check); res is valid during the call only. The callback
 * may start the probe again or destroy it. */
typedef void (*probe_done_fn)(const struct probe_result *res, void *arg);

/* A reusable checker of node cn of cluster cc, both borrowed (until the probe is destroyed
 * or given others by probe_set_config; cc->monitor.user, as a check starts, decides between
 * the SQL check and the liveness check). The SQL check logs in over TLS when cc has tls,
 * verified as cc->tls.verify says, its files relative to cfg_path's directory (copied). Does
 * no I/O. A probe belongs to base's thread: every call on it must be made there.
 * Returns NULL only when out of memory or when cn's address cannot be written as numbers. */
struct probe *probe_create(struct event_base *base, const char *cfg_path,
			   const struct config_cluster *cc, const struct config_node *cn,
			   probe_done_fn done, void *arg) __attribute__((warn_unused_result));

/* Start one check; done fires exactly once, within about timeout_ms (the SQL check has one
 * deadline for connect, login, statements and rows; the liveness check bounds the connect
 * and the greeting with timeout_ms each). Returns false (and done is not called) when a
 * check is already running, including one whose done has not fired yet. */
bool probe_start(struct probe *p, uint32_t timeout_ms) __attribute__((warn_unused_result));

bool probe_running(const struct probe *p);

/* A reload: the same node in the new configuration (the address is the same, or the reload
 * would need a restart). A running check finishes with the account it started with; the
 * next check takes the new monitor settings. Thread of the probe's base. */
void probe_set_config(struct probe *p, const struct config_cluster *cc,
		      const struct config_node *cn);

/* Cancel a running check (done is not called), close the connection without waiting for the
 * node, and free. NULL is a no-op. Safe from the probe's own done callback. */
void probe_destroy(struct probe *p);

#endif
