/*
 * Unit tests for demo/html.c: the five characters HTML needs escaped, and
 * the percent-encoding of query values.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "html.h"

/* The buffer's content as a string (freed by the caller); empties it. */
static char *take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void test_text(void)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	html_text(b, "<script>alert('x&y')</script> \"q\" caf\xc3\xa9");
	s = take(b);
	CHECK_EQ_STR(s, "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt; &quot;q&quot; "
			"caf\xc3\xa9");
	free(s);
	html_text(b, "");
	html_text(b, "plain");
	html_text_n(b, "ab<cd", 3);
	s = take(b);
	CHECK_EQ_STR(s, "plainab&lt;");
	free(s);
	evbuffer_free(b);
}

static void test_url(void)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	html_url_param(b, "a b&c=d/\"<\xc3\xa9-._~Z9");
	s = take(b);
	CHECK_EQ_STR(s, "a%20b%26c%3Dd%2F%22%3C%C3%A9-._~Z9");
	free(s);
	evbuffer_free(b);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"text", test_text},
		{"url", test_url},
	};
	return CHECK_RUN(tests);
}
