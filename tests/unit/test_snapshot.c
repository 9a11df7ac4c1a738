/*
 * Unit tests for src/snapshot.c: the writer choice (lowest priority among up
 * nodes, ties by name), the smooth weighted reader rotation and its gcd
 * reduction, the writer and reader failover orders, the share of first
 * choices over many tickets, and reference counting.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config/config.h"
#include "monitor/opstate.h"
#include "monitor/snapshot.h"

#define MAX_TEST_NODES 8

/* One node of a test cluster. Names are one letter so that a rotation or an
 * order reads as a string: "aabacaa". */
struct node_spec {
	const char *name; /* NULL ends the table */
	unsigned weight;
	unsigned priority;
	bool down;
};

/* A config with one tcp listener and one cluster of these nodes, through
 * the real loader so the defaults are the real ones. */
static struct config *config_of(const struct node_spec *nodes)
{
	char text[4096];
	size_t len;
	struct config_errors errs;
	struct config *cfg;

	len = (size_t)snprintf(text, sizeof(text),
			       "listeners:\n"
			       "  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: c }\n"
			       "clusters:\n"
			       "  - name: c\n"
			       "    nodes:\n");
	for (size_t i = 0; nodes[i].name; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"      - { name: %s, address: 127.0.0.1:%zu, weight: %u, "
					"priority: %u }\n",
					nodes[i].name, 13306 + i, nodes[i].weight,
					nodes[i].priority);
	config_errors_init(&errs);
	cfg = config_load_string("snapshot-test.yaml", text, len, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "unexpected config error: %s\n", errs.items[i].msg);
	CHECK_EQ_INT(errs.n, 0);
	config_errors_deinit(&errs);
	return cfg;
}

/* The snapshot of config_of(nodes) with the nodes' up/down states. */
static struct snapshot *snapshot_of(const struct config *cfg, const struct node_spec *nodes,
				    uint64_t generation)
{
	bool up[MAX_TEST_NODES] = {false};
	bool *ups[1] = {up};

	for (size_t i = 0; nodes[i].name; i++)
		up[i] = !nodes[i].down;
	return snapshot_create(cfg, ups, generation);
}

/* Node indexes as a string of the nodes' names ("bca"). */
static const char *names_of(const struct cluster_view *v, const uint16_t *idx, size_t n, char *buf,
			    size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len + 1 < cap; i++) {
		if (idx[i] >= v->n_nodes) {
			len += (size_t)snprintf(buf + len, cap - len, "?");
			continue;
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s", v->nodes[idx[i]].name);
	}
	return buf;
}

struct roles_case {
	const char *name;
	struct node_spec nodes[MAX_TEST_NODES];
	const char *writer;	  /* NULL: no node can take writes */
	const char *rotation;	  /* the reader rotation, one period */
	const char *writer_order; /* snapshot_writer_order() */
};

/* The rotations are what smooth weighted round-robin gives: each step every
 * node gains its (gcd-reduced) weight, the richest goes next (the first in
 * table order on a tie) and pays the total. */
static const struct roles_case roles_cases[] = {
	{"weights 5,1,1 interleave",
	 {{"a", 5, 1000, false}, {"b", 1, 1000, false}, {"c", 1, 1000, false}},
	 "a",
	 "aabacaa",
	 "abc"},
	{"weights 2,2,2 reduce by their gcd to one each",
	 {{"a", 2, 1000, false}, {"b", 2, 1000, false}, {"c", 2, 1000, false}},
	 "a",
	 "abc",
	 "abc"},
	{"weights 4,6 reduce to 2,3",
	 {{"a", 4, 1000, false}, {"b", 6, 1000, false}},
	 "a",
	 "babab",
	 "ab"},
	{"weight 0 is never in the rotation",
	 {{"a", 1, 1000, false}, {"b", 0, 1000, false}, {"c", 1, 1000, false}},
	 "a",
	 "ac",
	 "abc"},
	{"a down node is left out of everything",
	 {{"a", 5, 1000, false}, {"b", 1, 1000, true}, {"c", 1, 1000, false}},
	 "a",
	 "aaacaa",
	 "ac"},
	{"the lowest priority is the writer",
	 {{"a", 1, 3, false}, {"b", 1, 1, false}, {"c", 1, 2, false}},
	 "b",
	 "abc",
	 "bca"},
	{"priority ties go by name, not by table order",
	 {{"c", 1, 5, false}, {"a", 1, 5, false}, {"b", 1, 5, false}},
	 "a",
	 "cab",
	 "abc"},
	{"the preferred writer down: the next priority takes over",
	 {{"a", 1, 1, true}, {"b", 1, 2, false}, {"c", 1, 3, false}},
	 "b",
	 "bc",
	 "bc"},
	{"ties and a down node in the writer order",
	 {{"a", 1, 3, false}, {"b", 1, 1, false}, {"c", 1, 2, true}, {"d", 1, 1, false}},
	 "b",
	 "abd",
	 "bda"},
	{"weight 0 can still be the writer",
	 {{"a", 0, 1, false}, {"b", 1, 2, false}},
	 "a",
	 "b",
	 "ab"},
	{"every up node has weight 0: a writer but no readers",
	 {{"a", 0, 1, false}, {"b", 0, 2, false}},
	 "a",
	 "",
	 "ab"},
	{"every node down: no writer, no readers",
	 {{"a", 1, 1, true}, {"b", 1, 2, true}},
	 NULL,
	 "",
	 ""},
};

