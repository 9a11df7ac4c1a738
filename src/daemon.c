/*
 * Daemon wiring: builds workers, monitor and listeners from the config,
 * forwards snapshots from the monitor to the workers, runs the main loop
 * until a stop signal. See daemon.h.
 */
#include "daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "clock.h"
#include "config/config.h"
#include "stats/feed.h"
#include "monitor/health.h"
#include "notify.h"
#include "session/mysql_session.h"
#include "session/pool.h"
#include "session/tcp_session.h"
#include "net/listener.h"
#include "log.h"
#include "monitor/snapshot.h"
#include "monitor/verdict.h"
#include "stats/stats_server.h"
#include "net/tls.h"
#include "net/worker.h"

/* Tell the service manager (notify.h) each cluster's writer and how many of
 * its nodes are up, as STATUS=. Monitor thread. */
static void notify_status(struct daemon *s, const struct snapshot *snap)
{
	char status[400];
	size_t at = 0;

	for (size_t c = 0; c < snap->n_clusters && at < sizeof(status); c++) {
		const struct cluster_view *v = &snap->clusters[c];
		size_t up = 0;
		for (size_t n = 0; n < v->n_nodes; n++)
			up += v->nodes[n].up;
		int w = snprintf(
			status + at, sizeof(status) - at, "%s%s: writer %s, %zu/%zu nodes up",
			c ? "; " : "", snap->cfg->clusters[c].name,
			v->writer >= 0 ? v->nodes[v->writer].name : "none", up, v->n_nodes);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	notify_send("STATUS=%s", status);
}

/* Monitor thread: every worker gets its own reference to the new snapshot. */
static void publish_cb(struct snapshot *snap, void *arg)
{
	struct daemon *s = arg;

	if (snap->generation != s->notified_gen) {
		s->notified_gen = snap->generation;
		notify_status(s, snap);
	}

	for (size_t i = 0; i < s->n_workers; i++)
		worker_set_snapshot(s->workers[i], snapshot_ref(snap));
	if (s->stats)
		stats_server_set_snapshot(s->stats, snapshot_ref(snap));
	snapshot_unref(snap);
}

/* What a worker calls on its pool (worker.h). */
static const struct worker_pool_ops pool_ops = {
	.set_config = pool_set_config,
	.set_snapshot = pool_set_snapshot,
	.destroy = pool_destroy,
};

/* Give an accepted client to the next worker (listener.h). Main thread. */
static struct worker *pick_worker(void *arg)
{
	struct daemon *s = arg;
	struct worker *w = s->workers[s->next_worker];

	s->next_worker = (s->next_worker + 1) % s->n_workers;
	return w;
}

/* The session kind a listener of this mode runs. */
static listener_start_fn session_start(enum listener_mode mode)
{
	switch (mode) {
	case LISTENER_MODE_TCP:
		return tcp_session_start;
	case LISTENER_MODE_MYSQL:
		return mysql_session_start;
	}
	BUG_ON(true);
	return NULL;
}

/* Read your writes (causal_reads: session) sends a session's reads after a write to a
 * reader only once the monitor has seen that reader apply it; a cluster whose checks read
 * no positions leaves every such read on the writer. Legal, and safe, but say so: it is
 * rarely what the operator meant. */
static void warn_blind_causal_reads(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		const struct config_cluster *cc = &cfg->clusters[l->cluster_index];

		if (l->mode != LISTENER_MODE_MYSQL || l->causal_reads != CAUSAL_READS_SESSION)
			continue;
		if (!verdict_has_positions(cc->type))
			log_warn("server",
				 "listener %s: causal_reads: session needs the nodes' applied "
				 "positions, which checks of a %s cluster do not read: a session's "
				 "reads after its first write all go to the writer (set "
				 "causal_reads: off on this listener if its reads may lag)",
				 l->name, cluster_type_str(cc->type));
		else if (!cc->monitor.user)
			log_warn("server",
				 "listener %s: causal_reads: session needs the nodes' applied "
				 "positions, which cluster %s's monitor reads only with a user: a "
				 "session's reads after its first write all go to the writer (give "
				 "clusters[].monitor a user and password_file)",
				 l->name, cc->name);
	}
}

