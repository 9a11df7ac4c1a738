/*
 * Unit tests for src/config.c: good files and the defaults they get, units
 * of durations and sizes, flow and block style, the three password sources,
 * every class of error with its exact FILE:LINE:COL (a table), several
 * errors from one load in file order, every example file in conf/, and what
 * a reload would apply or refuse (config_diff).
 */
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config/config.h"

/* The double SHA1 of "secret": SELECT PASSWORD('secret') prints it. */
#define SECRET_HASH "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
static const uint8_t secret_double_sha1[CONFIG_HASH_LEN] = {
	0x14, 0xe6, 0x55, 0x67, 0xab, 0xdb, 0x51, 0x35, 0xd0, 0xcf,
	0xd9, 0xa7, 0x0b, 0x30, 0x32, 0xc1, 0x79, 0xa4, 0x9e, 0xe7,
};

/* Environment variables the cases below rely on; main() sets them. */
#define ENV_SECRET "SLUICE_TEST_SECRET" /* "secret" */
#define ENV_UNSET  "SLUICE_TEST_UNSET"	/* never set */
#define ENV_EMPTY  "SLUICE_TEST_EMPTY"	/* set to "" */

static void dump_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "    got [%u:%u] %s\n", errs->items[i].at.line,
			errs->items[i].at.col, errs->items[i].msg);
}

/* Load text as "t.yaml"; the caller owns the result and deinits errs. */
static struct config *load(const char *text, struct config_errors *errs)
{
	config_errors_init(errs);
	return config_load_string("t.yaml", text, strlen(text), errs);
}

/* Load text that must be valid; NULL (after a reported failure) if not. */
static struct config *load_good(const char *name, const char *text)
{
	struct config_errors errs;
	struct config *cfg;

	config_errors_init(&errs);
	cfg = config_load_string(name, text, strlen(text), &errs);
	if (!CHECK_EQ_INT(errs.n, 0))
		dump_errors(&errs);
	CHECK(cfg != NULL);
	config_errors_deinit(&errs);
	return cfg;
}

static const char *addr_str(const struct config_addr *a, char *buf, size_t len)
{
	return config_addr_str((const struct sockaddr *)&a->ss, buf, len);
}

/* ---- good files --------------------------------------------------------- */

static void test_minimal_tcp(void)
{
	static const char text[] =
		"listeners:\n"
		"  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		"clusters:\n"
		"  - name: main\n"
		"    nodes:\n"
		"      - { name: db1, address: 127.0.0.1:3306 }\n";
	struct config *cfg = load_good("t.yaml", text);
	char buf[64];

	if (!cfg)
		return;
	CHECK_EQ_STR(cfg->path, "t.yaml");
	if (CHECK_EQ_INT(cfg->n_listeners, 1)) {
		const struct config_listener *l = &cfg->listeners[0];
		CHECK_EQ_STR(l->name, "rw");
		CHECK_EQ_INT(l->mode, LISTENER_MODE_TCP);
		CHECK_EQ_STR(l->cluster, "main");
		CHECK_EQ_INT(l->cluster_index, 0);
		CHECK_EQ_STR(l->bind.text, "127.0.0.1:3307");
		CHECK_EQ_INT(l->bind.ss.ss_family, AF_INET);
		CHECK_EQ_INT(l->bind.len, sizeof(struct sockaddr_in));
		CHECK_EQ_STR(addr_str(&l->bind, buf, sizeof(buf)), "127.0.0.1:3307");
		CHECK(!l->tls_given);
	}
	if (CHECK_EQ_INT(cfg->n_clusters, 1) && CHECK_EQ_INT(cfg->clusters[0].n_nodes, 1)) {
		const struct config_node *n = &cfg->clusters[0].nodes[0];
		CHECK_EQ_STR(cfg->clusters[0].name, "main");
		CHECK_EQ_STR(n->name, "db1");
		CHECK_EQ_STR(n->address.text, "127.0.0.1:3306");
		CHECK_EQ_STR(addr_str(&n->address, buf, sizeof(buf)), "127.0.0.1:3306");
		CHECK(cfg->clusters[0].monitor.user == NULL);
		CHECK(cfg->clusters[0].monitor.password == NULL);
	}
	CHECK_EQ_INT(cfg->n_users, 0);
	CHECK(!cfg->stats_given);
	config_destroy(cfg);
}

/* Everything not written gets the default the key table documents. */
static void test_defaults(void)
{
	static const char text[] = "listeners:\n"
				   "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
				   "clusters:\n"
				   "  - name: main\n"
				   "    nodes:\n"
				   "      - { name: db1, address: 127.0.0.1:3306 }\n"
				   "users:\n"
				   "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n";
	struct config *cfg = load_good("t.yaml", text);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!cfg)
		return;
	CHECK(cfg->workers >= 1);
	CHECK_EQ_INT(cfg->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	CHECK_EQ_INT(cfg->buffer_size, 262144);
	CHECK_EQ_INT(cfg->listeners[0].mode, LISTENER_MODE_MYSQL);
	CHECK_EQ_INT(cfg->listeners[0].route, LISTENER_ROUTE_PRIMARY);
	CHECK_EQ_INT(cfg->listeners[0].max_connections, 10000);
	CHECK(!cfg->listeners[0].tls_given);
	CHECK_EQ_INT(cfg->clusters[0].type, CLUSTER_TYPE_GALERA);
	CHECK_EQ_INT(cfg->clusters[0].connect_timeout_ms, 1000);
	CHECK_EQ_INT(cfg->clusters[0].monitor.interval_ms, 250);
	CHECK_EQ_INT(cfg->clusters[0].monitor.timeout_ms, 500);
	CHECK_EQ_INT(cfg->clusters[0].monitor.fall, 2);
	CHECK_EQ_INT(cfg->clusters[0].monitor.rise, 2);
	CHECK_EQ_INT(cfg->clusters[0].nodes[0].weight, 1);
	CHECK_EQ_INT(cfg->clusters[0].nodes[0].priority, 1000);
	CHECK_EQ_INT(cfg->logging.level, LOG_LEVEL_INFO);
	CHECK(cfg->logging.timestamps);
	CHECK(!cfg->stats_given);
	config_destroy(cfg);
}

/* Which field a scalar case reads back. */
enum field {
	F_WORKERS,
	F_BUFFER_SIZE,
	F_CONNECT_TIMEOUT,
	F_INTERVAL,
	F_TIMEOUT,
	F_FALL,
	F_TIMESTAMPS,
	F_LEVEL,
	F_TYPE,
	F_WEIGHT,
};

static long long field_value(const struct config *cfg, enum field f)
{
	const struct config_cluster *c = &cfg->clusters[0];

	switch (f) {
	case F_WORKERS:
		return cfg->workers;
	case F_BUFFER_SIZE:
		return cfg->buffer_size;
	case F_CONNECT_TIMEOUT:
		return c->connect_timeout_ms;
	case F_INTERVAL:
		return c->monitor.interval_ms;
	case F_TIMEOUT:
		return c->monitor.timeout_ms;
	case F_FALL:
		return c->monitor.fall;
	case F_TIMESTAMPS:
		return cfg->logging.timestamps;
	case F_LEVEL:
		return cfg->logging.level;
	case F_TYPE:
		return c->type;
	case F_WEIGHT:
		return c->nodes[0].weight;
	}
	return -1;
}

struct value_case {
	const char *top;     /* a line at the top level, or "" */
	const char *cluster; /* a line in the cluster's mapping, or "" */
	const char *node;    /* extra keys of the node's flow mapping, or "" */
	enum field field;
	long long want;
};

