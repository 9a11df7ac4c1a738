/*
 * The prepared statements of one mode: mysql session. The client sees
 * sluice's statement ids; each node the statement was prepared on has its
 * own id for it. A statement is prepared lazily on whichever node executes
 * it, so sluice keeps its text, and the parameter types the client bound
 * last (COM_STMT_EXECUTE sends them only once, but a node that sees the
 * statement for the first time needs them). Pure data, no I/O.
 */
#ifndef SLUICE_STMT_H
#define SLUICE_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_writer;

/* The text of statements longer than this is not kept: they run on the
 * node that prepared them only. */
#define STMT_SQL_MAX 65536

/* What one node holds of a statement: its id there (0: not prepared there)
 * and whether it has seen the parameter types bound last. Valid while gen
 * is the table's generation of the node (stmt_table_node.gen); an older one
 * reads as nothing held. */
struct stmt_node {
	uint64_t gen;
	uint32_t id;
	bool types;
};

struct stmt {
	uint32_t id;  /* the id the client knows */
	uint8_t *sql; /* statement text, NULL when too long to keep */
	uint32_t sql_len;
	uint32_t sql_hash; /* fnv1a_bytes32(sql), 0 without sql: finds it in a pool */
	uint16_t params;
	uint16_t columns;
	bool reader_ok;	   /* a read that may run on a reader */
	bool session;	   /* it changes session state (SET ...): not replayable */
	bool may_commit;   /* an execute may commit an open transaction (classify.h) */
	unsigned flags;	   /* its text's CLASSIFY_* flags: what an execute may pin */
	uint8_t *types;	   /* 2 * params bytes, NULL until the client bound them */
	int home;	   /* node of the first prepare (the only one if sql is NULL) */
	/* long_data, cursor and the nodes' ids change through the stmt_set_*()
	 * calls only: the table counts the nodes they tie (stmt_ties_node). */
	int long_data;	   /* node holding SEND_LONG_DATA for the next execute, or -1 */
	int long_data_lost; /* node that held it and was lost (the next execute fails), or -1 */
	int cursor;	   /* node with this statement's open cursor, or -1 */
	struct stmt_node *on; /* [n_nodes]: read through stmt_node_id(), stmt_node_types() */
};

/* What the table keeps per node. */
struct stmt_table_node {
	/* How many ties the node has (a statement's long data there, its
	 * cursor there, or its id there when its text is not kept), so that
	 * asking costs nothing however many statements the session keeps. */
	unsigned ties;
	/* The node's generation. Losing the connection to a node nothing ties
	 * moves it on, which forgets every statement's id there at once (see
	 * stmt_node). 64 bits: it never comes round to an old statement's
	 * value again. */
	uint64_t gen;
};

struct stmt_table {
	struct stmt **items; /* sorted by id (ids only grow) */
	size_t n, cap;
	size_t n_nodes;
	uint32_t next_id;
	struct stmt_table_node *nodes; /* [n_nodes], allocated with the first statement */
};

void stmt_table_init(struct stmt_table *t, size_t n_nodes);
void stmt_table_deinit(struct stmt_table *t);
/* Forget every statement (COM_RESET_CONNECTION, COM_CHANGE_USER). */
void stmt_table_clear(struct stmt_table *t);

/* A new statement prepared on node with the node's id; sql is copied when
 * short enough. NULL when out of memory. */
struct stmt *stmt_add(struct stmt_table *t, const uint8_t *sql, size_t sql_len, int node,
		      uint32_t node_id, uint16_t params, uint16_t columns, bool reader_ok)
	__attribute__((warn_unused_result));
struct stmt *stmt_find(const struct stmt_table *t, uint32_t id);
void stmt_remove(struct stmt_table *t, uint32_t id);

/* The session's connection to node is gone, and with it the node's
 * statement ids, long data and cursors: prepare again there when needed.
 * Long data the node held is remembered as lost (long_data_lost), so that
 * the execute meant to use it fails instead of running without it.
 * Constant time when nothing ties the node (the pool taking a parked
 * connection away, the usual case); else it visits every statement. */
void stmt_forget_node(struct stmt_table *t, int node);

/* Does a statement keep state on the session's connection to node (long
 * data for its next execute, an open cursor), or is it one too long to
 * prepare again, prepared there? Then that connection is the session's
 * until the state goes. Constant time. */
bool stmt_ties_node(const struct stmt_table *t, int node);

/* Change what st holds on a node, keeping the table's tie counts: the node
 * holding its long data (-1: none), the node with its open cursor (-1:
 * none), and its id on node (0: not prepared there). */
void stmt_set_long_data(struct stmt_table *t, struct stmt *st, int node);
void stmt_set_cursor(struct stmt_table *t, struct stmt *st, int node);
void stmt_set_node_id(struct stmt_table *t, struct stmt *st, int node, uint32_t id);

/* st's id on node (0: not prepared there), and whether node has seen its
 * parameter types. A new id (stmt_set_node_id) has not seen them; the
 * execute that sends them says so with stmt_set_node_types(). */
static inline uint32_t stmt_node_id(const struct stmt_table *t, const struct stmt *st, int node)
{
	return st->on[node].gen == t->nodes[node].gen ? st->on[node].id : 0;
}

static inline bool stmt_node_types(const struct stmt_table *t, const struct stmt *st, int node)
{
	return st->on[node].gen == t->nodes[node].gen && st->on[node].types;
}

void stmt_set_node_types(struct stmt_table *t, struct stmt *st, int node);

/* Read the statement id of a COM_STMT_EXECUTE/SEND_LONG_DATA/CLOSE/RESET/
 * FETCH payload (its bytes 1..4). False if too short. */
bool stmt_payload_id(const uint8_t *payload, size_t len, uint32_t *id)
	__attribute__((warn_unused_result));

/* The cursor flags byte of a COM_STMT_EXECUTE payload (0 if absent). */
uint8_t stmt_execute_flags(const uint8_t *payload, size_t len);

/* Keep the parameter types of a COM_STMT_EXECUTE payload whose
 * new-params-bound flag is set (any non-zero byte, as the server reads it).
 * False if the payload is malformed or out of memory; true (and nothing
 * kept) when it binds no new types. */
bool stmt_capture_types(struct stmt *st, const uint8_t *payload, size_t len)
	__attribute__((warn_unused_result));

/* What a COM_STMT_EXECUTE payload needs to become one for a node (with_types:
 * the node has not seen the parameter types): only its statement id
 * changed, or also the kept types put in (the payload binds none itself).
 * BAD if it is cut short of its NULL bitmap, flag or announced types, or
 * types are needed and not known. */
enum stmt_exec_form { STMT_EXEC_BAD, STMT_EXEC_ID_ONLY, STMT_EXEC_ADD_TYPES };
enum stmt_exec_form stmt_execute_form(const struct stmt *st, const uint8_t *payload, size_t len,
				      bool with_types);

/* Whether a COM_STMT_EXECUTE payload binds parameter types of its own. */
bool stmt_execute_binds(const struct stmt *st, const uint8_t *payload, size_t len);

/* Write COM_STMT_EXECUTE payload as one packet (seq) for a node whose id for
 * the statement is node_id; with_types: the node has not seen the types,
 * so set new-params-bound and insert the kept ones (unless the payload
 * binds its own). False, with nothing written, if the payload is cut short
 * of its NULL bitmap, flag or announced types, or types are needed and not
 * known. */
bool stmt_write_execute(const struct stmt *st, const uint8_t *payload, size_t len, uint32_t node_id,
			bool with_types, struct mysql_writer *w, uint8_t seq)
	__attribute__((warn_unused_result));

#endif
