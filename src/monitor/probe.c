/*
 * The node check: a logged-in SQL check through MariaDB Connector/C's non-blocking API, or
 * the liveness check (TCP connect plus the MySQL greeting) when no monitor account is set.
 * See probe.h for the contract and the states; verdict.c holds the SQL and its meaning.
 *
 * Connector/C runs each blocking call as a coroutine: *_start() and *_cont() return the
 * MYSQL_WAIT_* events the call waits for, and we resume it from a libevent event on its
 * socket. Nothing here blocks: a call is never left waiting inside the library, and the
 * connection is torn down by shutting its socket first, so that even mysql_close() (which
 * writes COM_QUIT) and the unwinding of a suspended call fail at once on a dead peer.
 */
#include "monitor/probe.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <mysql.h>
#include <errmsg.h>

#include "clock.h"
#include "config/config.h"
#include "log.h"
#include "net/net.h"
#include "monitor/verdict.h"
#include "mysql/handshake.h"
#include "mysql/resp.h"
#include "mysql/wire.h"

/* A greeting is a few dozen bytes; an ERR a few hundred. Anything longer is
 * not what we are waiting for. */
#define PROBE_MAX_PACKET 4096

/* Resumptions of a suspended Connector/C call when the connection is torn down. Each one
 * fails one pending wait at once (the socket is shut down and we report a timeout), so the
 * call unwinds in two or three; the bound only guards against a library that would not. */
#define PROBE_UNWIND_MAX 32

enum probe_state {
	PROBE_IDLE,
	PROBE_CONNECTING, /* liveness: TCP connect; SQL: connect and log in */
	PROBE_GREETING,	  /* liveness: waiting for the first packet */
	PROBE_QUERYING,	  /* SQL: statement sent, waiting for the answer */
	PROBE_STORING,	  /* SQL: reading the rows */
	PROBE_DONE,	  /* verdict recorded, done() pending */
	PROBE_N_STATES,
};

static const char *const probe_state_names[PROBE_N_STATES] = {
	[PROBE_IDLE] = "idle",	       [PROBE_CONNECTING] = "connecting",
	[PROBE_GREETING] = "greeting", [PROBE_QUERYING] = "querying",
	[PROBE_STORING] = "storing",   [PROBE_DONE] = "done",
};

#define BIT(s) (1u << (s))

/* Allowed transitions, by the state left (see the diagram in probe.h). */
static const unsigned probe_next[PROBE_N_STATES] = {
	[PROBE_IDLE] = BIT(PROBE_CONNECTING) | BIT(PROBE_QUERYING),
	[PROBE_CONNECTING] = BIT(PROBE_GREETING) | BIT(PROBE_QUERYING) | BIT(PROBE_DONE),
	[PROBE_GREETING] = BIT(PROBE_DONE),
	/* QUERYING -> CONNECTING: the kept connection was found dead, log in again once. */
	[PROBE_QUERYING] = BIT(PROBE_STORING) | BIT(PROBE_CONNECTING) | BIT(PROBE_DONE),
	[PROBE_STORING] = BIT(PROBE_QUERYING) | BIT(PROBE_CONNECTING) | BIT(PROBE_DONE),
	[PROBE_DONE] = BIT(PROBE_IDLE),
};

struct probe {
	struct event_base *base;
	char *cfg_path; /* the cluster's TLS files are relative to its directory */
	const struct config_cluster *cc;
	const struct config_node *cn;
	probe_done_fn done;
	void *arg;
	enum probe_state state;
	uint32_t timeout_ms;
	uint64_t started_us; /* mono_us() at the check's start */
	struct probe_result result;
	struct event *finish; /* runs the completion outside library and bufferevent callbacks */

	/* Liveness check. */
	struct bufferevent *bev;

	/* SQL check. */
	char host[NI_MAXHOST]; /* the node's resolved address as numbers: no DNS on this thread */
	unsigned port;
	MYSQL *mysql;		/* NULL: no connection; else kept between checks */
	/* The monitor account the kept connection uses: copies taken when a check starts, so a
	 * reload never changes the strings a suspended Connector/C call holds. user NULL: no
	 * account, the liveness check. */
	char *user;
	char *password;
	bool reused;		/* this check began on a connection an earlier one opened */
	int wait;		/* MYSQL_WAIT_* of the suspended call; 0: none suspended */
	struct event *io;	/* the suspended call's wait, re-assigned for each */
	struct event *deadline; /* the whole check's timeout_ms */
	const char *const *queries;
	size_t n_queries;
	size_t query; /* the statement running, or the number stored */
	MYSQL_RES *rows[VERDICT_MAX_QUERIES];
};

