/*
 * Fuzz target for src/mysql/compress.c. Input: a 7-byte compressed-frame
 * header and the frame body. The header is read and the body inflated to
 * the length it claims (capped, to keep runs fast); whatever inflates, and
 * the raw input itself, must come back intact from mysql_write_compressed.
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/compress.h"
#include "mysql/wire.h"
#include "fuzz.h"

#define UNCOMP_CAP (1u << 20)

/* Compress plain, then take the frames apart again: same bytes, numbered
 * from the starting sequence id, each within the 3-byte lengths. */
static void round_trip(const uint8_t *plain, size_t len, uint8_t seq)
{
	struct mysql_writer w;
	uint8_t next = seq;
	size_t at = 0, off = 0;

	mysql_writer_init(&w);
	mysql_write_compressed(&w, &next, plain, len);
	FUZZ_CHECK(w.ok);
	while (at < w.len) {
		struct mysql_comp_header h;

		FUZZ_CHECK(at + MYSQL_COMP_HEADER_LEN <= w.len);
		mysql_read_comp_header(w.data + at, &h);
		FUZZ_CHECK(h.seq == seq++);
		FUZZ_CHECK(at + MYSQL_COMP_HEADER_LEN + h.comp_len <= w.len);
		const uint8_t *body = w.data + at + MYSQL_COMP_HEADER_LEN;
		if (h.uncomp_len) {
			FUZZ_CHECK(h.comp_len < h.uncomp_len && off + h.uncomp_len <= len);
			uint8_t *out = malloc(h.uncomp_len);
			FUZZ_CHECK(out && mysql_inflate(body, h.comp_len, out, h.uncomp_len));
			FUZZ_CHECK(memcmp(out, plain + off, h.uncomp_len) == 0);
			free(out);
			off += h.uncomp_len;
		} else {
			FUZZ_CHECK(off + h.comp_len <= len);
			FUZZ_CHECK(memcmp(body, plain + off, h.comp_len) == 0);
			off += h.comp_len;
		}
		at += MYSQL_COMP_HEADER_LEN + h.comp_len;
	}
	FUZZ_CHECK(off == len && next == seq);
	mysql_writer_deinit(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mysql_comp_header h;

	if (size < MYSQL_COMP_HEADER_LEN)
		return 0;
	mysql_read_comp_header(data, &h);
	FUZZ_CHECK(h.comp_len <= 0xffffff && h.uncomp_len <= 0xffffff);
	size_t body_len = size - MYSQL_COMP_HEADER_LEN;
	if (body_len > h.comp_len)
		body_len = h.comp_len;
	uint8_t *body = fuzz_dup(data + MYSQL_COMP_HEADER_LEN, body_len);
	if (h.uncomp_len && h.uncomp_len <= UNCOMP_CAP) {
		uint8_t *out = malloc(h.uncomp_len);
		FUZZ_CHECK(out != NULL);
		if (mysql_inflate(body, body_len, out, h.uncomp_len))
			round_trip(out, h.uncomp_len, h.seq);
		free(out);
	}
	round_trip(body, body_len, h.seq);
	free(body);
	return 0;
}
