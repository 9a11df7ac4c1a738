/*
 * tests/data/boundary_client.c -- packets at the 16 MiB boundary through MariaDB Connector/C, for
 * tests/test_boundaries.py.  For each payload length P given, in both directions:
 *   query   client -> node: a COM_QUERY whose payload is exactly P bytes;
 *   row     node -> client: a text result row whose payload is exactly P bytes;
 *   longdata client -> node: a COM_STMT_SEND_LONG_DATA whose payload is exactly P bytes;
 *   execute client -> node: a COM_STMT_EXECUTE whose payload is exactly P bytes;
 *   binrow  node -> client: a binary (prepared statement) result row of exactly P bytes.
 * Each answer is checked (the length the server saw, or the bytes that came back), and after
 * each case a small query checks the session is still in step.  A failed case is reported and
 * the client connects again, so one run shows every case: the test compares sluice's cases
 * with a node's own (some clients fail some cases against MariaDB itself).
 *
 * Usage: boundary_client HOST PORT USER PASSWORD plain|tls [compress] -- P...
 * Prints "ok KIND P" or "FAIL KIND P: why" per case, then "boundary_client done"; exits 0
 * unless it could not run at all.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <mysql.h>

static MYSQL *db;
static char *buf; /* scratch for statements and values */
static jmp_buf case_failed;
static char why[512];

/* The current case failed: keep why and go back to run_case(). */
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	longjmp(case_failed, 1);
}

static void check_stmt(MYSQL_STMT *st, int rc, const char *what, unsigned long p)
{
	if (rc)
		fail("%s %lu: error %u (%s) %s", what, p, mysql_stmt_errno(st),
		     mysql_stmt_sqlstate(st), mysql_stmt_error(st));
}

/* One row, one column, of an already sent query: its value as a number. */
static unsigned long long one_number(const char *what, unsigned long p)
{
	MYSQL_RES *res = mysql_store_result(db);
	MYSQL_ROW row;

	if (!res)
		fail("%s %lu: %u %s", what, p, mysql_errno(db), mysql_error(db));
	row = mysql_fetch_row(res);
	if (!row || !row[0])
		fail("%s %lu: no row", what, p);
	unsigned long long v = strtoull(row[0], NULL, 10);
	mysql_free_result(res);
	return v;
}

/* The session is still in step: a small query answers as it should. */
static void in_step(const char *what, unsigned long p)
{
	if (mysql_query(db, "SELECT 12345"))
		fail("%s %lu: next query: %u %s", what, p, mysql_errno(db), mysql_error(db));
	if (one_number(what, p) != 12345)
		fail("%s %lu: next query answered wrong", what, p);
}

/* COM_QUERY payload = 1 (command) + statement text. */
static void case_query(unsigned long p)
{
	static const char pre[] = "SELECT LENGTH('", post[] = "')";
	size_t n = p - 1 - (sizeof(pre) - 1) - (sizeof(post) - 1);

	memcpy(buf, pre, sizeof(pre) - 1);
	memset(buf + sizeof(pre) - 1, 'q', n);
	memcpy(buf + sizeof(pre) - 1 + n, post, sizeof(post) - 1);
	if (mysql_real_query(db, buf, p - 1))
		fail("query %lu: %u %s", p, mysql_errno(db), mysql_error(db));
	if (one_number("query", p) != n)
		fail("query %lu: the server saw another length", p);
}

/* A text row of one string of n >= 65536 bytes: payload = 4 (lenenc) + n. */
static void case_row(unsigned long p)
{
	unsigned long n = p - 4;
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long *lens;

	snprintf(buf, 128, "SELECT REPEAT('r', %lu)", n);
	if (mysql_query(db, buf) || !(res = mysql_store_result(db)))
		fail("row %lu: %u %s", p, mysql_errno(db), mysql_error(db));
	row = mysql_fetch_row(res);
	lens = mysql_fetch_lengths(res);
	if (!row || lens[0] != n)
		fail("row %lu: got %lu bytes", p, row ? lens[0] : 0);
	for (unsigned long i = 0; i < n; i++)
		if (row[0][i] != 'r')
			fail("row %lu: byte %lu differs", p, i);
	mysql_free_result(res);
}

/* Prepared SELECT LENGTH(?) with the parameter sent as long data (one
 * COM_STMT_SEND_LONG_DATA of payload 1 + 4 + 2 + data), or inline in the
 * execute (payload 1 + 4 + 1 + 4 + 1 null bitmap + 1 + 2 types + lenenc(4)
 * + data). */
