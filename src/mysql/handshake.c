/*
 * Connection-phase message codec. See handshake.h. Every field is read
 * through the bounded reader; anything that does not fit its buffer is a
 * malformed packet, not a truncation.
 */
#include "handshake.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

bool mysql_read_handshake(const uint8_t *payload, size_t len, struct mysql_handshake *out)
{
	struct mysql_reader r;
	const char *s;
	size_t slen;
	const uint8_t *part1, *part2;

	memset(out, 0, sizeof(*out));
	mysql_reader_init(&r, payload, len);
	out->protocol = mysql_read_u8(&r);
	if (out->protocol != 10)
		return false;
	if (!mysql_read_nul_str(&r, &s, &slen) ||
	    !mysql_copy_str(out->server_version, sizeof(out->server_version), s, slen))
		return false;
	out->connection_id = mysql_read_u32(&r);
	if (!mysql_read_bytes(&r, 8, &part1))
		return false;
	mysql_read_u8(&r); /* filler */
	out->caps = mysql_read_u16(&r);
	out->charset = mysql_read_u8(&r);
	out->status = mysql_read_u16(&r);
	out->caps |= (uint32_t)mysql_read_u16(&r) << 16;
	uint8_t auth_len = mysql_read_u8(&r);
	mysql_read_bytes(&r, 6, &part2); /* filler */
	out->mariadb_caps = mysql_read_u32(&r);
	if (!r.ok || !(out->caps & CLIENT_SECURE_CONNECTION))
		return false;
	/* Second scramble part: max(13, auth_len - 8) bytes, the last a NUL. */
	size_t n2 = auth_len > 8 ? (size_t)auth_len - 8 : 13;
	if (n2 < 13)
		n2 = 13;
	if (!mysql_read_bytes(&r, n2, &part2))
		return false;
	memcpy(out->scramble, part1, 8);
	memcpy(out->scramble + 8, part2, 12);
	out->scramble_len = MYSQL_SCRAMBLE_LEN;
	if (out->caps & CLIENT_PLUGIN_AUTH) {
		/* Usually NUL-terminated; some servers end the packet instead. */
		const uint8_t *nul = memchr(r.p, 0, mysql_reader_left(&r));
		size_t plen = nul ? (size_t)(nul - r.p) : mysql_reader_left(&r);
		if (!mysql_copy_str(out->plugin, sizeof(out->plugin), r.p, plen))
			return false;
	}
	return true;
}

void mysql_write_handshake(struct mysql_writer *w, uint8_t seq, const struct mysql_handshake *hs)
{
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, 10);
	mysql_put_nul_str(w, hs->server_version);
	mysql_put_u32(w, hs->connection_id);
	mysql_put_bytes(w, hs->scramble, 8);
	mysql_put_u8(w, 0);
	mysql_put_u16(w, (uint16_t)hs->caps);
	mysql_put_u8(w, hs->charset);
	mysql_put_u16(w, hs->status);
	mysql_put_u16(w, (uint16_t)(hs->caps >> 16));
	mysql_put_u8(w, MYSQL_SCRAMBLE_LEN + 1);
	mysql_put_zeros(w, 6);
	mysql_put_u32(w, hs->mariadb_caps);
	mysql_put_bytes(w, hs->scramble + 8, MYSQL_SCRAMBLE_LEN - 8);
	mysql_put_u8(w, 0);
	mysql_put_nul_str(w, hs->plugin);
	mysql_packet_end(w);
}

/* Copy the connection attributes block (a lenenc length, then that many
 * bytes) to the heap. */
static bool read_attrs(struct mysql_reader *r, uint8_t **out, size_t *out_len)
{
	const uint8_t *start = r->p;
	uint64_t n = mysql_read_lenenc(r, NULL);
	const uint8_t *body;

	if (!r->ok || n > mysql_reader_left(r) || !mysql_read_bytes(r, (size_t)n, &body))
		return false;
	*out_len = (size_t)(r->p - start);
	*out = malloc(*out_len);
	if (!*out)
		return false;
	memcpy(*out, start, *out_len);
	return true;
}

bool mysql_read_handshake_response(const uint8_t *payload, size_t len, uint32_t server_caps,
				   struct mysql_handshake_response *out)
{
	struct mysql_reader r;
	const char *s;
	size_t slen;
	const uint8_t *filler, *auth;

