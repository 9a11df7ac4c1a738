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

#define MYSQL_HEADER_LEN   4
#define MYSQL_MAX_PAYLOAD  0xffffffu /* a payload this long continues in the next packet */

/* Client-side error code "Can't connect to MySQL server": what a client would
 * report itself if the server were down, so applications already handle it. */
#define MYSQL_ER_CANT_CONNECT 2003

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
