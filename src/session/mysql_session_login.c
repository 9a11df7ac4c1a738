/*
 * A mode: mysql session's login: the greeting, the client's handshake
 * response and authentication (mysql_native_password against the stored
 * hash, with an auth switch for other plugins), the TLS upgrade, and the
 * session's first backend login, which lets the client in.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "session/session.h"
#include "monitor/health.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "net/listener.h"
#include "net/pipe.h"
#include "session/mysql_session_int.h"

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

void ms_send_greeting(struct mysql_session *s)
{
	struct mysql_handshake hs;
	struct mysql_writer w;
	const struct snapshot *snap = worker_snapshot(s->h.w);
	const char *version = FALLBACK_VERSION;

	/* Look like the writer: clients adapt to the server version. */
	if (snap) {
		const struct cluster_view *v = &snap->clusters[s->h.cluster];
		if (v->writer >= 0 && v->nodes[v->writer].server_version[0])
			version = v->nodes[v->writer].server_version;
	}
	memset(&hs, 0, sizeof(hs));
	hs.protocol = 10;
	snprintf(hs.server_version, sizeof(hs.server_version), "%s", version);
	hs.connection_id = s->h.id;
	memcpy(hs.scramble, s->scramble, MYSQL_SCRAMBLE_LEN);
	hs.scramble_len = MYSQL_SCRAMBLE_LEN;
	hs.caps = SERVER_CAPS | (listener_tls(s->h.l) ? CLIENT_SSL : 0);
	hs.charset = 45; /* utf8mb4_general_ci */
	hs.status = SERVER_STATUS_AUTOCOMMIT;
	snprintf(hs.plugin, sizeof(hs.plugin), NATIVE_PLUGIN);
	mysql_writer_init(&w);
	mysql_write_handshake(&w, 0, &hs);
	ms_send_writer(s, &w);
	s->expect_seq = 1;
}

/* The host part of "user@host" in messages, as a server would say it: the
 * client's address from the session's tag ("C-1 LISTENER@HOST:PORT"). */
static void peer_host(const struct mysql_session *s, char *out, size_t len)
{
	const char *at = strrchr(s->h.tag, '@');
	const char *colon = strrchr(s->h.tag, ':');

	at = at ? at + 1 : s->h.tag;
	if (!colon || colon < at)
		colon = at + strlen(at);
	snprintf(out, len, "%.*s", (int)(colon - at), at);
}

void ms_deny(struct mysql_session *s, uint8_t seq, const char *user, bool with_password)
{
	char msg[400], host[64];

	peer_host(s, host, sizeof(host));
	snprintf(msg, sizeof(msg), "Access denied for user '%s'@'%s' (using password: %s)", user,
		 host, with_password ? "YES" : "NO");
	if (s->state == MS_CU_SWITCH || s->state == MS_CHANGING_USER) {
		/* As a server does: a failed COM_CHANGE_USER leaves the session
		 * logged in as before. */
		log_info(s->h.tag, "change user refused: %s", msg);
		ms_send_err(s, seq, ER_ACCESS_DENIED_ERROR, "28000", "%s", msg);
		ms_cu_free(s);
		ms_set_state(s, MS_READY);
		return;
	}
	listener_login_failed(s->h.l);
	ms_fail(s, CLOSE_REASON_login_denied, seq, ER_ACCESS_DENIED_ERROR, "28000", msg);
}

