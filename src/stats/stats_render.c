/*
 * Rendering the stats: Prometheus text and JSON from a stats_view. The node
 * counters come from NODE_METRICS, so a counter added there shows up in both
 * without a change here. See stats_render.h.
 */
#include "stats/stats_render.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "config/config.h"
#include "monitor/failover.h"
#include "monitor/opstate.h"
#include "monitor/snapshot.h"

#define STATES(X) X(up) X(down) X(drain) X(maintenance)

const char *stats_node_state(const struct node_view *n)
{
	if (n->admin == NODE_ADMIN_MAINTENANCE)
		return "maintenance";
	if (n->admin == NODE_ADMIN_DRAIN)
		return "drain";
	return n->up ? "up" : "down";
}

void stats_node_why(const struct stats_view *v, const struct node_view *n, char *out,
		    size_t cap)
{
	char at[32] = "";

	if (n->admin != NODE_ADMIN_READY) {
		if (v && n->admin_ms) {
			time_t t = (time_t)((v->now_unix_ms - v->now_mono_ms + n->admin_ms) / 1000);
			struct tm tm;
			if (localtime_r(&t, &tm))
				strftime(at, sizeof(at), " at %H:%M:%S", &tm);
		}
		snprintf(out, cap, "%s by the operator%s",
			 n->admin == NODE_ADMIN_DRAIN ? "drained" : "in maintenance", at);
	} else if (!n->up && !n->last_error[0]) {
		snprintf(out, cap, "no check has passed yet");
	} else if (!n->up) {
		/* The check's own word first: unreachable, timed out, login failed,
		 * or what the node said about itself. */
		const char *kind = strcmp(n->state, "unreachable") == 0 ||
						   strcmp(n->state, "timed out") == 0 ||
						   strcmp(n->state, "login failed") == 0 ||
						   strcmp(n->state, "query failed") == 0
					   ? n->state
					   : "not serving";
		snprintf(out, cap, "%s%s: %s", kind,
			 strstr(n->last_error, "(111)") ? " (connection refused)" : "",
			 n->last_error);
	} else {
		out[0] = '\0';
	}
}

/* ---- JSON --------------------------------------------------------------------------------- */

