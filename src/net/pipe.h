/*
 * A pipe: one socket with its two buffers, the thing every client and node
 * connection is built on (the idea of pgbouncer's sbuf).
 *
 * What it buys over a libevent bufferevent on the data path:
 *   - reads go straight into the input buffer with one readv(), never an
 *     ioctl(FIONREAD) to size them first;
 *   - the read event is persistent: it is armed once, and taken out of
 *     epoll only while the input holds the read bound (backpressure);
 *   - output is written as soon as the callback that queued it returns
 *     (one writev() in the same loop iteration), and write readiness is
 *     asked for only when the kernel would not take everything.
 * So a request/response round trip costs one read and one write per side
 * and no epoll_ctl at all.
 *
 * On a worker with an io_uring (net/ring.h), a plain pipe receives through
 * the ring instead: a receive request stays armed while the owner reads, so
 * no wait is spent on the socket, and the request is submitted with the
 * loop's next wait. Writes are direct writev() calls until the owner settles
 * the pipe (below); from then on they are sends on the ring too, submitted
 * with the next wait, so that the sends of a loop iteration cost no system
 * call of their own and the peers they wake run when the loop waits, not in
 * the middle of it. The bytes of a send in flight are moved out of the
 * output, where the owner's additions cannot move them, into a send buffer
 * the worker lends while there is something to send. The owner sees the
 * same calls and callbacks either way: output it adds while a send is in
 * flight goes with the next one, pipe_pending() counts both, and the write
 * callback runs when a send ends. The read bound holds as on epoll (a
 * receive asks for at most the room left below it), with one exception:
 * once the owner settles the pipe (pipe_settle: no TLS will start), one
 * request keeps receiving across reads (multishot) while the owner keeps
 * up, which saves arming a receive per read. At the end of a loop
 * iteration in which the owner fell behind or stopped reading, it is
 * cancelled before the next wait; what arrived in the wait before is kept,
 * so the bound can be passed by at most that (the worker's receive buffers
 * bound it), and receives go back to one at a time.
 *
 * TLS is a layer under the pipe: pipe_start_tls() hands the socket to
 * libevent's OpenSSL bufferevent and the pipe forwards to it; the code above
 * keeps using the same calls and sees plain bytes either way.
 *
 * A codec (pipe_set_codec: the MySQL compressed protocol) is a layer too, over
 * the socket or over TLS: the input the owner sees is what the codec decoded
 * from the wire, and what the owner adds to the output is encoded when the
 * pipe writes. The read bound is then the owner's: the pipe decodes while
 * the owner's input is below it, and bounds the wire's input by the codec's
 * largest unit, which must fit whole.
 *
 * Callbacks mirror a bufferevent's: read after new input arrived; write
 * after a write that left the output at or below the low mark; event with
 * PIPE_* bits for connect, end of file, errors, input a codec refused. They
 * are never called from inside a pipe_* call the owner made, only from the
 * event loop, so the owner may free the pipe (pipe_free) from any callback.
 * Everything runs on the thread of the pipe's event base.
 */
#ifndef SLUICE_PIPE_H
#define SLUICE_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct pipe;
struct ring;
struct ssl_st;

#define PIPE_READING   0x01 /* with PIPE_EOF or PIPE_ERROR: while reading */
#define PIPE_WRITING   0x02 /* ... while writing */
#define PIPE_EOF       0x10 /* the peer closed its side */
#define PIPE_ERROR     0x20 /* a socket or TLS error; pipe_error() says which */
#define PIPE_CONNECTED 0x80 /* pipe_connect() or the TLS handshake completed */
#define PIPE_CORRUPT   0x100 /* with PIPE_READING: the codec refused the input */

typedef void (*pipe_data_cb)(struct pipe *p, void *arg);
typedef void (*pipe_event_cb)(struct pipe *p, short what, void *arg);

/* A layer between the wire's bytes and the owner's (pipe_set_codec). Its
 * functions run on the pipe's thread, from the event loop, never inside a
 * callback of the owner's. */
