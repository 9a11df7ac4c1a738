/*
 * A socket with its buffers: reads straight into the input, writes as soon
 * as the owner's callback returns, epoll interest changed only for
 * backpressure and for a socket that would block. See pipe.h.
 */
#include "net/pipe.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "net/ring.h"

/* One read takes what the kernel has, up to a size that grows while reads
 * fill it (a large result) and falls back when they do not (requests and
 * small answers): few system calls for bulk data, small buffers otherwise. */
#define READ_MIN 4096
#define READ_MAX (256 * 1024)

/* On a ring, a settled pipe keeps one receive armed across reads (multishot)
 * while its owner keeps up: less than one receive buffer of input unread,
 * and a read bound, if any, of at least MULTI_MIN_BOUND. At the end of a
 * loop iteration in which the owner fell behind or stopped reading, it is
 * cancelled (before the next wait), and receives go one at a time again,
 * each asking for at most the room left below the bound. So the bound is
 * passed, if at all, by what arrived in the one wait before that. */
#define MULTI_MAX_UNREAD RING_BUF_SIZE
#define MULTI_MIN_BOUND	 (4 * RING_BUF_SIZE)

/* A codec and the owner's buffers, between it and the wire's (in and out,
 * or the TLS layer's). watch: plain_changed on in, only while it is held at
 * the bound with encoded input left. */
struct pipe_layer {
	const struct pipe_codec *codec;
	void *arg;
	struct evbuffer *in, *out;
	struct evbuffer_cb_entry *watch;
};

struct pipe {
	struct event_base *base;
	struct ring *ring; /* NULL: epoll through libevent events */
	int fd;		   /* -1 before pipe_connect; owned by tls in TLS mode */

	pipe_data_cb read_cb, write_cb;
	pipe_event_cb event_cb;
	void *arg;

	/* Plain mode. */
	struct evbuffer *in, *out;
	struct evbuffer_cb_entry *in_watch; /* in_changed on in: only while held at the bound */
	struct event *rev;   /* EV_READ | EV_PERSIST */
	struct event *wev;   /* EV_WRITE | EV_PERSIST: armed only while the socket would block */
	struct event *later; /* no fd: runs the deferred work (todo) on epoll */
	bool rev_on, wev_on, flush_on;
	bool connecting;
	bool eof;    /* the peer closed its side: nothing more to read */
	bool refused; /* the codec refused the input: nothing more is read */
	bool broken; /* an error was reported: no more I/O either way */
	size_t read_size;

	/* Plain mode on a ring: the receive and the write-readiness poll in flight.
	 * rev_on and wev_on say what is wanted; a request no longer wanted is left
	 * to complete. What a receive brings while the owner does not read is
	 * kept, and told once reading is on again. */
	struct ring_req recv, poll, send;
	struct ring_out *sending; /* a send's bytes, from its start until all are sent */
	size_t unsent;		  /* bytes in sending->buf */
	struct ring_defer defer;  /* runs the deferred work (todo) on a ring */
	uint8_t todo;		  /* DO_*: work for once the running callback has returned */
	bool unseen;		  /* input the owner was not told of */
	int late;    /* PIPE_EOF or PIPE_ERROR seen while not reading; 0: none */
	bool zombie; /* freed by the owner; waits for its requests to end */
	bool settled;	     /* no TLS will start: a receive may stay armed */
	bool recv_cancelled; /* a receive that stays armed is being cancelled */

	/* TLS mode: a filter bufferevent over a socket bufferevent. */
	struct bufferevent *tls;

	/* With a codec (out of line: few pipes have one). */
	struct pipe_layer *layer;

	bool reading; /* the owner wants input */
	size_t bound; /* stop reading at this much unread input; 0: never */
	size_t low;   /* write callback at or below this much queued */
	char error[160];
};

/* ---- plain mode ---------------------------------------------------------------------- */

/* Work for once the running callback has returned: the end of the loop
 * iteration on a ring, the flush event's turn on epoll. */
#define DO_ARM	  0x1 /* arm the receive, or cancel one that stays armed (ring) */
#define DO_FLUSH  0x2 /* write out what the owner queued */
#define DO_NOTIFY 0x4 /* tell input or an end that came while the owner did not read */
#define DO_DECODE 0x8 /* decode input that waited for the owner to drain its own */

static void defer_do(struct pipe *p, uint8_t what)
{
	p->todo |= what;
	if (p->ring)
		ring_defer(p->ring, &p->defer);
	else
		event_active(p->later, EV_TIMEOUT, 0);
}

/* The largest send that the loop's wait counts on the kernel taking whole
 * (ring_send): far below what a connected loopback or LAN socket's buffer
 * takes, and above a typical response. */
#define SEND_WHOLE_MAX (16 * 1024)

