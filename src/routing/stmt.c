/*
 * Prepared statements of a session: sluice's ids, each node's ids, and the
 * COM_STMT_EXECUTE rewrite for a node. See stmt.h.
 *
 * COM_STMT_EXECUTE payload: 0x17, id (4), flags (1), iteration count (4),
 * then when params > 0: NULL bitmap ((params + 7) / 8), new-params-bound
 * flag (1), types (2 * params, only when the flag is 1), values.
 */
#include "routing/stmt.h"

#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "mysql/packet.h"
#include "mysql/wire.h"

#define EXEC_FIXED 10 /* command, id, flags, iteration count */

static void stmt_free(struct stmt *st)
{
	if (!st)
		return;
	free(st->sql);
	free(st->types);
	free(st->on);
	free(st);
}

void stmt_table_init(struct stmt_table *t, size_t n_nodes)
{
	memset(t, 0, sizeof(*t));
	t->n_nodes = n_nodes;
	t->next_id = 1;
}

void stmt_table_clear(struct stmt_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		stmt_free(t->items[i]);
	t->n = 0;
	for (size_t i = 0; t->nodes && i < t->n_nodes; i++)
		t->nodes[i].ties = 0;
}

void stmt_table_deinit(struct stmt_table *t)
{
	stmt_table_clear(t);
	free(t->items);
	t->items = NULL;
	t->cap = 0;
	free(t->nodes);
	t->nodes = NULL;
}

/* Count st's ties in (sign 1) or out (sign -1) of the table's. */
static void count_ties(struct stmt_table *t, const struct stmt *st, int sign)
{
	if (st->long_data >= 0)
		t->nodes[st->long_data].ties += (unsigned)sign;
	if (st->cursor >= 0)
		t->nodes[st->cursor].ties += (unsigned)sign;
	if (!st->sql)
		for (size_t i = 0; i < t->n_nodes; i++)
			if (stmt_node_id(t, st, (int)i))
				t->nodes[i].ties += (unsigned)sign;
}

void stmt_set_long_data(struct stmt_table *t, struct stmt *st, int node)
{
	if (st->long_data == node) /* every execute clears it */
		return;
	count_ties(t, st, -1);
	st->long_data = node;
	count_ties(t, st, 1);
}

void stmt_set_cursor(struct stmt_table *t, struct stmt *st, int node)
{
	if (st->cursor == node)
		return;
	count_ties(t, st, -1);
	st->cursor = node;
	count_ties(t, st, 1);
}

void stmt_set_node_id(struct stmt_table *t, struct stmt *st, int node, uint32_t id)
{
	if (stmt_node_id(t, st, node) == id)
		return;
	count_ties(t, st, -1);
	st->on[node] = (struct stmt_node){.gen = t->nodes[node].gen, .id = id, .types = false};
	count_ties(t, st, 1);
}

void stmt_set_node_types(struct stmt_table *t, struct stmt *st, int node)
{
	/* Types go with an id (a new one has not seen them). */
	if (stmt_node_id(t, st, node))
		st->on[node].types = true;
}

struct stmt *stmt_add(struct stmt_table *t, const uint8_t *sql, size_t sql_len, int node,
		      uint32_t node_id, uint16_t params, uint16_t columns, bool reader_ok)
{
	struct stmt *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	if (!t->nodes && !(t->nodes = calloc(t->n_nodes, sizeof(*t->nodes))))
		goto fail;
	st->on = malloc(t->n_nodes * sizeof(*st->on));
	if (!st->on)
		goto fail;
	for (size_t i = 0; i < t->n_nodes; i++)
		st->on[i] = (struct stmt_node){.gen = t->nodes[i].gen, .id = 0, .types = false};
	if (sql && sql_len <= STMT_SQL_MAX) {
		st->sql = malloc(sql_len ? sql_len : 1);
		if (!st->sql)
			goto fail;
		memcpy(st->sql, sql, sql_len);
		st->sql_len = (uint32_t)sql_len;
		st->sql_hash = fnv1a_bytes32(sql, sql_len);
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct stmt **items = realloc(t->items, cap * sizeof(*items));
		if (!items)
			goto fail;
		t->items = items;
		t->cap = cap;
	}
	st->id = t->next_id++;
	if (t->next_id == 0) /* 0 is never an id */
		t->next_id = 1;
	st->params = params;
	st->columns = columns;
	st->reader_ok = reader_ok && st->sql;
	st->home = node;
	st->long_data = -1;
	st->long_data_lost = -1;
	st->cursor = -1;
	st->on[node].id = node_id;
	count_ties(t, st, 1);
	t->items[t->n++] = st;
	return st;
fail:
	stmt_free(st);
	return NULL;
}

