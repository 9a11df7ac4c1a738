/*
 * Fuzz target for the YAML configuration loader (src/config.c,
 * config_load_string). Input: the file's text. Every error must carry a
 * FILE:LINE:COL inside the text, in file order; loading the same text again
 * must give the same result; and a configuration that loads, written back
 * as YAML (every value, canonical form), must load to the same values.
 * Leaks are found by LeakSanitizer (valgrind for the replay).
 *
 * The file is named as if in a scratch directory holding a password file
 * ("pw", "empty") and TLS files ("server.pem", "server.key", "ca.pem"), and
 * SLUICE_MONITOR_PASSWORD, SLUICE_REPORTING_PASSWORD and SLUICE_FUZZ_PW are
 * set, so the conf/ examples and the seeds load. Host names are resolved
 * by the getaddrinfo() below, numeric addresses and "localhost" only: a
 * fuzzer must not send DNS queries.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz.h"

/* ---- name resolution without the network ------------------------------ */

struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_storage ss;
};

/* Replaces the C library's for the whole fuzzer (and replay) binary. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct fake_ai *f = calloc(1, sizeof(*f));
	int family = hints ? hints->ai_family : AF_UNSPEC;
	unsigned long port = service ? strtoul(service, NULL, 10) : 0;

	if (!f)
		return EAI_MEMORY;
	if (!node || strcmp(node, "localhost") == 0)
		node = node ? "127.0.0.1" : "0.0.0.0";
	struct sockaddr_in *v4 = (struct sockaddr_in *)&f->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&f->ss;
	if (family != AF_INET6 && inet_pton(AF_INET, node, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		f->ai.ai_addrlen = sizeof(*v4);
	} else if (family != AF_INET && inet_pton(AF_INET6, node, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		f->ai.ai_addrlen = sizeof(*v6);
	} else {
		free(f);
		return EAI_NONAME;
	}
	f->ai.ai_family = f->ss.ss_family;
	f->ai.ai_socktype = SOCK_STREAM;
	f->ai.ai_addr = (struct sockaddr *)&f->ss;
	*res = &f->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	free(res); /* the struct fake_ai it starts */
}

static void check_keys_known(void);

/* ---- the scratch directory --------------------------------------------- */

static char scratch[64];
static char cfg_name[96];

static void put_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	f = fopen(path, "w");
	FUZZ_CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

static const char *const scratch_files[] = {"pw", "empty", "server.pem", "server.key", "ca.pem"};

static void remove_scratch(void)
{
	char path[128];

	for (size_t i = 0; i < sizeof(scratch_files) / sizeof(scratch_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, scratch_files[i]);
		unlink(path);
	}
	rmdir(scratch);
}

static void setup(void)
{
	if (scratch[0])
		return;
	snprintf(scratch, sizeof(scratch), "/tmp/sluice-fuzz-config-XXXXXX");
	FUZZ_CHECK(mkdtemp(scratch) != NULL);
	put_file("pw", "fuzz-password\nsecond line\n");
	put_file("empty", "");
	put_file("server.pem", "not checked at load\n");
	put_file("server.key", "not checked at load\n");
	put_file("ca.pem", "not checked at load\n");
	atexit(remove_scratch);
	check_keys_known();
	snprintf(cfg_name, sizeof(cfg_name), "%s/fuzz.yaml", scratch);
	setenv("SLUICE_MONITOR_PASSWORD", "monitor-secret", 1);
	setenv("SLUICE_REPORTING_PASSWORD", "reporting-secret", 1);
	setenv("SLUICE_FUZZ_PW", "env-secret", 1);
}

/* ---- errors point into the text ---------------------------------------- */

/* The lines of the input, counted once per input. */
struct lines {
	size_t len;	/* bytes of text */
	size_t breaks;	/* bytes that may end a line: \n, \r, and a byte of NEL, LS
			   and PS outside ASCII (bounds only) */
	bool ascii;	/* printable ASCII, tabs and line breaks: columns are bytes */
	size_t n;	/* ASCII: lines as libyaml ends them (\r\n, \r or \n) */
	size_t *length; /* ASCII: the length of each */
};

