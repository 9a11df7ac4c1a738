/*
 * The stats and admin HTTP server: its thread, the routes, the admin action and the event
 * stream. Rendering lives in stats_render.c. See stats_server.h.
 */
#include "stats/stats_server.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "config/config.h"
#include "monitor/failover.h"
#include "stats/feed.h"
#include "net/listener.h"
#include "log.h"
#include "net/evmem.h"
#include "net/net.h"
#include "monitor/opstate.h"
#include "sluice_version.h"
#include "monitor/snapshot.h"
#include "stats/stats_render.h"
#include "stats/stats_ui.h"
#include "net/worker.h"

#define MAX_HEADERS_SIZE 8192 /* a request's headers, all of them */
#define MAX_BODY_SIZE 4096    /* the admin action's JSON */
#define IO_TIMEOUT_SEC 10     /* a connection that sends nothing this long is closed */
#define EVENTS_TICK_MS 250    /* how often the event stream looks for news */
#define KEEPALIVE_TICKS 60    /* an SSE comment every 15 s keeps proxies from timing out */
#define RECENT_FAILOVERS 16
#define FEED_BATCH 256 /* statements sent per tick at most */
/* Open connections, event streams included: beyond this, accept pauses (new
 * clients wait in the backlog) until some close. */
#define MAX_CONNECTIONS 256
/* A request must be whole this long after its connection opened or its
 * connection's previous request: evhttp's own timeout restarts with every
 * byte, which a client trickling its headers would use to stay for hours. */
#define REQUEST_DEADLINE_MS 10000

/* A connection that has not sent a whole request yet. We hold a reference
 * to its bufferevent, so it stays valid whatever evhttp does meanwhile. */
struct pending_conn {
	TAILQ_ENTRY(pending_conn) link;
	struct bufferevent *bev;
	uint64_t since_ms;
};

/* An open HTTP connection that has sent a request, and, when it asked for
 * /api/v1/events, its place in the event stream's clients. */
struct http_conn {
	TAILQ_ENTRY(http_conn) link;	 /* all connections */
	TAILQ_ENTRY(http_conn) sse_link; /* event stream clients */
	struct evhttp_connection *conn;
	/* The event stream's request while its reply runs, else NULL. libevent
	 * detaches such a request from a connection that fails under it (it
	 * is ours to free then: conn_closed does). */
	struct evhttp_request *sse;
	bool streaming; /* in the event stream's clients */
	uint64_t last_ms; /* its last request was whole then */
	struct stats_server *ss;
};

struct stats_server {
	struct stats_sources src; /* what it reads of the daemon */
	/* The configuration in effect (a reference), stats thread only: the one the newest
	 * snapshot was built from, so a reload reaches the stats with its first snapshot
	 * (stats_config). */
	const struct config *cfg;
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *evl;
	struct event *tick; /* the event stream's news check */
	struct event *stop; /* from stats_server_destroy: end the streams, then the loop */
	pthread_t thread;
	bool running;
	uint64_t started_mono_ms;

	pthread_mutex_t lock; /* guards snap only */
	struct snapshot *snap;

	/* Stats thread only: connections, the event stream. */
	struct evconnlistener *accepting; /* evhttp's listener, for pausing */
	bool paused;
	TAILQ_HEAD(, pending_conn) pending;
	size_t n_pending;
	TAILQ_HEAD(, http_conn) conns;
	size_t n_conns;
	TAILQ_HEAD(, http_conn) clients;
	struct snapshot *seen;	   /* the node states the stream last told about */
	uint64_t seen_failover_id; /* the newest failover it told about */
	unsigned ticks;
	char state_path[PATH_MAX]; /* the operator state file, "" when none */
};

/* ---- the daemon at this moment --------------------------------------------------------- */

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct snapshot *current_snapshot(struct stats_server *ss)
{
	struct snapshot *snap;

	pthread_mutex_lock(&ss->lock);
	snap = ss->snap ? snapshot_ref(ss->snap) : NULL;
	pthread_mutex_unlock(&ss->lock);
	return snap;
}

