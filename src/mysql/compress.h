/*
 * The compressed protocol (CLIENT_COMPRESS), as a codec on byte buffers.
 * After login every transfer is wrapped in frames: 3 bytes compressed
 * length, 1 byte compressed sequence id, 3 bytes uncompressed length (0:
 * the payload is stored, not deflated), then the payload, which holds plain
 * MySQL packets (or pieces of them). sluice compresses only towards clients
 * that asked for it; the hop to the backend stays plain.
 */
#ifndef SLUICE_MYSQL_COMPRESS_H
#define SLUICE_MYSQL_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_writer;

#define MYSQL_COMP_HEADER_LEN 7
/* Payloads shorter than this are sent stored: deflate would only add. */
#define MYSQL_COMP_MIN_LEN 50

struct mysql_comp_header {
	uint32_t comp_len; /* bytes that follow the header */
	uint8_t seq;
	uint32_t uncomp_len; /* 0: stored as is, comp_len bytes of plain data */
};

void mysql_read_comp_header(const uint8_t h[MYSQL_COMP_HEADER_LEN], struct mysql_comp_header *out);

/* Inflate exactly out_len bytes from in. False if the data is corrupt or
 * does not inflate to exactly out_len bytes. */
bool mysql_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
	__attribute__((warn_unused_result));

/* Append plain bytes as one or more compressed frames (each at most
 * 16 MiB - 1 of plain data), numbering them from *seq, which is advanced. */
void mysql_write_compressed(struct mysql_writer *w, uint8_t *seq, const uint8_t *plain, size_t len);

#endif
