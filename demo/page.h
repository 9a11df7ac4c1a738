/*
 * One HTTP request being answered, and the frame every page shares. A page
 * function fills pg->main (the content), sets pg->status (or, for a write,
 * page_redirect()), and collects in pg->trace the badges of the statements
 * it ran; page_send() wraps the content in the frame (header, flash message,
 * badges, footer with the cluster's node states), answers and logs.
 */
#ifndef SLUICE_DEMO_PAGE_H
#define SLUICE_DEMO_PAGE_H

#include <stdbool.h>

#include "catalog.h"

struct evbuffer;
struct evhttp_request;
struct flash_entry;
struct stats_client;

/* What the frame needs from the program; outlives every request. */
struct page_env {
	struct stats_client *stats; /* NULL without --stats-url */
	const char *mysql_where;    /* "HOST:PORT" of sluice, for messages */
	bool verbose;		    /* log every request, not only failures */
};

struct page {
	const struct page_env *env;
	struct evhttp_request *req;
	struct evbuffer *main; /* what goes inside <main>; owned */
	struct catalog_trace trace;
	const struct flash_entry *flash; /* the write this page follows, or NULL */
	char title[PRODUCT_NAME_MAX_BYTES + 64];
	int status;	    /* 500 until a page function says otherwise */
	char location[128]; /* with status 303: where to go */
	bool used_write;    /* ran statements on the WRITE session (for the log) */
	double started_ms;  /* CLOCK_MONOTONIC, for the log */
};

/* Start answering `req`; false when out of memory (nothing to deinit then). */
bool page_init(struct page *pg, const struct page_env *env, struct evhttp_request *req)
	__attribute__((warn_unused_result));
void page_deinit(struct page *pg);

/* The <title> (escaped when sent). */
void page_title(struct page *pg, const char *text);
/* A 4xx page with a heading and one sentence (both escaped). */
void page_client_error(struct page *pg, int status, const char *heading, const char *text);
/* Say, in words, why the database part of the page failed, with the MySQL
 * error from pg->trace: HTTP 503 when retrying can help, 500 when the server
 * refused the statement. `wrote`: the failed call was meant to change data. */
void page_db_failure(struct page *pg, enum catalog_status st, bool wrote);
/* End a successful write: 303 to `path` with the write's flash token in
 * ?done=, so the next page can show what happened. */
void page_redirect(struct page *pg, const char *path, const char *token);

/* Answer the request (the framed page, or the 303) and log it. */
void page_send(struct page *pg);

#endif
