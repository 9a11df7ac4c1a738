/*
 * Layer-4 forwarding with backpressure and connect failover. See
 * tcp_session.h for the state diagram.
 *
 * Backpressure: after each read the bytes move (zero-copy) to the other
 * side's output buffer. When that output holds buffer_size bytes or more,
 * reading from the source stops; the destination's write callback fires
 * when it has drained to half and turns reading back on. So a client that
 * stops reading costs at most about buffer_size (plus one socket read) per
 * direction, and the backend is slowed by TCP flow control instead.
 */
#include "tcp_session.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "mysql/packet.h"
#include "server.h"
#include "snapshot.h"
#include "worker.h"

/* How long a closing session may take to hand its last bytes to a peer
 * that is slow to read before it is cut off. */
#define FLUSH_TIMEOUT_SEC 10

enum tcp_state {
	TCP_CONNECTING,
	TCP_FORWARDING,
	TCP_FLUSHING,
	TCP_CLOSED,
};

static const char *const tcp_state_names[] = {
	[TCP_CONNECTING] = "connecting",
	[TCP_FORWARDING] = "forwarding",
	[TCP_FLUSHING] = "flushing",
	[TCP_CLOSED] = "closed",
};

struct tcp_session {
	struct worker_session ws; /* first: the worker's list links through it */
	struct worker *w;
	struct listener *l;
	struct server *srv;
	const struct config_listener *lc;
	const struct config_cluster *cc;
	unsigned long long id;
	enum tcp_state state;
	char tag[128]; /* "C-42 ro@127.0.0.1:51234" for logs */

	struct bufferevent *client;
	struct bufferevent *backend;
	struct event *connect_timer;
	struct event *next_step; /* deferred: try the next candidate node */

	size_t bound;			  /* bytes per direction, from buffer_size */
	uint16_t order[CONFIG_MAX_NODES]; /* candidate nodes, best first */
	size_t n_order;
	size_t attempt; /* index into order of the node being tried */
	int node;	/* node index being tried or in use, -1 before */

	struct bufferevent *flush_to; /* FLUSHING: the side still being written */
	unsigned long long up_bytes, down_bytes;
	struct timespec started;
};

static void tcp_set_state(struct tcp_session *s, enum tcp_state next)
{
	/* Allowed: CONNECTING->{FORWARDING,FLUSHING,CLOSED}, FORWARDING->{FLUSHING,CLOSED},
	 * FLUSHING->CLOSED. Nothing leaves CLOSED. */
	static const unsigned allowed[] = {
		[TCP_CONNECTING] = 1u << TCP_FORWARDING | 1u << TCP_FLUSHING | 1u << TCP_CLOSED,
		[TCP_FORWARDING] = 1u << TCP_FLUSHING | 1u << TCP_CLOSED,
		[TCP_FLUSHING] = 1u << TCP_CLOSED,
		[TCP_CLOSED] = 0,
	};
	BUG_ON(!(allowed[s->state] & (1u << next)));
	log_debug(s->tag, "%s -> %s", tcp_state_names[s->state], tcp_state_names[next]);
	s->state = next;
}

static const char *node_name(const struct tcp_session *s)
{
	return s->node >= 0 ? s->cc->nodes[s->node].name : "-";
}

static void tcp_reconfigure(struct worker_session *ws, const struct config *cfg)
{
	struct tcp_session *s = (struct tcp_session *)ws;

	s->lc = &cfg->listeners[listener_index(s->l)];
	s->cc = &cfg->clusters[s->lc->cluster_index];
}

static void tcp_destroy(struct worker_session *ws)
{
	struct tcp_session *s = (struct tcp_session *)ws;

	if (s->client)
		bufferevent_free(s->client);
	if (s->backend)
		bufferevent_free(s->backend);
	if (s->connect_timer)
		event_free(s->connect_timer);
	if (s->next_step)
		event_free(s->next_step);
	listener_session_ended(s->l);
	free(s);
}

