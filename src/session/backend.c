/*
 * Backend connections: connect, greeting, login as the client's user, then
 * a byte pipe for the session. See backend.h for the state diagram.
 */
#include "session/backend.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config/config.h"
#include "log.h"
#include "net/net.h"
#include "net/pipe.h"
#include "net/ring.h"
#include "mysql/auth.h"
#include "mysql/ed25519.h"
#include "mysql/handshake.h"
#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "net/tls.h"

/* MariaDB's ed25519 plugin challenges with a 32-byte random nonce. */
#define ED25519_NONCE_LEN 32

/* Login packets are small; anything bigger is not a login packet. */
#define BACKEND_LOGIN_PACKET_MAX 65536

/* What sluice asks of a backend beyond what the client negotiated: the
 * protocol it speaks itself. SSL and compression are per hop, and
 * DEPRECATE_EOF is never used (the response tracker expects EOFs). */
#define BACKEND_CAPS_NEVER (CLIENT_SSL | CLIENT_COMPRESS | CLIENT_DEPRECATE_EOF)
#define BACKEND_CAPS_ALWAYS                                                                        \
	(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |                      \
	 CLIENT_LONG_PASSWORD | CLIENT_TRANSACTIONS)

enum backend_state {
	BACKEND_CONNECTING,
	BACKEND_GREETING,
	BACKEND_TLS, /* SSLRequest sent, handshake running */
	BACKEND_AUTH,
	BACKEND_READY,
	BACKEND_FAILED,
};

static const char *const backend_state_names[] = {
	[BACKEND_CONNECTING] = "connecting",
	[BACKEND_GREETING] = "greeting",
	[BACKEND_TLS] = "tls",
	[BACKEND_AUTH] = "auth",
	[BACKEND_READY] = "ready",
	[BACKEND_FAILED] = "failed",
};

struct backend {
	struct event_base *base;
	const struct config_node *node;
	int node_index;
	uint32_t connect_timeout_ms;
	size_t bound;
	SSL_CTX *tls;
	int verify;
	struct mysql_handshake_response rsp; /* held while TLS is negotiated */
	uint8_t rsp_seq;
	const struct backend_ops *ops;
	void *arg;
	enum backend_state state;
	struct pipe *pipe;
	struct event *timer; /* connect + login deadline */
	struct mysql_handshake greeting;
	uint16_t status;
	uint8_t seq; /* the sequence id of the next packet, either way, during login */
	bool change_user;
	bool closing;
	/* Login material, kept while logging in. */
	char user[MYSQL_USER_MAX];
	uint8_t sha1_pw[MYSQL_SHA1_LEN];
	char *password;
	char db[MYSQL_DB_MAX];
	bool has_db;
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	uint8_t *attrs;
	size_t attrs_len;
	char plugin[MYSQL_PLUGIN_MAX];	  /* the plugin in use for this exchange */
	uint8_t scramble[MYSQL_AUTH_MAX]; /* ... and the challenge it answers */
	size_t scramble_len;
	bool want_pubkey; /* caching_sha2: asked for the RSA key, PEM comes next */
};

static void backend_set_state(struct backend *b, enum backend_state next)
{
	log_debug("backend", "%s: %s -> %s", b->node->name, backend_state_names[b->state],
		  backend_state_names[next]);
	b->state = next;
}

static void forget_secrets(struct backend *b)
{
	OPENSSL_cleanse(b->sha1_pw, sizeof(b->sha1_pw));
	OPENSSL_cleanse(b->rsp.auth, sizeof(b->rsp.auth));
	if (b->password) {
		OPENSSL_cleanse(b->password, strlen(b->password));
		free(b->password);
		b->password = NULL;
	}
	free(b->attrs);
	b->attrs = NULL;
	b->attrs_len = 0;
}

/* Login ended: tell the session. It may destroy us from the callback. */
static void login_finished(struct backend *b, enum backend_result res, const struct mysql_err *err,
			   const char *why)
{
	event_del(b->timer);
	forget_secrets(b);
	if (res == BACKEND_OK || (res == BACKEND_REFUSED && b->change_user)) {
		/* A refused COM_CHANGE_USER leaves the node's session as it was. */
		backend_set_state(b, BACKEND_READY);
		pipe_set_write_low(b->pipe, b->bound / 2);
		pipe_settle(b->pipe); /* logged in: no TLS will start */
		b->change_user = false;
	} else {
		backend_set_state(b, BACKEND_FAILED);
		pipe_set_reading(b->pipe, false);
	}
	b->ops->login_done(b->arg, res, err, why);
}

