/*
 * The catalogue's SQL: two Connector/C connections to sluice (the READ and
 * WRITE sessions), prepared statements kept for each connection's life, and
 * for every statement the
 * name of the node that ran it, read in the same statement (or, for UPDATE
 * and DELETE, in the same transaction on the writer).
 *
 * Plain mysql_real_query() is used only for text with no user input in it:
 * transaction control and the schema's DDL (whose one variable part, the
 * database name, is checked to be a plain identifier at start-up).
 */
#include "catalog.h"

#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlog.h"

/* The prepared statements, prepared on first use on each connection. */
enum catalog_sql {
	SQL_LIST,
	SQL_GET,
	SQL_INSERT,
	SQL_UPDATE,
	SQL_DELETE,
	SQL_NODE_NAME,
	SQL__COUNT,
};

static const char *const sql_text[SQL__COUNT] = {
	/* The node's name and the count come from a one-row derived table, so the
	 * statement names its node even when the page is empty. */
	[SQL_LIST] = "SELECT w.node, w.total, p.id, p.name, p.price, p.stock, p.updated_at "
		     "FROM (SELECT @@wsrep_node_name AS node, "
		     "(SELECT COUNT(*) FROM products WHERE name LIKE ?) AS total) AS w "
		     "LEFT JOIN (SELECT id, name, price, stock, updated_at FROM products "
		     "WHERE name LIKE ? ORDER BY id DESC LIMIT ? OFFSET ?) AS p ON TRUE "
		     "ORDER BY p.id DESC",
	/* Likewise one row whether or not the product exists. */
	[SQL_GET] = "SELECT @@wsrep_node_name, p.id, p.name, p.price, p.stock, p.updated_at "
		    "FROM (SELECT 1) AS one LEFT JOIN products AS p ON p.id = ?",
	[SQL_INSERT] = "INSERT INTO products (name, price, stock) VALUES (?, ?, ?) "
		       "RETURNING id, @@wsrep_node_name",
	[SQL_UPDATE] = "UPDATE products SET name = ?, price = ?, stock = ? WHERE id = ?",
	[SQL_DELETE] = "DELETE FROM products WHERE id = ?",
	[SQL_NODE_NAME] = "SELECT @@wsrep_node_name",
};

/* Galera's causality check for reads (SELECT, SHOW, BEGIN), set on the READ
 * session; see open_connection(). */
#define SYNC_WAIT_SQL "SET SESSION wsrep_sync_wait = 1"

/* Sample products for an empty table (--init-schema). */
static const struct {
	const char *name;
	int64_t cents;
	int32_t stock;
} seed_products[] = {
	{"Espresso cup, 80 ml", 650, 120},
	{"French press, 1 l", 3490, 25},
	{"Burr grinder", 12900, 8},
	{"Milk jug, 600 ml", 1850, 40},
	{"Coffee beans \xe2\x80\x94 Yirgacheffe, 250 g", 1299, 60},
	{"Gooseneck kettle", 5900, 12},
	{"Tamper, 58 mm", 2400, 30},
	{"Paper filters (100 pieces)", 399, 200},
};

/* One client session through sluice: a connection and its prepared
 * statements. sluice's read-your-writes is per session, which is why the
 * catalogue keeps two (see catalog.h). */
struct conn {
	struct catalog *cat;	       /* settings and the schema flag */
	enum catalog_session session;  /* which one this is, for logs */
	MYSQL *mysql;		       /* NULL while closed */
	MYSQL_STMT *stmts[SQL__COUNT]; /* of `mysql`; NULL until first used */
	bool fresh;		       /* `mysql` was opened during this call */
	double exec_started;	       /* when the last statement was sent */
};

struct catalog {
	char *host, *user, *password, *database;
	unsigned port;
	unsigned timeout_s;
	bool init_schema;
	bool schema_done; /* init_schema has run on some connection */
	struct conn conns[CATALOG_SESSIONS];
};

