/*
 * Worker threads: event base, hand-off queue, snapshot swap, session
 * bookkeeping and the reaper. See worker.h.
 */
#include "net/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "routing/router.h"
#include "stats/stats.h"
#include "log.h"
#include "monitor/snapshot.h"
#include "net/evmem.h"
#include "net/ring.h"

struct handoff {
	struct handoff *next;
	int fd;
	const struct worker_taker *taker;
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

struct worker {
	struct session_env *env;
	unsigned id;
	pthread_t thread;
	bool running;
	struct event_base *base;
	struct event *wake; /* hand-offs, new snapshot or stop */
	struct event *reap; /* destroys closing sessions after callbacks return */
	struct ring *ring;  /* NULL: the base waits in epoll; worker thread only */
	int kick_fd;	    /* wakes the ring after an event_active() from another thread */
	atomic_bool kicks;  /* the ring is up: kick it */

	pthread_mutex_t lock; /* guards the hand-off queue only */
	struct handoff *head, *tail;

	_Atomic(struct snapshot *) pending;	 /* set by the monitor, taken by the worker */
	_Atomic(const struct config *) next_cfg; /* set by a reload, taken by the worker */
	const struct config *cfg;		 /* a reference; worker thread only */
	atomic_bool stop;

	struct snapshot *snap;			     /* worker thread only */
	struct list sessions;			     /* open sessions */
	struct list closing;			     /* waiting for the reaper */
	struct node_stats **stats;		     /* [cluster][node], this worker's shard */
	uint64_t route_reasons[ROUTER_REASON_COUNT]; /* this worker's shard */
	uint64_t closes[CLOSE_REASON_COUNT];	     /* this worker's shard */
	size_t n_clusters;
	struct pool *pool; /* idle backend connections of mode: mysql sessions */
	const struct worker_pool_ops *pool_ops;
};

static void destroy_list(struct list *head)
{
	while (!list_empty(head)) {
		struct worker_session *ws = list_entry(head->next, struct worker_session, link);
		list_remove(&ws->link);
		ws->destroy(ws);
	}
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	destroy_list(&w->closing);
}

/* Every session, open or waiting for the reaper, moves to cfg before the old
 * configuration is let go. */
static void reconfigure_list(struct list *head, const struct config *cfg)
{
	for (struct list *it = head->next; it != head; it = it->next) {
		struct worker_session *ws = list_entry(it, struct worker_session, link);
		ws->reconfigure(ws, cfg);
	}
}

/* Tell the open sessions that want to know that a node went into
 * maintenance; one may close itself, which moves it to the closing list. */
static void tell_maintenance(struct list *head, const struct snapshot *snap)
{
	struct list *next;

	for (struct list *it = head->next; it != head; it = next) {
		struct worker_session *ws = list_entry(it, struct worker_session, link);
		next = it->next;
		if (ws->maintenance_began)
			ws->maintenance_began(ws, snap);
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct snapshot *snap = atomic_exchange(&w->pending, NULL);
	const struct config *cfg = atomic_exchange(&w->next_cfg, NULL);
	struct handoff *q;

	if (cfg) {
		reconfigure_list(&w->sessions, cfg);
		reconfigure_list(&w->closing, cfg);
		w->pool_ops->set_config(w->pool, cfg);
		config_unref(w->cfg);
		w->cfg = cfg;
	}
	if (snap) {
		bool maintenance = snapshot_maintenance_began(w->snap, snap);
		w->pool_ops->set_snapshot(w->pool, snap);
		snapshot_unref(w->snap);
		w->snap = snap;
		if (maintenance)
			tell_maintenance(&w->sessions, snap);
	}

	pthread_mutex_lock(&w->lock);
	q = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);

	bool stopping = atomic_load(&w->stop);
	while (q) {
		struct handoff *next = q->next;
		if (stopping) {
			close(q->fd);
			q->taker->drop(q->taker->arg);
		} else {
			q->taker->start(q->taker->arg, w, q->fd, (struct sockaddr *)&q->peer,
					q->peer_len);
		}
		free(q);
		q = next;
	}

	if (stopping) {
		destroy_list(&w->closing);
		destroy_list(&w->sessions);
		if (w->ring)
			ring_stop(w->ring);
		else
			event_base_loopbreak(w->base);
	}
}

/* Have the worker run wake_cb, from any thread. */
static void wake(struct worker *w)
{
	event_active(w->wake, EV_TIMEOUT, 0);
	worker_kick(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* The ring is made on the thread that uses it (it admits one submitter). */
	if (w->cfg->io_engine == IO_ENGINE_AUTO)
		w->ring = ring_create(w->base, w->kick_fd, RING_BUFS);
	log_info("worker", "worker %u waits in %s", w->id, w->ring ? "io_uring" : "epoll");
	if (!w->ring) {
		event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
		evmem_thread_flush();
		return NULL;
	}
	/* An activation before this is seen by the loop's first look at the base. */
	atomic_store(&w->kicks, true);
	ring_loop(w->ring);
	atomic_store(&w->kicks, false);
	/* The sessions are gone (wake_cb). The pool's connections have requests on
	 * this thread's ring: close them here, then let the ring drain. */
	if (w->pool)
		w->pool_ops->destroy(w->pool);
	w->pool = NULL;
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	ring_destroy(w->ring);
	w->ring = NULL;
	evmem_thread_flush();
	return NULL;
}

struct worker *worker_create(struct session_env *env, const struct config *cfg, unsigned id)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->env = env;
	w->id = id;
	w->kick_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	atomic_init(&w->pending, NULL);
	atomic_init(&w->next_cfg, NULL);
	w->cfg = config_ref(cfg);
	atomic_init(&w->stop, false);
	list_init(&w->sessions);
	list_init(&w->closing);
	w->n_clusters = cfg->n_clusters;
	w->stats = calloc(w->n_clusters ? w->n_clusters : 1, sizeof(*w->stats));
	if (!w->stats)
		goto fail;
	for (size_t c = 0; c < w->n_clusters; c++) {
		size_t n = cfg->clusters[c].n_nodes;
		w->stats[c] = calloc(n ? n : 1, sizeof(**w->stats));
		if (!w->stats[c])
			goto fail;
	}
	w->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->kick_fd < 0)
		goto fail;
	w->base = event_base_new();
	if (!w->base)
		goto fail;
	w->wake = event_new(w->base, -1, 0, wake_cb, w);
	w->reap = event_new(w->base, -1, 0, reap_cb, w);
	if (!w->wake || !w->reap)
		goto fail;
	return w;
fail:
	worker_destroy(w);
	return NULL;
}

