/* The worker's io_uring loop (net/ring.c) over socket pairs: receives that
 * find every buffer taken come back with -ENOBUFS and succeed when armed
 * again, cancelled requests end, a multishot receive keeps receiving until
 * cancelled or at end of file, sends take their bytes from a send buffer in
 * one piece or several and fail without a signal on a closed socket, send
 * buffers given back are taken again, a send does not wait for room nor
 * end the wait that submits it, deferred work runs in order, and
 * libevent's timers, its events activated from another thread, and those
 * activated on the loop's own thread with ring_note_activation(), run beside
 * the ring. */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "net/ring.h"

#define PAIRS 6

struct harness {
	struct event_base *base;
	int kick_fd;
	struct ring *ring;
};

/* A ring with bufs buffers, or false when this kernel has no io_uring (the
 * test then checks nothing: sluice uses epoll there, which the integration
 * tests cover). */
static bool harness_init(struct harness *h, unsigned bufs)
{
	h->base = event_base_new();
	h->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(h->base != NULL && h->kick_fd >= 0);
	h->ring = ring_create(h->base, h->kick_fd, bufs);
	if (!h->ring)
		fprintf(stderr, "no io_uring here: ring tests skipped\n");
	return h->ring != NULL;
}

static void harness_deinit(struct harness *h)
{
	ring_destroy(h->ring);
	event_base_free(h->base);
	close(h->kick_fd);
}

/* One socket pair and the receive armed on its first end. */
struct reader {
	struct ring_req req;
	struct ring_defer rearm;
	struct harness *h;
	int fd[2];
	char got[64];
	size_t len;
	int enobufs;
	bool eof, cancelled;
	int *left; /* readers still waiting; the last one stops the loop */
};

static void arm(struct reader *rd)
{
	ring_recv(rd->h->ring, &rd->req, rd->fd[0], sizeof(rd->got) - rd->len);
}

static void finish(struct reader *rd)
{
	if (--*rd->left == 0)
		ring_stop(rd->h->ring);
}

static void rearm_run(struct ring_defer *d)
{
	arm(container_of(d, struct reader, rearm));
}

static void reader_done(struct ring_req *req, int res, uint32_t flags)
{
	struct reader *rd = container_of(req, struct reader, req);
	const void *data = ring_buffer(rd->h->ring, flags);

	if (res > 0) {
		CHECK(data != NULL);
		memcpy(rd->got + rd->len, data, (size_t)res);
		rd->len += (size_t)res;
	}
	ring_buffer_return(rd->h->ring, flags);
	if (res == -ENOBUFS) {
		/* As a pipe does: armed again once the completions in hand gave their
		 * buffers back. */
		rd->enobufs++;
		ring_defer(rd->h->ring, &rd->rearm);
		return;
	}
	if (res == -ECANCELED) {
		rd->cancelled = true;
		finish(rd);
		return;
	}
	CHECK(res >= 0);
	if (res == 0)
		rd->eof = true;
	finish(rd);
}

static void reader_init(struct reader *rd, struct harness *h, int *left)
{
	memset(rd, 0, sizeof(*rd));
	rd->h = h;
	rd->left = left;
	rd->req.done = reader_done;
	rd->rearm.run = rearm_run;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, rd->fd) == 0);
}

static void reader_deinit(struct reader *rd)
{
	close(rd->fd[0]);
	close(rd->fd[1]);
}

/* Six receives, two buffers: the data is there before the loop submits
 * them, so four find no buffer at first. Every one gets its bytes. */
