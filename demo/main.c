/*
 * sluice-demo: a small product catalogue web app in front of sluice. Parses
 * the command line, binds the HTTP port, opens the database connection,
 * then serves pages from one libevent loop until SIGINT or SIGTERM.
 *
 * Three tiers of failure, as in sluice: a bad option, a busy port, a refused
 * login or a missing database stop the start with a message naming the
 * option to change; a database that is down at start is retried by every
 * request; a failure during a request becomes a page that says so.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <mysql.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "catalog.h"
#include "dlog.h"
#include "http_pages.h"
#include "options.h"
#include "stats_client.h"

/* evhttp's timeout for a connection's reads and writes. Its timers run out
 * while a request blocks the loop on the database, and an expired one drops
 * the connection of the very request that waited (seen in a failover: the
 * write went through, the browser got nothing). So it must outlast the
 * longest a request can block: a connect (5 s) and the four statements of an
 * update, each up to --mysql-timeout, plus slack. */
static int http_timeout(unsigned mysql_timeout)
{
	return 10 + 5 + 4 * (int)mysql_timeout;
}

/* A listening socket for --listen; -1 after printing why not. */
static evutil_socket_t bind_listener(const struct options *o)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	evutil_socket_t fd = -1;
	int rc, one = 1, err;

	rc = getaddrinfo(o->listen_host, o->listen_port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr,
			"sluice-demo: cannot listen on %s (--listen): %s is not an "
			"address of this machine (%s)\n",
			o->listen, o->listen_host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		err = errno;
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (err == EADDRINUSE)
		fprintf(stderr,
			"sluice-demo: cannot listen on %s (--listen): port %s is already "
			"in use; stop the program using it or pick another port with "
			"--listen HOST:PORT\n",
			o->listen, o->listen_port);
	else if (err == EACCES)
		fprintf(stderr,
			"sluice-demo: cannot listen on %s (--listen): permission denied "
			"(ports below 1024 need privileges); pick a port above 1023\n",
			o->listen);
	else if (err == EADDRNOTAVAIL)
		fprintf(stderr,
			"sluice-demo: cannot listen on %s (--listen): %s is not an "
			"address of this machine\n",
			o->listen, o->listen_host);
	else
		fprintf(stderr, "sluice-demo: cannot listen on %s (--listen): %s\n", o->listen,
			strerror(err));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* The first connection, at start: false (after a message) for what no retry
 * can fix; a database that is merely unreachable is left to the requests. */
static bool first_connect(struct catalog *cat, const struct options *o)
{
	struct catalog_trace t = {0};
	enum catalog_status st = catalog_connect(cat, CATALOG_SESSION_WRITE, &t);

	/* The write session first: it runs --init-schema. */
	if (st == CATALOG_OK)
		st = catalog_connect(cat, CATALOG_SESSION_READ, &t);

	if (st == CATALOG_OK)
		return true;
	switch (t.error_code) {
	case 1045:
		fprintf(stderr,
			"sluice-demo: sluice at %s:%u refused the login of '%s' (%s): check "
			"--mysql-user and the password (--mysql-password, "
			"--mysql-password-file or %s), and that sluice's users: list has "
			"the account\n",
			o->mysql_host, o->mysql_port, o->mysql_user, t.error, OPTIONS_PASSWORD_ENV);
		return false;
	case 1049:
		fprintf(stderr,
			"sluice-demo: the database '%s' does not exist (%s): create it or "
			"start sluice-demo with --init-schema\n",
			o->database, t.error);
		return false;
	case 1044:
	case 1142:
		fprintf(stderr,
			"sluice-demo: '%s' may not %s (%s): grant the account the "
			"privileges on '%s' (CREATE as well for --init-schema)\n",
			o->mysql_user, t.step, t.error, o->database);
		return false;
	default:
		break;
	}
	if (st == CATALOG_REFUSED) {
		fprintf(stderr, "sluice-demo: could not %s: %s (error %u)\n", t.step, t.error,
			t.error_code);
		return false;
	}
	dlog_warn("db", "no database yet (%s: %s); serving anyway, every request tries again%s",
		  t.step, t.error,
		  o->init_schema ? ", and --init-schema runs on the first "
				   "connection that works"
				 : "");
	return true;
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
	dlog_info("main", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct event_base *base = NULL;
	struct evhttp *http = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct catalog *cat = NULL;
	struct stats_client *stats = NULL;
	struct http_pages *pages = NULL;
	evutil_socket_t fd = -1;
	char where[300], err[256];
	int status = 1;

	switch (options_parse(&opt, argc, argv)) {
	case OPTIONS_EXIT:
		options_deinit(&opt);
		return 0;
	case OPTIONS_ERROR:
		options_deinit(&opt);
		return 2;
	case OPTIONS_RUN:
		break;
	}
	/* A write to a connection the peer closed must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (mysql_library_init(0, NULL, NULL) != 0) {
		fprintf(stderr, "sluice-demo: cannot initialise MariaDB Connector/C\n");
		goto out;
	}
	/* The port first: a busy port is the most common start-up problem. */
	fd = bind_listener(&opt);
	if (fd < 0)
		goto out;
	if (opt.stats_url) {
		stats = stats_client_create(opt.stats_url, opt.mysql_port, err, sizeof(err));
		if (!stats) {
			fprintf(stderr, "sluice-demo: %s\n", err);
			status = 2;
			goto out;
		}
	}
	struct catalog_config cc = {
		.host = opt.mysql_host,
		.port = opt.mysql_port,
		.user = opt.mysql_user,
		.password = opt.mysql_password,
		.database = opt.database,
		.timeout_s = opt.mysql_timeout,
		.init_schema = opt.init_schema,
	};
	cat = catalog_create(&cc);
	snprintf(where, sizeof(where), "%s:%u", opt.mysql_host, opt.mysql_port);
	struct http_pages_config pc = {
		.catalog = cat, .stats = stats, .mysql_where = where, .verbose = opt.verbose};
	pages = cat ? http_pages_create(&pc) : NULL;
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	sigint = base ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
	sigterm = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
	if (!pages || !http || !sigint || !sigterm || event_add(sigint, NULL) ||
	    event_add(sigterm, NULL)) {
		fprintf(stderr, "sluice-demo: out of memory while starting\n");
		goto out;
	}
	if (!first_connect(cat, &opt))
		goto out;
	evhttp_set_timeout(http, http_timeout(opt.mysql_timeout));
	evhttp_set_max_body_size(http, HTTP_PAGES_MAX_BODY);
	evhttp_set_max_headers_size(http, 16384);
	/* The pages answer other methods with 405 and an Allow header themselves. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						 EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(http, http_pages_handle, pages);
	if (!evhttp_accept_socket_with_handle(http, fd)) {
		fprintf(stderr, "sluice-demo: cannot serve on %s (--listen)\n", opt.listen);
		goto out;
	}
	fd = -1; /* evhttp owns it now */
	dlog_info("main", "serving http://%s/ with the catalogue in '%s' through sluice at %s%s%s",
		  opt.listen, opt.database, where, stats ? ", node roles from " : "",
		  stats ? opt.stats_url : "");
	if (event_base_dispatch(base) != 0)
		goto out;
	dlog_info("main", "stopped");
	status = 0;
out:
	if (http)
		evhttp_free(http);
	if (fd >= 0)
		close(fd);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (base)
		event_base_free(base);
	http_pages_destroy(pages);
	catalog_destroy(cat);
	stats_client_destroy(stats);
	options_deinit(&opt);
	mysql_library_end();
	libevent_global_shutdown();
	return status;
}
