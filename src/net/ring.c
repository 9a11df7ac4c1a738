/*
 * The worker's io_uring: requests, provided receive buffers, deferred work,
 * and the loop that waits in io_uring_enter() and runs libevent beside it.
 * See ring.h.
 */
#include "net/ring.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <liburing.h>

#include "clock.h"
#include "log.h"

/* Submission queue size; the completion queue is twice that. A full
 * submission queue is flushed with one extra io_uring_enter(). */
#define RING_ENTRIES 1024
#define RING_BGID    0
/* How long ring_destroy() waits for the last requests to end. */
#define RING_DRAIN_MS 1000

struct ring {
	struct io_uring uring;
	struct event_base *base;
	int epoll_fd;	       /* the base's own; polled on the ring */
	struct ring_req epoll; /* that poll */
	int kick_fd;	       /* the caller's eventfd; read on the ring */
	struct ring_req kick;  /* that read */
	uint64_t kick_count;   /* its buffer */
	bool base_due;	       /* either completed: run the base */
	struct ring_req tick;  /* the loop's timeout (wait_once()) */
	struct __kernel_timespec tick_ts; /* its time */
	unsigned tick_ms;		  /* RING_TICK_MS, unless a test set another */
	bool maybe_active;     /* ring_note_activation() since the base was looked at */
	struct event *brk;     /* ends a run of the base (run_base()) */
	int brk_passes;
	struct io_uring_buf_ring *bufs;
	unsigned n_bufs;
	char *buf_mem;
	unsigned inflight; /* requests with an owner not yet completed */
	unsigned sends; /* counted sends (ring_send's whole) whose completion was not handled yet */
	struct list defers;
	struct list spare_outs; /* ring_out */
	unsigned n_spare_outs;
	bool no_multi; /* the kernel refused a multishot receive */
	bool stopping;
	bool uring_up, bufs_up;
};

/* The ring whose loop this thread runs, for ring_note_activation(). */
static _Thread_local struct ring *this_ring;
_Thread_local uint64_t loop_clock_us;

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* First run: queue again, behind what the run's own epoll_wait() found ready;
 * second: end the run. */
static void break_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ring *r = arg;

	if (r->brk_passes++ == 0)
		event_active(r->brk, EV_TIMEOUT, 0);
	else
		event_base_loopbreak(r->base);
}

/* Run the callbacks the base has ready, and those its epoll descriptor has,
 * once. EVLOOP_NONBLOCK alone returns only when no callback is left ready,
 * never while callbacks keep activating each other (a TLS bufferevent
 * re-triggers its reader while the session cannot take its input yet): the
 * ring's completions would wait for ever. The break event ends the run
 * behind what was ready. */
static void run_base(struct ring *r)
{
	r->brk_passes = 0;
	event_active(r->brk, EV_TIMEOUT, 0);
	event_base_loop(r->base, EVLOOP_NONBLOCK);
}

/* libevent does not say which epoll descriptor a base waits on. Find it: let
 * the base watch a fresh eventfd, then look in /proc/self/fdinfo for the
 * eventpoll descriptor whose interest list holds that eventfd (matched by
 * inode, so a descriptor number reused meanwhile cannot fool it). -1 when
 * the base uses another method or none is found. */
static int base_epoll_fd(struct event_base *base)
{
	int found = -1;
	struct stat st;

	if (strcmp(event_base_get_method(base), "epoll") != 0)
		return -1;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return -1;
	struct event *ev = event_new(base, efd, EV_READ, noop_cb, NULL);
	DIR *dir = opendir("/proc/self/fdinfo");
	if (fstat(efd, &st) < 0 || !ev || event_add(ev, NULL) < 0 || !dir)
		goto out;
	struct dirent *de;
	while (found < 0 && (de = readdir(dir))) {
		char path[64], line[256];
		int fd = atoi(de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == efd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			int tfd;
			unsigned long ino;
			if (sscanf(line, "tfd: %d events: %*x data: %*x pos:%*d ino:%lx", &tfd,
				   &ino) == 2 &&
			    tfd == efd && ino == (unsigned long)st.st_ino) {
				found = fd;
				break;
			}
		}
		fclose(f);
	}
out:
	if (dir)
		closedir(dir);
	if (ev)
		event_free(ev);
	close(efd);
	return found;
}

