/*
 * A product as the user types it: the three fields of the create and edit
 * forms, checked and converted. Pure code, unit-tested in demo/test_product.c.
 * The limits here are the table's (demo/catalog.c creates it): name
 * VARCHAR(200) in utf8mb4, price DECIMAL(10,2) not negative, stock INT.
 */
#ifndef SLUICE_DEMO_PRODUCT_H
#define SLUICE_DEMO_PRODUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRODUCT_NAME_MAX_CHARS	200
#define PRODUCT_NAME_MAX_BYTES	(4 * PRODUCT_NAME_MAX_CHARS) /* utf8mb4 */
#define PRODUCT_PRICE_MAX_CENTS INT64_C(9999999999)	     /* 99999999.99 */
#define PRODUCT_STOCK_MAX	1000000000
/* "99999999.99" and a NUL, with room to spare. */
#define PRODUCT_PRICE_TEXT_SIZE 24

/* A valid product, ready for the database. */
struct product_input {
	char name[PRODUCT_NAME_MAX_BYTES + 1]; /* trimmed, UTF-8, 1..200 characters */
	int64_t price_cents;		       /* 0..PRODUCT_PRICE_MAX_CENTS */
	int32_t stock;			       /* 0..PRODUCT_STOCK_MAX */
	char price[PRODUCT_PRICE_TEXT_SIZE];   /* price_cents as "1234.50", for DECIMAL */
};

/* One sentence per field that is wrong, for the form; "" when the field is fine. */
struct product_errors {
	char name[160];
	char price[160];
	char stock[160];
};

/* Check the raw form values (NULL = the field was not sent) and convert them.
 * Leading and trailing blanks are ignored. Returns true and fills `out` when
 * every field is valid; otherwise returns false, and `err` says what is wrong
 * with each field in words a user can act on. `err` is always reset. */
bool product_validate(const char *name, const char *price, const char *stock,
		      struct product_input *out, struct product_errors *err)
	__attribute__((warn_unused_result));

/* Write `cents` as "1234.50" into `buf` (PRODUCT_PRICE_TEXT_SIZE bytes). */
void product_price_text(int64_t cents, char *buf);

/* Number of UTF-8 code points in `s` if it is well-formed UTF-8 (no overlong
 * forms, surrogates or values above U+10FFFF), else -1. */
long product_utf8_length(const char *s, size_t len);

#endif
