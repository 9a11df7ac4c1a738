/*
 * The statement feed: per-worker single-producer single-consumer rings and a
 * shared budget. See feed.h.
 */
#include "stats/feed.h"

#include <stdatomic.h>
#include <stdlib.h>

#define RING_SIZE 256 /* per worker; a power of two */

struct ring {
	_Alignas(64) atomic_size_t head; /* next slot the worker writes */
	_Alignas(64) atomic_size_t tail; /* next slot the stats thread reads */
	struct feed_item items[RING_SIZE];
};

struct feed {
	atomic_int listeners;
	atomic_int_fast64_t budget; /* items the workers may still push in this period */
	atomic_uint_fast64_t dropped;
	uint32_t rate;
	size_t n_rings;
	struct ring *rings;
};

struct feed *feed_create(size_t n_workers, uint32_t rate)
{
	struct feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->rings = aligned_alloc(64, sizeof(*f->rings) * (n_workers ? n_workers : 1));
	if (!f->rings) {
		free(f);
		return NULL;
	}
	for (size_t i = 0; i < n_workers; i++) {
		atomic_init(&f->rings[i].head, 0);
		atomic_init(&f->rings[i].tail, 0);
	}
	f->n_rings = n_workers;
	f->rate = rate;
	atomic_init(&f->listeners, 0);
	atomic_init(&f->budget, 0);
	atomic_init(&f->dropped, 0);
	return f;
}

void feed_destroy(struct feed *f)
{
	if (!f)
		return;
	free(f->rings);
	free(f);
}

bool feed_wanted(const struct feed *f)
{
	return f && atomic_load_explicit(&f->listeners, memory_order_relaxed) > 0;
}

void feed_push(struct feed *f, size_t worker, const struct feed_item *item)
{
	struct ring *r = &f->rings[worker];
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (atomic_fetch_sub_explicit(&f->budget, 1, memory_order_relaxed) <= 0 ||
	    head - tail >= RING_SIZE) {
		atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed);
		return;
	}
	r->items[head % RING_SIZE] = *item;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

void feed_listen(struct feed *f, int delta, uint32_t period_ms)
{
	if (atomic_fetch_add(&f->listeners, delta) == 0 && delta > 0)
		atomic_store(&f->budget, (int_fast64_t)((uint64_t)f->rate * period_ms / 1000));
}

size_t feed_take(struct feed *f, uint32_t ms, struct feed_item *out, size_t max,
		 uint64_t *dropped)
{
	size_t n = 0;

	/* A new period: what was not used does not carry over. */
	atomic_store(&f->budget, (int_fast64_t)((uint64_t)f->rate * ms / 1000));
	for (size_t i = 0; i < f->n_rings; i++) {
		struct ring *r = &f->rings[i];
		size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		for (; tail != head && n < max; tail++)
			out[n++] = r->items[tail % RING_SIZE];
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	*dropped = atomic_exchange(&f->dropped, 0);
	return n;
}