/* A submission entry; when the queue is full, what it holds is submitted first. */
static struct io_uring_sqe *get_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	while (!sqe) {
		io_uring_submit(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	return sqe;
}

static void track(struct ring *r, struct io_uring_sqe *sqe, struct ring_req *req)
{
	BUG_ON(req->busy);
	io_uring_sqe_set_data(sqe, req);
	req->busy = true;
	req->multi = false;
	req->send = false;
	r->inflight++;
}

static void give_buffer(struct ring *r, unsigned bid)
{
	io_uring_buf_ring_add(r->bufs, r->buf_mem + (size_t)bid * RING_BUF_SIZE, RING_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(r->n_bufs), 0);
	io_uring_buf_ring_advance(r->bufs, 1);
}

/* The epoll poll is armed again after the base ran, the kick read at once. */
static void epoll_done(struct ring_req *req, int res, uint32_t flags)
{
	struct ring *r = container_of(req, struct ring, epoll);

	r->base_due = true;
}

static void arm_epoll(struct ring *r)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_poll_add(sqe, r->epoll_fd, POLLIN);
	track(r, sqe, &r->epoll);
}

static void arm_kick(struct ring *r)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_read(sqe, r->kick_fd, &r->kick_count, sizeof(r->kick_count), 0);
	track(r, sqe, &r->kick);
}

static void kick_done(struct ring_req *req, int res, uint32_t flags)
{
	struct ring *r = container_of(req, struct ring, kick);

	r->base_due = true;
	if (!r->stopping && res != -ECANCELED)
		arm_kick(r);
}

/* The loop's timeout is a timer request, not a timed wait: liburing's timed
 * wait goes through its generic wait path, about 130 instructions, and the
 * loop waits up to four times a query. One timer is armed at a time, when a
 * wait must end by a deadline and none is armed; the deadline only moves
 * later, so a timer armed before may end early, and the loop then turns once
 * more. Its completion needs no action: the loop looks at the clock. */
static void tick_done(struct ring_req *req, int res, uint32_t flags)
{
}

static bool setup_buffers(struct ring *r)
{
	struct io_uring_buf_reg reg = {0};
	size_t ring_size = r->n_bufs * sizeof(struct io_uring_buf);

	r->bufs = mmap(NULL, ring_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (r->bufs == MAP_FAILED) {
		r->bufs = NULL;
		return false;
	}
	r->buf_mem = malloc((size_t)r->n_bufs * RING_BUF_SIZE);
	if (!r->buf_mem)
		return false;
	reg.ring_addr = (uint64_t)(uintptr_t)r->bufs;
	reg.ring_entries = r->n_bufs;
	reg.bgid = RING_BGID;
	if (io_uring_register_buf_ring(&r->uring, &reg, 0) != 0)
		return false;
	r->bufs_up = true;
	io_uring_buf_ring_init(r->bufs);
	for (unsigned i = 0; i < r->n_bufs; i++)
		give_buffer(r, i);
	return true;
}

struct ring *ring_create(struct event_base *base, int kick_fd, unsigned bufs)
{
	struct io_uring_params p;
	struct ring *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return NULL;
	BUG_ON(bufs == 0 || bufs > 32768 || (bufs & (bufs - 1)));
	r->base = base;
	r->tick_ms = RING_TICK_MS;
	r->kick_fd = kick_fd;
	r->n_bufs = bufs;
	list_init(&r->defers);
	list_init(&r->spare_outs);
	r->epoll.done = epoll_done;
	r->kick.done = kick_done;
	r->tick.done = tick_done;
	/* Task work of this ring runs only in our own io_uring_enter(), the one
	 * that waits: completions never interrupt the thread elsewhere. Older
	 * kernels lack that; the ring still works without it. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(RING_ENTRIES, &r->uring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(RING_ENTRIES, &r->uring, &p);
	}
	if (ret < 0) {
		log_info("ring", "io_uring is not available (%s): using epoll", strerror(-ret));
		goto fail;
	}
	r->uring_up = true;
	r->brk = event_new(base, -1, 0, break_cb, r);
	if (!r->brk) {
		log_info("ring", "out of memory: using epoll");
		goto fail;
	}
	/* Waiting with a timeout in the same call needs EXT_ARG (5.11). */
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		log_info("ring", "io_uring cannot wait with a timeout here: using epoll");
		goto fail;
	}
	if (!setup_buffers(r)) {
		log_info("ring", "io_uring has no provided buffer rings here: using epoll");
		goto fail;
	}
	r->epoll_fd = base_epoll_fd(base);
	if (r->epoll_fd < 0) {
		log_info("ring", "cannot find the event base's epoll descriptor: using epoll");
		goto fail;
	}
	arm_epoll(r);
	arm_kick(r);
	return r;
fail:
	ring_destroy(r);
	return NULL;
}

/* Run what was deferred, and what that defers in turn, in order. */
static void run_defers(struct ring *r)
{
	while (!list_empty(&r->defers)) {
		struct ring_defer *d = list_entry(r->defers.next, struct ring_defer, link);
		ring_defer_cancel(d);
		d->run(d);
	}
}

/* The next completion in the ring's memory, or NULL. Not io_uring_peek_cqe():
 * finding none, that one goes on into liburing's wait path, which may enter
 * the kernel to run task work. Here, what is not there yet is for the wait. */
