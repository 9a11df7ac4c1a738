/*
 * Form and query-string decoding (WHATWG's application/x-www-form-urlencoded
 * parser, minus charset guessing: bytes are kept as they come and the page
 * code checks that text fields are UTF-8).
 */
#include "form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void form_init(struct form *f)
{
	memset(f, 0, sizeof(*f));
}

void form_deinit(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	form_init(f);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode text[0..len) into a new string; NULL with `err` set on a bad escape
 * or a NUL byte (a decoded string is never longer than its encoding). */
static char *decode(const char *text, size_t len, char *err, size_t errlen)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out) {
		snprintf(err, errlen, "out of memory while reading the form");
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				snprintf(
					err, errlen,
					"the form has a broken %%-escape (a %% must be followed by "
					"two hexadecimal digits)");
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0') {
			snprintf(err, errlen,
				 "the form contains a NUL character, which no field "
				 "accepts");
			free(out);
			return NULL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

bool form_parse(struct form *f, const char *text, size_t len, char *err, size_t errlen)
{
	size_t start = 0;

	if (len == 0)
		return true;
	while (start <= len) {
		const char *amp = memchr(text + start, '&', len - start);
		size_t end = amp ? (size_t)(amp - text) : len;
		const char *eq = memchr(text + start, '=', end - start);
		size_t name_end = eq ? (size_t)(eq - text) : end;
		struct form_field *field;

		if (end > start) {
			if (f->n == FORM_MAX_FIELDS) {
				snprintf(err, errlen, "the form has more than %d fields",
					 FORM_MAX_FIELDS);
				goto fail;
			}
			field = &f->fields[f->n];
			field->name = decode(text + start, name_end - start, err, errlen);
			if (!field->name)
				goto fail;
			field->value = eq ? decode(eq + 1, end - name_end - 1, err, errlen)
					  : decode("", 0, err, errlen);
			if (!field->value) {
				free(field->name);
				field->name = NULL;
				goto fail;
			}
			f->n++;
		}
		start = end + 1;
	}
	return true;
fail:
	form_deinit(f);
	return false;
}

const char *form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}
