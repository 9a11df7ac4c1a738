/*
 * YAML configuration loader. Three phases:
 *   1. scan the event stream and refuse what we do not support (anchors,
 *      aliases, tags, several documents) so a file means what it looks like;
 *   2. walk the document through the key tables below, converting and
 *      bounds-checking each value into struct config;
 *   3. check the rules that span several keys (unique names, references,
 *      exactly-one-of, secrets that must be readable).
 * Every phase appends to the same error list; nothing stops at the first.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

_Static_assert(sizeof(enum listener_mode) == sizeof(int), "enums are stored as int");

static void config_free(struct config *cfg);

/* ---- the key tables --------------------------------------------------- */

enum key_type {
	KEY_STRING,   /* char *, min/max bound the length */
	KEY_UINT,     /* uint32_t */
	KEY_BOOL,     /* bool */
	KEY_DURATION, /* uint32_t milliseconds; "250ms", "2s", "1m"; bare numbers are ms */
	KEY_SIZE,     /* uint32_t bytes; "64k", "1m"; bare numbers are bytes */
	KEY_ENUM,     /* int, index into enum_names */
	KEY_ADDRESS,  /* struct config_addr */
	KEY_MAP,      /* embedded struct described by sub */
	KEY_LIST,     /* heap array of structs described by sub, count at count_offset */
};

#define KEY_REQUIRED   (1u << 0)
#define KEY_RELOADABLE (1u << 1) /* may change on SIGHUP without a restart */
#define KEY_SECRET     (1u << 2) /* value never appears in messages */
#define KEY_PASSIVE    (1u << 3) /* for bind addresses: resolve for listening */

struct schema;

struct key_spec {
	const char *name;
	enum key_type type;
	unsigned flags;
	size_t offset;
	uint64_t min, max;
	const char *def; /* default, in the same text form a user would write */
	const struct schema *sub;
	size_t count_offset;	       /* KEY_LIST */
	size_t given_offset;	       /* KEY_MAP: bool set when written; 0 = none */
	const char *const *enum_names; /* KEY_ENUM, NULL-terminated */
	const char *help;
};

struct schema {
	const char *what; /* "listener", "node", ... for messages */
	size_t size;
	const struct key_spec *keys; /* terminated by a NULL name */
};

static const char *const mode_names[] = {"mysql", "tcp", NULL};
static const char *const route_names[] = {"primary", "readers", NULL};
static const char *const type_names[] = {"galera", "group_replication", "replication", "static",
					 NULL};
static const char *const level_names[] = {"debug", "info", "notice", "warning", "error", NULL};
static const char *const verify_names[] = {"none", "ca", "full", NULL};
static const char *const causal_names[] = {"off", "session", "global", NULL};
static const char *const pool_mode_names[] = {"transaction", "session", NULL};
static const char *const io_engine_names[] = {"auto", "epoll", NULL};

#define OFF(type, field) offsetof(struct type, field)

static const struct key_spec tls_keys[] = {
	{"cert", KEY_STRING, KEY_REQUIRED, OFF(config_tls, cert), 1, PATH_MAX, NULL, NULL, 0, 0,
	 NULL, "PEM certificate chain presented to clients"},
	{"key", KEY_STRING, KEY_REQUIRED, OFF(config_tls, key), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "PEM private key of the certificate"},
	{"ca", KEY_STRING, 0, OFF(config_tls, ca), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "CA bundle for verifying client certificates (optional)"},
	{0},
};
static const struct schema tls_schema = {"tls", sizeof(struct config_tls), tls_keys};

static const struct key_spec listener_keys[] = {
	{"name", KEY_STRING, KEY_REQUIRED, OFF(config_listener, name), 1, 64, NULL, NULL, 0, 0,
	 NULL, "unique name, used in logs and stats"},
	{"bind", KEY_ADDRESS, KEY_REQUIRED | KEY_PASSIVE, OFF(config_listener, bind), 0, 0, NULL,
	 NULL, 0, 0, NULL, "HOST:PORT to listen on; * or 0.0.0.0 for every IPv4 address"},
	{"mode", KEY_ENUM, 0, OFF(config_listener, mode), 0, 0, "mysql", NULL, 0, 0, mode_names,
	 "mysql (protocol-aware, read/write split) or tcp (layer-4 forwarding)"},
	{"cluster", KEY_STRING, KEY_REQUIRED, OFF(config_listener, cluster), 1, 64, NULL, NULL, 0,
	 0, NULL, "name of the cluster this listener sends clients to"},
	{"route", KEY_ENUM, 0, OFF(config_listener, route), 0, 0, "primary", NULL, 0, 0,
	 route_names, "tcp only: primary (the writer) or readers (round-robin over healthy nodes)"},
	{"tls", KEY_MAP, 0, OFF(config_listener, tls), 0, 0, NULL, &tls_schema, 0,
	 OFF(config_listener, tls_given), NULL, "mysql only: certificate for client TLS"},
	{"max_connections", KEY_UINT, KEY_RELOADABLE, OFF(config_listener, max_connections), 1,
	 1000000, "10000", NULL, 0, 0, NULL,
	 "client connections open at once; more wait in the backlog"},
	{"login_timeout", KEY_DURATION, KEY_RELOADABLE, OFF(config_listener, login_timeout_ms), 100,
	 600000, "10s", NULL, 0, 0, NULL,
	 "mysql only: a client that has not logged in by then is disconnected"},
	{"primary_reads", KEY_BOOL, KEY_RELOADABLE, OFF(config_listener, primary_reads), 0, 0,
	 "false", NULL, 0, 0, NULL,
	 "mysql only: the writer also takes its turn serving reads (it always does when no "
	 "other node is up)"},
	{"causal_reads", KEY_ENUM, KEY_RELOADABLE, OFF(config_listener, causal_reads), 0, 0,
	 "session", NULL, 0, 0, causal_names,
	 "mysql only: session (a read after a write of the same session sees it), global "
	 "(galera: a read sees every commit made anywhere before it began) or off"},
	{0},
};
static const struct schema listener_schema = {"listener", sizeof(struct config_listener),
					      listener_keys};

static const struct key_spec node_keys[] = {
	{"name", KEY_STRING, KEY_REQUIRED, OFF(config_node, name), 1, 64, NULL, NULL, 0, 0, NULL,
	 "unique name within the cluster"},
	{"address", KEY_ADDRESS, KEY_REQUIRED, OFF(config_node, address), 0, 0, NULL, NULL, 0, 0,
	 NULL, "HOST:PORT of the node's SQL port"},
	{"weight", KEY_UINT, KEY_RELOADABLE, OFF(config_node, weight), 0, 1000, "1", NULL, 0, 0,
	 NULL, "share of reads relative to the other nodes; 0 sends it no reads"},
	{"priority", KEY_UINT, KEY_RELOADABLE, OFF(config_node, priority), 0, 1000000, "1000", NULL,
	 0, 0, NULL, "writer preference: the lowest healthy value wins, ties go by name"},
	{0},
};
static const struct schema node_schema = {"node", sizeof(struct config_node), node_keys};

static const struct key_spec monitor_keys[] = {
	{"user", KEY_STRING, KEY_RELOADABLE, OFF(config_monitor, user), 1, 80, NULL, NULL, 0, 0,
	 NULL, "account the health checks log in with"},
	{"password_file", KEY_STRING, KEY_RELOADABLE, OFF(config_monitor, password_file), 1,
	 PATH_MAX, NULL, NULL, 0, 0, NULL, "file holding the monitor password (first line)"},
	{"password_env", KEY_STRING, KEY_RELOADABLE, OFF(config_monitor, password_env), 1, 255,
	 NULL, NULL, 0, 0, NULL, "environment variable holding the monitor password"},
	{"interval", KEY_DURATION, KEY_RELOADABLE, OFF(config_monitor, interval_ms), 20, 60000,
	 "250ms", NULL, 0, 0, NULL, "time between two checks of a node"},
	{"timeout", KEY_DURATION, KEY_RELOADABLE, OFF(config_monitor, timeout_ms), 10, 60000,
	 "500ms", NULL, 0, 0, NULL, "a check that takes longer has failed"},
	{"fall", KEY_UINT, KEY_RELOADABLE, OFF(config_monitor, fall), 1, 100, "2", NULL, 0, 0, NULL,
	 "consecutive failed checks that take a node out"},
	{"rise", KEY_UINT, KEY_RELOADABLE, OFF(config_monitor, rise), 1, 100, "2", NULL, 0, 0, NULL,
	 "consecutive good checks that bring a node back"},
	{"writer_grace", KEY_DURATION, KEY_RELOADABLE, OFF(config_monitor, writer_grace_ms), 0,
	 600000, "3s", NULL, 0, 0, NULL,
	 "how long the writer may go without answering checks (timeouts, not refusals) before "
	 "it is replaced; 0: like any node, after fall"},
	{0},
};
static const struct schema monitor_schema = {"monitor", sizeof(struct config_monitor),
					     monitor_keys};

