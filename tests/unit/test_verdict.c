/*
 * Unit tests for src/verdict.c: the health verdict of every cluster type from the rows a
 * node answers, table by table: Galera's states and switches (with and without
 * donor_serves_reads), Group Replication's member states and roles, replication's
 * read_only, thread states and lag against max_lag, static; and answers that lack what a
 * verdict needs, which must come out as "answered, not serving" with a clear error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "monitor/probe.h"
#include "monitor/verdict.h"
#include "check.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Written where a test means SQL NULL (a string, so that tables stay readable). */
#define SQL_NULL "<NULL>"

static const char *cell(const char *s)
{
	return s && strcmp(s, SQL_NULL) == 0 ? NULL : s;
}

/* What every evaluation must leave alone, and the result before it runs. */
static void result_init(struct probe_result *res)
{
	memset(res, 0x5a, sizeof(*res));
	res->latency_us = 1234;
	strcpy(res->server_version, "10.11.6-MariaDB");
	strcpy(res->error, "stale error");
	strcpy(res->state, "stale state");
}

/* The fields a verdict sets, checked the same way for every row of every table. */
static void check_verdict(const struct probe_result *res, bool serves, bool writable,
			  int64_t lag_ms, const char *state, const char *error)
{
	CHECK(res->ok);
	CHECK_EQ_INT(res->serves, serves);
	CHECK_EQ_INT(res->writable, writable);
	CHECK_EQ_INT(res->lag_ms, lag_ms);
	CHECK_EQ_STR(res->state, state);
	if (error)
		CHECK_STR_CONTAINS(res->error, error);
	else
		CHECK_EQ_STR(res->error, "");
	/* A node that does not serve always says why. */
	if (!serves)
		CHECK(res->error[0] != '\0');
	CHECK_EQ_INT(res->latency_us, 1234);
	CHECK_EQ_STR(res->server_version, "10.11.6-MariaDB");
}

static void check_queries(void)
{
	static const struct {
		enum cluster_type type;
		size_t n;
		const char *has[2]; /* a fragment of each statement */
	} cases[] = {
		{CLUSTER_TYPE_GALERA, 1, {"WSREP_LOCAL_STATE", NULL}},
		{CLUSTER_TYPE_GROUP_REPLICATION, 1, {"replication_group_members", NULL}},
		{CLUSTER_TYPE_REPLICATION, 2, {"@@global.read_only", "SHOW ALL SLAVES STATUS"}},
		{CLUSTER_TYPE_STATIC, 1, {"SELECT 1", NULL}},
	};

	for (size_t i = 0; i < N_OF(cases); i++) {
		size_t n = 0;
		const char *const *q = verdict_queries(cases[i].type, &n);

		check_case("%s", cluster_type_str(cases[i].type));
		CHECK_EQ_INT(n, cases[i].n);
		CHECK(n <= VERDICT_MAX_QUERIES);
		for (size_t j = 0; j < n && j < 2; j++)
			CHECK_STR_CONTAINS(q[j], cases[i].has[j]);
	}
}

/* ---- Galera ---------------------------------------------------------------------------- */

struct galera_case {
	const char *name;
	bool donor_serves_reads;
	/* The answer; NULL leaves the variable out, SQL_NULL sends it as NULL. */
	const char *local_state, *comment, *ready, *cluster_status, *desync, *reject;
	bool serves, writable;
	const char *state;
	const char *error; /* a fragment of it; NULL: must be empty */
};

#define SYNCED "4", "Synced", "ON", "Primary", "OFF", "NONE"