static void fail(struct backend *b, const char *fmt, ...) SLUICE_PRINTF(2, 3);

static void fail(struct backend *b, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (b->state == BACKEND_READY) {
		backend_set_state(b, BACKEND_FAILED);
		pipe_set_reading(b->pipe, false);
		b->ops->closed(b->arg, why);
		return;
	}
	if (b->state != BACKEND_FAILED)
		login_finished(b, BACKEND_UNREACHABLE, NULL, why);
}

/* Plugins that need the plaintext password; native needs only SHA1(pw). */
static bool plugin_needs_password(const char *plugin)
{
	return strcmp(plugin, "caching_sha2_password") == 0 ||
	       strcmp(plugin, "client_ed25519") == 0;
}

/* Can this login answer plugin at all? */
static bool plugin_usable(const struct backend *b, const char *plugin)
{
	return strcmp(plugin, "mysql_native_password") == 0 ||
	       (b->password && plugin_needs_password(plugin));
}

/* Make plugin and its challenge the current exchange. The codec strips one
 * trailing NUL from auth switch data (native and sha2 send scramble + NUL);
 * a client_ed25519 nonce is 32 raw bytes with no terminator, so a nonce
 * that ended in a zero byte comes back one short and gets it back here. */
static bool set_exchange(struct backend *b, const char *plugin, const uint8_t *scramble,
			 size_t scramble_len)
{
	if (scramble_len > sizeof(b->scramble) - 1)
		return false;
	snprintf(b->plugin, sizeof(b->plugin), "%s", plugin);
	memcpy(b->scramble, scramble, scramble_len);
	if (strcmp(plugin, "client_ed25519") == 0 && scramble_len == ED25519_NONCE_LEN - 1)
		b->scramble[scramble_len++] = 0;
	b->scramble_len = scramble_len;
	b->want_pubkey = false;
	return true;
}

/* Compute the answer to the current exchange's challenge, into out
 * (MYSQL_AUTH_MAX bytes). False if this login cannot answer it. */
static bool auth_answer(struct backend *b, uint8_t *out, size_t *out_len)
{
	if (strcmp(b->plugin, "mysql_native_password") == 0) {
		if (b->scramble_len < MYSQL_SCRAMBLE_LEN)
			return false;
		mysql_native_answer(b->sha1_pw, b->scramble, MYSQL_SCRAMBLE_LEN, out);
		*out_len = MYSQL_SHA1_LEN;
		return true;
	}
	if (!b->password)
		return false;
	if (strcmp(b->plugin, "caching_sha2_password") == 0) {
		if (b->scramble_len < MYSQL_SCRAMBLE_LEN)
			return false;
		mysql_sha256_answer(b->password, b->scramble, MYSQL_SCRAMBLE_LEN, out);
		*out_len = MYSQL_SHA256_LEN;
		return true;
	}
	if (strcmp(b->plugin, "client_ed25519") == 0) {
		if (b->scramble_len != ED25519_NONCE_LEN)
			return false;
		mysql_ed25519_sign((const uint8_t *)b->password, strlen(b->password), b->scramble,
				   b->scramble_len, out);
		*out_len = MYSQL_ED25519_SIG_LEN;
		return true;
	}
	return false;
}

static void send_packet(struct backend *b, struct mysql_writer *w)
{
	if (w->ok)
		evbuffer_add(pipe_output(b->pipe), w->data, w->len);
	else
		fail(b, "out of memory building a login packet");
}


/* Send the HandshakeResponse41 and wait for the outcome. */
static void send_response(struct backend *b, const struct mysql_handshake_response *rsp,
			  uint8_t seq)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_write_handshake_response(&w, seq, rsp);
	b->seq = (uint8_t)(seq + 1);
	send_packet(b, &w);
	mysql_writer_deinit(&w);
	backend_set_state(b, BACKEND_AUTH);
}

/* TLS under the pipe from here on; the handshake runs as the loop goes. */
static bool start_tls(struct backend *b)
{
	char host[256];
	const char *text = b->node->address.text;
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	SSL *ssl;

	if (n >= sizeof(host))
		n = sizeof(host) - 1;
	if (text[0] == '[' && n >= 2) /* [v6]:port */
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2), text + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)n, text);
	ssl = SSL_new(b->tls);
	if (!ssl || !tls_client_prepare(ssl, b->verify, host)) {
		SSL_free(ssl);
		fail(b, "cannot set up TLS to node %s", b->node->name);
		return false;
	}
	if (!pipe_start_tls(b->pipe, ssl, false)) {
		fail(b, "cannot set up TLS to node %s", b->node->name);
		return false;
	}
	return true;
}

