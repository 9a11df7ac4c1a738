/*
 * mode: mysql sessions: client handshake and authentication, TLS and the
 * compressed protocol towards the client, the backend login, and streaming
 * of every command and response. See mysql_session.h for the states.
 *
 * Streaming: packets are never held whole unless they are small control
 * packets. Each direction keeps "bytes left of the packet being copied";
 * the response tracker (mysql/resp.h) sees only the first bytes it needs.
 * Backpressure: when one side's output holds buffer_size bytes, reading
 * from the other side stops until it drains to half.
 */
#include "mysql_session.h"

#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "backend.h"
#include "config.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "mysql/auth.h"
#include "mysql/compress.h"
#include "mysql/handshake.h"
#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "registry.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"
#include "worker.h"

/* Login packets and commands up to this size are read whole (to inspect
 * them); larger commands are streamed. */
#define SMALL_PACKET_MAX 65536
/* How long a closing session may take to hand its last ERR to the client. */
#define FLUSH_TIMEOUT_SEC 10
/* What the greeting says when no node has been seen yet. */
#define FALLBACK_VERSION "10.11.0-MariaDB-sluice"

/* What sluice offers clients: everything it can forward unchanged. Not
 * DEPRECATE_EOF (the response tracker expects EOF packets) and none of
 * MariaDB's extended capabilities (progress reports, COM_MULTI, bulk). */
#define SERVER_CAPS                                                                                \
	(CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |    \
	 CLIENT_NO_SCHEMA | CLIENT_COMPRESS | CLIENT_ODBC | CLIENT_LOCAL_FILES |                   \
	 CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE |   \
	 CLIENT_TRANSACTIONS | CLIENT_RESERVED | CLIENT_SECURE_CONNECTION |                        \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |                \
	 CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_DATA |              \
	 CLIENT_SESSION_TRACK)

#define NATIVE_PLUGIN "mysql_native_password"

enum ms_state {
	MS_GREETING,
	MS_AUTH_SWITCH,
	MS_CONNECTING,
	MS_READY,
	MS_COMMAND,
	MS_INFILE,
	MS_CU_SWITCH,
	MS_CHANGING_USER,
	MS_CLOSING,
	MS_CLOSED,
};

static const char *const ms_state_names[] = {
	[MS_GREETING] = "greeting",	  [MS_AUTH_SWITCH] = "auth-switch",
	[MS_CONNECTING] = "connecting",	  [MS_READY] = "ready",
	[MS_COMMAND] = "command",	  [MS_INFILE] = "infile",
	[MS_CU_SWITCH] = "cu-switch",	  [MS_CHANGING_USER] = "changing-user",
	[MS_CLOSING] = "closing",	  [MS_CLOSED] = "closed",
};

struct mysql_session {
	struct worker_session ws; /* first: the worker's list links through it */
	struct worker *w;
	struct listener *l;
	struct server *srv;
	const struct config_listener *lc;
	const struct config_cluster *cc;
	size_t cluster;
	uint32_t id;
	enum ms_state state;
	char peer_host[64];
	char tag[200];

	struct bufferevent *client; /* socket, or the TLS filter over it */
	bool tls;
	struct evbuffer_cb_entry *tls_cb; /* CLOSING over TLS: drain watch */
	bool compress;
	struct evbuffer *zin;  /* compressed mode: inflated client bytes */
	struct evbuffer *zout; /* compressed mode: plain bytes to deflate */
	uint8_t zseq;	       /* next compressed sequence id towards the client */
	struct event *timer;   /* login timeout, then flush timeout */
	size_t bound;

	/* Login. */
	uint8_t scramble[MYSQL_SCRAMBLE_LEN];
	uint8_t seq; /* next sequence id towards the client during login */
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	char user_name[MYSQL_USER_MAX];
	const struct config_user *user; /* NULL: unknown user */
	uint8_t sha1_pw[MYSQL_SHA1_LEN];
	char db[MYSQL_DB_MAX];
	uint8_t *attrs;
	size_t attrs_len;
	uint16_t order[CONFIG_MAX_NODES]; /* login candidates, best first */
	size_t n_order, attempt;
	struct mysql_change_user cu; /* MS_CU_SWITCH / MS_CHANGING_USER */
	uint8_t cu_sha1_pw[MYSQL_SHA1_LEN];
	const struct config_user *cu_user;

	/* Command phase. */
	struct backend *be;
	struct mysql_resp resp;
	uint32_t c_left;   /* bytes of the client packet still to copy */
	bool c_cont;	   /* that packet is 16 MiB - 1: a continuation follows */
	bool c_streaming;  /* a client command is still being copied */
	uint32_t b_left;   /* bytes of the backend packet still to copy */
	bool b_cont;	   /* ... and a continuation follows */
	uint8_t next_seq;  /* sequence id the client expects next in this command */
	uint32_t kill_id;  /* a rewritten KILL: the id the client named ... */
	uint32_t kill_thread; /* ... and the node thread it became (0: none) */
	uint16_t status;   /* server status flags last seen */
	uint64_t commands; /* for logs */
};

static void ms_process_client(struct mysql_session *s);
static void ms_process_backend(struct mysql_session *s);

static void ms_set_state(struct mysql_session *s, enum ms_state next)
{
	log_debug(s->tag, "%s -> %s", ms_state_names[s->state], ms_state_names[next]);
	s->state = next;
}

static struct node_stats *node_stats(struct mysql_session *s)
{
	return s->be ? worker_node_stats(s->w, s->cluster, (size_t)backend_node(s->be)) : NULL;
}

/* ---- client I/O ----------------------------------------------------------- */

/* Plain packets from the client (after inflating, in compressed mode). */
static struct evbuffer *cin(struct mysql_session *s)
{
	return s->compress ? s->zin : bufferevent_get_input(s->client);
}

