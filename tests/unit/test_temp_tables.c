/* A session's temporary tables (routing/temp_tables.c): the set empties only
 * when every table it knows was dropped, and errs towards keeping the pin. */
#include "check.h"

#include "routing/temp_tables.h"

static bool create(struct temp_tables *t, const uint64_t *keys, size_t n)
{
	temp_tables_pending(t, keys, n, true);
	return temp_tables_done(t, true);
}

static bool drop(struct temp_tables *t, const uint64_t *keys, size_t n)
{
	temp_tables_pending(t, keys, n, false);
	return temp_tables_done(t, false);
}

static void test_create_and_drop(void)
{
	struct temp_tables t = {0};
	uint64_t a = 11, b = 22, c = 33, ab[] = {11, 22};

	CHECK(!create(&t, &a, 1));
	CHECK(!create(&t, &b, 1));
	CHECK(!drop(&t, &c, 1)); /* not one of ours: nothing changes */
	CHECK_EQ_INT(t.n, 2);
	CHECK(!drop(&t, &a, 1));
	CHECK(drop(&t, &b, 1));
	/* Two at once. */
	CHECK(!create(&t, &a, 1));
	CHECK(!create(&t, &b, 1));
	CHECK(drop(&t, ab, 2));
}

static void test_created_twice(void)
{
	struct temp_tables t = {0};
	uint64_t a = 11;

	/* CREATE ... IF NOT EXISTS of a table that exists: counted twice, so
	 * one DROP does not end the pin (longer, never shorter). */
	CHECK(!create(&t, &a, 1));
	CHECK(!create(&t, &a, 1));
	CHECK(!drop(&t, &a, 1));
	CHECK(drop(&t, &a, 1));
}

static void test_failed_statements(void)
{
	struct temp_tables t = {0};
	uint64_t a = 11;

	CHECK(!create(&t, &a, 1));
	temp_tables_pending(&t, &a, 1, false);
	temp_tables_forget_pending(&t); /* the DROP failed */
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(t.n_pending, 0);
	CHECK(drop(&t, &a, 1));
}

static void test_lost(void)
{
	struct temp_tables t = {0};
	uint64_t keys[TEMP_TABLES_MAX + 1];

	for (size_t i = 0; i < TEMP_TABLES_MAX + 1; i++)
		keys[i] = 100 + i;
	/* A CREATE whose name could not be read. */
	CHECK(!create(&t, keys, 0));
	CHECK(t.lost);
	CHECK(!drop(&t, keys, 1));

	/* More tables than kept. */
	struct temp_tables u = {0};
	for (size_t i = 0; i < TEMP_TABLES_MAX; i++)
		CHECK(!create(&u, &keys[i], 1));
	CHECK(!u.lost);
	CHECK(!create(&u, &keys[TEMP_TABLES_MAX], 1));
	CHECK(u.lost);
	CHECK(!drop(&u, keys, TEMP_TABLES_MAX + 1));

	/* A CREATE that names more than TEMP_TABLES_MAX (never, but counted). */
	struct temp_tables v = {0};
	CHECK(!create(&v, keys, TEMP_TABLES_MAX + 1));
	CHECK(v.lost);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"create and drop", test_create_and_drop},
		{"created twice", test_created_twice},
		{"failed statements", test_failed_statements},
		{"lost", test_lost},
	};
	return CHECK_RUN(tests);
}