void stats_json_string(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			evbuffer_add_printf(out, "\\u%04x", *p);
		else
			evbuffer_add(out, p, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* A monotonic ms time as wall-clock ms, or null for 0 (never). */
static void json_time(const struct stats_view *v, struct evbuffer *out, uint64_t mono_ms)
{
	if (!mono_ms)
		evbuffer_add_printf(out, "null");
	else
		evbuffer_add_printf(out, "%" PRIu64, v->now_unix_ms - v->now_mono_ms + mono_ms);
}

void stats_render_failover(const struct stats_view *v, const struct failover_event *ev,
			   struct evbuffer *out)
{
	uint64_t first_write = atomic_load(&ev->first_write_ms);

	evbuffer_add_printf(out, "{\"id\":%" PRIu64 ",\"cluster\":", ev->id);
	stats_json_string(out, ev->cluster);
	evbuffer_add_printf(out, ",\"old_writer\":");
	stats_json_string(out, ev->old_writer);
	evbuffer_add_printf(out, ",\"new_writer\":");
	if (ev->new_writer)
		stats_json_string(out, ev->new_writer);
	else
		evbuffer_add_printf(out, "null");
	evbuffer_add_printf(out, ",\"failed_ms\":");
	json_time(v, out, ev->failed_ms);
	evbuffer_add_printf(out, ",\"switched_ms\":");
	json_time(v, out, ev->switched_ms);
	evbuffer_add_printf(out, ",\"first_write_ms\":");
	json_time(v, out, first_write);
	/* failover_recent() froze the count in lost_base. */
	evbuffer_add_printf(out, ",\"sessions_affected\":%u", ev->lost ? 0 : ev->lost_base);
	evbuffer_add_printf(out, ",\"phases\":{\"detection_ms\":%" PRIu64 ",\"switch_ms\":0,"
				 "\"first_write_ms\":",
			    ev->switched_ms - ev->failed_ms);
	if (first_write)
		evbuffer_add_printf(out, "%" PRIu64, first_write - ev->switched_ms);
	else
		evbuffer_add_printf(out, "null");
	struct failover_conf conf[16];
	uint64_t until = first_write ? first_write : v->now_mono_ms;
	size_t n = failover_conf_changes(ev->cluster, ev->failed_ms > 5000 ? ev->failed_ms - 5000 : 0,
					 until + 1000, conf, 16);
	evbuffer_add_printf(out, "},\"conf_changes\":[");
	for (size_t i = n; i-- > 0;) {
		evbuffer_add_printf(out, "%s{\"time_ms\":", i + 1 < n ? "," : "");
		json_time(v, out, conf[i].at_ms);
		evbuffer_add_printf(out, ",\"conf_id\":%" PRIu64 ",\"node\":", conf[i].conf_id);
		stats_json_string(out, conf[i].node);
		evbuffer_add_printf(out, "}");
	}
	evbuffer_add_printf(out, "]}");
}

static void json_latency(struct evbuffer *out, const struct node_stats *ns)
{
	evbuffer_add_printf(out, "{");
	for (size_t k = 0; k < STAT_KINDS; k++) {
		double p50 = stats_quantile(ns, (enum stat_kind)k, 0.5);
		double p99 = stats_quantile(ns, (enum stat_kind)k, 0.99);
		evbuffer_add_printf(out, "%s\"%s\":", k ? "," : "", stat_kind_str((enum stat_kind)k));
		if (p50 < 0)
			evbuffer_add_printf(out, "null");
		else
			evbuffer_add_printf(out, "{\"p50\":%.6f,\"p99\":%.6f}", p50, p99);
	}
	evbuffer_add_printf(out, "}");
}

static void json_node(const struct stats_view *v, struct evbuffer *out,
		      const struct config_node *cn, const struct node_view *n, bool writer,
		      const struct node_stats *ns)
{
	char why[192];

	evbuffer_add_printf(out, "{\"name\":");
	stats_json_string(out, cn->name);
	evbuffer_add_printf(out, ",\"address\":");
	stats_json_string(out, cn->address.text);
	evbuffer_add_printf(out, ",\"state\":\"%s\",\"role\":\"%s\",\"weight\":%u,\"priority\":%u",
			    n ? stats_node_state(n) : "down", writer ? "writer" : "reader",
			    cn->weight, cn->priority);
	if (n)
		stats_node_why(v, n, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no check has finished yet");
	evbuffer_add_printf(out, ",\"why\":");
	stats_json_string(out, why);
	evbuffer_add_printf(out, ",\"check\":");
	if (n && n->positions[0].checked_ms) {
		evbuffer_add_printf(out, "{\"time_ms\":");
		json_time(v, out, n->positions[0].checked_ms);
		evbuffer_add_printf(out, ",\"duration_seconds\":%.6f,\"verdict\":",
				    n->check_us / 1e6);
		stats_json_string(out, n->state);
		evbuffer_add_printf(out, ",\"serving\":%s}", n->up ? "true" : "false");
	} else {
		evbuffer_add_printf(out, "null");
	}
	evbuffer_add_printf(out, ",\"counters\":{");
	bool comma = false;
#define JSON_COUNTER(field, kind, prom, help)                                                      \
	evbuffer_add_printf(out, "%s\"" #field "\":%" PRIu64, comma ? "," : "", ns->field);        \
	comma = true;
	NODE_METRICS(JSON_COUNTER)
#undef JSON_COUNTER
	evbuffer_add_printf(out, "},\"latency\":");
	json_latency(out, ns);
	evbuffer_add_printf(out, ",\"galera\":");
	if (n && n->galera.known)
		evbuffer_add_printf(out,
				    "{\"flow_control_paused_pct\":%.2f,\"recv_queue\":%" PRIu64
				    ",\"cert_failures_per_second\":%.3f,\"bf_aborts_per_second\":%.3f"
				    ",\"cluster_size\":%" PRIu64 ",\"cluster_conf_id\":%" PRIu64 "}}",
				    n->galera.fc_paused_pct, n->galera.recv_queue,
				    n->galera.cert_failures_ps, n->galera.bf_aborts_ps,
				    n->galera.cluster_size, n->galera.conf_id);
	else
		evbuffer_add_printf(out, "null}");
}

static void emit_to_evbuffer(void *arg, const char *text, size_t len)
{
	evbuffer_add(arg, text, len);
}

void stats_render_status(const struct stats_view *v, struct evbuffer *out)
{
	const struct config *cfg = v->cfg;

	evbuffer_add_printf(out, "{\"version\":");
	stats_json_string(out, v->version);
	evbuffer_add_printf(out,
			    ",\"uptime_seconds\":%.3f,\"now_ms\":%" PRIu64
			    ",\"admin\":%s,\"feed\":{\"max_per_second\":%u},\"clusters\":[",
			    v->uptime_seconds, v->now_unix_ms, v->admin ? "true" : "false",
			    v->feed_rate);
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct config_cluster *cc = &cfg->clusters[c];
		const struct cluster_view *cv = v->snap ? &v->snap->clusters[c] : NULL;
		int writer = cv ? cv->writer : -1;

		evbuffer_add_printf(out, "%s{\"name\":", c ? "," : "");
		stats_json_string(out, cc->name);
		evbuffer_add_printf(out, ",\"type\":\"%s\",\"writer\":", cluster_type_str(cc->type));
		if (writer >= 0)
			stats_json_string(out, cc->nodes[writer].name);
		else
			evbuffer_add_printf(out, "null");
		evbuffer_add_printf(out, ",\"nodes\":[");
		for (size_t n = 0; n < cc->n_nodes; n++) {
			if (n)
				evbuffer_add_printf(out, ",");
			json_node(v, out, &cc->nodes[n], cv ? &cv->nodes[n] : NULL, (int)n == writer,
				  &v->nodes[v->first[c] + n]);
		}
		evbuffer_add_printf(out, "],\"failovers\":[");
		bool comma = false;
		for (size_t i = 0; i < v->n_failovers; i++) {
			if (strcmp(v->failovers[i].cluster, cc->name) != 0)
				continue;
			if (comma)
				evbuffer_add_printf(out, ",");
			stats_render_failover(v, &v->failovers[i], out);
			comma = true;
		}
		evbuffer_add_printf(out, "]}");
	}
	evbuffer_add_printf(out, "],\"listeners\":[");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *lc = &cfg->listeners[i];
		evbuffer_add_printf(out, "%s{\"name\":", i ? "," : "");
		stats_json_string(out, lc->name);
		evbuffer_add_printf(out, ",\"bind\":");
		stats_json_string(out, lc->bind.text);
		evbuffer_add_printf(out, ",\"mode\":\"%s\",\"cluster\":", listener_mode_str(lc->mode));
		stats_json_string(out, lc->cluster);
		evbuffer_add_printf(out,
				    ",\"connections_open\":%" PRIu64 ",\"connections_total\":%" PRIu64
				    ",\"logins_failed\":%" PRIu64 "}",
				    v->listeners[i].open, v->listeners[i].accepted,
				    v->listeners[i].logins_failed);
	}
	evbuffer_add_printf(out, "],\"routing\":{\"reasons\":{");
	for (size_t r = 1; r < ROUTER_REASON_COUNT; r++)
		evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, r > 1 ? "," : "",
				    router_reason_str((enum router_reason)r), v->reasons[r]);
	evbuffer_add_printf(out, "}},\"config\":");
	config_emit_json(cfg, emit_to_evbuffer, out);
	evbuffer_add_printf(out, "}");
}

/* ---- Prometheus ---------------------------------------------------------------------------- */

static void prom_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP sluice_%s %s\n# TYPE sluice_%s %s\n", name, help, name,
			    type);
}