static void test_more_receives_than_buffers(void)
{
	struct harness h;
	struct reader rd[PAIRS];
	int left = PAIRS, enobufs = 0;

	if (!harness_init(&h, 2))
		return;
	for (int i = 0; i < PAIRS; i++) {
		char msg[16];
		reader_init(&rd[i], &h, &left);
		snprintf(msg, sizeof(msg), "hello %d", i);
		CHECK(write(rd[i].fd[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
		arm(&rd[i]);
	}
	ring_loop(h.ring);
	for (int i = 0; i < PAIRS; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "hello %d", i);
		check_case("reader %d", i);
		CHECK_EQ_INT(rd[i].len, strlen(msg));
		CHECK_EQ_MEM(rd[i].got, msg, strlen(msg));
		enobufs += rd[i].enobufs;
		reader_deinit(&rd[i]);
	}
	CHECK(enobufs > 0); /* the path was taken */
	harness_deinit(&h);
}

/* End of file, and a receive cancelled while nothing arrives. */
static void test_eof_and_cancel(void)
{
	struct harness h;
	struct reader a, b;
	int left = 2;

	if (!harness_init(&h, 4))
		return;
	reader_init(&a, &h, &left);
	reader_init(&b, &h, &left);
	arm(&a);
	arm(&b);
	shutdown(a.fd[1], SHUT_WR);
	ring_cancel(h.ring, &b.req);
	ring_loop(h.ring);
	CHECK(a.eof && a.len == 0);
	CHECK(b.cancelled);
	reader_deinit(&a);
	reader_deinit(&b);
	harness_deinit(&h);
}

/* Sends: one piece (IORING_OP_SEND) and three (SENDMSG), then one to a
 * socket whose peer is gone. */
struct sender {
	struct ring_req req;
	struct harness *h;
	int res;
};

static void sender_done(struct ring_req *req, int res, uint32_t flags)
{
	struct sender *sd = container_of(req, struct sender, req);

	sd->res = res;
	ring_stop(sd->h->ring);
}

/* Add text to buf as a chunk of its own. */
static void add_piece(struct evbuffer *buf, const char *text)
{
	struct evbuffer *piece = evbuffer_new();

	CHECK(piece != NULL && evbuffer_add(piece, text, strlen(text)) == 0);
	CHECK(evbuffer_add_buffer(buf, piece) == 0);
	evbuffer_free(piece);
}

static void test_sends(void)
{
	struct harness h;
	struct sender sd = {.req.done = sender_done, .h = &h};
	int fd[2];
	char got[32] = {0};

	if (!harness_init(&h, 4))
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0);
	struct ring_out *o = ring_out_take(h.ring);
	CHECK(o != NULL && evbuffer_get_length(o->buf) == 0);

	add_piece(o->buf, "hello");
	ring_send(h.ring, &sd.req, fd[0], o, true);
	ring_loop(h.ring);
	CHECK_EQ_INT(sd.res, 5);
	evbuffer_drain(o->buf, 5);

	add_piece(o->buf, "one ");
	add_piece(o->buf, "two ");
	add_piece(o->buf, "three");
	CHECK(evbuffer_peek(o->buf, -1, NULL, NULL, 0) == 3);
	ring_send(h.ring, &sd.req, fd[0], o, true);
	ring_loop(h.ring);
	CHECK_EQ_INT(sd.res, 13);
	CHECK(read(fd[1], got, sizeof(got)) == 18);
	CHECK(memcmp(got, "helloone two three", 18) == 0);

	/* Given back with bytes left, taken again: the same one, empty. */
	ring_out_give(h.ring, o);
	struct ring_out *again = ring_out_take(h.ring);
	CHECK(again == o && evbuffer_get_length(again->buf) == 0);

	/* The peer is gone: an error, and no SIGPIPE ends the test. */
	close(fd[1]);
	add_piece(again->buf, "late");
	ring_send(h.ring, &sd.req, fd[0], again, true);
	ring_loop(h.ring);
	CHECK(sd.res == -EPIPE || sd.res == -ECONNRESET);
	ring_out_give(h.ring, again);
	close(fd[0]);
	harness_deinit(&h);
}

/* A receive that stays armed: one request brings byte after byte, each
 * written only after the last one arrived, and stays busy until its last
 * completion: the cancel's, or the end of file's. */
struct multi {
	struct ring_req req;
	struct harness *h;
	int fd[2];
	char got[8];
	size_t len;
	int completions, final_res;
	bool cancel; /* after "abc": cancel; else end of file */
};

static void multi_done(struct ring_req *req, int res, uint32_t flags)
{
	struct multi *m = container_of(req, struct multi, req);
	const void *data = ring_buffer(m->h->ring, flags);

	if (res > 0) {
		CHECK(data != NULL && m->len + (size_t)res <= sizeof(m->got));
		memcpy(m->got + m->len, data, (size_t)res);
		m->len += (size_t)res;
	}
	ring_buffer_return(m->h->ring, flags);
	m->completions++;
	if (!req->busy) {
		m->final_res = res;
		ring_stop(m->h->ring);
		return;
	}
	CHECK(res > 0);
	if (m->len < 3)
		CHECK(write(m->fd[1], "abc" + m->len, 1) == 1);
	else if (m->cancel)
		ring_cancel(m->h->ring, req);
	else
		shutdown(m->fd[1], SHUT_WR);
}

static void test_receive_that_stays_armed(void)
{
	for (int cancel = 0; cancel < 2; cancel++) {
		struct harness h;
		struct multi m = {.req.done = multi_done, .h = &h, .cancel = cancel};

		check_case(cancel ? "cancelled" : "end of file");
		if (!harness_init(&h, 4))
			return;
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, m.fd) ==
		      0);
		if (!ring_recv_multi(h.ring, &m.req, m.fd[0])) {
			fprintf(stderr, "no multishot receive here: test skipped\n");
			harness_deinit(&h);
			return;
		}
		CHECK(write(m.fd[1], "a", 1) == 1);
		ring_loop(h.ring);
		CHECK_EQ_INT(m.len, 3);
		CHECK_EQ_MEM(m.got, "abc", 3);
		CHECK_EQ_INT(m.completions, 4); /* three bytes, one at a time, and the end */
		CHECK_EQ_INT(m.final_res, cancel ? -ECANCELED : 0);
		CHECK(!m.req.busy);
		close(m.fd[0]);
		close(m.fd[1]);
		harness_deinit(&h);
	}
}