static const struct value_case value_cases[] = {
	/* Durations: a bare number is milliseconds; units are case-blind. */
	{"", "connect_timeout: 250ms", "", F_CONNECT_TIMEOUT, 250},
	{"", "connect_timeout: 2s", "", F_CONNECT_TIMEOUT, 2000},
	{"", "connect_timeout: 1m", "", F_CONNECT_TIMEOUT, 60000},
	{"", "connect_timeout: 300", "", F_CONNECT_TIMEOUT, 300},
	{"", "connect_timeout: 2S", "", F_CONNECT_TIMEOUT, 2000},
	{"", "connect_timeout: 10ms", "", F_CONNECT_TIMEOUT, 10},
	{"", "monitor: { interval: 2s }", "", F_INTERVAL, 2000},
	{"", "monitor: { timeout: 1s }", "", F_TIMEOUT, 1000},
	{"", "monitor: { interval: 1m, timeout: 1m }", "", F_TIMEOUT, 60000},
	/* Sizes: a bare number is bytes; k and m are powers of two. */
	{"buffer_size: 64k", "", "", F_BUFFER_SIZE, 65536},
	{"buffer_size: 1m", "", "", F_BUFFER_SIZE, 1048576},
	{"buffer_size: 4096", "", "", F_BUFFER_SIZE, 4096},
	{"buffer_size: 64KB", "", "", F_BUFFER_SIZE, 65536},
	{"buffer_size: 64m", "", "", F_BUFFER_SIZE, 64u << 20},
	/* Integers at their bounds. */
	{"workers: 4", "", "", F_WORKERS, 4},
	{"workers: 256", "", "", F_WORKERS, 256},
	{"", "monitor: { fall: 100 }", "", F_FALL, 100},
	{"", "", ", weight: 0", F_WEIGHT, 0},
	{"", "", ", weight: 1000", F_WEIGHT, 1000},
	/* Booleans in the spellings YAML users write. */
	{"logging: { timestamps: false }", "", "", F_TIMESTAMPS, 0},
	{"logging: { timestamps: no }", "", "", F_TIMESTAMPS, 0},
	{"logging: { timestamps: off }", "", "", F_TIMESTAMPS, 0},
	{"logging: { timestamps: yes }", "", "", F_TIMESTAMPS, 1},
	{"logging: { timestamps: On }", "", "", F_TIMESTAMPS, 1},
	/* Enums. */
	{"logging: { level: debug }", "", "", F_LEVEL, LOG_LEVEL_DEBUG},
	{"logging: { level: error }", "", "", F_LEVEL, LOG_LEVEL_ERROR},
	{"", "type: group_replication", "", F_TYPE, CLUSTER_TYPE_GROUP_REPLICATION},
	{"", "type: static", "", F_TYPE, CLUSTER_TYPE_STATIC},
};

static void test_values(void)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *c = &value_cases[i];
		char text[1024];
		struct config *cfg;

		check_case("%s%s%s", c->top, c->cluster, c->node);
		snprintf(text, sizeof(text),
			 "%s\n"
			 "listeners:\n"
			 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
			 "clusters:\n"
			 "  - name: main\n"
			 "    %s\n"
			 "    nodes:\n"
			 "      - { name: db1, address: 127.0.0.1:3306%s }\n",
			 c->top, c->cluster, c->node);
		cfg = load_good("t.yaml", text);
		if (!cfg)
			continue;
		CHECK_EQ_INT(field_value(cfg, c->field), c->want);
		config_destroy(cfg);
	}
}

/* The same settings in block style and in flow style load the same. */
static void test_flow_and_block(void)
{
	static const char block[] = "workers: 2\n"
				    "buffer_size: 64k\n"
				    "listeners:\n"
				    "  - name: rw\n"
				    "    bind: 127.0.0.1:3307\n"
				    "    mode: tcp\n"
				    "    cluster: main\n"
				    "    route: readers\n"
				    "    max_connections: 50\n"
				    "clusters:\n"
				    "  - name: main\n"
				    "    type: static\n"
				    "    connect_timeout: 2s\n"
				    "    monitor:\n"
				    "      interval: 1s\n"
				    "      timeout: 2s\n"
				    "      fall: 3\n"
				    "      rise: 4\n"
				    "    nodes:\n"
				    "      - name: db1\n"
				    "        address: 127.0.0.1:3306\n"
				    "        weight: 5\n"
				    "        priority: 1\n"
				    "      - name: db2\n"
				    "        address: '[::1]:3306'\n"
				    "logging:\n"
				    "  level: debug\n"
				    "  timestamps: false\n";
	static const char flow[] =
		"{workers: 2, buffer_size: 64k,\n"
		" listeners: [{name: rw, bind: '127.0.0.1:3307', mode: tcp, cluster: main,\n"
		"              route: readers, max_connections: 50}],\n"
		" clusters: [{name: main, type: static, connect_timeout: 2s,\n"
		"             monitor: {interval: 1s, timeout: 2s, fall: 3, rise: 4},\n"
		"             nodes: [{name: db1, address: '127.0.0.1:3306',\n"
		"                      weight: 5, priority: 1},\n"
		"                     {name: db2, address: '[::1]:3306'}]}],\n"
		" logging: {level: debug, timestamps: false}}\n";
	const char *texts[] = {block, flow};
	const char *names[] = {"block style", "flow style"};

	for (int i = 0; i < 2; i++) {
		struct config *cfg;
		char buf[64];

		check_case("%s", names[i]);
		cfg = load_good("t.yaml", texts[i]);
		if (!cfg)
			continue;
		CHECK_EQ_INT(cfg->workers, 2);
		CHECK_EQ_INT(cfg->buffer_size, 65536);
		CHECK_EQ_INT(cfg->n_listeners, 1);
		CHECK_EQ_STR(cfg->listeners[0].name, "rw");
		CHECK_EQ_STR(cfg->listeners[0].bind.text, "127.0.0.1:3307");
		CHECK_EQ_INT(cfg->listeners[0].mode, LISTENER_MODE_TCP);
		CHECK_EQ_INT(cfg->listeners[0].route, LISTENER_ROUTE_READERS);
		CHECK_EQ_INT(cfg->listeners[0].max_connections, 50);
		CHECK_EQ_INT(cfg->n_clusters, 1);
		const struct config_cluster *c = &cfg->clusters[0];
		CHECK_EQ_INT(c->type, CLUSTER_TYPE_STATIC);
		CHECK_EQ_INT(c->connect_timeout_ms, 2000);
		CHECK_EQ_INT(c->monitor.interval_ms, 1000);
		CHECK_EQ_INT(c->monitor.timeout_ms, 2000);
		CHECK_EQ_INT(c->monitor.fall, 3);
		CHECK_EQ_INT(c->monitor.rise, 4);
		if (CHECK_EQ_INT(c->n_nodes, 2)) {
			CHECK_EQ_STR(c->nodes[0].name, "db1");
			CHECK_EQ_INT(c->nodes[0].weight, 5);
			CHECK_EQ_INT(c->nodes[0].priority, 1);
			CHECK_EQ_STR(c->nodes[1].name, "db2");
			CHECK_EQ_INT(c->nodes[1].weight, 1);
			CHECK_EQ_INT(c->nodes[1].priority, 1000);
			CHECK_EQ_INT(c->nodes[1].address.ss.ss_family, AF_INET6);
			CHECK_EQ_STR(addr_str(&c->nodes[1].address, buf, sizeof(buf)),
				     "[::1]:3306");
		}
		CHECK_EQ_INT(cfg->logging.level, LOG_LEVEL_DEBUG);
		CHECK(!cfg->logging.timestamps);
		config_destroy(cfg);
	}
}

/* Other shapes that are allowed: names unique per cluster only, '*' binds,
 * one port on several addresses. */
