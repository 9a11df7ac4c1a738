/*
 * Unit tests for src/mysql/compress.c: frame headers, the captured frames
 * of a real `mariadb --compress` session inflated to the expected packets,
 * corrupt and truncated frames refused, and mysql_write_compressed round
 * trips: stored small and incompressible data, deflated large data split at
 * 16 MiB - 1, sequence numbering and its wrap.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/compress.h"
#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "check.h"
#include "test_util.h"
#include "fixtures/fixture.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- headers ------------------------------------------------------------ */

struct header_case {
	const char *bytes;
	uint32_t comp_len;
	uint8_t seq;
	uint32_t uncomp_len;
};

static const struct header_case header_cases[] = {
	{"\x21\x00\x00\x00\x00\x00\x00", 33, 0, 0},
	{"\x8c\x00\x00\x01\xc2\x00\x00", 140, 1, 194},
	{"\xff\xff\xff\xff\xff\xff\xff", 0xffffff, 255, 0xffffff},
	{"\x01\x02\x03\x04\x05\x06\x07", 0x030201, 4, 0x070605},
};

static void test_header(void)
{
	for (size_t i = 0; i < N(header_cases); i++) {
		const struct header_case *c = &header_cases[i];
		struct mysql_comp_header h;

		check_case("header %zu", i);
		mysql_read_comp_header((const uint8_t *)c->bytes, &h);
		CHECK_EQ_INT(h.comp_len, c->comp_len);
		CHECK_EQ_INT(h.seq, c->seq);
		CHECK_EQ_INT(h.uncomp_len, c->uncomp_len);
	}
}

/* ---- the captured session ------------------------------------------------ */

/* The frames after the (plain) login, in order: who sent it, whether the
 * server deflated it, and the plain packets inside. */
struct frame_expect {
	char dir;
	bool deflated;
	unsigned packets;
	const char *first; /* the first packet's payload starts with this */
};

static const struct frame_expect session_frames[] = {
	{'c', false, 1, "\x03SELECT id, name, note FROM t"},
	{'s', true, 9, "\x03\x01"}, /* 3 columns, then the CACHE_METADATA byte */
	{'c', false, 1, "\x03SELECT REPEAT('abc', 40) AS r"},
	{'s', true, 5, "\x01\x01"},
	{'c', false, 1, "\x01"}, /* COM_QUIT */
};

/* The plain bytes of frame p (a heap buffer of *len bytes), or NULL. */
static uint8_t *unframe(const struct fixture_packet *p, size_t *len)
{
	struct mysql_comp_header h;
	uint8_t *plain;

	mysql_read_comp_header(p->data, &h);
	if (h.uncomp_len == 0) {
		*len = h.comp_len;
		return dup_bytes(p->data + MYSQL_COMP_HEADER_LEN, h.comp_len);
	}
	plain = malloc(h.uncomp_len);
	*len = h.uncomp_len;
	uint8_t *body = dup_bytes(p->data + MYSQL_COMP_HEADER_LEN, h.comp_len);
	bool ok = plain && mysql_inflate(body, h.comp_len, plain, h.uncomp_len);
	free(body);
	if (!ok) {
		free(plain);
		return NULL;
	}
	return plain;
}

/* Each frame's header agrees with its size, client frames count from 0
 * and the answer from 1; inside are whole packets with sequence ids that
 * continue the frame's, and the expected commands and results. */
static void test_captured_session(void)
{
	struct fixture f;
	size_t k = 0;

	check_case("session_compress.hex");
	if (!CHECK(fixture_load(&f, "session_compress.hex")))
		return;
	for (size_t i = 0; i < f.n; i++) {
		const struct fixture_packet *p = &f.pkts[i];
		struct mysql_comp_header h;
		size_t len;

		if (!p->compressed)
			continue;
		check_case("frame %zu (line %u)", k + 1, p->line);
		if (!CHECK(k < N(session_frames)))
			break;
		const struct frame_expect *e = &session_frames[k++];
		mysql_read_comp_header(p->data, &h);
		CHECK_EQ_INT(p->dir, e->dir);
		CHECK_EQ_INT(h.comp_len, p->len - MYSQL_COMP_HEADER_LEN);
		CHECK_EQ_INT(h.seq, e->dir == 'c' ? 0 : 1);
		CHECK_EQ_INT(h.uncomp_len != 0, e->deflated);
		if (e->deflated)
			CHECK(h.comp_len < h.uncomp_len);
		uint8_t *plain = unframe(p, &len);
		if (!CHECK(plain != NULL))
			continue;
		unsigned packets = 0;
		size_t off = 0;
		while (off + MYSQL_HEADER_LEN <= len) {
			uint32_t plen = mysql_header_len(plain + off);
			if (!CHECK(off + MYSQL_HEADER_LEN + plen <= len))
				break;
			CHECK_EQ_INT(plain[off + 3], (e->dir == 'c' ? 0 : 1) + packets);
			if (packets == 0 && CHECK(plen >= strlen(e->first)))
				CHECK_EQ_MEM(plain + off + 4, e->first, strlen(e->first));
			off += MYSQL_HEADER_LEN + plen;
			packets++;
		}
		CHECK_EQ_INT(off, len);
		CHECK_EQ_INT(packets, e->packets);
		free(plain);
	}
	check_case("session_compress.hex");
	CHECK_EQ_INT(k, N(session_frames));
	fixture_free(&f);
}

