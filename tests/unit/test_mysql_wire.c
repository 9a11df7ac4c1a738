/*
 * Unit tests for src/mysql/wire.c: every fixed-size and length-encoded
 * reader at and past the end of its input (0 and nothing consumed, and that
 * a failure sticks), the string readers, the builder's exact bytes, growth
 * and refusal of absurd sizes, and the 16 MiB splitting of
 * mysql_packet_end (headers, sequence ids, the trailing empty packet, an
 * earlier packet left alone).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/packet.h"
#include "mysql/wire.h"
#include "check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixed-size and length-encoded integers ---------------------------- */

enum read_op { RD_U8, RD_U16, RD_U24, RD_U32, RD_U64, RD_LENENC, RD_LENENC_NULLABLE };

struct read_case {
	const char *name;
	enum read_op op;
	const char *in; /* bytes; len says how many */
	size_t len;
	bool want_ok;
	uint64_t want;	  /* the value (0 when !want_ok: readers return 0) */
	bool want_null;	  /* RD_LENENC_NULLABLE only */
	size_t want_left; /* after the read (0 once failed) */
};

/* A read that fails returns 0 and consumes nothing of the field it could
 * not read (wire.h): a u64 with 7 or 4 bytes left gives 0, not the half
 * that was there. A length-encoded integer has consumed its marker byte. */
static const struct read_case read_cases[] = {
	{"u8 exactly", RD_U8, "\x7f", 1, true, 0x7f, false, 0},
	{"u8 leaves the rest", RD_U8, "\xff\x01", 2, true, 0xff, false, 1},
	{"u8 at the end", RD_U8, "", 0, false, 0, false, 0},
	{"u16 exactly", RD_U16, "\x34\x12", 2, true, 0x1234, false, 0},
	{"u16 one short", RD_U16, "\x34", 1, false, 0, false, 0},
	{"u16 at the end", RD_U16, "", 0, false, 0, false, 0},
	{"u24 exactly", RD_U24, "\x56\x34\x12", 3, true, 0x123456, false, 0},
	{"u24 max", RD_U24, "\xff\xff\xff\x00", 4, true, 0xffffff, false, 1},
	{"u24 one short", RD_U24, "\x56\x34", 2, false, 0, false, 0},
	{"u32 exactly", RD_U32, "\x78\x56\x34\x12", 4, true, 0x12345678, false, 0},
	{"u32 high bit", RD_U32, "\x00\x00\x00\x80", 4, true, 0x80000000u, false, 0},
	{"u32 one short", RD_U32, "\x78\x56\x34", 3, false, 0, false, 0},
	{"u64 exactly", RD_U64, "\x08\x07\x06\x05\x04\x03\x02\x81", 8, true, 0x8102030405060708ull,
	 false, 0},
	{"u64 one short", RD_U64, "\x08\x07\x06\x05\x04\x03\x02", 7, false, 0, false, 0},
	{"u64 half", RD_U64, "\x08\x07\x06\x05", 4, false, 0, false, 0},
	{"u64 less than half", RD_U64, "\x08\x07\x06", 3, false, 0, false, 0},
	{"lenenc 1 byte 0", RD_LENENC, "\x00", 1, true, 0, false, 0},
	{"lenenc 1 byte 250", RD_LENENC, "\xfa\x01", 2, true, 250, false, 1},
	{"lenenc at the end", RD_LENENC, "", 0, false, 0, false, 0},
	{"lenenc 3 bytes 251", RD_LENENC, "\xfc\xfb\x00", 3, true, 251, false, 0},
	{"lenenc 3 bytes max", RD_LENENC, "\xfc\xff\xff", 3, true, 0xffff, false, 0},
	{"lenenc 3 bytes one short", RD_LENENC, "\xfc\xff", 2, false, 0, false, 0},
	{"lenenc 3 bytes marker only", RD_LENENC, "\xfc", 1, false, 0, false, 0},
	{"lenenc 4 bytes 65536", RD_LENENC, "\xfd\x00\x00\x01", 4, true, 0x10000, false, 0},
	{"lenenc 4 bytes max", RD_LENENC, "\xfd\xff\xff\xff\x05", 5, true, 0xffffff, false, 1},
	{"lenenc 4 bytes one short", RD_LENENC, "\xfd\xff\xff", 3, false, 0, false, 0},
	{"lenenc 9 bytes 2^24", RD_LENENC, "\xfe\x00\x00\x00\x01\x00\x00\x00\x00", 9, true,
	 0x1000000, false, 0},
	{"lenenc 9 bytes max", RD_LENENC, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff", 9, true,
	 UINT64_MAX, false, 0},
	{"lenenc 9 bytes one short", RD_LENENC, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8, false, 0,
	 false, 0},
	{"lenenc 9 bytes marker and 3", RD_LENENC, "\xfe\xff\xff\xff", 4, false, 0, false, 0},
	{"lenenc 0xfb where NULL is not allowed", RD_LENENC, "\xfb\x00", 2, false, 0, false, 0},
	{"lenenc 0xff", RD_LENENC, "\xff\x00\x00", 3, false, 0, false, 0},
	{"nullable 0xfb is NULL", RD_LENENC_NULLABLE, "\xfb\x01", 2, true, 0, true, 1},
	{"nullable plain value", RD_LENENC_NULLABLE, "\x05", 1, true, 5, false, 0},
	{"nullable 3 bytes", RD_LENENC_NULLABLE, "\xfc\x00\x01", 3, true, 256, false, 0},
	{"nullable 0xff", RD_LENENC_NULLABLE, "\xff", 1, false, 0, false, 0},
	{"nullable at the end", RD_LENENC_NULLABLE, "", 0, false, 0, false, 0},
};

