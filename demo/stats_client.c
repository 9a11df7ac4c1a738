/*
 * The stats API client: a small blocking HTTP/1.0 GET with one deadline for
 * the whole exchange, and the reading of sluice's status document.
 */
#include "stats_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dlog.h"
#include "json.h"

struct stats_client {
	char *url;	/* as given */
	char host[256]; /* without brackets for IPv6 */
	char port[8];
	char path[512]; /* prefix + "/api/v1/status" */
	unsigned mysql_port;
	struct stats_status status;
	bool last_ok; /* for logging changes only */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct stats_client *stats_client_create(const char *url, unsigned mysql_port, char *err,
					 size_t errlen)
{
	struct stats_client *sc = calloc(1, sizeof(*sc));
	const char *p, *host_end, *slash;
	size_t host_len, prefix_len;

	if (!sc || !(sc->url = strdup(url))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "--stats-url must start with http:// (got '%s')", url);
		goto fail;
	}
	p = url + 7;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(slash - p));
		if (!host_end) {
			snprintf(err, errlen, "--stats-url: unclosed '[' in '%s'", url);
			goto fail;
		}
		host_len = (size_t)(host_end - p - 1);
		memcpy(sc->host, p + 1, host_len < sizeof(sc->host) ? host_len : 0);
		p = host_end + 1;
	} else {
		host_end = memchr(p, ':', (size_t)(slash - p));
		if (!host_end)
			host_end = slash;
		host_len = (size_t)(host_end - p);
		memcpy(sc->host, p, host_len < sizeof(sc->host) ? host_len : 0);
		p = host_end;
	}
	if (host_len == 0 || host_len >= sizeof(sc->host)) {
		snprintf(err, errlen, "--stats-url: no host (or a too long one) in '%s'", url);
		goto fail;
	}
	if (*p == ':') {
		size_t port_len = (size_t)(slash - p - 1);
		long port;
		char *end;

		if (port_len == 0 || port_len >= sizeof(sc->port)) {
			snprintf(err, errlen, "--stats-url: bad port in '%s'", url);
			goto fail;
		}
		memcpy(sc->port, p + 1, port_len);
		port = strtol(sc->port, &end, 10);
		if (*end || port < 1 || port > 65535) {
			snprintf(err, errlen, "--stats-url: bad port in '%s'", url);
			goto fail;
		}
	} else if (p != slash) {
		snprintf(err, errlen, "--stats-url: unexpected text after the host in '%s'", url);
		goto fail;
	} else {
		strcpy(sc->port, "80");
	}
	/* Keep a path prefix (sluice behind a reverse proxy), without its final '/'. */
	prefix_len = strlen(slash);
	while (prefix_len && slash[prefix_len - 1] == '/')
		prefix_len--;
	if (prefix_len + sizeof("/api/v1/status") > sizeof(sc->path) || strpbrk(slash, " \r\n?#")) {
		snprintf(err, errlen,
			 "--stats-url: the path of '%s' is too long or has a space, "
			 "'?' or '#'",
			 url);
		goto fail;
	}
	snprintf(sc->path, sizeof(sc->path), "%.*s/api/v1/status", (int)prefix_len, slash);
	sc->mysql_port = mysql_port;
	sc->last_ok = true;
	return sc;
fail:
	stats_client_destroy(sc);
	return NULL;
}

void stats_client_destroy(struct stats_client *sc)
{
	if (!sc)
		return;
	free(sc->url);
	free(sc);
}

const char *stats_client_url(const struct stats_client *sc)
{
	return sc->url;
}

/* ---- parsing ------------------------------------------------------------------------- */

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* The cluster of the mysql listener bound to `port`, if any listener is. */
static const char *cluster_of_port(const struct json_value *doc, unsigned port)
{
	const struct json_value *listeners = json_get(doc, "listeners");
	char suffix[16];

	snprintf(suffix, sizeof(suffix), ":%u", port);
	for (size_t i = 0; i < json_len(listeners); i++) {
		const struct json_value *l = json_at(listeners, i);
		const char *bind = json_get_string(l, "bind");
		const char *mode = json_get_string(l, "mode");
		size_t bl = bind ? strlen(bind) : 0, sl = strlen(suffix);

		if (bind && mode && strcmp(mode, "mysql") == 0 && bl > sl &&
		    strcmp(bind + bl - sl, suffix) == 0)
			return json_get_string(l, "cluster");
	}
	return NULL;
}

