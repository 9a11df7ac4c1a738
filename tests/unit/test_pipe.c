/* A pipe (net/pipe.c) against a thread at the socket's other end.
 *
 * The read bound: a writer thread sends 4 MiB as fast as the socket takes it
 * while the owner reads in bursts. Unread input never passes the bound on
 * epoll or on a ring's one receive at a time, and passes it by at most the
 * ring's receive buffers (what one wait can bring in) on a settled pipe,
 * whose receive stays armed while the owner keeps up. Every byte arrives, in
 * order, each way.
 *
 * Sending: the owner queues 4 MiB in pieces of odd sizes, from its write
 * callback and from a timer that keeps adding while a send is in flight,
 * while a slow reader thread takes them through a small socket buffer, so
 * that sends come back short and wait for room. Every byte arrives in order,
 * the write callback keeps the owner going, and a pipe freed with a
 * send in flight goes without a leak or a late callback.
 *
 * A codec: both runs again through a toy codec (each unit a length byte and
 * that many bytes, scrambled), whose reader and writer threads speak it. The
 * owner's input passes the read bound by less than one unit, and bytes the
 * owner adds while a send is in flight are encoded when it ends. Output
 * queued before the codec is set goes as it is, and input read before is
 * decoded; a unit that cannot be decoded fails the pipe with PIPE_CORRUPT. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
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

/* The event loop a case runs on: libevent's epoll, or a ring over the base. */
struct loop {
	struct event_base *base;
	int kick;
	struct ring *ring; /* NULL: epoll */
};

/* False when a ring was asked for and this kernel has none: the case is
 * skipped (sluice uses epoll there, which the epoll cases cover). */
static bool loop_open(struct loop *l, bool ring)
{
	l->base = event_base_new();
	l->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->ring = NULL;
	CHECK(l->base != NULL && l->kick >= 0);
	if (ring) {
		l->ring = ring_create(l->base, l->kick, BUFS);
		if (!l->ring) {
			fprintf(stderr, "no io_uring here: pipe ring tests skipped\n");
			event_base_free(l->base);
			close(l->kick);
			return false;
		}
	}
	return true;
}

static void loop_run(struct loop *l)
{
	if (l->ring)
		ring_loop(l->ring);
	else
		event_base_dispatch(l->base);
}

static void loop_stop(struct loop *l)
{
	if (l->ring)
		ring_stop(l->ring);
	else
		event_base_loopbreak(l->base);
}

/* After the pipes are freed: a ring runs the ends of requests still in flight. */
static void loop_close(struct loop *l)
{
	ring_destroy(l->ring);
	event_base_free(l->base);
	close(l->kick);
}

/* ---- a toy codec: a unit is a length byte (1-255), then that many bytes XOR 0x5a ---- */

#define UNIT_MAX    255
#define UNIT_PIECE  200		/* the encoder's units */
#define CODEC_BOUND (64u << 10) /* its wire bound: large enough for a receive that stays armed */

static bool toy_decode(void *arg, struct evbuffer *wire, struct evbuffer *plain, size_t limit,
		       const char **why)
{
	uint8_t unit[1 + UNIT_MAX];

	while (evbuffer_get_length(plain) < limit) {
		if (evbuffer_copyout(wire, unit, 1) < 1)
			return true;
		if (unit[0] == 0) {
			*why = "a unit of no length";
			return false;
		}
		if (evbuffer_get_length(wire) < 1u + unit[0])
			return true;
		evbuffer_remove(wire, unit, 1u + unit[0]);
		for (unsigned i = 1; i <= unit[0]; i++)
			unit[i] ^= 0x5a;
		if (evbuffer_add(plain, unit + 1, unit[0]) != 0) {
			*why = NULL;
			return false;
		}
	}
	return true;
}

static bool toy_encode(void *arg, struct evbuffer *plain, struct evbuffer *wire)
{
	uint8_t unit[1 + UNIT_PIECE];
	size_t n;

	while ((n = evbuffer_get_length(plain)) > 0) {
		if (n > UNIT_PIECE)
			n = UNIT_PIECE;
		unit[0] = (uint8_t)n;
		evbuffer_remove(plain, unit + 1, n);
		for (size_t i = 1; i <= n; i++)
			unit[i] ^= 0x5a;
		if (evbuffer_add(wire, unit, n + 1) != 0)
			return false;
	}
	return true;
}