static uint32_t elapsed_us(uint64_t since_us)
{
	uint64_t us = mono_us() - since_us;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void probe_set_state(struct probe *p, enum probe_state next)
{
	BUG_ON(!(probe_next[p->state] & BIT(next)));
	log_debug("probe", "node %s: %s -> %s", p->cn->name, probe_state_names[p->state],
		  probe_state_names[next]);
	p->state = next;
}

static bool probe_sql(const struct probe *p)
{
	return p->user != NULL;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void forget_credentials(struct probe *p)
{
	free(p->user);
	if (p->password) {
		OPENSSL_cleanse(p->password, strlen(p->password));
		free(p->password);
	}
	p->user = p->password = NULL;
}

/* Idle only: take the configured monitor account; when it changed (a reload), the kept
 * connection logged in as someone else and says goodbye. False when out of memory. */
static bool take_credentials(struct probe *p)
{
	const struct config_monitor *m = &p->cc->monitor;

	if (same_text(p->user, m->user) && same_text(p->password, m->password))
		return true;
	if (p->mysql) {
		mysql_close(p->mysql);
		p->mysql = NULL;
	}
	forget_credentials(p);
	if (m->user && !(p->user = strdup(m->user)))
		return false;
	if (m->password && !(p->password = strdup(m->password)))
		return false;
	return true;
}

/* ---- completion ------------------------------------------------------------------------ */

/* The check is over and p->result holds the verdict: stop its timers and hand the result
 * to done() from a fresh event, never from inside the callback that got here. */
static void probe_complete(struct probe *p)
{
	p->result.latency_us = elapsed_us(p->started_us);
	event_del(p->deadline);
	event_del(p->io);
	if (p->bev)
		bufferevent_disable(p->bev, EV_READ | EV_WRITE);
	probe_set_state(p, PROBE_DONE);
	event_active(p->finish, EV_TIMEOUT, 0);
}

static void probe_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct probe_result res = p->result;

	if (p->bev) {
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	probe_set_state(p, PROBE_IDLE);
	/* Last: done() may start the probe again or free it. */
	p->done(&res, p->arg);
}

static void sql_drop(struct probe *p);

/* Record a failed check: not ok, with state (short) and the reason. An SQL connection is
 * dropped (the next check logs in again): after an error or a timeout its state is not
 * known. */
static void probe_fail(struct probe *p, const char *state, const char *fmt, ...)
	SLUICE_PRINTF(3, 4);

static void probe_fail(struct probe *p, const char *state, const char *fmt, ...)
{
	va_list ap;

	p->result.ok = false;
	p->result.serves = false;
	p->result.writable = false;
	p->result.donor = false;
	snprintf(p->result.state, sizeof(p->result.state), "%s", state);
	va_start(ap, fmt);
	vsnprintf(p->result.error, sizeof(p->result.error), fmt, ap);
	va_end(ap);
	sql_drop(p);
	probe_complete(p);
}

/* ---- liveness check: TCP connect and the greeting ------------------------------------ */

static void greeting_conclude(struct probe *p, bool ok, const char *fmt, ...) SLUICE_PRINTF(3, 4);

static void greeting_conclude(struct probe *p, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (p->state == PROBE_DONE)
		return;
	p->result.ok = ok;
	p->result.serves = ok;
	p->result.writable = ok;
	p->result.donor = false;
	snprintf(p->result.state, sizeof(p->result.state), "%s", ok ? "up" : "down");
	p->result.error[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(p->result.error, sizeof(p->result.error), fmt, ap);
		va_end(ap);
	}
	probe_complete(p);
}

static void greeting_read_cb(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char hdr[4];
	size_t have = evbuffer_get_length(in);

	if (have < 4)
		return;
	evbuffer_copyout(in, hdr, 4);
	size_t len = mysql_header_len(hdr);
	if (len == 0 || len > PROBE_MAX_PACKET) {
		greeting_conclude(p, false, "not a MySQL server: first packet is %zu bytes", len);
		return;
	}
	if (have < 4 + len)
		return;
	unsigned char *pkt = evbuffer_pullup(in, (ev_ssize_t)(4 + len)) + 4;
	if (pkt[0] == 0x0a) {
		struct mysql_handshake hs;
		if (!mysql_read_handshake(pkt, len, &hs)) {
			greeting_conclude(p, false, "malformed MySQL greeting");
			return;
		}
		memcpy(p->result.server_version, hs.server_version, sizeof(hs.server_version));
		greeting_conclude(p, true, NULL);
	} else if (pkt[0] == 0xff) { /* the ERR marker (mysql/proto.h clashes with mysql.h) */
		/* ERR instead of a greeting (too many connections, host blocked): no SQLSTATE
		 * marker there, which the codec's reader allows. */
		struct mysql_err err;
		if (!mysql_read_err(pkt, len, &err)) {
			greeting_conclude(p, false, "malformed ERR packet instead of a greeting");
			return;
		}
		greeting_conclude(p, false, "server refused: %u %.100s", err.code, err.message);
	} else {
		greeting_conclude(p, false, "not a MySQL greeting (protocol byte 0x%02x)", pkt[0]);
	}
}

static void greeting_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;

	if (what & BEV_EVENT_CONNECTED) {
		probe_set_state(p, PROBE_GREETING);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		bool running = p->state != PROBE_DONE;
		greeting_conclude(p, false, "timed out %s",
				  p->state == PROBE_CONNECTING ? "connecting"
							       : "waiting for greeting");
		p->result.timed_out = running;
	}
	else if (what & BEV_EVENT_EOF)
		greeting_conclude(p, false, "connection closed before the greeting");
	else
		greeting_conclude(p, false, "%s: %s",
				  p->state == PROBE_CONNECTING ? "connect" : "read",
				  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void greeting_start(struct probe *p)
{
	struct timeval tv = net_timeval_ms(p->timeout_ms);

	p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev)
		abort(); /* out of memory on the monitor thread */
	probe_set_state(p, PROBE_CONNECTING);
	bufferevent_setcb(p->bev, greeting_read_cb, NULL, greeting_event_cb, p);
	/* The write timeout covers the connect, the read timeout the greeting. */
	bufferevent_set_timeouts(p->bev, &tv, &tv);
	bufferevent_enable(p->bev, EV_READ);
	if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&p->cn->address.ss,
				       (int)p->cn->address.len) < 0)
		greeting_conclude(p, false, "connect: %s", strerror(errno));
}

