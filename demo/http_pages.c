/*
 * The pages of sluice-demo. A request is handled start to finish inside
 * http_pages_handle(): parse and check the input, run the catalogue calls
 * (which block; see catalog.h for why there is one connection), then render.
 * Every byte of text that is not a literal of this file is escaped with
 * html.h on its way out.
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
#include <time.h>

#include "catalog.h"
#include "dlog.h"
#include "flash.h"
#include "form.h"
#include "html.h"
#include "product.h"
#include "stats_client.h"

#define MAX_PAGE 100000

struct http_pages {
	struct http_pages_config cfg;
	struct flash flash;
	struct catalog_page list; /* scratch for the list page: too big for the stack */
};

/* One request being answered. */
struct page {
	struct http_pages *hp;
	struct evhttp_request *req;
	struct evbuffer *main; /* what goes inside <main> */
	struct catalog_trace trace;
	const struct flash_entry *flash;
	char title[PRODUCT_NAME_MAX_BYTES + 64];
	int status;
	char location[128]; /* with status 303: where to go */
	bool used_write;    /* ran statements on the WRITE session (for the log) */
};

static const char css[] =
	":root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#f6f7f9;--accent:#2457c5}"
	"*{box-sizing:border-box}"
	"body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
	"color:var(--fg);background:var(--bg)}"
	"header{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap;padding:.8rem 1.5rem;"
	"background:#fff;border-bottom:1px solid var(--line)}"
	"header .brand{font-weight:700;color:var(--fg);text-decoration:none}"
	"header form{margin-left:auto;display:flex;gap:.4rem}"
	"main{max-width:62rem;margin:1.5rem auto;padding:0 1.5rem}"
	"a{color:var(--accent)}"
	"h1{font-size:1.4rem;margin:.2rem 0 1rem}"
	"table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line)}"
	"th,td{text-align:left;padding:.45rem .7rem;border-bottom:1px solid var(--line)}"
	"th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}"
	"td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
	".pager{display:flex;gap:1rem;align-items:center;margin:.8rem 0}"
	"form.product{background:#fff;border:1px solid var(--line);padding:1rem 1.2rem;"
	"max-width:34rem}"
	"label{display:block;font-weight:600;margin-top:.8rem}"
	"input[type=text]{width:100%;padding:.4rem .5rem;font:inherit;border:1px solid #aab;"
	"border-radius:4px}"
	"input[aria-invalid=true]{border-color:#b3261e;background:#fff5f4}"
	"button{font:inherit;padding:.4rem 1rem;border-radius:4px;border:1px solid var(--accent);"
	"background:var(--accent);color:#fff;cursor:pointer;margin-top:1rem}"
	"button.danger{background:#b3261e;border-color:#b3261e}"
	"header button{margin:0;padding:.3rem .8rem}"
	"header input{padding:.3rem .5rem;font:inherit;border:1px solid #aab;border-radius:4px}"
	".field-error{color:#b3261e;margin:.2rem 0 0}"
	".notice{padding:.7rem 1rem;border-radius:4px;margin-bottom:1rem;border:1px solid}"
	".notice.ok{background:#eef8f0;border-color:#9ccfa8}"
	".notice.bad{background:#fff5f4;border-color:#e5a39d}"
	".notice .detail{font-family:ui-monospace,monospace;font-size:.85rem;color:var(--muted)}"
	"dl{display:grid;grid-template-columns:9rem 1fr;gap:.3rem 1rem;background:#fff;"
	"border:1px solid var(--line);padding:1rem}"
	"dt{color:var(--muted)}dd{margin:0}"
	".where{max-width:62rem;margin:1.5rem auto;padding:0 1.5rem}"
	".where h2{font-size:.85rem;text-transform:uppercase;letter-spacing:.04em;"
	"color:var(--muted);margin:0 0 .4rem}"
	".badges{list-style:none;padding:0;margin:0;display:flex;gap:.5rem;flex-wrap:wrap}"
	".badge{padding:.2rem .7rem;border-radius:999px;font-size:.85rem;color:#fff;"
	"white-space:nowrap}"
	".badge.write{box-shadow:0 0 0 2px #fff,0 0 0 4px currentColor}"
	".badge .note{opacity:.85;font-size:.75rem}"
	".c0{background:#2457c5}.c1{background:#1f7a4d}.c2{background:#b25d00}"
	".c3{background:#7b3fb3}.c4{background:#0f7c8c}.c5{background:#8a2846}"
	"footer{max-width:62rem;margin:1rem auto 2rem;padding:.8rem 1.5rem;color:var(--muted);"
	"font-size:.85rem;border-top:1px solid var(--line)}"
	"footer .node{margin-right:1rem;white-space:nowrap}"
	".state-down,.state-maintenance{color:#b3261e;font-weight:600}"
	".state-drain{color:#b25d00;font-weight:600}";

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 303:
		return "See Other";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- badges and the frame ------------------------------------------------------------ */

