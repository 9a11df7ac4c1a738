/*
 * One connection from sluice to a database node, on a worker thread: TCP
 * connect, the node's greeting, logging in as the client's user (with the
 * SHA1(password) recovered from the client's own login, or a configured
 * plaintext password), then a byte pipe the session drives. COM_CHANGE_USER
 * re-runs the login on the same connection.
 *
 *   CONNECTING --connected--> GREETING --greeting--> [TLS] --> AUTH --OK--> READY
 *        \                        \                    |   ^ auth switch /
 *         \                        \                   v   | more data
 *          '--- error/timeout ------'---------------> FAILED
 *   READY --backend_change_user--> AUTH --OK--> READY
 *
 * The session is told about the outcome through struct backend_ops; every
 * callback runs on the worker thread, and the backend may be destroyed from
 * inside them (it defers its own cleanup).
 */
#ifndef SLUICE_BACKEND_H
#define SLUICE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend;
struct config_node;
struct event_base;
struct ring;
struct evbuffer;
struct pipe;
struct mysql_err;
struct ssl_ctx_st;

/* What the backend needs to log in. Borrowed for the duration of the call
 * to backend_connect/backend_change_user (copied inside). */
struct backend_login {
	const char *user;
	const uint8_t *sha1_pw; /* SHA1(password), 20 bytes */
	const char *password;	/* plaintext, or NULL when only the hash is known */
	const char *db;		/* initial database, or NULL */
	uint32_t caps;		/* the client's negotiated capabilities */
	uint32_t max_packet;
	uint8_t charset;
	const uint8_t *attrs; /* connection attributes block, or NULL */
	size_t attrs_len;
};

enum backend_result {
	BACKEND_OK,
	BACKEND_REFUSED,    /* the node answered the login with an ERR (in err) */
	BACKEND_UNREACHABLE /* connect, greeting or protocol failure (in why) */
};

struct backend_ops {
	/* Login (or change user) finished. err is set for BACKEND_REFUSED. */
	void (*login_done)(void *arg, enum backend_result res, const struct mysql_err *err,
			   const char *why);
	/* READY: bytes arrived in backend_input(). */
	void (*readable)(void *arg);
	/* READY: the output fell below half the bound after being full. */
	void (*writable)(void *arg);
	/* READY: the node closed the connection or it failed. */
	void (*closed)(void *arg, const char *why);
};

/* A connection to node (node_index in its cluster), on base and ring (the
 * worker's, or NULL: net/pipe.h). tls: the cluster's client context, or
 * NULL for a plain connection; verify is its enum tls_verify. */
struct backend *backend_create(struct event_base *base, struct ring *ring,
			       const struct config_node *node, int node_index,
			       uint32_t connect_timeout_ms, size_t bound, struct ssl_ctx_st *tls,
			       int verify, const struct backend_ops *ops, void *arg)
	__attribute__((warn_unused_result));

/* A reload: the same node in the new configuration (node is borrowed until
 * the next call or backend_destroy). */
void backend_set_node(struct backend *b, const struct config_node *node);

/* Hand the connection's callbacks to another owner (the pool, a session). */
void backend_set_owner(struct backend *b, const struct backend_ops *ops, void *arg);

/* Start connecting and logging in. False if it could not even start. */
bool backend_connect(struct backend *b, const struct backend_login *login)
	__attribute__((warn_unused_result));

/* READY only: send COM_CHANGE_USER for login; login_done reports. */
bool backend_change_user(struct backend *b, const struct backend_login *login)
	__attribute__((warn_unused_result));

struct evbuffer *backend_input(struct backend *b);
struct evbuffer *backend_output(struct backend *b);
/* The connection's socket, for pipe_move() to and from it. */
struct pipe *backend_pipe(struct backend *b);
/* Bytes queued towards the node and not yet taken by the kernel. */
size_t backend_pending(struct backend *b);
/* Flow control from the session: stop/resume reading from the node. */
void backend_set_reading(struct backend *b, bool on);
/* The node's thread id for this connection (its CONNECTION_ID()). */
uint32_t backend_thread_id(const struct backend *b);
int backend_node(const struct backend *b);
const char *backend_server_version(const struct backend *b);
uint16_t backend_status(const struct backend *b); /* status flags of the login OK */
uint32_t backend_caps(const struct backend *b);	  /* the capabilities the login agreed */
bool backend_ready(const struct backend *b);

/* Close now. NULL is a no-op. Safe inside the backend's own callbacks: the
 * memory is released after the current event callback returns. */
void backend_destroy(struct backend *b);

#endif
