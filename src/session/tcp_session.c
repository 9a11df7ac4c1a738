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
#include "session/tcp_session.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "config/config.h"
#include "monitor/health.h"
#include "monitor/opstate.h"
#include "net/listener.h"
#include "log.h"
#include "net/net.h"
#include "net/pipe.h"
#include "net/ring.h"
#include "mysql/packet.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "session/close_reason.h"
#include "session/session.h"
#include "monitor/snapshot.h"
#include "net/worker.h"

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
	struct session h; /* first: what every session kind has (session.h) */
	enum tcp_state state;

	struct pipe *backend;
	struct event *connect_timer; /* connecting, then flushing before a close */
	struct event *next_step;     /* deferred: try the next candidate node */

	uint16_t order[CONFIG_MAX_NODES]; /* candidate nodes, best first */
	size_t n_order;
	size_t attempt; /* index into order of the node being tried */
	int node;	/* node index being tried or in use, -1 before */

	struct pipe *flush_to; /* FLUSHING: the side still being written */
	unsigned long long up_bytes, down_bytes;
	uint64_t started_us; /* mono_us() */
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
	log_debug(s->h.tag, "%s -> %s", tcp_state_names[s->state], tcp_state_names[next]);
	s->state = next;
}

static const char *node_name(const struct tcp_session *s)
{
	return s->node >= 0 ? s->h.cc->nodes[s->node].name : "-";
}

static void tcp_reconfigure(struct worker_session *ws, const struct config *cfg)
{
	session_reconfigure(&((struct tcp_session *)ws)->h, cfg);
}

static void tcp_destroy(struct worker_session *ws)
{
	struct tcp_session *s = (struct tcp_session *)ws;

	pipe_free(s->backend);
	if (s->connect_timer)
		event_free(s->connect_timer);
	if (s->next_step)
		event_free(s->next_step);
	session_release(&s->h);
	free(s);
}

/* End the session: stop all I/O now, free it after this callback returns.
 * reason is counted once (a session that was flushing keeps the reason it
 * began to close for); why is the detail for the debug log. */
static void tcp_close(struct tcp_session *s, enum close_reason reason, const char *why)
{
	if (s->state == TCP_CLOSED)
		return;
	if (s->state != TCP_FLUSHING)
		s->h.close_reason = reason;
	worker_count_close(s->h.w, s->h.close_reason);
	double secs = (double)(mono_us() - s->started_us) / 1e6;
	log_debug(s->h.tag, "closed (%s: %s): node %s, %llu bytes up, %llu down, %.3f s",
		  close_reason_str(s->h.close_reason), why, node_name(s), s->up_bytes, s->down_bytes,
		  secs);
	tcp_set_state(s, TCP_CLOSED);
	/* Both pipes go in the reaper: until then they read nothing and call
	 * back nothing that matters (every callback checks the state). */
	if (s->h.client)
		pipe_set_reading(s->h.client, false);
	if (s->backend)
		pipe_set_reading(s->backend, false);
	event_del(s->connect_timer);
	event_del(s->next_step);
	worker_session_close(s->h.w, &s->h.ws);
}

/* Stop reading both sides and close once `to` has written what it holds. */
static void tcp_flush_and_close(struct tcp_session *s, struct pipe *to, enum close_reason reason,
				const char *why)
{
	struct timeval tv = {FLUSH_TIMEOUT_SEC, 0};

	if (s->state == TCP_FLUSHING || s->state == TCP_CLOSED)
		return;
	if (!to || pipe_pending(to) == 0) {
		tcp_close(s, reason, why);
		return;
	}
	log_debug(s->h.tag, "%s; flushing %zu bytes before closing", why, pipe_pending(to));
	s->h.close_reason = reason;
	tcp_set_state(s, TCP_FLUSHING);
	s->flush_to = to;
	if (s->h.client)
		pipe_set_reading(s->h.client, false);
	if (s->backend)
		pipe_set_reading(s->backend, false);
	pipe_set_write_low(to, 0); /* write_cb when empty */
	event_del(s->connect_timer);
	evtimer_add(s->connect_timer, &tv);
}

/* Move what src has read to the other side, and stop reading src while what
 * the other side has not yet sent (queued, or in a send) is at the bound. */
static void tcp_read_cb(struct pipe *src, void *arg)
{
	struct tcp_session *s = arg;
	struct pipe *dst = src == s->h.client ? s->backend : s->h.client;
	size_t len = evbuffer_get_length(pipe_input(src));

	if (s->state != TCP_FORWARDING)
		return;
	len = pipe_move(src, dst, len);
	if (src == s->h.client)
		s->up_bytes += len;
	else
		s->down_bytes += len;
	if (pipe_pending(dst) >= s->h.bound)
		pipe_set_reading(src, false);
}

/* dst's output fell to the low watermark (half the bound), or to zero while
 * flushing. */
