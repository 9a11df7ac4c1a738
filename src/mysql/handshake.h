/*
 * Connection-phase messages: the server greeting (HandshakeV10), the
 * client's HandshakeResponse41 and its SSLRequest prefix, AuthSwitchRequest
 * and AuthMoreData. Readers take one packet payload and fill a struct;
 * writers append one whole packet (header included) to a mysql_writer.
 */
#ifndef SLUICE_MYSQL_HANDSHAKE_H
#define SLUICE_MYSQL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_writer;

#define MYSQL_SCRAMBLE_LEN 20
#define MYSQL_PLUGIN_MAX   64
#define MYSQL_USER_MAX	   256 /* generous: MariaDB allows 80 characters, utf8 */
#define MYSQL_DB_MAX	   256
#define MYSQL_AUTH_MAX	   512 /* auth data: 20 bytes native, 32 sha2, RSA blobs */

/* MariaDB keeps its own capability bits in the greeting's last filler and
 * the response's reserved bytes; they are used only when the server does
 * not set CLIENT_LONG_PASSWORD (bit 0, "this is MySQL"). */
struct mysql_handshake {
	uint8_t protocol; /* 10 */
	char server_version[64];
	uint32_t connection_id;
	uint8_t scramble[MYSQL_SCRAMBLE_LEN + 1]; /* plus the trailing NUL some send */
	size_t scramble_len;
	uint32_t caps;
	uint32_t mariadb_caps;
	uint8_t charset;
	uint16_t status;
	char plugin[MYSQL_PLUGIN_MAX];
};

/* Parse a greeting payload. False for anything but a well-formed protocol
 * 10 greeting with a scramble of at least 20 bytes. */
bool mysql_read_handshake(const uint8_t *payload, size_t len, struct mysql_handshake *out)
	__attribute__((warn_unused_result));
void mysql_write_handshake(struct mysql_writer *w, uint8_t seq, const struct mysql_handshake *hs);

struct mysql_handshake_response {
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	uint32_t mariadb_caps;
	bool ssl_request; /* only the 32-byte SSLRequest prefix was sent */
	char user[MYSQL_USER_MAX];
	uint8_t auth[MYSQL_AUTH_MAX];
	size_t auth_len;
	bool has_db;
	char db[MYSQL_DB_MAX];
	char plugin[MYSQL_PLUGIN_MAX]; /* empty if the client named none */
	uint8_t *attrs;		       /* connection attributes, raw; heap, may be NULL */
	size_t attrs_len;
};

/* Parse a HandshakeResponse41 or an SSLRequest (32 bytes, ssl_request set).
 * server_caps are the capabilities we offered: flags the client sets that
 * we did not offer are ignored. Fills out (attrs on the heap: release with
 * mysql_handshake_response_deinit even on failure). */
bool mysql_read_handshake_response(const uint8_t *payload, size_t len, uint32_t server_caps,
				   struct mysql_handshake_response *out)
	__attribute__((warn_unused_result));
void mysql_write_handshake_response(struct mysql_writer *w, uint8_t seq,
				    const struct mysql_handshake_response *r);
void mysql_handshake_response_deinit(struct mysql_handshake_response *r);

/* AuthSwitchRequest: 0xfe, plugin name, plugin data (the new scramble). */
void mysql_write_auth_switch(struct mysql_writer *w, uint8_t seq, const char *plugin,
			     const uint8_t *data, size_t len);
bool mysql_read_auth_switch(const uint8_t *payload, size_t len, char plugin[MYSQL_PLUGIN_MAX],
			    uint8_t *data, size_t data_cap, size_t *data_len)
	__attribute__((warn_unused_result));

/* COM_CHANGE_USER payload (the command byte included). caps decide the
 * layout, as negotiated at login. */
struct mysql_change_user {
	char user[MYSQL_USER_MAX];
	uint8_t auth[MYSQL_AUTH_MAX];
	size_t auth_len;
	char db[MYSQL_DB_MAX];
	uint16_t charset;
	char plugin[MYSQL_PLUGIN_MAX];
	uint8_t *attrs; /* heap, may be NULL */
	size_t attrs_len;
};

bool mysql_read_change_user(const uint8_t *payload, size_t len, uint32_t caps,
			    struct mysql_change_user *out) __attribute__((warn_unused_result));
void mysql_write_change_user(struct mysql_writer *w, uint8_t seq, uint32_t caps,
			     const struct mysql_change_user *cu);
void mysql_change_user_deinit(struct mysql_change_user *cu);

#endif