static void lines_init(struct lines *l, const uint8_t *p, size_t len)
{
	size_t start = 0;

	memset(l, 0, sizeof(*l));
	l->len = len;
	l->ascii = true;
	for (size_t i = 0; i < len; i++) {
		l->breaks += p[i] == '\n' || p[i] == '\r' || p[i] == 0x85 || p[i] == 0xa8 ||
			     p[i] == 0xa9;
		if (p[i] >= 0x7f || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r'))
			l->ascii = false;
	}
	if (!l->ascii)
		return;
	l->length = malloc((l->breaks + 1) * sizeof(*l->length));
	FUZZ_CHECK(l->length != NULL);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '\n' && p[i] != '\r')
			continue;
		l->length[l->n++] = i - start;
		if (i < len && p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			i++;
		start = i + 1;
	}
}

static void check_mark(const struct lines *l, struct config_mark at)
{
	FUZZ_CHECK(at.line >= 1 && at.col >= 1);
	/* libyaml ends a last line that has no line break: the end of the
	 * stream may be the first column of one line more. */
	FUZZ_CHECK(at.line <= l->breaks + 2 && at.col <= l->len + 1);
	if (!l->ascii)
		return;
	if (at.line <= l->n)
		FUZZ_CHECK(at.col <= l->length[at.line - 1] + 1);
	else
		FUZZ_CHECK(at.line == l->n + 1 && at.col == 1);
}

static void check_errors(const uint8_t *p, size_t len, const struct config_errors *errs)
{
	struct lines l;

	if (errs->n == 0)
		return;
	lines_init(&l, p, len);
	for (size_t i = 0; i < errs->n; i++) {
		const struct config_error *e = &errs->items[i];
		char prefix[160];

		check_mark(&l, e->at);
		snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", cfg_name, e->at.line, e->at.col);
		FUZZ_CHECK(strncmp(e->msg, prefix, strlen(prefix)) == 0);
		FUZZ_CHECK(strlen(e->msg) > strlen(prefix));
		if (i > 0) {
			const struct config_mark *a = &errs->items[i - 1].at;
			FUZZ_CHECK(a->line < e->at.line ||
				   (a->line == e->at.line && a->col <= e->at.col));
		}
	}
	free(l.length);
}

/* ---- two configurations hold the same values --------------------------- */

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_addr(const struct config_addr *a, const struct config_addr *b)
{
	return same_str(a->text, b->text) && a->len == b->len &&
	       memcmp(&a->ss, &b->ss, a->len) == 0;
}

static bool same_src(const struct config_src *a, const struct config_src *b, bool src)
{
	return !src || memcmp(a, b, sizeof(*a)) == 0;
}

static bool same_listener(const struct config_listener *a, const struct config_listener *b,
			  bool src)
{
	return same_src(&a->src, &b->src, src) && same_str(a->name, b->name) &&
	       same_addr(&a->bind, &b->bind) && a->mode == b->mode &&
	       same_str(a->cluster, b->cluster) && a->route == b->route &&
	       a->tls_given == b->tls_given && same_src(&a->tls.src, &b->tls.src, src) &&
	       same_str(a->tls.cert, b->tls.cert) && same_str(a->tls.key, b->tls.key) &&
	       same_str(a->tls.ca, b->tls.ca) && a->max_connections == b->max_connections &&
	       a->login_timeout_ms == b->login_timeout_ms && a->primary_reads == b->primary_reads &&
	       a->causal_reads == b->causal_reads && a->cluster_index == b->cluster_index;
}

static bool same_cluster(const struct config_cluster *a, const struct config_cluster *b, bool src)
{
	const struct config_monitor *m = &a->monitor, *n = &b->monitor;

	if (!same_src(&a->src, &b->src, src) || !same_str(a->name, b->name) ||
	    a->type != b->type || a->connect_timeout_ms != b->connect_timeout_ms ||
	    a->queue_timeout_ms != b->queue_timeout_ms || a->failback != b->failback ||
	    a->donor_serves_reads != b->donor_serves_reads || a->max_lag_ms != b->max_lag_ms ||
	    a->pool.mode != b->pool.mode || a->pool.max_per_node != b->pool.max_per_node ||
	    a->pool.min_idle != b->pool.min_idle ||
	    a->pool.idle_timeout_ms != b->pool.idle_timeout_ms ||
	    a->n_nodes != b->n_nodes)
		return false;
	if (!same_src(&m->src, &n->src, src) || !same_str(m->user, n->user) ||
	    !same_str(m->password_file, n->password_file) ||
	    !same_str(m->password_env, n->password_env) || m->interval_ms != n->interval_ms ||
	    m->timeout_ms != n->timeout_ms || m->fall != n->fall || m->rise != n->rise ||
	    m->writer_grace_ms != n->writer_grace_ms || !same_str(m->password, n->password))
		return false;
	if (a->tls_given != b->tls_given || !same_src(&a->tls.src, &b->tls.src, src) ||
	    !same_str(a->tls.ca, b->tls.ca) || a->tls.verify != b->tls.verify ||
	    !same_str(a->tls.cert, b->tls.cert) || !same_str(a->tls.key, b->tls.key))
		return false;
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct config_node *x = &a->nodes[i], *y = &b->nodes[i];
		if (!same_src(&x->src, &y->src, src) || !same_str(x->name, y->name) ||
		    !same_addr(&x->address, &y->address) || x->weight != y->weight ||
		    x->priority != y->priority)
			return false;
	}
	return true;
}

