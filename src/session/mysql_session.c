/*
 * mode: mysql sessions, their life: creation, the client socket (plain, TLS
 * or compressed), the state dispatch of what the client sends, and the one
 * way out (close, flush and close, fail with an ERR). The other jobs live
 * beside this file (mysql_session_int.h lists them).
 */
#include "session/mysql_session.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "session/session.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/listener.h"
#include "net/net.h"
#include "net/pipe.h"
#include "session/close_reason.h"
#include "session/mysql_session_int.h"

_Static_assert(REGISTRY_MAX_NODES == CONFIG_MAX_NODES, "one registry slot per node");

/* How long a closing session may take to hand its last ERR to the client. */
#define FLUSH_TIMEOUT_SEC 10

static const char *const ms_state_names[] = {
	[MS_GREETING] = "greeting",	[MS_AUTH_SWITCH] = "auth-switch",
	[MS_CONNECTING] = "connecting", [MS_READY] = "ready",
	[MS_ROUTING] = "routing",	[MS_COMMAND] = "command",
	[MS_INFILE] = "infile",		[MS_KILLING] = "killing",
	[MS_CU_SWITCH] = "cu-switch",	[MS_CHANGING_USER] = "changing-user",
	[MS_CLOSING] = "closing",	[MS_CLOSED] = "closed",
};

static void client_write_cb(struct pipe *p, void *arg);

#define BIT(s) (1u << (s))
#define ENDS   (BIT(MS_CLOSING) | BIT(MS_CLOSED))

/* Allowed transitions, by the state left (the diagram in mysql_session.h).
 * Any live state may end (CLOSING flushes a last ERR first). READY ->
 * READY and ROUTING -> READY: a command answered with an ERR without
 * running; CONNECTING -> CONNECTING: the login tried again after a wait
 * for a writer; COMMAND/INFILE -> ROUTING: a read sent again elsewhere. */
static const unsigned ms_next[] = {
	[MS_GREETING] = BIT(MS_AUTH_SWITCH) | BIT(MS_CONNECTING) | ENDS,
	[MS_AUTH_SWITCH] = BIT(MS_CONNECTING) | ENDS,
	[MS_CONNECTING] = BIT(MS_CONNECTING) | BIT(MS_READY) | ENDS,
	[MS_READY] = BIT(MS_READY) | BIT(MS_ROUTING) | BIT(MS_KILLING) | BIT(MS_CU_SWITCH) | ENDS,
	[MS_ROUTING] = BIT(MS_ROUTING) | BIT(MS_COMMAND) | BIT(MS_READY) | ENDS,
	[MS_COMMAND] = BIT(MS_INFILE) | BIT(MS_READY) | BIT(MS_ROUTING) | ENDS,
	[MS_INFILE] = BIT(MS_COMMAND) | BIT(MS_READY) | BIT(MS_ROUTING) | ENDS,
	[MS_KILLING] = BIT(MS_READY) | ENDS,
	[MS_CU_SWITCH] = BIT(MS_CHANGING_USER) | BIT(MS_READY) | ENDS,
	[MS_CHANGING_USER] = BIT(MS_READY) | ENDS,
	[MS_CLOSING] = BIT(MS_CLOSED),
	[MS_CLOSED] = 0,
};

/* Change the session's state; an impossible change is a bug (aborts). */
void ms_set_state(struct mysql_session *s, enum ms_state next)
{
	BUG_ON(!(ms_next[s->state] & BIT(next)));
	log_debug(s->h.tag, "%s -> %s", ms_state_names[s->state], ms_state_names[next]);
	s->state = next;
}

struct node_stats *ms_conn_stats(struct ms_conn *c)
{
	return worker_node_stats(c->s->h.w, c->s->h.cluster, (size_t)c->node);
}

/* Counters of the node serving the client's bytes now, or NULL. */
struct node_stats *ms_node_stats(struct mysql_session *s)
{
	return s->cur ? ms_conn_stats(s->cur) : NULL;
}

const char *ms_node_name(struct mysql_session *s, int node)
{
	return s->h.cc->nodes[node].name;
}

