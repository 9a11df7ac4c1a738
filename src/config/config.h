/*
 * The configuration: one YAML file parsed into one struct config.
 *
 * Parsing has three phases (see config.c): reject YAML features we do not
 * support, convert every key through one table of keys, then check
 * the rules that span several keys. Every error carries FILE:LINE:COL and a
 * hint, and all of them are collected, not only the first.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

/* Limits shared by the parser and the code that sizes arrays from them. */
#define CONFIG_MAX_KEYS	 24 /* keys in one mapping type */
#define CONFIG_MAX_NODES 64 /* nodes in one cluster */
#define CONFIG_HASH_LEN	 20 /* SHA1 */

/* Where a YAML node starts, 1-based, for error messages. line 0 = unknown. */
struct config_mark {
	unsigned line;
	unsigned col;
};

/* Every object parsed from a mapping starts with this header: where the
 * mapping starts, where each key and its value were written (indexed like
 * the schema's key table), which keys were given and which of those could
 * not be converted (so later rules do not build on a value that is not
 * there). */
struct config_src {
	struct config_mark at;
	struct config_mark key_at[CONFIG_MAX_KEYS];
	struct config_mark value_at[CONFIG_MAX_KEYS];
	uint32_t present; /* bit i: key i of the schema was written */
	uint32_t failed;  /* bit i: ... and its value was rejected */
};

/* "host:port" as written, and resolved once when the file is loaded. */
struct config_addr {
	char *text;
	struct sockaddr_storage ss;
	socklen_t len;
};

enum listener_mode {
	LISTENER_MODE_MYSQL,
	LISTENER_MODE_TCP,
};

/* How workers wait for their sockets: io_uring where the kernel allows it
 * (net/ring.h), or epoll through libevent. */
enum io_engine {
	IO_ENGINE_AUTO,
	IO_ENGINE_EPOLL,
};

enum listener_route {
	LISTENER_ROUTE_PRIMARY,
	LISTENER_ROUTE_READERS,
};

enum cluster_type {
	CLUSTER_TYPE_GALERA,
	CLUSTER_TYPE_GROUP_REPLICATION,
	CLUSTER_TYPE_REPLICATION,
	CLUSTER_TYPE_STATIC,
};

/* Read-your-writes on Galera readers (mode: mysql). */
enum causal_reads {
	CAUSAL_READS_OFF,
	CAUSAL_READS_SESSION, /* reads after the session's first write wait for it */
	CAUSAL_READS_GLOBAL,  /* every read waits for all commits before it */
};

struct config_tls {
	struct config_src src;
	char *cert;
	char *key;
	char *ca;
};

struct config_listener {
	struct config_src src;
	char *name;
	struct config_addr bind;
	enum listener_mode mode;
	char *cluster;
	enum listener_route route;
	struct config_tls tls; /* valid when tls_given */
	uint32_t max_connections;
	uint32_t login_timeout_ms;
	bool primary_reads;
	enum causal_reads causal_reads;
	bool tls_given;
	size_t cluster_index; /* resolved in phase 3 */
};

struct config_node {
	struct config_src src;
	char *name;
	struct config_addr address;
	uint32_t weight;
	uint32_t priority; /* lower is preferred for the writer role */
};

struct config_monitor {
	struct config_src src;
	char *user;
	char *password_file;
	char *password_env;
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t fall;
	uint32_t rise;
	uint32_t writer_grace_ms; /* a writer that times out stays it this long */
	char *password; /* secret, resolved from file or environment; never logged */
};

enum tls_verify {
	TLS_VERIFY_NONE, /* encrypt only */
	TLS_VERIFY_CA,	 /* the chain must lead to a trusted CA */
	TLS_VERIFY_FULL, /* ... and name the node's host or IP */
};

/* TLS from sluice to the nodes of a cluster. */
struct config_backend_tls {
	struct config_src src;
	char *ca; /* NULL: the system's trusted CAs */
	enum tls_verify verify;
	char *cert; /* client certificate, optional, with key */
	char *key;
};

/* Backend connection pooling of a cluster's mode: mysql sessions. */
enum pool_mode {
	POOL_MODE_TRANSACTION, /* a connection goes back after each statement nothing ties */
	POOL_MODE_SESSION,     /* a session keeps its connections until it ends */
};

struct config_pool {
	struct config_src src;
	enum pool_mode mode;
	uint32_t max_per_node; /* per worker: idle + in use + logging in */
	uint32_t min_idle;     /* per worker and node, kept past idle_timeout */
	uint32_t idle_timeout_ms;
};

