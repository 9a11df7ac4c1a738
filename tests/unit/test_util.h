/*
 * Small helpers shared by the C unit tests that feed the codec bytes: hex
 * fixtures to bytes, and exact-size heap copies.
 */
#ifndef SLUICE_TEST_UTIL_H
#define SLUICE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures/fixture.h"

/* Decode hex (two digits per byte, no spaces) into out. Returns the byte
 * count, or 0 when it does not fit in cap. */
static inline size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(fixture_hex_digit(hex[2 * i]) << 4 |
				   fixture_hex_digit(hex[2 * i + 1]));
	return n;
}

/* A heap copy of exactly len bytes, so valgrind and ASan see any read past
 * it. Aborts when out of memory. */
static inline uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	memcpy(copy, p, len);
	return copy;
}

#endif