static uint64_t read_one(struct mysql_reader *r, enum read_op op, bool *is_null)
{
	*is_null = false;
	switch (op) {
	case RD_U8:
		return mysql_read_u8(r);
	case RD_U16:
		return mysql_read_u16(r);
	case RD_U24:
		return mysql_read_u24(r);
	case RD_U32:
		return mysql_read_u32(r);
	case RD_U64:
		return mysql_read_u64(r);
	case RD_LENENC:
		return mysql_read_lenenc(r, NULL);
	case RD_LENENC_NULLABLE:
		*is_null = true; /* must be cleared by a non-NULL read */
		return mysql_read_lenenc(r, is_null);
	}
	return 0;
}

static void test_read_ints(void)
{
	for (size_t i = 0; i < N(read_cases); i++) {
		const struct read_case *c = &read_cases[i];
		struct mysql_reader r;
		bool is_null;
		uint8_t *copy;

		check_case("%s", c->name);
		/* A heap copy of exactly len bytes: valgrind sees any overread. */
		copy = malloc(c->len ? c->len : 1);
		memcpy(copy, c->in, c->len);
		mysql_reader_init(&r, copy, c->len);
		CHECK_EQ_INT(mysql_reader_left(&r), c->len);
		uint64_t v = read_one(&r, c->op, &is_null);
		CHECK_EQ_INT(r.ok, c->want_ok);
		CHECK(v == c->want);
		if (c->op == RD_LENENC_NULLABLE && c->want_ok)
			CHECK_EQ_INT(is_null, c->want_null);
		CHECK_EQ_INT(mysql_reader_left(&r), c->want_left);
		if (!c->want_ok) {
			/* Nothing of the short field consumed (a lenenc marker is). */
			bool lenenc = c->op == RD_LENENC || c->op == RD_LENENC_NULLABLE;
			CHECK_EQ_INT(r.p - copy, lenenc && c->len > 0 ? 1 : 0);
			/* A failure sticks: nothing more is read, even bytes that are there. */
			CHECK_EQ_INT(mysql_read_u8(&r), 0);
			CHECK(!r.ok);
		}
		free(copy);
	}
}

/* A failed read does not consume, and later reads of bytes that exist
 * still fail: a parser can read a whole packet and check once. */
static void test_read_failure_sticks(void)
{
	static const uint8_t in[] = {1, 2, 3};
	struct mysql_reader r;
	const uint8_t *out = in;
	const char *s = "x";
	size_t len = 7;

	mysql_reader_init(&r, in, sizeof(in));
	CHECK_EQ_INT(mysql_read_u32(&r), 0);
	CHECK(!r.ok);
	CHECK_EQ_INT(mysql_reader_left(&r), 0);
	CHECK(r.p == in); /* nothing consumed */
	CHECK_EQ_INT(mysql_read_u8(&r), 0);
	CHECK_EQ_INT(mysql_read_lenenc(&r, NULL), 0);
	CHECK(!mysql_read_bytes(&r, 1, &out));
	CHECK(out == NULL);
	CHECK(!mysql_read_nul_str(&r, &s, &len));
	CHECK(s == NULL);
	CHECK_EQ_INT(len, 0);
	CHECK(!mysql_read_lenenc_str(&r, &out, &len));
	CHECK(!r.ok);
}

