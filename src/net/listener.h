/*
 * Listeners: one bound socket per configured listener, accepting on the main
 * thread and handing each client to a worker. A listener enforces its
 * max_connections by pausing accept (clients wait in the kernel backlog)
 * and resuming when a session ends.
 */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_listener;
struct event_base;
struct listener;
struct daemon;
struct ssl_ctx_st;
struct worker;

/* Bind and listen on cfg->bind, accepting on base once enabled. On failure
 * logs "FILE:LINE:COL: listener NAME: cannot bind ADDR: reason" and
 * returns NULL. */
struct listener *listener_create(struct daemon *srv, const struct config_listener *cfg,
				 size_t index, struct event_base *base)
	__attribute__((warn_unused_result));

/* Start accepting. Main thread. */
void listener_enable(struct listener *l);

/* Stop accepting for good (shutdown). Main thread. */
void listener_close(struct listener *l);

/* Worker thread: start the session type of this listener's mode on fd. */
void listener_start_session(struct listener *l, struct worker *w, int fd,
			    const struct sockaddr *peer, socklen_t peer_len);

/* A session of this listener ended (or never started). Any thread. */
void listener_session_ended(struct listener *l);

/* A client's login was refused (wrong password, unknown user). Any thread. */
void listener_login_failed(struct listener *l);

/* What the stats show of a listener. Any thread (relaxed reads). */
struct listener_counts {
	uint64_t open;	       /* client connections open (or queued for a worker) */
	uint64_t accepted;     /* accepted since start */
	uint64_t logins_failed; /* logins refused since start */
};
struct listener_counts listener_counts(const struct listener *l);

/* A reload: the same listener in the new configuration (its address, mode
 * and cluster are unchanged; max_connections may differ). Main thread. */
void listener_set_config(struct listener *l, const struct config_listener *cfg);
/* The TLS server context for mode: mysql listeners with tls:, else NULL. */
struct ssl_ctx_st *listener_tls(const struct listener *l);
size_t listener_index(const struct listener *l);

void listener_destroy(struct listener *l);

#endif
