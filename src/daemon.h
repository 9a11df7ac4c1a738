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

#include "session/session.h"

struct config;
struct event_base;
struct listener;
struct stats_server;
struct worker;

struct daemon {
	struct config *cfg;	    /* a reference; main thread only (a reload replaces it) */
	struct event_base *base;    /* main thread: accept, signals */
	struct stats_server *stats; /* NULL without a stats block */
	struct worker **workers;
	size_t n_workers;
	struct listener **listeners;
	size_t n_listeners;
	/* What sessions may touch of the daemon (the monitor, the feed, the
	 * reader rotations, the backend TLS contexts), handed to them through
	 * their worker. */
	struct session_env env;
	size_t next_worker;    /* main thread only: round-robin hand-off */
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

#endif
