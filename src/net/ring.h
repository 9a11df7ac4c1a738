/*
 * A worker's io_uring, and the loop that waits in it instead of in epoll.
 *
 * Why: with epoll a proxied round trip costs a wait per side plus a read and
 * a write per side, six system calls at one query in flight. On the ring a
 * receive is a request the kernel completes when data arrives; the requests
 * a loop iteration queued, sends among them, go in with the same
 * io_uring_enter() that waits for the next completions. A send never waits
 * for room in the socket (MSG_DONTWAIT): it completes within that call, so
 * the wait asks for one completion more than the small sends not yet
 * handled (those the kernel takes whole), and their completions do not end
 * it. So a round trip costs about two calls at one query in flight, and far
 * fewer under load, when one call submits the sends of many connections and
 * brings back many completions.
 *
 * What is on the ring: receives into a shared set of provided buffers (an
 * idle connection holds no buffer), sends, write-readiness polls, a poll of
 * the libevent base's own epoll descriptor, a read of the kick eventfd, and
 * the loop's own timer (its timeout). Everything else stays libevent's:
 * timers, TLS, other descriptors. The loop
 * runs the base without blocking when its epoll descriptor has something,
 * when it has active events, when another thread kicked it, and at least
 * every RING_TICK_MS for its timers. It looks for active events only after
 * a run of the base and when told to (ring_note_activation): asking
 * libevent takes the base's lock, about 100 instructions, and the loop
 * turns over up to four times a query.
 *
 * A kick is needed because libevent wakes a base for an event_active() from
 * another thread only while that base sits in event_base_loop(), and this
 * one mostly sits in io_uring_enter(): whoever activates an event of this
 * base from another thread writes to the kick eventfd after it.
 *
 * Deferred work (ring_defer) runs after the completions of an iteration have
 * been handled and before the next wait: a pipe writes out there what its
 * owner queued, and arms its next receive.
 *
 * One thread: the one that called ring_create() and runs ring_loop().
 *
 *   ring_create ── ring_loop ── (ring_stop) ── ring_destroy
 */
#ifndef SLUICE_RING_H
#define SLUICE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "list.h"

struct event_base;
struct evbuffer;
struct ring;

/* For code on a worker thread that may have made an event of the thread's
 * own base active outside a run of the base: an event_active(),
 * event_base_once() without a delay, a call into a TLS bufferevent. The
 * ring loop then looks for active events before it waits; without the call
 * they run at the next tick (RING_TICK_MS) at the latest. Other threads need
 * not call it: they kick the worker (see above), or libevent notifies a base
 * that sits in its own loop. No effect on a thread that runs no ring loop. */
void ring_note_activation(void);

/* How often at most libevent's timers are looked at while the ring is busy
 * or idle: the precision of a worker's timeouts in io_uring mode. */
#define RING_TICK_MS 10

/* Another tick for r's loop (0: RING_TICK_MS). For tests: with a tick of an
 * hour, work that waits for the tick instead of a completion hangs. */
void ring_set_tick(struct ring *r, unsigned ms);

/* One request on the ring, embedded in its owner. done runs on the loop with
 * the completion's result (a byte count, a poll mask or -errno) and flags. */
struct ring_req {
	void (*done)(struct ring_req *req, int res, uint32_t flags);
	bool busy;  /* submitted and not yet completed (multi: its last completion) */
	bool multi; /* a receive that stays armed (ring_recv_multi) */
	bool send;  /* a send: completes within the call that submits it */
};

/* Work to run once the current completions have been handled. */
struct ring_defer {
	struct list link;
	void (*run)(struct ring_defer *d);
	bool queued;
};

/* Receive buffers a worker's ring shares among its connections: 2 MiB. A
 * receive that finds them all taken ends with -ENOBUFS and is armed again
 * once the completions in hand have been copied out (each gives its buffer
 * back at once), so the count bounds memory, not connections. */
#define RING_BUFS     128
#define RING_BUF_SIZE (16 * 1024)

