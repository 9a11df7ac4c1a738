/*
 * tests/data/ps_client.c -- server-side prepared statements through MariaDB Connector/C for
 * tests/test_mysql_protocol.py: a binary-protocol INSERT executed 100 times with NULLs, 1 MiB of
 * COM_STMT_SEND_LONG_DATA, a prepared SELECT compared value by value, and a read-only cursor
 * (COM_STMT_FETCH, 10 rows at a time) over 1000 rows with other commands interleaved.
 */

/*
 * Usage: ps_client HOST PORT USER PASSWORD DB TABLE [INIT_COMMAND]
 * Creates TABLE and TABLE_c (the caller drops them).  Prints one "ps_client OK ..." line and
 * exits 0 when every value matched; prints the first mismatch and exits 1 otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#define ROWS	     100
#define LONG_ID	     1000
#define LONG_SIZE    (1024 * 1024)
#define LONG_CHUNK   (64 * 1024)
#define CURSOR_ROWS  1000
#define PREFETCH     10

static MYSQL *db;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ps_client FAIL: ", stdout);
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

/* One text-protocol query returning a single value, as a string (static buffer). */
static const char *query_value(const char *sql)
{
	static char buf[256];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(db, sql))
		fail("%s: error %u %s", sql, mysql_errno(db), mysql_error(db));
	res = mysql_store_result(db);
	if (!res || !(row = mysql_fetch_row(res)) || !row[0])
		fail("%s: no value", sql);
	snprintf(buf, sizeof buf, "%s", row[0]);
	mysql_free_result(res);
	return buf;
}

/* ---- the rows: every value is a function of the id --------------------------------------- */

static int n_is_null(int i) { return i % 3 == 0; }
static int d_is_null(int i) { return i % 4 == 0; }
static int s_is_null(int i) { return i % 5 == 0; }
static int t_is_null(int i) { return i % 7 == 0; }
static int b_is_null(int i) { return i % 2 == 0; }

static long long n_value(int i) { return (long long)i * 1000000007LL * (i % 2 ? -1 : 1); }
static double d_value(int i) { return i + 0.25; }

static void s_value(int i, char *out, size_t size)
{
	snprintf(out, size, "row-%d-\xc3\xbc\xf0\x9f\x98\x80", i); /* ü and U+1F600 in UTF-8 */
}

static void t_value(int i, MYSQL_TIME *t)
{
	memset(t, 0, sizeof *t);
	t->year = 2024;
	t->month = 1 + i % 12;
	t->day = 1 + i % 28;
	t->hour = i % 24;
	t->minute = 34;
	t->second = 56;
	t->second_part = (unsigned long)i * 1000 + 7;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

static size_t b_value(int i, unsigned char *out)
{
	for (int k = 0; k < i; k++)
		out[k] = (unsigned char)(i * 7 + k); /* includes 0x00 bytes */
	return (size_t)i;
}

static unsigned char long_byte(size_t k) { return (unsigned char)(k * 31 + (k >> 8)); }

/* ---- parts ---------------------------------------------------------------------------------- */

static int nulls_sent;

static void insert_rows(const char *table)
{
	char sql[256], s[64];
	unsigned char b[ROWS];
	int id;
	long long n;
	double d;
	MYSQL_TIME t;
	unsigned long s_len, b_len;
	my_bool nn, dn, sn, tn, bn;
	MYSQL_BIND p[6];
	MYSQL_STMT *st = mysql_stmt_init(db);

	snprintf(sql, sizeof sql, "INSERT INTO %s (id, n, d, s, t, b) VALUES (?, ?, ?, ?, ?, ?)",
		 table);
	check_stmt(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), "prepare insert");
	if (mysql_stmt_param_count(st) != 6)
		fail("insert: param_count %lu, want 6", mysql_stmt_param_count(st));

	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &id;
	p[1].buffer_type = MYSQL_TYPE_LONGLONG;
	p[1].buffer = &n;
	p[1].is_null = &nn;
	p[2].buffer_type = MYSQL_TYPE_DOUBLE;
	p[2].buffer = &d;
	p[2].is_null = &dn;
	p[3].buffer_type = MYSQL_TYPE_STRING;
	p[3].buffer = s;
	p[3].length = &s_len;
	p[3].is_null = &sn;
	p[4].buffer_type = MYSQL_TYPE_DATETIME;
	p[4].buffer = &t;
	p[4].is_null = &tn;
	p[5].buffer_type = MYSQL_TYPE_BLOB;
	p[5].buffer = b;
	p[5].length = &b_len;
	p[5].is_null = &bn;
	/* Bound once: executions 2..100 are sent with new-params-bound = 0, i.e. without the
	 * parameter types, which the server remembers from the first execution. */
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind insert");

	for (int i = 1; i <= ROWS; i++) {
		id = i;
		nn = n_is_null(i);
		n = n_value(i);
		dn = d_is_null(i);
		d = d_value(i);
		sn = s_is_null(i);
		s_value(i, s, sizeof s);
		s_len = (unsigned long)strlen(s);
		tn = t_is_null(i);
		t_value(i, &t);
		bn = b_is_null(i);
		b_len = (unsigned long)b_value(i, b);
		nulls_sent += nn + dn + sn + tn + bn;
		check_stmt(st, mysql_stmt_execute(st), "execute insert");
		if (mysql_stmt_affected_rows(st) != 1)
			fail("insert %d: affected_rows %llu", i,
			     (unsigned long long)mysql_stmt_affected_rows(st));
	}

	/* A failing execution returns the server's error and leaves the statement usable. */
	id = 1;
	if (mysql_stmt_execute(st) == 0)
		fail("duplicate id 1 was accepted");
	if (mysql_stmt_errno(st) != 1062 || strcmp(mysql_stmt_sqlstate(st), "23000"))
		fail("duplicate id: error %u (%s), want 1062 (23000)", mysql_stmt_errno(st),
		     mysql_stmt_sqlstate(st));
	mysql_stmt_close(st);
}

