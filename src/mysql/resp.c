/*
 * OK/ERR/EOF packets and the command-response tracker. See resp.h for the
 * state diagram. A packet that does not fit the state is RESP_EV_BAD: a
 * proxy must not guess where a response ends.
 */
#include "resp.h"

#include <stddef.h>
#include <string.h>

#include "packet.h"
#include "proto.h"
#include "wire.h"

bool mysql_read_ok(const uint8_t *payload, size_t len, struct mysql_ok *out)
{
	struct mysql_reader r;

	mysql_reader_init(&r, payload, len);
	uint8_t marker = mysql_read_u8(&r);
	if (marker != MYSQL_OK_MARKER && marker != MYSQL_EOF_MARKER)
		return false;
	out->affected_rows = mysql_read_lenenc(&r, NULL);
	out->last_insert_id = mysql_read_lenenc(&r, NULL);
	out->status = mysql_read_u16(&r);
	out->warnings = mysql_read_u16(&r);
	return r.ok;
}

bool mysql_read_err(const uint8_t *payload, size_t len, struct mysql_err *out)
{
	struct mysql_reader r;

	memset(out, 0, sizeof(*out));
	mysql_reader_init(&r, payload, len);
	if (mysql_read_u8(&r) != MYSQL_ERR_MARKER)
		return false;
	out->code = mysql_read_u16(&r);
	if (!r.ok)
		return false;
	if (mysql_reader_left(&r) >= 6 && r.p[0] == '#') {
		memcpy(out->sqlstate, r.p + 1, 5);
		r.p += 6;
	} else {
		memcpy(out->sqlstate, "HY000", 6);
	}
	size_t n = mysql_reader_left(&r);
	if (n >= sizeof(out->message))
		n = sizeof(out->message) - 1;
	memcpy(out->message, r.p, n);
	out->message[n] = '\0';
	return true;
}

bool mysql_read_eof(const uint8_t *payload, size_t len, uint16_t *warnings, uint16_t *status)
{
	struct mysql_reader r;

	if (len >= 9)
		return false;
	mysql_reader_init(&r, payload, len);
	if (mysql_read_u8(&r) != MYSQL_EOF_MARKER)
		return false;
	if (len >= 5) {
		*warnings = mysql_read_u16(&r);
		*status = mysql_read_u16(&r);
	} else {
		/* Pre-4.1 EOF: no status. */
		*warnings = 0;
		*status = 0;
	}
	return r.ok;
}

void mysql_write_ok(struct mysql_writer *w, uint8_t seq, const struct mysql_ok *ok)
{
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, MYSQL_OK_MARKER);
	mysql_put_lenenc(w, ok->affected_rows);
	mysql_put_lenenc(w, ok->last_insert_id);
	mysql_put_u16(w, ok->status);
	mysql_put_u16(w, ok->warnings);
	mysql_packet_end(w);
}

void mysql_write_err41(struct mysql_writer *w, uint8_t seq, uint16_t code, const char *sqlstate,
		       const char *message)
{
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, MYSQL_ERR_MARKER);
	mysql_put_u16(w, code);
	mysql_put_u8(w, '#');
	mysql_put_bytes(w, sqlstate, 5);
	mysql_put_bytes(w, message, strlen(message));
	mysql_packet_end(w);
}

static const char *const state_names[] = {
	[RESP_IDLE] = "idle",
	[RESP_FIRST] = "first",
	[RESP_COLUMNS] = "columns",
	[RESP_COLUMNS_EOF] = "columns-eof",
	[RESP_ROWS] = "rows",
	[RESP_INFILE] = "infile",
	[RESP_AFTER_INFILE] = "after-infile",
	[RESP_PREPARE_OK] = "prepare-ok",
	[RESP_PARAMS] = "params",
	[RESP_PARAMS_EOF] = "params-eof",
	[RESP_STATISTICS] = "statistics",
	[RESP_SINGLE] = "single",
	[RESP_DONE] = "done",
	[RESP_BAD] = "bad",
};

