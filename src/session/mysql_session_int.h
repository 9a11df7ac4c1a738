/*
 * What the files of a mode: mysql session share, and nothing else includes:
 * the session and connection structs, their states, and the functions one
 * part of the session calls in another. Every name here starts with ms_
 * (the session group's prefix). mysql_session.h has the state diagram.
 *
 *   mysql_session.c              life, client I/O, state dispatch, closing
 *   mysql_session_login.c        greeting, authentication, TLS, first login
 *   mysql_session_compress.c     the compressed protocol, a codec on the client's pipe
 *   mysql_session_command.c      next command, route it, forward it
 *   mysql_session_response.c     response packets, command done, state learned
 *   mysql_session_conn.c         the per-node connection set, catching up
 *   mysql_session_route.c        decision -> connection, writer wait, read resend
 *   mysql_session_kill.c         KILL
 *   mysql_session_change_user.c  COM_CHANGE_USER
 */
#ifndef SLUICE_MYSQL_SESSION_INT_H
#define SLUICE_MYSQL_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "config/config.h"
#include "log.h"
#include "mysql/auth.h"
#include "mysql/handshake.h"
#include "mysql/packet.h"
#include "mysql/resp.h"
#include "net/worker.h"
#include "routing/classify.h"
#include "routing/history.h"
#include "routing/router.h"
#include "routing/stmt.h"
#include "routing/temp_tables.h"
#include "session/backend.h"
#include "session/close_reason.h"
#include "session/pool.h"
#include "session/registry.h"
#include "session/session.h"
#include "stats/stats.h"

struct evbuffer;
struct listener;
struct mysql_writer;
struct session_env;

/* Login packets and commands up to this size are read whole (to inspect
 * them); larger commands are streamed. */
#define SMALL_PACKET_MAX 65536
/* How long a closing session may take to hand its last ERR to the client. */
#define FLUSH_TIMEOUT_SEC 10
#define NATIVE_PLUGIN	  "mysql_native_password"

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

/*
 * A session's slot for one node, and the backend connection it holds
 * there, if any: logged in when a command first needs that node, or taken
 * from the worker's pool (pool.h), and given back to the pool when nothing
 * ties the session to it. Given back, it stays parked in the slot: the
 * pool may hand it to another session (which evicts it from the slot), but
 * until then the slot takes it back at once, with what it knows of the
 * connection's state (database, history applied, statements) still true.
 *
 *   NONE --open--> LOGIN --logged in--> IDLE
 *   NONE --taken from the pool--> IDLE
 *   IDLE --catch up (ping, reset, USE, replay, sync wait, prepare) or KILL--> INTERNAL --> IDLE
 *   IDLE --the client's command--> BUSY --response complete--> IDLE
 *   IDLE --given back to the pool--> PARKED --taken back--> IDLE
 *   PARKED --evicted (taken by another session, closed by the pool), or let go--> NONE
 *   any --lost or failed--> NONE
 */
enum conn_state {
	CONN_NONE,
	CONN_LOGIN,
	CONN_IDLE,
	CONN_INTERNAL,
	CONN_BUSY,
	CONN_PARKED, /* be is the pool's until taken back (pool.h) */
};

/* The internal command a connection runs; its response is consumed here,
 * never sent to the client. */
enum conn_op {
	OP_NONE,
	OP_PING,      /* a pooled connection idle for long: is it still there? */
	OP_RESET,     /* a pooled connection in another session's state: COM_RESET_CONNECTION */
	OP_INIT_DB,   /* the session's database */
	OP_REPLAY,    /* the next history entry */
	OP_SYNC_WAIT, /* causal reads: SET SESSION wsrep_sync_wait */
	OP_PREPARE,   /* a statement the client prepared elsewhere */
	OP_KILL,      /* KILL [QUERY] for another session */
};

struct mysql_session;

/* A KILL a session carries out (MS_KILLING): the target's node threads,
 * and the nodes to try, one at a time until one carries it out. */
