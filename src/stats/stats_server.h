/*
 * The stats and admin HTTP server on stats.bind (libevent's evhttp): the dashboard
 * (stats-ui/, built into the binary), /metrics (Prometheus), /api/v1/status (JSON),
 * /api/v1/events (Server-Sent Events: health changes and failovers) and the admin action
 * POST /api/v1/clusters/{cluster}/nodes/{node}/state.
 *
 * It runs on its own thread and event base, so a slow or hostile HTTP client never holds
 * a worker; it only reads what workers and the monitor publish (counter shards, snapshots).
 * Bounds: header size, body size, a read/write timeout per connection.
 */
#ifndef SLUICE_STATS_SERVER_H
#define SLUICE_STATS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct feed;
struct listener;
struct snapshot;
struct stats_server;
struct worker;

/* What the server reads of the daemon that runs it. The arrays and the feed stay the
 * daemon's and must outlive the server. They are read on the stats thread only, so the
 * workers may still be created after stats_server_create(): workers[0..n_workers) must be
 * whole before stats_server_start(). */
struct stats_sources {
	struct worker *const *workers; /* their counter shards */
	size_t n_workers;
	struct listener *const *listeners; /* their connection counts */
	size_t n_listeners;
	struct feed *feed; /* the statement feed behind the event stream */
};

/* Bind stats.bind of cfg (the configuration at start; a reference is taken, later ones
 * come with the snapshots). *src is copied. NULL when cfg has no stats block (not an
 * error) or, with a log line naming the config location, when the bind fails; *failed
 * tells the two apart. */
struct stats_server *stats_server_create(const struct config *cfg, const struct stats_sources *src,
					 bool *failed) __attribute__((warn_unused_result));

/* Start serving on its own thread. */
bool stats_server_start(struct stats_server *ss) __attribute__((warn_unused_result));

/* The monitor published new node states. Consumes one reference. Any thread. */
void stats_server_set_snapshot(struct stats_server *ss, struct snapshot *snap);

/* Stop the thread, close every connection, free. NULL is a no-op. */
void stats_server_destroy(struct stats_server *ss);

#endif