struct daemon *daemon_create(struct config *cfg)
{
	struct daemon *s = calloc(1, sizeof(*s));

	if (!s) {
		config_destroy(cfg);
		return NULL;
	}
	s->cfg = cfg;
	atomic_init(&s->env.next_session_id, 1);
	s->env.rr = calloc(cfg->n_clusters, sizeof(*s->env.rr));
	s->env.rr_replicas = calloc(cfg->n_clusters, sizeof(*s->env.rr_replicas));
	s->env.backend_tls = calloc(cfg->n_clusters, sizeof(*s->env.backend_tls));
	if (!s->env.backend_tls)
		goto fail;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		if (cfg->clusters[c].tls_given &&
		    !(s->env.backend_tls[c] = tls_client_ctx_create(&cfg->clusters[c], cfg->path)))
			goto fail;
	}
	s->workers = calloc(cfg->workers, sizeof(*s->workers));
	s->listeners = calloc(cfg->n_listeners, sizeof(*s->listeners));
	s->base = event_base_new();
	if (!s->env.rr || !s->env.rr_replicas || !s->workers || !s->listeners || !s->base)
		goto fail;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		atomic_init(&s->env.rr[c], 0);
		atomic_init(&s->env.rr_replicas[c], 0);
	}

	/* Bind first: a port in use should stop us before threads start. */
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		s->listeners[i] =
			listener_create(&cfg->listeners[i], cfg->path, i, s->base,
					session_start(cfg->listeners[i].mode), pick_worker, s);
		if (!s->listeners[i])
			goto fail;
		s->n_listeners++;
	}
	bool stats_failed;
	if (cfg->stats_given && !(s->env.feed = feed_create(cfg->workers, cfg->stats.feed_rate)))
		goto fail;
	/* The workers are made below: the stats server reads them only once started, after them. */
	struct stats_sources stats_src = {.workers = s->workers,
					  .n_workers = cfg->workers,
					  .listeners = s->listeners,
					  .n_listeners = s->n_listeners,
					  .feed = s->env.feed};
	s->stats = stats_server_create(cfg, &stats_src, &stats_failed);
	if (stats_failed)
		goto fail;
	for (unsigned i = 0; i < cfg->workers; i++) {
		struct worker *w = worker_create(&s->env, cfg, i);
		struct pool *p;

		if (!w)
			goto fail;
		s->workers[s->n_workers++] = w;
		p = pool_create(worker_base(w), cfg, worker_stats(w));
		if (!p)
			goto fail;
		worker_set_pool(w, p, &pool_ops);
		if (!worker_start(w))
			goto fail;
	}
	s->env.health = health_create(cfg, publish_cb, s);
	if (!s->env.health || !health_start(s->env.health))
		goto fail;
	if (s->stats && !stats_server_start(s->stats))
		goto fail;
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_enable(s->listeners[i]);
	warn_blind_causal_reads(cfg);
	return s;
fail:
	daemon_destroy(s);
	return NULL;
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *s = arg;

	log_info("server", "%s received: closing listeners and sessions", strsignal((int)sig));
	notify_send("STOPPING=1\nSTATUS=stopping: closing listeners and sessions");
	event_base_loopbreak(s->base);
}

/* Hand next (a reload that config_diff accepted) to every thread. Each one moves to it on
 * its own thread: the listeners here, the workers with their sessions, the monitor, and the
 * stats server with the monitor's next snapshot. The old configuration is freed by the
 * last of them to let it go. */
static void apply_config(struct daemon *s, struct config *next)
{
	log_configure(next->logging.level, next->logging.timestamps);
	warn_blind_causal_reads(next);
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_set_config(s->listeners[i], &next->listeners[i]);
	for (size_t i = 0; i < s->n_workers; i++)
		worker_set_config(s->workers[i], config_ref(next));
	health_set_config(s->env.health, config_ref(next));
	config_unref(s->cfg);
	s->cfg = next;
}

static void log_all(enum log_level level, const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_write(level, "reload", "%s", errs->items[i].msg);
}