static const struct galera_case galera_cases[] = {
	{"1 Joining", false, "1", "Joining", "ON", "Primary", "OFF", "NONE", false, false,
	 "Joining", "wsrep_local_state 1 (Joining)"},
	{"1 Joining, donor_serves_reads", true, "1", "Joining", "ON", "Primary", "OFF", "NONE",
	 false, false, "Joining", "wsrep_local_state 1 (Joining)"},
	{"2 Donor", false, "2", "Donor/Desynced", "ON", "Primary", "OFF", "NONE", false, false,
	 "Donor/Desynced", "wsrep_local_state 2 (Donor/Desynced)"},
	{"2 Donor, donor_serves_reads: reads only", true, "2", "Donor/Desynced", "ON", "Primary",
	 "OFF", "NONE", true, false, "Donor/Desynced", NULL},
	{"3 Joined", false, "3", "Joined", "ON", "Primary", "OFF", "NONE", false, false, "Joined",
	 "wsrep_local_state 3 (Joined)"},
	{"3 Joined, donor_serves_reads", true, "3", "Joined", "ON", "Primary", "OFF", "NONE", false,
	 false, "Joined", "wsrep_local_state 3 (Joined)"},
	{"4 Synced", false, SYNCED, true, true, "Synced", NULL},
	{"4 Synced, donor_serves_reads", true, SYNCED, true, true, "Synced", NULL},
	{"0 Initialized (left the cluster)", false, "0", "Initialized", "ON", "Primary", "OFF",
	 "NONE", false, false, "Initialized", "wsrep_local_state 0 (Initialized)"},
	{"no comment: named from the number", false, "4", NULL, "ON", "Primary", "OFF", "NONE",
	 true, true, "Synced", NULL},
	{"no comment, unknown number", false, "9", NULL, "ON", "Primary", "OFF", "NONE", false,
	 false, "state 9", "wsrep_local_state 9 (state 9)"},
	{"wsrep_ready OFF", false, "4", "Synced", "OFF", "Primary", "OFF", "NONE", false, false,
	 "Synced", "wsrep_ready OFF"},
	{"non-Primary", false, "1", "Initialized", "OFF", "non-Primary", "OFF", "NONE", false,
	 false, "Initialized", "wsrep_cluster_status non-Primary"},
	{"Disconnected", false, "0", "Initialized", "OFF", "Disconnected", "OFF", "NONE", false,
	 false, "Initialized", "wsrep_cluster_status Disconnected"},
	{"non-Primary but Synced by its own account", false, "4", "Synced", "ON", "non-Primary",
	 "OFF", "NONE", false, false, "Synced", "wsrep_cluster_status non-Primary"},
	{"desync ON (state 2)", false, "2", "Donor/Desynced", "ON", "Primary", "ON", "NONE", false,
	 false, "Donor/Desynced", "wsrep_desync ON"},
	{"desync ON is not a donor, even with donor_serves_reads", true, "2", "Donor/Desynced",
	 "ON", "Primary", "ON", "NONE", false, false, "Donor/Desynced", "wsrep_desync ON"},
	{"desync ON still Synced", false, "4", "Synced", "ON", "Primary", "ON", "NONE", false,
	 false, "Synced", "wsrep_desync ON"},
	{"desync as @@var (1)", false, "4", "Synced", "ON", "Primary", "1", "NONE", false, false,
	 "Synced", "wsrep_desync ON"},
	{"desync as @@var (0)", false, "4", "Synced", "ON", "Primary", "0", "NONE", true, true,
	 "Synced", NULL},
	{"reject_queries ALL", false, "4", "Synced", "ON", "Primary", "OFF", "ALL", false, false,
	 "Synced", "wsrep_reject_queries ALL"},
	{"reject_queries ALL_KILL", false, "4", "Synced", "ON", "Primary", "OFF", "ALL_KILL", false,
	 false, "Synced", "wsrep_reject_queries ALL_KILL"},
	{"reject_queries ALL on a donor that may serve", true, "2", "Donor/Desynced", "ON",
	 "Primary", "OFF", "ALL", false, false, "Donor/Desynced", "wsrep_reject_queries ALL"},
	{"no wsrep at all", false, NULL, NULL, NULL, NULL, NULL, NULL, false, false, "not Galera",
	 "no wsrep_local_state in the answer (not a Galera node?)"},
	{"wsrep_local_state NULL", false, SQL_NULL, "Synced", "ON", "Primary", "OFF", "NONE", false,
	 false, "not Galera", "no wsrep_local_state"},
	{"wsrep_local_state not a number", false, "Synced", "Synced", "ON", "Primary", "OFF",
	 "NONE", false, false, "not Galera", "no wsrep_local_state"},
	{"wsrep_local_state negative", false, "-1", "Synced", "ON", "Primary", "OFF", "NONE", false,
	 false, "not Galera", "no wsrep_local_state"},
	{"missing wsrep_ready", false, "4", "Synced", NULL, "Primary", "OFF", "NONE", false, false,
	 "Synced", "no wsrep_ready in the answer"},
	{"wsrep_ready not a boolean", false, "4", "Synced", "maybe", "Primary", "OFF", "NONE",
	 false, false, "Synced", "no wsrep_ready in the answer"},
	{"missing wsrep_cluster_status", false, "4", "Synced", "ON", NULL, "OFF", "NONE", false,
	 false, "Synced", "no wsrep_cluster_status in the answer"},
	{"wsrep_cluster_status NULL", false, "4", "Synced", "ON", SQL_NULL, "OFF", "NONE", false,
	 false, "Synced", "no wsrep_cluster_status in the answer"},
	{"missing wsrep_desync", false, "4", "Synced", "ON", "Primary", NULL, "NONE", false, false,
	 "Synced", "no wsrep_desync in the answer"},
	{"missing wsrep_reject_queries", false, "4", "Synced", "ON", "Primary", "OFF", NULL, false,
	 false, "Synced", "no wsrep_reject_queries in the answer"},
};

