/*
 * tests/data/capi_client.c -- the rarer protocol commands through MariaDB Connector/C for
 * tests/test_mysql_protocol.py: COM_PING, COM_STATISTICS, COM_FIELD_LIST, COM_SET_OPTION
 * (multi-statements off/on/off), COM_RESET_CONNECTION, COM_INIT_DB and COM_QUIT.
 */

/*
 * Usage: capi_client HOST PORT USER PASSWORD DB TABLE
 * TABLE must exist with columns (a INT, b VARCHAR(10), c_text TEXT).  Prints one
 * "capi_client OK ..." line and exits 0, or prints the first mismatch and exits 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

static MYSQL *db;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("capi_client FAIL: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

/* Run one statement that must succeed and return a single value; returns it (static). */
static const char *value(const char *sql)
{
	static char buf[256];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(db, sql))
		fail("%s: error %u %s", sql, mysql_errno(db), mysql_error(db));
	res = mysql_store_result(db);
	if (!res)
		fail("%s: no result set", sql);
	row = mysql_fetch_row(res);
	if (!row)
		fail("%s: no row", sql);
	snprintf(buf, sizeof buf, "%s", row[0] ? row[0] : "NULL");
	mysql_free_result(res);
	return buf;
}

static void expect_value(const char *sql, const char *want)
{
	const char *got = value(sql);
	if (strcmp(got, want))
		fail("%s: got '%s', want '%s'", sql, got, want);
}

static void expect_error(const char *sql, unsigned err)
{
	if (mysql_query(db, sql) == 0) {
		MYSQL_RES *res = mysql_store_result(db);
		if (res)
			mysql_free_result(res);
		fail("%s: succeeded, want error %u", sql, err);
	}
	if (mysql_errno(db) != err)
		fail("%s: error %u (%s), want %u", sql, mysql_errno(db), mysql_error(db), err);
}

static void field_list(const char *table)
{
	static const char *names[] = {"a", "b", "c_text"};
	static const enum enum_field_types types[] = {MYSQL_TYPE_LONG, MYSQL_TYPE_VAR_STRING,
						      MYSQL_TYPE_BLOB};
	MYSQL_RES *res = mysql_list_fields(db, table, NULL);

	if (!res)
		fail("COM_FIELD_LIST %s: error %u %s", table, mysql_errno(db), mysql_error(db));
	if (mysql_num_fields(res) != 3)
		fail("COM_FIELD_LIST %s: %u fields, want 3", table, mysql_num_fields(res));
	for (unsigned i = 0; i < 3; i++) {
		MYSQL_FIELD *f = mysql_fetch_field_direct(res, i);
		if (strcmp(f->name, names[i]) || f->type != types[i] || strcmp(f->table, table))
			fail("COM_FIELD_LIST field %u: %s.%s type %d, want %s.%s type %d", i, f->table,
			     f->name, f->type, table, names[i], types[i]);
	}
	mysql_free_result(res);

	res = mysql_list_fields(db, table, "c%");
	if (!res)
		fail("COM_FIELD_LIST %s c%%: error %u %s", table, mysql_errno(db), mysql_error(db));
	if (mysql_num_fields(res) != 1 || strcmp(mysql_fetch_field_direct(res, 0)->name, "c_text"))
		fail("COM_FIELD_LIST with wildcard c%%: %u fields", mysql_num_fields(res));
	mysql_free_result(res);

	/* A missing table is an error reply, and the connection goes on. */
	if (mysql_list_fields(db, "capi_client_no_such_table", NULL))
		fail("COM_FIELD_LIST of a missing table succeeded");
	if (mysql_errno(db) != 1146)
		fail("COM_FIELD_LIST of a missing table: error %u, want 1146", mysql_errno(db));
	expect_value("SELECT 1", "1");
}

