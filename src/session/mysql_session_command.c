/*
 * A mode: mysql session's command path: take the client's next command,
 * inspect and route it, then forward it to its connection (statement ids
 * rewritten for the node), streaming whatever is too big to hold.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "monitor/opstate.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/pipe.h"
#include "session/mysql_session_int.h"

static bool backend_output_full(struct mysql_session *s)
{
	return s->cur && backend_pending(s->cur->be) >= s->h.bound;
}

/* Move what is here of the current packet's rest (s->c_left bytes) to the
 * current connection. ms_move_to_node may swap the buffers: *in and *out
 * are fetched again. */
static void forward_rest(struct mysql_session *s, struct evbuffer **in, struct evbuffer **out)
{
	size_t have = evbuffer_get_length(*in);
	size_t n = ms_move_to_node(s, s->cur, have < s->c_left ? have : s->c_left);

	s->c_left -= (uint32_t)n;
	ms_node_stats(s)->bytes_out += n;
	*in = ms_cin(s);
	*out = backend_output(s->cur->be);
}

/* Stream client packets to the current connection until the command (or
 * the LOCAL INFILE packet) is complete, the client has nothing more, or the
 * backend's output is full. A dropped command (c_discard) is read and
 * thrown away instead. Every packet's sequence id is checked (a wrong one
 * closes the session). Returns true when the command (or INFILE packet) is
 * completely through. */
bool ms_stream_client_packets(struct mysql_session *s)
{
	struct evbuffer *in = ms_cin(s);
	struct evbuffer *out = s->c_discard || !s->cur ? NULL : backend_output(s->cur->be);

	for (;;) {
		if (out && backend_output_full(s)) {
			pipe_set_reading(s->h.client, false);
			return false;
		}
		if (s->c_left && out) {
			forward_rest(s, &in, &out);
			if (s->c_left)
				return false;
		} else if (s->c_left && !ms_copy_rest(in, NULL, &s->c_left)) {
			return false;
		}
		if (s->c_pkt && !s->c_cont) {
			/* The last packet (maybe an empty one after a 16 MiB - 1
			 * packet) is through. */
			s->c_pkt = false;
			s->c_discard = false;
			return true;
		}
		uint8_t h[MYSQL_HEADER_LEN];
		if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			return false;
		if (h[3] != s->next_seq) {
			if (!s->compress) {
				ms_out_of_order(s, h[3], s->next_seq);
				return false;
			}
			/* Compressed, only the frames count reliably: clients
			 * number the packets inside their own way (Connector/C
			 * restarts at 0 in a 16 MiB packet's continuation) and
			 * MariaDB checks frames only. The node, which reads
			 * plain packets, gets the numbering it checks. */
			h[3] = s->next_seq;
		}
		s->next_seq++;
		uint32_t len = mysql_header_len(h);
		bool was_cont = s->c_cont;
		s->c_cont = len == MYSQL_MAX_PAYLOAD;
		s->c_pkt = true;
		if (out && !s->compress) {
			/* The header goes on as it came, with its payload: a packet
			 * that is here whole leaves in one move. */
			s->c_left = MYSQL_HEADER_LEN + len;
			forward_rest(s, &in, &out);
		} else {
			s->c_left = len;
			evbuffer_drain(in, sizeof(h));
			if (out) {
				evbuffer_add(out, h, sizeof(h));
				ms_node_stats(s)->bytes_out += sizeof(h);
			}
		}
		if (s->state == MS_INFILE && !was_cont && len == 0) {
			/* The empty packet that ends the file. */
			s->c_pkt = false;
			mysql_resp_infile_done(&s->resp);
			ms_set_state(s, MS_COMMAND);
			return true;
		}
	}
}

/* The pending command cannot run: answer it with an ERR (when it expects
 * an answer), drop its bytes as they arrive, and take the next one. */
