/*
 * mode: mysql sessions: client handshake and authentication, TLS and the
 * compressed protocol towards the client, read/write splitting over one
 * backend connection per node (opened lazily, kept in the session's state
 * by replaying its history), and streaming of every command and response.
 * See mysql_session.h for the states.
 *
 * Streaming: packets are never held whole unless they are small control
 * packets. Each direction keeps "bytes left of the packet being copied";
 * the response tracker (mysql/resp.h) sees only the first bytes it needs.
 * Backpressure: when one side's output holds buffer_size bytes, reading
 * from the other side stops until it drains to half.
 */
#include "session/mysql_session.h"

#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "session/backend.h"
#include "routing/classify.h"
#include "config/config.h"
#include "monitor/failover.h"
#include "stats/feed.h"
#include "monitor/health.h"
#include "routing/history.h"
#include "net/listener.h"
#include "log.h"
#include "net/net.h"
#include "monitor/opstate.h"
#include "net/pipe.h"
#include "mysql/auth.h"
#include "mysql/compress.h"
#include "mysql/handshake.h"
#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "session/registry.h"
#include "routing/router.h"
#include "daemon.h"
#include "monitor/snapshot.h"
#include "stats/stats.h"
#include "routing/stmt.h"
#include "net/worker.h"

_Static_assert(REGISTRY_MAX_NODES == CONFIG_MAX_NODES, "one registry slot per node");

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

/* How often a statement waiting for a writer looks at the node states. */
#define WRITER_POLL_MS 20

/* What sluice sends a reader connection so reads wait for every commit
 * the cluster ordered before them (causal_reads). */
#define SYNC_WAIT_SQL "SET SESSION wsrep_sync_wait = 1"

enum ms_state {
	MS_GREETING,
	MS_AUTH_SWITCH,
	MS_CONNECTING,
	MS_READY,
	MS_ROUTING, /* a command waits for its connection (login, replay, prepare) */
	MS_COMMAND,
	MS_INFILE,
	MS_KILLING, /* running a KILL on the nodes of the session it names */
	MS_CU_SWITCH,
	MS_CHANGING_USER,
	MS_CLOSING,
	MS_CLOSED,
};

static const char *const ms_state_names[] = {
	[MS_GREETING] = "greeting",	[MS_AUTH_SWITCH] = "auth-switch",
	[MS_CONNECTING] = "connecting", [MS_READY] = "ready",
	[MS_ROUTING] = "routing",	[MS_COMMAND] = "command",
	[MS_INFILE] = "infile",		[MS_KILLING] = "killing",
	[MS_CU_SWITCH] = "cu-switch",	[MS_CHANGING_USER] = "changing-user",
	[MS_CLOSING] = "closing",	[MS_CLOSED] = "closed",
};

/*
 * One backend connection of a session, to one node; opened when a command
 * first needs that node.
 *
 *   NONE --open--> LOGIN --logged in--> IDLE
 *   IDLE --catch up (USE, replay, sync wait, prepare) or KILL--> INTERNAL --> IDLE
 *   IDLE --the client's command--> BUSY --response complete--> IDLE
 *   any --lost or failed--> NONE
 */
enum conn_state {
	CONN_NONE,
	CONN_LOGIN,
	CONN_IDLE,
	CONN_INTERNAL,
	CONN_BUSY,
};

static const char *const conn_state_names[] = {
	[CONN_NONE] = "none",	      [CONN_LOGIN] = "login", [CONN_IDLE] = "idle",
	[CONN_INTERNAL] = "internal", [CONN_BUSY] = "busy",
};

/* The internal command a connection runs; its response is consumed here,
 * never sent to the client. */
enum conn_op {
	OP_NONE,
	OP_INIT_DB,   /* the session's database */
	OP_REPLAY,    /* the next history entry */
	OP_SYNC_WAIT, /* causal reads: SET SESSION wsrep_sync_wait */
	OP_PREPARE,   /* a statement the client prepared elsewhere */
	OP_KILL,      /* KILL [QUERY] for another session */
};

static const char *const conn_op_names[] = {
	[OP_NONE] = "none",	      [OP_INIT_DB] = "USE",	[OP_REPLAY] = "replay",
	[OP_SYNC_WAIT] = "sync wait", [OP_PREPARE] = "prepare", [OP_KILL] = "KILL",
};

struct mysql_session;

struct ms_conn {
	struct mysql_session *s;
	struct backend *be; /* NULL in CONN_NONE */
	int node;
	enum conn_state state;
	enum conn_op op;
	struct mysql_resp iresp; /* the internal command's response */
	uint32_t i_left;	 /* bytes of a long internal-response packet to drop */
	bool i_cont;
	bool i_done; /* the response is complete once i_left is dropped */
	uint8_t i_seq; /* the sequence id its next packet must carry */
	/* The session state this connection has. */
	char db[MYSQL_DB_MAX];
	size_t applied;	  /* history entries run here ... */
	uint64_t version; /* ... complete up to this history version */
	bool sync_wait;	  /* wsrep_sync_wait is set here */
};

/* What the pending client command is, beyond its command byte. */
enum ms_cmd_kind {
	CMD_PLAIN,   /* forwarded as is */
	CMD_QUERY,   /* COM_QUERY: classified; session state recorded */
	CMD_PREPARE, /* COM_STMT_PREPARE: the answer gets sluice's id */
	CMD_STMT,    /* execute/long data/reset/fetch: the id is rewritten */
	CMD_SESSION, /* COM_INIT_DB / COM_SET_OPTION: session state */
	CMD_RESET,   /* COM_RESET_CONNECTION */
};

struct mysql_session {
	struct worker_session ws; /* first: the worker's list links through it */
	struct worker *w;
	struct listener *l;
	struct daemon *srv;
	const struct config_listener *lc;
	const struct config_cluster *cc;
	size_t cluster;
	uint32_t id;
	enum ms_state state;
	char peer_host[64];
	char tag[200];

	struct pipe *client; /* plain or TLS: the pipe hides which */
	bool tls;
	bool compress;
	struct evbuffer *zin;  /* compressed mode: inflated client bytes */
	struct evbuffer *zout; /* compressed mode: plain bytes to deflate */
	uint8_t zseq;	       /* next compressed sequence id towards the client */
	struct event *timer;   /* login timeout, then flush timeout */
	size_t bound;

	/* Login. */
	uint8_t scramble[MYSQL_SCRAMBLE_LEN];
	uint8_t seq;	    /* next sequence id towards the client during login */
	uint8_t expect_seq; /* login: the sequence id the client's next packet carries */
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	char user_name[MYSQL_USER_MAX];
	const struct config_user *user; /* NULL: unknown user */
	uint8_t sha1_pw[MYSQL_SHA1_LEN];
	char db[MYSQL_DB_MAX];
	uint8_t *attrs;
	size_t attrs_len;
	uint16_t order[CONFIG_MAX_NODES]; /* login or reader candidates, best first */
	size_t n_order, attempt;
	bool causal_miss; /* readers were left out: none had the session's write */
	struct mysql_change_user cu; /* MS_CU_SWITCH / MS_CHANGING_USER */
	uint8_t cu_sha1_pw[MYSQL_SHA1_LEN];
	const struct config_user *cu_user;

	/* Backend connections, one slot per node of the cluster. */
	struct ms_conn *conns;
	size_t n_conns;
	struct ms_conn *cur;  /* the connection the client's bytes go to */
	struct ms_conn *trx;  /* holds the session's open transaction */
	struct ms_conn *last; /* ran the previous command */
	int trx_lost;	      /* node whose transaction died unseen, or -1 */

	/* Routing. */
	struct router_state rs;
	struct history hist;
	struct stmt_table stmts;
	/* causal_reads session: when the session's last write was acknowledged
	 * (failover_now_ms), 0 when it has not written. */
	uint64_t write_ms;

	/* The pending command (ROUTING, then COMMAND). */
	struct ms_conn *target;
	struct router_decision dec;
	enum ms_cmd_kind kind;
	struct classify_result cls;
	uint8_t cmd;
	uint8_t cmd_seq;
	uint32_t cmd_len;
	struct stmt *stmt; /* CMD_STMT: the statement */
	uint8_t *saved;	   /* session command or statement text, kept */
	size_t saved_len;
	bool prep_pending; /* CMD_PREPARE: PREPARE_OK not seen yet */
	uint8_t *retry;	   /* a read's whole packet, to send again elsewhere ... */
	size_t retry_len;  /* ... (0: not retryable) */
	size_t retry_cap;
	bool resend;   /* forward_command sends retry instead of the client's bytes */
	bool answered; /* some of the response has gone to the client */

	/* Waiting for a writer (ROUTING or CONNECTING with no target). */
	bool waiting;
	uint64_t wait_deadline_ms;
	uint64_t wait_gen; /* snapshot generation when the wait (re)started */
	int wait_node;	   /* the writer that failed, or -1 */
	char wait_why[160];
	bool resp_done; /* the response is complete once b_left is copied */

	/* KILL (MS_KILLING): the target's node threads, and the nodes to try,
	 * one at a time until one carries it out. */
	uint32_t kill_threads[CONFIG_MAX_NODES];
	uint16_t kill_order[CONFIG_MAX_NODES];
	size_t kill_n, kill_next;
	bool kill_query;
	bool kill_done;	      /* a node carried it out */
	bool kill_pending;    /* the victim is REGISTRY_KILL_PENDING because of us */
	uint32_t kill_id;     /* the id the client named */
	uint32_t kill_victim; /* sluice id of the session being killed */
	struct mysql_err kill_err; /* a node's refusal (not "unknown thread") */
	uint32_t kill_err_thread;  /* the thread that refusal names */
	/* What another session's KILL sees of this one (registry.h). */
	struct registry_ctl ctl;

	/* Command phase. */
	struct mysql_resp resp;
	uint32_t c_left;   /* bytes of the client packet still to copy */
	bool c_pkt;	   /* ... of a packet whose header is through */
	bool c_cont;	   /* that packet is 16 MiB - 1: a continuation follows */
	bool c_streaming;  /* a client command is still being copied */
	uint32_t b_left;   /* bytes of the backend packet still to copy */
	bool b_cont;	   /* ... and a continuation follows */
	/* The sequence id the next packet of this command carries, whichever
	 * way it goes: both sides count one sequence (checked both ways). */
	uint8_t next_seq;
	bool c_discard;	   /* ... is being dropped, not forwarded */
	uint16_t status;   /* server status flags last seen */
	uint64_t cmd_start_us;	  /* the pending command was first sent (monotonic) */
	enum stat_kind stat_kind; /* ... and what it counts as */
	uint64_t commands; /* for logs */
};

static void ms_process_client(struct mysql_session *s);
static void ms_process_backend(struct mysql_session *s);
static void route_continue(struct mysql_session *s);
static void route_retry(struct mysql_session *s, struct ms_conn *failed,
			const struct mysql_err *err, const char *why);
static void kill_continue(struct mysql_session *s);
static void conn_lost(struct ms_conn *c, const char *why);
static void wait_for_writer(struct mysql_session *s, int failed_node, const char *why);

static void ms_set_state(struct mysql_session *s, enum ms_state next)
{
	log_debug(s->tag, "%s -> %s", ms_state_names[s->state], ms_state_names[next]);
	s->state = next;
}

/* Monotonic microseconds, for statement durations. */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct node_stats *conn_stats(struct ms_conn *c)
{
	return worker_node_stats(c->s->w, c->s->cluster, (size_t)c->node);
}

/* Counters of the node serving the client's bytes now, or NULL. */
static struct node_stats *node_stats(struct mysql_session *s)
{
	return s->cur ? conn_stats(s->cur) : NULL;
}

static const char *node_name(struct mysql_session *s, int node)
{
	return s->cc->nodes[node].name;
}

static void conn_set_state(struct ms_conn *c, enum conn_state next)
{
	log_debug(c->s->tag, "node %s connection: %s -> %s", node_name(c->s, c->node),
		  conn_state_names[c->state], conn_state_names[next]);
	c->state = next;
}

