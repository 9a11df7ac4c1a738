/*
 * A mode: mysql session turning the router's decision into a connection:
 * the writer's slot, reader candidates in rotation (read your writes), the
 * wait for a writer when there is none, and sending a read again elsewhere
 * when its connection fails before any answer.
 */
#include <stdio.h>

#include <event2/event.h>

#include "session/session.h"
#include "monitor/failover.h"
#include "monitor/snapshot.h"
#include "net/net.h"
#include "session/mysql_session_int.h"

/* How often a statement waiting for a writer looks at the node states. */
#define WRITER_POLL_MS 20

const struct cluster_view *ms_cluster_view(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->h.w);

	return snap ? &snap->clusters[s->h.cluster] : NULL;
}

void ms_count_reason(struct mysql_session *s, enum router_reason reason)
{
	if (reason == ROUTER_REASON_none)
		return;
	worker_count_reason(s->h.w, reason);
	log_debug(s->h.tag, "router: %s", router_reason_str(reason));
}

/* The writer's connection slot, or NULL (with an ERR for the command) when
 * the cluster has no writer. */
static struct ms_conn *writer_conn(struct mysql_session *s)
{
	const struct cluster_view *v = ms_cluster_view(s);

	return v && v->writer >= 0 ? &s->conns[v->writer] : NULL;
}

/* There is no writer, or it cannot be reached (failed_node): the pending
 * command (or the new session) waits, bounded by the cluster's
 * queue_timeout, for the monitor to publish one, looking again every
 * WRITER_POLL_MS and trying again only from a newer snapshot. At the
 * deadline the command (or the login) fails. */
void ms_wait_for_writer(struct mysql_session *s, int failed_node, const char *why)
{
	uint64_t now = failover_now_ms();
	const struct snapshot *snap = worker_snapshot(s->h.w);

	if (!s->waiting) {
		s->waiting = true;
		s->wait_deadline_ms = now + s->h.cc->queue_timeout_ms;
		log_debug(s->h.tag, "waiting up to %u ms for a writer: %s", s->h.cc->queue_timeout_ms,
			  why);
	}
	s->wait_gen = snap ? snap->generation : 0;
	s->wait_node = failed_node;
	if (why != s->wait_why)
		snprintf(s->wait_why, sizeof(s->wait_why), "%s", why);
	s->target = NULL;
	if (now >= s->wait_deadline_ms) {
		s->waiting = false;
		if (s->state == MS_CONNECTING) {
			char msg[300];
			snprintf(msg, sizeof(msg),
				 "sluice: no node of cluster '%s' can take this session (%s)",
				 s->h.cc->name, s->wait_why);
			ms_fail(s, CLOSE_REASON_no_node, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
				msg);
			return;
		}
		ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
				"sluice: cluster '%s' has had no usable writer for %u ms (%s)",
				s->h.cc->name, s->h.cc->queue_timeout_ms, s->wait_why);
		return;
	}
	if (!ms_arm_timer(s, WRITER_POLL_MS))
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
}

/* WRITER_POLL_MS passed while waiting for a writer: try again when there
 * is a writer that is not the one that just failed, or the node states
 * changed since (the failed one may be back). */
void ms_writer_poll(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->h.w);
	const struct cluster_view *v = ms_cluster_view(s);

	if (!snap || !v || v->writer < 0 ||
	    (v->writer == s->wait_node && snap->generation == s->wait_gen)) {
		ms_wait_for_writer(s, s->wait_node, s->wait_why);
		return;
	}
	s->waiting = false;
	if (s->state == MS_CONNECTING) {
		ms_client_authenticated(s);
		return;
	}
	s->dec.target = ROUTER_WRITER;
	s->target = writer_conn(s);
	ms_route_continue(s);
}

/* Fill s->order with the readers to try, in rotation order. Read your
 * writes (causal_reads: session): after a write, only readers the monitor
 * has seen apply it; when none has yet, the writer serves the read. That
 * costs no wait and no round trip. */
static void reader_candidates(struct mysql_session *s)
{
	const struct cluster_view *v = ms_cluster_view(s);
	atomic_uint_fast64_t *rr =
		s->h.lc->primary_reads ? &s->h.env->rr[s->h.cluster] : &s->h.env->rr_replicas[s->h.cluster];
	size_t n;

	s->n_order = 0;
	s->attempt = 0;
	s->causal_miss = false;
	if (!v)
		return;
	n = snapshot_reader_order(v, atomic_fetch_add(rr, 1), s->h.lc->primary_reads, s->order);
	if (s->h.lc->causal_reads == CAUSAL_READS_SESSION && s->write_ms) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++)
			if (snapshot_caught_up(v, s->order[i], s->write_ms))
				s->order[kept++] = s->order[i];
		s->causal_miss = kept == 0 && n > 0;
		n = kept;
	}
	s->n_order = n;
}

