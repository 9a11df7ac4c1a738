/*
 * The routing decision of mode: mysql sessions; pure functions of the
 * classification and the session's routing state. See router.h.
 */
#include "routing/router.h"

#include "routing/classify.h"
#include "mysql/proto.h"

static const struct {
	const char *name;
	bool pins;
} reasons[] = {
#define ROUTER_REASON_ROW(name, pins, help) {#name, pins},
	ROUTER_REASONS(ROUTER_REASON_ROW)
#undef ROUTER_REASON_ROW
};

/* A read carrying one of these cannot run on a reader, for the reason
 * given: it locks, writes, or needs what only the writer knows. Checked in
 * this order, so the count names the first. */
static const struct {
	unsigned flag;
	enum router_reason reason;
} read_blockers[] = {
	{CLASSIFY_TRUNCATED, ROUTER_REASON_too_long},
	{CLASSIFY_LOCKING_READ, ROUTER_REASON_locking_read},
	{CLASSIFY_INTO, ROUTER_REASON_select_into},
	{CLASSIFY_USER_VAR_WRITE, ROUTER_REASON_select_into},
	{CLASSIFY_LOCK_FUNC, ROUTER_REASON_lock_function},
	{CLASSIFY_SEQUENCE, ROUTER_REASON_sequence},
	{CLASSIFY_LAST_INSERT_ID, ROUTER_REASON_last_insert_id},
	{CLASSIFY_FOUND_ROWS, ROUTER_REASON_found_rows},
	{CLASSIFY_CALC_FOUND_ROWS, ROUTER_REASON_found_rows},
	{CLASSIFY_USER_FUNC, ROUTER_REASON_user_function},
};

_Static_assert(ROUTER_REASON_COUNT <= 32, "router_state.pins has a bit per reason");

void router_init(struct router_state *st)
{
	*st = (struct router_state){.autocommit = true};
}

/* The reason of the lowest bit set in pins, or ROUTER_REASON_none. Asked for
 * every statement, where pins is nearly always 0. */
static enum router_reason first_reason(uint32_t pins)
{
	return pins ? (enum router_reason)__builtin_ctz(pins) : ROUTER_REASON_none;
}

enum router_reason router_pinned(const struct router_state *st)
{
	return first_reason(st->pins);
}

static struct router_decision decide(enum router_target target, enum router_reason reason)
{
	return (struct router_decision){target, reason};
}

struct router_decision router_route(const struct router_state *st, const struct classify_result *c)
{
	enum router_reason pin;

	/* A transaction never moves, whatever the statement or hint says. */
	if (st->in_trx)
		return decide(ROUTER_TRX, ROUTER_REASON_transaction);
	/* Warnings and error counts belong to the previous statement. */
	if (c->flags & CLASSIFY_DIAGNOSTICS)
		return decide(ROUTER_LAST, ROUTER_REASON_diagnostics);
	if (c->flags & CLASSIFY_HINT_PRIMARY)
		return decide(ROUTER_WRITER, ROUTER_REASON_hint);
	if (c->flags & CLASSIFY_HINT_READER)
		return decide(ROUTER_READER, ROUTER_REASON_hint);
	if (!st->autocommit)
		return decide(ROUTER_WRITER, ROUTER_REASON_autocommit_off);
	pin = router_pinned(st);
	if (pin != ROUTER_REASON_none)
		return decide(ROUTER_WRITER, pin);

	switch (c->kind) {
	case CLASSIFY_READ:
		for (size_t i = 0; i < sizeof(read_blockers) / sizeof(read_blockers[0]); i++)
			if (c->flags & read_blockers[i].flag)
				return decide(ROUTER_WRITER, read_blockers[i].reason);
		return decide(ROUTER_READER, ROUTER_REASON_none);
	case CLASSIFY_BEGIN_READ_ONLY:
		/* A read-only transaction runs whole on one reader, unless a
		 * SET TRANSACTION for it went to the writer. */
		if (st->next_trx_on_writer)
			return decide(ROUTER_WRITER, ROUTER_REASON_none);
		return decide(ROUTER_READER, ROUTER_REASON_none);
	case CLASSIFY_UNKNOWN:
		return decide(ROUTER_WRITER, ROUTER_REASON_unknown);
	default:
		/* Writes, BEGIN, COMMIT, session state (which the session then
		 * replays on its other connections). */
		return decide(ROUTER_WRITER, ROUTER_REASON_none);
	}
}

