/*
 * Health monitor thread: per-node check timers, fall/rise counting, and
 * snapshot publishing. See health.h for the threading contract.
 */
#include "monitor/health.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config/config.h"
#include "monitor/failover.h"
#include "log.h"
#include "net/evmem.h"
#include "net/net.h"
#include "monitor/opstate.h"
#include "monitor/probe.h"
#include "monitor/snapshot.h"

/* How often the operator state file is looked at. */
#define STATE_POLL_MS 200

/* How long health_start waits beyond the slowest timeout for the first
 * verdicts before giving up and starting with what it has. */
#define FIRST_ROUND_MARGIN_MS 1000

struct health_node {
	struct health *h;
	size_t cluster, node;
	const struct config_cluster *cc;
	const struct config_node *cn;
	struct probe *probe;
	struct event *timer; /* next scheduled check */
	bool known;	     /* has had its first verdict */
	bool up;
	bool writable;	       /* the last check said it may be the writer */
	enum node_admin admin; /* the operator's state (opstate.h) */
	uint64_t admin_ms;     /* ... set then (monotonic ms; 0: since start) */
	bool donor_logged;     /* the writer-turned-donor line was logged */
	int64_t lag_ms;
	char state[48];
	uint64_t failed_ms;	     /* first failed check of the current streak, 0: none */
	_Atomic uint64_t suspect_ms; /* first data-path failure reported, 0: none */
	atomic_uint lost;	     /* statements/transactions sessions lost here */
	unsigned lost_base;	     /* ... as of its last serving check */
	uint32_t fails, oks;	     /* consecutive */
	uint32_t check_us;
	char last_error[128];
	char server_version[64];
	atomic_bool suspect;
	uint64_t started_ms; /* the running (or last) check began */
	/* Applied positions of the last checks, newest first (snapshot.h). */
	struct node_position positions[SNAPSHOT_POSITIONS];
	/* galera: the members of its component, as of its last serving check
	 * (members_ms), for telling a stalled writer from an evicted one. */
	char members[256];
	uint64_t members_ms;
	bool stall_logged; /* the "stalled writer kept" line of this streak */
	/* galera: the last check's figures, for rates, and what they gave. */
	struct probe_galera galera_last;
	uint64_t galera_last_ms;
	struct node_galera galera;
};

struct health {
	const struct config *cfg; /* a reference; replaced by a reload (monitor thread) */
	_Atomic(const struct config *) next_cfg; /* health_set_config's, not yet taken */
	struct event *reconf;			 /* takes next_cfg on the monitor thread */
	health_publish_fn publish;
	void *arg;
	struct event_base *base;
	struct event *wake; /* activated by health_suspect from other threads */
	pthread_t thread;
	bool running;
	struct health_node *nodes; /* all clusters' nodes, cluster by cluster */
	size_t n_nodes;
	size_t *first; /* index of each cluster's first node in nodes */
	uint64_t generation;
	struct snapshot *last; /* last published, for change logs */
	/* The operator state file, watched by stat() every STATE_POLL_MS. */
	char state_path[PATH_MAX];
	struct event *state_timer;
	struct stat state_seen; /* what the last load saw (st_ino 0: no file) */

	pthread_mutex_t lock; /* guards unknown, for health_start's wait */
	pthread_cond_t cond;
	size_t unknown; /* nodes without a first verdict */
};

/* Publish the nodes' states as a new snapshot. roles: a state or role may
 * have changed (not only positions), which bumps the generation. */
