/*
 * sluice: command line. Runs in the foreground and logs to stderr, which is
 * what systemd and containers want; --check validates a config and exits.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/thread.h>
#include <mysql.h>

#include "config/config.h"
#include "log.h"
#include "monitor/opstate.h"
#include "net/evmem.h"
#include "daemon.h"
#include "sluice_version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sluice -c FILE [--check]\n"
		"\n"
		"A MySQL-protocol load balancer for Galera and replicated MariaDB/MySQL.\n"
		"\n"
		"  -c, --config FILE   configuration file (YAML), see sluice.yaml(5)\n"
		"  -t, --check         check the configuration, print every error as\n"
		"                      FILE:LINE:COL: message, and exit (0 = valid)\n"
		"      --list-keys     print every configuration key with its type and default\n"
		"      --set-state CLUSTER/NODE=STATE\n"
		"                      set a node's operator state (ready, drain or\n"
		"                      maintenance) in the config's state_file; a running\n"
		"                      sluice applies it within 200 ms\n"
		"  -v, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"Runs in the foreground and logs to stderr. SIGTERM or SIGINT stops it.\n");
}

/* --set-state CLUSTER/NODE=STATE: update the state file. 0 done, 1 failed,
 * 2 bad argument. */
static int set_node_state(const struct config *cfg, const char *arg)
{
	char cluster[OPSTATE_NAME_MAX + 1], node[OPSTATE_NAME_MAX + 1], file[4096];
	char err[300] = "out of memory, or a name too long";
	const char *slash = strchr(arg, '/'), *eq = strchr(arg, '=');
	enum node_admin state;
	struct opstate st = {0};
	bool found = false;

	if (!slash || !eq || eq < slash || (size_t)(slash - arg) > OPSTATE_NAME_MAX ||
	    (size_t)(eq - slash - 1) > OPSTATE_NAME_MAX || !node_admin_parse(eq + 1, &state)) {
		fprintf(stderr,
			"sluice: --set-state wants CLUSTER/NODE=ready|drain|maintenance, "
			"not '%s'\n",
			arg);
		return 2;
	}
	snprintf(cluster, sizeof(cluster), "%.*s", (int)(slash - arg), arg);
	snprintf(node, sizeof(node), "%.*s", (int)(eq - slash - 1), slash + 1);
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		if (strcmp(cfg->clusters[c].name, cluster) != 0)
			continue;
		for (size_t n = 0; n < cfg->clusters[c].n_nodes; n++)
			found |= strcmp(cfg->clusters[c].nodes[n].name, node) == 0;
	}
	if (!found) {
		fprintf(stderr, "sluice: %s has no node '%s' in a cluster '%s'\n", cfg->path, node,
			cluster);
		return 2;
	}
	if (!cfg->state_file) {
		fprintf(stderr, "sluice: %s sets no state_file; add one (see sluice.yaml(5))\n",
			cfg->path);
		return 1;
	}
	config_resolve_path(cfg->path, cfg->state_file, file, sizeof(file));
	if (!opstate_load(file, &st, err, sizeof(err)) || !opstate_set(&st, cluster, node, state) ||
	    !opstate_save(file, &st, err, sizeof(err))) {
		fprintf(stderr, "sluice: %s\n", err);
		opstate_deinit(&st);
		return 1;
	}
	opstate_deinit(&st);
	printf("%s/%s: %s (in %s; a running sluice applies it within 200 ms)\n", cluster, node,
	       node_admin_str(state), file);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"list-keys", no_argument, NULL, 'K'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"set-state", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *set_state = NULL;
	bool check_only = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'K':
			config_print_keys(stdout);
			return 0;
		case 'S':
			set_state = optarg;
			break;
		case 'v':
			printf("sluice %s\n", SLUICE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!path) {
		fprintf(stderr, "sluice: no configuration given; use -c FILE (see --help)\n");
		return 2;
	}

	struct config_errors errs;
	config_errors_init(&errs);
	struct config *cfg = config_load(path, &errs);
	if (!cfg) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.items[i].msg);
		fprintf(stderr, "sluice: %zu error%s in %s\n", errs.n, errs.n == 1 ? "" : "s",
			path);
		config_errors_deinit(&errs);
		return 1;
	}
	config_errors_deinit(&errs);
	if (set_state) {
		int rc = set_node_state(cfg, set_state);
		config_destroy(cfg);
		return rc;
	}
	if (check_only) {
		printf("%s: configuration is valid (%zu listener(s), %zu cluster(s), %zu "
		       "user(s))\n",
		       path, cfg->n_listeners, cfg->n_clusters, cfg->n_users);
		config_destroy(cfg);
		return 0;
	}

	log_configure(cfg->logging.level, cfg->logging.timestamps);
	/* A peer that vanishes must cost us one session, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Before any other libevent call. */
	evmem_install();
	if (evthread_use_pthreads() != 0) {
		log_error("server", "libevent has no pthreads support");
		config_destroy(cfg);
		return 1;
	}
	/* Connector/C (the monitor's checks) sets itself up once, before any
	 * thread uses it. */
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_error("server", "cannot initialise MariaDB Connector/C");
		config_destroy(cfg);
		return 1;
	}
	log_info("server", "sluice %s starting with %s", SLUICE_VERSION, path);
	struct daemon *srv = daemon_create(cfg);
	int rc = 1;
	if (srv) {
		rc = daemon_run(srv);
		daemon_destroy(srv);
		log_info("server", "stopped");
	}
	mysql_library_end();
	evmem_thread_flush();
	return rc;
}