const char *catalog_status_str(enum catalog_status st)
{
	static const char *const names[] = {
		[CATALOG_OK] = "ok",
		[CATALOG_NOT_FOUND] = "not found",
		[CATALOG_UNREACHABLE] = "unreachable",
		[CATALOG_LOST] = "lost",
		[CATALOG_ROLLED_BACK] = "rolled back",
		[CATALOG_REFUSED] = "refused",
	};
	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

enum catalog_status catalog_classify_error(unsigned code)
{
	switch (code) {
	case 1040: /* too many connections */
	case 1047: /* WSREP has not yet prepared node for application use */
	case 1053: /* server shutdown in progress */
	case 1105: /* sluice: no node can take this session (and other unknown errors) */
	case 1158: /* sluice: node lost during the command, outcome unknown */
	case 1159: /* net read interrupted */
	case 1160: /* net write error */
	case 1161: /* net write interrupted */
	case 1317: /* query interrupted */
	case 1927: /* connection killed */
	case 2006: /* server has gone away */
	case 2013: /* lost connection during query */
	case 2014: /* commands out of sync: reconnecting is the way out */
	case 2055: /* lost connection, with system error */
	case 4031: /* disconnected by the server for inactivity */
		return CATALOG_LOST;
	case 1180: /* error during commit */
	case 1205: /* lock wait timeout */
	case 1213: /* deadlock, or a Galera certification failure */
		return CATALOG_ROLLED_BACK;
	default:
		return CATALOG_REFUSED;
	}
}

bool catalog_database_name_ok(const char *name)
{
	size_t n = strlen(name);
	bool digits_only = true;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '$'))
			return false;
		if (ch < '0' || ch > '9')
			digits_only = false;
	}
	return !digits_only;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The log tag of a session: "db read" or "db write". */
static const char *tag(const struct conn *k)
{
	return k->session == CATALOG_SESSION_WRITE ? "db write" : "db read";
}

/* ---- errors and badges ---------------------------------------------------------------- */

/* Keep the first failure of the request in the trace. */
static void note_error(struct catalog_trace *t, const char *step, unsigned code, const char *msg)
{
	if (t->error_code)
		return;
	t->error_code = code ? code : 2000;
	snprintf(t->error, sizeof(t->error), "%s", msg && *msg ? msg : "no message");
	snprintf(t->step, sizeof(t->step), "%s", step);
}

static void add_badge(struct catalog_trace *t, enum catalog_kind kind, const char *node,
		      const char *what, double started)
{
	struct catalog_badge *b;

	if (t->n == CATALOG_MAX_BADGES)
		return; /* no page runs that many statements; drop rather than overflow */
	b = &t->badges[t->n++];
	b->kind = kind;
	snprintf(b->node, sizeof(b->node), "%s", node);
	snprintf(b->what, sizeof(b->what), "%s", what);
	b->ms = now_ms() - started;
}

/* ---- the connection -------------------------------------------------------------------- */

static void close_connection(struct conn *k)
{
	for (int i = 0; i < SQL__COUNT; i++) {
		if (k->stmts[i])
			mysql_stmt_close(k->stmts[i]);
		k->stmts[i] = NULL;
	}
	if (k->mysql)
		mysql_close(k->mysql);
	k->mysql = NULL;
}

/* The status for a failure of `step` on the connection; a lost connection is
 * closed here so that the next call opens a new one. */
static enum catalog_status fail_conn(struct conn *k, const char *step, struct catalog_trace *t)
{
	unsigned code = mysql_errno(k->mysql);
	enum catalog_status st = catalog_classify_error(code);

	note_error(t, step, code, mysql_error(k->mysql));
	dlog_warn(tag(k), "%s failed: %u %s (%s)", step, code, mysql_error(k->mysql),
		  catalog_status_str(st));
	if (st == CATALOG_LOST) {
		dlog_info(tag(k), "closing the connection; the next request opens a new one");
		close_connection(k);
	}
	return st;
}

