/*
 * Fuzz target for the statement classifier (src/classify.c). The first
 * byte holds options (bit 0: truncated, bit 1: NO_BACKSLASH_ESCAPES, bits
 * 2-7: where to cut a prefix); the rest is the statement text. The result
 * must be well-formed, the same on a second call, and agree with the bytes
 * (no hint without "sluice", ':' and a comment, no MULTI without ';', no
 * user variable without '@'); every prefix must classify too. A hint
 * comment put in front of any text is always seen. classify_kill() must
 * agree with the bytes too: a KILL it accepts names "kill" and its id is
 * one of the text's numbers; the plain form KILL [HARD|SOFT]
 * [CONNECTION|QUERY] n is always accepted with that n.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "routing/classify.h"
#include "fuzz.h"

static bool has_byte(const uint8_t *p, size_t len, uint8_t b)
{
	return memchr(p, b, len) != NULL;
}

/* Whether the lower-case ASCII word w occurs in p[0..len), in any case. */
static bool has_ci(const uint8_t *p, size_t len, const char *w)
{
	size_t n = strlen(w);

	for (size_t i = 0; i + n <= len; i++) {
		size_t k = 0;

		while (k < n && (p[i + k] | 0x20) == (uint8_t)w[k])
			k++;
		if (k == n)
			return true;
	}
	return false;
}

static bool has_str(const uint8_t *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s)) != NULL;
}

/* A byte of an unquoted word, as the classifier's lexer reads it. */
static bool word_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

/* Whether some word of p[0..len) is all digits, of value id (leading
 * zeros allowed, as the server's lexer skips them). */
static bool has_number(const uint8_t *p, size_t len, uint64_t id)
{
	for (size_t i = 0; i < len; i++) {
		size_t j = i;
		uint64_t v = 0;
		bool over = false;

		if (i > 0 && word_byte(p[i - 1]))
			continue;
		for (; j < len && p[j] >= '0' && p[j] <= '9'; j++) {
			unsigned d = p[j] - '0';
			over = over || v > (UINT64_MAX - d) / 10;
			v = v * 10 + d;
		}
		if (j > i && (j == len || !word_byte(p[j])) && !over && v == id)
			return true;
	}
	return false;
}

/* The plain KILL the lexer needs no subtlety for: spaces, words, digits,
 * trailing ';'. True with what classify_kill() must then return. */
struct plain {
	const uint8_t *p, *e;
};

static void plain_spaces(struct plain *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'))
		s->p++;
}

static bool plain_word(struct plain *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->e - s->p) < n || (s->e - s->p > (ptrdiff_t)n && word_byte(s->p[n])))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s->p[i] & ~0x20) != (uint8_t)w[i])
			return false;
	s->p += n;
	plain_spaces(s);
	return true;
}

