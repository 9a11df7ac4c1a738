/*
 * The backend connection pool of one worker (mode: mysql, pool.mode:
 * transaction). A session holds a node connection only while something
 * ties it there (a statement running, a transaction, a pin, a statement's
 * long data or cursor); otherwise the connection comes back here, and the
 * next statement of any session with the same identity takes it.
 *
 * A pooled connection is kept with what it is: the node, the user it
 * logged in as, the client capabilities and character set of that login
 * (they shape every answer, so they must match exactly), its current
 * database, a fingerprint of the session state (SET history) it was left
 * in, and the statements prepared on it. A taker prefers a connection whose
 * state already equals its own, then a clean one (nothing to undo), and
 * only then one that must be reset first (COM_RESET_CONNECTION); of
 * equally suitable ones, one that no session has parked (struct
 * pool_conn). A session takes its own parked connection back without any
 * of that.
 *
 * Per (cluster, node) the pool counts every connection of this worker:
 * idle here, in use by a session, or logging in. In pool.mode transaction,
 * pool.max_per_node caps that count; a session that finds it reached with nothing idle for it
 * waits in line (pool_wait), and is woken, in order, when a connection
 * comes back or closes. Idle connections of a node that goes down or into
 * maintenance are closed at once, and ones idle longer than
 * pool.idle_timeout are closed beyond pool.min_idle per node.
 *
 * Worker thread only: no locks.
 */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "mysql/handshake.h"

struct backend;
struct config;
struct event_base;
struct node_stats;
struct pool;
struct snapshot;

/* State fingerprints: a connection as logged in (or reset) has run no
 * session statement; one whose state is not known exactly must be reset
 * before anyone else uses it. Fingerprints of real histories are >= 2. */
#define POOL_STATE_CLEAN 0
#define POOL_STATE_DIRTY 1

/* How many statements one backend connection keeps prepared. A session
 * that uses more than this on one connection makes the node prepare one
 * again (and close another) on most executes. At 64, a session with 200
 * did so on 70 % of them; 256 covers an application's statement cache
 * (Connector/J's prepStmtCacheSize is often set to 250), while connections
 * x 256 stays within what the same clients would hold directly (the
 * node's max_prepared_stmt_count bounds both). */
#define POOL_STMTS_MAX 256

/* The statements prepared on one backend connection, by their text; the
 * connection's ids for them are shared by every session that uses it. */
struct pool_stmt {
	uint8_t *sql;
	uint32_t len;
	uint32_t hash; /* fnv1a_bytes32(sql) */
	uint32_t id;   /* the node's statement id on this connection */
	uint64_t used; /* for evicting the least recently used */
	/* The parameter types the node last had bound for it (2 bytes a
	 * parameter; it keeps them for executes that bind none), NULL when
	 * not known. */
	uint8_t *types;
	uint32_t types_len;
};

/* Entry pointers are good until the next pool_stmts_add or _remove. */
struct pool_stmts {
	struct pool_stmt *items; /* n of cap, cap doubling up to POOL_STMTS_MAX */
	size_t n, cap;
	uint64_t tick;
	/* By id and by text, linear probing: an item's index + 1, 0 for
	 * none; 2 * cap slots each (at most half taken). An entry leaves
	 * both without tombstones; a growth rebuilds them. */
	uint16_t *by_id, *by_text;
};

/* sql's entry on this connection, NULL if it is not prepared here; hash is
 * fnv1a_bytes32(sql, len) (a session's statement keeps it). Constant time. */
const struct pool_stmt *pool_stmts_find(struct pool_stmts *ps, const uint8_t *sql, size_t len,
					uint32_t hash);
/* The entry of the node's statement id on this connection, NULL if none
 * (constant time: every execute asks). Both count as a use for eviction. */
struct pool_stmt *pool_stmts_get(struct pool_stmts *ps, uint32_t id);
/* An execute of e carrying these parameter types was sent: the node has
 * them now. NULL types (or no memory for a copy): not known. */
void pool_stmt_set_types(struct pool_stmt *e, const uint8_t *types, size_t len);
/* Whether the node has exactly these types bound for e. */
bool pool_stmt_has_types(const struct pool_stmt *e, const uint8_t *types, size_t len);
/* Remember that sql is prepared as id (*ps is allocated when NULL). When
 * full, the least recently used entry makes room: its id is returned, for
 * the caller to close on the node (COM_STMT_CLOSE); 0 when none was.
 * Out of memory only forgets (the statement is prepared again later). */
uint32_t pool_stmts_add(struct pool_stmts **ps, const uint8_t *sql, size_t len, uint32_t id);
/* Forget id (closed on the node). */
void pool_stmts_remove(struct pool_stmts *ps, uint32_t id);
/* Forget everything (the node closed them all: reset, change of user). */
void pool_stmts_clear(struct pool_stmts *ps);
void pool_stmts_free(struct pool_stmts *ps);

/* Who a connection logged in as, and how; only an exact match may reuse it. */
struct pool_ident {
	char user[MYSQL_USER_MAX];
	uint32_t caps;
	uint8_t charset;
};

