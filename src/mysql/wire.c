/*
 * Bounded field readers and a growable builder for MySQL packets. See wire.h.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include "packet.h"

void mysql_reader_init(struct mysql_reader *r, const uint8_t *data, size_t len)
{
	r->p = data;
	r->end = data + len;
	r->ok = true;
}

size_t mysql_reader_left(const struct mysql_reader *r)
{
	return r->ok ? (size_t)(r->end - r->p) : 0;
}

/* Reserve n bytes; NULL (and the reader marked bad) when fewer are left. */
static const uint8_t *take(struct mysql_reader *r, size_t n)
{
	const uint8_t *at = r->p;

	if (!r->ok || (size_t)(r->end - r->p) < n) {
		r->ok = false;
		return NULL;
	}
	r->p += n;
	return at;
}

uint8_t mysql_read_u8(struct mysql_reader *r)
{
	const uint8_t *b = take(r, 1);
	return b ? b[0] : 0;
}

uint16_t mysql_read_u16(struct mysql_reader *r)
{
	const uint8_t *b = take(r, 2);
	return b ? (uint16_t)(b[0] | b[1] << 8) : 0;
}

uint32_t mysql_read_u24(struct mysql_reader *r)
{
	const uint8_t *b = take(r, 3);
	return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 : 0;
}

uint32_t mysql_read_u32(struct mysql_reader *r)
{
	const uint8_t *b = take(r, 4);
	return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			       (uint32_t)b[3] << 24
		 : 0;
}

