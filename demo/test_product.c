/*
 * Unit tests for demo/product.c: a table of form values with the outcome
 * for each field (valid, or the words the message must contain), and the
 * UTF-8 length rules at their edges.
 */
#include <string.h>

#include "check.h"
#include "product.h"

struct row {
	const char *name, *price, *stock;
	const char *name_err, *price_err, *stock_err; /* NULL = valid */
	long long cents;			      /* when price is valid */
	long long stock_value;			      /* when stock is valid */
};

static const struct row rows[] = {
	{"Mug", "12.50", "3", NULL, NULL, NULL, 1250, 3},
	{"  Mug  ", " 12.5 ", " 0 ", NULL, NULL, NULL, 1250, 0},
	{"Mug", "0", "1000000000", NULL, NULL, NULL, 0, 1000000000},
	{"Mug", "99999999.99", "7", NULL, NULL, NULL, 9999999999LL, 7},
	{"Mug", "00000012.00", "007", NULL, NULL, NULL, 1200, 7},
	{"Mug", "0.05", "1", NULL, NULL, NULL, 5, 1},
	{"", "1", "1", "Enter a name", NULL, NULL, 100, 1},
	{"   ", "1", "1", "Enter a name", NULL, NULL, 100, 1},
	{NULL, NULL, NULL, "Enter a name", "Enter a price", "Enter the stock", 0, 0},
	{"Mug", "", "", NULL, "Enter a price", "Enter the stock", 0, 0},
	{"Mug", "-1", "-1", NULL, "cannot be negative", "cannot be negative", 0, 0},
	{"Mug", "100000000", "1000000001", NULL, "at most 99999999.99", "at most 1000000000", 0, 0},
	{"Mug", "1.234", "1.5", NULL, "at most two decimals", "whole number", 0, 0},
	{"Mug", "1.", "1e3", NULL, "number from 0", "whole number", 0, 0},
	{"Mug", ".5", "+3", NULL, "number from 0", "whole number", 0, 0},
	{"Mug", "1,50", "3 4", NULL, "number from 0", "whole number", 0, 0},
	{"Mug", "abc", "99999999999999999999", NULL, "number from 0", "at most", 0, 0},
	{"Tab\there", "1", "1", "control character", NULL, NULL, 100, 1},
	{"Line\nbreak", "1", "1", "control character", NULL, NULL, 100, 1},
	{"C1 \xc2\x85 char", "1", "1", "control character", NULL, NULL, 100, 1},
	{"Bad \xff utf8", "1", "1", "not valid UTF-8", NULL, NULL, 100, 1},
	{"Overlong \xc0\xaf", "1", "1", "not valid UTF-8", NULL, NULL, 100, 1},
	{"Surrogate \xed\xa0\x80", "1", "1", "not valid UTF-8", NULL, NULL, 100, 1},
	{"Cut \xe2\x82", "1", "1", "not valid UTF-8", NULL, NULL, 100, 1},
	{"<script>alert(1)</script>", "1", "1", NULL, NULL, NULL, 100, 1},
	{"Caf\xc3\xa9 \xf0\x9f\x98\x80", "1", "1", NULL, NULL, NULL, 100, 1},
};

static void check_field(const char *got, const char *want)
{
	if (want)
		CHECK_STR_CONTAINS(got, want);
	else
		CHECK_EQ_STR(got, "");
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct product_input in;
		struct product_errors err;
		bool ok;

		check_case("row %zu: '%s' '%s' '%s'", i, r->name ? r->name : "(none)",
			   r->price ? r->price : "(none)", r->stock ? r->stock : "(none)");
		memset(&in, 0, sizeof(in));
		ok = product_validate(r->name, r->price, r->stock, &in, &err);
		CHECK_EQ_INT(ok, !r->name_err && !r->price_err && !r->stock_err);
		check_field(err.name, r->name_err);
		check_field(err.price, r->price_err);
		check_field(err.stock, r->stock_err);
		if (!r->price_err)
			CHECK_EQ_INT(in.price_cents, r->cents);
		if (!r->stock_err)
			CHECK_EQ_INT(in.stock, r->stock_value);
	}
}

static void test_trim_and_price_text(void)
{
	struct product_input in;
	struct product_errors err;
	char buf[PRODUCT_PRICE_TEXT_SIZE];

	CHECK(product_validate("\t Espresso cup \r\n", "7", "1", &in, &err));
	CHECK_EQ_STR(in.name, "Espresso cup");
	CHECK_EQ_STR(in.price, "7.00");
	CHECK(product_validate("x", "7.5", "1", &in, &err));
	CHECK_EQ_STR(in.price, "7.50");
	product_price_text(9999999999LL, buf);
	CHECK_EQ_STR(buf, "99999999.99");
	product_price_text(5, buf);
	CHECK_EQ_STR(buf, "0.05");
}

static void test_name_length(void)
{
	char name[4 * 201 + 1];
	struct product_input in;
	struct product_errors err;

	/* 200 four-byte characters are fine, 201 are not; it is characters
	 * that count, not bytes. */
	name[0] = '\0';
	for (int i = 0; i < 200; i++)
		strcat(name, "\xf0\x9f\x98\x80");
	CHECK(product_validate(name, "1", "1", &in, &err));
	CHECK_EQ_INT(strlen(in.name), 800);
	strcat(name, "a");
	CHECK(!product_validate(name, "1", "1", &in, &err));
	CHECK_STR_CONTAINS(err.name, "201 characters");
	CHECK_EQ_INT(product_utf8_length("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
	CHECK_EQ_INT(product_utf8_length("\xf4\x90\x80\x80", 4), -1); /* above U+10FFFF */
	CHECK_EQ_INT(product_utf8_length("\xe0\x80\x80", 3), -1);     /* overlong */
}

int main(void)
{
	static const struct check_test tests[] = {
		{"table", test_table},
		{"trim and price text", test_trim_and_price_text},
		{"name length", test_name_length},
	};
	return CHECK_RUN(tests);
}
