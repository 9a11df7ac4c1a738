/*
 * Unit tests for src/mysql/resp.c: the OK/ERR/EOF readers and writers, and
 * the command-response tracker fed every captured response of a real
 * MariaDB 10.11 packet by packet (seeing only mysql_resp_need() bytes, and
 * then whole packets), plus built sequences for errors, garbage and limits.
 * Only what resp.h's contract covers is fed: nothing negotiated with
 * MariaDB extended capabilities, no 16 MiB continuation packets (skipped as
 * the caller must), no COM_CHANGE_USER.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/packet.h"
#include "mysql/proto.h"
#include "mysql/resp.h"
#include "mysql/wire.h"
#include "check.h"
#include "test_util.h"
#include "fixtures/fixture.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- OK / ERR / EOF --------------------------------------------------------- */

enum pkt_kind { K_OK, K_ERR, K_EOF };

struct pkt_case {
	const char *name;
	enum pkt_kind kind;
	const char *hex; /* payload */
	bool want_ok;
	uint64_t a, b;	 /* OK: affected rows, last insert id; ERR: code */
	uint16_t status; /* OK, EOF */
	uint16_t warnings;
	const char *text; /* ERR: sqlstate then message, "|" between */
};

static const struct pkt_case pkt_cases[] = {
	/* Captured. */
	{"OK of an INSERT", K_OK, "00010001000000", true, 1, 0, 0x0001, 0, NULL},
	{"OK with info text", K_OK,
	 "0000002100000028526f7773206d6174636865643a203020204368616e6765643a20302020576172"
	 "6e696e67733a2030",
	 true, 0, 0, 0x0021, 0, NULL},
	{"OK with session state", K_OK, "0000000240000000080106056361706462", true, 0, 0, 0x4002, 0,
	 NULL},
	{"OK after LOCAL INFILE", K_OK, "000300010000002f5265636f7264733a2033", true, 3, 0, 0x0001,
	 0, NULL},
	{"ERR 1146", K_ERR,
	 "ff7a042334325330325461626c65202763617064622e6e6f70652720646f65736e2774206578697374", true,
	 1146, 0, 0, 0, "42S02|Table 'capdb.nope' doesn't exist"},
	{"ERR 1045", K_ERR,
	 "ff15042332383030304163636573732064656e69656420666f72207573657220276361702740276c6f"
	 "63616c686f73742720287573696e672070617373776f72643a2059455329",
	 true, 1045, 0, 0, 0,
	 "28000|Access denied for user 'cap'@'localhost' (using password: YES)"},
	{"EOF with a warning", K_EOF, "fe01000100", true, 0, 0, 0x0001, 1, NULL},
	{"EOF with a cursor", K_EOF, "fe00006200", true, 0, 0, 0x0062, 0, NULL},
	/* Built. */
	{"OK with 3-byte lenenc fields", K_OK, "00fc0001fd000001fe00ff00", true, 256, 0x10000,
	 0x00fe, 0xff, NULL},
	{"OK with 9-byte affected rows", K_OK, "00fe0000000001000000000a000300", true,
	 0x100000000ull, 0, 0x000a, 3, NULL},
	{"OK in the 0xfe role", K_OK, "fe0102030004000000", true, 1, 2, 3, 4, NULL},
	{"OK without warnings", K_OK, "0000000200", false, 0, 0, 0, 0, NULL},
	{"OK without status", K_OK, "000000", false, 0, 0, 0, 0, NULL},
	{"OK marker only", K_OK, "00", false, 0, 0, 0, 0, NULL},
	{"OK with a 0xff field", K_OK, "00ff0002000000", false, 0, 0, 0, 0, NULL},
	{"not an OK", K_OK, "ff0000", false, 0, 0, 0, 0, NULL},
	{"empty is no OK", K_OK, "", false, 0, 0, 0, 0, NULL},
	{"ERR without SQLSTATE", K_ERR, "ff5104626f6f6d", true, 1105, 0, 0, 0, "HY000|boom"},
	{"ERR code only", K_ERR, "ff5104", true, 1105, 0, 0, 0, "HY000|"},
	{"ERR with '#' and too short for a SQLSTATE", K_ERR, "ff510423343230", true, 1105, 0, 0, 0,
	 "HY000|#420"},
	{"ERR with SQLSTATE and no message", K_ERR, "ff5104233432303030", true, 1105, 0, 0, 0,
	 "42000|"},
	{"ERR one byte of code", K_ERR, "ff51", false, 0, 0, 0, 0, NULL},
	{"not an ERR", K_ERR, "005104", false, 0, 0, 0, 0, NULL},
	{"empty is no ERR", K_ERR, "", false, 0, 0, 0, 0, NULL},
	{"pre-4.1 EOF", K_EOF, "fe", true, 0, 0, 0, 0, NULL},
	{"EOF of 8 bytes", K_EOF, "fe0000020000000000", false, 0, 0, 0, 0, NULL},
	{"EOF of 7 bytes", K_EOF, "fe00000200000000", true, 0, 0, 2, 0, NULL},
	{"EOF of 3 bytes", K_EOF, "fe0000", true, 0, 0, 0, 0, NULL},
	{"not an EOF", K_EOF, "0000000200", false, 0, 0, 0, 0, NULL},
	{"empty is no EOF", K_EOF, "", false, 0, 0, 0, 0, NULL},
};