/* Deferred work runs in the order queued, once however often queued, and
 * what it defers runs in the same pass. */
struct step {
	struct ring_defer d;
	struct harness *h;
	char *log;
	char name;
	struct step *then;
};

static void step_run(struct ring_defer *d)
{
	struct step *s = container_of(d, struct step, d);
	size_t n = strlen(s->log);

	s->log[n] = s->name;
	s->log[n + 1] = '\0';
	if (s->then)
		ring_defer(s->h->ring, &s->then->d);
	else
		ring_stop(s->h->ring);
}

static void test_defer_order(void)
{
	struct harness h;
	char log[16] = "";

	if (!harness_init(&h, 2))
		return;
	struct step c = {.d.run = step_run, .h = &h, .log = log, .name = 'c'};
	struct step b = {.d.run = step_run, .h = &h, .log = log, .name = 'b'};
	struct step a = {.d.run = step_run, .h = &h, .log = log, .name = 'a', .then = &c};
	struct step x = {.d.run = step_run, .h = &h, .log = log, .name = 'x'};
	ring_defer(h.ring, &a.d);
	ring_defer(h.ring, &x.d);
	ring_defer(h.ring, &b.d);
	ring_defer(h.ring, &a.d); /* already queued: once */
	ring_defer_cancel(&x.d);
	ring_loop(h.ring);
	CHECK_EQ_STR(log, "abc");
	harness_deinit(&h);
}

/* libevent beside the ring: a timer fires, and an event activated from
 * another thread runs (the thread kicks the ring as worker_kick does; the
 * loop's tick would find the event too, only later). */
static int fired;

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	fired++;
	ring_stop(arg);
}

struct kicker {
	struct event *ev;
	int kick_fd;
};

static void *kick_main(void *arg)
{
	struct kicker *k = arg;

	usleep(20 * 1000);
	event_active(k->ev, EV_READ, 0);
	eventfd_write(k->kick_fd, 1);
	return NULL;
}

static void test_libevent_beside_the_ring(void)
{
	struct harness h;
	struct timeval tv = {0, 20 * 1000};
	pthread_t t;

	CHECK(evthread_use_pthreads() == 0);
	if (!harness_init(&h, 2))
		return;
	struct event *timer = evtimer_new(h.base, stop_cb, h.ring);
	fired = 0;
	evtimer_add(timer, &tv);
	ring_loop(h.ring);
	CHECK_EQ_INT(fired, 1);
	event_free(timer);

	struct kicker k = {.ev = event_new(h.base, -1, 0, stop_cb, h.ring), .kick_fd = h.kick_fd};
	CHECK(pthread_create(&t, NULL, kick_main, &k) == 0);
	ring_loop(h.ring);
	pthread_join(t, NULL);
	CHECK_EQ_INT(fired, 2);
	event_free(k.ev);
	harness_deinit(&h);
}