static bool same_user(const struct config_user *a, const struct config_user *b, bool src)
{
	return same_src(&a->src, &b->src, src) && same_str(a->name, b->name) &&
	       same_str(a->password_hash, b->password_hash) &&
	       same_str(a->password_file, b->password_file) &&
	       same_str(a->password_env, b->password_env) &&
	       memcmp(a->double_sha1, b->double_sha1, CONFIG_HASH_LEN) == 0 &&
	       same_str(a->password, b->password);
}

/* src: also where each value was written (the same text loaded twice). */
static bool same_config(const struct config *a, const struct config *b, bool src)
{
	if (!same_src(&a->src, &b->src, src) || !same_str(a->path, b->path) ||
	    a->workers != b->workers || a->io_engine != b->io_engine ||
	    a->buffer_size != b->buffer_size ||
	    !same_str(a->state_file, b->state_file) || a->n_listeners != b->n_listeners ||
	    a->n_clusters != b->n_clusters || a->n_users != b->n_users ||
	    a->stats_given != b->stats_given || !same_src(&a->stats.src, &b->stats.src, src) ||
	    !same_addr(&a->stats.bind, &b->stats.bind) ||
	    !same_str(a->stats.admin_user, b->stats.admin_user) ||
	    !same_str(a->stats.admin_password_file, b->stats.admin_password_file) ||
	    !same_str(a->stats.admin_password, b->stats.admin_password) ||
	    a->stats.feed_rate != b->stats.feed_rate ||
	    !same_src(&a->logging.src, &b->logging.src, src) ||
	    a->logging.level != b->logging.level || a->logging.timestamps != b->logging.timestamps)
		return false;
	for (size_t i = 0; i < a->n_listeners; i++)
		if (!same_listener(&a->listeners[i], &b->listeners[i], src))
			return false;
	for (size_t i = 0; i < a->n_clusters; i++)
		if (!same_cluster(&a->clusters[i], &b->clusters[i], src))
			return false;
	for (size_t i = 0; i < a->n_users; i++)
		if (!same_user(&a->users[i], &b->users[i], src))
			return false;
	return true;
}

/* ---- writing a configuration back as YAML ------------------------------ */

/* A double-quoted YAML scalar for s, every byte outside printable ASCII
 * escaped as its code point. False if s is not UTF-8 (libyaml only yields
 * UTF-8, so that would be its bug, not config.c's). */
