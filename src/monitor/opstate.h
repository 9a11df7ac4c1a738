/*
 * Operator states of nodes: drain (take no new sessions or statements; what
 * runs there finishes) and maintenance (out now: open transactions there
 * are ended too), set with `sluice --set-state` and kept in the file named by
 * the config's state_file, so they survive reloads and restarts. The
 * monitor notices a changed file within one poll and publishes the states
 * with the node states.
 *
 * The file: one line per node not in the ready state,
 *   <cluster> <node> drain|maintenance
 * with blank lines and '#' comments allowed. Pure parsing and formatting,
 * plus load/save (written to a temporary file and renamed into place, so a
 * reader never sees half a file).
 */
#ifndef SLUICE_OPSTATE_H
#define SLUICE_OPSTATE_H

#include <stdbool.h>
#include <stddef.h>

enum node_admin {
	NODE_ADMIN_READY,
	NODE_ADMIN_DRAIN,
	NODE_ADMIN_MAINTENANCE,
};

#define OPSTATE_NAME_MAX 64

struct opstate_entry {
	char cluster[OPSTATE_NAME_MAX + 1];
	char node[OPSTATE_NAME_MAX + 1];
	enum node_admin state;
};

struct opstate {
	struct opstate_entry *items;
	size_t n;
};

const char *node_admin_str(enum node_admin state);
bool node_admin_parse(const char *text, enum node_admin *out) __attribute__((warn_unused_result));

/* Parse file text into out (which must be empty). On error returns false
 * and writes "line N: why" to err. */
bool opstate_parse(const char *text, size_t len, struct opstate *out, char *err, size_t errcap)
	__attribute__((warn_unused_result));

/* The state of (cluster, node): READY unless listed. */
enum node_admin opstate_get(const struct opstate *st, const char *cluster, const char *node);

/* Set (cluster, node) to state (READY removes its line). False when out of
 * memory or a name is too long. */
bool opstate_set(struct opstate *st, const char *cluster, const char *node, enum node_admin state)
	__attribute__((warn_unused_result));

/* The file text for st; malloc'd, NULL when out of memory. */
char *opstate_format(const struct opstate *st);

/* Read path into out (empty). A missing file is an empty state. False with
 * a message in err when the file cannot be read or parsed. */
bool opstate_load(const char *path, struct opstate *out, char *err, size_t errcap)
	__attribute__((warn_unused_result));

/* Write st to path atomically (path.tmp, then rename). */
bool opstate_save(const char *path, const struct opstate *st, char *err, size_t errcap)
	__attribute__((warn_unused_result));

void opstate_deinit(struct opstate *st);

#endif
