/*
 * Unit tests for src/stmt.c (prepared statement table, the exact bytes of a
 * COM_STMT_EXECUTE rewritten for another node, with and without the
 * parameter types) and src/history.c (bounded, ordered, deduplicated
 * session-state history and its versions).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "routing/history.h"
#include "mysql/wire.h"
#include "routing/stmt.h"
#include "check.h"

static void test_table(void)
{
	struct stmt_table t;
	struct stmt *a, *b, *c;

	check_case("ids grow from 1; lookups find each; removal keeps the rest");
	stmt_table_init(&t, 3);
	a = stmt_add(&t, (const uint8_t *)"SELECT 1", 8, 0, 77, 0, 1, true);
	b = stmt_add(&t, (const uint8_t *)"UPDATE t SET a=?", 16, 2, 5, 1, 0, false);
	if (!CHECK(a && b))
		return;
	CHECK_EQ_INT(a->id, 1);
	CHECK_EQ_INT(b->id, 2);
	CHECK_EQ_INT(stmt_node_id(&t, a, 0), 77);
	CHECK_EQ_INT(stmt_node_id(&t, a, 1), 0);
	CHECK_EQ_INT(stmt_node_id(&t, b, 2), 5);
	CHECK(!stmt_node_types(&t, b, 2));
	CHECK_EQ_INT(b->home, 2);
	CHECK_EQ_INT(b->long_data, -1);
	CHECK(a->reader_ok);
	CHECK(!b->reader_ok);
	for (int i = 0; i < 20; i++)
		CHECK((c = stmt_add(&t, (const uint8_t *)"SELECT 2", 8, 1, 100 + (uint32_t)i, 0, 1,
				    true)) != NULL);
	CHECK(stmt_find(&t, 1) == a);
	CHECK(stmt_find(&t, 2) == b);
	CHECK(stmt_find(&t, 22) != NULL);
	CHECK(stmt_find(&t, 23) == NULL);
	CHECK(stmt_find(&t, 0) == NULL);
	stmt_remove(&t, 1);
	CHECK(stmt_find(&t, 1) == NULL);
	CHECK(stmt_find(&t, 2) == b);
	CHECK_EQ_INT(stmt_node_id(&t, stmt_find(&t, 22), 1), 119);
	stmt_remove(&t, 99); /* unknown: a no-op */
	CHECK_EQ_INT(t.n, 21);

	check_case("text longer than STMT_SQL_MAX is not kept and never reader_ok");
	uint8_t *big = calloc(1, STMT_SQL_MAX + 1);
	if (CHECK(big != NULL)) {
		memset(big, 'x', STMT_SQL_MAX + 1);
		c = stmt_add(&t, big, STMT_SQL_MAX + 1, 0, 9, 0, 0, true);
		CHECK(c && c->sql == NULL && !c->reader_ok);
		free(big);
	}
	stmt_table_clear(&t);
	CHECK_EQ_INT(t.n, 0);
	stmt_table_deinit(&t);
}

