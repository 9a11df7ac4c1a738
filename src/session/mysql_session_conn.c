/*
 * A mode: mysql session's connection set, one slot per node: opening and
 * dropping a connection, catching it up to the session's state with
 * internal commands (USE, history replay, wsrep_sync_wait, prepare), and
 * what the node says through its backend callbacks (including a loss).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "session/session.h"
#include "monitor/health.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/pipe.h"
#include "session/mysql_session_int.h"

/* What sluice sends a reader connection so reads wait for every commit
 * the cluster ordered before them (causal_reads). */
#define SYNC_WAIT_SQL "SET SESSION wsrep_sync_wait = 1"

static const char *const conn_state_names[] = {
	[CONN_NONE] = "none",	      [CONN_LOGIN] = "login", [CONN_IDLE] = "idle",
	[CONN_INTERNAL] = "internal", [CONN_BUSY] = "busy",
};

static const char *const conn_op_names[] = {
	[OP_NONE] = "none",	      [OP_INIT_DB] = "USE",	[OP_REPLAY] = "replay",
	[OP_SYNC_WAIT] = "sync wait", [OP_PREPARE] = "prepare", [OP_KILL] = "KILL",
};

static void internal_done(struct ms_conn *c);
static void internal_lost(struct ms_conn *c, const char *why);
static void conn_lost(struct ms_conn *c, const char *why);

#define BIT(s) (1u << (s))

/* Allowed transitions, by the state left (the diagram in
 * mysql_session_int.h). Any connection may be dropped (NONE), also one
 * already gone. */
static const unsigned conn_next[] = {
	[CONN_NONE] = BIT(CONN_LOGIN) | BIT(CONN_NONE),
	[CONN_LOGIN] = BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_IDLE] = BIT(CONN_INTERNAL) | BIT(CONN_BUSY) | BIT(CONN_NONE),
	[CONN_INTERNAL] = BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_BUSY] = BIT(CONN_IDLE) | BIT(CONN_NONE),
};

/* Change a connection's state; an impossible change is a bug (aborts). */
void ms_conn_set_state(struct ms_conn *c, enum conn_state next)
{
	BUG_ON(!(conn_next[c->state] & BIT(next)));
	log_debug(c->s->tag, "node %s connection: %s -> %s", ms_node_name(c->s, c->node),
		  conn_state_names[c->state], conn_state_names[next]);
	c->state = next;
}

/* Close c's backend connection, if any, and count it out. Leaves c's state
 * to the caller. */
void ms_conn_release(struct ms_conn *c)
{
	if (c->be && c->state != CONN_NONE && c->state != CONN_LOGIN)
		ms_conn_stats(c)->open_connections--;
	backend_destroy(c->be);
	c->be = NULL;
}

/* Publish which node threads serve this session, for KILL. */
void ms_registry_update(struct mysql_session *s)
{
	struct registry_entry e = {.id = s->id, .cluster = (int)s->cluster, .ctl = &s->ctl};

	snprintf(e.user, sizeof(e.user), "%s", s->user_name);
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i].be && s->conns[i].state != CONN_LOGIN &&
		    s->conns[i].state != CONN_NONE)
			e.threads[i] = backend_thread_id(s->conns[i].be);
	registry_put(&e);
}

/* Start logging in to c's node as the session's user. False if it could
 * not even start (the caller treats it as a failed login). */
bool ms_conn_open(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct backend_login login = ms_session_login(s);

	c->be = backend_create(worker_base(s->w), &s->cc->nodes[c->node], c->node,
			       s->cc->connect_timeout_ms, s->bound, s->env->backend_tls[s->cluster],
			       (int)s->cc->tls.verify, &ms_backend_ops, c);
	if (!c->be || !backend_connect(c->be, &login)) {
		backend_destroy(c->be);
		c->be = NULL;
		return false;
	}
	/* It joins with the session's database and no other state. */
	memcpy(c->db, s->db, sizeof(c->db));
	c->applied = 0;
	c->version = 0;
	c->sync_wait = false;
	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_LOGIN);
	log_debug(s->tag, "logging in to node %s as %s", ms_node_name(s, c->node), s->user_name);
	return true;
}

/* Forget a connection that failed or was lost. */
void ms_conn_drop(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	bool was_open = c->state != CONN_NONE && c->state != CONN_LOGIN;

	ms_conn_release(c);
	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_NONE);
	stmt_forget_node(&s->stmts, c->node);
	if (s->cur == c)
		s->cur = NULL;
	if (s->trx == c)
		s->trx = NULL;
	if (s->last == c)
		s->last = NULL;
	if (was_open)
		ms_registry_update(s);
}

