/*
 * The temporary tables a session has created and not dropped, so that its
 * temporary_table pin (router.h) ends with the DROP of the last one rather
 * than lasting until the session is reset. Bookkeeping only: no I/O.
 *
 * Tables are known by their keys (classify_table_keys): database and name
 * as the statements spelled them. The set errs one way only: a table it
 * cannot follow (more than TEMP_TABLES_MAX at once, a name it could not
 * read, a CREATE in a multi-statement, a rename) makes it "lost", or stays
 * in it because no DROP names it the same way; either keeps the pin until
 * the session is reset. A table leaves the set only when a DROP that
 * succeeded named it the same way, so the pin never ends while one of the
 * session's temporary tables may still exist.
 *
 * The keys of the statement in flight wait in pending until its response:
 * added or removed if it succeeded, forgotten otherwise.
 */
#ifndef SLUICE_TEMP_TABLES_H
#define SLUICE_TEMP_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEMP_TABLES_MAX 8

struct temp_tables {
	uint32_t n; /* keys[0..n): one per table created and not dropped */
	bool lost;  /* some table is not in keys: never empty again */
	uint32_t n_pending;
	bool pending_lost; /* the statement in flight names more than pending holds */
	uint64_t keys[TEMP_TABLES_MAX];
	uint64_t pending[TEMP_TABLES_MAX];
};

/* The statement about to run names n tables (classify_table_keys' count),
 * the first of them in keys[]; create: it creates them. */
void temp_tables_pending(struct temp_tables *t, const uint64_t *keys, size_t n, bool create);

/* The statement in flight succeeded: add its tables (create) or take out
 * one entry per table it dropped. True when the set is now empty and not
 * lost, i.e. the session has no temporary table left. */
bool temp_tables_done(struct temp_tables *t, bool create);

/* The statement in flight failed, or ran nothing of this kind. */
void temp_tables_forget_pending(struct temp_tables *t);

#endif