/* The configuration in effect. Stats thread: the pointer stays valid until the next call. */
static const struct config *stats_config(struct stats_server *ss)
{
	struct snapshot *snap = current_snapshot(ss);

	if (snap && snap->cfg != ss->cfg) {
		config_unref(ss->cfg);
		ss->cfg = config_ref(snap->cfg);
	}
	snapshot_unref(snap);
	return ss->cfg;
}

/* Everything a render needs; free with view_deinit. False when out of memory. */
struct view_store {
	struct stats_view v;
	struct node_stats *nodes;
	size_t *first;
	struct listener_counts *listeners;
	struct failover_event failovers[RECENT_FAILOVERS];
	struct snapshot *snap;
};

static bool view_init(struct stats_server *ss, struct view_store *st)
{
	const struct config *cfg = stats_config(ss);
	const struct stats_sources *src = &ss->src;
	size_t total = 0;

	memset(st, 0, sizeof(*st));
	st->first = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*st->first));
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		if (st->first)
			st->first[c] = total;
		total += cfg->clusters[c].n_nodes;
	}
	st->nodes = calloc(total ? total : 1, sizeof(*st->nodes));
	st->listeners = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*st->listeners));
	if (!st->first || !st->nodes || !st->listeners)
		return false;
	for (size_t w = 0; w < src->n_workers; w++) {
		for (size_t c = 0; c < cfg->n_clusters; c++)
			for (size_t n = 0; n < cfg->clusters[c].n_nodes; n++)
				stats_add(&st->nodes[st->first[c] + n],
					  worker_node_stats(src->workers[w], c, n));
		const uint64_t *reasons = worker_reasons(src->workers[w]);
		for (size_t r = 0; r < ROUTER_REASON_COUNT; r++)
			st->v.reasons[r] += reasons[r];
		const uint64_t *closes = worker_closes(src->workers[w]);
		for (size_t r = 0; r < CLOSE_REASON_COUNT; r++)
			st->v.closes[r] += closes[r];
	}
	for (size_t i = 0; i < src->n_listeners; i++)
		st->listeners[i] = listener_counts(src->listeners[i]);
	st->snap = current_snapshot(ss);
	st->v.cfg = cfg;
	st->v.snap = st->snap;
	st->v.nodes = st->nodes;
	st->v.first = st->first;
	st->v.listeners = st->listeners;
	st->v.n_failovers = failover_recent(st->failovers, RECENT_FAILOVERS);
	st->v.failovers = st->failovers;
	st->v.now_mono_ms = failover_now_ms();
	st->v.now_unix_ms = unix_ms();
	st->v.uptime_seconds = (double)(st->v.now_mono_ms - ss->started_mono_ms) / 1e3;
	st->v.admin = cfg->stats.admin_user && cfg->stats.admin_password;
	st->v.feed_rate = cfg->stats.feed_rate;
	st->v.version = SLUICE_VERSION;
	return true;
}

static void view_deinit(struct view_store *st)
{
	snapshot_unref(st->snap);
	free(st->nodes);
	free(st->first);
	free(st->listeners);
}

/* ---- replies --------------------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, code, reason, body);
}

/* A 4xx/5xx with {"error": msg}. */
static void reply_error(struct evhttp_request *req, int code, const char *reason,
			const char *msg)
{
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add_printf(body, "{\"error\":");
	stats_json_string(body, msg);
	evbuffer_add_printf(body, "}\n");
	reply(req, code, reason, "application/json", body);
	evbuffer_free(body);
}

/* Render the status or the metrics into a reply. */
static void reply_rendered(struct stats_server *ss, struct evhttp_request *req, bool metrics)
{
	struct view_store st;
	struct evbuffer *body = evbuffer_new();

	if (!body || !view_init(ss, &st)) {
		if (body)
			view_deinit(&st);
		evbuffer_free(body);
		reply_error(req, 500, "Internal Server Error", "out of memory");
		return;
	}
	if (metrics) {
		stats_render_prometheus(&st.v, body);
		reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
	} else {
		stats_render_status(&st.v, body);
		evbuffer_add(body, "\n", 1);
		reply(req, 200, "OK", "application/json", body);
	}
	view_deinit(&st);
	evbuffer_free(body);
}