/* Build the name/value answer information_schema gives (upper-case names) or SHOW STATUS
 * gives (lower-case names), in an order unlike the query's. */
static void galera_run(const struct galera_case *c, bool lower)
{
	static const char *const upper_names[] = {
		"WSREP_REJECT_QUERIES", "WSREP_CLUSTER_STATUS", "WSREP_LOCAL_STATE_COMMENT",
		"WSREP_DESYNC",		"WSREP_READY",		"WSREP_LOCAL_STATE",
	};
	static const char *const lower_names[] = {
		"wsrep_reject_queries", "wsrep_cluster_status", "wsrep_local_state_comment",
		"wsrep_desync",		"wsrep_ready",		"wsrep_local_state",
	};
	const char *values[] = {c->reject, c->cluster_status, c->comment,
				c->desync, c->ready,	      c->local_state};
	static const char *const columns[] = {"VARIABLE_NAME", "VARIABLE_VALUE"};
	const char *cells[2 * N_OF(values)];
	size_t rows = 0;
	struct config_cluster cc = {.type = CLUSTER_TYPE_GALERA,
				    .donor_serves_reads = c->donor_serves_reads};
	struct probe_result res;

	for (size_t i = 0; i < N_OF(values); i++) {
		if (!values[i])
			continue;
		cells[2 * rows] = lower ? lower_names[i] : upper_names[i];
		cells[2 * rows + 1] = cell(values[i]);
		rows++;
	}
	struct verdict_table t = {columns, cells, 2, rows};
	result_init(&res);
	verdict_evaluate(&cc, &t, 1, &res);
	check_verdict(&res, c->serves, c->writable, -1, c->state, c->error);
}

static void test_galera(void)
{
	for (size_t i = 0; i < N_OF(galera_cases); i++) {
		check_case("galera: %s", galera_cases[i].name);
		galera_run(&galera_cases[i], false);
		check_case("galera (SHOW STATUS names): %s", galera_cases[i].name);
		galera_run(&galera_cases[i], true);
	}
}

/* An answer with the wrong shape: one column only, or no rows at all. */
static void test_galera_shapes(void)
{
	static const char *const one_column[] = {"VARIABLE_NAME"};
	static const char *const one_cell[] = {"WSREP_LOCAL_STATE"};
	static const char *const two_columns[] = {"VARIABLE_NAME", "VARIABLE_VALUE"};
	struct config_cluster cc = {.type = CLUSTER_TYPE_GALERA};
	struct probe_result res;

	check_case("galera: a single column");
	struct verdict_table t1 = {one_column, one_cell, 1, 1};
	result_init(&res);
	verdict_evaluate(&cc, &t1, 1, &res);
	check_verdict(&res, false, false, -1, "not Galera", "no wsrep_local_state");

	check_case("galera: no rows");
	struct verdict_table t2 = {two_columns, NULL, 2, 0};
	result_init(&res);
	verdict_evaluate(&cc, &t2, 1, &res);
	check_verdict(&res, false, false, -1, "not Galera", "no wsrep_local_state");
}

/* What a check reads besides the verdict: galera's wsrep_last_committed and members, a
 * replica's GTID position, each also from a node that does not serve. */