static void insert_long_data(const char *table)
{
	char sql[256];
	int id = LONG_ID;
	const char *s = "long";
	unsigned long s_len = 4;
	my_bool is_null = 1;
	MYSQL_BIND p[6];
	unsigned char *chunk = malloc(LONG_CHUNK);
	MYSQL_STMT *st = mysql_stmt_init(db);

	snprintf(sql, sizeof sql, "INSERT INTO %s (id, n, d, s, t, b) VALUES (?, 42, ?, ?, ?, ?)",
		 table);
	check_stmt(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), "prepare long");
	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &id;
	p[1].buffer_type = MYSQL_TYPE_NULL; /* NULL by type, not by indicator */
	p[2].buffer_type = MYSQL_TYPE_STRING;
	p[2].buffer = (void *)s;
	p[2].length = &s_len;
	p[3].buffer_type = MYSQL_TYPE_DATETIME;
	p[3].is_null = &is_null;
	p[4].buffer_type = MYSQL_TYPE_LONG_BLOB;
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind long");
	/* COM_STMT_SEND_LONG_DATA: 16 packets, no reply to any of them. */
	for (size_t off = 0; off < LONG_SIZE; off += LONG_CHUNK) {
		for (size_t k = 0; k < LONG_CHUNK; k++)
			chunk[k] = long_byte(off + k);
		check_stmt(st, mysql_stmt_send_long_data(st, 4, (const char *)chunk, LONG_CHUNK),
			   "send_long_data");
	}
	check_stmt(st, mysql_stmt_execute(st), "execute long");
	if (mysql_stmt_affected_rows(st) != 1)
		fail("long insert: affected_rows %llu",
		     (unsigned long long)mysql_stmt_affected_rows(st));
	mysql_stmt_close(st);
	free(chunk);
}