static void reply_file(struct evhttp_request *req, const char *name)
{
	for (const struct stats_ui_file *f = stats_ui_files; f->name; f++) {
		if (strcmp(f->name, name) != 0)
			continue;
		struct evbuffer *body = evbuffer_new();
		if (!body) {
			reply_error(req, 500, "Internal Server Error", "out of memory");
			return;
		}
		evbuffer_add_reference(body, f->data, f->len, NULL, NULL);
		reply(req, 200, "OK", f->type, body);
		evbuffer_free(body);
		return;
	}
	reply_error(req, 404, "Not Found", "no such page; the dashboard is at /");
}

/* ---- the admin action ------------------------------------------------------------------- */

/* Whether the request carries the admin's HTTP basic credentials. */
static bool authorized(const struct config *cfg, struct evhttp_request *req)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");
	unsigned char decoded[512];
	char want[512];
	int n;

	if (!auth || strncasecmp(auth, "Basic ", 6) != 0 || strlen(auth + 6) > 600)
		return false;
	n = EVP_DecodeBlock(decoded, (const unsigned char *)auth + 6, (int)strlen(auth + 6));
	if (n <= 0)
		return false;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (n > 0 && decoded[n - 1] == '\0')
		n--;
	int w = snprintf(want, sizeof(want), "%s:%s", cfg->stats.admin_user,
			 cfg->stats.admin_password);
	bool ok = w > 0 && (size_t)w < sizeof(want) && n == w &&
		  CRYPTO_memcmp(decoded, want, (size_t)n) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(decoded, sizeof(decoded));
	return ok;
}

/* The value of "state" in a small JSON object, into out; false when there is none. Only
 * the form {"state": "drain"} (any spacing) is accepted. */
static bool body_state(struct evbuffer *in, char *out, size_t cap)
{
	char body[MAX_BODY_SIZE + 1];
	size_t n = evbuffer_get_length(in);
	const char *p, *end;

	if (n > MAX_BODY_SIZE || evbuffer_copyout(in, body, n) != (ev_ssize_t)n)
		return false;
	body[n] = '\0';
	p = strstr(body, "\"state\"");
	if (!p || strchr(body, '{') == NULL || strrchr(body, '}') == NULL)
		return false;
	p += 7;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return false;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"' || !(end = strchr(p, '"')) || (size_t)(end - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return true;
}