static void case_param(unsigned long p, int long_data)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND bind, out;
	unsigned long n = long_data ? p - 7 : p - 18, got_len = 0;
	long long got = -1;

	if (!st)
		fail("stmt_init");
	check_stmt(st, mysql_stmt_prepare(st, "SELECT LENGTH(?)", 16), "prepare", p);
	memset(buf, long_data ? 'l' : 'e', n);
	memset(&bind, 0, sizeof(bind));
	bind.buffer_type = MYSQL_TYPE_STRING;
	bind.buffer = buf;
	bind.buffer_length = n;
	bind.length = &n;
	check_stmt(st, mysql_stmt_bind_param(st, &bind), "bind", p);
	if (long_data)
		check_stmt(st, mysql_stmt_send_long_data(st, 0, buf, n), "send_long_data", p);
	check_stmt(st, mysql_stmt_execute(st), long_data ? "longdata execute" : "execute", p);
	memset(&out, 0, sizeof(out));
	out.buffer_type = MYSQL_TYPE_LONGLONG;
	out.buffer = &got;
	out.length = &got_len;
	check_stmt(st, mysql_stmt_bind_result(st, &out), "bind_result", p);
	check_stmt(st, mysql_stmt_fetch(st), "fetch", p);
	if ((unsigned long)got != n)
		fail("%s %lu: the server saw %lld bytes, sent %lu", long_data ? "longdata" : "execute",
		     p, got, n);
	mysql_stmt_close(st);
}

/* A binary row: 0x00, a 1-byte NULL bitmap, lenenc(4) + n bytes. */
static void case_binrow(unsigned long p)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND bind, out;
	long long n = (long long)p - 6;
	unsigned long got_len = 0;

	if (!st)
		fail("stmt_init");
	check_stmt(st, mysql_stmt_prepare(st, "SELECT REPEAT('b', ?)", 21), "prepare", p);
	memset(&bind, 0, sizeof(bind));
	bind.buffer_type = MYSQL_TYPE_LONGLONG;
	bind.buffer = &n;
	check_stmt(st, mysql_stmt_bind_param(st, &bind), "bind", p);
	check_stmt(st, mysql_stmt_execute(st), "binrow execute", p);
	memset(&out, 0, sizeof(out));
	out.buffer_type = MYSQL_TYPE_STRING;
	out.buffer = buf;
	out.buffer_length = (unsigned long)n;
	out.length = &got_len;
	check_stmt(st, mysql_stmt_bind_result(st, &out), "bind_result", p);
	check_stmt(st, mysql_stmt_fetch(st), "binrow fetch", p);
	if (got_len != (unsigned long)n)
		fail("binrow %lu: got %lu bytes", p, got_len);
	for (long long i = 0; i < n; i++)
		if (buf[i] != 'b')
			fail("binrow %lu: byte %lld differs", p, i);
	mysql_stmt_close(st);
}

static const char *host, *user, *password;
static unsigned int port;
static bool tls, compress;

static void connect_db(void)
{
	unsigned long max_packet = 64UL * 1024 * 1024;
	my_bool yes = 1, no = 0;

	if (db)
		mysql_close(db);
	db = mysql_init(NULL);
	if (!db) {
		puts("boundary_client: out of memory");
		exit(2);
	}
	mysql_optionsv(db, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
	mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, tls ? &yes : &no);
	if (tls)
		mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
	if (compress)
		mysql_optionsv(db, MYSQL_OPT_COMPRESS, NULL);
	if (!mysql_real_connect(db, host, user, password, NULL, port, NULL, 0)) {
		printf("boundary_client: connect: %u %s\n", mysql_errno(db), mysql_error(db));
		exit(2);
	}
}

static const char *const kinds[] = {"query", "row", "longdata", "execute", "binrow"};

/* Run case k for payload p; a failure reports itself and reconnects. */
static void run_case(int k, unsigned long p)
{
	if (setjmp(case_failed)) {
		printf("FAIL %s %lu: %s\n", kinds[k], p, why);
		fflush(stdout);
		connect_db(); /* the failed case may have left the session out of step */
		return;
	}
	switch (k) {
	case 0:
		case_query(p);
		break;
	case 1:
		case_row(p);
		break;
	case 2:
		case_param(p, 1);
		break;
	case 3:
		case_param(p, 0);
		break;
	default:
		case_binrow(p);
		break;
	}
	in_step(kinds[k], p);
	printf("ok %s %lu\n", kinds[k], p);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int argi = 6;

	if (argc < 8) {
		puts("usage: boundary_client HOST PORT USER PASSWORD plain|tls [compress] -- P...");
		return 2;
	}
	host = argv[1];
	port = (unsigned int)atoi(argv[2]);
	user = argv[3];
	password = argv[4];
	tls = strcmp(argv[5], "tls") == 0;
	compress = strcmp(argv[argi], "compress") == 0;
	if (compress)
		argi++;
	if (strcmp(argv[argi++], "--") != 0) {
		puts("boundary_client: expected -- before the lengths");
		return 2;
	}
	buf = malloc(64UL * 1024 * 1024);
	if (!buf)
		return 2;
	connect_db();
	for (; argi < argc; argi++)
		for (int k = 0; k < 5; k++)
			run_case(k, strtoul(argv[argi], NULL, 10));
	printf("boundary_client done (%s%s, %s)\n", tls ? "tls" : "plain", compress ? "+compress" : "",
	       mysql_get_ssl_cipher(db) ? mysql_get_ssl_cipher(db) : "no TLS");
	mysql_close(db);
	free(buf);
	return 0;
}
