/*
 * A worker's pool of idle backend connections. See pool.h.
 */
#include "session/pool.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "fnv.h"
#include "config/config.h"
#include "log.h"
#include "monitor/opstate.h"
#include "monitor/snapshot.h"
#include "net/net.h"
#include "net/ring.h"
#include "session/backend.h"
#include "stats/stats.h"

/* How often idle connections are checked against node states and ages. */
#define SWEEP_MS 1000

/* The connections of this worker to one node. */
struct pool_node {
	struct list idle;    /* pool_conn, most recently returned last */
	size_t n_idle;
	size_t total;	     /* idle + in use + logging in */
	struct list waiters; /* pool_waiter, first come first served */
};

struct pool {
	struct node_stats **stats;   /* the worker's shard: [cluster][node] */
	const struct snapshot *snap; /* the worker's (it holds the reference) */
	const struct config *cfg;    /* the worker's (it holds the reference) */
	struct pool_node **nodes;    /* [cluster][node] */
	size_t n_clusters;
	struct event *sweep;
	struct event *wake; /* runs waiters from the loop */
	void *spare;	    /* slot blocks given back, linked through their first word */
	size_t spare_size;  /* their size */
	unsigned n_spare;
};

static const char TAG[] = "pool";

/* ---- statements prepared on one connection ---- */

_Static_assert(POOL_STMTS_MAX < UINT16_MAX, "an index + 1 fits a slot");

/* The first slot to look at for key (an id or a text's hash; each table
 * has 2 * cap slots, a power of two). */
static size_t first_slot(const struct pool_stmts *ps, uint32_t key)
{
	return (size_t)((key * 0x9e3779b1u) & (uint32_t)(2 * ps->cap - 1));
}

static void slot_put(uint16_t *table, size_t mask, size_t k, size_t i)
{
	while (table[k])
		k = (k + 1) & mask;
	table[k] = (uint16_t)(i + 1);
}

static void index_put(struct pool_stmts *ps, size_t i)
{
	size_t mask = 2 * ps->cap - 1;

	slot_put(ps->by_id, mask, first_slot(ps, ps->items[i].id), i);
	slot_put(ps->by_text, mask, first_slot(ps, ps->items[i].hash), i);
}

/* The slot of table that holds item i, whose key is key. */
static size_t slot_of(const struct pool_stmts *ps, const uint16_t *table, uint32_t key, size_t i)
{
	size_t mask = 2 * ps->cap - 1, k = first_slot(ps, key);

	while (table[k] != i + 1) {
		BUG_ON(!table[k]); /* every item is in both tables */
		k = (k + 1) & mask;
	}
	return k;
}

/* Empty slot k of table (keyed by key_of) and move later entries of its
 * run back, so that no search stops short at the hole (linear probing's
 * deletion without tombstones). */
static void slot_clear(const struct pool_stmts *ps, uint16_t *table, size_t k,
		       uint32_t (*key_of)(const struct pool_stmt *))
{
	size_t mask = 2 * ps->cap - 1;

	table[k] = 0;
	for (size_t j = (k + 1) & mask; table[j]; j = (j + 1) & mask) {
		size_t home = first_slot(ps, key_of(&ps->items[table[j] - 1]));
		/* The entry at j may move to the hole at k unless its home
		 * lies cyclically in (k, j]. */
		bool stays = k < j ? home > k && home <= j : home > k || home <= j;
		if (stays)
			continue;
		table[k] = table[j];
		table[j] = 0;
		k = j;
	}
}

static uint32_t id_key(const struct pool_stmt *e)
{
	return e->id;
}

static uint32_t text_key(const struct pool_stmt *e)
{
	return e->hash;
}

static void index_rebuild(struct pool_stmts *ps)
{
	memset(ps->by_id, 0, 2 * ps->cap * sizeof(*ps->by_id));
	memset(ps->by_text, 0, 2 * ps->cap * sizeof(*ps->by_text));
	for (size_t i = 0; i < ps->n; i++)
		index_put(ps, i);
}

const struct pool_stmt *pool_stmts_find(struct pool_stmts *ps, const uint8_t *sql, size_t len,
					uint32_t hash)
{
	if (!ps || !ps->n)
		return NULL;
	size_t mask = 2 * ps->cap - 1;

	/* At most half the slots are taken: an empty one ends the search. */
	for (size_t k = first_slot(ps, hash); ps->by_text[k]; k = (k + 1) & mask) {
		struct pool_stmt *e = &ps->items[ps->by_text[k] - 1];
		if (e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0) {
			e->used = ++ps->tick;
			return e;
		}
	}
	return NULL;
}

