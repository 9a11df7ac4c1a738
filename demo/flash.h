/*
 * What a POST did, kept for the page it redirects to. After a write the
 * browser is sent elsewhere (303, POST-redirect-GET); that page shows the
 * write's result and its badge ("written on node1 (writer)") by looking up
 * the token the redirect carries in ?done=. A fixed ring: entries expire
 * after FLASH_TTL_MS or when FLASH_SLOTS newer ones have been added.
 */
#ifndef SLUICE_DEMO_FLASH_H
#define SLUICE_DEMO_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"

#define FLASH_SLOTS	64
#define FLASH_TTL_MS	120000
#define FLASH_TOKEN_LEN 16 /* hex digits */

struct flash_entry {
	char token[FLASH_TOKEN_LEN + 1]; /* "" = free slot */
	uint64_t created_ms;		 /* CLOCK_MONOTONIC */
	char message[PRODUCT_NAME_MAX_BYTES + 128];
	bool has_badge;
	struct catalog_badge badge;
};

struct flash {
	struct flash_entry slots[FLASH_SLOTS];
	unsigned next;
	uint64_t counter; /* mixed into tokens if the kernel gives no random bytes */
};

void flash_init(struct flash *f);

/* Remember `message` (and `badge`, may be NULL) and return the new entry's
 * token, valid until the entry is reused. The oldest entry makes room. */
const char *flash_add(struct flash *f, const char *message, const struct catalog_badge *badge);

/* The live entry for `token`, or NULL (unknown, expired or malformed). */
const struct flash_entry *flash_find(const struct flash *f, const char *token);

#endif