/* Send an internal command (payload: command byte + body) on idle c. */
static void conn_internal(struct ms_conn *c, enum conn_op op, const uint8_t *payload, size_t len)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_packet_begin(&w, 0);
	mysql_put_bytes(&w, payload, len);
	mysql_packet_end(&w);
	if (w.ok)
		evbuffer_add(backend_output(c->be), w.data, w.len);
	mysql_writer_deinit(&w);
	c->op = op;
	c->i_left = 0;
	c->i_cont = false;
	c->i_done = false;
	c->i_seq = 1;
	mysql_resp_start(&c->iresp, payload[0]);
	ms_conn_stats(c)->statements++;
	ms_conn_set_state(c, CONN_INTERNAL);
	log_debug(c->s->tag, "node %s: %s", ms_node_name(c->s, c->node), conn_op_names[op]);
}

/* A COM_QUERY internal command from text. */
void ms_conn_internal_query(struct ms_conn *c, enum conn_op op, const char *sql)
{
	size_t n = strlen(sql);
	uint8_t buf[256];

	if (n + 1 > sizeof(buf))
		n = sizeof(buf) - 1;
	buf[0] = COM_QUERY;
	memcpy(buf + 1, sql, n);
	conn_internal(c, op, buf, n + 1);
}

/* Consume the internal command's response, whole packets, nothing to the
 * client. Long packets (column definitions of a big prepare) are dropped
 * as they stream. */
static void conn_internal_read(struct ms_conn *c)
{
	struct evbuffer *in = backend_input(c->be);

	while (c->state == CONN_INTERNAL) {
		if (c->i_left && !ms_copy_rest(in, NULL, &c->i_left))
			return;
		if (c->i_done && !c->i_cont) {
			internal_done(c);
			return;
		}
		struct resp_step st;
		if (!ms_resp_next(&c->iresp, &c->i_cont, in, &st))
			return;
		if (st.seq != c->i_seq) {
			internal_lost(c, "node sent packets out of order");
			return;
		}
		c->i_seq++;
		evbuffer_drain(in, MYSQL_HEADER_LEN);
		c->i_left = st.len;
		ms_copy_rest(in, NULL, &c->i_left);
		ms_conn_stats(c)->bytes_in += MYSQL_HEADER_LEN + (st.len - c->i_left);
		if (st.ev == RESP_EV_BAD || st.ev == RESP_EV_INFILE) {
			internal_lost(c, "unexpected answer to an internal command");
			return;
		}
		if (st.ev == RESP_EV_DONE)
			c->i_done = true; /* complete once this packet is dropped */
	}
}

/* Does c need wsrep_sync_wait before this command (causal_reads: global,
 * galera: every read on a reader waits for the commits the cluster ordered
 * before it)? */
static bool needs_sync_wait(struct mysql_session *s, struct ms_conn *c)
{
	const struct cluster_view *v;

	if (c->sync_wait || s->dec.target != ROUTER_READER || s->cc->type != CLUSTER_TYPE_GALERA ||
	    s->lc->causal_reads != CAUSAL_READS_GLOBAL)
		return false;
	/* The writer has applied every write it committed. */
	v = ms_cluster_view(s);
	return !v || v->writer != c->node;
}

/* Bring c to the session's state for the pending command, one internal
 * command at a time. True when c can take the command now; false when it
 * is logging in or catching up (ms_route_continue runs again when it is). */