/* ---- SQL check: Connector/C, non-blocking ------------------------------------------- */

/* Free the stored result sets of this check. No I/O: they are in memory. */
static void sql_free_rows(struct probe *p)
{
	for (size_t i = 0; i < VERDICT_MAX_QUERIES; i++) {
		if (p->rows[i])
			mysql_free_result(p->rows[i]);
		p->rows[i] = NULL;
	}
}

/* Resume the suspended call with a timeout, again and again, until it gives up. With the
 * socket shut down every read and write it then tries fails at once too. Its results are
 * discarded. Returns false when it still would not finish (a library bug). */
static bool sql_unwind(struct probe *p)
{
	for (int i = 0; p->wait && i < PROBE_UNWIND_MAX; i++) {
		MYSQL *conn;
		MYSQL_RES *res = NULL;
		int err;

		switch (p->state) {
		case PROBE_CONNECTING:
			p->wait = mysql_real_connect_cont(&conn, p->mysql, MYSQL_WAIT_TIMEOUT);
			break;
		case PROBE_QUERYING:
			p->wait = mysql_real_query_cont(&err, p->mysql, MYSQL_WAIT_TIMEOUT);
			break;
		case PROBE_STORING:
			p->wait = mysql_store_result_cont(&res, p->mysql, MYSQL_WAIT_TIMEOUT);
			if (!p->wait && res)
				mysql_free_result(res);
			break;
		default:
			BUG_ON(1); /* a call is suspended only in these states */
		}
	}
	return p->wait == 0;
}

/* Close the connection without waiting for the node, whatever it is doing: shut the socket
 * down (a peer that is gone or stopped cannot hold us), let a suspended call fail, then
 * mysql_close(), whose COM_QUIT now fails at once instead of waiting on the socket. */