const char *mysql_resp_state_str(enum mysql_resp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

bool mysql_resp_expected(uint8_t command)
{
	return command != COM_QUIT && command != COM_STMT_SEND_LONG_DATA &&
	       command != COM_STMT_CLOSE;
}

bool mysql_resp_start(struct mysql_resp *r, uint8_t command)
{
	/* Everything but the error's text, which is read only once set. */
	memset(r, 0, offsetof(struct mysql_resp, err));
	r->err.code = 0;
	r->err.sqlstate[0] = '\0';
	r->err.message[0] = '\0';
	r->command = command;
	if (!mysql_resp_expected(command)) {
		r->state = RESP_DONE;
		return false;
	}
	switch (command) {
	case COM_QUERY:
	case COM_STMT_EXECUTE:
	case COM_PROCESS_INFO: /* a result set, like SHOW PROCESSLIST */
		r->state = RESP_FIRST;
		break;
	case COM_STMT_PREPARE:
		r->state = RESP_PREPARE_OK;
		break;
	case COM_FIELD_LIST:
		r->state = RESP_COLUMNS;
		r->columns_left = UINT64_MAX; /* until EOF */
		break;
	case COM_STMT_FETCH:
		r->state = RESP_ROWS;
		break;
	case COM_STATISTICS:
		r->state = RESP_STATISTICS;
		break;
	default:
		r->state = RESP_SINGLE;
		break;
	}
	return true;
}

/* Control packets (OK/ERR/EOF, counts, column definitions) are small, so
 * the tracker reads them whole; of a row it needs only the first byte. */
size_t mysql_resp_need(const struct mysql_resp *r, uint32_t len)
{
	size_t cap = len < MYSQL_RESP_NEED_MAX ? len : MYSQL_RESP_NEED_MAX;

	switch (r->state) {
	case RESP_ROWS:
	case RESP_COLUMNS:
	case RESP_PARAMS:
	case RESP_STATISTICS:
		/* First byte tells EOF/ERR from data; an ERR or EOF is small
		 * enough that reading up to cap covers it. */
		return len <= MYSQL_RESP_NEED_MAX ? cap : 1;
	default:
		return cap;
	}
}

static void take_status(struct mysql_resp *r, uint16_t status)
{
	r->status = status;
	r->status_valid = true;
}

static enum mysql_resp_event bad(struct mysql_resp *r)
{
	r->state = RESP_BAD;
	return RESP_EV_BAD;
}

static enum mysql_resp_event on_err(struct mysql_resp *r, const uint8_t *p, size_t seen,
				    uint32_t len)
{
	if (seen < len || !mysql_read_err(p, len, &r->err))
		return bad(r);
	r->error = true;
	r->state = RESP_DONE;
	return RESP_EV_DONE;
}

/* An OK that ends one result: more may follow. */
static enum mysql_resp_event on_ok(struct mysql_resp *r, const uint8_t *p, size_t seen,
				   uint32_t len)
{
	struct mysql_ok ok;

	if (seen < len || !mysql_read_ok(p, len, &ok))
		return bad(r);
	take_status(r, ok.status);
	r->affected_rows = ok.affected_rows;
	r->last_insert_id = ok.last_insert_id;
	r->warnings = ok.warnings;
	r->error = false;
	if ((r->command == COM_QUERY || r->command == COM_STMT_EXECUTE) &&
	    (ok.status & SERVER_MORE_RESULTS_EXISTS)) {
		r->state = RESP_FIRST;
		return RESP_EV_MORE;
	}
	r->state = RESP_DONE;
	return RESP_EV_DONE;
}

/* An EOF that ends rows (or a field list): more results may follow. */
static enum mysql_resp_event on_final_eof(struct mysql_resp *r, const uint8_t *p, size_t seen,
					  uint32_t len)
{
	uint16_t warnings, status;

	if (seen < len || !mysql_read_eof(p, len, &warnings, &status))
		return bad(r);
	take_status(r, status);
	r->warnings = warnings;
	r->error = false;
	if ((r->command == COM_QUERY || r->command == COM_STMT_EXECUTE) &&
	    (status & SERVER_MORE_RESULTS_EXISTS)) {
		r->state = RESP_FIRST;
		return RESP_EV_MORE;
	}
	r->state = RESP_DONE;
	return RESP_EV_DONE;
}

static bool is_eof(const uint8_t *p, size_t seen, uint32_t len)
{
	return seen >= 1 && p[0] == MYSQL_EOF_MARKER && len < 9;
}

/* In RESP_ROWS: the packet is the ERR or EOF that ends the rows (seen >= 1). */
static bool ends_rows(const uint8_t *p, size_t seen, uint32_t len)
{
	return (p[0] == MYSQL_ERR_MARKER && len < MYSQL_RESP_NEED_MAX) || is_eof(p, seen, len);
}

size_t mysql_resp_rows(const struct mysql_resp *r, const uint8_t *at, size_t avail, uint8_t *seq)
{
	size_t used = 0;

	if (r->state != RESP_ROWS)
		return 0;
	while (avail - used > MYSQL_HEADER_LEN) {
		const uint8_t *h = at + used;
		uint32_t len = mysql_header_len(h);
		/* What mysql_resp_packet takes for other than a row, in RESP_ROWS. */
		if (len == 0 || len == MYSQL_MAX_PAYLOAD || avail - used - MYSQL_HEADER_LEN < len ||
		    h[3] != *seq || ends_rows(h + MYSQL_HEADER_LEN, len, len))
			break;
		used += MYSQL_HEADER_LEN + (size_t)len;
		(*seq)++;
	}
	return used;
}

enum mysql_resp_event mysql_resp_packet(struct mysql_resp *r, const uint8_t *p, size_t seen,
					uint32_t len)
{
	struct mysql_reader rd;
	uint16_t warnings, status;

	if (seen < 1 && len > 0)
		return bad(r);
	if (len == 0 && r->state != RESP_STATISTICS)
		return bad(r);

	switch (r->state) {
	case RESP_FIRST:
		if (p[0] == MYSQL_OK_MARKER)
			return on_ok(r, p, seen, len);
		if (p[0] == MYSQL_ERR_MARKER)
			return on_err(r, p, seen, len);
		if (p[0] == MYSQL_INFILE_MARKER && r->command == COM_QUERY) {
			r->state = RESP_INFILE;
			return RESP_EV_INFILE;
		}
		mysql_reader_init(&rd, p, seen < len ? seen : len);
		r->columns_left = mysql_read_lenenc(&rd, NULL);
		if (!rd.ok || r->columns_left == 0 || mysql_reader_left(&rd) != 0)
			return bad(r);
		r->state = RESP_COLUMNS;
		return RESP_EV_MORE;

	case RESP_COLUMNS:
		if (r->command == COM_FIELD_LIST) {
			if (p[0] == MYSQL_ERR_MARKER)
				return on_err(r, p, seen, len);
			if (is_eof(p, seen, len))
				return on_final_eof(r, p, seen, len);
			return RESP_EV_MORE;
		}
		if (p[0] == MYSQL_ERR_MARKER) /* servers can fail mid-metadata */
			return on_err(r, p, seen, len);
		if (--r->columns_left == 0)
			r->state = RESP_COLUMNS_EOF;
		return RESP_EV_MORE;

	case RESP_COLUMNS_EOF:
		if (!is_eof(p, seen, len) || seen < len ||
		    !mysql_read_eof(p, len, &warnings, &status))
			return bad(r);
		take_status(r, status);
		if (r->command == COM_STMT_PREPARE) {
			r->state = RESP_DONE; /* metadata only */
			return RESP_EV_DONE;
		}
		if (r->command == COM_STMT_EXECUTE && (status & SERVER_STATUS_CURSOR_EXISTS)) {
			/* Rows come later, through COM_STMT_FETCH. */
			r->cursor = true;
			r->state = RESP_DONE;
			return RESP_EV_DONE;
		}
		r->state = RESP_ROWS;
		return RESP_EV_MORE;

	case RESP_ROWS:
		if (!ends_rows(p, seen, len))
			return RESP_EV_MORE;
		return p[0] == MYSQL_ERR_MARKER ? on_err(r, p, seen, len)
						: on_final_eof(r, p, seen, len);

	case RESP_AFTER_INFILE:
	case RESP_SINGLE:
		if (p[0] == MYSQL_ERR_MARKER)
			return on_err(r, p, seen, len);
		if (is_eof(p, seen, len)) /* COM_SET_OPTION, COM_DEBUG answer EOF */
			return on_final_eof(r, p, seen, len);
		if (p[0] == MYSQL_OK_MARKER) {
			if (r->state == RESP_AFTER_INFILE) {
				r->state = RESP_FIRST;
				return on_ok(r, p, seen, len);
			}
			enum mysql_resp_event ev = on_ok(r, p, seen, len);
			return ev == RESP_EV_BAD ? ev : RESP_EV_DONE;
		}
		return bad(r);

	case RESP_STATISTICS:
		/* A single string packet (or ERR). */
		if (len > 0 && p[0] == MYSQL_ERR_MARKER)
			return on_err(r, p, seen, len);
		r->state = RESP_DONE;
		return RESP_EV_DONE;

	case RESP_PREPARE_OK:
		if (p[0] == MYSQL_ERR_MARKER)
			return on_err(r, p, seen, len);
		if (p[0] != MYSQL_OK_MARKER || seen < len || len < 12)
			return bad(r);
		mysql_reader_init(&rd, p + 1, len - 1);
		r->stmt_id = mysql_read_u32(&rd);
		r->prepare_columns = mysql_read_u16(&rd);
		r->params_left = mysql_read_u16(&rd);
		if (!rd.ok)
			return bad(r);
		r->columns_left = r->prepare_columns;
		if (r->params_left) {
			r->state = RESP_PARAMS;
			return RESP_EV_MORE;
		}
		goto after_params;

	case RESP_PARAMS:
		if (--r->params_left == 0)
			r->state = RESP_PARAMS_EOF;
		return RESP_EV_MORE;

	case RESP_PARAMS_EOF:
		if (!is_eof(p, seen, len) || seen < len ||
		    !mysql_read_eof(p, len, &warnings, &status))
			return bad(r);
		take_status(r, status);
	after_params:
		if (r->columns_left) {
			/* Columns of a prepare end with an EOF and no rows. */
			r->state = RESP_COLUMNS;
			return RESP_EV_MORE;
		}
		r->state = RESP_DONE;
		return RESP_EV_DONE;

	case RESP_INFILE:
	case RESP_IDLE:
	case RESP_DONE:
	case RESP_BAD:
		break;
	}
	return bad(r);
}

void mysql_resp_infile_done(struct mysql_resp *r)
{
	if (r->state == RESP_INFILE)
		r->state = RESP_AFTER_INFILE;
}
