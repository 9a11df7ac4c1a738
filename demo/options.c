/*
 * Command-line parsing for sluice-demo (getopt_long). Problems are reported
 * with the option's name and what to give instead.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#ifndef SLUICE_DEMO_VERSION
#define SLUICE_DEMO_VERSION "0"
#endif

void options_usage(FILE *out)
{
	fprintf(out,
		"Usage: sluice-demo --mysql-user USER [options]\n"
		"A product catalogue web app that shows, on every page, which node of the\n"
		"cluster behind sluice answered each statement.\n"
		"\n"
		"  --listen HOST:PORT         where to serve HTTP (default 127.0.0.1:8080)\n"
		"  --mysql-host HOST          sluice's mysql listener (default 127.0.0.1)\n"
		"  --mysql-port PORT          its port (default 3309)\n"
		"  --mysql-user USER          the account to log in as (required)\n"
		"  --mysql-password PW        its password (better: the file or %s)\n"
		"  --mysql-password-file F    read the password from the first line of F\n"
		"  --database NAME            database of the products table (default demo)\n"
		"  --stats-url URL            sluice's stats server, e.g. http://127.0.0.1:8404\n"
		"                             (node roles and states; without it roles are "
		"unknown)\n"
		"  --dashboard-url URL        the footer's dashboard link, as a browser reaches\n"
		"                             sluice's stats server (default: --stats-url)\n"
		"  --init-schema              create the database and table if missing and add\n"
		"                             sample products when the table is empty\n"
		"  --mysql-timeout SECONDS    longest wait for one statement (default 30)\n"
		"  -v, --verbose              log every request with the nodes that served it\n"
		"  -h, --help                 this text\n"
		"  --version                  the version\n",
		OPTIONS_PASSWORD_ENV);
}

static const char *dashboard_url; /* options_dashboard_url() */

const char *options_dashboard_url(void)
{
	return dashboard_url;
}

/* A host name or IPv4 address (`bracketed` false), or an IPv6 address. */
static bool host_chars_ok(const char *h, size_t len, bool bracketed)
{
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		bool hex =
			(c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

		if (bracketed ? !(hex || c == ':' || c == '.')
			      : !(hex || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') ||
				  c == '.' || c == '-' || c == '_' || c == '~' || c == '%'))
			return false;
	}
	return true;
}

bool options_dashboard_url_ok(const char *url, char *err, size_t errlen)
{
	const char *p, *slash, *host;
	size_t host_len;
	bool bracketed;

	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
	} else {
		snprintf(err, errlen,
			 "--dashboard-url must start with http:// or https:// (got '%s')", url);
		return false;
	}
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#') {
			snprintf(err, errlen,
				 "--dashboard-url: '%s' has a space, control character, '?' or '#'",
				 url);
			return false;
		}
	}
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	bracketed = *p == '[';
	if (bracketed) {
		const char *close = memchr(p, ']', (size_t)(slash - p));

		if (!close) {
			snprintf(err, errlen, "--dashboard-url: unclosed '[' in '%s'", url);
			return false;
		}
		host = p + 1;
		host_len = (size_t)(close - host);
		p = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(slash - p));

		host = p;
		p = colon ? colon : slash;
		host_len = (size_t)(p - host);
	}
	if (host_len == 0 || host_len > 255) {
		snprintf(err, errlen, "--dashboard-url: no host (or a too long one) in '%s'", url);
		return false;
	}
	if (!host_chars_ok(host, host_len, bracketed)) {
		snprintf(err, errlen,
			 "--dashboard-url: '%.*s' is not a host name or address in '%s'",
			 (int)host_len, host, url);
		return false;
	}
	if (*p == ':') {
		unsigned long port = 0;
		const char *d = p + 1;

		for (; d < slash && *d >= '0' && *d <= '9' && port <= 65535; d++)
			port = port * 10 + (unsigned long)(*d - '0');
		if (d == p + 1 || d != slash || port < 1 || port > 65535) {
			snprintf(err, errlen, "--dashboard-url: bad port in '%s'", url);
			return false;
		}
	} else if (p != slash) {
		snprintf(err, errlen, "--dashboard-url: unexpected text after the host in '%s'",
			 url);
		return false;
	}
	return true;
}

/* "HOST:PORT" or "[V6]:PORT" into o->listen_host and o->listen_port. */
static bool parse_listen(struct options *o, const char *arg)
{
	const char *colon, *host = arg;
	size_t host_len;
	char *end;
	long port;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return false;
		host = arg + 1;
		host_len = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			return false;
		host_len = (size_t)(colon - arg);
	}
	if (host_len == 0 || host_len >= sizeof(o->listen_host))
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port < 1 || port > 65535)
		return false;
	memcpy(o->listen_host, host, host_len);
	o->listen_host[host_len] = '\0';
	snprintf(o->listen_port, sizeof(o->listen_port), "%ld", port);
	o->listen = arg;
	return true;
}

