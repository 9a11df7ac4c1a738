/*
 * What both session kinds (mysql_session.h, tcp_session.h) share: the
 * daemon-wide pieces a session may touch, handed down through its worker
 * (worker_env()), so that no session includes the daemon; and the start
 * function every kind has, which a listener calls through a pointer.
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stdatomic.h>
#include <sys/socket.h>

struct feed;
struct health;
struct listener;
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

/* Take over the accepted client fd on worker w's thread and run a session
 * of one kind for listener l. Always consumes fd, and calls
 * listener_session_ended(l) once when the session (or the attempt) ends. */
typedef void (*session_start_fn)(struct worker *w, struct listener *l, int fd,
				 const struct sockaddr *peer, socklen_t peer_len);

#endif