/* POST /api/v1/clusters/{cluster}/nodes/{node}/state: what --set-state does. */
static void admin_state(struct stats_server *ss, struct evhttp_request *req, const char *cluster,
			const char *node)
{
	const struct config *cfg = stats_config(ss);
	struct opstate st = {0};
	enum node_admin state;
	char text[32], err[300];
	const struct config_cluster *cc = NULL;
	bool known = false;

	if (!cfg->stats.admin_user || !cfg->stats.admin_password) {
		reply_error(req, 403, "Forbidden",
			    "admin actions are off: set stats.admin_user and "
			    "stats.admin_password_file");
		return;
	}
	if (!authorized(cfg, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Basic realm=\"sluice\", charset=\"UTF-8\"");
		reply_error(req, 401, "Unauthorized", "wrong or missing admin credentials");
		return;
	}
	for (size_t c = 0; c < cfg->n_clusters && !cc; c++)
		if (strcmp(cfg->clusters[c].name, cluster) == 0)
			cc = &cfg->clusters[c];
	for (size_t n = 0; cc && n < cc->n_nodes; n++)
		known |= strcmp(cc->nodes[n].name, node) == 0;
	if (!cc || !known) {
		snprintf(err, sizeof(err), "no node '%s' in cluster '%s'", node, cluster);
		reply_error(req, 404, "Not Found", err);
		return;
	}
	if (!body_state(evhttp_request_get_input_buffer(req), text, sizeof(text)) ||
	    !node_admin_parse(text, &state)) {
		reply_error(req, 400, "Bad Request",
			    "the body must be {\"state\": \"drain\"}, \"maintenance\" or \"ready\"");
		return;
	}
	if (!ss->state_path[0]) {
		reply_error(req, 409, "Conflict",
			    "no state_file in the configuration: node states cannot be kept");
		return;
	}
	if (!opstate_load(ss->state_path, &st, err, sizeof(err)) ||
	    !opstate_set(&st, cluster, node, state) ||
	    !opstate_save(ss->state_path, &st, err, sizeof(err))) {
		opstate_deinit(&st);
		log_error("stats", "admin: %s/%s -> %s failed: %s", cluster, node, text, err);
		reply_error(req, 500, "Internal Server Error", err);
		return;
	}
	opstate_deinit(&st);
	log_info("stats", "admin: %s/%s -> %s (the monitor applies it within 200 ms)", cluster, node,
		 node_admin_str(state));
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		reply_error(req, 500, "Internal Server Error", "out of memory");
		return;
	}
	evbuffer_add_printf(body, "{\"ok\":true,\"cluster\":");
	stats_json_string(body, cluster);
	evbuffer_add_printf(body, ",\"node\":");
	stats_json_string(body, node);
	evbuffer_add_printf(body, ",\"state\":\"%s\"}\n", node_admin_str(state));
	reply(req, 200, "OK", "application/json", body);
	evbuffer_free(body);
}

/* ---- the event stream -------------------------------------------------------------------- */

/* Pause accepting at MAX_CONNECTIONS open connections, resume below. */
static void update_accepting(struct stats_server *ss)
{
	bool full = ss->n_pending + ss->n_conns >= MAX_CONNECTIONS;

	if (!ss->accepting || full == ss->paused)
		return;
	ss->paused = full;
	if (full) {
		evconnlistener_disable(ss->accepting);
		log_warn("stats", "%d HTTP connections open: new ones wait until some close",
			 MAX_CONNECTIONS);
	} else {
		evconnlistener_enable(ss->accepting);
	}
}

/* evhttp asks for each new connection's bufferevent: make it, and keep it
 * on the pending list until the connection's first request is whole. */
static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
	struct stats_server *ss = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct pending_conn *pc = bev ? calloc(1, sizeof(*pc)) : NULL;

	if (pc) {
		bufferevent_incref(bev);
		pc->bev = bev;
		pc->since_ms = failover_now_ms();
		TAILQ_INSERT_TAIL(&ss->pending, pc, link);
		ss->n_pending++;
		update_accepting(ss);
	}
	return bev; /* NULL: evhttp makes one itself (untracked, out of memory) */
}

static void pending_release(struct stats_server *ss, struct pending_conn *pc)
{
	TAILQ_REMOVE(&ss->pending, pc, link);
	ss->n_pending--;
	bufferevent_decref(pc->bev);
	free(pc);
	update_accepting(ss);
}

/* End connections past REQUEST_DEADLINE_MS without a whole request: a
 * shutdown() makes evhttp see the end and free them. Event streams are
 * exempt once open. */
static void enforce_deadlines(struct stats_server *ss)
{
	uint64_t now = failover_now_ms();
	struct pending_conn *pc, *pnext;
	struct http_conn *hc, *hnext;

	for (pc = TAILQ_FIRST(&ss->pending); pc; pc = pnext) {
		pnext = TAILQ_NEXT(pc, link);
		if (now - pc->since_ms < REQUEST_DEADLINE_MS)
			continue;
		int fd = bufferevent_getfd(pc->bev);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
		pending_release(ss, pc);
	}
	for (hc = TAILQ_FIRST(&ss->conns); hc; hc = hnext) {
		hnext = TAILQ_NEXT(hc, link); /* hc is freed only by conn_closed, later */
		if (hc->streaming || now - hc->last_ms < REQUEST_DEADLINE_MS)
			continue;
		int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(hc->conn));
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}