/* A colour class per node name, the same for a name on every page. */
static unsigned node_colour(const char *name)
{
	unsigned h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	/* "node1", "node2", "node3" get three different colours. */
	return h % 6;
}

/* The role of the node that ran `b`: a write ran on the writer (sluice sends
 * writes nowhere else); for a read, the node is the writer if sluice's stats
 * name it so, otherwise a reader; without stats, unknown. */
static const char *badge_role(const struct catalog_badge *b, const struct stats_status *ss)
{
	if (b->kind == CATALOG_WRITE)
		return "writer";
	if (!ss || !ss->ok)
		return "role unknown";
	return ss->writer[0] && strcmp(ss->writer, b->node) == 0 ? "writer" : "reader";
}

static void render_badge(struct evbuffer *out, const struct catalog_badge *b,
			 const struct stats_status *ss, const char *note)
{
	const char *kind = b->kind == CATALOG_WRITE ? "write" : "read";
	const char *node = b->node[0] ? b->node : "an unnamed node";
	const char *role = badge_role(b, ss);

	evbuffer_add_printf(out, "<li class=\"badge %s c%u\" data-kind=\"%s\" data-node=\"", kind,
			    node_colour(b->node), kind);
	html_text(out, b->node);
	evbuffer_add_printf(out, "\" data-role=\"%s\" title=\"", role);
	html_text(out, b->what);
	evbuffer_add_printf(out, ", %.1f ms\">%s on ", b->ms,
			    b->kind == CATALOG_WRITE ? "written" : "read");
	html_text(out, node);
	evbuffer_add_printf(out, " (%s)", role);
	if (note)
		evbuffer_add_printf(out, " <span class=\"note\">%s</span>", note);
	evbuffer_add_printf(out, "</li>");
}

static void render_footer(struct evbuffer *out, struct http_pages *hp,
			  const struct stats_status *ss)
{
	evbuffer_add_printf(out, "<footer>");
	if (!hp->cfg.stats) {
		evbuffer_add_printf(out, "Node states are not shown: start sluice-demo with "
					 "<code>--stats-url</code> to see them.");
	} else if (!ss->ok) {
		evbuffer_add_printf(out, "sluice's stats API did not answer (");
		html_text(out, ss->error);
		evbuffer_add_printf(out, "), so node states and roles are unknown. ");
	} else {
		evbuffer_add_printf(out, "Cluster <b>");
		html_text(out, ss->cluster);
		evbuffer_add_printf(out, "</b>: ");
		for (size_t i = 0; i < ss->n_nodes; i++) {
			const struct stats_node *n = &ss->nodes[i];

			evbuffer_add_printf(out, "<span class=\"node\" data-node=\"");
			html_text(out, n->name);
			evbuffer_add_printf(out, "\">");
			html_text(out, n->name);
			evbuffer_add_printf(out, ": <span class=\"state-");
			html_text(out, n->state);
			evbuffer_add_printf(out, "\">");
			html_text(out, n->state);
			evbuffer_add_printf(out, "</span>/");
			html_text(out, n->role);
			evbuffer_add_printf(out, "</span>");
		}
		if (!ss->writer[0])
			evbuffer_add_printf(out, "<b>no writer right now</b>. ");
	}
	if (hp->cfg.stats) {
		evbuffer_add_printf(out, " <a href=\"");
		html_text(out, stats_client_url(hp->cfg.stats));
		evbuffer_add_printf(out, "/\">sluice dashboard</a>");
	}
	evbuffer_add_printf(out, "</footer>");
}

static void add_security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
			  "frame-ancestors 'none'; base-uri 'none'");
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	default:
		return "?";
	}
}

