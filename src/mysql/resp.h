/*
 * Server responses in the command phase: OK/ERR/EOF packets, and a tracker
 * that follows one command's whole response packet by packet so a proxy
 * can stream it and still know where it ends and in which state it leaves
 * the session (status flags: transaction, autocommit, more results).
 *
 * The tracker never needs a whole large packet: for each packet it says how
 * many payload bytes it must see (mysql_resp_need), which is the full
 * payload only for small control packets and one byte for rows.
 *
 * Assumptions, which the caller must make true: CLIENT_DEPRECATE_EOF is off
 * and no MariaDB extended capability (progress reports, metadata caching)
 * was negotiated, since both change packet formats; and the caller feeds
 * only the first packet of a 16 MiB continuation chain (a packet of
 * 0xffffff bytes continues in the next one, which is data, not a packet
 * the tracker may classify). COM_CHANGE_USER is not tracked here: its
 * answer is an authentication exchange.
 *
 *   COM_QUERY / COM_STMT_EXECUTE:
 *     FIRST --OK/ERR--> done (or FIRST again if OK says more results)
 *     FIRST --0xfb--> INFILE (client streams a file) --> AFTER_INFILE --OK/ERR--> done
 *     FIRST --count--> COLUMNS --EOF--> ROWS --EOF/ERR--> done | FIRST
 *                                  \--EOF with CURSOR_EXISTS (execute)--> done
 *   COM_STMT_PREPARE: PREPARE_OK -> PARAMS -> EOF -> COLUMNS -> EOF -> done
 *   COM_FIELD_LIST:   COLUMNS until EOF/ERR
 *   COM_STMT_FETCH:   ROWS until EOF/ERR
 *   COM_STATISTICS:   one text packet
 *   others:           one OK/ERR/EOF packet
 */
#ifndef SLUICE_MYSQL_RESP_H
#define SLUICE_MYSQL_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_writer;

struct mysql_ok {
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status;
	uint16_t warnings;
};

struct mysql_err {
	uint16_t code;
	char sqlstate[6];
	char message[512];
};

/* Parse an OK (0x00, or 0xfe in an OK role) packet's fixed prefix; a
 * session-track tail is not needed and not read. */
bool mysql_read_ok(const uint8_t *payload, size_t len, struct mysql_ok *out)
	__attribute__((warn_unused_result));
bool mysql_read_err(const uint8_t *payload, size_t len, struct mysql_err *out)
	__attribute__((warn_unused_result));
/* EOF packet (0xfe, shorter than 9 bytes): warnings and status. */
bool mysql_read_eof(const uint8_t *payload, size_t len, uint16_t *warnings, uint16_t *status)
	__attribute__((warn_unused_result));

void mysql_write_ok(struct mysql_writer *w, uint8_t seq, const struct mysql_ok *ok);
/* A protocol-41 ERR packet with SQLSTATE. */
void mysql_write_err41(struct mysql_writer *w, uint8_t seq, uint16_t code, const char *sqlstate,
		       const char *message);

enum mysql_resp_state {
	RESP_IDLE,
	RESP_FIRST,	   /* first packet of a (next) result */
	RESP_COLUMNS,	   /* column definitions */
	RESP_COLUMNS_EOF,  /* the EOF after the column definitions */
	RESP_ROWS,	   /* rows until EOF/ERR */
	RESP_INFILE,	   /* client is sending LOCAL INFILE data */
	RESP_AFTER_INFILE, /* OK/ERR after the file */
	RESP_PREPARE_OK,
	RESP_PARAMS,
	RESP_PARAMS_EOF,
	RESP_STATISTICS,
	RESP_SINGLE, /* one OK/ERR/EOF */
	RESP_DONE,
	RESP_BAD,
};

enum mysql_resp_event {
	RESP_EV_MORE,	/* keep forwarding */
	RESP_EV_DONE,	/* the command's response is complete */
	RESP_EV_INFILE, /* server asked for a LOCAL INFILE: the client streams next */
	RESP_EV_BAD,	/* not a valid response here: close the session */
};

struct mysql_resp {
	enum mysql_resp_state state;
	uint8_t command;
	uint64_t columns_left;
	uint32_t params_left;
	uint32_t prepare_columns;
	uint32_t stmt_id;	 /* from PREPARE_OK */
	uint16_t status;	 /* latest server status flags seen */
	bool status_valid;	 /* a packet in this response carried status */
	bool error;		 /* the response (or its last result) was an ERR */
	uint64_t affected_rows;	 /* of the last OK */
	uint64_t last_insert_id; /* of the last OK */
	uint16_t warnings;	 /* of the last OK or EOF */
	bool cursor;		 /* COM_STMT_EXECUTE opened a cursor */
	struct mysql_err err;	 /* filled when error; last, as the largest */
};

/* Whether command (the first byte of the client packet) has a response:
 * false for COM_QUIT, COM_STMT_SEND_LONG_DATA and COM_STMT_CLOSE. */
bool mysql_resp_expected(uint8_t command);

/* Expect the response to command. Returns mysql_resp_expected(command):
 * when false, nothing is to be read. */
bool mysql_resp_start(struct mysql_resp *r, uint8_t command);

/* How many bytes of a len-byte payload the tracker must see to classify the
 * packet (never more than len, never more than MYSQL_RESP_NEED_MAX unless
 * the packet is that small). */
#define MYSQL_RESP_NEED_MAX 65536
size_t mysql_resp_need(const struct mysql_resp *r, uint32_t len);

/* Feed one packet: its full payload length and the first `seen` bytes
 * (seen >= mysql_resp_need()). */
enum mysql_resp_event mysql_resp_packet(struct mysql_resp *r, const uint8_t *payload, size_t seen,
					uint32_t len);

/* In the rows of a result (state RESP_ROWS), the whole packets at the
 * start of [at, at + avail) that are rows: not the EOF or ERR that ends
 * them, not part of a 16 MiB packet, each carrying the sequence id *seq
 * says, which then moves past them. Returns the bytes those packets take,
 * headers included (0 when the first packet is not one of them). The
 * tracker does not change: rows change nothing in it, and the packet the
 * walk stopped at goes to mysql_resp_packet as usual. */
size_t mysql_resp_rows(const struct mysql_resp *r, const uint8_t *at, size_t avail, uint8_t *seq);

/* The client finished its LOCAL INFILE data (empty packet): back to
 * waiting for the server's OK/ERR. */
void mysql_resp_infile_done(struct mysql_resp *r);

const char *mysql_resp_state_str(enum mysql_resp_state s);

#endif