/* On a ring, a settled pipe sends there too (see send_out). */
static bool sends_on_ring(const struct pipe *p)
{
	return p->ring && p->settled && !p->tls;
}

/* The bound of the wire's input: the owner's, or with a codec the codec's
 * (the owner's bound is then on its own input: see decode_in). */
static size_t wire_bound(const struct pipe *p)
{
	return p->layer ? p->layer->codec->wire_bound : p->bound;
}

/* Reading is wanted while the owner reads, the peer may still send and the input (unread
 * bytes of it) is below the bound, or held there unwatched: see watch_drain. With a codec,
 * while the codec takes input and the wire's input is below the codec's bound. */
static bool want_read(const struct pipe *p, size_t unread)
{
	if (!p->reading || p->connecting || p->eof || p->broken || p->tls || p->fd < 0 ||
	    !(p->ring || p->rev))
		return false;
	if (p->layer)
		return !p->refused && unread < p->layer->codec->wire_bound;
	return p->bound == 0 || unread < p->bound || !p->in_watch;
}

static void in_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

/* Input held at the bound waits for the owner to drain it, and only then is
 * the input watched (in_changed): a callback on it would otherwise run at
 * every receive and every drain. Out of memory for the watch, the pipe reads
 * on past the bound rather than stall. With a codec, the pipe drains the
 * wire's input itself (decode_in) and needs no watch there. */
static void watch_drain(struct pipe *p, size_t unread)
{
	bool held = !p->layer && p->bound && unread >= p->bound;

	if (held && !p->in_watch) {
		p->in_watch = evbuffer_add_cb(p->in, in_changed, p);
		if (!p->in_watch)
			log_warn("pipe", "out of memory: reading on past the read bound");
	} else if (!held && p->in_watch) {
		/* May run inside in_changed: libevent allows a callback to remove itself. */
		evbuffer_remove_cb_entry(p->in, p->in_watch);
		p->in_watch = NULL;
	}
}

/* Put the read event in or out of the loop (epoll), or arm the receive (ring). */
static void update_read(struct pipe *p)
{
	size_t unread = p->tls ? 0 : evbuffer_get_length(p->in);

	if (!p->tls)
		watch_drain(p, unread);
	bool want = want_read(p, unread);

	if (p->ring) {
		/* Armed before the next wait, if still wanted then; one that stays
		 * armed is cancelled then if no longer wanted. */
		if (want ? !p->recv.busy : p->recv.busy && p->recv.multi)
			defer_do(p, DO_ARM);
		p->rev_on = want;
		return;
	}
	if (want == p->rev_on)
		return;
	if (want)
		event_add(p->rev, NULL);
	else
		event_del(p->rev);
	p->rev_on = want;
}

static void set_write_wait(struct pipe *p, bool on)
{
	if (p->ring) {
		if (on && !p->poll.busy)
			ring_poll_out(p->ring, &p->poll, p->fd);
		p->wev_on = on;
		return;
	}
	if (on == p->wev_on)
		return;
	if (on)
		event_add(p->wev, NULL);
	else
		event_del(p->wev);
	p->wev_on = on;
}

/* Tell the owner of an end: an end of file (what has PIPE_EOF) only that; an error
 * (PIPE_ERROR, its reason in p->error) also stops all I/O. */
static void tell_end(struct pipe *p, short what)
{
	if (what & PIPE_ERROR) {
		p->broken = true;
		update_read(p);
		set_write_wait(p, false);
	}
	if (p->event_cb)
		p->event_cb(p, what, p->arg);
}

/* Stop all I/O and tell the owner. what: PIPE_ERROR | PIPE_READING or PIPE_WRITING. */
static void broken(struct pipe *p, short what, int err)
{
	snprintf(p->error, sizeof(p->error), "%s", strerror(err));
	tell_end(p, what);
}

/* ---- the codec ---------------------------------------------------------------------- */

/* The wire's buffers: the socket's, or the TLS layer's plain side. */
static struct evbuffer *wire_input(struct pipe *p)
{
	return p->tls ? bufferevent_get_input(p->tls) : p->in;
}

static struct evbuffer *wire_output(struct pipe *p)
{
	return p->tls ? bufferevent_get_output(p->tls) : p->out;
}

/* The owner drained its input held at the bound: decode more. */
static void plain_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct pipe *p = arg;

	if (info->n_deleted)
		defer_do(p, DO_DECODE);
}

/* The owner's input held at the bound, with encoded input left, waits for
 * the owner to drain it: only then is it watched (plain_changed), as the
 * wire's input is without a codec (watch_drain). False when out of memory
 * for the watch. */
