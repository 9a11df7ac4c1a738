/*
 * Fuzz target for the response tracker (src/mysql/resp.c) fed the way a
 * mode: mysql session feeds it (resp_next() in src/mysql_session.c): after a
 * real command, node bytes cut into packets by their 3-byte length and
 * sequence id; of each packet the tracker sees exactly mysql_resp_need()
 * bytes, a continuation of a 16 MiB packet is only data (no event), and
 * nothing is fed after RESP_EV_DONE or RESP_EV_BAD.
 *
 * Input: an options byte, then the node's bytes. Options bits 0-3 pick the
 * command from commands[]; bit 4 (SPARSE): a packet holds in the input only
 * the bytes the tracker needs, the rest of its payload is taken as streamed
 * past (this is how 16 MiB packets and their continuations fit in a short
 * input); bit 5 (INFILE_DONE): after a LOCAL INFILE request the client's
 * empty packet comes at once (else node bytes keep arriving in RESP_INFILE,
 * as they can in the session).
 *
 * In the rows of a result, the walk sluice takes first (mysql_resp_rows()
 * over the bytes that follow) is checked against the tracker: every packet
 * it takes is one the tracker, fed it, calls a row, in sequence.
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "fuzz.h"

#define OPT_SPARSE	(1u << 4)
#define OPT_INFILE_DONE (1u << 5)

/* What a session sends a node and tracks the answer of (COM_CHANGE_USER's
 * answer is an authentication exchange, not tracked; COM_QUIT,
 * COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have none). */
static const uint8_t commands[16] = {
	COM_QUERY,	  COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_FIELD_LIST,
	COM_STATISTICS,	  COM_PING,	    COM_STMT_FETCH,   COM_INIT_DB,
	COM_PROCESS_INFO, COM_SET_OPTION,   COM_STMT_RESET,   COM_RESET_CONNECTION,
	COM_PROCESS_KILL, COM_DEBUG,	    COM_REFRESH,      COM_SLEEP,
};

/* The tracker's state is one of the enum and agrees with the event. */
static void check_event(const struct mysql_resp *r, enum mysql_resp_event ev)
{
	FUZZ_CHECK((unsigned)r->state <= RESP_BAD);
	FUZZ_CHECK(strcmp(mysql_resp_state_str(r->state), "?") != 0);
	switch (ev) {
	case RESP_EV_MORE:
		FUZZ_CHECK(r->state != RESP_DONE && r->state != RESP_BAD &&
			   r->state != RESP_IDLE && r->state != RESP_INFILE);
		break;
	case RESP_EV_INFILE:
		FUZZ_CHECK(r->state == RESP_INFILE && r->command == COM_QUERY);
		break;
	case RESP_EV_DONE:
		FUZZ_CHECK(r->state == RESP_DONE);
		if (r->error)
			FUZZ_CHECK(memchr(r->err.message, '\0', sizeof(r->err.message)) != NULL &&
				   r->err.sqlstate[5] == '\0');
		FUZZ_CHECK(!r->cursor || r->command == COM_STMT_EXECUTE);
		break;
	case RESP_EV_BAD:
		FUZZ_CHECK(r->state == RESP_BAD);
		break;
	default:
		FUZZ_CHECK(!"unknown event");
	}
}

/* Feed the tracker one packet's first `need` bytes, from an exact heap copy
 * so that any read past them is an ASan (or valgrind) error. */
static enum mysql_resp_event feed(struct mysql_resp *r, const uint8_t *p, size_t need,
				  uint32_t len)
{
	uint8_t *copy = fuzz_dup(p, need);
	enum mysql_resp_event ev = mysql_resp_packet(r, copy, need, len);

	free(copy);
	return ev;
}

/* The rows walk over [at, at + avail) (whole packets, headers included)
 * takes only packets the tracker r, fed them one by one, calls rows. */
static void check_rows_walk(const struct mysql_resp *r, const uint8_t *at, size_t avail)
{
	uint8_t *copy = fuzz_dup(at, avail);
	uint8_t seq = at[3], want = at[3];
	size_t took = mysql_resp_rows(r, copy, avail, &seq), pos = 0;
	struct mysql_resp t = *r;

	free(copy);
	FUZZ_CHECK(took <= avail);
	while (pos < took) {
		uint32_t len = mysql_header_len(at + pos);
		FUZZ_CHECK(at[pos + 3] == want);
		want++;
		FUZZ_CHECK(len < MYSQL_MAX_PAYLOAD && pos + MYSQL_HEADER_LEN + len <= took);
		FUZZ_CHECK(feed(&t, at + pos + MYSQL_HEADER_LEN, mysql_resp_need(&t, len), len) ==
				   RESP_EV_MORE &&
			   t.state == RESP_ROWS);
		pos += MYSQL_HEADER_LEN + len;
	}
	FUZZ_CHECK(pos == took && seq == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mysql_resp r;
	bool cont = false, finished = false;
	uint8_t opts;
	size_t off = 1;

	if (size < 1)
		return 0;
	opts = data[0];
	FUZZ_CHECK(mysql_resp_start(&r, commands[opts & 15]));
	FUZZ_CHECK(r.state != RESP_DONE && r.state != RESP_BAD && r.state != RESP_IDLE);

	while (off + MYSQL_HEADER_LEN <= size) {
		uint32_t len = mysql_header_len(data + off);
		size_t avail = size - off - MYSQL_HEADER_LEN;
		const uint8_t *payload = data + off + MYSQL_HEADER_LEN;
		size_t need = 0, in_input;

		if (cont) {
			/* Data of a 16 MiB packet: streamed, never classified. */
			in_input = opts & OPT_SPARSE ? 0 : len;
		} else {
			need = mysql_resp_need(&r, len);
			FUZZ_CHECK(need <= len && need <= MYSQL_RESP_NEED_MAX);
			FUZZ_CHECK(len == 0 || need >= 1);
			if (finished) {
				/* The session stops here: the command is over (or the
				 * session closed). The tracker, if fed anyway, refuses. */
				struct mysql_resp after = r;
				if (need <= avail)
					FUZZ_CHECK(feed(&after, payload, need, len) == RESP_EV_BAD &&
						   after.state == RESP_BAD);
				break;
			}
			if (need > avail)
				break; /* the session waits for bytes that never come */
			if (r.state == RESP_ROWS && !(opts & OPT_SPARSE))
				check_rows_walk(&r, data + off, size - off);
			enum mysql_resp_event ev = feed(&r, payload, need, len);
			check_event(&r, ev);
			if (ev == RESP_EV_DONE || ev == RESP_EV_BAD)
				finished = true;
			if (ev == RESP_EV_INFILE && (opts & OPT_INFILE_DONE)) {
				mysql_resp_infile_done(&r);
				FUZZ_CHECK(r.state == RESP_AFTER_INFILE);
			}
			in_input = opts & OPT_SPARSE ? need : len;
		}
		cont = len == MYSQL_MAX_PAYLOAD;
		if (in_input > avail)
			break; /* the rest of the packet never arrives */
		off += MYSQL_HEADER_LEN + in_input;
		if (finished && r.state == RESP_BAD)
			break; /* the session is closed at once */
	}
	return 0;
}