static void log_request(struct page *pg, double started, const char *location)
{
	struct evhttp_request *req = pg->req;
	const char *uri = evhttp_request_get_uri(req);
	char where[512] = "";
	size_t n = 0;
	double ms = mono_ms() - started;

	for (size_t i = 0; i < pg->trace.n && n < sizeof(where) - 1; i++) {
		const struct catalog_badge *b = &pg->trace.badges[i];
		int w = snprintf(where + n, sizeof(where) - n, "%s%s on %s", i ? ", " : "",
				 b->kind == CATALOG_WRITE ? "written" : "read",
				 b->node[0] ? b->node : "?");
		if (w > 0)
			n += (size_t)w;
	}
	if (n && n < sizeof(where) - 1)
		snprintf(where + n, sizeof(where) - n, " (%s session)",
			 pg->used_write ? "write" : "read");
	n = strlen(where);
	if (pg->status >= 500)
		dlog_warn("http", "%s %s %d %.1f ms%s%s: %s during '%s' (error %u: %s)",
			  method_name(evhttp_request_get_command(req)), uri, pg->status, ms,
			  n ? ": " : "", where,
			  pg->trace.error_code ? "database failure" : "failure", pg->trace.step,
			  pg->trace.error_code, pg->trace.error);
	else if (pg->hp->cfg.verbose)
		dlog_info("http", "%s %s %d %.1f ms%s%s%s%s",
			  method_name(evhttp_request_get_command(req)), uri, pg->status, ms,
			  n ? ": " : "", where, location ? " -> " : "", location ? location : "");
}

/* Wrap pg->main in the page frame and send it with pg->status. */
static void send_page(struct page *pg, double started)
{
	struct http_pages *hp = pg->hp;
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(pg->req);
	const struct stats_status *ss = hp->cfg.stats ? stats_client_get(hp->cfg.stats) : NULL;

	if (!out) {
		evhttp_send_error(pg->req, 500, "out of memory");
		return;
	}
	evbuffer_add_printf(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
				 "<meta name=\"viewport\" content=\"width=device-width, "
				 "initial-scale=1\"><title>");
	html_text(out, pg->title);
	evbuffer_add_printf(out, " \xc2\xb7 sluice demo</title><style>%s</style></head><body>\n",
			    css);
	evbuffer_add_printf(out, "<header><a class=\"brand\" href=\"/\">sluice demo "
				 "\xc2\xb7 product catalogue</a><a href=\"/products/new\">New "
				 "product</a><form method=\"get\" action=\"/\" role=\"search\">"
				 "<input type=\"text\" name=\"q\" placeholder=\"Search names\" "
				 "aria-label=\"Search names\"><button>Search</button></form>"
				 "</header>\n<main>\n");
	if (pg->flash) {
		evbuffer_add_printf(out, "<div class=\"notice ok\" id=\"done\">");
		html_text(out, pg->flash->message);
		evbuffer_add_printf(out, "</div>\n");
	}
	evbuffer_add_buffer(out, pg->main);
	evbuffer_add_printf(out, "\n</main>\n<section class=\"where\"><h2>Where this page's "
				 "statements ran</h2><ul class=\"badges\">");
	if (pg->flash && pg->flash->has_badge)
		render_badge(out, &pg->flash->badge, ss, "(the change, before this page)");
	for (size_t i = 0; i < pg->trace.n; i++)
		render_badge(out, &pg->trace.badges[i], ss, NULL);
	if (!pg->trace.n && !(pg->flash && pg->flash->has_badge))
		evbuffer_add_printf(out, "<li>This page ran no statement.</li>");
	evbuffer_add_printf(out, "</ul></section>\n");
	render_footer(out, hp, ss);
	evbuffer_add_printf(out, "\n</body></html>\n");
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	add_security_headers(h);
	if (pg->status == 503)
		evhttp_add_header(h, "Retry-After", "1");
	log_request(pg, started, NULL);
	evhttp_send_reply(pg->req, pg->status, reason_phrase(pg->status), out);
	evbuffer_free(out);
}