static void publish(struct health *h, bool roles)
{
	bool *up[h->cfg->n_clusters ? h->cfg->n_clusters : 1];
	bool flat[h->n_nodes ? h->n_nodes : 1];

	for (size_t i = 0; i < h->n_nodes; i++)
		flat[i] = h->nodes[i].up;
	for (size_t c = 0; c < h->cfg->n_clusters; c++)
		up[c] = &flat[h->first[c]];

	if (roles)
		h->generation++;
	struct snapshot *snap = snapshot_create(h->cfg, up, h->generation);
	for (size_t i = 0; i < h->n_nodes; i++) {
		struct health_node *hn = &h->nodes[i];
		struct node_view *v = &snap->clusters[hn->cluster].nodes[hn->node];
		v->check_us = hn->check_us;
		v->writable = hn->writable;
		v->admin = hn->admin;
		v->admin_ms = hn->admin_ms;
		v->lag_ms = hn->lag_ms;
		memcpy(v->state, hn->state, sizeof(v->state));
		memcpy(v->last_error, hn->last_error, sizeof(v->last_error));
		memcpy(v->server_version, hn->server_version, sizeof(v->server_version));
		memcpy(v->positions, hn->positions, sizeof(v->positions));
		v->galera = hn->galera;
	}
	for (size_t c = 0; c < snap->n_clusters; c++) {
		struct cluster_view *now = &snap->clusters[c];
		int before = h->last ? h->last->clusters[c].writer : -1;
		/* The writer is sticky: recompute with the current one kept. */
		snapshot_compute_roles(now, before, h->cfg->clusters[c].failback);
		now->failover = h->last ? h->last->clusters[c].failover : NULL;
		/* The very first snapshot (all down, before any check) is not news. */
		if (!h->last || now->writer == before)
			continue;
		if (before >= 0 && !(now->nodes[before].up && now->nodes[before].writable)) {
			/* The writer was lost (not handed back by failback). */
			struct health_node *old = &h->nodes[h->first[c] + (size_t)before];
			uint64_t failed = old->failed_ms;
			uint64_t suspect = atomic_load(&old->suspect_ms);
			if (!failed || (suspect && suspect < failed))
				failed = suspect;
			now->failover = failover_begin(
				h->cfg->clusters[c].name, now->nodes[before].name,
				now->writer >= 0 ? now->nodes[now->writer].name : NULL,
				failed ? failed : failover_now_ms(), &old->lost, old->lost_base);
		}
		if (now->writer >= 0)
			log_info("health", "cluster %s: writer is %s%s%s", h->cfg->clusters[c].name,
				 now->nodes[now->writer].name, before >= 0 ? ", was " : "",
				 before >= 0 ? now->nodes[before].name : "");
		else
			log_warn("health", "cluster %s: no node can take writes",
				 h->cfg->clusters[c].name);
	}
	snapshot_unref(h->last);
	h->last = snapshot_ref(snap);
	h->publish(snap, h->arg);
}

static bool all_known(struct health *h)
{
	bool known;

	pthread_mutex_lock(&h->lock);
	known = h->unknown == 0;
	pthread_mutex_unlock(&h->lock);
	return known;
}

static void schedule(struct health_node *hn, uint32_t ms)
{
	struct timeval tv = net_timeval_ms(ms);
	event_add(hn->timer, &tv);
}

static void start_check(struct health_node *hn)
{
	atomic_store(&hn->suspect, false);
	event_del(hn->timer);
	if (!probe_start(hn->probe, hn->cc->monitor.timeout_ms))
		return; /* already running; its completion re-arms the timer */
	hn->started_ms = failover_now_ms();
}

/* Is hn the writer of its cluster in the last published snapshot? */
static bool is_writer(const struct health_node *hn)
{
	return hn->h->last && hn->h->last->clusters[hn->cluster].writer == (int)hn->node;
}

