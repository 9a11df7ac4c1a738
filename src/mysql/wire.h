/*
 * Bounds-checked reading and building of MySQL protocol fields: fixed-size
 * little-endian integers, length-encoded integers and strings, NUL-terminated
 * strings. No I/O. A reader that runs past the end of its input stops
 * yielding data and remembers it (ok = false), so a parser can read a whole
 * packet and check once; a builder that cannot grow does the same.
 */
#ifndef SLUICE_MYSQL_WIRE_H
#define SLUICE_MYSQL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_reader {
	const uint8_t *p;
	const uint8_t *end;
	bool ok; /* false once any read went past the end */
};

void mysql_reader_init(struct mysql_reader *r, const uint8_t *data, size_t len);
size_t mysql_reader_left(const struct mysql_reader *r);

/* Each returns 0 (and sets r->ok = false) when the input is too short. */
uint8_t mysql_read_u8(struct mysql_reader *r);
uint16_t mysql_read_u16(struct mysql_reader *r);
uint32_t mysql_read_u24(struct mysql_reader *r);
uint32_t mysql_read_u32(struct mysql_reader *r);
uint64_t mysql_read_u64(struct mysql_reader *r);

/* Length-encoded integer. 0xfb (SQL NULL in a row) sets *is_null when given,
 * and is an error otherwise; 0xff is always an error. */
uint64_t mysql_read_lenenc(struct mysql_reader *r, bool *is_null);

/* Point *out at the next n bytes (inside the input; nothing is copied). */
bool mysql_read_bytes(struct mysql_reader *r, size_t n, const uint8_t **out);

/* A length-encoded string, pointed to in place. */
bool mysql_read_lenenc_str(struct mysql_reader *r, const uint8_t **out, size_t *len);

/* A NUL-terminated string, pointed to in place; the NUL is consumed. Fails
 * when there is no NUL before the end. */
bool mysql_read_nul_str(struct mysql_reader *r, const char **out, size_t *len);

/* Copy a string of len bytes into dst (cap bytes, always NUL-terminated).
 * Fails if it does not fit, or contains a NUL. */
bool mysql_copy_str(char *dst, size_t cap, const void *src, size_t len);

/* A growable output buffer. All put functions set ok = false instead of
 * failing loudly when memory runs out; check once at the end. */
struct mysql_writer {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t packet_start; /* offset of the open packet's header */
	bool ok;
};

void mysql_writer_init(struct mysql_writer *w);
void mysql_writer_deinit(struct mysql_writer *w);
void mysql_writer_reset(struct mysql_writer *w);

void mysql_put_u8(struct mysql_writer *w, uint8_t v);
void mysql_put_u16(struct mysql_writer *w, uint16_t v);
void mysql_put_u24(struct mysql_writer *w, uint32_t v);
void mysql_put_u32(struct mysql_writer *w, uint32_t v);
void mysql_put_u64(struct mysql_writer *w, uint64_t v);
void mysql_put_lenenc(struct mysql_writer *w, uint64_t v);
void mysql_put_bytes(struct mysql_writer *w, const void *data, size_t len);
void mysql_put_zeros(struct mysql_writer *w, size_t n);
void mysql_put_nul_str(struct mysql_writer *w, const char *s);
void mysql_put_lenenc_str(struct mysql_writer *w, const void *data, size_t len);

/* Start a packet with sequence id seq: reserves the 4-byte header. */
void mysql_packet_begin(struct mysql_writer *w, uint8_t seq);
/* Close the open packet, filling in its length. Payloads of 16 MiB - 1 or
 * more are split into continuation packets as the protocol requires. */
void mysql_packet_end(struct mysql_writer *w);

/* Read a 4-byte packet header. */
static inline uint32_t mysql_header_len(const uint8_t *h)
{
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
}

/* Overwrite 4 bytes at p with v, little-endian: a field patched in place in
 * a packet that is otherwise passed on as it is (a statement id). */
static inline void mysql_store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