struct pool_stmt *pool_stmts_get(struct pool_stmts *ps, uint32_t id)
{
	if (!ps || !ps->n)
		return NULL;
	size_t mask = 2 * ps->cap - 1;

	for (size_t k = first_slot(ps, id); ps->by_id[k]; k = (k + 1) & mask) {
		struct pool_stmt *e = &ps->items[ps->by_id[k] - 1];
		if (e->id == id) {
			e->used = ++ps->tick;
			return e;
		}
	}
	return NULL;
}

void pool_stmt_set_types(struct pool_stmt *e, const uint8_t *types, size_t len)
{
	if (!types || e->types_len != len) {
		free(e->types);
		e->types = NULL;
		e->types_len = 0;
		if (!types)
			return;
		e->types = malloc(len ? len : 1);
		if (!e->types)
			return;
		e->types_len = (uint32_t)len;
	}
	memcpy(e->types, types, len);
}

bool pool_stmt_has_types(const struct pool_stmt *e, const uint8_t *types, size_t len)
{
	return e->types && e->types_len == len && memcmp(e->types, types, len) == 0;
}

/* Drop entry i: out of both indexes, and the last entry takes its place
 * (its slots then point at i). */
static void stmts_drop(struct pool_stmts *ps, size_t i)
{
	size_t last = ps->n - 1;

	slot_clear(ps, ps->by_id, slot_of(ps, ps->by_id, ps->items[i].id, i), id_key);
	slot_clear(ps, ps->by_text, slot_of(ps, ps->by_text, ps->items[i].hash, i), text_key);
	free(ps->items[i].sql);
	free(ps->items[i].types);
	if (i != last) {
		ps->by_id[slot_of(ps, ps->by_id, ps->items[last].id, last)] = (uint16_t)(i + 1);
		ps->by_text[slot_of(ps, ps->by_text, ps->items[last].hash, last)] =
			(uint16_t)(i + 1);
		ps->items[i] = ps->items[last];
	}
	ps->n--;
}

/* Room for one more entry: a larger array while under POOL_STMTS_MAX. */
static bool stmts_grow(struct pool_stmts *ps)
{
	if (ps->n < ps->cap)
		return true;
	size_t cap = ps->cap ? 2 * ps->cap : 8;
	if (cap > POOL_STMTS_MAX)
		return false;
	struct pool_stmt *items = realloc(ps->items, cap * sizeof(*items));
	if (!items)
		return false;
	ps->items = items;
	uint16_t *by_id = calloc(2 * cap, sizeof(*by_id));
	uint16_t *by_text = calloc(2 * cap, sizeof(*by_text));
	if (!by_id || !by_text) {
		free(by_id);
		free(by_text);
		return false; /* the larger array is kept; cap is not raised */
	}
	free(ps->by_id);
	free(ps->by_text);
	ps->by_id = by_id;
	ps->by_text = by_text;
	ps->cap = cap;
	index_rebuild(ps);
	return true;
}

uint32_t pool_stmts_add(struct pool_stmts **psp, const uint8_t *sql, size_t len, uint32_t id)
{
	struct pool_stmts *ps = *psp;
	uint32_t evicted = 0;
	uint8_t *copy;

	if (!ps) {
		ps = *psp = calloc(1, sizeof(*ps));
		if (!ps)
			return 0;
	}
	if (!stmts_grow(ps)) {
		if (ps->n == 0)
			return 0; /* out of memory with nothing to evict: forget */
		size_t oldest = 0;
		for (size_t i = 1; i < ps->n; i++)
			if (ps->items[i].used < ps->items[oldest].used)
				oldest = i;
		evicted = ps->items[oldest].id;
		stmts_drop(ps, oldest);
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return evicted;
	memcpy(copy, sql, len);
	ps->items[ps->n] = (struct pool_stmt){.sql = copy,
					      .len = (uint32_t)len,
					      .hash = fnv1a_bytes32(sql, len),
					      .id = id,
					      .used = ++ps->tick};
	index_put(ps, ps->n++);
	return evicted;
}

void pool_stmts_remove(struct pool_stmts *ps, uint32_t id)
{
	struct pool_stmt *e = pool_stmts_get(ps, id);

	if (e)
		stmts_drop(ps, (size_t)(e - ps->items));
}

void pool_stmts_clear(struct pool_stmts *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->items[i].sql);
		free(ps->items[i].types);
	}
	ps->n = 0;
	if (ps->cap)
		index_rebuild(ps); /* empties both */
}