/* ---- byte runs and strings --------------------------------------------- */

enum str_op { ST_BYTES, ST_LENENC, ST_NUL };

struct str_case {
	const char *name;
	enum str_op op;
	const char *in;
	size_t len;
	size_t n; /* ST_BYTES: how many to take */
	bool want_ok;
	const char *want; /* the string's bytes (want_len of them) */
	size_t want_len;
	size_t want_left;
};

static const struct str_case str_cases[] = {
	{"bytes none at the end", ST_BYTES, "", 0, 0, true, "", 0, 0},
	{"bytes all", ST_BYTES, "abc", 3, 3, true, "abc", 3, 0},
	{"bytes some", ST_BYTES, "abc", 3, 2, true, "ab", 2, 1},
	{"bytes one too many", ST_BYTES, "abc", 3, 4, false, NULL, 0, 0},
	{"bytes huge count", ST_BYTES, "abc", 3, SIZE_MAX, false, NULL, 0, 0},
	{"lenenc str", ST_LENENC, "\003abcd", 5, 0, true, "abc", 3, 1},
	{"lenenc str empty", ST_LENENC, "\x00", 1, 0, true, "", 0, 0},
	{"lenenc str 3-byte length", ST_LENENC, "\xfc\x02\0hi", 5, 0, true, "hi", 2, 0},
	{"lenenc str one short", ST_LENENC, "\003ab", 3, 0, false, NULL, 0, 0},
	{"lenenc str length only", ST_LENENC, "\x01", 1, 0, false, NULL, 0, 0},
	{"lenenc str at the end", ST_LENENC, "", 0, 0, false, NULL, 0, 0},
	{"lenenc str 2^64-1 length", ST_LENENC, "\xfe\xff\xff\xff\xff\xff\xff\xff\377ab", 11, 0,
	 false, NULL, 0, 0},
	{"lenenc str NULL marker", ST_LENENC, "\373ab", 3, 0, false, NULL, 0, 0},
	{"lenenc str 0xff", ST_LENENC, "\377ab", 3, 0, false, NULL, 0, 0},
	{"nul str", ST_NUL, "abc\0def", 7, 0, true, "abc", 3, 3},
	{"nul str empty", ST_NUL, "\0", 1, 0, true, "", 0, 0},
	{"nul str without NUL", ST_NUL, "abc", 3, 0, false, NULL, 0, 0},
	{"nul str at the end", ST_NUL, "", 0, 0, false, NULL, 0, 0},
};

static void test_read_strings(void)
{
	for (size_t i = 0; i < N(str_cases); i++) {
		const struct str_case *c = &str_cases[i];
		struct mysql_reader r;
		const uint8_t *out = (const uint8_t *)"stale";
		const char *s = "stale";
		size_t len = 99;
		bool ok = false;
		uint8_t *copy;

		check_case("%s", c->name);
		copy = malloc(c->len ? c->len : 1);
		memcpy(copy, c->in, c->len);
		mysql_reader_init(&r, copy, c->len);
		switch (c->op) {
		case ST_BYTES:
			ok = mysql_read_bytes(&r, c->n, &out);
			len = ok ? c->n : 0;
			break;
		case ST_LENENC:
			ok = mysql_read_lenenc_str(&r, &out, &len);
			break;
		case ST_NUL:
			ok = mysql_read_nul_str(&r, &s, &len);
			out = (const uint8_t *)s;
			break;
		}
		CHECK_EQ_INT(ok, c->want_ok);
		CHECK_EQ_INT(r.ok, c->want_ok);
		CHECK_EQ_INT(mysql_reader_left(&r), c->want_left);
		if (c->want_ok) {
			CHECK_EQ_INT(len, c->want_len);
			/* In place: the result points into the input. */
			if (CHECK(out >= copy && out + len <= copy + c->len) && len == c->want_len)
				CHECK_EQ_MEM(out, c->want, len);
		} else {
			CHECK(out == NULL);
			if (c->op != ST_BYTES)
				CHECK_EQ_INT(len, 0);
		}
		free(copy);
	}
}