bool ms_conn_catch_up(struct mysql_session *s, struct ms_conn *c)
{
	if (c->state != CONN_IDLE)
		return false;
	if (s->db[0] && strcmp(c->db, s->db) != 0) {
		uint8_t buf[1 + MYSQL_DB_MAX];
		size_t n = strlen(s->db);
		buf[0] = COM_INIT_DB;
		memcpy(buf + 1, s->db, n);
		conn_internal(c, OP_INIT_DB, buf, n + 1);
		return false;
	}
	if (c->version != s->hist.version) {
		if (c->version < s->hist.reorder_version) {
			/* Entries moved since: run them all (they are idempotent). */
			c->applied = 0;
			c->version = s->hist.reorder_version;
		}
		if (c->applied < s->hist.n) {
			const struct history_entry *e = &s->hist.items[c->applied];
			conn_internal(c, OP_REPLAY, e->payload, e->len);
			return false;
		}
		c->version = s->hist.version;
	}
	if (needs_sync_wait(s, c)) {
		ms_conn_internal_query(c, OP_SYNC_WAIT, SYNC_WAIT_SQL);
		return false;
	}
	if (s->kind == CMD_STMT && s->stmt && !s->stmt->node_id[c->node]) {
		uint8_t *buf = malloc(1 + (size_t)s->stmt->sql_len);
		if (!buf) {
			ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
					"sluice: out of memory");
			return false;
		}
		buf[0] = COM_STMT_PREPARE;
		memcpy(buf + 1, s->stmt->sql, s->stmt->sql_len);
		conn_internal(c, OP_PREPARE, buf, 1 + (size_t)s->stmt->sql_len);
		free(buf);
		return false;
	}
	return true;
}

/* An internal command's response is complete. */
static void internal_done(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	enum conn_op op = c->op;
	bool ok = !c->iresp.error;

	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_IDLE);
	if (op == OP_KILL) {
		if (ok) {
			s->kill_done = true;
			s->kill_next = s->kill_n;
		} else if (c->iresp.err.code == ER_NO_SUCH_THREAD) {
			/* That thread is gone (the target closed it): try the
			 * target's next node. */
			s->kill_next++;
		} else {
			s->kill_err = c->iresp.err;
			s->kill_err_thread = s->kill_threads[c->node];
			s->kill_next = s->kill_n;
		}
		ms_kill_continue(s);
		return;
	}
	if (!ok) {
		ms_conn_stats(c)->errors++;
		if (op == OP_PREPARE) {
			ms_drop_command(s, c->iresp.err.code, c->iresp.err.sqlstate, "%s",
					c->iresp.err.message);
			return;
		}
		/* The node will not take the session's state: a reader is left
		 * out from now on; on the writer the command cannot run. */
		log_warn(s->tag, "node %s refused the session's state (%s): %u %s",
			 ms_node_name(s, c->node), conn_op_names[op], c->iresp.err.code,
			 c->iresp.err.message);
		struct mysql_err err = c->iresp.err;
		ms_conn_drop(c);
		if (s->dec.target == ROUTER_READER) {
			router_pin(&s->rs, ROUTER_REASON_replay_failed);
			ms_count_reason(s, ROUTER_REASON_replay_failed);
			s->n_order = 0;
		}
		ms_route_retry(s, c, &err, NULL);
		return;
	}
	switch (op) {
	case OP_INIT_DB:
		memcpy(c->db, s->db, sizeof(c->db));
		break;
	case OP_REPLAY:
		c->applied++;
		break;
	case OP_SYNC_WAIT:
		c->sync_wait = true;
		break;
	case OP_PREPARE:
		if (s->stmt)
			s->stmt->node_id[c->node] = c->iresp.stmt_id;
		break;
	default:
		break;
	}
	ms_route_continue(s);
}

/* A connection broke while running an internal command. */
static void internal_lost(struct ms_conn *c, const char *why)
{
	struct mysql_session *s = c->s;
	enum conn_op op = c->op;

	log_warn(s->tag, "node %s: %s during %s", ms_node_name(s, c->node), why, conn_op_names[op]);
	health_suspect(s->env->health, s->cluster, (size_t)c->node);
	ms_conn_stats(c)->errors++;
	ms_conn_drop(c);
	if (op == OP_KILL) {
		s->kill_next++;
		ms_kill_continue(s);
		return;
	}
	ms_route_retry(s, c, NULL, why);
}

/* A node spoke while nothing was asked of it: it is closing that
 * connection (KILL, wait_timeout, shutdown). A killed session ends, as it
 * would on the server; anything else costs only that connection. */
static void conn_unsolicited(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct evbuffer *in = backend_input(c->be);
	uint8_t buf[MYSQL_HEADER_LEN + 512];
	struct mysql_err err = {0};
	ev_ssize_t n = evbuffer_copyout(in, buf, sizeof(buf));

	if (n > MYSQL_HEADER_LEN && buf[MYSQL_HEADER_LEN] == MYSQL_ERR_MARKER &&
	    mysql_read_err(buf + MYSQL_HEADER_LEN, (size_t)n - MYSQL_HEADER_LEN, &err))
		log_info(s->tag, "node %s closed its connection: %u %s", ms_node_name(s, c->node),
			 err.code, err.message);
	if (err.code == ER_CONNECTION_KILLED && s->state == MS_READY && !s->c_streaming) {
		ms_send_err(s, 0, err.code, err.sqlstate, "%s", err.message);
		ms_flush_and_close(s, CLOSE_REASON_node_closed, "killed");
		return;
	}
	conn_lost(c, err.code ? err.message : "node sent data outside a command");
}