/* SIGHUP: read the file again and apply it, all or nothing (daemon.h). */
static void reload(struct daemon *s)
{
	struct config_errors errs, restart, applied;
	struct config *next;

	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		    (unsigned long long)mono_us(), s->cfg->path);
	log_info("reload", "SIGHUP: reading %s again", s->cfg->path);
	config_errors_init(&errs);
	config_errors_init(&restart);
	config_errors_init(&applied);
	next = config_load(s->cfg->path, &errs);
	if (!next) {
		log_all(LOG_LEVEL_ERROR, &errs);
		log_error("reload",
			  "%zu error%s in %s: nothing was changed, the configuration in effect stays; "
			  "fix the file (sluice --check -c %s) and send SIGHUP again",
			  errs.n, errs.n == 1 ? "" : "s", s->cfg->path, s->cfg->path);
	} else if (config_diff(s->cfg, next, &restart, &applied) > 0) {
		log_all(LOG_LEVEL_ERROR, &restart);
		log_error("reload",
			  "%s: %zu change%s above need%s a restart; nothing was changed, the "
			  "configuration in effect stays (restart sluice to apply them, or undo "
			  "them and send SIGHUP again)",
			  s->cfg->path, restart.n, restart.n == 1 ? "" : "s",
			  restart.n == 1 ? "s" : "");
		config_unref(next);
	} else if (applied.n == 0) {
		log_info("reload", "%s: no changes", s->cfg->path);
		config_unref(next);
	} else {
		log_all(LOG_LEVEL_INFO, &applied);
		apply_config(s, next);
		log_info("reload", "%s: %zu change%s applied; open sessions keep running",
			 s->cfg->path, applied.n, applied.n == 1 ? "" : "s");
	}
	config_errors_deinit(&errs);
	config_errors_deinit(&restart);
	config_errors_deinit(&applied);
	notify_send("READY=1");
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	reload(arg);
}

int daemon_run(struct daemon *s)
{
	struct event *sigterm = evsignal_new(s->base, SIGTERM, stop_cb, s);
	struct event *sigint = evsignal_new(s->base, SIGINT, stop_cb, s);
	struct event *sighup = evsignal_new(s->base, SIGHUP, hup_cb, s);
	int rc = 0;

	if (!sigterm || !sigint || !sighup || event_add(sigterm, NULL) || event_add(sigint, NULL) ||
	    event_add(sighup, NULL)) {
		log_error("server", "cannot install signal handlers");
		rc = 1;
	} else {
		/* Only now: a SIGHUP or SIGTERM from a service manager that heard READY=1 must
		 * find its handler, not the default action (the process would die). The
		 * listeners are bound and every node has its first verdict (daemon_create). */
		log_info("server", "sluice started: %zu listener(s), %zu cluster(s), %zu worker(s)",
			 s->n_listeners, s->cfg->n_clusters, s->n_workers);
		notify_send("READY=1\nMAINPID=%ld", (long)getpid());
		event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	}
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	return rc;
}

void daemon_destroy(struct daemon *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_close(s->listeners[i]);
	/* Monitor first, so no snapshot is published to a stopped worker. */
	health_stop(s->env.health);
	stats_server_destroy(s->stats); /* reads the workers' shards: before they go */
	s->stats = NULL;
	for (size_t i = 0; i < s->n_workers; i++)
		worker_stop(s->workers[i]);
	for (size_t i = 0; i < s->n_workers; i++)
		worker_destroy(s->workers[i]);
	health_destroy(s->env.health);
	for (size_t i = 0; i < s->n_listeners; i++)
		listener_destroy(s->listeners[i]);
	if (s->base)
		event_base_free(s->base);
	feed_destroy(s->env.feed);
	free(s->workers);
	free(s->listeners);
	free(s->env.rr);
	free(s->env.rr_replicas);
	for (size_t c = 0; s->env.backend_tls && c < s->cfg->n_clusters; c++)
		SSL_CTX_free(s->env.backend_tls[c]);
	free(s->env.backend_tls);
	config_destroy(s->cfg);
	free(s);
}