static void multi_statements(void)
{
	const char *multi = "SELECT 1 AS x; SELECT 2 AS y, 3 AS z";
	MYSQL_RES *res;
	MYSQL_ROW row;

	/* Connected without CLIENT_MULTI_STATEMENTS: a batch is a syntax error. */
	expect_error(multi, 1064);
	if (mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_ON))
		fail("COM_SET_OPTION on: error %u %s", mysql_errno(db), mysql_error(db));
	if (mysql_query(db, multi))
		fail("multi-statement after COM_SET_OPTION: error %u %s", mysql_errno(db),
		     mysql_error(db));
	res = mysql_store_result(db);
	if (!res || mysql_num_fields(res) != 1 || !(row = mysql_fetch_row(res)) ||
	    strcmp(row[0], "1"))
		fail("multi-statement: first result wrong");
	mysql_free_result(res);
	if (!mysql_more_results(db) || mysql_next_result(db) != 0)
		fail("multi-statement: no second result (%s)", mysql_error(db));
	res = mysql_store_result(db);
	if (!res || mysql_num_fields(res) != 2 || !(row = mysql_fetch_row(res)) ||
	    strcmp(row[0], "2") || strcmp(row[1], "3"))
		fail("multi-statement: second result wrong");
	mysql_free_result(res);
	if (mysql_next_result(db) != -1)
		fail("multi-statement: more than two results");
	if (mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_OFF))
		fail("COM_SET_OPTION off: error %u %s", mysql_errno(db), mysql_error(db));
	expect_error(multi, 1064);
}

static void reset_connection(const char *dbname)
{
	if (mysql_query(db, "SET @capi_v = 42") ||
	    mysql_query(db, "CREATE TEMPORARY TABLE capi_tmp (a INT)") ||
	    mysql_query(db, "INSERT INTO capi_tmp VALUES (1)"))
		fail("before reset: error %u %s", mysql_errno(db), mysql_error(db));
	expect_value("SELECT @capi_v", "42");
	expect_value("SELECT COUNT(*) FROM capi_tmp", "1");
	if (mysql_reset_connection(db))
		fail("COM_RESET_CONNECTION: error %u %s", mysql_errno(db), mysql_error(db));
	expect_value("SELECT @capi_v IS NULL", "1");
	expect_error("SELECT COUNT(*) FROM capi_tmp", 1146);
	expect_value("SELECT DATABASE()", dbname); /* the schema survives a reset */
}

static void init_db(const char *dbname)
{
	if (mysql_select_db(db, "capi_client_no_such_db") == 0)
		fail("COM_INIT_DB of a missing database succeeded");
	if (mysql_errno(db) != 1049 || strcmp(mysql_sqlstate(db), "42000"))
		fail("COM_INIT_DB of a missing database: error %u (%s), want 1049 (42000)",
		     mysql_errno(db), mysql_sqlstate(db));
	expect_value("SELECT DATABASE()", dbname);
	if (mysql_select_db(db, "information_schema"))
		fail("COM_INIT_DB information_schema: %s", mysql_error(db));
	expect_value("SELECT DATABASE()", "information_schema");
	if (mysql_select_db(db, dbname))
		fail("COM_INIT_DB %s: %s", dbname, mysql_error(db));
	expect_value("SELECT DATABASE()", dbname);
}

int main(int argc, char **argv)
{
	const char *stat;

	if (argc != 7) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB TABLE\n", argv[0]);
		return 2;
	}
	db = mysql_init(NULL);
	unsigned int timeout = 30;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, 0))
		fail("connect: error %u %s", mysql_errno(db), mysql_error(db));

	if (mysql_ping(db))
		fail("COM_PING: error %u %s", mysql_errno(db), mysql_error(db));
	stat = mysql_stat(db);
	if (!stat || strncmp(stat, "Uptime: ", 8) || !strstr(stat, "Threads: "))
		fail("COM_STATISTICS: '%s' (%s)", stat ? stat : "(null)", mysql_error(db));
	field_list(argv[6]);
	multi_statements();
	reset_connection(argv[5]);
	init_db(argv[5]);
	if (mysql_ping(db))
		fail("COM_PING at the end: error %u %s", mysql_errno(db), mysql_error(db));
	mysql_close(db); /* COM_QUIT */
	printf("capi_client OK ping statistics field_list set_option reset_connection init_db "
	       "quit\n");
	return 0;
}
