/*
 * Shared by the codec fuzz targets: the libFuzzer entry point each defines,
 * and FUZZ_CHECK, which aborts on a broken property so that both libFuzzer
 * and the replay runner (replay.c) report the input.
 */
#ifndef SLUICE_TESTS_FUZZ_H
#define SLUICE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A heap copy of exactly len bytes: a read past it is an ASan (or
 * valgrind) error even when the input buffer is larger. */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	FUZZ_CHECK(copy != NULL);
	for (size_t i = 0; i < len; i++)
		copy[i] = p[i];
	return copy;
}

#endif
