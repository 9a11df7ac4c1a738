/*
 * fwd.c - single-threaded layer-4 TCP forwarder, two event loops:
 *   fwd epoll PORT [BACKEND_PORT]   level-triggered epoll + read()/write()
 *   fwd uring PORT [BACKEND_PORT]   io_uring: multishot accept, multishot recv
 *                                   with a provided buffer ring, send via SQE
 * Listens on 127.0.0.1:PORT, connects each client to 127.0.0.1:BACKEND_PORT
 * (default 18000) and copies bytes both ways until either side closes.
 *
 * Env FWD_WAITSENDS=1 (uring only, experimental variant): wait for
 * 1 + (sends submitted this iteration) CQEs, 1 ms timeout.
 * Env FWD_URING_FLAGS=0 forces a plain io_uring setup (no SINGLE_ISSUER /
 * DEFER_TASKRUN).  On SIGINT/SIGTERM prints loop statistics and exits.
 *
 * gcc -O2 -Wall -o fwd fwd.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <liburing.h>

static volatile sig_atomic_t stop_flag;
static struct sockaddr_in backend_addr;
static unsigned long st_loops, st_events, st_conns, st_closed;

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static void print_stats(const char *mode)
{
    fprintf(stderr, "[%s] loops=%lu events=%lu conns=%lu closed=%lu\n",
            mode, st_loops, st_events, st_conns, st_closed);
}

static int make_listener(int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) { perror("socket"); exit(1); }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    if (listen(fd, 1024) < 0) { perror("listen"); exit(1); }
    return fd;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ======================================================================
 * epoll loop
 * ====================================================================== */
#define EBUF (64 * 1024)

struct econn;
struct eend { struct econn *c; int side; };       /* side 0 = client, 1 = server */
struct econn {
    int fd[2];
    char *buf[2];          /* buf[s]: bytes read from fd[s], to be written to fd[1-s] */
    int len[2], off[2];    /* pending (unwritten) bytes in buf[s] */
    uint32_t mask[2];      /* events currently registered for fd[s] */
    int connected, closed;
    struct eend end[2];
    struct econn *next_dead;
};
static struct econn *dead_list;

static void e_close(int ep, struct econn *c)
{
    if (c->closed) return;
    c->closed = 1;
    for (int s = 0; s < 2; s++) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[s], NULL);
        close(c->fd[s]);
    }
    st_closed++;
    c->next_dead = dead_list;          /* freed after this batch of events */
    dead_list = c;
}

static int e_update(int ep, struct econn *c)
{
    for (int s = 0; s < 2; s++) {
        uint32_t want = 0;
        if (c->connected) {
            if (c->len[s] == 0) want |= EPOLLIN;       /* may read from s */
            if (c->len[1 - s] > 0) want |= EPOLLOUT;   /* data waiting for s */
        } else if (s == 1) {
            want = EPOLLOUT;                           /* connect in progress */
        }
        if (want != c->mask[s]) {
            struct epoll_event ev = { .events = want, .data.ptr = &c->end[s] };
            if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[s], &ev) < 0) return -1;
            c->mask[s] = want;
        }
    }
    return 0;
}

static void e_accept(int ep, int lfd)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (cfd < 0) return;
    int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (sfd < 0) { close(cfd); return; }
    set_nodelay(cfd);
    set_nodelay(sfd);
    if (connect(sfd, (struct sockaddr *)&backend_addr, sizeof backend_addr) < 0 &&
        errno != EINPROGRESS) {
        close(cfd); close(sfd); return;
    }
    struct econn *c = calloc(1, sizeof *c);
    c->fd[0] = cfd; c->fd[1] = sfd;
    c->buf[0] = malloc(EBUF); c->buf[1] = malloc(EBUF);
    for (int s = 0; s < 2; s++) { c->end[s].c = c; c->end[s].side = s; }
    c->mask[0] = 0; c->mask[1] = EPOLLOUT;
    struct epoll_event ev0 = { .events = 0, .data.ptr = &c->end[0] };
    struct epoll_event ev1 = { .events = EPOLLOUT, .data.ptr = &c->end[1] };
    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev0);
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev1);
    st_conns++;
}

