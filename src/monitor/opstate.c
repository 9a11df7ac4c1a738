/*
 * Operator states: the state file's parser, formatter, and atomic load and
 * save. See opstate.h.
 */
#include "monitor/opstate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const admin_names[] = {
	[NODE_ADMIN_READY] = "ready",
	[NODE_ADMIN_DRAIN] = "drain",
	[NODE_ADMIN_MAINTENANCE] = "maintenance",
};

const char *node_admin_str(enum node_admin state)
{
	return (unsigned)state <= NODE_ADMIN_MAINTENANCE ? admin_names[state] : "?";
}

bool node_admin_parse(const char *text, enum node_admin *out)
{
	for (int i = NODE_ADMIN_READY; i <= NODE_ADMIN_MAINTENANCE; i++) {
		if (strcmp(text, admin_names[i]) == 0) {
			*out = (enum node_admin)i;
			return true;
		}
	}
	return false;
}

void opstate_deinit(struct opstate *st)
{
	free(st->items);
	st->items = NULL;
	st->n = 0;
}

static struct opstate_entry *find(const struct opstate *st, const char *cluster, const char *node)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->items[i].cluster, cluster) == 0 &&
		    strcmp(st->items[i].node, node) == 0)
			return &st->items[i];
	return NULL;
}

enum node_admin opstate_get(const struct opstate *st, const char *cluster, const char *node)
{
	const struct opstate_entry *e = find(st, cluster, node);

	return e ? e->state : NODE_ADMIN_READY;
}

bool opstate_set(struct opstate *st, const char *cluster, const char *node, enum node_admin state)
{
	struct opstate_entry *e = find(st, cluster, node);

	if (strlen(cluster) > OPSTATE_NAME_MAX || strlen(node) > OPSTATE_NAME_MAX)
		return false;
	if (state == NODE_ADMIN_READY) {
		if (e) {
			*e = st->items[st->n - 1];
			st->n--;
		}
		return true;
	}
	if (!e) {
		struct opstate_entry *items = realloc(st->items, (st->n + 1) * sizeof(*items));
		if (!items)
			return false;
		st->items = items;
		e = &st->items[st->n++];
		snprintf(e->cluster, sizeof(e->cluster), "%s", cluster);
		snprintf(e->node, sizeof(e->node), "%s", node);
	}
	e->state = state;
	return true;
}

/* Next whitespace-separated word of line[*at..len) into out; false if none
 * or longer than cap - 1. */
static bool word(const char *line, size_t len, size_t *at, char *out, size_t cap)
{
	size_t i = *at, n = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	while (i < len && !isspace((unsigned char)line[i])) {
		if (n + 1 >= cap)
			return false;
		out[n++] = line[i++];
	}
	out[n] = '\0';
	*at = i;
	return n > 0;
}

bool opstate_parse(const char *text, size_t len, struct opstate *out, char *err, size_t errcap)
{
	size_t lineno = 0;

	for (size_t start = 0; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t at = 0, n = end - start;
		const char *line = text + start;
		char cluster[OPSTATE_NAME_MAX + 1], node[OPSTATE_NAME_MAX + 1], state[16];
		enum node_admin admin;

		lineno++;
		start = end + 1;
		const char *hash = memchr(line, '#', n);
		if (hash)
			n = (size_t)(hash - line);
		if (!word(line, n, &at, cluster, sizeof(cluster))) {
			if (at >= n)
				continue; /* blank or comment */
			snprintf(err, errcap, "line %zu: cluster name longer than %d bytes", lineno,
				 OPSTATE_NAME_MAX);
			return false;
		}
		bool fields = word(line, n, &at, node, sizeof(node)) &&
			      word(line, n, &at, state, sizeof(state));
		while (at < n && isspace((unsigned char)line[at]))
			at++;
		if (!fields || at < n) {
			snprintf(err, errcap,
				 "line %zu: expected \"<cluster> <node> drain|maintenance\"",
				 lineno);
			return false;
		}
		if (!node_admin_parse(state, &admin) || admin == NODE_ADMIN_READY) {
			snprintf(err, errcap, "line %zu: unknown state '%s' (drain or maintenance)",
				 lineno, state);
			return false;
		}
		if (!opstate_set(out, cluster, node, admin)) {
			snprintf(err, errcap, "line %zu: out of memory", lineno);
			return false;
		}
	}
	return true;
}

char *opstate_format(const struct opstate *st)
{
	static const char header[] =
		"# sluice operator states: <cluster> <node> drain|maintenance\n"
		"# written by sluice --set-state; nodes not listed are ready\n";
	size_t cap = sizeof(header) + st->n * (2 * OPSTATE_NAME_MAX + 16);
	char *out = malloc(cap);
	size_t n;

	if (!out)
		return NULL;
	n = (size_t)snprintf(out, cap, "%s", header);
	for (size_t i = 0; i < st->n; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s %s %s\n", st->items[i].cluster,
				      st->items[i].node, node_admin_str(st->items[i].state));
	return out;
}

bool opstate_load(const char *path, struct opstate *out, char *err, size_t errcap)
{
	FILE *f = fopen(path, "r");
	char buf[65536];
	size_t len;
	bool ok;

	if (!f) {
		if (errno == ENOENT)
			return true;
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return false;
	}
	len = fread(buf, 1, sizeof(buf), f);
	ok = !ferror(f);
	fclose(f);
	if (!ok || len == sizeof(buf)) {
		snprintf(err, errcap, "%s: %s", path, ok ? "larger than 64 KiB" : "read error");
		return false;
	}
	char msg[160];
	if (!opstate_parse(buf, len, out, msg, sizeof(msg))) {
		snprintf(err, errcap, "%s: %s", path, msg);
		opstate_deinit(out);
		return false;
	}
	return true;
}

bool opstate_save(const char *path, const struct opstate *st, char *err, size_t errcap)
{
	char tmp[4200];
	char *text = opstate_format(st);
	FILE *f;
	bool ok;

	if (!text) {
		snprintf(err, errcap, "out of memory");
		return false;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errcap, "%s: %s", tmp, strerror(errno));
		free(text);
		return false;
	}
	ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	free(text);
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		remove(tmp);
		return false;
	}
	return true;
}
