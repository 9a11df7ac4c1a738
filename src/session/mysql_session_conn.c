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
#include <event2/event.h>

#include "session/session.h"
#include "clock.h"
#include "fnv.h"
#include "monitor/health.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/net.h"
#include "net/pipe.h"
#include "session/mysql_session_int.h"

/* What sluice sends a reader connection so reads wait for every commit
 * the cluster ordered before them (causal_reads). */
#define SYNC_WAIT_SQL "SET SESSION wsrep_sync_wait = 1"
/* A pooled connection idle longer than this is pinged before use: the
 * node may have closed it in a way sluice has not seen yet. */
#define PING_AFTER_MS 10000

static const char *const conn_state_names[] = {
	[CONN_NONE] = "none",	      [CONN_LOGIN] = "login", [CONN_IDLE] = "idle",
	[CONN_INTERNAL] = "internal", [CONN_BUSY] = "busy",   [CONN_PARKED] = "parked",
};

static const char *const conn_op_names[] = {
	[OP_NONE] = "none",	  [OP_PING] = "ping",	  [OP_RESET] = "reset",
	[OP_INIT_DB] = "USE",	  [OP_REPLAY] = "replay", [OP_SYNC_WAIT] = "sync wait",
	[OP_PREPARE] = "prepare", [OP_KILL] = "KILL",
};

static void internal_done(struct ms_conn *c);
static void internal_lost(struct ms_conn *c, const char *why);
static void conn_lost(struct ms_conn *c, const char *why);
static void slot_emptied(struct ms_conn *c);

#define BIT(s) (1u << (s))

/* Allowed transitions, by the state left (the diagram in
 * mysql_session_int.h). Any connection may be dropped (NONE), also one
 * already gone. */
static const unsigned conn_next[] = {
	[CONN_NONE] = BIT(CONN_LOGIN) | BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_LOGIN] = BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_IDLE] = BIT(CONN_INTERNAL) | BIT(CONN_BUSY) | BIT(CONN_PARKED) | BIT(CONN_NONE),
	[CONN_INTERNAL] = BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_BUSY] = BIT(CONN_IDLE) | BIT(CONN_NONE),
	[CONN_PARKED] = BIT(CONN_IDLE) | BIT(CONN_NONE),
};

/* Change a connection's state; an impossible change is a bug (aborts). */
void ms_conn_set_state(struct ms_conn *c, enum conn_state next)
{
	BUG_ON(!(conn_next[c->state] & BIT(next)));
	log_debug(c->s->h.tag, "node %s connection: %s -> %s", ms_node_name(c->s, c->node),
		  conn_state_names[c->state], conn_state_names[next]);
	c->state = next;
}

/* c's parked connection is the pool's now: forget it (its backend,
 * statements and record are the pool's). Leaves c's state to the caller. */
static void conn_let_go(struct ms_conn *c)
{
	c->be = NULL;
	c->pstmts = NULL;
	c->pc = NULL;
}

/* Close c's backend connection, if any, and count it out (a parked one
 * stays in the pool, for anyone); leave the pool's line. Leaves c's state
 * to the caller. */
void ms_conn_release(struct ms_conn *c)
{
	struct pool *p = worker_pool(c->s->h.w);

	pool_cancel(p, &c->waiter);
	if (c->state == CONN_PARKED) {
		pool_unclaim(c->pc);
		conn_let_go(c);
		return;
	}
	free(c->pc);
	c->pc = NULL;
	if (c->be) {
		if (c->state != CONN_NONE && c->state != CONN_LOGIN)
			ms_conn_stats(c)->open_connections--;
		pool_closed(p, c->s->h.cluster, (size_t)c->node);
	}
	backend_destroy(c->be);
	c->be = NULL;
	pool_stmts_free(c->pstmts);
	c->pstmts = NULL;
	free(c->iresp);
	c->iresp = NULL;
}

/* Publish the node thread c serves the session with (0: none), for KILL. */
static void publish_thread(struct mysql_session *s, const struct ms_conn *c)
{
	uint32_t t = c->be && c->state != CONN_LOGIN && !ms_conn_needs_open(c)
			     ? backend_thread_id(c->be)
			     : 0;

	atomic_store_explicit(&s->ctl.threads[c->node], t, memory_order_relaxed);
	if (t)
		atomic_store_explicit(&s->ctl.seen[c->node], t, memory_order_relaxed);
}