static int select_rows(const char *table)
{
	char sql[256], s[64], want_s[64];
	unsigned char b[ROWS], want_b[ROWS];
	int id, lo = 1, hi = ROWS, rows = 0, rc;
	long long n;
	double d;
	MYSQL_TIME t, want_t;
	unsigned long s_len, b_len;
	my_bool nn, dn, sn, tn, bn;
	MYSQL_BIND p[2], r[6];
	MYSQL_STMT *st = mysql_stmt_init(db);

	snprintf(sql, sizeof sql,
		 "SELECT id, n, d, s, t, b FROM %s WHERE id BETWEEN ? AND ? ORDER BY id", table);
	check_stmt(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), "prepare select");
	if (mysql_stmt_field_count(st) != 6)
		fail("select: field_count %u", mysql_stmt_field_count(st));
	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &lo;
	p[1].buffer_type = MYSQL_TYPE_LONG;
	p[1].buffer = &hi;
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind select params");
	memset(r, 0, sizeof r);
	r[0].buffer_type = MYSQL_TYPE_LONG;
	r[0].buffer = &id;
	r[1].buffer_type = MYSQL_TYPE_LONGLONG;
	r[1].buffer = &n;
	r[1].is_null = &nn;
	r[2].buffer_type = MYSQL_TYPE_DOUBLE;
	r[2].buffer = &d;
	r[2].is_null = &dn;
	r[3].buffer_type = MYSQL_TYPE_STRING;
	r[3].buffer = s;
	r[3].buffer_length = sizeof s;
	r[3].length = &s_len;
	r[3].is_null = &sn;
	r[4].buffer_type = MYSQL_TYPE_DATETIME;
	r[4].buffer = &t;
	r[4].is_null = &tn;
	r[5].buffer_type = MYSQL_TYPE_BLOB;
	r[5].buffer = b;
	r[5].buffer_length = sizeof b;
	r[5].length = &b_len;
	r[5].is_null = &bn;
	check_stmt(st, mysql_stmt_execute(st), "execute select");
	check_stmt(st, mysql_stmt_bind_result(st, r), "bind select result");
	check_stmt(st, mysql_stmt_store_result(st), "store select");
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		int i = ++rows;
		if (id != i)
			fail("select row %d: id %d", i, id);
		if (nn != n_is_null(i) || (!nn && n != n_value(i)))
			fail("row %d: n null=%d value=%lld", i, nn, n);
		if (dn != d_is_null(i) || (!dn && d != d_value(i)))
			fail("row %d: d null=%d value=%.17g", i, dn, d);
		s_value(i, want_s, sizeof want_s);
		if (sn != s_is_null(i) ||
		    (!sn && (s_len != strlen(want_s) || memcmp(s, want_s, s_len))))
			fail("row %d: s null=%d '%.*s'", i, sn, (int)s_len, s);
		t_value(i, &want_t);
		if (tn != t_is_null(i) ||
		    (!tn && (t.year != want_t.year || t.month != want_t.month ||
			     t.day != want_t.day || t.hour != want_t.hour ||
			     t.minute != want_t.minute || t.second != want_t.second ||
			     t.second_part != want_t.second_part)))
			fail("row %d: t null=%d %04u-%02u-%02u %02u:%02u:%02u.%06lu", i, tn, t.year,
			     t.month, t.day, t.hour, t.minute, t.second, t.second_part);
		size_t want_len = b_value(i, want_b);
		if (bn != b_is_null(i) || (!bn && (b_len != want_len || memcmp(b, want_b, b_len))))
			fail("row %d: b null=%d len=%lu", i, bn, b_len);
	}
	if (rc != MYSQL_NO_DATA)
		check_stmt(st, rc, "fetch select");
	if (rows != ROWS)
		fail("select returned %d rows, want %d", rows, ROWS);
	mysql_stmt_close(st);
	return rows;
}

static unsigned long select_long_data(const char *table)
{
	char sql[256];
	int id = LONG_ID;
	unsigned long len = 0;
	unsigned char *buf = malloc(2 * LONG_SIZE);
	MYSQL_BIND p[1], r[1];
	MYSQL_STMT *st = mysql_stmt_init(db);

	snprintf(sql, sizeof sql, "SELECT b FROM %s WHERE id = ?", table);
	check_stmt(st, mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)), "prepare long sel");
	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &id;
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind long sel");
	memset(r, 0, sizeof r);
	r[0].buffer_type = MYSQL_TYPE_LONG_BLOB;
	r[0].buffer = buf;
	r[0].buffer_length = 2 * LONG_SIZE;
	r[0].length = &len;
	check_stmt(st, mysql_stmt_execute(st), "execute long sel");
	check_stmt(st, mysql_stmt_bind_result(st, r), "bind long sel result");
	check_stmt(st, mysql_stmt_fetch(st), "fetch long sel");
	if (len != LONG_SIZE)
		fail("long data came back with %lu bytes, want %d", len, LONG_SIZE);
	for (size_t k = 0; k < LONG_SIZE; k++)
		if (buf[k] != long_byte(k))
			fail("long data differs at byte %zu", k);
	if (mysql_stmt_fetch(st) != MYSQL_NO_DATA)
		fail("long sel: more than one row");
	mysql_stmt_close(st);
	free(buf);
	return len;
}

/* Fetch through a server-side read-only cursor: COM_STMT_EXECUTE with the cursor flag, then
 * COM_STMT_FETCH for PREFETCH rows at a time.  Halfway through, other commands run on the same
 * connection while the cursor stays open.  Returns the rows seen. */