/* POST-redirect-GET: 303 to `location` (a path of ours). */
static void send_redirect(struct page *pg, const char *location, double started)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(pg->req);
	struct evbuffer *out = evbuffer_new();

	pg->status = 303;
	evhttp_add_header(h, "Location", location);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	add_security_headers(h);
	if (out) {
		evbuffer_add_printf(out, "<!doctype html><title>See other</title><a href=\"");
		html_text(out, location);
		evbuffer_add_printf(out, "\">Continue</a>\n");
	}
	log_request(pg, started, location);
	evhttp_send_reply(pg->req, 303, reason_phrase(303), out);
	if (out)
		evbuffer_free(out);
}

/* ---- messages ------------------------------------------------------------------------ */

static void title(struct page *pg, const char *text)
{
	snprintf(pg->title, sizeof(pg->title), "%s", text);
}

/* A 4xx page with one sentence (a literal of this file or escaped text). */
static void client_error(struct page *pg, int status, const char *heading, const char *text)
{
	pg->status = status;
	title(pg, heading);
	evbuffer_add_printf(pg->main, "<h1>");
	html_text(pg->main, heading);
	evbuffer_add_printf(pg->main, "</h1><div class=\"notice bad\"><p>");
	html_text(pg->main, text);
	evbuffer_add_printf(pg->main, "</p><p><a href=\"/\">Back to the product list</a></p>"
				      "</div>");
}

/* Say, in words, why the database part of the page failed: HTTP 503 when
 * retrying can help, 500 when the server refused the statement. `wrote`:
 * the failed call was meant to change data. */
static void db_failure(struct page *pg, enum catalog_status st, bool wrote)
{
	const struct catalog_trace *t = &pg->trace;
	struct evbuffer *m = pg->main;

	pg->status = st == CATALOG_REFUSED ? 500 : 503;
	if (!pg->title[0] || pg->status >= 500)
		title(pg, st == CATALOG_REFUSED ? "The database refused the statement"
						: "The database did not answer");
	evbuffer_add_printf(m, "<div class=\"notice bad\" id=\"db-error\"><h1>");
	switch (st) {
	case CATALOG_UNREACHABLE:
		evbuffer_add_printf(m, "The database did not answer</h1><p>The database did not "
				       "answer: sluice-demo could not connect to sluice at ");
		html_text(m, pg->hp->cfg.mysql_where);
		evbuffer_add_printf(m, "; please retry in a moment.");
		if (t->error_code == 1045)
			evbuffer_add_printf(m, " The login was refused: check --mysql-user and the "
					       "password given to sluice-demo.");
		else if (t->error_code == 1049)
			evbuffer_add_printf(m, " The database does not exist: start sluice-demo "
					       "with --init-schema to create it.");
		evbuffer_add_printf(m, "</p>");
		break;
	case CATALOG_LOST:
		if (t->timed_out)
			evbuffer_add_printf(m,
					    "The database did not answer</h1><p>The database "
					    "did not answer within %u s (--mysql-timeout): the "
					    "cluster may be replacing a lost node; please retry.",
					    t->timed_out);
		else
			evbuffer_add_printf(m,
					    "The database did not answer</h1><p>The database "
					    "did not answer: node lost during the request; please "
					    "retry.");
		if (wrote)
			evbuffer_add_printf(m, " Whether your change was saved is not known: look "
					       "at the product list before you submit it again.");
		evbuffer_add_printf(m, "</p>");
		break;
	case CATALOG_ROLLED_BACK:
		evbuffer_add_printf(m, "The change was not saved</h1><p>The database did not "
				       "answer as expected: it rolled the change back (a node was "
				       "lost or another change conflicted with it). Nothing was "
				       "saved; please retry.</p>");
		break;
	default:
		evbuffer_add_printf(m, "The database refused the statement</h1><p>");
		if (t->error_code == 1146)
			evbuffer_add_printf(m, "The products table does not exist: start "
					       "sluice-demo with --init-schema to create it.");
		else if (t->error_code == 1142 || t->error_code == 1044)
			evbuffer_add_printf(m,
					    "The account has no right to do this: grant it "
					    "SELECT, INSERT, UPDATE and DELETE on the database.");
		else
			evbuffer_add_printf(m, "This is not something a retry will fix; the "
					       "message below says what the server objected to.");
		evbuffer_add_printf(m, "</p>");
		break;
	}
	evbuffer_add_printf(m, "<p class=\"detail\">MySQL said, during &ldquo;");
	html_text(m, t->step[0] ? t->step : "?");
	evbuffer_add_printf(m, "&rdquo;: ");
	html_text(m, t->error[0] ? t->error : "(no message)");
	evbuffer_add_printf(m, " (error %u)</p></div>\n", t->error_code);
}

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
static bool read_query(struct page *pg, struct form *q)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(pg->req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	char err[160];

	if (query && !form_parse(q, query, strlen(query), err, sizeof(err))) {
		client_error(pg, 400, "Bad request", err);
		return false;
	}
	pg->flash = flash_find(&pg->hp->flash, form_get(q, "done"));
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
		client_error(pg, 415, "Unsupported form encoding",
			     "Send the form as application/x-www-form-urlencoded, as a browser "
			     "does.");
		return false;
	}
	body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (!body || !form_parse(f, body, len, err, sizeof(err))) {
		client_error(pg, 400, "Bad request", body ? err : "out of memory");
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

/* End a successful write: 303 to `path`, with the token of the write's
 * flash entry in ?done= so the next page can show what happened. */
static void redirect(struct page *pg, const char *path, const char *token)
{
	pg->status = 303;
	snprintf(pg->location, sizeof(pg->location), "%s?done=%s", path, token);
}

/* The badge of the write just done (a successful write always adds one). */
static const struct catalog_badge *last_badge(const struct page *pg)
{
	return pg->trace.n ? &pg->trace.badges[pg->trace.n - 1] : NULL;
}

static void page_list(struct page *pg, const struct form *query)
{
	struct http_pages *hp = pg->hp;
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
			client_error(pg, 400, "Bad page number",
				     "The page number must be a whole number from 1 to 100000.");
			return;
		}
		page = v;
	}
	chars = product_utf8_length(q, strlen(q));
	if (chars < 0 || chars > CATALOG_SEARCH_MAX_CHARS) {
		client_error(pg, 400, "Bad search",
			     "The search text must be UTF-8 and at most 200 characters long.");
		return;
	}
	title(pg, q[0] ? "Search" : "Products");
	st = catalog_list(hp->cfg.catalog, reads_on(pg, false), q, page, list, &pg->trace);
	if (st != CATALOG_OK) {
		evbuffer_add_printf(m, "<h1>Products</h1>");
		db_failure(pg, st, false);
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
	client_error(pg, 404, "No such product", text);
}

