/*
 * The greeting probe: TCP connect plus the first MySQL packet. See probe.h.
 * A probe is a tiny state machine:
 *
 *   IDLE --start--> CONNECTING --connected--> READING --packet/err--> DONE
 *                        \_____________ error/timeout _______________/
 *   DONE --(deferred event: socket freed, done() called)--> IDLE
 */
#include "probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "net.h"
#include "mysql/handshake.h"

/* A greeting is a few dozen bytes; an ERR a few hundred. Anything longer is
 * not what we are waiting for. */
#define PROBE_MAX_PACKET 4096

enum probe_state {
	PROBE_IDLE,
	PROBE_CONNECTING,
	PROBE_READING,
	PROBE_DONE,
};

struct probe {
	struct event_base *base;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	probe_done_fn done;
	void *arg;
	enum probe_state state;
	struct bufferevent *bev;
	struct event *finish; /* runs the completion outside bufferevent callbacks */
	struct timespec started;
	struct probe_result result;
};

static uint32_t elapsed_us(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t us = (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
		     (now.tv_nsec - since->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint32_t)us;
}

/* Record the verdict and schedule the completion; the bufferevent is freed
 * there, never inside its own callback. */
static void probe_conclude(struct probe *p, bool ok, const char *fmt, ...) SLUICE_PRINTF(3, 4);

static void probe_conclude(struct probe *p, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (p->state == PROBE_DONE)
		return;
	p->state = PROBE_DONE;
	p->result.ok = ok;
	p->result.latency_us = elapsed_us(&p->started);
	p->result.error[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(p->result.error, sizeof(p->result.error), fmt, ap);
		va_end(ap);
	}
	bufferevent_disable(p->bev, EV_READ | EV_WRITE);
	event_active(p->finish, EV_TIMEOUT, 0);
}

static void probe_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct probe_result res = p->result;

	bufferevent_free(p->bev);
	p->bev = NULL;
	p->state = PROBE_IDLE;
	p->done(&res, p->arg);
}

static void probe_read_cb(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char hdr[4];
	size_t have = evbuffer_get_length(in);

	if (have < 4)
		return;
	evbuffer_copyout(in, hdr, 4);
	size_t len = hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
	if (len == 0 || len > PROBE_MAX_PACKET) {
		probe_conclude(p, false, "not a MySQL server: first packet is %zu bytes", len);
		return;
	}
	if (have < 4 + len)
		return;
	unsigned char *pkt = evbuffer_pullup(in, (ev_ssize_t)(4 + len)) + 4;
	if (pkt[0] == 0x0a) {
		struct mysql_handshake hs;
		if (!mysql_read_handshake(pkt, len, &hs)) {
			probe_conclude(p, false, "malformed MySQL greeting");
			return;
		}
		memcpy(p->result.server_version, hs.server_version, sizeof(hs.server_version));
		probe_conclude(p, true, NULL);
	} else if (pkt[0] == 0xff && len >= 3) {
		/* ERR before the greeting: no SQLSTATE marker, just code + text. */
		unsigned code = pkt[1] | (unsigned)pkt[2] << 8;
		int text_len = (int)(len - 3 > 100 ? 100 : len - 3);
		probe_conclude(p, false, "server refused: %u %.*s", code, text_len,
			       (const char *)pkt + 3);
	} else {
		probe_conclude(p, false, "not a MySQL greeting (protocol byte 0x%02x)", pkt[0]);
	}
}

static void probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;

	if (what & BEV_EVENT_CONNECTED) {
		p->state = PROBE_READING;
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		probe_conclude(p, false, "timed out %s",
			       p->state == PROBE_CONNECTING ? "connecting"
							    : "waiting for greeting");
	else if (what & BEV_EVENT_EOF)
		probe_conclude(p, false, "connection closed before the greeting");
	else
		probe_conclude(p, false, "%s: %s",
			       p->state == PROBE_CONNECTING ? "connect" : "read",
			       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

struct probe *probe_create(struct event_base *base, const struct sockaddr *sa, socklen_t len,
			   probe_done_fn done, void *arg)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		goto fail;
	p->base = base;
	memcpy(&p->addr, sa, len);
	p->addr_len = len;
	p->done = done;
	p->arg = arg;
	p->finish = event_new(base, -1, 0, probe_finish_cb, p);
	if (!p->finish)
		goto fail;
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
	struct timeval tv = net_timeval_ms(timeout_ms);

	if (p->state != PROBE_IDLE)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	p->result.server_version[0] = '\0';
	p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev)
		abort(); /* out of memory on the monitor thread */
	p->state = PROBE_CONNECTING;
	bufferevent_setcb(p->bev, probe_read_cb, NULL, probe_event_cb, p);
	/* The write timeout covers the connect, the read timeout the greeting. */
	bufferevent_set_timeouts(p->bev, &tv, &tv);
	bufferevent_enable(p->bev, EV_READ);
	if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&p->addr, (int)p->addr_len) < 0)
		probe_conclude(p, false, "connect: %s", strerror(errno));
	return true;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	if (p->bev)
		bufferevent_free(p->bev);
	if (p->finish)
		event_free(p->finish);
	free(p);
}