static void test_other_good_files(void)
{
	static const struct {
		const char *name;
		const char *text;
	} cases[] = {
		{"the same node name and address in two clusters",
		 "listeners:\n"
		 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: one }\n"
		 "  - { name: ro, bind: 127.0.0.1:3308, mode: tcp, cluster: two }\n"
		 "clusters:\n"
		 "  - { name: one, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
		 "  - { name: two, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"},
		{"'*' binds every IPv4 address; 64 characters of name",
		 "listeners:\n"
		 "  - { name: rw, bind: '*:3307', mode: tcp, cluster: main }\n"
		 "clusters:\n"
		 "  - name: main\n"
		 "    nodes:\n"
		 "      - name: nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n"
		 "        address: 127.0.0.1:3306\n"},
		{"one port on different addresses of either family",
		 "listeners:\n"
		 "  - { name: a, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		 "  - { name: b, bind: 127.0.0.2:3307, mode: tcp, cluster: main }\n"
		 "  - { name: c, bind: '[::1]:3307', mode: tcp, cluster: main }\n"
		 "clusters:\n"
		 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
		 "stats: { bind: '0.0.0.0:3308' }\n"},
		{"stats without an admin user",
		 "listeners:\n"
		 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		 "clusters:\n"
		 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
		 "stats: { bind: 127.0.0.1:8404 }\n"},
		{"a monitor account with its password from the environment",
		 "listeners:\n"
		 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		 "clusters:\n"
		 "  - name: main\n"
		 "    monitor: { user: mon, password_env: " ENV_SECRET " }\n"
		 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_case("%s", cases[i].name);
		config_destroy(load_good("t.yaml", cases[i].text));
	}
}

/* A bind of '*' means every IPv4 address, 0.0.0.0 (not "::"). */
static void test_wildcard_address(void)
{
	static const char text[] =
		"listeners:\n"
		"  - { name: rw, bind: '*:3307', mode: tcp, cluster: main }\n"
		"clusters:\n"
		"  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n";
	struct config *cfg = load_good("t.yaml", text);
	char buf[64];

	if (!cfg)
		return;
	CHECK_EQ_STR(cfg->listeners[0].bind.text, "*:3307");
	CHECK_EQ_INT(cfg->listeners[0].bind.ss.ss_family, AF_INET);
	CHECK_EQ_STR(addr_str(&cfg->listeners[0].bind, buf, sizeof(buf)), "0.0.0.0:3307");
	config_destroy(cfg);
}

/* ---- passwords ----------------------------------------------------------- */