static void test_execute_rewrite(void)
{
	struct stmt_table t;
	struct stmt *st;
	struct mysql_writer w;
	uint32_t id;

	stmt_table_init(&t, 2);
	st = stmt_add(&t, (const uint8_t *)"SELECT ?, ?", 11, 0, 7, 2, 2, true);
	if (!CHECK(st != NULL))
		return;
	/* First execute: id 1, no cursor, 1 iteration, NULL bitmap 0x00, bound
	 * 1, types LONGLONG and VAR_STRING, values 5 and "ab". */
	static const uint8_t first[] = {
		0x17, 1,    0,	  0,	0,	    /* COM_STMT_EXECUTE, id 1 */
		0x00, 1,    0,	  0,	0,	    /* no cursor, 1 iteration */
		0x00, 0x01,			    /* NULL bitmap, new params bound */
		0x08, 0x00, 0xfd, 0x00,		    /* LONGLONG, VAR_STRING */
		5,    0,    0,	  0,	0, 0, 0, 0, /* 5 */
		2,    'a',  'b',		    /* "ab" */
	};
	/* A later execute of the same statement: bound 0, values only. */
	static const uint8_t later[] = {0x17, 1, 0, 0, 0, 0x00, 1, 0, 0, 0, 0x00,
					0x00, 6, 0, 0, 0, 0,	0, 0, 0, 1, 'c'};

	check_case("statement id of a command payload");
	CHECK(stmt_payload_id(later, sizeof(later), &id) && id == 1);
	CHECK(!stmt_payload_id(later, 4, &id));
	CHECK_EQ_INT(stmt_execute_flags(later, sizeof(later)), 0);

	check_case("a later execute on a new node before types are known fails");
	CHECK_EQ_INT(stmt_execute_form(st, later, sizeof(later), true), STMT_EXEC_BAD);
	mysql_writer_init(&w);
	CHECK(!stmt_write_execute(st, later, sizeof(later), 9, true, &w, 0));
	mysql_writer_deinit(&w);

	check_case("the first execute binds the types; rewritten, only the id changes");
	CHECK(stmt_capture_types(st, first, sizeof(first)));
	CHECK(st->types && st->types[0] == 0x08 && st->types[2] == 0xfd);
	mysql_writer_init(&w);
	if (CHECK(stmt_write_execute(st, first, sizeof(first), 0x01020304, true, &w, 0))) {
		CHECK_EQ_INT(w.len, 4 + sizeof(first));
		CHECK_EQ_INT(w.data[0], sizeof(first));
		CHECK_EQ_INT(w.data[3], 0); /* sequence id */
		static const uint8_t id_le[] = {0x04, 0x03, 0x02, 0x01};
		CHECK_EQ_MEM(w.data + 5, id_le, 4);
		CHECK_EQ_MEM(w.data + 9, first + 5, sizeof(first) - 5);
	}
	mysql_writer_deinit(&w);

	check_case("a later execute for a node that has the types: only the id changes");
	mysql_writer_init(&w);
	if (CHECK(stmt_write_execute(st, later, sizeof(later), 3, false, &w, 0))) {
		CHECK_EQ_INT(w.len, 4 + sizeof(later));
		CHECK_EQ_INT(w.data[5], 3);
		CHECK_EQ_MEM(w.data + 9, later + 5, sizeof(later) - 5);
	}
	mysql_writer_deinit(&w);

	check_case("what an execute needs, by what the node has seen");
	CHECK_EQ_INT(stmt_execute_form(st, first, sizeof(first), true), STMT_EXEC_ID_ONLY);
	CHECK_EQ_INT(stmt_execute_form(st, later, sizeof(later), false), STMT_EXEC_ID_ONLY);
	CHECK_EQ_INT(stmt_execute_form(st, later, sizeof(later), true), STMT_EXEC_ADD_TYPES);
	CHECK_EQ_INT(stmt_execute_form(st, later, 10, false), STMT_EXEC_BAD);
	CHECK_EQ_INT(stmt_execute_form(st, first, 14, false), STMT_EXEC_BAD);

	check_case("a later execute for a new node gets the bound flag and the types");
	mysql_writer_init(&w);
	if (CHECK(stmt_write_execute(st, later, sizeof(later), 3, true, &w, 0))) {
		static const uint8_t want[] = {0x17, 3,	   0,	 0,    0, 0x00, 1, 0,  0,
					       0,    0x00, 0x01, 0x08, 0, 0xfd, 0, 6,  0,
					       0,    0,	   0,	 0,    0, 0,	1, 'c'};
		CHECK_EQ_INT(w.len, 4 + sizeof(want));
		CHECK_EQ_INT(w.data[0], sizeof(want));
		CHECK_EQ_MEM(w.data + 4, want, sizeof(want));
	}
	mysql_writer_deinit(&w);

	check_case("a truncated execute is refused");
	mysql_writer_init(&w);
	CHECK(!stmt_write_execute(st, later, 10, 3, true, &w, 0));
	CHECK(!stmt_capture_types(st, first, 12));
	mysql_writer_deinit(&w);

	check_case("types announced and cut short are refused by the rewrite too");
	mysql_writer_init(&w);
	CHECK(!stmt_write_execute(st, first, 14, 3, false, &w, 0));
	CHECK(!stmt_write_execute(st, first, 15, 3, true, &w, 0));
	CHECK_EQ_INT(w.len, 0);
	mysql_writer_deinit(&w);

	/* Found by fuzz_stmt: the server reads any non-zero new-params-bound
	 * byte as "types follow" (sql_prepare.cc), so sluice must too, or it
	 * keeps stale types and, for a new node, puts the kept types in front
	 * of the client's. */
	check_case("a new-params-bound byte other than 1 binds types, as on the server");
	uint8_t rebind[sizeof(first)];
	memcpy(rebind, first, sizeof(first));
	rebind[11] = 0xe0;
	rebind[12] = 0x03; /* LONG */
	CHECK(stmt_capture_types(st, rebind, sizeof(rebind)));
	CHECK(st->types && st->types[0] == 0x03 && st->types[2] == 0xfd);
	mysql_writer_init(&w);
	if (CHECK(stmt_write_execute(st, rebind, sizeof(rebind), 3, true, &w, 0))) {
		CHECK_EQ_INT(w.len, 4 + sizeof(rebind));
		CHECK_EQ_INT(w.data[5], 3);
		CHECK_EQ_MEM(w.data + 9, rebind + 5, sizeof(rebind) - 5);
	}
	mysql_writer_deinit(&w);
	stmt_table_deinit(&t);
}