static void e_event(int ep, struct eend *e, uint32_t evs)
{
    struct econn *c = e->c;
    int s = e->side, o = 1 - s;
    if (c->closed) return;

    if (!c->connected) {
        if (s != 1) { if (evs & (EPOLLERR | EPOLLHUP)) e_close(ep, c); return; }
        int err = 0; socklen_t l = sizeof err;
        getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (evs & EPOLLERR)) { e_close(ep, c); return; }
        c->connected = 1;
        if (e_update(ep, c) < 0) e_close(ep, c);
        return;
    }
    /* fd[s] writable: flush data read from the other side */
    if ((evs & EPOLLOUT) && c->len[o] > 0) {
        ssize_t n = write(c->fd[s], c->buf[o] + c->off[o], c->len[o] - c->off[o]);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) { e_close(ep, c); return; }
        } else {
            c->off[o] += n;
            if (c->off[o] == c->len[o]) c->len[o] = c->off[o] = 0;
        }
    }
    /* fd[s] readable (or hung up): read once, write it out at once */
    if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->len[s] != 0) {                 /* cannot read now */
            if (evs & (EPOLLHUP | EPOLLERR)) { e_close(ep, c); return; }
        } else {
            ssize_t n = read(c->fd[s], c->buf[s], EBUF);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { e_close(ep, c); return; }
            if (n > 0) {
                ssize_t w = write(c->fd[o], c->buf[s], n);
                if (w < 0) {
                    if (errno != EAGAIN && errno != EINTR) { e_close(ep, c); return; }
                    w = 0;
                }
                if (w < n) { c->len[s] = n; c->off[s] = w; }
            }
        }
    }
    if (e_update(ep, c) < 0) e_close(ep, c);
}

static int run_epoll(int port)
{
    int lfd = make_listener(port, 1);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "[epoll] listening on 127.0.0.1:%d\n", port);
    struct epoll_event evs[64];
    while (!stop_flag) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
        st_loops++;
        st_events += n;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) e_accept(ep, lfd);
            else e_event(ep, evs[i].data.ptr, evs[i].events);
        }
        while (dead_list) {
            struct econn *c = dead_list;
            dead_list = c->next_dead;
            free(c->buf[0]); free(c->buf[1]); free(c);
        }
    }
    print_stats("epoll");
    return 0;
}

/* ======================================================================
 * io_uring loop
 * ====================================================================== */
#define RING_ENTRIES 256
#define NBUFS 1024                 /* provided buffers (power of 2) */
#define UBUF (16 * 1024)
#define BGID 1

enum { OP_ACCEPT = 1, OP_CONNECT, OP_RECV0, OP_RECV1, OP_SEND0, OP_SEND1, OP_CANCEL };

struct udir {                      /* dir 0: client->server, dir 1: server->client */
    int head, tail;                /* FIFO of buffer ids waiting to be sent (-1 = empty) */
    int sending, eof, rearm_wait;
};
struct uconn {
    int fd[2];                     /* 0 client, 1 server; dir d reads fd[d], writes fd[1-d] */
    int refs, closing;
    struct udir d[2];
    struct uconn *rearm_next[2];
} __attribute__((aligned(16)));

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufmem;
static int buf_next[NBUFS], buf_len[NBUFS], buf_off[NBUFS];
static int nfree_bufs;
static int listen_fd;
static struct uconn *rearm_head[2];  /* conns whose recv stopped on ENOBUFS, per dir */
static unsigned long st_enobufs, st_shortsend;
static unsigned sends_this_iter;

static inline uint64_t ud(struct uconn *c, int op) { return (uint64_t)(uintptr_t)c | op; }

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    while (!sqe) {                 /* SQ full: flush it (rare) */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static void buf_return(int bid)
{
    io_uring_buf_ring_add(br, bufmem + (size_t)bid * UBUF, UBUF, bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(br, 1);
    nfree_bufs++;
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, ud(NULL, OP_ACCEPT));
}

static void arm_recv(struct uconn *c, int d)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, c->fd[d], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, ud(c, OP_RECV0 + d));
    c->refs++;
}

static void arm_send(struct uconn *c, int d)
{
    int bid = c->d[d].head;
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_send(sqe, c->fd[1 - d], bufmem + (size_t)bid * UBUF + buf_off[bid],
                       buf_len[bid] - buf_off[bid], MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c, OP_SEND0 + d));
    c->d[d].sending = 1;
    c->refs++;
    sends_this_iter++;
}