static void test_password_hash(void)
{
	static const char text[] =
		"listeners:\n"
		"  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
		"clusters:\n"
		"  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
		"users:\n"
		"  - { name: upper, password_hash: \"" SECRET_HASH "\" }\n"
		"  - { name: lower, password_hash: "
		"\"*14e65567abdb5135d0cfd9a70b3032c179a49ee7\" }\n";
	struct config *cfg = load_good("t.yaml", text);

	if (!cfg)
		return;
	if (CHECK_EQ_INT(cfg->n_users, 2)) {
		for (int i = 0; i < 2; i++) {
			check_case("user %s", cfg->users[i].name);
			CHECK_EQ_MEM(cfg->users[i].double_sha1, secret_double_sha1,
				     CONFIG_HASH_LEN);
			CHECK(cfg->users[i].password == NULL);
		}
		/* The text is kept as written. */
		CHECK_EQ_STR(cfg->users[0].password_hash, SECRET_HASH);
		CHECK_EQ_STR(cfg->users[1].password_hash,
			     "*14e65567abdb5135d0cfd9a70b3032c179a49ee7");
	}
	config_destroy(cfg);
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

/* Checks the secrets the password text below resolves to. */
static void check_secrets(const struct config *cfg)
{
	if (!CHECK_EQ_INT(cfg->n_users, 3))
		return;
	/* First line only, newline stripped. */
	CHECK_EQ_STR(cfg->users[0].password, "secret");
	CHECK_EQ_MEM(cfg->users[0].double_sha1, secret_double_sha1, CONFIG_HASH_LEN);
	/* An absolute path is used as is. */
	CHECK_EQ_STR(cfg->users[1].password, "secret");
	CHECK_EQ_MEM(cfg->users[1].double_sha1, secret_double_sha1, CONFIG_HASH_LEN);
	/* From the environment, same hash. */
	CHECK_EQ_STR(cfg->users[2].password, "secret");
	CHECK_EQ_MEM(cfg->users[2].double_sha1, secret_double_sha1, CONFIG_HASH_LEN);
	/* A CRLF line ending is stripped too. */
	CHECK_EQ_STR(cfg->clusters[0].monitor.password, "monitor-pw");
	CHECK_EQ_STR(cfg->clusters[1].monitor.password, "secret");
	CHECK_EQ_STR(cfg->stats.admin_password, "admin-pw");
}

/* password_file is read relative to the directory of the configuration,
 * whether it is loaded from a file or from memory under a path name. */
static void test_password_sources(void)
{
	char dir[] = "/tmp/sluice-test-config-XXXXXX";
	char path[PATH_MAX], user_pw[PATH_MAX], mon_pw[PATH_MAX], admin_pw[PATH_MAX];
	char text[PATH_MAX + 2048];
	struct config_errors errs;
	struct config *cfg;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
	snprintf(user_pw, sizeof(user_pw), "%s/user.pw", dir);
	snprintf(mon_pw, sizeof(mon_pw), "%s/monitor.pw", dir);
	snprintf(admin_pw, sizeof(admin_pw), "%s/admin.pw", dir);
	snprintf(text, sizeof(text),
		 "listeners:\n"
		 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
		 "clusters:\n"
		 "  - name: main\n"
		 "    monitor: { user: mon, password_file: monitor.pw }\n"
		 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n"
		 "  - name: other\n"
		 "    monitor: { user: mon, password_env: " ENV_SECRET " }\n"
		 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n"
		 "users:\n"
		 "  - { name: file, password_file: user.pw }\n"
		 "  - { name: absolute, password_file: %s }\n"
		 "  - { name: env, password_env: " ENV_SECRET " }\n"
		 "stats:\n"
		 "  { bind: 127.0.0.1:8404, admin_user: admin, admin_password_file: admin.pw }\n",
		 user_pw);
	CHECK(write_file(user_pw, "secret\nnot this line\n"));
	CHECK(write_file(mon_pw, "monitor-pw\r\n"));
	CHECK(write_file(admin_pw, "admin-pw"));
	CHECK(write_file(path, text));

	check_case("config_load_string with a directory in the name");
	cfg = load_good(path, text);
	if (cfg) {
		check_secrets(cfg);
		config_destroy(cfg);
	}

	check_case("config_load from the directory");
	config_errors_init(&errs);
	cfg = config_load(path, &errs);
	if (!CHECK_EQ_INT(errs.n, 0))
		dump_errors(&errs);
	if (CHECK(cfg != NULL)) {
		CHECK_EQ_STR(cfg->path, path);
		check_secrets(cfg);
		config_destroy(cfg);
	}
	config_errors_deinit(&errs);

	/* The same relative names from another directory are not found. */
	check_case("relative to the config's directory, not another");
	config_errors_init(&errs);
	cfg = config_load_string("/nonexistent-dir/sluice.yaml", text, strlen(text), &errs);
	CHECK(cfg == NULL);
	size_t n_missing = 0;
	for (size_t i = 0; i < errs.n; i++)
		n_missing += strstr(errs.items[i].msg, "cannot read '/nonexistent-dir/") != NULL;
	CHECK_EQ_INT(n_missing, 3); /* user.pw, monitor.pw, admin.pw */
	config_errors_deinit(&errs);

	/* The longest first line is read whole; a longer one is refused, not
	 * cut to a different password. */
	char long_pw[1026];
	memset(long_pw, 'x', 1023);
	strcpy(long_pw + 1023, "\n");
	check_case("a password of 1023 bytes");
	CHECK(write_file(user_pw, long_pw));
	cfg = load_good(path, text);
	if (cfg) {
		CHECK_EQ_INT(strlen(cfg->users[0].password), 1023);
		config_destroy(cfg);
	}
	check_case("a password of 1024 bytes");
	strcpy(long_pw + 1023, "y\n");
	CHECK(write_file(user_pw, long_pw));
	config_errors_init(&errs);
	cfg = config_load_string(path, text, strlen(text), &errs);
	CHECK(cfg == NULL);
	if (!CHECK_EQ_INT(errs.n, 2)) /* users[0] and [1] read the same file */
		dump_errors(&errs);
	else
		CHECK(strstr(errs.items[0].msg, "users[0].password_file: the first line of") &&
		      strstr(errs.items[0].msg, "is longer than 1023 bytes"));
	config_errors_deinit(&errs);

	unlink(user_pw);
	unlink(mon_pw);
	unlink(admin_pw);
	unlink(path);
	CHECK(rmdir(dir) == 0);
}

static void test_load_missing_file(void)
{
	struct config_errors errs;
	struct config *cfg;

	config_errors_init(&errs);
	cfg = config_load("/nonexistent-dir/sluice.yaml", &errs);
	CHECK(cfg == NULL);
	if (CHECK_EQ_INT(errs.n, 1)) {
		CHECK_EQ_INT(errs.items[0].at.line, 0);
		CHECK_EQ_STR(errs.items[0].msg, "/nonexistent-dir/sluice.yaml:0:0: cannot open the "
						"configuration: No such file or directory");
	}
	config_errors_deinit(&errs);
}

/* ---- errors -------------------------------------------------------------- */

struct want_error {
	unsigned line, col; /* 1-based; line 0 ends the list */
	const char *text;   /* part of the message after "t.yaml:LINE:COL: " */
};

struct error_case {
	const char *name;
	const char *yaml;
	struct want_error want[4]; /* exactly these, in file order */
};

/* Every line of every case is one string literal, so a line number is the
 * count of literals. Columns point at the value (or key) the message is
 * about, as libyaml marks it: a quoted scalar starts at its quote, a flow
 * mapping at its '{', a block mapping at its first key. */
static const struct error_case error_cases[] = {
	/* -- keys -- */
	{"unknown key in a node, with a hint",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306, wieght: 2 }\n",
	 {{6, 47, "clusters[0].nodes[0]: unknown key 'wieght' (did you mean 'weight'?)"}}},
	{"unknown top-level key: the hint stands for 'missing listeners'",
	 "listener:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 1, "top level: unknown key 'listener' (did you mean 'listeners'?)"}}},
	{"unknown key with nothing close",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306, colour: red }\n",
	 {{6, 47, "clusters[0].nodes[0]: unknown key 'colour' in node settings"}}},
	{"a key that is not a plain name",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    ? [a, b]\n"
	 "    : 1\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 7, "clusters[0]: a key must be a plain name"}}},
	{"key given twice in a block mapping",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: 1s\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n"
	 "    connect_timeout: 2s\n",
	 {{7, 5, "clusters[0]: key 'connect_timeout' given twice (first at line 5)"}}},
	{"key given twice in a flow mapping",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main, mode: tcp }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 65, "listeners[0]: key 'mode' given twice (first at line 2)"}}},

	{"key given twice, value on the next line: the first KEY's line is named",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306 }\n"
	 "    nodes:\n"
	 "      - { name: db2, address: 127.0.0.1:3307 }\n",
	 {{7, 5, "clusters[0]: key 'nodes' given twice (first at line 5)"}}},
	{"a mistyped mode is one error, not one per rule that reads the mode",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tpc, cluster: main, route: readers }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 45,
	   "listeners[0].mode: unknown value 'tpc' (did you mean 'tcp'?); one of: mysql, tcp"}}},
	{"a top level that is not a mapping says so",
	 "- a\n",
	 {{1, 1, "top level: expected a mapping of keys (config settings), found a list"}}},

	/* -- types -- */
	{"a list where a single value belongs",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: [1s, 2s]\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "clusters[0].connect_timeout: expected a single value, found a list"}}},
	{"a single value where a mapping belongs",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: fast\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 14,
	   "clusters[0].monitor: expected a mapping of keys (monitor settings), found a "
	   "single value"}}},
	{"a list where a mapping belongs",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "logging: [info]\n",
	 {{5, 10, "logging: expected a mapping of keys (logging settings), found a list"}}},
	{"a single value where a list belongs",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes: db1\n"
	 "listeners2: x\n",
	 {{5, 12, "clusters[0].nodes: expected a list (- item per node)"},
	  {6, 1, "top level: unknown key 'listeners2' (did you mean 'listeners'?)"}}},
	{"a mapping where an address belongs",
	 "listeners:\n"
	 "  - { name: rw, bind: { host: 127.0.0.1, port: 3307 }, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 23, "listeners[0].bind: expected an address HOST:PORT, found a mapping"}}},
	{"an empty list",
	 "listeners: []\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 12, "listeners: needs at least 1 entry"}}},
	{"a key with no value where a list belongs",
	 "listeners:\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 11, "listeners: expected a list (- item per listener)"}}},

	/* -- numbers, durations, sizes -- */
	{"integer above its range",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306, weight: 1001 }\n",
	 {{6, 55, "clusters[0].nodes[0].weight: 1001 is out of range (0 to 1000)"}}},
	{"integer below its range",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main, max_connections: 0 }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 82, "listeners[0].max_connections: 0 is out of range (1 to 1000000)"}}},
	{"workers above 256",
	 "workers: 257\n"
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 10, "workers: 257 is out of range (0 to 256)"}}},
	{"not a whole number",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { fall: two }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "clusters[0].monitor.fall: 'two' is not a whole number"}}},
	{"a negative number",
	 "workers: -1\n"
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 10, "workers: '-1' is not a whole number"}}},
	{"duration with a space before the unit",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: 2 seconds\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22,
	   "clusters[0].connect_timeout: '2 seconds' is not a duration such as 250ms or "
	   "2s"}}},
	{"fractional duration",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor:\n"
	 "      interval: 1.5s\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{6, 17, "clusters[0].monitor.interval: '1.5s' is not a duration such as 250ms or 2s"}}},
	{"duration with an unknown unit",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: 1d\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "clusters[0].connect_timeout: '1d' is not a duration such as 250ms or 2s"}}},
	{"duration above its range",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: 2m\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "clusters[0].connect_timeout: 2m is out of range (10ms to 60000ms)"}}},
	{"duration below its range",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { interval: 19ms }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 26, "clusters[0].monitor.interval: 19ms is out of range (20ms to 60000ms)"}}},
	{"size with an unknown unit",
	 "buffer_size: 64x\n"
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 14, "buffer_size: '64x' is not a size such as 4096, 64k or 1m"}}},
	{"size above its range",
	 "buffer_size: 1g\n"
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 14, "buffer_size: 1g is out of range (4096 bytes to 67108864 bytes)"}}},
	{"size below its range",
	 "buffer_size: 1k\n"
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 14, "buffer_size: 1k is out of range (4096 bytes to 67108864 bytes)"}}},

	/* -- enums, booleans, strings -- */
	{"enum typo, with a hint",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    type: galea\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 11,
	   "clusters[0].type: unknown value 'galea' (did you mean 'galera'?); one of: "
	   "galera, group_replication, replication, static"}}},
	{"route typo, with a hint",
	 "listeners:\n"
	 "  - { name: ro, bind: 127.0.0.1:3308, mode: tcp, cluster: main, route: reader }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 72,
	   "listeners[0].route: unknown value 'reader' (did you mean 'readers'?); one of: "
	   "primary, readers"}}},
	{"mode typo, with a hint",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tpc, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n",
	 {{2, 45,
	   "listeners[0].mode: unknown value 'tpc' (did you mean 'tcp'?); one of: mysql, "
	   "tcp"}}},
	{"enum value with nothing close",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "logging: { level: verbose }\n",
	 {{5, 19,
	   "logging.level: unknown value 'verbose'; one of: debug, info, notice, warning, "
	   "error"}}},
	{"not a boolean",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "logging: { timestamps: maybe }\n",
	 {{5, 24, "logging.timestamps: 'maybe' is not a boolean (true or false)"}}},
	{"an empty name",
	 "listeners:\n"
	 "  - { name: '', bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 13, "listeners[0].name: must not be empty"}}},
	{"a name of 65 characters",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n"
	 "        address: 127.0.0.1:3306\n",
	 {{6, 15, "clusters[0].nodes[0].name: longer than 64 characters"}}},

	/* -- addresses: the column is the quote that starts the value -- */
	{"address without a port",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '127.0.0.1'\n",
	 {{7, 18,
	   "clusters[0].nodes[0].address: bad address '127.0.0.1': expected HOST:PORT, "
	   "e.g. 127.0.0.1:3306"}}},
	{"address with port 0",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '127.0.0.1:0'\n",
	 {{7, 18, "bad address '127.0.0.1:0': port '0' is not in 1-65535"}}},
	{"address with port 99999",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '127.0.0.1:99999'\n",
	 {{7, 18, "bad address '127.0.0.1:99999': port '99999' is not in 1-65535"}}},
	{"address with a port that is not a number",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '127.0.0.1:mysql'\n",
	 {{7, 18, "bad address '127.0.0.1:mysql': port 'mysql' is not in 1-65535"}}},
	{"address with an empty port",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '127.0.0.1:'\n",
	 {{7, 18, "bad address '127.0.0.1:': port '' is not in 1-65535"}}},
	{"address with an empty host",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: ':3306'\n",
	 {{7, 18,
	   "bad address ':3306': the host part is empty (use * or 0.0.0.0 for every "
	   "address)"}}},
	{"IPv6 address without the closing bracket",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '[::1:3306'\n",
	 {{7, 18, "bad address '[::1:3306': an IPv6 address is written [ADDR]:PORT"}}},
	{"IPv6 address without a port",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '[::1]'\n",
	 {{7, 18, "bad address '[::1]': an IPv6 address is written [ADDR]:PORT"}}},
	{"IPv6 address without brackets",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '::1:3306'\n",
	 {{7, 18, "bad address '::1:3306': expected HOST:PORT, e.g. 127.0.0.1:3306"}}},
	{"IPv6 address with empty brackets",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - name: db1\n"
	 "        address: '[]:3306'\n",
	 {{7, 18, "bad address '[]:3306': the host part is empty"}}},
	{"bind without a port",
	 "listeners:\n"
	 "  - { name: rw, bind: '*', mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 23, "listeners[0].bind: bad address '*': expected HOST:PORT"}}},

	/* -- required keys -- */
	{"node without a name",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { address: 127.0.0.1:3306 }\n",
	 {{6, 9,
	   "clusters[0].nodes[0]: missing required key 'name' (unique name within the "
	   "cluster)"}}},
	{"listener without bind, block style",
	 "listeners:\n"
	 "  - name: rw\n"
	 "    mode: tcp\n"
	 "    cluster: main\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 5, "listeners[0]: missing required key 'bind'"}}},
	{"no listeners at all",
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{1, 1, "top level: missing required key 'listeners' (where clients connect)"}}},
	{"tls without its key",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main, tls: { cert: /dev/null } }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n",
	 {{2, 60, "listeners[0].tls: missing required key 'key'"}}},

	/* -- names and addresses that must be unique -- */
	{"duplicate listener name",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "  - { name: rw, bind: 127.0.0.1:3308, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 13, "duplicate listener name 'rw' (first at line 2)"}}},
	{"three listeners with one name: each repeat is reported once, against the first",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "  - { name: rw, bind: 127.0.0.1:3308, mode: tcp, cluster: main }\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 13, "duplicate listener name 'rw' (first at line 2)"},
	  {4, 13, "duplicate listener name 'rw' (first at line 2)"},
	  {4, 23,
	   "listeners[2]: bind 127.0.0.1:3307 is already used by listener 'rw' (127.0.0.1:3307)"}}},
	{"duplicate cluster name",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{5, 13, "duplicate cluster name 'main' (first at line 4)"}}},
	{"duplicate node name",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306 }\n"
	 "      - { name: db1, address: 127.0.0.1:3316 }\n",
	 {{7, 17, "duplicate node name 'db1' (first at line 6)"}}},
	{"duplicate user name",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n"
	 "  - { name: app, password_env: " ENV_SECRET " }\n",
	 {{7, 13, "duplicate user name 'app' (first at line 6)"}}},
	{"duplicate node address",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306 }\n"
	 "      - { name: db2, address: 127.0.0.1:3306 }\n",
	 {{7, 31, "clusters[0].nodes[1]: address 127.0.0.1:3306 is already node 'db1'"}}},
	{"duplicate node address, written another way",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    nodes:\n"
	 "      - { name: db1, address: 127.0.0.1:3306 }\n"
	 "      - { name: db2, address: 127.1:3306 }\n",
	 {{7, 31, "clusters[0].nodes[1]: address 127.1:3306 is already node 'db1'"}}},
	{"duplicate bind",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "  - { name: ro, bind: 127.0.0.1:3307, mode: tcp, cluster: main, route: readers }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 23,
	   "listeners[1]: bind 127.0.0.1:3307 is already used by listener 'rw' (127.0.0.1:3307)"}}},
	{"'*' and 0.0.0.0 are the same bind",
	 "listeners:\n"
	 "  - { name: rw, bind: '*:3307', mode: tcp, cluster: main }\n"
	 "  - { name: ro, bind: '0.0.0.0:3307', mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 23, "listeners[1]: bind 0.0.0.0:3307 is already used by listener 'rw' (*:3307)"}}},
	{"a wildcard takes the port on every address",
	 "listeners:\n"
	 "  - { name: rw, bind: '127.0.0.1:3307', mode: tcp, cluster: main }\n"
	 "  - { name: ro, bind: '0.0.0.0:3307', mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 23,
	   "listeners[1]: bind 0.0.0.0:3307 is already used by listener 'rw' (127.0.0.1:3307)"}}},
	{"IPv6's wildcard takes IPv4's addresses too",
	 "listeners:\n"
	 "  - { name: rw, bind: '[::]:3307', mode: tcp, cluster: main }\n"
	 "  - { name: ro, bind: '127.0.0.1:3307', mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "stats: { bind: '[::1]:3307' }\n",
	 {{3, 23, "listeners[1]: bind 127.0.0.1:3307 is already used by listener 'rw' ([::]:3307)"},
	  {6, 16, "stats.bind [::1]:3307 is already used by listener 'rw' ([::]:3307)"}}},
	{"stats on a listener's address",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "stats: { bind: 127.0.0.1:3307 }\n",
	 {{5, 16, "stats.bind 127.0.0.1:3307 is already used by listener 'rw' (127.0.0.1:3307)"}}},

	/* -- rules across keys -- */
	{"listener names a missing cluster, with a hint",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: mian }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 59, "listeners[0]: no cluster named 'mian' (did you mean 'main'?)"}}},
	{"listener names a missing cluster, nothing close",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: reporting }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 59, "listeners[0]: no cluster named 'reporting'; define it under clusters:"}}},
	{"route on a mysql listener",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main, route: readers }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n",
	 {{2, 62, "listeners[0]: route applies to mode: tcp only"}}},
	{"primary_reads and causal_reads on a tcp listener",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main, primary_reads: true,"
	 " causal_reads: session }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 80, "listeners[0]: primary_reads applies to mode: mysql only"},
	  {2, 100, "listeners[0]: causal_reads applies to mode: mysql only"}}},
	{"causal_reads: global needs a galera cluster",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main, causal_reads: global }\n"
	 "clusters:\n"
	 "  - { name: main, type: static, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n",
	 {{2, 69,
	   "listeners[0]: causal_reads: global uses Galera's wsrep_sync_wait; cluster 'main' is "
	   "type static (use session or off)"}}},
	{"tls on a tcp listener",
	 "listeners:\n"
	 "  - name: rw\n"
	 "    bind: 127.0.0.1:3307\n"
	 "    mode: tcp\n"
	 "    cluster: main\n"
	 "    tls: { cert: /dev/null, key: /dev/null }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{6, 10,
	   "listeners[0]: a tcp listener passes TLS through to the node untouched; tls: "
	   "applies to mode: mysql only"}}},
	{"tls certificate that cannot be read",
	 "listeners:\n"
	 "  - name: app\n"
	 "    bind: 127.0.0.1:3307\n"
	 "    cluster: main\n"
	 "    tls:\n"
	 "      cert: /nonexistent-dir/cert.pem\n"
	 "      key: /dev/null\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"" SECRET_HASH "\" }\n",
	 {{6, 13,
	   "listeners[0].tls.cert: cannot read '/nonexistent-dir/cert.pem': No such file "
	   "or directory"}}},
	{"mysql listener and no users",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, mode: mysql, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 46,
	   "listeners[0]: a mysql listener logs clients in against users:, and none is "
	   "defined"}}},
	{"mysql listener by default and no users: the listener is marked",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{2, 5, "listeners[0]: a mysql listener logs clients in against users:"}}},

	/* -- users and secrets -- */
	{"user without a password",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app }\n",
	 {{6, 5,
	   "users[0]: give exactly one of password_hash, password_file or password_env "
	   "(found 0)"}}},
	{"user with two passwords",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - name: app\n"
	 "    password_hash: \"" SECRET_HASH "\"\n"
	 "    password_env: " ENV_SECRET "\n",
	 {{6, 5,
	   "users[0]: give exactly one of password_hash, password_file or password_env "
	   "(found 2)"}}},
	/* Found by fuzz_config: the rejected value left no source, and the
	 * environment was read for a NULL name (a crash in --check). */
	{"empty password_file of a user",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_file: \"\" }\n",
	 {{6, 33, "users[0].password_file: must not be empty"}}},
	{"empty password_env of a user",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_env: }\n",
	 {{6, 32, "users[0].password_env: must not be empty"}}},
	{"password_hash too short",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"*14E6\" }\n",
	 {{6, 33, "users[0].password_hash: must be exactly 41 characters long"}}},
	{"password_hash with a letter that is not hex",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"*14E65567ABDB5135D0CFD9A70B3032C179A49EEZ\" }\n",
	 {{6, 33,
	   "users[0].password_hash: expected '*' and 40 hex digits, as SELECT "
	   "PASSWORD('secret') prints"}}},
	{"password_hash without its star",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_hash: \"014E65567ABDB5135D0CFD9A70B3032C179A49EE7\" }\n",
	 {{6, 33, "users[0].password_hash: expected '*' and 40 hex digits"}}},
	{"password_file that cannot be read",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_file: /nonexistent-dir/app.pw }\n",
	 {{6, 33,
	   "password_file: cannot read '/nonexistent-dir/app.pw': No such file or "
	   "directory"}}},
	{"password_file that is empty",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_file: /dev/null }\n",
	 {{6, 33, "password_file: '/dev/null' is empty; put the password on its first line"}}},
	{"password_env not set",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_env: " ENV_UNSET " }\n",
	 {{6, 32, "password_env: environment variable " ENV_UNSET " is not set"}}},
	{"password_env set but empty",
	 "listeners:\n"
	 "  - { name: app, bind: 127.0.0.1:3307, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "users:\n"
	 "  - { name: app, password_env: " ENV_EMPTY " }\n",
	 {{6, 32, "password_env: environment variable " ENV_EMPTY " is empty"}}},
	{"monitor user without a password",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { user: monitor }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "clusters[0].monitor: user 'monitor' needs password_file or password_env"}}},
	{"monitor password without a user",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor:\n"
	 "      password_env: " ENV_SECRET "\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{6, 7, "clusters[0].monitor: a password without a user; add user:"}}},
	{"monitor with two passwords",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { user: mon, password_file: /dev/null, password_env: " ENV_SECRET " }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 67, "clusters[0].monitor: give password_file or password_env, not both"}}},
	{"monitor password_env not set",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { user: mon, password_env: " ENV_UNSET " }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 41, "monitor.password_env: environment variable " ENV_UNSET " is not set"}}},
	{"monitor timeout over four intervals",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { interval: 100ms, timeout: 401ms }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 42, "clusters[0].monitor: timeout 401ms is more than four intervals (100ms)"}}},
	{"a rejected interval is not compared with the timeout",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: { interval: 10ms, timeout: 5s }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 26, "clusters[0].monitor.interval: 10ms is out of range (20ms to 60000ms)"}}},
	{"stats admin_user without its password file",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "stats:\n"
	 "  bind: 127.0.0.1:8404\n"
	 "  admin_user: admin\n",
	 {{6, 3, "stats: admin_user and admin_password_file go together"}}},

	/* -- YAML we refuse -- */
	{"YAML syntax error: unclosed flow mapping",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n",
	 {{3, 9,
	   "YAML syntax error: did not find expected ',' or '}' while parsing a flow "
	   "mapping"}}},
	{"YAML syntax error: a tab for indentation",
	 "listeners:\n"
	 "\t- { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n",
	 {{2, 1, "YAML syntax error: found character that cannot start any token"}}},
	{"YAML anchor and alias",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    monitor: &fast { interval: 100ms }\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n"
	 "  - name: other\n"
	 "    monitor: *fast\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 14, "YAML anchors (&fast) are not supported: write the value out"},
	  {8, 14, "YAML aliases (*fast) are not supported: write the value out"}}},
	{"YAML tag",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - name: main\n"
	 "    connect_timeout: !!str 1s\n"
	 "    nodes: [{ name: db1, address: 127.0.0.1:3306 }]\n",
	 {{5, 22, "YAML tags (tag:yaml.org,2002:str) are not supported: remove the tag"}}},
	{"two YAML documents",
	 "listeners:\n"
	 "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
	 "clusters:\n"
	 "  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
	 "---\n"
	 "workers: 2\n",
	 {{5, 1, "a second YAML document: sluice reads exactly one"}}},
	{"two YAML documents, each opened with ---",
	 "---\n"
	 "workers: 1\n"
	 "---\n"
	 "workers: 2\n",
	 {{3, 1, "a second YAML document"}}},
	{"an empty file",
	 "",
	 {{1, 1, "the file is empty; it needs at least listeners: and clusters:"}}},
	{"a file of comments only",
	 "# nothing yet\n"
	 "\n",
	 {{1, 1, "the file is empty"}}},
	{"the top level is a list",
	 "- listeners\n"
	 "- clusters\n",
	 {{1, 1, "expected a mapping of keys (config settings), found a list"}}},
};

