/*
 * Compressed-protocol frames on zlib. See compress.h.
 */
#include "compress.h"

#include <stdlib.h>
#include <zlib.h>

#include "packet.h"
#include "wire.h"

void mysql_read_comp_header(const uint8_t h[MYSQL_COMP_HEADER_LEN], struct mysql_comp_header *out)
{
	out->comp_len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
	out->seq = h[3];
	out->uncomp_len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16;
}

bool mysql_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
	uLongf got = (uLongf)out_len;

	if (uncompress(out, &got, in, (uLong)in_len) != Z_OK)
		return false;
	return got == out_len;
}

void mysql_write_compressed(struct mysql_writer *w, uint8_t *seq, const uint8_t *plain, size_t len)
{
	size_t off = 0;

	do {
		size_t chunk = len - off < MYSQL_MAX_PAYLOAD ? len - off : MYSQL_MAX_PAYLOAD;
		size_t header_at = w->len;
		bool stored = chunk < MYSQL_COMP_MIN_LEN;

		mysql_put_zeros(w, MYSQL_COMP_HEADER_LEN);
		if (!stored) {
			uLongf bound = compressBound((uLong)chunk);
			size_t body_at = w->len;
			mysql_put_zeros(w, bound);
			if (!w->ok)
				return;
			uLongf out_len = bound;
			if (compress2(w->data + body_at, &out_len, plain + off, (uLong)chunk,
				      Z_DEFAULT_COMPRESSION) != Z_OK ||
			    out_len >= chunk) {
				/* Incompressible: store it instead. */
				w->len = body_at;
				stored = true;
			} else {
				w->len = body_at + out_len;
			}
		}
		if (stored)
			mysql_put_bytes(w, plain + off, chunk);
		if (!w->ok)
			return;
		size_t body = w->len - header_at - MYSQL_COMP_HEADER_LEN;
		uint8_t *h = w->data + header_at;
		h[0] = (uint8_t)body;
		h[1] = (uint8_t)(body >> 8);
		h[2] = (uint8_t)(body >> 16);
		h[3] = (*seq)++;
		size_t ulen = stored ? 0 : chunk;
		h[4] = (uint8_t)ulen;
		h[5] = (uint8_t)(ulen >> 8);
		h[6] = (uint8_t)(ulen >> 16);
		off += chunk;
	} while (off < len);
}