void pool_stmts_free(struct pool_stmts *ps)
{
	pool_stmts_clear(ps);
	if (ps) {
		free(ps->items);
		free(ps->by_id);
		free(ps->by_text);
	}
	free(ps);
}

/* ---- the pool ---- */

static struct node_stats *node_stats(struct pool *p, size_t c, size_t n)
{
	return &p->stats[c][n];
}

static void publish(struct pool *p, size_t c, size_t n)
{
	struct pool_node *pn = &p->nodes[c][n];
	struct node_stats *ns = node_stats(p, c, n);

	ns->idle_connections = pn->n_idle;
	ns->in_use_connections = pn->total - pn->n_idle;
}

static const struct config_pool *limits(const struct pool *p, size_t c)
{
	return &p->cfg->clusters[c].pool;
}

bool pool_multiplexed(const struct pool *p, size_t cluster)
{
	return limits(p, cluster)->mode == POOL_MODE_TRANSACTION;
}

/* Someone may be waiting for room on (c, n): wake them from the loop. */
static void room_made(struct pool *p, size_t c, size_t n)
{
	if (!list_empty(&p->nodes[c][n].waiters)) {
		event_active(p->wake, EV_TIMEOUT, 0);
		ring_note_activation();
	}
}

/* pc is about to go to someone else or to close: a parked one's owner
 * forgets it first. */
static void disown(struct pool_conn *pc)
{
	void *owner = pc->owner;

	if (!owner)
		return;
	pc->owner = NULL;
	pc->evict(owner);
}

/* Close an idle connection (it leaves the count). */
static void close_idle(struct pool *p, struct pool_conn *pc, const char *why)
{
	size_t c = pc->cluster, n = pc->node;
	struct pool_node *pn = &p->nodes[c][n];

	disown(pc);
	log_debug(TAG, "closing an idle connection to %s as %s: %s",
		  p->cfg->clusters[c].nodes[n].name, pc->ident.user, why);
	list_remove(&pc->link);
	pn->n_idle--;
	pn->total--;
	node_stats(p, c, n)->open_connections--;
	backend_destroy(pc->be);
	pool_stmts_free(pc->stmts);
	free(pc);
	publish(p, c, n);
	room_made(p, c, n);
}

/* An idle connection's node said something or went away: it was closing
 * (wait_timeout, a KILL, a shutdown). */
static void idle_readable(void *arg)
{
	struct pool_conn *pc = arg;

	close_idle(pc->pool, pc, "the node spoke while it was idle");
}

static void idle_writable(void *arg)
{
	(void)arg;
}

static void idle_closed(void *arg, const char *why)
{
	struct pool_conn *pc = arg;

	close_idle(pc->pool, pc, why);
}

static void idle_login_done(void *arg, enum backend_result res, const struct mysql_err *err,
			    const char *why)
{
	(void)arg, (void)res, (void)err, (void)why;
}

static const struct backend_ops idle_ops = {
	.login_done = idle_login_done,
	.readable = idle_readable,
	.writable = idle_writable,
	.closed = idle_closed,
};

/* May connections to node n of cluster c be handed out now? */
static bool node_usable(struct pool *p, size_t c, size_t n)
{
	const struct snapshot *snap = p->snap;
	const struct node_view *nv;

	if (!snap)
		return false;
	nv = &snap->clusters[c].nodes[n];
	return nv->up && nv->admin == NODE_ADMIN_READY;
}

/* Close every idle connection to (c, n). */
static void purge_node(struct pool *p, size_t c, size_t n, const char *why)
{
	struct pool_node *pn = &p->nodes[c][n];

	while (!list_empty(&pn->idle))
		close_idle(p, list_entry(pn->idle.next, struct pool_conn, link), why);
}

/* May pc serve want at all: the same login, and a database it can use? */
static bool fits(const struct pool_conn *pc, const struct pool_want *want)
{
	if (pc->ident.caps != want->ident->caps || pc->ident.charset != want->ident->charset ||
	    strcmp(pc->ident.user, want->ident->user) != 0)
		return false;
	/* A session without a database cannot leave one it is given. */
	return !((!want->db[0] || want->exact_db) && strcmp(pc->db, want->db) != 0);
}

/* How well pc suits want: higher is better, negative is not at all. Of two
 * otherwise equal, a connection nobody has parked goes first: taking a
 * parked one costs its owner the connection. */