/* ---- client I/O ----------------------------------------------------------- */

/* Plain packets from the client (after inflating, in compressed mode). */
static struct evbuffer *cin(struct mysql_session *s)
{
	return s->compress ? s->zin : pipe_input(s->client);
}

/* Plain packets to the client (deflated by client_flush in compressed mode). */
static struct evbuffer *cout(struct mysql_session *s)
{
	return s->compress ? s->zout : pipe_output(s->client);
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
		evbuffer_add(pipe_output(s->client), w.data, w.len);
	evbuffer_drain(s->zout, n);
	mysql_writer_deinit(&w);
}

/* Compressed mode: inflate whole frames from the socket into zin, while zin
 * is below the bound. False on a corrupt frame. */
static bool client_inflate(struct mysql_session *s)
{
	struct evbuffer *raw = pipe_input(s->client);

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
			    !mysql_inflate(frame + sizeof(h), ch.comp_len, v.iov_base,
					   ch.uncomp_len))
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

/* Close c's backend connection, if any, and count it out. Leaves c's state
 * to the caller. */
static void conn_release(struct ms_conn *c)
{
	if (c->be && c->state != CONN_NONE && c->state != CONN_LOGIN)
		conn_stats(c)->open_connections--;
	backend_destroy(c->be);
	c->be = NULL;
}

static void ms_destroy(struct worker_session *ws)
{
	struct mysql_session *s = (struct mysql_session *)ws;

	registry_remove(s->id); /* before the wake event goes: see registry_ctl */
	if (s->ctl.wake)
		event_free(s->ctl.wake);
	for (size_t i = 0; s->conns && i < s->n_conns; i++)
		conn_release(&s->conns[i]);
	free(s->conns);
	history_clear(&s->hist);
	stmt_table_deinit(&s->stmts);
	free(s->saved);
	free(s->retry);
	pipe_free(s->client);
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

/* Close every backend connection now (the session is ending). */
static void close_conns(struct mysql_session *s)
{
	for (size_t i = 0; s->conns && i < s->n_conns; i++) {
		conn_release(&s->conns[i]);
		s->conns[i].state = CONN_NONE;
	}
	s->cur = s->target = s->trx = s->last = NULL;
}

static void ms_close(struct mysql_session *s, const char *why)
{
	if (s->state == MS_CLOSED)
		return;
	log_debug(s->tag, "closed (%s) after %" PRIu64 " commands", why, s->commands);
	ms_set_state(s, MS_CLOSED);
	if (s->kill_pending) {
		/* Our KILL of another session ends unfinished: release it. */
		registry_kill(s->kill_victim, REGISTRY_KILL_NONE);
		s->kill_pending = false;
	}
	if (s->client) {
		/* What is still queued is dropped with the pipe in the reaper. */
		pipe_set_reading(s->client, false);
		pipe_set_callbacks(s->client, NULL, NULL, NULL, NULL);
	}
	close_conns(s);
	event_del(s->timer);
	worker_session_close(s->w, &s->ws);
}

/* Bytes queued towards the client and not yet taken by the kernel. */
static size_t client_pending(struct mysql_session *s)
{
	return pipe_pending(s->client);
}

/* Send what is queued (an ERR, usually), then close. */
static void ms_flush_and_close(struct mysql_session *s, const char *why)
{
	struct timeval tv = {FLUSH_TIMEOUT_SEC, 0};

	if (s->state == MS_CLOSING || s->state == MS_CLOSED)
		return;
	client_flush(s);
	close_conns(s);
	if (client_pending(s) == 0) {
		ms_close(s, why);
		return;
	}
	log_debug(s->tag, "%s; flushing before close", why);
	ms_set_state(s, MS_CLOSING);
	pipe_set_reading(s->client, false);
	pipe_set_write_low(s->client, 0); /* client_write_cb once everything is out */
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

/* A client packet came with sequence id `got` where `want` was due: the
 * stream cannot be trusted. As a server does: ERR 1156 (numbered as the
 * expected packet would have been), then close. */
static void out_of_order(struct mysql_session *s, uint8_t got, uint8_t want)
{
	log_info(s->tag, "client packet with sequence id %u, expected %u", got, want);
	ms_fail(s, want, ER_NET_PACKETS_OUT_OF_ORDER, "08S01", "Got packets out of order");
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
	s->expect_seq = 1;
}

static const struct config_user *find_user_in(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

/* A reload (worker.h): the listener, the cluster, the nodes of open backend
 * connections and the users move to cfg. A user the reload removed is gone
 * for this session too: a login or COM_CHANGE_USER in progress is refused,
 * and a session logged in as it goes on; its later node logins have only
 * the password the client proved (enough for mysql_native_password). */
static void ms_reconfigure(struct worker_session *ws, const struct config *cfg)
{
	struct mysql_session *s = (struct mysql_session *)ws;

	s->lc = &cfg->listeners[listener_index(s->l)];
	s->cc = &cfg->clusters[s->cluster];
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i].be)
			backend_set_node(s->conns[i].be, &s->cc->nodes[i]);
	if (s->user)
		s->user = find_user_in(cfg, s->user_name);
	if (s->cu_user)
		s->cu_user = find_user_in(cfg, s->cu.user);
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
	listener_login_failed(s->l);
	ms_fail(s, seq, ER_ACCESS_DENIED_ERROR, "28000", msg);
}

static const struct backend_ops ms_backend_ops;

/* The login material for a new backend connection or a change of user. */
static struct backend_login session_login(struct mysql_session *s)
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

/* Publish which node threads serve this session, for KILL. */
static void registry_update(struct mysql_session *s)
{
	struct registry_entry e = {.id = s->id, .cluster = (int)s->cluster, .ctl = &s->ctl};

	snprintf(e.user, sizeof(e.user), "%s", s->user_name);
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i].be && s->conns[i].state != CONN_LOGIN &&
		    s->conns[i].state != CONN_NONE)
			e.threads[i] = backend_thread_id(s->conns[i].be);
	registry_put(&e);
}

/* Start logging in to c's node as the session's user. False if it could
 * not even start (the caller treats it as a failed login). */
static bool conn_open(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct backend_login login = session_login(s);

	c->be = backend_create(worker_base(s->w), &s->cc->nodes[c->node], c->node,
			       s->cc->connect_timeout_ms, s->bound, s->srv->backend_tls[s->cluster],
			       (int)s->cc->tls.verify, &ms_backend_ops, c);
	if (!c->be || !backend_connect(c->be, &login)) {
		backend_destroy(c->be);
		c->be = NULL;
		return false;
	}
	/* It joins with the session's database and no other state. */
	memcpy(c->db, s->db, sizeof(c->db));
	c->applied = 0;
	c->version = 0;
	c->sync_wait = false;
	c->op = OP_NONE;
	conn_set_state(c, CONN_LOGIN);
	log_debug(s->tag, "logging in to node %s as %s", node_name(s, c->node), s->user_name);
	return true;
}

/* Forget a connection that failed or was lost. */
static void conn_drop(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	bool was_open = c->state != CONN_NONE && c->state != CONN_LOGIN;

	conn_release(c);
	c->op = OP_NONE;
	conn_set_state(c, CONN_NONE);
	stmt_forget_node(&s->stmts, c->node);
	if (s->cur == c)
		s->cur = NULL;
	if (s->trx == c)
		s->trx = NULL;
	if (s->last == c)
		s->last = NULL;
	if (was_open)
		registry_update(s);
}

/* Log in to the next candidate for the session's first connection. */
static void connect_next(struct mysql_session *s)
{
	for (; s->attempt < s->n_order; s->attempt++) {
		struct ms_conn *c = &s->conns[s->order[s->attempt]];
		if (conn_open(c))
			return;
	}
	if (s->n_order == 0) {
		/* No healthy node right now: wait for the monitor, within bounds. */
		wait_for_writer(s, -1, "none is healthy");
		return;
	}
	/* Healthy nodes that all refuse the login (TLS verification, a node
	 * missing the account) will not change their mind by waiting. */
	char msg[256];
	snprintf(msg, sizeof(msg), "sluice: no node of cluster '%s' can take this session (%s)",
		 s->cc->name, "all refused the connection");
	ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01", msg);
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

	if (!ssl || !pipe_start_tls(s->client, ssl, true))
		return false;
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
		s->expect_seq = (uint8_t)(seq + 1);
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
	s->user = find_user_in(worker_config(s->w), rsp.user);
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
		s->expect_seq = (uint8_t)(seq + 2);
		ms_set_state(s, MS_AUTH_SWITCH);
		return;
	}
	check_answer(s, rsp.auth, rsp.auth_len, seq);
	OPENSSL_cleanse(rsp.auth, sizeof(rsp.auth));
}

static void conn_login_failed(struct ms_conn *c, const struct mysql_err *err, const char *why);
static void change_user_done(struct ms_conn *c, enum backend_result res,
			     const struct mysql_err *err, const char *why);