static bool plain_kill(const uint8_t *p, size_t len, bool *query, uint64_t *id)
{
	struct plain s = {p, p + len};
	uint64_t v = 0;
	size_t digits = 0;

	plain_spaces(&s);
	if (!plain_word(&s, "KILL"))
		return false;
	if (!plain_word(&s, "HARD"))
		(void)plain_word(&s, "SOFT");
	*query = plain_word(&s, "QUERY");
	if (!*query)
		(void)plain_word(&s, "CONNECTION");
	for (; s.p < s.e && *s.p >= '0' && *s.p <= '9'; s.p++, digits++) {
		unsigned d = *s.p - '0';
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (digits == 0 || (s.p < s.e && word_byte(*s.p)))
		return false;
	while (s.p < s.e && (*s.p == ' ' || *s.p == '\t' || *s.p == '\n' || *s.p == ';'))
		s.p++;
	*id = v;
	return s.p == s.e;
}

static void check_kill(const uint8_t *text, size_t len)
{
	bool query = false, query2 = false, want_query;
	uint64_t id = 0, id2 = 0, want_id;
	bool ok = classify_kill((const char *)text, len, &query, &id);

	FUZZ_CHECK(classify_kill((const char *)text, len, &query2, &id2) == ok);
	if (ok) {
		char canon[64];
		int n;

		FUZZ_CHECK(query2 == query && id2 == id);
		FUZZ_CHECK(has_ci(text, len, "kill"));
		FUZZ_CHECK(!query || has_ci(text, len, "query"));
		FUZZ_CHECK(has_number(text, len, id));
		/* The canonical form says the same. */
		n = snprintf(canon, sizeof(canon), "KILL %s%llu", query ? "QUERY " : "",
			     (unsigned long long)id);
		FUZZ_CHECK(classify_kill(canon, (size_t)n, &query2, &id2));
		FUZZ_CHECK(query2 == query && id2 == id);
	}
	if (plain_kill(text, len, &want_query, &want_id))
		FUZZ_CHECK(ok && query == want_query && id == want_id);
}

/* A hint comment in front of any text is seen, whatever follows it. */
static void check_hint_prefix(const uint8_t *text, size_t len, bool truncated, bool nbe)
{
	static const struct {
		const char *comment;
		unsigned flag;
	} prefixes[] = {
		{"/* sluice:primary */", CLASSIFY_HINT_PRIMARY},
		{"-- sluice:reader\n", CLASSIFY_HINT_READER},
		{"#SLUICE : Reader\n", CLASSIFY_HINT_READER},
		{"/*Sluice:PRIMARY*/", CLASSIFY_HINT_PRIMARY},
	};
	size_t i = len % (sizeof(prefixes) / sizeof(prefixes[0]));
	size_t plen = strlen(prefixes[i].comment);
	uint8_t *both = malloc(plen + len + 1);
	struct classify_result r;

	FUZZ_CHECK(both != NULL);
	memcpy(both, prefixes[i].comment, plen);
	if (len)
		memcpy(both + plen, text, len);
	classify((const char *)both, plen + len, truncated, nbe, &r);
	FUZZ_CHECK(r.flags & prefixes[i].flag);
	free(both);
}

/* classify_table_keys() writes no more than it is given room for, answers
 * the same twice, with room for fewer keys or for none, and finds tables
 * only in a CREATE or a DROP. */
static void check_table_keys(const uint8_t *text, size_t len, bool nbe)
{
	uint64_t a[5] = {0}, b[5] = {0};
	size_t n = classify_table_keys((const char *)text, len, nbe, "db", a, 4);

	FUZZ_CHECK(a[4] == 0);
	FUZZ_CHECK(classify_table_keys((const char *)text, len, nbe, "db", b, 2) == n);
	FUZZ_CHECK(memcmp(a, b, 2 * sizeof(*a)) == 0 && b[2] == 0);
	FUZZ_CHECK(classify_table_keys((const char *)text, len, nbe, NULL, NULL, 0) == n);
	if (n)
		FUZZ_CHECK(has_ci(text, len, "create") || has_ci(text, len, "drop"));
}

static void check(const uint8_t *p, size_t len, bool truncated, bool nbe)
{
	uint8_t *text = fuzz_dup(p, len);
	struct classify_result a, b;

	classify((const char *)text, len, truncated, nbe, &a);
	classify((const char *)text, len, truncated, nbe, &b);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	FUZZ_CHECK(a.kind <= CLASSIFY_UNKNOWN);
	FUZZ_CHECK(memchr(a.db, '\0', sizeof(a.db)) != NULL);
	FUZZ_CHECK(a.db[0] == '\0' || a.kind == CLASSIFY_SESSION);
	FUZZ_CHECK(!!(a.flags & CLASSIFY_TRUNCATED) == truncated);
	FUZZ_CHECK((a.flags >> 30) == 0);
	if (!has_byte(text, len, ';'))
		FUZZ_CHECK(!(a.flags & CLASSIFY_MULTI));
	if (a.flags & (CLASSIFY_HINT_PRIMARY | CLASSIFY_HINT_READER))
		FUZZ_CHECK(has_ci(text, len, "sluice") && has_byte(text, len, ':') &&
			   (has_str(text, len, "/*") || has_byte(text, len, '#') ||
			    has_str(text, len, "--")));
	if (a.flags & CLASSIFY_HINT_PRIMARY)
		FUZZ_CHECK(has_ci(text, len, "primary"));
	if (a.flags & CLASSIFY_HINT_READER)
		FUZZ_CHECK(has_ci(text, len, "reader"));
	if (!has_byte(text, len, '@'))
		FUZZ_CHECK(!(a.flags & (CLASSIFY_USER_VAR_READ | CLASSIFY_USER_VAR_WRITE)));
	if (a.flags & CLASSIFY_CALL)
		FUZZ_CHECK(has_ci(text, len, "call"));
	if (a.flags & (CLASSIFY_HANDLER_OPEN | CLASSIFY_HANDLER_CLOSE))
		FUZZ_CHECK(has_ci(text, len, "handler"));
	if (a.kind == CLASSIFY_SESSION && a.db[0] != '\0')
		FUZZ_CHECK(strlen(a.db) <= CLASSIFY_DB_MAX);
	check_kill(text, len);
	check_hint_prefix(text, len, truncated, nbe);
	check_table_keys(text, len, nbe);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t options;
	size_t cut;

	if (size == 0)
		return 0;
	options = data[0];
	data++;
	size--;
	check(data, size, options & 1, options & 2);
	/* A prefix, cut where the options say, in the other modes too. */
	cut = size ? ((size_t)(options >> 2) * 2654435761u) % (size + 1) : 0;
	check(data, cut, true, options & 2);
	check(data, cut, false, !(options & 2));
	return 0;
}