static enum catalog_status fail_stmt(struct conn *k, MYSQL_STMT *s, const char *step,
				     struct catalog_trace *t)
{
	unsigned code = mysql_stmt_errno(s);
	enum catalog_status st = catalog_classify_error(code);

	/* Connector/C reports its own read timeout as a lost connection;
	 * tell the two apart for the page. */
	if (code == 2013 && !t->error_code &&
	    now_ms() - k->exec_started >= k->cat->timeout_s * 1000.0 - 50)
		t->timed_out = k->cat->timeout_s;
	note_error(t, step, code, mysql_stmt_error(s));
	dlog_warn(tag(k), "%s failed: %u %s (%s)", step, code, mysql_stmt_error(s),
		  catalog_status_str(st));
	if (st == CATALOG_LOST) {
		dlog_info(tag(k), "closing the connection; the next request opens a new one");
		close_connection(k);
	}
	return st;
}

/* A statement without parameters or results, e.g. "COMMIT". */
static enum catalog_status plain(struct conn *k, const char *sql, const char *step,
				 struct catalog_trace *t)
{
	if (mysql_real_query(k->mysql, sql, strlen(sql)) != 0)
		return fail_conn(k, step, t);
	return CATALOG_OK;
}

static enum catalog_status init_schema(struct conn *k, struct catalog_trace *t);

static enum catalog_status open_connection(struct conn *k, struct catalog_trace *t)
{
	unsigned connect_timeout = k->cat->timeout_s < 5 ? k->cat->timeout_s : 5;
	unsigned protocol = MYSQL_PROTOCOL_TCP; /* "localhost" too: sluice listens on TCP */
	bool schema_now = k->cat->init_schema && !k->cat->schema_done;
	MYSQL *m = mysql_init(NULL);

	if (!m) {
		note_error(t, "connect", 2008, "out of memory");
		return CATALOG_UNREACHABLE;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &k->cat->timeout_s);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &k->cat->timeout_s);
	mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* CLIENT_FOUND_ROWS: an UPDATE that sets the values a row already has
	 * still counts that row, so "0 rows" means "no such product". The
	 * database is chosen after the schema exists. */
	if (!mysql_real_connect(m, k->cat->host, k->cat->user, k->cat->password,
				schema_now ? NULL : k->cat->database, k->cat->port, NULL,
				CLIENT_FOUND_ROWS)) {
		unsigned code = mysql_errno(m);

		note_error(t, "connect", code, mysql_error(m));
		dlog_warn(tag(k), "cannot connect to %s:%u as %s: %u %s", k->cat->host,
			  k->cat->port, k->cat->user, code, mysql_error(m));
		mysql_close(m);
		return CATALOG_UNREACHABLE;
	}
	k->mysql = m;
	k->fresh = true;
	dlog_info(tag(k), "connected to %s:%u as %s (connection id %lu)", k->cat->host,
		  k->cat->port, k->cat->user, mysql_thread_id(m));
	/* The READ session sees every commit made before each of its reads,
	 * whichever session made it: Galera's reader waits until it has applied
	 * them (one cluster round trip). Without it, a product created a moment
	 * ago on the WRITE session could be "no such product" on a reader that
	 * has not applied it yet. */
	if (k->session == CATALOG_SESSION_READ) {
		enum catalog_status st = plain(k, SYNC_WAIT_SQL, "set wsrep_sync_wait", t);

		if (st != CATALOG_OK) {
			close_connection(k);
			return st;
		}
	}
	if (schema_now) {
		enum catalog_status st = init_schema(k, t);

		if (st != CATALOG_OK) {
			close_connection(k);
			return st;
		}
		k->cat->schema_done = true;
	}
	return CATALOG_OK;
}

static enum catalog_status ensure_open(struct conn *k, struct catalog_trace *t)
{
	k->fresh = false;
	return k->mysql ? CATALOG_OK : open_connection(k, t);
}

/* The prepared statement `which` of the open connection; NULL on failure,
 * with the status in *st. */