/* End the session: stop all I/O now, free it after this callback returns. */
static void tcp_close(struct tcp_session *s, const char *why)
{
	struct timespec now;

	if (s->state == TCP_CLOSED)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - s->started.tv_sec) +
		      (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
	log_debug(s->tag, "closed (%s): node %s, %llu bytes up, %llu down, %.3f s", why,
		  node_name(s), s->up_bytes, s->down_bytes, secs);
	tcp_set_state(s, TCP_CLOSED);
	if (s->client)
		bufferevent_disable(s->client, EV_READ | EV_WRITE);
	if (s->backend)
		bufferevent_disable(s->backend, EV_READ | EV_WRITE);
	event_del(s->connect_timer);
	event_del(s->next_step);
	worker_session_close(s->w, &s->ws);
}

/* Stop reading both sides and close once `to` has written what it holds. */
static void tcp_flush_and_close(struct tcp_session *s, struct bufferevent *to, const char *why)
{
	struct timeval tv = {FLUSH_TIMEOUT_SEC, 0};

	if (s->state == TCP_FLUSHING || s->state == TCP_CLOSED)
		return;
	if (!to || evbuffer_get_length(bufferevent_get_output(to)) == 0) {
		tcp_close(s, why);
		return;
	}
	log_debug(s->tag, "%s; flushing %zu bytes before closing", why,
		  evbuffer_get_length(bufferevent_get_output(to)));
	tcp_set_state(s, TCP_FLUSHING);
	s->flush_to = to;
	if (s->client)
		bufferevent_disable(s->client, EV_READ);
	if (s->backend)
		bufferevent_disable(s->backend, EV_READ);
	bufferevent_setwatermark(to, EV_WRITE, 0, 0); /* write_cb when empty */
	bufferevent_set_timeouts(to, NULL, &tv);
	bufferevent_enable(to, EV_WRITE);
}

/* Move what src has read to the other side, and stop reading src while the
 * other side's output is at the bound. */
static void tcp_read_cb(struct bufferevent *src, void *arg)
{
	struct tcp_session *s = arg;
	struct bufferevent *dst = src == s->client ? s->backend : s->client;
	struct evbuffer *in = bufferevent_get_input(src);
	struct evbuffer *out;
	size_t len = evbuffer_get_length(in);

	if (s->state != TCP_FORWARDING)
		return;
	out = bufferevent_get_output(dst);
	evbuffer_add_buffer(out, in);
	if (src == s->client)
		s->up_bytes += len;
	else
		s->down_bytes += len;
	if (evbuffer_get_length(out) >= s->bound)
		bufferevent_disable(src, EV_READ);
}

/* dst's output fell to the low watermark (half the bound), or to zero while
 * flushing. */
static void tcp_write_cb(struct bufferevent *dst, void *arg)
{
	struct tcp_session *s = arg;
	struct bufferevent *src = dst == s->client ? s->backend : s->client;

	if (s->state == TCP_FLUSHING) {
		if (dst == s->flush_to && evbuffer_get_length(bufferevent_get_output(dst)) == 0)
			tcp_close(s, "flushed");
		return;
	}
	if (s->state == TCP_FORWARDING && !(bufferevent_get_enabled(src) & EV_READ))
		bufferevent_enable(src, EV_READ);
}

/* Configure one side for forwarding: callbacks, watermarks, socket options. */
static void tcp_setup_side(struct tcp_session *s, struct bufferevent *bev);

static void tcp_try_next(struct tcp_session *s);

/* The client gets a MySQL ERR packet (sent before any greeting, as a
 * server does when it refuses a connection) and the session ends. The
 * SQLSTATE marker is included although no capabilities were agreed yet:
 * Connector/C accepts it either way, and PyMySQL 1.0 always skips six bytes
 * for it and would eat the start of the message otherwise. */
static void tcp_refuse(struct tcp_session *s, const char *fmt, ...) SLUICE_PRINTF(2, 3);