static struct io_uring_cqe *next_cqe(struct ring *r)
{
	struct io_uring_cq *cq = &r->uring.cq;

	if (!io_uring_cq_ready(&r->uring))
		return NULL;
	return &cq->cqes[*cq->khead & cq->ring_mask]; /* plain entries: no IORING_SETUP_CQE32 */
}

/* Hand each completion to its request's owner. The entry is consumed first:
 * an owner may submit, and free itself, from done. A request is done with at
 * a completion without IORING_CQE_F_MORE. A kernel without multishot
 * receives refuses one with -EINVAL: its owner is told -EAGAIN, to arm
 * again, and ring_recv_multi() says no from then on. */
static void handle_completions(struct ring *r)
{
	struct io_uring_cqe *cqe;

	while ((cqe = next_cqe(r))) {
		struct ring_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		io_uring_cqe_seen(&r->uring, cqe);
		if (!req)
			continue; /* a cancel's own completion */
		if (!(flags & IORING_CQE_F_MORE)) {
			if (req->multi && res == -EINVAL) {
				r->no_multi = true;
				res = -EAGAIN;
			}
			req->busy = false;
			r->inflight--;
			if (req->send)
				r->sends--;
		}
		req->done(req, res, flags);
	}
}

/* Submit what is queued and wait up to ms for a completion (0: not at all),
 * in one system call; then hand out what completed. The timeout is the
 * loop's timer (tick_done). Each send not yet handled completes by the end
 * of the submission, if it has not before (MSG_DONTWAIT). The counted ones
 * (ring_send's whole) need nothing after them, so the wait is for one
 * completion more than those: it ends with something new, or when the
 * loop's timer fires, which ends any wait. Any other send may come out
 * short and need a follow-up at once, so its completion ends the wait. */
static void wait_once(struct ring *r, uint64_t ms)
{
	if (ms == 0) {
		io_uring_submit_and_get_events(&r->uring);
	} else {
		if (!r->tick.busy) {
			struct io_uring_sqe *sqe = get_sqe(r);

			r->tick_ts.tv_sec = (long long)(ms / 1000);
			r->tick_ts.tv_nsec = (long long)(ms % 1000) * 1000000;
			io_uring_prep_timeout(sqe, &r->tick_ts, 0, 0);
			track(r, sqe, &r->tick);
		}
		io_uring_submit_and_wait(&r->uring, 1 + r->sends);
	}
	loop_clock_us = mono_us();
	handle_completions(r);
}

void ring_note_activation(void)
{
	if (this_ring)
		this_ring->maybe_active = true;
}

/* Whether the base has callbacks ready; asked of libevent only after a
 * ring_note_activation(), and again while the answer is yes (until a run of
 * the base takes them). */
static bool base_active(struct ring *r)
{
	if (!r->maybe_active)
		return false;
	r->maybe_active = event_base_get_num_events(r->base, EVENT_BASE_COUNT_ACTIVE) > 0;
	return r->maybe_active;
}

void ring_loop(struct ring *r)
{
	loop_clock_us = mono_us();
	uint64_t ran = loop_clock_us / 1000;

	this_ring = r;
	r->maybe_active = true; /* events activated before the loop started */
	r->stopping = false;
	while (!r->stopping) {
		run_defers(r);
		if (r->stopping)
			break;
		/* As of the last wakeup: the work since then is short. */
		uint64_t now = loop_clock_us / 1000;
		bool active = base_active(r);
		if (r->base_due || active || now - ran >= r->tick_ms) {
			r->base_due = false;
			run_base(r);
			ran = now;
			if (!r->epoll.busy)
				arm_epoll(r);
			run_defers(r);
			if (r->stopping)
				break;
			/* Callbacks of the run may have activated others (a TLS
			 * bufferevent re-triggering its reader). */
			r->maybe_active = true;
			active = base_active(r);
		}
		/* Until the next tick at most, and not at all while libevent
		 * has callbacks ready. */
		uint64_t since = now - ran;
		wait_once(r, active || since >= r->tick_ms ? 0 : r->tick_ms - since);
	}
	this_ring = NULL;
	loop_clock_us = 0;
}

void ring_set_tick(struct ring *r, unsigned ms)
{
	r->tick_ms = ms ? ms : RING_TICK_MS;
}

void ring_stop(struct ring *r)
{
	r->stopping = true;
}

void ring_recv(struct ring *r, struct ring_req *req, int fd, size_t max)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_recv(sqe, fd, NULL, max < RING_BUF_SIZE ? max : RING_BUF_SIZE, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	track(r, sqe, req);
}

bool ring_recv_multi(struct ring *r, struct ring_req *req, int fd)
{
	if (r->no_multi)
		return false;
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	track(r, sqe, req);
	req->multi = true;
	return true;
}