static bool watch_plain(struct pipe *p)
{
	bool held = p->bound && evbuffer_get_length(p->layer->in) >= p->bound &&
		    evbuffer_get_length(wire_input(p)) > 0;

	if (held && !p->layer->watch) {
		p->layer->watch = evbuffer_add_cb(p->layer->in, plain_changed, p);
		return p->layer->watch != NULL;
	}
	if (!held && p->layer->watch) {
		/* May run inside plain_changed's turn: it only queues work. */
		evbuffer_remove_cb_entry(p->layer->in, p->layer->watch);
		p->layer->watch = NULL;
	}
	return true;
}

/* Decode what the wire brought while the owner's input is below the bound.
 * Returns the bytes the owner's input gained, or -1 when it told the owner
 * of an error or of input the codec refused (it may have freed p). */
static ssize_t decode_in(struct pipe *p)
{
	size_t before = evbuffer_get_length(p->layer->in);
	const char *why = NULL;

	if (p->refused)
		return 0;
	if (p->tls)
		ring_note_activation(); /* a drained TLS input may resume its reading */
	if (!p->layer->codec->decode(p->layer->arg, wire_input(p), p->layer->in,
				     p->bound ? p->bound : SIZE_MAX, &why)) {
		if (!why) {
			broken(p, PIPE_ERROR | PIPE_READING, ENOMEM);
			return -1;
		}
		/* What follows cannot be framed: read no more, but let the
		 * owner answer. */
		snprintf(p->error, sizeof(p->error), "%s", why);
		p->refused = true;
		if (p->tls) {
			bufferevent_disable(p->tls, EV_READ);
			ring_note_activation();
		} else {
			update_read(p);
		}
		tell_end(p, PIPE_READING | PIPE_CORRUPT);
		return -1;
	}
	if (!watch_plain(p)) {
		broken(p, PIPE_ERROR | PIPE_READING, ENOMEM);
		return -1;
	}
	if (!p->tls)
		update_read(p); /* the wire's input went down: reading may go on */
	return (ssize_t)(evbuffer_get_length(p->layer->in) - before);
}

/* Encode what the owner queued onto the wire's output. False when it told
 * the owner of an error (which may have freed p). */
static bool encode_layer(struct pipe *p)
{
	if (evbuffer_get_length(p->layer->out) == 0)
		return true;
	if (p->tls)
		ring_note_activation(); /* the TLS layer writes what it is given */
	if (p->layer->codec->encode(p->layer->arg, p->layer->out, wire_output(p)))
		return true;
	broken(p, PIPE_ERROR | PIPE_WRITING, ENOMEM);
	return false;
}

/* The check inline: most pipes have no codec, and they pass here at every
 * write. */
static inline bool encode_out(struct pipe *p)
{
	return !p->layer || encode_layer(p);
}

/* New input is in (with a codec: or room to decode more of what waits):
 * tell the owner, or keep that for when it reads again. Loop callbacks
 * only. */
static inline void tell_input(struct pipe *p)
{
	if (p->layer) {
		if (decode_in(p) <= 0)
			return; /* an error told, or no whole unit yet */
	} else if (!p->tls) {
		update_read(p);
	}
	if (!p->reading)
		p->unseen = true;
	else if (p->read_cb)
		p->read_cb(p, p->arg);
}

/* ---- plain mode, continued ----------------------------------------------------------- */

static bool send_out(struct pipe *p);

/* Write what is queued: one writev, or a send on the ring; with TLS, hand it
 * to the TLS layer (what a codec encodes, only). Loop callbacks only (it may
 * call the owner). */
static void write_out(struct pipe *p)
{
	if (!encode_out(p) || p->tls)
		return;
	if (sends_on_ring(p) && !p->connecting) {
		set_write_wait(p, false); /* a poll from before the pipe settled */
		(void)send_out(p);
		return;
	}
	if (p->connecting || p->broken || evbuffer_get_length(p->out) == 0) {
		if (!p->connecting)
			set_write_wait(p, false);
		return;
	}
	int n = evbuffer_write(p->out, p->fd);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			set_write_wait(p, true);
			return;
		}
		broken(p, PIPE_ERROR | PIPE_WRITING, errno);
		return;
	}
	size_t left = evbuffer_get_length(p->out);
	set_write_wait(p, left > 0);
	if (n > 0 && left <= p->low && p->write_cb)
		p->write_cb(p, p->arg);
}

/* DO_FLUSH: what was queued while no write was under way. */
static void flush(struct pipe *p)
{
	p->flush_on = false;
	if (!p->wev_on)
		write_out(p);
}

/* Write what is queued once the running callback has returned. */
static void schedule_flush(struct pipe *p)
{
	p->flush_on = true;
	defer_do(p, DO_FLUSH);
}