static void page_detail(struct page *pg, int64_t id)
{
	struct catalog_product p;
	struct evbuffer *m = pg->main;
	enum catalog_status st =
		catalog_get(pg->hp->cfg.catalog, reads_on(pg, false), id, &p, &pg->trace);

	if (st == CATALOG_NOT_FOUND) {
		not_found_product(pg, id);
		return;
	}
	if (st != CATALOG_OK) {
		db_failure(pg, st, false);
		return;
	}
	pg->status = 200;
	title(pg, p.name);
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

static void page_new(struct page *pg, bool post)
{
	struct http_pages *hp = pg->hp;
	struct product_input in;
	struct form f;
	enum catalog_status st;
	char message[PRODUCT_NAME_MAX_BYTES + 96];
	int64_t id;

	title(pg, "New product");
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
		db_failure(pg, st, true);
		render_form(pg, "/products/new", "Create", form_get(&f, "name"),
			    form_get(&f, "price"), form_get(&f, "stock"), NULL);
		goto out;
	}
	snprintf(message, sizeof(message),
		 "Created \xe2\x80\x9c%s\xe2\x80\x9d (product %" PRId64 ").", in.name, id);
	redirect(pg, "/", flash_add(&hp->flash, message, last_badge(pg)));
out:
	form_deinit(&f);
}

