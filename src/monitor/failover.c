/*
 * Failover events in a fixed ring: written by the monitor, completed by
 * workers through atomics. See failover.h.
 */
#include "monitor/failover.h"

#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static struct failover_event ring[FAILOVER_KEEP];

/* Cluster and node names as the events keep them. Configurations come and
 * go with reloads, the events stay, so they point here instead: one copy
 * of each name, written by the monitor thread only and never changed. A
 * reload cannot rename (names need a restart), so the table fills only up
 * to the names of one configuration. */
#define KEPT_NAMES    512
#define KEPT_NAME_MAX 65
static char kept[KEPT_NAMES][KEPT_NAME_MAX];
static size_t n_kept; /* monitor thread only */

static const char *keep_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < n_kept; i++)
		if (strcmp(kept[i], name) == 0)
			return kept[i];
	if (n_kept == KEPT_NAMES || strlen(name) >= KEPT_NAME_MAX)
		return "?";
	memcpy(kept[n_kept], name, strlen(name) + 1);
	return kept[n_kept++];
}
static atomic_uint_fast64_t next_id = 1;

/* Events per cluster, ever: written by the monitor thread only (one
 * writer), read by the stats server. Clusters are told apart by name. */
#define COUNTED_CLUSTERS 64
static struct {
	_Atomic(const char *) cluster;
	atomic_uint_fast64_t n;
} counts[COUNTED_CLUSTERS];

static void count_event(const char *cluster)
{
	for (size_t i = 0; i < COUNTED_CLUSTERS; i++) {
		const char *c = atomic_load(&counts[i].cluster);
		if (!c) {
			atomic_store(&counts[i].n, 1);
			atomic_store(&counts[i].cluster, cluster);
			return;
		}
		if (strcmp(c, cluster) == 0) {
			atomic_fetch_add(&counts[i].n, 1);
			return;
		}
	}
}

/* Cluster configuration changes, newest at conf_next - 1; written by the
 * monitor thread only. */
#define CONF_KEEP 64
static struct failover_conf conf_ring[CONF_KEEP];
static atomic_uint_fast64_t conf_next;

void failover_conf_change(const char *cluster, const char *node, uint64_t conf_id,
			  uint64_t at_ms)
{
	uint64_t last = atomic_load(&conf_next);

	/* The first node to report a configuration tells it; the others
	 * repeat it. */
	for (uint64_t i = last; i > 0 && last - i < CONF_KEEP; i--) {
		const struct failover_conf *c = &conf_ring[(i - 1) % CONF_KEEP];
		if (strcmp(c->cluster, cluster) == 0) {
			if (c->conf_id == conf_id)
				return;
			break;
		}
	}
	conf_ring[last % CONF_KEEP] =
		(struct failover_conf){keep_name(cluster), keep_name(node), conf_id, at_ms};
	atomic_store(&conf_next, last + 1);
	log_info("failover", "cluster %s: Galera configuration %" PRIu64 " (seen first on %s)",
		 cluster, conf_id, node);
}

size_t failover_conf_changes(const char *cluster, uint64_t from_ms, uint64_t to_ms,
			     struct failover_conf *out, size_t max)
{
	uint64_t last = atomic_load(&conf_next);
	size_t n = 0;

	for (uint64_t i = last; i > 0 && last - i < CONF_KEEP && n < max; i--) {
		const struct failover_conf *c = &conf_ring[(i - 1) % CONF_KEEP];
		if (c->at_ms >= from_ms && c->at_ms <= to_ms && strcmp(c->cluster, cluster) == 0)
			out[n++] = *c;
	}
	return n;
}

uint64_t failover_count(const char *cluster)
{
	for (size_t i = 0; i < COUNTED_CLUSTERS; i++) {
		const char *c = atomic_load(&counts[i].cluster);
		if (!c)
			break;
		if (strcmp(c, cluster) == 0)
			return atomic_load(&counts[i].n);
	}
	return 0;
}

uint64_t failover_now_ms(void)
{
	return mono_ms();
}

struct failover_event *failover_begin(const char *cluster, const char *old_writer,
				      const char *new_writer, uint64_t failed_ms,
				      const atomic_uint *lost, unsigned lost_base)
{
	uint64_t id = atomic_fetch_add(&next_id, 1);
	struct failover_event *ev = &ring[id % FAILOVER_KEEP];

	/* A slot is reused after FAILOVER_KEEP events; a worker still
	 * pointing at it through an old snapshot at worst closes the newer
	 * event a moment early, which the monitor would not let happen
	 * within one interval anyway. */
	ev->id = id;
	ev->cluster = keep_name(cluster);
	ev->old_writer = keep_name(old_writer);
	ev->new_writer = keep_name(new_writer);
	ev->failed_ms = failed_ms;
	ev->switched_ms = failover_now_ms();
	atomic_store(&ev->first_write_ms, 0);
	ev->lost = lost;
	ev->lost_base = lost_base;
	count_event(ev->cluster);
	log_info("failover",
		 "#%" PRIu64 " cluster %s: writer %s -> %s, %" PRIu64 " ms after the first failure",
		 id, cluster, old_writer, new_writer ? new_writer : "(none)",
		 ev->switched_ms - failed_ms);
	return ev;
}

void failover_first_write(struct failover_event *ev, const char *writer)
{
	uint64_t zero = 0, now;

	if (!ev || atomic_load_explicit(&ev->first_write_ms, memory_order_relaxed))
		return;
	now = failover_now_ms();
	if (!atomic_compare_exchange_strong(&ev->first_write_ms, &zero, now))
		return;
	log_info("failover",
		 "#%" PRIu64 " cluster %s: first write on %s %" PRIu64
		 " ms after the first failure of %s (%" PRIu64 " ms after the switch); "
		 "%u session(s) lost a statement or transaction",
		 ev->id, ev->cluster, writer, now - ev->failed_ms, ev->old_writer,
		 now - ev->switched_ms, failover_sessions(ev));
}

unsigned failover_sessions(const struct failover_event *ev)
{
	return ev->lost ? atomic_load(ev->lost) - ev->lost_base : 0;
}

size_t failover_recent(struct failover_event *out, size_t max)
{
	uint64_t last = atomic_load(&next_id) - 1;
	size_t n = 0;

	for (uint64_t id = last; id > 0 && n < max && last - id < FAILOVER_KEEP; id--) {
		const struct failover_event *ev = &ring[id % FAILOVER_KEEP];
		if (ev->id != id)
			continue;
		out[n] = (struct failover_event){
			.id = ev->id,
			.cluster = ev->cluster,
			.old_writer = ev->old_writer,
			.new_writer = ev->new_writer,
			.failed_ms = ev->failed_ms,
			.switched_ms = ev->switched_ms,
			.lost = NULL,
			.lost_base = failover_sessions(ev), /* frozen: the count so far */
		};
		atomic_init(&out[n].first_write_ms, atomic_load(&ev->first_write_ms));
		n++;
	}
	return n;
}
