/*
 * What both session kinds (mysql_session.h, tcp_session.h) share: the
 * daemon-wide pieces a session may touch, handed down through its worker
 * (worker_env()), so that no session includes the daemon; and the head
 * every session struct starts with, with its prelude
 * (session_open) and teardown (session_release).
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/worker.h"
#include "session/close_reason.h"

struct config;
struct config_cluster;
struct config_listener;
struct feed;
struct health;
struct listener;
struct pipe;
struct ssl_ctx_st;
struct worker;

/* Owned by the daemon, which outlives every worker and session. Sessions
 * read the pointers and bump the atomics; nothing else changes after the
 * daemon has started. */
struct session_env {
	struct health *health; /* data-path evidence: health_suspect(), health_lost() */
	struct feed *feed;     /* the dashboard's statement feed; NULL without stats */
	/* Per cluster: the shared reader rotation counter. Shared by all
	 * workers so "strict round-robin" holds across threads. */
	atomic_uint_fast64_t *rr;
	/* ... and the counter of the rotation without the writer, which
	 * mode: mysql listeners use unless primary_reads is on. */
	atomic_uint_fast64_t *rr_replicas;
	/* Per cluster: the TLS client context towards its nodes, or NULL. */
	struct ssl_ctx_st **backend_tls;
	atomic_uint_fast64_t next_session_id;
};

/* The first member of every session struct. */
struct session {
	struct worker_session ws; /* first: the worker's list links through it */
	struct worker *w;
	struct listener *l;
	struct session_env *env;
	const struct config_listener *lc; /* in the worker's configuration */
	const struct config_cluster *cc;  /* the listener's cluster */
	size_t cluster;			  /* its index */
	uint32_t id;			  /* sluice's connection id */
	char tag[144];			  /* "C-42 app@127.0.0.1:51234" for logs */
	struct pipe *client;		  /* the client's socket (plain or TLS) */
	size_t bound;			  /* bytes held per direction: buffer_size */
	enum close_reason close_reason;	  /* once it is closing: why */
};

/* The prelude both kinds share: fill h for a session of listener l on
 * worker w (tag "C-ID LISTENER@PEER" plus suffix), and give the client fd
 * to a tuned pipe. The session's own fields are the caller's. False when
 * out of memory, with fd closed and nothing else to undo. */
bool session_open(struct session *h, struct worker *w, struct listener *l, int fd,
		  const struct sockaddr *peer, const char *suffix,
		  void (*destroy)(struct worker_session *ws),
		  void (*reconfigure)(struct worker_session *ws, const struct config *cfg))
	__attribute__((warn_unused_result));

/* A reload: point the head at cfg (same listeners and clusters). */
void session_reconfigure(struct session *h, const struct config *cfg);

/* The teardown both kinds share: free the client pipe, tell the listener
 * the session has ended. The caller frees the struct. */
void session_release(struct session *h);

#endif