struct ms_kill {
	uint32_t threads[CONFIG_MAX_NODES];
	uint16_t order[CONFIG_MAX_NODES];
	size_t n, next;
	bool query;
	bool done;		  /* a node carried it out */
	bool pending;		  /* the victim is REGISTRY_KILL_PENDING because of us */
	uint32_t id;		  /* the id the client named */
	uint32_t victim;	  /* sluice id of the session being killed */
	struct mysql_err err;	  /* a node's refusal (not "unknown thread") */
	uint32_t err_thread;	  /* the thread that refusal names */
};

struct ms_conn {
	struct mysql_session *s;
	struct backend *be; /* NULL in CONN_NONE */
	int node;
	enum conn_state state;
	enum conn_op op;
	struct mysql_resp *iresp; /* CONN_INTERNAL: the internal command's response */
	uint32_t i_left;	 /* bytes of a long internal-response packet to drop */
	bool i_cont;
	bool i_done;   /* the response is complete once i_left is dropped */
	uint8_t i_seq; /* the sequence id its next packet must carry */
	size_t i_batch; /* OP_REPLAY: how many history entries it runs */
	/* The session state this connection has. */
	char db[MYSQL_DB_MAX];
	size_t applied;	  /* history entries run here ... */
	uint64_t version; /* ... complete up to this history version */
	bool sync_wait;	  /* wsrep_sync_wait is set here */
	bool need_ping;	  /* taken from the pool after a long idle */
	bool need_reset;  /* taken from the pool in another session's state */
	struct pool_stmts *pstmts; /* the statements prepared on this connection */
	/* What the pool knows of be: kept from one give-back to the next, and
	 * shared with the pool while PARKED; NULL in CONN_NONE. */
	struct pool_conn *pc;
	struct pool_waiter waiter; /* in line for room on the node (pool.max_per_node) */
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
	struct session h; /* first: what every session kind has (session.h) */
	enum ms_state state;

	bool tls; /* the client pipe runs TLS */
	bool compress;	     /* the client's pipe runs the compressed protocol */
	uint8_t zseq;	     /* next compressed sequence id towards the client */
	struct event *timer; /* login timeout, then flush timeout */

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
	uint16_t *order; /* [n_conns], in the slots' block: login or reader candidates, best first */
	size_t n_order, attempt;
	bool causal_miss;	     /* readers were left out: none had the session's write */
	struct mysql_change_user *cu; /* MS_CU_SWITCH / MS_CHANGING_USER, else NULL */
	uint8_t cu_sha1_pw[MYSQL_SHA1_LEN];
	const struct config_user *cu_user;

	/* Backend connections, one slot per node of the cluster. */
	struct ms_conn *conns;
	size_t n_conns;
	struct ms_conn *cur;  /* the connection the client's bytes go to */
	struct ms_conn *trx;  /* holds the session's open transaction */
	struct ms_conn *last; /* ran the previous command */
	int trx_lost;	      /* node whose transaction died unseen, or -1 */

	/* Pooling. */
	uint8_t hold;		 /* commands for which `last` is kept from the pool */
	bool pool_waiting;	 /* a slot waits in the pool's line (the timer bounds it) */
	uint64_t fingerprint;	 /* of hist, at ... */
	uint64_t fingerprint_of; /* ... this history version (+1; 0: not computed) */
	bool registered;	 /* the registry has this session's current user */

	/* Routing. */
	struct router_state rs;
	struct temp_tables *temps; /* NULL until the session creates a temporary table */
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
	bool resend;   /* ms_forward_command sends retry instead of the client's bytes */
	bool answered; /* some of the response has gone to the client */

	/* Waiting for a writer (ROUTING or CONNECTING with no target). */
	bool waiting;
	uint64_t wait_deadline_ms;
	uint64_t wait_gen; /* snapshot generation when the wait (re)started */
	int wait_node;	   /* the writer that failed, or -1 */
	char wait_why[96];
	bool resp_done; /* the response is complete once b_left is copied */

	struct ms_kill *kill; /* MS_KILLING: the KILL this session carries out, else NULL */
	/* What another session's KILL sees of this one (registry.h). */
	struct registry_ctl ctl;

