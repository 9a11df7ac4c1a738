/*
 * The sampled feed of finished statements behind the dashboard's live strip
 * (GET /api/v1/events). Each worker writes into its own ring (one writer,
 * one reader: the stats thread), at most `rate` statements per second for the
 * whole daemon, and only while someone listens: with nobody listening a
 * statement costs one relaxed atomic load. What the rate leaves out is
 * counted, and the stream says how many.
 */
#ifndef SLUICE_FEED_H
#define SLUICE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct feed;

struct feed_item {
	uint64_t mono_ms;     /* when it finished (failover_now_ms clock) */
	uint32_t session;     /* sluice's connection id */
	uint32_t duration_us; /* sent to the last byte of the answer */
	uint16_t listener, cluster, node;
	uint8_t kind;	/* enum stat_kind */
	uint8_t reason; /* enum router_reason */
	char user[32];
};

/* A feed for n_workers writers, rate items per second at most (0: never). */
struct feed *feed_create(size_t n_workers, uint32_t rate) __attribute__((warn_unused_result));
void feed_destroy(struct feed *f);

/* Does anyone listen? Any thread; cheap. */
bool feed_wanted(const struct feed *f);

/* Worker `worker` finished a statement: keep it if the rate and its ring allow, else count
 * it as dropped. Worker thread only, for its own index. */
void feed_push(struct feed *f, size_t worker, const struct feed_item *item);

/* Stats thread: a listener came (+1) or went (-1). The first one gets the budget of one
 * period of period_ms at once (feed_take grants the next ones). */
void feed_listen(struct feed *f, int delta, uint32_t period_ms);

/* Stats thread, every ms milliseconds: allow the next rate * ms / 1000 items, take up to max
 * items from the rings into out (returns how many), and *dropped gets the count left out
 * since the last call. */
size_t feed_take(struct feed *f, uint32_t ms, struct feed_item *out, size_t max,
		 uint64_t *dropped);

#endif