static void u_maybe_free(struct uconn *c)
{
    if (!c->closing || c->refs > 0) return;
    for (int d = 0; d < 2; d++) {
        while (c->d[d].head >= 0) {
            int bid = c->d[d].head;
            c->d[d].head = buf_next[bid];
            buf_return(bid);
        }
    }
    close(c->fd[0]);
    close(c->fd[1]);
    st_closed++;
    free(c);
}

static void u_close(struct uconn *c)
{
    if (c->closing) return;
    c->closing = 1;
    for (int i = 0; i < 2; i++) {
        struct io_uring_sqe *sqe = get_sqe();
        io_uring_prep_cancel_fd(sqe, c->fd[i], IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(c, OP_CANCEL));
        c->refs++;
    }
}

static void enqueue_buf(struct uconn *c, int d, int bid, int len)
{
    buf_len[bid] = len; buf_off[bid] = 0; buf_next[bid] = -1;
    if (c->d[d].head < 0) c->d[d].head = bid;
    else buf_next[c->d[d].tail] = bid;
    c->d[d].tail = bid;
}

static void handle_cqe(struct io_uring_cqe *cqe)
{
    uint64_t u = io_uring_cqe_get_data64(cqe);
    int op = u & 15;
    struct uconn *c = (struct uconn *)(uintptr_t)(u & ~(uint64_t)15);
    int res = cqe->res;
    int more = cqe->flags & IORING_CQE_F_MORE;

    switch (op) {
    case OP_ACCEPT: {
        if (!more && !stop_flag) arm_accept();
        if (res < 0) { fprintf(stderr, "accept: %s\n", strerror(-res)); return; }
        int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (sfd < 0) { close(res); return; }
        set_nodelay(res);
        set_nodelay(sfd);
        c = aligned_alloc(16, sizeof *c);
        memset(c, 0, sizeof *c);
        c->fd[0] = res; c->fd[1] = sfd;
        for (int d = 0; d < 2; d++) c->d[d].head = c->d[d].tail = -1;
        struct io_uring_sqe *sqe = get_sqe();
        io_uring_prep_connect(sqe, sfd, (struct sockaddr *)&backend_addr, sizeof backend_addr);
        io_uring_sqe_set_data64(sqe, ud(c, OP_CONNECT));
        c->refs++;
        st_conns++;
        return;
    }
    case OP_CONNECT:
        c->refs--;
        if (c->closing) break;
        if (res < 0) { u_close(c); break; }
        arm_recv(c, 0);
        arm_recv(c, 1);
        break;
    case OP_RECV0: case OP_RECV1: {
        int d = op - OP_RECV0;
        if (!more) c->refs--;
        if (res > 0) {
            int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            nfree_bufs--;
            if (c->closing) { buf_return(bid); break; }
            enqueue_buf(c, d, bid, res);
            if (!c->d[d].sending) arm_send(c, d);
            if (!more) arm_recv(c, d);       /* multishot ended (e.g. CQ overflow) */
            break;
        }
        if (c->closing) break;
        if (res == -ENOBUFS) {               /* buffer pool empty: re-arm later */
            st_enobufs++;
            c->d[d].rearm_wait = 1;
            c->refs++;                       /* keep alive while on rearm list */
            c->rearm_next[d] = rearm_head[d];
            rearm_head[d] = c;
            break;
        }
        if (res == 0) {                      /* EOF: flush what is queued, then close */
            c->d[d].eof = 1;
            if (!c->d[d].sending) u_close(c);
            break;
        }
        u_close(c);                          /* error */
        break;
    }
    case OP_SEND0: case OP_SEND1: {
        int d = op - OP_SEND0;
        c->refs--;
        c->d[d].sending = 0;
        if (c->closing) break;
        if (res < 0) { u_close(c); break; }
        int bid = c->d[d].head;
        buf_off[bid] += res;
        if (buf_off[bid] < buf_len[bid]) { st_shortsend++; arm_send(c, d); break; }
        c->d[d].head = buf_next[bid];
        if (c->d[d].head < 0) c->d[d].tail = -1;
        buf_return(bid);
        if (c->d[d].head >= 0) arm_send(c, d);
        else if (c->d[d].eof) u_close(c);
        break;
    }
    case OP_CANCEL:
        c->refs--;
        break;
    default:
        return;
    }
    if (c) u_maybe_free(c);
}

