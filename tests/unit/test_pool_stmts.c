/*
 * Unit tests for the statements a pooled backend connection keeps prepared
 * (src/session/pool.c: pool_stmts_*), found by their text, evicted least
 * recently used first; and for stmt_ties_node (src/routing/stmt.c), which
 * says when a session's statements keep it on one connection.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fnv.h"
#include "routing/stmt.h"
#include "session/pool.h"
#include "check.h"

static const uint8_t *text(const char *s)
{
	return (const uint8_t *)s;
}

/* The node's id for sql, 0 when not prepared there. */
static uint32_t id_of(struct pool_stmts *ps, const uint8_t *sql, size_t len)
{
	const struct pool_stmt *e = pool_stmts_find(ps, sql, len, fnv1a_bytes32(sql, len));

	return e ? e->id : 0;
}

static void test_find_and_add(void)
{
	struct pool_stmts *ps = NULL;

	check_case("an empty cache (not even allocated) finds nothing");
	CHECK_EQ_INT(id_of(ps, text("SELECT 1"), 8), 0);

	check_case("a statement is found by its exact text, not a prefix or another length");
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?"), 8, 11), 0);
	if (!CHECK(ps != NULL))
		return;
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?, ?"), 11, 12), 0);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?"), 8), 11);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?, ?"), 11), 12);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?, ?"), 8), 11); /* the first 8 bytes */
	CHECK_EQ_INT(id_of(ps, text("select ?"), 8), 0);

	check_case("a removed id is gone; the others stay");
	pool_stmts_remove(ps, 11);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?"), 8), 0);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?, ?"), 11), 12);
	pool_stmts_remove(ps, 999); /* unknown: nothing happens */
	CHECK_EQ_INT(ps->n, 1);

	check_case("clear forgets everything (the node closed them all)");
	pool_stmts_clear(ps);
	CHECK_EQ_INT(ps->n, 0);
	CHECK_EQ_INT(id_of(ps, text("SELECT ?, ?"), 11), 0);
	pool_stmts_free(ps);
	pool_stmts_free(NULL);
}

static void test_bound_types(void)
{
	struct pool_stmts *ps = NULL;
	static const uint8_t longlong[] = {0x08, 0x00}, varchar[] = {0xfd, 0x00};

	check_case("a statement's bound types are not known until an execute sent them");
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?"), 8, 7), 0);
	if (!CHECK(ps != NULL))
		return;
	struct pool_stmt *e = pool_stmts_get(ps, 7);
	if (!CHECK(e != NULL && e == pool_stmts_find(ps, text("SELECT ?"), 8,
						     fnv1a_bytes32(text("SELECT ?"), 8))))
		return;
	CHECK(pool_stmts_get(ps, 8) == NULL);
	CHECK(!pool_stmt_has_types(e, longlong, 2));

	check_case("the types last sent are the node's; others, or another count, are not");
	pool_stmt_set_types(e, longlong, 2);
	CHECK(pool_stmt_has_types(e, longlong, 2));
	CHECK(!pool_stmt_has_types(e, varchar, 2));
	CHECK(!pool_stmt_has_types(e, longlong, 1));
	pool_stmt_set_types(e, varchar, 2); /* another session bound its own */
	CHECK(pool_stmt_has_types(e, varchar, 2));
	CHECK(!pool_stmt_has_types(e, longlong, 2));

	check_case("types sent that sluice did not read make them not known");
	pool_stmt_set_types(e, NULL, 0);
	CHECK(!pool_stmt_has_types(e, varchar, 2));
	CHECK(!pool_stmt_has_types(e, NULL, 0));

	check_case("a statement prepared again under the same id starts not known");
	pool_stmt_set_types(e, varchar, 2);
	pool_stmts_remove(ps, 7);
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?"), 8, 7), 0);
	e = pool_stmts_get(ps, 7);
	CHECK(e && !pool_stmt_has_types(e, varchar, 2));
	pool_stmts_free(ps);
}

static void test_eviction(void)
{
	struct pool_stmts *ps = NULL;
	char sql[32];

	check_case("a full cache evicts the least recently used and names its id");
	for (uint32_t i = 1; i <= POOL_STMTS_MAX; i++) {
		snprintf(sql, sizeof(sql), "SELECT %u", i);
		CHECK_EQ_INT(pool_stmts_add(&ps, text(sql), strlen(sql), 100 + i), 0);
	}
	if (!CHECK(ps != NULL))
		return;
	/* Use 1 again: 2 is now the least recently used. */
	CHECK_EQ_INT(id_of(ps, text("SELECT 1"), 8), 101);
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT new"), 10, 500), 102);
	CHECK_EQ_INT(ps->n, POOL_STMTS_MAX);
	CHECK_EQ_INT(id_of(ps, text("SELECT 2"), 8), 0);
	CHECK_EQ_INT(id_of(ps, text("SELECT 1"), 8), 101);
	CHECK_EQ_INT(id_of(ps, text("SELECT new"), 10), 500);

	check_case("an execute (found by id) counts as a use too");
	/* 3 is the least recently used now; an execute of it makes 4 so. */
	CHECK(pool_stmts_get(ps, 103) != NULL);
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT newer"), 12, 501), 104);
	pool_stmts_free(ps);
}