/* Callbacks that keep activating each other (as a TLS bufferevent's reader
 * does while its session cannot take the input) must not keep the ring's
 * completions from being handled. */
static long spins;

static void spin_cb(evutil_socket_t fd, short what, void *arg)
{
	spins++;
	event_active(*(struct event **)arg, EV_TIMEOUT, 0);
}

static void test_busy_base_does_not_starve_the_ring(void)
{
	struct harness h;
	struct reader rd;
	int left = 1;
	struct event *spin;

	if (!harness_init(&h, 2))
		return;
	spin = event_new(h.base, -1, 0, spin_cb, &spin);
	event_active(spin, EV_TIMEOUT, 0);
	reader_init(&rd, &h, &left);
	arm(&rd);
	CHECK(write(rd.fd[1], "x", 1) == 1);
	ring_loop(h.ring); /* ends when the reader got its byte */
	CHECK_EQ_INT(rd.len, 1);
	CHECK(spins > 0);
	event_free(spin);
	reader_deinit(&rd);
	harness_deinit(&h);
}

/* An event that a completion's owner makes active, saying so with
 * ring_note_activation(), runs at the loop's next turn, before the next
 * completion: here the second reader's byte, written by the first reader's
 * owner along with the activation. Without the note the loop would not look
 * at the base until its next tick, and the byte would come first. */
static struct event *noted_ev;
static struct reader *second;
static size_t second_len_at_event;

static void noted_cb(evutil_socket_t fd, short what, void *arg)
{
	second_len_at_event = second->len;
}

static void first_done(struct ring_req *req, int res, uint32_t flags)
{
	reader_done(req, res, flags);
	event_active(noted_ev, EV_TIMEOUT, 0);
	ring_note_activation();
	CHECK(write(second->fd[1], "y", 1) == 1);
	arm(second);
}

static void test_noted_activation_runs_before_the_next_completion(void)
{
	struct harness h;
	struct reader a, b;
	int left = 2;

	if (!harness_init(&h, 4))
		return;
	noted_ev = event_new(h.base, -1, 0, noted_cb, NULL);
	second = &b;
	second_len_at_event = SIZE_MAX;
	reader_init(&a, &h, &left);
	reader_init(&b, &h, &left);
	a.req.done = first_done;
	arm(&a);
	CHECK(write(a.fd[1], "x", 1) == 1);
	ring_loop(h.ring); /* ends when both readers got their byte */
	CHECK_EQ_INT(a.len, 1);
	CHECK_EQ_INT(b.len, 1);
	CHECK_EQ_INT(second_len_at_event, 0);
	event_free(noted_ev);
	reader_deinit(&a);
	reader_deinit(&b);
	harness_deinit(&h);
}

/* A send does not wait for room, and the wait that submits it goes on past
 * its completion. Into a full socket, a send ends with -EAGAIN at once (a
 * timer ends the loop if it waits instead). With room, a send and a receive
 * whose byte is written only once the send's bytes arrived (so after the
 * submission) are handled in one wait: the work the send's completion
 * defers runs after the receive's completion. Had the wait ended with the
 * send's completion, that work would run first. The loop's 10 ms timer also
 * ends a wait, so a writer thread the machine delays that long would make
 * one try fail: one of five tries must succeed. */
struct pairing {
	struct ring_req send, recv;
	struct ring_defer after_send;
	struct harness *h;
	int out[2], in[2]; /* the send's socket pair and the receive's */
	int send_res, recv_res;
	bool deferred, recv_before_defer;
};

static void pairing_send_done(struct ring_req *req, int res, uint32_t flags)
{
	struct pairing *pr = container_of(req, struct pairing, send);

	pr->send_res = res;
	ring_defer(pr->h->ring, &pr->after_send);
}

