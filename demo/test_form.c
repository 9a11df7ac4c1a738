/*
 * Unit tests for demo/form.c: urlencoded decoding ('+', %XX, empty pairs,
 * missing '='), refusals (broken escapes, NUL, too many fields) that leave
 * the form empty, and every prefix of a body (ASan catches a read past the end).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "form.h"

static void test_decoding(void)
{
	struct form f;
	char err[160];

	form_init(&f);
	CHECK(form_parse(
		&f, "name=Caf%C3%A9+cr%C3%A8me&price=12.50&stock=&flag&&x=a%2Bb%26c%3D",
		strlen("name=Caf%C3%A9+cr%C3%A8me&price=12.50&stock=&flag&&x=a%2Bb%26c%3D"), err,
		sizeof(err)));
	CHECK_EQ_INT(f.n, 5);
	CHECK_EQ_STR(form_get(&f, "name"), "Caf\xc3\xa9 cr\xc3\xa8me");
	CHECK_EQ_STR(form_get(&f, "price"), "12.50");
	CHECK_EQ_STR(form_get(&f, "stock"), "");
	CHECK_EQ_STR(form_get(&f, "flag"), "");
	CHECK_EQ_STR(form_get(&f, "x"), "a+b&c=");
	CHECK(form_get(&f, "missing") == NULL);
	form_deinit(&f);

	/* The first of two fields with one name wins; names are decoded too. */
	CHECK(form_parse(&f, "a=1&a=2&%61b=3", 14, err, sizeof(err)));
	CHECK_EQ_STR(form_get(&f, "a"), "1");
	CHECK_EQ_STR(form_get(&f, "ab"), "3");
	form_deinit(&f);

	CHECK(form_parse(&f, "", 0, err, sizeof(err)));
	CHECK_EQ_INT(f.n, 0);
	CHECK(form_parse(&f, "&&&", 3, err, sizeof(err)));
	CHECK_EQ_INT(f.n, 0);
	form_deinit(&f);
}

static void test_refusals(void)
{
	static const char *const bad[] = {"a=%",       "a=%4",	"a=%zz", "a=%4g&b=1",
					  "a=1&b=%00", "%00=1", "a=%G0"};
	struct form f;
	char err[160], many[200] = "";

	form_init(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_case("%s", bad[i]);
		err[0] = '\0';
		CHECK(!form_parse(&f, bad[i], strlen(bad[i]), err, sizeof(err)));
		CHECK_EQ_INT(f.n, 0);
		CHECK(err[0] != '\0');
	}
	for (int i = 0; i <= FORM_MAX_FIELDS; i++)
		strcat(many, "k=v&");
	CHECK(!form_parse(&f, many, strlen(many), err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "more than");
	CHECK_EQ_INT(f.n, 0);
}

static void test_prefixes(void)
{
	static const char body[] = "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&price=1.5&stock=7";

	for (size_t len = 0; len <= sizeof(body) - 1; len++) {
		char *copy = malloc(len ? len : 1);
		struct form f;
		char err[160];

		check_case("prefix %zu", len);
		memcpy(copy, body, len);
		form_init(&f);
		/* Either outcome is fine; reading past `len` is not. */
		if (form_parse(&f, copy, len, err, sizeof(err)))
			CHECK(f.n <= 3);
		form_deinit(&f);
		free(copy);
	}
}

int main(void)
{
	static const struct check_test tests[] = {
		{"decoding", test_decoding},
		{"refusals", test_refusals},
		{"prefixes", test_prefixes},
	};
	return CHECK_RUN(tests);
}