/* The owner drained input held at the bound: reading may go on. */
static void in_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct pipe *p = arg;

	if (info->n_deleted)
		update_read(p);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipe *p = arg;
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t want = p->read_size, bound = wire_bound(p);

	if (bound) {
		size_t have = evbuffer_get_length(p->in);
		if (have >= bound) {
			update_read(p);
			return;
		}
		if (want > bound - have)
			want = bound - have;
	}
	int nv = evbuffer_reserve_space(p->in, (ev_ssize_t)want, v, 2);
	if (nv < 1) {
		broken(p, PIPE_ERROR | PIPE_READING, ENOMEM);
		return;
	}
	/* The space reserved may be larger than asked for (the rest of a chunk):
	 * read no more than want, or the read bound is passed. */
	size_t left = want;
	for (int i = 0; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	ssize_t n = readv(p->fd, iov, nv);
	if (n < 0) {
		evbuffer_commit_space(p->in, v, 0);
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			broken(p, PIPE_ERROR | PIPE_READING, errno);
		return;
	}
	if (n == 0) {
		evbuffer_commit_space(p->in, v, 0);
		p->eof = true;
		update_read(p);
		if (p->event_cb)
			p->event_cb(p, PIPE_EOF | PIPE_READING, p->arg);
		return;
	}
	size_t got = (size_t)n, reserved = 0;
	int used = 0;
	for (int i = 0; i < nv && got > 0; i++, used++) {
		reserved += v[i].iov_len;
		if (v[i].iov_len > got)
			v[i].iov_len = got;
		got -= v[i].iov_len;
	}
	evbuffer_commit_space(p->in, v, used);
	if ((size_t)n >= reserved && p->read_size < READ_MAX)
		p->read_size *= 2;
	else if ((size_t)n < reserved / 4 && p->read_size > READ_MIN)
		p->read_size = READ_MIN;
	tell_input(p);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipe *p = arg;

	if (p->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS)
			return;
		p->connecting = false;
		set_write_wait(p, false);
		if (err) {
			broken(p, PIPE_ERROR, err);
			return;
		}
		/* Output queued while connecting goes out now (scheduled before the owner hears
		 * of the connection: it may free the pipe in its callback). */
		if (pipe_pending(p) > 0 && !p->flush_on)
			schedule_flush(p);
		if (p->event_cb)
			p->event_cb(p, PIPE_CONNECTED, p->arg);
		return; /* the owner enables reading and queues output as it likes */
	}
	write_out(p);
}

/* ---- plain mode on a ring ---------------------------------------------------------- */

static bool requests_busy(const struct pipe *p)
{
	return p->recv.busy || p->poll.busy || p->send.busy;
}

/* A freed pipe goes once the kernel is done with its requests, and its
 * socket with it (see pipe_free). */
static void reap_zombie(struct pipe *p)
{
	if (requests_busy(p))
		return;
	if (p->fd >= 0)
		close(p->fd);
	if (p->sending)
		ring_out_give(p->ring, p->sending);
	free(p);
}

/* Whether a receive may stay armed (see MULTI_MAX_UNREAD). */
static bool multi_fits(const struct pipe *p, size_t unread)
{
	size_t bound = wire_bound(p);

	return p->settled && (bound == 0 || bound >= MULTI_MIN_BOUND) && unread < MULTI_MAX_UNREAD;
}

/* Arm the receive, if still wanted: one that stays armed if it fits, else
 * one for at most the room left. Cancel one that stays armed if reading is
 * no longer wanted or the owner fell behind. */
static void arm(struct pipe *p)
{
	size_t unread = evbuffer_get_length(p->in);

	if (p->recv.busy) {
		if (p->recv.multi && !p->recv_cancelled &&
		    !(want_read(p, unread) && multi_fits(p, unread))) {
			ring_cancel(p->ring, &p->recv);
			p->recv_cancelled = true;
		}
		return;
	}
	if (!want_read(p, unread))
		return;
	if (multi_fits(p, unread) && ring_recv_multi(p->ring, &p->recv, p->fd)) {
		p->recv_cancelled = false;
		return;
	}
	size_t bound = wire_bound(p);

	ring_recv(p->ring, &p->recv, p->fd, bound ? bound - unread : SIZE_MAX);
}

/* What came while the owner was not reading, told now that it reads. */
static void notify(struct pipe *p)
{
	if (!p->reading)
		return;
	if (p->unseen) {
		p->unseen = false;
		if (p->late)
			defer_do(p, DO_NOTIFY); /* cancelled if read_cb frees p */
		if (p->read_cb)
			p->read_cb(p, p->arg);
		return;
	}
	short what = (short)p->late;
	p->late = 0;
	if (what)
		tell_end(p, what);
}

/* The deferred work (defer_do): arm the receive, write out, decode what
 * waited, tell what came while the owner did not read. A callback may free
 * p: what is still to do after one is queued again first (pipe_free
 * cancels it). */
