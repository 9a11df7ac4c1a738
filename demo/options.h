/*
 * sluice-demo's command line. Every option has a long name that the man page
 * (man/sluice-demo.1) and the docker compose file use as they are; keep them.
 */
#ifndef SLUICE_DEMO_OPTIONS_H
#define SLUICE_DEMO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OPTIONS_PASSWORD_ENV "SLUICE_DEMO_MYSQL_PASSWORD"

struct options {
	char listen_host[256]; /* --listen, without [] for IPv6 */
	char listen_port[8];
	const char *listen;	   /* as given, for messages */
	const char *mysql_host;	   /* --mysql-host */
	unsigned mysql_port;	   /* --mysql-port */
	const char *mysql_user;	   /* --mysql-user */
	char *mysql_password;	   /* owned: --mysql-password, its file or the env variable */
	const char *database;	   /* --database */
	const char *stats_url;	   /* --stats-url, NULL = none */
	const char *dashboard_url; /* --dashboard-url, else stats_url; NULL = no link */
	unsigned mysql_timeout;	   /* --mysql-timeout, seconds */
	bool init_schema;	   /* --init-schema */
	bool verbose;		   /* --verbose: log every request */
};

enum options_result {
	OPTIONS_RUN,   /* start the server */
	OPTIONS_EXIT,  /* --help or --version was printed: exit 0 */
	OPTIONS_ERROR, /* a message was printed to stderr: exit 2 */
};

/* Parse argv into `o` (defaults first). A password given on the command line
 * is copied and then blanked in argv, so `ps` shows it only briefly. Release
 * with options_deinit() whatever the result. */
enum options_result options_parse(struct options *o, int argc, char **argv);
void options_deinit(struct options *o);

void options_usage(FILE *out);

/* The footer's "sluice dashboard" link, for browsers: dashboard_url of the
 * last options_parse() that returned OPTIONS_RUN (it points into that argv),
 * NULL before one or when there is no link. Process-wide so that the page
 * frame can reach it. */
const char *options_dashboard_url(void);

/* Whether `url` is fit for --dashboard-url: http:// or https://, a host, an
 * optional port from 1 to 65535, and a path without a space, control
 * character, '?' or '#'. On false, `err` says why, naming the option. */
bool options_dashboard_url_ok(const char *url, char *err, size_t errlen);

#endif