bool worker_start(struct worker *w)
{
	char name[16];

	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		log_error("worker", "cannot start worker thread %u", w->id);
		return false;
	}
	/* "top -H" and /proc/PID/task/TID/comm tell the workers apart. */
	snprintf(name, sizeof(name), "sluice-w%u", w->id);
	pthread_setname_np(w->thread, name);
	w->running = true;
	return true;
}

void worker_handoff(struct worker *w, int fd, const struct worker_taker *taker,
		    const struct sockaddr *peer, socklen_t peer_len)
{
	struct handoff *h = calloc(1, sizeof(*h));

	if (!h) {
		/* Out of memory: refuse this one client, keep serving the rest. */
		close(fd);
		taker->drop(taker->arg);
		return;
	}
	h->fd = fd;
	h->taker = taker;
	memcpy(&h->peer, peer, peer_len);
	h->peer_len = peer_len;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = h;
	else
		w->head = h;
	w->tail = h;
	pthread_mutex_unlock(&w->lock);
	wake(w);
}

void worker_set_snapshot(struct worker *w, struct snapshot *snap)
{
	struct snapshot *old = atomic_exchange(&w->pending, snap);

	/* A snapshot the worker never picked up is simply superseded. */
	snapshot_unref(old);
	wake(w);
}

void worker_set_config(struct worker *w, const struct config *cfg)
{
	/* One the worker never picked up is simply superseded. */
	config_unref(atomic_exchange(&w->next_cfg, cfg));
	wake(w);
}

struct ring *worker_ring(struct worker *w)
{
	return w->ring;
}

void worker_kick(struct worker *w)
{
	if (atomic_load(&w->kicks))
		eventfd_write(w->kick_fd, 1);
}

const struct config *worker_config(const struct worker *w)
{
	return w->cfg;
}

void worker_set_pool(struct worker *w, struct pool *p, const struct worker_pool_ops *ops)
{
	BUG_ON(w->running || w->pool);
	w->pool = p;
	w->pool_ops = ops;
}

struct node_stats **worker_stats(struct worker *w)
{
	return w->stats;
}

struct pool *worker_pool(struct worker *w)
{
	return w->pool;
}

struct snapshot *worker_snapshot(struct worker *w)
{
	return w->snap;
}

struct event_base *worker_base(struct worker *w)
{
	return w->base;
}

struct session_env *worker_env(struct worker *w)
{
	return w->env;
}

unsigned worker_id(const struct worker *w)
{
	return w->id;
}

struct node_stats *worker_node_stats(struct worker *w, size_t c, size_t n)
{
	return &w->stats[c][n];
}

const uint64_t *worker_reasons(const struct worker *w)
{
	return w->route_reasons;
}

void worker_count_reason(struct worker *w, enum router_reason reason)
{
	if ((unsigned)reason < ROUTER_REASON_COUNT)
		w->route_reasons[reason]++;
}

const uint64_t *worker_closes(const struct worker *w)
{
	return w->closes;
}

void worker_count_close(struct worker *w, enum close_reason reason)
{
	if ((unsigned)reason < CLOSE_REASON_COUNT)
		w->closes[reason]++;
}

void worker_session_add(struct worker *w, struct worker_session *ws)
{
	ws->closing = false;
	list_append(&w->sessions, &ws->link);
}

void worker_session_close(struct worker *w, struct worker_session *ws)
{
	if (ws->closing)
		return;
	ws->closing = true;
	list_remove(&ws->link);
	list_append(&w->closing, &ws->link);
	event_active(w->reap, EV_TIMEOUT, 0);
	ring_note_activation();
}

void worker_stop(struct worker *w)
{
	if (!w || !w->running)
		return;
	atomic_store(&w->stop, true);
	wake(w);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w);
	/* Not started, or stopped: nothing runs on the base any more. */
	destroy_list(&w->closing);
	destroy_list(&w->sessions);
	while (w->head) {
		struct handoff *next = w->head->next;
		close(w->head->fd);
		w->head->taker->drop(w->head->taker->arg);
		free(w->head);
		w->head = next;
	}
	if (w->pool)
		w->pool_ops->destroy(w->pool);
	w->pool = NULL;
	/* One more pass so objects that defer their own release (backend
	 * connections) are freed before the base goes away. */
	if (w->base)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	snapshot_unref(atomic_exchange(&w->pending, NULL));
	snapshot_unref(w->snap);
	config_unref(atomic_exchange(&w->next_cfg, NULL));
	config_unref(w->cfg);
	if (w->wake)
		event_free(w->wake);
	if (w->reap)
		event_free(w->reap);
	if (w->base)
		event_base_free(w->base);
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	for (size_t c = 0; w->stats && c < w->n_clusters; c++)
		free(w->stats[c]);
	free(w->stats);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
