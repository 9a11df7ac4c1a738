/*
 * A small JSON reader, enough for sluice's /api/v1/status: parses a whole
 * document into a tree and looks values up by key. Pure code, unit-tested in
 * demo/test_json.c. Nesting is limited to JSON_MAX_DEPTH; numbers are doubles.
 */
#ifndef SLUICE_DEMO_JSON_H
#define SLUICE_DEMO_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	double number;		   /* JSON_NUMBER */
	char *string;		   /* JSON_STRING: decoded UTF-8 (a \u0000 is refused) */
	size_t n;		   /* JSON_ARRAY, JSON_OBJECT: number of items */
	struct json_value **items; /* JSON_ARRAY, JSON_OBJECT: the values */
	char **keys;		   /* JSON_OBJECT: the keys, items[i] belongs to keys[i] */
};

/* Parse exactly one JSON document (surrounding whitespace allowed) from
 * text[0..len). Returns a tree the caller frees with json_free(), or NULL with
 * a reason and a byte offset in `err`. */
struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json_value *v);

/* The value of `key` in object `obj`; NULL when obj is NULL, not an object or
 * has no such key. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* The string value of `key` in `obj`, or NULL when missing or not a string. */
const char *json_get_string(const struct json_value *obj, const char *key);
/* Item i of an array; NULL when `arr` is not an array or i is out of range. */
const struct json_value *json_at(const struct json_value *arr, size_t i);
/* Number of items of an array or object, 0 for anything else (and NULL). */
size_t json_len(const struct json_value *v);

#endif
