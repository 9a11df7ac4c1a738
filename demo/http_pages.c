/*
 * The pages of sluice-demo. A request is handled start to finish inside
 * http_pages_handle(): route it, parse and check the input, run the
 * catalogue calls (which block, see catalog.h), then render the content;
 * page.c frames it and answers. Every byte of text that is not a literal of
 * this file is escaped with html.h on its way out.
 */
#include "http_pages.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "flash.h"
#include "form.h"
#include "html.h"
#include "page.h"
#include "product.h"

#define MAX_PAGE 100000

struct http_pages {
	struct http_pages_config cfg;
	struct page_env env; /* what the frame of every page needs */
	struct flash flash;
	struct catalog_page list; /* scratch for the list page: too big for the stack */
};

/* ---- input --------------------------------------------------------------------------- */

/* "/products/123..." : the id and what follows it ("", "/edit", ...). */
static bool parse_product_path(const char *path, int64_t *id, const char **rest)
{
	const char *p = path + strlen("/products/");
	int64_t v = 0;
	size_t digits = 0;

	if (strncmp(path, "/products/", strlen("/products/")) != 0)
		return false;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits == 18 || (digits == 0 && *p == '0'))
			return false; /* no leading zeros; 18 digits stay below INT64_MAX */
		v = v * 10 + (*p - '0');
	}
	if (digits == 0)
		return false;
	*id = v;
	*rest = p;
	return true;
}

/* The query string decoded into `q`; false (with a 400 page) when broken. */
static bool read_query(struct http_pages *hp, struct page *pg, struct form *q)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(pg->req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	char err[160];

	if (query && !form_parse(q, query, strlen(query), err, sizeof(err))) {
		page_client_error(pg, 400, "Bad request", err);
		return false;
	}
	pg->flash = flash_find(&hp->flash, form_get(q, "done"));
	return true;
}

/* The POSTed form decoded into `f`; false (with a 4xx page) when it is not a
 * urlencoded form or is broken. */
static bool read_body(struct page *pg, struct form *f)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(pg->req);
	const char *type =
		evhttp_find_header(evhttp_request_get_input_headers(pg->req), "Content-Type");
	size_t len = evbuffer_get_length(in);
	const char *body;
	char err[160];

	if (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0 ||
	    (type[33] != '\0' && type[33] != ';' && type[33] != ' ')) {
		page_client_error(
			pg, 415, "Unsupported form encoding",
			"Send the form as application/x-www-form-urlencoded, as a browser "
			"does.");
		return false;
	}
	body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (!body || !form_parse(f, body, len, err, sizeof(err))) {
		page_client_error(pg, 400, "Bad request", body ? err : "out of memory");
		return false;
	}
	return true;
}

/* ---- the product form ---------------------------------------------------------------- */

static void render_field(struct evbuffer *m, const char *field, const char *label,
			 const char *value, const char *error, const char *hint)
{
	evbuffer_add_printf(m,
			    "<label for=\"%s\">%s</label><input type=\"text\" id=\"%s\" "
			    "name=\"%s\" value=\"",
			    field, label, field, field);
	html_text(m, value ? value : "");
	if (*error)
		evbuffer_add_printf(m, "\" aria-invalid=\"true\" aria-describedby=\"%s-error\">",
				    field);
	else
		evbuffer_add_printf(m, "\">");
	if (*error) {
		evbuffer_add_printf(m, "<p class=\"field-error\" id=\"%s-error\">", field);
		html_text(m, error);
		evbuffer_add_printf(m, "</p>");
	} else if (hint) {
		evbuffer_add_printf(m, "<p class=\"field-error\" style=\"color:inherit\">%s</p>",
				    hint);
	}
}

/* The create or edit form with `name`, `price`, `stock` filled in (raw text,
 * escaped here) and the messages of `err` (may be NULL). */