static void on_greeting(struct backend *b, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct mysql_handshake_response rsp;
	struct mysql_writer w;

	if (len > 0 && p[0] == MYSQL_ERR_MARKER) {
		struct mysql_err err;
		if (mysql_read_err(p, len, &err))
			fail(b, "node refused the connection: %u %s", err.code, err.message);
		else
			fail(b, "node refused the connection");
		return;
	}
	if (!mysql_read_handshake(p, len, &b->greeting)) {
		fail(b, "malformed greeting");
		return;
	}
	memset(&rsp, 0, sizeof(rsp));
	rsp.caps = (b->caps & b->greeting.caps & ~BACKEND_CAPS_NEVER) |
		   (BACKEND_CAPS_ALWAYS & b->greeting.caps);
	if (b->has_db)
		rsp.caps |= CLIENT_CONNECT_WITH_DB;
	else
		rsp.caps &= ~CLIENT_CONNECT_WITH_DB;
	if (!b->attrs)
		rsp.caps &= ~CLIENT_CONNECT_ATTRS;
	rsp.max_packet = b->max_packet;
	rsp.charset = b->charset;
	mysql_copy_str(rsp.user, sizeof(rsp.user), b->user, strlen(b->user));
	/* Answer with the plugin the node proposes when we can, else native
	 * (the node switches us to what the user really needs). */
	if (!set_exchange(b,
			  plugin_usable(b, b->greeting.plugin) ? b->greeting.plugin
							       : "mysql_native_password",
			  b->greeting.scramble, b->greeting.scramble_len) ||
	    !auth_answer(b, rsp.auth, &rsp.auth_len)) {
		fail(b, "cannot answer the greeting's scramble");
		return;
	}
	rsp.has_db = b->has_db;
	memcpy(rsp.db, b->db, sizeof(rsp.db));
	memcpy(rsp.plugin, b->plugin, sizeof(rsp.plugin));
	rsp.attrs = b->attrs;
	rsp.attrs_len = b->attrs_len;
	if (!b->tls) {
		b->caps = rsp.caps;
		send_response(b, &rsp, (uint8_t)(seq + 1));
		OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
		return;
	}
	if (!(b->greeting.caps & CLIENT_SSL)) {
		OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
		fail(b, "node %s does not offer TLS, which cluster tls: requires", b->node->name);
		return;
	}
	/* SSLRequest in the clear, TLS handshake, then the real response. */
	rsp.caps |= CLIENT_SSL;
	b->caps = rsp.caps;
	b->rsp = rsp;
	b->rsp_seq = (uint8_t)(seq + 2);
	OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
	rsp.ssl_request = true;
	mysql_writer_init(&w);
	mysql_write_handshake_response(&w, (uint8_t)(seq + 1), &rsp);
	send_packet(b, &w);
	mysql_writer_deinit(&w);
	if (!start_tls(b))
		return;
	backend_set_state(b, BACKEND_TLS);
}

/* Send one packet of raw auth data (an answer, a request, a password). */
static void send_auth_data(struct backend *b, uint8_t seq, const uint8_t *data, size_t len)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_packet_begin(&w, seq);
	mysql_put_bytes(&w, data, len);
	mysql_packet_end(&w);
	b->seq = (uint8_t)(seq + 1);
	send_packet(b, &w);
	mysql_writer_deinit(&w);
}

/* AuthMoreData (0x01 + data) during caching_sha2_password:
 *   0x03             fast auth succeeded, OK follows;
 *   0x04             full authentication: over TLS send the password
 *                    itself, else ask for the server's RSA key (0x02);
 *   PEM public key   (after 0x02) send RSA-OAEP((pw + NUL) XOR scramble).
 * Sending the password needs the plaintext one configured for the user. */
