/*
 * Counter shards and latency histograms: the few operations on them. See
 * stats.h.
 */
#include "stats/stats.h"

/* From 100 us (a point select on loopback) to 10 s, about three per decade. */
const double stat_bucket_le[STAT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05,	0.1,	 0.25,	 0.5,	1,	2.5,	5,     10,
};

const char *stat_kind_str(enum stat_kind kind)
{
	switch (kind) {
	case STAT_READ:
		return "read";
	case STAT_WRITE:
		return "write";
	case STAT_TRANSACTION:
		return "transaction";
	case STAT_KINDS:
		break;
	}
	return "?";
}

void stats_observe(struct node_stats *ns, enum stat_kind kind, uint64_t us)
{
	size_t b = 0;

	while (b < STAT_BUCKETS && (double)us > stat_bucket_le[b] * 1e6)
		b++;
	ns->hist[kind][b]++;
	ns->hist_sum_us[kind] += us;
	if (kind == STAT_READ)
		ns->reads++;
	else if (kind == STAT_WRITE)
		ns->writes++;
	else
		ns->transaction++;
}

void stats_add(struct node_stats *a, const struct node_stats *b)
{
#define ADD_FIELD(name, kind, prom, help) a->name += b->name;
	NODE_METRICS(ADD_FIELD)
#undef ADD_FIELD
	for (size_t k = 0; k < STAT_KINDS; k++) {
		for (size_t i = 0; i <= STAT_BUCKETS; i++)
			a->hist[k][i] += b->hist[k][i];
		a->hist_sum_us[k] += b->hist_sum_us[k];
	}
}

double stats_quantile(const struct node_stats *ns, enum stat_kind kind, double q)
{
	uint64_t total = 0, seen = 0;

	for (size_t i = 0; i <= STAT_BUCKETS; i++)
		total += ns->hist[kind][i];
	if (total == 0)
		return -1;
	double rank = q * (double)total;
	for (size_t i = 0; i <= STAT_BUCKETS; i++) {
		uint64_t n = ns->hist[kind][i];
		if (n && (double)(seen + n) >= rank) {
			if (i == STAT_BUCKETS)
				return stat_bucket_le[STAT_BUCKETS - 1];
			double lo = i ? stat_bucket_le[i - 1] : 0, hi = stat_bucket_le[i];
			return lo + (hi - lo) * ((rank - (double)seen) / (double)n);
		}
		seen += n;
	}
	return stat_bucket_le[STAT_BUCKETS - 1];
}
