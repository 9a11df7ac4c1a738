/*
 * Fuzz target for the OK/ERR/EOF readers and writers (src/mysql/resp.c)
 * and the bounded readers of wire.c. The whole input is tried as each
 * packet; accepted OK and ERR packets must survive write -> read, and so
 * must an ERR written with the input as its message. Then the input drives
 * the wire readers, its bytes choosing which to call, and the reader must
 * never leave its bounds.
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/resp.h"
#include "mysql/wire.h"
#include "fuzz.h"

static void ok_packet(const uint8_t *p, size_t len)
{
	struct mysql_ok a, b;
	struct mysql_writer w;

	if (!mysql_read_ok(p, len, &a))
		return;
	mysql_writer_init(&w);
	mysql_write_ok(&w, 1, &a);
	FUZZ_CHECK(w.ok && mysql_header_len(w.data) == w.len - 4);
	uint8_t *again = fuzz_dup(w.data + 4, w.len - 4);
	FUZZ_CHECK(mysql_read_ok(again, w.len - 4, &b));
	FUZZ_CHECK(a.affected_rows == b.affected_rows && a.last_insert_id == b.last_insert_id);
	FUZZ_CHECK(a.status == b.status && a.warnings == b.warnings);
	free(again);
	mysql_writer_deinit(&w);
}

static void err_packet(const uint8_t *p, size_t len)
{
	struct mysql_err a, b;
	struct mysql_writer w;

	if (!mysql_read_err(p, len, &a))
		return;
	FUZZ_CHECK(strlen(a.message) < sizeof(a.message) && a.sqlstate[5] == '\0');
	mysql_writer_init(&w);
	mysql_write_err41(&w, 1, a.code, a.sqlstate, a.message);
	FUZZ_CHECK(w.ok && mysql_header_len(w.data) == w.len - 4);
	uint8_t *again = fuzz_dup(w.data + 4, w.len - 4);
	FUZZ_CHECK(mysql_read_err(again, w.len - 4, &b));
	FUZZ_CHECK(a.code == b.code && memcmp(a.sqlstate, b.sqlstate, 6) == 0);
	FUZZ_CHECK(strcmp(a.message, b.message) == 0);
	free(again);
	mysql_writer_deinit(&w);
}

/* mysql_write_err41 with the input as the message (what a refused client
 * is told): one packet, its header right, read back as written. */
static void err_builder(const uint8_t *p, size_t len)
{
	char message[256];
	struct mysql_writer w;
	struct mysql_err e;
	size_t n = len < sizeof(message) ? len : sizeof(message) - 1;

	if (n)
		memcpy(message, p, n);
	message[n] = '\0';
	mysql_writer_init(&w);
	mysql_write_err41(&w, 7, 1105, "HY000", message);
	FUZZ_CHECK(w.ok && w.len == 4 + 9 + strlen(message));
	FUZZ_CHECK(mysql_header_len(w.data) == w.len - 4 && w.data[3] == 7);
	FUZZ_CHECK(mysql_read_err(w.data + 4, w.len - 4, &e) && e.code == 1105);
	FUZZ_CHECK(strcmp(e.sqlstate, "HY000") == 0 && strcmp(e.message, message) == 0);
	mysql_writer_deinit(&w);
}

/* Call readers as the bytes say until the reader fails or runs out. */
static void wire_readers(const uint8_t *p, size_t len)
{
	struct mysql_reader r;
	const uint8_t *out;
	const char *s;
	size_t n, left = len, steps = 0;
	bool is_null;

	mysql_reader_init(&r, p, len);
	while (r.ok && mysql_reader_left(&r) > 0 && steps++ < 64) {
		uint8_t op = mysql_read_u8(&r);

		switch (op % 9) {
		case 0:
			mysql_read_u16(&r);
			break;
		case 1:
			mysql_read_u24(&r);
			break;
		case 2:
			mysql_read_u32(&r);
			break;
		case 3:
			mysql_read_u64(&r);
			break;
		case 4:
			mysql_read_lenenc(&r, op & 0x10 ? &is_null : NULL);
			break;
		case 5:
			if (mysql_read_lenenc_str(&r, &out, &n))
				FUZZ_CHECK(out >= p && out + n <= p + len);
			break;
		case 6:
			if (mysql_read_nul_str(&r, &s, &n))
				FUZZ_CHECK((const uint8_t *)s >= p &&
					   (const uint8_t *)s + n < p + len && s[n] == '\0' &&
					   memchr(s, 0, n) == NULL);
			break;
		case 7:
			if (mysql_read_bytes(&r, op >> 4, &out))
				FUZZ_CHECK(out >= p && out + (op >> 4) <= p + len);
			break;
		case 8:
			break;
		}
		FUZZ_CHECK(r.p >= p && r.p <= p + len && r.end == p + len);
		FUZZ_CHECK(mysql_reader_left(&r) <= left);
		left = mysql_reader_left(&r);
		if (!r.ok)
			FUZZ_CHECK(left == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t warnings, status;

	ok_packet(data, size);
	err_packet(data, size);
	if (mysql_read_eof(data, size, &warnings, &status))
		FUZZ_CHECK(size >= 1 && size < 9 && data[0] == 0xfe);
	err_builder(data, size);
	wire_readers(data, size);
	return 0;
}