	memset(out, 0, sizeof(*out));
	mysql_reader_init(&r, payload, len);
	out->caps = mysql_read_u32(&r) &
		    (server_caps | CLIENT_SSL_VERIFY_SERVER_CERT | CLIENT_REMEMBER_OPTIONS);
	out->max_packet = mysql_read_u32(&r);
	out->charset = mysql_read_u8(&r);
	mysql_read_bytes(&r, 19, &filler);
	out->mariadb_caps = mysql_read_u32(&r);
	if (!r.ok || !(out->caps & CLIENT_PROTOCOL_41))
		return false;
	if (mysql_reader_left(&r) == 0) {
		out->ssl_request = true;
		return (out->caps & CLIENT_SSL) != 0;
	}
	if (!mysql_read_nul_str(&r, &s, &slen) ||
	    !mysql_copy_str(out->user, sizeof(out->user), s, slen))
		return false;
	if (out->caps & CLIENT_PLUGIN_AUTH_LENENC_DATA) {
		if (!mysql_read_lenenc_str(&r, &auth, &out->auth_len))
			return false;
	} else {
		out->auth_len = mysql_read_u8(&r);
		if (!mysql_read_bytes(&r, out->auth_len, &auth))
			return false;
	}
	if (out->auth_len > sizeof(out->auth))
		return false;
	memcpy(out->auth, auth, out->auth_len);
	if (out->caps & CLIENT_CONNECT_WITH_DB) {
		/* Some clients set the flag and end the packet here. */
		if (mysql_reader_left(&r) > 0) {
			if (!mysql_read_nul_str(&r, &s, &slen) ||
			    !mysql_copy_str(out->db, sizeof(out->db), s, slen))
				return false;
			out->has_db = slen > 0;
		}
	}
	if ((out->caps & CLIENT_PLUGIN_AUTH) && mysql_reader_left(&r) > 0) {
		if (!mysql_read_nul_str(&r, &s, &slen) ||
		    !mysql_copy_str(out->plugin, sizeof(out->plugin), s, slen))
			return false;
	}
	if ((out->caps & CLIENT_CONNECT_ATTRS) && mysql_reader_left(&r) > 0) {
		if (!read_attrs(&r, &out->attrs, &out->attrs_len))
			return false;
	}
	return r.ok;
}

/* The connection attributes block, as read by read_attrs (its own lenenc
 * length included), or an empty one; nothing without CLIENT_CONNECT_ATTRS. */
static void put_attrs(struct mysql_writer *w, uint32_t caps, const uint8_t *attrs, size_t len)
{
	if (!(caps & CLIENT_CONNECT_ATTRS))
		return;
	if (attrs)
		mysql_put_bytes(w, attrs, len);
	else
		mysql_put_lenenc(w, 0);
}

void mysql_write_handshake_response(struct mysql_writer *w, uint8_t seq,
				    const struct mysql_handshake_response *rsp)
{
	mysql_packet_begin(w, seq);
	mysql_put_u32(w, rsp->caps);
	mysql_put_u32(w, rsp->max_packet);
	mysql_put_u8(w, rsp->charset);
	mysql_put_zeros(w, 19);
	mysql_put_u32(w, rsp->mariadb_caps);
	if (!rsp->ssl_request) {
		mysql_put_nul_str(w, rsp->user);
		if (rsp->caps & CLIENT_PLUGIN_AUTH_LENENC_DATA) {
			mysql_put_lenenc_str(w, rsp->auth, rsp->auth_len);
		} else {
			if (rsp->auth_len > 255)
				w->ok = false; /* cannot be said without lenenc data */
			mysql_put_u8(w, (uint8_t)rsp->auth_len);
			mysql_put_bytes(w, rsp->auth, rsp->auth_len);
		}
		if (rsp->caps & CLIENT_CONNECT_WITH_DB)
			mysql_put_nul_str(w, rsp->has_db ? rsp->db : "");
		if (rsp->caps & CLIENT_PLUGIN_AUTH)
			mysql_put_nul_str(w, rsp->plugin);
		put_attrs(w, rsp->caps, rsp->attrs, rsp->attrs_len);
	}
	mysql_packet_end(w);
}

void mysql_handshake_response_deinit(struct mysql_handshake_response *r)
{
	free(r->attrs);
	r->attrs = NULL;
	r->attrs_len = 0;
}

