/*
 * Fuzz target for the statement classifier (src/classify.c). The first
 * byte holds options (bit 0: truncated, bit 1: NO_BACKSLASH_ESCAPES, bits
 * 2-7: where to cut a prefix); the rest is the statement text. The result
 * must be well-formed, the same on a second call, and agree with the bytes
 * (no hint without "sluice", no MULTI without ';', no user variable without
 * '@'); every prefix must classify too.
 */
#include <stdbool.h>
#include <string.h>

#include "classify.h"
#include "fuzz.h"

static bool has_byte(const uint8_t *p, size_t len, uint8_t b)
{
	return memchr(p, b, len) != NULL;
}

/* Whether "sluice" occurs in p[0..len), in any case. */
static bool has_sluice(const uint8_t *p, size_t len)
{
	static const char word[] = "sluice";

	for (size_t i = 0; i + 6 <= len; i++) {
		size_t k = 0;

		while (k < 6 && (p[i + k] | 0x20) == word[k])
			k++;
		if (k == 6)
			return true;
	}
	return false;
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
	FUZZ_CHECK((a.flags >> 27) == 0);
	if (!has_byte(text, len, ';'))
		FUZZ_CHECK(!(a.flags & CLASSIFY_MULTI));
	if (!has_sluice(text, len))
		FUZZ_CHECK(!(a.flags & (CLASSIFY_HINT_PRIMARY | CLASSIFY_HINT_READER)));
	if (!has_byte(text, len, '@'))
		FUZZ_CHECK(!(a.flags & (CLASSIFY_USER_VAR_READ | CLASSIFY_USER_VAR_WRITE)));
	if (a.kind == CLASSIFY_SESSION && a.db[0] != '\0')
		FUZZ_CHECK(strlen(a.db) <= CLASSIFY_DB_MAX);
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