static void test_ok_err_eof(void)
{
	for (size_t i = 0; i < N(pkt_cases); i++) {
		const struct pkt_case *c = &pkt_cases[i];
		uint8_t buf[256];
		size_t len = unhex(c->hex, buf, sizeof(buf));
		uint8_t *p = dup_bytes(buf, len);
		struct mysql_ok ok;
		struct mysql_err err;
		uint16_t warnings = 0xdead, status = 0xdead;

		check_case("%s", c->name);
		switch (c->kind) {
		case K_OK:
			if (CHECK_EQ_INT(mysql_read_ok(p, len, &ok), c->want_ok) && c->want_ok) {
				CHECK(ok.affected_rows == c->a);
				CHECK(ok.last_insert_id == c->b);
				CHECK_EQ_INT(ok.status, c->status);
				CHECK_EQ_INT(ok.warnings, c->warnings);
			}
			break;
		case K_ERR:
			if (CHECK_EQ_INT(mysql_read_err(p, len, &err), c->want_ok) && c->want_ok) {
				char state[6];
				CHECK_EQ_INT(err.code, c->a);
				snprintf(state, sizeof(state), "%s", c->text);
				CHECK_EQ_STR(err.sqlstate, state);
				CHECK_EQ_STR(err.message, c->text + 6);
			}
			break;
		case K_EOF:
			if (CHECK_EQ_INT(mysql_read_eof(p, len, &warnings, &status), c->want_ok) &&
			    c->want_ok) {
				CHECK_EQ_INT(status, c->status);
				CHECK_EQ_INT(warnings, c->warnings);
			}
			break;
		}
		free(p);
	}
}

/* A message longer than the struct holds is cut, NUL-terminated. */
static void test_err_long_message(void)
{
	uint8_t buf[1000];
	struct mysql_err err;

	memcpy(buf, "\xff\x51\x04#HY000", 9);
	memset(buf + 9, 'm', sizeof(buf) - 9);
	CHECK(mysql_read_err(buf, sizeof(buf), &err));
	CHECK_EQ_INT(strlen(err.message), sizeof(err.message) - 1);
	CHECK_EQ_INT(err.message[0], 'm');
}

struct ok_write_case {
	struct mysql_ok ok;
	const char *want; /* hex, header included */
};

static const struct ok_write_case ok_writes[] = {
	{{0, 0, 0x0002, 0}, "0700000200000002000000"},
	{{1, 0, 0x0001, 0}, "0700000200010001000000"},
	{{300, 70000, 0x4022, 5}, "0c00000200fc2c01fd70110122400500"},
	{{UINT64_MAX, 0x1000000, 0xffff, 0xffff},
	 "1700000200feffffffffffffffff fe0000000100000000ffffffff"},
};

/* Strip the spaces that keep long hex rows readable. */
static size_t unhex_spaced(const char *hex, uint8_t *out, size_t cap)
{
	char tight[512];
	size_t n = 0;

	for (; *hex && n + 1 < sizeof(tight); hex++)
		if (*hex != ' ')
			tight[n++] = *hex;
	tight[n] = '\0';
	return unhex(tight, out, cap);
}

static void test_write_ok_err(void)
{
	for (size_t i = 0; i < N(ok_writes); i++) {
		const struct ok_write_case *c = &ok_writes[i];
		struct mysql_writer w;
		struct mysql_ok back;
		uint8_t want[64];
		size_t want_len = unhex_spaced(c->want, want, sizeof(want));

		check_case("OK %llu/%llu/0x%04x/%u", (unsigned long long)c->ok.affected_rows,
			   (unsigned long long)c->ok.last_insert_id, c->ok.status, c->ok.warnings);
		mysql_writer_init(&w);
		mysql_write_ok(&w, 2, &c->ok);
		if (CHECK_EQ_INT(w.len, want_len))
			CHECK_EQ_MEM(w.data, want, want_len);
		if (CHECK(mysql_read_ok(w.data + 4, w.len - 4, &back))) {
			CHECK(back.affected_rows == c->ok.affected_rows);
			CHECK(back.last_insert_id == c->ok.last_insert_id);
			CHECK_EQ_INT(back.status, c->ok.status);
			CHECK_EQ_INT(back.warnings, c->ok.warnings);
		}
		mysql_writer_deinit(&w);
	}

	/* The ERR the server sent for a missing table, rewritten. */
	struct mysql_writer w;
	struct mysql_err err;
	uint8_t want[64];
	size_t want_len = unhex("29000001ff7a042334325330325461626c65202763617064622e6e6f7065"
				"2720646f65736e2774206578697374",
				want, sizeof(want));
	check_case("ERR 1146 as captured");
	mysql_writer_init(&w);
	mysql_write_err41(&w, 1, 1146, "42S02", "Table 'capdb.nope' doesn't exist");
	if (CHECK_EQ_INT(w.len, want_len))
		CHECK_EQ_MEM(w.data, want, want_len);
	if (CHECK(mysql_read_err(w.data + 4, w.len - 4, &err))) {
		CHECK_EQ_INT(err.code, 1146);
		CHECK_EQ_STR(err.sqlstate, "42S02");
		CHECK_EQ_STR(err.message, "Table 'capdb.nope' doesn't exist");
	}
	mysql_writer_deinit(&w);
}

/* ---- the tracker: start, need, names ---------------------------------------- */

struct start_case {
	uint8_t command;
	bool want;
	enum mysql_resp_state state;
};

static const struct start_case start_cases[] = {
	{COM_QUIT, false, RESP_DONE},
	{COM_STMT_SEND_LONG_DATA, false, RESP_DONE},
	{COM_STMT_CLOSE, false, RESP_DONE},
	{COM_QUERY, true, RESP_FIRST},
	{COM_STMT_EXECUTE, true, RESP_FIRST},
	{COM_STMT_PREPARE, true, RESP_PREPARE_OK},
	{COM_FIELD_LIST, true, RESP_COLUMNS},
	{COM_PROCESS_INFO, true, RESP_FIRST}, /* a result set, like COM_QUERY */
	{COM_STMT_FETCH, true, RESP_ROWS},
	{COM_STATISTICS, true, RESP_STATISTICS},
	{COM_PING, true, RESP_SINGLE},
	{COM_INIT_DB, true, RESP_SINGLE},
	{COM_SET_OPTION, true, RESP_SINGLE},
	{COM_RESET_CONNECTION, true, RESP_SINGLE},
	{COM_STMT_RESET, true, RESP_SINGLE},
	{0xfe, true, RESP_SINGLE},
};