static int cursor_rows(MYSQL_STMT *st, int after, int interleave)
{
	int id, rows = 0, rc;
	char v[64], want[64];
	unsigned long v_len;
	unsigned int status = 0;
	MYSQL_BIND p[1], r[2];

	memset(p, 0, sizeof p);
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &after;
	check_stmt(st, mysql_stmt_bind_param(st, p), "bind cursor");
	check_stmt(st, mysql_stmt_execute(st), "execute cursor");
	mariadb_get_infov(db, MARIADB_CONNECTION_SERVER_STATUS, &status);
	if (!(status & SERVER_STATUS_CURSOR_EXISTS))
		fail("no cursor opened: server status 0x%x", status);
	memset(r, 0, sizeof r);
	r[0].buffer_type = MYSQL_TYPE_LONG;
	r[0].buffer = &id;
	r[1].buffer_type = MYSQL_TYPE_STRING;
	r[1].buffer = v;
	r[1].buffer_length = sizeof v;
	r[1].length = &v_len;
	check_stmt(st, mysql_stmt_bind_result(st, r), "bind cursor result");
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		int i = after + ++rows;
		snprintf(want, sizeof want, "value-%d", i);
		if (id != i || v_len != strlen(want) || memcmp(v, want, v_len))
			fail("cursor row %d: id %d v '%.*s'", i, id, (int)v_len, v);
		if (interleave && rows == CURSOR_ROWS / 2) {
			/* The cursor lives on one backend connection: these must not disturb it. */
			if (strcmp(query_value("SELECT 6 * 7"), "42"))
				fail("interleaved query gave a wrong answer");
			if (strcmp(query_value("SELECT @@in_transaction"), "0"))
				fail("interleaved: a transaction is open");
		}
	}
	if (rc != MYSQL_NO_DATA)
		check_stmt(st, rc, "fetch cursor");
	return rows;
}

int main(int argc, char **argv)
{
	char sql[512], ctable[128];
	unsigned long long_len;
	int selected, crows, crows2;
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = PREFETCH;

	if (argc < 7) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB TABLE [INIT_COMMAND]\n",
			argv[0]);
		return 2;
	}
	const char *table = argv[6];
	snprintf(ctable, sizeof ctable, "%s_c", table);

	db = mysql_init(NULL);
	unsigned int timeout = 30;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (argc > 7)
		mysql_options(db, MYSQL_INIT_COMMAND, argv[7]);
	if (!mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, 0))
		fail("connect: error %u %s", mysql_errno(db), mysql_error(db));

	snprintf(sql, sizeof sql,
		 "CREATE TABLE %s (id INT PRIMARY KEY, n BIGINT NULL, d DOUBLE NULL, "
		 "s VARCHAR(64) NULL, t DATETIME(6) NULL, b LONGBLOB NULL) CHARSET utf8mb4",
		 table);
	query(sql);
	insert_rows(table);
	insert_long_data(table);
	selected = select_rows(table);
	long_len = select_long_data(table);

	/* Preparing a statement on a missing table fails at prepare time. */
	MYSQL_STMT *bad = mysql_stmt_init(db);
	const char *bad_sql = "SELECT * FROM ps_client_no_such_table";
	if (mysql_stmt_prepare(bad, bad_sql, (unsigned long)strlen(bad_sql)) == 0)
		fail("prepare of a missing table succeeded");
	if (mysql_stmt_errno(bad) != 1146)
		fail("prepare of a missing table: error %u, want 1146", mysql_stmt_errno(bad));
	mysql_stmt_close(bad);

	snprintf(sql, sizeof sql, "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(32))", ctable);
	query(sql);
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s SELECT seq, CONCAT('value-', seq) FROM seq_1_to_%d", ctable,
		 CURSOR_ROWS);
	query(sql);
	MYSQL_STMT *cur = mysql_stmt_init(db);
	snprintf(sql, sizeof sql, "SELECT id, v FROM %s WHERE id > ? ORDER BY id", ctable);
	check_stmt(cur, mysql_stmt_prepare(cur, sql, (unsigned long)strlen(sql)), "prepare cursor");
	check_stmt(cur, mysql_stmt_attr_set(cur, STMT_ATTR_CURSOR_TYPE, &type), "cursor type");
	check_stmt(cur, mysql_stmt_attr_set(cur, STMT_ATTR_PREFETCH_ROWS, &prefetch), "prefetch");
	crows = cursor_rows(cur, 0, 1);
	if (crows != CURSOR_ROWS)
		fail("cursor returned %d rows, want %d", crows, CURSOR_ROWS);
	/* COM_STMT_RESET, then the same statement again with another parameter. */
	check_stmt(cur, mysql_stmt_reset(cur), "reset cursor");
	crows2 = cursor_rows(cur, CURSOR_ROWS - 25, 0);
	if (crows2 != 25)
		fail("cursor after reset returned %d rows, want 25", crows2);
	mysql_stmt_close(cur); /* COM_STMT_CLOSE: no reply */

	/* The connection is still in step after the reply-less commands. */
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
	if (atoi(query_value(sql)) != ROWS + 1)
		fail("%s: %s rows, want %d", sql, query_value(sql), ROWS + 1);

	printf("ps_client OK executes=%d nulls=%d long_data=%lu select_rows=%d cursor_rows=%d "
	       "cursor_rows_after_reset=%d\n",
	       ROWS, nulls_sent, long_len, selected, crows, crows2);
	mysql_close(db);
	return 0;
}