/* Whether the members list "host:port,host:port" names address. */
static bool lists(const char *members, const char *address)
{
	size_t n = strlen(address);

	for (const char *p = members; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, address, n) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* Galera: has another node of hn's cluster, in a check that started after
 * hn began failing, listed the members of its (Primary, serving) component
 * without hn? Its list must name itself, or it is not in our terms (a
 * hostname, AUTO) and proves nothing. Fills who with that node's name. */
static bool evicted(const struct health_node *hn, const char **who)
{
	const struct health *h = hn->h;

	for (size_t i = 0; i < hn->cc->n_nodes; i++) {
		const struct health_node *o = &h->nodes[h->first[hn->cluster] + i];
		if (o == hn || !o->up || !o->members[0] || o->members_ms < hn->failed_ms)
			continue;
		if (lists(o->members, o->cn->address.text) &&
		    !lists(o->members, hn->cn->address.text)) {
			*who = o->cn->name;
			return true;
		}
	}
	return false;
}

/*
 * The writer's checks time out: slow is not dead. It stays up (and the
 * writer) while it has been failing for less than writer_grace and no other
 * node has evicted it; refused or reset connections take it out through
 * fall, and its own word that it does not serve at once, as for any node
 * (probe_done). Returns true
 * to keep it up now, logging that once per streak; false when the evidence
 * is in, with why written to because.
 */
static bool keep_stalled_writer(struct health_node *hn, const struct probe_result *res,
				char *because, size_t cap)
{
	const struct config_monitor *m = &hn->cc->monitor;
	uint64_t quiet = failover_now_ms() - hn->failed_ms;
	const char *who;

	if (!res->timed_out || !is_writer(hn) || m->writer_grace_ms == 0)
		return false;
	if (evicted(hn, &who)) {
		snprintf(because, cap, "; %s lists its cluster's members without it", who);
		return false;
	}
	if (quiet >= m->writer_grace_ms) {
		snprintf(because, cap, "; no answer for %" PRIu64 " ms (writer_grace %u ms)", quiet,
			 m->writer_grace_ms);
		return false;
	}
	if (!hn->stall_logged)
		log_warn("health",
			 "writer %s (cluster %s) has not answered for %" PRIu64 " ms (%s); it stays "
			 "the writer unless refused, reset, evicted by the other nodes, or silent "
			 "for writer_grace (%u ms)",
			 hn->cn->name, hn->cc->name, quiet, res->error, m->writer_grace_ms);
	hn->stall_logged = true;
	return true;
}

/* Galera's health from the check: rates over the time since the previous
 * check (counters that went back, a restarted node, start again), and a
 * cluster configuration change noted once per cluster for the failover
 * timeline. */
static void record_galera(struct health_node *hn, const struct probe_result *res)
{
	const struct probe_galera *now = &res->galera, *was = &hn->galera_last;
	uint64_t ms = hn->started_ms - hn->galera_last_ms;

	if (!res->ok || !now->known) {
		hn->galera.known = false;
		return;
	}
	if (was->known && ms > 0 && now->fc_paused_ns >= was->fc_paused_ns &&
	    now->cert_failures >= was->cert_failures && now->bf_aborts >= was->bf_aborts) {
		double pct = (double)(now->fc_paused_ns - was->fc_paused_ns) / ((double)ms * 1e4);
		hn->galera.fc_paused_pct = pct > 100 ? 100 : pct;
		hn->galera.cert_failures_ps =
			(double)(now->cert_failures - was->cert_failures) * 1e3 / (double)ms;
		hn->galera.bf_aborts_ps = (double)(now->bf_aborts - was->bf_aborts) * 1e3 / (double)ms;
	}
	if (was->known && now->conf_id != was->conf_id)
		failover_conf_change(hn->cc->name, hn->cn->name, now->conf_id, hn->started_ms);
	hn->galera.recv_queue = now->recv_queue;
	hn->galera.cluster_size = now->cluster_size;
	hn->galera.conf_id = now->conf_id;
	hn->galera.known = true;
	hn->galera_last = *now;
	hn->galera_last_ms = hn->started_ms;
}

/* Remember the applied position the check read, newest first. */
static void record_position(struct health_node *hn, const struct probe_result *res)
{
	if (!res->ok)
		return;
	memmove(&hn->positions[1], &hn->positions[0],
		sizeof(hn->positions) - sizeof(hn->positions[0]));
	hn->positions[0] = (struct node_position){hn->started_ms, res->position};
}

static void probe_done(const struct probe_result *res, void *arg)
{
	struct health_node *hn = arg;
	struct health *h = hn->h;
	const struct config_monitor *m = &hn->cc->monitor;
	bool was_up = hn->up, was_writable = hn->writable, first = !hn->known;
	bool serving = res->ok && res->serves;
	/* The writer that becomes a state transfer donor for a returning
	 * node keeps the role: switching would abort its transactions just
	 * when a node comes back, which failback: false is meant to avoid. */
	bool keeps_writer = res->ok && res->donor && h->last &&
			    h->last->clusters[hn->cluster].writer == (int)hn->node;

	if (keeps_writer) {
		serving = true;
		if (!hn->donor_logged)
			log_info("health",
				 "node %s (cluster %s) is a state transfer donor and "
				 "stays the writer",
				 hn->cn->name, hn->cc->name);
		hn->donor_logged = true;
	} else {
		hn->donor_logged = false;
	}
	char addr[64];

	char because[160] = "";
	record_position(hn, res);
	record_galera(hn, res);

	hn->check_us = res->latency_us;
	hn->lag_ms = res->lag_ms;
	if (serving && res->members[0]) {
		memcpy(hn->members, res->members, sizeof(hn->members));
		hn->members_ms = hn->started_ms;
	}
	memcpy(hn->state, res->state, sizeof(hn->state));
	/* A node that stops serving or writing changes roles at once: its
	 * own check said so, there is nothing to debounce. Failures to answer
	 * at all go through fall (and a node that is down is not a writer). */
	if (res->ok)
		hn->writable = res->writable || keeps_writer;
	if (serving) {
		if (hn->stall_logged)
			log_info("health",
				 "writer %s (cluster %s) answers again after %" PRIu64
				 " ms without an answer",
				 hn->cn->name, hn->cc->name, hn->started_ms - hn->failed_ms);
		hn->oks++;
		hn->fails = 0;
		hn->failed_ms = 0;
		atomic_store(&hn->suspect_ms, 0);
		hn->lost_base = atomic_load(&hn->lost);
		hn->stall_logged = false;
		hn->last_error[0] = '\0';
		memcpy(hn->server_version, res->server_version, sizeof(hn->server_version));
	} else {
		hn->fails++;
		hn->oks = 0;
		if (!hn->failed_ms)
			hn->failed_ms = hn->started_ms;
		memcpy(hn->last_error, res->error, sizeof(hn->last_error));
		log_debug("health", "node %s: check failed: %s", hn->cn->name, res->error);
	}
	/* The first verdict decides at once: at startup there is no history
	 * to protect against flapping. A node that answered and said it does
	 * not serve is out at once too. */
	if (first || (res->ok && !serving))
		hn->up = serving;
	else if (hn->up && hn->fails >= m->fall &&
		 !keep_stalled_writer(hn, res, because, sizeof(because)))
		hn->up = false;
	else if (!hn->up && hn->oks >= m->rise)
		hn->up = true;

	config_addr_str((const struct sockaddr *)&hn->cn->address.ss, addr, sizeof(addr));
	if (first || hn->up != was_up) {
		if (hn->up)
			log_info("health", "node %s (cluster %s, %s) is UP (check took %u us)",
				 hn->cn->name, hn->cc->name, addr, res->latency_us);
		else
			log_warn("health",
				 "node %s (cluster %s, %s) is DOWN after %u failed check%s: %s%s",
				 hn->cn->name, hn->cc->name, addr, hn->fails,
				 hn->fails == 1 ? "" : "s", hn->last_error, because);
	}
	bool round_complete = false;
	if (first) {
		hn->known = true;
		pthread_mutex_lock(&h->lock);
		if (--h->unknown == 0) {
			pthread_cond_signal(&h->cond);
			round_complete = true;
		}
		pthread_mutex_unlock(&h->lock);
	}
	/* Publish once every node has its first verdict, then on changes: a
	 * writer picked from half the cluster would flip a moment later. The
	 * first round ends within the largest monitor timeout. */
	/* Every check is published: its positions (causal_reads; the writer's
	 * check times bound a session's write even when no position moved),
	 * timings and Galera figures are news for the sessions and the stats.
	 * Only a change of state or role bumps the generation. */
	bool roles = hn->up != was_up || hn->writable != was_writable;
	if (round_complete || (!first && all_known(h)))
		publish(h, round_complete || roles);

	if (atomic_load(&hn->suspect))
		start_check(hn);
	else
		schedule(hn, m->interval_ms);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	start_check(arg);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;

	for (size_t i = 0; i < h->n_nodes; i++) {
		struct health_node *hn = &h->nodes[i];
		if (atomic_load(&hn->suspect) && !probe_running(hn->probe))
			start_check(hn);
	}
}

/* A reload: every node and its probe move to the new configuration (the same clusters and
 * nodes in the same order; anything else needs a restart), and a snapshot is published at
 * once, so new weights and priorities count from now. Intervals, timeouts and fall/rise
 * apply from each node's next check. */
static void reconf_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	const struct config *cfg = atomic_exchange(&h->next_cfg, NULL);

	if (!cfg)
		return;
	for (size_t i = 0; i < h->n_nodes; i++) {
		struct health_node *hn = &h->nodes[i];
		hn->cc = &cfg->clusters[hn->cluster];
		hn->cn = &hn->cc->nodes[hn->node];
		probe_set_config(hn->probe, hn->cc, hn->cn);
	}
	config_unref(h->cfg);
	h->cfg = cfg;
	publish(h, true);
	log_info("health", "monitor settings, weights and priorities reloaded");
}