/* The login material for a new backend connection or a change of user. */
struct backend_login ms_session_login(struct mysql_session *s)
{
	return (struct backend_login){
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
}

static void first_login_done(struct ms_conn *c);

/* Log in to the next candidate for the session's first connection (or
 * take a pooled one already logged in as the user, in the database). */
void ms_connect_next(struct mysql_session *s)
{
	for (; s->attempt < s->n_order; s->attempt++) {
		struct ms_conn *c = &s->conns[s->order[s->attempt]];
		switch (ms_conn_open(c)) {
		case MS_OPEN_READY:
			first_login_done(c);
			return;
		case MS_OPEN_STARTED:
		case MS_OPEN_WAIT:
			return;
		case MS_OPEN_FAILED:
			break;
		}
	}
	if (s->n_order == 0) {
		/* No writer right now: wait for the monitor, within bounds. */
		const struct snapshot *snap = worker_snapshot(s->h.w);
		bool some_up = snap && snapshot_login_node(&snap->clusters[s->h.cluster]) >= 0;
		ms_wait_for_writer(s, -1, some_up ? "none may take writes" : "none is healthy");
		return;
	}
	/* Healthy nodes that all refuse the login (TLS verification, a node
	 * missing the account) will not change their mind by waiting. */
	char msg[256];
	snprintf(msg, sizeof(msg), "sluice: no node of cluster '%s' can take this session (%s)",
		 s->h.cc->name, "all refused the connection");
	ms_fail(s, CLOSE_REASON_no_node, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01", msg);
}

/* The client proved its password: log in to the writer. */
void ms_client_authenticated(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->h.w);

	ms_stop_timer(s);
	if (!ms_slots(s)) {
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	ms_set_state(s, MS_CONNECTING);
	s->n_order =
		snap ? snapshot_writer_order(&snap->clusters[s->h.cluster], false, s->order) : 0;
	s->attempt = 0;
	ms_connect_next(s);
}

void ms_check_answer(struct mysql_session *s, const uint8_t *answer, size_t len, uint8_t seq)
{
	s->seq = (uint8_t)(seq + 1);
	if (!s->user || len == 0 ||
	    !mysql_native_check(s->user->double_sha1, s->scramble, MYSQL_SCRAMBLE_LEN, answer, len,
				s->sha1_pw)) {
		ms_deny(s, s->seq, s->user_name, len > 0);
		return;
	}
	ms_client_authenticated(s);
}

static bool start_tls(struct mysql_session *s)
{
	SSL *ssl = SSL_new(listener_tls(s->h.l));

	if (!ssl || !pipe_start_tls(s->h.client, ssl, true))
		return false;
	s->tls = true;
	return true;
}

void ms_on_handshake_response(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct mysql_handshake_response rsp;
	uint32_t offered = SERVER_CAPS | (listener_tls(s->h.l) ? CLIENT_SSL : 0);

	if (!mysql_read_handshake_response(p, len, offered, &rsp)) {
		mysql_handshake_response_deinit(&rsp);
		ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1), ER_HANDSHAKE_ERROR,
			"08S01", "Bad handshake");
		return;
	}
	if (rsp.ssl_request) {
		evbuffer_drain(ms_cin(s), MYSQL_HEADER_LEN + len);
		if (s->tls || !listener_tls(s->h.l) || !start_tls(s)) {
			ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1),
				ER_HANDSHAKE_ERROR, "08S01",
				"Bad handshake: TLS is not available here");
			return;
		}
		s->expect_seq = (uint8_t)(seq + 1);
		ms_client_setup(s);
		return; /* the full response follows inside TLS */
	}
	evbuffer_drain(ms_cin(s), MYSQL_HEADER_LEN + len);
	s->caps = rsp.caps;
	s->max_packet = rsp.max_packet;
	s->charset = rsp.charset;
	memcpy(s->user_name, rsp.user, sizeof(s->user_name));
	if (rsp.has_db)
		memcpy(s->db, rsp.db, sizeof(s->db));
	s->attrs = rsp.attrs; /* take ownership */
	s->attrs_len = rsp.attrs_len;
	rsp.attrs = NULL;
	s->user = ms_find_user_in(worker_config(s->h.w), rsp.user);
	snprintf(s->h.tag + strlen(s->h.tag), sizeof(s->h.tag) - strlen(s->h.tag), " %s", rsp.user);

	bool native = rsp.plugin[0] == '\0' || strcmp(rsp.plugin, NATIVE_PLUGIN) == 0;
	if (!native || (rsp.auth_len != MYSQL_SHA1_LEN && rsp.auth_len != 0)) {
		/* A MySQL 8 client starts with caching_sha2_password: ask for
		 * the native answer to the same scramble. */
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_auth_switch(&w, (uint8_t)(seq + 1), NATIVE_PLUGIN, s->scramble,
					MYSQL_SCRAMBLE_LEN);
		ms_send_writer(s, &w);
		s->expect_seq = (uint8_t)(seq + 2);
		ms_set_state(s, MS_AUTH_SWITCH);
		return;
	}
	ms_check_answer(s, rsp.auth, rsp.auth_len, seq);
	OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
}

