/* The read bound of a pipe (net/pipe.c), against a writer thread that sends
 * 4 MiB as fast as the socket takes it while the owner reads in bursts:
 * unread input never passes the bound on epoll or on a ring's one receive at
 * a time, and passes it by at most the ring's receive buffers (what one wait
 * can bring in) on a settled pipe, whose receive stays armed while the owner
 * keeps up. Every byte arrives, in order, each way. */
#include "check.h"

#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "net/pipe.h"
#include "net/ring.h"

#define TOTAL (4u << 20)
#define BOUND (64u * 1024) /* the least bound a settled pipe keeps its receive armed for */
#define BUFS  8u	   /* the ring's receive buffers: the most one wait brings in */

struct reader {
	struct event_base *base;
	struct ring *ring; /* NULL: epoll */
	struct pipe *p;
	struct event *tick;
	size_t max_unread, got;
	unsigned ticks;
	bool eof, bad_byte;
};

/* The byte at offset i of the stream. */
static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 12));
}

static void *writer_main(void *arg)
{
	int fd = *(int *)arg;
	static uint8_t buf[32 * 1024];
	size_t sent = 0;

	while (sent < TOTAL) {
		size_t n = sizeof(buf) < TOTAL - sent ? sizeof(buf) : TOTAL - sent;
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(sent + i);
		size_t off = 0;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w <= 0)
				return NULL; /* the test fails on the count */
			off += (size_t)w;
		}
		sent += n;
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

/* Take everything unread, checking each byte. */
static void drain(struct reader *r)
{
	struct evbuffer *in = pipe_input(r->p);
	uint8_t chunk[4096];
	size_t n;

	while ((n = evbuffer_get_length(in)) > 0) {
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		evbuffer_remove(in, chunk, n);
		for (size_t i = 0; i < n; i++)
			if (chunk[i] != byte_at(r->got + i))
				r->bad_byte = true;
		r->got += n;
	}
}

/* The owner falls behind: it only notes how much waits unread. */
static void read_cb(struct pipe *p, void *arg)
{
	struct reader *r = arg;
	size_t unread = evbuffer_get_length(pipe_input(p));

	if (unread > r->max_unread)
		r->max_unread = unread;
}

static void stop(struct reader *r)
{
	if (r->ring)
		ring_stop(r->ring);
	else
		event_base_loopbreak(r->base);
}

static void event_cb(struct pipe *p, short what, void *arg)
{
	struct reader *r = arg;

	read_cb(p, arg);
	if (what & PIPE_EOF)
		r->eof = true;
	else
		stop(r); /* an error: the checks below fail */
}

/* Every few milliseconds the owner catches up, once; the end is when all
 * came and was taken. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reader *r = arg;

	drain(r);
	if ((r->eof && evbuffer_get_length(pipe_input(r->p)) == 0) || ++r->ticks > 20000)
		stop(r);
}

enum mode { EPOLL, RING_ONE_AT_A_TIME, RING_SETTLED };

static void run(enum mode mode)
{
	struct event_base *base = event_base_new();
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int fd[2];
	pthread_t t;
	struct reader r = {0};
	struct timeval every = {0, 2000};
	bool settle = mode == RING_SETTLED;

	check_case(mode == EPOLL	  ? "epoll"
		   : mode == RING_SETTLED ? "ring, settled: one receive stays armed"
					  : "ring, one receive at a time");
	CHECK(base != NULL && kick >= 0);
	r.base = base;
	if (mode != EPOLL) {
		r.ring = ring_create(base, kick, BUFS);
		if (!r.ring) {
			fprintf(stderr, "no io_uring here: pipe ring tests skipped\n");
			event_base_free(base);
			close(kick);
			return;
		}
	}
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	CHECK(evutil_make_socket_nonblocking(fd[0]) == 0);
	r.p = pipe_new(base, r.ring, fd[0]);
	CHECK(r.p != NULL);
	pipe_set_callbacks(r.p, read_cb, NULL, event_cb, &r);
	pipe_set_read_bound(r.p, BOUND);
	if (settle)
		pipe_settle(r.p);
	pipe_set_reading(r.p, true);
	r.tick = event_new(base, -1, EV_PERSIST, tick_cb, &r);
	CHECK(event_add(r.tick, &every) == 0);
	CHECK(pthread_create(&t, NULL, writer_main, &fd[1]) == 0);
	if (r.ring)
		ring_loop(r.ring);
	else
		event_base_dispatch(base);
	pthread_join(t, NULL);

	CHECK(r.eof);
	CHECK_EQ_INT(r.got, TOTAL);
	CHECK(!r.bad_byte);
	if (settle)
		CHECK(r.max_unread <= BOUND + BUFS * RING_BUF_SIZE);
	else
		CHECK(r.max_unread <= BOUND);
	CHECK(r.max_unread >= BOUND / 2); /* the owner did fall behind */

	event_free(r.tick);
	pipe_free(r.p);
	close(fd[1]);
	ring_destroy(r.ring);
	event_base_free(base);
	close(kick);
}

static void test_read_bound(void)
{
	run(EPOLL);
	run(RING_ONE_AT_A_TIME);
	run(RING_SETTLED);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"the read bound", test_read_bound},
	};
	return CHECK_RUN(tests);
}