/* Load the state file and apply it. Returns true when a node's state
 * changed. A file that cannot be read or parsed leaves the states as they
 * are, with an error in the log. */
static bool load_states(struct health *h)
{
	struct opstate st = {0};
	char err[300];
	bool changed = false;

	if (!opstate_load(h->state_path, &st, err, sizeof(err))) {
		log_error("health", "operator states not changed: %s", err);
		return false;
	}
	for (size_t i = 0; i < h->n_nodes; i++) {
		struct health_node *hn = &h->nodes[i];
		enum node_admin now = opstate_get(&st, hn->cc->name, hn->cn->name);
		if (now == hn->admin)
			continue;
		log_info("health", "node %s (cluster %s): %s -> %s (operator)", hn->cn->name,
			 hn->cc->name, node_admin_str(hn->admin), node_admin_str(now));
		hn->admin = now;
		hn->admin_ms = failover_now_ms();
		changed = true;
	}
	opstate_deinit(&st);
	return changed;
}

/* Has the state file changed since it was last loaded (or appeared, or
 * gone away)? */
static bool state_file_changed(struct health *h)
{
	struct stat now;

	if (stat(h->state_path, &now) != 0)
		memset(&now, 0, sizeof(now));
	bool same = now.st_ino == h->state_seen.st_ino && now.st_size == h->state_seen.st_size &&
		    now.st_mtim.tv_sec == h->state_seen.st_mtim.tv_sec &&
		    now.st_mtim.tv_nsec == h->state_seen.st_mtim.tv_nsec;
	h->state_seen = now;
	return !same;
}