void ms_drop_command(struct mysql_session *s, uint16_t code, const char *sqlstate, const char *fmt,
		     ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info(s->h.tag, "command 0x%02x failed: %s", s->cmd, msg);
	if (mysql_resp_expected(s->cmd))
		ms_send_err(s, (uint8_t)(s->cmd_seq + 1), code, sqlstate, "%s", msg);
	s->target = NULL;
	if (s->resend) {
		/* A read being sent again: the client's bytes of it were taken
		 * long ago, and what waits in ms_cin is its next command. */
		s->resend = false;
		ms_set_state(s, MS_READY);
		return;
	}
	s->c_left = 0;
	s->c_pkt = false;
	s->c_cont = false;
	s->c_discard = true;
	s->next_seq = s->cmd_seq;
	ms_set_state(s, MS_READY);
	s->c_streaming = !ms_stream_client_packets(s);
}

/* Whether c's node has the parameter types of the session's statement
 * bound. A statement prepared on the connection may be shared, by other
 * sessions or by two statements of one with the same text: the connection
 * knows which types were sent for it last. */
static bool node_has_types(struct mysql_session *s, struct ms_conn *c, struct pool_stmt *e)
{
	if (!e)
		return stmt_node_types(&s->stmts, s->stmt, c->node);
	return s->stmt->types &&
	       pool_stmt_has_types(e, s->stmt->types, 2 * (size_t)s->stmt->params);
}

/* Send the COM_STMT_EXECUTE payload p (cmd_len bytes, naming sluice's
 * statement id) to c, written for c's node: its statement id, and the
 * parameter types when that node has not had them. from: the buffer whose
 * head is that packet (p points into it), which is then consumed; NULL when
 * p is a copy. A packet that needs only its id changed (the usual case) is
 * patched where it lies and moved on whole. False for a malformed packet
 * (or no memory); nothing is sent or consumed then. */
static bool send_execute(struct mysql_session *s, struct ms_conn *c, uint8_t *p,
			 struct evbuffer *from)
{
	uint32_t node_id = stmt_node_id(&s->stmts, s->stmt, c->node);
	struct pool_stmt *e = pool_stmts_get(c->pstmts, node_id);
	bool with_types = !node_has_types(s, c, e);
	struct evbuffer *out = backend_output(c->be);
	enum stmt_exec_form form = stmt_execute_form(s->stmt, p, s->cmd_len, with_types);
	bool carries = form == STMT_EXEC_ADD_TYPES || stmt_execute_binds(s->stmt, p, s->cmd_len);
	struct mysql_writer w;
	bool ok;

	if (form == STMT_EXEC_BAD || !stmt_capture_types(s->stmt, p, s->cmd_len))
		return false;
	if (form == STMT_EXEC_ID_ONLY && from) {
		/* from is ms_cin, stale after the move. */
		mysql_store_u32(p + 1, node_id);
		ms_move_to_node(s, c, MYSQL_HEADER_LEN + s->cmd_len);
		ms_conn_stats(c)->bytes_out += MYSQL_HEADER_LEN + s->cmd_len;
	} else {
		mysql_writer_init(&w);
		ok = stmt_write_execute(s->stmt, p, s->cmd_len, node_id, with_types, &w,
					s->cmd_seq) &&
		     w.ok;
		if (ok) {
			evbuffer_add(out, w.data, w.len);
			ms_conn_stats(c)->bytes_out += w.len;
		}
		mysql_writer_deinit(&w);
		if (!ok)
			return false;
		if (from)
			evbuffer_drain(from, MYSQL_HEADER_LEN + s->cmd_len);
	}
	if (s->stmt->types)
		stmt_set_node_types(&s->stmts, s->stmt, c->node);
	if (e && carries)
		pool_stmt_set_types(e, s->stmt->types, 2 * (size_t)s->stmt->params);
	return true;
}

/* Send the pending command to s->target, which is caught up. Small
 * statement commands are rewritten whole (their id, and for an execute the
 * parameter types a new node needs); anything else streams. */