/* The first backend login of the session succeeded: the client is in. */
static void first_login_done(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct mysql_ok ok = {0, 0, backend_status(c->be), 0};
	struct mysql_writer w;

	conn_stats(c)->connects++;
	conn_stats(c)->open_connections++;
	conn_set_state(c, CONN_IDLE);
	c->version = s->hist.version;
	s->status = ok.status;
	router_status(&s->rs, ok.status);
	mysql_writer_init(&w);
	mysql_write_ok(&w, s->seq, &ok);
	send_writer(s, &w);
	log_debug(s->tag, "logged in to node %s (thread %u)", node_name(s, c->node),
		  backend_thread_id(c->be));
	registry_update(s);
	/* The OK above is the last uncompressed packet. */
	if (s->caps & CLIENT_COMPRESS) {
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
		pipe_set_read_bound(s->client, MYSQL_COMP_HEADER_LEN + MYSQL_MAX_PAYLOAD);
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

/* A backend login finished: the session's first, a later connection's, or
 * a COM_CHANGE_USER. */
static void ms_login_done(void *arg, enum backend_result res, const struct mysql_err *err,
			  const char *why)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	if (s->state == MS_CHANGING_USER) {
		change_user_done(c, res, err, why);
		return;
	}
	if (res == BACKEND_OK && s->state == MS_CONNECTING) {
		first_login_done(c);
		return;
	}
	if (res == BACKEND_OK) {
		conn_stats(c)->connects++;
		conn_stats(c)->open_connections++;
		conn_set_state(c, CONN_IDLE);
		registry_update(s);
		if (s->state == MS_KILLING)
			kill_continue(s);
		else
			route_continue(s);
		return;
	}
	conn_login_failed(c, err, why);
}

/* A login failed. For the first one, try the next node or tell the client;
 * for a later one, route the pending command elsewhere. */
static void conn_login_failed(struct ms_conn *c, const struct mysql_err *err, const char *why)
{
	struct mysql_session *s = c->s;
	int node = c->node;

	conn_stats(c)->connect_failures++;
	conn_drop(c);
	if (!err)
		health_suspect(s->srv->health, s->cluster, (size_t)node);
	if (s->state != MS_CONNECTING) {
		log_warn(s->tag, "node %s: %s", node_name(s, node), err ? err->message : why);
		if (s->state == MS_KILLING) {
			s->kill_next++;
			kill_continue(s);
			return;
		}
		route_retry(s, c, err, why);
		return;
	}
	if (!err) {
		log_warn(s->tag, "node %s: %s; trying the next node", node_name(s, node), why);
		s->attempt++;
		connect_next(s);
		return;
	}
	if (err->code == ER_ACCESS_DENIED_ERROR) {
		/* The node's message names sluice's address; the client's is
		 * what the client should see. */
		deny(s, s->seq, s->user_name, true);
		return;
	}
	log_info(s->tag, "node %s refused the login: %u %s", node_name(s, node), err->code,
		 err->message);
	send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
	ms_flush_and_close(s, "backend refused the login");
}
/* ---- streaming ------------------------------------------------------------ */

/* Copy up to *left bytes of the current packet from src to dst (or drop
 * them when dst is NULL). Returns false if the packet is not finished. */
static bool copy_rest(struct evbuffer *src, struct evbuffer *dst, uint32_t *left)
{
	if (*left == 0)
		return true;
	if (!dst) {
		size_t n = evbuffer_get_length(src) < *left ? evbuffer_get_length(src) : *left;
		evbuffer_drain(src, n);
		*left -= (uint32_t)n;
		return *left == 0;
	}
	int moved = evbuffer_remove_buffer(src, dst, *left);
	if (moved > 0)
		*left -= (uint32_t)moved;
	return *left == 0;
}

static bool backend_output_full(struct mysql_session *s)
{
	return s->cur && backend_pending(s->cur->be) >= s->bound;
}

/* Stream client packets to the current connection until the command (or
 * the LOCAL INFILE packet) is complete, the client has nothing more, or the
 * backend's output is full. A dropped command (c_discard) is read and
 * thrown away instead. Every packet's sequence id is checked (a wrong one
 * closes the session). Returns true when the command (or INFILE packet) is
 * completely through. */
static bool stream_client_packets(struct mysql_session *s)
{
	struct evbuffer *in = cin(s);
	struct evbuffer *out = s->c_discard || !s->cur ? NULL : backend_output(s->cur->be);

	for (;;) {
		if (out && backend_output_full(s)) {
			pipe_set_reading(s->client, false);
			return false;
		}
		if (s->c_left) {
			size_t before = evbuffer_get_length(in);
			bool done = copy_rest(in, out, &s->c_left);
			if (out)
				node_stats(s)->bytes_out += before - evbuffer_get_length(in);
			if (!done)
				return false;
		}
		if (s->c_pkt && !s->c_cont) {
			/* The last packet (maybe an empty one after a 16 MiB - 1
			 * packet) is through. */
			s->c_pkt = false;
			s->c_discard = false;
			return true;
		}
		uint8_t h[MYSQL_HEADER_LEN];
		if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
			return false;
		if (h[3] != s->next_seq) {
			if (!s->compress) {
				out_of_order(s, h[3], s->next_seq);
				return false;
			}
			/* Compressed, only the frames count reliably: clients
			 * number the packets inside their own way (Connector/C
			 * restarts at 0 in a 16 MiB packet's continuation) and
			 * MariaDB checks frames only. The node, which reads
			 * plain packets, gets the numbering it checks. */
			h[3] = s->next_seq;
		}
		s->next_seq++;
		uint32_t len = mysql_header_len(h);
		bool was_cont = s->c_cont;
		s->c_cont = len == MYSQL_MAX_PAYLOAD;
		s->c_left = len;
		s->c_pkt = true;
		evbuffer_drain(in, sizeof(h));
		if (out)
			evbuffer_add(out, h, sizeof(h));
		if (s->state == MS_INFILE && !was_cont && len == 0) {
			/* The empty packet that ends the file. */
			s->c_pkt = false;
			mysql_resp_infile_done(&s->resp);
			ms_set_state(s, MS_COMMAND);
			return true;
		}
	}
}

/* The pending command cannot run: answer it with an ERR (when it expects
 * an answer), drop its bytes as they arrive, and take the next one. */
static void drop_command(struct mysql_session *s, uint16_t code, const char *sqlstate,
			 const char *fmt, ...) SLUICE_PRINTF(4, 5);

static void drop_command(struct mysql_session *s, uint16_t code, const char *sqlstate,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct mysql_resp probe;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info(s->tag, "command 0x%02x failed: %s", s->cmd, msg);
	if (mysql_resp_start(&probe, s->cmd))
		send_err(s, (uint8_t)(s->cmd_seq + 1), code, sqlstate, "%s", msg);
	s->target = NULL;
	if (s->resend) {
		/* A read being sent again: the client's bytes of it were taken
		 * long ago, and what waits in cin is its next command. */
		s->resend = false;
		ms_set_state(s, MS_READY);
		client_flush(s);
		return;
	}
	s->c_left = 0;
	s->c_pkt = false;
	s->c_cont = false;
	s->c_discard = true;
	s->next_seq = s->cmd_seq;
	ms_set_state(s, MS_READY);
	s->c_streaming = !stream_client_packets(s);
	client_flush(s);
}

/* The next packet of a response waiting in `in`, as the tracker sees it. */
struct resp_step {
	uint8_t seq;  /* its sequence id */
	uint32_t len; /* its payload length */
	uint8_t *p;   /* its first `need` payload bytes, in the buffer; NULL for a
			 continuation of a 16 MiB packet, which is only data */
	size_t need;
	enum mysql_resp_event ev; /* RESP_EV_MORE for a continuation */
};

/* Look at the next packet of the response r follows, without consuming it:
 * only its header for a continuation (*cont), else as many payload bytes as
 * the tracker needs, which it is fed. False when those bytes are not all
 * buffered yet (nothing changed then). Shared by the client's responses
 * (streamed on) and internal ones (dropped). */
static bool resp_next(struct mysql_resp *r, bool *cont, struct evbuffer *in, struct resp_step *st)
{
	uint8_t h[MYSQL_HEADER_LEN];

	if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
		return false;
	st->seq = h[3];
	st->len = mysql_header_len(h);
	st->p = NULL;
	st->need = 0;
	st->ev = RESP_EV_MORE;
	if (!*cont) {
		st->need = mysql_resp_need(r, st->len);
		if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + st->need)
			return false;
		st->p = evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + st->need)) +
			MYSQL_HEADER_LEN;
		st->ev = mysql_resp_packet(r, st->p, st->need, st->len);
	}
	*cont = st->len == MYSQL_MAX_PAYLOAD;
	return true;
}

/* ---- internal commands ---------------------------------------------------- */

/* Send an internal command (payload: command byte + body) on idle c. */
static void conn_internal(struct ms_conn *c, enum conn_op op, const uint8_t *payload, size_t len)
{
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_packet_begin(&w, 0);
	mysql_put_bytes(&w, payload, len);
	mysql_packet_end(&w);
	if (w.ok)
		evbuffer_add(backend_output(c->be), w.data, w.len);
	mysql_writer_deinit(&w);
	c->op = op;
	c->i_left = 0;
	c->i_cont = false;
	c->i_done = false;
	c->i_seq = 1;
	mysql_resp_start(&c->iresp, payload[0]);
	conn_stats(c)->statements++;
	conn_set_state(c, CONN_INTERNAL);
	log_debug(c->s->tag, "node %s: %s", node_name(c->s, c->node), conn_op_names[op]);
}

/* A COM_QUERY internal command from text. */
static void conn_internal_query(struct ms_conn *c, enum conn_op op, const char *sql)
{
	size_t n = strlen(sql);
	uint8_t buf[256];

	if (n + 1 > sizeof(buf))
		n = sizeof(buf) - 1;
	buf[0] = COM_QUERY;
	memcpy(buf + 1, sql, n);
	conn_internal(c, op, buf, n + 1);
}

static void internal_done(struct ms_conn *c);
static void internal_lost(struct ms_conn *c, const char *why);

/* Consume the internal command's response, whole packets, nothing to the
 * client. Long packets (column definitions of a big prepare) are dropped
 * as they stream. */
static void conn_internal_read(struct ms_conn *c)
{
	struct evbuffer *in = backend_input(c->be);

	while (c->state == CONN_INTERNAL) {
		if (c->i_left && !copy_rest(in, NULL, &c->i_left))
			return;
		if (c->i_done && !c->i_cont) {
			internal_done(c);
			return;
		}
		struct resp_step st;
		if (!resp_next(&c->iresp, &c->i_cont, in, &st))
			return;
		if (st.seq != c->i_seq) {
			internal_lost(c, "node sent packets out of order");
			return;
		}
		c->i_seq++;
		evbuffer_drain(in, MYSQL_HEADER_LEN);
		c->i_left = st.len;
		copy_rest(in, NULL, &c->i_left);
		conn_stats(c)->bytes_in += MYSQL_HEADER_LEN + (st.len - c->i_left);
		if (st.ev == RESP_EV_BAD || st.ev == RESP_EV_INFILE) {
			internal_lost(c, "unexpected answer to an internal command");
			return;
		}
		if (st.ev == RESP_EV_DONE)
			c->i_done = true; /* complete once this packet is dropped */
	}
}

/* ---- routing -------------------------------------------------------------- */

static const struct cluster_view *cluster_view(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->w);

	return snap ? &snap->clusters[s->cluster] : NULL;
}

static void count_reason(struct mysql_session *s, enum router_reason reason)
{
	if (reason == ROUTER_REASON_none)
		return;
	worker_count_reason(s->w, reason);
	log_debug(s->tag, "router: %s", router_reason_str(reason));
}

/* The writer's connection slot, or NULL (with an ERR for the command) when
 * the cluster has no writer. */
static struct ms_conn *writer_conn(struct mysql_session *s)
{
	const struct cluster_view *v = cluster_view(s);

	return v && v->writer >= 0 ? &s->conns[v->writer] : NULL;
}

/* There is no writer, or it cannot be reached (failed_node): the pending
 * command (or the new session) waits, bounded by the cluster's
 * queue_timeout, for the monitor to publish one, looking again every
 * WRITER_POLL_MS and trying again only from a newer snapshot. At the
 * deadline the command (or the login) fails. */
static void wait_for_writer(struct mysql_session *s, int failed_node, const char *why)
{
	uint64_t now = failover_now_ms();
	const struct snapshot *snap = worker_snapshot(s->w);
	struct timeval tv = net_timeval_ms(WRITER_POLL_MS);

	if (!s->waiting) {
		s->waiting = true;
		s->wait_deadline_ms = now + s->cc->queue_timeout_ms;
		log_debug(s->tag, "waiting up to %u ms for a writer: %s", s->cc->queue_timeout_ms,
			  why);
	}
	s->wait_gen = snap ? snap->generation : 0;
	s->wait_node = failed_node;
	if (why != s->wait_why)
		snprintf(s->wait_why, sizeof(s->wait_why), "%s", why);
	s->target = NULL;
	if (now >= s->wait_deadline_ms) {
		s->waiting = false;
		if (s->state == MS_CONNECTING) {
			char msg[300];
			snprintf(msg, sizeof(msg),
				 "sluice: no node of cluster '%s' can take this session (%s)",
				 s->cc->name, s->wait_why);
			ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01", msg);
			return;
		}
		drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000",
			     "sluice: cluster '%s' has had no usable writer for %u ms (%s)",
			     s->cc->name, s->cc->queue_timeout_ms, s->wait_why);
		return;
	}
	event_del(s->timer);
	evtimer_add(s->timer, &tv);
}

/* WRITER_POLL_MS passed while waiting for a writer: try again when there
 * is a writer that is not the one that just failed, or the node states
 * changed since (the failed one may be back). */
static void writer_poll(struct mysql_session *s)
{
	const struct snapshot *snap = worker_snapshot(s->w);
	const struct cluster_view *v = cluster_view(s);

	if (!snap || !v || v->writer < 0 ||
	    (v->writer == s->wait_node && snap->generation == s->wait_gen)) {
		wait_for_writer(s, s->wait_node, s->wait_why);
		return;
	}
	s->waiting = false;
	if (s->state == MS_CONNECTING) {
		client_authenticated(s);
		return;
	}
	s->dec.target = ROUTER_WRITER;
	s->target = writer_conn(s);
	route_continue(s);
}

/* Fill s->order with the readers to try, in rotation order. Read your
 * writes (causal_reads: session): after a write, only readers the monitor
 * has seen apply it; when none has yet, the writer serves the read. That
 * costs no wait and no round trip. */
