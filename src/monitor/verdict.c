/*
 * The cluster types' health verdicts: which SQL asks a node how it is, and what its answer
 * means for routing. See verdict.h; the rules per type are with each evaluator below and in
 * DESIGN.md ("Health and failover").
 */
#include "monitor/verdict.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* Galera: the node's own view of itself (status), the last write it committed and the members
 * of its component as it sees them, and the two switches an operator uses to take a node out
 * by hand (variables). information_schema answers even when the node is non-Primary, not
 * ready or rejects queries, which is exactly when we need the answer. */
static const char *const galera_queries[] = {
	"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
	"WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE', 'WSREP_LOCAL_STATE_COMMENT', "
	"'WSREP_READY', 'WSREP_CLUSTER_STATUS', 'WSREP_LAST_COMMITTED', "
	"'WSREP_INCOMING_ADDRESSES', 'WSREP_FLOW_CONTROL_PAUSED_NS', 'WSREP_LOCAL_RECV_QUEUE', "
	"'WSREP_LOCAL_CERT_FAILURES', 'WSREP_LOCAL_BF_ABORTS', 'WSREP_CLUSTER_SIZE', "
	"'WSREP_CLUSTER_CONF_ID') "
	"UNION ALL "
	"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES "
	"WHERE VARIABLE_NAME IN ('WSREP_DESYNC', 'WSREP_REJECT_QUERIES')",
};

/* MySQL Group Replication: this member's own row. */
static const char *const group_replication_queries[] = {
	"SELECT MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members "
	"WHERE MEMBER_ID = @@server_uuid",
};

/* MariaDB primary/replica: the writer switch and the GTID position the server has (its own
 * binlog's or what it applied, whichever is newer), then every replication connection
 * (multi-source replicas have several; a primary has none). */
static const char *const replication_queries[] = {
	"SELECT @@global.read_only AS read_only, @@global.gtid_current_pos AS gtid_current_pos",
	"SHOW ALL SLAVES STATUS",
};