void ms_forward_command(struct mysql_session *s)
{
	struct ms_conn *c = s->target;
	struct evbuffer *in = ms_cin(s);
	bool expects = mysql_resp_expected(s->cmd);
	bool rewritten = false;

	s->cur = c;
	s->target = NULL;
	s->answered = false;
	if (!s->resend) {
		s->commands++;
		s->cmd_start_us = loop_us();
		s->stat_kind = s->trx || (s->status & SERVER_STATUS_IN_TRANS) ? STAT_TRANSACTION
			       : s->dec.target == ROUTER_READER		      ? STAT_READ
			       : s->kind == CMD_QUERY && s->cls.kind == CLASSIFY_READ ? STAT_READ
										      : STAT_WRITE;
	}
	ms_conn_stats(c)->statements++;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug(s->h.tag, "command 0x%02x (%u bytes) -> node %s (%s%s%s)", s->cmd,
			  s->cmd_len, ms_node_name(s, c->node), router_target_str(s->dec.target),
			  s->dec.reason ? ", " : "",
			  s->dec.reason ? router_reason_str(s->dec.reason) : "");
	if (s->resend) {
		/* A read that lost its reader before any answer: again, here (an
		 * execute is written anew for this node's statement). */
		rewritten = true;
		if (s->kind != CMD_STMT) {
			evbuffer_add(backend_output(c->be), s->retry, s->retry_len);
			ms_node_stats(s)->bytes_out += s->retry_len;
		} else if (!send_execute(s, c, s->retry + MYSQL_HEADER_LEN, NULL)) {
			s->cur = NULL; /* ms_drop_command sees resend: nothing to discard */
			ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
					"sluice: out of memory");
			return;
		}
		s->resend = false;
	} else if (s->kind == CMD_STMT) {
		uint32_t node_id = stmt_node_id(&s->stmts, s->stmt, c->node);
		if (s->cmd == COM_STMT_EXECUTE && s->cmd_len <= SMALL_PACKET_MAX) {
			uint8_t *p =
				evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + s->cmd_len)) +
				MYSQL_HEADER_LEN;
			if (!send_execute(s, c, p, in)) {
				s->cur = NULL;
				ms_drop_command(s, ER_MALFORMED_PACKET, "HY000",
						"Malformed COM_STMT_EXECUTE packet");
				return;
			}
			rewritten = true;
		} else {
			/* Same length: patch the id where it lies. An execute
			 * this large may bind types sluice does not look at. */
			uint8_t *p = evbuffer_pullup(in, MYSQL_HEADER_LEN + 5) + MYSQL_HEADER_LEN;
			struct pool_stmt *e = s->cmd == COM_STMT_EXECUTE
						      ? pool_stmts_get(c->pstmts, node_id)
						      : NULL;
			mysql_store_u32(p + 1, node_id);
			if (e)
				pool_stmt_set_types(e, NULL, 0);
		}
		if (s->cmd == COM_STMT_SEND_LONG_DATA)
			stmt_set_long_data(&s->stmts, s->stmt, c->node);
		if (s->cmd == COM_STMT_EXECUTE || s->cmd == COM_STMT_RESET)
			stmt_set_long_data(&s->stmts, s->stmt, -1);
	}
	mysql_resp_start(&s->resp, s->cmd);
	s->resp_done = false;
	s->b_left = 0;
	s->b_cont = false;
	/* A rewritten command went as one packet; a streamed one is counted
	 * as it goes. */
	s->next_seq = rewritten ? (uint8_t)(s->cmd_seq + 1) : s->cmd_seq;
	s->prep_pending = s->kind == CMD_PREPARE;
	if (expects)
		ms_conn_set_state(c, CONN_BUSY);
	atomic_store_explicit(&s->ctl.busy_node, expects ? c->node : -1, memory_order_relaxed);
	ms_set_state(s, expects ? MS_COMMAND : MS_READY);
	s->c_left = 0;
	s->c_pkt = false;
	s->c_cont = false;
	s->c_discard = false;
	s->c_streaming = rewritten ? false : !ms_stream_client_packets(s);
}

/* Keep a copy of the first n payload bytes of the pending command (session
 * commands are recorded, statement texts prepared elsewhere). */
static bool save_payload(struct mysql_session *s, const uint8_t *p, size_t n)
{
	free(s->saved);
	s->saved = malloc(n ? n : 1);
	s->saved_len = 0;
	if (!s->saved)
		return false;
	memcpy(s->saved, p, n);
	s->saved_len = n;
	return true;
}

/* Classify a COM_QUERY / COM_STMT_PREPARE text (payload p of len bytes,
 * of which `have` are in memory). */