static void reader_candidates(struct mysql_session *s)
{
	const struct cluster_view *v = cluster_view(s);
	atomic_uint_fast64_t *rr =
		s->lc->primary_reads ? &s->srv->rr[s->cluster] : &s->srv->rr_replicas[s->cluster];
	size_t n;

	s->n_order = 0;
	s->attempt = 0;
	s->causal_miss = false;
	if (!v)
		return;
	n = snapshot_reader_order(v, atomic_fetch_add(rr, 1), s->lc->primary_reads, s->order);
	if (s->lc->causal_reads == CAUSAL_READS_SESSION && s->write_ms) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++)
			if (snapshot_caught_up(v, s->order[i], s->write_ms))
				s->order[kept++] = s->order[i];
		s->causal_miss = kept == 0 && n > 0;
		n = kept;
	}
	s->n_order = n;
}

/* The next reader candidate, or the writer when none is left. */
static struct ms_conn *next_reader(struct mysql_session *s)
{
	if (s->attempt < s->n_order)
		return &s->conns[s->order[s->attempt++]];
	count_reason(s, s->causal_miss ? ROUTER_REASON_read_your_writes : ROUTER_REASON_no_reader);
	s->dec.target = ROUTER_WRITER;
	s->retry_len = 0; /* a read on the writer is not retried elsewhere */
	return writer_conn(s);
}

/* Turn the router's decision into a connection slot; NULL when the command
 * was answered with an error instead. */
static struct ms_conn *decision_conn(struct mysql_session *s)
{
	switch (s->dec.target) {
	case ROUTER_TRX:
		if (s->trx)
			return s->trx;
		s->dec.target = ROUTER_WRITER;
		return writer_conn(s);
	case ROUTER_LAST:
		if (s->last)
			return s->last;
		s->dec.target = ROUTER_WRITER;
		return writer_conn(s);
	case ROUTER_READER:
		reader_candidates(s);
		return next_reader(s);
	case ROUTER_WRITER:
		break;
	}
	return writer_conn(s);
}

/* Does c need wsrep_sync_wait before this command (causal_reads: global,
 * galera: every read on a reader waits for the commits the cluster ordered
 * before it)? */
static bool needs_sync_wait(struct mysql_session *s, struct ms_conn *c)
{
	const struct cluster_view *v;

	if (c->sync_wait || s->dec.target != ROUTER_READER || s->cc->type != CLUSTER_TYPE_GALERA ||
	    s->lc->causal_reads != CAUSAL_READS_GLOBAL)
		return false;
	/* The writer has applied every write it committed. */
	v = cluster_view(s);
	return !v || v->writer != c->node;
}

/* Bring c to the session's state for the pending command, one internal
 * command at a time. True when c can take the command now; false when it
 * is logging in or catching up (route_continue runs again when it is). */
static bool conn_catch_up(struct mysql_session *s, struct ms_conn *c)
{
	if (c->state != CONN_IDLE)
		return false;
	if (s->db[0] && strcmp(c->db, s->db) != 0) {
		uint8_t buf[1 + MYSQL_DB_MAX];
		size_t n = strlen(s->db);
		buf[0] = COM_INIT_DB;
		memcpy(buf + 1, s->db, n);
		conn_internal(c, OP_INIT_DB, buf, n + 1);
		return false;
	}
	if (c->version != s->hist.version) {
		if (c->version < s->hist.reorder_version) {
			/* Entries moved since: run them all (they are idempotent). */
			c->applied = 0;
			c->version = s->hist.reorder_version;
		}
		if (c->applied < s->hist.n) {
			const struct history_entry *e = &s->hist.items[c->applied];
			conn_internal(c, OP_REPLAY, e->payload, e->len);
			return false;
		}
		c->version = s->hist.version;
	}
	if (needs_sync_wait(s, c)) {
		conn_internal_query(c, OP_SYNC_WAIT, SYNC_WAIT_SQL);
		return false;
	}
	if (s->kind == CMD_STMT && s->stmt && !s->stmt->node_id[c->node]) {
		uint8_t *buf = malloc(1 + (size_t)s->stmt->sql_len);
		if (!buf) {
			drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000", "sluice: out of memory");
			return false;
		}
		buf[0] = COM_STMT_PREPARE;
		memcpy(buf + 1, s->stmt->sql, s->stmt->sql_len);
		conn_internal(c, OP_PREPARE, buf, 1 + (size_t)s->stmt->sql_len);
		free(buf);
		return false;
	}
	return true;
}

static void forward_command(struct mysql_session *s);

/* Move the pending command on: open or catch up its connection, then send
 * it. Called again whenever that connection finishes a step. */
static void route_continue(struct mysql_session *s)
{
	struct ms_conn *c = s->target;

	if (s->state != MS_ROUTING || !c)
		return;
	if (c->state == CONN_NONE && !conn_open(c)) {
		conn_login_failed(c, NULL, "cannot start connecting");
		return;
	}
	if (conn_catch_up(s, c))
		forward_command(s);
}

/* ROUTING: send the pending read to the next reader candidate (the writer
 * when none is left), or wait for a node when there is none at all. */
static void route_next_reader(struct mysql_session *s)
{
	s->target = next_reader(s);
	if (s->target)
		route_continue(s);
	else
		wait_for_writer(s, -1, "no node is up");
}

/* May the command in flight be sent again to another node? Only an
 * autocommit read routed to a reader, kept whole for this (retry_len), sent
 * whole, and of which nothing has reached the client yet. */
static bool read_retryable(const struct mysql_session *s)
{
	return s->dec.target == ROUTER_READER && s->retry_len && !s->answered && !s->c_streaming;
}

/* Send the read in flight again, to the next reader: the client never
 * knows. The caller has released the connection it was on. */
static void resend_read(struct mysql_session *s)
{
	s->resend = true;
	ms_set_state(s, MS_ROUTING);
	route_next_reader(s);
}

/* The pending command's connection failed (login, catch-up, or lost while
 * idle). A read moves to the next reader (or the writer); anything else
 * fails with an ERR the client can act on. */
static void route_retry(struct mysql_session *s, struct ms_conn *failed,
			const struct mysql_err *err, const char *why)
{
	if (s->state != MS_ROUTING || s->target != failed)
		return;
	if (s->dec.target == ROUTER_READER) {
		route_next_reader(s);
		return;
	}
	if (s->dec.target == ROUTER_WRITER && !err) {
		/* The writer is gone: wait for the monitor to name the next. */
		char wait_why[200];
		snprintf(wait_why, sizeof(wait_why), "writer %s: %s", node_name(s, failed->node),
			 why);
		wait_for_writer(s, failed->node, wait_why);
		return;
	}
	if (err)
		drop_command(s, err->code, err->sqlstate, "sluice: node %s: %s",
			     node_name(s, failed->node), err->message);
	else
		drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			     "sluice: cannot reach node %s (%s of cluster '%s'): %s",
			     node_name(s, failed->node), router_target_str(s->dec.target),
			     s->cc->name, why);
}

/* An internal command's response is complete. */
static void internal_done(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	enum conn_op op = c->op;
	bool ok = !c->iresp.error;

	c->op = OP_NONE;
	conn_set_state(c, CONN_IDLE);
	if (op == OP_KILL) {
		if (ok) {
			s->kill_done = true;
			s->kill_next = s->kill_n;
		} else if (c->iresp.err.code == ER_NO_SUCH_THREAD) {
			/* That thread is gone (the target closed it): try the
			 * target's next node. */
			s->kill_next++;
		} else {
			s->kill_err = c->iresp.err;
			s->kill_err_thread = s->kill_threads[c->node];
			s->kill_next = s->kill_n;
		}
		kill_continue(s);
		return;
	}
	if (!ok) {
		conn_stats(c)->errors++;
		if (op == OP_PREPARE) {
			drop_command(s, c->iresp.err.code, c->iresp.err.sqlstate, "%s",
				     c->iresp.err.message);
			return;
		}
		/* The node will not take the session's state: a reader is left
		 * out from now on; on the writer the command cannot run. */
		log_warn(s->tag, "node %s refused the session's state (%s): %u %s",
			 node_name(s, c->node), conn_op_names[op], c->iresp.err.code,
			 c->iresp.err.message);
		struct mysql_err err = c->iresp.err;
		conn_drop(c);
		if (s->dec.target == ROUTER_READER) {
			router_pin(&s->rs, ROUTER_REASON_replay_failed);
			count_reason(s, ROUTER_REASON_replay_failed);
			s->n_order = 0;
		}
		route_retry(s, c, &err, NULL);
		return;
	}
	switch (op) {
	case OP_INIT_DB:
		memcpy(c->db, s->db, sizeof(c->db));
		break;
	case OP_REPLAY:
		c->applied++;
		break;
	case OP_SYNC_WAIT:
		c->sync_wait = true;
		break;
	case OP_PREPARE:
		if (s->stmt)
			s->stmt->node_id[c->node] = c->iresp.stmt_id;
		break;
	default:
		break;
	}
	route_continue(s);
}

/* A connection broke while running an internal command. */
static void internal_lost(struct ms_conn *c, const char *why)
{
	struct mysql_session *s = c->s;
	enum conn_op op = c->op;

	log_warn(s->tag, "node %s: %s during %s", node_name(s, c->node), why, conn_op_names[op]);
	health_suspect(s->srv->health, s->cluster, (size_t)c->node);
	conn_stats(c)->errors++;
	conn_drop(c);
	if (op == OP_KILL) {
		s->kill_next++;
		kill_continue(s);
		return;
	}
	route_retry(s, c, NULL, why);
}

/* ---- sending the client's command ----------------------------------------- */

/* Send the COM_STMT_EXECUTE payload p (cmd_len bytes, naming sluice's
 * statement id) to c, written for c's node: its statement id, and the
 * parameter types when that node has not had them. False for a malformed
 * packet (or no memory); nothing is sent then. */
static bool send_execute(struct mysql_session *s, struct ms_conn *c, const uint8_t *p)
{
	struct mysql_writer w;
	bool ok;

	mysql_writer_init(&w);
	ok = stmt_capture_types(s->stmt, p, s->cmd_len) &&
	     stmt_write_execute(s->stmt, p, s->cmd_len, s->stmt->node_id[c->node],
				!s->stmt->node_types[c->node], &w, s->cmd_seq) &&
	     w.ok;
	if (ok) {
		evbuffer_add(backend_output(c->be), w.data, w.len);
		conn_stats(c)->bytes_out += w.len;
		if (s->stmt->types)
			s->stmt->node_types[c->node] = true;
	}
	mysql_writer_deinit(&w);
	return ok;
}

/* Send the pending command to s->target, which is caught up. Small
 * statement commands are rewritten whole (their id, and for an execute the
 * parameter types a new node needs); anything else streams. */
