/*
 * The session-state history of a mode: mysql session: the commands that
 * changed session state (SET ..., SET NAMES, COM_SET_OPTION), in order, so
 * a backend connection that joins the session later, or was idle while
 * they ran, can replay them and end up in the same state as the one that
 * ran them first. Bounded in entries and bytes; a repeated command moves to
 * the end instead of growing the history. Pure data, no I/O.
 */
#ifndef SLUICE_HISTORY_H
#define SLUICE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_MAX_ENTRIES 64
#define HISTORY_MAX_BYTES   65536

struct history_entry {
	uint8_t *payload; /* the command packet's payload: command byte + body */
	size_t len;
};

struct history {
	struct history_entry *items; /* grown as needed (most sessions have none) */
	size_t n, cap;
	size_t bytes;
	/* Bumped on every change, including a move of a repeated entry, so a
	 * connection knows whether it has run exactly this history. */
	uint64_t version;
	/* The version at the last change that was not an append (a move or a
	 * clear): a connection synced at or after it may replay from its own
	 * count of entries run; one synced before must run them all. */
	uint64_t reorder_version;
};

void history_init(struct history *h);
/* Forget every entry (the version moves on). */
void history_clear(struct history *h);
/* history_clear, and release the memory. */
void history_deinit(struct history *h);

/* Append a copy of payload. An identical earlier entry is dropped first:
 * SET assignments are idempotent, so running the later copy last leaves
 * the same state. False when the bounds would be passed (nothing changes)
 * or out of memory. */
bool history_add(struct history *h, const uint8_t *payload, size_t len)
	__attribute__((warn_unused_result));

#endif