/* A backend connection and what is known about its session state. Owned
 * by the pool while idle, by the taker after pool_acquire or pool_unpark.
 *
 * A connection given back with an owner is parked: idle here and free for
 * anyone, but its giver (a session's slot, which keeps its own record of
 * the connection's state) may take it back first with pool_unpark, which
 * costs no walk and no state comparison. Before the pool hands a parked
 * connection to anyone else or closes it, it clears owner and calls
 * evict(owner), from inside that pool call: the owner must then forget the
 * connection (its backend, statements and this struct are the pool's) and
 * must not call back into the pool from evict. */
struct pool_conn {
	struct list link;
	struct backend *be;
	size_t cluster, node;
	struct pool_ident ident;
	char db[MYSQL_DB_MAX];
	uint64_t state; /* POOL_STATE_CLEAN, POOL_STATE_DIRTY, or a history fingerprint */
	bool sync_wait; /* wsrep_sync_wait is set on it */
	struct pool_stmts *stmts;
	uint64_t idle_since_ms;
	struct pool *pool; /* while idle */
	void *owner;	   /* while parked, else NULL */
	void (*evict)(void *owner);
};

/* What a session asks of pool_acquire. */
struct pool_want {
	const struct pool_ident *ident;
	const char *db;	  /* the session's database, "" for none */
	bool exact_db;	  /* only a connection already in db (a login checks it) */
	uint64_t state;	  /* the session's fingerprint */
};

enum pool_grant {
	POOL_TAKEN, /* an idle connection is the caller's now */
	POOL_OPEN,  /* open a new one: it is counted already */
	POOL_FULL,  /* the node's cap is reached: wait (pool_wait) or give up */
};

/* A session waiting for room on a node. wake runs from the worker's loop,
 * never from inside pool calls; the waiter is out of the line by then. */
struct pool_waiter {
	struct list link;
	void (*wake)(struct pool_waiter *w);
	bool queued;
};

/* The pool of one worker: its loop runs on base, stats[cluster][node] (the
 * worker's shard) get its connection counts. */
struct pool *pool_create(struct event_base *base, const struct config *cfg,
			 struct node_stats **stats) __attribute__((warn_unused_result));
/* The worker's node states, borrowed until the next call: a node down, in
 * maintenance or drained hands out nothing and loses its idle connections.
 * NULL: none known yet. */
void pool_set_snapshot(struct pool *p, const struct snapshot *snap);
/* A reload: limits and users may have changed; idle connections close. */
void pool_set_config(struct pool *p, const struct config *cfg);
void pool_destroy(struct pool *p);

/* A session's per-node slots come with each command and go when it holds
 * nothing (so an idle client holds none): the pool keeps the blocks given
 * back for the next command on this worker, of one size (the common node
 * count), up to POOL_SPARE_BLOCKS of them. take: size bytes, zeroed, or
 * NULL when out of memory; give: block (from take, or NULL) is the pool's. */
#define POOL_SPARE_BLOCKS 64
void *pool_block_take(struct pool *p, size_t size) __attribute__((warn_unused_result));
void pool_block_give(struct pool *p, void *block, size_t size);

/* Whether connections of this cluster go back to the pool after a statement
 * (pool.mode: transaction) or stay with their session (session). */
bool pool_multiplexed(const struct pool *p, size_t cluster);

/* A connection to (cluster, node) for want: POOL_TAKEN with *out set, or
 * POOL_OPEN (the caller opens one and later reports its end with
 * pool_closed), or POOL_FULL. */
enum pool_grant pool_acquire(struct pool *p, size_t cluster, size_t node,
			     const struct pool_want *want, struct pool_conn **out)
	__attribute__((warn_unused_result));

/* Give a connection back: idle, logged in, nothing pending on it; parked
 * when pc->owner is set (with pc->evict), else a plain idle connection.
 * The pool takes pc and its backend. False: it closed them at once (the
 * node should not be used now, or it spoke) and called no evict; true: pc
 * is idle here. */
bool pool_release(struct pool *p, struct pool_conn *pc);

/* The owner of parked pc takes it back for want. True: pc is the caller's
 * again, as from pool_acquire (the caller's own record of its state
 * stands). False: it no longer fits want (another user, database or
 * character set) and stays here as a plain idle connection, or its node
 * should not be used now and it is closed; either way it is not the
 * caller's any more, and no evict was called. */
bool pool_unpark(struct pool *p, struct pool_conn *pc, const struct pool_want *want)
	__attribute__((warn_unused_result));

/* The owner of parked pc gives up its claim (its session ends): pc stays
 * here as a plain idle connection. */
void pool_unclaim(struct pool_conn *pc);

/* A counted connection (POOL_OPEN, or taken) was closed by its session, or
 * its login could not start. */
void pool_closed(struct pool *p, size_t cluster, size_t node);

/* Wait in line for room on (cluster, node); pool_cancel leaves it. A
 * waiter already in line stays where it is; pool_cancel of one out of line
 * does nothing. The caller counts the wait (pool_waits). */
void pool_wait(struct pool *p, struct pool_waiter *w, size_t cluster, size_t node);
void pool_cancel(struct pool *p, struct pool_waiter *w);

#endif