static const char *const static_queries[] = {
	"SELECT 1",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

bool verdict_has_positions(enum cluster_type type)
{
	return type == CLUSTER_TYPE_GALERA || type == CLUSTER_TYPE_REPLICATION;
}

const char *const *verdict_queries(enum cluster_type type, size_t *n)
{
	switch (type) {
	case CLUSTER_TYPE_GALERA:
		*n = N_OF(galera_queries);
		return galera_queries;
	case CLUSTER_TYPE_GROUP_REPLICATION:
		*n = N_OF(group_replication_queries);
		return group_replication_queries;
	case CLUSTER_TYPE_REPLICATION:
		*n = N_OF(replication_queries);
		return replication_queries;
	case CLUSTER_TYPE_STATIC:
		break;
	}
	*n = N_OF(static_queries);
	return static_queries;
}

/* Record "answered, not serving" and why. state is left to the caller. */
static void not_serving(struct probe_result *res, const char *fmt, ...) SLUICE_PRINTF(2, 3);

static void not_serving(struct probe_result *res, const char *fmt, ...)
{
	va_list ap;

	res->serves = false;
	res->writable = false;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

static void set_state(struct probe_result *res, const char *fmt, ...) SLUICE_PRINTF(2, 3);

static void set_state(struct probe_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->state, sizeof(res->state), fmt, ap);
	va_end(ap);
}

/* Index of column name in t, or -1. */
static long table_column(const struct verdict_table *t, const char *name)
{
	for (size_t c = 0; c < t->n_cols; c++)
		if (t->names[c] && strcasecmp(t->names[c], name) == 0)
			return (long)c;
	return -1;
}

static const char *table_cell(const struct verdict_table *t, size_t row, long col)
{
	return t->cells[row * t->n_cols + (size_t)col];
}

/* A name/value table (first column the name, second the value, as information_schema and
 * SHOW STATUS answer): the value of name. Returns false when no row has that name; *value
 * is then NULL, and it is also NULL for a row whose value is SQL NULL. */
static bool table_lookup(const struct verdict_table *t, const char *name, const char **value)
{
	*value = NULL;
	if (t->n_cols < 2)
		return false;
	for (size_t r = 0; r < t->n_rows; r++) {
		const char *key = table_cell(t, r, 0);
		if (key && strcasecmp(key, name) == 0) {
			*value = table_cell(t, r, 1);
			return true;
		}
	}
	return false;
}

/* Boolean server values: ON/OFF as information_schema writes them, 1/0 as @@var does. */
static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"ON", "1", "YES", "TRUE"};
	static const char *const no[] = {"OFF", "0", "NO", "FALSE"};

	if (!s)
		return false;
	for (size_t i = 0; i < N_OF(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* A whole decimal number >= 0, nothing around it. */
static bool parse_count(const char *s, int64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* ---- Galera ---------------------------------------------------------------------------- */

/* Galera's own health figures, for the stats: known only when all are there. */
static void galera_figures(const struct verdict_table *t, struct probe_galera *g)
{
	static const char *const names[] = {
		"wsrep_flow_control_paused_ns", "wsrep_local_recv_queue", "wsrep_local_cert_failures",
		"wsrep_local_bf_aborts",	"wsrep_cluster_size",	  "wsrep_cluster_conf_id",
	};
	int64_t v[N_OF(names)];
	const char *text;

	g->known = false;
	for (size_t i = 0; i < N_OF(names); i++)
		if (!table_lookup(t, names[i], &text) || !parse_count(text, &v[i]))
			return;
	g->fc_paused_ns = (uint64_t)v[0];
	g->recv_queue = (uint64_t)v[1];
	g->cert_failures = (uint64_t)v[2];
	g->bf_aborts = (uint64_t)v[3];
	g->cluster_size = (uint64_t)v[4];
	g->conf_id = (uint64_t)v[5];
	g->known = true;
}

/* wsrep_local_state numbers, for a server that did not send the comment. */
static const char *galera_state_name(int64_t state)
{
	switch (state) {
	case 1:
		return "Joining";
	case 2:
		return "Donor/Desynced";
	case 3:
		return "Joined";
	case 4:
		return "Synced";
	}
	return NULL;
}

/*
 * Serves when wsrep_local_state is 4 (Synced), wsrep_ready ON, wsrep_cluster_status Primary,
 * wsrep_desync OFF and wsrep_reject_queries NONE. A donor (state 2, not desynced by hand)
 * serves reads when donor_serves_reads is set. Writable: serves and Synced. The first rule
 * broken is the one reported; state is the node's own word for its local state.
 */
static void galera_evaluate(const struct config_cluster *cc, const struct verdict_table *t,
			    struct probe_result *res)
{
	const char *local_state, *comment, *ready_s, *cluster_status, *desync_s, *reject;
	int64_t state;
	bool ready, desync;

	table_lookup(t, "wsrep_local_state_comment", &comment);
	if (!table_lookup(t, "wsrep_local_state", &local_state) ||
	    !parse_count(local_state, &state)) {
		set_state(res, "not Galera");
		not_serving(res, "no wsrep_local_state in the answer (not a Galera node?)");
		return;
	}
	const char *committed, *members;
	int64_t seqno;
	if (table_lookup(t, "wsrep_last_committed", &committed) && parse_count(committed, &seqno))
		res->position = seqno;
	if (table_lookup(t, "wsrep_incoming_addresses", &members) && members)
		snprintf(res->members, sizeof(res->members), "%s", members);
	galera_figures(t, &res->galera);
	if (comment && *comment)
		set_state(res, "%s", comment);
	else if (galera_state_name(state))
		set_state(res, "%s", galera_state_name(state));
	else
		set_state(res, "state %" PRId64, state);

	if (!table_lookup(t, "wsrep_cluster_status", &cluster_status) || !cluster_status) {
		not_serving(res, "no wsrep_cluster_status in the answer");
		return;
	}
	if (strcasecmp(cluster_status, "Primary") != 0) {
		not_serving(res, "wsrep_cluster_status %s", cluster_status);
		return;
	}
	if (!table_lookup(t, "wsrep_ready", &ready_s) || !parse_bool(ready_s, &ready)) {
		not_serving(res, "no wsrep_ready in the answer");
		return;
	}
	if (!ready) {
		not_serving(res, "wsrep_ready OFF");
		return;
	}
	if (!table_lookup(t, "wsrep_reject_queries", &reject) || !reject) {
		not_serving(res, "no wsrep_reject_queries in the answer");
		return;
	}
	if (strcasecmp(reject, "NONE") != 0) {
		not_serving(res, "wsrep_reject_queries %s", reject);
		return;
	}
	if (!table_lookup(t, "wsrep_desync", &desync_s) || !parse_bool(desync_s, &desync)) {
		not_serving(res, "no wsrep_desync in the answer");
		return;
	}
	if (desync) {
		not_serving(res, "wsrep_desync ON");
		return;
	}
	if (state == 4) {
		res->serves = true;
		res->writable = true;
		return;
	}
	/* A donor is never made the writer; the writer that becomes a donor
	 * (Galera picks one for a returning node) may keep the role. */
	res->donor = state == 2;
	if (state == 2 && cc->donor_serves_reads) {
		res->serves = true; /* reads only */
		return;
	}
	not_serving(res, "wsrep_local_state %" PRId64 " (%s)", state, res->state);
}

/* ---- Group Replication ----------------------------------------------------------------- */

/*
 * This member's row: serves when MEMBER_STATE is ONLINE, writable when it is also the
 * PRIMARY. No row means the server is not in a group (plugin not running, never joined).
 */
static void group_replication_evaluate(const struct verdict_table *t, struct probe_result *res)
{
	long state_col = table_column(t, "MEMBER_STATE"), role_col = table_column(t, "MEMBER_ROLE");
	const char *state, *role;

	if (state_col < 0 || role_col < 0) {
		set_state(res, "unknown");
		not_serving(res, "no %s column in the answer",
			    state_col < 0 ? "MEMBER_STATE" : "MEMBER_ROLE");
		return;
	}
	if (t->n_rows == 0) {
		set_state(res, "not a member");
		not_serving(res, "not a group member (no row in replication_group_members)");
		return;
	}
	state = table_cell(t, 0, state_col);
	role = table_cell(t, 0, role_col);
	if (!state || !*state) {
		set_state(res, "unknown");
		not_serving(res, "MEMBER_STATE is empty");
		return;
	}
	if (role && *role)
		set_state(res, "%s %s", state, role);
	else
		set_state(res, "%s", state);
	if (strcasecmp(state, "ONLINE") != 0) {
		not_serving(res, "MEMBER_STATE %s", state);
		return;
	}
	res->serves = true;
	res->writable = role && strcasecmp(role, "PRIMARY") == 0;
}

/* ---- Primary/replica ------------------------------------------------------------------- */

/* "10 s", or "1500 ms" when max_lag is not whole seconds. */
static void format_limit(char *buf, size_t cap, uint32_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, cap, "%" PRIu32 " s", ms / 1000);
	else
		snprintf(buf, cap, "%" PRIu32 " ms", ms);
}

/* A lag beyond this many seconds (over 31 years) is reported as this, so that it still
 * converts to milliseconds. */
#define VERDICT_LAG_CAP_S ((int64_t)1000000000)

/* Judge one replication connection (a row of SHOW ALL SLAVES STATUS). Returns true when it
 * replicates within max_lag; otherwise fills res's error and state. *lag_s is its
 * Seconds_Behind_Master when known (also when too far behind), -1 when not. */
static bool replica_row_ok(const struct config_cluster *cc, const struct verdict_table *t,
			   size_t row, int64_t *lag_s, struct probe_result *res)
{
	long io_col = table_column(t, "Slave_IO_Running");
	long sql_col = table_column(t, "Slave_SQL_Running");
	long lag_col = table_column(t, "Seconds_Behind_Master");
	long name_col = table_column(t, "Connection_name");
	long io_err_col = table_column(t, "Last_IO_Error");
	long sql_err_col = table_column(t, "Last_SQL_Error");
	const char *name = name_col >= 0 ? table_cell(t, row, name_col) : NULL;
	char who[80] = "replica";
	char limit[32];

	*lag_s = -1;

	if (io_col < 0 || sql_col < 0 || lag_col < 0) {
		set_state(res, "unknown");
		not_serving(res, "no %s column in the replica status",
			    io_col < 0	  ? "Slave_IO_Running"
			    : sql_col < 0 ? "Slave_SQL_Running"
					  : "Seconds_Behind_Master");
		return false;
	}
	if (name && *name)
		snprintf(who, sizeof(who), "replica '%.64s'", name);

	const char *io = table_cell(t, row, io_col), *sql = table_cell(t, row, sql_col);
	const char *lag = table_cell(t, row, lag_col);
	if (!io || strcasecmp(io, "Yes") != 0) {
		const char *why = io_err_col >= 0 ? table_cell(t, row, io_err_col) : NULL;
		set_state(res, "replica IO %s", io ? io : "NULL");
		not_serving(res, "%s: Slave_IO_Running %s%s%s", who, io ? io : "NULL",
			    why && *why ? ": " : "", why && *why ? why : "");
		return false;
	}
	if (!sql || strcasecmp(sql, "Yes") != 0) {
		const char *why = sql_err_col >= 0 ? table_cell(t, row, sql_err_col) : NULL;
		set_state(res, "replica SQL %s", sql ? sql : "NULL");
		not_serving(res, "%s: Slave_SQL_Running %s%s%s", who, sql ? sql : "NULL",
			    why && *why ? ": " : "", why && *why ? why : "");
		return false;
	}
	if (!lag) {
		set_state(res, "replica lag unknown");
		not_serving(res, "%s: Seconds_Behind_Master is NULL", who);
		return false;
	}
	if (!parse_count(lag, lag_s)) {
		set_state(res, "replica lag unknown");
		not_serving(res, "%s: Seconds_Behind_Master '%.32s' is not a number", who, lag);
		return false;
	}
	if (*lag_s > VERDICT_LAG_CAP_S)
		*lag_s = VERDICT_LAG_CAP_S;
	if (*lag_s * 1000 > (int64_t)cc->max_lag_ms) {
		format_limit(limit, sizeof(limit), cc->max_lag_ms);
		set_state(res, "replica lag %" PRId64 " s", *lag_s);
		not_serving(res, "%s %" PRId64 " s behind (max_lag %s)", who, *lag_s, limit);
		return false;
	}
	return true;
}

/*
 * writable = @@read_only is 0. No replication connection: a primary (read_only 0) serves and
 * takes writes; a read-only server without replication serves reads. With replication
 * connections, every one must have both threads running and a known Seconds_Behind_Master
 * within max_lag; lag_ms is the largest of them (seconds, the server's resolution).
 */
static void replication_evaluate(const struct config_cluster *cc, const struct verdict_table *ro,
				 const struct verdict_table *replicas, struct probe_result *res)
{
	bool read_only;
	int64_t worst = -1;

	long ro_col = table_column(ro, "read_only"), pos_col = table_column(ro, "gtid_current_pos");

	if (ro->n_rows < 1 || ro_col < 0 || !parse_bool(table_cell(ro, 0, ro_col), &read_only)) {
		set_state(res, "unknown");
		not_serving(res, "no @@read_only in the answer");
		return;
	}
	if (pos_col >= 0)
		res->position = verdict_gtid_seq(table_cell(ro, 0, pos_col));
	if (replicas->n_rows == 0) {
		set_state(res, "%s", read_only ? "read-only" : "primary");
		res->serves = true;
		res->writable = !read_only;
		return;
	}
	for (size_t r = 0; r < replicas->n_rows; r++) {
		int64_t lag_s;
		if (!replica_row_ok(cc, replicas, r, &lag_s, res)) {
			/* Still report a lag we know of (too far behind): the stats show it. */
			if (lag_s >= 0)
				res->lag_ms = lag_s * 1000;
			return;
		}
		if (lag_s > worst)
			worst = lag_s;
	}
	res->lag_ms = worst * 1000;
	set_state(res, "replica lag %" PRId64 " s", worst);
	res->serves = true;
	res->writable = !read_only;
}

int64_t verdict_gtid_seq(const char *pos)
{
	const char *p = pos;
	int64_t seq;

	if (!pos)
		return -1;
	if (!*pos)
		return 0; /* nothing written yet */
	/* domain-server-seq, one of them only */
	for (int dash = 0; dash < 2; dash++) {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != '-')
			return -1;
		p++;
	}
	return parse_count(p, &seq) ? seq : -1;
}

/* ---- static ---------------------------------------------------------------------------- */

static void static_evaluate(const struct verdict_table *t, struct probe_result *res)
{
	if (t->n_rows < 1) {
		set_state(res, "unknown");
		not_serving(res, "no row in the answer to SELECT 1");
		return;
	}
	set_state(res, "up");
	res->serves = true;
	res->writable = true;
}

void verdict_evaluate(const struct config_cluster *cc, const struct verdict_table *tables, size_t n,
		      struct probe_result *res)
{
	size_t want;

	verdict_queries(cc->type, &want);
	BUG_ON(n != want);
	res->ok = true;
	res->serves = false;
	res->writable = false;
	res->donor = false;
	res->lag_ms = -1;
	res->position = -1;
	res->members[0] = '\0';
	res->galera.known = false;
	res->error[0] = '\0';
	res->state[0] = '\0';
	switch (cc->type) {
	case CLUSTER_TYPE_GALERA:
		galera_evaluate(cc, &tables[0], res);
		break;
	case CLUSTER_TYPE_GROUP_REPLICATION:
		group_replication_evaluate(&tables[0], res);
		break;
	case CLUSTER_TYPE_REPLICATION:
		replication_evaluate(cc, &tables[0], &tables[1], res);
		break;
	case CLUSTER_TYPE_STATIC:
		static_evaluate(&tables[0], res);
		break;
	}
}