static const struct key_spec backend_tls_keys[] = {
	{"ca", KEY_STRING, 0, OFF(config_backend_tls, ca), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "CA bundle that node certificates must chain to (default: the system's)"},
	{"verify", KEY_ENUM, 0, OFF(config_backend_tls, verify), 0, 0, "full", NULL, 0, 0,
	 verify_names, "none (encrypt only), ca (trusted chain) or full (chain and node address)"},
	{"cert", KEY_STRING, 0, OFF(config_backend_tls, cert), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "client certificate sluice presents to the nodes (optional, with key)"},
	{"key", KEY_STRING, 0, OFF(config_backend_tls, key), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "private key of the client certificate"},
	{0},
};
static const struct schema backend_tls_schema = {"backend tls", sizeof(struct config_backend_tls),
						 backend_tls_keys};

static const struct key_spec pool_keys[] = {
	{"mode", KEY_ENUM, KEY_RELOADABLE, OFF(config_pool, mode), 0, 0, "transaction", NULL, 0, 0,
	 pool_mode_names,
	 "transaction (a node connection goes back to the pool after each statement that "
	 "leaves nothing tied to it) or session (a client keeps its node connections)"},
	{"max_per_node", KEY_UINT, KEY_RELOADABLE, OFF(config_pool, max_per_node), 1, 100000, "50",
	 NULL, 0, 0, NULL,
	 "mode transaction: node connections per worker and node, idle or in use; statements "
	 "beyond wait (keep workers x max_per_node under the node's max_connections)"},
	{"min_idle", KEY_UINT, KEY_RELOADABLE, OFF(config_pool, min_idle), 0, 100000, "2", NULL, 0,
	 0, NULL, "idle connections per worker and node kept past idle_timeout"},
	{"idle_timeout", KEY_DURATION, KEY_RELOADABLE, OFF(config_pool, idle_timeout_ms), 1000,
	 86400000, "60s", NULL, 0, 0, NULL, "an idle pooled connection older than this is closed"},
	{0},
};
static const struct schema pool_schema = {"pool", sizeof(struct config_pool), pool_keys};

static const struct key_spec cluster_keys[] = {
	{"name", KEY_STRING, KEY_REQUIRED, OFF(config_cluster, name), 1, 64, NULL, NULL, 0, 0, NULL,
	 "unique name that listeners refer to"},
	{"type", KEY_ENUM, 0, OFF(config_cluster, type), 0, 0, "galera", NULL, 0, 0, type_names,
	 "galera, group_replication, replication or static"},
	{"monitor", KEY_MAP, 0, OFF(config_cluster, monitor), 0, 0, NULL, &monitor_schema, 0, 0,
	 NULL, "health check account and timing"},
	{"connect_timeout", KEY_DURATION, KEY_RELOADABLE, OFF(config_cluster, connect_timeout_ms),
	 10, 60000, "1s", NULL, 0, 0, NULL,
	 "a backend connect slower than this tries the next node"},
	{"queue_timeout", KEY_DURATION, KEY_RELOADABLE, OFF(config_cluster, queue_timeout_ms), 0,
	 600000, "10s", NULL, 0, 0, NULL,
	 "mode: mysql: how long a statement waits for a writer while the cluster has none"},
	{"failback", KEY_BOOL, KEY_RELOADABLE, OFF(config_cluster, failback), 0, 0, "false", NULL,
	 0, 0, NULL,
	 "a returning node with a better priority takes the writer role back (off: the writer "
	 "stays until it fails)"},
	{"donor_serves_reads", KEY_BOOL, KEY_RELOADABLE, OFF(config_cluster, donor_serves_reads), 0,
	 0, "false", NULL, 0, 0, NULL,
	 "galera: a node that is a state transfer donor still serves reads"},
	{"max_lag", KEY_DURATION, KEY_RELOADABLE, OFF(config_cluster, max_lag_ms), 0, 86400000,
	 "10s", NULL, 0, 0, NULL,
	 "replication: a replica further behind than this stops serving reads"},
	{"tls", KEY_MAP, 0, OFF(config_cluster, tls), 0, 0, NULL, &backend_tls_schema, 0,
	 OFF(config_cluster, tls_given), NULL,
	 "TLS from sluice to the nodes (mode: mysql sessions)"},
	{"pool", KEY_MAP, 0, OFF(config_cluster, pool), 0, 0, NULL, &pool_schema, 0, 0, NULL,
	 "mode: mysql: pooling of node connections across client sessions"},
	{"nodes", KEY_LIST, KEY_REQUIRED, OFF(config_cluster, nodes), 1, CONFIG_MAX_NODES, NULL,
	 &node_schema, OFF(config_cluster, n_nodes), 0, NULL, "the database servers"},
	{0},
};
static const struct schema cluster_schema = {"cluster", sizeof(struct config_cluster),
					     cluster_keys};

static const struct key_spec user_keys[] = {
	{"name", KEY_STRING, KEY_REQUIRED, OFF(config_user, name), 1, 80, NULL, NULL, 0, 0, NULL,
	 "MySQL user name, the same on sluice and on the backends"},
	{"password_hash", KEY_STRING, KEY_RELOADABLE | KEY_SECRET, OFF(config_user, password_hash),
	 41, 41, NULL, NULL, 0, 0, NULL, "the *HEX hash that SELECT PASSWORD('secret') gives"},
	{"password_file", KEY_STRING, KEY_RELOADABLE, OFF(config_user, password_file), 1, PATH_MAX,
	 NULL, NULL, 0, 0, NULL, "file holding the plaintext password (first line)"},
	{"password_env", KEY_STRING, KEY_RELOADABLE, OFF(config_user, password_env), 1, 255, NULL,
	 NULL, 0, 0, NULL, "environment variable holding the plaintext password"},
	{0},
};
static const struct schema user_schema = {"user", sizeof(struct config_user), user_keys};

static const struct key_spec stats_keys[] = {
	{"bind", KEY_ADDRESS, KEY_REQUIRED | KEY_PASSIVE, OFF(config_stats, bind), 0, 0, NULL, NULL,
	 0, 0, NULL, "HOST:PORT of the dashboard and metrics"},
	{"admin_user", KEY_STRING, KEY_RELOADABLE, OFF(config_stats, admin_user), 1, 80, NULL, NULL,
	 0, 0, NULL, "user for the admin actions (HTTP basic auth)"},
	{"admin_password_file", KEY_STRING, KEY_RELOADABLE, OFF(config_stats, admin_password_file),
	 1, PATH_MAX, NULL, NULL, 0, 0, NULL, "file holding the admin password (first line)"},
	{"feed_rate", KEY_UINT, 0, OFF(config_stats, feed_rate), 0, 100000, "50", NULL, 0, 0, NULL,
	 "statements per second the dashboard's live feed shows at most (0: none)"},
	{0},
};
static const struct schema stats_schema = {"stats", sizeof(struct config_stats), stats_keys};

static const struct key_spec logging_keys[] = {
	{"level", KEY_ENUM, KEY_RELOADABLE, OFF(config_logging, level), 0, 0, "info", NULL, 0, 0,
	 level_names, "lowest level written: debug, info, notice, warning or error"},
	{"timestamps", KEY_BOOL, KEY_RELOADABLE, OFF(config_logging, timestamps), 0, 0, "true",
	 NULL, 0, 0, NULL, "prefix lines with the time (turn off under journald)"},
	{0},
};
static const struct schema logging_schema = {"logging", sizeof(struct config_logging),
					     logging_keys};