static void test_positions(void)
{
	static const char *const columns[] = {"VARIABLE_NAME", "VARIABLE_VALUE"};
	static const char *const galera_cells[] = {
		"WSREP_LOCAL_STATE",	    "2",
		"WSREP_LOCAL_STATE_COMMENT", "Donor/Desynced",
		"WSREP_READY",		    "ON",
		"WSREP_CLUSTER_STATUS",	    "Primary",
		"WSREP_DESYNC",		    "OFF",
		"WSREP_REJECT_QUERIES",	    "NONE",
		"WSREP_LAST_COMMITTED",	    "4711",
		"WSREP_INCOMING_ADDRESSES", "127.0.0.1:3306,127.0.0.1:3307",
	};
	struct config_cluster galera = {.type = CLUSTER_TYPE_GALERA};
	struct verdict_table t = {columns, galera_cells, 2, N_OF(galera_cells) / 2};
	struct probe_result res;

	check_case("galera: position and members of a donor");
	result_init(&res);
	verdict_evaluate(&galera, &t, 1, &res);
	CHECK(!res.serves);
	CHECK_EQ_INT(res.position, 4711);
	CHECK_EQ_STR(res.members, "127.0.0.1:3306,127.0.0.1:3307");

	check_case("galera: no wsrep_last_committed");
	t.n_rows -= 2;
	result_init(&res);
	verdict_evaluate(&galera, &t, 1, &res);
	CHECK_EQ_INT(res.position, -1);
	CHECK_EQ_STR(res.members, "");

	static const struct {
		const char *pos;
		int64_t seq;
	} gtids[] = {
		{"0-1-42", 42}, {"", 0},	  {"12-3000-9000000000", 9000000000LL},
		{NULL, -1},	{"0-1-2,1-1-5", -1}, {"0-1", -1},
		{"x-1-2", -1},	{"0-1-", -1},	     {"0-1-2 ", -1},
	};
	for (size_t i = 0; i < N_OF(gtids); i++) {
		check_case("gtid position '%s'", gtids[i].pos ? gtids[i].pos : "NULL");
		CHECK_EQ_INT(verdict_gtid_seq(gtids[i].pos), gtids[i].seq);
	}

	static const char *const ro_columns[] = {"read_only", "gtid_current_pos"};
	static const char *const ro_cells[] = {"1", "0-1-77"};
	struct config_cluster repl = {.type = CLUSTER_TYPE_REPLICATION, .max_lag_ms = 10000};
	struct verdict_table tables[2] = {{ro_columns, ro_cells, 2, 1}, {columns, NULL, 2, 0}};
	check_case("replication: position from gtid_current_pos");
	result_init(&res);
	verdict_evaluate(&repl, tables, 2, &res);
	CHECK(res.serves && !res.writable);
	CHECK_EQ_INT(res.position, 77);
}

/* ---- Group Replication ----------------------------------------------------------------- */

static void test_group_replication(void)
{
	static const char *const member_states[] = {"ONLINE", "RECOVERING", "ERROR", "OFFLINE",
						    "UNREACHABLE"};
	static const char *const roles[] = {"PRIMARY", "SECONDARY"};
	static const char *const columns[] = {"MEMBER_STATE", "MEMBER_ROLE"};
	struct config_cluster cc = {.type = CLUSTER_TYPE_GROUP_REPLICATION};
	struct probe_result res;

	for (size_t s = 0; s < N_OF(member_states); s++) {
		for (size_t r = 0; r < N_OF(roles); r++) {
			const char *cells[] = {member_states[s], roles[r]};
			struct verdict_table t = {columns, cells, 2, 1};
			bool online = s == 0;
			char state[48], error[64];

			check_case("group_replication: %s %s", member_states[s], roles[r]);
			snprintf(state, sizeof(state), "%s %s", member_states[s], roles[r]);
			snprintf(error, sizeof(error), "MEMBER_STATE %s", member_states[s]);
			result_init(&res);
			verdict_evaluate(&cc, &t, 1, &res);
			check_verdict(&res, online, online && r == 0, -1, state,
				      online ? NULL : error);
		}
	}
}

