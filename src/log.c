/*
 * Logging to stderr, one write(2) per line so lines from worker threads never
 * interleave. See log.h for the line format.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set at start and by a reload (main thread), read by every thread. */
static _Atomic int min_level = LOG_LEVEL_INFO;
static atomic_bool with_time = true;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",	 [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_ERROR] = "error",
};

void log_configure(enum log_level level, bool timestamps)
{
	atomic_store_explicit(&min_level, (int)level, memory_order_relaxed);
	atomic_store_explicit(&with_time, timestamps, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

const char *log_level_str(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

bool log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

void log_write(enum log_level level, const char *tag, const char *fmt, ...)
{
	char line[2048];
	size_t len = 0;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;

	if (atomic_load_explicit(&with_time, memory_order_relaxed)) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len, ".%03ld ", ts.tv_nsec / 1000000);
		if (n > 0)
			len += (size_t)n;
	}
	n = snprintf(line + len, sizeof(line) - len, "%s %s: ", log_level_str(level), tag);
	if (n > 0)
		len += (size_t)n;
	if (len < sizeof(line)) {
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		va_end(ap);
		if (n > 0)
			len += (size_t)n;
	}
	/* Truncated lines keep their newline. */
	if (len > sizeof(line) - 1)
		len = sizeof(line) - 1;
	line[len++] = '\n';
	/* A failed write to stderr has nowhere to be reported. */
	ssize_t ignored = write(STDERR_FILENO, line, len);
	(void)ignored;
}

void log_bug(const char *file, int line, const char *cond)
{
	log_write(LOG_LEVEL_ERROR, "BUG", "%s:%d: assertion failed: %s", file, line, cond);
	abort();
}