/* A label value, escaped as the text format wants. */
static void prom_value(struct evbuffer *out, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\' || *p == '"')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p == '\n')
			evbuffer_add_printf(out, "\\n");
		else
			evbuffer_add(out, p, 1);
	}
}

/* sluice_NAME{cluster="c",node="n"[,extra]} */
static void prom_node(struct evbuffer *out, const char *name, const char *cluster,
		      const char *node, const char *extra)
{
	evbuffer_add_printf(out, "sluice_%s{cluster=\"", name);
	prom_value(out, cluster);
	evbuffer_add_printf(out, "\",node=\"");
	prom_value(out, node);
	evbuffer_add_printf(out, "\"%s%s} ", extra ? "," : "", extra ? extra : "");
}

/* Call each(v, out, cluster index, node index) for every node. */
#define FOR_EACH_NODE(v, c, n)                                                                     \
	for (size_t c = 0; c < (v)->cfg->n_clusters; c++)                                          \
		for (size_t n = 0; n < (v)->cfg->clusters[c].n_nodes; n++)

void stats_render_prometheus(const struct stats_view *v, struct evbuffer *out)
{
	const struct config *cfg = v->cfg;
	char extra[96];

	prom_head(out, "build_info", "gauge", "sluice's version (always 1)");
	evbuffer_add_printf(out, "sluice_build_info{version=\"");
	prom_value(out, v->version);
	evbuffer_add_printf(out, "\"} 1\n");
	prom_head(out, "uptime_seconds", "gauge", "seconds since sluice started");
	evbuffer_add_printf(out, "sluice_uptime_seconds %.3f\n", v->uptime_seconds);

	prom_head(out, "node_state", "gauge",
		  "1 for the state the node is in (up, down, drain, maintenance), else 0");
	FOR_EACH_NODE(v, c, n)
	{
		const struct node_view *nv = v->snap ? &v->snap->clusters[c].nodes[n] : NULL;
		const char *now = nv ? stats_node_state(nv) : "down";
#define PROM_STATE(st)                                                                             \
	prom_node(out, "node_state", cfg->clusters[c].name, cfg->clusters[c].nodes[n].name,        \
		  "state=\"" #st "\"");                                                           \
	evbuffer_add_printf(out, "%d\n", strcmp(now, #st) == 0);
		STATES(PROM_STATE)
#undef PROM_STATE
	}
	prom_head(out, "node_writer", "gauge", "1 for the cluster's writer, else 0");
	FOR_EACH_NODE(v, c, n)
	{
		prom_node(out, "node_writer", cfg->clusters[c].name, cfg->clusters[c].nodes[n].name,
			  NULL);
		evbuffer_add_printf(out, "%d\n", v->snap && v->snap->clusters[c].writer == (int)n);
	}
	prom_head(out, "health_check_duration_seconds", "gauge", "duration of the last check");
	FOR_EACH_NODE(v, c, n)
	{
		const struct node_view *nv = v->snap ? &v->snap->clusters[c].nodes[n] : NULL;
		prom_node(out, "health_check_duration_seconds", cfg->clusters[c].name,
			  cfg->clusters[c].nodes[n].name, NULL);
		evbuffer_add_printf(out, "%.6f\n", nv ? nv->check_us / 1e6 : 0.0);
	}
	prom_head(out, "health_check_ok", "gauge",
		  "1 when the node passed its checks (fall/rise applied) and serves, else 0");
	FOR_EACH_NODE(v, c, n)
	{
		prom_node(out, "health_check_ok", cfg->clusters[c].name,
			  cfg->clusters[c].nodes[n].name, NULL);
		evbuffer_add_printf(out, "%d\n", v->snap && v->snap->clusters[c].nodes[n].up);
	}

	/* Galera's own figures, from the monitor's last two checks. */
	static const struct {
		const char *name, *help;
		size_t field; /* offsetof struct node_galera */
		bool ratio;   /* a percentage, shown as 0..1 */
	} galera[] = {
		{"galera_flow_control_paused_ratio",
		 "share of the time between two checks flow control paused replication",
		 offsetof(struct node_galera, fc_paused_pct), true},
		{"galera_recv_queue_length", "write sets waiting to be applied on the node",
		 offsetof(struct node_galera, recv_queue), false},
		{"galera_cluster_size", "members of the node's cluster component",
		 offsetof(struct node_galera, cluster_size), false},
		{"galera_cluster_conf_id", "the node's cluster configuration id",
		 offsetof(struct node_galera, conf_id), false},
	};
	for (size_t g = 0; g < sizeof(galera) / sizeof(galera[0]); g++) {
		prom_head(out, galera[g].name, "gauge", galera[g].help);
		FOR_EACH_NODE(v, c, n)
		{
			const struct node_view *nv = v->snap ? &v->snap->clusters[c].nodes[n] : NULL;
			if (!nv || !nv->galera.known)
				continue;
			const char *f = (const char *)&nv->galera + galera[g].field;
			prom_node(out, galera[g].name, cfg->clusters[c].name,
				  cfg->clusters[c].nodes[n].name, NULL);
			if (galera[g].ratio)
				evbuffer_add_printf(out, "%.4f\n", *(const double *)(const void *)f / 100);
			else
				evbuffer_add_printf(out, "%" PRIu64 "\n",
						    *(const uint64_t *)(const void *)f);
		}
	}

	/* The node counters of NODE_METRICS; the per-kind ones as one metric. */
#define PROM_COUNTER(field, kind, prom, help)                                                      \
	if (strcmp(#field, "reads") && strcmp(#field, "writes") && strcmp(#field, "transaction")) { \
		prom_head(out, "node_" prom, #kind, help);                                         \
		FOR_EACH_NODE(v, c, n)                                                             \
		{                                                                                  \
			prom_node(out, "node_" prom, cfg->clusters[c].name,                        \
				  cfg->clusters[c].nodes[n].name, NULL);                           \
			evbuffer_add_printf(out, "%" PRIu64 "\n",                                 \
					    v->nodes[v->first[c] + n].field);                      \
		}                                                                                  \
	}
	NODE_METRICS(PROM_COUNTER)
#undef PROM_COUNTER
	prom_head(out, "node_client_statements_total", "counter",
		  "client statements by kind: read, write, or inside a transaction");
	FOR_EACH_NODE(v, c, n)
	{
		const struct node_stats *ns = &v->nodes[v->first[c] + n];
		const uint64_t by_kind[STAT_KINDS] = {ns->reads, ns->writes, ns->transaction};
		for (size_t k = 0; k < STAT_KINDS; k++) {
			snprintf(extra, sizeof(extra), "kind=\"%s\"",
				 stat_kind_str((enum stat_kind)k));
			prom_node(out, "node_client_statements_total", cfg->clusters[c].name,
				  cfg->clusters[c].nodes[n].name, extra);
			evbuffer_add_printf(out, "%" PRIu64 "\n", by_kind[k]);
		}
	}
	prom_head(out, "statement_duration_seconds", "histogram",
		  "client statements from sent to the node to the last byte of the answer");
	FOR_EACH_NODE(v, c, n)
	{
		const struct node_stats *ns = &v->nodes[v->first[c] + n];
		for (size_t k = 0; k < STAT_KINDS; k++) {
			const char *kind = stat_kind_str((enum stat_kind)k);
			uint64_t cum = 0;
			for (size_t b = 0; b <= STAT_BUCKETS; b++) {
				cum += ns->hist[k][b];
				if (b < STAT_BUCKETS)
					snprintf(extra, sizeof(extra), "kind=\"%s\",le=\"%g\"", kind,
						 stat_bucket_le[b]);
				else
					snprintf(extra, sizeof(extra), "kind=\"%s\",le=\"+Inf\"",
						 kind);
				prom_node(out, "statement_duration_seconds_bucket",
					  cfg->clusters[c].name, cfg->clusters[c].nodes[n].name,
					  extra);
				evbuffer_add_printf(out, "%" PRIu64 "\n", cum);
			}
			snprintf(extra, sizeof(extra), "kind=\"%s\"", kind);
			prom_node(out, "statement_duration_seconds_sum", cfg->clusters[c].name,
				  cfg->clusters[c].nodes[n].name, extra);
			evbuffer_add_printf(out, "%.6f\n", ns->hist_sum_us[k] / 1e6);
			prom_node(out, "statement_duration_seconds_count", cfg->clusters[c].name,
				  cfg->clusters[c].nodes[n].name, extra);
			evbuffer_add_printf(out, "%" PRIu64 "\n", cum);
		}
	}

	static const struct {
		const char *name, *type, *help;
		size_t field; /* offsetof struct listener_counts */
	} listener_metrics[] = {
		{"listener_connections", "gauge", "client connections open",
		 offsetof(struct listener_counts, open)},
		{"listener_accepted_total", "counter", "client connections accepted",
		 offsetof(struct listener_counts, accepted)},
		{"listener_login_failures_total", "counter",
		 "client logins refused (wrong password or unknown user)",
		 offsetof(struct listener_counts, logins_failed)},
	};
	for (size_t m = 0; m < sizeof(listener_metrics) / sizeof(listener_metrics[0]); m++) {
		prom_head(out, listener_metrics[m].name, listener_metrics[m].type,
			  listener_metrics[m].help);
		for (size_t i = 0; i < cfg->n_listeners; i++) {
			const char *counts = (const char *)&v->listeners[i];
			evbuffer_add_printf(out, "sluice_%s{listener=\"", listener_metrics[m].name);
			prom_value(out, cfg->listeners[i].name);
			evbuffer_add_printf(out, "\"} %" PRIu64 "\n",
					    *(const uint64_t *)(const void *)(counts +
									      listener_metrics[m].field));
		}
	}
	prom_head(out, "routing_decisions_total", "counter",
		  "statements routed other than by their kind, and pins, by reason");
	for (size_t r = 1; r < ROUTER_REASON_COUNT; r++)
		evbuffer_add_printf(out, "sluice_routing_decisions_total{reason=\"%s\"} %" PRIu64 "\n",
				    router_reason_str((enum router_reason)r), v->reasons[r]);
	prom_head(out, "session_closes_total", "counter", "client sessions ended, by reason");
	for (size_t r = 0; r < CLOSE_REASON_COUNT; r++)
		evbuffer_add_printf(out, "sluice_session_closes_total{reason=\"%s\"} %" PRIu64 "\n",
				    close_reason_str((enum close_reason)r), v->closes[r]);

	prom_head(out, "failovers_total", "counter", "times the writer was lost and replaced");
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		evbuffer_add_printf(out, "sluice_failovers_total{cluster=\"");
		prom_value(out, cfg->clusters[c].name);
		evbuffer_add_printf(out, "\"} %" PRIu64 "\n", failover_count(cfg->clusters[c].name));
	}
	prom_head(out, "last_failover_phase_seconds", "gauge",
		  "the last failover's phases: detection (first failure to the switch), "
		  "first_write (switch to the first write acknowledged on the new writer)");
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct failover_event *ev = NULL;
		for (size_t i = 0; i < v->n_failovers && !ev; i++)
			if (strcmp(v->failovers[i].cluster, cfg->clusters[c].name) == 0)
				ev = &v->failovers[i];
		if (!ev)
			continue;
		uint64_t first_write = atomic_load(&ev->first_write_ms);
		evbuffer_add_printf(out, "sluice_last_failover_phase_seconds{cluster=\"");
		prom_value(out, cfg->clusters[c].name);
		evbuffer_add_printf(out, "\",phase=\"detection\"} %.3f\n",
				    (ev->switched_ms - ev->failed_ms) / 1e3);
		if (first_write) {
			evbuffer_add_printf(out, "sluice_last_failover_phase_seconds{cluster=\"");
			prom_value(out, cfg->clusters[c].name);
			evbuffer_add_printf(out, "\",phase=\"first_write\"} %.3f\n",
					    (first_write - ev->switched_ms) / 1e3);
		}
	}
}
