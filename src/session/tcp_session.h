/*
 * Layer-4 sessions (listeners with mode: tcp): bytes are copied between a
 * client and one backend node chosen when the client connects, with a
 * bounded buffer per direction. The node comes from the listener's route:
 * primary (the cluster's writer, then the next node by priority if its
 * connect fails) or readers (the shared weighted rotation).
 *
 * States:
 *
 *   CONNECTING --backend connected--> FORWARDING
 *     |   ^ refused/timed out: next candidate       |
 *     |   '-------------------'                     | EOF or error on one side
 *     | no candidate left: ERR packet to client     v
 *     '-------------------------------------> FLUSHING (deliver what is
 *                                                buffered to the other side)
 *                                                   |
 *                          drained, error, timeout  v
 *                                                 CLOSED (reaped by the worker)
 */
#ifndef SLUICE_TCP_SESSION_H
#define SLUICE_TCP_SESSION_H

#include <sys/socket.h>

struct listener;
struct worker;

/* Take over the accepted client fd on worker w's thread and connect it to a
 * node. Always consumes fd; on failure to even set up, closes it. */
void tcp_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
		       socklen_t peer_len);

#endif