static void test_group_replication_odd(void)
{
	static const struct {
		const char *name;
		const char *columns[2];
		size_t n_cols, n_rows;
		const char *cells[2];
		bool serves, writable;
		const char *state, *error;
	} cases[] = {
		{"no row: not a member",
		 {"MEMBER_STATE", "MEMBER_ROLE"},
		 2,
		 0,
		 {NULL, NULL},
		 false,
		 false,
		 "not a member",
		 "not a group member"},
		{"columns in the other order",
		 {"MEMBER_ROLE", "MEMBER_STATE"},
		 2,
		 1,
		 {"PRIMARY", "ONLINE"},
		 true,
		 true,
		 "ONLINE PRIMARY",
		 NULL},
		{"lower-case column names",
		 {"member_state", "member_role"},
		 2,
		 1,
		 {"ONLINE", "SECONDARY"},
		 true,
		 false,
		 "ONLINE SECONDARY",
		 NULL},
		{"role NULL: serves, not the writer",
		 {"MEMBER_STATE", "MEMBER_ROLE"},
		 2,
		 1,
		 {"ONLINE", SQL_NULL},
		 true,
		 false,
		 "ONLINE",
		 NULL},
		{"role empty",
		 {"MEMBER_STATE", "MEMBER_ROLE"},
		 2,
		 1,
		 {"ONLINE", ""},
		 true,
		 false,
		 "ONLINE",
		 NULL},
		{"state NULL",
		 {"MEMBER_STATE", "MEMBER_ROLE"},
		 2,
		 1,
		 {SQL_NULL, "PRIMARY"},
		 false,
		 false,
		 "unknown",
		 "MEMBER_STATE is empty"},
		{"no MEMBER_ROLE column (MySQL 5.7)",
		 {"MEMBER_STATE", NULL},
		 1,
		 1,
		 {"ONLINE", NULL},
		 false,
		 false,
		 "unknown",
		 "no MEMBER_ROLE column"},
		{"no MEMBER_STATE column",
		 {"MEMBER_ROLE", NULL},
		 1,
		 1,
		 {"PRIMARY", NULL},
		 false,
		 false,
		 "unknown",
		 "no MEMBER_STATE column"},
	};
	struct config_cluster cc = {.type = CLUSTER_TYPE_GROUP_REPLICATION};
	struct probe_result res;

	for (size_t i = 0; i < N_OF(cases); i++) {
		const char *cells[2] = {cell(cases[i].cells[0]), cell(cases[i].cells[1])};
		struct verdict_table t = {cases[i].columns, cells, cases[i].n_cols,
					  cases[i].n_rows};

		check_case("group_replication: %s", cases[i].name);
		result_init(&res);
		verdict_evaluate(&cc, &t, 1, &res);
		check_verdict(&res, cases[i].serves, cases[i].writable, -1, cases[i].state,
			      cases[i].error);
	}
}

/* ---- Primary/replica ------------------------------------------------------------------- */

/* One row of SHOW ALL SLAVES STATUS, the columns the verdict reads. */
struct replica_row {
	const char *connection, *io, *sql, *lag, *io_error, *sql_error;
};

struct replication_case {
	const char *name;
	uint32_t max_lag_ms;
	const char *read_only; /* NULL: the first result set has no row */
	size_t n_replicas;
	struct replica_row replicas[2];
	bool serves, writable;
	int64_t lag_ms;
	const char *state, *error;
};

#define RUNNING(lag)                                                                               \
	{                                                                                          \
		"", "Yes", "Yes", lag, "", ""                                                      \
	}