static void run_todo(struct pipe *p)
{
	uint8_t todo = p->todo;

	p->todo = 0;
	if (todo & DO_ARM)
		arm(p);
	if (todo & DO_FLUSH) {
		if (todo & (DO_DECODE | DO_NOTIFY))
			defer_do(p, todo & (DO_DECODE | DO_NOTIFY));
		flush(p);
		return;
	}
	if (todo & DO_DECODE) {
		if (todo & DO_NOTIFY)
			defer_do(p, DO_NOTIFY);
		tell_input(p);
		return;
	}
	if (todo & DO_NOTIFY)
		notify(p);
}

/* A ring's end of the loop iteration. */
static void defer_run(struct ring_defer *d)
{
	run_todo(container_of(d, struct pipe, defer));
}

/* The epoll loop's turn for the later event. */
static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	run_todo(arg);
}

/* A receive ended: keep what it brought, then tell the owner, or keep that
 * for when it reads again. */
static void recv_done(struct ring_req *req, int res, uint32_t flags)
{
	struct pipe *p = container_of(req, struct pipe, recv);
	const void *data = ring_buffer(p->ring, flags);

	if (p->zombie) {
		ring_buffer_return(p->ring, flags);
		reap_zombie(p);
		return;
	}
	/* A receive that stays armed: once the owner has had this input, see at the
	 * end of the iteration whether it keeps up. */
	if (p->recv.busy)
		defer_do(p, DO_ARM);
	if (res > 0 && data) {
		int rc = evbuffer_add(p->in, data, (size_t)res);
		ring_buffer_return(p->ring, flags);
		if (rc != 0) {
			broken(p, PIPE_ERROR | PIPE_READING, ENOMEM);
			return;
		}
		tell_input(p);
		return;
	}
	ring_buffer_return(p->ring, flags);
	if (res == -ENOBUFS || res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
		update_read(p); /* again, once the buffers in hand are back */
		return;
	}
	short what = PIPE_READING;
	if (res == 0) {
		p->eof = true;
		what |= PIPE_EOF;
	} else {
		snprintf(p->error, sizeof(p->error), "%s", strerror(-res));
		what |= PIPE_ERROR;
	}
	update_read(p);
	if (!p->reading)
		p->late = what; /* told once it reads again */
	else
		tell_end(p, what);
}

/* The socket is writable (or connected, or failed: the write says which). */
static void poll_done(struct ring_req *req, int res, uint32_t flags)
{
	struct pipe *p = container_of(req, struct pipe, poll);

	if (p->zombie) {
		reap_zombie(p);
		return;
	}
	if (p->wev_on && res != -ECANCELED)
		write_cb(p->fd, EV_WRITE, p);
}

/* Send what is queued, on the ring, unless a send is in flight (its end
 * sends what was queued meanwhile). The output moves behind the bytes
 * waiting to be sent, where the owner's additions cannot move them (when
 * none wait, the two buffers just change places: nothing but pipe_output()
 * hands out p->out), and the send goes in with the loop's next wait: so the
 * sends of one loop iteration cost no system call of their own, and a peer
 * they wake runs once the loop waits, not in the middle of the iteration.
 * A full socket ends the send with -EAGAIN, and the pipe polls for room
 * (send_done). False when it told the owner of an error (which may have
 * freed p). */
static bool send_out(struct pipe *p)
{
	if (p->send.busy || p->broken || p->fd < 0)
		return true;
	if (!encode_out(p))
		return false;
	size_t queued = evbuffer_get_length(p->out);
	if (!p->sending) {
		if (queued == 0)
			return true;
		p->sending = ring_out_take(p->ring);
		if (!p->sending) {
			broken(p, PIPE_ERROR | PIPE_WRITING, ENOMEM);
			return false;
		}
	}
	/* Bytes still unsent here mean the last send came out short (or found
	 * no room): the socket may be full, and this send with it. */
	bool whole = p->unsent == 0 && queued <= SEND_WHOLE_MAX;
	if (queued && p->unsent == 0) {
		struct evbuffer *empty = p->sending->buf;
		p->sending->buf = p->out;
		p->out = empty;
	} else if (queued && evbuffer_add_buffer(p->sending->buf, p->out) != 0) {
		broken(p, PIPE_ERROR | PIPE_WRITING, ENOMEM);
		return false;
	}
	p->unsent += queued;
	ring_send(p->ring, &p->send, p->fd, p->sending, whole);
	return true;
}

/* A send ended: drop what the kernel took, send the rest and what came
 * meanwhile; an idle pipe keeps no send buffer. */