/* The loader returns NULL and exactly the wanted errors, in file order, each
 * message "t.yaml:LINE:COL: ..." with the location it is stored under. */
static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		struct config_errors errs;
		struct config *cfg;
		size_t n_want = 0;
		bool ok = true;

		check_case("%s", c->name);
		while (n_want < 4 && c->want[n_want].line)
			n_want++;
		cfg = load(c->yaml, &errs);
		ok &= CHECK(cfg == NULL);
		ok &= CHECK_EQ_INT(errs.n, n_want);
		for (size_t k = 0; k < n_want && k < errs.n; k++) {
			const struct want_error *w = &c->want[k];
			const struct config_error *e = &errs.items[k];
			char prefix[64];

			ok &= CHECK_EQ_INT(e->at.line, w->line);
			ok &= CHECK_EQ_INT(e->at.col, w->col);
			snprintf(prefix, sizeof(prefix), "t.yaml:%u:%u: ", e->at.line, e->at.col);
			ok &= CHECK(strncmp(e->msg, prefix, strlen(prefix)) == 0);
			ok &= CHECK_STR_CONTAINS(e->msg + strlen(prefix), w->text);
		}
		if (!ok)
			dump_errors(&errs);
		config_destroy(cfg);
		config_errors_deinit(&errs);
	}
}