/* Plain packets to the client (deflated by client_flush in compressed mode). */
static struct evbuffer *cout(struct mysql_session *s)
{
	return s->compress ? s->zout : bufferevent_get_output(s->client);
}

/* Compressed mode: wrap what the session wrote into frames. */
static void client_flush(struct mysql_session *s)
{
	struct mysql_writer w;
	size_t n;

	if (!s->compress || (n = evbuffer_get_length(s->zout)) == 0)
		return;
	mysql_writer_init(&w);
	mysql_write_compressed(&w, &s->zseq, evbuffer_pullup(s->zout, (ev_ssize_t)n), n);
	if (w.ok)
		bufferevent_write(s->client, w.data, w.len);
	evbuffer_drain(s->zout, n);
	mysql_writer_deinit(&w);
}

/* Compressed mode: inflate whole frames from the socket into zin, while zin
 * is below the bound. False on a corrupt frame. */
static bool client_inflate(struct mysql_session *s)
{
	struct evbuffer *raw = bufferevent_get_input(s->client);

	while (evbuffer_get_length(s->zin) < s->bound) {
		uint8_t h[MYSQL_COMP_HEADER_LEN];
		struct mysql_comp_header ch;

		if (evbuffer_copyout(raw, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			return true;
		mysql_read_comp_header(h, &ch);
		if (evbuffer_get_length(raw) < sizeof(h) + ch.comp_len)
			return true;
		uint8_t *frame = evbuffer_pullup(raw, (ev_ssize_t)(sizeof(h) + ch.comp_len));
		if (ch.uncomp_len == 0) {
			evbuffer_add(s->zin, frame + sizeof(h), ch.comp_len);
		} else {
			struct evbuffer_iovec v;
			if (evbuffer_reserve_space(s->zin, ch.uncomp_len, &v, 1) < 1 ||
			    !mysql_inflate(frame + sizeof(h), ch.comp_len, v.iov_base, ch.uncomp_len))
				return false;
			v.iov_len = ch.uncomp_len;
			evbuffer_commit_space(s->zin, &v, 1);
		}
		/* Our replies continue the client's compressed numbering. */
		s->zseq = (uint8_t)(ch.seq + 1);
		evbuffer_drain(raw, sizeof(h) + ch.comp_len);
	}
	return true;
}

static void send_writer(struct mysql_session *s, struct mysql_writer *w)
{
	if (w->ok)
		evbuffer_add(cout(s), w->data, w->len);
	mysql_writer_deinit(w);
}

static void send_err(struct mysql_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		     const char *fmt, ...) SLUICE_PRINTF(5, 6);

static void send_err(struct mysql_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		     const char *fmt, ...)
{
	char msg[512];
	struct mysql_writer w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mysql_writer_init(&w);
	mysql_write_err41(&w, seq, code, sqlstate, msg);
	send_writer(s, &w);
}

/* ---- closing -------------------------------------------------------------- */

static void ms_destroy(struct worker_session *ws)
{
	struct mysql_session *s = (struct mysql_session *)ws;

	registry_remove(s->id);
	backend_destroy(s->be);
	if (s->client)
		bufferevent_free(s->client);
	if (s->zin)
		evbuffer_free(s->zin);
	if (s->zout)
		evbuffer_free(s->zout);
	if (s->timer)
		event_free(s->timer);
	free(s->attrs);
	mysql_change_user_deinit(&s->cu);
	OPENSSL_cleanse(s->sha1_pw, sizeof(s->sha1_pw));
	OPENSSL_cleanse(s->cu_sha1_pw, sizeof(s->cu_sha1_pw));
	listener_session_ended(s->l);
	free(s);
}

static void ms_close(struct mysql_session *s, const char *why)
{
	if (s->state == MS_CLOSED)
		return;
	log_debug(s->tag, "closed (%s) after %" PRIu64 " commands", why, s->commands);
	ms_set_state(s, MS_CLOSED);
	if (s->client)
		bufferevent_disable(s->client, EV_READ | EV_WRITE);
	if (s->tls_cb) {
		evbuffer_remove_cb_entry(
			bufferevent_get_output(bufferevent_get_underlying(s->client)), s->tls_cb);
		s->tls_cb = NULL;
	}
	backend_destroy(s->be);
	s->be = NULL;
	event_del(s->timer);
	worker_session_close(s->w, &s->ws);
}

/* Bytes queued towards the client, including those below a TLS filter,
 * which the filter hands down as it encrypts. */
static size_t client_pending(struct mysql_session *s)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(s->client));
	struct bufferevent *under = s->tls ? bufferevent_get_underlying(s->client) : NULL;

	if (under)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

/* Closing over TLS: the socket below the filter drained. */
static void tls_drained_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING && client_pending(s) == 0)
		ms_close(s, "flushed");
}

/* Send what is queued (an ERR, usually), then close. */
static void ms_flush_and_close(struct mysql_session *s, const char *why)
{
	struct timeval tv = {FLUSH_TIMEOUT_SEC, 0};

	if (s->state == MS_CLOSING || s->state == MS_CLOSED)
		return;
	client_flush(s);
	backend_destroy(s->be);
	s->be = NULL;
	if (client_pending(s) == 0) {
		ms_close(s, why);
		return;
	}
	log_debug(s->tag, "%s; flushing before close", why);
	ms_set_state(s, MS_CLOSING);
	if (s->tls) {
		struct bufferevent *under = bufferevent_get_underlying(s->client);
		s->tls_cb = evbuffer_add_cb(bufferevent_get_output(under), tls_drained_cb, s);
	}
	bufferevent_disable(s->client, EV_READ);
	bufferevent_setwatermark(s->client, EV_WRITE, 0, 0);
	bufferevent_enable(s->client, EV_WRITE);
	event_del(s->timer);
	evtimer_add(s->timer, &tv);
}

