/*
 * tests/data/rw_ps_client.c -- server-side prepared statements through sluice's read/write
 * split, for tests/test_rw_split.py: prints which node ran every execution of a prepared
 * read (SELECT @@wsrep_node_name, ?), a prepared INSERT, a prepared locking read, a prepared
 * read inside a transaction, a NULL and a string parameter, and a read prepared again after
 * COM_STMT_CLOSE.  The Python side checks the values and the spread over the nodes.
 */

/*
 * Usage: rw_ps_client HOST PORT USER PASSWORD DB TABLE
 * TABLE must exist as (id INT PRIMARY KEY, node VARCHAR(64), v BIGINT NULL) and be empty.
 * Output, one line per execution (NODE is @@wsrep_node_name of the node that ran it):
 *   sel I NODE VALUE     100 executions of the prepared read with ? = I * 7 (a BIGINT)
 *   null NODE VALUE      the same statement with ? NULL (VALUE is the word NULL)
 *   str NODE VALUE       the same statement with ? a utf-8 string
 *   ins I                50 executions of the prepared INSERT (id I, v NULL for odd I)
 *   lock NODE            4 executions of a prepared SELECT ... FOR UPDATE
 *   trx NODE             4 executions of the prepared read between BEGIN and COMMIT
 *   resel I NODE VALUE   20 executions after mysql_stmt_close + a new prepare of the read
 * then "rw_ps_client OK" and exit 0.  Any error: "rw_ps_client FAIL: ..." and exit 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#define SELECTS	  100
#define INSERTS	  50
#define RESELECTS 20
#define VALUE_MAX 256

static MYSQL *db;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("rw_ps_client FAIL: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static void check_stmt(MYSQL_STMT *st, int rc, const char *what)
{
	if (rc)
		fail("%s: error %u (%s) %s", what, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
		     mysql_stmt_error(st));
}

static void query(const char *sql)
{
	MYSQL_RES *res;

	if (mysql_query(db, sql))
		fail("%s: error %u %s", sql, mysql_errno(db), mysql_error(db));
	res = mysql_store_result(db);
	if (res)
		mysql_free_result(res);
	else if (mysql_field_count(db))
		fail("%s: store_result: %s", sql, mysql_error(db));
}

static MYSQL_STMT *prepare(const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(db);

	if (!st)
		fail("mysql_stmt_init: out of memory");
	check_stmt(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), sql);
	return st;
}

/* The prepared read: one parameter, two result columns. */
struct reader {
	MYSQL_STMT *st;
	MYSQL_BIND p, r[2];
	long long n;
	char s[VALUE_MAX];
	unsigned long s_len;
	my_bool p_null;
	char node[VALUE_MAX], value[VALUE_MAX];
	unsigned long node_len, value_len;
	my_bool node_null, value_null;
};

static const char *read_sql = "SELECT @@wsrep_node_name, ?";

static void reader_prepare(struct reader *rd)
{
	rd->st = prepare(read_sql);
	if (mysql_stmt_param_count(rd->st) != 1)
		fail("read: param_count %lu, want 1", mysql_stmt_param_count(rd->st));
	memset(rd->r, 0, sizeof rd->r);
	rd->r[0].buffer_type = MYSQL_TYPE_STRING;
	rd->r[0].buffer = rd->node;
	rd->r[0].buffer_length = sizeof rd->node - 1;
	rd->r[0].length = &rd->node_len;
	rd->r[0].is_null = &rd->node_null;
	rd->r[1].buffer_type = MYSQL_TYPE_STRING;
	rd->r[1].buffer = rd->value;
	rd->r[1].buffer_length = sizeof rd->value - 1;
	rd->r[1].length = &rd->value_len;
	rd->r[1].is_null = &rd->value_null;
}

/* Bind the parameter as a BIGINT (null: as NULL) or, with str, as a string. */
static void reader_bind(struct reader *rd, long long n, int null, const char *str)
{
	memset(&rd->p, 0, sizeof rd->p);
	rd->n = n;
	rd->p_null = (my_bool)null;
	if (str) {
		snprintf(rd->s, sizeof rd->s, "%s", str);
		rd->s_len = (unsigned long)strlen(rd->s);
		rd->p.buffer_type = MYSQL_TYPE_STRING;
		rd->p.buffer = rd->s;
		rd->p.length = &rd->s_len;
	} else {
		rd->p.buffer_type = MYSQL_TYPE_LONGLONG;
		rd->p.buffer = &rd->n;
	}
	rd->p.is_null = &rd->p_null;
	check_stmt(rd->st, mysql_stmt_bind_param(rd->st, &rd->p), "bind read param");
}