struct config_cluster {
	struct config_src src;
	char *name;
	enum cluster_type type;
	struct config_monitor monitor;
	uint32_t connect_timeout_ms;
	uint32_t queue_timeout_ms;
	bool failback;
	bool donor_serves_reads;
	uint32_t max_lag_ms;
	struct config_backend_tls tls; /* valid when tls_given */
	bool tls_given;
	struct config_pool pool;
	struct config_node *nodes;
	size_t n_nodes;
};

struct config_user {
	struct config_src src;
	char *name;
	char *password_hash;
	char *password_file;
	char *password_env;
	/* Resolved secrets: the SHA1(SHA1(password)) the server stores, and the
	 * plaintext password when one was given (file or environment). */
	uint8_t double_sha1[CONFIG_HASH_LEN];
	char *password;
};

struct config_stats {
	struct config_src src;
	struct config_addr bind;
	char *admin_user;
	char *admin_password_file;
	char *admin_password; /* secret */
	uint32_t feed_rate; /* statements per second the event stream sends at most */
};

struct config_logging {
	struct config_src src;
	enum log_level level;
	bool timestamps;
};

struct config {
	struct config_src src;
	/* Holders: the daemon, each worker, the monitor, the stats server and
	 * every snapshot built from it (config_ref/config_unref). A reload
	 * replaces the daemon's config; the old one goes with its last holder. */
	_Atomic unsigned refs;
	char *path;
	uint32_t workers; /* 0 in the file means one per CPU; resolved on load */
	enum io_engine io_engine;
	uint32_t buffer_size;
	char *state_file; /* operator states (opstate.h), as written; NULL: none */
	struct config_listener *listeners;
	size_t n_listeners;
	struct config_cluster *clusters;
	size_t n_clusters;
	struct config_user *users;
	size_t n_users;
	struct config_stats stats;
	bool stats_given;
	struct config_logging logging;
};

/* The errors of one load, in file order, each message already formatted as
 * "FILE:LINE:COL: text". */
struct config_error {
	struct config_mark at;
	char *msg;
};

struct config_errors {
	struct config_error *items;
	size_t n;
};

void config_errors_init(struct config_errors *errs);
void config_errors_deinit(struct config_errors *errs);

/* Load and check the file at path. Returns a new config owned by the caller
 * (config_destroy), or NULL with every problem appended to errs. */
struct config *config_load(const char *path, struct config_errors *errs)
	__attribute__((warn_unused_result));

/* The same from text in memory; name is used in error messages and as the
 * base for relative password_file paths. For tests and --check of stdin. */
struct config *config_load_string(const char *name, const char *text, size_t len,
				  struct config_errors *errs) __attribute__((warn_unused_result));

/* Release the caller's reference (the last one frees; see config_ref). */
void config_destroy(struct config *cfg);

/* Shared ownership across threads: a loaded config has one reference;
 * config_unref of the last one destroys it. The count is not part of the
 * configuration's value, so a const config may be referenced. */
const struct config *config_ref(const struct config *cfg);
void config_unref(const struct config *cfg);

/* What SIGHUP would change: compare a freshly loaded next with cur, key by
 * key through the schema. Every difference in a key that is not reloadable
 * (an address, a mode, the nodes of a cluster, listeners added or removed)
 * goes to restart as "FILE:LINE:COL: what changed: needs a restart", at the
 * place in next's file; every other difference goes to applied as
 * "where: old -> new" (secrets only as "changed"). Returns restart->n;
 * cur and next are not modified. */
size_t config_diff(const struct config *cur, const struct config *next,
		   struct config_errors *restart, struct config_errors *applied);

/* Print every key of the schema, one per line as "path type default: help",
 * for --list-keys (the man page test reads it). */
void config_print_keys(FILE *out);

const char *listener_mode_str(enum listener_mode mode);
const char *io_engine_str(enum io_engine engine);
const char *listener_route_str(enum listener_route route);
const char *cluster_type_str(enum cluster_type type);
const char *tls_verify_str(enum tls_verify verify);
const char *causal_reads_str(enum causal_reads mode);
const char *pool_mode_str(enum pool_mode mode);

/* Where key was written in listener l (or where l starts if it was not),
 * for run-time errors such as a failed bind. */
struct config_mark config_listener_mark(const struct config_listener *l, const char *key);

/* Resolve path from the configuration file at cfg_path: relative paths are
 * relative to that file's directory. Writes at most cap bytes to out. */
void config_resolve_path(const char *cfg_path, const char *path, char *out, size_t cap);

/* Format an address for logs ("127.0.0.1:3306", "[::1]:3306"). */
const char *config_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Write the configuration in effect as one JSON object, key by key as the
 * file names them (defaults filled in, durations in milliseconds, sizes in
 * bytes), secrets as "<redacted>". emit receives the text in pieces. */
typedef void (*config_emit_fn)(void *arg, const char *text, size_t len);
void config_emit_json(const struct config *cfg, config_emit_fn emit, void *arg);

#endif
