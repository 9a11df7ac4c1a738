/*
 * Listening sockets, accept on the main thread, hand-off to workers and the
 * max_connections gate. See listener.h.
 */
#include "net/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "config/config.h"
#include "log.h"
#include "net/tls.h"
#include "net/worker.h"

/* After an accept error such as EMFILE, wait this long before accepting
 * again instead of spinning on a socket that stays readable. */
#define ACCEPT_BACKOFF_MS 100

struct listener {
	listener_start_fn start;   /* the session kind of its mode */
	struct worker_taker taker; /* how a worker starts it, or drops a client */
	listener_pick_fn pick;
	void *pick_arg;
	const struct config_listener *cfg; /* main thread only (a reload replaces it) */
	size_t index;
	atomic_uint max_connections; /* read by workers as sessions end */
	struct evconnlistener *evl;
	struct event *resume;		    /* re-enables accept after a backoff */
	atomic_uint active;		    /* sessions open or queued for a worker */
	atomic_uint_fast64_t accepted;	    /* clients accepted, ever */
	atomic_uint_fast64_t logins_failed; /* mode: mysql logins refused, ever */
	atomic_bool paused;		    /* at max_connections */
	bool closed;
	SSL_CTX *tls;
};

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *peer,
		      int peer_len, void *arg)
{
	struct listener *l = arg;
	unsigned active = atomic_fetch_add(&l->active, 1) + 1;

	atomic_fetch_add_explicit(&l->accepted, 1, memory_order_relaxed);
	if (active >= atomic_load(&l->max_connections) && !atomic_exchange(&l->paused, true)) {
		evconnlistener_disable(evl);
		log_warn("listener",
			 "%s: %u connections, the max_connections limit; new clients "
			 "wait in the backlog",
			 l->cfg->name, active);
	}
	worker_handoff(l->pick(l->pick_arg), fd, &l->taker, peer, (socklen_t)peer_len);
}

/* Worker thread: a handed-off client's session starts. */
static void take_client(void *arg, struct worker *w, int fd, const struct sockaddr *peer,
			socklen_t peer_len)
{
	struct listener *l = arg;

	l->start(w, l, fd, peer, peer_len);
}

/* The worker stopped before it started the client's session (it closed the
 * socket). */
static void drop_client(void *arg)
{
	listener_session_ended(arg);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	if (!l->closed && !atomic_load(&l->paused))
		evconnlistener_enable(l->evl);
}

static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};
	int err = EVUTIL_SOCKET_ERROR();

	log_warn("listener", "%s: accept failed: %s; pausing %d ms", l->cfg->name,
		 evutil_socket_error_to_string(err), ACCEPT_BACKOFF_MS);
	evconnlistener_disable(evl);
	event_add(l->resume, &tv);
}

struct listener *listener_create(const struct config_listener *cfg, const char *config_path,
				 size_t index, struct event_base *base, listener_start_fn start,
				 listener_pick_fn pick, void *pick_arg)
{
	struct listener *l = calloc(1, sizeof(*l));
	char addr[64];

	if (!l)
		return NULL;
	l->start = start;
	l->taker = (struct worker_taker){.start = take_client, .drop = drop_client, .arg = l};
	l->pick = pick;
	l->pick_arg = pick_arg;
	l->cfg = cfg;
	l->index = index;
	atomic_init(&l->max_connections, cfg->max_connections);
	atomic_init(&l->active, 0);
	atomic_init(&l->accepted, 0);
	atomic_init(&l->logins_failed, 0);
	atomic_init(&l->paused, false);
	l->resume = evtimer_new(base, resume_cb, l);
	if (!l->resume)
		goto fail;
	if (cfg->tls_given && !(l->tls = tls_server_ctx_create(cfg, config_path)))
		goto fail;
	/* Created disabled: the server enables listeners once the workers and
	 * the first health verdicts are ready. */
	l->evl = evconnlistener_new_bind(
		base, accept_cb, l,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
			LEV_OPT_THREADSAFE | LEV_OPT_DISABLED,
		1024, (const struct sockaddr *)&cfg->bind.ss, (int)cfg->bind.len);
	if (!l->evl) {
		struct config_mark at = config_listener_mark(cfg, "bind");
		log_error(
			"listener", "%s:%u:%u: listener %s: cannot bind %s: %s%s", config_path,
			at.line, at.col, cfg->name,
			config_addr_str((const struct sockaddr *)&cfg->bind.ss, addr, sizeof(addr)),
			strerror(errno),
			errno == EADDRINUSE ? " (another process listens there; pick another port "
					      "or stop it)"
					    : "");
		goto fail;
	}
	evconnlistener_set_error_cb(l->evl, accept_error_cb);
	return l;
fail:
	listener_destroy(l);
	return NULL;
}

void listener_enable(struct listener *l)
{
	char addr[64];

	evconnlistener_enable(l->evl);
	log_info("listener", "%s: listening on %s (mode %s%s%s, cluster %s)", l->cfg->name,
		 config_addr_str((const struct sockaddr *)&l->cfg->bind.ss, addr, sizeof(addr)),
		 listener_mode_str(l->cfg->mode),
		 l->cfg->mode == LISTENER_MODE_TCP ? ", route " : "",
		 l->cfg->mode == LISTENER_MODE_TCP ? listener_route_str(l->cfg->route) : "",
		 l->cfg->cluster);
}

void listener_close(struct listener *l)
{
	if (!l || l->closed)
		return;
	l->closed = true;
	evconnlistener_disable(l->evl);
	event_del(l->resume);
}

void listener_session_ended(struct listener *l)
{
	unsigned active = atomic_fetch_sub(&l->active, 1) - 1;

	if (active < atomic_load(&l->max_connections) && atomic_exchange(&l->paused, false)) {
		if (!l->closed)
			evconnlistener_enable(l->evl);
	}
}

void listener_login_failed(struct listener *l)
{
	atomic_fetch_add_explicit(&l->logins_failed, 1, memory_order_relaxed);
}

struct listener_counts listener_counts(const struct listener *l)
{
	return (struct listener_counts){
		.open = atomic_load_explicit(&l->active, memory_order_relaxed),
		.accepted = atomic_load_explicit(&l->accepted, memory_order_relaxed),
		.logins_failed = atomic_load_explicit(&l->logins_failed, memory_order_relaxed),
	};
}

struct ssl_ctx_st *listener_tls(const struct listener *l)
{
	return l->tls;
}

void listener_set_config(struct listener *l, const struct config_listener *cfg)
{
	l->cfg = cfg;
	atomic_store(&l->max_connections, cfg->max_connections);
	/* A higher limit lets waiting clients in now; a lower one pauses
	 * accepting at the next accept, and open sessions stay. */
	if (atomic_load(&l->active) < cfg->max_connections && atomic_exchange(&l->paused, false) &&
	    !l->closed)
		evconnlistener_enable(l->evl);
}

size_t listener_index(const struct listener *l)
{
	return l->index;
}

void listener_destroy(struct listener *l)
{
	if (!l)
		return;
	if (l->evl)
		evconnlistener_free(l->evl);
	if (l->resume)
		event_free(l->resume);
	SSL_CTX_free(l->tls);
	free(l);
}