/* Publish which node threads serve this session, for KILL: the entry once
 * per user, the thread ids (which change with every pooled connection)
 * through the control block. */
void ms_registry_update(struct mysql_session *s)
{
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		publish_thread(s, &s->conns[i]);
	if (!s->registered) {
		struct registry_entry e = {
			.id = s->h.id, .cluster = (int)s->h.cluster, .ctl = &s->ctl};
		snprintf(e.user, sizeof(e.user), "%s", s->user_name);
		registry_put(&e);
		s->registered = true;
	}
}

/* A fingerprint of the session's state history (POOL_STATE_CLEAN when it
 * is empty), to find a pooled connection already in that state. */
static uint64_t fingerprint(struct mysql_session *s)
{
	uint64_t h = FNV1A_START;

	if (s->hist.n == 0)
		return POOL_STATE_CLEAN;
	if (s->fingerprint_of == s->hist.version + 1)
		return s->fingerprint;
	for (size_t i = 0; i < s->hist.n; i++) {
		const struct history_entry *e = &s->hist.items[i];
		for (size_t j = 0; j < e->len; j++)
			h = fnv1a(h, e->payload[j]);
		h = fnv1a(h, 0xff); /* entry boundary */
	}
	if (h <= POOL_STATE_DIRTY)
		h += 2;
	s->fingerprint = h;
	s->fingerprint_of = s->hist.version + 1;
	return h;
}

void ms_session_ident(const struct mysql_session *s, struct pool_ident *ident)
{
	_Static_assert(sizeof(ident->user) == sizeof(s->user_name), "one user name size");
	memcpy(ident->user, s->user_name, sizeof(ident->user)); /* per statement: no printf */
	ident->caps = s->caps;
	ident->charset = s->charset;
}

/* The slot waited its turn and the node has room now. */
static void conn_wake(struct pool_waiter *w)
{
	struct ms_conn *c = list_entry(w, struct ms_conn, waiter);
	struct mysql_session *s = c->s;

	switch (s->state) {
	case MS_CONNECTING:
		ms_connect_next(s);
		break;
	case MS_ROUTING:
		ms_route_continue(s);
		break;
	case MS_KILLING:
		ms_kill_continue(s);
		break;
	default:
		break;
	}
}

/* The slot got its connection: the wait, if any, is over. */
static void wait_over(struct mysql_session *s)
{
	if (!s->pool_waiting)
		return;
	s->pool_waiting = false;
	ms_stop_timer(s);
}

/* Put c in line for room on its node, bounded by the cluster's
 * queue_timeout for the whole wait. */
static void conn_wait(struct ms_conn *c)
{
	struct mysql_session *s = c->s;

	c->waiter.wake = conn_wake;
	pool_wait(worker_pool(s->h.w), &c->waiter, s->h.cluster, (size_t)c->node);
	if (!s->pool_waiting) {
		/* Counted once per wait, not per turn in the line. */
		ms_conn_stats(c)->pool_waits++;
		s->pool_waiting = true;
		if (!ms_arm_timer(s, s->h.cc->queue_timeout_ms)) {
			ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
			return;
		}
		log_debug(s->h.tag, "waiting for a connection to node %s (pool.max_per_node %u)",
			  ms_node_name(s, c->node), s->h.cc->pool.max_per_node);
	}
}

/* c takes pc from the pool: what is known of its state tells what the
 * catch-up must do before the session's command can run on it. */
static void conn_attach(struct ms_conn *c, struct pool_conn *pc, uint64_t want_state)
{
	struct mysql_session *s = c->s;

	c->be = pc->be;
	backend_set_owner(c->be, &ms_backend_ops, c);
	memcpy(c->db, pc->db, sizeof(c->db));
	c->sync_wait = pc->sync_wait;
	c->pstmts = pc->stmts;
	c->need_ping = loop_ms() - pc->idle_since_ms >= PING_AFTER_MS;
	c->need_reset = pc->state != want_state && pc->state != POOL_STATE_CLEAN;
	if (pc->state == want_state) {
		c->applied = s->hist.n;
		c->version = s->hist.version;
	} else {
		c->applied = 0;
		c->version = 0;
	}
	c->op = OP_NONE;
	c->pc = pc; /* for the next give-back */
	ms_conn_set_state(c, CONN_IDLE);
	ms_registry_update(s);
	log_debug(s->h.tag, "node %s: pooled connection (thread %u)%s", ms_node_name(s, c->node),
		  backend_thread_id(c->be), c->need_reset ? ", reset first" : "");
}