static void state_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	struct timeval tv = net_timeval_ms(STATE_POLL_MS);

	if (state_file_changed(h) && load_states(h) && all_known(h))
		publish(h, true);
	event_add(h->state_timer, &tv);
}

static void *health_main(void *arg)
{
	struct health *h = arg;

	for (size_t i = 0; i < h->n_nodes; i++)
		start_check(&h->nodes[i]);
	if (h->state_timer) {
		struct timeval tv = net_timeval_ms(STATE_POLL_MS);
		event_add(h->state_timer, &tv);
	}
	event_base_loop(h->base, EVLOOP_NO_EXIT_ON_EMPTY);
	evmem_thread_flush();
	return NULL;
}

struct health *health_create(const struct config *cfg, health_publish_fn publish_fn, void *arg)
{
	struct health *h = calloc(1, sizeof(*h));
	size_t total = 0;

	if (!h)
		return NULL;
	h->cfg = config_ref(cfg);
	atomic_init(&h->next_cfg, NULL);
	h->publish = publish_fn;
	h->arg = arg;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->base = event_base_new();
	h->first = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*h->first));
	if (!h->base || !h->first)
		goto fail;
	h->wake = event_new(h->base, -1, 0, wake_cb, h);
	h->reconf = event_new(h->base, -1, 0, reconf_cb, h);
	if (!h->wake || !h->reconf)
		goto fail;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		h->first[c] = total;
		total += cfg->clusters[c].n_nodes;
	}
	h->nodes = calloc(total ? total : 1, sizeof(*h->nodes));
	if (!h->nodes)
		goto fail;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct config_cluster *cc = &cfg->clusters[c];
		for (size_t n = 0; n < cc->n_nodes; n++) {
			struct health_node *hn = &h->nodes[h->n_nodes++];
			hn->h = h;
			hn->cluster = c;
			hn->node = n;
			hn->cc = cc;
			hn->cn = &cc->nodes[n];
			atomic_init(&hn->suspect, false);
			hn->timer = evtimer_new(h->base, timer_cb, hn);
			atomic_init(&hn->suspect_ms, 0);
			atomic_init(&hn->lost, 0);
			hn->lag_ms = -1;
			hn->probe = probe_create(h->base, cfg->path, cc, hn->cn, probe_done, hn);
			if (!hn->timer || !hn->probe)
				goto fail;
		}
	}
	h->unknown = h->n_nodes;
	if (cfg->state_file) {
		config_resolve_path(cfg->path, cfg->state_file, h->state_path,
				    sizeof(h->state_path));
		h->state_timer = evtimer_new(h->base, state_timer_cb, h);
		if (!h->state_timer)
			goto fail;
		/* States from before a restart apply from the first snapshot. */
		state_file_changed(h);
		load_states(h);
	}
	return h;