static void process_rearms(void)
{
    for (int d = 0; d < 2; d++) {
        while (rearm_head[d] && nfree_bufs > 0) {
            struct uconn *c = rearm_head[d];
            rearm_head[d] = c->rearm_next[d];
            c->refs--;
            c->d[d].rearm_wait = 0;
            if (!c->closing) arm_recv(c, d);
            else u_maybe_free(c);
        }
    }
}

static int run_uring(int port)
{
    struct io_uring_params p;
    int ret = -EINVAL;
    const char *fl = getenv("FWD_URING_FLAGS");
    const char *used = "none";
    int force_plain = fl && strcmp(fl, "0") == 0;

    if (!force_plain) {
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
        if (ret == 0) used = "SINGLE_ISSUER|DEFER_TASKRUN";
        else fprintf(stderr, "[uring] SINGLE_ISSUER|DEFER_TASKRUN failed: %s\n", strerror(-ret));
        if (ret == -EINVAL) {
            memset(&p, 0, sizeof p);
            p.flags = IORING_SETUP_SINGLE_ISSUER;
            ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
            if (ret == 0) used = "SINGLE_ISSUER";
        }
    }
    if (ret != 0) {
        memset(&p, 0, sizeof p);
        ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
        if (ret < 0) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret)); return 1; }
    }
    const char *ws = getenv("FWD_WAITSENDS");
    int waitsends = ws && strcmp(ws, "1") == 0;
    fprintf(stderr, "[uring] waitsends variant: %s\n", waitsends ? "on" : "off");
    fprintf(stderr, "[uring] setup flags: %s (features 0x%x, sq %u cq %u)\n",
            used, p.features, p.sq_entries, p.cq_entries);

    /* provided buffer ring (liburing 2.3 has no io_uring_setup_buf_ring: do it by hand) */
    size_t rsz = NBUFS * sizeof(struct io_uring_buf);
    br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) { perror("mmap"); return 1; }
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)br,
                                    .ring_entries = NBUFS, .bgid = BGID };
    ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret) { fprintf(stderr, "register_buf_ring: %s\n", strerror(-ret)); return 1; }
    io_uring_buf_ring_init(br);
    bufmem = malloc((size_t)NBUFS * UBUF);
    for (int i = 0; i < NBUFS; i++) buf_return(i);
    fprintf(stderr, "[uring] provided buffer ring: %d x %d bytes\n", NBUFS, UBUF);

    listen_fd = make_listener(port, 0);
    arm_accept();
    fprintf(stderr, "[uring] listening on 127.0.0.1:%d\n", port);

    while (!stop_flag) {
        if (waitsends && sends_this_iter > 0) {
            /* variant: also wait for the send CQEs we expect to complete inline,
             * so that the send completion alone does not end the wait; 1 ms
             * timeout as a safety net (still one io_uring_enter, EXT_ARG) */
            struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
            struct io_uring_cqe *dummy;
            unsigned want = 1 + sends_this_iter;
            sends_this_iter = 0;
            ret = io_uring_submit_and_wait_timeout(&ring, &dummy, want, &ts, NULL);
            if (ret == -ETIME) ret = 0;
        } else {
            sends_this_iter = 0;
            ret = io_uring_submit_and_wait(&ring, 1);   /* submit + wait: one io_uring_enter */
        }
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            fprintf(stderr, "submit_and_wait: %s\n", strerror(-ret));
            break;
        }
        st_loops++;
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            handle_cqe(cqe);
            n++;
        }
        io_uring_cq_advance(&ring, n);
        st_events += n;
        if (rearm_head[0] || rearm_head[1]) process_rearms();
    }
    print_stats("uring");
    fprintf(stderr, "[uring] enobufs=%lu short_sends=%lu\n", st_enobufs, st_shortsend);
    io_uring_queue_exit(&ring);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s epoll|uring PORT [BACKEND_PORT]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[2]);
    int bport = argc > 3 ? atoi(argv[3]) : 18000;
    backend_addr.sin_family = AF_INET;
    backend_addr.sin_port = htons(bport);
    backend_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;           /* no SA_RESTART: wake the loop */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(argv[1], "epoll") == 0) return run_epoll(port);
    if (strcmp(argv[1], "uring") == 0) return run_uring(port);
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