static const struct pipe_codec toy_codec = {
	.decode = toy_decode,
	.encode = toy_encode,
	.wire_bound = CODEC_BOUND,
};

/* A thread's end of the toy codec: the plain bytes of what came so far. */
struct toy_reader {
	uint8_t unit[1 + UNIT_MAX];
	size_t have; /* bytes of the unit in hand */
	bool bad;    /* a unit of no length */
};

/* Feed n wire bytes; plain bytes go to out, which has room for n + UNIT_MAX (a unit
 * begun in an earlier feed ends in this one); their count is returned. */
static size_t toy_feed(struct toy_reader *t, const uint8_t *wire, size_t n, uint8_t *out)
{
	size_t got = 0;

	for (size_t i = 0; i < n; i++) {
		t->unit[t->have++] = wire[i];
		if (t->have == 1 && t->unit[0] == 0)
			t->bad = true;
		if (t->have > 1 && t->have == 1u + t->unit[0]) {
			for (size_t j = 1; j < t->have; j++)
				out[got++] = t->unit[j] ^ 0x5a;
			t->have = 0;
		}
	}
	return got;
}

struct reader {
	struct loop *loop;
	struct pipe *p;
	struct event *tick;
	size_t max_unread, got;
	unsigned ticks;
	bool eof, bad_byte;
	bool codec; /* the writer speaks the toy codec */
	int peer;   /* the writer's socket */
};

/* The byte at offset i of the stream. */
static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 12));
}

/* Write the stream, plain or in the toy codec's units of every size. */
static void *writer_main(void *arg)
{
	struct reader *r = arg;
	int fd = r->peer;
	static uint8_t buf[32 * 1024 + 256];
	size_t sent = 0;

	while (sent < TOTAL) {
		size_t n = 0, plain = 0;
		while (n + 1 + UNIT_MAX <= sizeof(buf) && sent + plain < TOTAL) {
			size_t len = r->codec ? 1 + (sent + plain) % UNIT_MAX : 32 * 1024;
			if (len > TOTAL - sent - plain)
				len = TOTAL - sent - plain;
			if (r->codec)
				buf[n++] = (uint8_t)len;
			for (size_t i = 0; i < len; i++)
				buf[n++] = byte_at(sent + plain + i) ^ (r->codec ? 0x5a : 0);
			plain += len;
			if (!r->codec)
				break;
		}
		size_t off = 0;
		while (off < n) {
			ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				return NULL; /* the test fails on the count */
			off += (size_t)w;
		}
		sent += plain;
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

static void event_cb(struct pipe *p, short what, void *arg)
{
	struct reader *r = arg;

	read_cb(p, arg);
	if (what & PIPE_EOF)
		r->eof = true;
	else
		loop_stop(r->loop); /* an error: the checks below fail */
}

/* Every few milliseconds the owner catches up, once; the end is when all
 * came and was taken. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reader *r = arg;

	drain(r);
	/* With a codec, units may still wait on the wire when the input is
	 * empty (held at the bound before the drain): the end is all of it. */
	if ((r->eof && r->got == TOTAL) || ++r->ticks > 20000)
		loop_stop(r->loop);
}

enum mode { EPOLL, RING_ONE_AT_A_TIME, RING_SETTLED };

static void run(enum mode mode, bool codec)
{
	struct loop l;
	int fd[2];
	pthread_t t;
	struct reader r = {.codec = codec};
	struct timeval every = {0, 2000};
	bool settle = mode == RING_SETTLED;

	check_case("%s%s",
		   mode == EPOLL	  ? "epoll"
		   : mode == RING_SETTLED ? "ring, settled: one receive stays armed"
					  : "ring, one receive at a time",
		   codec ? ", through a codec" : "");
	if (!loop_open(&l, mode != EPOLL))
		return;
	r.loop = &l;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	CHECK(evutil_make_socket_nonblocking(fd[0]) == 0);
	r.peer = fd[1];
	r.p = pipe_new(l.base, l.ring, fd[0]);
	CHECK(r.p != NULL);
	pipe_set_callbacks(r.p, read_cb, NULL, event_cb, &r);
	pipe_set_read_bound(r.p, BOUND);
	if (codec)
		CHECK(pipe_set_codec(r.p, &toy_codec, NULL));
	if (settle)
		pipe_settle(r.p);
	pipe_set_reading(r.p, true);
	r.tick = event_new(l.base, -1, EV_PERSIST, tick_cb, &r);
	CHECK(event_add(r.tick, &every) == 0);
	CHECK(pthread_create(&t, NULL, writer_main, &r) == 0);
	loop_run(&l);
	shutdown(fd[1], SHUT_RDWR); /* a writer stuck on a pipe that stopped reading fails */
	pthread_join(t, NULL);

	CHECK(r.eof);
	CHECK_EQ_INT(r.got, TOTAL);
	CHECK(!r.bad_byte);
	if (codec) /* decoding stops at the bound, after a whole unit */
		CHECK(r.max_unread < BOUND + UNIT_MAX);
	else if (settle)
		CHECK(r.max_unread <= BOUND + BUFS * RING_BUF_SIZE);
	else
		CHECK(r.max_unread <= BOUND);
	CHECK(r.max_unread >= BOUND / 2); /* the owner did fall behind */

	event_free(r.tick);
	pipe_free(r.p);
	close(fd[1]);
	loop_close(&l);
}

/* ---- sending ---- */

#define LOW (64u * 1024)
#define PIECE_MAX 3000 /* top_up's largest piece */

struct sender {
	struct loop *loop;
	struct pipe *p;
	size_t queued, write_cbs;
	bool late_cb, failed;
};

struct slow_reader {
	int fd;
	size_t got, limit;
	bool bad_byte;
	bool codec; /* the stream comes in the toy codec's units */
	struct toy_reader toy;
};

/* Reads in small bites with pauses, up to limit bytes. */
static void *slow_reader_main(void *arg)
{
	struct slow_reader *sr = arg;
	uint8_t wire[8192], buf[8192 + UNIT_MAX];

	while (sr->got < sr->limit) {
		ssize_t n = read(sr->fd, wire, sizeof(wire));
		if (n <= 0)
			break;
		if (sr->codec)
			n = (ssize_t)toy_feed(&sr->toy, wire, (size_t)n, buf);
		else
			memcpy(buf, wire, (size_t)n);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != byte_at(sr->got + (size_t)i))
				sr->bad_byte = true;
		sr->got += (size_t)n;
		if ((sr->got / sizeof(wire)) % 16 == 0)
			usleep(200);
	}
	return NULL;
}