/* A node list longer than CONFIG_MAX_NODES is refused; the limit is not. */
static void test_node_limit(void)
{
	for (size_t count = CONFIG_MAX_NODES; count <= CONFIG_MAX_NODES + 1; count++) {
		char text[8192];
		size_t len;
		struct config_errors errs;
		struct config *cfg;

		check_case("%zu nodes", count);
		len = (size_t)snprintf(
			text, sizeof(text),
			"listeners:\n"
			"  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: c }\n"
			"clusters:\n"
			"  - name: c\n"
			"    nodes:\n");
		for (size_t i = 0; i < count; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
						"      - { name: n%zu, address: 127.0.0.1:%zu }\n",
						i, 10000 + i);
		cfg = load(text, &errs);
		if (count <= CONFIG_MAX_NODES) {
			CHECK(cfg != NULL);
			CHECK_EQ_INT(errs.n, 0);
			if (cfg)
				CHECK_EQ_INT(cfg->clusters[0].n_nodes, count);
		} else {
			CHECK(cfg == NULL);
			if (CHECK_EQ_INT(errs.n, 1)) {
				CHECK_EQ_INT(errs.items[0].at.line, 6);
				CHECK_EQ_INT(errs.items[0].at.col, 7);
				CHECK_STR_CONTAINS(errs.items[0].msg,
						   "clusters[0].nodes: at most 64 entries are "
						   "allowed, found 65");
			}
		}
		config_destroy(cfg);
		config_errors_deinit(&errs);
	}
}