static MYSQL_STMT *stmt_for(struct conn *k, enum catalog_sql which, const char *step,
			    struct catalog_trace *t, enum catalog_status *st)
{
	MYSQL_STMT *s = k->stmts[which];

	if (s)
		return s;
	s = mysql_stmt_init(k->mysql);
	if (!s) {
		*st = fail_conn(k, step, t);
		return NULL;
	}
	if (mysql_stmt_prepare(s, sql_text[which], strlen(sql_text[which])) != 0) {
		*st = fail_stmt(k, s, step, t);
		mysql_stmt_close(s);
		return NULL;
	}
	k->stmts[which] = s;
	return s;
}

/* Execute `s` with `params` (may be NULL) and, when `results` is given, bind
 * them and buffer the whole result (at most a page) so rows can be fetched
 * with mysql_stmt_fetch(). */
static enum catalog_status execute(struct conn *k, MYSQL_STMT *s, MYSQL_BIND *params,
				   MYSQL_BIND *results, const char *step, struct catalog_trace *t)
{
	k->exec_started = now_ms();
	if ((params && mysql_stmt_bind_param(s, params)) || mysql_stmt_execute(s) ||
	    (results && (mysql_stmt_bind_result(s, results) || mysql_stmt_store_result(s))))
		return fail_stmt(k, s, step, t);
	return CATALOG_OK;
}

/* Fetch the next buffered row: 1 = a row, 0 = no more, -1 = error (noted). A
 * too-long text column is cut to its buffer, which only node names can be. */
static int fetch(struct conn *k, MYSQL_STMT *s, const char *step, struct catalog_trace *t,
		 enum catalog_status *st)
{
	int rc = mysql_stmt_fetch(s);

	if (rc == 0 || rc == MYSQL_DATA_TRUNCATED)
		return 1;
	if (rc == MYSQL_NO_DATA)
		return 0;
	*st = fail_stmt(k, s, step, t);
	return -1;
}

/* ---- binding helpers ------------------------------------------------------------------- */

static void bind_text_in(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*len = strlen(s);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = *len;
	b->length = len;
}

static void bind_int64_in(MYSQL_BIND *b, const int64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)v;
}

/* A result column read as text into buf[cap]; terminate() makes it a string. */
struct text_out {
	unsigned long len;
	my_bool is_null;
	my_bool error;
};

static void bind_text_out(MYSQL_BIND *b, char *buf, size_t cap, struct text_out *o)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = cap;
	b->length = &o->len;
	b->is_null = &o->is_null;
	b->error = &o->error;
}

static void terminate(char *buf, size_t cap, const struct text_out *o)
{
	size_t n = o->is_null ? 0 : o->len < cap - 1 ? o->len : cap - 1;

	buf[n] = '\0';
}

static void bind_int64_out(MYSQL_BIND *b, int64_t *v, my_bool *is_null)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_null = is_null;
}

/* The product columns of a result (id, name, price, stock, updated_at),
 * bound to `row`. */
struct product_out {
	my_bool id_null, stock_null;
	struct text_out name, price, updated;
};

static void bind_product_out(MYSQL_BIND *b, struct catalog_product *row, struct product_out *o)
{
	bind_int64_out(&b[0], &row->id, &o->id_null);
	bind_text_out(&b[1], row->name, sizeof(row->name), &o->name);
	bind_text_out(&b[2], row->price, sizeof(row->price), &o->price);
	bind_int64_out(&b[3], &row->stock, &o->stock_null);
	bind_text_out(&b[4], row->updated_at, sizeof(row->updated_at), &o->updated);
}

static void finish_product(struct catalog_product *row, const struct product_out *o)
{
	terminate(row->name, sizeof(row->name), &o->name);
	terminate(row->price, sizeof(row->price), &o->price);
	terminate(row->updated_at, sizeof(row->updated_at), &o->updated);
}

/* ---- the schema ------------------------------------------------------------------------ */