/* Take c's parked connection back for want: true when it is c's again,
 * with everything c knew of its state still so; false when c holds nothing
 * now. */
static bool conn_unpark(struct ms_conn *c, const struct pool_want *want)
{
	struct mysql_session *s = c->s;

	if (!pool_unpark(worker_pool(s->h.w), c->pc, want)) {
		conn_let_go(c);
		slot_emptied(c);
		return false;
	}
	backend_set_owner(c->be, &ms_backend_ops, c);
	c->need_ping = loop_ms() - c->pc->idle_since_ms >= PING_AFTER_MS;
	ms_conn_set_state(c, CONN_IDLE);
	publish_thread(s, c);
	return true;
}

/* Get c a connection as login/ident in db: from the pool when one fits (one
 * already in session state `state` first), else a new login when the node
 * has room, else in line. */
enum ms_open ms_conn_open_as(struct ms_conn *c, const struct backend_login *login,
			     const struct pool_ident *ident, const char *db, uint64_t state)
{
	struct mysql_session *s = c->s;
	struct pool *p = worker_pool(s->h.w);
	/* A login (or change of user) takes only a connection already in its
	 * database: the node must be the one to say whether it exists. */
	struct pool_want want = {
		.ident = ident,
		.db = db,
		.exact_db = s->state == MS_CONNECTING || s->state == MS_CU_SWITCH,
		.state = state,
	};
	struct pool_conn *pc;

	pool_cancel(p, &c->waiter);
	if (c->state == CONN_PARKED && conn_unpark(c, &want)) {
		wait_over(s);
		return MS_OPEN_READY;
	}
	switch (pool_acquire(p, s->h.cluster, (size_t)c->node, &want, &pc)) {
	case POOL_TAKEN:
		wait_over(s);
		conn_attach(c, pc, want.state);
		return MS_OPEN_READY;
	case POOL_FULL:
		conn_wait(c);
		return MS_OPEN_WAIT;
	case POOL_OPEN:
		break;
	}
	wait_over(s);
	c->be = backend_create(worker_base(s->h.w), worker_ring(s->h.w), &s->h.cc->nodes[c->node],
			       c->node, s->h.cc->connect_timeout_ms, s->h.bound,
			       s->h.env->backend_tls[s->h.cluster], (int)s->h.cc->tls.verify,
			       &ms_backend_ops, c);
	if (!c->be || !backend_connect(c->be, login)) {
		backend_destroy(c->be);
		c->be = NULL;
		pool_closed(p, s->h.cluster, (size_t)c->node);
		return MS_OPEN_FAILED;
	}
	/* It joins with the login's database and no other state. */
	snprintf(c->db, sizeof(c->db), "%s", login->db ? login->db : "");
	c->applied = 0;
	c->version = 0;
	c->sync_wait = false;
	c->need_ping = false;
	c->need_reset = false;
	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_LOGIN);
	log_debug(s->h.tag, "logging in to node %s as %s", ms_node_name(s, c->node), login->user);
	return MS_OPEN_STARTED;
}

/* A connection for the session's user to c's node. */
enum ms_open ms_conn_open(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct backend_login login = ms_session_login(s);
	struct pool_ident ident;

	ms_session_ident(s, &ident);
	return ms_conn_open_as(c, &login, &ident, s->db, fingerprint(s));
}

/* The pool's line took too long (queue_timeout): the command, the login
 * or the KILL that waited fails. */
