/*
 * A mode: mysql session's responses: follow the node's answer packet by
 * packet (mysql/resp.h) while streaming it to the client, then learn what
 * the command changed (transaction flags, session state, statements) and
 * count it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "session/session.h"
#include "clock.h"
#include "monitor/failover.h"
#include "monitor/health.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/listener.h"
#include "session/mysql_session_int.h"

/* Commands for which an insert's connection is kept, for LAST_INSERT_ID(). */
#define HOLD_AFTER_INSERT_ID 5
/* ... and how long at most: a session that goes idle after an insert does
 * not keep a node connection from the pool for long. */
#define HOLD_MS 1000
#include "stats/feed.h"

/* Look at the next packet of the response r follows, without consuming it:
 * only its header for a continuation (*cont), else as many payload bytes as
 * the tracker needs, which it is fed. False when those bytes are not all
 * buffered yet (nothing changed then). Shared by the client's responses
 * (streamed on) and internal ones (dropped). */
bool ms_resp_next(struct mysql_resp *r, bool *cont, struct evbuffer *in, struct resp_step *st)
{
	uint8_t h[MYSQL_HEADER_LEN];

	if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
		return false;
	st->seq = h[3];
	st->len = mysql_header_len(h);
	st->p = NULL;
	st->need = 0;
	st->ev = RESP_EV_MORE;
	if (!*cont) {
		st->need = mysql_resp_need(r, st->len);
		if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + st->need)
			return false;
		st->p = evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + st->need)) +
			MYSQL_HEADER_LEN;
		st->ev = mysql_resp_packet(r, st->p, st->need, st->len);
	}
	*cont = st->len == MYSQL_MAX_PAYLOAD;
	return true;
}

/* The same step for a packet that lies whole in the contiguous bytes
 * [at, at + avail) of the node's input: the tracker is fed in place, with
 * no copy. False, with nothing changed, when the packet is not whole there,
 * or is part of a 16 MiB packet: ms_resp_next() takes it then. */
static bool resp_next_whole(struct mysql_resp *r, bool cont, uint8_t *at, size_t avail,
			    struct resp_step *st)
{
	if (cont || avail < MYSQL_HEADER_LEN)
		return false;
	st->len = mysql_header_len(at);
	if (st->len == MYSQL_MAX_PAYLOAD || avail - MYSQL_HEADER_LEN < st->len)
		return false;
	st->seq = at[3];
	st->p = at + MYSQL_HEADER_LEN;
	st->need = mysql_resp_need(r, st->len);
	st->ev = mysql_resp_packet(r, st->p, st->need, st->len);
	return true;
}

/* Whether the command that just ended could have changed data: a statement
 * that is not a read or a session statement, or the execution of one. */
static bool may_have_written(const struct mysql_session *s)
{
	switch (s->kind) {
	case CMD_QUERY:
		return s->cls.kind != CLASSIFY_READ && s->cls.kind != CLASSIFY_SESSION;
	case CMD_STMT:
		return s->cmd == COM_STMT_EXECUTE && s->stmt && !s->stmt->reader_ok;
	case CMD_PLAIN:
		/* Connection pools ping between statements: that must not
		 * pull their reads to the writer. Commands we do not know
		 * are taken to write. */
		return s->cmd != COM_PING && s->cmd != COM_STATISTICS && s->cmd != COM_FIELD_LIST &&
		       s->cmd != COM_PROCESS_INFO && s->cmd != COM_TIME && s->cmd != COM_DEBUG;
	case CMD_PREPARE:
	case CMD_SESSION:
	case CMD_RESET:
		break;
	}
	return false;
}

/* The dashboard listens: offer it this statement (feed.h). */
static void feed_statement(struct mysql_session *s, struct ms_conn *c, uint64_t took_us)
{
	struct feed_item it = {
		.mono_ms = failover_now_ms(),
		.session = s->h.id,
		.duration_us = took_us > UINT32_MAX ? UINT32_MAX : (uint32_t)took_us,
		.listener = (uint16_t)listener_index(s->h.l),
		.cluster = (uint16_t)s->h.cluster,
		.node = (uint16_t)c->node,
		.kind = (uint8_t)s->stat_kind,
		.reason = (uint8_t)s->dec.reason,
	};

	/* A long user name is cut: this is a glance for the dashboard. */
	size_t n = strnlen(s->user_name, sizeof(it.user) - 1);
	memcpy(it.user, s->user_name, n);
	it.user[n] = '\0';
	feed_push(s->h.env->feed, worker_id(s->h.w), &it);
}