/* Pieces of odd sizes, added one by one: libevent may move a last chunk's
 * data to fit one, which must not move bytes a send still reads. */
static void top_up(struct sender *s, size_t upto)
{
	struct evbuffer *out = pipe_output(s->p);
	uint8_t piece[PIECE_MAX];

	while (s->queued < TOTAL && pipe_pending(s->p) < upto) {
		size_t n = 1 + (s->queued * 31) % sizeof(piece);
		if (n > TOTAL - s->queued)
			n = TOTAL - s->queued;
		for (size_t i = 0; i < n; i++)
			piece[i] = byte_at(s->queued + i);
		if (evbuffer_add(out, piece, n) != 0) {
			s->failed = true;
			return;
		}
		s->queued += n;
	}
}

static void sender_write_cb(struct pipe *p, void *arg)
{
	struct sender *s = arg;

	s->write_cbs++;
	top_up(s, 2 * LOW);
	if (s->queued == TOTAL && pipe_pending(p) == 0)
		loop_stop(s->loop);
}

static void sender_event_cb(struct pipe *p, short what, void *arg)
{
	struct sender *s = arg;

	s->failed = true;
	loop_stop(s->loop);
}

static void late_cb(struct pipe *p, void *arg)
{
	((struct sender *)arg)->late_cb = true;
}

static void late_event_cb(struct pipe *p, short what, void *arg)
{
	((struct sender *)arg)->late_cb = true;
}

/* The owner also adds while a send is in flight, as a session does when the
 * next packet comes before the last one is sent: for the first half of the
 * stream; the write callback alone adds the second. */
static void add_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;

	if (s->queued < TOTAL / 2)
		top_up(s, 4 * LOW);
}

/* Stops the loop after a while: the stuck case's end. */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;

	loop_stop(s->loop);
}

/* The sending pipe on l, over fd[0] of a new socket pair with a small send
 * buffer (so that sends come back short); fd[1] is the reader's. */