static void page_edit(struct page *pg, int64_t id, bool post)
{
	struct http_pages *hp = pg->hp;
	struct catalog_product p;
	struct product_input in;
	struct form f;
	enum catalog_status st;
	char action[64], message[PRODUCT_NAME_MAX_BYTES + 96];
	char stock[24];

	snprintf(action, sizeof(action), "/products/%" PRId64 "/edit", id);
	title(pg, "Edit product");
	if (!post) {
		st = catalog_get(hp->cfg.catalog, reads_on(pg, true), id, &p, &pg->trace);
		if (st == CATALOG_NOT_FOUND) {
			not_found_product(pg, id);
			return;
		}
		if (st != CATALOG_OK) {
			db_failure(pg, st, false);
			return;
		}
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
		db_failure(pg, st, true);
		render_form(pg, action, "Save", form_get(&f, "name"), form_get(&f, "price"),
			    form_get(&f, "stock"), NULL);
		goto out;
	}
	snprintf(message, sizeof(message), "Saved \xe2\x80\x9c%s\xe2\x80\x9d.", in.name);
	snprintf(action, sizeof(action), "/products/%" PRId64, id);
	redirect(pg, action, flash_add(&hp->flash, message, last_badge(pg)));
out:
	form_deinit(&f);
}

static void page_delete(struct page *pg, int64_t id, bool post)
{
	struct http_pages *hp = pg->hp;
	struct catalog_product p;
	struct evbuffer *m = pg->main;
	enum catalog_status st;
	char message[96];

	title(pg, "Delete product");
	if (!post) {
		st = catalog_get(hp->cfg.catalog, reads_on(pg, true), id, &p, &pg->trace);
		if (st == CATALOG_NOT_FOUND) {
			not_found_product(pg, id);
			return;
		}
		if (st != CATALOG_OK) {
			db_failure(pg, st, false);
			return;
		}
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
		db_failure(pg, st, true);
		return;
	}
	snprintf(message, sizeof(message), "Deleted product %" PRId64 ".", id);
	redirect(pg, "/", flash_add(&hp->flash, message, last_badge(pg)));
}

/* ---- routing ------------------------------------------------------------------------- */

static void method_not_allowed(struct page *pg, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(pg->req), "Allow", allow);
	client_error(pg, 405, "Method not allowed",
		     strcmp(allow, "GET, HEAD") == 0
			     ? "This page can only be read (GET)."
			     : "Use the page's form: it is read with GET and sent with POST.");
}

/* Dispatch on path and method; leaves pg->status set and pg->main filled, or
 * for a 303 pg->location. */
static void route(struct page *pg, const char *path, enum evhttp_cmd_type cmd,
		  const struct form *query)
{
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	bool post = cmd == EVHTTP_REQ_POST;
	const char *rest;
	int64_t id;

	if (strcmp(path, "/") == 0) {
		if (get)
			page_list(pg, query);
		else
			method_not_allowed(pg, "GET, HEAD");
	} else if (strcmp(path, "/products/new") == 0) {
		if (get || post)
			page_new(pg, post);
		else
			method_not_allowed(pg, "GET, HEAD, POST");
	} else if (parse_product_path(path, &id, &rest)) {
		if (strcmp(rest, "") == 0 && get)
			page_detail(pg, id);
		else if (strcmp(rest, "") == 0)
			method_not_allowed(pg, "GET, HEAD");
		else if (strcmp(rest, "/edit") == 0 && (get || post))
			page_edit(pg, id, post);
		else if (strcmp(rest, "/delete") == 0 && (get || post))
			page_delete(pg, id, post);
		else if (strcmp(rest, "/edit") == 0 || strcmp(rest, "/delete") == 0)
			method_not_allowed(pg, "GET, HEAD, POST");
		else
			client_error(pg, 404, "Not found", "There is no such page here.");
	} else {
		client_error(pg, 404, "Not found", "There is no such page here.");
	}
}

void http_pages_handle(struct evhttp_request *req, void *arg)
{
	struct http_pages *hp = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	double started = mono_ms();
	struct page pg = {.hp = hp, .req = req, .status = 500};
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
	pg.main = evbuffer_new();
	if (!pg.main) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	form_init(&query);
	if (read_query(&pg, &query))
		route(&pg, path, evhttp_request_get_command(req), &query);
	if (pg.status == 303) {
		send_redirect(&pg, pg.location, started);
	} else {
		send_page(&pg, started);
	}
	form_deinit(&query);
	evbuffer_free(pg.main);
}

struct http_pages *http_pages_create(const struct http_pages_config *cfg)
{
	struct http_pages *hp = calloc(1, sizeof(*hp));

	if (!hp)
		return NULL;
	hp->cfg = *cfg;
	flash_init(&hp->flash);
	return hp;
}

void http_pages_destroy(struct http_pages *hp)
{
	free(hp);
}