static enum catalog_status insert_row(struct conn *k, const struct product_input *in, int64_t *id,
				      char *node, const char *step, struct catalog_trace *t);

static enum catalog_status init_schema(struct conn *k, struct catalog_trace *t)
{
	char sql[512];
	char count_text[24] = "";
	enum catalog_status st;
	MYSQL_RES *res;
	MYSQL_ROW row;
	long count;

	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4",
		 k->cat->database);
	if ((st = plain(k, sql, "create the database", t)) != CATALOG_OK)
		return st;
	if (mysql_select_db(k->mysql, k->cat->database) != 0)
		return fail_conn(k, "use the database", t);
	st = plain(k,
		   "CREATE TABLE IF NOT EXISTS products ("
		   "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
		   "name VARCHAR(200) NOT NULL, "
		   "price DECIMAL(10,2) NOT NULL, "
		   "stock INT NOT NULL, "
		   "updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
		   "ON UPDATE CURRENT_TIMESTAMP(6)"
		   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		   "create the table", t);
	if (st != CATALOG_OK)
		return st;
	/* On the writer (sluice's hint): a reader may not have applied the DDL yet. */
	if ((st = plain(k, "SELECT /* sluice:primary */ COUNT(*) FROM products",
			"count the products", t)) != CATALOG_OK)
		return st;
	res = mysql_store_result(k->mysql);
	if (!res)
		return fail_conn(k, "count the products", t);
	row = mysql_fetch_row(res);
	if (row && row[0])
		snprintf(count_text, sizeof(count_text), "%s", row[0]);
	mysql_free_result(res);
	count = strtol(count_text, NULL, 10);
	if (count > 0) {
		dlog_info(tag(k), "schema ready: %s.products has %ld products", k->cat->database,
			  count);
		return CATALOG_OK;
	}
	for (size_t i = 0; i < sizeof(seed_products) / sizeof(seed_products[0]); i++) {
		struct product_input in = {0};
		char node[CATALOG_NODE_SIZE];
		int64_t id;

		snprintf(in.name, sizeof(in.name), "%s", seed_products[i].name);
		in.price_cents = seed_products[i].cents;
		product_price_text(in.price_cents, in.price);
		in.stock = seed_products[i].stock;
		if ((st = insert_row(k, &in, &id, node, "seed a product", t)) != CATALOG_OK)
			return st;
	}
	dlog_info(tag(k), "schema ready: created %s.products and added %zu sample products",
		  k->cat->database, sizeof(seed_products) / sizeof(seed_products[0]));
	return CATALOG_OK;
}

/* ---- public calls ---------------------------------------------------------------------- */

struct catalog *catalog_create(const struct catalog_config *cfg)
{
	struct catalog *c = calloc(1, sizeof(*c));

	if (!c)
		goto fail;
	c->host = strdup(cfg->host);
	c->user = strdup(cfg->user);
	c->password = strdup(cfg->password ? cfg->password : "");
	c->database = strdup(cfg->database);
	if (!c->host || !c->user || !c->password || !c->database)
		goto fail;
	c->port = cfg->port;
	c->timeout_s = cfg->timeout_s ? cfg->timeout_s : 1;
	c->init_schema = cfg->init_schema;
	for (int i = 0; i < CATALOG_SESSIONS; i++) {
		c->conns[i].cat = c;
		c->conns[i].session = (enum catalog_session)i;
	}
	return c;
fail:
	catalog_destroy(c);
	return NULL;
}

void catalog_destroy(struct catalog *c)
{
	if (!c)
		return;
	for (int i = 0; i < CATALOG_SESSIONS; i++)
		close_connection(&c->conns[i]);
	free(c->host);
	free(c->user);
	if (c->password) {
		/* Not a secret store, but no reason to leave it in freed memory. */
		memset(c->password, 0, strlen(c->password));
		free(c->password);
	}
	free(c->database);
	free(c);
}

enum catalog_status catalog_connect(struct catalog *c, enum catalog_session session,
				    struct catalog_trace *t)
{
	return ensure_open(&c->conns[session], t);
}

