/*
 * What the stats server says, rendered from one frozen view of the daemon: the Prometheus
 * text exposition (/metrics) and the JSON status document (/api/v1/status), plus the JSON
 * objects of the event feed. No I/O and no threads: the caller gathers the view (sums the
 * workers' shards, takes a snapshot reference) and hands over a buffer.
 */
#ifndef SLUICE_STATS_RENDER_H
#define SLUICE_STATS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/listener.h"
#include "routing/router.h"
#include "session/close_reason.h"
#include "stats/stats.h"

struct config;
struct evbuffer;
struct failover_event;
struct node_view;
struct snapshot;

/* The daemon at one moment. Everything is borrowed for the render call. */
struct stats_view {
	const struct config *cfg;
	const struct snapshot *snap; /* NULL before the first verdicts */
	/* Node counters summed over the workers, cluster by cluster:
	 * nodes[first[c] + n] is node n of cluster c. */
	const struct node_stats *nodes;
	const size_t *first;
	uint64_t reasons[ROUTER_REASON_COUNT];
	uint64_t closes[CLOSE_REASON_COUNT]; /* client sessions ended, by reason */
	const struct listener_counts *listeners; /* [cfg->n_listeners] */
	const struct failover_event *failovers;	 /* newest first, any cluster */
	size_t n_failovers;
	double uptime_seconds;
	/* Clocks: failover and check times are monotonic ms; the JSON says
	 * wall-clock ms since the epoch (now_unix_ms - now_mono_ms + t). */
	uint64_t now_unix_ms, now_mono_ms;
	bool admin;	      /* admin actions are on */
	uint32_t feed_rate;   /* statements per second the feed sends at most */
	const char *version;
};

/* The Prometheus text format, version 0.0.4: every metric with its HELP and TYPE, names
 * sluice_*, base units. */
void stats_render_prometheus(const struct stats_view *v, struct evbuffer *out);

/* The status document (see man sluice(8), "Stats server"). */
void stats_render_status(const struct stats_view *v, struct evbuffer *out);

/* A node's state for people and the JSON: "up", "down", "drain" or "maintenance". */
const char *stats_node_state(const struct node_view *n);

/* Why a node is not serving, in words ("drained by the operator at 12:03:04", "not serving:
 * wsrep_local_state 2 (Donor/Desynced)", "unreachable (connection refused): Can't connect
 * ..."); "" when it serves. v converts times (may be NULL: none shown). */
void stats_node_why(const struct stats_view *v, const struct node_view *n, char *out,
		    size_t cap);

/* One failover event as a JSON object (times as wall clock), for the status and the feed. */
void stats_render_failover(const struct stats_view *v, const struct failover_event *ev,
			   struct evbuffer *out);

/* s as a JSON string literal, quotes included. */
void stats_json_string(struct evbuffer *out, const char *s);

#endif