/* The deflated frames of the capture, the first one by default. */
static const struct fixture_packet *deflated_frame(const struct fixture *f, unsigned n)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->pkts[i].compressed && f->pkts[i].data[4] != 0 && n-- == 0)
			return &f->pkts[i];
	return NULL;
}

/* inflate refuses every damage to a real frame: every prefix, a wrong
 * expected length either way, and single flipped bits (a flip may be
 * harmless only where the deflate stream has padding: then the output must
 * still be exactly right). */
static void test_inflate_corrupt(void)
{
	struct fixture f;

	if (!CHECK(fixture_load(&f, "session_compress.hex")))
		return;
	for (unsigned n = 0; n < 2; n++) {
		const struct fixture_packet *p = deflated_frame(&f, n);
		struct mysql_comp_header h;

		check_case("deflated frame %u", n + 1);
		if (!CHECK(p != NULL))
			continue;
		mysql_read_comp_header(p->data, &h);
		const uint8_t *body = p->data + MYSQL_COMP_HEADER_LEN;
		uint8_t *good = malloc(h.uncomp_len), *out = malloc(h.uncomp_len + 1);

		CHECK(mysql_inflate(body, h.comp_len, good, h.uncomp_len));
		check_case("deflated frame %u, wrong lengths", n + 1);
		CHECK(!mysql_inflate(body, h.comp_len, out, h.uncomp_len - 1));
		CHECK(!mysql_inflate(body, h.comp_len, out, h.uncomp_len + 1));
		CHECK(!mysql_inflate(body, h.comp_len, out, 0));

		check_case("deflated frame %u, truncated", n + 1);
		for (size_t cut = 0; cut < h.comp_len; cut++) {
			uint8_t *copy = dup_bytes(body, cut);
			if (!CHECK(!mysql_inflate(copy, cut, out, h.uncomp_len)))
				fprintf(stderr, "  cut at %zu of %u inflated\n", cut, h.comp_len);
			free(copy);
		}

		check_case("deflated frame %u, one bit flipped", n + 1);
		unsigned refused = 0, flips = 0;
		for (size_t bit = 0; bit < 8 * (size_t)h.comp_len; bit++) {
			uint8_t *copy = dup_bytes(body, h.comp_len);
			copy[bit / 8] ^= (uint8_t)(1u << bit % 8);
			flips++;
			if (!mysql_inflate(copy, h.comp_len, out, h.uncomp_len))
				refused++;
			else if (!CHECK_EQ_MEM(out, good, h.uncomp_len))
				fprintf(stderr, "  bit %zu flipped inflated to other data\n", bit);
			free(copy);
		}
		CHECK(refused >= flips - 8); /* at most the last byte's padding */
		free(good);
		free(out);
	}

	check_case("garbage");
	uint8_t out[64];
	CHECK(!mysql_inflate((const uint8_t *)"not zlib at all", 15, out, sizeof(out)));
	CHECK(!mysql_inflate((const uint8_t *)"", 0, out, sizeof(out)));
	fixture_free(&f);
}

/* ---- writing frames ------------------------------------------------------ */

/* Deterministic bytes: text that deflates well, or noise that does not. */
static void fill(uint8_t *p, size_t len, bool noise)
{
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < len; i++) {
		if (noise) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[i] = (uint8_t)(x >> 7);
		} else {
			p[i] = (uint8_t)("row,42,alpha;"[i % 13] + (i / 4096) % 3);
		}
	}
}

struct write_case {
	const char *name;
	size_t len;
	bool noise;
	uint8_t seq;
	unsigned want_frames;
	unsigned want_deflated; /* how many of them */
};

#define MAX MYSQL_MAX_PAYLOAD

static const struct write_case write_cases[] = {
	{"empty: one empty stored frame", 0, false, 0, 1, 0},
	{"one byte", 1, false, 3, 1, 0},
	{"just under the minimum: stored", MYSQL_COMP_MIN_LEN - 1, false, 0, 1, 0},
	{"at the minimum: deflated", MYSQL_COMP_MIN_LEN, false, 0, 1, 1},
	{"incompressible at the minimum: stored", MYSQL_COMP_MIN_LEN, true, 0, 1, 0},
	{"incompressible 1000 bytes: stored", 1000, true, 9, 1, 0},
	{"compressible 100 kB", 100000, false, 200, 1, 1},
	{"one frame of 16 MiB - 1", MAX, false, 0, 1, 1},
	{"16 MiB: two frames, the second stored", (size_t)MAX + 1, false, 0, 2, 1},
	{"20 MiB, the sequence id wraps", 20u << 20, false, 255, 2, 2},
	{"incompressible 16 MiB + 100: two stored frames", (size_t)MAX + 100, true, 7, 2, 0},
};