/* One attempt of the list statement. */
static enum catalog_status list_once(struct conn *k, const char *pattern, int64_t page,
				     struct catalog_page *out, struct catalog_trace *t)
{
	const char *step = "list products";
	MYSQL_BIND params[4] = {0}, results[7] = {0};
	unsigned long pattern_len[2];
	int64_t limit = CATALOG_PAGE_SIZE, offset = (page - 1) * CATALOG_PAGE_SIZE, total = 0;
	char node[CATALOG_NODE_SIZE * 4] = "";
	struct text_out node_out;
	my_bool total_null;
	struct catalog_product row;
	struct product_out row_out;
	enum catalog_status st = CATALOG_OK;
	double started = now_ms();
	MYSQL_STMT *s;
	int got;

	if ((st = ensure_open(k, t)) != CATALOG_OK)
		return st;
	if (!(s = stmt_for(k, SQL_LIST, step, t, &st)))
		return st;
	bind_text_in(&params[0], pattern, &pattern_len[0]);
	bind_text_in(&params[1], pattern, &pattern_len[1]);
	bind_int64_in(&params[2], &limit);
	bind_int64_in(&params[3], &offset);
	bind_text_out(&results[0], node, sizeof(node), &node_out);
	bind_int64_out(&results[1], &total, &total_null);
	bind_product_out(&results[2], &row, &row_out);
	if ((st = execute(k, s, params, results, step, t)) != CATALOG_OK)
		return st;
	out->n = 0;
	out->total = 0;
	while ((got = fetch(k, s, step, t, &st)) == 1) {
		terminate(node, sizeof(node), &node_out);
		out->total = total_null ? 0 : total;
		/* The LEFT JOIN's row of NULLs: no product on this page. */
		if (row_out.id_null || out->n == CATALOG_PAGE_SIZE)
			continue;
		finish_product(&row, &row_out);
		out->rows[out->n++] = row;
	}
	if (got < 0)
		return st;
	mysql_stmt_free_result(s);
	add_badge(t, CATALOG_READ, node, "list products", started);
	return CATALOG_OK;
}

/* Reads are safe to repeat: when the connection turns out to be dead (sluice
 * restarted, an idle timeout), a read on a connection that was already open
 * is tried once more on a new one. Writes never are (their outcome is unknown). */
static bool retry_read(struct conn *k, enum catalog_status st, struct catalog_trace *t)
{
	if (st != CATALOG_LOST || k->fresh)
		return false;
	dlog_info(tag(k), "retrying the read once on a new connection");
	t->error_code = 0;
	t->error[0] = t->step[0] = '\0';
	t->timed_out = 0;
	return true;
}

enum catalog_status catalog_list(struct catalog *c, enum catalog_session session,
				 const char *search, int64_t page, struct catalog_page *out,
				 struct catalog_trace *t)
{
	struct conn *k = &c->conns[session];
	/* '%' + search with \ % _ escaped + '%' */
	size_t n = strlen(search), o = 0;
	char *pattern = malloc(2 * n + 3);
	enum catalog_status st;

	if (!pattern) {
		note_error(t, "list products", 2008, "out of memory");
		return CATALOG_REFUSED;
	}
	pattern[o++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (search[i] == '\\' || search[i] == '%' || search[i] == '_')
			pattern[o++] = '\\';
		pattern[o++] = search[i];
	}
	pattern[o++] = '%';
	pattern[o] = '\0';
	st = list_once(k, pattern, page, out, t);
	if (retry_read(k, st, t))
		st = list_once(k, pattern, page, out, t);
	free(pattern);
	return st;
}

static enum catalog_status get_once(struct conn *k, int64_t id, struct catalog_product *out,
				    struct catalog_trace *t)
{
	char step[64], node[CATALOG_NODE_SIZE * 4] = "";
	MYSQL_BIND params[1] = {0}, results[6] = {0};
	struct text_out node_out;
	struct product_out row_out;
	enum catalog_status st = CATALOG_OK;
	double started = now_ms();
	bool found = false;
	MYSQL_STMT *s;
	int got;

