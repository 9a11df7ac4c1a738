/*
 * The running daemon: the loaded config, the health monitor, the worker
 * threads and the listeners, wired together. The main thread owns it and
 * runs the accept loop and signal handling; sessions run on workers.
 */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct feed;
struct event_base;
struct health;
struct listener;
struct ssl_ctx_st;
struct stats_server;
struct worker;

struct daemon {
	struct config *cfg;	 /* a reference; main thread only (a reload replaces it) */
	struct event_base *base; /* main thread: accept, signals */
	struct health *health;
	struct stats_server *stats; /* NULL without a stats block */
	struct feed *feed;	    /* the dashboard's statement feed; NULL without stats */
	struct worker **workers;
	size_t n_workers;
	struct listener **listeners;
	size_t n_listeners;
	/* Per cluster: the shared reader rotation counter. Shared by all
	 * workers so "strict round-robin" holds across threads. */
	atomic_uint_fast64_t *rr;
	/* ... and the counter of the rotation without the writer, which
	 * mode: mysql listeners use unless primary_reads is on. */
	atomic_uint_fast64_t *rr_replicas;
	/* Per cluster: the TLS client context towards its nodes, or NULL. */
	struct ssl_ctx_st **backend_tls;
	atomic_uint_fast64_t next_session_id;
	size_t next_worker; /* main thread only: round-robin hand-off */
	uint64_t notified_gen; /* monitor thread: the snapshot generation STATUS= told */
};

/* Build everything from cfg (ownership moves to the daemon), bind every
 * listener and start the monitor and workers. On failure logs why (with the
 * config location for bind errors) and returns NULL; cfg is freed. */
struct daemon *daemon_create(struct config *cfg) __attribute__((warn_unused_result));

/* Accept and serve until SIGTERM or SIGINT. Returns the exit status.
 *
 * SIGHUP reloads the configuration file, all or nothing: a file with errors
 * (each logged as FILE:LINE:COL) or with a change that needs a restart
 * (listeners, clusters or nodes added, removed or moved, modes, TLS, workers,
 * buffer_size, the stats address; each logged with its place) leaves the
 * configuration in effect untouched. Otherwise users, weights, priorities,
 * monitor settings, timeouts, logging, causal_reads, primary_reads and
 * max_connections change at once for open sessions too; none is closed. */
int daemon_run(struct daemon *s);

/* Stop accepting, close every session, stop the threads, free. */
void daemon_destroy(struct daemon *s);

/* Give an accepted client to the next worker. Main thread. */
struct worker *daemon_pick_worker(struct daemon *s);

#endif
