/*
 * The frame every page of sluice-demo shares, and the answer to the client:
 * the HTML around a page's content (header, the badges of the statements it
 * ran, the footer with the cluster's node states), the messages for input
 * and database failures, the 303 of POST-redirect-GET, and the log line.
 */
#include "page.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlog.h"
#include "flash.h"
#include "html.h"
#include "options.h"
#include "stats_client.h"

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

static void render_footer(struct evbuffer *out, const struct page_env *env,
			  const struct stats_status *ss)
{
	const char *dashboard;

	evbuffer_add_printf(out, "<footer>");
	if (!env->stats) {
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
	/* --dashboard-url, else --stats-url: the browser's way to sluice, which can
	 * differ from the app's (docker compose: localhost, not the service name). */
	dashboard = options_dashboard_url();
	if (dashboard) {
		size_t len = strlen(dashboard);

		evbuffer_add_printf(out, " <a href=\"");
		html_text(out, dashboard);
		evbuffer_add_printf(out, "%s\">sluice dashboard</a>",
				    len && dashboard[len - 1] == '/' ? "" : "/");
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

static void log_request(struct page *pg, const char *location)
{
	struct evhttp_request *req = pg->req;
	const char *uri = evhttp_request_get_uri(req);
	char where[512] = "";
	size_t n = 0;
	double ms = mono_ms() - pg->started_ms;

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
	else if (pg->env->verbose)
		dlog_info("http", "%s %s %d %.1f ms%s%s%s%s",
			  method_name(evhttp_request_get_command(req)), uri, pg->status, ms,
			  n ? ": " : "", where, location ? " -> " : "", location ? location : "");
}

/* Wrap pg->main in the page frame and send it with pg->status. */
static void send_framed(struct page *pg)
{
	const struct page_env *env = pg->env;
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(pg->req);
	const struct stats_status *ss = env->stats ? stats_client_get(env->stats) : NULL;

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
	render_footer(out, env, ss);
	evbuffer_add_printf(out, "\n</body></html>\n");
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	add_security_headers(h);
	if (pg->status == 503)
		evhttp_add_header(h, "Retry-After", "1");
	log_request(pg, NULL);
	evhttp_send_reply(pg->req, pg->status, reason_phrase(pg->status), out);
	evbuffer_free(out);
}

/* POST-redirect-GET: 303 to `location` (a path of ours). */
static void send_redirect(struct page *pg, const char *location)
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
	log_request(pg, location);
	evhttp_send_reply(pg->req, 303, reason_phrase(303), out);
	if (out)
		evbuffer_free(out);
}

/* ---- messages ------------------------------------------------------------------------ */

void page_title(struct page *pg, const char *text)
{
	snprintf(pg->title, sizeof(pg->title), "%s", text);
}

void page_client_error(struct page *pg, int status, const char *heading, const char *text)
{
	pg->status = status;
	page_title(pg, heading);
	evbuffer_add_printf(pg->main, "<h1>");
	html_text(pg->main, heading);
	evbuffer_add_printf(pg->main, "</h1><div class=\"notice bad\"><p>");
	html_text(pg->main, text);
	evbuffer_add_printf(pg->main, "</p><p><a href=\"/\">Back to the product list</a></p>"
				      "</div>");
}

void page_db_failure(struct page *pg, enum catalog_status st, bool wrote)
{
	const struct catalog_trace *t = &pg->trace;
	struct evbuffer *m = pg->main;

	pg->status = st == CATALOG_REFUSED ? 500 : 503;
	page_title(pg, st == CATALOG_REFUSED ? "The database refused the statement"
					     : "The database did not answer");
	evbuffer_add_printf(m, "<div class=\"notice bad\" id=\"db-error\"><h1>");
	switch (st) {
	case CATALOG_UNREACHABLE:
		evbuffer_add_printf(m, "The database did not answer</h1><p>The database did not "
				       "answer: sluice-demo could not connect to sluice at ");
		html_text(m, pg->env->mysql_where);
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

void page_redirect(struct page *pg, const char *path, const char *token)
{
	pg->status = 303;
	snprintf(pg->location, sizeof(pg->location), "%s?done=%s", path, token);
}

bool page_init(struct page *pg, const struct page_env *env, struct evhttp_request *req)
{
	memset(pg, 0, sizeof(*pg));
	pg->env = env;
	pg->req = req;
	pg->status = 500;
	pg->started_ms = mono_ms();
	pg->main = evbuffer_new();
	return pg->main != NULL;
}

void page_deinit(struct page *pg)
{
	if (pg->main)
		evbuffer_free(pg->main);
	pg->main = NULL;
}

void page_send(struct page *pg)
{
	if (pg->status == 303)
		send_redirect(pg, pg->location);
	else
		send_framed(pg);
}