static const struct key_spec root_keys[] = {
	{"listeners", KEY_LIST, KEY_REQUIRED, OFF(config, listeners), 1, 256, NULL,
	 &listener_schema, OFF(config, n_listeners), 0, NULL, "where clients connect"},
	{"clusters", KEY_LIST, KEY_REQUIRED, OFF(config, clusters), 1, 256, NULL, &cluster_schema,
	 OFF(config, n_clusters), 0, NULL, "the database clusters behind sluice"},
	{"users", KEY_LIST, KEY_RELOADABLE, OFF(config, users), 0, 100000, NULL, &user_schema,
	 OFF(config, n_users), 0, NULL, "accounts that mode: mysql listeners accept"},
	{"stats", KEY_MAP, 0, OFF(config, stats), 0, 0, NULL, &stats_schema, 0,
	 OFF(config, stats_given), NULL, "the stats and admin HTTP server"},
	{"logging", KEY_MAP, 0, OFF(config, logging), 0, 0, NULL, &logging_schema, 0, 0, NULL,
	 "what is logged to stderr"},
	{"workers", KEY_UINT, 0, OFF(config, workers), 0, 256, "0", NULL, 0, 0, NULL,
	 "worker threads; 0 means one per CPU"},
	{"io_engine", KEY_ENUM, 0, OFF(config, io_engine), 0, 0, "auto", NULL, 0, 0,
	 io_engine_names,
	 "how workers wait for sockets: auto (io_uring where the kernel allows it) or epoll"},
	{"buffer_size", KEY_SIZE, 0, OFF(config, buffer_size), 4096, 64u << 20, "256k", NULL, 0, 0,
	 NULL, "bytes buffered per direction of a connection before sluice stops reading"},
	{"state_file", KEY_STRING, 0, OFF(config, state_file), 1, PATH_MAX, NULL, NULL, 0, 0, NULL,
	 "file keeping the nodes' operator states (drain, maintenance) across restarts"},
	{0},
};
static const struct schema root_schema = {"config", sizeof(struct config), root_keys};

/* ---- errors ----------------------------------------------------------- */

struct parse_ctx {
	const char *file;
	yaml_document_t *doc;
	struct config_errors *errs;
};

void config_errors_init(struct config_errors *errs)
{
	errs->items = NULL;
	errs->n = 0;
}

void config_errors_deinit(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->items[i].msg);
	free(errs->items);
	config_errors_init(errs);
}

static void errs_add(struct config_errors *errs, const char *file, struct config_mark at,
		     const char *fmt, va_list ap) SLUICE_PRINTF(4, 0);

static void errs_add(struct config_errors *errs, const char *file, struct config_mark at,
		     const char *fmt, va_list ap)
{
	char text[1024];
	char *msg = NULL;
	struct config_error *grown;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (asprintf(&msg, "%s:%u:%u: %s", file, at.line, at.col, text) < 0)
		abort(); /* out of memory while loading config: nothing sensible left */
	grown = realloc(errs->items, (errs->n + 1) * sizeof(*grown));
	if (!grown)
		abort();
	errs->items = grown;
	errs->items[errs->n].at = at;
	errs->items[errs->n++].msg = msg;
}

static void error_at(struct parse_ctx *ctx, struct config_mark at, const char *fmt, ...)
	SLUICE_PRINTF(3, 4);

static void error_at(struct parse_ctx *ctx, struct config_mark at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_add(ctx->errs, ctx->file, at, fmt, ap);
	va_end(ap);
}

static struct config_mark mark_of(const yaml_node_t *node)
{
	struct config_mark m = {(unsigned)node->start_mark.line + 1,
				(unsigned)node->start_mark.column + 1};
	return m;
}

static struct config_mark mark_from_yaml(yaml_mark_t ym)
{
	struct config_mark m = {(unsigned)ym.line + 1, (unsigned)ym.column + 1};
	return m;
}

/* Levenshtein distance, for "did you mean" hints on short key names. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The closest of names to word, or NULL if nothing is close enough to help. */
static const char *closest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3; /* suggest only within two edits */

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

/* ---- phase 1: refuse unsupported YAML --------------------------------- */

/* Scan the event stream once. Returns false when the file cannot be used at
 * all (syntax error, several documents, anchors): phase 2 is then skipped
 * because its messages would only repeat the same problem. */
static bool phase1_scan(struct parse_ctx *ctx, const unsigned char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool ok = true;
	int docs = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, text, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			error_at(ctx, mark_from_yaml(parser.problem_mark),
				 "YAML syntax error: %s%s%s",
				 parser.problem ? parser.problem : "unreadable input",
				 parser.context ? " " : "", parser.context ? parser.context : "");
			ok = false;
			break;
		}
		struct config_mark at = mark_from_yaml(ev.start_mark);
		const yaml_char_t *anchor = NULL, *tag = NULL;

		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				error_at(ctx, at,
					 "a second YAML document: sluice reads exactly one; remove "
					 "the '---' separator or split the file");
				ok = false;
			}
			break;
		case YAML_ALIAS_EVENT:
			error_at(ctx, at,
				 "YAML aliases (*%s) are not supported: write the value out",
				 (const char *)ev.data.alias.anchor);
			ok = false;
			break;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			tag = ev.data.scalar.tag;
			break;
		case YAML_SEQUENCE_START_EVENT:
			anchor = ev.data.sequence_start.anchor;
			tag = ev.data.sequence_start.tag;
			break;
		case YAML_MAPPING_START_EVENT:
			anchor = ev.data.mapping_start.anchor;
			tag = ev.data.mapping_start.tag;
			break;
		default:
			break;
		}
		if (anchor) {
			error_at(ctx, at,
				 "YAML anchors (&%s) are not supported: write the value out",
				 (const char *)anchor);
			ok = false;
		}
		if (tag) {
			error_at(ctx, at, "YAML tags (%s) are not supported: remove the tag",
				 (const char *)tag);
			ok = false;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&parser);
	return ok;
}

/* ---- phase 2: convert through the key tables -------------------------- */

/* Build a key path such as "clusters[0].nodes[2].name" for messages; deep
 * paths are cut, which only shortens a message. */
static void path_fmt(char *dst, size_t cap, const char *fmt, ...) SLUICE_PRINTF(3, 4);

static void path_fmt(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

static const char *scalar_of(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static bool want_scalar(struct parse_ctx *ctx, const yaml_node_t *node, const char *path,
			const char *what)
{
	if (node->type == YAML_SCALAR_NODE)
		return true;
	error_at(ctx, mark_of(node), "%s: expected %s, found a %s", path, what,
		 node->type == YAML_MAPPING_NODE ? "mapping" : "list");
	return false;
}

/* Parse an unsigned decimal with an optional unit suffix from units[] (each
 * with its multiplier). Returns false on junk or overflow. */
struct unit {
	const char *suffix;
	uint64_t mult;
};

static bool parse_number_unit(const char *s, const struct unit *units, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcasecmp(p, u->suffix) == 0) {
			if (u->mult && v > UINT64_MAX / u->mult)
				return false;
			*out = v * u->mult;
			return true;
		}
	}
	return false;
}

static const struct unit duration_units[] = {
	{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
};
static const struct unit size_units[] = {
	{"", 1},	  {"b", 1},	   {"k", 1024},	     {"kb", 1024}, {"m", 1u << 20},
	{"mb", 1u << 20}, {"g", 1u << 30}, {"gb", 1u << 30}, {NULL, 0},
};
static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};

/* Split "host:port" / "[v6]:port" and resolve it. Errors go to ctx. */
static bool parse_address(struct parse_ctx *ctx, const yaml_node_t *node, const char *path,
			  bool passive, struct config_addr *out)
{
	const char *text = scalar_of(node);
	char host[256];
	const char *colon, *port;
	size_t hlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			error_at(ctx, mark_of(node),
				 "%s: bad address '%s': an IPv6 address is written [ADDR]:PORT",
				 path, text);
			return false;
		}
		hlen = (size_t)(close - text - 1);
		memcpy(host, text + 1, hlen < sizeof(host) ? hlen : 0);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon) {
			error_at(ctx, mark_of(node),
				 "%s: bad address '%s': expected HOST:PORT, e.g. 127.0.0.1:3306",
				 path, text);
			return false;
		}
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			hlen = sizeof(host);
		memcpy(host, text, hlen < sizeof(host) ? hlen : 0);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		error_at(ctx, mark_of(node), "%s: bad address '%s': the host part is %s", path,
			 text,
			 hlen == 0 ? "empty (use * or 0.0.0.0 for every address)" : "too long");
		return false;
	}
	host[hlen] = '\0';
	port = colon + 1;

	uint64_t pnum;
	if (!parse_number_unit(port, plain_units, &pnum) || pnum < 1 || pnum > 65535) {
		error_at(ctx, mark_of(node), "%s: bad address '%s': port '%s' is not in 1-65535",
			 path, text, port);
		return false;
	}

	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	const char *lookup = strcmp(host, "*") == 0 ? (passive ? NULL : "0.0.0.0") : host;
	if (lookup == NULL)
		hints.ai_family = AF_INET;
	int rc = getaddrinfo(lookup, port, &hints, &res);
	if (rc != 0 || !res) {
		error_at(ctx, mark_of(node), "%s: cannot resolve host '%s' of address '%s': %s",
			 path, host, text, gai_strerror(rc));
		return false;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	free(out->text);
	out->text = strdup(text);
	return true;
}

static bool convert_map(struct parse_ctx *ctx, const struct schema *schema, yaml_node_t *node,
			void *obj, const char *path);