/* Plain packets from the client (the pipe decodes them in compressed mode). */
struct evbuffer *ms_cin(struct mysql_session *s)
{
	return pipe_input(s->h.client);
}

/* Plain packets to the client (the pipe encodes them in compressed mode). */
struct evbuffer *ms_cout(struct mysql_session *s)
{
	return pipe_output(s->h.client);
}

/* Move n bytes from ms_cin to c's node, or from the current node to ms_cout;
 * returns the bytes moved. By pipe_move(), which may swap the buffers: a
 * pointer to either side's buffers is stale after the call. */
size_t ms_move_to_node(struct mysql_session *s, struct ms_conn *c, size_t n)
{
	return pipe_move(s->h.client, backend_pipe(c->be), n);
}

size_t ms_move_to_client(struct mysql_session *s, size_t n)
{
	return pipe_move(backend_pipe(s->cur->be), s->h.client, n);
}

void ms_send_writer(struct mysql_session *s, struct mysql_writer *w)
{
	if (w->ok)
		evbuffer_add(ms_cout(s), w->data, w->len);
	mysql_writer_deinit(w);
}

void ms_send_err(struct mysql_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		 const char *fmt, ...)
{
	char msg[512];
	struct mysql_writer w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mysql_writer_init(&w);
	mysql_write_err41(&w, seq, code, sqlstate, msg);
	ms_send_writer(s, &w);
}

static void ms_destroy(struct worker_session *ws)
{
	struct mysql_session *s = (struct mysql_session *)ws;

	registry_remove(s->h.id); /* before the wake event goes: see registry_ctl */
	if (s->ctl.wake)
		event_free(s->ctl.wake);
	free(s->ctl.threads);
	free(s->ctl.seen);
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		ms_conn_release(&s->conns[i]);
	/* The order goes with the slots: one block. */
	free(s->conns);
	history_deinit(&s->hist);
	stmt_table_deinit(&s->stmts);
	free(s->temps);
	free(s->saved);
	free(s->retry);
	if (s->timer)
		event_free(s->timer);
	free(s->attrs);
	ms_cu_free(s);
	free(s->kill);
	OPENSSL_cleanse(s->sha1_pw, sizeof(s->sha1_pw));
	OPENSSL_cleanse(s->cu_sha1_pw, sizeof(s->cu_sha1_pw));
	session_release(&s->h);
	free(s);
}

/* Close every backend connection now (the session is ending). */
static void close_conns(struct mysql_session *s)
{
	for (size_t i = 0; s->conns && i < s->n_conns; i++) {
		ms_conn_release(&s->conns[i]);
		s->conns[i].state = CONN_NONE;
	}
	s->cur = s->target = s->trx = s->last = NULL;
}

/* The one way out: stop all I/O now and have the worker free the session
 * after this callback returns. reason is counted once per session (a
 * session that was flushing keeps the reason it began to close for); why
 * is the detail for the debug log. */
