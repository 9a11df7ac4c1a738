/*
 * The ring of recent write results. Tokens are random so that one user's
 * result is not shown to another who guesses a counter; they protect nothing
 * more than that.
 */
#include "flash.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void flash_init(struct flash *f)
{
	memset(f, 0, sizeof(*f));
}

const char *flash_add(struct flash *f, const char *message, const struct catalog_badge *badge)
{
	struct flash_entry *e = &f->slots[f->next];
	uint64_t r = 0;

	f->next = (f->next + 1) % FLASH_SLOTS;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* Early boot without entropy: unique is enough for a demo. */
		r = mono_ms() * 0x9e3779b97f4a7c15ULL ^ ++f->counter;
	}
	snprintf(e->token, sizeof(e->token), "%016llx", (unsigned long long)r);
	e->created_ms = mono_ms();
	snprintf(e->message, sizeof(e->message), "%s", message);
	e->has_badge = badge != NULL;
	if (badge)
		e->badge = *badge;
	return e->token;
}

const struct flash_entry *flash_find(const struct flash *f, const char *token)
{
	uint64_t now = mono_ms();

	if (!token || strlen(token) != FLASH_TOKEN_LEN ||
	    strspn(token, "0123456789abcdef") != FLASH_TOKEN_LEN)
		return NULL;
	for (unsigned i = 0; i < FLASH_SLOTS; i++) {
		const struct flash_entry *e = &f->slots[i];

		if (strcmp(e->token, token) == 0 && now - e->created_ms < FLASH_TTL_MS)
			return e;
	}
	return NULL;
}