static void render_form(struct page *pg, const char *action, const char *submit, const char *name,
			const char *price, const char *stock, const struct product_errors *err)
{
	static const struct product_errors none;
	struct evbuffer *m = pg->main;

	if (!err)
		err = &none;
	if (err->name[0] || err->price[0] || err->stock[0])
		evbuffer_add_printf(m, "<div class=\"notice bad\" id=\"form-errors\">The product "
				       "was not saved: correct the fields marked below.</div>");
	evbuffer_add_printf(m, "<form class=\"product\" method=\"post\" action=\"");
	html_text(m, action);
	evbuffer_add_printf(m, "\">");
	render_field(m, "name", "Name", name, err->name, NULL);
	render_field(m, "price", "Price", price, err->price,
		     "0 to 99999999.99, at most two decimals");
	render_field(m, "stock", "Stock", stock, err->stock, "a whole number, 0 to 1000000000");
	evbuffer_add_printf(m, "<button type=\"submit\">%s</button></form>", submit);
}

static void product_link(struct evbuffer *m, int64_t id, const char *name)
{
	evbuffer_add_printf(m, "<a href=\"/products/%" PRId64 "\">", id);
	html_text(m, name);
	evbuffer_add_printf(m, "</a>");
}

/* ---- pages --------------------------------------------------------------------------- */

/* The session for the reads of a page (see catalog.h): the one that wrote, for
 * the page a write redirected to (so it shows the write) and for the forms
 * that lead to a write (so they start from the latest data); the reading one
 * for everything else. */
static enum catalog_session reads_on(struct page *pg, bool before_write)
{
	if (pg->flash || before_write) {
		pg->used_write = true;
		return CATALOG_SESSION_WRITE;
	}
	return CATALOG_SESSION_READ;
}

/* The badge of the write just done (a successful write always adds one). */
static const struct catalog_badge *last_badge(const struct page *pg)
{
	return pg->trace.n ? &pg->trace.badges[pg->trace.n - 1] : NULL;
}

static void page_list(struct http_pages *hp, struct page *pg, const struct form *query)
{
	struct catalog_page *list = &hp->list;
	const char *q = form_get(query, "q");
	const char *page_text = form_get(query, "page");
	struct evbuffer *m = pg->main;
	int64_t page = 1, pages;
	enum catalog_status st;
	long chars;

	if (!q)
		q = "";
	if (page_text && *page_text) {
		char *end;
		long long v = strtoll(page_text, &end, 10);

		if (*end || page_text[0] < '0' || page_text[0] > '9' || v < 1 || v > MAX_PAGE) {
			page_client_error(
				pg, 400, "Bad page number",
				"The page number must be a whole number from 1 to 100000.");
			return;
		}
		page = v;
	}
	chars = product_utf8_length(q, strlen(q));
	if (chars < 0 || chars > CATALOG_SEARCH_MAX_CHARS) {
		page_client_error(pg, 400, "Bad search",
				  "The search text must be UTF-8 and at most 200 characters long.");
		return;
	}
	page_title(pg, q[0] ? "Search" : "Products");
	st = catalog_list(hp->cfg.catalog, reads_on(pg, false), q, page, list, &pg->trace);
	if (st != CATALOG_OK) {
		evbuffer_add_printf(m, "<h1>Products</h1>");
		page_db_failure(pg, st, false);
		return;
	}
	pg->status = 200;
	pages = list->total ? (list->total + CATALOG_PAGE_SIZE - 1) / CATALOG_PAGE_SIZE : 1;
	if (q[0]) {
		evbuffer_add_printf(m, "<h1>Products matching &ldquo;");
		html_text(m, q);
		evbuffer_add_printf(m, "&rdquo;</h1>");
	} else {
		evbuffer_add_printf(m, "<h1>Products</h1>");
	}
	evbuffer_add_printf(m,
			    "<p id=\"count\">%" PRId64 " product%s%s. <a href=\"/products/new\">"
			    "New product</a></p>",
			    list->total, list->total == 1 ? "" : "s", q[0] ? " match" : "");
	if (list->n == 0) {
		if (list->total == 0)
			evbuffer_add_printf(m, "<p id=\"empty\">%s</p>",
					    q[0] ? "No product name contains this text."
						 : "No products yet: create the first one.");
		else
			evbuffer_add_printf(m,
					    "<p id=\"empty\">Page %" PRId64 " is past the last "
					    "page (%" PRId64 ").</p>",
					    page, pages);
	} else {
		evbuffer_add_printf(m, "<table id=\"products\"><thead><tr><th class=\"num\">Id</th>"
				       "<th>Name</th><th class=\"num\">Price</th><th class=\"num\">"
				       "Stock</th><th>Updated</th></tr></thead><tbody>");
		for (size_t i = 0; i < list->n; i++) {
			const struct catalog_product *p = &list->rows[i];

			evbuffer_add_printf(m, "<tr><td class=\"num\">%" PRId64 "</td><td>", p->id);
			product_link(m, p->id, p->name);
			evbuffer_add_printf(m, "</td><td class=\"num\">");
			html_text(m, p->price);
			evbuffer_add_printf(m, "</td><td class=\"num\">%" PRId64 "</td><td>",
					    p->stock);
			html_text(m, p->updated_at);
			evbuffer_add_printf(m, "</td></tr>");
		}
		evbuffer_add_printf(m, "</tbody></table>");
	}
	evbuffer_add_printf(m, "<nav class=\"pager\">");
	if (page > 1) {
		evbuffer_add_printf(m, "<a rel=\"prev\" href=\"/?page=%" PRId64 "&amp;q=",
				    page - 1 < pages ? page - 1 : pages);
		html_url_param(m, q);
		evbuffer_add_printf(m, "\">&larr; Previous</a>");
	}
	evbuffer_add_printf(m, "<span id=\"page\">Page %" PRId64 " of %" PRId64 "</span>", page,
			    pages);
	if (page < pages) {
		evbuffer_add_printf(m,
				    "<a rel=\"next\" href=\"/?page=%" PRId64 "&amp;q=", page + 1);
		html_url_param(m, q);
		evbuffer_add_printf(m, "\">Next &rarr;</a>");
	}
	evbuffer_add_printf(m, "</nav>");
}