/* A connection closed (by the client, a timeout, or at shutdown). */
static void conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct http_conn *hc = arg;
	struct stats_server *ss = hc->ss;

	if (hc->streaming) {
		TAILQ_REMOVE(&ss->clients, hc, sse_link);
		feed_listen(ss->src.feed, -1, EVENTS_TICK_MS);
	}
	if (hc->sse && !evhttp_request_get_connection(hc->sse))
		evhttp_request_free(hc->sse); /* detached by the failure */
	TAILQ_REMOVE(&ss->conns, hc, link);
	ss->n_conns--;
	free(hc);
	update_accepting(ss);
}

/* The connection of req, tracked (found or added); NULL when there are
 * MAX_CONNECTIONS already or no memory. */
static struct http_conn *track(struct stats_server *ss, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	struct pending_conn *pc;
	struct http_conn *hc;

	TAILQ_FOREACH(hc, &ss->conns, link)
	{
		if (hc->conn == conn) {
			hc->last_ms = failover_now_ms();
			return hc;
		}
	}
	TAILQ_FOREACH(pc, &ss->pending, link)
	{
		if (pc->bev == bev) {
			pending_release(ss, pc); /* its first request is whole */
			break;
		}
	}
	if (ss->n_conns >= MAX_CONNECTIONS || !(hc = calloc(1, sizeof(*hc))))
		return NULL;
	hc->last_ms = failover_now_ms();
	hc->conn = conn;
	hc->ss = ss;
	/* Answers go out in pieces: without TCP_NODELAY the last one waits for
	 * the client's delayed ACK (40 ms on every keep-alive request). */
	net_tune_stream(bufferevent_getfd(bev));
	TAILQ_INSERT_TAIL(&ss->conns, hc, link);
	ss->n_conns++;
	update_accepting(ss);
	evhttp_connection_set_closecb(conn, conn_closed, hc);
	return hc;
}

static void sse_send(struct stats_server *ss, const char *event, struct evbuffer *data)
{
	struct http_conn *cl;

	TAILQ_FOREACH(cl, &ss->clients, sse_link)
	{
		if (!cl->sse)
			continue;
		struct evbuffer *chunk = evbuffer_new();
		if (!chunk)
			continue;
		if (event)
			evbuffer_add_printf(chunk, "event: %s\ndata: ", event);
		evbuffer_add_buffer_reference(chunk, data);
		evbuffer_add(chunk, "\n\n", 2);
		evhttp_send_reply_chunk(cl->sse, chunk);
		evbuffer_free(chunk);
	}
}

static void sse_open(struct stats_server *ss, struct evhttp_request *req, struct http_conn *cl)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (cl->streaming) {
		reply_error(req, 400, "Bad Request", "this connection streams events already");
		return;
	}
	cl->sse = req;
	cl->streaming = true;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	/* An event stream is long-lived: no idle timeout on it. */
	evhttp_connection_set_timeout(conn, -1);
	TAILQ_INSERT_TAIL(&ss->clients, cl, sse_link);
	feed_listen(ss->src.feed, +1, EVENTS_TICK_MS);
	struct evbuffer *hello = evbuffer_new();
	if (hello) {
		evbuffer_add_printf(hello, ": sluice %s\nretry: 2000\n\n", SLUICE_VERSION);
		evhttp_send_reply_chunk(req, hello);
		evbuffer_free(hello);
	}
}

/* Health changes between two snapshots, one "health" event per node that changed state or
 * role. */