static int suitability(const struct pool_conn *pc, const struct pool_want *want)
{
	int score;

	if (!fits(pc, want))
		return -1;
	if (pc->state == want->state)
		score = 4;
	else if (pc->state == POOL_STATE_CLEAN)
		score = 2;
	else
		score = 0; /* reset first */
	score += strcmp(pc->db, want->db) == 0;
	return 2 * score + !pc->owner;
}

/* suitability() of an unparked connection that needs nothing done. */
#define PERFECT 11

enum pool_grant pool_acquire(struct pool *p, size_t c, size_t n, const struct pool_want *want,
			     struct pool_conn **out)
{
	struct pool_node *pn = &p->nodes[c][n];
	struct pool_conn *best = NULL, *oldest = NULL;
	int best_score = -1;

	*out = NULL;
	if (!node_usable(p, c, n))
		purge_node(p, c, n, "node down or in maintenance");
	/* Newest first: it is the likeliest to be the caller's own. */
	for (struct list *it = pn->idle.prev; it != &pn->idle; it = it->prev) {
		struct pool_conn *pc = list_entry(it, struct pool_conn, link);
		int score = suitability(pc, want);
		if (score > best_score) {
			best = pc;
			best_score = score;
			if (score == PERFECT)
				break;
		}
		oldest = pc;
	}
	if (best) {
		list_remove(&best->link);
		pn->n_idle--;
		node_stats(p, c, n)->pool_reuses++;
		publish(p, c, n);
		disown(best);
		*out = best;
		return POOL_TAKEN;
	}
	/* pool.mode session keeps the old behaviour: a connection per session
	 * and node, bounded only by the node's max_connections. */
	if (pool_multiplexed(p, c) && pn->total >= limits(p, c)->max_per_node) {
		/* Full: an idle connection nobody here can use makes room. */
		if (!oldest)
			return POOL_FULL;
		close_idle(p, oldest, "room for another user or setting");
	}
	pn->total++;
	publish(p, c, n);
	return POOL_OPEN;
}

bool pool_release(struct pool *p, struct pool_conn *pc)
{
	struct pool_node *pn = &p->nodes[pc->cluster][pc->node];

	pc->idle_since_ms = loop_ms();
	pc->pool = p;
	backend_set_owner(pc->be, &idle_ops, pc);
	backend_set_reading(pc->be, true);
	list_append(&pn->idle, &pc->link);
	pn->n_idle++;
	publish(p, pc->cluster, pc->node);
	if (!node_usable(p, pc->cluster, pc->node) ||
	    evbuffer_get_length(backend_input(pc->be)) > 0) {
		pc->owner = NULL; /* the giver is still at work on it: no evict */
		close_idle(p, pc, "its node is not taking new statements");
		return false;
	}
	room_made(p, pc->cluster, pc->node);
	return true;
}

bool pool_unpark(struct pool *p, struct pool_conn *pc, const struct pool_want *want)
{
	size_t c = pc->cluster, n = pc->node;
	struct pool_node *pn = &p->nodes[c][n];

	BUG_ON(!pc->owner);
	pc->owner = NULL;
	if (!node_usable(p, c, n)) {
		close_idle(p, pc, "node down or in maintenance");
		return false;
	}
	if (!fits(pc, want)) {
		room_made(p, c, n); /* someone else's to take now */
		return false;
	}
	list_remove(&pc->link);
	pn->n_idle--;
	node_stats(p, c, n)->pool_reuses++;
	publish(p, c, n);
	return true;
}

void pool_unclaim(struct pool_conn *pc)
{
	BUG_ON(!pc->owner);
	pc->owner = NULL;
}

void pool_closed(struct pool *p, size_t c, size_t n)
{
	struct pool_node *pn = &p->nodes[c][n];

	BUG_ON(pn->total == 0);
	pn->total--;
	publish(p, c, n);
	room_made(p, c, n);
}

void pool_wait(struct pool *p, struct pool_waiter *w, size_t c, size_t n)
{
	if (w->queued)
		return;
	w->queued = true;
	list_append(&p->nodes[c][n].waiters, &w->link);
}

void pool_cancel(struct pool *p, struct pool_waiter *w)
{
	(void)p;
	if (!w->queued)
		return;
	list_remove(&w->link);
	w->queued = false;
}