static const struct replication_case replication_cases[] = {
	{"primary: read_only 0, no replication",
	 10000,
	 "0",
	 0,
	 {{0}},
	 true,
	 true,
	 -1,
	 "primary",
	 NULL},
	{"read_only 1 without replication: reads",
	 10000,
	 "1",
	 0,
	 {{0}},
	 true,
	 false,
	 -1,
	 "read-only",
	 NULL},
	{"read_only as OFF", 10000, "OFF", 0, {{0}}, true, true, -1, "primary", NULL},
	{"read_only as ON", 10000, "ON", 0, {{0}}, true, false, -1, "read-only", NULL},
	{"replica in sync", 10000, "1", 1, {RUNNING("0")}, true, false, 0, "replica lag 0 s", NULL},
	{"replica under max_lag",
	 10000,
	 "1",
	 1,
	 {RUNNING("3")},
	 true,
	 false,
	 3000,
	 "replica lag 3 s",
	 NULL},
	{"replica at max_lag",
	 10000,
	 "1",
	 1,
	 {RUNNING("10")},
	 true,
	 false,
	 10000,
	 "replica lag 10 s",
	 NULL},
	{"replica over max_lag",
	 10000,
	 "1",
	 1,
	 {RUNNING("11")},
	 false,
	 false,
	 11000,
	 "replica lag 11 s",
	 "replica 11 s behind (max_lag 10 s)"},
	{"replica far behind",
	 10000,
	 "1",
	 1,
	 {RUNNING("42")},
	 false,
	 false,
	 42000,
	 "replica lag 42 s",
	 "replica 42 s behind (max_lag 10 s)"},
	{"max_lag in ms, under",
	 1500,
	 "1",
	 1,
	 {RUNNING("1")},
	 true,
	 false,
	 1000,
	 "replica lag 1 s",
	 NULL},
	{"max_lag in ms, over",
	 1500,
	 "1",
	 1,
	 {RUNNING("2")},
	 false,
	 false,
	 2000,
	 "replica lag 2 s",
	 "replica 2 s behind (max_lag 1500 ms)"},
	{"max_lag 0: in sync only",
	 0,
	 "1",
	 1,
	 {RUNNING("0")},
	 true,
	 false,
	 0,
	 "replica lag 0 s",
	 NULL},
	{"max_lag 0: one second is too much",
	 0,
	 "1",
	 1,
	 {RUNNING("1")},
	 false,
	 false,
	 1000,
	 "replica lag 1 s",
	 "replica 1 s behind (max_lag 0 s)"},
	{"replica that is writable (read_only 0)",
	 10000,
	 "0",
	 1,
	 {RUNNING("0")},
	 true,
	 true,
	 0,
	 "replica lag 0 s",
	 NULL},
	{"lag unknown (NULL)",
	 10000,
	 "1",
	 1,
	 {RUNNING(SQL_NULL)},
	 false,
	 false,
	 -1,
	 "replica lag unknown",
	 "replica: Seconds_Behind_Master is NULL"},
	{"lag not a number",
	 10000,
	 "1",
	 1,
	 {RUNNING("soon")},
	 false,
	 false,
	 -1,
	 "replica lag unknown",
	 "is not a number"},
	{"IO thread No",
	 10000,
	 "1",
	 1,
	 {{"", "No", "Yes", SQL_NULL, "error connecting to master 'repl@db1:3306'", ""}},
	 false,
	 false,
	 -1,
	 "replica IO No",
	 "replica: Slave_IO_Running No: error connecting to master 'repl@db1:3306'"},
	{"IO thread Connecting",
	 10000,
	 "1",
	 1,
	 {{"", "Connecting", "Yes", SQL_NULL, "", ""}},
	 false,
	 false,
	 -1,
	 "replica IO Connecting",
	 "replica: Slave_IO_Running Connecting"},
	{"SQL thread No",
	 10000,
	 "1",
	 1,
	 {{"", "Yes", "No", SQL_NULL, "", "Duplicate entry '1' for key 'PRIMARY'"}},
	 false,
	 false,
	 -1,
	 "replica SQL No",
	 "replica: Slave_SQL_Running No: Duplicate entry"},
	{"IO thread NULL",
	 10000,
	 "1",
	 1,
	 {{"", SQL_NULL, "Yes", "0", "", ""}},
	 false,
	 false,
	 -1,
	 "replica IO NULL",
	 "Slave_IO_Running NULL"},
	{"multi-source, both fine: the worst lag",
	 10000,
	 "1",
	 2,
	 {{"a", "Yes", "Yes", "2", "", ""}, {"b", "Yes", "Yes", "5", "", ""}},
	 true,
	 false,
	 5000,
	 "replica lag 5 s",
	 NULL},
	{"multi-source, one behind: named",
	 10000,
	 "1",
	 2,
	 {{"a", "Yes", "Yes", "2", "", ""}, {"b", "Yes", "Yes", "50", "", ""}},
	 false,
	 false,
	 50000,
	 "replica lag 50 s",
	 "replica 'b' 50 s behind (max_lag 10 s)"},
	{"multi-source, one stopped",
	 10000,
	 "1",
	 2,
	 {{"a", "No", "No", SQL_NULL, "", ""}, {"b", "Yes", "Yes", "0", "", ""}},
	 false,
	 false,
	 -1,
	 "replica IO No",
	 "replica 'a': Slave_IO_Running No"},
	{"read_only missing",
	 10000,
	 NULL,
	 0,
	 {{0}},
	 false,
	 false,
	 -1,
	 "unknown",
	 "no @@read_only in the answer"},
	{"read_only NULL",
	 10000,
	 SQL_NULL,
	 0,
	 {{0}},
	 false,
	 false,
	 -1,
	 "unknown",
	 "no @@read_only in the answer"},
	{"read_only garbage",
	 10000,
	 "2",
	 0,
	 {{0}},
	 false,
	 false,
	 -1,
	 "unknown",
	 "no @@read_only in the answer"},
};