static void forward_command(struct mysql_session *s)
{
	struct ms_conn *c = s->target;
	struct evbuffer *in = cin(s);
	struct mysql_resp probe;
	bool expects = mysql_resp_start(&probe, s->cmd);
	bool rewritten = false;

	s->cur = c;
	s->target = NULL;
	s->answered = false;
	if (!s->resend) {
		s->commands++;
		s->cmd_start_us = now_us();
		s->stat_kind = s->trx || (s->status & SERVER_STATUS_IN_TRANS) ? STAT_TRANSACTION
			       : s->dec.target == ROUTER_READER		      ? STAT_READ
			       : s->kind == CMD_QUERY && s->cls.kind == CLASSIFY_READ ? STAT_READ
										      : STAT_WRITE;
	}
	conn_stats(c)->statements++;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug(s->tag, "command 0x%02x (%u bytes) -> node %s (%s%s%s)", s->cmd,
			  s->cmd_len, node_name(s, c->node), router_target_str(s->dec.target),
			  s->dec.reason ? ", " : "",
			  s->dec.reason ? router_reason_str(s->dec.reason) : "");
	if (s->resend) {
		/* A read that lost its reader before any answer: again, here (an
		 * execute is written anew for this node's statement). */
		rewritten = true;
		if (s->kind != CMD_STMT) {
			evbuffer_add(backend_output(c->be), s->retry, s->retry_len);
			node_stats(s)->bytes_out += s->retry_len;
		} else if (!send_execute(s, c, s->retry + MYSQL_HEADER_LEN)) {
			s->cur = NULL; /* drop_command sees resend: nothing to discard */
			drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000", "sluice: out of memory");
			return;
		}
		s->resend = false;
	} else if (s->kind == CMD_STMT) {
		uint32_t node_id = s->stmt->node_id[c->node];
		if (s->cmd == COM_STMT_EXECUTE && s->cmd_len <= SMALL_PACKET_MAX) {
			const uint8_t *p =
				evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + s->cmd_len)) +
				MYSQL_HEADER_LEN;
			if (!send_execute(s, c, p)) {
				s->cur = NULL;
				drop_command(s, ER_MALFORMED_PACKET, "HY000",
					     "Malformed COM_STMT_EXECUTE packet");
				return;
			}
			evbuffer_drain(in, MYSQL_HEADER_LEN + s->cmd_len);
			rewritten = true;
		} else {
			/* Same length: patch the id where it lies. */
			uint8_t *p = evbuffer_pullup(in, MYSQL_HEADER_LEN + 5) + MYSQL_HEADER_LEN;
			p[1] = (uint8_t)node_id;
			p[2] = (uint8_t)(node_id >> 8);
			p[3] = (uint8_t)(node_id >> 16);
			p[4] = (uint8_t)(node_id >> 24);
		}
		if (s->cmd == COM_STMT_SEND_LONG_DATA)
			s->stmt->long_data = c->node;
		if (s->cmd == COM_STMT_EXECUTE || s->cmd == COM_STMT_RESET)
			s->stmt->long_data = -1;
	}
	mysql_resp_start(&s->resp, s->cmd);
	s->resp_done = false;
	s->b_left = 0;
	s->b_cont = false;
	/* A rewritten command went as one packet; a streamed one is counted
	 * as it goes. */
	s->next_seq = rewritten ? (uint8_t)(s->cmd_seq + 1) : s->cmd_seq;
	s->prep_pending = s->kind == CMD_PREPARE;
	if (expects)
		conn_set_state(c, CONN_BUSY);
	atomic_store_explicit(&s->ctl.busy_node, expects ? c->node : -1, memory_order_relaxed);
	ms_set_state(s, expects ? MS_COMMAND : MS_READY);
	s->c_left = 0;
	s->c_pkt = false;
	s->c_cont = false;
	s->c_discard = false;
	s->c_streaming = rewritten ? false : !stream_client_packets(s);
}

/* ---- KILL ----------------------------------------------------------------- */

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

/*
 * KILL [QUERY] of another session runs as KILL QUERY of the target's thread
 * on ONE node, through this session's own connection there, so the node
 * applies its rule (same user, or the privilege to kill others): the node
 * running the target's statement now if there is one, else another node
 * the target has a thread on. That interrupts the statement (1317 to the
 * target's client for KILL QUERY); for KILL CONNECTION sluice itself then
 * ends the target session, whose other node connections close with it.
 * The target is marked PENDING first, so the interrupted statement or a
 * lost node is taken for the kill it is, never retried elsewhere.
 */

/* Try the next node of kill_order; answer the client when one carried it
 * out, refused it, or none is left. */
static void kill_continue(struct mysql_session *s)
{
	while (s->state == MS_KILLING && s->kill_next < s->kill_n) {
		int node = s->kill_order[s->kill_next];
		struct ms_conn *c = &s->conns[node];
		char sql[64];

		if (c->state == CONN_NONE) {
			if (!conn_open(c)) {
				s->kill_next++;
				continue;
			}
			return; /* login_done continues */
		}
		if (c->state != CONN_IDLE)
			return;
		snprintf(sql, sizeof(sql), "KILL QUERY %u", s->kill_threads[node]);
		log_debug(s->tag, "KILL %s%u -> node %s thread %u", s->kill_query ? "QUERY " : "",
			  s->kill_id, node_name(s, c->node), s->kill_threads[node]);
		conn_internal_query(c, OP_KILL, sql);
		return;
	}
	if (s->state != MS_KILLING)
		return;
	if (s->kill_pending) {
		registry_kill(s->kill_victim,
			      s->kill_done ? REGISTRY_KILL_CONFIRMED : REGISTRY_KILL_NONE);
		s->kill_pending = false;
	}
	if (s->kill_done) {
		struct mysql_ok ok = {0, 0, s->status, 0};
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_ok(&w, (uint8_t)(s->cmd_seq + 1), &ok);
		send_writer(s, &w);
	} else if (s->kill_err.code) {
		/* The node's error names its own thread id; the client knows the
		 * id it asked for. */
		char msg[sizeof(s->kill_err.message) + 16];
		rename_thread(s->kill_err.message, s->kill_err_thread, s->kill_id, msg,
			      sizeof(msg));
		send_err(s, (uint8_t)(s->cmd_seq + 1), s->kill_err.code, s->kill_err.sqlstate, "%s",
			 msg);
	} else {
		send_err(s, (uint8_t)(s->cmd_seq + 1), ER_NO_SUCH_THREAD, "HY000",
			 "Unknown thread id: %u", s->kill_id);
	}
	ms_set_state(s, MS_READY);
	ms_process_client(s);
}

/* Add node to the KILL's order if the target has a thread there and it is
 * not in the order yet. */
static void kill_add_node(struct mysql_session *s, int node)
{
	if (node < 0 || (size_t)node >= s->n_conns || !s->kill_threads[node])
		return;
	for (size_t i = 0; i < s->kill_n; i++)
		if (s->kill_order[i] == node)
			return;
	s->kill_order[s->kill_n++] = (uint16_t)node;
}

/* KILL (the statement, or COM_PROCESS_KILL) names sluice's connection ids,
 * or a node thread id that CONNECTION_ID() gave. Returns true when the
 * command was consumed. */
static bool handle_kill(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	bool query_only;
	uint64_t id;
	struct registry_entry e;
	const struct cluster_view *v = cluster_view(s);

	if (p[0] == COM_PROCESS_KILL && len == 5) {
		/* The old binary form: always KILL CONNECTION. */
		struct mysql_reader r;
		mysql_reader_init(&r, p + 1, 4);
		query_only = false;
		id = mysql_read_u32(&r);
	} else if (p[0] != COM_QUERY ||
		   !classify_kill((const char *)p + 1, len - 1, &query_only, &id)) {
		return false;
	}
	evbuffer_drain(cin(s), MYSQL_HEADER_LEN + len);
	s->cmd_seq = seq;
	s->commands++;
	/* A node thread id is looked up on the writer: that is where a
	 * client's CONNECTION_ID() most likely came from. */
	if (id > UINT32_MAX ||
	    !registry_find((uint32_t)id, (int)s->cluster, v ? v->writer : -1, &e) ||
	    e.cluster != (int)s->cluster) {
		send_err(s, (uint8_t)(seq + 1), ER_NO_SUCH_THREAD, "HY000",
			 "Unknown thread id: %" PRIu64, id);
		return true;
	}
	if (e.id == s->id) {
		/* As MariaDB does: KILL QUERY of itself interrupts the KILL;
		 * KILL CONNECTION of itself just closes, without an answer. */
		if (query_only)
			send_err(s, (uint8_t)(seq + 1), ER_QUERY_INTERRUPTED, "70100",
				 "Query execution was interrupted");
		else
			ms_close(s, "killed itself");
		return true;
	}
	memcpy(s->kill_threads, e.threads, s->n_conns * sizeof(s->kill_threads[0]));
	s->kill_n = 0;
	kill_add_node(s, e.busy_node);
	kill_add_node(s, v ? v->writer : -1);
	for (size_t i = 0; i < s->n_conns; i++)
		kill_add_node(s, (int)i);
	if (s->kill_n == 0) {
		/* Still logging in: nothing runs on a node yet. */
		send_err(s, (uint8_t)(seq + 1), ER_NO_SUCH_THREAD, "HY000",
			 "Unknown thread id: %" PRIu64, id);
		return true;
	}
	s->kill_query = query_only;
	s->kill_done = false;
	s->kill_id = (uint32_t)id;
	s->kill_victim = e.id;
	s->kill_next = 0;
	memset(&s->kill_err, 0, sizeof(s->kill_err));
	if (!query_only) {
		registry_kill(e.id, REGISTRY_KILL_PENDING);
		s->kill_pending = true;
	}
	ms_set_state(s, MS_KILLING);
	kill_continue(s);
	return true;
}

/* Another session's KILL CONNECTION of this one is confirmed (the registry
 * woke us): end now, as a killed server connection does, without a word. */
static void kill_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state != MS_CLOSING && s->state != MS_CLOSED)
		log_info(s->tag, "killed by KILL CONNECTION");
	ms_close(s, "killed by KILL CONNECTION");
}

/* Is a KILL CONNECTION of this session under way or done? */
static bool being_killed(const struct mysql_session *s)
{
	return atomic_load_explicit(&s->ctl.kill, memory_order_acquire) != REGISTRY_KILL_NONE;
}

/* ---- COM_CHANGE_USER ------------------------------------------------------ */

/* Check the client's native answer for COM_CHANGE_USER, then change the
 * user on one connection (the others are closed: they belong to the old
 * user); login_done reports. */
static void check_change_user(struct mysql_session *s, const uint8_t *answer, size_t len,
			      uint8_t seq)
{
	uint8_t sha1_pw[MYSQL_SHA1_LEN];
	struct ms_conn *c = NULL;
	const struct cluster_view *v = cluster_view(s);

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
	/* The writer's connection if open, else any open one. */
	if (v && v->writer >= 0 && s->conns[v->writer].state == CONN_IDLE)
		c = &s->conns[v->writer];
	for (size_t i = 0; !c && i < s->n_conns; i++)
		if (s->conns[i].state == CONN_IDLE)
			c = &s->conns[i];
	if (!c) {
		ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: no node connection to change the user on");
		return;
	}
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
	s->cur = c;
	conn_set_state(c, CONN_BUSY);
	if (!backend_change_user(c->be, &login))
		ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: cannot change user on the node");
}

/* The session's state is gone on the node (change of user, reset): every
 * other connection, the history, the statements and the pins go too. */
static void forget_session_state(struct mysql_session *s, struct ms_conn *keep)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (&s->conns[i] != keep && s->conns[i].state != CONN_NONE)
			conn_drop(&s->conns[i]);
	history_clear(&s->hist);
	stmt_table_clear(&s->stmts);
	router_reset(&s->rs);
	s->write_ms = 0;
	s->trx = NULL;
	s->trx_lost = -1;
	keep->applied = 0;
	keep->version = s->hist.version;
	keep->sync_wait = false;
	memcpy(keep->db, s->db, sizeof(keep->db));
}

