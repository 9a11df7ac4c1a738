/*
 * MySQL wire protocol packets: building and reading the bytes, no I/O.
 * Every packet is a 3-byte little-endian payload length, a 1-byte sequence
 * id and the payload. This file grows into the full codec; for now it holds
 * what the layer-4 listeners need to refuse a client politely.
 */
#ifndef SLUICE_MYSQL_PACKET_H
#define SLUICE_MYSQL_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define MYSQL_HEADER_LEN  4
#define MYSQL_MAX_PAYLOAD 0xffffffu /* a payload this long continues in the next packet */

/* ER_UNKNOWN_ERROR (SQLSTATE HY000): the generic server error. Used when no
 * node can take a client; the message says why. Codes in the client range
 * (2000-2999, e.g. 2003) must not come from a server: Connector/C 3.3
 * rejects such a packet as malformed (2027) and the reason is lost. */
#define MYSQL_ER_UNKNOWN_ERROR 1105

/*
 * Write a whole ERR packet (header included) into out[0..cap).
 * sqlstate: five characters, or NULL for an error sent before the handshake,
 * which carries no SQLSTATE marker (clients report HY000). The message is
 * cut to fit. Returns the packet length, or 0 if cap cannot hold even the
 * header, marker and code.
 */
size_t mysql_write_err(uint8_t *out, size_t cap, uint8_t seq, uint16_t code, const char *sqlstate,
		       const char *message);

#endif