	snprintf(step, sizeof(step), "product %" PRId64, id);
	if ((st = ensure_open(k, t)) != CATALOG_OK)
		return st;
	if (!(s = stmt_for(k, SQL_GET, step, t, &st)))
		return st;
	bind_int64_in(&params[0], &id);
	bind_text_out(&results[0], node, sizeof(node), &node_out);
	bind_product_out(&results[1], out, &row_out);
	if ((st = execute(k, s, params, results, step, t)) != CATALOG_OK)
		return st;
	while ((got = fetch(k, s, step, t, &st)) == 1) {
		terminate(node, sizeof(node), &node_out);
		if (!row_out.id_null) {
			finish_product(out, &row_out);
			found = true;
		}
	}
	if (got < 0)
		return st;
	mysql_stmt_free_result(s);
	add_badge(t, CATALOG_READ, node, step, started);
	return found ? CATALOG_OK : CATALOG_NOT_FOUND;
}

enum catalog_status catalog_get(struct catalog *c, enum catalog_session session, int64_t id,
				struct catalog_product *out, struct catalog_trace *t)
{
	struct conn *k = &c->conns[session];
	enum catalog_status st = get_once(k, id, out, t);

	if (retry_read(k, st, t))
		st = get_once(k, id, out, t);
	return st;
}

/* INSERT ... RETURNING id, @@wsrep_node_name: the node's name comes from the
 * node that ran the insert. `node` gets CATALOG_NODE_SIZE bytes. */
static enum catalog_status insert_row(struct conn *k, const struct product_input *in, int64_t *id,
				      char *node, const char *step, struct catalog_trace *t)
{
	MYSQL_BIND params[3] = {0}, results[2] = {0};
	unsigned long name_len, price_len;
	int64_t stock = in->stock, new_id = 0;
	char node_buf[CATALOG_NODE_SIZE * 4] = "";
	struct text_out node_out;
	my_bool id_null = 1;
	enum catalog_status st = CATALOG_OK;
	MYSQL_STMT *s;
	int got;

	if (!(s = stmt_for(k, SQL_INSERT, step, t, &st)))
		return st;
	bind_text_in(&params[0], in->name, &name_len);
	/* DECIMAL as text: exact, no binary floating point on the way. */
	bind_text_in(&params[1], in->price, &price_len);
	bind_int64_in(&params[2], &stock);
	bind_int64_out(&results[0], &new_id, &id_null);
	bind_text_out(&results[1], node_buf, sizeof(node_buf), &node_out);
	if ((st = execute(k, s, params, results, step, t)) != CATALOG_OK)
		return st;
	while ((got = fetch(k, s, step, t, &st)) == 1)
		terminate(node_buf, sizeof(node_buf), &node_out);
	if (got < 0)
		return st;
	mysql_stmt_free_result(s);
	if (id_null) {
		note_error(t, step, 2000, "the INSERT returned no id");
		return CATALOG_REFUSED;
	}
	*id = new_id;
	/* A longer name is cut for display (catalog.h). */
	size_t n = strnlen(node_buf, CATALOG_NODE_SIZE - 1);
	memcpy(node, node_buf, n);
	node[n] = '\0';
	return CATALOG_OK;
}

enum catalog_status catalog_insert(struct catalog *c, const struct product_input *in, int64_t *id,
				   struct catalog_trace *t)
{
	struct conn *k = &c->conns[CATALOG_SESSION_WRITE];
	char node[CATALOG_NODE_SIZE], what[64];
	double started = now_ms();
	enum catalog_status st;

	if ((st = ensure_open(k, t)) != CATALOG_OK)
		return st;
	if ((st = insert_row(k, in, id, node, "insert a product", t)) != CATALOG_OK)
		return st;
	snprintf(what, sizeof(what), "insert product %" PRId64, *id);
	add_badge(t, CATALOG_WRITE, node, what, started);
	return CATALOG_OK;
}