static size_t find_index(const struct stmt_table *t, uint32_t id, bool *found)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->items[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < t->n && t->items[lo]->id == id;
	return lo;
}

struct stmt *stmt_find(const struct stmt_table *t, uint32_t id)
{
	bool found;
	size_t i = find_index(t, id, &found);

	return found ? t->items[i] : NULL;
}

void stmt_remove(struct stmt_table *t, uint32_t id)
{
	bool found;
	size_t i = find_index(t, id, &found);

	if (!found)
		return;
	count_ties(t, t->items[i], -1);
	stmt_free(t->items[i]);
	memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof(*t->items));
	t->n--;
}

void stmt_forget_node(struct stmt_table *t, int node)
{
	if (!t->nodes)
		return; /* no statement yet */
	/* Long data and cursors there are ties: without any, only ids are
	 * left to forget, and the new generation does that. */
	for (size_t i = 0; t->nodes[node].ties && i < t->n; i++) {
		struct stmt *st = t->items[i];
		if (st->long_data == node) {
			st->long_data = -1;
			st->long_data_lost = node;
		}
		if (st->cursor == node)
			st->cursor = -1;
	}
	t->nodes[node].gen++;
	/* Every tie to node was one of those, or an id. */
	t->nodes[node].ties = 0;
}

bool stmt_ties_node(const struct stmt_table *t, int node)
{
	return t->nodes && t->nodes[node].ties > 0;
}

bool stmt_payload_id(const uint8_t *payload, size_t len, uint32_t *id)
{
	if (len < 5)
		return false;
	struct mysql_reader r;

	mysql_reader_init(&r, payload + 1, 4);
	*id = mysql_read_u32(&r);
	return true;
}

uint8_t stmt_execute_flags(const uint8_t *payload, size_t len)
{
	return len > 5 ? payload[5] : 0;
}

/* Where the new-params-bound flag is, or 0 if the payload is too short. */
static size_t bound_flag_at(const struct stmt *st, size_t len)
{
	size_t at = EXEC_FIXED + ((size_t)st->params + 7) / 8;

	return st->params && len > at ? at : 0;
}

/* Whether types follow the flag at `at`: the server takes any non-zero
 * byte to mean so (sql_prepare.cc), not only 1. */
static bool binds_types(const uint8_t *payload, size_t at)
{
	return at && payload[at] != 0;
}

bool stmt_capture_types(struct stmt *st, const uint8_t *payload, size_t len)
{
	size_t at = bound_flag_at(st, len);
	size_t n = 2 * (size_t)st->params;

	if (st->params == 0)
		return true;
	if (!at)
		return false;
	if (!binds_types(payload, at))
		return true;
	if (len < at + 1 + n)
		return false;
	if (!st->types) {
		st->types = malloc(n);
		if (!st->types)
			return false;
	}
	memcpy(st->types, payload + at + 1, n);
	return true;
}

bool stmt_execute_binds(const struct stmt *st, const uint8_t *payload, size_t len)
{
	return binds_types(payload, bound_flag_at(st, len));
}

enum stmt_exec_form stmt_execute_form(const struct stmt *st, const uint8_t *payload, size_t len,
				      bool with_types)
{
	size_t at = bound_flag_at(st, len);
	bool bound = binds_types(payload, at);

	if (len < EXEC_FIXED || (st->params && !at))
		return STMT_EXEC_BAD;
	if (bound && len < at + 1 + 2 * (size_t)st->params)
		return STMT_EXEC_BAD; /* types announced but cut short */
	if (!with_types || st->params == 0 || bound)
		return STMT_EXEC_ID_ONLY;
	return st->types ? STMT_EXEC_ADD_TYPES : STMT_EXEC_BAD;
}

bool stmt_write_execute(const struct stmt *st, const uint8_t *payload, size_t len, uint32_t node_id,
			bool with_types, struct mysql_writer *w, uint8_t seq)
{
	enum stmt_exec_form form = stmt_execute_form(st, payload, len, with_types);
	size_t at = bound_flag_at(st, len);

	if (form == STMT_EXEC_BAD)
		return false;
	mysql_packet_begin(w, seq);
	mysql_put_u8(w, payload[0]);
	mysql_put_u32(w, node_id);
	if (form == STMT_EXEC_ID_ONLY) {
		mysql_put_bytes(w, payload + 5, len - 5);
	} else {
		mysql_put_bytes(w, payload + 5, at - 5);
		mysql_put_u8(w, 1);
		mysql_put_bytes(w, st->types, 2 * (size_t)st->params);
		mysql_put_bytes(w, payload + at + 1, len - at - 1);
	}
	mysql_packet_end(w);
	return w->ok;
}