static void on_auth_more(struct backend *b, const uint8_t *data, size_t len, uint8_t seq)
{
	uint8_t out[MYSQL_AUTH_MAX];
	size_t out_len;

	if (strcmp(b->plugin, "caching_sha2_password") != 0 || !b->password) {
		fail(b, "unexpected auth data from node %s during %s", b->node->name, b->plugin);
		return;
	}
	if (b->want_pubkey) {
		b->want_pubkey = false;
		if (!mysql_sha256_rsa_answer(b->password, b->scramble, MYSQL_SCRAMBLE_LEN, data,
					     len, out, sizeof(out), &out_len)) {
			fail(b, "node %s sent an unusable RSA public key for caching_sha2_password",
			     b->node->name);
			return;
		}
		send_auth_data(b, (uint8_t)(seq + 1), out, out_len);
		OPENSSL_cleanse(out, sizeof(out));
		return;
	}
	if (len == 1 && data[0] == 0x03)
		return;
	if (len != 1 || data[0] != 0x04) {
		fail(b, "unexpected caching_sha2_password data from node %s", b->node->name);
		return;
	}
	if (b->tls) {
		/* The channel is encrypted: the password itself, NUL-terminated. */
		send_auth_data(b, (uint8_t)(seq + 1), (const uint8_t *)b->password,
			       strlen(b->password) + 1);
		return;
	}
	/* In the clear: fetch the node's public key (the same trust as the
	 * mysql client's --get-server-public-key; use cluster tls: where the
	 * network between sluice and the nodes is not trusted). */
	b->want_pubkey = true;
	out[0] = 0x02;
	send_auth_data(b, (uint8_t)(seq + 1), out, 1);
}

/* A packet during AUTH: OK, ERR, AuthSwitchRequest or AuthMoreData. */
static void on_auth(struct backend *b, const uint8_t *p, uint32_t len, uint8_t seq)
{
	if (len == 0) {
		fail(b, "empty packet during login");
		return;
	}
	switch (p[0]) {
	case MYSQL_OK_MARKER: {
		struct mysql_ok ok;
		if (!mysql_read_ok(p, len, &ok)) {
			fail(b, "malformed OK after login");
			return;
		}
		b->status = ok.status;
		login_finished(b, BACKEND_OK, NULL, NULL);
		return;
	}
	case MYSQL_ERR_MARKER: {
		struct mysql_err err;
		if (!mysql_read_err(p, len, &err)) {
			fail(b, "malformed ERR after login");
			return;
		}
		login_finished(b, BACKEND_REFUSED, &err, err.message);
		return;
	}
	case MYSQL_AUTH_SWITCH: {
		uint8_t data[MYSQL_AUTH_MAX], answer[MYSQL_AUTH_MAX];
		size_t data_len, answer_len;
		char plugin[MYSQL_PLUGIN_MAX];
		if (!mysql_read_auth_switch(p, len, plugin, data, sizeof(data), &data_len)) {
			fail(b, "malformed auth switch request");
			return;
		}
		if (!plugin_usable(b, plugin)) {
			fail(b, "node %s wants auth plugin %s for user '%s', which %s",
			     b->node->name, plugin, b->user,
			     plugin_needs_password(plugin) ? "needs a plaintext password "
							     "(password_file) for this user in "
							     "sluice's config"
							   : "sluice does not support");
			return;
		}
		log_debug("backend", "%s: auth switch to %s", b->node->name, plugin);
		if (!set_exchange(b, plugin, data, data_len) ||
		    !auth_answer(b, answer, &answer_len)) {
			fail(b, "malformed %s challenge from node %s", plugin, b->node->name);
			return;
		}
		send_auth_data(b, (uint8_t)(seq + 1), answer, answer_len);
		OPENSSL_cleanse(answer, sizeof(answer));
		return;
	}
	case MYSQL_AUTH_MORE:
		on_auth_more(b, p + 1, len - 1, seq);
		return;
	}
	fail(b, "unexpected packet 0x%02x during login", p[0]);
}

