/*
 * The compressed protocol towards a client that asked for it: a codec
 * (net/pipe.h) on the client's pipe, from the OK that ends the login on.
 * The rest of the session reads and writes plain packets either way; only
 * the sequence ids inside them are looser (mysql_session_command.c). The
 * hop to the nodes stays plain.
 */
#include <event2/buffer.h>

#include "mysql/compress.h"
#include "mysql/packet.h"
#include "mysql/wire.h"
#include "net/pipe.h"
#include "session/mysql_session_int.h"

/* Inflate whole frames from the client into plain packets. */
static bool decode(void *arg, struct evbuffer *wire, struct evbuffer *plain, size_t limit,
		   const char **why)
{
	struct mysql_session *s = arg;

	while (evbuffer_get_length(plain) < limit) {
		uint8_t h[MYSQL_COMP_HEADER_LEN];
		struct mysql_comp_header ch;

		if (evbuffer_copyout(wire, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			return true;
		mysql_read_comp_header(h, &ch);
		if (evbuffer_get_length(wire) < sizeof(h) + ch.comp_len)
			return true;
		uint8_t *frame = evbuffer_pullup(wire, (ev_ssize_t)(sizeof(h) + ch.comp_len));
		if (!frame) {
			*why = NULL; /* out of memory */
			return false;
		}
		if (ch.uncomp_len == 0) {
			if (evbuffer_add(plain, frame + sizeof(h), ch.comp_len) != 0) {
				*why = NULL;
				return false;
			}
		} else {
			struct evbuffer_iovec v;
			if (evbuffer_reserve_space(plain, ch.uncomp_len, &v, 1) < 1) {
				*why = NULL;
				return false;
			}
			if (!mysql_inflate(frame + sizeof(h), ch.comp_len, v.iov_base,
					   ch.uncomp_len)) {
				evbuffer_commit_space(plain, &v, 0);
				*why = "corrupt compressed frame";
				return false;
			}
			v.iov_len = ch.uncomp_len;
			evbuffer_commit_space(plain, &v, 1);
		}
		/* Our replies continue the client's compressed numbering. */
		s->zseq = (uint8_t)(ch.seq + 1);
		evbuffer_drain(wire, sizeof(h) + ch.comp_len);
	}
	return true;
}

/* Wrap what the session wrote into frames. */
static bool encode(void *arg, struct evbuffer *plain, struct evbuffer *wire)
{
	struct mysql_session *s = arg;
	size_t n = evbuffer_get_length(plain);
	struct mysql_writer w;
	bool ok;

	const uint8_t *bytes = evbuffer_pullup(plain, (ev_ssize_t)n);
	if (!bytes)
		return false;
	mysql_writer_init(&w);
	mysql_write_compressed(&w, &s->zseq, bytes, n);
	ok = w.ok && evbuffer_add(wire, w.data, w.len) == 0;
	mysql_writer_deinit(&w);
	if (ok)
		evbuffer_drain(plain, n);
	return ok;
}

/* A frame is inflated whole, so the wire's input must be able to hold the
 * largest one (16 MiB): the compressed protocol's price, paid only by
 * clients that ask for it. */
static const struct pipe_codec compress_codec = {
	.decode = decode,
	.encode = encode,
	.wire_bound = MYSQL_COMP_HEADER_LEN + MYSQL_MAX_PAYLOAD,
};

bool ms_start_compress(struct mysql_session *s)
{
	s->zseq = 0;
	if (!pipe_set_codec(s->h.client, &compress_codec, s))
		return false;
	s->compress = true;
	return true;
}