/* Record what a successful session command changed. */
static void record_session_state(struct mysql_session *s, struct ms_conn *c)
{
	bool synced = c->version == s->hist.version;

	if (s->cmd == COM_INIT_DB || (s->kind == CMD_QUERY && s->cls.db[0])) {
		if (s->cmd == COM_INIT_DB)
			mysql_copy_str(s->db, sizeof(s->db), (const char *)s->saved + 1,
				       s->saved_len - 1);
		else
			snprintf(s->db, sizeof(s->db), "%s", s->cls.db);
		memcpy(c->db, s->db, sizeof(c->db));
		return;
	}
	if (!s->saved) {
		/* A session statement too long to keep. */
		router_pin(&s->rs, ROUTER_REASON_history_full);
		ms_count_reason(s, ROUTER_REASON_history_full);
		return;
	}
	if (!history_add(&s->hist, s->saved, s->saved_len)) {
		router_pin(&s->rs, ROUTER_REASON_history_full);
		ms_count_reason(s, ROUTER_REASON_history_full);
		return;
	}
	/* c ran it; if it had run everything before, it is up to date. */
	if (synced) {
		c->applied = s->hist.n;
		c->version = s->hist.version;
	}
}

/* What the statement just done leaves on its connection that the next
 * ones may ask for: the connection is kept from the pool (hold) for that
 * many commands. LAST_INSERT_ID() after an insert that generated an id
 * (for a few statements, as ProxySQL's auto_increment_delay_multiplex
 * does), and LASTVAL() after a sequence was used; SHOW WARNINGS after a
 * statement with warnings; FOUND_ROWS() after SQL_CALC_FOUND_ROWS; the
 * transaction that SET TRANSACTION is for. A hold lasts HOLD_MS at most
 * (the session timer ends it). */
static void hold_connection(struct mysql_session *s)
{
	unsigned flags = s->kind == CMD_QUERY ? s->cls.flags
			 : s->kind == CMD_STMT && s->cmd == COM_STMT_EXECUTE ? s->stmt->flags
									     : 0;
	uint8_t hold = 0;

	if (s->dec.reason == ROUTER_REASON_diagnostics)
		return; /* SHOW WARNINGS and the like leave the warnings as they were */
	if (s->hold)
		s->hold--;
	if ((s->resp.last_insert_id || (flags & CLASSIFY_SEQUENCE)) && !s->resp.error)
		hold = HOLD_AFTER_INSERT_ID;
	else if (s->resp.warnings ||
		 (flags & (CLASSIFY_FOUND_ROWS | CLASSIFY_CALC_FOUND_ROWS |
			   CLASSIFY_LAST_INSERT_ID | CLASSIFY_SET_TRANSACTION)))
		hold = 1;
	if (hold > s->hold) {
		s->hold = hold;
		if (!ms_arm_timer(s, HOLD_MS))
			log_warn(s->h.tag, "out of memory: a hold lasts its commands, not %d ms",
				 HOLD_MS);
	}
}

