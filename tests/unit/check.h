/*
 * The unit tests' harness, no framework: CHECK macros that print file:line,
 * the expression and both values on failure and count it, a case label that
 * names the table row being run, and a runner for a table of test functions.
 * Each test executable includes this once and ends main() with CHECK_RUN().
 */
#ifndef SLUICE_TESTS_CHECK_H
#define SLUICE_TESTS_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct check_state {
	unsigned failures; /* failed checks, over the whole run */
	unsigned checks;   /* checks evaluated */
	unsigned cases;	   /* check_case() calls plus test functions without cases */
	char label[256];   /* the current case, printed with each failure */
};

static struct check_state check_state;

/* Name the case about to run (a table row, usually) and count it. Failures
 * print this label so a row of a table is found without a debugger. */
static inline void check_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void check_case(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(check_state.label, sizeof(check_state.label), fmt, ap);
	va_end(ap);
	check_state.cases++;
}

/* Record one check; print the failure line with its values. Returns ok so
 * a test can skip the checks that would only crash after a failed one. */
static inline int check_report(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int check_report(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_state.checks++;
	if (ok)
		return 1;
	check_state.failures++;
	fprintf(stderr, "%s:%d: [%s] ", file, line, check_state.label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 0;
}

static inline const char *check_str_or_null(const char *s)
{
	return s ? s : "(null)";
}

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, "CHECK(%s) failed", #cond)

static inline int check_int(long long a, long long b, const char *ea, const char *eb,
			    const char *file, int line)
{
	return check_report(a == b, file, line, "%s == %s: %lld != %lld", ea, eb, a, b);
}

static inline int check_str(const char *a, const char *b, const char *ea, const char *eb,
			    const char *file, int line)
{
	return check_report(a && b && strcmp(a, b) == 0, file, line, "%s == %s: \"%s\" != \"%s\"",
			    ea, eb, check_str_or_null(a), check_str_or_null(b));
}

static inline int check_contains(const char *hay, const char *needle, const char *eh,
				 const char *en, const char *file, int line)
{
	return check_report(hay && needle && strstr(hay, needle), file, line,
			    "%s contains %s: \"%s\" lacks \"%s\"", eh, en, check_str_or_null(hay),
			    check_str_or_null(needle));
}

/* Integers of any width compare as long long, which holds every value the
 * tests use (sizes, counts, uint32_t fields). */
#define CHECK_EQ_INT(a, b) check_int((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_EQ_STR(a, b) check_str((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR_CONTAINS(hay, needle)                                                            \
	check_contains((hay), (needle), #hay, #needle, __FILE__, __LINE__)

/* Compare len bytes; on failure print the offset and both bytes there. */
static inline int check_mem(const void *a, const void *b, size_t len, const char *ea,
			    const char *eb, const char *file, int line)
{
	const uint8_t *x = a, *y = b;
	size_t i = 0;

	while (i < len && x[i] == y[i])
		i++;
	if (i == len)
		return check_report(1, file, line, "%s", "");
	return check_report(0, file, line,
			    "%s == %s (%zu bytes): differ at byte %zu: 0x%02x != 0x%02x", ea, eb,
			    len, i, x[i], y[i]);
}

#define CHECK_EQ_MEM(a, b, len) check_mem((a), (b), (len), #a, #b, __FILE__, __LINE__)

struct check_test {
	const char *name;
	void (*fn)(void);
};

/* Run every test in order and print one line each and a summary. A test
 * that calls check_case() counts its rows as cases; one that does not
 * counts as one case. Returns the process exit status. */
static inline int check_run(const char *prog, const struct check_test *tests, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned failures = check_state.failures, cases = check_state.cases;

		snprintf(check_state.label, sizeof(check_state.label), "%s", tests[i].name);
		tests[i].fn();
		if (check_state.cases == cases)
			check_state.cases++;
		printf("%s %s (%u cases)\n", check_state.failures == failures ? "ok  " : "FAIL",
		       tests[i].name, check_state.cases - cases);
	}
	printf("%s: %u cases, %u checks, %u failed\n", prog, check_state.cases, check_state.checks,
	       check_state.failures);
	return check_state.failures ? 1 : 0;
}

#define CHECK_RUN(tests) check_run(__FILE__, (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