static void test_resp_start(void)
{
	for (size_t i = 0; i < N(start_cases); i++) {
		const struct start_case *c = &start_cases[i];
		struct mysql_resp r;

		check_case("command 0x%02x", c->command);
		memset(&r, 0xa5, sizeof(r)); /* start clears every field */
		CHECK_EQ_INT(mysql_resp_start(&r, c->command), c->want);
		CHECK_EQ_INT(r.state, c->state);
		CHECK_EQ_INT(r.command, c->command);
		CHECK(!r.error && !r.cursor && !r.status_valid);
	}
}

static void test_resp_state_names(void)
{
	const char *names[RESP_BAD + 1];

	for (int s = RESP_IDLE; s <= RESP_BAD; s++) {
		check_case("state %d", s);
		names[s] = mysql_resp_state_str((enum mysql_resp_state)s);
		CHECK(names[s] && strcmp(names[s], "?") != 0);
		for (int t = RESP_IDLE; t < s; t++)
			CHECK(strcmp(names[s], names[t]) != 0);
	}
	check_case("out of range");
	CHECK_EQ_STR(mysql_resp_state_str((enum mysql_resp_state)(RESP_BAD + 1)), "?");
	CHECK_EQ_STR(mysql_resp_state_str((enum mysql_resp_state)(-1)), "?");
}

/* need is never more than the packet, at least one byte of a non-empty
 * one, the whole of a small one, and one byte of a large row. */
static void test_resp_need(void)
{
	static const uint32_t lens[] = {0,     1,     8,	9,	  100,	   65535,
					65536, 65537, 1u << 20, 0xfffffe, 0xffffff};

	for (int s = RESP_IDLE; s <= RESP_BAD; s++) {
		struct mysql_resp r;

		check_case("state %s", mysql_resp_state_str((enum mysql_resp_state)s));
		mysql_resp_start(&r, COM_QUERY);
		r.state = (enum mysql_resp_state)s;
		for (size_t i = 0; i < N(lens); i++) {
			size_t need = mysql_resp_need(&r, lens[i]);
			CHECK(need <= lens[i]);
			CHECK(need <= MYSQL_RESP_NEED_MAX);
			if (lens[i] > 0)
				CHECK(need >= 1);
			if (lens[i] <= MYSQL_RESP_NEED_MAX)
				CHECK_EQ_INT(need, lens[i]);
			if (lens[i] > MYSQL_RESP_NEED_MAX &&
			    (s == RESP_ROWS || s == RESP_COLUMNS || s == RESP_PARAMS))
				CHECK_EQ_INT(need, 1);
		}
	}
}

/* ---- the tracker over captured responses -------------------------------------- */

/* What one command's response must come to. */
struct cmd_expect {
	const char *what;
	uint8_t command;
	unsigned packets; /* server packets in the response; 0: none expected */
	unsigned results; /* results ended (OK, ERR or final EOF of a result set) */
	bool infile;
	bool error;
	uint16_t code; /* of the ERR */
	bool status_valid;
	uint16_t status; /* at the end */
	bool cursor;
	uint64_t affected_rows;
};

/* What the tracker made of it. */
struct outcome {
	bool started;
	unsigned fed;	       /* server packets fed */
	unsigned done_at;      /* 1-based packet that gave DONE; 0: none */
	unsigned bad_at;       /* same for BAD */
	unsigned results;      /* DONE, plus MOREs that went back to RESP_FIRST */
	unsigned infile;       /* INFILE events */
	unsigned infile_state; /* client packets seen while in RESP_INFILE */
	bool need_ok;	       /* every need <= len */
	unsigned walked;       /* packets mysql_resp_rows() took (FEED_ROWS_WALKED) */
	struct mysql_resp r;
};

enum feed_mode {
	FEED_NEED,	  /* each packet as just mysql_resp_need() bytes */
	FEED_WHOLE,	  /* each packet whole */
	FEED_ROWS_WALKED, /* whole, and runs of rows walked as sluice does, in one call */
};

/* FEED_ROWS_WALKED: the server packets from i on, up to the next client
 * packet, laid end to end, walked by mysql_resp_rows(). Returns how many
 * whole packets it took (checking it stopped at a packet boundary, with
 * the sequence id of the packet after them). */
static unsigned walk_rows(const struct fixture *f, size_t i, size_t to, struct outcome *o)
{
	size_t total = 0, at = 0;
	unsigned n = 0;

	for (size_t j = i; j < to && f->pkts[j].dir == 's'; j++)
		total += f->pkts[j].len;
	uint8_t *buf = malloc(total ? total : 1);
	if (!CHECK(buf != NULL))
		return 0;
	for (size_t j = i; j < to && f->pkts[j].dir == 's'; j++) {
		memcpy(buf + at, f->pkts[j].data, f->pkts[j].len);
		at += f->pkts[j].len;
	}
	uint8_t seq = f->pkts[i].data[3];
	size_t used = mysql_resp_rows(&o->r, buf, total, &seq);
	free(buf);
	for (at = 0; at < used; n++)
		at += f->pkts[i + n].len;
	CHECK_EQ_INT(at, used);
	if (i + n < to)
		CHECK_EQ_INT(seq, f->pkts[i + n].data[3]);
	return n;
}

