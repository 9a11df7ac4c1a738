/*
 * Unit tests for src/router.c: where each kind of statement goes from a
 * fresh session (through the real classifier), what a transaction, autocommit
 * off and hints do, and how pins are taken and released over a sequence of
 * statements.
 */
#include <stdbool.h>
#include <string.h>

#include "routing/classify.h"
#include "mysql/proto.h"
#include "routing/router.h"
#include "check.h"

static struct router_decision route_sql(const struct router_state *st, const char *sql)
{
	struct classify_result c;

	classify(sql, strlen(sql), false, false, &c);
	return router_route(st, &c);
}

/* Run sql as if it succeeded (ok) and return the pin it added. */
static enum router_reason run_sql(struct router_state *st, const char *sql, bool ok)
{
	struct classify_result c;

	classify(sql, strlen(sql), false, false, &c);
	return router_after(st, &c, ok);
}

struct route_case {
	const char *sql;
	enum router_target target;
	enum router_reason reason;
};

/* A fresh autocommit session, no transaction, no pins. */
static const struct route_case fresh_cases[] = {
	{"SELECT * FROM t WHERE id = 1", ROUTER_READER, ROUTER_REASON_none},
	{"select count(*) from t", ROUTER_READER, ROUTER_REASON_none},
	{"SHOW TABLES", ROUTER_READER, ROUTER_REASON_none},
	{"SELECT @@time_zone, @@sql_mode, DATABASE()", ROUTER_READER, ROUTER_REASON_none},
	{"SELECT 1; SELECT 2", ROUTER_READER, ROUTER_REASON_none},
	{"SELECT * FROM t FOR UPDATE", ROUTER_WRITER, ROUTER_REASON_locking_read},
	{"SELECT * FROM t LOCK IN SHARE MODE", ROUTER_WRITER, ROUTER_REASON_locking_read},
	{"SELECT a INTO @x FROM t", ROUTER_WRITER, ROUTER_REASON_select_into},
	{"SELECT GET_LOCK('a', 1)", ROUTER_WRITER, ROUTER_REASON_lock_function},
	{"SELECT NEXTVAL(s)", ROUTER_WRITER, ROUTER_REASON_sequence},
	{"SELECT LAST_INSERT_ID()", ROUTER_WRITER, ROUTER_REASON_last_insert_id},
	{"SELECT FOUND_ROWS()", ROUTER_WRITER, ROUTER_REASON_found_rows},
	{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", ROUTER_WRITER, ROUTER_REASON_found_rows},
	{"SELECT mydb.f(1)", ROUTER_WRITER, ROUTER_REASON_user_function},
	{"SHOW WARNINGS", ROUTER_LAST, ROUTER_REASON_diagnostics},
	{"INSERT INTO t VALUES (1)", ROUTER_WRITER, ROUTER_REASON_none},
	{"UPDATE t SET a = 1", ROUTER_WRITER, ROUTER_REASON_none},
	{"DELETE FROM t", ROUTER_WRITER, ROUTER_REASON_none},
	{"CREATE TABLE t2 (a int)", ROUTER_WRITER, ROUTER_REASON_none},
	{"WITH c AS (SELECT 1) UPDATE t SET a = 1", ROUTER_WRITER, ROUTER_REASON_none},
	{"BEGIN", ROUTER_WRITER, ROUTER_REASON_none},
	{"START TRANSACTION READ ONLY", ROUTER_READER, ROUTER_REASON_none},
	{"SET time_zone = '+05:00'", ROUTER_WRITER, ROUTER_REASON_none},
	{"USE db2", ROUTER_WRITER, ROUTER_REASON_none},
	{"FROBNICATE", ROUTER_WRITER, ROUTER_REASON_unknown},
	{"/* sluice:primary */ SELECT 1", ROUTER_WRITER, ROUTER_REASON_hint},
	{"SELECT 1 -- sluice:reader\n", ROUTER_READER, ROUTER_REASON_hint},
	{"/* sluice: reader */ SELECT * FROM t FOR UPDATE", ROUTER_READER, ROUTER_REASON_hint},
};

static void test_fresh_session(void)
{
	struct router_state st;

	for (size_t i = 0; i < sizeof(fresh_cases) / sizeof(fresh_cases[0]); i++) {
		const struct route_case *c = &fresh_cases[i];
		check_case("%s", c->sql);
		router_init(&st);
		struct router_decision d = route_sql(&st, c->sql);
		CHECK_EQ_STR(router_target_str(d.target), router_target_str(c->target));
		CHECK_EQ_STR(router_reason_str(d.reason), router_reason_str(c->reason));
	}
}

static void test_transaction_and_autocommit(void)
{
	struct router_state st;
	struct router_decision d;

	check_case("inside a transaction everything stays on its node, hints too");
	router_init(&st);
	router_status(&st, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS);
	d = route_sql(&st, "SELECT 1");
	CHECK_EQ_INT(d.target, ROUTER_TRX);
	CHECK_EQ_INT(d.reason, ROUTER_REASON_transaction);
	d = route_sql(&st, "/* sluice:reader */ SELECT 1");
	CHECK_EQ_INT(d.target, ROUTER_TRX);
	d = route_sql(&st, "COMMIT");
	CHECK_EQ_INT(d.target, ROUTER_TRX);

	check_case("after COMMIT the status clears and reads spread again");
	router_status(&st, SERVER_STATUS_AUTOCOMMIT);
	d = route_sql(&st, "SELECT 1");
	CHECK_EQ_INT(d.target, ROUTER_READER);

	check_case("autocommit off: every statement opens a transaction on the writer");
	router_status(&st, 0);
	d = route_sql(&st, "SELECT 1");
	CHECK_EQ_INT(d.target, ROUTER_WRITER);
	CHECK_EQ_INT(d.reason, ROUTER_REASON_autocommit_off);

	check_case("SET TRANSACTION sends the next read-only transaction to the writer");
	router_init(&st);
	CHECK_EQ_INT(run_sql(&st, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", true),
		     ROUTER_REASON_none);
	d = route_sql(&st, "START TRANSACTION READ ONLY");
	CHECK_EQ_INT(d.target, ROUTER_WRITER);
	run_sql(&st, "START TRANSACTION READ ONLY", true);
	run_sql(&st, "COMMIT", true);
	d = route_sql(&st, "START TRANSACTION READ ONLY");
	CHECK_EQ_INT(d.target, ROUTER_READER);
}

struct pin_step {
	const char *sql;
	bool ok;
	enum router_reason added;  /* what router_after returns */
	enum router_reason pinned; /* router_pinned afterwards */
};

static void run_steps(const char *name, const struct pin_step *steps, size_t n)
{
	struct router_state st;

	router_init(&st);
	for (size_t i = 0; i < n; i++) {
		check_case("%s: step %zu: %s", name, i, steps[i].sql);
		CHECK_EQ_STR(router_reason_str(run_sql(&st, steps[i].sql, steps[i].ok)),
			     router_reason_str(steps[i].added));
		CHECK_EQ_STR(router_reason_str(router_pinned(&st)),
			     router_reason_str(steps[i].pinned));
		struct router_decision d = route_sql(&st, "SELECT * FROM t");
		CHECK_EQ_INT(d.target,
			     steps[i].pinned == ROUTER_REASON_none ? ROUTER_READER : ROUTER_WRITER);
	}
}

static void test_pins(void)
{
	static const struct pin_step temp[] = {
		{"CREATE TEMPORARY TABLE tt (a int)", false, ROUTER_REASON_none,
		 ROUTER_REASON_none},
		{"CREATE TEMPORARY TABLE tt (a int)", true, ROUTER_REASON_temporary_table,
		 ROUTER_REASON_temporary_table},
		{"SELECT 1", true, ROUTER_REASON_none, ROUTER_REASON_temporary_table},
		/* The session ends this pin itself (temp_tables.h). */
		{"DROP TEMPORARY TABLE tt", true, ROUTER_REASON_none,
		 ROUTER_REASON_temporary_table},
	};
	static const struct pin_step handlers[] = {
		{"HANDLER t OPEN", true, ROUTER_REASON_handler, ROUTER_REASON_handler},
		{"HANDLER u OPEN", true, ROUTER_REASON_none, ROUTER_REASON_handler},
		{"HANDLER t READ FIRST", true, ROUTER_REASON_none, ROUTER_REASON_handler},
		{"HANDLER t CLOSE", true, ROUTER_REASON_none, ROUTER_REASON_handler},
		{"HANDLER x CLOSE", false, ROUTER_REASON_none, ROUTER_REASON_handler},
		{"HANDLER u CLOSE", true, ROUTER_REASON_none, ROUTER_REASON_none},
	};
	static const struct pin_step call[] = {
		{"CALL p()", false, ROUTER_REASON_none, ROUTER_REASON_none},
		{"CALL p()", true, ROUTER_REASON_procedure_call, ROUTER_REASON_procedure_call},
		{"SELECT 1", true, ROUTER_REASON_none, ROUTER_REASON_procedure_call},
	};
	static const struct pin_step locks[] = {
		{"LOCK TABLES t WRITE", true, ROUTER_REASON_lock_tables, ROUTER_REASON_lock_tables},
		{"UNLOCK TABLES", true, ROUTER_REASON_none, ROUTER_REASON_none},
		{"LOCK TABLES t READ", true, ROUTER_REASON_lock_tables, ROUTER_REASON_lock_tables},
		{"START TRANSACTION", true, ROUTER_REASON_none, ROUTER_REASON_none},
	};
	static const struct pin_step named[] = {
		{"SELECT GET_LOCK('a', 1)", true, ROUTER_REASON_named_lock,
		 ROUTER_REASON_named_lock},
		{"SELECT GET_LOCK('b', 1)", true, ROUTER_REASON_none, ROUTER_REASON_named_lock},
		{"SELECT RELEASE_LOCK('a')", true, ROUTER_REASON_none, ROUTER_REASON_named_lock},
		{"SELECT RELEASE_LOCK('b')", true, ROUTER_REASON_none, ROUTER_REASON_none},
		{"SELECT GET_LOCK('a', 1)", true, ROUTER_REASON_named_lock,
		 ROUTER_REASON_named_lock},
		{"SELECT RELEASE_ALL_LOCKS()", true, ROUTER_REASON_none, ROUTER_REASON_none},
	};
	static const struct pin_step vars[] = {
		{"SET @x = 1", true, ROUTER_REASON_user_variable, ROUTER_REASON_user_variable},
	};
	static const struct pin_step other[] = {
		{"PREPARE s FROM 'SELECT 1'", true, ROUTER_REASON_sql_prepare,
		 ROUTER_REASON_sql_prepare},
		{"XA START 'x'", true, ROUTER_REASON_xa, ROUTER_REASON_sql_prepare},
	};
	static const struct pin_step multi[] = {
		{"SELECT 1; SELECT 2", true, ROUTER_REASON_none, ROUTER_REASON_none},
		{"INSERT INTO t VALUES (1); SELECT 1", true, ROUTER_REASON_multi_statement,
		 ROUTER_REASON_multi_statement},
	};

	run_steps("temporary table", temp, sizeof(temp) / sizeof(temp[0]));
	run_steps("LOCK TABLES", locks, sizeof(locks) / sizeof(locks[0]));
	run_steps("GET_LOCK", named, sizeof(named) / sizeof(named[0]));
	run_steps("user variable", vars, sizeof(vars) / sizeof(vars[0]));
	run_steps("PREPARE and XA", other, sizeof(other) / sizeof(other[0]));
	run_steps("multi-statements", multi, sizeof(multi) / sizeof(multi[0]));
	run_steps("CALL", call, sizeof(call) / sizeof(call[0]));
	run_steps("HANDLER", handlers, sizeof(handlers) / sizeof(handlers[0]));

	struct router_state st;
	check_case("reset releases every pin");
	router_init(&st);
	run_sql(&st, "CREATE TEMPORARY TABLE tt (a int)", true);
	run_sql(&st, "SET @x = 1", true);
	router_pin(&st, ROUTER_REASON_history_full);
	router_reset(&st);
	CHECK_EQ_INT(router_pinned(&st), ROUTER_REASON_none);
	CHECK(st.autocommit);

	check_case("router_unpin ends one pin only");
	run_sql(&st, "CREATE TEMPORARY TABLE tt (a int)", true);
	run_sql(&st, "SET @x = 1", true);
	router_unpin(&st, ROUTER_REASON_temporary_table);
	CHECK_EQ_INT(router_pinned(&st), ROUTER_REASON_user_variable);
	router_reset(&st);

	check_case("router_pin ignores reasons that do not pin");
	router_pin(&st, ROUTER_REASON_locking_read);
	CHECK_EQ_INT(router_pinned(&st), ROUTER_REASON_none);
}

static void test_names(void)
{
	check_case("every reason has a name; pins are flagged");
	for (int r = 0; r < ROUTER_REASON_COUNT; r++)
		CHECK(strcmp(router_reason_str((enum router_reason)r), "?") != 0);
	CHECK_EQ_STR(router_reason_str(ROUTER_REASON_COUNT), "?");
	CHECK(router_reason_pins(ROUTER_REASON_temporary_table));
	CHECK(!router_reason_pins(ROUTER_REASON_locking_read));
}

int main(void)
{
	static const struct check_test tests[] = {
		{"a fresh session routes by statement", test_fresh_session},
		{"transactions and autocommit", test_transaction_and_autocommit},
		{"pins are taken and released", test_pins},
		{"reason names", test_names},
	};
	return CHECK_RUN(tests);
}