/* The next reader candidate, or the writer when none is left. */
static struct ms_conn *next_reader(struct mysql_session *s)
{
	if (s->attempt < s->n_order)
		return &s->conns[s->order[s->attempt++]];
	ms_count_reason(s,
			s->causal_miss ? ROUTER_REASON_read_your_writes : ROUTER_REASON_no_reader);
	s->dec.target = ROUTER_WRITER;
	s->retry_len = 0; /* a read on the writer is not retried elsewhere */
	return writer_conn(s);
}

/* Turn the router's decision into a connection slot; NULL when the command
 * was answered with an error instead. */
struct ms_conn *ms_decision_conn(struct mysql_session *s)
{
	switch (s->dec.target) {
	case ROUTER_TRX:
		if (s->trx)
			return s->trx;
		s->dec.target = ROUTER_WRITER;
		return writer_conn(s);
	case ROUTER_LAST:
		if (s->last)
			return s->last;
		s->dec.target = ROUTER_WRITER;
		return writer_conn(s);
	case ROUTER_READER:
		reader_candidates(s);
		return next_reader(s);
	case ROUTER_WRITER:
		break;
	}
	return writer_conn(s);
}

/* Move the pending command on: open or catch up its connection, then send
 * it. Called again whenever that connection finishes a step. */
void ms_route_continue(struct mysql_session *s)
{
	struct ms_conn *c = s->target;

	if (s->state != MS_ROUTING || !c)
		return;
	if (ms_conn_needs_open(c)) {
		switch (ms_conn_open(c)) {
		case MS_OPEN_FAILED:
			ms_conn_login_failed(c, NULL, "cannot start connecting");
			return;
		case MS_OPEN_STARTED:
		case MS_OPEN_WAIT:
			return;
		case MS_OPEN_READY:
			break;
		}
	}
	if (ms_conn_catch_up(s, c))
		ms_forward_command(s);
}

/* ROUTING: send the pending read to the next reader candidate (the writer
 * when none is left), or wait for a node when there is none at all. */
static void route_next_reader(struct mysql_session *s)
{
	s->target = next_reader(s);
	if (s->target)
		ms_route_continue(s);
	else
		ms_wait_for_writer(s, -1, "no node is up");
}

/* May the command in flight be sent again to another node? Only an
 * autocommit read routed to a reader, kept whole for this (retry_len), sent
 * whole, and of which nothing has reached the client yet. */
bool ms_read_retryable(const struct mysql_session *s)
{
	return s->dec.target == ROUTER_READER && s->retry_len && !s->answered && !s->c_streaming;
}

/* Send the read in flight again, to the next reader: the client never
 * knows. The caller has released the connection it was on. */
void ms_resend_read(struct mysql_session *s)
{
	s->resend = true;
	ms_set_state(s, MS_ROUTING);
	route_next_reader(s);
}

/* The pending command's connection failed (login, catch-up, or lost while
 * idle). A read moves to the next reader (or the writer); anything else
 * fails with an ERR the client can act on. */
void ms_route_retry(struct mysql_session *s, struct ms_conn *failed, const struct mysql_err *err,
		    const char *why)
{
	if (s->state != MS_ROUTING || s->target != failed)
		return;
	if (s->dec.target == ROUTER_READER) {
		route_next_reader(s);
		return;
	}
	if (s->dec.target == ROUTER_WRITER && !err) {
		/* The writer is gone: wait for the monitor to name the next. */
		char wait_why[200];
		snprintf(wait_why, sizeof(wait_why), "writer %s: %s", ms_node_name(s, failed->node),
			 why);
		ms_wait_for_writer(s, failed->node, wait_why);
		return;
	}
	if (err)
		ms_drop_command(s, err->code, err->sqlstate, "sluice: node %s: %s",
				ms_node_name(s, failed->node), err->message);
	else
		ms_drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "08S01",
				"sluice: cannot reach node %s (%s of cluster '%s'): %s",
				ms_node_name(s, failed->node), router_target_str(s->dec.target),
				s->h.cc->name, why);
}