/* Feed the packets [from, to) of f (one command: its client packet first)
 * to a fresh tracker. With FEED_NEED each packet is given as a heap copy of
 * just mysql_resp_need() bytes, so reading further is a valgrind error. */
static void run_command(const struct fixture *f, size_t from, size_t to, enum feed_mode mode,
			struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->need_ok = true;
	o->started = mysql_resp_start(&o->r, fixture_payload(&f->pkts[from])[0]);
	for (size_t i = from + 1; i < to; i++) {
		const struct fixture_packet *p = &f->pkts[i];
		uint32_t len = fixture_payload_len(p);

		if (p->dir == 'c') {
			/* LOCAL INFILE data; the empty packet ends it. */
			if (o->r.state == RESP_INFILE)
				o->infile_state++;
			if (len == 0)
				mysql_resp_infile_done(&o->r);
			continue;
		}
		if (mode == FEED_ROWS_WALKED && !o->done_at && !o->bad_at) {
			unsigned n = walk_rows(f, i, to, o);
			if (n) {
				o->fed += n;
				o->walked += n;
				i += n - 1;
				continue;
			}
		}
		o->fed++;
		if (o->done_at || o->bad_at)
			continue; /* counted, not fed: the tracker already finished */
		size_t need = mysql_resp_need(&o->r, len);
		if (need > len)
			o->need_ok = false;
		size_t seen = mode == FEED_NEED ? need : len;
		uint8_t *copy = dup_bytes(fixture_payload(p), seen);
		enum mysql_resp_event ev = mysql_resp_packet(&o->r, copy, seen, len);
		free(copy);
		switch (ev) {
		case RESP_EV_MORE:
			if (o->r.state == RESP_FIRST)
				o->results++;
			break;
		case RESP_EV_DONE:
			o->results++;
			o->done_at = o->fed;
			break;
		case RESP_EV_INFILE:
			o->infile++;
			break;
		case RESP_EV_BAD:
			o->bad_at = o->fed;
			break;
		}
	}
}

/* Does the outcome match? Each comparison is a CHECK; the answer says
 * whether all held. */
static bool outcome_matches(const struct outcome *o, const struct cmd_expect *e)
{
	bool all = true;
#define EXPECT(cond)	(all &= CHECK(cond) != 0)
#define EXPECT_EQ(a, b) (all &= CHECK_EQ_INT((a), (b)) != 0)

	EXPECT_EQ(o->started, e->packets > 0);
	EXPECT_EQ(o->fed, e->packets);
	EXPECT(o->need_ok);
	if (!o->started) {
		EXPECT_EQ(o->r.state, RESP_DONE);
		return all;
	}
	EXPECT_EQ(o->bad_at, 0);
	EXPECT_EQ(o->done_at, e->packets); /* exactly one DONE, at the last packet */
	EXPECT_EQ(o->r.state, RESP_DONE);
	EXPECT_EQ(o->results, e->results);
	EXPECT_EQ(o->infile, e->infile);
	EXPECT_EQ(o->infile_state, e->infile ? 2 : 0); /* the data and the empty packet */
	EXPECT_EQ(o->r.error, e->error);
	if (e->error) {
		EXPECT_EQ(o->r.err.code, e->code);
	} else {
		EXPECT_EQ(o->r.status_valid, e->status_valid);
		if (e->status_valid)
			EXPECT_EQ(o->r.status, e->status);
		EXPECT(o->r.affected_rows == e->affected_rows);
	}
	EXPECT_EQ(o->r.cursor, e->cursor);
#undef EXPECT
#undef EXPECT_EQ
	return all;
}

/* Walk a fixture command by command (a client packet with sequence id 0
 * starts one) against the expectations, in order, twice: seeing only
 * what mysql_resp_need() asks for, and seeing whole packets.
 *
 * COM_CHANGE_USER is skipped: resp.h leaves it out of the tracker (its
 * answer is an authentication exchange, AuthSwitchRequest, the client's
 * answer, OK, which the session handles itself; test_mysql_handshake.c
 * covers its packets). Its row only checks that the skipped exchange has
 * the server packets it should. */
static void check_fixture(const char *file, const struct cmd_expect *want, size_t n_want)
{
	struct fixture f;
	size_t cmd = 0;
	unsigned walked = 0;

	check_case("%s", file);
	if (!CHECK(fixture_load(&f, file)))
		return;
	for (size_t i = 0; i < f.n; cmd++) {
		size_t end = i + 1;

		while (end < f.n && !(f.pkts[end].dir == 'c' && f.pkts[end].data[3] == 0))
			end++;
		if (!CHECK(f.pkts[i].dir == 'c') || !CHECK(cmd < n_want))
			break;
		const struct cmd_expect *e = &want[cmd];
		if (e->command == COM_CHANGE_USER) {
			unsigned server = 0;

			check_case("%s #%zu %s (not tracked)", file, cmd + 1, e->what);
			CHECK_EQ_INT(fixture_payload(&f.pkts[i])[0], e->command);
			for (size_t j = i + 1; j < end; j++)
				server += f.pkts[j].dir == 's';
			CHECK_EQ_INT(server, e->packets);
			i = end;
			continue;
		}
		for (int mode = FEED_NEED; mode <= FEED_ROWS_WALKED; mode++) {
			static const char *const how[] = {
				[FEED_NEED] = "",
				[FEED_WHOLE] = " (whole packets)",
				[FEED_ROWS_WALKED] = " (rows walked)",
			};
			struct outcome o;

			check_case("%s #%zu %s%s", file, cmd + 1, e->what, how[mode]);
			CHECK_EQ_INT(fixture_payload(&f.pkts[i])[0], e->command);
			run_command(&f, i, end, (enum feed_mode)mode, &o);
			walked += o.walked;
			if (!outcome_matches(&o, e))
				fprintf(stderr, "  line %u: done at %u, bad at %u, state %s\n",
					f.pkts[i].line, o.done_at, o.bad_at,
					mysql_resp_state_str(o.r.state));
		}
		i = end;
	}
	check_case("%s", file);
	CHECK_EQ_INT(cmd, n_want);
	CHECK(walked > 0); /* the files have rows: the walk was tried on them */
	fixture_free(&f);
}

