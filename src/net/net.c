/*
 * Socket options shared by all TCP connections. See net.h.
 */
#include "net/net.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

void net_tune_stream(int fd)
{
	int on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}