static void send_done(struct ring_req *req, int res, uint32_t flags)
{
	struct pipe *p = container_of(req, struct pipe, send);

	if (p->zombie) {
		reap_zombie(p);
		return;
	}
	if (res == -EINTR) {
		(void)send_out(p);
		return;
	}
	if (res == -EAGAIN) {
		/* No room (ring sends do not wait for it): the rest goes once the
		 * socket is writable (poll_done, write_out). */
		set_write_wait(p, true);
		return;
	}
	if (res <= 0) {
		/* A send of some bytes that took none is an error too. */
		broken(p, PIPE_ERROR | PIPE_WRITING, res < 0 ? -res : EPIPE);
		return;
	}
	evbuffer_drain(p->sending->buf, (size_t)res);
	p->unsent -= (size_t)res;
	if (!encode_out(p)) /* what the owner queued meanwhile */
		return;
	if (p->unsent == 0 && evbuffer_get_length(p->out) == 0) {
		ring_out_give(p->ring, p->sending);
		p->sending = NULL;
	} else if (!send_out(p)) {
		return;
	}
	if (pipe_pending(p) <= p->low && p->write_cb)
		p->write_cb(p, p->arg);
}

/* ---- making a pipe ------------------------------------------------------------------- */

/* Create the socket events once the fd is known (epoll mode). */
static bool make_events(struct pipe *p)
{
	if (p->ring)
		return true;
	p->rev = event_new(p->base, p->fd, EV_READ | EV_PERSIST, read_cb, p);
	p->wev = event_new(p->base, p->fd, EV_WRITE | EV_PERSIST, write_cb, p);
	return p->rev && p->wev;
}

struct pipe *pipe_new(struct event_base *base, struct ring *ring, int fd)
{
	struct pipe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->base = base;
	p->ring = ring;
	p->fd = fd;
	p->read_size = READ_MIN;
	p->recv.done = recv_done;
	p->poll.done = poll_done;
	p->send.done = send_done;
	p->defer.run = defer_run;
	p->in = evbuffer_new();
	p->out = evbuffer_new();
	if (!ring)
		p->later = event_new(base, -1, 0, later_cb, p);
	if (!p->in || !p->out || (!ring && !p->later) || (fd >= 0 && !make_events(p))) {
		p->fd = -1; /* the caller still owns fd on failure */
		pipe_free(p);
		return NULL;
	}
	return p;
}

void pipe_set_callbacks(struct pipe *p, pipe_data_cb read, pipe_data_cb write, pipe_event_cb event,
			void *arg)
{
	p->read_cb = read;
	p->write_cb = write;
	p->event_cb = event;
	p->arg = arg;
}

bool pipe_connect(struct pipe *p, const struct sockaddr *sa, socklen_t len)
{
	BUG_ON(p->fd >= 0 || p->tls);
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return false;
	if (!make_events(p)) {
		errno = ENOMEM;
		return false;
	}
	p->connecting = true;
	if (connect(p->fd, sa, len) < 0 && errno != EINPROGRESS) {
		p->connecting = false;
		return false;
	}
	/* Done at once (loopback can) or not: the write event says which. */
	set_write_wait(p, true);
	return true;
}

/* ---- TLS mode ------------------------------------------------------------------------ */

static void tls_read_cb(struct bufferevent *bev, void *arg)
{
	tell_input(arg);
}

static void tls_write_cb(struct bufferevent *bev, void *arg)
{
	struct pipe *p = arg;

	if (p->write_cb)
		p->write_cb(p, p->arg);
}

static void tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pipe *p = arg;

	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e)
			ERR_error_string_n(e, p->error, sizeof(p->error));
		else
			snprintf(p->error, sizeof(p->error), "%s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	/* PIPE_* carry the same bits as BEV_EVENT_*. */
	if (p->event_cb)
		p->event_cb(p, what, p->arg);
}

/* TLS mode: the socket took the last encrypted bytes. The filter's own write callback
 * runs when its plain output is handed down, which is not yet "sent". */
static void tls_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
			      void *arg)
{
	struct pipe *p = arg;

	if (info->n_deleted && evbuffer_get_length(buf) == 0 && p->write_cb &&
	    pipe_pending(p) <= p->low)
		p->write_cb(p, p->arg);
}