static void sse_health(struct stats_server *ss, const struct stats_view *v,
		       const struct snapshot *before, const struct snapshot *now)
{
	for (size_t c = 0; c < now->n_clusters; c++) {
		const struct cluster_view *a = &before->clusters[c], *b = &now->clusters[c];
		for (size_t n = 0; n < b->n_nodes; n++) {
			const char *was = stats_node_state(&a->nodes[n]);
			const char *is = stats_node_state(&b->nodes[n]);
			bool role = (a->writer == (int)n) != (b->writer == (int)n);
			if (strcmp(was, is) == 0 && !role)
				continue;
			struct evbuffer *data = evbuffer_new();
			char why[192];
			if (!data)
				return;
			stats_node_why(v, &b->nodes[n], why, sizeof(why));
			evbuffer_add_printf(data, "{\"time_ms\":%" PRIu64 ",\"cluster\":",
					    v->now_unix_ms);
			stats_json_string(data, now->cfg->clusters[c].name);
			evbuffer_add_printf(data, ",\"node\":");
			stats_json_string(data, b->nodes[n].name);
			evbuffer_add_printf(data, ",\"state\":\"%s\",\"role\":\"%s\",\"why\":", is,
					    b->writer == (int)n ? "writer" : "reader");
			stats_json_string(data, why);
			evbuffer_add_printf(data, "}");
			sse_send(ss, "health", data);
			evbuffer_free(data);
		}
	}
}

/* The statements the workers fed since the last tick, one "statement" event each, then a
 * "dropped" event if the rate left some out. */
static void sse_statements(struct stats_server *ss, const struct stats_view *v)
{
	struct feed_item items[FEED_BATCH];
	uint64_t dropped;
	size_t n = feed_take(ss->src.feed, EVENTS_TICK_MS, items, FEED_BATCH, &dropped);
	const struct config *cfg = v->cfg;

	for (size_t i = 0; i < n; i++) {
		const struct feed_item *it = &items[i];
		struct evbuffer *data = evbuffer_new();
		if (!data)
			return;
		evbuffer_add_printf(data, "{\"time_ms\":%" PRIu64 ",\"session\":%u,\"user\":",
				    v->now_unix_ms - v->now_mono_ms + it->mono_ms, it->session);
		stats_json_string(data, it->user);
		evbuffer_add_printf(data, ",\"listener\":");
		stats_json_string(data, cfg->listeners[it->listener].name);
		evbuffer_add_printf(data, ",\"cluster\":");
		stats_json_string(data, cfg->clusters[it->cluster].name);
		evbuffer_add_printf(data, ",\"node\":");
		stats_json_string(data, cfg->clusters[it->cluster].nodes[it->node].name);
		evbuffer_add_printf(data,
				    ",\"kind\":\"%s\",\"reason\":\"%s\",\"duration_seconds\":%.6f}",
				    stat_kind_str((enum stat_kind)it->kind),
				    it->reason ? router_reason_str((enum router_reason)it->reason) : "",
				    it->duration_us / 1e6);
		sse_send(ss, "statement", data);
		evbuffer_free(data);
	}
	if (dropped) {
		struct evbuffer *data = evbuffer_new();
		if (!data)
			return;
		evbuffer_add_printf(data, "{\"count\":%" PRIu64 "}", dropped);
		sse_send(ss, "dropped", data);
		evbuffer_free(data);
	}
}

/* Every EVENTS_TICK_MS while someone listens: node state changes and new failovers. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stats_server *ss = arg;
	struct timeval tv = {0, EVENTS_TICK_MS * 1000};
	struct view_store st;

	evtimer_add(ss->tick, &tv);
	enforce_deadlines(ss);
	if (TAILQ_EMPTY(&ss->clients))
		return;
	if (++ss->ticks % KEEPALIVE_TICKS == 0) {
		struct evbuffer *ping = evbuffer_new();
		if (ping) {
			evbuffer_add_printf(ping, ": keepalive");
			sse_send(ss, NULL, ping);
			evbuffer_free(ping);
		}
	}
	if (!view_init(ss, &st)) {
		view_deinit(&st);
		return;
	}
	if (st.snap && ss->seen && st.snap != ss->seen)
		sse_health(ss, &st.v, ss->seen, st.snap);
	if (st.snap && st.snap != ss->seen) {
		snapshot_unref(ss->seen);
		ss->seen = snapshot_ref(st.snap);
	}
	sse_statements(ss, &st.v);
	for (size_t i = st.v.n_failovers; i-- > 0;) {
		const struct failover_event *ev = &st.failovers[i];
		if (ev->id <= ss->seen_failover_id)
			continue;
		struct evbuffer *data = evbuffer_new();
		if (!data)
			break;
		stats_render_failover(&st.v, ev, data);
		sse_send(ss, "failover", data);
		evbuffer_free(data);
		ss->seen_failover_id = ev->id;
	}
	view_deinit(&st);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Split "/api/v1/clusters/C/nodes/N/state" into C and N. */