const void *ring_buffer(struct ring *r, uint32_t flags)
{
	if (!(flags & IORING_CQE_F_BUFFER))
		return NULL;
	return r->buf_mem + (size_t)(flags >> IORING_CQE_BUFFER_SHIFT) * RING_BUF_SIZE;
}

void ring_buffer_return(struct ring *r, uint32_t flags)
{
	if (flags & IORING_CQE_F_BUFFER)
		give_buffer(r, flags >> IORING_CQE_BUFFER_SHIFT);
}

struct ring_out *ring_out_take(struct ring *r)
{
	if (!list_empty(&r->spare_outs)) {
		struct ring_out *o = list_entry(r->spare_outs.next, struct ring_out, link);
		list_remove(&o->link);
		r->n_spare_outs--;
		return o;
	}
	struct ring_out *o = calloc(1, sizeof(*o));
	if (o && !(o->buf = evbuffer_new())) {
		free(o);
		o = NULL;
	}
	return o;
}

static void out_free(struct ring_out *o)
{
	evbuffer_free(o->buf);
	free(o);
}

void ring_out_give(struct ring *r, struct ring_out *o)
{
	if (r->n_spare_outs >= RING_SPARE_OUTS) {
		out_free(o);
		return;
	}
	size_t left = evbuffer_get_length(o->buf);
	if (left)
		evbuffer_drain(o->buf, left);
	list_append(&r->spare_outs, &o->link);
	r->n_spare_outs++;
}

void ring_send(struct ring *r, struct ring_req *req, int fd, struct ring_out *o, bool whole)
{
	struct evbuffer_iovec v[RING_SEND_IOV];
	struct io_uring_sqe *sqe = get_sqe(r);
	int n = evbuffer_peek(o->buf, -1, NULL, v, RING_SEND_IOV);

	if (n > RING_SEND_IOV)
		n = RING_SEND_IOV;
	for (int i = 0; i < n; i++) {
		o->iov[i].iov_base = v[i].iov_base;
		o->iov[i].iov_len = v[i].iov_len;
	}
	/* MSG_DONTWAIT: the kernel completes the send while it submits it,
	 * with -EAGAIN when there is no room, instead of polling for room
	 * itself (wait_once counts on that). */
	if (n == 1) {
		io_uring_prep_send(sqe, fd, o->iov[0].iov_base, o->iov[0].iov_len,
				   MSG_NOSIGNAL | MSG_DONTWAIT);
	} else {
		o->msg = (struct msghdr){.msg_iov = o->iov, .msg_iovlen = (size_t)n};
		io_uring_prep_sendmsg(sqe, fd, &o->msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	track(r, sqe, req);
	req->send = whole; /* counted: see wait_once */
	if (whole)
		r->sends++;
}

void ring_poll_out(struct ring *r, struct ring_req *req, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_poll_add(sqe, fd, POLLOUT);
	track(r, sqe, req);
}

void ring_cancel(struct ring *r, struct ring_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_cancel(sqe, req, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

void ring_defer(struct ring *r, struct ring_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	list_append(&r->defers, &d->link);
}

void ring_defer_cancel(struct ring_defer *d)
{
	if (!d->queued)
		return;
	d->queued = false;
	list_remove(&d->link);
}

/* Requests whose owners wait for their completion: all but the loop's own
 * timer, which each wait_once() arms again. */
static unsigned owned_inflight(const struct ring *r)
{
	return r->inflight - (r->tick.busy ? 1u : 0u);
}

void ring_destroy(struct ring *r)
{
	if (!r)
		return;
	if (r->uring_up) {
		/* The owners of requests still in flight (pipes freed meanwhile)
		 * wait for their completions to free themselves: give them that. */
		if (r->epoll.busy)
			ring_cancel(r, &r->epoll);
		if (r->kick.busy)
			ring_cancel(r, &r->kick);
		uint64_t until = mono_ms() + RING_DRAIN_MS;
		while (owned_inflight(r) > 0 && mono_ms() < until) {
			run_defers(r);
			wait_once(r, RING_TICK_MS);
		}
		if (owned_inflight(r) > 0)
			log_warn("ring", "%u requests did not end before the ring closed",
				 owned_inflight(r));
		if (r->bufs_up)
			io_uring_unregister_buf_ring(&r->uring, RING_BGID);
		io_uring_queue_exit(&r->uring);
	}
	if (r->brk)
		event_free(r->brk);
	if (r->bufs)
		munmap(r->bufs, r->n_bufs * sizeof(struct io_uring_buf));
	while (!list_empty(&r->spare_outs)) {
		struct ring_out *o = list_entry(r->spare_outs.next, struct ring_out, link);
		list_remove(&o->link);
		out_free(o);
	}
	free(r->buf_mem);
	free(r);
}