	/* Command phase. */
	struct mysql_resp resp;
	uint32_t c_left;  /* bytes of the client packet still to copy */
	bool c_pkt;	  /* ... of a packet whose header is through */
	bool c_cont;	  /* that packet is 16 MiB - 1: a continuation follows */
	bool c_streaming; /* a client command is still being copied */
	uint32_t b_left;  /* bytes of the backend packet still to copy */
	bool b_cont;	  /* ... and a continuation follows */
	/* The sequence id the next packet of this command carries, whichever
	 * way it goes: both sides count one sequence (checked both ways). */
	uint8_t next_seq;
	bool c_discard;			/* ... is being dropped, not forwarded */
	uint16_t status;		/* server status flags last seen */
	uint64_t cmd_start_us;		/* the pending command was first sent (loop_us) */
	enum stat_kind stat_kind;	/* ... and what it counts as */
	uint64_t commands;		/* for logs */
};

/* How many per-node entries to allocate (slots, thread ids): one per node,
 * and at least one, so that an allocation never asks for zero bytes. */
static inline size_t ms_node_entries(const struct mysql_session *s)
{
	return s->n_conns ? s->n_conns : 1;
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

/* mysql_session.c */
void ms_set_state(struct mysql_session *s, enum ms_state next);
bool ms_arm_timer(struct mysql_session *s, uint32_t ms) __attribute__((warn_unused_result));
void ms_stop_timer(struct mysql_session *s);
void ms_drop_timer(struct mysql_session *s);
struct node_stats *ms_conn_stats(struct ms_conn *c);
struct node_stats *ms_node_stats(struct mysql_session *s);
const char *ms_node_name(struct mysql_session *s, int node);
struct evbuffer *ms_cin(struct mysql_session *s);
struct evbuffer *ms_cout(struct mysql_session *s);
size_t ms_move_to_node(struct mysql_session *s, struct ms_conn *c, size_t n);
size_t ms_move_to_client(struct mysql_session *s, size_t n);
void ms_send_writer(struct mysql_session *s, struct mysql_writer *w);
void ms_send_err(struct mysql_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		 const char *fmt, ...) SLUICE_PRINTF(5, 6);
void ms_close(struct mysql_session *s, enum close_reason reason, const char *why);
size_t ms_client_pending(struct mysql_session *s);
void ms_flush_and_close(struct mysql_session *s, enum close_reason reason, const char *why);
void ms_fail(struct mysql_session *s, enum close_reason reason, uint8_t seq, uint16_t code,
	     const char *sqlstate, const char *msg);
void ms_out_of_order(struct mysql_session *s, uint8_t got, uint8_t want);
const struct config_user *ms_find_user_in(const struct config *cfg, const char *name);
bool ms_copy_rest(struct evbuffer *src, struct evbuffer *dst, uint32_t *left);
void ms_process_client(struct mysql_session *s);
void ms_client_setup(struct mysql_session *s);

/* mysql_session_login.c */
void ms_connect_next(struct mysql_session *s);
void ms_send_greeting(struct mysql_session *s);
void ms_deny(struct mysql_session *s, uint8_t seq, const char *user, bool with_password);
struct backend_login ms_session_login(struct mysql_session *s);
void ms_client_authenticated(struct mysql_session *s);
void ms_check_answer(struct mysql_session *s, const uint8_t *answer, size_t len, uint8_t seq);
void ms_on_handshake_response(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq);
void ms_login_done(void *arg, enum backend_result res, const struct mysql_err *err,
		   const char *why);
void ms_conn_login_failed(struct ms_conn *c, const struct mysql_err *err, const char *why);

/* mysql_session_compress.c */
bool ms_start_compress(struct mysql_session *s) __attribute__((warn_unused_result));

/* mysql_session_conn.c */
enum ms_open {
	MS_OPEN_READY,	 /* taken from the pool: IDLE now */
	MS_OPEN_STARTED, /* logging in: login_done follows */
	MS_OPEN_WAIT,	 /* in line for room on the node: the slot's wake follows */
	MS_OPEN_FAILED,	 /* could not even start */
};
void ms_conn_set_state(struct ms_conn *c, enum conn_state next);
void ms_conn_release(struct ms_conn *c);
void ms_registry_update(struct mysql_session *s);
enum ms_open ms_conn_open(struct ms_conn *c);
/* Whether c must be opened (ms_conn_open) before it can run anything: it
 * holds no connection, or its connection is parked in the pool. */
static inline bool ms_conn_needs_open(const struct ms_conn *c)
{
	return c->state == CONN_NONE || c->state == CONN_PARKED;
}
/* Get c a connection logged in as login/ident in db, preferring one whose
 * session state has fingerprint state (mysql_session_conn.c). */
enum ms_open ms_conn_open_as(struct ms_conn *c, const struct backend_login *login,
			     const struct pool_ident *ident, const char *db, uint64_t state);
void ms_session_ident(const struct mysql_session *s, struct pool_ident *ident);
void ms_give_back(struct mysql_session *s);
bool ms_slots(struct mysql_session *s) __attribute__((warn_unused_result));
void ms_pool_wait_expired(struct mysql_session *s);
void ms_conn_forget_stmt(struct ms_conn *c, uint32_t node_id);
void ms_conn_close_stmt(struct ms_conn *c, uint32_t node_id);
void ms_conn_stmt_prepared(struct ms_conn *c, const uint8_t *sql, size_t len, uint32_t node_id);
void ms_conn_drop(struct ms_conn *c);
void ms_conn_internal_query(struct ms_conn *c, enum conn_op op, const char *sql);
bool ms_conn_catch_up(struct mysql_session *s, struct ms_conn *c);

/* mysql_session_route.c */
const struct cluster_view *ms_cluster_view(struct mysql_session *s);
void ms_count_reason(struct mysql_session *s, enum router_reason reason);
void ms_wait_for_writer(struct mysql_session *s, int failed_node, const char *why);
void ms_writer_poll(struct mysql_session *s);
struct ms_conn *ms_decision_conn(struct mysql_session *s);
void ms_route_continue(struct mysql_session *s);
bool ms_read_retryable(const struct mysql_session *s);
void ms_resend_read(struct mysql_session *s);
void ms_route_retry(struct mysql_session *s, struct ms_conn *failed, const struct mysql_err *err,
		    const char *why);

/* mysql_session_command.c */
bool ms_stream_client_packets(struct mysql_session *s);
void ms_drop_command(struct mysql_session *s, uint16_t code, const char *sqlstate, const char *fmt,
		     ...) SLUICE_PRINTF(4, 5);
void ms_forward_command(struct mysql_session *s);
void ms_next_command(struct mysql_session *s);

/* mysql_session_response.c */
bool ms_resp_next(struct mysql_resp *r, bool *cont, struct evbuffer *in, struct resp_step *st);
void ms_process_backend(struct mysql_session *s);

/* mysql_session_kill.c */
void ms_kill_continue(struct mysql_session *s);
bool ms_handle_kill(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq);
void ms_kill_wake_cb(evutil_socket_t fd, short what, void *arg);
bool ms_being_killed(const struct mysql_session *s);

/* mysql_session_change_user.c */
void ms_check_change_user(struct mysql_session *s, const uint8_t *answer, size_t len, uint8_t seq);
void ms_forget_session_state(struct mysql_session *s, struct ms_conn *keep);
/* The command about to run may create or drop temporary tables (flags: its
 * classification's, sql its text, truncated: only a prefix of it): note
 * which, to be learned from its response. */
void ms_temp_tables_note(struct mysql_session *s, const uint8_t *sql, size_t len, bool truncated,
			 unsigned flags);
void ms_change_user_done(struct ms_conn *c, enum backend_result res, const struct mysql_err *err,
			 const char *why);
void ms_cu_free(struct mysql_session *s);
void ms_start_change_user(struct mysql_session *s, const uint8_t *p, uint32_t len, uint8_t seq);

extern const struct backend_ops ms_backend_ops;

#endif