struct copy_case {
	const char *name;
	size_t cap;
	const char *src;
	size_t len;
	bool want_ok;
	const char *want; /* dst afterwards */
};

static const struct copy_case copy_cases[] = {
	{"fits", 8, "abc", 3, true, "abc"},
	{"exactly fits with the NUL", 4, "abcd", 3, true, "abc"},
	{"one too long", 4, "abcd", 4, false, ""},
	{"empty", 1, "", 0, true, ""},
	{"embedded NUL", 8, "ab\0c", 4, false, ""},
	{"no room at all", 0, "a", 1, false, NULL},
};

static void test_copy_str(void)
{
	for (size_t i = 0; i < N(copy_cases); i++) {
		const struct copy_case *c = &copy_cases[i];
		char dst[16];

		check_case("%s", c->name);
		memset(dst, 'z', sizeof(dst));
		CHECK_EQ_INT(mysql_copy_str(dst, c->cap, c->src, c->len), c->want_ok);
		if (c->want)
			CHECK_EQ_STR(dst, c->want);
		else
			CHECK_EQ_INT(dst[0], 'z'); /* cap 0: nothing written */
	}
}

/* ---- the builder ------------------------------------------------------- */

static void test_put_bytes(void)
{
	struct mysql_writer w;
	static const uint8_t want[] = {
		0x7f,				    /* u8 */
		0x34, 0x12,			    /* u16 */
		0x56, 0x34, 0x12,		    /* u24 */
		0x78, 0x56, 0x34, 0x12,		    /* u32 */
		8,    7,    6,	  5,	4, 3, 2, 1, /* u64 */
		'h',  'i',  0,			    /* nul str */
		0,    0,    0,			    /* zeros */
		2,    'o',  'k',		    /* lenenc str */
		0xaa, 0xbb,			    /* bytes */
	};

	mysql_writer_init(&w);
	CHECK(w.ok);
	CHECK_EQ_INT(w.len, 0);
	mysql_put_bytes(&w, NULL, 0); /* nothing to add, nothing allocated */
	mysql_put_zeros(&w, 0);
	CHECK_EQ_INT(w.len, 0);
	mysql_put_u8(&w, 0x7f);
	mysql_put_u16(&w, 0x1234);
	mysql_put_u24(&w, 0x123456);
	mysql_put_u32(&w, 0x12345678);
	mysql_put_u64(&w, 0x0102030405060708ull);
	mysql_put_nul_str(&w, "hi");
	mysql_put_zeros(&w, 3);
	mysql_put_lenenc_str(&w, "ok", 2);
	mysql_put_bytes(&w, "\xaa\xbb", 2);
	CHECK(w.ok);
	if (CHECK_EQ_INT(w.len, sizeof(want)))
		CHECK_EQ_MEM(w.data, want, sizeof(want));

	/* Reset keeps the buffer; deinit releases it and leaves a usable writer. */
	uint8_t *data = w.data;
	mysql_writer_reset(&w);
	CHECK_EQ_INT(w.len, 0);
	CHECK(w.data == data);
	mysql_put_u8(&w, 1);
	CHECK_EQ_INT(w.len, 1);
	mysql_writer_deinit(&w);
	CHECK(w.data == NULL);
	CHECK_EQ_INT(w.len, 0);
	CHECK(w.ok);
	mysql_writer_deinit(&w); /* twice is harmless */
}

struct lenenc_case {
	uint64_t v;
	size_t want_len;
	const char *want;
};

/* Each boundary of the length-encoded integer: the smallest and largest
 * value of each form. */