/* Wake waiters, in order, while their node has room or an idle
 * connection. A woken waiter that still finds no room queues again. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	(void)fd, (void)what;
	for (size_t c = 0; c < p->n_clusters; c++) {
		for (size_t n = 0; n < p->cfg->clusters[c].n_nodes; n++) {
			struct pool_node *pn = &p->nodes[c][n];
			/* At most as many as were waiting now: re-queued ones wait
			 * for the next change. */
			size_t budget = 0;
			for (struct list *it = pn->waiters.next; it != &pn->waiters; it = it->next)
				budget++;
			while (budget-- && !list_empty(&pn->waiters) &&
			       (pn->n_idle || pn->total < limits(p, c)->max_per_node)) {
				struct pool_waiter *w =
					list_entry(pn->waiters.next, struct pool_waiter, link);
				list_remove(&w->link);
				w->queued = false;
				w->wake(w);
			}
		}
	}
}

/* Close idle connections of nodes that should not serve now, and those
 * idle too long beyond min_idle (the oldest first). */
static void sweep(struct pool *p, bool all)
{
	uint64_t now = loop_ms();

	for (size_t c = 0; c < p->n_clusters; c++) {
		const struct config_pool *lim = limits(p, c);
		for (size_t n = 0; n < p->cfg->clusters[c].n_nodes; n++) {
			struct pool_node *pn = &p->nodes[c][n];
			if (all || !node_usable(p, c, n)) {
				purge_node(p, c, n, all ? "reload" : "node down or in maintenance");
				continue;
			}
			/* Oldest first. */
			while (pn->n_idle > lim->min_idle) {
				struct pool_conn *pc =
					list_entry(pn->idle.next, struct pool_conn, link);
				if (now - pc->idle_since_ms < lim->idle_timeout_ms)
					break;
				close_idle(p, pc, "idle_timeout");
			}
		}
	}
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	sweep(arg, false);
}

static bool alloc_nodes(struct pool *p, const struct config *cfg)
{
	p->n_clusters = cfg->n_clusters;
	p->nodes = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*p->nodes));
	if (!p->nodes)
		return false;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		size_t nn = cfg->clusters[c].n_nodes;
		p->nodes[c] = calloc(nn ? nn : 1, sizeof(**p->nodes));
		if (!p->nodes[c])
			return false;
		for (size_t n = 0; n < nn; n++) {
			list_init(&p->nodes[c][n].idle);
			list_init(&p->nodes[c][n].waiters);
		}
	}
	return true;
}

struct pool *pool_create(struct event_base *base, const struct config *cfg,
			 struct node_stats **stats)
{
	struct pool *p = calloc(1, sizeof(*p));
	struct timeval tv = net_timeval_ms(SWEEP_MS);

	if (!p)
		return NULL;
	p->stats = stats;
	p->cfg = cfg;
	if (!alloc_nodes(p, cfg))
		goto fail;
	p->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, p);
	p->wake = event_new(base, -1, 0, wake_cb, p);
	if (!p->sweep || !p->wake || event_add(p->sweep, &tv) != 0)
		goto fail;
	return p;
fail:
	pool_destroy(p);
	return NULL;
}

void *pool_block_take(struct pool *p, size_t size)
{
	void *b = p->spare;

	if (!b || size != p->spare_size)
		return calloc(1, size);
	memcpy(&p->spare, b, sizeof(void *));
	p->n_spare--;
	return memset(b, 0, size);
}

void pool_block_give(struct pool *p, void *block, size_t size)
{
	if (!block)
		return;
	if (p->n_spare == 0)
		p->spare_size = size;
	if (size != p->spare_size || size < sizeof(void *) || p->n_spare >= POOL_SPARE_BLOCKS) {
		free(block);
		return;
	}
	memcpy(block, &p->spare, sizeof(void *));
	p->spare = block;
	p->n_spare++;
}

void pool_set_snapshot(struct pool *p, const struct snapshot *snap)
{
	p->snap = snap;
}

void pool_set_config(struct pool *p, const struct config *cfg)
{
	/* Users, their passwords and the limits may have changed: start
	 * afresh rather than judge which idle connections still fit. */
	sweep(p, true);
	p->cfg = cfg;
	event_active(p->wake, EV_TIMEOUT, 0);
	ring_note_activation();
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	if (p->nodes) {
		for (size_t c = 0; c < p->n_clusters; c++) {
			for (size_t n = 0; p->nodes[c] && n < p->cfg->clusters[c].n_nodes; n++) {
				purge_node(p, c, n, "shutdown");
			}
			free(p->nodes[c]);
		}
		free(p->nodes);
	}
	if (p->sweep)
		event_free(p->sweep);
	if (p->wake)
		event_free(p->wake);
	while (p->spare) {
		void *b = p->spare;
		memcpy(&p->spare, b, sizeof(void *));
		free(b);
	}
	free(p);
}
