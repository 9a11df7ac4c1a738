/*
 * Protocol-aware sessions (listeners with mode: mysql). sluice greets the
 * client as a MariaDB server, authenticates it against the configured users
 * (TLS and the compressed protocol on the client hop), logs in to the
 * cluster's writer as the same user, and then routes each command
 * (router.h) to a connection of the session to the right node, opened when
 * first needed and brought up to the session's state first, and streams
 * its response, following the protocol packet by packet.
 *
 *   GREETING --SSLRequest--> (TLS handshake) --> GREETING
 *   GREETING --response--> [AUTH_SWITCH] --good password--> CONNECTING
 *   CONNECTING --backend logged in--> READY   (no healthy node: waits, queue_timeout)
 *   READY --command--> ROUTING --connection ready--> COMMAND --response complete--> READY
 *   ROUTING --no writer, or it failed--> ROUTING (waits for the monitor, queue_timeout)
 *   COMMAND --reader lost before answering--> ROUTING (the read is sent again)
 *   COMMAND --server asks for a LOCAL INFILE--> INFILE --empty packet--> COMMAND
 *   READY --KILL--> KILLING (KILL on each node of the target) --> READY
 *   READY --COM_CHANGE_USER--> [CU_SWITCH] --> CHANGING_USER --> READY
 *   any --error--> CLOSING (the client gets an ERR packet, then the close)
 */
#ifndef SLUICE_MYSQL_SESSION_H
#define SLUICE_MYSQL_SESSION_H

#include <sys/socket.h>

struct listener;
struct worker;

/* Take over the accepted client fd on worker w's thread. Always consumes
 * fd. */
void mysql_session_start(struct worker *w, struct listener *l, int fd, const struct sockaddr *peer,
			 socklen_t peer_len);

#endif
