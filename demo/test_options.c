/*
 * Unit tests for demo/options.c: --dashboard-url (the footer's link for
 * browsers) and its default, --stats-url, and the URL checks it shares with
 * no other option.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "options.h"

/* options_parse() on a copy of `args` (it may blank a password in argv, and
 * keeps pointers into it: the copy lives until the next call). */
static enum options_result parse(struct options *o, const char *const *args, size_t n)
{
	static char store[16][256];
	static char *argv[17];

	options_deinit(o);
	argv[0] = strcpy(store[0], "sluice-demo");
	for (size_t i = 0; i < n && i < 15; i++) {
		snprintf(store[i + 1], sizeof(store[i + 1]), "%s", args[i]);
		argv[i + 1] = store[i + 1];
	}
	argv[n + 1] = NULL;
	return options_parse(o, (int)n + 1, argv);
}

#define PARSE(o, ...)                                                                              \
	parse((o), (const char *const[]){__VA_ARGS__},                                             \
	      sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_dashboard_default_and_given(void)
{
	struct options o = {0};

	check_case("neither URL");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u"), OPTIONS_RUN);
	CHECK(o.stats_url == NULL);
	CHECK(o.dashboard_url == NULL);
	CHECK(options_dashboard_url() == NULL);

	check_case("--stats-url only: the link is the stats URL");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--stats-url", "http://sluice:8404"),
		     OPTIONS_RUN);
	CHECK_EQ_STR(o.stats_url, "http://sluice:8404");
	CHECK_EQ_STR(o.dashboard_url, "http://sluice:8404");
	CHECK_EQ_STR(options_dashboard_url(), "http://sluice:8404");

	check_case("--dashboard-url after --stats-url");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--stats-url", "http://sluice:8404",
			   "--dashboard-url", "http://localhost:18404"),
		     OPTIONS_RUN);
	CHECK_EQ_STR(o.stats_url, "http://sluice:8404");
	CHECK_EQ_STR(o.dashboard_url, "http://localhost:18404");
	CHECK_EQ_STR(options_dashboard_url(), "http://localhost:18404");

	check_case("--dashboard-url before --stats-url");
	CHECK_EQ_INT(PARSE(&o, "--dashboard-url", "https://proxy.example/sluice/", "--stats-url",
			   "http://sluice:8404", "--mysql-user", "u"),
		     OPTIONS_RUN);
	CHECK_EQ_STR(o.stats_url, "http://sluice:8404");
	CHECK_EQ_STR(o.dashboard_url, "https://proxy.example/sluice/");

	check_case("--dashboard-url without --stats-url");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--dashboard-url", "http://[::1]:8404"),
		     OPTIONS_RUN);
	CHECK(o.stats_url == NULL);
	CHECK_EQ_STR(o.dashboard_url, "http://[::1]:8404");

	check_case("empty --dashboard-url: no link");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--stats-url", "http://sluice:8404",
			   "--dashboard-url", ""),
		     OPTIONS_RUN);
	CHECK_EQ_STR(o.stats_url, "http://sluice:8404");
	CHECK(o.dashboard_url == NULL);
	CHECK(options_dashboard_url() == NULL);

	check_case("a missing value");
	CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--dashboard-url"), OPTIONS_ERROR);
	options_deinit(&o);
}

static void test_dashboard_urls(void)
{
	static const char *const good[] = {
		"http://localhost:8404",  "http://localhost:8404/",
		"https://sluice.example", "https://h:443/prefix/dash",
		"http://[::1]:8404/",	  "http://h:65535",
		"http://h/a&b\"c'<d>",	  "http://sluice-1.example_x:8404",
		"http://127.0.0.1:8404",  "http://[::ffff:127.0.0.1]:8404",
	};
	static const char *const bad[] = {
		"ftp://h",
		"localhost:8404",
		"HTTP://h",
		"javascript:alert(1)",
		"http://",
		"https://",
		"http://:80",
		"http://h:",
		"http://h:0",
		"http://h:99999",
		"http://h:123456789012",
		"http://h:80x",
		"http://[::1",
		"http://[]:80",
		"http://h/a b",
		"http://h/?q",
		"http://h/#top",
		"http://h/\n",
		"http://h\t/",
		"http://h]x",
		"http://a\"b/",
		"http://[::1]x/",
		"http://[h]:80",
		"http://u@h/",
	};
	struct options o = {0};
	char err[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		check_case("good %s", good[i]);
		CHECK(options_dashboard_url_ok(good[i], err, sizeof(err)));
		CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--dashboard-url", good[i]),
			     OPTIONS_RUN);
		CHECK_EQ_STR(o.dashboard_url, good[i]);
	}
	/* A refused URL leaves the last good one in place (its argv outlives the
	 * loop; PARSE's is reused). */
	char a0[] = "sluice-demo", a1[] = "--mysql-user", a2[] = "u", a3[] = "--dashboard-url",
	     a4[] = "http://kept";
	char *kept_argv[] = {a0, a1, a2, a3, a4, NULL};

	options_deinit(&o);
	CHECK_EQ_INT(options_parse(&o, 5, kept_argv), OPTIONS_RUN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_case("bad %s", bad[i]);
		err[0] = '\0';
		CHECK(!options_dashboard_url_ok(bad[i], err, sizeof(err)));
		CHECK_STR_CONTAINS(err, "--dashboard-url");
		CHECK_EQ_INT(PARSE(&o, "--mysql-user", "u", "--dashboard-url", bad[i]),
			     OPTIONS_ERROR);
		CHECK_EQ_STR(options_dashboard_url(), "http://kept");
	}
	options_deinit(&o);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"dashboard_default_and_given", test_dashboard_default_and_given},
		{"dashboard_urls", test_dashboard_urls},
	};

	unsetenv(OPTIONS_PASSWORD_ENV);
	return CHECK_RUN(tests);
}