void ms_temp_tables_note(struct mysql_session *s, const uint8_t *sql, size_t len, bool truncated,
			 unsigned flags)
{
	bool create = (flags & CLASSIFY_TEMP_CREATE) != 0;
	uint64_t keys[TEMP_TABLES_MAX];
	size_t n = 0;

	if (!(flags & (CLASSIFY_TEMP_CREATE | CLASSIFY_TEMP_DROP)))
		return;
	if (!s->temps) {
		if (!create)
			return; /* nothing of ours to drop */
		s->temps = calloc(1, sizeof(*s->temps));
		if (!s->temps)
			return; /* then the pin lasts until the session is reset */
	}
	/* A prefix may end inside a name, which would then be another's:
	 * a truncated DROP takes nothing out, a truncated CREATE is lost. */
	if (sql && !truncated && !(flags & CLASSIFY_MULTI))
		n = classify_table_keys((const char *)sql, len,
					(s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0,
					s->db, keys, TEMP_TABLES_MAX);
	temp_tables_pending(s->temps, keys, n, create);
}

/* The command noted by ms_temp_tables_note() is done (ok: it succeeded):
 * when its DROP took the session's last temporary table, the pin ends. */
static void temp_tables_learn(struct mysql_session *s, unsigned flags, bool ok)
{
	if (!s->temps || !(flags & (CLASSIFY_TEMP_CREATE | CLASSIFY_TEMP_DROP)))
		return;
	if (ok) {
		if (!temp_tables_done(s->temps, (flags & CLASSIFY_TEMP_CREATE) != 0))
			return;
		router_unpin(&s->rs, ROUTER_REASON_temporary_table);
	} else {
		temp_tables_forget_pending(s->temps);
		if (s->temps->n || s->temps->lost)
			return;
	}
	free(s->temps);
	s->temps = NULL;
}

static void command_done(struct mysql_session *s)
{
	struct ms_conn *c = s->cur;
	bool ok = !s->resp.error;
	const struct cluster_view *v = ms_cluster_view(s);

	if (s->resp.status_valid) {
		s->status = s->resp.status;
		router_status(&s->rs, s->status);
		s->trx = s->rs.in_trx ? c : NULL;
	}
	if (s->status & SERVER_STATUS_IN_TRANS)
		s->stat_kind = STAT_TRANSACTION; /* BEGIN, or a statement that opened one */
	uint64_t took = loop_us() - s->cmd_start_us;
	stats_observe(ms_conn_stats(c), s->stat_kind, took);
	if (feed_wanted(s->h.env->feed))
		feed_statement(s, c, took);
	if (!ok) {
		ms_conn_stats(c)->errors++;
		/* Galera's "WSREP has not yet prepared node for application use":
		 * the node left the primary component; check it now. */
		if (s->resp.err.code == ER_UNKNOWN_COM_ERROR)
			health_suspect(s->h.env->health, s->h.cluster, (size_t)c->node);
	}
	switch (s->kind) {
	case CMD_QUERY:
		if (ok && s->cls.kind == CLASSIFY_SESSION && !(s->cls.flags & CLASSIFY_MULTI))
			record_session_state(s, c);
		else if (s->cls.kind == CLASSIFY_SESSION && (s->cls.flags & CLASSIFY_MULTI))
			/* Several session statements: the node ran some or all;
			 * rather than replay a guess, stay on it. */
			router_pin(&s->rs, ROUTER_REASON_multi_statement);
		ms_count_reason(s, router_after(&s->rs, &s->cls, ok));
		temp_tables_learn(s, s->cls.flags, ok);
		break;
	case CMD_SESSION:
		if (ok)
			record_session_state(s, c);
		break;
	case CMD_RESET:
		if (ok) {
			pool_stmts_clear(c->pstmts); /* the node closed them */
			ms_forget_session_state(s, c);
		}
		break;
	case CMD_STMT:
		if (s->cmd == COM_STMT_EXECUTE && s->stmt->session) {
			/* Its state lives on this connection only: the history
			 * has no text to replay it elsewhere. */
			router_pin(&s->rs, ROUTER_REASON_prepared_set);
			ms_count_reason(s, ROUTER_REASON_prepared_set);
		} else if (s->cmd == COM_STMT_EXECUTE) {
			/* What its text does pins as it does in a COM_QUERY:
			 * temporary tables, locks, variables, CALL. */
			struct classify_result as = {.kind = CLASSIFY_WRITE,
						     .flags = s->stmt->flags};
			ms_count_reason(s, router_after(&s->rs, &as, ok));
			temp_tables_learn(s, s->stmt->flags, ok);
		}
		if (s->cmd == COM_STMT_EXECUTE && s->resp.cursor)
			stmt_set_cursor(&s->stmts, s->stmt, c->node);
		if (s->cmd == COM_STMT_RESET)
			stmt_set_cursor(&s->stmts, s->stmt, -1);
		break;
	default:
		break;
	}
	/* A statement on the writer that may have written (even when it
	 * failed: a multi-statement may have committed some): later reads go
	 * only where that is applied (causal_reads session). Reads, session
	 * statements, prepares and the other commands write nothing; a read
	 * that ran on the writer (primary_reads, or no reader had caught up)
	 * must not count, or it would keep the session's reads there.
	 * Readers only ever run reads, also in a READ ONLY transaction. After
	 * a failover, the first write on the new writer ends the event. */
	if ((!v || c->node == v->writer) && may_have_written(s)) {
		s->write_ms = failover_now_ms();
		if (ok && v)
			failover_first_write(v->failover, ms_node_name(s, c->node));
	}
	hold_connection(s);
	free(s->saved);
	s->saved = NULL;
	s->saved_len = 0;
	s->last = c;
	ms_conn_set_state(c, CONN_IDLE);
	atomic_store_explicit(&s->ctl.busy_node, -1, memory_order_relaxed);
	ms_set_state(s, MS_READY);
}

/* The first packet of a COM_STMT_PREPARE answer: a PREPARE_OK gets
 * sluice's statement id in place of the node's. p is the packet's payload
 * in the buffer (need >= 9 bytes of it are there). */
static void on_prepare_ok(struct mysql_session *s, uint8_t *p, size_t need)
{
	struct stmt *st;
	uint32_t node_id;
	struct mysql_reader r;

	s->prep_pending = false;
	if (need < 9 || p[0] != MYSQL_OK_MARKER)
		return;
	/* PREPARE_OK: 0x00, statement id, columns, parameters. */
	mysql_reader_init(&r, p + 1, 8);
	node_id = mysql_read_u32(&r);
	uint16_t columns = mysql_read_u16(&r);
	uint16_t params = mysql_read_u16(&r);
	bool reader_ok = s->cls.kind == CLASSIFY_READ &&
			 router_route(&(struct router_state){.autocommit = true}, &s->cls).target ==
				 ROUTER_READER;
	st = stmt_add(&s->stmts, s->saved_len <= STMT_SQL_MAX ? s->saved : NULL, s->saved_len,
		      s->cur->node, node_id, params, columns, reader_ok);
	if (!st) {
		/* Without a table entry the client's id would name nothing. */
		log_error(s->h.tag, "out of memory recording a prepared statement");
		return;
	}
	st->session = s->cls.kind == CLASSIFY_SESSION;
	st->may_commit = s->cls.may_commit;
	st->flags = s->cls.flags;
	mysql_store_u32(p + 1, st->id);
	if (st->sql)
		ms_conn_stmt_prepared(s->cur, st->sql, st->sql_len, node_id);
}

/* The response to a read is Galera's "WSREP has not yet prepared node for
 * application use" (1047: the node left the primary component) and nothing
 * has reached the client: drop the error, have the monitor check the node
 * now, and send the read to the next reader. len is the error packet's
 * payload length, still in the node's input. True when retried. */
static bool not_ready_retry(struct mysql_session *s, uint32_t len)
{
	struct ms_conn *c = s->cur;

	if (!s->resp.error || s->resp.err.code != ER_UNKNOWN_COM_ERROR || !ms_read_retryable(s))
		return false;
	evbuffer_drain(backend_input(c->be), MYSQL_HEADER_LEN + len);
	ms_conn_stats(c)->errors++;
	health_suspect(s->h.env->health, s->h.cluster, (size_t)c->node);
	log_info(s->h.tag, "node %s is not ready (%u %s); retrying the read on another node",
		 ms_node_name(s, c->node), s->resp.err.code, s->resp.err.message);
	ms_conn_set_state(c, CONN_IDLE);
	ms_resend_read(s);
	return true;
}

/* Move the run of whole packets checked in place (*run bytes at the head
 * of in) to the client, in one evbuffer move. */
static void move_run(struct evbuffer *in, struct evbuffer *out, size_t *run)
{
	if (*run)
		evbuffer_remove_buffer(in, out, *run);
	*run = 0;
}

/* Stream the backend's response to the client, following it packet by
 * packet until the tracker says it is complete.
 *
 * A packet that lies whole in the first chunk of the node's input (the
 * common case: a chunk is what one receive brought) is checked where it is
 * and joins a run, which moves to the client in one piece: a result of 100
 * rows is one move, not 200. Rows are walked at once (mysql_resp_rows),
 * not stepped one by one. A packet split across chunks, and the tail of
 * a large one, go the long way: header, then payload as it arrives. Before
 * anything that is not a plain move (an error to the client, a drained
 * retry, a state change, the end of the command), the run is moved, so the
 * client sees the packets in order and nothing of the next step. */
void ms_process_backend(struct mysql_session *s)
{
	struct evbuffer *in, *out = ms_cout(s);
	struct node_stats *ns;
	struct evbuffer_iovec head = {0}; /* in's first chunk, while run > 0 */
	size_t run = 0;
	size_t queued; /* what the client has queued, run aside: read again after a move */

	if (!s->cur || !s->cur->be || !backend_ready(s->cur->be))
		return;
	ns = ms_node_stats(s);
	in = backend_input(s->cur->be);
	queued = ms_client_pending(s);
	while (s->state == MS_COMMAND || s->state == MS_INFILE) {
		if (run + queued >= s->h.bound) {
			backend_set_reading(s->cur->be, false);
			break;
		}
		if (s->b_left) {
			size_t before = evbuffer_get_length(in);
			bool done = ms_copy_rest(in, out, &s->b_left);
			ns->bytes_in += before - evbuffer_get_length(in);
			queued = ms_client_pending(s);
			if (!done)
				break;
		}
		if (s->resp_done && !s->b_cont) {
			/* The last packet is through: the command is done. The
			 * run may be all of in, and then in and ms_cout swap
			 * (both pointers are stale after). */
			if (run)
				ms_move_to_client(s, run);
			s->resp_done = false;
			command_done(s);
			ms_process_client(s);
			return;
		}
		struct resp_step st;
		if (run == 0 && evbuffer_peek(in, -1, NULL, &head, 1) < 1)
			head.iov_len = 0;
		if (s->resp.state == RESP_ROWS && head.iov_len > run && !s->b_cont &&
		    !s->c_streaming) {
			/* Rows join the run in one walk, up to the client's bound;
			 * the packet that ends them takes the step below. */
			size_t span = head.iov_len - run;
			size_t room = run + queued < s->h.bound ? s->h.bound - (run + queued) : 0;
			size_t rows = mysql_resp_rows(&s->resp, (uint8_t *)head.iov_base + run,
						      span < room ? span : room, &s->next_seq);
			run += rows;
			ns->bytes_in += rows;
			s->answered |= rows > 0;
			if (run + queued >= s->h.bound)
				continue; /* the loop's first test stops there */
		}
		bool whole = head.iov_len > run &&
			     resp_next_whole(&s->resp, s->b_cont, (uint8_t *)head.iov_base + run,
					     head.iov_len - run, &st);
		if (!whole) {
			move_run(in, out, &run);
			if (!ms_resp_next(&s->resp, &s->b_cont, in, &st))
				break;
		}
		/* While the client is still sending (a node may refuse a
		 * command before reading all of it), the count is its. */
		if (st.seq != s->next_seq && !s->c_streaming) {
			log_warn(s->h.tag,
				 "node %s sent sequence id %u, expected %u; closing the session",
				 ms_node_name(s, s->cur->node), st.seq, s->next_seq);
			move_run(in, out, &run);
			ms_fail(s, CLOSE_REASON_node_error, s->next_seq,
				ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
				"sluice: the node sent packets out of order");
			return;
		}
		if (st.p && s->prep_pending && st.ev != RESP_EV_BAD)
			on_prepare_ok(s, st.p, st.need);
		if (st.ev == RESP_EV_DONE && s->resp.error &&
		    s->resp.err.code == ER_QUERY_INTERRUPTED && ms_being_killed(s)) {
			/* Our statement was interrupted by a KILL CONNECTION of
			 * this session: the client sees its connection end. */
			ms_close(s, CLOSE_REASON_killed, "killed by KILL CONNECTION");
			return;
		}
		if (st.ev == RESP_EV_DONE && s->resp.error) {
			move_run(in, out, &run); /* the error is at in's head now */
			if (not_ready_retry(s, st.len))
				return;
			queued = ms_client_pending(s);
		}
		if (st.ev == RESP_EV_BAD) {
			log_warn(s->h.tag,
				 "node %s sent a response sluice cannot follow (state %s); "
				 "closing the session",
				 ms_node_name(s, s->cur->node),
				 mysql_resp_state_str(s->resp.state));
			move_run(in, out, &run);
			ms_fail(s, CLOSE_REASON_node_error, st.seq, ER_NET_READ_ERROR, "08S01",
				"sluice: malformed response from the node");
			return;
		}
		s->answered = true;
		s->next_seq = (uint8_t)(st.seq + 1);
		if (whole) {
			run += MYSQL_HEADER_LEN + st.len;
			ns->bytes_in += MYSQL_HEADER_LEN + st.len;
		} else {
			evbuffer_remove_buffer(in, out, MYSQL_HEADER_LEN);
			s->b_left = st.len;
			ms_copy_rest(in, out, &s->b_left);
			ns->bytes_in += MYSQL_HEADER_LEN + (st.len - s->b_left);
			queued = ms_client_pending(s); /* a run moved before, too */
		}
		if (st.ev == RESP_EV_INFILE) {
			move_run(in, out, &run);
			ms_set_state(s, MS_INFILE);
			s->c_left = 0;
			s->c_pkt = false;
			s->c_cont = false;
			ms_process_client(s);
			return;
		}
		if (st.ev == RESP_EV_DONE)
			s->resp_done = true; /* complete once this packet is through */
	}
	move_run(in, out, &run);
}