#define ERR_1146 1146

/* PyMySQL, autocommit off (SET AUTOCOMMIT = 0 first), multi-statements on. */
static const struct cmd_expect text_cmds[] = {
	{"SET AUTOCOMMIT = 0", COM_QUERY, 1, 1, false, false, 0, true, 0x0000, false, 0},
	{"INSERT", COM_QUERY, 1, 1, false, false, 0, true, 0x0001, false, 1},
	{"SELECT from a missing table", COM_QUERY, 1, 1, false, true, ERR_1146, false, 0, false, 0},
	{"SELECT of seven types with NULLs", COM_QUERY, 13, 1, false, false, 0, true, 0x0021, false,
	 0},
	{"SELECT 1/0: a NULL row and a warning", COM_QUERY, 5, 1, false, false, 0, true, 0x0001,
	 false, 0},
	{"CALL: two result sets and an OK", COM_QUERY, 13, 3, false, false, 0, true, 0x0021, false,
	 0},
	{"two statements", COM_QUERY, 10, 2, false, false, 0, true, 0x0001, false, 0},
	{"LOAD DATA LOCAL INFILE", COM_QUERY, 2, 1, true, false, 0, true, 0x0001, false, 3},
	{"BEGIN", COM_QUERY, 1, 1, false, false, 0, true, 0x0001, false, 0},
	{"UPDATE of no rows", COM_QUERY, 1, 1, false, false, 0, true, 0x0021, false, 0},
	{"COMMIT", COM_QUERY, 1, 1, false, false, 0, true, 0x0000, false, 0},
	{"COM_INIT_DB", COM_INIT_DB, 1, 1, false, false, 0, true, 0x0000, false, 0},
	{"COM_PING", COM_PING, 1, 1, false, false, 0, true, 0x0000, false, 0},
	{"COM_QUIT", COM_QUIT, 0, 0, false, false, 0, false, 0, false, 0},
};

/* libmariadb, with the MariaDB extended capabilities masked out of the
 * greeting, as sluice offers it (resp.h assumes none was negotiated). */
static const struct cmd_expect binary_cmds[] = {
	{"PREPARE: 2 params, 4 columns", COM_STMT_PREPARE, 9, 1, false, false, 0, true, 0x0002,
	 false, 0},
	{"EXECUTE: binary rows", COM_STMT_EXECUTE, 9, 1, false, false, 0, true, 0x0002, false, 0},
	{"CLOSE", COM_STMT_CLOSE, 0, 0, false, false, 0, false, 0, false, 0},
	{"PREPARE: 2 columns", COM_STMT_PREPARE, 4, 1, false, false, 0, true, 0x0002, false, 0},
	{"EXECUTE with a cursor", COM_STMT_EXECUTE, 4, 1, false, false, 0, true, 0x0062, true, 0},
	{"FETCH 2 rows", COM_STMT_FETCH, 3, 1, false, false, 0, true, 0x0042, false, 0},
	{"FETCH the last row", COM_STMT_FETCH, 2, 1, false, false, 0, true, 0x0082, false, 0},
	{"CLOSE", COM_STMT_CLOSE, 0, 0, false, false, 0, false, 0, false, 0},
	/* No columns: the EOF after the params ends it, and its status is taken. */
	{"PREPARE: 2 params, no columns", COM_STMT_PREPARE, 4, 1, false, false, 0, true, 0x0002,
	 false, 0},
	{"SEND_LONG_DATA", COM_STMT_SEND_LONG_DATA, 0, 0, false, false, 0, false, 0, false, 0},
	{"EXECUTE: an INSERT", COM_STMT_EXECUTE, 1, 1, false, false, 0, true, 0x0002, false, 1},
	{"RESET", COM_STMT_RESET, 1, 1, false, false, 0, true, 0x0002, false, 0},
	{"CLOSE", COM_STMT_CLOSE, 0, 0, false, false, 0, false, 0, false, 0},
	{"PREPARE of a missing table", COM_STMT_PREPARE, 1, 1, false, true, ERR_1146, false, 0,
	 false, 0},
	{"PREPARE: CALL, nothing", COM_STMT_PREPARE, 1, 1, false, false, 0, false, 0, false, 0},
	{"EXECUTE: CALL, two results and an OK", COM_STMT_EXECUTE, 13, 3, false, false, 0, true,
	 0x0022, false, 0},
	{"CLOSE", COM_STMT_CLOSE, 0, 0, false, false, 0, false, 0, false, 0},
	{"STATISTICS", COM_STATISTICS, 1, 1, false, false, 0, false, 0, false, 0},
	{"FIELD_LIST", COM_FIELD_LIST, 8, 1, false, false, 0, true, 0x0002, false, 0},
	/* mysql_list_processes: a result set, like SHOW PROCESSLIST. */
	{"PROCESS_INFO", COM_PROCESS_INFO, 13, 1, false, false, 0, true, 0x0002, false, 0},
	{"SET_OPTION", COM_SET_OPTION, 1, 1, false, false, 0, true, 0x0002, false, 0},
	{"PING", COM_PING, 1, 1, false, false, 0, true, 0x0002, false, 0},
	{"RESET_CONNECTION", COM_RESET_CONNECTION, 1, 1, false, false, 0, true, 0x0002, false, 0},
	/* Not tracked (resp.h), skipped by check_fixture: only its server
	 * packets are counted, the AuthSwitchRequest and the OK. */
	{"CHANGE_USER", COM_CHANGE_USER, 2, 0, false, false, 0, false, 0, false, 0},
	{"QUIT", COM_QUIT, 0, 0, false, false, 0, false, 0, false, 0},
};