static void not_found_product(struct page *pg, int64_t id)
{
	char text[128];

	snprintf(text, sizeof(text), "There is no product %" PRId64 " (it may have been deleted).",
		 id);
	page_client_error(pg, 404, "No such product", text);
}

/* Read product id into p for a page. False when it could not be: the page already says why
 * (404 for a product that is not there, the database failure otherwise). */
static bool load_product(struct http_pages *hp, struct page *pg, int64_t id, bool after_write,
			 struct catalog_product *p)
{
	enum catalog_status st =
		catalog_get(hp->cfg.catalog, reads_on(pg, after_write), id, p, &pg->trace);

	if (st == CATALOG_NOT_FOUND) {
		not_found_product(pg, id);
		return false;
	}
	if (st != CATALOG_OK) {
		page_db_failure(pg, st, false);
		return false;
	}
	return true;
}

static void page_detail(struct http_pages *hp, struct page *pg, int64_t id)
{
	struct catalog_product p;
	struct evbuffer *m = pg->main;

	if (!load_product(hp, pg, id, false, &p))
		return;
	pg->status = 200;
	page_title(pg, p.name);
	evbuffer_add_printf(m, "<h1 id=\"name\">");
	html_text(m, p.name);
	evbuffer_add_printf(m,
			    "</h1><dl><dt>Id</dt><dd id=\"id\">%" PRId64 "</dd><dt>Price</dt>"
			    "<dd id=\"price\">",
			    p.id);
	html_text(m, p.price);
	evbuffer_add_printf(m,
			    "</dd><dt>Stock</dt><dd id=\"stock\">%" PRId64 "</dd>"
			    "<dt>Updated</dt><dd>",
			    p.stock);
	html_text(m, p.updated_at);
	evbuffer_add_printf(m,
			    "</dd></dl><p><a href=\"/products/%" PRId64 "/edit\">Edit</a> "
			    "&middot; <a href=\"/products/%" PRId64 "/delete\">Delete</a> "
			    "&middot; <a href=\"/\">All products</a></p>",
			    p.id, p.id);
}

/* Validate the POSTed form; on failure render it again with the messages
 * (HTTP 422) and return false. */