static void tcp_write_cb(struct pipe *dst, void *arg)
{
	struct tcp_session *s = arg;
	struct pipe *src = dst == s->h.client ? s->backend : s->h.client;

	if (s->state == TCP_FLUSHING) {
		if (dst == s->flush_to && pipe_pending(dst) == 0)
			tcp_close(s, CLOSE_REASON_client_closed, "flushed"); /* keeps its reason */
		return;
	}
	if (s->state == TCP_FORWARDING && !pipe_reading(src))
		pipe_set_reading(src, true);
}

/* Configure one side for forwarding: callbacks, watermarks, socket options. */
static void tcp_setup_side(struct tcp_session *s, struct pipe *p);

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
	struct mysql_writer w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn(s->h.tag, "refused: %s", msg);
	mysql_writer_init(&w);
	mysql_write_err41(&w, 0, MYSQL_ER_UNKNOWN_ERROR, "HY000", msg);
	if (w.ok)
		evbuffer_add(pipe_output(s->h.client), w.data, w.len);
	mysql_writer_deinit(&w);
	tcp_flush_and_close(s, s->h.client, CLOSE_REASON_no_node, "refused");
}

/* Give up the node being connected to and try the next candidate. */
static void tcp_move_on(struct tcp_session *s)
{
	pipe_set_reading(s->backend, false);
	event_del(s->connect_timer);
	/* The pipe is freed in next_step, not inside its own callback. */
	event_active(s->next_step, EV_TIMEOUT, 0);
	ring_note_activation();
}

static void tcp_backend_failed(struct tcp_session *s, const char *why)
{
	size_t cluster = s->h.lc->cluster_index;

	log_warn(s->h.tag, "node %s: %s; trying the next node", node_name(s), why);
	health_suspect(s->h.env->health, cluster, (size_t)s->node);
	tcp_move_on(s);
}

static bool in_maintenance(const struct tcp_session *s, const struct snapshot *snap)
{
	const struct cluster_view *v = &snap->clusters[s->h.cluster];

	return s->node >= 0 && v->maintenance && v->nodes[s->node].admin == NODE_ADMIN_MAINTENANCE;
}

/* Maintenance is "out now": a connection forwarding to that node closes
 * (bytes cannot be moved to another node mid-stream, nor an error put
 * into them), and one still connecting moves on to the next candidate. */
static void tcp_maintenance_began(struct worker_session *ws, const struct snapshot *snap)
{
	struct tcp_session *s = (struct tcp_session *)ws;

	if (s->state != TCP_FORWARDING || !in_maintenance(s, snap))
		return;
	log_info(s->h.tag, "node %s is in maintenance: closing the connection to it", node_name(s));
	tcp_close(s, CLOSE_REASON_maintenance, "node in maintenance");
}

static void tcp_connected(struct tcp_session *s)
{
	if (in_maintenance(s, worker_snapshot(s->h.w))) {
		log_info(s->h.tag,
			 "node %s went into maintenance while connecting; trying the next node",
			 node_name(s));
		tcp_move_on(s);
		return;
	}
	event_del(s->connect_timer);
	tcp_set_state(s, TCP_FORWARDING);
	log_debug(s->h.tag, "connected to node %s (attempt %zu)", node_name(s), s->attempt + 1);
	net_tune_stream(pipe_fd(s->backend));
	tcp_setup_side(s, s->backend);
	pipe_set_reading(s->backend, true);
	pipe_set_reading(s->h.client, true);
	/* What the client sent while we connected goes out now. */
	if (evbuffer_get_length(pipe_input(s->h.client)))
		tcp_read_cb(s->h.client, s);
}

static void tcp_event_cb(struct pipe *p, short what, void *arg)
{
	struct tcp_session *s = arg;
	bool is_client = p == s->h.client;
	char why[160];

	if (s->state == TCP_CONNECTING && !is_client) {
		if (what & PIPE_CONNECTED) {
			tcp_connected(s);
			return;
		}
		snprintf(why, sizeof(why), "connect failed: %s",
			 (what & PIPE_EOF) ? "closed by the node" : pipe_error(p));
		tcp_backend_failed(s, why);
		return;
	}
	if (s->state == TCP_CONNECTING && is_client) {
		tcp_close(s, CLOSE_REASON_client_closed, "client left while connecting");
		return;
	}

	if (what & PIPE_WRITING) {
		/* Cannot deliver to this side any more: nothing left to do. */
		snprintf(why, sizeof(why), "write to %s failed: %s", is_client ? "client" : "node",
			 pipe_error(p));
		tcp_close(s, is_client ? CLOSE_REASON_client_error : CLOSE_REASON_node_error, why);
		return;
	}
	if (s->state == TCP_FLUSHING) {
		if (p == s->flush_to)
			tcp_close(s, CLOSE_REASON_client_closed, "peer closed while flushing");
		return;
	}
	/* EOF or read error on one side: pass on what it sent, then close. */
	if (is_client) {
		tcp_flush_and_close(s, s->backend,
				    (what & PIPE_EOF) ? CLOSE_REASON_client_closed
						      : CLOSE_REASON_client_error,
				    (what & PIPE_EOF) ? "client closed" : "client read error");
	} else {
		/* A node closing on its own may be a node dying: look now. */
		health_suspect(s->h.env->health, s->h.lc->cluster_index, (size_t)s->node);
		tcp_flush_and_close(s, s->h.client,
				    (what & PIPE_EOF) ? CLOSE_REASON_node_closed
						      : CLOSE_REASON_node_error,
				    (what & PIPE_EOF) ? "node closed" : "node read error");
	}
}

