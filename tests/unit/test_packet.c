/*
 * Unit tests for the ERR packet as sluice writes it (mysql_write_err41,
 * src/mysql/resp.c): the exact bytes, header length and sequence id
 * included, appended after what the writer already holds, and a message
 * that is never cut: past 16 MiB - 1 bytes of payload it continues in the
 * next packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/packet.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "check.h"

struct err_case {
	const char *name;
	uint8_t seq;
	uint16_t code;
	const char *sqlstate;
	const char *message;
	size_t want_len;
	const char *want; /* the whole packet, header included */
};

/* The strings are split header / marker and code / SQLSTATE / message so a
 * hex escape never swallows the next character. */
static const struct err_case err_cases[] = {
	{"access denied with SQLSTATE", 2, 1045, "28000", "Access denied", 26,
	 "\x16\x00\x00\x02"
	 "\xff\x15\x04"
	 "#28000"
	 "Access denied"},
	{"a refused client, before the handshake", 0, MYSQL_ER_UNKNOWN_ERROR, "HY000",
	 "no healthy node", 28,
	 "\x18\x00\x00\x00"
	 "\xff\x51\x04"
	 "#HY000"
	 "no healthy node"},
	{"empty message", 1, MYSQL_ER_UNKNOWN_ERROR, "HY000", "", 13,
	 "\x09\x00\x00\x01"
	 "\xff\x51\x04"
	 "#HY000"},
	{"sequence id 255 and code 0xffff", 255, 0xffff, "HY000", "x", 14,
	 "\x0a\x00\x00\xff"
	 "\xff\xff\xff"
	 "#HY000"
	 "x"},
};

static void test_err_bytes(void)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		struct mysql_writer w;

		check_case("%s", c->name);
		mysql_writer_init(&w);
		/* An earlier packet in the writer stays as it was. */
		mysql_packet_begin(&w, 9);
		mysql_put_bytes(&w, "prev", 4);
		mysql_packet_end(&w);
		mysql_write_err41(&w, c->seq, c->code, c->sqlstate, c->message);
		if (CHECK(w.ok) && CHECK_EQ_INT(w.len, 8 + c->want_len)) {
			CHECK_EQ_MEM(w.data, "\x04\x00\x00\x09prev", 8);
			CHECK_EQ_MEM(w.data + 8, c->want, c->want_len);
		}
		mysql_writer_deinit(&w);
	}
}

/* A payload over 255 bytes uses the second length byte; the message is
 * written whole, never cut. */
static void test_err_long_message(void)
{
	char message[301];
	struct mysql_writer w;

	memset(message, 'm', 300);
	message[300] = '\0';
	mysql_writer_init(&w);
	mysql_write_err41(&w, 3, 1045, "28000", message);
	if (CHECK(w.ok) && CHECK_EQ_INT(w.len, MYSQL_HEADER_LEN + 9 + 300)) {
		CHECK_EQ_MEM(w.data, "\x35\x01\x00\x03\xff\x15\x04#28000mm", 15);
		CHECK_EQ_INT(w.data[w.len - 1], 'm');
	}
	mysql_writer_deinit(&w);
}

/* A message that fills the payload to 16 MiB - 1 is not cut either: the
 * protocol then wants a trailing empty packet with the next sequence id. */
static void test_err_message_at_the_packet_limit(void)
{
	size_t msg_len = MYSQL_MAX_PAYLOAD - 9;
	char *message = malloc(msg_len + 1);
	struct mysql_writer w;

	if (!CHECK(message != NULL))
		return;
	memset(message, 'm', msg_len);
	message[msg_len] = '\0';
	mysql_writer_init(&w);
	mysql_write_err41(&w, 3, 1045, "28000", message);
	if (CHECK(w.ok) && CHECK_EQ_INT(w.len, MYSQL_HEADER_LEN + MYSQL_MAX_PAYLOAD + 4)) {
		CHECK_EQ_MEM(w.data, "\xff\xff\xff\x03\xff\x15\x04#28000mm", 15);
		CHECK_EQ_INT(w.data[MYSQL_HEADER_LEN + MYSQL_MAX_PAYLOAD - 1], 'm');
		CHECK_EQ_MEM(w.data + MYSQL_HEADER_LEN + MYSQL_MAX_PAYLOAD, "\x00\x00\x00\x04", 4);
	}
	mysql_writer_deinit(&w);
	free(message);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"mysql_write_err41 bytes", test_err_bytes},
		{"mysql_write_err41 long message", test_err_long_message},
		{"mysql_write_err41 message at the packet limit",
		 test_err_message_at_the_packet_limit},
	};
	return CHECK_RUN(tests);
}