/* Undo an open transaction after a failure; if even that fails, the
 * connection is in an unknown state: close it. */
static void rollback(struct conn *k)
{
	if (k->mysql && mysql_real_query(k->mysql, "ROLLBACK", 8) != 0) {
		dlog_info(tag(k), "ROLLBACK failed (%u %s); closing the connection",
			  mysql_errno(k->mysql), mysql_error(k->mysql));
		close_connection(k);
	}
}

/* BEGIN; UPDATE or DELETE (prepared, `params` bound by the caller);
 * SELECT @@wsrep_node_name; COMMIT. The name is read inside the transaction,
 * so it is the node that ran the change (sluice keeps a transaction on one
 * node, the writer). */
static enum catalog_status write_in_transaction(struct conn *k, enum catalog_sql which,
						MYSQL_BIND *params, const char *step,
						struct catalog_trace *t)
{
	MYSQL_BIND results[1] = {0};
	char node[CATALOG_NODE_SIZE * 4] = "";
	struct text_out node_out;
	enum catalog_status st = CATALOG_OK;
	double started = now_ms();
	my_ulonglong affected;
	MYSQL_STMT *s, *name;
	int got;

	if ((st = ensure_open(k, t)) != CATALOG_OK)
		return st;
	if ((st = plain(k, "START TRANSACTION", step, t)) != CATALOG_OK)
		goto fail;
	if (!(s = stmt_for(k, which, step, t, &st)))
		goto fail;
	if ((st = execute(k, s, params, NULL, step, t)) != CATALOG_OK)
		goto fail;
	affected = mysql_stmt_affected_rows(s);
	if (!(name = stmt_for(k, SQL_NODE_NAME, step, t, &st)))
		goto fail;
	bind_text_out(&results[0], node, sizeof(node), &node_out);
	if ((st = execute(k, name, NULL, results, step, t)) != CATALOG_OK)
		goto fail;
	while ((got = fetch(k, name, step, t, &st)) == 1)
		terminate(node, sizeof(node), &node_out);
	if (got < 0)
		goto fail;
	mysql_stmt_free_result(name);
	if ((st = plain(k, "COMMIT", step, t)) != CATALOG_OK)
		goto fail;
	if (affected == 0) {
		/* Ran on the writer but changed nothing: say "read", not "written". */
		char what[96];

		snprintf(what, sizeof(what), "%s: no such product", step);
		add_badge(t, CATALOG_READ, node, what, started);
		return CATALOG_NOT_FOUND;
	}
	add_badge(t, CATALOG_WRITE, node, step, started);
	return CATALOG_OK;
fail:
	/* A lost connection is already closed; anything else leaves the
	 * transaction open on the node. */
	rollback(k);
	return st;
}

enum catalog_status catalog_update(struct catalog *c, int64_t id, const struct product_input *in,
				   struct catalog_trace *t)
{
	MYSQL_BIND params[4] = {0};
	unsigned long name_len, price_len;
	int64_t stock = in->stock;
	char step[64];

	snprintf(step, sizeof(step), "update product %" PRId64, id);
	bind_text_in(&params[0], in->name, &name_len);
	bind_text_in(&params[1], in->price, &price_len);
	bind_int64_in(&params[2], &stock);
	bind_int64_in(&params[3], &id);
	return write_in_transaction(&c->conns[CATALOG_SESSION_WRITE], SQL_UPDATE, params, step, t);
}

enum catalog_status catalog_delete(struct catalog *c, int64_t id, struct catalog_trace *t)
{
	MYSQL_BIND params[1] = {0};
	char step[64];

	snprintf(step, sizeof(step), "delete product %" PRId64, id);
	bind_int64_in(&params[0], &id);
	return write_in_transaction(&c->conns[CATALOG_SESSION_WRITE], SQL_DELETE, params, step, t);
}