static bool put_quoted(FILE *f, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	fputc('"', f);
	while (*p) {
		uint32_t cp;
		int n;

		if (*p < 0x80) {
			if (*p == '"' || *p == '\\')
				fprintf(f, "\\%c", *p);
			else if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\x%02x", *p);
			else
				fputc(*p, f);
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			cp = *p & 0x1f, n = 1;
		else if ((*p & 0xf0) == 0xe0)
			cp = *p & 0x0f, n = 2;
		else if ((*p & 0xf8) == 0xf0)
			cp = *p & 0x07, n = 3;
		else
			return false;
		p++;
		for (int i = 0; i < n; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		fprintf(f, "\\U%08x", (unsigned)cp);
	}
	fputc('"', f);
	return true;
}

/* "  key: value" lines; the value quoted when it is text. */
static bool put_str(FILE *f, const char *indent, const char *key, const char *s)
{
	if (!s)
		return true;
	fprintf(f, "%s%s: ", indent, key);
	bool ok = put_quoted(f, s);
	fputc('\n', f);
	return ok;
}

static const char *yes_no(bool b)
{
	return b ? "true" : "false";
}

/* The whole configuration, every value written out. */
static bool put_config(FILE *f, const struct config *c)
{
	bool ok = true;

	fprintf(f, "workers: %u\nio_engine: %s\nbuffer_size: %u\n", c->workers,
		io_engine_str(c->io_engine), c->buffer_size);
	ok &= put_str(f, "", "state_file", c->state_file);
	fprintf(f, "logging:\n  level: %s\n  timestamps: %s\n", log_level_str(c->logging.level),
		yes_no(c->logging.timestamps));
	fprintf(f, "listeners:\n");
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct config_listener *l = &c->listeners[i];
		ok &= put_str(f, "  - ", "name", l->name);
		ok &= put_str(f, "    ", "bind", l->bind.text);
		fprintf(f, "    mode: %s\n", listener_mode_str(l->mode));
		ok &= put_str(f, "    ", "cluster", l->cluster);
		fprintf(f, "    max_connections: %u\n    login_timeout: %ums\n",
			l->max_connections, l->login_timeout_ms);
		/* What a rule ties to one mode is written for that mode only. */
		if (l->mode == LISTENER_MODE_TCP)
			fprintf(f, "    route: %s\n", listener_route_str(l->route));
		else
			fprintf(f, "    primary_reads: %s\n    causal_reads: %s\n",
				yes_no(l->primary_reads), causal_reads_str(l->causal_reads));
		if (l->tls_given) {
			fprintf(f, "    tls:\n");
			ok &= put_str(f, "      ", "cert", l->tls.cert);
			ok &= put_str(f, "      ", "key", l->tls.key);
			ok &= put_str(f, "      ", "ca", l->tls.ca);
		}
	}
	fprintf(f, "clusters:\n");
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct config_cluster *k = &c->clusters[i];
		const struct config_monitor *m = &k->monitor;
		ok &= put_str(f, "  - ", "name", k->name);
		fprintf(f, "    type: %s\n", cluster_type_str(k->type));
		fprintf(f, "    connect_timeout: %ums\n    queue_timeout: %ums\n",
			k->connect_timeout_ms, k->queue_timeout_ms);
		fprintf(f, "    failback: %s\n    donor_serves_reads: %s\n    max_lag: %ums\n",
			yes_no(k->failback), yes_no(k->donor_serves_reads), k->max_lag_ms);
		fprintf(f,
			"    pool:\n      mode: %s\n      max_per_node: %u\n      min_idle: %u\n"
			"      idle_timeout: %ums\n",
			pool_mode_str(k->pool.mode), k->pool.max_per_node, k->pool.min_idle,
			k->pool.idle_timeout_ms);
		fprintf(f, "    monitor:\n      interval: %ums\n      timeout: %ums\n", m->interval_ms,
			m->timeout_ms);
		fprintf(f, "      fall: %u\n      rise: %u\n      writer_grace: %ums\n", m->fall,
			m->rise, m->writer_grace_ms);
		ok &= put_str(f, "      ", "user", m->user);
		ok &= put_str(f, "      ", "password_file", m->password_file);
		ok &= put_str(f, "      ", "password_env", m->password_env);
		if (k->tls_given) {
			fprintf(f, "    tls:\n      verify: %s\n", tls_verify_str(k->tls.verify));
			ok &= put_str(f, "      ", "ca", k->tls.ca);
			ok &= put_str(f, "      ", "cert", k->tls.cert);
			ok &= put_str(f, "      ", "key", k->tls.key);
		}
		fprintf(f, "    nodes:\n");
		for (size_t j = 0; j < k->n_nodes; j++) {
			const struct config_node *n = &k->nodes[j];
			ok &= put_str(f, "      - ", "name", n->name);
			ok &= put_str(f, "        ", "address", n->address.text);
			fprintf(f, "        weight: %u\n        priority: %u\n", n->weight,
				n->priority);
		}
	}
	if (c->n_users)
		fprintf(f, "users:\n");
	for (size_t i = 0; i < c->n_users; i++) {
		const struct config_user *u = &c->users[i];
		ok &= put_str(f, "  - ", "name", u->name);
		ok &= put_str(f, "    ", "password_hash", u->password_hash);
		ok &= put_str(f, "    ", "password_file", u->password_file);
		ok &= put_str(f, "    ", "password_env", u->password_env);
	}
	if (c->stats_given) {
		fprintf(f, "stats:\n");
		ok &= put_str(f, "  ", "bind", c->stats.bind.text);
		ok &= put_str(f, "  ", "admin_user", c->stats.admin_user);
		ok &= put_str(f, "  ", "admin_password_file", c->stats.admin_password_file);
		fprintf(f, "  feed_rate: %u\n", c->stats.feed_rate);
	}
	return ok;
}

/* Every key put_config() writes back (and same_config() compares). A key
 * added to config.c and not here fails the first run, replay included:
 * the write-back check would silently skip it. */