static bool validated(struct page *pg, const struct form *f, const char *action, const char *submit,
		      struct product_input *in)
{
	struct product_errors err;
	const char *name = form_get(f, "name"), *price = form_get(f, "price");
	const char *stock = form_get(f, "stock");

	if (product_validate(name, price, stock, in, &err))
		return true;
	pg->status = 422;
	render_form(pg, action, submit, name, price, stock, &err);
	return false;
}

static void page_new(struct http_pages *hp, struct page *pg, bool post)
{
	struct product_input in;
	struct form f;
	enum catalog_status st;
	char message[PRODUCT_NAME_MAX_BYTES + 96];
	int64_t id;

	page_title(pg, "New product");
	evbuffer_add_printf(pg->main, "<h1>New product</h1>");
	if (!post) {
		pg->status = 200;
		render_form(pg, "/products/new", "Create", "", "", "", NULL);
		return;
	}
	form_init(&f);
	if (!read_body(pg, &f))
		goto out;
	if (!validated(pg, &f, "/products/new", "Create", &in))
		goto out;
	pg->used_write = true;
	st = catalog_insert(hp->cfg.catalog, &in, &id, &pg->trace);
	if (st != CATALOG_OK) {
		page_db_failure(pg, st, true);
		render_form(pg, "/products/new", "Create", form_get(&f, "name"),
			    form_get(&f, "price"), form_get(&f, "stock"), NULL);
		goto out;
	}
	snprintf(message, sizeof(message),
		 "Created \xe2\x80\x9c%s\xe2\x80\x9d (product %" PRId64 ").", in.name, id);
	page_redirect(pg, "/", flash_add(&hp->flash, message, last_badge(pg)));
out:
	form_deinit(&f);
}

static void page_edit(struct http_pages *hp, struct page *pg, int64_t id, bool post)
{
	struct catalog_product p;
	struct product_input in;
	struct form f;
	enum catalog_status st;
	char action[64], message[PRODUCT_NAME_MAX_BYTES + 96];
	char stock[24];

	snprintf(action, sizeof(action), "/products/%" PRId64 "/edit", id);
	page_title(pg, "Edit product");
	if (!post) {
		if (!load_product(hp, pg, id, true, &p))
			return;
		pg->status = 200;
		evbuffer_add_printf(pg->main, "<h1>Edit product %" PRId64 "</h1>", id);
		snprintf(stock, sizeof(stock), "%" PRId64, p.stock);
		render_form(pg, action, "Save", p.name, p.price, stock, NULL);
		return;
	}
	evbuffer_add_printf(pg->main, "<h1>Edit product %" PRId64 "</h1>", id);
	form_init(&f);
	if (!read_body(pg, &f))
		goto out;
	if (!validated(pg, &f, action, "Save", &in))
		goto out;
	pg->used_write = true;
	st = catalog_update(hp->cfg.catalog, id, &in, &pg->trace);
	if (st == CATALOG_NOT_FOUND) {
		evbuffer_drain(pg->main, evbuffer_get_length(pg->main));
		not_found_product(pg, id);
		goto out;
	}
	if (st != CATALOG_OK) {
		page_db_failure(pg, st, true);
		render_form(pg, action, "Save", form_get(&f, "name"), form_get(&f, "price"),
			    form_get(&f, "stock"), NULL);
		goto out;
	}
	snprintf(message, sizeof(message), "Saved \xe2\x80\x9c%s\xe2\x80\x9d.", in.name);
	snprintf(action, sizeof(action), "/products/%" PRId64, id);
	page_redirect(pg, action, flash_add(&hp->flash, message, last_badge(pg)));
out:
	form_deinit(&f);
}