static void sql_drop(struct probe *p)
{
	sql_free_rows(p);
	if (!p->mysql)
		return;
	event_del(p->io);
	my_socket fd = mysql_get_socket(p->mysql);
	if (fd != MARIADB_INVALID_SOCKET)
		shutdown(fd, SHUT_RDWR);
	if (!sql_unwind(p))
		log_warn("probe", "node %s: Connector/C call would not give up; closing anyway",
			 p->cn->name);
	mysql_close(p->mysql);
	p->mysql = NULL;
	p->wait = 0;
}

/* TLS as the data path has it (clusters[].tls), in Connector/C's terms: TLS required; a CA
 * (the file, or OpenSSL's default directory) only when the chain is verified, since
 * Connector/C verifies the chain whenever it has one; the host (the numeric address) checked
 * too for verify: full; the client certificate when given. False when out of memory. */
static bool sql_handle_tls(const struct probe *p, MYSQL *m)
{
	const struct config_backend_tls *t = &p->cc->tls;
	char path[PATH_MAX + 1];
	my_bool yes = 1;

	if (!p->cc->tls_given)
		return true;
	if (mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes))
		return false;
	if (t->cert && t->key) {
		config_resolve_path(p->cfg_path, t->cert, path, sizeof(path));
		if (mysql_optionsv(m, MYSQL_OPT_SSL_CERT, path))
			return false;
		config_resolve_path(p->cfg_path, t->key, path, sizeof(path));
		if (mysql_optionsv(m, MYSQL_OPT_SSL_KEY, path))
			return false;
	}
	if (t->verify == TLS_VERIFY_NONE)
		return true;
	if (t->ca) {
		config_resolve_path(p->cfg_path, t->ca, path, sizeof(path));
		if (mysql_optionsv(m, MYSQL_OPT_SSL_CA, path))
			return false;
	} else if (mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, X509_get_default_cert_dir())) {
		return false;
	}
	return t->verify != TLS_VERIFY_FULL ||
	       mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes) == 0;
}

/* A new handle for the node: non-blocking, TCP to the numeric address, utf8mb4, no option
 * files (none are named), no LOAD DATA LOCAL (a node must not read our files), TLS when the
 * cluster has it. Our own timer bounds every wait, so none of the library's whole-second
 * timeouts is set. NULL when out of memory. */
static MYSQL *sql_handle_new(const struct probe *p)
{
	MYSQL *m = mysql_init(NULL);
	unsigned int tcp = MYSQL_PROTOCOL_TCP;
	unsigned int no = 0;

	if (!m)
		return NULL;
	if (mysql_options(m, MYSQL_OPT_NONBLOCK, 0) || mysql_options(m, MYSQL_OPT_PROTOCOL, &tcp) ||
	    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
	    mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no) ||
	    mysql_options4(m, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "sluice") ||
	    !sql_handle_tls(p, m)) {
		mysql_close(m);
		return NULL;
	}
	return m;
}

static void sql_io_cb(evutil_socket_t fd, short what, void *arg);

/* Wait for what the suspended call asked: readable (or an exception, which libevent reports
 * as readable), writable, and the library's own timeout if it set one. */
static void sql_wait(struct probe *p, int status)
{
	short what = 0;
	evutil_socket_t fd = -1;
	struct timeval tv;

	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		what |= EV_READ;
	if (status & MYSQL_WAIT_WRITE)
		what |= EV_WRITE;
	if (what)
		fd = (evutil_socket_t)mysql_get_socket(p->mysql);
	p->wait = status;
	event_del(p->io);
	event_assign(p->io, p->base, fd, what, sql_io_cb, p);
	if (status & MYSQL_WAIT_TIMEOUT) {
		tv = net_timeval_ms(mysql_get_timeout_value_ms(p->mysql));
		event_add(p->io, &tv);
	} else {
		event_add(p->io, NULL);
	}
}

static void sql_judge(struct probe *p);

/* A statement failed. A kept connection the node closed meanwhile (a restart, wait_timeout)
 * says nothing about the node now: log in again, once, within the same deadline, and return
 * true (go on). Anything else concludes the check; returns false. */
static bool sql_error(struct probe *p)
{
	unsigned err = mysql_errno(p->mysql);

	if (p->reused && (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST)) {
		log_debug("probe", "node %s: kept connection lost (%s), logging in again",
			  p->cn->name, mysql_error(p->mysql));
		sql_drop(p);
		probe_set_state(p, PROBE_CONNECTING);
		return true;
	}
	probe_fail(p, "query failed", "%s", mysql_error(p->mysql));
	return false;
}

