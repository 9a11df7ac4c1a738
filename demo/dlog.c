/*
 * sluice-demo's log lines on stderr. Each line is built whole and written with
 * one write(2), so a line never interleaves with another process's output when
 * stderr is shared (demo/run.py, docker compose).
 */
#include "dlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum dlog_level min_level = DLOG_INFO;

static const char *const level_names[] = {
	[DLOG_DEBUG] = "debug",
	[DLOG_INFO] = "info",
	[DLOG_WARNING] = "warning",
	[DLOG_ERROR] = "error",
};

void dlog_set_level(enum dlog_level level)
{
	min_level = level;
}

bool dlog_enabled(enum dlog_level level)
{
	return level >= min_level;
}

void dlog_write(enum dlog_level level, const char *tag, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n = 0;
	va_list ap;
	int w;

	if (!dlog_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	w = snprintf(line + n, sizeof(line) - n, ".%03ld %s %s: ", (long)(tv.tv_usec / 1000),
		     level_names[level], tag);
	if (w > 0)
		n += (size_t)w < sizeof(line) - n ? (size_t)w : sizeof(line) - n - 1;
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (w > 0)
		n += (size_t)w < sizeof(line) - n ? (size_t)w : sizeof(line) - n - 1;
	/* Room for the newline: a truncated line loses its last character instead. */
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}