void router_pin(struct router_state *st, enum router_reason reason)
{
	if (reasons[reason].pins)
		st->pins |= 1u << reason;
}

void router_unpin(struct router_state *st, enum router_reason reason)
{
	st->pins &= ~(1u << reason);
}

enum router_reason router_after(struct router_state *st, const struct classify_result *c, bool ok)
{
	uint32_t before = st->pins;

	if (c->kind == CLASSIFY_BEGIN || c->kind == CLASSIFY_BEGIN_READ_ONLY ||
	    c->kind == CLASSIFY_COMMIT || c->kind == CLASSIFY_ROLLBACK)
		st->next_trx_on_writer = false;
	if (!ok)
		return ROUTER_REASON_none;
	if (c->flags & CLASSIFY_SET_TRANSACTION)
		st->next_trx_on_writer = true;
	if (c->flags & CLASSIFY_TEMP_CREATE)
		router_pin(st, ROUTER_REASON_temporary_table);
	if (c->flags & CLASSIFY_LOCK_TABLES)
		router_pin(st, ROUTER_REASON_lock_tables);
	/* START TRANSACTION releases table locks, as UNLOCK TABLES does. */
	if ((c->flags & CLASSIFY_UNLOCK_TABLES) || c->kind == CLASSIFY_BEGIN ||
	    c->kind == CLASSIFY_BEGIN_READ_ONLY)
		router_unpin(st, ROUTER_REASON_lock_tables);
	if (c->flags & CLASSIFY_RELEASE_ALL_LOCKS) {
		st->named_locks = 0;
	} else if (c->flags & CLASSIFY_RELEASE_LOCK) {
		if (st->named_locks)
			st->named_locks--;
	} else if (c->flags & CLASSIFY_LOCK_FUNC) {
		/* GET_LOCK (or a lock test, which costs only a longer pin). */
		st->named_locks++;
	}
	if (st->named_locks)
		router_pin(st, ROUTER_REASON_named_lock);
	else
		router_unpin(st, ROUTER_REASON_named_lock);
	if (c->flags & CLASSIFY_HANDLER_OPEN)
		st->handlers++;
	else if ((c->flags & CLASSIFY_HANDLER_CLOSE) && st->handlers)
		st->handlers--;
	if (st->handlers)
		router_pin(st, ROUTER_REASON_handler);
	else
		router_unpin(st, ROUTER_REASON_handler);
	if (c->flags & CLASSIFY_USER_VAR_WRITE)
		router_pin(st, ROUTER_REASON_user_variable);
	if (c->flags & CLASSIFY_SQL_PREPARE)
		router_pin(st, ROUTER_REASON_sql_prepare);
	if (c->flags & CLASSIFY_XA)
		router_pin(st, ROUTER_REASON_xa);
	/* A procedure may set variables, create temporary tables, take locks:
	 * nothing of it shows in the text or the response. */
	if (c->flags & CLASSIFY_CALL)
		router_pin(st, ROUTER_REASON_procedure_call);
	/* A multi-statement that mixes kinds cannot be replayed as session
	 * state (it may write), and may have changed some: stay put. */
	if ((c->flags & CLASSIFY_MULTI) && c->kind != CLASSIFY_READ && c->kind != CLASSIFY_SESSION)
		router_pin(st, ROUTER_REASON_multi_statement);

	return first_reason(st->pins & ~before);
}

void router_reset(struct router_state *st)
{
	router_init(st);
}

void router_status(struct router_state *st, uint16_t status)
{
	st->in_trx = (status & SERVER_STATUS_IN_TRANS) != 0;
	st->autocommit = (status & SERVER_STATUS_AUTOCOMMIT) != 0;
}

const char *router_reason_str(enum router_reason reason)
{
	return (unsigned)reason < ROUTER_REASON_COUNT ? reasons[reason].name : "?";
}

bool router_reason_pins(enum router_reason reason)
{
	return (unsigned)reason < ROUTER_REASON_COUNT && reasons[reason].pins;
}

const char *router_target_str(enum router_target target)
{
	switch (target) {
	case ROUTER_WRITER:
		return "writer";
	case ROUTER_READER:
		return "reader";
	case ROUTER_TRX:
		return "transaction node";
	case ROUTER_LAST:
		return "previous node";
	}
	return "?";
}