static bool admin_path(const char *path, char *cluster, char *node, size_t cap)
{
	static const char head[] = "/api/v1/clusters/";
	const char *p = path + sizeof(head) - 1, *slash;

	if (strncmp(path, head, sizeof(head) - 1) != 0 || !(slash = strchr(p, '/')) ||
	    (size_t)(slash - p) >= cap || slash == p)
		return false;
	memcpy(cluster, p, (size_t)(slash - p));
	cluster[slash - p] = '\0';
	p = slash;
	if (strncmp(p, "/nodes/", 7) != 0)
		return false;
	p += 7;
	if (!(slash = strchr(p, '/')) || slash == p || (size_t)(slash - p) >= cap ||
	    strcmp(slash, "/state") != 0)
		return false;
	memcpy(node, p, (size_t)(slash - p));
	node[slash - p] = '\0';
	return true;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct stats_server *ss = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	char *path = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
	char cluster[OPSTATE_NAME_MAX + 1], node[OPSTATE_NAME_MAX + 1];
	bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
	struct http_conn *hc = track(ss, req);

	if (!hc) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_error(req, 503, "Service Unavailable",
			    "too many connections to the stats server; try again later");
		evmem_free_returned(path);
		return;
	}
	if (!path) {
		reply_error(req, 400, "Bad Request", "malformed request path");
		return;
	}
	if (admin_path(path, cluster, node, sizeof(cluster))) {
		if (method != EVHTTP_REQ_POST) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
			reply_error(req, 405, "Method Not Allowed", "use POST");
		} else {
			admin_state(ss, req, cluster, node);
		}
	} else if (!get) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_error(req, 405, "Method Not Allowed",
			    "only GET here; admin actions are POST "
			    "/api/v1/clusters/{cluster}/nodes/{node}/state");
	} else if (strcmp(path, "/metrics") == 0) {
		reply_rendered(ss, req, true);
	} else if (strcmp(path, "/api/v1/status") == 0) {
		reply_rendered(ss, req, false);
	} else if (strcmp(path, "/api/v1/events") == 0) {
		sse_open(ss, req, hc);
	} else if (strcmp(path, "/") == 0) {
		reply_file(req, "index.html");
	} else if (path[0] == '/' && !strchr(path + 1, '/')) {
		reply_file(req, path + 1);
	} else {
		reply_error(req, 404, "Not Found",
			    "unknown path: try /, /metrics, /api/v1/status or /api/v1/events");
	}
	evmem_free_returned(path);
}

/* ---- life ---------------------------------------------------------------------------------- */

/* Shutdown, on the stats thread: end every event stream as a finished reply
 * (so libevent frees its request), give the last bytes a moment to leave,
 * then stop. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stats_server *ss = arg;
	struct timeval flush = {0, 100 * 1000};
	struct http_conn *hc;

	event_del(ss->tick);
	TAILQ_FOREACH(hc, &ss->clients, sse_link)
	{
		if (hc->sse)
			evhttp_send_reply_end(hc->sse); /* libevent frees it once sent */
		hc->sse = NULL;
	}
	event_base_loopexit(ss->base, &flush);
}

static void *stats_main(void *arg)
{
	struct stats_server *ss = arg;

	event_base_loop(ss->base, EVLOOP_NO_EXIT_ON_EMPTY);
	evmem_thread_flush();
	return NULL;
}

