/*
 * The dashboard's files (stats-ui/), built into the binary by scripts/embed_files.py at
 * build time; the stats server serves them by name, index.html at "/". The generated
 * table (stats_ui_files.c in the build tree) includes this header, so the compiler checks
 * it against the declaration below.
 */
#ifndef SLUICE_STATS_UI_H
#define SLUICE_STATS_UI_H

#include <stddef.h>

struct stats_ui_file {
	const char *name; /* "index.html", ...; NULL ends the table */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct stats_ui_file stats_ui_files[];

#endif