static bool parse_uint(const char *arg, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (arg[0] < '0' || arg[0] > '9')
		return false;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* The first line of `path`, without its line ending; NULL with a message. */
static char *read_password_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "sluice-demo: cannot read --mysql-password-file %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n <= 0) {
		fprintf(stderr,
			"sluice-demo: --mysql-password-file %s is empty; put the password "
			"on its first line\n",
			path);
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

enum options_result options_parse(struct options *o, int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_MYSQL_HOST,
		OPT_MYSQL_PORT,
		OPT_MYSQL_USER,
		OPT_MYSQL_PASSWORD,
		OPT_MYSQL_PASSWORD_FILE,
		OPT_DATABASE,
		OPT_STATS_URL,
		OPT_DASHBOARD_URL,
		OPT_INIT_SCHEMA,
		OPT_MYSQL_TIMEOUT,
		OPT_VERSION,
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"mysql-host", required_argument, NULL, OPT_MYSQL_HOST},
		{"mysql-port", required_argument, NULL, OPT_MYSQL_PORT},
		{"mysql-user", required_argument, NULL, OPT_MYSQL_USER},
		{"mysql-password", required_argument, NULL, OPT_MYSQL_PASSWORD},
		{"mysql-password-file", required_argument, NULL, OPT_MYSQL_PASSWORD_FILE},
		{"database", required_argument, NULL, OPT_DATABASE},
		{"stats-url", required_argument, NULL, OPT_STATS_URL},
		{"dashboard-url", required_argument, NULL, OPT_DASHBOARD_URL},
		{"init-schema", no_argument, NULL, OPT_INIT_SCHEMA},
		{"mysql-timeout", required_argument, NULL, OPT_MYSQL_TIMEOUT},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	const char *password_file = NULL, *dashboard = NULL;
	char err[512];
	int c;

	memset(o, 0, sizeof(*o));
	(void)parse_listen(o, "127.0.0.1:8080");
	o->mysql_host = "127.0.0.1";
	o->mysql_port = 3309;
	o->database = "demo";
	o->mysql_timeout = 30;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (!parse_listen(o, optarg)) {
				fprintf(stderr,
					"sluice-demo: --listen wants HOST:PORT such as "
					"127.0.0.1:8080 or [::1]:8080, not '%s'\n",
					optarg);
				return OPTIONS_ERROR;
			}
			break;
		case OPT_MYSQL_HOST:
			o->mysql_host = optarg;
			break;
		case OPT_MYSQL_PORT:
			if (!parse_uint(optarg, 1, 65535, &o->mysql_port)) {
				fprintf(stderr,
					"sluice-demo: --mysql-port wants a port from 1 to "
					"65535, not '%s'\n",
					optarg);
				return OPTIONS_ERROR;
			}
			break;
		case OPT_MYSQL_USER:
			o->mysql_user = optarg;
			break;
		case OPT_MYSQL_PASSWORD:
			free(o->mysql_password);
			o->mysql_password = strdup(optarg);
			/* Blank the argument so `ps` stops showing it. */
			memset(optarg, 'x', strlen(optarg));
			if (!o->mysql_password)
				return OPTIONS_ERROR;
			break;
		case OPT_MYSQL_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_DATABASE:
			o->database = optarg;
			break;
		case OPT_STATS_URL:
			o->stats_url = *optarg ? optarg : NULL;
			break;
		case OPT_DASHBOARD_URL:
			dashboard = optarg;
			break;
		case OPT_INIT_SCHEMA:
			o->init_schema = true;
			break;
		case OPT_MYSQL_TIMEOUT:
			if (!parse_uint(optarg, 1, 3600, &o->mysql_timeout)) {
				fprintf(stderr,
					"sluice-demo: --mysql-timeout wants seconds from 1 to "
					"3600, not '%s'\n",
					optarg);
				return OPTIONS_ERROR;
			}
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			options_usage(stdout);
			return OPTIONS_EXIT;
		case OPT_VERSION:
			printf("sluice-demo %s\n", SLUICE_DEMO_VERSION);
			return OPTIONS_EXIT;
		case ':':
			fprintf(stderr, "sluice-demo: %s needs a value; see --help\n",
				argv[optind - 1]);
			return OPTIONS_ERROR;
		default:
			fprintf(stderr, "sluice-demo: unknown option '%s'; see --help\n",
				argv[optind - 1]);
			return OPTIONS_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-demo: unexpected argument '%s'; options only, see --help\n",
			argv[optind]);
		return OPTIONS_ERROR;
	}
	if (!o->mysql_user || !*o->mysql_user) {
		fprintf(stderr, "sluice-demo: give the account to log in to sluice with: "
				"--mysql-user USER\n");
		return OPTIONS_ERROR;
	}
	if (!catalog_database_name_ok(o->database)) {
		fprintf(stderr,
			"sluice-demo: --database '%s' is not a plain name: use 1 to 64 "
			"letters, digits, _ or $\n",
			o->database);
		return OPTIONS_ERROR;
	}
	/* Empty: no link. Not given: the app's own view of sluice, --stats-url. */
	o->dashboard_url = dashboard ? (*dashboard ? dashboard : NULL) : o->stats_url;
	if (dashboard && *dashboard && !options_dashboard_url_ok(dashboard, err, sizeof(err))) {
		fprintf(stderr, "sluice-demo: %s\n", err);
		return OPTIONS_ERROR;
	}
	if (password_file && o->mysql_password) {
		fprintf(stderr, "sluice-demo: give --mysql-password or --mysql-password-file, "
				"not both\n");
		return OPTIONS_ERROR;
	}
	if (password_file && !(o->mysql_password = read_password_file(password_file)))
		return OPTIONS_ERROR;
	if (!o->mysql_password && getenv(OPTIONS_PASSWORD_ENV))
		o->mysql_password = strdup(getenv(OPTIONS_PASSWORD_ENV));
	if (!o->mysql_password)
		o->mysql_password = strdup(""); /* an account without a password */
	if (!o->mysql_password)
		return OPTIONS_ERROR;
	dashboard_url = o->dashboard_url;
	return OPTIONS_RUN;
}

void options_deinit(struct options *o)
{
	if (o->mysql_password) {
		memset(o->mysql_password, 0, strlen(o->mysql_password));
		free(o->mysql_password);
	}
	o->mysql_password = NULL;
}
