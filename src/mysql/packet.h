/*
 * MySQL wire protocol packets: the framing constants and the generic error
 * code, shared by the codec and the sessions. Every packet is a 3-byte
 * little-endian payload length, a 1-byte sequence id and the payload;
 * wire.h builds and reads them, resp.h writes OK and ERR packets.
 */
#ifndef SLUICE_MYSQL_PACKET_H
#define SLUICE_MYSQL_PACKET_H

#define MYSQL_HEADER_LEN  4
#define MYSQL_MAX_PAYLOAD 0xffffffu /* a payload this long continues in the next packet */

/* ER_UNKNOWN_ERROR (SQLSTATE HY000): the generic server error. Used when no
 * node can take a client; the message says why. Codes in the client range
 * (2000-2999, e.g. 2003) must not come from a server: Connector/C 3.3
 * rejects such a packet as malformed (2027) and the reason is lost. */
#define MYSQL_ER_UNKNOWN_ERROR 1105

#endif