static void pairing_after_send(struct ring_defer *d)
{
	struct pairing *pr = container_of(d, struct pairing, after_send);

	pr->deferred = true;
	pr->recv_before_defer = pr->recv_res != 0;
	if (pr->recv_res)
		ring_stop(pr->h->ring);
}

static void pairing_recv_done(struct ring_req *req, int res, uint32_t flags)
{
	struct pairing *pr = container_of(req, struct pairing, recv);

	pr->recv_res = res;
	ring_buffer_return(pr->h->ring, flags);
	if (pr->deferred)
		ring_stop(pr->h->ring);
}

/* The peer: once the send's bytes are here, the receive's byte goes out. */
static void *answer_main(void *arg)
{
	struct pairing *pr = arg;
	char got[4];

	CHECK(read(pr->out[1], got, sizeof(got)) == (ssize_t)sizeof(got));
	CHECK(write(pr->in[1], "z", 1) == 1);
	return NULL;
}

static bool send_then_receive(struct harness *h)
{
	struct pairing pr = {.send.done = pairing_send_done,
			     .recv.done = pairing_recv_done,
			     .after_send.run = pairing_after_send,
			     .h = h};
	struct ring_out *o = ring_out_take(h->ring);
	pthread_t t;

	CHECK(o != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pr.out) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pr.in) == 0);
	CHECK(evutil_make_socket_nonblocking(pr.out[0]) == 0);
	CHECK(evutil_make_socket_nonblocking(pr.in[0]) == 0);
	add_piece(o->buf, "ping");
	ring_recv(h->ring, &pr.recv, pr.in[0], 16);
	ring_send(h->ring, &pr.send, pr.out[0], o, true);
	CHECK(pthread_create(&t, NULL, answer_main, &pr) == 0);
	ring_loop(h->ring);
	pthread_join(t, NULL);
	CHECK_EQ_INT(pr.send_res, 4);
	CHECK_EQ_INT(pr.recv_res, 1);
	CHECK(pr.deferred);
	ring_out_give(h->ring, o);
	for (int i = 0; i < 2; i++) {
		close(pr.out[i]);
		close(pr.in[i]);
	}
	return pr.recv_before_defer;
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	ring_stop(arg);
}

static void test_sends_do_not_wait(void)
{
	struct harness h;
	struct sender sd = {.req.done = sender_done, .h = &h};
	struct timeval limit = {5, 0};
	int full[2];
	char junk[4096];

	if (!harness_init(&h, 4))
		return;
	struct event *guard = evtimer_new(h.base, guard_cb, h.ring);
	CHECK(guard != NULL && evtimer_add(guard, &limit) == 0);

	check_case("a send into a full socket");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, full) == 0);
	memset(junk, 'j', sizeof(junk));
	while (write(full[0], junk, sizeof(junk)) > 0)
		;
	CHECK(errno == EAGAIN);
	struct ring_out *o = ring_out_take(h.ring);
	CHECK(o != NULL);
	add_piece(o->buf, "no room");
	sd.res = 1;
	ring_send(h.ring, &sd.req, full[0], o, true);
	ring_loop(h.ring);
	CHECK_EQ_INT(sd.res, -EAGAIN);
	ring_out_give(h.ring, o);
	close(full[0]);
	close(full[1]);
	event_free(guard);

	check_case("a send and a receive that came after it, in one wait");
	int tries = 0;
	while (tries < 5 && !send_then_receive(&h))
		tries++;
	CHECK(tries < 5);
	harness_deinit(&h);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"more receives than buffers", test_more_receives_than_buffers},
		{"end of file and cancel", test_eof_and_cancel},
		{"a receive that stays armed", test_receive_that_stays_armed},
		{"sends", test_sends},
		{"deferred work", test_defer_order},
		{"libevent beside the ring", test_libevent_beside_the_ring},
		{"a busy base does not starve the ring", test_busy_base_does_not_starve_the_ring},
		{"a noted activation runs before the next completion",
		 test_noted_activation_runs_before_the_next_completion},
		{"sends do not wait", test_sends_do_not_wait},
	};
	return CHECK_RUN(tests);
}
