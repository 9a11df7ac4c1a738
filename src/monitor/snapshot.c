/*
 * Immutable node-state snapshots and the routing choices computed from them.
 * Nothing here does I/O or takes a lock; see snapshot.h.
 */
#include "monitor/snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "log.h"
#include "monitor/opstate.h"

/* (priority, name) order: the deterministic writer preference, so several
 * sluice instances in front of one cluster pick the same writer. */
/* May the node take new sessions and statements? Up, and not drained or in
 * maintenance by the operator. */
static bool routable(const struct node_view *n)
{
	return n->up && n->admin == NODE_ADMIN_READY;
}

static bool prefer(const struct node_view *a, const struct node_view *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return strcmp(a->name, b->name) < 0;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Build the smooth weighted round-robin rotation of the up nodes with
 * weight > 0, leaving out node skip (-1: none), reduced by the weights' gcd.
 * Each step every node gains its weight, the richest is picked and pays the
 * total: weights 5,1,1 give a a b a c a a rather than a a a a a b c. */
static void build_rotation(const struct cluster_view *v, int skip, uint16_t **out, size_t *n_out)
{
	uint32_t g = 0, total = 0;
	int32_t current[CONFIG_MAX_NODES] = {0};

	free(*out);
	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < v->n_nodes; i++)
		if (routable(&v->nodes[i]) && (int)i != skip && v->nodes[i].weight)
			g = gcd(g, v->nodes[i].weight);
	if (g == 0)
		return;
	for (size_t i = 0; i < v->n_nodes; i++)
		if (routable(&v->nodes[i]) && (int)i != skip)
			total += v->nodes[i].weight / g;
	*out = calloc(total, sizeof(**out));
	if (!*out)
		abort();
	for (uint32_t step = 0; step < total; step++) {
		int best = -1;
		for (size_t i = 0; i < v->n_nodes; i++) {
			if (!routable(&v->nodes[i]) || (int)i == skip || !v->nodes[i].weight)
				continue;
			current[i] += (int32_t)(v->nodes[i].weight / g);
			if (best < 0 || current[i] > current[best])
				best = (int)i;
		}
		current[best] -= (int32_t)total;
		(*out)[(*n_out)++] = (uint16_t)best;
	}
}

void snapshot_compute_roles(struct cluster_view *v, int sticky, bool failback)
{
	v->maintenance = false;
	for (size_t i = 0; i < v->n_nodes; i++)
		v->maintenance |= v->nodes[i].admin == NODE_ADMIN_MAINTENANCE;
	v->writer = -1;
	if (!failback && sticky >= 0 && (size_t)sticky < v->n_nodes &&
	    routable(&v->nodes[sticky]) && v->nodes[sticky].writable) {
		v->writer = sticky;
	} else {
		for (size_t i = 0; i < v->n_nodes; i++) {
			if (!routable(&v->nodes[i]) || !v->nodes[i].writable)
				continue;
			if (v->writer < 0 || prefer(&v->nodes[i], &v->nodes[v->writer]))
				v->writer = (int)i;
		}
	}
	build_rotation(v, -1, &v->readers, &v->n_readers);
	build_rotation(v, v->writer, &v->replicas, &v->n_replicas);
}

struct snapshot *snapshot_create(const struct config *cfg, bool *const *up, uint64_t generation)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (!snap)
		goto fail;
	atomic_init(&snap->refs, 1);
	snap->cfg = config_ref(cfg);
	snap->generation = generation;
	snap->n_clusters = cfg->n_clusters;
	snap->clusters = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*snap->clusters));
	if (!snap->clusters)
		goto fail;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct config_cluster *cc = &cfg->clusters[c];
		struct cluster_view *v = &snap->clusters[c];

		v->nodes = calloc(cc->n_nodes ? cc->n_nodes : 1, sizeof(*v->nodes));
		if (!v->nodes)
			goto fail;
		v->n_nodes = cc->n_nodes;
		for (size_t n = 0; n < cc->n_nodes; n++) {
			v->nodes[n].name = cc->nodes[n].name;
			v->nodes[n].weight = cc->nodes[n].weight;
			v->nodes[n].priority = cc->nodes[n].priority;
			v->nodes[n].up = up ? up[c][n] : false;
			v->nodes[n].writable = true;
			v->nodes[n].lag_ms = -1;
		}
		snapshot_compute_roles(v, -1, false);
	}
	return snap;