static bool add(struct history *h, const char *s)
{
	return history_add(h, (const uint8_t *)s, strlen(s));
}

/* A node's connection is lost: its ids, cursor and long data go; the long data is
 * remembered as lost so the execute that needed it can fail. */
static void test_forget_node(void)
{
	struct stmt_table t;
	struct stmt *a;

	check_case("forget node 1");
	stmt_table_init(&t, 3);
	a = stmt_add(&t, (const uint8_t *)"SELECT ?", 8, 0, 7, 1, 1, true);
	if (!CHECK(a != NULL))
		return;
	CHECK_EQ_INT(a->long_data_lost, -1);
	stmt_set_node_id(&t, a, 1, 9);
	stmt_set_node_types(&t, a, 1);
	CHECK(stmt_node_types(&t, a, 1));
	stmt_set_long_data(&t, a, 1);
	stmt_set_cursor(&t, a, 1);
	stmt_forget_node(&t, 1);
	CHECK_EQ_INT(stmt_node_id(&t, a, 1), 0);
	CHECK(!stmt_node_types(&t, a, 1));
	CHECK_EQ_INT(a->long_data, -1);
	CHECK_EQ_INT(a->long_data_lost, 1);
	CHECK_EQ_INT(a->cursor, -1);
	CHECK_EQ_INT(stmt_node_id(&t, a, 0), 7);

	check_case("a new id on a node has not seen the types; one set again keeps them");
	stmt_set_node_id(&t, a, 1, 10);
	CHECK(!stmt_node_types(&t, a, 1));
	stmt_set_node_types(&t, a, 1);
	stmt_set_node_id(&t, a, 1, 10);
	CHECK(stmt_node_types(&t, a, 1));
	stmt_set_node_id(&t, a, 1, 0);
	stmt_set_node_types(&t, a, 1); /* no id there: nothing to have seen */
	CHECK(!stmt_node_types(&t, a, 1));

	check_case("forgetting a node nothing ties: every statement's id there goes");
	struct stmt *b = stmt_add(&t, (const uint8_t *)"SELECT 2", 8, 1, 11, 0, 1, true);
	if (!CHECK(b != NULL))
		return;
	stmt_set_node_id(&t, a, 1, 12);
	CHECK(!stmt_ties_node(&t, 1));
	stmt_forget_node(&t, 1);
	CHECK_EQ_INT(stmt_node_id(&t, a, 1), 0);
	CHECK_EQ_INT(stmt_node_id(&t, b, 1), 0);
	CHECK_EQ_INT(stmt_node_id(&t, a, 0), 7);
	stmt_set_node_id(&t, b, 1, 13);
	CHECK_EQ_INT(stmt_node_id(&t, b, 1), 13);
	CHECK(!stmt_node_types(&t, b, 1));
	stmt_remove(&t, b->id);

	check_case("forget another node: nothing lost there");
	a->long_data_lost = -1;
	stmt_set_long_data(&t, a, 2);
	stmt_forget_node(&t, 0);
	CHECK_EQ_INT(a->long_data, 2);
	CHECK_EQ_INT(a->long_data_lost, -1);
	CHECK_EQ_INT(stmt_node_id(&t, a, 0), 0);
	stmt_table_deinit(&t);
}

/* stmt_ties_node() the long way: every statement asked. */
static bool ties_slowly(const struct stmt_table *t, int node)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct stmt *st = t->items[i];
		if (st->long_data == node || st->cursor == node ||
		    (!st->sql && stmt_node_id(t, st, node)))
			return true;
	}
	return false;
}

/* The table's tie counts against the long way, and each statement's ids
 * and types on each node against a plain model (what the per-statement
 * clearing of stmt_forget_node did before generations), through 20,000
 * random changes of the kinds a session makes. */
