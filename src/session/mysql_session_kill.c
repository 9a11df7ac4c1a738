/*
 * KILL from a mode: mysql session: find the target session in the registry
 * and run KILL QUERY on the node running its statement, through this
 * session's own connection there; and being the target of one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "session/mysql_session_int.h"

/* Copy msg to out with the decimal number `from` replaced by `to`. */
static void rename_thread(const char *msg, uint32_t from, uint32_t to, char *out, size_t cap)
{
	char needle[16];
	const char *at;

	snprintf(needle, sizeof(needle), "%u", from);
	at = strstr(msg, needle);
	if (!at) {
		snprintf(out, cap, "%s", msg);
		return;
	}
	snprintf(out, cap, "%.*s%u%s", (int)(at - msg), msg, to, at + strlen(needle));
}

/*
 * KILL [QUERY] of another session runs as KILL QUERY of the target's thread
 * on ONE node, through this session's own connection there, so the node
 * applies its rule (same user, or the privilege to kill others): the node
 * running the target's statement now if there is one, else another node
 * the target has a thread on. That interrupts the statement (1317 to the
 * target's client for KILL QUERY); for KILL CONNECTION sluice itself then
 * ends the target session, whose other node connections close with it.
 * The target is marked PENDING first, so the interrupted statement or a
 * lost node is taken for the kill it is, never retried elsewhere.
 */

/* Try the next node of kill_order; answer the client when one carried it
 * out, refused it, or none is left. */
void ms_kill_continue(struct mysql_session *s)
{
	while (s->state == MS_KILLING && s->kill->next < s->kill->n) {
		int node = s->kill->order[s->kill->next];
		struct ms_conn *c = &s->conns[node];
		char sql[64];

		if (ms_conn_needs_open(c)) {
			enum ms_open r = ms_conn_open(c);
			if (r == MS_OPEN_FAILED) {
				s->kill->next++;
				continue;
			}
			if (r != MS_OPEN_READY)
				return; /* login_done or the pool's wake continues */
		}
		if (c->state != CONN_IDLE)
			return;
		snprintf(sql, sizeof(sql), "KILL QUERY %u", s->kill->threads[node]);
		log_debug(s->h.tag, "KILL %s%u -> node %s thread %u", s->kill->query ? "QUERY " : "",
			  s->kill->id, ms_node_name(s, c->node), s->kill->threads[node]);
		ms_conn_internal_query(c, OP_KILL, sql);
		return;
	}
	if (s->state != MS_KILLING || !s->kill)
		return;
	if (s->kill->pending) {
		registry_kill(s->kill->victim,
			      s->kill->done ? REGISTRY_KILL_CONFIRMED : REGISTRY_KILL_NONE);
		s->kill->pending = false;
	}
	if (s->kill->done) {
		struct mysql_ok ok = {0, 0, s->status, 0};
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_ok(&w, (uint8_t)(s->cmd_seq + 1), &ok);
		ms_send_writer(s, &w);
	} else if (s->kill->err.code) {
		/* The node's error names its own thread id; the client knows the
		 * id it asked for. */
		char msg[sizeof(s->kill->err.message) + 16];
		rename_thread(s->kill->err.message, s->kill->err_thread, s->kill->id, msg,
			      sizeof(msg));
		ms_send_err(s, (uint8_t)(s->cmd_seq + 1), s->kill->err.code, s->kill->err.sqlstate,
			    "%s", msg);
	} else {
		ms_send_err(s, (uint8_t)(s->cmd_seq + 1), ER_NO_SUCH_THREAD, "HY000",
			    "Unknown thread id: %u", s->kill->id);
	}
	free(s->kill);
	s->kill = NULL;
	ms_set_state(s, MS_READY);
	ms_process_client(s);
}

/* Add node to the KILL's order if the target has a thread there and it is
 * not in the order yet. */
static void kill_add_node(struct mysql_session *s, int node)
{
	if (node < 0 || (size_t)node >= s->n_conns || !s->kill->threads[node])
		return;
	for (size_t i = 0; i < s->kill->n; i++)
		if (s->kill->order[i] == node)
			return;
	s->kill->order[s->kill->n++] = (uint16_t)node;
}

/* KILL (the statement, or COM_PROCESS_KILL) names sluice's connection ids,
 * or a node thread id that CONNECTION_ID() gave. Returns true when the
 * command was consumed. */