fail:
	/* Allocation failure at this size means the process cannot go on. */
	abort();
}

struct snapshot *snapshot_ref(struct snapshot *snap)
{
	atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	return snap;
}

void snapshot_unref(struct snapshot *snap)
{
	if (!snap)
		return;
	if (atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t c = 0; c < snap->n_clusters; c++) {
		free(snap->clusters[c].nodes);
		free(snap->clusters[c].readers);
		free(snap->clusters[c].replicas);
	}
	free(snap->clusters);
	config_unref(snap->cfg);
	free(snap);
}

size_t snapshot_writer_order(const struct cluster_view *v, bool writable_only, uint16_t *order)
{
	size_t n = 0;

	if (v->writer < 0)
		return 0;
	order[n++] = (uint16_t)v->writer;
	/* Insertion sort of the remaining up nodes: clusters are small. */
	for (size_t i = 0; i < v->n_nodes; i++) {
		if (!routable(&v->nodes[i]) || (int)i == v->writer ||
		    (writable_only && !v->nodes[i].writable))
			continue;
		size_t at = n;
		while (at > 1 && prefer(&v->nodes[i], &v->nodes[order[at - 1]])) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = (uint16_t)i;
		n++;
	}
	return n;
}

int snapshot_login_node(const struct cluster_view *v)
{
	int best = -1;

	if (v->writer >= 0)
		return v->writer;
	for (size_t i = 0; i < v->n_nodes; i++)
		if (routable(&v->nodes[i]) && (best < 0 || prefer(&v->nodes[i], &v->nodes[best])))
			best = (int)i;
	return best;
}

size_t snapshot_reader_order(const struct cluster_view *v, uint64_t ticket, bool with_writer,
			     uint16_t *order)
{
	const uint16_t *rot = with_writer ? v->readers : v->replicas;
	size_t n_rot = with_writer ? v->n_readers : v->n_replicas;
	bool seen[CONFIG_MAX_NODES] = {false};
	size_t n = 0;

	for (size_t k = 0; k < n_rot && n < v->n_nodes; k++) {
		uint16_t node = rot[(ticket + k) % n_rot];
		if (seen[node])
			continue;
		seen[node] = true;
		order[n++] = node;
	}
	return n;
}

bool snapshot_caught_up(const struct cluster_view *v, size_t r, uint64_t since_ms)
{
	const struct node_position *w, *mine;
	int64_t bound = -1;

	if (v->writer < 0 || r >= v->n_nodes)
		return false;
	if ((int)r == v->writer)
		return true;
	/* Newest first: the last entry at or after since_ms is the earliest. */
	w = v->nodes[v->writer].positions;
	for (size_t i = 0; i < SNAPSHOT_POSITIONS && w[i].checked_ms >= since_ms; i++)
		if (w[i].position >= 0)
			bound = w[i].position;
	mine = &v->nodes[r].positions[0];
	return bound >= 0 && mine->checked_ms && mine->position >= bound;
}

bool snapshot_maintenance_began(const struct snapshot *before, const struct snapshot *after)
{
	for (size_t c = 0; c < after->n_clusters; c++) {
		const struct cluster_view *v = &after->clusters[c];
		if (!v->maintenance)
			continue;
		for (size_t n = 0; n < v->n_nodes; n++)
			if (v->nodes[n].admin == NODE_ADMIN_MAINTENANCE &&
			    (!before ||
			     before->clusters[c].nodes[n].admin != NODE_ADMIN_MAINTENANCE))
				return true;
	}
	return false;
}