static void tcp_refuse(struct tcp_session *s, const char *fmt, ...)
{
	char msg[256];
	uint8_t pkt[MYSQL_HEADER_LEN + 300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn(s->tag, "refused: %s", msg);
	size_t n = mysql_write_err(pkt, sizeof(pkt), 0, MYSQL_ER_UNKNOWN_ERROR, "HY000", msg);
	bufferevent_write(s->client, pkt, n);
	tcp_flush_and_close(s, s->client, "refused");
}

static void tcp_backend_failed(struct tcp_session *s, const char *why)
{
	size_t cluster = s->lc->cluster_index;

	log_warn(s->tag, "node %s: %s; trying the next node", node_name(s), why);
	health_suspect(s->srv->health, cluster, (size_t)s->node);
	bufferevent_disable(s->backend, EV_READ | EV_WRITE);
	event_del(s->connect_timer);
	/* The failed bufferevent is freed in next_step, not inside its own
	 * callback. */
	event_active(s->next_step, EV_TIMEOUT, 0);
}

static void tcp_connected(struct tcp_session *s)
{
	event_del(s->connect_timer);
	tcp_set_state(s, TCP_FORWARDING);
	log_debug(s->tag, "connected to node %s (attempt %zu)", node_name(s), s->attempt + 1);
	net_tune_stream(bufferevent_getfd(s->backend));
	tcp_setup_side(s, s->backend);
	bufferevent_enable(s->backend, EV_READ | EV_WRITE);
	bufferevent_enable(s->client, EV_READ | EV_WRITE);
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_session *s = arg;
	bool is_client = bev == s->client;
	char why[160];

	if (s->state == TCP_CONNECTING && !is_client) {
		if (what & BEV_EVENT_CONNECTED) {
			tcp_connected(s);
			return;
		}
		snprintf(why, sizeof(why), "connect failed: %s",
			 (what & BEV_EVENT_EOF)
				 ? "closed by the node"
				 : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		tcp_backend_failed(s, why);
		return;
	}
	if (s->state == TCP_CONNECTING && is_client) {
		tcp_close(s, "client left while connecting");
		return;
	}

	if (what & BEV_EVENT_TIMEOUT) {
		tcp_close(s, "flush timed out");
		return;
	}
	if (what & BEV_EVENT_WRITING) {
		/* Cannot deliver to this side any more: nothing left to do. */
		snprintf(why, sizeof(why), "write to %s failed: %s", is_client ? "client" : "node",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		tcp_close(s, why);
		return;
	}
	if (s->state == TCP_FLUSHING) {
		if (bev == s->flush_to)
			tcp_close(s, "peer closed while flushing");
		return;
	}
	/* EOF or read error on one side: pass on what it sent, then close. */
	if (is_client) {
		tcp_flush_and_close(s, s->backend,
				    (what & BEV_EVENT_EOF) ? "client closed" : "client read error");
	} else {
		/* A node closing on its own may be a node dying: look now. */
		health_suspect(s->srv->health, s->lc->cluster_index,
			       (size_t)s->node);
		tcp_flush_and_close(s, s->client,
				    (what & BEV_EVENT_EOF) ? "node closed" : "node read error");
	}
}

static void tcp_setup_side(struct tcp_session *s, struct bufferevent *bev)
{
	bufferevent_setcb(bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, s);
	/* Low write mark: resume the other side's reading at half the bound.
	 * High read mark: never hold more than the bound unread. */
	bufferevent_setwatermark(bev, EV_WRITE, s->bound / 2, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, s->bound);
}

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_session *s = arg;
	char why[64];

	snprintf(why, sizeof(why), "connect timed out after %u ms", s->cc->connect_timeout_ms);
	tcp_backend_failed(s, why);
}

/* Connect to order[attempt]; failures come back through tcp_event_cb or the
 * timer, which schedule next_step. */
static void tcp_connect_current(struct tcp_session *s)
{
	const struct config_node *n;
	struct timeval tv = net_timeval_ms(s->cc->connect_timeout_ms);

	s->node = s->order[s->attempt];
	n = &s->cc->nodes[s->node];
	s->backend = bufferevent_socket_new(worker_base(s->w), -1, BEV_OPT_CLOSE_ON_FREE);
	if (!s->backend) {
		tcp_close(s, "out of memory");
		return;
	}
	bufferevent_setcb(s->backend, NULL, NULL, tcp_event_cb, s);
	evtimer_add(s->connect_timer, &tv);
	log_debug(s->tag, "connecting to node %s", n->name);
	if (bufferevent_socket_connect(s->backend, (const struct sockaddr *)&n->address.ss,
				       (int)n->address.len) < 0)
		tcp_backend_failed(s, "connect failed at once");
}

static void tcp_try_next(struct tcp_session *s)
{
	if (s->backend) {
		bufferevent_free(s->backend);
		s->backend = NULL;
		s->attempt++;
	}
	if (s->attempt >= s->n_order) {
		if (s->n_order == 0)
			tcp_refuse(s,
				   "sluice: no healthy node in cluster '%s' for listener '%s' "
				   "(route %s)",
				   s->cc->name, s->lc->name, listener_route_str(s->lc->route));
		else
			tcp_refuse(s,
				   "sluice: every node of cluster '%s' refused the connection "
				   "(listener '%s', %zu tried)",
				   s->cc->name, s->lc->name, s->n_order);
		return;
	}
	tcp_connect_current(s);
}

static void next_step_cb(evutil_socket_t fd, short what, void *arg)
{
	tcp_try_next(arg);
}

void tcp_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
		       socklen_t peer_len)
{
	struct server *srv = worker_server(w);
	const struct config *cfg = worker_config(w);
	const struct config_listener *lc = &cfg->listeners[listener_index(l)];
	struct tcp_session *s = calloc(1, sizeof(*s));
	char addr[64];

	if (!s)
		goto fail;
	s->w = w;
	s->l = l;
	s->srv = srv;
	s->lc = lc;
	s->cc = &cfg->clusters[lc->cluster_index];
	s->ws.destroy = tcp_destroy;
	s->ws.reconfigure = tcp_reconfigure;
	s->id = (unsigned long long)atomic_fetch_add(&srv->next_session_id, 1);
	s->node = -1;
	s->bound = cfg->buffer_size;
	s->state = TCP_CONNECTING;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	snprintf(s->tag, sizeof(s->tag), "C-%llu %s@%s tcp", s->id, lc->name,
		 config_addr_str(peer, addr, sizeof(addr)));

	s->client = bufferevent_socket_new(worker_base(w), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->client)
		goto fail;
	fd = -1; /* owned by the bufferevent now */
	s->connect_timer = evtimer_new(worker_base(w), connect_timeout_cb, s);
	s->next_step = event_new(worker_base(w), -1, 0, next_step_cb, s);
	if (!s->connect_timer || !s->next_step)
		goto fail;
	net_tune_stream(bufferevent_getfd(s->client));
	tcp_setup_side(s, s->client);
	/* The client is not read until a backend is connected: what it sends
	 * first must reach the node we end up with, not one we gave up on. */
	bufferevent_disable(s->client, EV_READ);
	worker_session_add(w, &s->ws);

	const struct cluster_view *v = &worker_snapshot(w)->clusters[lc->cluster_index];
	if (lc->route == LISTENER_ROUTE_READERS) {
		uint64_t ticket = atomic_fetch_add(&srv->rr[lc->cluster_index], 1);
		s->n_order = snapshot_reader_order(v, ticket, true, s->order);
	} else {
		s->n_order = snapshot_writer_order(v, s->order);
	}
	log_debug(s->tag, "accepted; %zu candidate node(s)", s->n_order);
	tcp_try_next(s);
	return;
fail:
	log_error("tcp", "%s: cannot set up a session (out of memory); closing the client",
		  lc->name);
	if (fd >= 0)
		close(fd);
	if (s) {
		s->ws.destroy = NULL;
		if (s->client)
			bufferevent_free(s->client);
		if (s->connect_timer)
			event_free(s->connect_timer);
		if (s->next_step)
			event_free(s->next_step);
		free(s);
	}
	listener_session_ended(l);
}
