/*
 * Recursive-descent JSON parser (RFC 8259). Every value is its own heap node;
 * a failed parse frees what it built. Strict: no comments, no trailing commas,
 * no leading zeros, no control characters inside strings.
 */
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *start;
	const char *p;
	const char *end;
	int depth;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct parser *ps, const char *what)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
	ps->failed = true;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json_value *new_value(struct parser *ps, enum json_type type)
{
	struct json_value *v = calloc(1, sizeof(*v));

	if (!v)
		fail(ps, "out of memory");
	else
		v->type = type;
	return v;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail(ps, "unexpected word");
		return false;
	}
	ps->p += n;
	return true;
}

/* Four hex digits of a \u escape at ps->p; -1 on anything else. */
static long hex4(struct parser *ps)
{
	long v = 0;

	if (ps->end - ps->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = ps->p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	ps->p += 4;
	return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (on its opening quote); returns it decoded, or NULL. The
 * decoded text is never longer than the escaped one (\uXXXX is 6 bytes for at
 * most 3, a surrogate pair 12 for 4), so one allocation of the raw length fits. */
static char *parse_string(struct parser *ps)
{
	const char *q = ps->p + 1;
	char *out, *o;

	/* Find the closing quote first to size the buffer. */
	while (q < ps->end && *q != '"')
		q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
	if (q >= ps->end) {
		fail(ps, "unterminated string");
		return NULL;
	}
	out = malloc((size_t)(q - ps->p));
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	o = out;
	ps->p++;
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20) {
			fail(ps, "control character in a string");
			goto fail;
		}
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p++) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			long cp = hex4(ps);

			if (cp >= 0xd800 && cp <= 0xdbff) {
				long lo = -1;

				if (ps->end - ps->p >= 2 && ps->p[0] == '\\' && ps->p[1] == 'u') {
					ps->p += 2;
					lo = hex4(ps);
				}
				if (lo < 0xdc00 || lo > 0xdfff) {
					fail(ps, "unpaired surrogate in a \\u escape");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				fail(ps, "unpaired surrogate in a \\u escape");
				goto fail;
			}
			if (cp <= 0) {
				fail(ps, cp == 0 ? "\\u0000 in a string" : "bad \\u escape");
				goto fail;
			}
			o += put_utf8(o, (uint32_t)cp);
			break;
		}
		default:
			ps->p--;
			fail(ps, "unknown escape in a string");
			goto fail;
		}
	}
	ps->p++;
	*o = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

static bool parse_number(struct parser *ps, struct json_value *v)
{
	const char *s = ps->p;
	char buf[64];

	if (s < ps->end && *s == '-')
		s++;
	if (s < ps->end && *s == '0') {
		s++;
	} else if (s < ps->end && *s >= '1' && *s <= '9') {
		while (s < ps->end && *s >= '0' && *s <= '9')
			s++;
	} else {
		fail(ps, "bad number");
		return false;
	}
	if (s < ps->end && *s == '.') {
		if (++s >= ps->end || *s < '0' || *s > '9') {
			fail(ps, "bad number");
			return false;
		}
		while (s < ps->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < ps->end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < ps->end && (*s == '+' || *s == '-'))
			s++;
		if (s >= ps->end || *s < '0' || *s > '9') {
			fail(ps, "bad number");
			return false;
		}
		while (s < ps->end && *s >= '0' && *s <= '9')
			s++;
	}
	if ((size_t)(s - ps->p) >= sizeof(buf)) {
		fail(ps, "number too long");
		return false;
	}
	/* strtod wants a terminated string; the text is not. */
	memcpy(buf, ps->p, (size_t)(s - ps->p));
	buf[s - ps->p] = '\0';
	v->number = strtod(buf, NULL);
	ps->p = s;
	return true;
}

static struct json_value *parse_value(struct parser *ps);

/* Append item (and key, for objects) to v; takes ownership of both, also on failure. */
static bool append(struct parser *ps, struct json_value *v, char *key, struct json_value *item)
{
	struct json_value **items = realloc(v->items, (v->n + 1) * sizeof(*items));

	if (items)
		v->items = items;
	if (items && v->type == JSON_OBJECT) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));

		if (!keys) {
			items = NULL;
		} else {
			v->keys = keys;
			keys[v->n] = key;
		}
	}
	if (!items) {
		fail(ps, "out of memory");
		free(key);
		json_free(item);
		return false;
	}
	items[v->n++] = item;
	return true;
}

/* An array or object at ps->p (on its bracket). */
static struct json_value *parse_container(struct parser *ps, enum json_type type)
{
	char close = type == JSON_ARRAY ? ']' : '}';
	struct json_value *v;

	if (++ps->depth > JSON_MAX_DEPTH) {
		fail(ps, "nested too deeply");
		return NULL;
	}
	v = new_value(ps, type);
	if (!v)
		return NULL;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct json_value *item;

		skip_ws(ps);
		if (type == JSON_OBJECT) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a key");
				goto fail;
			}
			key = parse_string(ps);
			if (!key)
				goto fail;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				goto fail;
			}
			ps->p++;
		}
		item = parse_value(ps);
		if (!item) {
			free(key);
			goto fail;
		}
		if (!append(ps, v, key, item))
			goto fail;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		fail(ps, type == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
		goto fail;
	}
	ps->depth--;
	return v;
fail:
	json_free(v);
	return NULL;
}

static struct json_value *parse_value(struct parser *ps)
{
	struct json_value *v;

	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, "unexpected end of the document");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		return parse_container(ps, JSON_OBJECT);
	case '[':
		return parse_container(ps, JSON_ARRAY);
	case '"': {
		char *s = parse_string(ps);

		if (!s)
			return NULL;
		v = new_value(ps, JSON_STRING);
		if (!v) {
			free(s);
			return NULL;
		}
		v->string = s;
		return v;
	}
	case 't':
		return literal(ps, "true") ? new_value(ps, JSON_TRUE) : NULL;
	case 'f':
		return literal(ps, "false") ? new_value(ps, JSON_FALSE) : NULL;
	case 'n':
		return literal(ps, "null") ? new_value(ps, JSON_NULL) : NULL;
	default:
		v = new_value(ps, JSON_NUMBER);
		if (v && !parse_number(ps, v)) {
			json_free(v);
			return NULL;
		}
		return v;
	}
}

struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps = {
		.start = text, .p = text, .end = text + len, .err = err, .errlen = errlen};
	struct json_value *v = parse_value(&ps);

	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "text after the document");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	free(v);
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

const char *json_get_string(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->string : NULL;
}

const struct json_value *json_at(const struct json_value *arr, size_t i)
{
	if (!arr || arr->type != JSON_ARRAY || i >= arr->n)
		return NULL;
	return arr->items[i];
}

size_t json_len(const struct json_value *v)
{
	return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}
