/*
 * Unit tests for demo/json.c: documents that parse (with lookups), documents
 * that must not (each with the reason), string escapes to UTF-8, the depth
 * limit, and every prefix of a status document (ASan catches over-reads).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static struct json_value *parse(const char *text)
{
	char err[128];

	return json_parse(text, strlen(text), err, sizeof(err));
}

static void test_values(void)
{
	struct json_value *v = parse(" {\"a\": [1, -2.5e1, true, false, null, \"x\"], "
				     "\"b\": {\"c\": \"d\"}, \"e\": {}, \"f\": []} ");

	if (!CHECK(v != NULL))
		return;
	CHECK_EQ_INT(json_len(v), 4);
	CHECK_EQ_INT(json_len(json_get(v, "a")), 6);
	CHECK(json_at(json_get(v, "a"), 0)->number == 1);
	CHECK(json_at(json_get(v, "a"), 1)->number == -25);
	CHECK_EQ_INT(json_at(json_get(v, "a"), 2)->type, JSON_TRUE);
	CHECK_EQ_INT(json_at(json_get(v, "a"), 4)->type, JSON_NULL);
	CHECK_EQ_STR(json_get_string(json_get(v, "b"), "c"), "d");
	CHECK(json_get_string(v, "a") == NULL);
	CHECK(json_get(v, "zz") == NULL);
	CHECK(json_at(json_get(v, "a"), 6) == NULL);
	CHECK(json_get(json_get(v, "a"), "x") == NULL);
	CHECK_EQ_INT(json_len(json_get(v, "e")), 0);
	CHECK_EQ_INT(json_len(NULL), 0);
	json_free(v);
	json_free(NULL);
}

static void test_strings(void)
{
	struct json_value *v = parse("\"q\\\"b\\\\s\\/n\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"");

	if (CHECK(v != NULL))
		CHECK_EQ_STR(v->string, "q\"b\\s/n\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_free(v);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"",	     "   ",	 "{",	     "[1,]",	    "{\"a\":1,}",   "{\"a\" 1}",
		"{a:1}",     "01",	 "1.",	     "-",	    "1e",	    "tru",
		"nul",	     "\"abc",	 "\"a\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\\u0000\"",
		"\"\\u12\"", "\"a\nb\"", "[1] 2",    "{\"a\":1}}",  "'a'",	    "[1 2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128] = "";
		struct json_value *v;

		check_case("'%s'", bad[i]);
		v = json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
		CHECK(v == NULL);
		CHECK_STR_CONTAINS(err, "at byte");
		json_free(v);
	}
}

static void test_depth(void)
{
	char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
	struct json_value *v;
	char err[128];
	size_t n = 0;

	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	v = json_parse(deep, n, err, sizeof(err));
	CHECK(v != NULL);
	json_free(v);
	memmove(deep + 1, deep, n);
	deep[0] = '[';
	deep[++n] = ']';
	n++;
	v = json_parse(deep, n, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_STR_CONTAINS(err, "nested too deeply");
}

static void test_prefixes(void)
{
	static const char doc[] = "{\"clusters\":[{\"name\":\"g\",\"writer\":\"node1\",\"nodes\":"
				  "[{\"name\":\"node1\",\"state\":\"up\",\"role\":\"writer\","
				  "\"weight\":1,\"latency\":{\"p50\":1.5e-3}}]}]}";

	for (size_t len = 0; len < sizeof(doc) - 1; len++) {
		char *copy = malloc(len ? len : 1);
		char err[128];
		struct json_value *v;

		check_case("prefix %zu", len);
		memcpy(copy, doc, len);
		v = json_parse(copy, len, err, sizeof(err));
		CHECK(v == NULL);
		json_free(v);
		free(copy);
	}
}

int main(void)
{
	static const struct check_test tests[] = {
		{"values", test_values}, {"strings", test_strings},   {"refusals", test_refusals},
		{"depth", test_depth},	 {"prefixes", test_prefixes},
	};
	return CHECK_RUN(tests);
}