static uint32_t gcd_of(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void test_roles(void)
{
	for (size_t i = 0; i < sizeof(roles_cases) / sizeof(roles_cases[0]); i++) {
		const struct roles_case *c = &roles_cases[i];
		struct config *cfg;
		struct snapshot *snap;
		const struct cluster_view *v;
		uint16_t order[MAX_TEST_NODES];
		char buf[256];
		size_t n;

		check_case("%s", c->name);
		cfg = config_of(c->nodes);
		if (!CHECK(cfg != NULL))
			continue;
		snap = snapshot_of(cfg, c->nodes, 1);
		v = &snap->clusters[0];

		if (c->writer) {
			if (CHECK(v->writer >= 0))
				CHECK_EQ_STR(v->nodes[v->writer].name, c->writer);
		} else {
			CHECK_EQ_INT(v->writer, -1);
		}
		CHECK_EQ_STR(names_of(v, v->readers, v->n_readers, buf, sizeof(buf)), c->rotation);

		/* Whatever the order, each node appears weight/gcd times. */
		uint32_t g = 0;
		for (size_t k = 0; c->nodes[k].name; k++)
			if (!c->nodes[k].down && c->nodes[k].weight)
				g = gcd_of(g, c->nodes[k].weight);
		for (size_t k = 0; c->nodes[k].name; k++) {
			size_t seen = 0;
			for (size_t r = 0; r < v->n_readers; r++)
				seen += v->readers[r] == k;
			CHECK_EQ_INT(seen, c->nodes[k].down || !g ? 0 : c->nodes[k].weight / g);
		}

		n = snapshot_writer_order(v, false, order);
		CHECK_EQ_STR(names_of(v, order, n, buf, sizeof(buf)), c->writer_order);
		/* Every node may take writes here: the same with writable_only. */
		n = snapshot_writer_order(v, true, order);
		CHECK_EQ_STR(names_of(v, order, n, buf, sizeof(buf)), c->writer_order);

		snapshot_unref(snap);
		config_destroy(cfg);
	}
}

/* The point of the smooth rotation: the heavy node's turns are spread out.
 * Within one period of 5,1,1 it never runs three times in a row. (The period
 * ends "aa" and starts "aa", so consecutive tickets across the wrap do see
 * four in a row; that is how smooth weighted round-robin behaves.) */
static void test_rotation_is_smooth(void)
{
	static const struct node_spec nodes[] = {
		{"a", 5, 1000, false},
		{"b", 1, 1000, false},
		{"c", 1, 1000, false},
		{NULL, 0, 0, false},
	};
	struct config *cfg = config_of(nodes);
	struct snapshot *snap;
	size_t run = 0, longest = 0;

	if (!CHECK(cfg != NULL))
		return;
	snap = snapshot_of(cfg, nodes, 1);
	const struct cluster_view *v = &snap->clusters[0];
	CHECK_EQ_INT(v->n_readers, 7);
	for (size_t r = 0; r < v->n_readers; r++) {
		run = v->readers[r] == 0 ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	CHECK_EQ_INT(longest, 2);
	snapshot_unref(snap);
	config_destroy(cfg);
}

struct reader_case {
	const char *name;
	bool b_down;
	uint64_t ticket;
	const char *order; /* snapshot_reader_order(), as names */
};

/* Nodes a, b, c with weights 5, 1, 1: rotation "aabacaa", or "aaacaa" with
 * b down. The order starts at rotation[ticket % n] and then lists each other
 * node where it next appears. */
static const struct reader_case reader_cases[] = {
	{"ticket 0 starts the rotation", false, 0, "abc"},
	{"ticket 1: a again, then b and c", false, 1, "abc"},
	{"ticket 2: b first", false, 2, "bac"},
	{"ticket 3: c is met before b", false, 3, "acb"},
	{"ticket 4: c first", false, 4, "cab"},
	{"ticket 5: b is found after the wrap", false, 5, "abc"},
	{"ticket 7 is ticket 0 again", false, 7, "abc"},
	{"ticket 7000002 is ticket 2 again", false, 7000002, "bac"},
	{"b down: never offered", true, 3, "ca"},
	{"b down, ticket 0", true, 0, "ac"},
};

static void test_reader_order(void)
{
	for (size_t i = 0; i < sizeof(reader_cases) / sizeof(reader_cases[0]); i++) {
		const struct reader_case *c = &reader_cases[i];
		const struct node_spec nodes[] = {{"a", 5, 1000, false},
						  {"b", 1, 1000, c->b_down},
						  {"c", 1, 1000, false},
						  {NULL, 0, 0, false}};
		struct config *cfg;
		struct snapshot *snap;
		uint16_t order[MAX_TEST_NODES];
		char buf[64];
		size_t n;

		check_case("%s", c->name);
		cfg = config_of(nodes);
		if (!CHECK(cfg != NULL))
			continue;
		snap = snapshot_of(cfg, nodes, 1);
		n = snapshot_reader_order(&snap->clusters[0], c->ticket, true, order);
		CHECK_EQ_STR(names_of(&snap->clusters[0], order, n, buf, sizeof(buf)), c->order);
		snapshot_unref(snap);
		config_destroy(cfg);
	}

	/* No reader at all: an empty order, whatever the ticket. */
	const struct node_spec down[] = {{"a", 1, 1, true}, {NULL, 0, 0, false}};
	struct config *cfg = config_of(down);
	uint16_t order[MAX_TEST_NODES];

	check_case("every node down: no readers");
	if (!CHECK(cfg != NULL))
		return;
	struct snapshot *snap = snapshot_of(cfg, down, 1);
	CHECK_EQ_INT(snapshot_reader_order(&snap->clusters[0], 12345, true, order), 0);
	CHECK_EQ_INT(snapshot_writer_order(&snap->clusters[0], false, order), 0);
	CHECK_EQ_INT(snapshot_login_node(&snap->clusters[0]), -1);
	snapshot_unref(snap);
	config_destroy(cfg);
}

/* Without the writer (mode: mysql, primary_reads off): a is the writer
 * (same priority, first name), so reads rotate over b and c only, and an
 * empty rotation when the writer is the only node up. */
static void test_replica_order(void)
{
	static const struct {
		const char *name;
		bool b_down, c_down;
		uint64_t ticket;
		const char *order;
	} cases[] = {
		{"replicas: ticket 0", false, false, 0, "bc"},
		{"replicas: ticket 1", false, false, 1, "cb"},
		{"replicas: ticket 6 wraps to 0", false, false, 6, "bc"},
		{"replicas: b down", true, false, 1, "c"},
		{"replicas: only the writer up", true, true, 0, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct node_spec nodes[] = {{"a", 5, 1000, false},
						  {"b", 1, 1000, cases[i].b_down},
						  {"c", 1, 1000, cases[i].c_down},
						  {NULL, 0, 0, false}};
		struct config *cfg;
		struct snapshot *snap;
		uint16_t order[MAX_TEST_NODES];
		char buf[64];
		size_t n;

		check_case("%s", cases[i].name);
		cfg = config_of(nodes);
		if (!CHECK(cfg != NULL))
			continue;
		snap = snapshot_of(cfg, nodes, 1);
		CHECK_EQ_INT(snap->clusters[0].writer, 0);
		n = snapshot_reader_order(&snap->clusters[0], cases[i].ticket, false, order);
		CHECK_EQ_STR(names_of(&snap->clusters[0], order, n, buf, sizeof(buf)),
			     cases[i].order);
		snapshot_unref(snap);
		config_destroy(cfg);
	}
}

/* A replication cluster's replicas may not take writes: a client that asks
 * for the writer falls back only to nodes that may (tcp route: primary);
 * a login, which any node can check, to every node that is up. */
static void test_writer_order_writable(void)
{
	const struct node_spec nodes[] = {
		{"a", 1, 1, false}, {"b", 1, 2, false}, {"c", 1, 3, false}, {NULL, 0, 0, false}};
	struct config *cfg = config_of(nodes);
	uint16_t order[MAX_TEST_NODES];
	char buf[64];
	size_t n;

	if (!CHECK(cfg != NULL))
		return;
	struct snapshot *snap = snapshot_of(cfg, nodes, 1);
	struct cluster_view *v = &snap->clusters[0];

	check_case("b may not take writes");
	v->nodes[1].writable = false;
	snapshot_compute_roles(v, -1, false);
	n = snapshot_writer_order(v, true, order);
	CHECK_EQ_STR(names_of(v, order, n, buf, sizeof(buf)), "ac");
	n = snapshot_writer_order(v, false, order);
	CHECK_EQ_STR(names_of(v, order, n, buf, sizeof(buf)), "abc");

	check_case("only the writer may");
	v->nodes[2].writable = false;
	snapshot_compute_roles(v, -1, false);
	n = snapshot_writer_order(v, true, order);
	CHECK_EQ_STR(names_of(v, order, n, buf, sizeof(buf)), "a");

	CHECK_EQ_INT(snapshot_login_node(v), 0);

	check_case("none may: no writer, no order, a login still has a node");
	v->nodes[0].writable = false;
	v->nodes[0].up = false;
	snapshot_compute_roles(v, -1, false);
	CHECK_EQ_INT(snapshot_writer_order(v, true, order), 0);
	CHECK_EQ_INT(snapshot_writer_order(v, false, order), 0);
	CHECK_EQ_INT(snapshot_login_node(v), 1); /* b: a is down, c's priority is 3 */

	snapshot_unref(snap);
	config_destroy(cfg);
}

struct share_case {
	const char *name;
	unsigned weights[3];
	uint64_t first_ticket;
	unsigned tickets; /* a whole number of rotation periods */
	unsigned want[3]; /* first choices per node */
};

static const struct share_case share_cases[] = {
	{"3,2,1 over 3000 tickets", {3, 2, 1}, 0, 3000, {1500, 1000, 500}},
	{"2,2,2 over 3000 tickets", {2, 2, 2}, 0, 3000, {1000, 1000, 1000}},
	{"1,0,2 over 3000 tickets", {1, 0, 2}, 0, 3000, {1000, 0, 2000}},
	{"5,1,1 over 3003 tickets from 1000", {5, 1, 1}, 1000, 3003, {2145, 429, 429}},
	{"10,20,30 over 3000 tickets from 17", {10, 20, 30}, 17, 3000, {500, 1000, 1500}},
};

/* Consecutive tickets, as the workers' shared counter hands them out, give
 * each node first choice exactly in proportion to its weight. */
static void test_reader_share(void)
{
	for (size_t i = 0; i < sizeof(share_cases) / sizeof(share_cases[0]); i++) {
		const struct share_case *c = &share_cases[i];
		const struct node_spec nodes[] = {{"a", c->weights[0], 1000, false},
						  {"b", c->weights[1], 1000, false},
						  {"c", c->weights[2], 1000, false},
						  {NULL, 0, 0, false}};
		unsigned got[3] = {0, 0, 0};
		uint16_t order[MAX_TEST_NODES];
		struct config *cfg;
		struct snapshot *snap;

		check_case("%s", c->name);
		cfg = config_of(nodes);
		if (!CHECK(cfg != NULL))
			continue;
		snap = snapshot_of(cfg, nodes, 1);
		for (uint64_t t = c->first_ticket; t < c->first_ticket + c->tickets; t++) {
			if (snapshot_reader_order(&snap->clusters[0], t, true, order) > 0 &&
			    order[0] < 3)
				got[order[0]]++;
		}
		for (int k = 0; k < 3; k++)
			CHECK_EQ_INT(got[k], c->want[k]);
		snapshot_unref(snap);
		config_destroy(cfg);
	}
}

/* up[c][n] is per cluster; NULL means every node down. */
static void test_create_two_clusters(void)
{
	static const char text[] =
		"listeners:\n"
		"  - { name: rw, bind: 127.0.0.1:3307, mode: tcp, cluster: one }\n"
		"clusters:\n"
		"  - name: one\n"
		"    nodes:\n"
		"      - { name: a, address: 127.0.0.1:13306, priority: 1 }\n"
		"      - { name: b, address: 127.0.0.1:13307, priority: 2 }\n"
		"  - name: two\n"
		"    nodes:\n"
		"      - { name: x, address: 127.0.0.1:13406, weight: 3 }\n";
	struct config_errors errs;
	struct config *cfg;
	bool up_one[2] = {false, true}, up_two[1] = {true};
	bool *ups[2] = {up_one, up_two};
	struct snapshot *snap;

	config_errors_init(&errs);
	cfg = config_load_string("two.yaml", text, sizeof(text) - 1, &errs);
	config_errors_deinit(&errs);
	if (!CHECK(cfg != NULL))
		return;

	check_case("per-cluster up states");
	snap = snapshot_create(cfg, ups, 42);
	CHECK_EQ_INT(snap->generation, 42);
	CHECK_EQ_INT(snap->n_clusters, 2);
	CHECK_EQ_INT(snap->clusters[0].n_nodes, 2);
	CHECK(!snap->clusters[0].nodes[0].up);
	CHECK(snap->clusters[0].nodes[1].up);
	CHECK_EQ_INT(snap->clusters[0].writer, 1);
	CHECK_EQ_INT(snap->clusters[1].writer, 0);
	CHECK_EQ_INT(snap->clusters[1].nodes[0].weight, 3);
	/* One node of weight 3 reduces to a rotation of one. */
	CHECK_EQ_INT(snap->clusters[1].n_readers, 1);
	/* Names are borrowed from the config, not copied. */
	CHECK(snap->clusters[0].nodes[0].name == cfg->clusters[0].nodes[0].name);

	check_case("recompute after a state change: sticky writer, failback");
	snap->clusters[0].nodes[0].up = true;
	/* Node 0 is preferred, but node 1 is the writer and stays so. */
	snapshot_compute_roles(&snap->clusters[0], 1, false);
	CHECK_EQ_INT(snap->clusters[0].writer, 1);
	/* With failback the preferred node takes the role back. */
	snapshot_compute_roles(&snap->clusters[0], 1, true);
	CHECK_EQ_INT(snap->clusters[0].writer, 0);
	snapshot_compute_roles(&snap->clusters[0], -1, false);
	CHECK_EQ_INT(snap->clusters[0].writer, 0);
	CHECK_EQ_INT(snap->clusters[0].n_readers, 2);
	/* A node that may not write (a donor, a replica) is never the writer,
	 * sticky or not, but still reads. */
	snap->clusters[0].nodes[0].writable = false;
	snapshot_compute_roles(&snap->clusters[0], 0, false);
	CHECK_EQ_INT(snap->clusters[0].writer, 1);
	CHECK_EQ_INT(snap->clusters[0].n_readers, 2);
	snap->clusters[0].nodes[1].writable = false;
	snapshot_compute_roles(&snap->clusters[0], 1, true);
	CHECK_EQ_INT(snap->clusters[0].writer, -1);
	CHECK_EQ_INT(snap->clusters[0].n_readers, 2);
	snap->clusters[0].nodes[0].up = false;
	snap->clusters[0].nodes[1].up = false;
	snapshot_compute_roles(&snap->clusters[0], -1, false);
	CHECK_EQ_INT(snap->clusters[0].writer, -1);
	CHECK_EQ_INT(snap->clusters[0].n_readers, 0);
	CHECK(snap->clusters[0].readers == NULL);

	check_case("recompute: the maintenance flag follows the nodes' admin state");
	CHECK(!snap->clusters[0].maintenance);
	snap->clusters[0].nodes[1].admin = NODE_ADMIN_DRAIN;
	snapshot_compute_roles(&snap->clusters[0], -1, false);
	CHECK(!snap->clusters[0].maintenance);
	snap->clusters[0].nodes[1].admin = NODE_ADMIN_MAINTENANCE;
	snapshot_compute_roles(&snap->clusters[0], -1, false);
	CHECK(snap->clusters[0].maintenance);
	CHECK(!snap->clusters[1].maintenance);
	snap->clusters[0].nodes[1].admin = NODE_ADMIN_READY;
	snapshot_compute_roles(&snap->clusters[0], -1, false);
	CHECK(!snap->clusters[0].maintenance);
	snapshot_unref(snap);

	check_case("up == NULL: every node down");
	snap = snapshot_create(cfg, NULL, 7);
	for (size_t c = 0; c < snap->n_clusters; c++) {
		CHECK_EQ_INT(snap->clusters[c].writer, -1);
		CHECK_EQ_INT(snap->clusters[c].n_readers, 0);
		for (size_t n = 0; n < snap->clusters[c].n_nodes; n++)
			CHECK(!snap->clusters[c].nodes[n].up);
	}
	snapshot_unref(snap);
	config_destroy(cfg);
}

/* The last unref frees (valgrind sees a leak or a double free otherwise). */
/* Read your writes: a reader has a write made at some moment when its position reaches the
 * writer's at the first writer check that began after that moment. */
static void test_caught_up(void)
{
	struct node_view nodes[3];
	struct cluster_view v = {.n_nodes = 3, .nodes = nodes, .writer = 0};

	memset(nodes, 0, sizeof(nodes));
	/* Writer checks, newest first: at 1000 ms position 50, 750 ms 40, 500 ms 30. */
	nodes[0].positions[0] = (struct node_position){1000, 50};
	nodes[0].positions[1] = (struct node_position){750, 40};
	nodes[0].positions[2] = (struct node_position){500, 30};
	nodes[1].positions[0] = (struct node_position){990, 40};
	nodes[2].positions[0] = (struct node_position){980, 39};

	check_case("write at 600 ms: the 750 ms check bounds it at 40");
	CHECK(snapshot_caught_up(&v, 1, 600));
	CHECK(!snapshot_caught_up(&v, 2, 600));
	check_case("write at 750 ms: the check that began then counts");
	CHECK(snapshot_caught_up(&v, 1, 750));
	check_case("write at 800 ms: only the 1000 ms check (50) bounds it");
	CHECK(!snapshot_caught_up(&v, 1, 800));
	check_case("write after the last writer check: not known yet");
	CHECK(!snapshot_caught_up(&v, 1, 1001));
	check_case("write before every kept check: the oldest bounds it");
	CHECK(snapshot_caught_up(&v, 1, 10));
	check_case("the writer always has its writes");
	CHECK(snapshot_caught_up(&v, 0, 5000));
	check_case("an unknown writer position proves nothing");
	nodes[0].positions[2].position = -1;
	nodes[0].positions[1].position = -1;
	CHECK(!snapshot_caught_up(&v, 1, 600));
	check_case("a reader with no check proves nothing");
	nodes[0].positions[1].position = 40;
	nodes[1].positions[0] = (struct node_position){0, 0};
	CHECK(!snapshot_caught_up(&v, 1, 600));
	check_case("no writer");
	v.writer = -1;
	CHECK(!snapshot_caught_up(&v, 2, 0));
	check_case("node out of range");
	v.writer = 0;
	CHECK(!snapshot_caught_up(&v, 3, 0));
}

static void test_refcount(void)
{
	static const struct node_spec nodes[] = {{"a", 1, 1, false}, {NULL, 0, 0, false}};
	struct config *cfg = config_of(nodes);
	struct snapshot *snap;

	if (!CHECK(cfg != NULL))
		return;
	snap = snapshot_of(cfg, nodes, 9);
	CHECK_EQ_INT(atomic_load(&snap->refs), 1);
	CHECK(snapshot_ref(snap) == snap);
	CHECK(snapshot_ref(snap) == snap);
	CHECK_EQ_INT(atomic_load(&snap->refs), 3);
	snapshot_unref(snap);
	snapshot_unref(snap);
	CHECK_EQ_INT(atomic_load(&snap->refs), 1);
	CHECK_EQ_INT(snap->generation, 9);
	snapshot_unref(snap);
	snapshot_unref(NULL); /* a no-op */
	config_destroy(cfg);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"writer, rotation and writer order", test_roles},
		{"rotation spreads the heavy node", test_rotation_is_smooth},
		{"reader order by ticket", test_reader_order},
		{"replica order leaves the writer out", test_replica_order},
		{"writer order: only writable nodes when asked; a login's node",
		 test_writer_order_writable},
		{"first choices follow the weights", test_reader_share},
		{"create with two clusters, recompute", test_create_two_clusters},
		{"reference counting", test_refcount},
		{"read your writes: caught up", test_caught_up},
	};
	return CHECK_RUN(tests);
}
