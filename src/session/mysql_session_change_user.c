/*
 * COM_CHANGE_USER in a mode: mysql session: check the new user's answer,
 * change the user on one node connection and drop the others (they belong
 * to the old user), with the session state they carried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "session/session.h"
#include "monitor/health.h"
#include "monitor/snapshot.h"
#include "mysql/proto.h"
#include "mysql/wire.h"
#include "session/mysql_session_int.h"

/* Check the client's native answer for COM_CHANGE_USER, then change the
 * user on one connection (the others are closed: they belong to the old
 * user); login_done reports. */
void ms_check_change_user(struct mysql_session *s, const uint8_t *answer, size_t len, uint8_t seq)
{
	uint8_t sha1_pw[MYSQL_SHA1_LEN];
	struct ms_conn *c = NULL;
	const struct cluster_view *v = ms_cluster_view(s);

	s->seq = (uint8_t)(seq + 1);
	if (!s->cu_user || len == 0 ||
	    !mysql_native_check(s->cu_user->double_sha1, s->scramble, MYSQL_SCRAMBLE_LEN, answer,
				len, sha1_pw)) {
		ms_deny(s, s->seq, s->cu->user, len > 0);
		return;
	}
	/* The session keeps its current key until the node agrees. */
	memcpy(s->cu_sha1_pw, sha1_pw, sizeof(sha1_pw));
	OPENSSL_cleanse(sha1_pw, sizeof(sha1_pw));
	/* The writer's connection if open, else any open one. */
	if (v && v->writer >= 0 && s->conns[v->writer].state == CONN_IDLE)
		c = &s->conns[v->writer];
	for (size_t i = 0; !c && i < s->n_conns; i++)
		if (s->conns[i].state == CONN_IDLE)
			c = &s->conns[i];
	struct backend_login login = {
		.user = s->cu->user,
		.sha1_pw = s->cu_sha1_pw,
		.password = s->cu_user->password,
		.db = s->cu->db[0] ? s->cu->db : NULL,
		.caps = s->caps,
		.max_packet = s->max_packet,
		.charset = s->cu->charset ? (uint8_t)s->cu->charset : s->charset,
		.attrs = s->cu->attrs,
		.attrs_len = s->cu->attrs_len,
	};
	if (!c) {
		/* The session holds no connection (they went back to the
		 * pool): one of the new user's, in the new database, from the
		 * pool, or a new login as that user, on the writer (without
		 * one, on the best node that is up). */
		struct pool_ident ident;
		int node = v ? snapshot_login_node(v) : -1;
		if (node < 0) {
			char msg[200];
			snprintf(msg, sizeof(msg),
				 "sluice: no node of cluster '%s' is up to change the user on",
				 s->h.cc->name);
			ms_fail(s, CLOSE_REASON_no_node, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
				msg);
			return;
		}
		snprintf(ident.user, sizeof(ident.user), "%s", s->cu->user);
		ident.caps = s->caps;
		ident.charset = login.charset;
		c = &s->conns[node];
		switch (ms_conn_open_as(c, &login, &ident, s->cu->db, POOL_STATE_CLEAN)) {
		case MS_OPEN_READY:
			ms_set_state(s, MS_CHANGING_USER);
			ms_change_user_done(c, BACKEND_OK, NULL, NULL);
			return;
		case MS_OPEN_STARTED:
			ms_set_state(s, MS_CHANGING_USER);
			return; /* login_done reports */
		case MS_OPEN_WAIT:
			/* Out of line: a change of user is not worth a wait. */
			ms_conn_release(c);
			s->pool_waiting = false;
			ms_stop_timer(s);
			ms_send_err(s, s->seq, ER_CON_COUNT_ERROR, "08004",
				    "sluice: every connection to node %s is in use "
				    "(pool.max_per_node); change user again later",
				    ms_node_name(s, c->node));
			ms_cu_free(s);
			ms_set_state(s, MS_READY);
			ms_process_client(s);
			return;
		case MS_OPEN_FAILED:
			break;
		}
		ms_fail(s, CLOSE_REASON_no_node, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: no node connection to change the user on");
		return;
	}
	ms_set_state(s, MS_CHANGING_USER);
	s->cur = c;
	ms_conn_set_state(c, CONN_BUSY);
	if (!backend_change_user(c->be, &login))
		ms_fail(s, CLOSE_REASON_node_lost, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: cannot change user on the node");
}

/* The session's state is gone on the node (change of user, reset): every
 * other connection, the history, the statements and the pins go too. */
void ms_forget_session_state(struct mysql_session *s, struct ms_conn *keep)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (&s->conns[i] != keep && s->conns[i].state != CONN_NONE)
			ms_conn_drop(&s->conns[i]);
	history_clear(&s->hist);
	stmt_table_clear(&s->stmts);
	router_reset(&s->rs);
	free(s->temps);
	s->temps = NULL;
	s->write_ms = 0;
	s->trx = NULL;
	s->trx_lost = -1;
	keep->applied = 0;
	keep->version = s->hist.version;
	keep->sync_wait = false;
	memcpy(keep->db, s->db, sizeof(keep->db));
}

void ms_change_user_done(struct ms_conn *c, enum backend_result res, const struct mysql_err *err,
			 const char *why)
{
	struct mysql_session *s = c->s;
	/* BUSY: COM_CHANGE_USER ran on a connection the session held (the
	 * node dropped its state and statements); LOGIN: a new login as the
	 * new user; IDLE: one of the new user's, from the pool. */
	enum conn_state how = c->state;

	s->cur = NULL;
	if (how == CONN_LOGIN && res != BACKEND_OK) {
		ms_conn_stats(c)->connect_failures++;
		ms_conn_drop(c);
		if (res == BACKEND_UNREACHABLE) {
			health_suspect(s->h.env->health, s->h.cluster, (size_t)c->node);
			ms_fail(s, CLOSE_REASON_node_lost, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
				"sluice: cannot reach the node to change user");
			return;
		}
	} else if (res == BACKEND_UNREACHABLE) {
		ms_conn_drop(c);
		log_info(s->h.tag, "node %s: %s", ms_node_name(s, c->node), why);
		ms_fail(s, CLOSE_REASON_node_lost, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: lost the node while changing user");
		return;
	}
	if (how == CONN_LOGIN && res == BACKEND_OK) {
		ms_conn_stats(c)->connects++;
		ms_conn_stats(c)->open_connections++;
	}
	if (c->state != CONN_IDLE && c->state != CONN_NONE)
		ms_conn_set_state(c, CONN_IDLE);
	if (res == BACKEND_REFUSED) {
		ms_conn_stats(c)->errors++;
		if (err->code == ER_ACCESS_DENIED_ERROR) {
			ms_deny(s, s->seq, s->cu->user, true);
			return;
		}
		log_info(s->h.tag, "node %s refused the change of user: %u %s",
			 ms_node_name(s, c->node), err->code, err->message);
		ms_send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
		ms_cu_free(s);
		ms_set_state(s, MS_READY);
		ms_process_client(s);
		return;
	}
	struct mysql_ok ok = {0, 0, backend_status(c->be), 0};
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_write_ok(&w, s->seq, &ok);
	ms_send_writer(s, &w);
	memcpy(s->user_name, s->cu->user, sizeof(s->user_name));
	memcpy(s->db, s->cu->db, sizeof(s->db));
	memcpy(s->sha1_pw, s->cu_sha1_pw, sizeof(s->sha1_pw));
	s->user = s->cu_user;
	/* Later connections log in with the new user's attributes. */
	free(s->attrs);
	s->attrs = s->cu->attrs;
	s->attrs_len = s->cu->attrs_len;
	s->cu->attrs = NULL;
	if (s->cu->charset)
		s->charset = (uint8_t)s->cu->charset;
	ms_cu_free(s);
	s->status = ok.status;
	if (how == CONN_BUSY)
		pool_stmts_clear(c->pstmts);
	ms_forget_session_state(s, c);
	router_status(&s->rs, ok.status);
	s->registered = false; /* the registry learns the new user */
	ms_registry_update(s);
	log_debug(s->h.tag, "changed user to %s", s->user_name);
	ms_set_state(s, MS_READY);
	ms_process_client(s);
}

/* The change of user is over (done, refused or abandoned). */
void ms_cu_free(struct mysql_session *s)
{
	if (!s->cu)
		return;
	mysql_change_user_deinit(s->cu);
	free(s->cu);
	s->cu = NULL;
}

void ms_start_change_user(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	ms_cu_free(s);
	s->cu = calloc(1, sizeof(*s->cu));
	if (!s->cu) {
		ms_fail(s, CLOSE_REASON_out_of_memory, (uint8_t)(seq + 1), MYSQL_ER_UNKNOWN_ERROR,
			"HY000", "sluice: out of memory");
		return;
	}
	if (!mysql_read_change_user(p, len, s->caps, s->cu)) {
		ms_fail(s, CLOSE_REASON_protocol_error, (uint8_t)(seq + 1), ER_MALFORMED_PACKET,
			"HY000", "Malformed COM_CHANGE_USER packet");
		return;
	}
	evbuffer_drain(ms_cin(s), MYSQL_HEADER_LEN + len);
	s->cu_user = ms_find_user_in(worker_config(s->h.w), s->cu->user);
	s->seq = (uint8_t)(seq + 1);
	bool native = s->cu->plugin[0] == '\0' || strcmp(s->cu->plugin, NATIVE_PLUGIN) == 0;
	if (!native || (s->cu->auth_len != MYSQL_SHA1_LEN && s->cu->auth_len != 0)) {
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_auth_switch(&w, s->seq, NATIVE_PLUGIN, s->scramble, MYSQL_SCRAMBLE_LEN);
		ms_send_writer(s, &w);
		s->expect_seq = (uint8_t)(s->seq + 1);
		ms_set_state(s, MS_CU_SWITCH);
		return;
	}
	ms_set_state(s, MS_CU_SWITCH);
	ms_check_change_user(s, s->cu->auth, s->cu->auth_len, seq);
}
