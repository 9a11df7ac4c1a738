/*
 * Small helpers every connection needs: the socket options sluice sets on
 * each client and backend TCP socket, and libevent timeouts from the
 * millisecond values the configuration holds.
 */
#ifndef SLUICE_NET_H
#define SLUICE_NET_H

#include <stdint.h>
#include <sys/time.h>

/* TCP_NODELAY (request/response traffic: do not hold small packets back)
 * and SO_KEEPALIVE (notice peers that vanished without a FIN). Failures are
 * ignored: both are optimisations, not correctness. */
void net_tune_stream(int fd);

static inline struct timeval net_timeval_ms(uint32_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	return tv;
}

#endif
