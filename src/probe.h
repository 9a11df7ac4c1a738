/*
 * One health check of one node, run on the monitor's event base: connect
 * over TCP and read the server's first packet. A MySQL HandshakeV10 greeting
 * means the server accepts clients; an ERR packet (too many connections,
 * host blocked), a refused or slow connect, or anything else means it does
 * not. This is the liveness check of the walking skeleton; the cluster-aware
 * checks (Galera state, replication lag) replace it behind the same contract.
 */
#ifndef SLUICE_PROBE_H
#define SLUICE_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct probe;

struct probe_result {
	bool ok;
	uint32_t latency_us;	 /* from connect() to the verdict */
	char error[128];	 /* why not ok; empty when ok */
	char server_version[64]; /* from the greeting when ok, e.g. "10.11.6-MariaDB" */
};

/* Called once per probe_start(), on the base's thread, after the probe has
 * released its socket. The probe may be started again or destroyed from
 * inside the callback. */
typedef void (*probe_done_fn)(const struct probe_result *res, void *arg);

/* A reusable probe of the node at sa. Returns NULL only when out of memory. */
struct probe *probe_create(struct event_base *base, const struct sockaddr *sa, socklen_t len,
			   probe_done_fn done, void *arg) __attribute__((warn_unused_result));

/* Start one check; done fires exactly once, within about timeout_ms.
 * Returns false (and done is not called) when a check is already running. */
bool probe_start(struct probe *p, uint32_t timeout_ms) __attribute__((warn_unused_result));

bool probe_running(const struct probe *p);

/* Cancel any running check (done is not called) and free. NULL is a no-op. */
void probe_destroy(struct probe *p);

#endif
