/*
 * Unit tests for the statements a pooled backend connection keeps prepared
 * (src/session/pool.c: pool_stmts_*), found by their text, evicted least
 * recently used first; and for stmt_ties_node (src/routing/stmt.c), which
 * says when a session's statements keep it on one connection.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "routing/stmt.h"
#include "session/pool.h"
#include "check.h"

static const uint8_t *text(const char *s)
{
	return (const uint8_t *)s;
}

static void test_find_and_add(void)
{
	struct pool_stmts *ps = NULL;

	check_case("an empty cache (not even allocated) finds nothing");
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT 1"), 8), 0);

	check_case("a statement is found by its exact text, not a prefix or another length");
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?"), 8, 11), 0);
	if (!CHECK(ps != NULL))
		return;
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT ?, ?"), 11, 12), 0);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?"), 8), 11);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?, ?"), 11), 12);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?, ?"), 8), 11); /* the first 8 bytes */
	CHECK_EQ_INT(pool_stmts_find(ps, text("select ?"), 8), 0);

	check_case("a removed id is gone; the others stay");
	pool_stmts_remove(ps, 11);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?"), 8), 0);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?, ?"), 11), 12);
	pool_stmts_remove(ps, 999); /* unknown: nothing happens */
	CHECK_EQ_INT(ps->n, 1);

	check_case("clear forgets everything (the node closed them all)");
	pool_stmts_clear(ps);
	CHECK_EQ_INT(ps->n, 0);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT ?, ?"), 11), 0);
	pool_stmts_free(ps);
	pool_stmts_free(NULL);
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
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT 1"), 8), 101);
	CHECK_EQ_INT(pool_stmts_add(&ps, text("SELECT new"), 10, 500), 102);
	CHECK_EQ_INT(ps->n, POOL_STMTS_MAX);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT 2"), 8), 0);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT 1"), 8), 101);
	CHECK_EQ_INT(pool_stmts_find(ps, text("SELECT new"), 10), 500);
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
	a->long_data = 1;
	CHECK(stmt_ties_node(&t, 1));
	CHECK(!stmt_ties_node(&t, 0));
	a->long_data = -1;

	check_case("an open cursor ties its node");
	a->cursor = 2;
	CHECK(stmt_ties_node(&t, 2));
	a->cursor = -1;
	CHECK(!stmt_ties_node(&t, 2));

	check_case("a statement too long to prepare again ties the node that has it");
	b = stmt_add(&t, text("x"), STMT_SQL_MAX + 1, 0, 9, 0, 0, false);
	if (!CHECK(b != NULL && b->sql == NULL))
		return;
	CHECK(stmt_ties_node(&t, 0));
	CHECK(!stmt_ties_node(&t, 1));
	stmt_table_deinit(&t);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"find and add", test_find_and_add},
		{"eviction", test_eviction},
		{"what ties a connection", test_ties},
	};
	return CHECK_RUN(tests);
}