bool pipe_start_tls(struct pipe *p, SSL *ssl, bool accept)
{
	struct bufferevent *under, *filter;

	BUG_ON(p->tls || p->layer || p->fd < 0);
	if (requests_busy(p) || p->sending) {
		/* The protocols start TLS right after reading the request for it (the
		 * receive is not armed again yet) and before writing more; a request
		 * in flight here would race the TLS layer for the socket's bytes. */
		log_error("pipe", "TLS asked for with a socket request still in flight");
		SSL_free(ssl);
		return false;
	}
	under = bufferevent_socket_new(p->base, p->fd, BEV_OPT_CLOSE_ON_FREE);
	if (!under) {
		SSL_free(ssl);
		return false;
	}
	/* The peer may already have sent the start of its handshake (a client may send its
	 * ClientHello right behind the request for TLS): it was read as plain input and belongs
	 * to the TLS layer, which starts the handshake with it as the filter is made. A
	 * bufferevent's input takes bytes only at its front from outside, hence prepend. Plain
	 * output still queued (our own request for TLS) goes out first, in the clear. */
	if (evbuffer_prepend_buffer(bufferevent_get_input(under), p->in) != 0 ||
	    evbuffer_add_buffer(bufferevent_get_output(under), p->out) != 0) {
		bufferevent_setfd(under, -1);
		bufferevent_free(under);
		SSL_free(ssl);
		return false;
	}
	bufferevent_enable(under, EV_WRITE);
	filter = bufferevent_openssl_filter_new(p->base, under, ssl,
						accept ? BUFFEREVENT_SSL_ACCEPTING
						       : BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!filter) {
		/* The socket stays ours (the session fails on false anyway). */
		bufferevent_setfd(under, -1);
		bufferevent_free(under);
		SSL_free(ssl);
		return false;
	}
	if (p->rev_on && p->rev)
		event_del(p->rev);
	if (p->wev_on && p->wev)
		event_del(p->wev);
	p->rev_on = p->wev_on = false;
	if (p->later)
		event_del(p->later);
	p->flush_on = false;
	ring_defer_cancel(&p->defer);
	p->todo = 0;
	/* Input not yet told went to the TLS layer above; an end of file or error
	 * seen meanwhile, the TLS layer finds again on its first read. */
	p->unseen = false;
	p->late = 0;
	p->tls = filter; /* owns under, which owns the socket */
	if (!evbuffer_add_cb(bufferevent_get_output(under), tls_under_drained, p)) {
		/* Out of memory: the pipe is TLS now either way; only the late write
		 * callback is lost, and with it at worst a flush-and-close's timeout. */
		log_warn("pipe", "cannot watch the TLS socket's output (out of memory)");
	}
	bufferevent_setcb(filter, tls_read_cb, tls_write_cb, tls_event_cb, p);
	bufferevent_setwatermark(filter, EV_READ, 0, p->bound);
	bufferevent_setwatermark(filter, EV_WRITE, p->low, 0);
	if (p->reading)
		bufferevent_enable(filter, EV_READ | EV_WRITE);
	else
		bufferevent_enable(filter, EV_WRITE);
	ring_note_activation();
	return true;
}

SSL *pipe_ssl(const struct pipe *p)
{
	return p->tls ? bufferevent_openssl_get_ssl(p->tls) : NULL;
}

/* ---- a codec ------------------------------------------------------------------------- */

/* The owner's read bound changed, or a codec came: the wire's input follows
 * (wire_bound), and with a codec, input already here may decode now. */
static void bounds_changed(struct pipe *p)
{
	if (p->tls) {
		bufferevent_setwatermark(p->tls, EV_READ, 0, wire_bound(p));
		ring_note_activation();
	} else {
		update_read(p);
	}
	if (p->layer)
		defer_do(p, DO_DECODE);
}

static void free_layer(struct pipe_layer *l)
{
	if (!l)
		return;
	if (l->in)
		evbuffer_free(l->in); /* and its watch */
	if (l->out)
		evbuffer_free(l->out);
	free(l);
}

bool pipe_set_codec(struct pipe *p, const struct pipe_codec *codec, void *arg)
{
	struct pipe_layer *l;

	BUG_ON(p->layer);
	l = calloc(1, sizeof(*l));
	if (!l)
		return false;
	l->codec = codec;
	l->arg = arg;
	l->in = evbuffer_new();
	l->out = evbuffer_new();
	if (!l->in || !l->out) {
		free_layer(l);
		return false;
	}
	p->layer = l;
	bounds_changed(p); /* the wire's input is bounded by the codec's largest unit now */
	return true;
}

/* ---- both modes ---------------------------------------------------------------------- */

/* In TLS mode the owner's calls reach libevent's bufferevents, which may
 * make events of the base active from inside them (a read callback
 * triggered again, a write scheduled): every one that may is marked with
 * ring_note_activation(). */

struct evbuffer *pipe_input(struct pipe *p)
{
	if (p->layer)
		return p->layer->in;
	if (!p->tls)
		return p->in;
	ring_note_activation();
	return bufferevent_get_input(p->tls);
}

/* The owner asks for the output to add to it: write it once its callback has
 * returned, so that everything it queues in that callback goes out in one
 * write. A write already under way (one that would block, a send in flight,
 * a connect) takes it when it ends. Not a callback on the buffer: that would
 * run at every add and every drain, the pipe's own included. With a codec,
 * the flush encodes it (and so does a write under way when it ends). */