void ms_pool_wait_expired(struct mysql_session *s)
{
	struct ms_conn *c = NULL;
	char msg[300];

	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		if (s->conns[i].waiter.queued)
			c = &s->conns[i];
	s->pool_waiting = false;
	if (!c)
		return;
	pool_cancel(worker_pool(s->h.w), &c->waiter);
	snprintf(msg, sizeof(msg),
		 "sluice: no connection to node %s came free within %u ms: all %u of this "
		 "worker's are in use (raise pool.max_per_node, or the node's max_connections)",
		 ms_node_name(s, c->node), s->h.cc->queue_timeout_ms, s->h.cc->pool.max_per_node);
	log_warn(s->h.tag, "%s", msg + 8);
	switch (s->state) {
	case MS_CONNECTING:
		ms_fail(s, CLOSE_REASON_no_node, s->seq, ER_CON_COUNT_ERROR, "08004", msg);
		break;
	case MS_ROUTING:
		ms_drop_command(s, ER_CON_COUNT_ERROR, "08004", "%s", msg);
		break;
	case MS_KILLING:
		s->kill->next++;
		ms_kill_continue(s);
		break;
	default:
		break;
	}
}

/* Does anything tie the session to its connection c (so it must not go
 * back to the pool)? */
static bool conn_tied(struct mysql_session *s, struct ms_conn *c)
{
	return c->state != CONN_IDLE || (c == s->last && s->hold) ||
	       stmt_ties_node(&s->stmts, c->node);
}

/* c is not the session's current, transaction or last connection. */
static void drop_refs(struct ms_conn *c)
{
	struct mysql_session *s = c->s;

	if (s->cur == c)
		s->cur = NULL;
	if (s->trx == c)
		s->trx = NULL;
	if (s->last == c)
		s->last = NULL;
}

/* c holds no connection any more (dropped, or taken or closed by the
 * pool): its node's statement ids are gone with it, and it is not the
 * session's current, transaction or last connection. */
static void slot_emptied(struct ms_conn *c)
{
	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_NONE);
	stmt_forget_node(&c->s->stmts, c->node);
	drop_refs(c);
}

/* The bytes of a session's slot block: the slots, then their order. */
static size_t slots_size(const struct mysql_session *s)
{
	return ms_node_entries(s) * (sizeof(*s->conns) + sizeof(*s->order));
}

/* Holding nothing, a session waiting for its client keeps no slots
 * either: an idle client costs its session struct and its socket. */
static void drop_unused_slots(struct mysql_session *s)
{
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		if (s->conns[i].state != CONN_NONE || s->conns[i].waiter.queued)
			return;
	if (!s->conns || s->trx || s->last)
		return;
	s->cur = s->target = NULL; /* they matter only while a command runs */
	/* The order goes with the slots: one block. */
	pool_block_give(worker_pool(s->h.w), s->conns, slots_size(s));
	s->conns = NULL;
	s->order = NULL;
	s->n_order = 0;
}

/* The pool handed c's parked connection to another session, or closed it
 * (pool.h: from inside that pool call, so nothing here calls the pool but
 * to give the slots back). */
static void conn_evicted(void *owner)
{
	struct ms_conn *c = owner;
	struct mysql_session *s = c->s;

	conn_let_go(c);
	slot_emptied(c);
	if (s->state == MS_READY && !s->c_streaming)
		drop_unused_slots(s);
}

/* Park c's connection in the pool, with what is known of its state: any
 * session may take it from there, and until one does, c takes it back as
 * it left it (conn_unpark). */
static void give_back(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	/* One record per connection, kept from one give-back to the next;
	 * malloc, not calloc: glibc's calloc skips its per-thread cache. */
	struct pool_conn *pc = c->pc ? c->pc : malloc(sizeof(*pc));

	if (!pc) {
		ms_conn_drop(c);
		return;
	}
	pc->be = c->be;
	pc->cluster = s->h.cluster;
	pc->node = (size_t)c->node;
	ms_session_ident(s, &pc->ident);
	memcpy(pc->db, c->db, sizeof(pc->db));
	/* Exactly the session's state, or not known: a reset it was taken for
	 * and never got leaves another session's state on it. */
	pc->state = !c->need_reset && c->version == s->hist.version && c->applied == s->hist.n
			    ? fingerprint(s)
			    : POOL_STATE_DIRTY;
	pc->sync_wait = c->sync_wait;
	pc->stmts = c->pstmts;
	pc->owner = c;
	pc->evict = conn_evicted;
	c->pc = pc;
	c->op = OP_NONE;
	/* Its statement ids stay: they are good while the connection is c's. */
	drop_refs(c);
	if (s->target == c)
		s->target = NULL;
	if (pool_release(worker_pool(s->h.w), pc)) {
		ms_conn_set_state(c, CONN_PARKED);
	} else {
		conn_let_go(c); /* the pool closed it */
		slot_emptied(c);
	}
	publish_thread(s, c); /* none now */
}