static void test_ties_counted(void)
{
	enum { NODES = 3, STEPS = 20000 };
	struct stmt_table t;
	unsigned seed = 12345;
	unsigned mismatches = 0, wrong = 0;
	/* By client id (ids grow by one a prepare, at most one a step). */
	static uint32_t model_id[STEPS + 2][NODES];
	static bool model_types[STEPS + 2][NODES];

	check_case("random adds, removes, long data, cursors, ids, types, lost nodes");
	stmt_table_init(&t, NODES);
	for (int step = 0; step < STEPS; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		int node = (int)(r % NODES);
		struct stmt *st = t.n ? t.items[(r >> 4) % t.n] : NULL;

		switch ((r >> 12) % 9) {
		case 0:
		case 1: /* a prepare; one in four too long to keep */
			if (t.n < 40) {
				uint32_t id = 1 + (r >> 20) % 50;
				struct stmt *added = stmt_add(&t, (const uint8_t *)"SELECT ?",
							      (r >> 16) % 4 ? 8 : STMT_SQL_MAX + 1,
							      node, id, 1, 1, true);
				if (!added) {
					mismatches++;
					break;
				}
				memset(model_id[added->id], 0, sizeof(model_id[0]));
				memset(model_types[added->id], 0, sizeof(model_types[0]));
				model_id[added->id][node] = id;
			}
			break;
		case 2:
			if (st)
				stmt_remove(&t, st->id);
			break;
		case 3:
			if (st)
				stmt_set_long_data(&t, st, (r >> 16) % 2 ? node : -1);
			break;
		case 4:
			if (st)
				stmt_set_cursor(&t, st, (r >> 16) % 2 ? node : -1);
			break;
		case 5:
			if (st) {
				uint32_t id = (r >> 16) % 3 ? 1 + (r >> 18) % 50 : 0;
				stmt_set_node_id(&t, st, node, id);
				if (model_id[st->id][node] != id)
					model_types[st->id][node] = false;
				model_id[st->id][node] = id;
			}
			break;
		case 6:
			if ((r >> 16) % 8 == 0) {
				stmt_forget_node(&t, node);
				for (size_t i = 0; i < t.n; i++) {
					model_id[t.items[i]->id][node] = 0;
					model_types[t.items[i]->id][node] = false;
				}
			}
			break;
		case 8:
			if (st) {
				stmt_set_node_types(&t, st, node);
				if (model_id[st->id][node])
					model_types[st->id][node] = true;
			}
			break;
		case 7:
			if ((r >> 16) % 64 == 0)
				stmt_table_clear(&t);
			break;
		}
		for (int n = 0; n < NODES; n++) {
			if (stmt_ties_node(&t, n) != ties_slowly(&t, n))
				mismatches++;
			for (size_t i = 0; i < t.n; i++) {
				const struct stmt *s = t.items[i];
				if (stmt_node_id(&t, s, n) != model_id[s->id][n] ||
				    stmt_node_types(&t, s, n) != model_types[s->id][n])
					wrong++;
			}
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK_EQ_INT(wrong, 0);
	stmt_table_deinit(&t);
}

static void test_history(void)
{
	struct history h;
	uint64_t v;

	history_init(&h);
	check_case("appends keep order and bump the version");
	CHECK(add(&h, "\x03SET a=1"));
	CHECK(add(&h, "\x03SET b=2"));
	CHECK_EQ_INT(h.n, 2);
	v = h.version;
	CHECK_EQ_INT(h.reorder_version, 0);

	check_case("repeating the last entry changes nothing");
	CHECK(add(&h, "\x03SET b=2"));
	CHECK_EQ_INT(h.version, v);
	CHECK_EQ_INT(h.n, 2);

	check_case("repeating an earlier entry moves it to the end (a reorder)");
	CHECK(add(&h, "\x03SET a=1"));
	CHECK_EQ_INT(h.n, 2);
	CHECK(memcmp(h.items[0].payload, "\x03SET b=2", 8) == 0);
	CHECK(memcmp(h.items[1].payload, "\x03SET a=1", 8) == 0);
	CHECK(h.version > v);
	CHECK_EQ_INT(h.reorder_version, h.version);

	check_case("the entry bound");
	history_clear(&h);
	CHECK_EQ_INT(h.n, 0);
	CHECK_EQ_INT(h.reorder_version, h.version);
	char buf[32];
	for (int i = 0; i < HISTORY_MAX_ENTRIES; i++) {
		snprintf(buf, sizeof(buf), "\x03SET v%d=1", i);
		CHECK(add(&h, buf));
	}
	CHECK(!add(&h, "\x03SET one_more=1"));
	CHECK_EQ_INT(h.n, HISTORY_MAX_ENTRIES);
	CHECK(add(&h, "\x03SET v3=1")); /* a repeat still fits */

	check_case("the byte bound");
	history_clear(&h);
	char *big = malloc(HISTORY_MAX_BYTES);
	if (CHECK(big != NULL)) {
		memset(big, 'x', HISTORY_MAX_BYTES);
		CHECK(history_add(&h, (const uint8_t *)big, HISTORY_MAX_BYTES - 10));
		CHECK(!history_add(&h, (const uint8_t *)big, 11));
		CHECK(history_add(&h, (const uint8_t *)big, 10));
		free(big);
	}
	history_deinit(&h);
	CHECK(h.items == NULL && h.n == 0);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"statement table", test_table},
		{"COM_STMT_EXECUTE rewrite", test_execute_rewrite},
		{"a node's connection lost", test_forget_node},
		{"tie counts against a recount", test_ties_counted},
		{"session-state history", test_history},
	};
	return CHECK_RUN(tests);
}
