/*
 * Where a statement of a mode: mysql session runs: a pure function of the
 * statement's classification (classify.h) and the session's routing state.
 * No I/O and no node states here: the session turns the answer (writer,
 * a reader, or the node of the open transaction) into a backend connection.
 *
 * The rules (DESIGN.md, "Routing rules"): an open transaction stays on its
 * node; hints come next; then autocommit off and pins send everything to the
 * writer; a read that touches nothing primary-only goes to a reader; all
 * else goes to the writer. Every time a read is kept off the readers, or the
 * session gets pinned, the reason is named so it can be counted.
 */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

struct classify_result;

enum router_target {
	ROUTER_WRITER, /* the cluster's writer */
	ROUTER_READER, /* the next reader of the rotation */
	ROUTER_TRX,    /* the node that holds the session's open transaction */
	ROUTER_LAST,   /* the node that ran the previous statement (its warnings) */
};

/* Why a statement did not go where its kind alone would send it, or why the
 * session is pinned. X(name, pins, help): pins = the reason pins the session
 * to the writer until released (else it affects one statement only). */
#define ROUTER_REASONS(X)                                                                          \
	X(none, 0, "routed by its kind")                                                           \
	X(transaction, 0, "inside a transaction: stays on the transaction's node")                 \
	X(hint, 0, "a sluice:primary or sluice:reader comment hint")                               \
	X(diagnostics, 0, "SHOW WARNINGS and the like: the node of the previous statement")        \
	X(autocommit_off, 0, "autocommit is off: every statement opens a transaction")             \
	X(unknown, 0, "statement kind not recognised: the writer is the safe choice")              \
	X(locking_read, 0, "FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE")                          \
	X(select_into, 0, "SELECT ... INTO")                                                       \
	X(lock_function, 0, "GET_LOCK / RELEASE_LOCK / IS_USED_LOCK ...")                          \
	X(sequence, 0, "NEXTVAL / LASTVAL / NEXT VALUE FOR")                                       \
	X(last_insert_id, 0, "LAST_INSERT_ID() is known on the writer only")                       \
	X(found_rows, 0, "FOUND_ROWS() / ROW_COUNT() / SQL_CALC_FOUND_ROWS")                       \
	X(user_function, 0, "calls a stored function, which may write")                            \
	X(too_long, 0, "statement longer than sluice inspects")                                    \
	X(no_reader, 0, "no healthy reader: the writer serves the read")                           \
	X(read_your_writes, 0, "no reader known to have this session's last write yet: the writer") \
	X(temporary_table, 1, "CREATE TEMPORARY TABLE: pinned until its tables are dropped")       \
	X(lock_tables, 1, "LOCK TABLES: pinned until UNLOCK TABLES")                               \
	X(named_lock, 1, "GET_LOCK: pinned until the locks are released")                          \
	X(user_variable, 1, "a user variable was assigned: pinned until the session is reset")     \
	X(sql_prepare, 1, "SQL PREPARE: pinned until the session is reset")                        \
	X(xa, 1, "XA transaction: pinned until the session is reset")                              \
	X(multi_statement, 1, "a multi-statement that changed state: pinned until reset")          \
	X(history_full, 1, "session-state history full: pinned until the session is reset")        \
	X(replay_failed, 1, "session state could not be restored on a reader: pinned until reset") \
	X(prepared_set, 1, "SET run as a prepared statement: pinned until the session is reset")   \
	X(procedure_call, 1, "CALL: the procedure's session state is unseen: pinned until reset")  \
	X(handler, 1, "HANDLER ... OPEN: pinned until its handlers are closed")

enum router_reason {
#define ROUTER_REASON_ENUM(name, pins, help) ROUTER_REASON_##name,
	ROUTER_REASONS(ROUTER_REASON_ENUM)
#undef ROUTER_REASON_ENUM
		ROUTER_REASON_COUNT
};

/* What the router remembers about a session between statements. */
struct router_state {
	bool in_trx;		 /* SERVER_STATUS_IN_TRANS from the last response */
	bool autocommit;	 /* SERVER_STATUS_AUTOCOMMIT from the last response */
	uint32_t pins;		 /* bit (1u << reason) per active pin */
	uint32_t named_locks;	 /* GET_LOCK calls not yet released */
	uint32_t handlers;	 /* HANDLER ... OPEN not yet closed */
	bool next_trx_on_writer; /* SET TRANSACTION applies to the next one */
};

struct router_decision {
	enum router_target target;
	enum router_reason reason;
};

/* A fresh session: autocommit on, no transaction, no pins. */
void router_init(struct router_state *st);

/* Where the statement classified as c goes. */
struct router_decision router_route(const struct router_state *st, const struct classify_result *c);

/* The statement c finished on a node; ok: it succeeded. Updates the pins.
 * Returns the reason of a pin this statement added, or ROUTER_REASON_none. */
enum router_reason router_after(struct router_state *st, const struct classify_result *c, bool ok);

/* The first active pin, or ROUTER_REASON_none. */
enum router_reason router_pinned(const struct router_state *st);

/* Add a pin that the session itself decided on (history full, replay
 * failed). */
void router_pin(struct router_state *st, enum router_reason reason);

/* The session itself saw the cause of a pin end (the last temporary table
 * dropped). */
void router_unpin(struct router_state *st, enum router_reason reason);

/* COM_RESET_CONNECTION / COM_CHANGE_USER: the server forgot the session's
 * state, so every pin is released. */
void router_reset(struct router_state *st);

/* Take the transaction state from a response's status flags. */
void router_status(struct router_state *st, uint16_t status);

const char *router_reason_str(enum router_reason reason);
const char *router_target_str(enum router_target target);
bool router_reason_pins(enum router_reason reason);

#endif