/* A client error that ends the session: ERR to the client, log once. */
static void ms_fail(struct mysql_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		    const char *msg)
{
	log_info(s->tag, "closing: %u %s", code, msg);
	send_err(s, seq, code, sqlstate, "%s", msg);
	ms_flush_and_close(s, msg);
}

/* ---- login ---------------------------------------------------------------- */

/* Peek one whole small packet from the client: its header and payload
 * (valid until the next change to cin). NULL when not all here yet;
 * *too_big when it is larger than allowed. */
static const uint8_t *peek_small(struct mysql_session *s, uint32_t *len, uint8_t *seq,
				 bool *too_big)
{
	struct evbuffer *in = cin(s);
	uint8_t h[MYSQL_HEADER_LEN];

	*too_big = false;
	if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
		return NULL;
	*len = mysql_header_len(h);
	*seq = h[3];
	if (*len > SMALL_PACKET_MAX) {
		*too_big = true;
		return NULL;
	}
	if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + (size_t)*len)
		return NULL;
	return evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + *len)) + MYSQL_HEADER_LEN;
}

static void send_greeting(struct mysql_session *s)
{
	struct mysql_handshake hs;
	struct mysql_writer w;
	const struct snapshot *snap = worker_snapshot(s->w);
	const char *version = FALLBACK_VERSION;

	/* Look like the writer: clients adapt to the server version. */
	if (snap) {
		const struct cluster_view *v = &snap->clusters[s->cluster];
		if (v->writer >= 0 && v->nodes[v->writer].server_version[0])
			version = v->nodes[v->writer].server_version;
	}
	memset(&hs, 0, sizeof(hs));
	hs.protocol = 10;
	snprintf(hs.server_version, sizeof(hs.server_version), "%s", version);
	hs.connection_id = s->id;
	memcpy(hs.scramble, s->scramble, MYSQL_SCRAMBLE_LEN);
	hs.scramble_len = MYSQL_SCRAMBLE_LEN;
	hs.caps = SERVER_CAPS | (listener_tls(s->l) ? CLIENT_SSL : 0);
	hs.charset = 45; /* utf8mb4_general_ci */
	hs.status = SERVER_STATUS_AUTOCOMMIT;
	snprintf(hs.plugin, sizeof(hs.plugin), NATIVE_PLUGIN);
	mysql_writer_init(&w);
	mysql_write_handshake(&w, 0, &hs);
	send_writer(s, &w);
}

static const struct config_user *find_user(struct mysql_session *s, const char *name)
{
	const struct config *cfg = s->srv->cfg;

	for (size_t i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

static void deny(struct mysql_session *s, uint8_t seq, const char *user, bool with_password)
{
	char msg[400];

	snprintf(msg, sizeof(msg), "Access denied for user '%s'@'%s' (using password: %s)", user,
		 s->peer_host, with_password ? "YES" : "NO");
	if (s->state == MS_CU_SWITCH || s->state == MS_CHANGING_USER) {
		/* As a server does: a failed COM_CHANGE_USER leaves the session
		 * logged in as before. */
		log_info(s->tag, "change user refused: %s", msg);
		send_err(s, seq, ER_ACCESS_DENIED_ERROR, "28000", "%s", msg);
		mysql_change_user_deinit(&s->cu);
		ms_set_state(s, MS_READY);
		return;
	}
	ms_fail(s, seq, ER_ACCESS_DENIED_ERROR, "28000", msg);
}

static const struct backend_ops ms_backend_ops;

/* Connect to the next login candidate. */
static void connect_next(struct mysql_session *s)
{
	struct backend_login login = {
		.user = s->user_name,
		.sha1_pw = s->sha1_pw,
		.password = s->user ? s->user->password : NULL,
		.db = s->db[0] ? s->db : NULL,
		.caps = s->caps,
		.max_packet = s->max_packet,
		.charset = s->charset,
		.attrs = s->attrs,
		.attrs_len = s->attrs_len,
	};

	backend_destroy(s->be);
	s->be = NULL;
	if (s->attempt >= s->n_order) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "sluice: no node of cluster '%s' can take this session (%s)", s->cc->name,
			 s->n_order ? "all refused the connection" : "none is healthy");
		ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01", msg);
		return;
	}
	int node = s->order[s->attempt];
	s->be = backend_create(worker_base(s->w), &s->cc->nodes[node], node,
			       s->cc->connect_timeout_ms, s->bound, s->srv->backend_tls[s->cluster],
			       (int)s->cc->tls.verify, &ms_backend_ops, s);
	if (!s->be || !backend_connect(s->be, &login)) {
		s->attempt++;
		connect_next(s);
		return;
	}
	log_debug(s->tag, "logging in to node %s as %s", s->cc->nodes[node].name, s->user_name);
}

/* The client proved its password: log in to the writer. */
static void client_authenticated(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->w);

	event_del(s->timer);
	ms_set_state(s, MS_CONNECTING);
	s->n_order = snap ? snapshot_writer_order(&snap->clusters[s->cluster], s->order) : 0;
	s->attempt = 0;
	connect_next(s);
}

static void check_answer(struct mysql_session *s, const uint8_t *answer, size_t len, uint8_t seq)
{
	s->seq = (uint8_t)(seq + 1);
	if (!s->user || len == 0 ||
	    !mysql_native_check(s->user->double_sha1, s->scramble, MYSQL_SCRAMBLE_LEN, answer, len,
				s->sha1_pw)) {
		deny(s, s->seq, s->user_name, len > 0);
		return;
	}
	client_authenticated(s);
}

static bool start_tls(struct mysql_session *s)
{
	SSL *ssl = SSL_new(listener_tls(s->l));
	struct bufferevent *filter;

	if (!ssl)
		return false;
	filter = bufferevent_openssl_filter_new(worker_base(s->w), s->client, ssl,
						BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!filter) {
		SSL_free(ssl);
		return false;
	}
	s->client = filter; /* owns the socket bufferevent now */
	s->tls = true;
	return true;
}

static void client_setup(struct mysql_session *s);

