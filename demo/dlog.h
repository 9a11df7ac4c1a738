/*
 * sluice-demo's log: one line per event on stderr, "TIME LEVEL tag: message",
 * the same shape as sluice's own log so both read alike side by side.
 * Single-threaded program: no locking.
 */
#ifndef SLUICE_DEMO_DLOG_H
#define SLUICE_DEMO_DLOG_H

#include <stdbool.h>

enum dlog_level {
	DLOG_DEBUG,
	DLOG_INFO,
	DLOG_WARNING,
	DLOG_ERROR,
};

#define DLOG_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

/* Lines below `level` are dropped. Default: DLOG_INFO. */
void dlog_set_level(enum dlog_level level);
bool dlog_enabled(enum dlog_level level);

/* Write one line; `tag` names the part of the program ("http", "db", "stats"). */
void dlog_write(enum dlog_level level, const char *tag, const char *fmt, ...) DLOG_PRINTF(3, 4);

#define dlog_debug(tag, ...)                                                                       \
	do {                                                                                       \
		if (dlog_enabled(DLOG_DEBUG))                                                      \
			dlog_write(DLOG_DEBUG, tag, __VA_ARGS__);                                  \
	} while (0)
#define dlog_info(tag, ...)  dlog_write(DLOG_INFO, tag, __VA_ARGS__)
#define dlog_warn(tag, ...)  dlog_write(DLOG_WARNING, tag, __VA_ARGS__)
#define dlog_error(tag, ...) dlog_write(DLOG_ERROR, tag, __VA_ARGS__)

#endif