/* cmd_binary_cache_metadata.hex is not walked here: it was captured with
 * MARIADB_CLIENT_CACHE_METADATA negotiated, which changes the result set
 * format (a "metadata follows" byte after each column count, column
 * definitions left out of an execute), and resp.h makes the caller
 * negotiate no MariaDB extended capability (sluice offers none). Its
 * COM_CHANGE_USER is used in test_mysql_handshake.c; the fuzz corpus takes
 * all of it. */
static void test_resp_captured(void)
{
	check_fixture("cmd_text.hex", text_cmds, N(text_cmds));
	check_fixture("cmd_binary.hex", binary_cmds, N(binary_cmds));
}

/* ---- the tracker over built sequences ------------------------------------------- */

#define INFILE_DONE ((const char *)1) /* not a packet: the client ended its file */

struct seq_pkt {
	const char *hex; /* payload; INFILE_DONE; NULL ends the list */
	uint32_t len;	 /* declared length when more than the bytes given (a large packet) */
};

struct seq_case {
	const char *name;
	uint8_t command;
	struct seq_pkt pkts[10];
	enum mysql_resp_event want_last; /* the event of the last packet fed */
	unsigned want_at;		 /* 1-based packet fed (continuations are not) of the first
					  * DONE/BAD; MORE/INFILE before */
	uint16_t want_code;		 /* of an ERR that ends it */
	uint16_t want_status;		 /* when it ends with DONE without error */
};

#define COLDEF                                                                                     \
	"03646566000000016100"                                                                     \
	"0c3f000b000000030000000000" /* column "a" */
#define EOF2	 "fe00000200"
#define EOF_MORE "fe00000a00" /* status: more results, autocommit */
#define ERR_1317 "ff2505233730313030517565727920657865637574696f6e2077617320696e746572727570746564"
#define OK2	 "00000002000000"