/* Convert one scalar text (from the file, or a default) into the field. node
 * is NULL for defaults, which are trusted and must convert. */
static bool convert_scalar(struct parse_ctx *ctx, const struct key_spec *k, const char *text,
			   const yaml_node_t *node, void *field, const char *path)
{
	struct config_mark at = node ? mark_of(node) : (struct config_mark){0, 0};
	const char *shown = (k->flags & KEY_SECRET) ? "(secret)" : text;
	uint64_t v;

	switch (k->type) {
	case KEY_STRING: {
		size_t len = strlen(text);
		if (len < k->min || len > k->max) {
			if (k->min == k->max)
				error_at(ctx, at, "%s: must be exactly %llu characters long", path,
					 (unsigned long long)k->min);
			else if (len < k->min)
				error_at(ctx, at, "%s: must not be empty", path);
			else
				error_at(ctx, at, "%s: longer than %llu characters", path,
					 (unsigned long long)k->max);
			return false;
		}
		char **dst = field;
		free(*dst);
		*dst = strdup(text);
		return true;
	}
	case KEY_UINT:
	case KEY_DURATION:
	case KEY_SIZE: {
		const struct unit *units = k->type == KEY_DURATION ? duration_units
					   : k->type == KEY_SIZE   ? size_units
								   : plain_units;
		const char *expect = k->type == KEY_DURATION ? "a duration such as 250ms or 2s"
				     : k->type == KEY_SIZE   ? "a size such as 4096, 64k or 1m"
							     : "a whole number";
		if (!parse_number_unit(text, units, &v)) {
			error_at(ctx, at, "%s: '%s' is not %s", path, shown, expect);
			return false;
		}
		if (v < k->min || v > k->max) {
			const char *unit = k->type == KEY_DURATION ? "ms"
					   : k->type == KEY_SIZE   ? " bytes"
								   : "";
			error_at(ctx, at, "%s: %s is out of range (%llu%s to %llu%s)", path, shown,
				 (unsigned long long)k->min, unit, (unsigned long long)k->max,
				 unit);
			return false;
		}
		*(uint32_t *)field = (uint32_t)v;
		return true;
	}
	case KEY_BOOL: {
		static const char *const yes[] = {"true", "yes", "on", NULL};
		static const char *const no[] = {"false", "no", "off", NULL};
		for (int i = 0; yes[i]; i++) {
			if (strcasecmp(text, yes[i]) == 0) {
				*(bool *)field = true;
				return true;
			}
			if (strcasecmp(text, no[i]) == 0) {
				*(bool *)field = false;
				return true;
			}
		}
		error_at(ctx, at, "%s: '%s' is not a boolean (true or false)", path, shown);
		return false;
	}
	case KEY_ENUM: {
		char allowed[256] = "";
		size_t n = 0;
		for (; k->enum_names[n]; n++) {
			if (strcmp(text, k->enum_names[n]) == 0) {
				*(int *)field = (int)n;
				return true;
			}
			if (n)
				strncat(allowed, ", ", sizeof(allowed) - strlen(allowed) - 1);
			strncat(allowed, k->enum_names[n], sizeof(allowed) - strlen(allowed) - 1);
		}
		const char *near = closest(text, k->enum_names, n);
		if (near)
			error_at(ctx, at, "%s: unknown value '%s' (did you mean '%s'?); one of: %s",
				 path, shown, near, allowed);
		else
			error_at(ctx, at, "%s: unknown value '%s'; one of: %s", path, shown,
				 allowed);
		return false;
	}
	default:
		BUG_ON(true);
	}
	return false;
}

/* Apply every default of schema to obj (recursing into embedded maps). */
static void apply_defaults(struct parse_ctx *ctx, const struct schema *schema, void *obj)
{
	for (const struct key_spec *k = schema->keys; k->name; k++) {
		void *field = (char *)obj + k->offset;
		if (k->type == KEY_MAP)
			apply_defaults(ctx, k->sub, field);
		else if (k->def) {
			bool ok = convert_scalar(ctx, k, k->def, NULL, field, k->name);
			BUG_ON(!ok); /* the tables' defaults must be valid */
		}
	}
}

static bool convert_list(struct parse_ctx *ctx, const struct key_spec *k, yaml_node_t *node,
			 void *obj, const char *path)
{
	size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	void **arr = (void **)((char *)obj + k->offset);
	size_t *count = (size_t *)((char *)obj + k->count_offset);
	bool ok = true;

	if (n < k->min || n > k->max) {
		if (n < k->min)
			error_at(ctx, mark_of(node), "%s: needs at least %llu entr%s", path,
				 (unsigned long long)k->min, k->min == 1 ? "y" : "ies");
		else
			error_at(ctx, mark_of(node),
				 "%s: at most %llu entries are allowed, found %zu", path,
				 (unsigned long long)k->max, n);
		ok = false;
		if (n > k->max)
			n = k->max;
	}
	*arr = calloc(n ? n : 1, k->sub->size);
	if (!*arr)
		abort();
	*count = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(ctx->doc, node->data.sequence.items.start[i]);
		void *elem = (char *)*arr + i * k->sub->size;
		char sub[256];

		path_fmt(sub, sizeof(sub), "%s[%zu]", path, i);
		apply_defaults(ctx, k->sub, elem);
		ok = convert_map(ctx, k->sub, item, elem, sub) && ok;
	}
	return ok;
}

static const struct key_spec *find_key(const struct schema *schema, const char *name, size_t *idx)
{
	for (size_t i = 0; schema->keys[i].name; i++) {
		if (strcmp(schema->keys[i].name, name) == 0) {
			if (idx)
				*idx = i;
			return &schema->keys[i];
		}
	}
	return NULL;
}

/* Convert a mapping node into obj (which already holds its defaults).
 * Records where each key was written in obj's struct config_src. */