/* One load reports every mistake, sorted into file order although the
 * phases find them in another (phase 3 finds the users' error last). */
static void test_five_errors(void)
{
	static const char text[] =
		"users:\n"
		"  - { name: app, password_hash: \"*14E65567ABDB5135D0CFD9A70B3032C179A49EEZ\" }\n"
		"workers: 999\n"
		"listeners:\n"
		"  - { name: app, bind: 127.0.0.1:3307, cluster: mian }\n"
		"clusters:\n"
		"  - name: main\n"
		"    connect_timeout: 2 seconds\n"
		"    nodes:\n"
		"      - { name: db1, address: 127.0.0.1 }\n";
	static const struct want_error want[] = {
		{2, 33, "users[0].password_hash: expected '*' and 40 hex digits"},
		{3, 10, "workers: 999 is out of range (0 to 256)"},
		{5, 49, "listeners[0]: no cluster named 'mian' (did you mean 'main'?)"},
		{8, 22, "clusters[0].connect_timeout: '2 seconds' is not a duration"},
		{10, 31, "clusters[0].nodes[0].address: bad address '127.0.0.1'"},
	};
	struct config_errors errs;
	struct config *cfg = load(text, &errs);

	CHECK(cfg == NULL);
	if (CHECK_EQ_INT(errs.n, 5)) {
		for (size_t k = 0; k < 5; k++) {
			char prefix[64];

			check_case("error %zu: %s", k + 1, want[k].text);
			CHECK_EQ_INT(errs.items[k].at.line, want[k].line);
			CHECK_EQ_INT(errs.items[k].at.col, want[k].col);
			snprintf(prefix, sizeof(prefix), "t.yaml:%u:%u: ", want[k].line,
				 want[k].col);
			CHECK(strncmp(errs.items[k].msg, prefix, strlen(prefix)) == 0);
			CHECK_STR_CONTAINS(errs.items[k].msg, want[k].text);
		}
	} else {
		dump_errors(&errs);
	}
	config_errors_deinit(&errs);
}

/* errs collects across loads: a later load appends after what is there and
 * sorts only its own; a good load with old errors in errs still succeeds. */
static void test_errors_accumulate(void)
{
	static const char good[] =
		"listeners:\n"
		"  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		"clusters:\n"
		"  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n";
	static const char bad[] =
		"workers: x\n"
		"listeners:\n"
		"  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: main }\n"
		"clusters:\n"
		"  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n"
		"buffer_size: x\n";
	struct config_errors errs;
	struct config *cfg;

	config_errors_init(&errs);
	cfg = config_load_string("first.yaml", bad, strlen(bad), &errs);
	CHECK(cfg == NULL);
	CHECK_EQ_INT(errs.n, 2);
	cfg = config_load_string("second.yaml", good, strlen(good), &errs);
	CHECK(cfg != NULL);
	config_destroy(cfg);
	CHECK_EQ_INT(errs.n, 2);
	cfg = config_load_string("third.yaml", bad, strlen(bad), &errs);
	CHECK(cfg == NULL);
	if (CHECK_EQ_INT(errs.n, 4)) {
		CHECK_STR_CONTAINS(errs.items[0].msg, "first.yaml:1:10: workers");
		CHECK_STR_CONTAINS(errs.items[1].msg, "first.yaml:6:14: buffer_size");
		CHECK_STR_CONTAINS(errs.items[2].msg, "third.yaml:1:10: workers");
		CHECK_STR_CONTAINS(errs.items[3].msg, "third.yaml:6:14: buffer_size");
	}
	config_errors_deinit(&errs);
	CHECK_EQ_INT(errs.n, 0);
	CHECK(errs.items == NULL);
	config_errors_deinit(&errs); /* twice is harmless */
}

/* ---- small entry points -------------------------------------------------- */

static void test_destroy_null(void)
{
	config_destroy(NULL);
	CHECK(true); /* reaching here is the test */
}

/* Where a listener's keys were written, for run-time messages. */
static void test_listener_mark(void)
{
	static const char text[] =
		"listeners:\n"
		"  - name: rw\n"
		"    bind: 127.0.0.1:3307\n"
		"    mode: tcp\n"
		"    cluster: main\n"
		"clusters:\n"
		"  - { name: main, nodes: [{ name: db1, address: 127.0.0.1:3306 }] }\n";
	struct config *cfg = load_good("t.yaml", text);
	struct config_mark m;

	if (!cfg)
		return;
	m = config_listener_mark(&cfg->listeners[0], "bind");
	CHECK_EQ_INT(m.line, 3);
	CHECK_EQ_INT(m.col, 11);
	/* Not written: the listener's own start. */
	m = config_listener_mark(&cfg->listeners[0], "max_connections");
	CHECK_EQ_INT(m.line, 2);
	CHECK_EQ_INT(m.col, 5);
	config_destroy(cfg);
}

static void test_names(void)
{
	CHECK_EQ_STR(listener_mode_str(LISTENER_MODE_MYSQL), "mysql");
	CHECK_EQ_STR(listener_mode_str(LISTENER_MODE_TCP), "tcp");
	CHECK_EQ_STR(listener_route_str(LISTENER_ROUTE_READERS), "readers");
	CHECK_EQ_STR(cluster_type_str(CLUSTER_TYPE_GROUP_REPLICATION), "group_replication");
	CHECK_EQ_STR(cluster_type_str((enum cluster_type)42), "?");
}

/* --list-keys prints one line per key with its type and default. */
static void test_print_keys(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!CHECK(f != NULL))
		return;
	config_print_keys(f);
	fclose(f);
	CHECK_STR_CONTAINS(out, "\nclusters[].nodes[].weight integer default=1 reloadable: ");
	CHECK_STR_CONTAINS(out, "\nlisteners[].bind address required: ");
	CHECK_STR_CONTAINS(out, "\nbuffer_size size default=256k: ");
	CHECK_STR_CONTAINS(out,
			   "\nclusters[].monitor.interval duration default=250ms reloadable: ");
	free(out);
}

/* ---- conf/ ----------------------------------------------------------------- */

/* Every example the project ships loads cleanly. */
static void test_conf_examples(void)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT"); /* meson test sets it */
	char dirpath[PATH_MAX];
	struct dirent *de;
	DIR *d;
	unsigned files = 0;

	if (!root)
		root = SLUICE_TEST_SOURCE_ROOT; /* where the build was configured */
	snprintf(dirpath, sizeof(dirpath), "%s/conf", root);
	d = opendir(dirpath);
	if (!CHECK(d != NULL))
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX * 2];
		struct config_errors errs;
		struct config *cfg;

		if (n < 5 || strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		check_case("conf/%s", de->d_name);
		files++;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		config_errors_init(&errs);
		cfg = config_load(path, &errs);
		if (!CHECK_EQ_INT(errs.n, 0))
			dump_errors(&errs);
		CHECK(cfg != NULL);
		config_destroy(cfg);
		config_errors_deinit(&errs);
	}
	closedir(d);
	CHECK(files >= 2); /* sluice.yaml and tcp-only.yaml at least */
}