void ms_close(struct mysql_session *s, enum close_reason reason, const char *why)
{
	if (s->state == MS_CLOSED)
		return;
	if (s->state != MS_CLOSING)
		s->h.close_reason = reason;
	log_debug(s->h.tag, "closed (%s: %s) after %" PRIu64 " commands",
		  close_reason_str(s->h.close_reason), why, s->commands);
	worker_count_close(s->h.w, s->h.close_reason);
	ms_set_state(s, MS_CLOSED);
	if (s->kill && s->kill->pending) {
		/* Our KILL of another session ends unfinished: release it. */
		registry_kill(s->kill->victim, REGISTRY_KILL_NONE);
		s->kill->pending = false;
	}
	if (s->h.client) {
		/* What is still queued is dropped with the pipe in the reaper. */
		pipe_set_reading(s->h.client, false);
		pipe_set_callbacks(s->h.client, NULL, NULL, NULL, NULL);
	}
	close_conns(s);
	ms_stop_timer(s);
	worker_session_close(s->h.w, &s->h.ws);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

/* The session's one timer: the login timeout, a wait for a writer or for a
 * pooled connection, the end of a hold, the last flush. It exists only while armed or about
 * to be (an idle session holds none). False when out of memory. */
bool ms_arm_timer(struct mysql_session *s, uint32_t ms)
{
	struct timeval tv = net_timeval_ms(ms);

	if (!s->timer)
		s->timer = evtimer_new(worker_base(s->h.w), timer_cb, s);
	if (!s->timer)
		return false;
	event_del(s->timer);
	evtimer_add(s->timer, &tv);
	return true;
}

void ms_stop_timer(struct mysql_session *s)
{
	if (s->timer)
		event_del(s->timer);
}

/* The timer will not be needed for a while (the session is logged in). */
void ms_drop_timer(struct mysql_session *s)
{
	if (s->timer)
		event_free(s->timer);
	s->timer = NULL;
}

/* Bytes queued towards the client and not yet taken by the kernel. */
size_t ms_client_pending(struct mysql_session *s)
{
	return pipe_pending(s->h.client);
}

/* Send what is queued (an ERR, usually), then close for reason. */
void ms_flush_and_close(struct mysql_session *s, enum close_reason reason, const char *why)
{
	if (s->state == MS_CLOSING || s->state == MS_CLOSED)
		return;
	close_conns(s);
	if (ms_client_pending(s) == 0) {
		ms_close(s, reason, why);
		return;
	}
	log_debug(s->h.tag, "%s; flushing before close", why);
	s->h.close_reason = reason;
	ms_set_state(s, MS_CLOSING);
	pipe_set_reading(s->h.client, false);
	pipe_set_write_low(s->h.client, 0); /* client_write_cb once everything is out */
	if (!ms_arm_timer(s, FLUSH_TIMEOUT_SEC * 1000))
		ms_close(s, reason, "out of memory");
}

/* A client error that ends the session: ERR to the client, log once. */
void ms_fail(struct mysql_session *s, enum close_reason reason, uint8_t seq, uint16_t code,
	     const char *sqlstate, const char *msg)
{
	log_info(s->h.tag, "closing: %u %s", code, msg);
	ms_send_err(s, seq, code, sqlstate, "%s", msg);
	ms_flush_and_close(s, reason, msg);
}

/* A client packet came with sequence id `got` where `want` was due: the
 * stream cannot be trusted. As a server does: ERR 1156 (numbered as the
 * expected packet would have been), then close. */
void ms_out_of_order(struct mysql_session *s, uint8_t got, uint8_t want)
{
	log_info(s->h.tag, "client packet with sequence id %u, expected %u", got, want);
	ms_fail(s, CLOSE_REASON_protocol_error, want, ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
		"Got packets out of order");
}

/* Peek one whole small packet from the client: its header and payload
 * (valid until the next change to ms_cin). NULL when not all here yet;
 * *too_big when it is larger than allowed. */
static const uint8_t *peek_small(struct mysql_session *s, uint32_t *len, uint8_t *seq,
				 bool *too_big)
{
	struct evbuffer *in = ms_cin(s);
	uint8_t h[MYSQL_HEADER_LEN];

	*too_big = false;
	if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
		return NULL;
	*len = mysql_header_len(h);
	*seq = h[3];
	if (*len > SMALL_PACKET_MAX) {
		*too_big = true;
		return NULL;
	}
	if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + (size_t)*len)
		return NULL;
	return evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + *len)) + MYSQL_HEADER_LEN;
}