static void change_user_done(struct ms_conn *c, enum backend_result res,
			     const struct mysql_err *err, const char *why)
{
	struct mysql_session *s = c->s;

	s->cur = NULL;
	if (res == BACKEND_UNREACHABLE) {
		conn_drop(c);
		log_info(s->tag, "node %s: %s", node_name(s, c->node), why);
		ms_fail(s, s->seq, MYSQL_ER_UNKNOWN_ERROR, "08S01",
			"sluice: lost the node while changing user");
		return;
	}
	conn_set_state(c, CONN_IDLE);
	if (res == BACKEND_REFUSED) {
		conn_stats(c)->errors++;
		if (err->code == ER_ACCESS_DENIED_ERROR) {
			deny(s, s->seq, s->cu.user, true);
			return;
		}
		log_info(s->tag, "node %s refused the change of user: %u %s", node_name(s, c->node),
			 err->code, err->message);
		send_err(s, s->seq, err->code, err->sqlstate, "%s", err->message);
		mysql_change_user_deinit(&s->cu);
		ms_set_state(s, MS_READY);
		ms_process_client(s);
		return;
	}
	struct mysql_ok ok = {0, 0, backend_status(c->be), 0};
	struct mysql_writer w;

	mysql_writer_init(&w);
	mysql_write_ok(&w, s->seq, &ok);
	send_writer(s, &w);
	memcpy(s->user_name, s->cu.user, sizeof(s->user_name));
	memcpy(s->db, s->cu.db, sizeof(s->db));
	memcpy(s->sha1_pw, s->cu_sha1_pw, sizeof(s->sha1_pw));
	s->user = s->cu_user;
	/* Later connections log in with the new user's attributes. */
	free(s->attrs);
	s->attrs = s->cu.attrs;
	s->attrs_len = s->cu.attrs_len;
	s->cu.attrs = NULL;
	if (s->cu.charset)
		s->charset = (uint8_t)s->cu.charset;
	mysql_change_user_deinit(&s->cu);
	s->status = ok.status;
	forget_session_state(s, c);
	router_status(&s->rs, ok.status);
	registry_update(s);
	log_debug(s->tag, "changed user to %s", s->user_name);
	ms_set_state(s, MS_READY);
	ms_process_client(s);
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
	s->cu_user = find_user_in(worker_config(s->w), s->cu.user);
	s->seq = (uint8_t)(seq + 1);
	bool native = s->cu.plugin[0] == '\0' || strcmp(s->cu.plugin, NATIVE_PLUGIN) == 0;
	if (!native || (s->cu.auth_len != MYSQL_SHA1_LEN && s->cu.auth_len != 0)) {
		struct mysql_writer w;
		mysql_writer_init(&w);
		mysql_write_auth_switch(&w, s->seq, NATIVE_PLUGIN, s->scramble, MYSQL_SCRAMBLE_LEN);
		send_writer(s, &w);
		s->expect_seq = (uint8_t)(s->seq + 1);
		ms_set_state(s, MS_CU_SWITCH);
		return;
	}
	ms_set_state(s, MS_CU_SWITCH);
	check_change_user(s, s->cu.auth, s->cu.auth_len, seq);
}

/* ---- taking a command ----------------------------------------------------- */

/* Keep a copy of the first n payload bytes of the pending command (session
 * commands are recorded, statement texts prepared elsewhere). */
static bool save_payload(struct mysql_session *s, const uint8_t *p, size_t n)
{
	free(s->saved);
	s->saved = malloc(n ? n : 1);
	s->saved_len = 0;
	if (!s->saved)
		return false;
	memcpy(s->saved, p, n);
	s->saved_len = n;
	return true;
}

/* Classify a COM_QUERY / COM_STMT_PREPARE text (payload p of len bytes,
 * of which `have` are in memory). */
static void classify_text(struct mysql_session *s, const uint8_t *p, uint32_t len, size_t have)
{
	classify((const char *)p + 1, have - 1, have < len,
		 (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, &s->cls);
}

/* Keep a copy of a read's packet (header and payload p of len bytes), so it
 * can be sent to another reader if this one dies before answering. */
static void keep_for_retry(struct mysql_session *s, const uint8_t *p, uint32_t len)
{
	size_t n = MYSQL_HEADER_LEN + (size_t)len;

	if (n > s->retry_cap) {
		uint8_t *grown = realloc(s->retry, n);
		if (!grown)
			return; /* then it is simply not retried */
		s->retry = grown;
		s->retry_cap = n;
	}
	memcpy(s->retry, p - MYSQL_HEADER_LEN, n);
	s->retry_len = n;
}

/* Decide where a statement command goes: COM_STMT_EXECUTE and friends
 * follow their statement. False when the command was answered with an
 * error instead (drop_command). */
static bool route_stmt(struct mysql_session *s)
{
	struct stmt *st = s->stmt;
	struct classify_result as = {.kind = st->reader_ok ? CLASSIFY_READ : CLASSIFY_WRITE};

	if (s->cmd == COM_STMT_EXECUTE && st->long_data_lost >= 0) {
		/* Its parameters' data died with a node: running without them
		 * would store something else. */
		int node = st->long_data_lost;
		st->long_data_lost = -1;
		drop_command(s, ER_NET_READ_ERROR, "08S01",
			     "sluice: node %s, which held this statement's long data "
			     "(COM_STMT_SEND_LONG_DATA), was lost; send the data again",
			     node_name(s, node));
		return false;
	}
	if (s->cmd == COM_STMT_RESET)
		st->long_data_lost = -1;
	if ((s->cmd == COM_STMT_SEND_LONG_DATA || s->cmd == COM_STMT_EXECUTE ||
	     s->cmd == COM_STMT_RESET) &&
	    st->long_data >= 0) {
		/* Long data waits on one node; execute there. */
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
		s->target = &s->conns[st->long_data];
		return true;
	}
	if (s->cmd == COM_STMT_FETCH || s->cmd == COM_STMT_RESET) {
		int node = st->cursor >= 0 ? st->cursor : st->home;
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
		s->target = &s->conns[node];
		return true;
	}
	if (!st->sql) {
		/* Too long to prepare elsewhere: it runs where it was prepared. */
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_too_long};
		s->target = &s->conns[st->home];
		return true;
	}
	s->dec = router_route(&s->rs, &as);
	/* A cursor stays open on its node for COM_STMT_FETCH: keep cursors
	 * on the writer, where the session's state lives. */
	if (s->cmd == COM_STMT_EXECUTE && s->dec.target == ROUTER_READER &&
	    (s->cmd_len > 5 &&
	     stmt_execute_flags(evbuffer_pullup(cin(s), MYSQL_HEADER_LEN + 6) + MYSQL_HEADER_LEN,
				6) != 0))
		s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
	s->target = decision_conn(s);
	return true;
}

/* Nodes the operator put in maintenance are out now: close this session's
 * connections to them before the next command; a transaction open there is
 * ended (the node rolls it back) and reported as lost. Drained nodes keep
 * serving what runs there until it ends. */
static void leave_maintenance(struct mysql_session *s)
{
	const struct cluster_view *v = cluster_view(s);

	for (size_t i = 0; v && i < s->n_conns; i++) {
		struct ms_conn *c = &s->conns[i];
		if (c->state == CONN_NONE || v->nodes[i].admin != NODE_ADMIN_MAINTENANCE)
			continue;
		log_info(s->tag, "node %s is in maintenance: closing the connection to it",
			 node_name(s, c->node));
		if (c == s->trx) {
			s->trx_lost = c->node;
			s->rs.in_trx = false;
		}
		conn_drop(c);
	}
}

/* READY: take the next command from the client. */
static void next_command(struct mysql_session *s)
{
	struct evbuffer *in = cin(s);
	uint8_t h[MYSQL_HEADER_LEN + 1];
	size_t have;

	ev_ssize_t got = evbuffer_copyout(in, h, sizeof(h));
	if (got < MYSQL_HEADER_LEN)
		return;
	uint32_t len = mysql_header_len(h);
	uint8_t seq = h[3];

	if (seq != 0) {
		/* A command starts a new sequence (compressed: see
		 * stream_client_packets). */
		if (!s->compress) {
			out_of_order(s, seq, 0);
			return;
		}
		seq = 0;
	}
	if (len == 0) {
		ms_fail(s, (uint8_t)(seq + 1), ER_MALFORMED_PACKET, "HY000",
			"Malformed packet: empty command");
		return;
	}
	if (got < (ev_ssize_t)sizeof(h))
		return; /* the command byte has not arrived yet */
	uint8_t cmd = h[4];
	if (atomic_load_explicit(&s->ctl.kill, memory_order_acquire) == REGISTRY_KILL_CONFIRMED) {
		/* As a server does: the killed connection is simply gone. */
		ms_close(s, "killed by KILL CONNECTION");
		return;
	}
	leave_maintenance(s);
	/* Wait for the part sluice inspects: all of a small command, the
	 * first SMALL_PACKET_MAX bytes of a long statement. */
	have = len;
	if (have > SMALL_PACKET_MAX)
		have = SMALL_PACKET_MAX;
	if (have > s->bound / 2)
		have = s->bound / 2;
	if (evbuffer_get_length(in) < MYSQL_HEADER_LEN + have)
		return;
	const uint8_t *p =
		evbuffer_pullup(in, (ev_ssize_t)(MYSQL_HEADER_LEN + have)) + MYSQL_HEADER_LEN;

	s->cmd = cmd;
	s->cmd_seq = seq;
	s->cmd_len = len;
	s->kind = CMD_PLAIN;
	s->stmt = NULL;
	s->dec = (struct router_decision){ROUTER_WRITER, ROUTER_REASON_none};
	memset(&s->cls, 0, sizeof(s->cls));
	s->cls.kind = CLASSIFY_UNKNOWN;

	switch (cmd) {
	case COM_QUIT:
		ms_close(s, "client quit");
		return;
	case COM_CHANGE_USER:
		if (len > SMALL_PACKET_MAX) {
			ms_fail(s, (uint8_t)(seq + 1), ER_MALFORMED_PACKET, "HY000",
				"Malformed COM_CHANGE_USER packet");
			return;
		}
		start_change_user(s, p, len, seq);
		return;
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
	case COM_REGISTER_SLAVE:
	case COM_TABLE_DUMP:
	case COM_CONNECT_OUT:
	case COM_DAEMON:
		drop_command(s, ER_NOT_SUPPORTED_YET, "42000",
			     "sluice does not relay replication commands; connect to a node "
			     "directly");
		return;
	case COM_PROCESS_KILL:
		if (len <= SMALL_PACKET_MAX && handle_kill(s, p, len, seq))
			return;
		break;
	case COM_QUERY:
		if (len <= SMALL_PACKET_MAX && handle_kill(s, p, len, seq))
			return;
		classify_text(s, p, len, have);
		s->kind = CMD_QUERY;
		if (s->cls.kind == CLASSIFY_SESSION && !(s->cls.flags & CLASSIFY_MULTI) &&
		    len <= SMALL_PACKET_MAX && !save_payload(s, p, len)) {
			drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000", "sluice: out of memory");
			return;
		}
		break;
	case COM_STMT_PREPARE:
		classify_text(s, p, len, have);
		s->kind = CMD_PREPARE;
		if (!save_payload(s, p + 1, have - 1)) {
			drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000", "sluice: out of memory");
			return;
		}
		if (have < len)
			s->saved_len = STMT_SQL_MAX + 1; /* too long to keep */
		break;
	case COM_STMT_EXECUTE:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
	case COM_STMT_FETCH: {
		uint32_t id;
		if (!stmt_payload_id(p, have, &id)) {
			ms_fail(s, (uint8_t)(seq + 1), ER_MALFORMED_PACKET, "HY000",
				"Malformed prepared statement command");
			return;
		}
		s->stmt = stmt_find(&s->stmts, id);
		if (cmd == COM_STMT_CLOSE) {
			/* No answer: close it on every node that has it. */
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			if (s->stmt) {
				for (size_t i = 0; i < s->n_conns; i++) {
					struct ms_conn *c = &s->conns[i];
					uint32_t nid = s->stmt->node_id[i];
					uint8_t buf[5] = {COM_STMT_CLOSE, (uint8_t)nid,
							  (uint8_t)(nid >> 8), (uint8_t)(nid >> 16),
							  (uint8_t)(nid >> 24)};
					if (!nid || c->state != CONN_IDLE)
						continue;
					struct mysql_writer w;
					mysql_writer_init(&w);
					mysql_packet_begin(&w, 0);
					mysql_put_bytes(&w, buf, sizeof(buf));
					mysql_packet_end(&w);
					if (w.ok)
						evbuffer_add(backend_output(c->be), w.data, w.len);
					mysql_writer_deinit(&w);
				}
				stmt_remove(&s->stmts, id);
			}
			s->commands++;
			return;
		}
		if (!s->stmt) {
			char name[32];
			snprintf(name, sizeof(name), "%s",
				 cmd == COM_STMT_EXECUTE ? "mysqld_stmt_execute"
				 : cmd == COM_STMT_FETCH ? "mysqld_stmt_fetch"
				 : cmd == COM_STMT_RESET ? "mysqld_stmt_reset"
							 : "mysqld_stmt_send_long_data");
			drop_command(s, ER_UNKNOWN_STMT_HANDLER, "HY000",
				     "Unknown prepared statement handler (%u) given to %s", id,
				     name);
			return;
		}
		s->kind = CMD_STMT;
		break;
	}
	case COM_INIT_DB:
	case COM_SET_OPTION:
		s->kind = CMD_SESSION;
		if (len > SMALL_PACKET_MAX || !save_payload(s, p, len)) {
			drop_command(s, MYSQL_ER_UNKNOWN_ERROR, "HY000", "sluice: out of memory");
			return;
		}
		break;
	case COM_RESET_CONNECTION:
		s->kind = CMD_RESET;
		break;
	}

	/* A transaction that died with its node: say so once, before anything
	 * else runs as if it were still open. */
	if (s->trx_lost >= 0) {
		int node = s->trx_lost;
		s->trx_lost = -1;
		if (s->kind == CMD_QUERY && s->cls.kind == CLASSIFY_ROLLBACK) {
			struct mysql_ok ok = {0, 0, s->status, 0};
			struct mysql_writer w;
			evbuffer_drain(in, MYSQL_HEADER_LEN + len);
			mysql_writer_init(&w);
			mysql_write_ok(&w, (uint8_t)(seq + 1), &ok);
			send_writer(s, &w);
			return;
		}
		drop_command(
			s, ER_LOCK_DEADLOCK, "40001",
			"sluice: node %s, which held this session's transaction, was lost; the "
			"transaction was rolled back",
			node_name(s, node));
		return;
	}

	s->retry_len = 0;
	switch (s->kind) {
	case CMD_QUERY:
	case CMD_PREPARE:
		s->dec = router_route(&s->rs, &s->cls);
		if (s->kind == CMD_QUERY)
			count_reason(s, s->dec.reason);
		if (s->kind == CMD_QUERY && s->dec.target == ROUTER_READER &&
		    s->cls.kind == CLASSIFY_READ && len <= SMALL_PACKET_MAX)
			keep_for_retry(s, p, len);
		s->target = decision_conn(s);
		break;
	case CMD_STMT:
		if (!route_stmt(s))
			return;
		if (cmd == COM_STMT_EXECUTE && s->dec.target == ROUTER_READER &&
		    len <= SMALL_PACKET_MAX)
			keep_for_retry(s, p, len);
		break;
	default:
		/* Session commands, reset, ping and the rest: the writer, or the
		 * open transaction's node. */
		s->dec = (struct router_decision){s->trx ? ROUTER_TRX : ROUTER_WRITER,
						  ROUTER_REASON_none};
		s->target = decision_conn(s);
		break;
	}
	ms_set_state(s, MS_ROUTING);
	if (!s->target) {
		wait_for_writer(s, -1, "no node can take writes");
		return;
	}
	route_continue(s);
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
		bool was_streaming = s->c_streaming;
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
			if ((p || too_big) && seq != s->expect_seq) {
				out_of_order(s, seq, s->expect_seq);
				return;
			}
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
		/* Stop when nothing moved. A command whose last bytes went out
		 * just now moved too, though neither the state nor the input
		 * changed: the next command may already be waiting. */
		if (s->state == before && s->c_streaming == was_streaming &&
		    evbuffer_get_length(cin(s)) == have)
			goto out;
	}
