/*
 * Logging: one line per event on stderr (systemd's journal adds its own
 * timestamps; we add ours unless told not to). Every line carries a level,
 * a subsystem tag and, where there is one, the object it is about.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

#define SLUICE_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

/* Set the lowest level that is written and whether lines get a timestamp.
 * Safe to call at any time; the values are read without locks (a torn read
 * would at worst log one line too many or too few). */
void log_configure(enum log_level level, bool timestamps);

/* True when a line at this level would be written; use it to skip building
 * expensive debug arguments. */
bool log_enabled(enum log_level level);

/* Write one line: "<time> <LEVEL> <tag>: <message>". The tag names the
 * subsystem ("config", "worker", "tcp", "health", ...), optionally followed by
 * the object, e.g. "C-42 app@127.0.0.1:51234 tcp". Thread-safe: each line is
 * written with a single write(2). */
void log_write(enum log_level level, const char *tag, const char *fmt, ...) SLUICE_PRINTF(3, 4);

/* Parse "debug", "info", ... into *out; false for anything else. */
bool log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
const char *log_level_str(enum log_level level);

#define log_debug(tag, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                  \
			log_write(LOG_LEVEL_DEBUG, tag, __VA_ARGS__);                              \
	} while (0)
#define log_info(tag, ...)   log_write(LOG_LEVEL_INFO, tag, __VA_ARGS__)
#define log_notice(tag, ...) log_write(LOG_LEVEL_NOTICE, tag, __VA_ARGS__)
#define log_warn(tag, ...)   log_write(LOG_LEVEL_WARNING, tag, __VA_ARGS__)
#define log_error(tag, ...)  log_write(LOG_LEVEL_ERROR, tag, __VA_ARGS__)

/* Broken invariant: log where and abort. Never used for bad input. */
#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			log_bug(__FILE__, __LINE__, #cond);                                        \
	} while (0)

_Noreturn void log_bug(const char *file, int line, const char *cond);

#endif
