/*
 * FNV-1a, 64 bits: a fast hash for keys and fingerprints, not for anything an
 * attacker must not steer. Start from FNV1A_START and feed it byte by byte.
 */
#ifndef SLUICE_FNV_H
#define SLUICE_FNV_H

#include <stdint.h>

#define FNV1A_START 0xcbf29ce484222325ull

static inline uint64_t fnv1a(uint64_t h, uint8_t byte)
{
	return (h ^ byte) * 0x100000001b3ull;
}

#endif
