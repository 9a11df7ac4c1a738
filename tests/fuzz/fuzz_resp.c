/*
 * Fuzz target for the command-response tracker of src/mysql/resp.c. Input:
 * the command byte, then packets as on the wire (3-byte length, a control
 * byte for the sequence id, payload; a length past the end stays declared,
 * as for a large row). Control bits: CTL_INFILE_DONE, CTL_SEE_ALL below.
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/proto.h"
#include "mysql/resp.h"
#include "fuzz.h"

#define CTL_INFILE_DONE 0x80 /* the client ended its LOCAL INFILE data first */
#define CTL_SEE_ALL	0x40 /* pass every available byte, not just mysql_resp_need() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mysql_resp r;
	bool finished = false;
	size_t off = 1;

	if (size < 1)
		return 0;
	if (!mysql_resp_start(&r, data[0])) {
		FUZZ_CHECK(r.state == RESP_DONE);
		return 0;
	}
	while (off + 4 <= size) {
		uint32_t len = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
			       (uint32_t)data[off + 2] << 16;
		uint8_t ctl = data[off + 3];
		size_t avail = size - off - 4 < len ? size - off - 4 : len;
		const uint8_t *payload = data + off + 4;

		off += 4 + avail;
		if (ctl & CTL_INFILE_DONE) {
			enum mysql_resp_state before = r.state;
			mysql_resp_infile_done(&r);
			FUZZ_CHECK(r.state == (before == RESP_INFILE ? RESP_AFTER_INFILE : before));
		}
		size_t need = mysql_resp_need(&r, len);
		FUZZ_CHECK(need <= len && need <= MYSQL_RESP_NEED_MAX);
		FUZZ_CHECK(len == 0 || need >= 1);
		size_t seen = ctl & CTL_SEE_ALL ? avail : need;
		if (seen < need || seen > avail)
			break; /* the input does not hold what the tracker needs */
		uint8_t *copy = fuzz_dup(payload, seen);
		enum mysql_resp_event ev = mysql_resp_packet(&r, copy, seen, len);
		free(copy);
		FUZZ_CHECK(mysql_resp_state_str(r.state) != NULL);
		if (finished) {
			/* Nothing is accepted after the end. */
			FUZZ_CHECK(ev == RESP_EV_BAD && r.state == RESP_BAD);
			continue;
		}
		switch (ev) {
		case RESP_EV_MORE:
			FUZZ_CHECK(r.state != RESP_DONE && r.state != RESP_BAD &&
				   r.state != RESP_IDLE && r.state != RESP_INFILE);
			break;
		case RESP_EV_INFILE:
			FUZZ_CHECK(r.state == RESP_INFILE && r.command == COM_QUERY);
			break;
		case RESP_EV_DONE:
			FUZZ_CHECK(r.state == RESP_DONE);
			if (r.error)
				FUZZ_CHECK(strlen(r.err.message) < sizeof(r.err.message) &&
					   r.err.sqlstate[5] == '\0');
			FUZZ_CHECK(!r.cursor || r.command == COM_STMT_EXECUTE);
			finished = true;
			break;
		case RESP_EV_BAD:
			FUZZ_CHECK(r.state == RESP_BAD);
			finished = true;
			break;
		default:
			FUZZ_CHECK(!"unknown event");
		}
	}
	return 0;
}
