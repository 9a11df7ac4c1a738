/*
 * What sluice says about its cluster, from its stats API
 * (GET {stats-url}/api/v1/status): which node is the writer and each node's
 * state and role. Used for the role in the badges and for the page footer.
 *
 * The fetch is a blocking HTTP/1.0 GET bounded by STATS_TIMEOUT_MS in total
 * (resolve, connect, send, read), and its result, good or bad, is kept for
 * STATS_CACHE_MS: a page costs at most one bounded fetch per second, and an
 * unreachable stats server costs no more than a reachable one.
 */
#ifndef SLUICE_DEMO_STATS_CLIENT_H
#define SLUICE_DEMO_STATS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_TIMEOUT_MS 300
#define STATS_CACHE_MS	 1000
#define STATS_MAX_NODES	 16
#define STATS_NAME_SIZE	 65
#define STATS_MAX_BODY	 (4u << 20)

struct stats_node {
	char name[STATS_NAME_SIZE];
	char state[16]; /* "up", "down", "drain", "maintenance" */
	char role[16];	/* "writer" or "reader" */
};

struct stats_status {
	bool ok;		       /* the last fetch worked and parsed */
	char error[200];	       /* when not ok: why, in words */
	char cluster[STATS_NAME_SIZE]; /* the cluster behind our listener */
	char writer[STATS_NAME_SIZE];  /* its writer; "" when it has none */
	size_t n_nodes;
	struct stats_node nodes[STATS_MAX_NODES];
	uint64_t fetched_ms; /* CLOCK_MONOTONIC of the fetch, 0 = never */
};

/* A client for `url` ("http://host[:port][/prefix]", only http). The cluster
 * shown is the one of sluice's mysql listener bound to `mysql_port` (or the
 * only or first cluster). NULL with a sentence in `err` for a bad URL. */
struct stats_client *stats_client_create(const char *url, unsigned mysql_port, char *err,
					 size_t errlen);
void stats_client_destroy(struct stats_client *sc);

/* The cluster's status, fetched now if the cached one is older than
 * STATS_CACHE_MS. Never NULL; valid until the next call. Blocks for at most
 * STATS_TIMEOUT_MS. */
const struct stats_status *stats_client_get(struct stats_client *sc);
/* The URL as given, for the dashboard link. */
const char *stats_client_url(const struct stats_client *sc);

/* Fill `out` from the JSON of /api/v1/status (pure, unit-tested). False with
 * out->error set when it is not JSON or has no clusters. */
bool stats_parse_status(const char *json, size_t len, unsigned mysql_port,
			struct stats_status *out);

/* Decode an HTTP/1.x response in resp[0..len), NUL-terminated: checks the status line for
 * 200, finds the body and undoes chunked transfer coding. Returns the body
 * (malloc'd, NUL-terminated, length in *body_len) or NULL with `err` set. */
char *stats_http_body(const char *resp, size_t len, size_t *body_len, char *err, size_t errlen);

#endif