struct evbuffer *pipe_output(struct pipe *p)
{
	if (p->tls && !p->layer) {
		ring_note_activation();
		return bufferevent_get_output(p->tls);
	}
	/* Over TLS, only the encoding waits for the flush. */
	if (!p->flush_on && (p->tls || (!p->wev_on && !p->connecting && !p->send.busy)))
		schedule_flush(p);
	return p->layer ? p->layer->out : p->out;
}

size_t pipe_move(struct pipe *from, struct pipe *to, size_t n)
{
	struct evbuffer *out = pipe_output(to);

	/* No callback may travel with a buffer: the input has one only while
	 * held at the bound (in_watch), the output none. */
	if (!from->tls && !to->tls && !from->layer && !to->layer && !from->in_watch && n > 0 &&
	    evbuffer_get_length(from->in) == n && evbuffer_get_length(out) == 0) {
		to->out = from->in;
		from->in = out;
		return n;
	}
	int moved = evbuffer_remove_buffer(pipe_input(from), out, n);
	return moved > 0 ? (size_t)moved : 0;
}

size_t pipe_pending(struct pipe *p)
{
	if (!p->tls && !p->layer)
		return evbuffer_get_length(p->out) + p->unsent;
	size_t unencoded = p->layer ? evbuffer_get_length(p->layer->out) : 0;

	if (!p->tls)
		return unencoded + evbuffer_get_length(p->out) + p->unsent;
	/* Plain bytes not yet encrypted, and records not yet written. */
	return unencoded + evbuffer_get_length(bufferevent_get_output(p->tls)) +
	       evbuffer_get_length(bufferevent_get_output(bufferevent_get_underlying(p->tls)));
}

void pipe_settle(struct pipe *p)
{
	p->settled = true;
	if (p->ring && !p->tls)
		update_read(p);
}

void pipe_set_reading(struct pipe *p, bool on)
{
	/* No change: whatever else moves want_read() calls update_read itself,
	 * and nothing waits to be told (unseen and late are set only while
	 * not reading). */
	if (p->reading == on && !p->tls)
		return;
	p->reading = on;
	if (on && (p->unseen || p->late))
		defer_do(p, DO_NOTIFY);
	if (p->tls) {
		if (on && !p->refused)
			bufferevent_enable(p->tls, EV_READ);
		else
			bufferevent_disable(p->tls, EV_READ);
		ring_note_activation();
		return;
	}
	update_read(p);
}

bool pipe_reading(const struct pipe *p)
{
	return p->reading;
}

void pipe_set_read_bound(struct pipe *p, size_t bound)
{
	p->bound = bound;
	bounds_changed(p);
}

void pipe_set_write_low(struct pipe *p, size_t low)
{
	p->low = low;
	if (p->tls) {
		bufferevent_setwatermark(p->tls, EV_WRITE, low, 0);
		ring_note_activation();
	}
}

int pipe_fd(const struct pipe *p)
{
	return p->tls ? bufferevent_getfd(p->tls) : p->fd;
}

const char *pipe_error(const struct pipe *p)
{
	return p->error[0] ? p->error : "unknown error";
}

void pipe_free(struct pipe *p)
{
	if (!p)
		return;
	ring_defer_cancel(&p->defer);
	p->todo = 0;
	if (p->recv.busy)
		ring_cancel(p->ring, &p->recv);
	if (p->poll.busy)
		ring_cancel(p->ring, &p->poll);
	if (p->send.busy)
		ring_cancel(p->ring, &p->send);
	/* The events go first: on epoll they leave the loop while their
	 * socket is still open. */
	if (p->rev)
		event_free(p->rev);
	if (p->wev)
		event_free(p->wev);
	if (p->later)
		event_free(p->later);
	if (p->tls) {
		/* libevent may still write the socket's last records (an alert)
		 * after this, from its loop: that must not call back into p. */
		struct bufferevent *under = bufferevent_get_underlying(p->tls);
		if (under)
			evbuffer_remove_cb(bufferevent_get_output(under), tls_under_drained, p);
		bufferevent_free(p->tls); /* closes the socket */
		ring_note_activation();
		p->fd = -1;
	} else if (p->fd >= 0 && !requests_busy(p)) {
		close(p->fd);
		p->fd = -1;
	}
	/* Else the socket stays open until its requests end (reap_zombie): a
	 * request still waiting for the loop's next submission names the
	 * socket by its number, and closed now, that number could go to a
	 * socket made before then (any thread's), which would get this one's
	 * bytes or lose its own to this receive. */
	if (p->in)
		evbuffer_free(p->in);
	if (p->out)
		evbuffer_free(p->out);
	free_layer(p->layer);
	p->in = p->out = NULL;
	p->layer = NULL;
	p->zombie = true;
	reap_zombie(p);
}