static void tcp_setup_side(struct tcp_session *s, struct pipe *p)
{
	pipe_set_callbacks(p, tcp_read_cb, tcp_write_cb, tcp_event_cb, s);
	/* Low write mark: resume the other side's reading at half the bound.
	 * Read bound: never hold more than the bound unread. */
	pipe_set_write_low(p, s->h.bound / 2);
	pipe_set_read_bound(p, s->h.bound);
	pipe_settle(p); /* bytes pass through: sluice starts no TLS here */
}

/* Connecting: the node did not answer in time; flushing: the peer did not
 * take the last bytes in time. */
static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_session *s = arg;
	char why[64];

	if (s->state == TCP_FLUSHING) {
		tcp_close(s, CLOSE_REASON_client_error, "flush timed out"); /* keeps its reason */
		return;
	}

	snprintf(why, sizeof(why), "connect timed out after %u ms", s->h.cc->connect_timeout_ms);
	tcp_backend_failed(s, why);
}

/* Connect to order[attempt]; failures come back through tcp_event_cb or the
 * timer, which schedule next_step. */
static void tcp_connect_current(struct tcp_session *s)
{
	const struct config_node *n;
	struct timeval tv = net_timeval_ms(s->h.cc->connect_timeout_ms);

	s->node = s->order[s->attempt];
	n = &s->h.cc->nodes[s->node];
	s->backend = pipe_new(worker_base(s->h.w), worker_ring(s->h.w), -1);
	if (!s->backend) {
		tcp_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	pipe_set_callbacks(s->backend, NULL, NULL, tcp_event_cb, s);
	evtimer_add(s->connect_timer, &tv);
	log_debug(s->h.tag, "connecting to node %s", n->name);
	if (!pipe_connect(s->backend, (const struct sockaddr *)&n->address.ss, n->address.len)) {
		char why[160];
		snprintf(why, sizeof(why), "connect failed at once: %s", strerror(errno));
		tcp_backend_failed(s, why);
	}
}

static void tcp_try_next(struct tcp_session *s)
{
	if (s->backend) {
		pipe_free(s->backend);
		s->backend = NULL;
		s->attempt++;
	}
	if (s->attempt >= s->n_order) {
		if (s->n_order == 0)
			tcp_refuse(s,
				   "sluice: no healthy node in cluster '%s' for listener '%s' "
				   "(route %s)",
				   s->h.cc->name, s->h.lc->name, listener_route_str(s->h.lc->route));
		else
			tcp_refuse(s,
				   "sluice: every node of cluster '%s' refused the connection "
				   "(listener '%s', %zu tried)",
				   s->h.cc->name, s->h.lc->name, s->n_order);
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
	struct tcp_session *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		goto fail;
	}
	if (!session_open(&s->h, w, l, fd, peer, " tcp", tcp_destroy, tcp_reconfigure)) {
		free(s);
		goto fail;
	}
	s->h.ws.maintenance_began = tcp_maintenance_began;
	s->node = -1;
	s->state = TCP_CONNECTING;
	s->started_us = mono_us();
	s->connect_timer = evtimer_new(worker_base(w), connect_timeout_cb, s);
	s->next_step = event_new(worker_base(w), -1, 0, next_step_cb, s);
	if (!s->connect_timer || !s->next_step) {
		tcp_destroy(&s->h.ws);
		log_error("tcp", "cannot set up a session (out of memory); closing the client");
		return;
	}
	tcp_setup_side(s, s->h.client);
	/* The client is not read until a backend is connected: what it sends
	 * first must reach the node we end up with, not one we gave up on. */
	worker_session_add(w, &s->h.ws);

	const struct cluster_view *v = &worker_snapshot(w)->clusters[s->h.cluster];
	if (s->h.lc->route == LISTENER_ROUTE_READERS) {
		uint64_t ticket = atomic_fetch_add(&s->h.env->rr[s->h.cluster], 1);
		s->n_order = snapshot_reader_order(v, ticket, true, s->order);
	} else {
		s->n_order = snapshot_writer_order(v, true, s->order);
	}
	log_debug(s->h.tag, "accepted; %zu candidate node(s)", s->n_order);
	tcp_try_next(s);
	return;
fail:
	log_error("tcp", "cannot set up a session (out of memory); closing the client");
	listener_session_ended(l);
}