/* Log in, or run the next statement, or read its rows: as far as the node lets us without
 * waiting. ready is the MYSQL_WAIT_* that woke a suspended call (ignored when none is). */
static void sql_run(struct probe *p, int ready)
{
	for (;;) {
		bool resume = p->wait != 0;
		int status = 0;

		p->wait = 0;
		switch (p->state) {
		case PROBE_CONNECTING: {
			MYSQL *conn = NULL;
			if (resume) {
				status = mysql_real_connect_cont(&conn, p->mysql, ready);
			} else {
				p->result.server_version[0] = '\0';
				p->mysql = sql_handle_new(p);
				if (!p->mysql) {
					probe_fail(p, "error", "out of memory");
					return;
				}
				p->reused = false;
				status = mysql_real_connect_start(
					&conn, p->mysql, p->host, p->user, p->password, NULL,
					p->port, NULL, 0);
			}
			if (status)
				break;
			if (!conn) {
				unsigned err = mysql_errno(p->mysql);
				probe_fail(p, err < CR_MIN_ERROR ? "login failed" : "unreachable",
					   "%s", mysql_error(p->mysql));
				return;
			}
			snprintf(p->result.server_version, sizeof(p->result.server_version), "%s",
				 mysql_get_server_info(p->mysql));
			p->query = 0;
			probe_set_state(p, PROBE_QUERYING);
			continue;
		}
		case PROBE_QUERYING: {
			const char *sql = p->queries[p->query];
			int err = 0;
			if (resume)
				status = mysql_real_query_cont(&err, p->mysql, ready);
			else
				status = mysql_real_query_start(&err, p->mysql, sql, strlen(sql));
			if (status)
				break;
			if (err) {
				if (sql_error(p))
					continue;
				return;
			}
			probe_set_state(p, PROBE_STORING);
			continue;
		}
		case PROBE_STORING: {
			MYSQL_RES *res = NULL;
			if (resume)
				status = mysql_store_result_cont(&res, p->mysql, ready);
			else
				status = mysql_store_result_start(&res, p->mysql);
			if (status)
				break;
			if (!res && mysql_errno(p->mysql)) {
				if (sql_error(p))
					continue;
				return;
			}
			if (!res) {
				probe_fail(p, "query failed", "statement %zu returned no rows",
					   p->query + 1);
				return;
			}
			p->rows[p->query++] = res;
			if (p->query == p->n_queries) {
				sql_judge(p);
				return;
			}
			probe_set_state(p, PROBE_QUERYING);
			continue;
		}
		default:
			BUG_ON(1); /* nothing else runs SQL */
		}
		sql_wait(p, status);
		return;
	}
}

static void sql_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	int ready = 0;

	if (what & EV_READ)
		ready |= p->wait & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT);
	if (what & EV_WRITE)
		ready |= MYSQL_WAIT_WRITE;
	if (what & EV_TIMEOUT)
		ready |= MYSQL_WAIT_TIMEOUT;
	sql_run(p, ready);
}

/* Every statement answered: turn the stored result sets into tables of strings for
 * verdict.c. The connection stays open for the next check. */
static void sql_judge(struct probe *p)
{
	struct verdict_table tables[VERDICT_MAX_QUERIES];
	const char **names[VERDICT_MAX_QUERIES] = {0};
	const char **cells[VERDICT_MAX_QUERIES] = {0};
	bool oom = false;

	for (size_t i = 0; i < p->n_queries; i++) {
		MYSQL_RES *res = p->rows[i];
		size_t n_cols = mysql_num_fields(res), n_rows = (size_t)mysql_num_rows(res);
		MYSQL_FIELD *fields = mysql_fetch_fields(res);
		MYSQL_ROW row;

		/* calloc(0) may return NULL: ask for one more, never zero. */
		names[i] = calloc(n_cols + 1, sizeof(*names[i]));
		cells[i] = calloc(n_cols * n_rows + 1, sizeof(*cells[i]));
		if (!names[i] || !cells[i]) {
			oom = true;
			break;
		}
		for (size_t c = 0; c < n_cols; c++)
			names[i][c] = fields[c].name;
		/* A stored result: fetching walks memory, never the socket. */
		for (size_t r = 0; r < n_rows && (row = mysql_fetch_row(res)); r++)
			for (size_t c = 0; c < n_cols; c++)
				cells[i][r * n_cols + c] = row[c];
		tables[i] = (struct verdict_table){names[i], cells[i], n_cols, n_rows};
	}
	if (!oom)
		verdict_evaluate(p->cc, tables, p->n_queries, &p->result);
	for (size_t i = 0; i < p->n_queries; i++) {
		free(names[i]);
		free(cells[i]);
	}
	if (oom) {
		probe_fail(p, "error", "out of memory");
		return;
	}
	sql_free_rows(p);
	probe_complete(p);
}