static void on_handshake_response(struct mysql_session *s, const uint8_t *p, uint32_t len,
				  uint8_t seq)
{
	struct mysql_handshake_response rsp;
	uint32_t offered = SERVER_CAPS | (listener_tls(s->l) ? CLIENT_SSL : 0);

	if (!mysql_read_handshake_response(p, len, offered, &rsp)) {
		mysql_handshake_response_deinit(&rsp);
		ms_fail(s, (uint8_t)(seq + 1), ER_HANDSHAKE_ERROR, "08S01", "Bad handshake");
		return;
	}
	if (rsp.ssl_request) {
		evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
		if (s->tls || !listener_tls(s->l) || !start_tls(s)) {
			ms_fail(s, (uint8_t)(seq + 1), ER_HANDSHAKE_ERROR, "08S01",
				"Bad handshake: TLS is not available here");
			return;
		}
		client_setup(s);
		return; /* the full response follows inside TLS */
	}
	evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
	s->caps = rsp.caps;
	s->max_packet = rsp.max_packet;
	s->charset = rsp.charset;
	memcpy(s->user_name, rsp.user, sizeof(s->user_name));
	if (rsp.has_db)
		memcpy(s->db, rsp.db, sizeof(s->db));
	s->attrs = rsp.attrs; /* take ownership */
	s->attrs_len = rsp.attrs_len;
	rsp.attrs = NULL;
	s->user = find_user(s, rsp.user);
	snprintf(s->tag + strlen(s->tag), sizeof(s->tag) - strlen(s->tag), " %s", rsp.user);

	bool native = rsp.plugin[0] == '\0' || strcmp(rsp.plugin, NATIVE_PLUGIN) == 0;
	if (!native || (rsp.auth_len != MYSQL_SHA1_LEN && rsp.auth_len != 0)) {
		/* A MySQL 8 client starts with caching_sha2_password: ask for
		 * the native answer to the same scramble. */
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_auth_switch(&w, (uint8_t)(seq + 1), NATIVE_PLUGIN, s->scramble,
					MYSQL_SCRAMBLE_LEN);
		send_writer(s, &w);
		ms_set_state(s, MS_AUTH_SWITCH);
		return;
	}
	check_answer(s, rsp.auth, rsp.auth_len, seq);
	OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
}

/* Backend login done (first login or COM_CHANGE_USER). */
static void ms_login_done(void *arg, enum backend_result res, const struct mysql_err *err,
			  const char *why)
{
	struct mysql_session *s = arg;
	bool change_user = s->state == MS_CHANGING_USER;
	int node = s->be ? backend_node(s->be) : -1;
	struct node_stats *ns = node_stats(s);

	if (res == BACKEND_UNREACHABLE && !change_user) {
		log_warn(s->tag, "node %s: %s; trying the next node", s->cc->nodes[node].name, why);
		if (ns)
			ns->connect_failures++;
		health_suspect(s->srv->health, s->cluster, (size_t)node);
		s->attempt++;
		connect_next(s);
		return;
	}
	if (res != BACKEND_OK) {
		if (ns)
			ns->errors++;
		if (err && err->code == ER_ACCESS_DENIED_ERROR) {
			/* The node's message names sluice's address; the client's is
			 * what the client should see. */
			deny(s, s->seq, change_user ? s->cu.user : s->user_name, true);
		} else if (err && change_user) {
			log_info(s->tag, "node %s refused the change of user: %u %s",
				 s->cc->nodes[node].name, err->code, err->message);
			send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
			mysql_change_user_deinit(&s->cu);
			ms_set_state(s, MS_READY);
		} else if (err) {
			log_info(s->tag, "node %s refused the login: %u %s",
				 s->cc->nodes[node].name, err->code, err->message);
			send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
			ms_flush_and_close(s, "backend refused the login");
		} else {
			log_info(s->tag, "node %s: %s", s->cc->nodes[node].name, why);
			ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
				change_user ? "sluice: lost the node while changing user"
					    : "sluice: cannot log in to the node");
		}
		return;
	}

	struct mysql_ok ok = {0, 0, backend_status(s->be), 0};
	struct mysql_writer w;
	bool start_compress = !change_user && (s->caps & CLIENT_COMPRESS);

	if (ns)
		ns->connects++;
	s->status = ok.status;
	mysql_writer_init(&w);
	mysql_write_ok(&w, s->seq, &ok);
	send_writer(s, &w);
	if (change_user) {
		memcpy(s->user_name, s->cu.user, sizeof(s->user_name));
		memcpy(s->db, s->cu.db, sizeof(s->db));
		memcpy(s->sha1_pw, s->cu_sha1_pw, sizeof(s->sha1_pw));
		s->user = s->cu_user;
		mysql_change_user_deinit(&s->cu);
		log_debug(s->tag, "changed user to %s", s->user_name);
	} else {
		log_debug(s->tag, "logged in to node %s (thread %u)", s->cc->nodes[node].name,
			  backend_thread_id(s->be));
	}
	struct registry_entry e = {
		.id = s->id, .cluster = (int)s->cluster, .node = node,
		.backend_thread = backend_thread_id(s->be)};
	snprintf(e.user, sizeof(e.user), "%s", s->user_name);
	registry_put(&e);
	free(s->attrs);
	s->attrs = NULL;
	s->attrs_len = 0;
	/* The OK above is the last uncompressed packet. */
	if (start_compress) {
		s->zin = evbuffer_new();
		s->zout = evbuffer_new();
		if (!s->zin || !s->zout) {
			ms_close(s, "out of memory");
			return;
		}
		/* Bytes the client sent after its login are compressed frames.
		 * A frame is inflated whole, so the socket buffer must be able
		 * to hold the largest one (16 MiB): the compressed protocol's
		 * price, paid only by clients that ask for it. */
		bufferevent_setwatermark(s->client, EV_READ, 0,
					 MYSQL_COMP_HEADER_LEN + MYSQL_MAX_PAYLOAD);
		s->compress = true;
		s->zseq = 0;
		if (!client_inflate(s)) {
			ms_close(s, "corrupt compressed frame");
			return;
		}
	}
	ms_set_state(s, MS_READY);
	ms_process_client(s);
}

