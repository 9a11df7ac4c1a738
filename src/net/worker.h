/*
 * Worker threads. Each has its own event base and runs every session handed
 * to it for the session's whole life; nothing on a worker blocks and nothing
 * on the data path takes a lock.
 *
 * Other threads talk to a worker through two doors, both lock-free for the
 * worker's fast path: worker_handoff() queues an accepted socket (a short
 * mutex on the hand-off queue, off the data path), worker_set_snapshot()
 * swaps in new node states and worker_set_config() a reloaded configuration,
 * each through an atomic pointer.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "list.h"
#include "routing/router.h"
#include "session/close_reason.h"

struct config;
struct event_base;
struct node_stats;
struct pool;
struct ring;
struct session_env;
struct snapshot;
struct worker;

/* What every session type embeds so its worker can track and close it. */
struct worker_session {
	struct list link;
	/* Close now: free every resource. Called on the worker thread from the
	 * reaper or at shutdown, never from inside the session's own callbacks. */
	void (*destroy)(struct worker_session *ws);
	/* A reload: point every borrowed piece of configuration at cfg, which has
	 * the same listeners, clusters and nodes in the same order. The old
	 * configuration is freed right after. Worker thread. */
	void (*reconfigure)(struct worker_session *ws, const struct config *cfg);
	/* Optional (NULL: not told): an operator put a node in maintenance, as
	 * snap (the worker's snapshot from now on) shows. It may close the
	 * session (worker_session_close). Worker thread. */
	void (*maintenance_began)(struct worker_session *ws, const struct snapshot *snap);
	bool closing;
};

/* A worker for the sessions of cfg (it takes its own reference), giving them
 * env (which must outlive it). */
struct worker *worker_create(struct session_env *env, const struct config *cfg, unsigned id)
	__attribute__((warn_unused_result));
bool worker_start(struct worker *w) __attribute__((warn_unused_result));

/* Who takes a client handed to a worker: start() runs its session on the
 * worker thread and owns fd from then on; if the worker stops first, it
 * closes fd and calls drop() instead. Exactly one of them runs. */
struct worker_taker {
	void (*start)(void *arg, struct worker *w, int fd, const struct sockaddr *peer,
		      socklen_t peer_len);
	void (*drop)(void *arg);
	void *arg;
};

/* Queue an accepted client socket for this worker, for taker (which must
 * outlive the worker). Ownership of fd passes to the worker. Any thread. */
void worker_handoff(struct worker *w, int fd, const struct worker_taker *taker,
		    const struct sockaddr *peer, socklen_t peer_len);

/* Replace the worker's node-state snapshot. Consumes one reference. Any thread. */
void worker_set_snapshot(struct worker *w, struct snapshot *snap);

/* Replace the worker's configuration after a reload (every session moves to
 * it). Consumes one reference. Any thread. */
void worker_set_config(struct worker *w, const struct config *cfg);

/* Worker thread only. */
const struct config *worker_config(const struct worker *w);
struct snapshot *worker_snapshot(struct worker *w);
/* The calls a worker makes on its pool of idle node connections
 * (session/pool.h, a layer above it): a reload and new node states on the
 * worker thread, the end once the worker stopped. */
struct worker_pool_ops {
	void (*set_config)(struct pool *p, const struct config *cfg);
	void (*set_snapshot)(struct pool *p, const struct snapshot *snap);
	void (*destroy)(struct pool *p);
};

/* Give the worker its pool, made on worker_base() and worker_stats(),
 * before worker_start(); the worker owns it from then on. */
void worker_set_pool(struct worker *w, struct pool *p, const struct worker_pool_ops *ops);
struct pool *worker_pool(struct worker *w);

/* This worker's shard of the node counters: [cluster][node]. */
struct node_stats **worker_stats(struct worker *w);
struct event_base *worker_base(struct worker *w);
/* The worker's io_uring, or NULL where it waits in epoll (net/ring.h). */
struct ring *worker_ring(struct worker *w);
/* Wake the worker after an event_active() on its base from another thread:
 * libevent does that itself only while the base sits in epoll. Any thread. */
void worker_kick(struct worker *w);
struct session_env *worker_env(struct worker *w);
unsigned worker_id(const struct worker *w);

/* This worker's counters for node n of cluster c. Worker thread only for
 * writing; other threads may read them (relaxed, for stats). */
struct node_stats *worker_node_stats(struct worker *w, size_t c, size_t n);
/* This worker's routing reason counts, [ROUTER_REASON_COUNT]; other threads
 * may read them (relaxed, for stats). */
const uint64_t *worker_reasons(const struct worker *w);
/* Count one routing reason (router.h) in this worker's shard. */
void worker_count_reason(struct worker *w, enum router_reason reason);

/* This worker's session close counts, [CLOSE_REASON_COUNT]; other threads
 * may read them (relaxed, for stats). */
const uint64_t *worker_closes(const struct worker *w);
/* Count one session end (close_reason.h) in this worker's shard. */
void worker_count_close(struct worker *w, enum close_reason reason);

/* Track a new session / schedule its destruction after the current
 * callback returns. Worker thread only. */
void worker_session_add(struct worker *w, struct worker_session *ws);
void worker_session_close(struct worker *w, struct worker_session *ws);

/* Close every session, stop the loop and join the thread. Main thread. */
void worker_stop(struct worker *w);
void worker_destroy(struct worker *w);

#endif