static void sender_open(struct sender *s, struct loop *l, int fd[2], bool codec)
{
	int small = 16 * 1024;

	s->loop = l;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	CHECK(setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
	CHECK(evutil_make_socket_nonblocking(fd[0]) == 0);
	s->p = pipe_new(l->base, l->ring, fd[0]);
	CHECK(s->p != NULL);
	pipe_set_callbacks(s->p, NULL, sender_write_cb, sender_event_cb, s);
	pipe_set_write_low(s->p, LOW);
	if (codec)
		CHECK(pipe_set_codec(s->p, &toy_codec, NULL));
	pipe_settle(s->p);
}

static void run_send(bool ring, bool codec)
{
	struct loop l;
	int fd[2];
	pthread_t t;
	struct sender s = {0};
	struct slow_reader sr = {.limit = TOTAL, .codec = codec};

	check_case("%s%s", ring ? "ring, settled: sends on the ring" : "epoll: writev",
		   codec ? ", through a codec" : "");
	if (!loop_open(&l, ring))
		return;
	sender_open(&s, &l, fd, codec);

	/* The whole stream, then the loop ends when all of it was taken. */
	sr.fd = fd[1];
	CHECK(pthread_create(&t, NULL, slow_reader_main, &sr) == 0);
	struct timeval every = {0, 1000};
	struct event *adder = event_new(l.base, -1, EV_PERSIST, add_cb, &s);
	CHECK(adder != NULL && event_add(adder, &every) == 0);
	top_up(&s, 2 * LOW);
	loop_run(&l);
	event_free(adder);
	pthread_join(t, NULL);
	CHECK(!s.failed);
	CHECK_EQ_INT(s.queued, TOTAL);
	CHECK_EQ_INT(sr.got, TOTAL);
	CHECK(!sr.bad_byte);
	/* The callback drove the owner: past the timer's last top-up (which
	 * ends at most 4 * LOW and a piece past half the stream), each call
	 * adds at most 2 * LOW and a piece, however fast the reader reads. */
	CHECK(s.write_cbs >= (TOTAL / 2 - 4 * LOW - PIECE_MAX) / (2 * LOW + PIECE_MAX));

	/* Stuck: nobody reads, the pipe waits for room (epoll's write event, or
	 * the ring's poll after a send that found none); then it is freed. */
	struct timeval later = {0, 50 * 1000};
	struct event *timeout = event_new(l.base, -1, 0, timeout_cb, &s);
	pipe_set_callbacks(s.p, late_cb, late_cb, late_event_cb, &s);
	s.queued = 0;
	top_up(&s, 2 * LOW);
	CHECK(event_add(timeout, &later) == 0);
	loop_run(&l);
	CHECK(pipe_pending(s.p) > 0);
	pipe_free(s.p);
	event_free(timeout);
	loop_close(&l); /* runs the cancelled poll's end */
	CHECK(!s.late_cb);
	close(fd[1]);
}

static void test_send(void)
{
	run_send(false, false);
	run_send(true, false);
}

/* Ends a stalled run: if the sending is not done within WATCHDOG_S, it
 * notes that, shuts the reader's socket (the pipe's next send fails) and
 * kicks the loop until the run is over. */
#define WATCHDOG_S 20

struct watchdog {
	int kick, peer;
	atomic_bool done, fired;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	uint64_t one = 1;

	for (int i = 0; i < WATCHDOG_S * 100 && !atomic_load(&w->done); i++)
		usleep(10 * 1000);
	if (atomic_load(&w->done))
		return NULL;
	atomic_store(&w->fired, true);
	shutdown(w->peer, SHUT_RDWR);
	while (!atomic_load(&w->done)) {
		if (write(w->kick, &one, sizeof(one)) < 0)
			break;
		usleep(10 * 1000);
	}
	return NULL;
}

/* Sends that come back short, through a small socket buffer to a slow
 * reader, are followed up at once, never at the loop's tick: a ring whose
 * tick is an hour sends 4 MiB well within the watchdog's time. Before, a
 * short send waited in the same wait as the next completion, and with the
 * owner's input held back (as a session's is while its client's output is
 * full) only the tick ended that wait: 10 ms for every 256 KiB a session
 * forwarded. */
static void test_send_never_waits_for_the_tick(void)
{
	struct loop l;
	int fd[2];
	pthread_t reader, dog;
	struct sender s = {0};
	struct slow_reader sr = {.limit = TOTAL};
	struct watchdog w = {0};

	check_case("a ring with an hour's tick sends 4 MiB to a slow reader");
	if (!loop_open(&l, true))
		return;
	ring_set_tick(l.ring, 3600 * 1000);
	sender_open(&s, &l, fd, false);
	sr.fd = fd[1];
	w.kick = l.kick;
	w.peer = fd[1];
	CHECK(pthread_create(&reader, NULL, slow_reader_main, &sr) == 0);
	CHECK(pthread_create(&dog, NULL, watchdog_main, &w) == 0);
	top_up(&s, 2 * LOW);
	loop_run(&l);
	atomic_store(&w.done, true);
	pthread_join(dog, NULL);
	pthread_join(reader, NULL);
	CHECK(!atomic_load(&w.fired));
	CHECK(!s.failed);
	CHECK_EQ_INT(s.queued, TOTAL);
	CHECK_EQ_INT(sr.got, TOTAL);
	CHECK(!sr.bad_byte);
	pipe_free(s.p);
	close(fd[1]);
	loop_close(&l);
}

/* ---- moving between pipes ---- */

/* A forwarder's three cases, one per message read from pa: all of the input
 * into an empty output (the buffers swap), all of it behind output already
 * queued, and part of it (the rest stays, then follows). */
struct mover {
	struct loop *loop;
	struct pipe *pa, *pb;
	int peer_a;
	unsigned round;
	bool failed;
};

static const char *const move_msgs[] = {"first request", "second", "third, in two moves"};
/* What pb's peer reads: the messages in order, with the "<" of round two. */
#define MOVE_EXPECTED "first request<secondthird, in two moves"

static void mover_read_cb(struct pipe *p, void *arg)
{
	struct mover *m = arg;
	size_t len = evbuffer_get_length(pipe_input(p));

	if (len < strlen(move_msgs[m->round]))
		return; /* the rest is on its way */
	CHECK_EQ_INT(len, strlen(move_msgs[m->round]));
	switch (m->round) {
	case 0:
		CHECK_EQ_INT(pipe_move(m->pa, m->pb, len), len);
		CHECK_EQ_INT(evbuffer_get_length(pipe_input(m->pa)), 0);
		CHECK_EQ_INT(pipe_pending(m->pb), len);
		break;
	case 1:
		CHECK(evbuffer_add(pipe_output(m->pb), "<", 1) == 0);
		CHECK_EQ_INT(pipe_move(m->pa, m->pb, len), len);
		CHECK_EQ_INT(evbuffer_get_length(pipe_input(m->pa)), 0);
		break;
	default:
		CHECK_EQ_INT(pipe_move(m->pa, m->pb, len - 4), len - 4);
		CHECK_EQ_INT(evbuffer_get_length(pipe_input(m->pa)), 4);
		CHECK_EQ_INT(pipe_move(m->pa, m->pb, 4), 4);
		CHECK_EQ_INT(evbuffer_get_length(pipe_input(m->pa)), 0);
		break;
	}
	if (++m->round < sizeof(move_msgs) / sizeof(move_msgs[0])) {
		const char *next = move_msgs[m->round];
		CHECK(write(m->peer_a, next, strlen(next)) == (ssize_t)strlen(next));
	}
}

/* pb's output is empty: once all rounds are done, everything went out. */
static void mover_write_cb(struct pipe *p, void *arg)
{
	struct mover *m = arg;

	if (m->round == sizeof(move_msgs) / sizeof(move_msgs[0]) && pipe_pending(p) == 0)
		loop_stop(m->loop);
}

static void mover_event_cb(struct pipe *p, short what, void *arg)
{
	struct mover *m = arg;

	m->failed = true;
	loop_stop(m->loop);
}

static void mover_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mover *m = arg;

	m->failed = true;
	loop_stop(m->loop);
}

