/*
 * A session's temporary tables, by key. See temp_tables.h.
 */
#include "routing/temp_tables.h"

#include <string.h>

void temp_tables_pending(struct temp_tables *t, const uint64_t *keys, size_t n, bool create)
{
	size_t take = n < TEMP_TABLES_MAX ? n : TEMP_TABLES_MAX;

	memcpy(t->pending, keys, take * sizeof(*keys));
	t->n_pending = (uint32_t)take;
	/* A CREATE whose name could not be read makes a table we cannot name;
	 * a DROP of more names than kept only leaves some in the set. */
	t->pending_lost = create && (n == 0 || n > TEMP_TABLES_MAX);
}

static void drop_one(struct temp_tables *t, uint64_t key)
{
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->keys[i] == key) {
			t->keys[i] = t->keys[--t->n];
			return;
		}
	}
}

bool temp_tables_done(struct temp_tables *t, bool create)
{
	if (create) {
		if (t->pending_lost || t->n + t->n_pending > TEMP_TABLES_MAX) {
			t->lost = true;
		} else {
			memcpy(t->keys + t->n, t->pending, t->n_pending * sizeof(*t->keys));
			t->n += t->n_pending;
		}
	} else {
		for (uint32_t i = 0; i < t->n_pending; i++)
			drop_one(t, t->pending[i]);
	}
	temp_tables_forget_pending(t);
	return t->n == 0 && !t->lost;
}

void temp_tables_forget_pending(struct temp_tables *t)
{
	t->n_pending = 0;
	t->pending_lost = false;
}