static bool convert_map(struct parse_ctx *ctx, const struct schema *schema, yaml_node_t *node,
			void *obj, const char *path)
{
	struct config_src *src = obj;
	uint32_t suggested = 0; /* keys offered as "did you mean": not also "missing" */
	bool ok = true;

	src->at = mark_of(node);
	if (node->type != YAML_MAPPING_NODE) {
		error_at(ctx, mark_of(node),
			 "%s: expected a mapping of keys (%s settings), found %s",
			 *path ? path : "top level", schema->what,
			 node->type == YAML_SEQUENCE_NODE ? "a list" : "a single value");
		return false;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(ctx->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(ctx->doc, p->value);
		char sub[256];
		size_t idx;

		if (kn->type != YAML_SCALAR_NODE) {
			error_at(ctx, mark_of(kn), "%s: a key must be a plain name", path);
			ok = false;
			continue;
		}
		const char *name = scalar_of(kn);
		const struct key_spec *k = find_key(schema, name, &idx);
		path_fmt(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", name);
		if (!k) {
			const char *names[CONFIG_MAX_KEYS];
			size_t n = 0;
			for (; schema->keys[n].name && n < CONFIG_MAX_KEYS; n++)
				names[n] = schema->keys[n].name;
			const char *near = closest(name, names, n);
			size_t near_idx;
			if (near && find_key(schema, near, &near_idx))
				suggested |= 1u << near_idx;
			if (near)
				error_at(ctx, mark_of(kn),
					 "%s: unknown key '%s' (did you mean '%s'?)",
					 *path ? path : "top level", name, near);
			else
				error_at(ctx, mark_of(kn), "%s: unknown key '%s' in %s settings",
					 *path ? path : "top level", name, schema->what);
			ok = false;
			continue;
		}
		BUG_ON(idx >= CONFIG_MAX_KEYS);
		if (src->present & (1u << idx)) {
			error_at(ctx, mark_of(kn), "%s: key '%s' given twice (first at line %u)",
				 *path ? path : "top level", name, src->key_at[idx].line);
			ok = false;
			continue;
		}
		src->present |= 1u << idx;
		src->key_at[idx] = mark_of(kn);
		/* Later rules point at the value: "no cluster named X" is about X. */
		src->value_at[idx] = mark_of(vn);

		void *field = (char *)obj + k->offset;
		bool good;
		switch (k->type) {
		case KEY_MAP:
			if (k->given_offset)
				*(bool *)((char *)obj + k->given_offset) = true;
			good = convert_map(ctx, k->sub, vn, field, sub);
			break;
		case KEY_LIST:
			good = vn->type == YAML_SEQUENCE_NODE;
			if (!good)
				error_at(ctx, mark_of(vn), "%s: expected a list (- item per %s)",
					 sub, k->sub->what);
			else
				good = convert_list(ctx, k, vn, obj, sub);
			break;
		case KEY_ADDRESS:
			good = want_scalar(ctx, vn, sub, "an address HOST:PORT") &&
			       parse_address(ctx, vn, sub, k->flags & KEY_PASSIVE, field);
			break;
		default:
			good = want_scalar(ctx, vn, sub, "a single value") &&
			       convert_scalar(ctx, k, scalar_of(vn), vn, field, sub);
			break;
		}
		if (!good)
			src->failed |= 1u << idx;
		ok = ok && good;
	}
	for (size_t i = 0; schema->keys[i].name; i++) {
		const struct key_spec *k = &schema->keys[i];
		if ((k->flags & KEY_REQUIRED) && !(src->present & (1u << i)) &&
		    !(suggested & (1u << i))) {
			error_at(ctx, src->at, "%s: missing required key '%s' (%s)",
				 *path ? path : "top level", k->name, k->help);
			ok = false;
		}
	}
	return ok;
}

/* ---- phase 3: rules across keys --------------------------------------- */

static struct config_mark key_mark(const struct config_src *src, const struct schema *schema,
				   const char *name)
{
	size_t idx;
	if (find_key(schema, name, &idx) && (src->present & (1u << idx)))
		return src->value_at[idx];
	return src->at;
}

static bool given(const struct config_src *src, const struct schema *schema, const char *name)
{
	size_t idx;
	return find_key(schema, name, &idx) && (src->present & (1u << idx));
}

/* The key holds a real value (converted, or its default): rules that depend
 * on it may run. A rejected value was already reported once. */
static bool usable(const struct config_src *src, const struct schema *schema, const char *name)
{
	size_t idx;
	return find_key(schema, name, &idx) && !(src->failed & (1u << idx));
}

void config_resolve_path(const char *cfg_path, const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(cfg_path, '/');
	int dir_len = slash && path[0] != '/' ? (int)(slash - cfg_path + 1) : 0;

	snprintf(out, cap, "%.*s%s", dir_len, cfg_path, path);
}

/* Files named in a tls: block must be readable now; sluice loads them at
 * start. names[i] is the key of files[i] in schema; NULL files are absent. */
static void check_readable(struct parse_ctx *ctx, const struct config_src *src,
			   const struct schema *schema, const char *path, const char *const *names,
			   const char *const *files, size_t n)
{
	for (size_t f = 0; f < n; f++) {
		char full[PATH_MAX + 1];
		if (!files[f])
			continue;
		config_resolve_path(ctx->file, files[f], full, sizeof(full));
		if (access(full, R_OK) != 0)
			error_at(ctx, key_mark(src, schema, names[f]),
				 "%s.tls.%s: cannot read '%s': %s", path, names[f], full,
				 strerror(errno));
	}
}

/* Read the first line of a secret file. Relative paths are relative to the
 * directory of the configuration file. Returns a heap string or NULL. */
static char *read_secret_file(struct parse_ctx *ctx, const char *path, struct config_mark at,
			      const char *what)
{
	char full[PATH_MAX + 1];
	char buf[1024];
	FILE *f;

	config_resolve_path(ctx->file, path, full, sizeof(full));
	f = fopen(full, "r");
	if (!f) {
		error_at(ctx, at, "%s: cannot read '%s': %s", what, full, strerror(errno));
		return NULL;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	/* A line that did not fit would be cut silently: refuse it instead. */
	int next = strchr(buf, '\n') ? '\n' : fgetc(f);
	bool too_long = next != EOF && next != '\n' && next != '\r';
	fclose(f);
	if (too_long) {
		error_at(ctx, at,
			 "%s: the first line of '%s' is longer than %zu bytes; is it the password?",
			 what, full, sizeof(buf) - 1);
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		error_at(ctx, at, "%s: '%s' is empty; put the password on its first line", what,
			 full);
		return NULL;
	}
	return strdup(buf);
}

static char *read_secret_env(struct parse_ctx *ctx, const char *var, struct config_mark at,
			     const char *what)
{
	const char *v = getenv(var);
	if (!v || !*v) {
		error_at(ctx, at, "%s: environment variable %s is %s", what, var,
			 v ? "empty" : "not set");
		return NULL;
	}
	return strdup(v);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void double_sha1(const char *password, uint8_t out[CONFIG_HASH_LEN])
{
	uint8_t once[CONFIG_HASH_LEN];
	unsigned len;

	EVP_Digest(password, strlen(password), once, &len, EVP_sha1(), NULL);
	EVP_Digest(once, sizeof(once), out, &len, EVP_sha1(), NULL);
	OPENSSL_cleanse(once, sizeof(once));
}

/* If name_j repeats name_i, report it at j, naming i's line, and return
 * true. Callers stop at the first match so a third copy is reported once,
 * against the first. */
static bool check_unique(struct parse_ctx *ctx, const char *what, const char *name_i,
			 const struct config_src *src_i, const char *name_j,
			 const struct config_src *src_j, const struct schema *schema,
			 const char *key)
{
	if (!name_i || !name_j || strcmp(name_i, name_j) != 0)
		return false;
	error_at(ctx, key_mark(src_j, schema, key), "duplicate %s %s '%s' (first at line %u)", what,
		 key, name_j, key_mark(src_i, schema, key).line);
	return true;
}

static bool same_addr(const struct config_addr *a, const struct config_addr *b)
{
	return a->text && b->text && a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* The port of an IPv4 or IPv6 address; whether it is the wildcard. */
static in_port_t addr_port(const struct config_addr *a, bool *any)
{
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
		*any = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
		return in6->sin6_port;
	}
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&a->ss;
	*any = in->sin_addr.s_addr == htonl(INADDR_ANY);
	return in->sin_port;
}

/* Whether binding both would fail: the same address, or the same port with
 * a wildcard on either side ("[::]" takes IPv4 too: sluice does not set
 * IPV6_V6ONLY). */
static bool binds_clash(const struct config_addr *a, const struct config_addr *b)
{
	bool a_any, b_any;

	if (!a->text || !b->text)
		return false;
	if (same_addr(a, b))
		return true;
	if (addr_port(a, &a_any) != addr_port(b, &b_any))
		return false;
	if (a->ss.ss_family == b->ss.ss_family)
		return a_any || b_any;
	/* Across families, only the IPv6 wildcard covers the other side. */
	return (a->ss.ss_family == AF_INET6 && a_any) || (b->ss.ss_family == AF_INET6 && b_any);
}

static void phase3_listeners(struct parse_ctx *ctx, struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		struct config_listener *l = &cfg->listeners[i];
		const struct config_src *s = &l->src;
		char path[64];

		snprintf(path, sizeof(path), "listeners[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (check_unique(ctx, "listener", cfg->listeners[j].name,
					 &cfg->listeners[j].src, l->name, s, &listener_schema,
					 "name"))
				break;
		for (size_t j = 0; j < i; j++) {
			if (binds_clash(&cfg->listeners[j].bind, &l->bind)) {
				error_at(ctx, key_mark(s, &listener_schema, "bind"),
					 "%s: bind %s is already used by listener '%s' (%s)", path,
					 l->bind.text, cfg->listeners[j].name,
					 cfg->listeners[j].bind.text);
				break;
			}
		}
		if (l->cluster) {
			const char *names[256];
			size_t n = 0;
			bool found = false;
			for (size_t c = 0; c < cfg->n_clusters; c++) {
				if (!cfg->clusters[c].name)
					continue;
				names[n++] = cfg->clusters[c].name;
				if (strcmp(cfg->clusters[c].name, l->cluster) == 0) {
					l->cluster_index = c;
					found = true;
				}
			}
			if (found && l->causal_reads == CAUSAL_READS_GLOBAL &&
			    cfg->clusters[l->cluster_index].type != CLUSTER_TYPE_GALERA)
				error_at(ctx, key_mark(s, &listener_schema, "causal_reads"),
					 "%s: causal_reads: global uses Galera's wsrep_sync_wait; "
					 "cluster '%s' is type %s (use session or off)",
					 path, l->cluster,
					 cluster_type_str(cfg->clusters[l->cluster_index].type));
			if (!found) {
				const char *near = closest(l->cluster, names, n);
				error_at(ctx, key_mark(s, &listener_schema, "cluster"),
					 "%s: no cluster named '%s'%s%s%s", path, l->cluster,
					 near ? " (did you mean '" : "; define it under clusters:",
					 near ? near : "", near ? "'?)" : "");
			}
		}
		/* A mistyped mode is reported once, not again by every rule that
		 * would read the default in its place. */
		if (!usable(s, &listener_schema, "mode"))
			goto files;
		if (l->mode == LISTENER_MODE_MYSQL && given(s, &listener_schema, "route"))
			error_at(ctx, key_mark(s, &listener_schema, "route"),
				 "%s: route applies to mode: tcp only; a mysql listener routes "
				 "each statement (writes to the primary, reads to readers)",
				 path);
		if (l->mode == LISTENER_MODE_TCP) {
			static const char *const mysql_only[] = {"primary_reads", "causal_reads"};
			for (size_t k = 0; k < sizeof(mysql_only) / sizeof(mysql_only[0]); k++)
				if (given(s, &listener_schema, mysql_only[k]))
					error_at(ctx, key_mark(s, &listener_schema, mysql_only[k]),
						 "%s: %s applies to mode: mysql only; a tcp "
						 "listener "
						 "does not see statements",
						 path, mysql_only[k]);
		}
		if (l->mode == LISTENER_MODE_TCP && l->tls_given)
			error_at(
				ctx, key_mark(s, &listener_schema, "tls"),
				"%s: a tcp listener passes TLS through to the node untouched; tls: "
				"applies to mode: mysql only",
				path);
		if (l->mode == LISTENER_MODE_MYSQL && cfg->n_users == 0)
			error_at(ctx, key_mark(s, &listener_schema, "mode"),
				 "%s: a mysql listener logs clients in against users:, and none "
				 "is defined",
				 path);
	files:
		if (l->tls_given) {
			const struct config_tls *t = &l->tls;
			const char *const names[] = {"cert", "key", "ca"};
			const char *const files[] = {t->cert, t->key, t->ca};
			check_readable(ctx, &t->src, &tls_schema, path, names, files, 3);
		}
	}
}

static void phase3_clusters(struct parse_ctx *ctx, struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		struct config_cluster *c = &cfg->clusters[i];
		struct config_monitor *m = &c->monitor;
		char path[96];

		snprintf(path, sizeof(path), "clusters[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (check_unique(ctx, "cluster", cfg->clusters[j].name,
					 &cfg->clusters[j].src, c->name, &c->src, &cluster_schema,
					 "name"))
				break;
		for (size_t n = 0; n < c->n_nodes; n++) {
			struct config_node *node = &c->nodes[n];
			for (size_t j = 0; j < n; j++)
				if (check_unique(ctx, "node", c->nodes[j].name, &c->nodes[j].src,
						 node->name, &node->src, &node_schema, "name"))
					break;
			for (size_t j = 0; j < n; j++) {
				if (same_addr(&c->nodes[j].address, &node->address)) {
					error_at(ctx, key_mark(&node->src, &node_schema, "address"),
						 "%s.nodes[%zu]: address %s is already node '%s'",
						 path, n, node->address.text, c->nodes[j].name);
					break;
				}
			}
		}
		char what[128];
		path_fmt(what, sizeof(what), "%s.monitor.%s", path,
			 m->password_file ? "password_file" : "password_env");
		if (m->password_file && m->password_env)
			error_at(ctx, key_mark(&m->src, &monitor_schema, "password_env"),
				 "%s.monitor: give password_file or password_env, not both", path);
		else if ((m->password_file || m->password_env) && !m->user)
			error_at(ctx, m->src.at,
				 "%s.monitor: a password without a user; add user:", path);
		else if (m->user && !m->password_file && !m->password_env)
			error_at(ctx, key_mark(&m->src, &monitor_schema, "user"),
				 "%s.monitor: user '%s' needs password_file or password_env", path,
				 m->user);
		else if (m->password_file)
			m->password = read_secret_file(
				ctx, m->password_file,
				key_mark(&m->src, &monitor_schema, "password_file"), what);
		else if (m->password_env)
			m->password = read_secret_env(
				ctx, m->password_env,
				key_mark(&m->src, &monitor_schema, "password_env"), what);
		if (c->tls_given) {
			const struct config_backend_tls *t = &c->tls;
			if (!!t->cert != !!t->key)
				error_at(ctx, t->src.at,
					 "%s.tls: cert and key go together; give both or neither",
					 path);
			const char *const names[] = {"ca", "cert", "key"};
			const char *const files[] = {t->ca, t->cert, t->key};
			check_readable(ctx, &t->src, &backend_tls_schema, path, names, files, 3);
		}
		/* Only between values that converted: a rejected one was
		 * reported already. */
		if (usable(&m->src, &monitor_schema, "interval") &&
		    usable(&m->src, &monitor_schema, "timeout") && m->timeout_ms > m->interval_ms * 4)
			error_at(ctx, key_mark(&m->src, &monitor_schema, "timeout"),
				 "%s.monitor: timeout %ums is more than four intervals (%ums); a "
				 "dead "
				 "node would be noticed late",
				 path, m->timeout_ms, m->interval_ms);
	}
}

