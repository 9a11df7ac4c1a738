/*
 * Protocol-aware sessions (listeners with mode: mysql). sluice greets the
 * client as a MariaDB server, authenticates it against the configured users
 * (TLS and the compressed protocol on the client hop), logs in to the
 * cluster's writer as the same user, and then forwards every command and
 * streams its response, following the protocol packet by packet.
 *
 *   GREETING --SSLRequest--> (TLS handshake) --> GREETING
 *   GREETING --response--> [AUTH_SWITCH] --good password--> CONNECTING
 *   CONNECTING --backend logged in--> READY
 *   READY --command--> COMMAND --response complete--> READY
 *   COMMAND --server asks for a LOCAL INFILE--> INFILE --empty packet--> COMMAND
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