static void run_move(bool ring)
{
	struct loop l;
	int a[2], b[2];
	struct mover m = {0};
	struct timeval limit = {10, 0};
	char got[sizeof(MOVE_EXPECTED) + 16];

	check_case("%s: pipe_move swaps, appends and moves part", ring ? "ring" : "epoll");
	if (!loop_open(&l, ring))
		return;
	m.loop = &l;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
	CHECK(evutil_make_socket_nonblocking(a[0]) == 0);
	CHECK(evutil_make_socket_nonblocking(b[0]) == 0);
	m.peer_a = a[1];
	m.pa = pipe_new(l.base, l.ring, a[0]);
	m.pb = pipe_new(l.base, l.ring, b[0]);
	CHECK(m.pa != NULL && m.pb != NULL);
	pipe_set_callbacks(m.pa, mover_read_cb, NULL, mover_event_cb, &m);
	pipe_set_callbacks(m.pb, NULL, mover_write_cb, mover_event_cb, &m);
	pipe_set_write_low(m.pb, 0);
	pipe_settle(m.pa);
	pipe_settle(m.pb);
	pipe_set_reading(m.pa, true);
	struct event *timeout = evtimer_new(l.base, mover_timeout_cb, &m);
	CHECK(timeout != NULL && evtimer_add(timeout, &limit) == 0);
	CHECK(write(a[1], move_msgs[0], strlen(move_msgs[0])) == (ssize_t)strlen(move_msgs[0]));
	loop_run(&l);

	CHECK(!m.failed);
	CHECK_EQ_INT(m.round, sizeof(move_msgs) / sizeof(move_msgs[0]));
	ssize_t n = recv(b[1], got, sizeof(got) - 1, MSG_DONTWAIT);
	CHECK_EQ_INT(n, strlen(MOVE_EXPECTED));
	got[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(got, MOVE_EXPECTED);

	event_free(timeout);
	pipe_free(m.pa);
	pipe_free(m.pb);
	loop_close(&l);
	close(a[1]);
	close(b[1]);
}

static void test_move(void)
{
	run_move(false);
	run_move(true);
}

/* ---- a socket's number reused ---- */

/* On a ring, a pipe's send is prepared at the end of the loop iteration and
 * goes to the kernel with the next wait, naming the socket by its number. A
 * pipe freed in between must keep its socket open until the kernel has
 * ended the send: closed at once, a socket made before the wait could get
 * the same number and the bytes would go to that one's peer (another
 * client). Here the free and the new sockets come in a deferred step that
 * runs right after the pipe's own (which prepared the send). */
struct reuse {
	struct loop *loop;
	struct pipe *p;
	struct ring_defer step;
	int fresh[2]; /* the sockets made after the free */
	int old_fd;
};

static void reuse_step(struct ring_defer *d)
{
	struct reuse *u = container_of(d, struct reuse, step);

	pipe_free(u->p);
	u->p = NULL;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, u->fresh) == 0);
	ring_stop(u->loop->ring);
}