/* Execute, fetch the one row; prints "tag [I ]NODE VALUE". */
static void reader_run(struct reader *rd, const char *tag, int i)
{
	int rc, rows = 0;

	check_stmt(rd->st, mysql_stmt_execute(rd->st), "execute read");
	check_stmt(rd->st, mysql_stmt_bind_result(rd->st, rd->r), "bind read result");
	while ((rc = mysql_stmt_fetch(rd->st)) == 0) {
		rows++;
		rd->node[rd->node_null ? 0 : rd->node_len] = '\0';
		rd->value[rd->value_null ? 0 : rd->value_len] = '\0';
	}
	if (rc != MYSQL_NO_DATA)
		check_stmt(rd->st, 1, "fetch read");
	if (rows != 1)
		fail("%s %d: %d rows, want 1", tag, i, rows);
	if (i >= 0)
		printf("%s %d %s %s\n", tag, i, rd->node, rd->value_null ? "NULL" : rd->value);
	else
		printf("%s %s %s\n", tag, rd->node, rd->value_null ? "NULL" : rd->value);
	mysql_stmt_free_result(rd->st);
}

static void inserts(const char *table)
{
	char sql[256];
	int id;
	long long v;
	my_bool v_null;
	MYSQL_BIND p[2];
	MYSQL_STMT *st;

	snprintf(sql, sizeof sql,
		 "INSERT INTO %s (id, node, v) VALUES (?, @@wsrep_node_name, ?)", table);
	st = prepare(sql);
	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &id;
	p[1].buffer_type = MYSQL_TYPE_LONGLONG;
	p[1].buffer = &v;
	p[1].is_null = &v_null;
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind insert");
	for (int i = 1; i <= INSERTS; i++) {
		id = i;
		v = (long long)i * 1000;
		v_null = (my_bool)(i % 2);
		check_stmt(st, mysql_stmt_execute(st), "execute insert");
		if (mysql_stmt_affected_rows(st) != 1)
			fail("insert %d: affected_rows %llu", i,
			     (unsigned long long)mysql_stmt_affected_rows(st));
		printf("ins %d\n", i);
	}
	if (mysql_stmt_close(st))
		fail("close insert: %u %s", mysql_errno(db), mysql_error(db));
}

static void locking_reads(const char *table)
{
	char sql[256], node[VALUE_MAX];
	unsigned long node_len;
	my_bool node_null;
	MYSQL_BIND r;
	MYSQL_STMT *st;

	snprintf(sql, sizeof sql, "SELECT @@wsrep_node_name FROM %s WHERE id = 1 FOR UPDATE",
		 table);
	st = prepare(sql);
	memset(&r, 0, sizeof r);
	r.buffer_type = MYSQL_TYPE_STRING;
	r.buffer = node;
	r.buffer_length = sizeof node - 1;
	r.length = &node_len;
	r.is_null = &node_null;
	for (int i = 0; i < 4; i++) {
		int rc, rows = 0;

		check_stmt(st, mysql_stmt_execute(st), "execute locking read");
		check_stmt(st, mysql_stmt_bind_result(st, &r), "bind locking read result");
		while ((rc = mysql_stmt_fetch(st)) == 0) {
			rows++;
			node[node_null ? 0 : node_len] = '\0';
		}
		if (rc != MYSQL_NO_DATA)
			check_stmt(st, 1, "fetch locking read");
		if (rows != 1)
			fail("lock %d: %d rows, want 1", i, rows);
		printf("lock %s\n", node);
		mysql_stmt_free_result(st);
	}
	if (mysql_stmt_close(st))
		fail("close locking read: %u %s", mysql_errno(db), mysql_error(db));
}

int main(int argc, char **argv)
{
	struct reader rd;
	unsigned int timeout = 60;

	if (argc != 7) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB TABLE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	db = mysql_init(NULL);
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, 0))
		fail("connect: %u %s", mysql_errno(db), mysql_error(db));

	memset(&rd, 0, sizeof rd);
	reader_prepare(&rd);
	for (int i = 1; i <= SELECTS; i++) {
		reader_bind(&rd, (long long)i * 7, 0, NULL);
		reader_run(&rd, "sel", i);
	}
	reader_bind(&rd, 0, 1, NULL);
	reader_run(&rd, "null", -1);
	reader_bind(&rd, 0, 0, "h\xc3\xa9llo-\xf0\x9f\x98\x80"); /* é and U+1F600 */
	reader_run(&rd, "str", -1);

	inserts(argv[6]);
	locking_reads(argv[6]);

	query("BEGIN");
	reader_bind(&rd, 1, 0, NULL);
	for (int i = 0; i < 4; i++)
		reader_run(&rd, "trx", -1);
	query("COMMIT");

	if (mysql_stmt_close(rd.st))
		fail("close read: %u %s", mysql_errno(db), mysql_error(db));
	memset(&rd, 0, sizeof rd);
	reader_prepare(&rd);
	for (int i = 1; i <= RESELECTS; i++) {
		reader_bind(&rd, (long long)i * 11, 0, NULL);
		reader_run(&rd, "resel", i);
	}
	if (mysql_stmt_close(rd.st))
		fail("close read again: %u %s", mysql_errno(db), mysql_error(db));
	mysql_close(db);
	puts("rw_ps_client OK");
	return 0;
}