static void phase3_users(struct parse_ctx *ctx, struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_users; i++) {
		struct config_user *u = &cfg->users[i];
		char path[64];
		/* Count what was written, even if it failed to convert, so a bad
		 * hash is reported once, as a bad hash. */
		int sources = given(&u->src, &user_schema, "password_hash") +
			      given(&u->src, &user_schema, "password_file") +
			      given(&u->src, &user_schema, "password_env");

		snprintf(path, sizeof(path), "users[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (check_unique(ctx, "user", cfg->users[j].name, &cfg->users[j].src,
					 u->name, &u->src, &user_schema, "name"))
				break;
		if (sources != 1) {
			error_at(ctx, u->src.at,
				 "%s: give exactly one of password_hash, password_file or "
				 "password_env (found %d)",
				 path, sources);
			continue;
		}
		if (given(&u->src, &user_schema, "password_hash")) {
			if (!u->password_hash)
				continue; /* already reported by phase 2 */
			const char *h = u->password_hash;
			bool good = h[0] == '*';
			for (int b = 0; good && b < CONFIG_HASH_LEN; b++) {
				int hi = hexval((unsigned char)h[1 + 2 * b]);
				int lo = hexval((unsigned char)h[2 + 2 * b]);
				good = hi >= 0 && lo >= 0;
				if (good)
					u->double_sha1[b] = (uint8_t)(hi << 4 | lo);
			}
			if (!good)
				error_at(ctx, key_mark(&u->src, &user_schema, "password_hash"),
					 "%s.password_hash: expected '*' and 40 hex digits, as "
					 "SELECT PASSWORD('secret') prints",
					 path);
			continue;
		}
		if (!u->password_file && !u->password_env)
			continue; /* the one given was rejected, and reported, by phase 2 */
		char what[96];
		path_fmt(what, sizeof(what), "%s.%s", path,
			 u->password_file ? "password_file" : "password_env");
		if (u->password_file)
			u->password = read_secret_file(
				ctx, u->password_file,
				key_mark(&u->src, &user_schema, "password_file"), what);
		else
			u->password = read_secret_env(
				ctx, u->password_env,
				key_mark(&u->src, &user_schema, "password_env"), what);
		if (u->password)
			double_sha1(u->password, u->double_sha1);
	}
}

static void phase3_stats(struct parse_ctx *ctx, struct config *cfg)
{
	struct config_stats *s = &cfg->stats;

	if (!cfg->stats_given)
		return;
	if (!!s->admin_user != !!s->admin_password_file)
		error_at(ctx, s->src.at,
			 "stats: admin_user and admin_password_file go together; give both or "
			 "neither");
	else if (s->admin_password_file)
		s->admin_password =
			read_secret_file(ctx, s->admin_password_file,
					 key_mark(&s->src, &stats_schema, "admin_password_file"),
					 "stats.admin_password_file");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		if (binds_clash(&cfg->listeners[i].bind, &s->bind))
			error_at(ctx, key_mark(&s->src, &stats_schema, "bind"),
				 "stats.bind %s is already used by listener '%s' (%s)",
				 s->bind.text, cfg->listeners[i].name, cfg->listeners[i].bind.text);
	}
}

/* ---- entry points ----------------------------------------------------- */

static int error_cmp(const void *a, const void *b)
{
	const struct config_error *x = a, *y = b;

	if (x->at.line != y->at.line)
		return x->at.line < y->at.line ? -1 : 1;
	if (x->at.col != y->at.col)
		return x->at.col < y->at.col ? -1 : 1;
	return strcmp(x->msg, y->msg);
}

struct config *config_load_string(const char *name, const char *text, size_t len,
				  struct config_errors *errs)
{
	struct parse_ctx ctx = {.file = name, .errs = errs};
	struct config *cfg = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t errs_before = errs->n;