static void reuse_start(evutil_socket_t fd, short what, void *arg)
{
	struct reuse *u = arg;

	CHECK(evbuffer_add(pipe_output(u->p), "meant for the old peer", 22) == 0);
	ring_defer(u->loop->ring, &u->step); /* behind the pipe's flush */
}

static void test_fd_reuse(void)
{
	struct loop l;
	int fd[2];
	char buf[64];
	struct reuse u = {.loop = &l, .step = {.run = reuse_step}};

	check_case("ring: a pipe freed with a send not yet submitted");
	if (!loop_open(&l, true))
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fd) == 0);
	u.old_fd = fd[0];
	u.p = pipe_new(l.base, l.ring, fd[0]);
	CHECK(u.p != NULL);
	pipe_settle(u.p);
	struct event *start = event_new(l.base, -1, 0, reuse_start, &u);
	CHECK(start != NULL);
	event_active(start, EV_TIMEOUT, 0);
	loop_run(&l);
	event_free(start);
	loop_close(&l); /* the send and its cancel go to the kernel, and end */
	/* Whatever number the new sockets got, no byte may reach them. */
	CHECK(read(u.fresh[0], buf, sizeof(buf)) < 0);
	CHECK(read(u.fresh[1], buf, sizeof(buf)) < 0);
	close(u.fresh[0]);
	close(u.fresh[1]);
	close(fd[1]);
}

static void test_read_bound(void)
{
	run(EPOLL, false);
	run(RING_ONE_AT_A_TIME, false);
	run(RING_SETTLED, false);
}

/* ---- a codec, set on a pipe in use ---- */

