/*
 * FNV-1a, 64 bits: a fast hash for keys and fingerprints, not for anything an
 * attacker must not steer. Start from FNV1A_START and feed it byte by byte.
 */
#ifndef SLUICE_FNV_H
#define SLUICE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_START 0xcbf29ce484222325ull

static inline uint64_t fnv1a(uint64_t h, uint8_t byte)
{
	return (h ^ byte) * 0x100000001b3ull;
}

/* A byte string's FNV-1a folded to 32 bits: the key of a statement's text
 * (stmt.h, pool.h). */
static inline uint32_t fnv1a_bytes32(const uint8_t *p, size_t len)
{
	uint64_t h = FNV1A_START;

	for (size_t i = 0; i < len; i++)
		h = fnv1a(h, p[i]);
	return (uint32_t)(h ^ (h >> 32));
}

#endif