	if (!phase1_scan(&ctx, (const unsigned char *)text, len))
		goto out;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* phase 1 already parsed the same bytes; report anyway */
		error_at(&ctx, mark_from_yaml(parser.problem_mark), "YAML error: %s",
			 parser.problem ? parser.problem : "unreadable input");
		yaml_parser_delete(&parser);
		goto out;
	}
	yaml_parser_delete(&parser);
	ctx.doc = &doc;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		abort();
	atomic_init(&cfg->refs, 1);
	cfg->path = strdup(name);
	apply_defaults(&ctx, &root_schema, cfg);

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		error_at(&ctx, (struct config_mark){1, 1},
			 "the file is empty; it needs at least listeners: and clusters:");
	} else {
		/* Phase 3 runs even after phase 2 errors, on whatever converted,
		 * so one run reports every problem it can see; the result of
		 * phase 2 shows up as entries in errs. */
		(void)convert_map(&ctx, &root_schema, root, cfg, "");
		phase3_listeners(&ctx, cfg);
		phase3_clusters(&ctx, cfg);
		phase3_users(&ctx, cfg);
		phase3_stats(&ctx, cfg);
	}
	yaml_document_delete(&doc);

	if (cfg->workers == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = cpus > 0 ? (uint32_t)(cpus > 256 ? 256 : cpus) : 1;
	}
out:
	/* Phases report in their own order; the reader wants file order. */
	if (errs->n > errs_before)
		qsort(errs->items + errs_before, errs->n - errs_before, sizeof(*errs->items),
		      error_cmp);
	if (errs->n != errs_before) {
		config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

struct config *config_load(const char *path, struct config_errors *errs)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0;
	struct config *cfg;

	if (!f) {
		struct parse_ctx ctx = {.file = path, .errs = errs};
		error_at(&ctx, (struct config_mark){0, 0}, "cannot open the configuration: %s",
			 strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 16384;
			char *grown = realloc(text, cap);
			if (!grown)
				abort();
			text = grown;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	cfg = config_load_string(path, text, len, errs);
	free(text);
	return cfg;
}

/* Free every string and array the tables describe, then the secrets. */
static void free_fields(const struct schema *schema, void *obj)
{
	for (const struct key_spec *k = schema->keys; k->name; k++) {
		void *field = (char *)obj + k->offset;
		switch (k->type) {
		case KEY_STRING:
			free(*(char **)field);
			break;
		case KEY_ADDRESS:
			free(((struct config_addr *)field)->text);
			break;
		case KEY_MAP:
			free_fields(k->sub, field);
			break;
		case KEY_LIST: {
			char *arr = *(char **)field;
			size_t n = *(size_t *)((char *)obj + k->count_offset);
			for (size_t i = 0; arr && i < n; i++)
				free_fields(k->sub, arr + i * k->sub->size);
			free(arr);
			break;
		}
		default:
			break;
		}
	}
}

static void free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_clusters; i++)
		free_secret(cfg->clusters[i].monitor.password);
	for (size_t i = 0; i < cfg->n_users; i++) {
		free_secret(cfg->users[i].password);
		OPENSSL_cleanse(cfg->users[i].double_sha1, CONFIG_HASH_LEN);
	}
	free_secret(cfg->stats.admin_password);
	free_fields(&root_schema, cfg);
	free(cfg->path);
	free(cfg);
}

static const char *type_str(const struct key_spec *k)
{
	static const char *const names[] = {
		[KEY_STRING] = "string",     [KEY_UINT] = "integer", [KEY_BOOL] = "boolean",
		[KEY_DURATION] = "duration", [KEY_SIZE] = "size",    [KEY_ENUM] = "enum",
		[KEY_ADDRESS] = "address",   [KEY_MAP] = "mapping",  [KEY_LIST] = "list",
	};
	return names[k->type];
}

static void print_keys(FILE *out, const struct schema *schema, const char *prefix)
{
	for (const struct key_spec *k = schema->keys; k->name; k++) {
		char path[256];
		path_fmt(path, sizeof(path), "%s%s", prefix, k->name);
		fprintf(out, "%s %s%s%s%s%s: %s\n", path, type_str(k),
			(k->flags & KEY_REQUIRED) ? " required" : "", k->def ? " default=" : "",
			k->def ? k->def : "", (k->flags & KEY_RELOADABLE) ? " reloadable" : "",
			k->help);
		if (k->type == KEY_MAP || k->type == KEY_LIST) {
			char sub[256];
			path_fmt(sub, sizeof(sub), "%s%s.", path, k->type == KEY_LIST ? "[]" : "");
			print_keys(out, k->sub, sub);
		}
	}
}

void config_print_keys(FILE *out)
{
	print_keys(out, &root_schema, "");
}

struct config_mark config_listener_mark(const struct config_listener *l, const char *key)
{
	return key_mark(&l->src, &listener_schema, key);
}

const char *listener_mode_str(enum listener_mode mode)
{
	return (unsigned)mode < 2 ? mode_names[mode] : "?";
}

const char *io_engine_str(enum io_engine engine)
{
	return (unsigned)engine < 2 ? io_engine_names[engine] : "?";
}

const char *listener_route_str(enum listener_route route)
{
	return (unsigned)route < 2 ? route_names[route] : "?";
}

const char *cluster_type_str(enum cluster_type type)
{
	return (unsigned)type < 4 ? type_names[type] : "?";
}

const char *pool_mode_str(enum pool_mode mode)
{
	return pool_mode_names[mode];
}

const char *causal_reads_str(enum causal_reads mode)
{
	return (unsigned)mode < 3 ? causal_names[mode] : "?";
}

const char *tls_verify_str(enum tls_verify verify)
{
	return (unsigned)verify < 3 ? verify_names[verify] : "?";
}

const char *config_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

/* ---- the config in effect, as JSON ------------------------------------------------------- */

static void emit_json_string(const char *text, config_emit_fn emit, void *arg)
{
	char buf[8];

	emit(arg, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf[0] = '\\';
			buf[1] = (char)*p;
			emit(arg, buf, 2);
		} else if (*p < 0x20) {
			snprintf(buf, sizeof(buf), "\\u%04x", *p);
			emit(arg, buf, 6);
		} else {
			emit(arg, (const char *)p, 1);
		}
	}
	emit(arg, "\"", 1);
}

static void emit_schema(const struct schema *sc, const void *obj, config_emit_fn emit, void *arg);

/* One key's value from obj, as JSON: the value in effect (defaults applied),
 * a secret as "<redacted>", an unset optional value as null. */
static void emit_value(const struct key_spec *k, const void *obj, config_emit_fn emit, void *arg)
{
	const char *field = (const char *)obj + k->offset;
	char num[32];

	if (k->flags & KEY_SECRET) {
		bool set = k->type != KEY_STRING || *(char *const *)(const void *)field;
		emit_json_string(set ? "<redacted>" : "", emit, arg);
		return;
	}
	switch (k->type) {
	case KEY_STRING: {
		const char *text = *(char *const *)(const void *)field;
		if (text)
			emit_json_string(text, emit, arg);
		else
			emit(arg, "null", 4);
		return;
	}
	case KEY_UINT:
	case KEY_DURATION:
	case KEY_SIZE:
		snprintf(num, sizeof(num), "%u", *(const uint32_t *)(const void *)field);
		emit(arg, num, strlen(num));
		return;
	case KEY_BOOL:
		if (*(const bool *)(const void *)field)
			emit(arg, "true", 4);
		else
			emit(arg, "false", 5);
		return;
	case KEY_ENUM:
		emit_json_string(k->enum_names[*(const int *)(const void *)field], emit, arg);
		return;
	case KEY_ADDRESS: {
		const struct config_addr *a = (const void *)field;
		if (a->text)
			emit_json_string(a->text, emit, arg);
		else
			emit(arg, "null", 4);
		return;
	}
	case KEY_MAP:
		if (k->given_offset && !*(const bool *)(const void *)((const char *)obj +
								   k->given_offset)) {
			emit(arg, "null", 4);
			return;
		}
		emit_schema(k->sub, field, emit, arg);
		return;
	case KEY_LIST: {
		const char *items = *(char *const *)(const void *)field;
		size_t n = *(const size_t *)(const void *)((const char *)obj + k->count_offset);
		emit(arg, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				emit(arg, ",", 1);
			emit_schema(k->sub, items + i * k->sub->size, emit, arg);
		}
		emit(arg, "]", 1);
		return;
	}
	}
}

static void emit_schema(const struct schema *sc, const void *obj, config_emit_fn emit, void *arg)
{
	emit(arg, "{", 1);
	for (const struct key_spec *k = sc->keys; k->name; k++) {
		if (k != sc->keys)
			emit(arg, ",", 1);
		emit_json_string(k->name, emit, arg);
		emit(arg, ":", 1);
		emit_value(k, obj, emit, arg);
	}
	emit(arg, "}", 1);
}

void config_emit_json(const struct config *cfg, config_emit_fn emit, void *arg)
{
	emit_schema(&root_schema, cfg, emit, arg);
}