/* Walk the frames of w from at: headers against sizes, sequence ids from
 * seq, and the plain bytes inflated back into out (len of them). */
static void check_frames(const struct mysql_writer *w, size_t at, const struct write_case *c,
			 const uint8_t *plain)
{
	unsigned frames = 0, deflated = 0;
	uint8_t seq = c->seq;
	size_t off = 0;

	while (at < w->len) {
		struct mysql_comp_header h;

		if (!CHECK(at + MYSQL_COMP_HEADER_LEN <= w->len))
			return;
		mysql_read_comp_header(w->data + at, &h);
		const uint8_t *body = w->data + at + MYSQL_COMP_HEADER_LEN;
		if (!CHECK(at + MYSQL_COMP_HEADER_LEN + h.comp_len <= w->len))
			return;
		CHECK_EQ_INT(h.seq, seq);
		if (h.uncomp_len) {
			deflated++;
			CHECK(h.comp_len < h.uncomp_len);
			CHECK(h.uncomp_len >= MYSQL_COMP_MIN_LEN);
			uint8_t *out = malloc(h.uncomp_len);
			if (CHECK(mysql_inflate(body, h.comp_len, out, h.uncomp_len)) &&
			    CHECK(off + h.uncomp_len <= c->len))
				CHECK_EQ_MEM(out, plain + off, h.uncomp_len);
			off += h.uncomp_len;
			free(out);
		} else {
			if (CHECK(off + h.comp_len <= c->len))
				CHECK_EQ_MEM(body, plain + off, h.comp_len);
			off += h.comp_len;
		}
		at += MYSQL_COMP_HEADER_LEN + h.comp_len;
		seq++;
		frames++;
	}
	CHECK_EQ_INT(off, c->len);
	CHECK_EQ_INT(frames, c->want_frames);
	CHECK_EQ_INT(deflated, c->want_deflated);
}

static void test_write_compressed(void)
{
	for (size_t i = 0; i < N(write_cases); i++) {
		const struct write_case *c = &write_cases[i];
		uint8_t *plain = malloc(c->len ? c->len : 1);
		struct mysql_writer w;
		uint8_t seq = c->seq;

		check_case("%s", c->name);
		fill(plain, c->len, c->noise);
		mysql_writer_init(&w);
		mysql_put_bytes(&w, "before", 6); /* frames append; this stays */
		mysql_write_compressed(&w, &seq, plain, c->len);
		if (CHECK(w.ok)) {
			CHECK_EQ_MEM(w.data, "before", 6);
			CHECK_EQ_INT(seq, (uint8_t)(c->seq + c->want_frames));
			check_frames(&w, 6, c, plain);
		}
		mysql_writer_deinit(&w);
		free(plain);
	}
}

/* The exact bytes of small stored frames, and of the capture's first
 * client frame: the 29-byte COM_QUERY packet, stored as MariaDB's client
 * stores it. */
static void test_write_stored_bytes(void)
{
	struct mysql_writer w;
	uint8_t seq = 3;
	struct fixture f;

	check_case("ten bytes");
	mysql_writer_init(&w);
	mysql_write_compressed(&w, &seq, (const uint8_t *)"0123456789", 10);
	CHECK_EQ_INT(seq, 4);
	if (CHECK_EQ_INT(w.len, 17))
		CHECK_EQ_MEM(w.data,
			     "\x0a\x00\x00\x03\x00\x00\x00"
			     "0123456789",
			     17);
	mysql_writer_deinit(&w);

	check_case("the captured client frame");
	if (!CHECK(fixture_load(&f, "session_compress.hex")))
		return;
	for (size_t i = 0; i < f.n; i++) {
		const struct fixture_packet *p = &f.pkts[i];
		if (!p->compressed || p->dir != 'c')
			continue;
		seq = 0;
		mysql_writer_init(&w);
		mysql_write_compressed(&w, &seq, p->data + MYSQL_COMP_HEADER_LEN,
				       p->len - MYSQL_COMP_HEADER_LEN);
		if (CHECK_EQ_INT(w.len, p->len))
			CHECK_EQ_MEM(w.data, p->data, p->len);
		mysql_writer_deinit(&w);
		break;
	}
	fixture_free(&f);
}

/* A writer that has failed stays failed: nothing is appended. */
static void test_write_failed(void)
{
	struct mysql_writer w;
	uint8_t seq = 5, plain[100];

	fill(plain, sizeof(plain), false);
	mysql_writer_init(&w);
	w.ok = false;
	mysql_write_compressed(&w, &seq, plain, sizeof(plain));
	CHECK(!w.ok);
	CHECK_EQ_INT(w.len, 0);
	mysql_writer_deinit(&w);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"frame headers", test_header},
		{"captured compressed session", test_captured_session},
		{"corrupt and truncated frames", test_inflate_corrupt},
		{"mysql_write_compressed round trips", test_write_compressed},
		{"stored frame bytes", test_write_stored_bytes},
		{"a failed writer", test_write_failed},
	};
	return CHECK_RUN(tests);
}