/* The session waits for its client: in pool.mode transaction, every
 * connection nothing ties it to goes back to the pool (parked: any session
 * may take it, and until one does it is still this one's). A transaction
 * (also autocommit off, which makes one of every statement) or a pin
 * (temporary tables, locks, user variables, ...) ties them all. */
void ms_give_back(struct mysql_session *s)
{
	if (s->state != MS_READY || s->c_streaming ||
	    !pool_multiplexed(worker_pool(s->h.w), s->h.cluster))
		return;
	if (s->trx || s->rs.in_trx || (s->status & SERVER_STATUS_IN_TRANS) ||
	    !(s->status & SERVER_STATUS_AUTOCOMMIT) || router_pinned(&s->rs) != ROUTER_REASON_none)
		return;
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		if (s->conns[i].be && !conn_tied(s, &s->conns[i]))
			give_back(&s->conns[i]);
	drop_unused_slots(s);
}

/* Make sure the session has its slots, one per node. False when out of
 * memory. */
bool ms_slots(struct mysql_session *s)
{
	if (s->conns)
		return true;
	/* One block per command that needs it (the pool keeps blocks given back):
	 * the slots, then the order (uint16_t, so the slots' alignment suits it). */
	s->conns = pool_block_take(worker_pool(s->h.w), slots_size(s));
	if (!s->conns)
		return false;
	s->order = (uint16_t *)(void *)(s->conns + ms_node_entries(s));
	for (size_t i = 0; i < s->n_conns; i++) {
		s->conns[i].s = s;
		s->conns[i].node = (int)i;
	}
	return true;
}

/* Forget the node's statement node_id on c (closed there): the session's
 * statements that used it prepare again when needed. */
void ms_conn_forget_stmt(struct ms_conn *c, uint32_t node_id)
{
	struct stmt_table *t = &c->s->stmts;

	pool_stmts_remove(c->pstmts, node_id);
	for (size_t i = 0; i < t->n; i++)
		if (stmt_node_id(t, t->items[i], c->node) == node_id)
			stmt_set_node_id(t, t->items[i], c->node, 0);
}

/* Send COM_STMT_CLOSE for node_id on c (it has no answer). */
void ms_conn_close_stmt(struct ms_conn *c, uint32_t node_id)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_packet_begin(&w, 0);
	mysql_put_u8(&w, COM_STMT_CLOSE);
	mysql_put_u32(&w, node_id);
	mysql_packet_end(&w);
	if (w.ok)
		evbuffer_add(backend_output(c->be), w.data, w.len);
	mysql_writer_deinit(&w);
	ms_conn_forget_stmt(c, node_id);
}

/* sql is prepared on c as node_id: remember it with the connection, so
 * any session that uses it later finds it; the least recently used one
 * is closed when the connection keeps too many. */
void ms_conn_stmt_prepared(struct ms_conn *c, const uint8_t *sql, size_t len, uint32_t node_id)
{
	uint32_t evicted = pool_stmts_add(&c->pstmts, sql, len, node_id);

	if (evicted)
		ms_conn_close_stmt(c, evicted);
}

/* Forget a connection that failed or was lost. */
void ms_conn_drop(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	bool was_open = c->state != CONN_NONE && c->state != CONN_LOGIN;

	ms_conn_release(c);
	slot_emptied(c);
	if (was_open)
		ms_registry_update(s);
}