bool stats_parse_status(const char *json, size_t len, unsigned mysql_port, struct stats_status *out)
{
	char err[128];
	struct json_value *doc = json_parse(json, len, err, sizeof(err));
	const struct json_value *clusters, *cluster = NULL, *nodes;
	const char *want;

	out->ok = false;
	out->n_nodes = 0;
	out->cluster[0] = out->writer[0] = '\0';
	if (!doc) {
		snprintf(out->error, sizeof(out->error), "the status is not JSON (%s)", err);
		return false;
	}
	clusters = json_get(doc, "clusters");
	if (json_len(clusters) == 0) {
		snprintf(out->error, sizeof(out->error), "the status names no cluster");
		json_free(doc);
		return false;
	}
	want = cluster_of_port(doc, mysql_port);
	for (size_t i = 0; want && i < json_len(clusters); i++) {
		const char *name = json_get_string(json_at(clusters, i), "name");

		if (name && strcmp(name, want) == 0)
			cluster = json_at(clusters, i);
	}
	if (!cluster)
		cluster = json_at(clusters, 0);
	copy(out->cluster, sizeof(out->cluster), json_get_string(cluster, "name"));
	copy(out->writer, sizeof(out->writer), json_get_string(cluster, "writer"));
	nodes = json_get(cluster, "nodes");
	for (size_t i = 0; i < json_len(nodes) && out->n_nodes < STATS_MAX_NODES; i++) {
		const struct json_value *n = json_at(nodes, i);
		struct stats_node *sn = &out->nodes[out->n_nodes];

		if (!json_get_string(n, "name"))
			continue;
		copy(sn->name, sizeof(sn->name), json_get_string(n, "name"));
		copy(sn->state, sizeof(sn->state), json_get_string(n, "state"));
		copy(sn->role, sizeof(sn->role), json_get_string(n, "role"));
		out->n_nodes++;
	}
	out->ok = true;
	out->error[0] = '\0';
	json_free(doc);
	return true;
}

/* ---- HTTP ---------------------------------------------------------------------------- */

static const char *find_crlf2(const char *s, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n')
			return s + i;
	return NULL;
}

/* Whether the header block hdr[0..len) has "Transfer-Encoding: chunked". */
static bool is_chunked(const char *hdr, size_t len)
{
	static const char name[] = "\r\ntransfer-encoding:";

	for (size_t i = 0; i + sizeof(name) - 1 < len; i++) {
		if (strncasecmp(hdr + i, name, sizeof(name) - 1) == 0) {
			const char *v = hdr + i + sizeof(name) - 1;
			const char *end = hdr + len;

			while (v < end && *v == ' ')
				v++;
			return (size_t)(end - v) >= 7 && strncasecmp(v, "chunked", 7) == 0;
		}
	}
	return false;
}

char *stats_http_body(const char *resp, size_t len, size_t *body_len, char *err, size_t errlen)
{
	const char *hdr_end = find_crlf2(resp, len), *p, *end = resp + len;
	char *body, *o;
	int code = 0;

	if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0 || !hdr_end ||
	    sscanf(resp + 9, "%3d", &code) != 1) {
		snprintf(err, errlen, "the answer is not HTTP");
		return NULL;
	}
	if (code != 200) {
		snprintf(err, errlen, "it answered HTTP %d", code);
		return NULL;
	}
	p = hdr_end + 4;
	body = malloc((size_t)(end - p) + 1);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!is_chunked(resp, (size_t)(hdr_end - resp) + 2)) {
		memcpy(body, p, (size_t)(end - p));
		*body_len = (size_t)(end - p);
		body[*body_len] = '\0';
		return body;
	}
	o = body;
	for (;;) {
		char *after;
		unsigned long size = strtoul(p, &after, 16);
		const char *line_end = after;

		/* Skip chunk extensions up to the CRLF. */
		while (line_end + 1 < end && !(line_end[0] == '\r' && line_end[1] == '\n'))
			line_end++;
		if (after == p || line_end + 1 >= end || size > (size_t)(end - line_end - 2)) {
			snprintf(err, errlen, "the answer's chunked body is cut short or broken");
			free(body);
			return NULL;
		}
		p = line_end + 2;
		if (size == 0)
			break;
		memcpy(o, p, size);
		o += size;
		p += size + 2; /* the CRLF after the data */
		if (p > end) {
			snprintf(err, errlen, "the answer's chunked body is cut short");
			free(body);
			return NULL;
		}
	}
	*body_len = (size_t)(o - body);
	*o = '\0';
	return body;
}