static void sql_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	const char *doing = p->state == PROBE_CONNECTING ? "connecting"
			    : p->state == PROBE_QUERYING ? "waiting for the answer"
							 : "reading the rows";

	probe_fail(p, "timed out", "timed out after %u ms %s", p->timeout_ms, doing);
	p->result.timed_out = true;
}

static void sql_start(struct probe *p)
{
	struct timeval tv = net_timeval_ms(p->timeout_ms);

	evtimer_add(p->deadline, &tv);
	p->query = 0;
	if (p->mysql) {
		p->reused = true;
		snprintf(p->result.server_version, sizeof(p->result.server_version), "%s",
			 mysql_get_server_info(p->mysql));
		probe_set_state(p, PROBE_QUERYING);
	} else {
		probe_set_state(p, PROBE_CONNECTING);
	}
	sql_run(p, 0);
}

/* ---- the probe --------------------------------------------------------------------- */

struct probe *probe_create(struct event_base *base, const char *cfg_path,
			   const struct config_cluster *cc, const struct config_node *cn,
			   probe_done_fn done, void *arg)
{
	struct probe *p = calloc(1, sizeof(*p));
	char port[NI_MAXSERV];
	int rc;

	if (!p)
		goto fail;
	p->cfg_path = strdup(cfg_path ? cfg_path : "");
	if (!p->cfg_path)
		goto fail;
	p->base = base;
	p->cc = cc;
	p->cn = cn;
	p->done = done;
	p->arg = arg;
	p->queries = verdict_queries(cc->type, &p->n_queries);
	p->finish = event_new(base, -1, 0, probe_finish_cb, p);
	p->io = event_new(base, -1, 0, sql_io_cb, p);
	p->deadline = evtimer_new(base, sql_deadline_cb, p);
	if (!p->finish || !p->io || !p->deadline)
		goto fail;
	/* Connector/C takes a host name and resolves it itself, blocking: give it the
	 * address the configuration already resolved, as numbers. */
	rc = getnameinfo((const struct sockaddr *)&cn->address.ss, cn->address.len, p->host,
			 sizeof(p->host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (rc != 0) {
		log_error("probe", "node %s: cannot write address %s as numbers: %s", cn->name,
			  cn->address.text, gai_strerror(rc));
		goto fail;
	}
	p->port = (unsigned)strtoul(port, NULL, 10);
	return p;
fail:
	probe_destroy(p);
	return NULL;
}

bool probe_running(const struct probe *p)
{
	return p->state != PROBE_IDLE;
}

bool probe_start(struct probe *p, uint32_t timeout_ms)
{
	if (p->state != PROBE_IDLE)
		return false;
	p->started_us = mono_us();
	p->timeout_ms = timeout_ms;
	p->result = (struct probe_result){.lag_ms = -1, .position = -1};
	if (!take_credentials(p))
		abort(); /* out of memory on the monitor thread */
	if (probe_sql(p))
		sql_start(p);
	else
		greeting_start(p);
	return true;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	/* A connection idle between checks says goodbye (COM_QUIT to a socket with nothing
	 * pending never waits); one in the middle of a check is dropped without a word. */
	if (p->mysql && p->state == PROBE_IDLE) {
		mysql_close(p->mysql);
		p->mysql = NULL;
	}
	sql_drop(p);
	if (p->bev)
		bufferevent_free(p->bev);
	if (p->finish)
		event_free(p->finish);
	if (p->io)
		event_free(p->io);
	if (p->deadline)
		event_free(p->deadline);
	forget_credentials(p);
	free(p->cfg_path);
	free(p);
}

void probe_set_config(struct probe *p, const struct config_cluster *cc,
		      const struct config_node *cn)
{
	p->cc = cc;
	p->cn = cn;
}