static void page_delete(struct http_pages *hp, struct page *pg, int64_t id, bool post)
{
	struct catalog_product p;
	struct evbuffer *m = pg->main;
	enum catalog_status st;
	char message[96];

	page_title(pg, "Delete product");
	if (!post) {
		if (!load_product(hp, pg, id, true, &p))
			return;
		pg->status = 200;
		evbuffer_add_printf(m, "<h1>Delete &ldquo;");
		html_text(m, p.name);
		evbuffer_add_printf(m,
				    "&rdquo;?</h1><p>Product %" PRId64 " will be removed for "
				    "good.</p><form method=\"post\" action=\"/products/%" PRId64
				    "/delete\"><button class=\"danger\" type=\"submit\">Delete"
				    "</button> <a href=\"/products/%" PRId64 "\">Cancel</a></form>",
				    id, id, id);
		return;
	}
	pg->used_write = true;
	st = catalog_delete(hp->cfg.catalog, id, &pg->trace);
	if (st == CATALOG_NOT_FOUND) {
		not_found_product(pg, id);
		return;
	}
	if (st != CATALOG_OK) {
		evbuffer_add_printf(m, "<h1>Delete product %" PRId64 "</h1>", id);
		page_db_failure(pg, st, true);
		return;
	}
	snprintf(message, sizeof(message), "Deleted product %" PRId64 ".", id);
	page_redirect(pg, "/", flash_add(&hp->flash, message, last_badge(pg)));
}

/* ---- routing ------------------------------------------------------------------------- */

static void method_not_allowed(struct page *pg, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(pg->req), "Allow", allow);
	page_client_error(pg, 405, "Method not allowed",
			  strcmp(allow, "GET, HEAD") == 0
				  ? "This page can only be read (GET)."
				  : "Use the page's form: it is read with GET and sent with POST.");
}

/* Dispatch on path and method; leaves pg->status set and pg->main filled, or
 * for a 303 pg->location. */
static void route(struct http_pages *hp, struct page *pg, const char *path,
		  enum evhttp_cmd_type cmd, const struct form *query)
{
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	bool post = cmd == EVHTTP_REQ_POST;
	const char *rest;
	int64_t id;

	if (strcmp(path, "/") == 0) {
		if (get)
			page_list(hp, pg, query);
		else
			method_not_allowed(pg, "GET, HEAD");
	} else if (strcmp(path, "/products/new") == 0) {
		if (get || post)
			page_new(hp, pg, post);
		else
			method_not_allowed(pg, "GET, HEAD, POST");
	} else if (parse_product_path(path, &id, &rest)) {
		if (strcmp(rest, "") == 0 && get)
			page_detail(hp, pg, id);
		else if (strcmp(rest, "") == 0)
			method_not_allowed(pg, "GET, HEAD");
		else if (strcmp(rest, "/edit") == 0 && (get || post))
			page_edit(hp, pg, id, post);
		else if (strcmp(rest, "/delete") == 0 && (get || post))
			page_delete(hp, pg, id, post);
		else if (strcmp(rest, "/edit") == 0 || strcmp(rest, "/delete") == 0)
			method_not_allowed(pg, "GET, HEAD, POST");
		else
			page_client_error(pg, 404, "Not found", "There is no such page here.");
	} else {
		page_client_error(pg, 404, "Not found", "There is no such page here.");
	}
}

void http_pages_handle(struct evhttp_request *req, void *arg)
{
	struct http_pages *hp = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct page pg;
	struct form query;

	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/healthz") == 0) {
		struct evbuffer *out = evbuffer_new();

		/* Liveness only: answering must not depend on the database. */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain; charset=utf-8");
		if (out)
			evbuffer_add_printf(out, "ok\n");
		evhttp_send_reply(req, 200, "OK", out);
		if (out)
			evbuffer_free(out);
		return;
	}
	if (!page_init(&pg, &hp->env, req)) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	form_init(&query);
	if (read_query(hp, &pg, &query))
		route(hp, &pg, path, evhttp_request_get_command(req), &query);
	page_send(&pg);
	form_deinit(&query);
	page_deinit(&pg);
}

struct http_pages *http_pages_create(const struct http_pages_config *cfg)
{
	struct http_pages *hp = calloc(1, sizeof(*hp));

	if (!hp)
		return NULL;
	hp->cfg = *cfg;
	hp->env.stats = cfg->stats;
	hp->env.mysql_where = cfg->mysql_where;
	hp->env.verbose = cfg->verbose;
	flash_init(&hp->flash);
	return hp;
}

void http_pages_destroy(struct http_pages *hp)
{
	free(hp);
}