void mysql_write_auth_switch(struct mysql_writer *w, uint8_t seq, const char *plugin,
			     const uint8_t *data, size_t len)
{
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, MYSQL_AUTH_SWITCH);
	mysql_put_nul_str(w, plugin);
	mysql_put_bytes(w, data, len);
	mysql_put_u8(w, 0); /* servers end the scramble with a NUL; clients expect it */
	mysql_packet_end(w);
}

bool mysql_read_auth_switch(const uint8_t *payload, size_t len, char plugin[MYSQL_PLUGIN_MAX],
			    uint8_t *data, size_t data_cap, size_t *data_len)
{
	struct mysql_reader r;
	const char *s;
	size_t slen;

	mysql_reader_init(&r, payload, len);
	if (mysql_read_u8(&r) != MYSQL_AUTH_SWITCH)
		return false;
	if (!mysql_read_nul_str(&r, &s, &slen) ||
	    !mysql_copy_str(plugin, MYSQL_PLUGIN_MAX, s, slen))
		return false;
	size_t n = mysql_reader_left(&r);
	/* The plugin data usually carries a trailing NUL that is not part of it. */
	if (n > 0 && r.p[n - 1] == 0)
		n--;
	if (n > data_cap)
		return false;
	memcpy(data, r.p, n);
	*data_len = n;
	return true;
}

bool mysql_read_change_user(const uint8_t *payload, size_t len, uint32_t caps,
			    struct mysql_change_user *out)
{
	struct mysql_reader r;
	const char *s;
	size_t slen;
	const uint8_t *auth;

	memset(out, 0, sizeof(*out));
	mysql_reader_init(&r, payload, len);
	if (mysql_read_u8(&r) != COM_CHANGE_USER)
		return false;
	if (!mysql_read_nul_str(&r, &s, &slen) ||
	    !mysql_copy_str(out->user, sizeof(out->user), s, slen))
		return false;
	if (caps & CLIENT_SECURE_CONNECTION) {
		out->auth_len = mysql_read_u8(&r);
		if (!mysql_read_bytes(&r, out->auth_len, &auth))
			return false;
	} else {
		if (!mysql_read_nul_str(&r, (const char **)&auth, &out->auth_len))
			return false;
	}
	if (out->auth_len > sizeof(out->auth))
		return false;
	memcpy(out->auth, auth, out->auth_len);
	if (!mysql_read_nul_str(&r, &s, &slen) ||
	    !mysql_copy_str(out->db, sizeof(out->db), s, slen))
		return false;
	/* The rest is optional: older clients stop after the database. */
	if (mysql_reader_left(&r) >= 2)
		out->charset = mysql_read_u16(&r);
	if ((caps & CLIENT_PLUGIN_AUTH) && mysql_reader_left(&r) > 0) {
		if (!mysql_read_nul_str(&r, &s, &slen) ||
		    !mysql_copy_str(out->plugin, sizeof(out->plugin), s, slen))
			return false;
	}
	if ((caps & CLIENT_CONNECT_ATTRS) && mysql_reader_left(&r) > 0) {
		if (!read_attrs(&r, &out->attrs, &out->attrs_len))
			return false;
	}
	return r.ok;
}

void mysql_write_change_user(struct mysql_writer *w, uint8_t seq, uint32_t caps,
			     const struct mysql_change_user *cu)
{
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, COM_CHANGE_USER);
	mysql_put_nul_str(w, cu->user);
	if (caps & CLIENT_SECURE_CONNECTION) {
		if (cu->auth_len > 255)
			w->ok = false;
		mysql_put_u8(w, (uint8_t)cu->auth_len);
		mysql_put_bytes(w, cu->auth, cu->auth_len);
	} else {
		/* Pre-4.1 layout: NUL-terminated, so the data must hold no NUL. */
		if (memchr(cu->auth, 0, cu->auth_len))
			w->ok = false;
		mysql_put_bytes(w, cu->auth, cu->auth_len);
		mysql_put_u8(w, 0);
	}
	mysql_put_nul_str(w, cu->db);
	mysql_put_u16(w, cu->charset);
	if (caps & CLIENT_PLUGIN_AUTH)
		mysql_put_nul_str(w, cu->plugin);
	put_attrs(w, caps, cu->attrs, cu->attrs_len);
	mysql_packet_end(w);
}

void mysql_change_user_deinit(struct mysql_change_user *cu)
{
	free(cu->attrs);
	cu->attrs = NULL;
	cu->attrs_len = 0;
}