static void read_cb(struct pipe *p, void *arg)
{
	struct backend *b = arg;
	struct evbuffer *in = pipe_input(p);

	if (b->state == BACKEND_READY) {
		b->ops->readable(b->arg);
		return;
	}
	/* Login: whole packets, one at a time. */
	while (b->state == BACKEND_GREETING || b->state == BACKEND_AUTH) {
		uint8_t hdr[MYSQL_HEADER_LEN];
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return;
		uint32_t len = mysql_header_len(hdr);
		if (len > BACKEND_LOGIN_PACKET_MAX) {
			fail(b, "oversized packet (%u bytes) during login", len);
			return;
		}
		if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + (size_t)len)
			return;
		/* Both sides count one sequence: the greeting is 0, every
		 * packet after it is the one before plus one. */
		uint8_t want = b->state == BACKEND_GREETING ? 0 : b->seq;
		if (hdr[3] != want) {
			fail(b, "node %s sent packets out of order during login (sequence id %u, "
				"expected %u)",
			     b->node->name, hdr[3], want);
			return;
		}
		b->seq = (uint8_t)(hdr[3] + 1);
		uint8_t *pkt = evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + len));
		/* Copy out: the handlers may write, which can move the buffer. */
		uint8_t *payload = malloc(len ? len : 1);
		if (!payload) {
			fail(b, "out of memory");
			return;
		}
		memcpy(payload, pkt + MYSQL_HEADER_LEN, len);
		evbuffer_drain(in, MYSQL_HEADER_LEN + len);
		if (b->state == BACKEND_GREETING)
			on_greeting(b, payload, len, hdr[3]);
		else
			on_auth(b, payload, len, hdr[3]);
		free(payload);
		if (b->closing)
			return;
	}
	if (b->state == BACKEND_READY && evbuffer_get_length(in) > 0)
		b->ops->readable(b->arg);
}

static void write_cb(struct pipe *p, void *arg)
{
	struct backend *b = arg;

	if (b->state == BACKEND_READY)
		b->ops->writable(b->arg);
}

static void event_cb(struct pipe *p, short what, void *arg)
{
	struct backend *b = arg;

	if ((what & PIPE_CONNECTED) && b->state == BACKEND_TLS) {
		struct mysql_handshake_response rsp = b->rsp;
		OPENSSL_cleanse(b->rsp.auth, sizeof(b->rsp.auth));
		log_debug("backend", "%s: TLS established (%s)", b->node->name,
			  SSL_get_cipher(pipe_ssl(p)));
		send_response(b, &rsp, b->rsp_seq);
		OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
		return;
	}
	if (what & PIPE_CONNECTED) {
		net_tune_stream(pipe_fd(p));
		backend_set_state(b, BACKEND_GREETING);
		pipe_set_reading(p, true);
		return;
	}
	if ((what & PIPE_ERROR) && pipe_ssl(p))
		fail(b, "TLS with node %s failed: %s", b->node->name, pipe_error(p));
	else if (what & PIPE_EOF)
		fail(b, "node %s closed the connection%s", b->node->name,
		     b->state == BACKEND_READY ? "" : " during login");
	else
		fail(b, "node %s: %s", b->node->name, pipe_error(p));
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;

	fail(b, "node %s did not %s within %u ms", b->node->name,
	     b->state == BACKEND_CONNECTING ? "accept the connection" : "complete the login",
	     b->connect_timeout_ms);
}

struct backend *backend_create(struct event_base *base, struct ring *ring,
			       const struct config_node *node, int node_index,
			       uint32_t connect_timeout_ms, size_t bound, SSL_CTX *tls, int verify,
			       const struct backend_ops *ops, void *arg)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->tls = tls;
	b->verify = verify;
	b->base = base;
	b->node = node;
	b->node_index = node_index;
	b->connect_timeout_ms = connect_timeout_ms;
	b->bound = bound;
	b->ops = ops;
	b->arg = arg;
	b->timer = evtimer_new(base, timeout_cb, b);
	b->pipe = pipe_new(base, ring, -1);
	if (!b->timer || !b->pipe)
		goto fail;
	pipe_set_callbacks(b->pipe, read_cb, write_cb, event_cb, b);
	pipe_set_read_bound(b->pipe, bound);
	return b;
fail:
	backend_destroy(b);
	return NULL;
}

void backend_set_owner(struct backend *b, const struct backend_ops *ops, void *arg)
{
	b->ops = ops;
	b->arg = arg;
}

void backend_set_node(struct backend *b, const struct config_node *node)
{
	b->node = node;
}

/* Copy the login material in; the caller's buffers may go away. */
static bool take_login(struct backend *b, const struct backend_login *login)
{
	forget_secrets(b);
	if (!mysql_copy_str(b->user, sizeof(b->user), login->user, strlen(login->user)))
		return false;
	memcpy(b->sha1_pw, login->sha1_pw, MYSQL_SHA1_LEN);
	if (login->password && !(b->password = strdup(login->password)))
		return false;
	b->has_db = login->db && *login->db;
	if (!mysql_copy_str(b->db, sizeof(b->db), b->has_db ? login->db : "",
			    b->has_db ? strlen(login->db) : 0))
		return false;
	b->caps = login->caps;
	b->max_packet = login->max_packet;
	b->charset = login->charset;
	if (login->attrs && login->attrs_len) {
		b->attrs = malloc(login->attrs_len);
		if (!b->attrs)
			return false;
		memcpy(b->attrs, login->attrs, login->attrs_len);
		b->attrs_len = login->attrs_len;
	}
	return true;
}