/* A login in the clear, then the codec: "LOGIN" comes plain and the toy
 * codec's unit "after" right behind it, maybe in the same read. The owner
 * answers "OK" and sets the codec in the same callback; the unit already
 * read is decoded and told; "bye" goes back encoded. Then a unit of no
 * length: the pipe reads no more and says so, and the owner's answer to
 * that ("no") still goes out. */
struct switcher {
	struct loop *loop;
	struct pipe *p;
	int state; /* 0: waits for LOGIN, 1: for "after", 2: answered, 3: refused */
	short what;
};

static void switcher_read_cb(struct pipe *p, void *arg)
{
	struct switcher *w = arg;
	struct evbuffer *in = pipe_input(p);
	char got[8];

	if (w->state == 0 && evbuffer_get_length(in) >= 5) {
		CHECK_EQ_INT(evbuffer_remove(in, got, 5), 5);
		CHECK(memcmp(got, "LOGIN", 5) == 0);
		CHECK(evbuffer_add(pipe_output(p), "OK", 2) == 0);
		CHECK(pipe_set_codec(p, &toy_codec, NULL));
		w->state = 1;
		return;
	}
	if (w->state == 1 && evbuffer_get_length(in) >= 5) {
		CHECK_EQ_INT(evbuffer_get_length(in), 5);
		CHECK_EQ_INT(evbuffer_remove(in, got, 5), 5);
		CHECK(memcmp(got, "after", 5) == 0);
		CHECK(evbuffer_add(pipe_output(p), "bye", 3) == 0);
		w->state = 2;
	}
}

static void switcher_write_cb(struct pipe *p, void *arg)
{
	struct switcher *w = arg;

	if (w->state >= 2 && pipe_pending(p) == 0)
		loop_stop(w->loop);
}

static void switcher_event_cb(struct pipe *p, short what, void *arg)
{
	struct switcher *w = arg;

	w->what = what;
	if (what == (PIPE_READING | PIPE_CORRUPT)) {
		CHECK(evbuffer_add(pipe_output(p), "no", 2) == 0);
		w->state = 3;
		return;
	}
	loop_stop(w->loop);
}

static void switcher_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	loop_stop(((struct switcher *)arg)->loop);
}

static void run_switch(bool ring)
{
	struct loop l;
	int fd[2];
	struct switcher w = {0};
	struct timeval limit = {10, 0};
	static const uint8_t login[] = {'L',	    'O',	'G',	    'I',
					'N',	    5,		'a' ^ 0x5a, 'f' ^ 0x5a,
					't' ^ 0x5a, 'e' ^ 0x5a, 'r' ^ 0x5a};
	static const uint8_t answer[] = {'O', 'K', 3, 'b' ^ 0x5a, 'y' ^ 0x5a, 'e' ^ 0x5a};
	static const uint8_t corrupt[] = {2, 'h', 'i', 0};
	static const uint8_t no[] = {2, 'n' ^ 0x5a, 'o' ^ 0x5a};
	uint8_t got[sizeof(answer) + 8];

	check_case("%s: a codec set after a plain login; a unit that cannot be decoded",
		   ring ? "ring" : "epoll");
	if (!loop_open(&l, ring))
		return;
	w.loop = &l;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	CHECK(evutil_make_socket_nonblocking(fd[0]) == 0);
	w.p = pipe_new(l.base, l.ring, fd[0]);
	CHECK(w.p != NULL);
	pipe_set_callbacks(w.p, switcher_read_cb, switcher_write_cb, switcher_event_cb, &w);
	pipe_set_write_low(w.p, 0);
	pipe_set_reading(w.p, true);
	struct event *timeout = evtimer_new(l.base, switcher_timeout_cb, &w);
	CHECK(timeout != NULL && evtimer_add(timeout, &limit) == 0);
	CHECK(write(fd[1], login, sizeof(login)) == (ssize_t)sizeof(login));
	loop_run(&l);
	CHECK_EQ_INT(w.state, 2);
	ssize_t n = recv(fd[1], got, sizeof(got), MSG_DONTWAIT);
	CHECK_EQ_INT(n, sizeof(answer));
	CHECK(n == sizeof(answer) && memcmp(got, answer, sizeof(answer)) == 0);

	CHECK(write(fd[1], corrupt, sizeof(corrupt)) == (ssize_t)sizeof(corrupt));
	loop_run(&l);
	CHECK_EQ_INT(w.state, 3);
	CHECK_EQ_INT(w.what, PIPE_READING | PIPE_CORRUPT);
	CHECK_EQ_STR(pipe_error(w.p), "a unit of no length");
	n = recv(fd[1], got, sizeof(got), MSG_DONTWAIT);
	CHECK_EQ_INT(n, sizeof(no));
	CHECK(n == sizeof(no) && memcmp(got, no, sizeof(no)) == 0);

	event_free(timeout);
	pipe_free(w.p);
	loop_close(&l);
	close(fd[1]);
}