struct stats_server *stats_server_create(const struct config *cfg, const struct stats_sources *src,
					 bool *failed)
{
	struct stats_server *ss;
	char addr[64];

	*failed = false;
	if (!cfg->stats_given)
		return NULL;
	*failed = true;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->src = *src;
	ss->cfg = config_ref(cfg);
	ss->started_mono_ms = failover_now_ms();
	pthread_mutex_init(&ss->lock, NULL);
	TAILQ_INIT(&ss->clients);
	TAILQ_INIT(&ss->conns);
	TAILQ_INIT(&ss->pending);
	if (cfg->state_file)
		config_resolve_path(cfg->path, cfg->state_file, ss->state_path,
				    sizeof(ss->state_path));
	ss->base = event_base_new();
	if (!ss->base || !(ss->http = evhttp_new(ss->base)) ||
	    !(ss->tick = evtimer_new(ss->base, tick_cb, ss)) ||
	    !(ss->stop = event_new(ss->base, -1, 0, stop_cb, ss)))
		goto fail;
	evhttp_set_max_headers_size(ss->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(ss->http, MAX_BODY_SIZE);
	evhttp_set_timeout(ss->http, IO_TIMEOUT_SEC);
	evhttp_set_allowed_methods(ss->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(ss->http, request_cb, ss);
	evhttp_set_bevcb(ss->http, new_connection, ss);
	ss->evl = evconnlistener_new_bind(ss->base, NULL, NULL,
					  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						  LEV_OPT_REUSEABLE,
					  128, (const struct sockaddr *)&cfg->stats.bind.ss,
					  (int)cfg->stats.bind.len);
	if (!ss->evl) {
		const struct config_mark *at = &cfg->stats.src.at;
		log_error("stats", "%s:%u:%u: stats: cannot bind %s: %s%s", cfg->path, at->line,
			  at->col,
			  config_addr_str((const struct sockaddr *)&cfg->stats.bind.ss, addr,
					  sizeof(addr)),
			  strerror(errno),
			  errno == EADDRINUSE ? " (another process listens there; change stats.bind)"
					      : "");
		goto fail;
	}
	struct evhttp_bound_socket *bound = evhttp_bind_listener(ss->http, ss->evl);
	if (!bound)
		goto fail;
	ss->accepting = evhttp_bound_socket_get_listener(bound);
	ss->evl = NULL; /* the evhttp owns it now */
	*failed = false;
	log_info("stats", "dashboard and metrics on http://%s/",
		 config_addr_str((const struct sockaddr *)&cfg->stats.bind.ss, addr,
				 sizeof(addr)));
	return ss;
fail:
	stats_server_destroy(ss);
	return NULL;
}

bool stats_server_start(struct stats_server *ss)
{
	struct timeval tv = {0, EVENTS_TICK_MS * 1000};

	evtimer_add(ss->tick, &tv);
	if (pthread_create(&ss->thread, NULL, stats_main, ss) != 0) {
		log_error("stats", "cannot start the stats thread");
		return false;
	}
	ss->running = true;
	return true;
}

void stats_server_set_snapshot(struct stats_server *ss, struct snapshot *snap)
{
	struct snapshot *old;

	pthread_mutex_lock(&ss->lock);
	old = ss->snap;
	ss->snap = snap;
	pthread_mutex_unlock(&ss->lock);
	snapshot_unref(old);
}

void stats_server_destroy(struct stats_server *ss)
{
	if (!ss)
		return;
	if (ss->running) {
		event_active(ss->stop, EV_TIMEOUT, 0);
		pthread_join(ss->thread, NULL);
	}
	if (ss->http)
		evhttp_free(ss->http); /* closes every connection: conn_closed frees them */
	ss->accepting = NULL;
	while (!TAILQ_EMPTY(&ss->pending))
		pending_release(ss, TAILQ_FIRST(&ss->pending));
	if (ss->evl)
		evconnlistener_free(ss->evl);
	if (ss->tick)
		event_free(ss->tick);
	if (ss->stop)
		event_free(ss->stop);
	if (ss->base)
		event_base_free(ss->base);
	snapshot_unref(ss->snap);
	snapshot_unref(ss->seen);
	config_unref(ss->cfg);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
}