/* One row per case: clang-format would put every field on a line of its own. */
/* clang-format off */
static const struct seq_case seq_cases[] = {
	{"ERR in the middle of rows", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"0131", 0}, {ERR_1317, 0}},
	 RESP_EV_DONE, 5, 1317, 0},
	{"ERR in the middle of columns", COM_QUERY,
	 {{"02", 0}, {COLDEF, 0}, {ERR_1317, 0}}, RESP_EV_DONE, 3, 1317, 0},
	{"OK with more results, then ERR", COM_QUERY,
	 {{"0000000a000000", 0}, {ERR_1317, 0}}, RESP_EV_DONE, 2, 1317, 0},
	{"rows with more results, then an OK", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {EOF_MORE, 0}, {"00010000000000", 0}},
	 RESP_EV_DONE, 5, 0, 0x0000},
	{"a row of 1 MB seen by its first byte", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fd", 1000000}, {EOF2, 0}}, RESP_EV_DONE, 5, 0, 0x0002},
	{"a 9-byte row starting 0xfe is a row", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fe0100000000000000", 0}, {EOF2, 0}}, RESP_EV_DONE, 5,
	 0, 0x0002},
	{"LOCAL INFILE refused after the file", COM_QUERY,
	 {{"fb2f746d702f78", 0}, {INFILE_DONE, 0}, {ERR_1317, 0}}, RESP_EV_DONE, 2, 1317, 0},
	{"LOCAL INFILE then more results", COM_QUERY,
	 {{"fb78", 0}, {INFILE_DONE, 0}, {"0001000a000000", 0}, {OK2, 0}}, RESP_EV_DONE, 3, 0, 0x0002},
	{"column count 0", COM_QUERY, {{"fc0000", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"column count cut short", COM_QUERY, {{"fc01", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"column count with a trailing byte", COM_QUERY, {{"0200", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"0xff column count", COM_QUERY, {{"ff", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"empty first packet", COM_QUERY, {{"", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"OK cut short", COM_QUERY, {{"000000", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"LOCAL INFILE is for COM_QUERY only", COM_STMT_EXECUTE, {{"fb78", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"server packet during LOCAL INFILE", COM_QUERY, {{"fb78", 0}, {OK2, 0}}, RESP_EV_BAD, 2, 0,
	 0},
	{"a row where the EOF after columns belongs", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {"0131", 0}}, RESP_EV_BAD, 3, 0, 0},
	{"an empty row", COM_QUERY, {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"", 0}}, RESP_EV_BAD, 4, 0,
	 0},
	{"a packet after the end", COM_PING, {{OK2, 0}, {OK2, 0}}, RESP_EV_BAD, 1, 0, 0},
	{"garbage for a ping", COM_PING, {{"05", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"an OK for a ping, cut short", COM_PING, {{"0000", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"an ERR for a ping, cut short", COM_PING, {{"ff01", 0}}, RESP_EV_BAD, 1, 0, 0},
	{"a ping answered with more results still ends", COM_PING, {{"0000000a000000", 0}},
	 RESP_EV_DONE, 1, 0, 0x000a},
	{"an EOF for a debug", COM_DEBUG, {{EOF2, 0}}, RESP_EV_DONE, 1, 0, 0x0002},
	{"ERR for statistics", COM_STATISTICS, {{ERR_1317, 0}}, RESP_EV_DONE, 1, 1317, 0},
	{"empty statistics", COM_STATISTICS, {{"", 0}}, RESP_EV_DONE, 1, 0, 0},
	{"ERR for a field list", COM_FIELD_LIST, {{COLDEF, 0}, {ERR_1317, 0}}, RESP_EV_DONE, 2, 1317,
	 0},
	{"empty field list", COM_FIELD_LIST, {{EOF2, 0}}, RESP_EV_DONE, 1, 0, 0x0002},
	{"ERR for a fetch", COM_STMT_FETCH, {{ERR_1317, 0}}, RESP_EV_DONE, 1, 1317, 0},
	{"process info: a result set", COM_PROCESS_INFO,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"0131", 0}, {EOF2, 0}}, RESP_EV_DONE, 5, 0, 0x0002},
	{"process info refused", COM_PROCESS_INFO, {{ERR_1317, 0}}, RESP_EV_DONE, 1, 1317, 0},
	{"PREPARE_OK cut short", COM_STMT_PREPARE, {{"000100000001000100", 0}}, RESP_EV_BAD, 1, 0,
	 0},
	{"PREPARE answered with an EOF", COM_STMT_PREPARE, {{EOF2, 0}}, RESP_EV_BAD, 1, 0, 0},
	{"PREPARE: no EOF after the params", COM_STMT_PREPARE,
	 {{"000100000000000100000000", 0}, {COLDEF, 0}, {COLDEF, 0}}, RESP_EV_BAD, 3, 0, 0},
	{"PREPARE: params only, status from their EOF", COM_STMT_PREPARE,
	 {{"000100000000000100000000", 0}, {COLDEF, 0}, {"fe00000300", 0}}, RESP_EV_DONE, 3, 0,
	 0x0003},
	{"PREPARE: params and columns", COM_STMT_PREPARE,
	 {{"000100000001000100000000", 0}, {COLDEF, 0}, {EOF2, 0}, {COLDEF, 0}, {EOF2, 0}},
	 RESP_EV_DONE, 5, 0, 0x0002},
	{"PREPARE: no EOF after the columns", COM_STMT_PREPARE,
	 {{"000100000001000000000000", 0}, {COLDEF, 0}, {COLDEF, 0}}, RESP_EV_BAD, 3, 0, 0},
	/* resp.h: the caller feeds only the first packet of a 16 MiB chain;
	 * the loop below skips continuations as mysql_session.c does. A row's
	 * first packet (0xffffff bytes, seen by its first byte) is fed, the
	 * rest is data however it starts, and the EOF after it ends the rows. */
	{"a 16 MiB row, its empty continuation skipped by the caller", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fc", 0xffffff}, {"", 0}, {EOF2, 0}}, RESP_EV_DONE, 5,
	 0, 0x0002},
	{"a continuation that looks like an EOF is skipped", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fc", 0xffffff}, {"fe00000200", 0}, {EOF2, 0}},
	 RESP_EV_DONE, 5, 0, 0x0002},
	{"a continuation that looks like an ERR is skipped", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fc", 0xffffff}, {"ff5104", 0}, {EOF2, 0}},
	 RESP_EV_DONE, 5, 0, 0x0002},
	{"a row of two full packets and a rest", COM_QUERY,
	 {{"01", 0}, {COLDEF, 0}, {EOF2, 0}, {"fc", 0xffffff}, {"fe", 0xffffff}, {"fe0000", 0},
	  {EOF2, 0}},
	 RESP_EV_DONE, 5, 0, 0x0002},
};
/* clang-format on */

static void test_resp_sequences(void)
{
	for (size_t i = 0; i < N(seq_cases); i++) {
		const struct seq_case *c = &seq_cases[i];
		struct mysql_resp r;
		enum mysql_resp_event ev = RESP_EV_MORE;
		unsigned at = 0, fed = 0;
		bool only_more = true, cont = false;

		check_case("%s", c->name);
		CHECK(mysql_resp_start(&r, c->command));
		for (size_t j = 0; j < N(c->pkts) && c->pkts[j].hex; j++) {
			uint8_t buf[128];
			if (c->pkts[j].hex == INFILE_DONE) {
				mysql_resp_infile_done(&r);
				continue;
			}
			size_t have = unhex(c->pkts[j].hex, buf, sizeof(buf));
			uint32_t len = c->pkts[j].len ? c->pkts[j].len : (uint32_t)have;
			/* The caller's part: a packet after one of 0xffffff bytes
			 * continues it, data the tracker never sees. */
			bool continuation = cont;
			cont = len == MYSQL_MAX_PAYLOAD;
			if (continuation)
				continue;
			size_t need = mysql_resp_need(&r, len);
			CHECK(need <= len);
			if (!CHECK(need <= have))
				break;
			uint8_t *copy = dup_bytes(buf, need);
			fed++;
			ev = mysql_resp_packet(&r, copy, need, len);
			free(copy);
			if ((ev == RESP_EV_DONE || ev == RESP_EV_BAD) && !at)
				at = fed;
			else if (!at && ev != RESP_EV_MORE && ev != RESP_EV_INFILE)
				only_more = false;
		}
		bool holds = ev == c->want_last && at == c->want_at && only_more;
		if (holds && ev == RESP_EV_DONE) {
			holds = r.state == RESP_DONE && r.error == (c->want_code != 0);
			if (c->want_code)
				holds = holds && r.err.code == c->want_code;
			else
				holds = holds && r.status == c->want_status;
		}
		if (holds && ev == RESP_EV_BAD)
			holds = r.state == RESP_BAD;
		if (!CHECK(holds))
			fprintf(stderr,
				"  event %d at packet %u, state %s, error %d code %u status "
				"0x%04x\n",
				ev, at, mysql_resp_state_str(r.state), r.error, r.err.code,
				r.status);
	}
}

/* After BAD the tracker stays BAD; after DONE nothing more is accepted. */
static void test_resp_sticky(void)
{
	struct mysql_resp r;
	uint8_t ok[] = {0, 0, 0, 2, 0, 0, 0};

	check_case("BAD stays BAD");
	mysql_resp_start(&r, COM_QUERY);
	CHECK_EQ_INT(mysql_resp_packet(&r, (const uint8_t *)"\xff", 1, 1), RESP_EV_BAD);
	CHECK_EQ_INT(mysql_resp_packet(&r, ok, sizeof(ok), sizeof(ok)), RESP_EV_BAD);
	CHECK_EQ_INT(r.state, RESP_BAD);

	check_case("an idle tracker accepts nothing");
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(r.state, RESP_IDLE);
	CHECK_EQ_INT(mysql_resp_packet(&r, ok, sizeof(ok), sizeof(ok)), RESP_EV_BAD);

	check_case("infile_done outside INFILE does nothing");
	mysql_resp_start(&r, COM_QUERY);
	mysql_resp_infile_done(&r);
	CHECK_EQ_INT(r.state, RESP_FIRST);

	check_case("seen 0 of a non-empty packet");
	mysql_resp_start(&r, COM_QUERY);
	CHECK_EQ_INT(mysql_resp_packet(&r, ok, 0, sizeof(ok)), RESP_EV_BAD);
}

/* Append a packet of len payload bytes (first byte `first`, the rest 'x')
 * with sequence id seq at buf + *at. */
static void put_packet(uint8_t *buf, size_t *at, uint32_t len, uint8_t seq, uint8_t first)
{
	buf[*at] = (uint8_t)len;
	buf[*at + 1] = (uint8_t)(len >> 8);
	buf[*at + 2] = (uint8_t)(len >> 16);
	buf[*at + 3] = seq;
	if (len) {
		buf[*at + 4] = first;
		memset(buf + *at + 5, 'x', len - 1);
	}
	*at += 4 + (size_t)len;
}

static void test_resp_rows(void)
{
	static const struct {
		const char *name;
		uint32_t len;  /* of the packet after two plain rows */
		uint8_t first; /* its first byte */
		int seq_delta; /* its sequence id against the expected one */
		bool is_row;   /* the walk takes it */
	} cases[] = {
		{"an EOF ends the rows", 5, 0xfe, 0, false},
		{"a 9-byte row starting 0xfe is a row", 9, 0xfe, 0, true},
		{"an ERR ends the rows", 30, 0xff, 0, false},
		{"a row of 64 KiB starting 0xff is a row", 65536, 0xff, 0, true},
		{"a binary row", 12, 0x00, 0, true},
		{"a NULL first column", 3, 0xfb, 0, true},
		{"a sequence id out of order stops the walk", 3, 0x01, 1, false},
		{"an empty packet stops the walk", 0, 0, 0, false},
	};
	struct mysql_resp r;
	size_t size = 4 * (4 + 65536 + 16);
	uint8_t *buf = malloc(size);

	if (!CHECK(buf != NULL))
		return;
	for (size_t i = 0; i < N(cases); i++) {
		size_t at = 0, rows_end;
		uint8_t seq = 4;

		check_case("%s", cases[i].name);
		mysql_resp_start(&r, COM_QUERY);
		r.state = RESP_ROWS;
		put_packet(buf, &at, 2, 4, 0x01);
		put_packet(buf, &at, 3, 5, 0x02);
		rows_end = at;
		put_packet(buf, &at, cases[i].len, (uint8_t)(6 + cases[i].seq_delta),
			   cases[i].first);
		size_t want = cases[i].is_row ? at : rows_end;
		CHECK_EQ_INT(mysql_resp_rows(&r, buf, at, &seq), want);
		CHECK_EQ_INT(seq, cases[i].is_row ? 7 : 6);
		CHECK_EQ_INT(r.state, RESP_ROWS);
	}

	check_case("a packet not whole in the bytes given is left");
	size_t at = 0;
	uint8_t seq = 1;
	put_packet(buf, &at, 10, 1, 0x01);
	put_packet(buf, &at, 10, 2, 0x01);
	CHECK_EQ_INT(mysql_resp_rows(&r, buf, at - 1, &seq), 14);
	CHECK_EQ_INT(seq, 2);
	seq = 1;
	CHECK_EQ_INT(mysql_resp_rows(&r, buf, 3, &seq), 0); /* not even a header */
	CHECK_EQ_INT(seq, 1);

	check_case("the first packet of a 16 MiB row is left for the long way");
	uint8_t big[8] = {0xff, 0xff, 0xff, 1, 0x01};
	seq = 1;
	CHECK_EQ_INT(mysql_resp_rows(&r, big, sizeof(big), &seq), 0);

	check_case("only in the rows");
	at = 0;
	put_packet(buf, &at, 2, 1, 0x01);
	for (int st = RESP_IDLE; st <= RESP_BAD; st++) {
		r.state = (enum mysql_resp_state)st;
		seq = 1;
		CHECK_EQ_INT(mysql_resp_rows(&r, buf, at, &seq), st == RESP_ROWS ? at : 0);
	}
	free(buf);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"OK/ERR/EOF readers", test_ok_err_eof},
		{"ERR with a long message", test_err_long_message},
		{"OK/ERR writers", test_write_ok_err},
		{"mysql_resp_start", test_resp_start},
		{"state names", test_resp_state_names},
		{"mysql_resp_need", test_resp_need},
		{"captured responses", test_resp_captured},
		{"built sequences", test_resp_sequences},
		{"finished trackers", test_resp_sticky},
		{"rows walked at once", test_resp_rows},
	};
	return CHECK_RUN(tests);
}