static void replication_run(const struct replication_case *c)
{
	static const char *const ro_columns[] = {"read_only"};
	/* A few of the real columns around the ones that are read, in the server's order. */
	static const char *const columns[] = {
		"Connection_name",   "Slave_SQL_State", "Master_Host",	 "Slave_IO_Running",
		"Slave_SQL_Running", "Last_SQL_Error",	"Last_IO_Error", "Seconds_Behind_Master",
	};
	const char *ro_cells[] = {cell(c->read_only)};
	const char *cells[2 * N_OF(columns)];
	struct config_cluster cc = {.type = CLUSTER_TYPE_REPLICATION, .max_lag_ms = c->max_lag_ms};
	struct probe_result res;

	for (size_t r = 0; r < c->n_replicas; r++) {
		const struct replica_row *row = &c->replicas[r];
		const char *values[] = {row->connection, "",	   "db1",
					row->io,	 row->sql, row->sql_error,
					row->io_error,	 row->lag};
		for (size_t k = 0; k < N_OF(columns); k++)
			cells[r * N_OF(columns) + k] = cell(values[k]);
	}
	struct verdict_table tables[2] = {
		{ro_columns, ro_cells, 1, c->read_only ? 1 : 0},
		{columns, cells, N_OF(columns), c->n_replicas},
	};
	result_init(&res);
	verdict_evaluate(&cc, tables, 2, &res);
	check_verdict(&res, c->serves, c->writable, c->lag_ms, c->state, c->error);
}

static void test_replication(void)
{
	for (size_t i = 0; i < N_OF(replication_cases); i++) {
		check_case("replication: %s", replication_cases[i].name);
		replication_run(&replication_cases[i]);
	}
}

/* The replica status lacks a column the verdict needs (another server's dialect). */
static void test_replication_missing_columns(void)
{
	static const char *const needed[] = {"Slave_IO_Running", "Slave_SQL_Running",
					     "Seconds_Behind_Master"};
	static const char *const ro_columns[] = {"read_only"};
	static const char *const ro_cells[] = {"1"};
	struct config_cluster cc = {.type = CLUSTER_TYPE_REPLICATION, .max_lag_ms = 10000};
	struct probe_result res;

	for (size_t skip = 0; skip < N_OF(needed); skip++) {
		const char *columns[N_OF(needed) - 1], *cells[N_OF(needed) - 1];
		size_t n = 0;
		char error[80];

		for (size_t k = 0; k < N_OF(needed); k++) {
			if (k == skip)
				continue;
			columns[n] = needed[k];
			cells[n++] = k == 2 ? "0" : "Yes";
		}
		struct verdict_table tables[2] = {{ro_columns, ro_cells, 1, 1},
						  {columns, cells, n, 1}};
		check_case("replication: no %s column", needed[skip]);
		snprintf(error, sizeof(error), "no %s column in the replica status", needed[skip]);
		result_init(&res);
		verdict_evaluate(&cc, tables, 2, &res);
		check_verdict(&res, false, false, -1, "unknown", error);
	}
}

/* ---- static ---------------------------------------------------------------------------- */

static void test_static(void)
{
	static const char *const columns[] = {"1"};
	static const char *const one[] = {"1"};
	struct config_cluster cc = {.type = CLUSTER_TYPE_STATIC};
	struct probe_result res;

	check_case("static: SELECT 1 answered");
	struct verdict_table t = {columns, one, 1, 1};
	result_init(&res);
	verdict_evaluate(&cc, &t, 1, &res);
	check_verdict(&res, true, true, -1, "up", NULL);

	check_case("static: no row");
	struct verdict_table empty = {columns, NULL, 1, 0};
	result_init(&res);
	verdict_evaluate(&cc, &empty, 1, &res);
	check_verdict(&res, false, false, -1, "unknown", "no row in the answer to SELECT 1");
}

int main(void)
{
	static const struct check_test tests[] = {
		{"verdict_queries", check_queries},
		{"galera states and switches", test_galera},
		{"galera odd shapes", test_galera_shapes},
		{"group replication states x roles", test_group_replication},
		{"group replication odd answers", test_group_replication_odd},
		{"replication", test_replication},
		{"replication missing columns", test_replication_missing_columns},
		{"positions and members", test_positions},
		{"static", test_static},
	};
	return CHECK_RUN(tests);
}