/* ---- references ------------------------------------------------------------------------ */

const struct config *config_ref(const struct config *cfg)
{
	if (cfg)
		atomic_fetch_add(&((struct config *)cfg)->refs, 1);
	return cfg;
}

void config_unref(const struct config *cfg)
{
	if (cfg && atomic_fetch_sub(&((struct config *)cfg)->refs, 1) == 1)
		config_free((struct config *)cfg);
}

void config_destroy(struct config *cfg)
{
	config_unref(cfg);
}

/* ---- what a reload would change --------------------------------------------------------- */

struct diff_ctx {
	const char *file; /* the new file, for FILE:LINE:COL */
	struct config_errors *restart;
	struct config_errors *applied;
};

static void diff_note(struct config_errors *errs, const char *file, struct config_mark at,
		      const char *fmt, ...) SLUICE_PRINTF(4, 5);

static void diff_note(struct config_errors *errs, const char *file, struct config_mark at,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_add(errs, file, at, fmt, ap);
	va_end(ap);
}

/* A scalar key's value as text for a diff line; "(none)" for an unset
 * optional value. Secrets never reach here. */
static const char *diff_value(const struct key_spec *k, const void *obj, char *buf, size_t cap)
{
	const char *field = (const char *)obj + k->offset;

	switch (k->type) {
	case KEY_STRING: {
		const char *text = *(char *const *)(const void *)field;
		snprintf(buf, cap, "%s", text ? text : "(none)");
		break;
	}
	case KEY_UINT:
	case KEY_SIZE:
		snprintf(buf, cap, "%u", *(const uint32_t *)(const void *)field);
		break;
	case KEY_DURATION:
		snprintf(buf, cap, "%ums", *(const uint32_t *)(const void *)field);
		break;
	case KEY_BOOL:
		snprintf(buf, cap, "%s", *(const bool *)(const void *)field ? "true" : "false");
		break;
	case KEY_ENUM:
		snprintf(buf, cap, "%s", k->enum_names[*(const int *)(const void *)field]);
		break;
	case KEY_ADDRESS: {
		const struct config_addr *a = (const void *)field;
		snprintf(buf, cap, "%s", a->text ? a->text : "(none)");
		break;
	}
	case KEY_MAP:
	case KEY_LIST:
		snprintf(buf, cap, "?");
		break;
	}
	return buf;
}

static bool diff_same_scalar(const struct key_spec *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;

	switch (k->type) {
	case KEY_STRING: {
		const char *x = *(char *const *)(const void *)fa, *y = *(char *const *)(const void *)fb;
		return (!x && !y) || (x && y && strcmp(x, y) == 0);
	}
	case KEY_UINT:
	case KEY_DURATION:
	case KEY_SIZE:
		return *(const uint32_t *)(const void *)fa == *(const uint32_t *)(const void *)fb;
	case KEY_BOOL:
		return *(const bool *)(const void *)fa == *(const bool *)(const void *)fb;
	case KEY_ENUM:
		return *(const int *)(const void *)fa == *(const int *)(const void *)fb;
	case KEY_ADDRESS: {
		const struct config_addr *x = (const void *)fa, *y = (const void *)fb;
		return x->len == y->len && memcmp(&x->ss, &y->ss, x->len) == 0;
	}
	case KEY_MAP:
	case KEY_LIST:
		break;
	}
	return true;
}

/* Where key k of an object is written in the new file: its value, or the
 * object itself when the key is left at its default. */
static struct config_mark diff_mark(const struct schema *sc, const struct key_spec *k,
				    const void *obj)
{
	const struct config_src *src = obj;
	size_t idx = (size_t)(k - sc->keys);

	return (src->present & (1u << idx)) ? src->value_at[idx] : src->at;
}

/* An element's label in a path: its name when it has one ("nodes[node2]"),
 * else its index. */
static void diff_label(const struct schema *sc, const void *item, size_t i, char *buf, size_t cap)
{
	for (const struct key_spec *k = sc->keys; k->name; k++) {
		if (strcmp(k->name, "name") == 0 && k->type == KEY_STRING) {
			const char *name = *(char *const *)(const void *)((const char *)item + k->offset);
			if (name) {
				snprintf(buf, cap, "%s", name);
				return;
			}
		}
	}
	snprintf(buf, cap, "%zu", i);
}

/* Compare two objects of schema sc key by key. inherit: the enclosing key is
 * reloadable, so every key below it is too. */
static void diff_schema(struct diff_ctx *d, const struct schema *sc, const void *a, const void *b,
			const char *path, bool inherit)
{
	char sub[320], va[128], vb[128];

	for (const struct key_spec *k = sc->keys; k->name; k++) {
		bool reloadable = inherit || (k->flags & KEY_RELOADABLE);
		struct config_errors *to = reloadable ? d->applied : d->restart;
		const char *why = reloadable ? "" : ": needs a restart";
		struct config_mark at = diff_mark(sc, k, b);

		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k->name);
		if (k->type == KEY_MAP) {
			bool ga = !k->given_offset || *(const bool *)(const void *)((const char *)a +
										  k->given_offset);
			bool gb = !k->given_offset || *(const bool *)(const void *)((const char *)b +
										  k->given_offset);
			if (ga != gb)
				diff_note(to, d->file, at, "%s %s%s", sub, gb ? "added" : "removed", why);
			else if (ga)
				diff_schema(d, k->sub, (const char *)a + k->offset,
					    (const char *)b + k->offset, sub, reloadable);
			continue;
		}
		if (k->type == KEY_LIST) {
			const char *ia = *(char *const *)(const void *)((const char *)a + k->offset);
			const char *ib = *(char *const *)(const void *)((const char *)b + k->offset);
			size_t na = *(const size_t *)(const void *)((const char *)a + k->count_offset);
			size_t nb = *(const size_t *)(const void *)((const char *)b + k->count_offset);
			if (na != nb) {
				diff_note(to, d->file, at, "%s: %zu -> %zu entries%s", sub, na, nb,
					  reloadable ? "" : ": adding or removing entries needs a restart");
				continue;
			}
			for (size_t i = 0; i < na; i++) {
				char label[80], item[420];
				diff_label(k->sub, ib + i * k->sub->size, i, label, sizeof(label));
				snprintf(item, sizeof(item), "%s[%s]", sub, label);
				diff_schema(d, k->sub, ia + i * k->sub->size, ib + i * k->sub->size,
					    item, reloadable);
			}
			continue;
		}
		if (diff_same_scalar(k, a, b))
			continue;
		if (k->flags & KEY_SECRET)
			diff_note(to, d->file, at, "%s changed%s", sub, why);
		else
			diff_note(to, d->file, at, "%s: %s -> %s%s", sub,
				  diff_value(k, a, va, sizeof(va)), diff_value(k, b, vb, sizeof(vb)),
				  why);
	}
}

size_t config_diff(const struct config *cur, const struct config *next,
		   struct config_errors *restart, struct config_errors *applied)
{
	struct diff_ctx d = {.file = next->path, .restart = restart, .applied = applied};
	size_t before = restart->n;

	diff_schema(&d, &root_schema, cur, next, "", false);
	/* Secrets read from files and the environment are not keys: a new
	 * password in the same password_file is still a change. */
	for (size_t c = 0; c < cur->n_clusters && c < next->n_clusters; c++) {
		const char *x = cur->clusters[c].monitor.password;
		const char *y = next->clusters[c].monitor.password;
		if ((!x) != (!y) || (x && strcmp(x, y) != 0))
			diff_note(applied, next->path, next->clusters[c].monitor.src.at,
				  "clusters[%s].monitor password changed", next->clusters[c].name);
	}
	for (size_t u = 0; cur->n_users == next->n_users && u < cur->n_users; u++) {
		const struct config_user *x = &cur->users[u], *y = &next->users[u];
		/* A new password_hash was reported with the keys already. */
		if ((!x->password_hash) != (!y->password_hash) ||
		    (x->password_hash && strcmp(x->password_hash, y->password_hash) != 0))
			continue;
		bool same_pw = (!x->password && !y->password) ||
			       (x->password && y->password && strcmp(x->password, y->password) == 0);
		if (!same_pw || memcmp(x->double_sha1, y->double_sha1, CONFIG_HASH_LEN) != 0)
			diff_note(applied, next->path, y->src.at, "users[%s] password changed",
				  y->name);
	}
	if (cur->stats_given && next->stats_given) {
		const char *x = cur->stats.admin_password, *y = next->stats.admin_password;
		if ((!x) != (!y) || (x && strcmp(x, y) != 0))
			diff_note(applied, next->path, next->stats.src.at,
				  "stats admin password changed");
	}
	return restart->n - before;
}