static void classify_text(struct mysql_session *s, const uint8_t *p, uint32_t len, size_t have)
{
	classify((const char *)p + 1, have - 1, have < len,
		 (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, &s->cls);
}

/* Keep a copy of a read's packet (header and payload p of len bytes), so it
 * can be sent to another reader if this one dies before answering. */
static void keep_for_retry(struct mysql_session *s, const uint8_t *p, uint32_t len)
{
	size_t n = MYSQL_HEADER_LEN + (size_t)len;

	if (n > s->retry_cap) {
		uint8_t *grown = realloc(s->retry, n);
		if (!grown)
			return; /* then it is simply not retried */
		s->retry = grown;
		s->retry_cap = n;
	}
	memcpy(s->retry, p - MYSQL_HEADER_LEN, n);
	s->retry_len = n;
}

/* Decide where a statement command goes: COM_STMT_EXECUTE and friends
 * follow their statement. False when the command was answered with an
 * error instead (ms_drop_command). */
static bool route_stmt(struct mysql_session *s)
{
	struct stmt *st = s->stmt;
	struct classify_result as = {.kind = st->reader_ok ? CLASSIFY_READ : CLASSIFY_WRITE};

	if (s->cmd == COM_STMT_EXECUTE && st->long_data_lost >= 0) {
		/* Its parameters' data died with a node: running without them
		 * would store something else. */
		int node = st->long_data_lost;
		st->long_data_lost = -1;
		ms_drop_command(s, ER_NET_READ_ERROR, "08S01",
				"sluice: node %s, which held this statement's long data "
				"(COM_STMT_SEND_LONG_DATA), was lost; send the data again",
				ms_node_name(s, node));
		return false;
	}
	if (s->cmd == COM_STMT_RESET)
		st->long_data_lost = -1;
	if (s->cmd == COM_STMT_EXECUTE)
		ms_temp_tables_note(s, st->sql, st->sql_len, false, st->flags);
	if ((s->cmd == COM_STMT_SEND_LONG_DATA || s->cmd == COM_STMT_EXECUTE ||
	     s->cmd == COM_STMT_RESET) &&
	    st->long_data >= 0) {
		/* Long data waits on one node; execute there. */
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
		s->target = &s->conns[st->long_data];
		return true;
	}
	if (s->cmd == COM_STMT_FETCH || s->cmd == COM_STMT_RESET) {
		int node = st->cursor >= 0 ? st->cursor : st->home;
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
		s->target = &s->conns[node];
		return true;
	}
	if (!st->sql) {
		/* Too long to prepare elsewhere: it runs where it was prepared. */
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_too_long};
		s->target = &s->conns[st->home];
		return true;
	}
	s->dec = router_route(&s->rs, &as);
	/* A cursor stays open on its node for COM_STMT_FETCH: keep cursors
	 * on the writer, where the session's state lives. */
	if (s->cmd == COM_STMT_EXECUTE && s->dec.target == ROUTER_READER &&
	    (s->cmd_len > 5 &&
	     stmt_execute_flags(evbuffer_pullup(ms_cin(s), MYSQL_HEADER_LEN + 6) + MYSQL_HEADER_LEN,
				6) != 0))
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
	s->target = ms_decision_conn(s);
	return true;
}

/* Nodes the operator put in maintenance are out now: close this session's
 * connections to them before the next command; a transaction open there is
 * ended (the node rolls it back) and reported as lost. Drained nodes keep
 * serving what runs there until it ends. */
static void leave_maintenance(struct mysql_session *s)
{
	const struct cluster_view *v = ms_cluster_view(s);

	if (!v || !v->maintenance)
		return;
	for (size_t i = 0; s->conns && i < s->n_conns; i++) {
		struct ms_conn *c = &s->conns[i];
		if (c->state == CONN_NONE || v->nodes[i].admin != NODE_ADMIN_MAINTENANCE)
			continue;
		log_info(s->h.tag, "node %s is in maintenance: closing the connection to it",
			 ms_node_name(s, c->node));
		if (c == s->trx) {
			s->trx_lost = c->node;
			s->rs.in_trx = false;
		}
		ms_conn_drop(c);
	}
}