/* ---- command phase -------------------------------------------------------- */

/* Copy up to *left bytes of the current packet from src to dst. Returns
 * false if the packet is not finished. */
static bool copy_rest(struct evbuffer *src, struct evbuffer *dst, uint32_t *left)
{
	if (*left == 0)
		return true;
	int moved = evbuffer_remove_buffer(src, dst, *left);
	if (moved > 0)
		*left -= (uint32_t)moved;
	return *left == 0;
}

static bool backend_output_full(struct mysql_session *s)
{
	return s->be && evbuffer_get_length(backend_output(s->be)) >= s->bound;
}

/* Stream client packets to the backend until the command (or the LOCAL
 * INFILE data) is complete, the client has nothing more, or the backend's
 * output is full. Returns true when the command is completely forwarded. */
static bool stream_client_packets(struct mysql_session *s)
{
	struct evbuffer *in = cin(s);
	struct evbuffer *out = backend_output(s->be);

	for (;;) {
		if (backend_output_full(s)) {
			bufferevent_disable(s->client, EV_READ);
			return false;
		}
		if (s->c_left) {
			size_t before = evbuffer_get_length(in);
			bool done = copy_rest(in, out, &s->c_left);
			if (node_stats(s))
				node_stats(s)->bytes_out += before - evbuffer_get_length(in);
			if (!done)
				return false;
			if (!s->c_cont)
				return true;
		}
		uint8_t h[MYSQL_HEADER_LEN];
		if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			return false;
		uint32_t len = mysql_header_len(h);
		bool was_cont = s->c_cont;
		s->c_cont = len == MYSQL_MAX_PAYLOAD;
		s->c_left = len;
		evbuffer_remove_buffer(in, out, sizeof(h));
		if (s->state == MS_INFILE && !was_cont && len == 0) {
			/* The empty packet that ends the file. */
			mysql_resp_infile_done(&s->resp);
			ms_set_state(s, MS_COMMAND);
			return true;
		}
	}
}

static uint64_t parse_uint(const char **p, const char *end)
{
	uint64_t v = 0;
	while (*p < end && isdigit((unsigned char)**p))
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	return v;
}

/* Skip blanks and comments. */
static void skip_space(const char **p, const char *end)
{
	for (;;) {
		while (*p < end && isspace((unsigned char)**p))
			(*p)++;
		if (end - *p >= 2 && (*p)[0] == '/' && (*p)[1] == '*' && (end - *p < 3 || (*p)[2] != '!')) {
			const char *close = *p + 2;
			while (close + 1 < end && !(close[0] == '*' && close[1] == '/'))
				close++;
			*p = close + 1 < end ? close + 2 : end;
			continue;
		}
		return;
	}
}

static bool take_word(const char **p, const char *end, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(end - *p) < n || strncasecmp(*p, word, n) != 0)
		return false;
	if (*p + n < end && (isalnum((unsigned char)(*p)[n]) || (*p)[n] == '_'))
		return false;
	*p += n;
	skip_space(p, end);
	return true;
}

/* Recognise `KILL [HARD|SOFT] [CONNECTION|QUERY] n`. */
static bool parse_kill(const char *sql, size_t len, bool *query_only, uint64_t *id)
{
	const char *p = sql, *end = sql + len;

	skip_space(&p, end);
	if (!take_word(&p, end, "KILL"))
		return false;
	if (!take_word(&p, end, "HARD"))
		take_word(&p, end, "SOFT");
	*query_only = take_word(&p, end, "QUERY");
	if (!*query_only)
		take_word(&p, end, "CONNECTION");
	if (p >= end || !isdigit((unsigned char)*p))
		return false;
	*id = parse_uint(&p, end);
	skip_space(&p, end);
	while (p < end && *p == ';')
		p++;
	skip_space(&p, end);
	return p == end;
}

/* KILL (the statement, or COM_PROCESS_KILL) names sluice's connection ids:
 * rewrite it for the node's thread id. The node then applies its own rule
 * (same user, or the privilege to kill others). Returns true when the
 * command was consumed: answered here, or rewritten and sent. */