/* config_diff: what a reload may apply and what needs a restart, with the place in the new
 * file. The base file and its variants differ in one or two lines each. */
#define DIFF_BASE                                                                                 \
	"listeners:\n"                                                                            \
	"  - { name: app, bind: \"127.0.0.1:3306\", cluster: main%s }\n"                          \
	"clusters:\n"                                                                             \
	"  - name: main\n"                                                                        \
	"    monitor: { interval: %s }\n"                                                         \
	"    nodes:\n"                                                                            \
	"      - { name: db1, address: \"127.0.0.1:%s\" }\n"                                      \
	"      - { name: db2, address: \"127.0.0.1:3402\", weight: %s }\n"                        \
	"%s"                                                                                      \
	"users:\n"                                                                                \
	"  - { name: app, password_hash: \"" SECRET_HASH "\" }\n"                                 \
	"%s"

struct diff_case {
	const char *what;
	const char *listener_extra, *interval, *db1_port, *db2_weight, *extra_node, *extra_user;
	size_t restart, applied;
	const char *first; /* the first message (restart's if any), exactly; NULL: not checked */
};

static char *diff_text(const struct diff_case *c)
{
	char *text = NULL;

	if (asprintf(&text, DIFF_BASE, c->listener_extra, c->interval, c->db1_port, c->db2_weight,
		     c->extra_node, c->extra_user) < 0)
		abort();
	return text;
}

static void test_diff(void)
{
	static const struct diff_case base = {"base", "", "250ms", "3401", "1", "", "", 0, 0, NULL};
	static const struct diff_case cases[] = {
		{"nothing", "", "250ms", "3401", "1", "", "", 0, 0, NULL},
		{"weight", "", "250ms", "3401", "0", "", "", 0, 1,
		 "t2.yaml:8:57: clusters[main].nodes[db2].weight: 1 -> 0"},
		{"interval", "", "1s", "3401", "1", "", "", 0, 1,
		 "t2.yaml:5:26: clusters[main].monitor.interval: 250ms -> 1000ms"},
		{"primary_reads and causal_reads", ", primary_reads: true, causal_reads: off", "250ms",
		 "3401", "1", "", "", 0, 2,
		 "t2.yaml:2:72: listeners[app].primary_reads: false -> true"},
		{"a user added", "", "250ms", "3401", "1", "",
		 "  - { name: other, password_hash: \"" SECRET_HASH "\" }\n", 0, 1,
		 "t2.yaml:10:3: users: 1 -> 2 entries"},
		{"a node's address", "", "250ms", "3409", "1", "", "", 1, 0,
		 "t2.yaml:7:31: clusters[main].nodes[db1].address: 127.0.0.1:3401 -> 127.0.0.1:3409: "
		 "needs a restart"},
		{"a node added", "", "250ms", "3401", "1",
		 "      - { name: db3, address: \"127.0.0.1:3403\" }\n", "", 1, 0,
		 "t2.yaml:7:7: clusters[main].nodes: 2 -> 3 entries: adding or removing entries needs "
		 "a restart"},
		{"the mode, and a weight", ", mode: tcp", "250ms", "3401", "5", "", "", 1, 1,
		 "t2.yaml:2:63: listeners[app].mode: mysql -> tcp: needs a restart"},
	};
	char *text = diff_text(&base);
	struct config *cur = load_good("t1.yaml", text);

	free(text);
	for (size_t i = 0; cur && i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct diff_case *c = &cases[i];
		struct config_errors restart, applied;
		struct config *next;

		check_case("%s", c->what);
		text = diff_text(c);
		next = load_good("t2.yaml", text);
		free(text);
		if (!next)
			continue;
		config_errors_init(&restart);
		config_errors_init(&applied);
		CHECK_EQ_INT(config_diff(cur, next, &restart, &applied), c->restart);
		if (!CHECK_EQ_INT(restart.n, c->restart) || !CHECK_EQ_INT(applied.n, c->applied)) {
			dump_errors(&restart);
			dump_errors(&applied);
		}
		const struct config_errors *first = restart.n ? &restart : &applied;
		if (c->first && first->n && !CHECK_EQ_STR(first->items[0].msg, c->first))
			dump_errors(first);
		config_errors_deinit(&restart);
		config_errors_deinit(&applied);
		config_destroy(next);
	}
	config_destroy(cur);
}

/* A password read from the environment (or a file) is not a key: a new one is still a
 * change a reload applies. */
static void test_diff_secret_sources(void)
{
	static const char text[] =
		"listeners: [{ name: app, bind: \"127.0.0.1:3306\", cluster: main }]\n"
		"clusters: [{ name: main, nodes: [{ name: db1, address: \"127.0.0.1:3401\" }] }]\n"
		"users: [{ name: app, password_env: SLUICE_TEST_ROTATED }]\n";
	struct config_errors restart, applied;
	struct config *cur, *next;

	setenv("SLUICE_TEST_ROTATED", "old-secret", 1);
	cur = load_good("t1.yaml", text);
	setenv("SLUICE_TEST_ROTATED", "new-secret", 1);
	next = load_good("t2.yaml", text);
	unsetenv("SLUICE_TEST_ROTATED");
	if (!cur || !next) {
		config_destroy(cur);
		config_destroy(next);
		return;
	}
	config_errors_init(&restart);
	config_errors_init(&applied);
	CHECK_EQ_INT(config_diff(cur, next, &restart, &applied), 0);
	if (CHECK_EQ_INT(applied.n, 1))
		CHECK_EQ_STR(applied.items[0].msg, "t2.yaml:3:9: users[app] password changed");
	else
		dump_errors(&applied);
	config_errors_deinit(&restart);
	config_errors_deinit(&applied);
	config_destroy(cur);
	config_destroy(next);
}

/* A reference keeps the configuration after its owner lets go. */
static void test_refs(void)
{
	char *text = NULL;
	static const struct diff_case base = {"base", "", "250ms", "3401", "1", "", "", 0, 0, NULL};
	text = diff_text(&base);
	struct config *cfg = load_good("t.yaml", text);
	free(text);
	if (!cfg)
		return;
	const struct config *held = config_ref(cfg);
	config_destroy(cfg);
	CHECK_EQ_STR(held->clusters[0].nodes[1].name, "db2"); /* ASan: still there */
	config_unref(held);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"minimal tcp config", test_minimal_tcp},
		{"defaults", test_defaults},
		{"durations, sizes, booleans, enums", test_values},
		{"flow and block style", test_flow_and_block},
		{"other good files", test_other_good_files},
		{"'*' bind", test_wildcard_address},
		{"password_hash", test_password_hash},
		{"password_file and password_env", test_password_sources},
		{"missing config file", test_load_missing_file},
		{"one error per case, exact location", test_errors},
		{"node limit", test_node_limit},
		{"five errors in one load", test_five_errors},
		{"errors accumulate across loads", test_errors_accumulate},
		{"config_destroy(NULL)", test_destroy_null},
		{"config_listener_mark", test_listener_mark},
		{"enum names", test_names},
		{"config_print_keys", test_print_keys},
		{"conf/ examples", test_conf_examples},
		{"config_diff: reloadable or restart", test_diff},
		{"config_ref keeps it alive", test_refs},
		{"config_diff: passwords from the environment", test_diff_secret_sources},
	};

	setenv(ENV_SECRET, "secret", 1);
	setenv(ENV_EMPTY, "", 1);
	unsetenv(ENV_UNSET);
	/* conf/sluice.yaml reads these. */
	setenv("SLUICE_MONITOR_PASSWORD", "monitor-secret", 1);
	setenv("SLUICE_REPORTING_PASSWORD", "reporting-secret", 1);
	return CHECK_RUN(tests);
}
