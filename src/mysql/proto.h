/*
 * MySQL/MariaDB wire protocol constants: capability flags, commands, status
 * flags and packet markers. Values are from the protocol documentation
 * (MariaDB knowledge base, MySQL source docs); names follow the protocol's.
 */
#ifndef SLUICE_MYSQL_PROTO_H
#define SLUICE_MYSQL_PROTO_H

/* Capability flags (the lower 32 bits; MariaDB puts its extensions in a
 * separate 32-bit field of the greeting and the handshake response). */
#define CLIENT_LONG_PASSWORD		   (1u << 0)
#define CLIENT_FOUND_ROWS		   (1u << 1)
#define CLIENT_LONG_FLAG		   (1u << 2)
#define CLIENT_CONNECT_WITH_DB		   (1u << 3)
#define CLIENT_NO_SCHEMA		   (1u << 4)
#define CLIENT_COMPRESS			   (1u << 5)
#define CLIENT_ODBC			   (1u << 6)
#define CLIENT_LOCAL_FILES		   (1u << 7)
#define CLIENT_IGNORE_SPACE		   (1u << 8)
#define CLIENT_PROTOCOL_41		   (1u << 9)
#define CLIENT_INTERACTIVE		   (1u << 10)
#define CLIENT_SSL			   (1u << 11)
#define CLIENT_IGNORE_SIGPIPE		   (1u << 12)
#define CLIENT_TRANSACTIONS		   (1u << 13)
#define CLIENT_RESERVED			   (1u << 14)
#define CLIENT_SECURE_CONNECTION	   (1u << 15)
#define CLIENT_MULTI_STATEMENTS		   (1u << 16)
#define CLIENT_MULTI_RESULTS		   (1u << 17)
#define CLIENT_PS_MULTI_RESULTS		   (1u << 18)
#define CLIENT_PLUGIN_AUTH		   (1u << 19)
#define CLIENT_CONNECT_ATTRS		   (1u << 20)
#define CLIENT_PLUGIN_AUTH_LENENC_DATA	   (1u << 21)
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORD (1u << 22)
#define CLIENT_SESSION_TRACK		   (1u << 23)
#define CLIENT_DEPRECATE_EOF		   (1u << 24)
#define CLIENT_SSL_VERIFY_SERVER_CERT	   (1u << 30)
#define CLIENT_REMEMBER_OPTIONS		   (1u << 31)

/* Commands (first payload byte of a client packet in the command phase). */
enum mysql_command {
	COM_SLEEP = 0x00,
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_CREATE_DB = 0x05,
	COM_DROP_DB = 0x06,
	COM_REFRESH = 0x07,
	COM_SHUTDOWN = 0x08,
	COM_STATISTICS = 0x09,
	COM_PROCESS_INFO = 0x0a,
	COM_CONNECT = 0x0b,
	COM_PROCESS_KILL = 0x0c,
	COM_DEBUG = 0x0d,
	COM_PING = 0x0e,
	COM_TIME = 0x0f,
	COM_DELAYED_INSERT = 0x10,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_TABLE_DUMP = 0x13,
	COM_CONNECT_OUT = 0x14,
	COM_REGISTER_SLAVE = 0x15,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_DAEMON = 0x1d,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_RESET_CONNECTION = 0x1f,
};

/* Server status flags (OK and EOF packets). */
#define SERVER_STATUS_IN_TRANS		   0x0001
#define SERVER_STATUS_AUTOCOMMIT	   0x0002
#define SERVER_MORE_RESULTS_EXISTS	   0x0008
#define SERVER_STATUS_CURSOR_EXISTS	   0x0040
#define SERVER_STATUS_LAST_ROW_SENT	   0x0080
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define SERVER_STATUS_IN_TRANS_READONLY	   0x2000
#define SERVER_SESSION_STATE_CHANGED	   0x4000

/* First payload byte of a server packet. */
#define MYSQL_OK_MARKER	    0x00
#define MYSQL_EOF_MARKER    0xfe
#define MYSQL_ERR_MARKER    0xff
#define MYSQL_INFILE_MARKER 0xfb /* LOCAL INFILE request */
#define MYSQL_AUTH_MORE	    0x01 /* AuthMoreData */
#define MYSQL_AUTH_SWITCH   0xfe /* AuthSwitchRequest, during authentication */

/* Error codes sluice sends itself. */
#define ER_CON_COUNT_ERROR	1040
#define ER_HANDSHAKE_ERROR	1043
#define ER_ACCESS_DENIED_ERROR	1045
#define ER_UNKNOWN_COM_ERROR	1047
#define ER_NET_READ_ERROR	1158
#define ER_NET_PACKETS_OUT_OF_ORDER 1156
#define ER_NET_UNCOMPRESS_ERROR	    1157
#define ER_NO_SUCH_THREAD	1094
#define ER_KILL_DENIED_ERROR	1095
#define ER_NOT_SUPPORTED_YET	1235
#define ER_MALFORMED_PACKET	1835
#define ER_LOCK_DEADLOCK	1213 /* SQLSTATE 40001: the transaction was rolled back */
#define ER_UNKNOWN_STMT_HANDLER 1243
#define ER_QUERY_INTERRUPTED	1317 /* SQLSTATE 70100 */
#define ER_CONNECTION_KILLED	1927

#endif
