/*
 * Unit tests for src/mysql/packet.c: the exact bytes of ERR packets with a
 * SQLSTATE and in the pre-handshake form, the header's length and sequence
 * id, cutting the message to the caller's capacity, and refusing (returning
 * 0, writing nothing) when even the fixed part does not fit.
 */
#include <stdint.h>
#include <string.h>

#include "mysql/packet.h"
#include "check.h"

#define SENTINEL 0xa5 /* fills the buffer so stray writes show */

struct err_case {
	const char *name;
	size_t cap; /* what the caller says out[] holds */
	uint8_t seq;
	uint16_t code;
	const char *sqlstate;
	const char *message;
	size_t want_len;  /* 0: refused */
	const char *want; /* the whole packet, header included */
};

/* The strings are split header / marker and code / SQLSTATE / message so a
 * hex escape never swallows the next character. */
static const struct err_case err_cases[] = {
	{"access denied with SQLSTATE", 64, 2, 1045, "28000", "Access denied", 26,
	 "\x16\x00\x00\x02"
	 "\xff\x15\x04"
	 "#28000"
	 "Access denied"},
	{"before the handshake: no SQLSTATE marker", 64, 0, MYSQL_ER_UNKNOWN_ERROR, NULL,
	 "no healthy node", 22,
	 "\x12\x00\x00\x00"
	 "\xff\x51\x04"
	 "no healthy node"},
	{"message cut to the capacity", 19, 1, 1045, "28000", "Access denied", 19,
	 "\x0f\x00\x00\x01"
	 "\xff\x15\x04"
	 "#28000"
	 "Access"},
	{"room for the fixed part only: empty message", 13, 1, 1045, "28000", "Access denied", 13,
	 "\x09\x00\x00\x01"
	 "\xff\x15\x04"
	 "#28000"},
	{"one byte short of the fixed part", 12, 1, 1045, "28000", "Access denied", 0, ""},
	{"pre-handshake, fixed part only", 7, 0, MYSQL_ER_UNKNOWN_ERROR, NULL, "no healthy node", 7,
	 "\x03\x00\x00\x00"
	 "\xff\x51\x04"},
	{"pre-handshake, one byte short", 6, 0, MYSQL_ER_UNKNOWN_ERROR, NULL, "x", 0, ""},
	{"no room at all", 0, 0, 1045, "28000", "x", 0, ""},
	{"empty message", 64, 1, MYSQL_ER_UNKNOWN_ERROR, "HY000", "", 13,
	 "\x09\x00\x00\x01"
	 "\xff\x51\x04"
	 "#HY000"},
	{"sequence id 255 and code 0xffff", 64, 255, 0xffff, "HY000", "x", 14,
	 "\x0a\x00\x00\xff"
	 "\xff\xff\xff"
	 "#HY000"
	 "x"},
};

static void test_err_bytes(void)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		uint8_t out[128];
		size_t len;

		check_case("%s", c->name);
		memset(out, SENTINEL, sizeof(out));
		len = mysql_write_err(out, c->cap, c->seq, c->code, c->sqlstate, c->message);
		CHECK_EQ_INT(len, c->want_len);
		if (len == c->want_len)
			CHECK_EQ_MEM(out, c->want, len);
		if (len >= MYSQL_HEADER_LEN) {
			/* The header agrees with what was returned. */
			CHECK_EQ_INT(out[0] | out[1] << 8 | out[2] << 16, len - MYSQL_HEADER_LEN);
			CHECK_EQ_INT(out[3], c->seq);
		}
		/* Nothing past the packet was written, refused or not. */
		size_t stray = len;
		while (stray < sizeof(out) && out[stray] == SENTINEL)
			stray++;
		CHECK_EQ_INT(stray, sizeof(out));
	}
}

/* A payload over 255 bytes uses the second length byte. */
static void test_err_long_message(void)
{
	char message[301];
	uint8_t out[512];
	size_t len;

	memset(message, 'm', 300);
	message[300] = '\0';
	len = mysql_write_err(out, sizeof(out), 3, 1045, "28000", message);
	CHECK_EQ_INT(len, MYSQL_HEADER_LEN + 9 + 300);
	CHECK_EQ_MEM(out, "\x35\x01\x00\x03\xff\x15\x04#28000mm", 15);
	CHECK_EQ_INT(out[len - 1], 'm');

	/* The same message cut by a capacity just under the full packet. */
	len = mysql_write_err(out, 300, 3, 1045, "28000", message);
	CHECK_EQ_INT(len, 300);
	CHECK_EQ_MEM(out, "\x28\x01\x00\x03", 4);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"mysql_write_err bytes", test_err_bytes},
		{"mysql_write_err long message", test_err_long_message},
	};
	return CHECK_RUN(tests);
}