static const struct lenenc_case lenenc_cases[] = {
	{0, 1, "\x00"},
	{250, 1, "\xfa"},
	{251, 3, "\xfc\xfb\x00"},
	{0xffff, 3, "\xfc\xff\xff"},
	{0x10000, 4, "\xfd\x00\x00\x01"},
	{0xffffff, 4, "\xfd\xff\xff\xff"},
	{0x1000000, 9, "\xfe\x00\x00\x00\x01\x00\x00\x00\x00"},
	{UINT64_MAX, 9, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff"},
};

static void test_put_lenenc(void)
{
	for (size_t i = 0; i < N(lenenc_cases); i++) {
		const struct lenenc_case *c = &lenenc_cases[i];
		struct mysql_writer w;
		struct mysql_reader r;

		check_case("lenenc %llu", (unsigned long long)c->v);
		mysql_writer_init(&w);
		mysql_put_lenenc(&w, c->v);
		CHECK(w.ok);
		if (CHECK_EQ_INT(w.len, c->want_len))
			CHECK_EQ_MEM(w.data, c->want, c->want_len);
		/* And it reads back as itself, consuming exactly what was written. */
		mysql_reader_init(&r, w.data, w.len);
		CHECK(mysql_read_lenenc(&r, NULL) == c->v);
		CHECK(r.ok);
		CHECK_EQ_INT(mysql_reader_left(&r), 0);
		mysql_writer_deinit(&w);
	}
}

/* Many small puts: the buffer grows past its first size and several
 * doublings without losing a byte. */
static void test_builder_growth(void)
{
	struct mysql_writer w;
	const size_t n = 100000;
	size_t bad = n;

	mysql_writer_init(&w);
	for (size_t i = 0; i < n; i++)
		mysql_put_u8(&w, (uint8_t)(i * 31 + 7));
	CHECK(w.ok);
	CHECK_EQ_INT(w.len, n);
	CHECK(w.cap >= n);
	for (size_t i = 0; i < n && bad == n; i++)
		if (w.data[i] != (uint8_t)(i * 31 + 7))
			bad = i;
	CHECK_EQ_INT(bad, n);

	/* One put larger than twice the capacity. */
	mysql_writer_reset(&w);
	mysql_put_u8(&w, 1);
	mysql_put_zeros(&w, 3 * w.cap + 5);
	CHECK(w.ok);
	CHECK(w.cap >= w.len);
	mysql_writer_deinit(&w);
}

/* A writer that has failed (out of memory) stays failed: puts and packet
 * ends change nothing, and reset makes it usable again. */
static void test_builder_failed(void)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_put_u32(&w, 1);
	w.ok = false; /* as grow() leaves it when realloc fails */
	mysql_packet_begin(&w, 3);
	mysql_put_u64(&w, 2);
	mysql_put_lenenc_str(&w, "abc", 3);
	mysql_put_nul_str(&w, "x");
	mysql_packet_end(&w);
	CHECK(!w.ok);
	CHECK_EQ_INT(w.len, 4);
	mysql_writer_reset(&w);
	CHECK(w.ok);
	mysql_put_u8(&w, 9);
	CHECK_EQ_INT(w.len, 1);
	mysql_writer_deinit(&w);
}

/* A size no request can have is refused at once (ok = false, nothing
 * written or allocated) instead of doubling the capacity until it wraps:
 * SIZE_MAX / 2 + 2 would take the old loop past 2^63 to 0, forever. */
static void test_builder_absurd_size(void)
{
	struct mysql_writer w;
	/* Sizes the compiler cannot see: inlined across the link (LTO), the
	 * constants would make gcc warn about the memset and memcpy the refusal
	 * never reaches. */
	volatile size_t huge = SIZE_MAX / 2 + 2, half = SIZE_MAX / 2, max = SIZE_MAX;

	check_case("zeros of SIZE_MAX / 2 + 2 into an empty writer");
	mysql_writer_init(&w);
	mysql_put_zeros(&w, huge);
	CHECK(!w.ok);
	CHECK_EQ_INT(w.len, 0);
	CHECK(w.data == NULL);
	mysql_writer_deinit(&w);

	check_case("SIZE_MAX / 2 more after one byte");
	mysql_writer_init(&w);
	mysql_put_u8(&w, 0x5a);
	mysql_put_zeros(&w, half);
	CHECK(!w.ok);
	CHECK_EQ_INT(w.len, 1);
	CHECK_EQ_INT(w.data[0], 0x5a);

	check_case("bytes of SIZE_MAX, then a reset");
	mysql_writer_reset(&w);
	mysql_put_bytes(&w, "x", max); /* refused before anything is copied */
	CHECK(!w.ok);
	CHECK_EQ_INT(w.len, 0);
	mysql_writer_reset(&w);
	mysql_put_u16(&w, 0x0102);
	CHECK(w.ok);
	if (CHECK_EQ_INT(w.len, 2))
		CHECK_EQ_MEM(w.data, "\x02\x01", 2);
	mysql_writer_deinit(&w);
}

/* ---- packets and 16 MiB splitting --------------------------------------- */

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 251 + 3);
}

struct split_case {
	const char *name;
	size_t payload;
	uint8_t seq;
	unsigned want_packets; /* including a trailing empty one */
};

