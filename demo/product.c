/*
 * Checking what the user typed into the product form. Every message names the
 * field, the rule and, where it helps, an example, so that the form re-rendered
 * with it tells the user exactly what to change.
 */
#include "product.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The field without leading and trailing blanks, as a pointer and a length. */
static const char *trim(const char *s, size_t *len)
{
	size_t n = strlen(s);

	while (n && is_blank(*s)) {
		s++;
		n--;
	}
	while (n && is_blank(s[n - 1]))
		n--;
	*len = n;
	return s;
}

long product_utf8_length(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t need;

		if (c < 0x80) {
			i++;
			chars++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return -1; /* a continuation byte first, or 0xc0/0xc1/0xf5.. */
		}
		if (len - i <= need)
			return -1;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += need + 1;
		chars++;
	}
	return chars;
}

/* A C0 or C1 control character or DEL; these have no place in a name (a
 * pasted tab or line break would otherwise be stored invisibly). */
static bool has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
		/* U+0080..U+009F are 0xc2 0x80..0x9f in UTF-8. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

static bool check_name(const char *raw, struct product_input *out, struct product_errors *err)
{
	size_t len;
	const char *s = raw ? trim(raw, &len) : NULL;
	long chars;

	if (!s || len == 0) {
		snprintf(err->name, sizeof(err->name), "Enter a name (1 to %d characters).",
			 PRODUCT_NAME_MAX_CHARS);
		return false;
	}
	chars = product_utf8_length(s, len);
	if (chars < 0) {
		snprintf(err->name, sizeof(err->name),
			 "The name is not valid UTF-8 text; type it again.");
		return false;
	}
	if (chars > PRODUCT_NAME_MAX_CHARS) {
		snprintf(err->name, sizeof(err->name),
			 "The name is %ld characters long; at most %d are allowed.", chars,
			 PRODUCT_NAME_MAX_CHARS);
		return false;
	}
	if (has_control(s, len)) {
		snprintf(err->name, sizeof(err->name),
			 "The name contains a control character (such as a tab or a line "
			 "break); remove it.");
		return false;
	}
	/* chars <= 200 code points of at most 4 bytes each: it fits. */
	memcpy(out->name, s, len);
	out->name[len] = '\0';
	return true;
}

static bool check_price(const char *raw, struct product_input *out, struct product_errors *err)
{
	static const char rule[] = "The price must be a number from 0 to 99999999.99 with at "
				   "most two decimals, for example 12.50.";
	size_t len, i = 0, int_digits = 0, frac_digits = 0;
	const char *s = raw ? trim(raw, &len) : NULL;
	int64_t units = 0, cents = 0;

	if (!s || len == 0) {
		snprintf(err->price, sizeof(err->price), "Enter a price, for example 12.50.");
		return false;
	}
	if (s[0] == '-') {
		snprintf(err->price, sizeof(err->price), "The price cannot be negative.");
		return false;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		/* Leading zeros do not count towards the eight digits. */
		if (int_digits || s[i] != '0')
			int_digits++;
		if (int_digits > 8) {
			snprintf(err->price, sizeof(err->price),
				 "The price must be at most 99999999.99.");
			return false;
		}
		units = units * 10 + (s[i] - '0');
	}
	if (i == 0) {
		snprintf(err->price, sizeof(err->price), "%s", rule);
		return false;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (++frac_digits > 2) {
				snprintf(err->price, sizeof(err->price),
					 "The price can have at most two decimals (cents), for "
					 "example 12.50.");
				return false;
			}
			cents = cents * 10 + (s[i] - '0');
		}
		if (frac_digits == 0) {
			snprintf(err->price, sizeof(err->price), "%s", rule);
			return false;
		}
		if (frac_digits == 1)
			cents *= 10;
	}
	if (i != len) {
		snprintf(err->price, sizeof(err->price), "%s", rule);
		return false;
	}
	out->price_cents = units * 100 + cents;
	product_price_text(out->price_cents, out->price);
	return true;
}

static bool check_stock(const char *raw, struct product_input *out, struct product_errors *err)
{
	size_t len;
	const char *s = raw ? trim(raw, &len) : NULL;
	int64_t v = 0;

	if (!s || len == 0) {
		snprintf(err->stock, sizeof(err->stock),
			 "Enter the stock, a whole number from 0 to %d.", PRODUCT_STOCK_MAX);
		return false;
	}
	if (s[0] == '-') {
		snprintf(err->stock, sizeof(err->stock), "The stock cannot be negative.");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			snprintf(err->stock, sizeof(err->stock),
				 "The stock must be a whole number (no decimals or signs) from 0 "
				 "to %d.",
				 PRODUCT_STOCK_MAX);
			return false;
		}
		v = v * 10 + (s[i] - '0');
		if (v > PRODUCT_STOCK_MAX) {
			snprintf(err->stock, sizeof(err->stock), "The stock must be at most %d.",
				 PRODUCT_STOCK_MAX);
			return false;
		}
	}
	out->stock = (int32_t)v;
	return true;
}

bool product_validate(const char *name, const char *price, const char *stock,
		      struct product_input *out, struct product_errors *err)
{
	bool ok = true;

	memset(err, 0, sizeof(*err));
	/* Check all three, so the form shows every problem at once. */
	ok &= check_name(name, out, err);
	ok &= check_price(price, out, err);
	ok &= check_stock(stock, out, err);
	return ok;
}

void product_price_text(int64_t cents, char *buf)
{
	snprintf(buf, PRODUCT_PRICE_TEXT_SIZE, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
}