static const char *const keys_written[] = {
	"listeners", "listeners[].name", "listeners[].bind", "listeners[].mode",
	"listeners[].cluster", "listeners[].route", "listeners[].tls", "listeners[].tls.cert",
	"listeners[].tls.key", "listeners[].tls.ca", "listeners[].max_connections",
	"listeners[].login_timeout", "listeners[].primary_reads", "listeners[].causal_reads",
	"clusters", "clusters[].name", "clusters[].type", "clusters[].monitor",
	"clusters[].monitor.user", "clusters[].monitor.password_file",
	"clusters[].monitor.password_env", "clusters[].monitor.interval",
	"clusters[].monitor.timeout", "clusters[].monitor.fall", "clusters[].monitor.rise",
	"clusters[].monitor.writer_grace", "clusters[].connect_timeout",
	"clusters[].queue_timeout", "clusters[].failback", "clusters[].donor_serves_reads",
	"clusters[].max_lag", "clusters[].pool", "clusters[].pool.mode",
	"clusters[].pool.max_per_node", "clusters[].pool.min_idle", "clusters[].pool.idle_timeout",
	"clusters[].tls", "clusters[].tls.ca", "clusters[].tls.verify",
	"clusters[].tls.cert", "clusters[].tls.key", "clusters[].nodes", "clusters[].nodes[].name",
	"clusters[].nodes[].address", "clusters[].nodes[].weight", "clusters[].nodes[].priority",
	"users", "users[].name", "users[].password_hash", "users[].password_file",
	"users[].password_env", "stats", "stats.bind", "stats.admin_user",
	"stats.admin_password_file", "stats.feed_rate", "logging", "logging.level",
	"logging.timestamps", "workers", "io_engine", "buffer_size", "state_file",
};

static void check_keys_known(void)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	FUZZ_CHECK(f != NULL);
	config_print_keys(f);
	FUZZ_CHECK(fclose(f) == 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strcspn(line, " ");
		bool known = false;

		for (size_t i = 0; i < sizeof(keys_written) / sizeof(keys_written[0]); i++)
			known = known || (strlen(keys_written[i]) == n &&
					  strncmp(keys_written[i], line, n) == 0);
		if (!known)
			fprintf(stderr, "fuzz_config: key %.*s is new: write it back in put_config() "
				"and compare it in same_config()\n", (int)n, line);
		FUZZ_CHECK(known);
	}
	free(text);
}

/* ---- the entry point ---------------------------------------------------- */

static void dump(const char *what, const struct config_errors *errs, const char *text)
{
	fprintf(stderr, "%s\n", what);
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "  %s\n", errs->items[i].msg);
	if (text)
		fprintf(stderr, "--- written back:\n%s---\n", text);
}

/* Write cfg back as YAML and load that: the same values. */
static void check_written_back(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct config_errors errs;
	struct config *again;

	FUZZ_CHECK(f != NULL);
	bool utf8 = put_config(f, cfg);
	FUZZ_CHECK(fclose(f) == 0);
	FUZZ_CHECK(utf8);
	config_errors_init(&errs);
	again = config_load_string(cfg_name, text, len, &errs);
	if (!again || !same_config(cfg, again, false))
		dump("the configuration written back loads otherwise:", &errs, text);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(same_config(cfg, again, false));
	config_destroy(again);
	config_errors_deinit(&errs);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs, errs2;
	struct config *cfg, *cfg2;

	setup();
	config_errors_init(&errs);
	config_errors_init(&errs2);
	cfg = config_load_string(cfg_name, (const char *)data, size, &errs);
	FUZZ_CHECK((cfg == NULL) == (errs.n > 0));
	check_errors(data, size, &errs);

	/* The same text again: the same errors, or the same configuration. */
	cfg2 = config_load_string(cfg_name, (const char *)data, size, &errs2);
	FUZZ_CHECK((cfg2 == NULL) == (cfg == NULL) && errs2.n == errs.n);
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(memcmp(&errs.items[i].at, &errs2.items[i].at, sizeof(errs.items[i].at)) ==
				   0 &&
			   strcmp(errs.items[i].msg, errs2.items[i].msg) == 0);
	if (cfg) {
		FUZZ_CHECK(same_config(cfg, cfg2, true));
		check_written_back(cfg);
	}
	config_destroy(cfg);
	config_destroy(cfg2);
	config_errors_deinit(&errs);
	config_errors_deinit(&errs2);
	return 0;
}