static bool handle_kill(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	bool query_only;
	uint64_t id;
	struct registry_entry e;
	int node = backend_node(s->be);

	if (p[0] == COM_PROCESS_KILL && len == 5) {
		/* The old binary form: always KILL CONNECTION. */
		query_only = false;
		id = (uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16 |
		     (uint64_t)p[4] << 24;
	} else if (p[0] != COM_QUERY || !parse_kill((const char *)p + 1, len - 1, &query_only, &id)) {
		return false;
	}
	/* Answered here or rewritten: either way this packet is consumed. */
	evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
	if (id > UINT32_MAX || !registry_find((uint32_t)id, (int)s->cluster, node, &e)) {
		send_err(s, (uint8_t)(seq + 1), ER_NO_SUCH_THREAD, "HY000", "Unknown thread id: %" PRIu64,
			 id);
		return true;
	}
	if (e.cluster != (int)s->cluster || e.node != node || e.backend_thread == 0) {
		send_err(s, (uint8_t)(seq + 1), ER_NOT_SUPPORTED_YET, "42000",
			 "sluice: connection %" PRIu64 " is served by another node; KILL it "
			 "through that node",
			 id);
		return true;
	}
	char sql[64];
	int n = snprintf(sql, sizeof(sql), "KILL %s %u", query_only ? "QUERY" : "CONNECTION",
			 e.backend_thread);
	struct mysql_writer w;
	mysql_writer_init(&w);
	mysql_packet_begin(&w, seq);
	mysql_put_u8(&w, COM_QUERY);
	mysql_put_bytes(&w, sql, (size_t)n);
	mysql_packet_end(&w);
	log_debug(s->tag, "KILL %s %" PRIu64 " -> node thread %u", query_only ? "QUERY" : "", id,
		  e.backend_thread);
	if (w.ok)
		evbuffer_add(backend_output(s->be), w.data, w.len);
	mysql_writer_deinit(&w);
	mysql_resp_start(&s->resp, COM_QUERY);
	s->next_seq = (uint8_t)(seq + 1);
	s->kill_id = (uint32_t)id;
	s->kill_thread = e.backend_thread;
	ms_set_state(s, MS_COMMAND);
	return true;
}

/* Check the client's native answer for COM_CHANGE_USER, then change the
 * user on the node; login_done reports. */
static void check_change_user(struct mysql_session *s, const uint8_t *answer, size_t len,
			      uint8_t seq)
{
	uint8_t sha1_pw[MYSQL_SHA1_LEN];

	s->seq = (uint8_t)(seq + 1);
	if (!s->cu_user || len == 0 ||
	    !mysql_native_check(s->cu_user->double_sha1, s->scramble, MYSQL_SCRAMBLE_LEN, answer,
				len, sha1_pw)) {
		deny(s, s->seq, s->cu.user, len > 0);
		return;
	}
	/* The session keeps its current key until the node agrees. */
	memcpy(s->cu_sha1_pw, sha1_pw, sizeof(sha1_pw));
	OPENSSL_cleanse(sha1_pw, sizeof(sha1_pw));
	struct backend_login login = {
		.user = s->cu.user,
		.sha1_pw = s->cu_sha1_pw,
		.password = s->cu_user->password,
		.db = s->cu.db[0] ? s->cu.db : NULL,
		.caps = s->caps,
		.max_packet = s->max_packet,
		.charset = s->cu.charset ? (uint8_t)s->cu.charset : s->charset,
		.attrs = s->cu.attrs,
		.attrs_len = s->cu.attrs_len,
	};
	ms_set_state(s, MS_CHANGING_USER);
	if (!backend_change_user(s->be, &login))
		ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: cannot change user on the node");
}

static void start_change_user(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	mysql_change_user_deinit(&s->cu);
	if (!mysql_read_change_user(p, len, s->caps, &s->cu)) {
		ms_fail(s, (uint8_t)(seq + 1), ER_MALFORMED_PACKET, "HY000",
			"Malformed COM_CHANGE_USER packet");
		return;
	}
	evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
	s->cu_user = find_user(s, s->cu.user);
	s->seq = (uint8_t)(seq + 1);
	bool native = s->cu.plugin[0] == '\0' || strcmp(s->cu.plugin, NATIVE_PLUGIN) == 0;
	if (!native || (s->cu.auth_len != MYSQL_SHA1_LEN && s->cu.auth_len != 0)) {
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_auth_switch(&w, s->seq, NATIVE_PLUGIN, s->scramble, MYSQL_SCRAMBLE_LEN);
		send_writer(s, &w);
		ms_set_state(s, MS_CU_SWITCH);
		return;
	}
	ms_set_state(s, MS_CU_SWITCH);
	check_change_user(s, s->cu.auth, s->cu.auth_len, seq);
}

/* READY: take the next command from the client. */
static void next_command(struct mysql_session *s)
{
	struct evbuffer *in = cin(s);
	uint8_t h[MYSQL_HEADER_LEN + 1];

	ev_ssize_t got = evbuffer_copyout(in, h, sizeof(h));
	if (got < MYSQL_HEADER_LEN)
		return;
	uint32_t len = mysql_header_len(h);
	uint8_t seq = h[3];

	if (len == 0) {
		ms_fail(s, (uint8_t)(seq + 1), ER_MALFORMED_PACKET, "HY000",
			"Malformed packet: empty command");
		return;
	}
	if (got < (ev_ssize_t)sizeof(h))
		return; /* the command byte has not arrived yet */
	uint8_t cmd = h[4];
	if (len <= SMALL_PACKET_MAX) {
		bool too_big;
		const uint8_t *p = peek_small(s, &len, &seq, &too_big);
		if (!p)
			return; /* wait for the whole command */
		switch (cmd) {
		case COM_QUIT:
			ms_close(s, "client quit");
			return;
		case COM_CHANGE_USER:
			start_change_user(s, p, len, seq);
			return;
		case COM_BINLOG_DUMP:
		case COM_BINLOG_DUMP_GTID:
		case COM_REGISTER_SLAVE:
		case COM_TABLE_DUMP:
		case COM_CONNECT_OUT:
		case COM_DAEMON:
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			send_err(s, (uint8_t)(seq + 1), ER_NOT_SUPPORTED_YET, "42000",
				 "sluice does not relay replication commands; connect to a node "
				 "directly");
			return;
		case COM_QUERY:
		case COM_PROCESS_KILL:
			if (handle_kill(s, p, len, seq))
				goto counted;
			break;
		}
	}
	/* Forward it, streaming; the response tracker follows the answer. */
	s->commands++;
	s->kill_thread = 0;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug(s->tag, "command 0x%02x (%u bytes) -> node %s", cmd, len,
			  s->cc->nodes[backend_node(s->be)].name);
	bool expects = mysql_resp_start(&s->resp, cmd);
	s->next_seq = (uint8_t)(seq + 1);
	ms_set_state(s, expects ? MS_COMMAND : MS_READY);
	s->c_left = 0;
	s->c_cont = false;
	s->c_streaming = !stream_client_packets(s);
counted:
	if (node_stats(s))
		node_stats(s)->statements++;
}

/* Handle whatever the client has sent, as far as the state allows. */
static void ms_process_client(struct mysql_session *s)
{
	for (;;) {
		/* Compressed frames wait in the socket buffer until zin has
		 * room: inflate more now, not only when new bytes arrive. */
		if (s->compress && !client_inflate(s)) {
			ms_close(s, "corrupt compressed frame");
			return;
		}
		enum ms_state before = s->state;
		size_t have = evbuffer_get_length(cin(s));
		uint32_t len;
		uint8_t seq;
		bool too_big;
		const uint8_t *p;

		switch (s->state) {
		case MS_GREETING:
		case MS_AUTH_SWITCH:
		case MS_CU_SWITCH:
			p = peek_small(s, &len, &seq, &too_big);
			if (too_big) {
				ms_fail(s, (uint8_t)(seq + 1), ER_HANDSHAKE_ERROR, "08S01",
					"Bad handshake: packet too large");
				return;
			}
			if (!p)
				goto out;
			if (s->state == MS_GREETING) {
				on_handshake_response(s, p, len, seq);
			} else {
				uint8_t answer[MYSQL_AUTH_MAX];
				size_t n = len < sizeof(answer) ? len : sizeof(answer);
				memcpy(answer, p, n);
				evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
				if (s->state == MS_AUTH_SWITCH)
					check_answer(s, answer, n, seq);
				else
					check_change_user(s, answer, n, seq);
				OPENSSL_cleanse(answer, sizeof(answer));
			}
			break;
		case MS_READY:
			if (s->c_streaming) {
				s->c_streaming = !stream_client_packets(s);
				if (s->c_streaming)
					goto out;
				break;
			}
			next_command(s);
			break;
		case MS_COMMAND:
			/* A command still being copied (long data, big INSERT). */
			if (s->c_streaming) {
				s->c_streaming = !stream_client_packets(s);
				break;
			}
			goto out; /* pipelined input waits until this command is done */
		case MS_INFILE:
			if (stream_client_packets(s))
				ms_process_backend(s); /* the OK may already be here */
			break;
		default:
			goto out;
		}
		if (s->state == MS_CLOSING || s->state == MS_CLOSED)
			return;
		/* Stop when nothing moved. */
		if (s->state == before && evbuffer_get_length(cin(s)) == have)
			goto out;
	}
out:
	client_flush(s);
}

/* Copy msg to out with the decimal number `from` replaced by `to`. */
static void rename_thread(const char *msg, uint32_t from, uint32_t to, char *out, size_t cap)
{
	char needle[16];
	const char *at;

	snprintf(needle, sizeof(needle), "%u", from);
	at = strstr(msg, needle);
	if (!at) {
		snprintf(out, cap, "%s", msg);
		return;
	}
	snprintf(out, cap, "%.*s%u%s", (int)(at - msg), msg, to, at + strlen(needle));
}

static void command_done(struct mysql_session *s)
{
	struct node_stats *ns = node_stats(s);

	if (s->resp.status_valid)
		s->status = s->resp.status;
	if (s->resp.error && ns)
		ns->errors++;
	ms_set_state(s, MS_READY);
}

/* Stream the backend's response to the client, following it packet by
 * packet until the tracker says it is complete. */
static void ms_process_backend(struct mysql_session *s)
{
	struct evbuffer *in, *out = cout(s);
	struct node_stats *ns = node_stats(s);

	if (!s->be || !backend_ready(s->be))
		return;
	in = backend_input(s->be);
	while (s->state == MS_COMMAND || s->state == MS_INFILE) {
		if (evbuffer_get_length(bufferevent_get_output(s->client)) +
			    evbuffer_get_length(out) >= s->bound) {
			backend_set_reading(s->be, false);
			break;
		}
		if (s->b_left) {
			size_t before = evbuffer_get_length(in);
			bool done = copy_rest(in, out, &s->b_left);
			if (ns)
				ns->bytes_in += before - evbuffer_get_length(in);
			if (!done)
				break;
			continue;
		}
		uint8_t h[MYSQL_HEADER_LEN];
		if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			break;
		uint32_t len = mysql_header_len(h);
		enum mysql_resp_event ev = RESP_EV_MORE;
		if (s->b_cont) {
			/* Continuation of a 16 MiB packet: only data. */
			s->b_cont = len == MYSQL_MAX_PAYLOAD;
		} else {
			size_t need = mysql_resp_need(&s->resp, len);
			if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + need)
				break;
			const uint8_t *p =
				evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + need)) +
				MYSQL_HEADER_LEN;
			ev = mysql_resp_packet(&s->resp, p, need, len);
			s->b_cont = len == MYSQL_MAX_PAYLOAD;
		}
		if (ev == RESP_EV_BAD) {
			log_warn(s->tag, "node %s sent a response sluice cannot follow (state %s); "
					 "closing the session",
				 s->cc->nodes[backend_node(s->be)].name,
				 mysql_resp_state_str(s->resp.state));
			ms_fail(s, (uint8_t)(h[3]), ER_NET_READ_ERROR, "08S01",
				"sluice: malformed response from the node");
			return;
		}
		if (ev == RESP_EV_DONE && s->resp.error && s->kill_thread) {
			/* The node's error for a rewritten KILL names its own
			 * thread id; the client knows the id it asked for. */
			char msg[sizeof(s->resp.err.message) + 16];
			rename_thread(s->resp.err.message, s->kill_thread, s->kill_id, msg,
				      sizeof(msg));
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			send_err(s, h[3], s->resp.err.code, s->resp.err.sqlstate, "%s", msg);
			s->kill_thread = 0;
			command_done(s);
			client_flush(s);
			ms_process_client(s);
			return;
		}
		evbuffer_remove_buffer(in, out, MYSQL_HEADER_LEN);
		s->next_seq = (uint8_t)(h[3] + 1);
		s->b_left = len;
		copy_rest(in, out, &s->b_left);
		if (ns)
			ns->bytes_in += MYSQL_HEADER_LEN + (len - s->b_left);
		if (ev == RESP_EV_INFILE) {
			ms_set_state(s, MS_INFILE);
			s->c_left = 0;
			s->c_cont = false;
			client_flush(s);
			ms_process_client(s);
			return;
		}
		if (ev == RESP_EV_DONE && s->b_left == 0 && !s->b_cont) {
			command_done(s);
			client_flush(s);
			ms_process_client(s);
			return;
		}
		if (ev == RESP_EV_DONE) {
			/* Finish copying this last packet, then done. */
			if (!copy_rest(in, out, &s->b_left))
				break;
			command_done(s);
			client_flush(s);
			ms_process_client(s);
			return;
		}
	}
	client_flush(s);
}