const struct config_user *ms_find_user_in(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

/* A reload (worker.h): the listener, the cluster, the nodes of open backend
 * connections and the users move to cfg. A user the reload removed is gone
 * for this session too: a login or COM_CHANGE_USER in progress is refused,
 * and a session logged in as it goes on; its later node logins have only
 * the password the client proved (enough for mysql_native_password). */
static void ms_reconfigure(struct worker_session *ws, const struct config *cfg)
{
	struct mysql_session *s = (struct mysql_session *)ws;

	session_reconfigure(&s->h, cfg);
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		if (s->conns[i].be)
			backend_set_node(s->conns[i].be, &s->h.cc->nodes[i]);
	if (s->user)
		s->user = ms_find_user_in(cfg, s->user_name);
	if (s->cu_user)
		s->cu_user = s->cu ? ms_find_user_in(cfg, s->cu->user) : NULL;
}

/* Copy up to *left bytes of the current packet from src to dst (or drop
 * them when dst is NULL). Returns false if the packet is not finished. */
bool ms_copy_rest(struct evbuffer *src, struct evbuffer *dst, uint32_t *left)
{
	if (*left == 0)
		return true;
	if (!dst) {
		size_t n = evbuffer_get_length(src) < *left ? evbuffer_get_length(src) : *left;
		evbuffer_drain(src, n);
		*left -= (uint32_t)n;
		return *left == 0;
	}
	int moved = evbuffer_remove_buffer(src, dst, *left);
	if (moved > 0)
		*left -= (uint32_t)moved;
	return *left == 0;
}

/* Handle whatever the client has sent, as far as the state allows. */
void ms_process_client(struct mysql_session *s)
{
	for (;;) {
		enum ms_state before = s->state;
		bool was_streaming = s->c_streaming;
		size_t have = evbuffer_get_length(ms_cin(s));
		uint32_t len;
		uint8_t seq;
		bool too_big;
		const uint8_t *p;

		switch (s->state) {
		case MS_GREETING:
		case MS_AUTH_SWITCH:
		case MS_CU_SWITCH:
			p = peek_small(s, &len, &seq, &too_big);
			if ((p || too_big) && seq != s->expect_seq) {
				ms_out_of_order(s, seq, s->expect_seq);
				return;
			}
			if (too_big) {
				ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1),
					ER_HANDSHAKE_ERROR, "08S01",
					"Bad handshake: packet too large");
				return;
			}
			if (!p)
				goto out;
			if (s->state == MS_GREETING) {
				ms_on_handshake_response(s, p, len, seq);
			} else {
				uint8_t answer[MYSQL_AUTH_MAX];
				size_t n = len < sizeof(answer) ? len : sizeof(answer);
				memcpy(answer, p, n);
				evbuffer_drain(ms_cin(s), MYSQL_HEADER_LEN + len);
				if (s->state == MS_AUTH_SWITCH)
					ms_check_answer(s, answer, n, seq);
				else
					ms_check_change_user(s, answer, n, seq);
				OPENSSL_cleanse(answer, sizeof(answer));
			}
			break;
		case MS_READY:
			if (s->c_streaming) {
				s->c_streaming = !ms_stream_client_packets(s);
				if (s->c_streaming)
					goto out;
				break;
			}
			ms_next_command(s);
			break;
		case MS_COMMAND:
			/* A command still being copied (long data, big INSERT). */
			if (s->c_streaming) {
				s->c_streaming = !ms_stream_client_packets(s);
				break;
			}
			goto out; /* pipelined input waits until this command is done */
		case MS_INFILE:
			if (ms_stream_client_packets(s))
				ms_process_backend(s); /* the OK may already be here */
			break;
		default:
			goto out;
		}
		if (s->state == MS_CLOSING || s->state == MS_CLOSED)
			return;
		/* Stop when nothing moved. A command whose last bytes went out
		 * just now moved too, though neither the state nor the input
		 * changed: the next command may already be waiting. */
		if (s->state == before && s->c_streaming == was_streaming &&
		    evbuffer_get_length(ms_cin(s)) == have)
			goto out;
	}
out:
	ms_give_back(s);
}

static void client_read_cb(struct pipe *p, void *arg)
{
	ms_process_client(arg);
}

static void client_write_cb(struct pipe *p, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING) {
		if (ms_client_pending(s) == 0)
			ms_close(s, CLOSE_REASON_client_closed, "flushed"); /* keeps its reason */
		return;
	}
	/* The client drained to half the bound: resume the node. */
	if (s->cur && s->cur->be && backend_ready(s->cur->be)) {
		backend_set_reading(s->cur->be, true);
		ms_process_backend(s);
	}
}