static void ms_backend_readable(void *arg)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	switch (c->state) {
	case CONN_BUSY:
		if (c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE))
			ms_process_backend(s);
		return;
	case CONN_INTERNAL:
		conn_internal_read(c);
		return;
	case CONN_IDLE:
		if (evbuffer_get_length(backend_input(c->be)) > 0)
			conn_unsolicited(c);
		return;
	default:
		return;
	}
}

static void ms_backend_writable(void *arg)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	if (s->state == MS_CLOSING || s->state == MS_CLOSED || c != s->cur)
		return;
	pipe_set_reading(s->client, true);
	ms_process_client(s);
}

/* A connection is gone. The command in flight on it fails with an error
 * that says its outcome is unknown; a transaction open on it is reported
 * as rolled back at the session's next command; state the session pinned
 * to it (temporary tables, locks) is lost, which ends the session. */
static void conn_lost(struct ms_conn *c, const char *why)
{
	struct mysql_session *s = c->s;
	int node = c->node;
	bool in_flight = c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE);
	bool had_trx = c == s->trx;
	const struct cluster_view *v = ms_cluster_view(s);
	bool pinned_here = router_pinned(&s->rs) != ROUTER_REASON_none && v && v->writer == node;

	if (ms_being_killed(s)) {
		/* A KILL CONNECTION of this session is under way: this is it,
		 * not a node failure, and nothing is retried. */
		ms_close(s, CLOSE_REASON_killed, "killed by KILL CONNECTION");
		return;
	}
	ms_conn_stats(c)->errors++;
	health_suspect(s->env->health, s->cluster, (size_t)node);
	log_info(s->tag, "lost node %s: %s", ms_node_name(s, node), why);
	if (c->state == CONN_INTERNAL) {
		internal_lost(c, why);
		return;
	}
	if (in_flight) {
		/* Pass on whatever the node managed to send, then the error
		 * (unless that completed the response after all). */
		ms_process_backend(s);
		if (s->state == MS_CLOSED || s->state == MS_CLOSING)
			return;
		in_flight = c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE);
		had_trx = c == s->trx;
	}
	if (in_flight && !had_trx && ms_read_retryable(s)) {
		ms_conn_drop(c);
		log_info(s->tag, "retrying the read on another node");
		ms_resend_read(s);
		return;
	}
	if (in_flight || had_trx)
		health_lost(s->env->health, s->cluster, (size_t)node);
	ms_conn_drop(c);
	if (pinned_here) {
		ms_send_err(s, in_flight ? s->next_seq : 0, ER_NET_READ_ERROR, "08S01",
			    "sluice: lost node %s, which held this session's %s; reconnect",
			    ms_node_name(s, node), router_reason_str(router_pinned(&s->rs)));
		ms_flush_and_close(s, CLOSE_REASON_node_lost,
				   "lost the node holding the session's state");
		return;
	}
	if (had_trx) {
		s->rs.in_trx = false;
		if (!in_flight)
			s->trx_lost = node;
	}
	if (in_flight) {
		ms_send_err(
			s, s->next_seq, had_trx ? ER_LOCK_DEADLOCK : ER_NET_READ_ERROR,
			had_trx ? "40001" : "08S01",
			had_trx ? "sluice: lost node %s during the command; the transaction was "
				  "rolled back"
				: "sluice: lost the connection to node %s during the command; its "
				  "outcome is unknown",
			ms_node_name(s, node));
		s->b_left = 0;
		s->b_cont = false;
		s->resp_done = false;
		/* The rest of the command's bytes, if any, go nowhere. */
		s->c_discard = s->c_streaming;
		ms_set_state(s, MS_READY);
		ms_client_flush(s);
		ms_process_client(s);
		return;
	}
	ms_route_retry(s, c, NULL, why);
}

static void ms_backend_closed(void *arg, const char *why)
{
	conn_lost(arg, why);
}

const struct backend_ops ms_backend_ops = {
	.login_done = ms_login_done,
	.readable = ms_backend_readable,
	.writable = ms_backend_writable,
	.closed = ms_backend_closed,
};