out:
	client_flush(s);
}

/* ---- after the response --------------------------------------------------- */

/* Whether the command that just ended could have changed data: a statement
 * that is not a read or a session statement, or the execution of one. */
static bool may_have_written(const struct mysql_session *s)
{
	switch (s->kind) {
	case CMD_QUERY:
		return s->cls.kind != CLASSIFY_READ && s->cls.kind != CLASSIFY_SESSION;
	case CMD_STMT:
		return s->cmd == COM_STMT_EXECUTE && s->stmt && !s->stmt->reader_ok;
	case CMD_PLAIN:
		/* Connection pools ping between statements: that must not
		 * pull their reads to the writer. Commands we do not know
		 * are taken to write. */
		return s->cmd != COM_PING && s->cmd != COM_STATISTICS &&
		       s->cmd != COM_FIELD_LIST && s->cmd != COM_PROCESS_INFO &&
		       s->cmd != COM_TIME && s->cmd != COM_DEBUG;
	case CMD_PREPARE:
	case CMD_SESSION:
	case CMD_RESET:
		break;
	}
	return false;
}

/* The dashboard listens: offer it this statement (feed.h). */
static void feed_statement(struct mysql_session *s, struct ms_conn *c, uint64_t took_us)
{
	struct feed_item it = {
		.mono_ms = failover_now_ms(),
		.session = s->id,
		.duration_us = took_us > UINT32_MAX ? UINT32_MAX : (uint32_t)took_us,
		.listener = (uint16_t)listener_index(s->l),
		.cluster = (uint16_t)s->cluster,
		.node = (uint16_t)c->node,
		.kind = (uint8_t)s->stat_kind,
		.reason = (uint8_t)s->dec.reason,
	};

	/* A long user name is cut: this is a glance for the dashboard. */
	size_t n = strnlen(s->user_name, sizeof(it.user) - 1);
	memcpy(it.user, s->user_name, n);
	it.user[n] = '\0';
	feed_push(s->srv->feed, worker_id(s->w), &it);
}

/* Record what a successful session command changed. */
static void record_session_state(struct mysql_session *s, struct ms_conn *c)
{
	bool synced = c->version == s->hist.version;

	if (s->cmd == COM_INIT_DB || (s->kind == CMD_QUERY && s->cls.db[0])) {
		if (s->cmd == COM_INIT_DB)
			mysql_copy_str(s->db, sizeof(s->db), (const char *)s->saved + 1,
				       s->saved_len - 1);
		else
			snprintf(s->db, sizeof(s->db), "%s", s->cls.db);
		memcpy(c->db, s->db, sizeof(c->db));
		return;
	}
	if (!s->saved) {
		/* A session statement too long to keep. */
		router_pin(&s->rs, ROUTER_REASON_history_full);
		count_reason(s, ROUTER_REASON_history_full);
		return;
	}
	if (!history_add(&s->hist, s->saved, s->saved_len)) {
		router_pin(&s->rs, ROUTER_REASON_history_full);
		count_reason(s, ROUTER_REASON_history_full);
		return;
	}
	/* c ran it; if it had run everything before, it is up to date. */
	if (synced) {
		c->applied = s->hist.n;
		c->version = s->hist.version;
	}
}

static void command_done(struct mysql_session *s)
{
	struct ms_conn *c = s->cur;
	bool ok = !s->resp.error;
	const struct cluster_view *v = cluster_view(s);

	if (s->resp.status_valid) {
		s->status = s->resp.status;
		router_status(&s->rs, s->status);
		s->trx = s->rs.in_trx ? c : NULL;
	}
	if (s->status & SERVER_STATUS_IN_TRANS)
		s->stat_kind = STAT_TRANSACTION; /* BEGIN, or a statement that opened one */
	uint64_t took = now_us() - s->cmd_start_us;
	stats_observe(conn_stats(c), s->stat_kind, took);
	if (feed_wanted(s->srv->feed))
		feed_statement(s, c, took);
	if (!ok) {
		conn_stats(c)->errors++;
		/* Galera's "WSREP has not yet prepared node for application use":
		 * the node left the primary component; check it now. */
		if (s->resp.err.code == ER_UNKNOWN_COM_ERROR)
			health_suspect(s->srv->health, s->cluster, (size_t)c->node);
	}
	switch (s->kind) {
	case CMD_QUERY:
		if (ok && s->cls.kind == CLASSIFY_SESSION && !(s->cls.flags & CLASSIFY_MULTI))
			record_session_state(s, c);
		else if (s->cls.kind == CLASSIFY_SESSION && (s->cls.flags & CLASSIFY_MULTI))
			/* Several session statements: the node ran some or all;
			 * rather than replay a guess, stay on it. */
			router_pin(&s->rs, ROUTER_REASON_multi_statement);
		count_reason(s, router_after(&s->rs, &s->cls, ok));
		break;
	case CMD_SESSION:
		if (ok)
			record_session_state(s, c);
		break;
	case CMD_RESET:
		if (ok)
			forget_session_state(s, c);
		break;
	case CMD_STMT:
		if (s->cmd == COM_STMT_EXECUTE && s->resp.cursor)
			s->stmt->cursor = c->node;
		if (s->cmd == COM_STMT_RESET)
			s->stmt->cursor = -1;
		break;
	default:
		break;
	}
	/* A statement on the writer that may have written (even when it
	 * failed: a multi-statement may have committed some): later reads go
	 * only where that is applied (causal_reads session). Reads, session
	 * statements, prepares and the other commands write nothing; a read
	 * that ran on the writer (primary_reads, or no reader had caught up)
	 * must not count, or it would keep the session's reads there.
	 * Readers only ever run reads, also in a READ ONLY transaction. After
	 * a failover, the first write on the new writer ends the event. */
	if ((!v || c->node == v->writer) && may_have_written(s)) {
		s->write_ms = failover_now_ms();
		if (ok && v)
			failover_first_write(v->failover, node_name(s, c->node));
	}
	free(s->saved);
	s->saved = NULL;
	s->saved_len = 0;
	s->last = c;
	conn_set_state(c, CONN_IDLE);
	atomic_store_explicit(&s->ctl.busy_node, -1, memory_order_relaxed);
	ms_set_state(s, MS_READY);
}

/* The first packet of a COM_STMT_PREPARE answer: a PREPARE_OK gets
 * sluice's statement id in place of the node's. p is the packet's payload
 * in the buffer (need >= 9 bytes of it are there). */