static void client_event_cb(struct pipe *p, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (what & PIPE_CONNECTED)
		return; /* the TLS handshake finished */
	if (what & PIPE_CORRUPT) {
		/* A compressed frame that does not inflate. MariaDB just closes;
		 * the client learns more from an error, numbered as the answer
		 * to a command the frame would carry. */
		ms_fail(s, CLOSE_REASON_protocol_error, 1, ER_NET_UNCOMPRESS_ERROR, "08S01",
			"Couldn't uncompress communication packet");
	} else if (what & PIPE_EOF) {
		ms_close(s, CLOSE_REASON_client_closed, "client closed the connection");
	} else {
		ms_close(s, CLOSE_REASON_client_error,
			 s->tls ? "client connection or TLS error" : "client connection error");
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING) {
		ms_close(s, CLOSE_REASON_client_error, "client did not read its last error");
		return;
	}
	if (s->waiting) {
		ms_writer_poll(s);
		return;
	}
	if (s->pool_waiting) {
		ms_pool_wait_expired(s);
		return;
	}
	if (s->state != MS_GREETING && s->state != MS_AUTH_SWITCH) {
		/* A hold's time is up (mysql_session_response.c): what the
		 * held connection kept for the next statements has waited long
		 * enough; an idle session gives it back. */
		s->hold = 0;
		ms_give_back(s);
		if (s->state == MS_READY)
			ms_drop_timer(s);
		return;
	}
	log_info(s->h.tag, "login timed out after %u ms", s->h.lc->login_timeout_ms);
	ms_close(s, CLOSE_REASON_login_timeout, "login timeout");
}

void ms_client_setup(struct mysql_session *s)
{
	pipe_set_callbacks(s->h.client, client_read_cb, client_write_cb, client_event_cb, s);
	pipe_set_read_bound(s->h.client, s->h.bound);
	pipe_set_write_low(s->h.client, s->h.bound / 2);
	pipe_set_reading(s->h.client, true);
}

void mysql_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
			 socklen_t peer_len)
{
	struct mysql_session *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		log_error("mysql", "cannot set up a session (out of memory); closing the client");
		listener_session_ended(l);
		return;
	}
	if (!session_open(&s->h, w, l, fd, peer, "", ms_destroy, ms_reconfigure)) {
		free(s);
		log_error("mysql", "cannot set up a session (out of memory); closing the client");
		listener_session_ended(l);
		return;
	}
	s->state = MS_GREETING;
	s->trx_lost = -1;
	atomic_init(&s->ctl.kill, REGISTRY_KILL_NONE);
	atomic_init(&s->ctl.busy_node, -1);
	router_init(&s->rs);
	history_init(&s->hist);
	stmt_table_init(&s->stmts, s->h.cc->n_nodes);
	s->n_conns = s->h.cc->n_nodes; /* the slots themselves come with a command: ms_slots */
	s->ctl.threads = calloc(ms_node_entries(s), sizeof(*s->ctl.threads));
	s->ctl.seen = calloc(ms_node_entries(s), sizeof(*s->ctl.seen));
	s->ctl.wake = event_new(worker_base(w), -1, 0, ms_kill_wake_cb, s);
	s->ctl.worker = w;
	if (!s->ctl.threads || !s->ctl.seen || !s->ctl.wake ||
	    !mysql_random_scramble(s->scramble, sizeof(s->scramble))) {
		log_error(s->h.tag,
			  "cannot set up the session (out of memory); closing the client");
		ms_destroy(&s->h.ws);
		return;
	}
	s->ctl.n_nodes = (int)s->n_conns;
	for (size_t i = 0; i < s->n_conns; i++) {
		atomic_init(&s->ctl.threads[i], 0);
		atomic_init(&s->ctl.seen[i], 0);
	}
	worker_session_add(w, &s->h.ws);
	ms_client_setup(s);
	if (!ms_arm_timer(s, s->h.lc->login_timeout_ms)) {
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	ms_send_greeting(s);
	log_debug(s->h.tag, "accepted");
}
