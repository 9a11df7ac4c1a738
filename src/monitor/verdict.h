/*
 * What a node's answers mean: the SQL the health check runs for each cluster type, and the
 * pure evaluation of the rows that come back into a probe_result (serves, writable, lag,
 * state, error). No I/O: probe.c runs the statements and hands the result sets over as
 * tables of strings; the unit tests hand over tables they wrote.
 */
#ifndef SLUICE_VERDICT_H
#define SLUICE_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct probe_result;

/* The most statements one check runs (replication: @@read_only, then the replica status). */
#define VERDICT_MAX_QUERIES 2

/* One result set, as text: the column names, then the cells row by row (cells[r * n_cols +
 * c]); a NULL cell is SQL NULL. Columns are looked up by name, case-insensitively, so their
 * order and any extra columns do not matter. The pointers are borrowed for the call. */
struct verdict_table {
	const char *const *names; /* n_cols column names */
	const char *const *cells; /* n_rows * n_cols values */
	size_t n_cols;
	size_t n_rows;
};

/* The statements a check of a node of this type runs, in order; *n receives their count
 * (1..VERDICT_MAX_QUERIES). Each returns exactly one result set. Static strings. */
const char *const *verdict_queries(enum cluster_type type, size_t *n);

/* Judge the answers of a node of cluster cc. tables[i] is the result set of statement i of
 * verdict_queries(cc->type), and n must be their count (anything else is a bug). Sets ok
 * (the node answered), serves, writable, lag_ms, state and error; leaves latency_us and
 * server_version alone. An answer that lacks what the verdict needs (a missing column or
 * variable, a value that is not what the server documents) is "answered, not serving" with
 * an error that says what was missing. */
void verdict_evaluate(const struct config_cluster *cc, const struct verdict_table *tables, size_t n,
		      struct probe_result *res);

/* The sequence number of a MariaDB GTID position with one domain ("0-1-42" is 42); 0 for an
 * empty position (nothing written yet); -1 for NULL, several domains, or anything else, which
 * then cannot be compared. */
int64_t verdict_gtid_seq(const char *pos);

#endif