bool backend_connect(struct backend *b, const struct backend_login *login)
{
	struct timeval tv = net_timeval_ms(b->connect_timeout_ms);

	if (!take_login(b, login))
		return false;
	b->state = BACKEND_CONNECTING;
	evtimer_add(b->timer, &tv);
	if (!pipe_connect(b->pipe, (const struct sockaddr *)&b->node->address.ss,
			  b->node->address.len)) {
		event_del(b->timer);
		return false;
	}
	return true;
}

bool backend_change_user(struct backend *b, const struct backend_login *login)
{
	struct mysql_change_user cu;
	struct mysql_writer w;
	struct timeval tv = net_timeval_ms(b->connect_timeout_ms);

	uint32_t negotiated = b->caps;

	if (b->state != BACKEND_READY || !take_login(b, login))
		return false;
	/* The packet layout follows what this connection negotiated, not the
	 * client's wishes. */
	b->caps = negotiated;
	memset(&cu, 0, sizeof(cu));
	mysql_copy_str(cu.user, sizeof(cu.user), b->user, strlen(b->user));
	/* COM_CHANGE_USER answers the scramble of the original greeting. */
	if (!set_exchange(b, "mysql_native_password", b->greeting.scramble,
			  b->greeting.scramble_len) ||
	    !auth_answer(b, cu.auth, &cu.auth_len))
		return false;
	memcpy(cu.db, b->db, sizeof(cu.db));
	cu.charset = b->charset;
	memcpy(cu.plugin, b->plugin, sizeof(cu.plugin));
	cu.attrs = b->attrs;
	cu.attrs_len = b->attrs_len;
	mysql_writer_init(&w);
	mysql_write_change_user(&w, 0, b->caps, &cu);
	OPENSSL_cleanse(cu.auth, sizeof(cu.auth));
	if (!w.ok) {
		mysql_writer_deinit(&w);
		return false;
	}
	evbuffer_add(pipe_output(b->pipe), w.data, w.len);
	mysql_writer_deinit(&w);
	b->seq = 1;
	b->change_user = true;
	evtimer_add(b->timer, &tv);
	backend_set_state(b, BACKEND_AUTH);
	/* Replies may already be buffered behind the command: none are, since
	 * the session sends COM_CHANGE_USER only when the node is idle. */
	return true;
}

struct evbuffer *backend_input(struct backend *b)
{
	return pipe_input(b->pipe);
}

struct evbuffer *backend_output(struct backend *b)
{
	return pipe_output(b->pipe);
}

struct pipe *backend_pipe(struct backend *b)
{
	return b->pipe;
}

size_t backend_pending(struct backend *b)
{
	return pipe_pending(b->pipe);
}

void backend_set_reading(struct backend *b, bool on)
{
	if (b->state != BACKEND_READY)
		return;
	pipe_set_reading(b->pipe, on);
}

uint32_t backend_caps(const struct backend *b)
{
	return b->caps;
}

uint32_t backend_thread_id(const struct backend *b)
{
	return b->greeting.connection_id;
}

int backend_node(const struct backend *b)
{
	return b->node_index;
}

const char *backend_server_version(const struct backend *b)
{
	return b->greeting.server_version;
}

uint16_t backend_status(const struct backend *b)
{
	return b->status;
}

bool backend_ready(const struct backend *b)
{
	return b->state == BACKEND_READY;
}

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;

	pipe_free(b->pipe);
	if (b->timer)
		event_free(b->timer);
	forget_secrets(b);
	free(b);
}

void backend_destroy(struct backend *b)
{
	struct timeval now = {0, 0};

	if (!b || b->closing)
		return;
	b->closing = true;
	if (b->timer)
		event_del(b->timer);
	if (b->pipe) {
		/* Nothing of it reaches the session any more. */
		pipe_set_reading(b->pipe, false);
		pipe_set_callbacks(b->pipe, NULL, NULL, NULL, NULL);
	}
	/* Freed from a fresh event: we may be inside one of our callbacks. If
	 * the base cannot schedule it (out of memory), free now. */
	if (event_base_once(b->base, -1, EV_TIMEOUT, free_cb, b, &now) != 0)
		free_cb(-1, 0, b);
	else
		ring_note_activation();
}