#define MAX MYSQL_MAX_PAYLOAD

static const struct split_case split_cases[] = {
	{"empty payload", 0, 0, 1},
	{"small", 5, 3, 1},
	{"one under the limit", MAX - 1, 1, 1},
	{"exactly the limit: a trailing empty packet", MAX, 0, 2},
	{"one over the limit", (size_t)MAX + 1, 0, 2},
	{"sequence id wraps", (size_t)MAX + 10, 255, 2},
	{"twice the limit: two full and an empty one", 2 * (size_t)MAX, 7, 3},
	{"twice the limit and some", 2 * (size_t)MAX + 100, 250, 3},
};

/* Check the packets from w->data + at: headers (length, consecutive
 * sequence ids from seq), the payload pattern across them, and that they
 * end exactly at w->len. */
static void check_split(const struct mysql_writer *w, size_t at, const struct split_case *c)
{
	size_t off = 0; /* into the logical payload */
	unsigned packets = 0;
	uint8_t seq = c->seq;

	for (;;) {
		if (!CHECK(at + MYSQL_HEADER_LEN <= w->len))
			return;
		uint32_t len = mysql_header_len(w->data + at);
		CHECK_EQ_INT(w->data[at + 3], seq);
		if (!CHECK(at + MYSQL_HEADER_LEN + len <= w->len))
			return;
		const uint8_t *p = w->data + at + MYSQL_HEADER_LEN;
		size_t bad = len;
		for (size_t i = 0; i < len && bad == len; i++)
			if (p[i] != pattern(off + i))
				bad = i;
		if (!CHECK_EQ_INT(bad, len))
			return;
		off += len;
		at += MYSQL_HEADER_LEN + len;
		seq++;
		packets++;
		if (len < MAX)
			break;
	}
	CHECK_EQ_INT(packets, c->want_packets);
	CHECK_EQ_INT(off, c->payload);
	CHECK_EQ_INT(at, w->len);
}

static void test_packet_split(void)
{
	for (size_t i = 0; i < N(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		struct mysql_writer w;
		size_t before;

		check_case("%s", c->name);
		mysql_writer_init(&w);
		/* An earlier, closed packet must come through untouched. */
		mysql_packet_begin(&w, 9);
		mysql_put_bytes(&w, "prev", 4);
		mysql_packet_end(&w);
		before = w.len;
		mysql_packet_begin(&w, c->seq);
		CHECK_EQ_INT(w.packet_start, before);
		uint8_t *body = NULL;
		mysql_put_zeros(&w, c->payload);
		if (w.ok)
			body = w.data + before + MYSQL_HEADER_LEN;
		for (size_t j = 0; body && j < c->payload; j++)
			body[j] = pattern(j);
		mysql_packet_end(&w);
		if (!CHECK(w.ok)) {
			mysql_writer_deinit(&w);
			continue;
		}
		CHECK_EQ_INT(w.len, before + c->payload + c->want_packets * MYSQL_HEADER_LEN);
		CHECK_EQ_MEM(w.data, "\x04\x00\x00\x09prev", 8);
		check_split(&w, before, c);
		mysql_writer_deinit(&w);
	}
}

/* The header of a one-packet payload, byte by byte. */
static void test_packet_header(void)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_packet_begin(&w, 0x42);
	mysql_put_zeros(&w, 0x010203);
	mysql_packet_end(&w);
	CHECK_EQ_MEM(w.data, "\x03\x02\x01\x42", 4);
	CHECK_EQ_INT(mysql_header_len(w.data), 0x010203);
	CHECK_EQ_INT(mysql_header_len((const uint8_t *)"\xff\xff\xff\x00"), 0xffffff);
	mysql_writer_deinit(&w);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"fixed and length-encoded integers", test_read_ints},
		{"a failed read sticks", test_read_failure_sticks},
		{"byte runs and strings", test_read_strings},
		{"mysql_copy_str", test_copy_str},
		{"builder bytes, reset, deinit", test_put_bytes},
		{"mysql_put_lenenc boundaries", test_put_lenenc},
		{"builder growth", test_builder_growth},
		{"a failed builder stays failed", test_builder_failed},
		{"an absurd size is refused", test_builder_absurd_size},
		{"packet header", test_packet_header},
		{"mysql_packet_end splitting", test_packet_split},
	};
	return CHECK_RUN(tests);
}