fail:
	health_destroy(h);
	return NULL;
}

bool health_start(struct health *h)
{
	uint32_t slowest = 0;
	struct timespec deadline;

	for (size_t c = 0; c < h->cfg->n_clusters; c++)
		if (h->cfg->clusters[c].monitor.timeout_ms > slowest)
			slowest = h->cfg->clusters[c].monitor.timeout_ms;
	clock_gettime(CLOCK_REALTIME, &deadline);
	uint64_t ns =
		(uint64_t)deadline.tv_nsec + (uint64_t)(slowest + FIRST_ROUND_MARGIN_MS) * 1000000;
	deadline.tv_sec += (time_t)(ns / 1000000000);
	deadline.tv_nsec = (long)(ns % 1000000000);

	/* Workers must never run without a snapshot: start from "all down"
	 * until the first verdicts arrive. The thread is not running yet, so
	 * publishing from here does not race with it. */
	publish(h, true);
	if (pthread_create(&h->thread, NULL, health_main, h) != 0) {
		log_error("health", "cannot start the monitor thread");
		return false;
	}
	h->running = true;
	pthread_mutex_lock(&h->lock);
	while (h->unknown > 0) {
		if (pthread_cond_timedwait(&h->cond, &h->lock, &deadline) != 0)
			break;
	}
	if (h->unknown > 0)
		log_warn("health", "%zu node(s) have no first check result yet; starting anyway",
			 h->unknown);
	pthread_mutex_unlock(&h->lock);
	return true;
}

void health_suspect(struct health *h, size_t cluster, size_t node)
{
	struct health_node *hn = &h->nodes[h->first[cluster] + node];

	uint64_t zero = 0;

	/* When the failure was first seen, for the failover's timeline. */
	atomic_compare_exchange_strong(&hn->suspect_ms, &zero, failover_now_ms());
	if (atomic_exchange(&hn->suspect, true))
		return; /* already asked */
	event_active(h->wake, EV_TIMEOUT, 0);
}

void health_set_config(struct health *h, const struct config *cfg)
{
	/* One not taken yet is superseded by this newer one. */
	config_unref(atomic_exchange(&h->next_cfg, cfg));
	event_active(h->reconf, EV_TIMEOUT, 0);
}

void health_lost(struct health *h, size_t cluster, size_t node)
{
	atomic_fetch_add(&h->nodes[h->first[cluster] + node].lost, 1);
}

void health_stop(struct health *h)
{
	if (!h || !h->running)
		return;
	event_base_loopbreak(h->base);
	pthread_join(h->thread, NULL);
	h->running = false;
}

void health_destroy(struct health *h)
{
	if (!h)
		return;
	health_stop(h);
	for (size_t i = 0; h->nodes && i < h->n_nodes; i++) {
		probe_destroy(h->nodes[i].probe);
		if (h->nodes[i].timer)
			event_free(h->nodes[i].timer);
	}
	free(h->nodes);
	free(h->first);
	if (h->state_timer)
		event_free(h->state_timer);
	if (h->wake)
		event_free(h->wake);
	if (h->reconf)
		event_free(h->reconf);
	config_unref(atomic_exchange(&h->next_cfg, NULL));
	config_unref(h->cfg);
	if (h->base)
		event_base_free(h->base);
	snapshot_unref(h->last);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