/* READY: take the next command from the client. */
void ms_next_command(struct mysql_session *s)
{
	struct evbuffer *in = ms_cin(s);
	size_t got = evbuffer_get_length(in), have;

	if (got < MYSQL_HEADER_LEN)
		return;
	if (got > MYSQL_HEADER_LEN + 1)
		got = MYSQL_HEADER_LEN + 1;
	/* The header and command byte, in place (the first chunk holds them
	 * but for a command that arrived in pieces). */
	const uint8_t *h = evbuffer_pullup(in, (ev_ssize_t)got);
	if (!h) {
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	uint32_t len = mysql_header_len(h);
	uint8_t seq = h[3];

	if (seq != 0) {
		/* A command starts a new sequence (compressed: see
		 * ms_stream_client_packets). */
		if (!s->compress) {
			ms_out_of_order(s, seq, 0);
			return;
		}
		seq = 0;
	}
	if (len == 0) {
		/* As MariaDB does (it reads an empty packet as COM_SLEEP): no
		 * command it knows, answered, and the session goes on. */
		evbuffer_drain(in, MYSQL_HEADER_LEN);
		ms_send_err(s, (uint8_t)(seq + 1), ER_UNKNOWN_COM_ERROR, "08S01",
			    "Unknown command");
		return;
	}
	if (got < MYSQL_HEADER_LEN + 1)
		return; /* the command byte has not arrived yet */
	uint8_t cmd = h[4];
	if (atomic_load_explicit(&s->ctl.kill, memory_order_acquire) == REGISTRY_KILL_CONFIRMED) {
		/* As a server does: the killed connection is simply gone. */
		ms_close(s, CLOSE_REASON_killed, "killed by KILL CONNECTION");
		return;
	}
	/* Wait for the part sluice inspects: all of a small command, the
	 * first SMALL_PACKET_MAX bytes of a long statement. */
	have = len;
	if (have > SMALL_PACKET_MAX)
		have = SMALL_PACKET_MAX;
	if (have > s->h.bound / 2)
		have = s->h.bound / 2;
	if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + have)
		return;
	if (!ms_slots(s)) {
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	leave_maintenance(s);
	const uint8_t *p =
		evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + have)) + MYSQL_HEADER_LEN;

	s->cmd = cmd;
	s->cmd_seq = seq;
	s->cmd_len = len;
	s->kind = CMD_PLAIN;
	s->stmt = NULL;
	s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
	memset(&s->cls, 0, sizeof(s->cls));
	s->cls.kind = CLASSIFY_UNKNOWN;

	switch (cmd) {
	case COM_QUIT:
		/* What the next statements might have asked for no longer
		 * matters: give back what only that held. */
		s->hold = 0;
		ms_give_back(s);
		ms_close(s, CLOSE_REASON_client_quit, "client quit");
		return;
	case COM_CHANGE_USER:
		if (len > SMALL_PACKET_MAX) {
			ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1),
				ER_MALFORMED_PACKET, "HY000", "Malformed COM_CHANGE_USER packet");
			return;
		}
		ms_start_change_user(s, p, len, seq);
		return;
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
	case COM_REGISTER_SLAVE:
	case COM_TABLE_DUMP:
	case COM_CONNECT_OUT:
	case COM_DAEMON:
		ms_drop_command(s, ER_NOT_SUPPORTED_YET, "42000",
				"sluice does not relay replication commands; connect to a node "
				"directly");
		return;
	case COM_PROCESS_KILL:
		if (len <= SMALL_PACKET_MAX && ms_handle_kill(s, p, len, seq))
			return;
		break;
	case COM_QUERY:
		if (len <= SMALL_PACKET_MAX && ms_handle_kill(s, p, len, seq))
			return;
		classify_text(s, p, len, have);
		s->kind = CMD_QUERY;
		ms_temp_tables_note(s, p + 1, have - 1, have < len, s->cls.flags);
		if (s->cls.kind == CLASSIFY_SESSION && !(s->cls.flags & CLASSIFY_MULTI) &&
		    len <= SMALL_PACKET_MAX && !save_payload(s, p, len)) {
			ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
					"sluice: out of memory");
			return;
		}
		break;
	case COM_STMT_PREPARE:
		classify_text(s, p, len, have);
		s->kind = CMD_PREPARE;
		if (!save_payload(s, p + 1, have - 1)) {
			ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
					"sluice: out of memory");
			return;
		}
		if (have < len)
			s->saved_len = STMT_SQL_MAX + 1; /* too long to keep */
		break;
	case COM_STMT_EXECUTE:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
	case COM_STMT_FETCH: {
		uint32_t id;
		if (!stmt_payload_id(p, have, &id)) {
			ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1),
				ER_MALFORMED_PACKET, "HY000",
				"Malformed prepared statement command");
			return;
		}
		s->stmt = stmt_find(&s->stmts, id);
		if (cmd == COM_STMT_CLOSE) {
			/* No answer. A statement stays prepared on the
			 * connections that have it, for whichever session
			 * prepares the same text there next (pool.h), unless
			 * it holds state there (long data, a cursor) or was too
			 * long to remember: then it is closed on that node. */
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			if (s->stmt) {
				for (size_t i = 0; s->conns && i < s->n_conns; i++) {
					struct ms_conn *c = &s->conns[i];
					uint32_t nid = stmt_node_id(&s->stmts, s->stmt, (int)i);
					if (!nid || c->state != CONN_IDLE)
						continue;
					if (!s->stmt->sql || s->stmt->long_data == (int)i ||
					    s->stmt->cursor == (int)i)
						ms_conn_close_stmt(c, nid);
				}
				stmt_remove(&s->stmts, id);
			}
			s->commands++;
			return;
		}
		if (!s->stmt) {
			char name[32];
			snprintf(name, sizeof(name), "%s",
				 cmd == COM_STMT_EXECUTE ? "mysqld_stmt_execute"
				 : cmd == COM_STMT_FETCH ? "mysqld_stmt_fetch"
				 : cmd == COM_STMT_RESET ? "mysqld_stmt_reset"
							 : "mysqld_stmt_send_long_data");
			ms_drop_command(s, ER_UNKNOWN_STMT_HANDLER, "HY000",
					"Unknown prepared statement handler (%u) given to %s", id,
					name);
			return;
		}
		s->kind = CMD_STMT;
		break;
	}
	case COM_INIT_DB:
	case COM_SET_OPTION:
		s->kind = CMD_SESSION;
		if (len > SMALL_PACKET_MAX || !save_payload(s, p, len)) {
			ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
					"sluice: out of memory");
			return;
		}
		break;
	case COM_RESET_CONNECTION:
		s->kind = CMD_RESET;
		break;
	}

	/* A transaction that died with its node: say so once, before anything
	 * else runs as if it were still open. */
	if (s->trx_lost >= 0) {
		int node = s->trx_lost;
		s->trx_lost = -1;
		if (s->kind == CMD_QUERY && s->cls.kind == CLASSIFY_ROLLBACK) {
			struct mysql_ok ok = {0, 0, s->status, 0};
			struct mysql_writer w;
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			mysql_writer_init(&w);
			mysql_write_ok(&w, (uint8_t)(seq + 1), &ok);
			ms_send_writer(s, &w);
			return;
		}
		ms_drop_command(
			s, ER_LOCK_DEADLOCK, "40001",
			"sluice: node %s, which held this session's transaction, was lost; the "
			"transaction was rolled back",
			ms_node_name(s, node));
		return;
	}

	s->retry_len = 0;
	switch (s->kind) {
	case CMD_QUERY:
	case CMD_PREPARE:
		s->dec = router_route(&s->rs, &s->cls);
		if (s->kind == CMD_QUERY)
			ms_count_reason(s, s->dec.reason);
		if (s->kind == CMD_QUERY && s->dec.target == ROUTER_READER &&
		    s->cls.kind == CLASSIFY_READ && len <= SMALL_PACKET_MAX)
			keep_for_retry(s, p, len);
		s->target = ms_decision_conn(s);
		break;
	case CMD_STMT:
		if (!route_stmt(s))
			return;
		if (cmd == COM_STMT_EXECUTE && s->dec.target == ROUTER_READER &&
		    len <= SMALL_PACKET_MAX)
			keep_for_retry(s, p, len);
		break;
	default:
		/* Session commands, reset, ping and the rest: the writer, or the
		 * open transaction's node. */
		s->dec = (struct router_decision){s->trx ? ROUTER_TRX : ROUTER_WRITER,
						  ROUTER_REASON_none};
		s->target = ms_decision_conn(s);
		break;
	}
	ms_set_state(s, MS_ROUTING);
	if (!s->target) {
		ms_wait_for_writer(s, -1, "no node can take writes");
		return;
	}
	ms_route_continue(s);
}