/* Every id found through the index, through growth, evictions, removals
 * and a clear, checked against the entries themselves. */
static void test_index(void)
{
	struct pool_stmts *ps = NULL;
	char sql[32];
	unsigned wrong = 0;

	check_case("ids and texts stay found while the cache grows and evicts");
	for (uint32_t i = 1; i <= 3 * POOL_STMTS_MAX; i++) {
		snprintf(sql, sizeof(sql), "SELECT %u", i);
		uint32_t evicted = pool_stmts_add(&ps, text(sql), strlen(sql), 1000 + 7 * i);
		if (evicted && pool_stmts_get(ps, evicted) != NULL)
			wrong++; /* an evicted id is gone */
		if (i % 5 == 0)
			pool_stmts_remove(ps, 1000 + 7 * (i - 2));
		for (size_t k = 0; ps && k < ps->n; k++) {
			const struct pool_stmt *e = &ps->items[k];
			if (pool_stmts_get(ps, e->id) != e ||
			    pool_stmts_find(ps, e->sql, e->len, fnv1a_bytes32(e->sql, e->len)) != e)
				wrong++;
		}
	}
	CHECK_EQ_INT(wrong, 0);
	CHECK(ps != NULL && ps->n <= POOL_STMTS_MAX && ps->cap == POOL_STMTS_MAX);
	CHECK(pool_stmts_get(ps, 1000 + 7) == NULL);
	CHECK(pool_stmts_get(ps, 5) == NULL); /* never added */
	snprintf(sql, sizeof(sql), "SELECT %u", 3 * POOL_STMTS_MAX);
	CHECK(pool_stmts_find(ps, text(sql), strlen(sql), fnv1a_bytes32(text(sql), strlen(sql))));
	CHECK(!pool_stmts_find(ps, text(sql), strlen(sql), 12345)); /* not its hash */
	CHECK(!pool_stmts_find(ps, text("SELECT 1"), 8, fnv1a_bytes32(text("SELECT 1"), 8)));

	check_case("a cleared cache finds nothing and takes new entries");
	pool_stmts_clear(ps);
	CHECK(pool_stmts_get(ps, 1000 + 7 * 3 * POOL_STMTS_MAX) == NULL);
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT 1"), 8, 9), 0);
	CHECK(pool_stmts_get(ps, 9) != NULL);
	CHECK_EQ_INT(id_of(ps, text("SELECT 1"), 8), 9);
	pool_stmts_free(ps);
}

static void test_ties(void)
{
	struct stmt_table t;
	struct stmt *a, *b;

	check_case("statements without state tie no connection");
	stmt_table_init(&t, 3);
	a = stmt_add(&t, text("SELECT ?"), 8, 0, 7, 1, 1, true);
	if (!CHECK(a != NULL))
		return;
	CHECK(!stmt_ties_node(&t, 0));

	check_case("long data waiting on a node ties it, and only it");
	stmt_set_long_data(&t, a, 1);
	CHECK(stmt_ties_node(&t, 1));
	CHECK(!stmt_ties_node(&t, 0));
	stmt_set_long_data(&t, a, -1);
	CHECK(!stmt_ties_node(&t, 1));

	check_case("an open cursor ties its node");
	stmt_set_cursor(&t, a, 2);
	CHECK(stmt_ties_node(&t, 2));
	stmt_set_cursor(&t, a, -1);
	CHECK(!stmt_ties_node(&t, 2));

	check_case("a statement too long to prepare again ties the node that has it");
	b = stmt_add(&t, text("x"), STMT_SQL_MAX + 1, 0, 9, 0, 0, false);
	if (!CHECK(b != NULL && b->sql == NULL))
		return;
	CHECK(stmt_ties_node(&t, 0));
	CHECK(!stmt_ties_node(&t, 1));
	/* Prepared on node 1 as well (the client sent it whole again there). */
	stmt_set_node_id(&t, b, 1, 4);
	CHECK(stmt_ties_node(&t, 1));

	check_case("a tie ends with its statement");
	stmt_set_cursor(&t, a, 1);
	stmt_remove(&t, b->id);
	CHECK(!stmt_ties_node(&t, 0));
	CHECK(stmt_ties_node(&t, 1)); /* a's cursor */
	stmt_remove(&t, a->id);
	CHECK(!stmt_ties_node(&t, 1));

	check_case("and with the node's connection, or a reset");
	a = stmt_add(&t, text("SELECT ?"), 8, 0, 7, 1, 1, true);
	b = stmt_add(&t, text("x"), STMT_SQL_MAX + 1, 2, 9, 0, 0, false);
	if (!CHECK(a != NULL && b != NULL))
		return;
	stmt_set_long_data(&t, a, 2);
	CHECK(stmt_ties_node(&t, 2));
	stmt_forget_node(&t, 2);
	CHECK(!stmt_ties_node(&t, 2));
	stmt_set_cursor(&t, a, 0);
	stmt_table_clear(&t);
	CHECK(!stmt_ties_node(&t, 0));
	stmt_table_deinit(&t);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"find and add", test_find_and_add},   {"bound types", test_bound_types},
		{"eviction", test_eviction},	       {"the index by id", test_index},
		{"what ties a connection", test_ties},
	};
	return CHECK_RUN(tests);
}