struct pipe_codec {
	/* Move whole units from the head of wire, decoded, to the end of plain,
	 * while plain holds less than limit bytes; a unit not all here stays.
	 * False when the input cannot be decoded, *why saying how (the pipe
	 * then reads no more, and tells PIPE_READING | PIPE_CORRUPT; output
	 * still goes, so that the owner can say what was wrong), or with *why
	 * NULL when out of memory (PIPE_ERROR). */
	bool (*decode)(void *arg, struct evbuffer *wire, struct evbuffer *plain, size_t limit,
		       const char **why);
	/* Move all of plain, encoded, to the end of wire. False: out of memory. */
	bool (*encode)(void *arg, struct evbuffer *plain, struct evbuffer *wire);
	/* The largest unit on the wire: the wire's input is read up to this. */
	size_t wire_bound;
};

/* A pipe over fd (connected, non-blocking; the pipe owns and closes it),
 * or with fd -1 one that pipe_connect() connects, on base and, when ring is
 * not NULL, that ring of the same thread. Reading is off until
 * pipe_set_reading(). NULL when out of memory. */
struct pipe *pipe_new(struct event_base *base, struct ring *ring, int fd)
	__attribute__((warn_unused_result));

void pipe_set_callbacks(struct pipe *p, pipe_data_cb read, pipe_data_cb write, pipe_event_cb event,
			void *arg);

/* Start connecting to sa (a pipe made with fd -1): PIPE_CONNECTED, or
 * PIPE_ERROR, follows. False when it failed at once (errno set). */
bool pipe_connect(struct pipe *p, const struct sockaddr *sa, socklen_t len)
	__attribute__((warn_unused_result));

/* From now on TLS over the socket: ssl (the pipe owns it) accepts or
 * connects; PIPE_CONNECTED when the handshake is done. Output still queued
 * is sent in the clear before the handshake (the protocol's request for
 * TLS); input already read is the peer's first handshake bytes. False when
 * out of memory; ssl is freed. */
bool pipe_start_tls(struct pipe *p, struct ssl_st *ssl, bool accept)
	__attribute__((warn_unused_result));
struct ssl_st *pipe_ssl(const struct pipe *p); /* NULL: plain */

/* From now on the codec (arg is its state) is between the wire and the
 * owner's buffers. Output already queued goes as it is (the login's last
 * plain packet); input already read is the first encoded bytes, told with
 * a read callback once decoded. No TLS may start after. False when out of
 * memory; the pipe is as it was. */
bool pipe_set_codec(struct pipe *p, const struct pipe_codec *codec, void *arg)
	__attribute__((warn_unused_result));

/* The buffers. The owner drains input and adds to output. What it adds is
 * written when the current callback returns: pipe_output() is what arranges
 * that, so the owner asks for the output in the callback that adds to it and
 * keeps the pointer no longer. */
struct evbuffer *pipe_input(struct pipe *p);
struct evbuffer *pipe_output(struct pipe *p);

/* Move n bytes from the head of from's input to the end of to's output, as
 * evbuffer_remove_buffer(pipe_input(from), pipe_output(to), n) would, and
 * write them once the running callback has returned. When n is all of that
 * input and the output is empty (a request or an answer that came in one
 * piece), two plain pipes without a codec just swap the buffers: so a
 * buffer pointer the caller got from either pipe before the call is stale
 * after it. Returns the bytes moved (fewer only when out of memory). */
size_t pipe_move(struct pipe *from, struct pipe *to, size_t n);

/* Bytes queued towards the peer and not yet taken by the kernel (with a
 * codec, what waits to be encoded counts as it is). */
size_t pipe_pending(struct pipe *p);

/* The owner will not call pipe_start_tls() on p from now on (a plain
 * protocol, or one past its login): on a ring, a receive may then stay
 * armed across reads. */
void pipe_settle(struct pipe *p);

/* Read or not. While the input holds bound bytes or more, the pipe stops
 * reading by itself and goes on once the owner drained it below. */
void pipe_set_reading(struct pipe *p, bool on);
bool pipe_reading(const struct pipe *p);
void pipe_set_read_bound(struct pipe *p, size_t bound); /* 0: none */

/* The write callback runs after a write leaves at most low bytes queued. */
void pipe_set_write_low(struct pipe *p, size_t low);

int pipe_fd(const struct pipe *p);

/* The reason of the last PIPE_ERROR, for logs ("Connection reset by peer",
 * an OpenSSL reason). */
const char *pipe_error(const struct pipe *p);

/* Free the pipe; no callback runs afterwards. The socket is closed now, or,
 * with ring requests still out, when the kernel has ended them: until then
 * its number must not go to another socket, which would get their bytes. */
void pipe_free(struct pipe *p);

#endif
