/*
 * Fuzz target for the COM_STMT_EXECUTE rewrite of src/stmt.c, driven as
 * forward_command() in src/mysql_session.c drives it: for each execute,
 * stmt_capture_types() then stmt_write_execute() for a node. What is
 * written is parsed back the way the server reads it (sql_prepare.cc: any
 * non-zero new-params-bound byte means types follow) and compared with the
 * client's payload and with the types a model of the statement kept.
 *
 * Input: parameter count (2 bytes, little-endian), the node's statement id
 * (4 bytes), then records until the end: a control byte (bit 0: the node
 * has not seen the types, as with_types; bits 1-7: the sequence id), a
 * payload length (2 bytes, cut at the end of the input), the payload.
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/packet.h"
#include "mysql/wire.h"
#include "routing/stmt.h"
#include "fuzz.h"

#define EXEC_FIXED 10 /* command, id, flags, iteration count */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The parameter types the statement holds, as the server sees them: the
 * last ones a well-formed execute sent. */
struct model {
	uint16_t params;
	bool have_types;
	uint8_t *types; /* 2 * params bytes */
};

/* An execute as the server reads it; false if it is cut short. */
struct exec {
	size_t bitmap;	 /* offset of the NULL bitmap */
	size_t flag;	 /* offset of the new-params-bound byte (if params > 0) */
	bool bound;	 /* types follow the flag */
	size_t values;	 /* offset of the values */
};

static bool parse_exec(uint16_t params, const uint8_t *p, size_t len, struct exec *x)
{
	if (len < EXEC_FIXED)
		return false;
	/* No parameters: no bitmap, no flag, no values expected. */
	x->bitmap = EXEC_FIXED;
	x->flag = EXEC_FIXED + ((size_t)params + 7) / 8;
	x->bound = false;
	x->values = x->flag;
	if (params == 0)
		return true;
	if (len <= x->flag)
		return false;
	x->bound = p[x->flag] != 0;
	x->values = x->flag + 1 + (x->bound ? 2 * (size_t)params : 0);
	return len >= x->values;
}

/* Check one rewritten packet w (header and payload) against the client's
 * payload p and what the node must be sent. */
static void check_written(const struct model *m, const uint8_t *p, size_t len,
			  const struct exec *in, uint32_t node_id, bool with_types, uint8_t seq,
			  const struct mysql_writer *w)
{
	const uint8_t *out = w->data + 4;
	size_t out_len = w->len - 4;
	struct exec o;

	FUZZ_CHECK(w->len >= 4);
	FUZZ_CHECK(mysql_header_len(w->data) == out_len && w->data[3] == seq);
	FUZZ_CHECK(parse_exec(m->params, out, out_len, &o));
	FUZZ_CHECK(out[0] == p[0] && le32(out + 1) == node_id);
	FUZZ_CHECK(memcmp(out + 5, p + 5, EXEC_FIXED - 5) == 0);
	/* NULL bitmap and values as the client sent them. */
	FUZZ_CHECK(o.flag - o.bitmap == in->flag - in->bitmap);
	FUZZ_CHECK(memcmp(out + o.bitmap, p + in->bitmap, o.flag - o.bitmap) == 0);
	FUZZ_CHECK(out_len - o.values == len - in->values);
	FUZZ_CHECK(memcmp(out + o.values, p + in->values, len - in->values) == 0);
	if (m->params == 0)
		return;
	if (with_types || in->bound) {
		/* The node gets types: the client's, or the kept ones. */
		FUZZ_CHECK(o.bound);
		FUZZ_CHECK(memcmp(out + o.flag + 1, in->bound ? p + in->flag + 1 : m->types,
				  2 * (size_t)m->params) == 0);
	} else {
		FUZZ_CHECK(!o.bound && out[o.flag] == p[in->flag]);
	}
}

static void one_execute(struct stmt *st, struct model *m, const uint8_t *data, size_t len,
			uint32_t node_id, bool with_types, uint8_t seq)
{
	uint8_t *p = fuzz_dup(data, len);
	struct mysql_writer w;
	struct exec in;
	bool good = parse_exec(m->params, p, len, &in);
	uint32_t id;

	/* The id and cursor flags every statement command is read for. */
	FUZZ_CHECK(stmt_payload_id(p, len, &id) == (len >= 5));
	if (len >= 5)
		FUZZ_CHECK(id == le32(p + 1));
	FUZZ_CHECK(stmt_execute_flags(p, len) == (len > 5 ? p[5] : 0));

	bool captured = stmt_capture_types(st, p, len);
	if (good) {
		FUZZ_CHECK(captured);
		if (in.bound) {
			memcpy(m->types, p + in.flag + 1, 2 * (size_t)m->params);
			m->have_types = true;
		}
	}
	FUZZ_CHECK(!!st->types == m->have_types);
	if (m->have_types)
		FUZZ_CHECK(memcmp(st->types, m->types, 2 * (size_t)m->params) == 0);

	/* Written on its own, not only after a capture, as its contract says:
	 * a malformed payload is refused. */
	mysql_writer_init(&w);
	bool written = stmt_write_execute(st, p, len, node_id, with_types, &w, seq);
	if (!good) {
		FUZZ_CHECK(!written);
	} else {
		bool needs_kept = with_types && m->params && !in.bound;
		FUZZ_CHECK(written == (!needs_kept || m->have_types));
		if (written)
			check_written(m, p, len, &in, node_id, with_types, seq, &w);
	}
	/* The form agrees with the rewrite: refused exactly when it is BAD,
	 * and ID_ONLY exactly when the packet keeps its length (the id is
	 * patched in place then). */
	enum stmt_exec_form form = stmt_execute_form(st, p, len, with_types);
	FUZZ_CHECK((form != STMT_EXEC_BAD) == written);
	if (written)
		FUZZ_CHECK((form == STMT_EXEC_ID_ONLY) == (w.len == MYSQL_HEADER_LEN + len));
	mysql_writer_deinit(&w);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stmt_table t;
	struct stmt *st;
	struct model m = {0};
	uint32_t node_id;
	size_t off = 6;

	if (size < off)
		return 0;
	m.params = (uint16_t)(data[0] | data[1] << 8);
	node_id = le32(data + 2);
	m.types = malloc(2 * (size_t)m.params + 1);
	FUZZ_CHECK(m.types != NULL);
	stmt_table_init(&t, 2);
	st = stmt_add(&t, (const uint8_t *)"SELECT ?", 8, 0, node_id, m.params, 0, true);
	FUZZ_CHECK(st != NULL && st->params == m.params && st->types == NULL);

	while (off + 3 <= size) {
		uint8_t ctl = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		if (len > size - off)
			len = size - off;
		one_execute(st, &m, data + off, len, node_id, ctl & 1, (uint8_t)(ctl >> 1));
		off += len;
	}
	stmt_table_deinit(&t);
	free(m.types);
	return 0;
}