bool ms_handle_kill(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	bool query_only;
	uint64_t id;
	struct registry_entry e;
	const struct cluster_view *v = ms_cluster_view(s);

	if (p[0] == COM_PROCESS_KILL && len == 5) {
		/* The old binary form: always KILL CONNECTION. */
		struct mysql_reader r;
		mysql_reader_init(&r, p + 1, 4);
		query_only = false;
		id = mysql_read_u32(&r);
	} else if (p[0] != COM_QUERY ||
		   !classify_kill((const char *)p + 1, len - 1, &query_only, &id)) {
		return false;
	}
	evbuffer_drain(ms_cin(s), MYSQL_HEADER_LEN + len);
	s->cmd_seq = seq;
	s->commands++;
	/* A node thread id is looked up on the writer: that is where a
	 * client's CONNECTION_ID() most likely came from. */
	if (id > UINT32_MAX ||
	    !registry_find((uint32_t)id, (int)s->h.cluster, v ? v->writer : -1, s->h.id, &e) ||
	    e.cluster != (int)s->h.cluster) {
		ms_send_err(s, (uint8_t)(seq + 1), ER_NO_SUCH_THREAD, "HY000",
			    "Unknown thread id: %" PRIu64, id);
		return true;
	}
	if (e.id == s->h.id) {
		/* As MariaDB does: KILL QUERY of itself interrupts the KILL;
		 * KILL CONNECTION of itself just closes, without an answer. */
		if (query_only)
			ms_send_err(s, (uint8_t)(seq + 1), ER_QUERY_INTERRUPTED, "70100",
				    "Query execution was interrupted");
		else
			ms_close(s, CLOSE_REASON_killed, "killed itself");
		return true;
	}
	s->kill = calloc(1, sizeof(*s->kill));
	if (!s->kill) {
		ms_send_err(s, (uint8_t)(seq + 1), MYSQL_ER_UNKNOWN_ERROR, "HY000",
			    "sluice: out of memory");
		return true;
	}
	memcpy(s->kill->threads, e.threads, s->n_conns * sizeof(s->kill->threads[0]));
	s->kill->n = 0;
	kill_add_node(s, e.busy_node);
	kill_add_node(s, v ? v->writer : -1);
	for (size_t i = 0; i < s->n_conns; i++)
		kill_add_node(s, (int)i);
	if (s->kill->n == 0) {
		free(s->kill);
		s->kill = NULL;
		/* The target holds no node connection: it is idle (its last
		 * one went back to the pool) or still logging in. Nothing runs
		 * for KILL QUERY to interrupt. A KILL CONNECTION is sluice's to
		 * carry out; with no node to apply the privilege rule, only
		 * the same user may (MariaDB's rule without CONNECTION ADMIN). */
		if (strcmp(e.user, s->user_name) != 0) {
			ms_send_err(s, (uint8_t)(seq + 1), ER_KILL_DENIED_ERROR, "HY000",
				    "You are not owner of thread %" PRIu64, id);
			return true;
		}
		if (!query_only)
			registry_kill(e.id, REGISTRY_KILL_CONFIRMED);
		struct mysql_ok ok = {0, 0, s->status, 0};
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_ok(&w, (uint8_t)(seq + 1), &ok);
		ms_send_writer(s, &w);
		return true;
	}
	s->kill->query = query_only;
	s->kill->done = false;
	s->kill->id = (uint32_t)id;
	s->kill->victim = e.id;
	s->kill->next = 0;
	memset(&s->kill->err, 0, sizeof(s->kill->err));
	if (!query_only) {
		registry_kill(e.id, REGISTRY_KILL_PENDING);
		s->kill->pending = true;
	}
	ms_set_state(s, MS_KILLING);
	ms_kill_continue(s);
	return true;
}

/* Another session's KILL CONNECTION of this one is confirmed (the registry
 * woke us): end now, as a killed server connection does, without a word. */
void ms_kill_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state != MS_CLOSING && s->state != MS_CLOSED)
		log_info(s->h.tag, "killed by KILL CONNECTION");
	ms_close(s, CLOSE_REASON_killed, "killed by KILL CONNECTION");
}

/* Is a KILL CONNECTION of this session under way or done? */
bool ms_being_killed(const struct mysql_session *s)
{
	return atomic_load_explicit(&s->ctl.kill, memory_order_acquire) != REGISTRY_KILL_NONE;
}