/* A ring for the calling thread, driving base, woken by writes to kick_fd
 * (an eventfd the caller keeps), with bufs receive buffers (a power of two,
 * at most 32768; RING_BUFS for a worker). NULL when io_uring is not
 * available here (the reason is logged at info; the caller uses epoll). */
struct ring *ring_create(struct event_base *base, int kick_fd, unsigned bufs)
	__attribute__((warn_unused_result));
void ring_destroy(struct ring *r);

/* Run until ring_stop(). */
void ring_loop(struct ring *r);
/* End ring_loop() after the current iteration. Loop thread. */
void ring_stop(struct ring *r);

/* Receive at most max bytes from fd into one provided buffer (ring_buffer_*
 * on completion; res is the byte count, 0 at end of file, -ENOBUFS when all
 * buffers were taken: arm again after the completions are handled). */
void ring_recv(struct ring *r, struct ring_req *req, int fd, size_t max);
/* Receive from fd again and again, each time into one provided buffer, with
 * one request: each completion is as ring_recv()'s, and req stays busy until
 * the last one, which comes after ring_cancel(), at end of file, on an error,
 * or with -ENOBUFS when no buffer was free (arm again as after ring_recv()).
 * Nothing bounds how much it receives before a cancel takes effect but the
 * buffers: at most all of them in one wait. False when this kernel has no
 * such receive (before Linux 6.0): use ring_recv(). */
bool ring_recv_multi(struct ring *r, struct ring_req *req, int fd);

/* The data of a receive's completion, and giving its buffer back (at once,
 * before the next receive is armed). NULL when the completion holds none. */
const void *ring_buffer(struct ring *r, uint32_t flags);
void ring_buffer_return(struct ring *r, uint32_t flags);

/* The bytes of one send in flight, and what points at them for the kernel.
 * They are kept apart from the buffer their owner keeps adding to, because
 * libevent may move the data of a buffer's last chunk to make room, and the
 * kernel reads them until the send is done. A ring keeps spares (at most
 * RING_SPARE_OUTS), so that a connection that sends nothing holds none. */
#define RING_SEND_IOV	8
#define RING_SPARE_OUTS 64
struct ring_out {
	struct list link; /* among the spares */
	struct evbuffer *buf;
	struct msghdr msg;
	struct iovec iov[RING_SEND_IOV];
};

/* An empty ring_out: a spare, or a new one (NULL when out of memory). */
struct ring_out *ring_out_take(struct ring *r) __attribute__((warn_unused_result));
/* Done with o (not in flight): emptied, and kept as a spare or freed. */
void ring_out_give(struct ring *r, struct ring_out *o);

/* Send the front of o->buf (at most RING_SEND_IOV of its chunks) on fd. res
 * is the byte count the kernel took, which may be fewer than asked for, or
 * -errno. o->buf must not change until done runs. The send does not wait
 * for room: a full socket ends it with -EAGAIN, and the owner polls for room
 * (ring_poll_out) before it sends again.
 *
 * whole: the owner expects the kernel to take all of it while the send is
 * submitted (a small send to a socket that has kept up). The loop's wait then
 * does not end for its completion: it goes on waiting for something new in
 * the same system call. Any other send's completion ends the wait, so that
 * a short send is followed up at once (a counted one that came out short is
 * followed up at the next completion, at worst the loop's tick). */
void ring_send(struct ring *r, struct ring_req *req, int fd, struct ring_out *o, bool whole);

/* One poll for write readiness (res: the poll mask, or -errno). */
void ring_poll_out(struct ring *r, struct ring_req *req, int fd);

/* Ask the kernel to end req early; its done still runs (res -ECANCELED if
 * the cancel won). */
void ring_cancel(struct ring *r, struct ring_req *req);

/* Queue d to run before the next wait; a queued d is not queued twice. */
void ring_defer(struct ring *r, struct ring_defer *d);
void ring_defer_cancel(struct ring_defer *d);

#endif
