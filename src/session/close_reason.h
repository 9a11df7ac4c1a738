/*
 * Why a client session ended, for both session kinds: one enum, a name for
 * logs and the stats (sluice_session_closes_total{reason}), and a count per
 * worker (worker_count_close()). The reason is fixed when the end begins:
 * a session that first flushes its last ERR to the client keeps it.
 */
#ifndef SLUICE_CLOSE_REASON_H
#define SLUICE_CLOSE_REASON_H

/* X(name, help): name is the stats label. */
#define CLOSE_REASONS(X)                                                                           \
	X(client_quit, "the client sent COM_QUIT")                                                 \
	X(client_closed, "the client closed its connection")                                       \
	X(client_error, "the client connection failed (socket or TLS error)")                      \
	X(login_timeout, "the client did not log in within login_timeout")                         \
	X(login_denied, "wrong password or unknown user")                                          \
	X(protocol_error, "the client broke the protocol (bad handshake, malformed or "            \
			  "out-of-order packets, a corrupt compressed frame)")                     \
	X(no_node, "no node could take the session (none healthy, all refused, no writer "         \
		   "within queue_timeout)")                                                        \
	X(node_refused, "the node refused the client's login or change of user")                   \
	X(node_lost, "lost the node that held the session's state or its change of user")          \
	X(node_closed, "the node closed the connection (tcp), or ended it with a kill or "         \
		       "shutdown error")                                                           \
	X(node_error, "the node's connection failed (tcp), or it broke the protocol")              \
	X(killed, "KILL CONNECTION of this session")                                               \
	X(maintenance, "the operator put the session's node in maintenance (tcp)")                 \
	X(out_of_memory, "sluice ran out of memory for the session")

enum close_reason {
#define CLOSE_REASON_ENUM(name, help) CLOSE_REASON_##name,
	CLOSE_REASONS(CLOSE_REASON_ENUM)
#undef CLOSE_REASON_ENUM
		CLOSE_REASON_COUNT
};

/* The reason's name ("client_quit"); "?" out of range. */
const char *close_reason_str(enum close_reason reason);

#endif