/* ---- callbacks ------------------------------------------------------------ */

static void ms_backend_readable(void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_COMMAND || s->state == MS_INFILE) {
		ms_process_backend(s);
		return;
	}
	if (s->state == MS_READY && s->be &&
	    evbuffer_get_length(backend_input(s->be)) > 0 && !s->c_streaming) {
		/* A node speaks unasked only to say it is closing the connection
		 * (e.g. KILL, wait_timeout): pass its ERR on and close. */
		evbuffer_add_buffer(cout(s), backend_input(s->be));
		ms_flush_and_close(s, "node sent data outside a command");
	}
}

static void ms_backend_writable(void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING || s->state == MS_CLOSED)
		return;
	bufferevent_enable(s->client, EV_READ);
	ms_process_client(s);
}

static void ms_backend_closed(void *arg, const char *why)
{
	struct mysql_session *s = arg;
	int node = backend_node(s->be);
	struct node_stats *ns = node_stats(s);

	if (ns)
		ns->errors++;
	health_suspect(s->srv->health, s->cluster, (size_t)node);
	log_info(s->tag, "lost node %s: %s", s->cc->nodes[node].name, why);
	if (s->state == MS_COMMAND || s->state == MS_INFILE) {
		/* Pass on whatever the node managed to send, then the error. */
		ms_process_backend(s);
		if (s->state == MS_CLOSED || s->state == MS_CLOSING)
			return;
		send_err(s, s->next_seq, ER_NET_READ_ERROR,
			 "08S01",
			 "sluice: lost the connection to node %s during the command; its outcome "
			 "is unknown",
			 s->cc->nodes[node].name);
	}
	ms_flush_and_close(s, "backend closed");
}