/* On a ring, output the owner adds while a send is in flight waits to be
 * encoded: the send's end must take it, though nothing else is queued. */
struct inflight {
	struct loop *loop;
	struct pipe *p;
	struct ring_defer step;
	bool done;
};

static void inflight_step(struct ring_defer *d)
{
	struct inflight *f = container_of(d, struct inflight, step);
	uint8_t more[1000];

	for (size_t i = 0; i < sizeof(more); i++)
		more[i] = byte_at(5 + i);
	CHECK(evbuffer_add(pipe_output(f->p), more, sizeof(more)) == 0);
}

static void inflight_start(evutil_socket_t fd, short what, void *arg)
{
	struct inflight *f = arg;
	uint8_t first[5];

	for (size_t i = 0; i < sizeof(first); i++)
		first[i] = byte_at(i);
	CHECK(evbuffer_add(pipe_output(f->p), first, sizeof(first)) == 0);
	ring_defer(f->loop->ring, &f->step); /* behind the pipe's flush, which sends */
}

static void inflight_write_cb(struct pipe *p, void *arg)
{
	struct inflight *f = arg;

	if (pipe_pending(p) == 0) {
		f->done = true;
		loop_stop(f->loop);
	}
}

static void inflight_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	loop_stop(((struct inflight *)arg)->loop);
}

static void run_inflight(void)
{
	struct loop l;
	int fd[2];
	struct inflight f = {.loop = &l, .step = {.run = inflight_step}};
	struct timeval limit = {10, 0};
	struct toy_reader toy = {0};
	uint8_t wire[2048], plain[2048 + UNIT_MAX];

	check_case("ring: output added while a send is in flight, through a codec");
	if (!loop_open(&l, true))
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fd) == 0);
	f.p = pipe_new(l.base, l.ring, fd[0]);
	CHECK(f.p != NULL);
	pipe_set_callbacks(f.p, NULL, inflight_write_cb, NULL, &f);
	pipe_set_write_low(f.p, 0);
	CHECK(pipe_set_codec(f.p, &toy_codec, NULL));
	pipe_settle(f.p);
	struct event *start = event_new(l.base, -1, 0, inflight_start, &f);
	struct event *timeout = evtimer_new(l.base, inflight_timeout_cb, &f);
	CHECK(start != NULL && timeout != NULL && evtimer_add(timeout, &limit) == 0);
	event_active(start, EV_TIMEOUT, 0);
	loop_run(&l);
	CHECK(f.done);
	ssize_t n = recv(fd[1], wire, sizeof(wire), 0);
	CHECK(n > 0);
	size_t got = n > 0 ? toy_feed(&toy, wire, (size_t)n, plain) : 0;
	CHECK_EQ_INT(got, 1005);
	for (size_t i = 0; i < got; i++)
		if (plain[i] != byte_at(i)) {
			CHECK(plain[i] == byte_at(i));
			break;
		}
	event_free(start);
	event_free(timeout);
	pipe_free(f.p);
	loop_close(&l);
	close(fd[1]);
}

static void test_codec(void)
{
	run(EPOLL, true);
	run(RING_ONE_AT_A_TIME, true);
	run(RING_SETTLED, true);
	run_send(false, true);
	run_send(true, true);
	run_inflight();
	run_switch(false);
	run_switch(true);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"the read bound", test_read_bound},
		{"sending", test_send},
		{"a short send is followed up at once", test_send_never_waits_for_the_tick},
		{"moving input to another pipe's output", test_move},
		{"a socket's number reused after a free", test_fd_reuse},
		{"a codec between the wire and the owner", test_codec},
	};
	return CHECK_RUN(tests);
}
