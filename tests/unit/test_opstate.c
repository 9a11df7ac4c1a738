/*
 * Unit tests for src/opstate.c: parsing the operator state file (comments,
 * blank lines, every error with its line), setting and clearing states,
 * and a save/load round trip through a real file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor/opstate.h"
#include "check.h"

struct parse_case {
	const char *name;
	const char *text;
	const char *error; /* NULL: parses */
	size_t n;
};

static const struct parse_case parse_cases[] = {
	{"empty", "", NULL, 0},
	{"comments and blanks", "# header\n\n   \n# more\n", NULL, 0},
	{"two nodes", "main db2 drain\nmain db3 maintenance\n", NULL, 2},
	{"no final newline, trailing comment", "main db2 drain # for the upgrade", NULL, 1},
	{"tabs", "main\tdb2\t drain\n", NULL, 1},
	{"a repeated node: the last line wins", "main db2 drain\nmain db2 maintenance\n", NULL, 1},
	{"missing state", "main db2\n", "line 1: expected", 0},
	{"extra word", "main db2 drain now\n", "line 1: expected", 0},
	{"ready is not written", "# x\nmain db2 ready\n", "line 2: unknown state 'ready'", 0},
	{"unknown state", "main db2 off\n", "line 1: unknown state 'off'", 0},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct opstate st = {0};
		char err[160] = "";
		bool ok;

		check_case("%s", c->name);
		ok = opstate_parse(c->text, strlen(c->text), &st, err, sizeof(err));
		if (c->error) {
			CHECK(!ok);
			CHECK_STR_CONTAINS(err, c->error);
		} else if (CHECK(ok)) {
			CHECK_EQ_INT(st.n, c->n);
		}
		opstate_deinit(&st);
	}

	static const char text[] = "main db2 drain\nmain db2 maintenance\nother db2 drain\n";
	struct opstate st = {0};
	char err[160];
	check_case("values");
	if (CHECK(opstate_parse(text, strlen(text), &st, err, sizeof(err)))) {
		CHECK_EQ_INT(opstate_get(&st, "main", "db2"), NODE_ADMIN_MAINTENANCE);
		CHECK_EQ_INT(opstate_get(&st, "other", "db2"), NODE_ADMIN_DRAIN);
		CHECK_EQ_INT(opstate_get(&st, "main", "db1"), NODE_ADMIN_READY);
	}
	opstate_deinit(&st);
}

static void test_set_and_file(void)
{
	struct opstate st = {0}, back = {0};
	char path[] = "/tmp/sluice-opstate-XXXXXX";
	char err[300];
	int fd = mkstemp(path);

	check_case("set, clear, save, load");
	if (!CHECK(fd >= 0))
		return;
	close(fd);
	CHECK(opstate_set(&st, "main", "db1", NODE_ADMIN_DRAIN));
	CHECK(opstate_set(&st, "main", "db2", NODE_ADMIN_MAINTENANCE));
	CHECK(opstate_set(&st, "main", "db1", NODE_ADMIN_MAINTENANCE));
	CHECK(opstate_set(&st, "main", "db3", NODE_ADMIN_READY)); /* not listed: a no-op */
	CHECK_EQ_INT(st.n, 2);
	CHECK(opstate_set(&st, "main", "db2", NODE_ADMIN_READY));
	CHECK_EQ_INT(st.n, 1);
	CHECK(opstate_save(path, &st, err, sizeof(err)));
	if (CHECK(opstate_load(path, &back, err, sizeof(err)))) {
		CHECK_EQ_INT(back.n, 1);
		CHECK_EQ_INT(opstate_get(&back, "main", "db1"), NODE_ADMIN_MAINTENANCE);
	}
	opstate_deinit(&back);

	check_case("a missing file is an empty state; a bad one an error naming the file");
	unlink(path);
	CHECK(opstate_load(path, &back, err, sizeof(err)));
	CHECK_EQ_INT(back.n, 0);
	FILE *f = fopen(path, "w");
	if (CHECK(f != NULL)) {
		fputs("main db1\n", f);
		fclose(f);
		CHECK(!opstate_load(path, &back, err, sizeof(err)));
		CHECK_STR_CONTAINS(err, path);
		CHECK_STR_CONTAINS(err, "line 1");
	}
	unlink(path);
	opstate_deinit(&back);
	opstate_deinit(&st);

	check_case("names");
	CHECK_EQ_STR(node_admin_str(NODE_ADMIN_DRAIN), "drain");
	enum node_admin a;
	CHECK(node_admin_parse("maintenance", &a) && a == NODE_ADMIN_MAINTENANCE);
	CHECK(!node_admin_parse("Drain", &a));
}

int main(void)
{
	static const struct check_test tests[] = {
		{"parsing the state file", test_parse},
		{"setting states, saving and loading", test_set_and_file},
	};
	return CHECK_RUN(tests);
}
