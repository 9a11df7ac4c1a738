/*
 * Unit tests for demo/catalog.c's pure parts: what each MySQL error number
 * means for a page, and which database names are accepted.
 */
#include "catalog.h"
#include "check.h"

static void test_classify(void)
{
	static const struct {
		unsigned code;
		enum catalog_status st;
	} rows[] = {
		{2006, CATALOG_LOST},	 {2013, CATALOG_LOST},	      {1158, CATALOG_LOST},
		{1105, CATALOG_LOST},	 {1047, CATALOG_LOST},	      {1927, CATALOG_LOST},
		{4031, CATALOG_LOST},	 {1213, CATALOG_ROLLED_BACK}, {1205, CATALOG_ROLLED_BACK},
		{1146, CATALOG_REFUSED}, {1064, CATALOG_REFUSED},     {1062, CATALOG_REFUSED},
		{0, CATALOG_REFUSED},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		check_case("error %u", rows[i].code);
		CHECK_EQ_STR(catalog_status_str(catalog_classify_error(rows[i].code)),
			     catalog_status_str(rows[i].st));
	}
}

static void test_database_names(void)
{
	CHECK(catalog_database_name_ok("demo"));
	CHECK(catalog_database_name_ok("demo_2$"));
	CHECK(catalog_database_name_ok("1demo"));
	CHECK(!catalog_database_name_ok(""));
	CHECK(!catalog_database_name_ok("123"));
	CHECK(!catalog_database_name_ok("de`mo"));
	CHECK(!catalog_database_name_ok("de mo"));
	CHECK(!catalog_database_name_ok("demo;drop"));
	CHECK(!catalog_database_name_ok("0123456789012345678901234567890123456789012345678901234"
					"567890123"));
}

int main(void)
{
	static const struct check_test tests[] = {
		{"classify", test_classify},
		{"database names", test_database_names},
	};
	return CHECK_RUN(tests);
}