/* Wait for `events` on fd until `deadline` (monotonic ms); false on timeout. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd pfd = {.fd = fd, .events = events};
		int rc;

		if (now >= deadline)
			return false;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc > 0)
			return true;
		if (rc == 0)
			return false;
		if (errno != EINTR)
			return false;
	}
}

/* GET sc->path; the raw answer in *resp (malloc'd) or false with `err`. */
static bool http_get(const struct stats_client *sc, char **resp, size_t *resp_len, char *err,
		     size_t errlen)
{
	uint64_t deadline = mono_ms() + STATS_TIMEOUT_MS;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char req[1024];
	size_t req_len, sent = 0, cap = 16384, n = 0;
	char *buf = NULL;
	int fd = -1, rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	rc = getaddrinfo(sc->host, sc->port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %.64s: %s", sc->host, gai_strerror(rc));
		return false;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "cannot connect to %.64s:%s: %s", sc->host, sc->port,
			 strerror(errno));
		goto fail;
	}
	if (!wait_fd(fd, POLLOUT, deadline)) {
		snprintf(err, errlen, "no connection to %.64s:%s within %d ms", sc->host, sc->port,
			 STATS_TIMEOUT_MS);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
		snprintf(err, errlen, "cannot connect to %.64s:%s: %s", sc->host, sc->port,
			 strerror(soerr ? soerr : errno));
		goto fail;
	}
	req_len = (size_t)snprintf(req, sizeof(req),
				   "GET %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: application/json\r\n"
				   "Connection: close\r\nUser-Agent: sluice-demo\r\n\r\n",
				   sc->path, sc->host, sc->port);
	while (sent < req_len) {
		ssize_t w = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);

		if (w > 0) {
			sent += (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "sending to %.64s:%s: %s", sc->host, sc->port,
				 strerror(errno));
			goto fail;
		} else if (!wait_fd(fd, POLLOUT, deadline)) {
			snprintf(err, errlen, "no answer within %d ms", STATS_TIMEOUT_MS);
			goto fail;
		}
	}
	buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			char *bigger;

			if (cap >= STATS_MAX_BODY) {
				snprintf(err, errlen, "the answer is larger than %u bytes",
					 STATS_MAX_BODY);
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		/* One byte kept for the NUL stats_http_body() relies on. */
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r > 0) {
			n += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "reading from %.64s:%s: %s", sc->host, sc->port,
				 strerror(errno));
			goto fail;
		} else if (!wait_fd(fd, POLLIN, deadline)) {
			snprintf(err, errlen, "no complete answer within %d ms", STATS_TIMEOUT_MS);
			goto fail;
		}
	}
	close(fd);
	freeaddrinfo(ai);
	buf[n] = '\0';
	*resp = buf;
	*resp_len = n;
	return true;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return false;
}

const struct stats_status *stats_client_get(struct stats_client *sc)
{
	struct stats_status *st = &sc->status;
	uint64_t now = mono_ms();
	char err[200], *resp = NULL, *body = NULL;
	size_t resp_len, body_len;

	if (st->fetched_ms && now - st->fetched_ms < STATS_CACHE_MS)
		return st;
	st->fetched_ms = now ? now : 1;
	if (!http_get(sc, &resp, &resp_len, err, sizeof(err)) ||
	    !(body = stats_http_body(resp, resp_len, &body_len, err, sizeof(err)))) {
		st->ok = false;
		snprintf(st->error, sizeof(st->error), "%s", err);
	} else {
		stats_parse_status(body, body_len, sc->mysql_port, st);
	}
	free(resp);
	free(body);
	if (st->ok != sc->last_ok) {
		if (st->ok)
			dlog_info("stats", "%s answers again", sc->url);
		else
			dlog_warn("stats", "%s: %s (badges say 'role unknown' until it answers)",
				  sc->url, st->error);
		sc->last_ok = st->ok;
	}
	return st;
}
