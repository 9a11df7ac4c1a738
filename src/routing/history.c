/*
 * Session-state history: a bounded, ordered list of command payloads.
 * See history.h.
 */
#include "routing/history.h"

#include <stdlib.h>
#include <string.h>

void history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
}

void history_clear(struct history *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->items[i].payload);
	h->n = 0;
	h->bytes = 0;
	h->version++;
	h->reorder_version = h->version;
}

void history_deinit(struct history *h)
{
	history_clear(h);
	free(h->items);
	h->items = NULL;
	h->cap = 0;
}

bool history_add(struct history *h, const uint8_t *payload, size_t len)
{
	size_t dup = h->n;
	uint8_t *copy;

	for (size_t i = 0; i < h->n; i++) {
		if (h->items[i].len == len && memcmp(h->items[i].payload, payload, len) == 0) {
			dup = i;
			break;
		}
	}
	if (dup + 1 == h->n)
		return true; /* already the last word: nothing changes */
	if (dup == h->n && (h->n == HISTORY_MAX_ENTRIES || h->bytes + len > HISTORY_MAX_BYTES))
		return false;
	if (dup == h->n && h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4;
		struct history_entry *items = realloc(h->items, cap * sizeof(*items));
		if (!items)
			return false;
		h->items = items;
		h->cap = cap;
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return false;
	memcpy(copy, payload, len);
	if (dup < h->n) {
		free(h->items[dup].payload);
		h->bytes -= h->items[dup].len;
		memmove(&h->items[dup], &h->items[dup + 1], (h->n - dup - 1) * sizeof(h->items[0]));
		h->n--;
		h->reorder_version = h->version + 1;
	}
	h->items[h->n++] = (struct history_entry){copy, len};
	h->bytes += len;
	h->version++;
	return true;
}