static const struct backend_ops ms_backend_ops = {
	.login_done = ms_login_done,
	.readable = ms_backend_readable,
	.writable = ms_backend_writable,
	.closed = ms_backend_closed,
};

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct mysql_session *s = arg;

	if (s->compress && !client_inflate(s)) {
		ms_close(s, "corrupt compressed frame");
		return;
	}
	ms_process_client(s);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING) {
		if (client_pending(s) == 0)
			ms_close(s, "flushed");
		return;
	}
	/* The client drained to half the bound: resume the node. */
	if (s->be && backend_ready(s->be)) {
		backend_set_reading(s->be, true);
		ms_process_backend(s);
	}
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return; /* the TLS handshake finished */
	if (what & BEV_EVENT_EOF)
		ms_close(s, "client closed the connection");
	else if (what & BEV_EVENT_TIMEOUT)
		ms_close(s, "timed out flushing to the client");
	else
		ms_close(s, s->tls ? "client connection or TLS error" : "client connection error");
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING) {
		ms_close(s, "client did not read its last error");
		return;
	}
	log_info(s->tag, "login timed out after %u ms", s->lc->login_timeout_ms);
	ms_close(s, "login timeout");
}

static void client_setup(struct mysql_session *s)
{
	bufferevent_setcb(s->client, client_read_cb, client_write_cb, client_event_cb, s);
	bufferevent_setwatermark(s->client, EV_READ, 0, s->bound);
	bufferevent_setwatermark(s->client, EV_WRITE, s->bound / 2, 0);
	bufferevent_enable(s->client, EV_READ | EV_WRITE);
}

void mysql_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
			 socklen_t peer_len)
{
	struct server *srv = worker_server(w);
	const struct config_listener *lc = listener_config(l);
	struct mysql_session *s = calloc(1, sizeof(*s));
	struct timeval tv;
	char addr[64];

	if (!s)
		goto fail;
	s->w = w;
	s->l = l;
	s->srv = srv;
	s->lc = lc;
	s->cluster = lc->cluster_index;
	s->cc = &srv->cfg->clusters[lc->cluster_index];
	s->ws.destroy = ms_destroy;
	s->id = (uint32_t)atomic_fetch_add(&srv->next_session_id, 1);
	s->bound = srv->cfg->buffer_size;
	s->state = MS_GREETING;
	config_addr_str(peer, addr, sizeof(addr));
	snprintf(s->tag, sizeof(s->tag), "C-%u %s@%s", s->id, lc->name, addr);
	/* The host part of "user@host" in messages, as a server would say it. */
	snprintf(s->peer_host, sizeof(s->peer_host), "%s", addr);
	char *colon = strrchr(s->peer_host, ':');
	if (colon)
		*colon = '\0';

	net_tune_stream(fd);
	s->client = bufferevent_socket_new(worker_base(w), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->client)
		goto fail;
	fd = -1;
	s->timer = evtimer_new(worker_base(w), timer_cb, s);
	if (!s->timer || !mysql_random_scramble(s->scramble, sizeof(s->scramble)))
		goto fail;
	worker_session_add(w, &s->ws);
	client_setup(s);
	tv = net_timeval_ms(lc->login_timeout_ms);
	evtimer_add(s->timer, &tv);
	send_greeting(s);
	log_debug(s->tag, "accepted");
	return;
fail:
	log_error("mysql", "%s: cannot set up a session (out of memory); closing the client",
		  lc->name);
	if (fd >= 0)
		close(fd);
	if (s) {
		if (s->client)
			bufferevent_free(s->client);
		if (s->timer)
			event_free(s->timer);
		free(s);
	}
	listener_session_ended(l);
}