/* Send an internal command (payload: command byte + body) on idle c. */
static void conn_internal(struct ms_conn *c, enum conn_op op, const uint8_t *payload, size_t len)
{
	struct mysql_writer w;

	/* Held only while the command runs: an idle slot stays small. */
	c->iresp = malloc(sizeof(*c->iresp));
	if (!c->iresp) {
		ms_close(c->s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
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
	mysql_resp_start(c->iresp, payload[0]);
	ms_conn_stats(c)->statements++;
	ms_conn_set_state(c, CONN_INTERNAL);
	log_debug(c->s->h.tag, "node %s: %s", ms_node_name(c->s, c->node), conn_op_names[op]);
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
		if (!ms_resp_next(c->iresp, &c->i_cont, in, &st))
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

/* Run the history entries c has not run: all of them as one multi-statement
 * COM_QUERY when the connection takes those and they are all statements
 * (one round trip), else the next one alone. */
static void replay(struct mysql_session *s, struct ms_conn *c)
{
	const struct history_entry *e = &s->hist.items[c->applied];
	size_t n = 0, bytes = 1;
	bool batch = backend_caps(c->be) & CLIENT_MULTI_STATEMENTS;

	for (size_t i = 0; batch && i < s->hist.n; i++) {
		const struct history_entry *h = &s->hist.items[i];
		/* COM_SET_OPTION may turn multi-statements off. */
		batch = h->len > 1 && h->payload[0] == COM_QUERY;
		if (i >= c->applied) {
			n++;
			bytes += h->len + 1;
		}
	}
	c->i_batch = 1;
	if (batch && n > 1) {
		uint8_t *q = malloc(bytes);
		if (q) {
			size_t at = 0;
			q[at++] = COM_QUERY;
			for (size_t i = c->applied; i < s->hist.n; i++) {
				const struct history_entry *h = &s->hist.items[i];
				if (i > c->applied) {
					/* The newline ends a -- or # comment. */
					q[at++] = '\n';
					q[at++] = ';';
				}
				memcpy(q + at, h->payload + 1, h->len - 1);
				at += h->len - 1;
			}
			c->i_batch = n;
			conn_internal(c, OP_REPLAY, q, at);
			free(q);
			return;
		}
	}
	conn_internal(c, OP_REPLAY, e->payload, e->len);
}

/* Does c need wsrep_sync_wait before this command (causal_reads: global,
 * galera: every read on a reader waits for the commits the cluster ordered
 * before it)? */
static bool needs_sync_wait(struct mysql_session *s, struct ms_conn *c)
{
	const struct cluster_view *v;

	if (c->sync_wait || s->dec.target != ROUTER_READER ||
	    s->h.cc->type != CLUSTER_TYPE_GALERA || s->h.lc->causal_reads != CAUSAL_READS_GLOBAL)
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
	if (c->need_ping) {
		uint8_t ping = COM_PING;
		c->need_ping = false;
		conn_internal(c, OP_PING, &ping, 1);
		return false;
	}
	if (c->need_reset) {
		uint8_t reset = COM_RESET_CONNECTION;
		c->need_reset = false;
		conn_internal(c, OP_RESET, &reset, 1);
		return false;
	}
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
			replay(s, c);
			return false;
		}
		c->version = s->hist.version;
	}
	if (needs_sync_wait(s, c)) {
		ms_conn_internal_query(c, OP_SYNC_WAIT, SYNC_WAIT_SQL);
		return false;
	}
	if (s->kind == CMD_STMT && s->stmt && !stmt_node_id(&s->stmts, s->stmt, c->node) &&
	    s->stmt->sql) {
		/* Prepared on this connection already (by any session)? Which
		 * types it has bound, send_execute() asks the connection. */
		const struct pool_stmt *e = pool_stmts_find(c->pstmts, s->stmt->sql,
							    s->stmt->sql_len, s->stmt->sql_hash);
		if (e) {
			stmt_set_node_id(&s->stmts, s->stmt, c->node, e->id);
			return true;
		}
	}
	if (s->kind == CMD_STMT && s->stmt && !stmt_node_id(&s->stmts, s->stmt, c->node)) {
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
	struct mysql_resp r = *c->iresp;
	bool ok = !r.error;

	free(c->iresp);
	c->iresp = NULL;
	c->op = OP_NONE;
	ms_conn_set_state(c, CONN_IDLE);
	if (op == OP_KILL) {
		if (ok) {
			s->kill->done = true;
			s->kill->next = s->kill->n;
		} else if (r.err.code == ER_NO_SUCH_THREAD) {
			/* That thread is gone (the target closed it): try the
			 * target's next node. */
			s->kill->next++;
		} else {
			s->kill->err = r.err;
			s->kill->err_thread = s->kill->threads[c->node];
			s->kill->next = s->kill->n;
		}
		ms_kill_continue(s);
		return;
	}
	if (!ok) {
		ms_conn_stats(c)->errors++;
		if (op == OP_PREPARE) {
			ms_drop_command(s, r.err.code, r.err.sqlstate, "%s", r.err.message);
			return;
		}
		/* The node will not take the session's state: a reader is left
		 * out from now on; on the writer the command cannot run. */
		log_warn(s->h.tag, "node %s refused the session's state (%s): %u %s",
			 ms_node_name(s, c->node), conn_op_names[op], r.err.code, r.err.message);
		struct mysql_err err = r.err;
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
		c->applied += c->i_batch;
		break;
	case OP_SYNC_WAIT:
		c->sync_wait = true;
		break;
	case OP_PREPARE:
		if (s->stmt) {
			stmt_set_node_id(&s->stmts, s->stmt, c->node, r.stmt_id);
			if (s->stmt->sql)
				ms_conn_stmt_prepared(c, s->stmt->sql, s->stmt->sql_len, r.stmt_id);
		}
		break;
	case OP_RESET:
		/* As it logged in (MariaDB keeps the database). */
		pool_stmts_clear(c->pstmts);
		c->sync_wait = false;
		c->applied = 0;
		c->version = 0;
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

	if (op == OP_PING || op == OP_RESET) {
		/* A pooled connection that went stale while idle: not the
		 * node's fault. Another connection takes the command. */
		log_info(s->h.tag, "node %s: a pooled connection was gone (%s); taking another",
			 ms_node_name(s, c->node), why);
		ms_conn_drop(c);
		ms_route_continue(s);
		return;
	}
	log_warn(s->h.tag, "node %s: %s during %s", ms_node_name(s, c->node), why,
		 conn_op_names[op]);
	health_suspect(s->h.env->health, s->h.cluster, (size_t)c->node);
	ms_conn_stats(c)->errors++;
	ms_conn_drop(c);
	if (op == OP_KILL) {
		s->kill->next++;
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
		log_info(s->h.tag, "node %s closed its connection: %u %s", ms_node_name(s, c->node),
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
	pipe_set_reading(s->h.client, true);
	ms_process_client(s);
}

/* A connection is gone. The command in flight on it fails with an error
 * that says its outcome is unknown; a transaction open on it is reported
 * as rolled back at the session's next command; state the session pinned
 * to it (temporary tables, locks) is lost, which ends the session. */
/* Whether the command in flight may have committed the session's open
 * transaction (COMMIT, an implicit commit, or what sluice cannot see into):
 * then a lost node leaves its outcome unknown, not rolled back. */
static bool command_may_commit(const struct mysql_session *s)
{
	switch (s->kind) {
	case CMD_QUERY:
		return s->cls.may_commit;
	case CMD_STMT:
		return s->cmd == COM_STMT_EXECUTE && (!s->stmt || s->stmt->may_commit);
	case CMD_PLAIN:
	case CMD_PREPARE:
	case CMD_SESSION:
	case CMD_RESET:
		break;
	}
	return false;
}

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
	health_suspect(s->h.env->health, s->h.cluster, (size_t)node);
	log_info(s->h.tag, "lost node %s: %s", ms_node_name(s, node), why);
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
		log_info(s->h.tag, "retrying the read on another node");
		ms_resend_read(s);
		return;
	}
	if (in_flight || had_trx)
		health_lost(s->h.env->health, s->h.cluster, (size_t)node);
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
		/* A transaction's rows die with its node unless the statement
		 * was one that commits: then they may have reached the others. */
		bool rolled_back = had_trx && !command_may_commit(s);
		ms_send_err(
			s, s->next_seq, rolled_back ? ER_LOCK_DEADLOCK : ER_NET_READ_ERROR,
			rolled_back ? "40001" : "08S01",
			rolled_back
				? "sluice: lost node %s during the command; the transaction was "
				  "rolled back"
			: had_trx
				? "sluice: lost node %s during a statement that commits the "
				  "transaction; whether it committed is unknown"
				: "sluice: lost the connection to node %s during the command; its "
				  "outcome is unknown",
			ms_node_name(s, node));
		s->b_left = 0;
		s->b_cont = false;
		s->resp_done = false;
		/* The rest of the command's bytes, if any, go nowhere. */
		s->c_discard = s->c_streaming;
		ms_set_state(s, MS_READY);
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