static void on_prepare_ok(struct mysql_session *s, uint8_t *p, size_t need)
{
	struct stmt *st;
	uint32_t node_id;

	s->prep_pending = false;
	if (need < 9 || p[0] != MYSQL_OK_MARKER)
		return;
	node_id =
		(uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
	bool reader_ok = s->cls.kind == CLASSIFY_READ &&
			 router_route(&(struct router_state){.autocommit = true}, &s->cls).target ==
				 ROUTER_READER;
	st = stmt_add(&s->stmts, s->saved_len <= STMT_SQL_MAX ? s->saved : NULL, s->saved_len,
		      s->cur->node, node_id, (uint16_t)(p[7] | p[8] << 8),
		      (uint16_t)(p[5] | p[6] << 8), reader_ok);
	if (!st) {
		/* Without a table entry the client's id would name nothing. */
		log_error(s->tag, "out of memory recording a prepared statement");
		return;
	}
	p[1] = (uint8_t)st->id;
	p[2] = (uint8_t)(st->id >> 8);
	p[3] = (uint8_t)(st->id >> 16);
	p[4] = (uint8_t)(st->id >> 24);
}

/* The response to a read is Galera's "WSREP has not yet prepared node for
 * application use" (1047: the node left the primary component) and nothing
 * has reached the client: drop the error, have the monitor check the node
 * now, and send the read to the next reader. len is the error packet's
 * payload length, still in the node's input. True when retried. */
static bool not_ready_retry(struct mysql_session *s, uint32_t len)
{
	struct ms_conn *c = s->cur;

	if (!s->resp.error || s->resp.err.code != ER_UNKNOWN_COM_ERROR || !read_retryable(s))
		return false;
	evbuffer_drain(backend_input(c->be), MYSQL_HEADER_LEN + len);
	conn_stats(c)->errors++;
	health_suspect(s->srv->health, s->cluster, (size_t)c->node);
	log_info(s->tag, "node %s is not ready (%u %s); retrying the read on another node",
		 node_name(s, c->node), s->resp.err.code, s->resp.err.message);
	conn_set_state(c, CONN_IDLE);
	resend_read(s);
	return true;
}

/* Stream the backend's response to the client, following it packet by
 * packet until the tracker says it is complete. */
static void ms_process_backend(struct mysql_session *s)
{
	struct evbuffer *in, *out = cout(s);
	struct node_stats *ns;

	if (!s->cur || !s->cur->be || !backend_ready(s->cur->be))
		return;
	ns = node_stats(s);
	in = backend_input(s->cur->be);
	while (s->state == MS_COMMAND || s->state == MS_INFILE) {
		if (client_pending(s) + (s->compress ? evbuffer_get_length(out) : 0) >= s->bound) {
			backend_set_reading(s->cur->be, false);
			break;
		}
		if (s->b_left) {
			size_t before = evbuffer_get_length(in);
			bool done = copy_rest(in, out, &s->b_left);
			ns->bytes_in += before - evbuffer_get_length(in);
			if (!done)
				break;
		}
		if (s->resp_done && !s->b_cont) {
			/* The last packet is through: the command is done. */
			s->resp_done = false;
			command_done(s);
			client_flush(s);
			ms_process_client(s);
			return;
		}
		struct resp_step st;
		if (!resp_next(&s->resp, &s->b_cont, in, &st))
			break;
		/* While the client is still sending (a node may refuse a
		 * command before reading all of it), the count is its. */
		if (st.seq != s->next_seq && !s->c_streaming) {
			log_warn(s->tag, "node %s sent sequence id %u, expected %u; closing the session",
				 node_name(s, s->cur->node), st.seq, s->next_seq);
			ms_fail(s, s->next_seq, ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
				"sluice: the node sent packets out of order");
			return;
		}
		if (st.p && s->prep_pending && st.ev != RESP_EV_BAD)
			on_prepare_ok(s, st.p, st.need);
		if (st.ev == RESP_EV_DONE && s->resp.error &&
		    s->resp.err.code == ER_QUERY_INTERRUPTED && being_killed(s)) {
			/* Our statement was interrupted by a KILL CONNECTION of
			 * this session: the client sees its connection end. */
			ms_close(s, "killed by KILL CONNECTION");
			return;
		}
		if (st.ev == RESP_EV_DONE && not_ready_retry(s, st.len))
			return;
		if (st.ev == RESP_EV_BAD) {
			log_warn(s->tag,
				 "node %s sent a response sluice cannot follow (state %s); "
				 "closing the session",
				 node_name(s, s->cur->node), mysql_resp_state_str(s->resp.state));
			ms_fail(s, st.seq, ER_NET_READ_ERROR, "08S01",
				"sluice: malformed response from the node");
			return;
		}
		evbuffer_remove_buffer(in, out, MYSQL_HEADER_LEN);
		s->answered = true;
		s->next_seq = (uint8_t)(st.seq + 1);
		s->b_left = st.len;
		copy_rest(in, out, &s->b_left);
		ns->bytes_in += MYSQL_HEADER_LEN + (st.len - s->b_left);
		if (st.ev == RESP_EV_INFILE) {
			ms_set_state(s, MS_INFILE);
			s->c_left = 0;
			s->c_pkt = false;
			s->c_cont = false;
			client_flush(s);
			ms_process_client(s);
			return;
		}
		if (st.ev == RESP_EV_DONE)
			s->resp_done = true; /* complete once this packet is through */
	}
	client_flush(s);
}

/* ---- callbacks ------------------------------------------------------------ */

/* A node spoke while nothing was asked of it: it is closing that
 * connection (KILL, wait_timeout, shutdown). A killed session ends, as it
 * would on the server; anything else costs only that connection. */
static void conn_unsolicited(struct ms_conn *c)
{
	struct mysql_session *s = c->s;
	struct evbuffer *in = backend_input(c->be);
	uint8_t buf[MYSQL_HEADER_LEN + 512];
	struct mysql_err err = {0};
	ev_ssize_t n = evbuffer_copyout(in, buf, sizeof(buf));

	if (n > MYSQL_HEADER_LEN && buf[MYSQL_HEADER_LEN] == MYSQL_ERR_MARKER &&
	    mysql_read_err(buf + MYSQL_HEADER_LEN, (size_t)n - MYSQL_HEADER_LEN, &err))
		log_info(s->tag, "node %s closed its connection: %u %s", node_name(s, c->node),
			 err.code, err.message);
	if (err.code == ER_CONNECTION_KILLED && s->state == MS_READY && !s->c_streaming) {
		send_err(s, 0, err.code, err.sqlstate, "%s", err.message);
		ms_flush_and_close(s, "killed");
		return;
	}
	conn_lost(c, err.code ? err.message : "node sent data outside a command");
}

static void ms_backend_readable(void *arg)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	switch (c->state) {
	case CONN_BUSY:
		if (c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE))
			ms_process_backend(s);
		return;
	case CONN_INTERNAL:
		conn_internal_read(c);
		return;
	case CONN_IDLE:
		if (evbuffer_get_length(backend_input(c->be)) > 0)
			conn_unsolicited(c);
		return;
	default:
		return;
	}
}

static void ms_backend_writable(void *arg)
{
	struct ms_conn *c = arg;
	struct mysql_session *s = c->s;

	if (s->state == MS_CLOSING || s->state == MS_CLOSED || c != s->cur)
		return;
	pipe_set_reading(s->client, true);
	ms_process_client(s);
}

/* A connection is gone. The command in flight on it fails with an error
 * that says its outcome is unknown; a transaction open on it is reported
 * as rolled back at the session's next command; state the session pinned
 * to it (temporary tables, locks) is lost, which ends the session. */
static void conn_lost(struct ms_conn *c, const char *why)
{
	struct mysql_session *s = c->s;
	int node = c->node;
	bool in_flight = c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE);
	bool had_trx = c == s->trx;
	const struct cluster_view *v = cluster_view(s);
	bool pinned_here = router_pinned(&s->rs) != ROUTER_REASON_none && v && v->writer == node;

	if (being_killed(s)) {
		/* A KILL CONNECTION of this session is under way: this is it,
		 * not a node failure, and nothing is retried. */
		ms_close(s, "killed by KILL CONNECTION");
		return;
	}
	conn_stats(c)->errors++;
	health_suspect(s->srv->health, s->cluster, (size_t)node);
	log_info(s->tag, "lost node %s: %s", node_name(s, node), why);
	if (c->state == CONN_INTERNAL) {
		internal_lost(c, why);
		return;
	}
	if (in_flight) {
		/* Pass on whatever the node managed to send, then the error
		 * (unless that completed the response after all). */
		ms_process_backend(s);
		if (s->state == MS_CLOSED || s->state == MS_CLOSING)
			return;
		in_flight = c == s->cur && (s->state == MS_COMMAND || s->state == MS_INFILE);
		had_trx = c == s->trx;
	}
	if (in_flight && !had_trx && read_retryable(s)) {
		conn_drop(c);
		log_info(s->tag, "retrying the read on another node");
		resend_read(s);
		return;
	}
	if (in_flight || had_trx)
		health_lost(s->srv->health, s->cluster, (size_t)node);
	conn_drop(c);
	if (pinned_here) {
		send_err(s, in_flight ? s->next_seq : 0, ER_NET_READ_ERROR, "08S01",
			 "sluice: lost node %s, which held this session's %s; reconnect",
			 node_name(s, node), router_reason_str(router_pinned(&s->rs)));
		ms_flush_and_close(s, "lost the node holding the session's state");
		return;
	}
	if (had_trx) {
		s->rs.in_trx = false;
		if (!in_flight)
			s->trx_lost = node;
	}
	if (in_flight) {
		send_err(s, s->next_seq, had_trx ? ER_LOCK_DEADLOCK : ER_NET_READ_ERROR,
			 had_trx ? "40001" : "08S01",
			 had_trx ? "sluice: lost node %s during the command; the transaction was "
				   "rolled back"
				 : "sluice: lost the connection to node %s during the command; its "
				   "outcome is unknown",
			 node_name(s, node));
		s->b_left = 0;
		s->b_cont = false;
		s->resp_done = false;
		/* The rest of the command's bytes, if any, go nowhere. */
		s->c_discard = s->c_streaming;
		ms_set_state(s, MS_READY);
		client_flush(s);
		ms_process_client(s);
		return;
	}
	route_retry(s, c, NULL, why);
}

static void ms_backend_closed(void *arg, const char *why)
{
	conn_lost(arg, why);
}

static const struct backend_ops ms_backend_ops = {
	.login_done = ms_login_done,
	.readable = ms_backend_readable,
	.writable = ms_backend_writable,
	.closed = ms_backend_closed,
};

static void client_read_cb(struct pipe *p, void *arg)
{
	struct mysql_session *s = arg;

	if (s->compress && !client_inflate(s)) {
		ms_close(s, "corrupt compressed frame");
		return;
	}
	ms_process_client(s);
}

static void client_write_cb(struct pipe *p, void *arg)
{
	struct mysql_session *s = arg;

	if (s->state == MS_CLOSING) {
		if (client_pending(s) == 0)
			ms_close(s, "flushed");
		return;
	}
	/* The client drained to half the bound: resume the node. */
	if (s->cur && s->cur->be && backend_ready(s->cur->be)) {
		backend_set_reading(s->cur->be, true);
		ms_process_backend(s);
	}
}

static void client_event_cb(struct pipe *p, short what, void *arg)
{
	struct mysql_session *s = arg;

	if (what & PIPE_CONNECTED)
		return; /* the TLS handshake finished */
	if (what & PIPE_EOF)
		ms_close(s, "client closed the connection");
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
	if (s->waiting) {
		writer_poll(s);
		return;
	}
	log_info(s->tag, "login timed out after %u ms", s->lc->login_timeout_ms);
	ms_close(s, "login timeout");
}

static void client_setup(struct mysql_session *s)
{
	pipe_set_callbacks(s->client, client_read_cb, client_write_cb, client_event_cb, s);
	pipe_set_read_bound(s->client, s->bound);
	pipe_set_write_low(s->client, s->bound / 2);
	pipe_set_reading(s->client, true);
}

void mysql_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
			 socklen_t peer_len)
{
	struct daemon *srv = worker_daemon(w);
	const struct config *cfg = worker_config(w);
	const struct config_listener *lc = &cfg->listeners[listener_index(l)];
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
	s->cc = &cfg->clusters[lc->cluster_index];
	s->ws.destroy = ms_destroy;
	s->ws.reconfigure = ms_reconfigure;
	s->id = (uint32_t)atomic_fetch_add(&srv->next_session_id, 1);
	s->bound = cfg->buffer_size;
	s->state = MS_GREETING;
	s->trx_lost = -1;
	atomic_init(&s->ctl.kill, REGISTRY_KILL_NONE);
	atomic_init(&s->ctl.busy_node, -1);
	router_init(&s->rs);
	history_init(&s->hist);
	stmt_table_init(&s->stmts, s->cc->n_nodes);
	s->n_conns = s->cc->n_nodes;
	s->conns = calloc(s->n_conns ? s->n_conns : 1, sizeof(*s->conns));
	if (!s->conns)
		goto fail;
	for (size_t i = 0; i < s->n_conns; i++) {
		s->conns[i].s = s;
		s->conns[i].node = (int)i;
	}
	config_addr_str(peer, addr, sizeof(addr));
	snprintf(s->tag, sizeof(s->tag), "C-%u %s@%s", s->id, lc->name, addr);
	/* The host part of "user@host" in messages, as a server would say it. */
	snprintf(s->peer_host, sizeof(s->peer_host), "%s", addr);
	char *colon = strrchr(s->peer_host, ':');
	if (colon)
		*colon = '\0';

	net_tune_stream(fd);
	s->client = pipe_new(worker_base(w), fd);
	if (!s->client)
		goto fail;
	fd = -1;
	s->timer = evtimer_new(worker_base(w), timer_cb, s);
	s->ctl.wake = event_new(worker_base(w), -1, 0, kill_wake_cb, s);
	if (!s->timer || !s->ctl.wake || !mysql_random_scramble(s->scramble, sizeof(s->scramble)))
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
		pipe_free(s->client);
		if (s->timer)
			event_free(s->timer);
		if (s->ctl.wake)
			event_free(s->ctl.wake);
		stmt_table_deinit(&s->stmts);
		free(s->conns);
		free(s);
	}
	listener_session_ended(l);
}