uint64_t mysql_read_u64(struct mysql_reader *r)
{
	const uint8_t *b = take(r, 8);
	uint64_t v = 0;

	for (int i = 7; b && i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

uint64_t mysql_read_lenenc(struct mysql_reader *r, bool *is_null)
{
	uint8_t first = mysql_read_u8(r);

	if (is_null)
		*is_null = false;
	if (!r->ok)
		return 0;
	if (first < 0xfb)
		return first;
	switch (first) {
	case 0xfb:
		if (is_null) {
			*is_null = true;
			return 0;
		}
		break;
	case 0xfc:
		return mysql_read_u16(r);
	case 0xfd:
		return mysql_read_u24(r);
	case 0xfe:
		return mysql_read_u64(r);
	}
	r->ok = false;
	return 0;
}

bool mysql_read_bytes(struct mysql_reader *r, size_t n, const uint8_t **out)
{
	*out = take(r, n);
	return r->ok;
}

bool mysql_read_lenenc_str(struct mysql_reader *r, const uint8_t **out, size_t *len)
{
	uint64_t n = mysql_read_lenenc(r, NULL);

	*out = NULL;
	*len = 0;
	if (!r->ok || n > (uint64_t)(r->end - r->p)) {
		r->ok = false;
		return false;
	}
	*len = (size_t)n;
	*out = take(r, (size_t)n);
	return r->ok;
}

bool mysql_read_nul_str(struct mysql_reader *r, const char **out, size_t *len)
{
	const uint8_t *nul;

	*out = NULL;
	*len = 0;
	if (!r->ok)
		return false;
	nul = memchr(r->p, 0, (size_t)(r->end - r->p));
	if (!nul) {
		r->ok = false;
		return false;
	}
	*out = (const char *)r->p;
	*len = (size_t)(nul - r->p);
	r->p = nul + 1;
	return true;
}

bool mysql_copy_str(char *dst, size_t cap, const void *src, size_t len)
{
	if (cap == 0)
		return false;
	dst[0] = '\0';
	if (len >= cap || (len && memchr(src, 0, len)))
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

void mysql_writer_init(struct mysql_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->ok = true;
}

void mysql_writer_deinit(struct mysql_writer *w)
{
	free(w->data);
	mysql_writer_init(w);
}

void mysql_writer_reset(struct mysql_writer *w)
{
	w->len = 0;
	w->packet_start = 0;
	w->ok = true;
}

/* Make room for n more bytes; returns where they go, or NULL. */
static uint8_t *grow(struct mysql_writer *w, size_t n)
{
	if (!w->ok)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->ok = false; /* no request this big is real */
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *data = realloc(w->data, cap);
		if (!data) {
			w->ok = false;
			return NULL;
		}
		w->data = data;
		w->cap = cap;
	}
	uint8_t *at = w->data + w->len;
	w->len += n;
	return at;
}

void mysql_put_u8(struct mysql_writer *w, uint8_t v)
{
	uint8_t *b = grow(w, 1);
	if (b)
		b[0] = v;
}

void mysql_put_u16(struct mysql_writer *w, uint16_t v)
{
	uint8_t *b = grow(w, 2);
	if (b) {
		b[0] = (uint8_t)v;
		b[1] = (uint8_t)(v >> 8);
	}
}

void mysql_put_u24(struct mysql_writer *w, uint32_t v)
{
	uint8_t *b = grow(w, 3);
	if (b) {
		b[0] = (uint8_t)v;
		b[1] = (uint8_t)(v >> 8);
		b[2] = (uint8_t)(v >> 16);
	}
}

void mysql_put_u32(struct mysql_writer *w, uint32_t v)
{
	mysql_put_u16(w, (uint16_t)v);
	mysql_put_u16(w, (uint16_t)(v >> 16));
}

void mysql_put_u64(struct mysql_writer *w, uint64_t v)
{
	mysql_put_u32(w, (uint32_t)v);
	mysql_put_u32(w, (uint32_t)(v >> 32));
}

void mysql_put_lenenc(struct mysql_writer *w, uint64_t v)
{
	if (v < 0xfb) {
		mysql_put_u8(w, (uint8_t)v);
	} else if (v <= 0xffff) {
		mysql_put_u8(w, 0xfc);
		mysql_put_u16(w, (uint16_t)v);
	} else if (v <= 0xffffff) {
		mysql_put_u8(w, 0xfd);
		mysql_put_u24(w, (uint32_t)v);
	} else {
		mysql_put_u8(w, 0xfe);
		mysql_put_u64(w, v);
	}
}

void mysql_put_bytes(struct mysql_writer *w, const void *data, size_t len)
{
	uint8_t *b = len ? grow(w, len) : NULL;
	if (b)
		memcpy(b, data, len);
}

void mysql_put_zeros(struct mysql_writer *w, size_t n)
{
	uint8_t *b = n ? grow(w, n) : NULL;
	if (b)
		memset(b, 0, n);
}

void mysql_put_nul_str(struct mysql_writer *w, const char *s)
{
	mysql_put_bytes(w, s, strlen(s) + 1);
}

void mysql_put_lenenc_str(struct mysql_writer *w, const void *data, size_t len)
{
	mysql_put_lenenc(w, len);
	mysql_put_bytes(w, data, len);
}

void mysql_packet_begin(struct mysql_writer *w, uint8_t seq)
{
	w->packet_start = w->len;
	uint8_t *h = grow(w, MYSQL_HEADER_LEN);
	if (h)
		h[3] = seq;
}

void mysql_packet_end(struct mysql_writer *w)
{
	if (!w->ok)
		return;
	uint8_t *h = w->data + w->packet_start;
	size_t payload = w->len - w->packet_start - MYSQL_HEADER_LEN;
	uint8_t seq = h[3];

	if (payload < MYSQL_MAX_PAYLOAD) {
		h[0] = (uint8_t)payload;
		h[1] = (uint8_t)(payload >> 8);
		h[2] = (uint8_t)(payload >> 16);
		return;
	}
	/* Rare: split into 16 MiB - 1 chunks, each with its own header and the
	 * next sequence id, ending with a shorter (possibly empty) packet. */
	uint8_t *copy = malloc(payload);
	if (!copy) {
		w->ok = false;
		return;
	}
	memcpy(copy, h + MYSQL_HEADER_LEN, payload);
	w->len = w->packet_start;
	size_t off = 0;
	for (;;) {
		size_t chunk =
			payload - off < MYSQL_MAX_PAYLOAD ? payload - off : MYSQL_MAX_PAYLOAD;
		mysql_put_u24(w, (uint32_t)chunk);
		mysql_put_u8(w, seq++);
		mysql_put_bytes(w, copy + off, chunk);
		off += chunk;
		if (chunk < MYSQL_MAX_PAYLOAD)
			break;
	}
	free(copy);
}