/* The first backend login of the session succeeded: the client is in. */
static void first_login_done(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct mysql_ok ok = {0, 0, backend_status(c->be), 0};
	struct mysql_writer w;

	ms_drop_timer(s); /* the login timeout is over; a wait makes a new one */
	if (c->state == CONN_LOGIN) { /* else it came from the pool, caught up or not */
		ms_conn_stats(c)->connects++;
		ms_conn_stats(c)->open_connections++;
		ms_conn_set_state(c, CONN_IDLE);
		c->version = s->hist.version;
	}
	s->status = ok.status;
	router_status(&s->rs, ok.status);
	mysql_writer_init(&w);
	mysql_write_ok(&w, s->seq, &ok);
	ms_send_writer(s, &w);
	log_debug(s->h.tag, "logged in to node %s (thread %u)", ms_node_name(s, c->node),
		  backend_thread_id(c->be));
	ms_registry_update(s);
	/* The OK above is the last uncompressed packet. */
	if ((s->caps & CLIENT_COMPRESS) && !ms_start_compress(s)) {
		ms_close(s, CLOSE_REASON_out_of_memory, "out of memory");
		return;
	}
	pipe_settle(s->h.client); /* past the login: no TLS will start */
	ms_set_state(s, MS_READY);
	ms_process_client(s);
}

/* A backend login finished: the session's first, a later connection's, or
 * a COM_CHANGE_USER. */
void ms_login_done(void *arg, enum backend_result res, const struct mysql_err *err, const char *why)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	if (s->state == MS_CHANGING_USER) {
		ms_change_user_done(c, res, err, why);
		return;
	}
	if (res == BACKEND_OK && s->state == MS_CONNECTING) {
		first_login_done(c);
		return;
	}
	if (res == BACKEND_OK) {
		ms_conn_stats(c)->connects++;
		ms_conn_stats(c)->open_connections++;
		ms_conn_set_state(c, CONN_IDLE);
		ms_registry_update(s);
		if (s->state == MS_KILLING)
			ms_kill_continue(s);
		else
			ms_route_continue(s);
		return;
	}
	ms_conn_login_failed(c, err, why);
}

/* A login failed. For the first one, try the next node or tell the client;
 * for a later one, route the pending command elsewhere. */
void ms_conn_login_failed(struct ms_conn *c, const struct mysql_err *err, const char *why)
{
	struct mysql_session *s = c->s;
	int node = c->node;

	ms_conn_stats(c)->connect_failures++;
	ms_conn_drop(c);
	if (!err)
		health_suspect(s->h.env->health, s->h.cluster, (size_t)node);
	if (s->state != MS_CONNECTING) {
		log_warn(s->h.tag, "node %s: %s", ms_node_name(s, node), err ? err->message : why);
		if (s->state == MS_KILLING) {
			s->kill->next++;
			ms_kill_continue(s);
			return;
		}
		ms_route_retry(s, c, err, why);
		return;
	}
	if (!err) {
		log_warn(s->h.tag, "node %s: %s; trying the next node", ms_node_name(s, node), why);
		s->attempt++;
		ms_connect_next(s);
		return;
	}
	if (err->code == ER_ACCESS_DENIED_ERROR) {
		/* The node's message names sluice's address; the client's is
		 * what the client should see. */
		ms_deny(s, s->seq, s->user_name, true);
		return;
	}
	log_info(s->h.tag, "node %s refused the login: %u %s", ms_node_name(s, node), err->code,
		 err->message);
	ms_send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
	ms_flush_and_close(s, CLOSE_REASON_node_refused, "backend refused the login");
}
