/*
 * The web app's pages: routing of an evhttp request to a page, the
 * validation of its input, the catalogue calls it needs, and the HTML
 * (every page with a badge per statement it ran, and a footer with the
 * cluster's node states and a link to sluice's dashboard).
 *
 *   GET  /                          product list (?q= search, ?page=N)
 *   GET  /products/new, POST        create form, create
 *   GET  /products/ID               detail
 *   GET  /products/ID/edit, POST    edit form, update
 *   GET  /products/ID/delete, POST  confirm form, delete
 *   GET  /healthz                   "ok" without touching the database
 *
 * Writes answer 303 to a page that shows what the write did (see flash.h).
 */
#ifndef SLUICE_DEMO_HTTP_PAGES_H
#define SLUICE_DEMO_HTTP_PAGES_H

#include <stdbool.h>

struct evhttp_request;
struct catalog;
struct stats_client;

#define HTTP_PAGES_MAX_BODY 65536 /* largest form accepted */

struct http_pages_config {
	struct catalog *catalog;    /* not owned */
	struct stats_client *stats; /* not owned; NULL when there is no --stats-url */
	const char *mysql_where;    /* "HOST:PORT" of sluice, for messages */
	bool verbose;		    /* log every request */
};

/* NULL when out of memory. Keeps `cfg`'s pointers; they must outlive it. */
struct http_pages *http_pages_create(const struct http_pages_config *cfg);
void http_pages_destroy(struct http_pages *hp);

/* evhttp's generic callback (arg = struct http_pages *): answers `req`
 * completely before it returns. */
void http_pages_handle(struct evhttp_request *req, void *arg);

#endif
