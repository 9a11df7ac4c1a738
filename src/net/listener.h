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
struct ssl_ctx_st;
struct worker;

/* Which worker takes the next accepted client. Main thread. */
typedef struct worker *(*listener_pick_fn)(void *arg);

/* What runs on an accepted client: the session kind of the listener's mode
 * (tcp_session_start, mysql_session_start). Called on worker w's thread;
 * always consumes fd, and calls listener_session_ended(l) once when the
 * session (or the attempt) ends. */
typedef void (*listener_start_fn)(struct worker *w, struct listener *l, int fd,
				  const struct sockaddr *peer, socklen_t peer_len);

/* Bind and listen on cfg->bind, accepting on base once enabled; each client
 * goes to the worker pick(pick_arg) names, which runs start (the session
 * kind of cfg->mode, chosen by the daemon) on it. config_path is
 * for messages. On failure logs "FILE:LINE:COL: listener NAME: cannot bind
 * ADDR: reason" and returns NULL. */
struct listener *listener_create(const struct config_listener *cfg, const char *config_path,
				 size_t index, struct event_base *base, listener_start_fn start,
				 listener_pick_fn pick, void *pick_arg)
	__attribute__((warn_unused_result));

/* Start accepting. Main thread. */
void listener_enable(struct listener *l);

/* Stop accepting for good (shutdown). Main thread. */
void listener_close(struct listener *l);

/* A session of this listener ended (or never started). Any thread. */
void listener_session_ended(struct listener *l);

/* A client's login was refused (wrong password, unknown user). Any thread. */
void listener_login_failed(struct listener *l);

/* What the stats show of a listener. Any thread (relaxed reads). */
struct listener_counts {
	uint64_t open;		/* client connections open (or queued for a worker) */
	uint64_t accepted;	/* accepted since start */
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
