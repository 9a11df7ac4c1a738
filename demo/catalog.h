/*
 * The product catalogue in the database, reached through sluice's `mode: mysql`
 * listener. Every statement that carries user input is a prepared statement
 * (mysql_stmt_*), and every statement also reports the node that ran it
 * (@@wsrep_node_name), so a page can say where its data came from.
 *
 * Two sluice sessions, one MariaDB Connector/C connection each:
 *   - WRITE runs every write, and the reads of the page shown right after a
 *     write (the redirect after a POST). sluice's read-your-writes
 *     (`causal_reads: session`) is per session, so that page always sees the
 *     write: sluice sends its reads to a reader that has applied it, or to the
 *     writer.
 *   - READ runs every other read. It never writes, so sluice spreads its reads
 *     over the readers. It sets wsrep_sync_wait = 1, so a reader answers only
 *     once it has applied every commit made before the read, by any session:
 *     a product just created on WRITE is there on the next page, whichever
 *     reader serves it. That costs one cluster round trip a read, and no
 *     reader is skipped: a reader that lags makes its reads wait.
 * With one session for everything, each write would keep the reads of every
 * user on the writer until sluice's monitor saw a reader catch up (its
 * interval, 250 ms in the demo): under a steady mix of writes, always.
 *
 * The calls block; statements run one at a time.
 *
 * Life of each connection:
 *
 *     closed --first statement--> open --lost (2006, 2013, 1158, ...)--> closed
 *        ^                          |
 *        +------catalog_destroy-----+
 *
 * A failed connect leaves it closed; the next call tries again.
 */
#ifndef SLUICE_DEMO_CATALOG_H
#define SLUICE_DEMO_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "product.h"

#define CATALOG_PAGE_SIZE	 20
#define CATALOG_MAX_BADGES	 8
#define CATALOG_NODE_SIZE	 65 /* longer node names are cut for display */
#define CATALOG_SEARCH_MAX_CHARS 200

struct catalog_config {
	const char *host; /* sluice's mysql listener */
	unsigned port;
	const char *user;
	const char *password;
	const char *database; /* a plain identifier: letters, digits, _ and $ */
	unsigned timeout_s;   /* read and write timeout of a statement */
	bool init_schema;     /* create database and table, seed them, on first connect */
};

enum catalog_session {
	CATALOG_SESSION_READ,  /* reads, each seeing every commit made before it */
	CATALOG_SESSION_WRITE, /* writes, and reads that must see them */
	CATALOG_SESSIONS,
};

enum catalog_kind {
	CATALOG_READ,  /* read only */
	CATALOG_WRITE, /* changed a row */
};

/* Where one statement ran, told by the node itself. */
struct catalog_badge {
	enum catalog_kind kind;
	char node[CATALOG_NODE_SIZE]; /* @@wsrep_node_name; "" if the node gave none */
	char what[64];		      /* what the statement did, e.g. "product 12" */
	double ms;		      /* how long it took, round trip */
};

/* What one HTTP request's database calls did: a badge per statement that
 * answered, and the first failure. Zero it (= {0}) before the first call. */
struct catalog_trace {
	struct catalog_badge badges[CATALOG_MAX_BADGES];
	size_t n;
	unsigned error_code; /* MySQL or client error number; 0 = no failure */
	char error[320];     /* its message, as the server or client library gave it */
	char step[64];	     /* what was being done: "connect", "update product 12", ... */
	unsigned timed_out;  /* nonzero: the failure was our own timeout, of this many seconds */
};

enum catalog_status {
	CATALOG_OK,
	CATALOG_NOT_FOUND,   /* no product with that id (a badge still says who looked) */
	CATALOG_UNREACHABLE, /* could not connect or log in to sluice */
	CATALOG_LOST,	     /* lost the node or the connection during a statement:
			      * a write's outcome is unknown */
	CATALOG_ROLLED_BACK, /* the transaction was rolled back: nothing changed */
	CATALOG_REFUSED,     /* the server refused the statement (an SQL error) */
};

const char *catalog_status_str(enum catalog_status st);

struct catalog_product {
	int64_t id;
	char name[PRODUCT_NAME_MAX_BYTES + 1];
	char price[PRODUCT_PRICE_TEXT_SIZE]; /* as the DECIMAL column gives it: "12.50" */
	int64_t stock;
	char updated_at[40]; /* "2025-01-31 12:00:00.123456", the node's time zone */
};

struct catalog_page {
	int64_t total; /* matching products on all pages */
	size_t n;      /* rows on this page */
	struct catalog_product rows[CATALOG_PAGE_SIZE];
};

/* A catalogue with no connection yet; copies what `cfg` points to. NULL when
 * out of memory. */
struct catalog *catalog_create(const struct catalog_config *cfg);
/* Closes the connection. NULL is a no-op. */
void catalog_destroy(struct catalog *c);

/* Open the session's connection now if it is closed (and, with init_schema,
 * create and seed the schema the first time). Used at start-up to report a
 * bad password or database at once; every other call connects by itself. */
enum catalog_status catalog_connect(struct catalog *c, enum catalog_session session,
				    struct catalog_trace *t);

/* Page `page` (1-based) of the products whose name contains `search` ("" =
 * all), newest first, with the total count, in one statement on one node. */
enum catalog_status catalog_list(struct catalog *c, enum catalog_session session,
				 const char *search, int64_t page, struct catalog_page *out,
				 struct catalog_trace *t);
/* Product `id`; CATALOG_NOT_FOUND when there is none. */
enum catalog_status catalog_get(struct catalog *c, enum catalog_session session, int64_t id,
				struct catalog_product *out, struct catalog_trace *t);
/* INSERT ... RETURNING, on the WRITE session; sets *id to the new product's id. */
enum catalog_status catalog_insert(struct catalog *c, const struct product_input *in, int64_t *id,
				   struct catalog_trace *t);
/* Change product `id` (in a short transaction that also reads the writer's
 * name); CATALOG_NOT_FOUND when there is none. */
enum catalog_status catalog_update(struct catalog *c, int64_t id, const struct product_input *in,
				   struct catalog_trace *t);
/* Delete product `id` the same way; CATALOG_NOT_FOUND when there is none. */
enum catalog_status catalog_delete(struct catalog *c, int64_t id, struct catalog_trace *t);

/* What a MySQL error number means for the application (pure, unit-tested):
 * CATALOG_LOST for a lost connection or node, CATALOG_ROLLED_BACK for a
 * deadlock or certification failure, CATALOG_REFUSED for the rest. */
enum catalog_status catalog_classify_error(unsigned code);

/* A database name sluice-demo accepts: 1 to 64 of [A-Za-z0-9_$], not all digits. */
bool catalog_database_name_ok(const char *name);

#endif
