/*
 * MySQL packet builders. Bounds are checked against the caller's buffer;
 * nothing here allocates or touches a socket.
 */
#include "packet.h"

#include <string.h>

size_t mysql_write_err(uint8_t *out, size_t cap, uint8_t seq, uint16_t code, const char *sqlstate,
		       const char *message)
{
	size_t fixed = 1 + 2 + (sqlstate ? 6 : 0);
	size_t msg_len = strlen(message);
	size_t payload;
	uint8_t *p = out + MYSQL_HEADER_LEN;

	if (cap < MYSQL_HEADER_LEN + fixed)
		return 0;
	if (msg_len > cap - MYSQL_HEADER_LEN - fixed)
		msg_len = cap - MYSQL_HEADER_LEN - fixed;
	payload = fixed + msg_len;

	*p++ = 0xff;
	*p++ = (uint8_t)(code & 0xff);
	*p++ = (uint8_t)(code >> 8);
	if (sqlstate) {
		*p++ = '#';
		memcpy(p, sqlstate, 5);
		p += 5;
	}
	memcpy(p, message, msg_len);

	out[0] = (uint8_t)(payload & 0xff);
	out[1] = (uint8_t)((payload >> 8) & 0xff);
	out[2] = (uint8_t)((payload >> 16) & 0xff);
	out[3] = seq;
	return MYSQL_HEADER_LEN + payload;
}
