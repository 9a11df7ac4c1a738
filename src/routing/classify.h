/*
 * The statement classifier: reads the text of one COM_QUERY and says where it
 * may run (a reader, the primary, every backend) and which facts about it the
 * router needs (locking, session state, user variables, hints). A pure
 * function: no I/O, no allocation, no state kept between calls.
 */
#ifndef SLUICE_CLASSIFY_H
#define SLUICE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum classify_kind {
	CLASSIFY_READ,		  /* may run on a reader, subject to flags */
	CLASSIFY_WRITE,		  /* changes data or schema, or must run on the primary */
	CLASSIFY_BEGIN,		  /* BEGIN [WORK], START TRANSACTION [READ WRITE | WITH
				     CONSISTENT SNAPSHOT] */
	CLASSIFY_BEGIN_READ_ONLY, /* START TRANSACTION READ ONLY (also with CONSISTENT
				     SNAPSHOT) */
	CLASSIFY_COMMIT,	  /* COMMIT [WORK] [AND [NO] CHAIN] [[NO] RELEASE] */
	CLASSIFY_ROLLBACK,	  /* ROLLBACK [WORK] ..., not ROLLBACK TO (a WRITE) */
	CLASSIFY_SESSION,	  /* session state for every backend: SET (session scope),
				     SET NAMES, SET CHARACTER SET, USE db, SET ROLE */
	CLASSIFY_UNKNOWN,	  /* could not tell: the router sends it to the primary */
};

/*
 * Flags, bits of classify_result.flags. The expression flags (LOCKING_READ
 * to USER_VAR_WRITE, USER_FUNC, DIAGNOSTICS, RELEASE_*) are found anywhere
 * in a statement that runs; EXPLAIN, DESCRIBE and routine definitions run
 * nothing, so they carry none. USER_FUNC and INTO are left out of a WRITE,
 * where `INSERT INTO t (a)` would look like both and the primary runs it
 * anyway. LOCK_TABLES also stands for FLUSH ... WITH READ LOCK or FOR
 * EXPORT and BACKUP LOCK; UNLOCK_TABLES for BACKUP UNLOCK. DIAGNOSTICS is a
 * read of the previous statement's diagnostics area: SHOW WARNINGS/ERRORS,
 * GET DIAGNOSTICS, @@warning_count, @@error_count.
 */
#define CLASSIFY_LOCKING_READ	   (1u << 0)  /* FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE */
#define CLASSIFY_INTO		   (1u << 1)  /* SELECT ... INTO @v / OUTFILE / DUMPFILE */
#define CLASSIFY_LOCK_FUNC	   (1u << 2)  /* GET_LOCK, RELEASE_LOCK, IS_FREE_LOCK, ... */
#define CLASSIFY_SEQUENCE	   (1u << 3)  /* NEXTVAL(, SETVAL(, NEXT VALUE FOR, ... */
#define CLASSIFY_LAST_INSERT_ID	   (1u << 4)  /* LAST_INSERT_ID(, @@last_insert_id, @@identity */
#define CLASSIFY_FOUND_ROWS	   (1u << 5)  /* FOUND_ROWS( and ROW_COUNT( */
#define CLASSIFY_CALC_FOUND_ROWS   (1u << 6)  /* SQL_CALC_FOUND_ROWS */
#define CLASSIFY_USER_VAR_READ	   (1u << 7)  /* @x is read (@@system variables are not) */
#define CLASSIFY_USER_VAR_WRITE	   (1u << 8)  /* SET @x =, @x :=, INTO @x */
#define CLASSIFY_TEMP_CREATE	   (1u << 9)  /* CREATE [OR REPLACE] TEMPORARY TABLE */
#define CLASSIFY_TEMP_DROP	   (1u << 10) /* DROP [TEMPORARY] TABLE|SEQUENCE (may drop one) */
#define CLASSIFY_LOCK_TABLES	   (1u << 11) /* LOCK TABLES (and see above) */
#define CLASSIFY_UNLOCK_TABLES	   (1u << 12) /* UNLOCK TABLES, BACKUP UNLOCK */
#define CLASSIFY_AUTOCOMMIT_OFF	   (1u << 13) /* the session's autocommit becomes 0 */
#define CLASSIFY_AUTOCOMMIT_ON	   (1u << 14) /* the session's autocommit becomes 1 */
#define CLASSIFY_SET_TRANSACTION   (1u << 15) /* SET TRANSACTION, no scope: next one only */
#define CLASSIFY_SQL_PREPARE	   (1u << 16) /* PREPARE, EXECUTE, DEALLOCATE/DROP PREPARE */
#define CLASSIFY_XA		   (1u << 17) /* XA START/END/PREPARE/COMMIT/ROLLBACK/RECOVER */
#define CLASSIFY_USER_FUNC	   (1u << 18) /* calls a function that is not a builtin */
#define CLASSIFY_MULTI		   (1u << 19) /* more than one statement */
#define CLASSIFY_HINT_PRIMARY	   (1u << 20) /* a sluice:primary comment */
#define CLASSIFY_HINT_READER	   (1u << 21) /* a sluice:reader comment */
#define CLASSIFY_TRUNCATED	   (1u << 22) /* only a prefix of the statement was seen */
#define CLASSIFY_GLOBAL_SET	   (1u << 23) /* SET GLOBAL / @@global. (never replayed) */
#define CLASSIFY_DIAGNOSTICS	   (1u << 24) /* reads the diagnostics area (see above) */
#define CLASSIFY_RELEASE_LOCK	   (1u << 25) /* RELEASE_LOCK( (with LOCK_FUNC) */
#define CLASSIFY_RELEASE_ALL_LOCKS (1u << 26) /* RELEASE_ALL_LOCKS( (with LOCK_FUNC) */
#define CLASSIFY_CALL		   (1u << 27) /* CALL: a procedure runs what sluice cannot see */
#define CLASSIFY_HANDLER_OPEN	   (1u << 28) /* HANDLER t OPEN */
#define CLASSIFY_HANDLER_CLOSE	   (1u << 29) /* HANDLER t CLOSE */

#define CLASSIFY_DB_MAX 64 /* bytes of a database name */

struct classify_result {
	enum classify_kind kind;
	unsigned flags;
	/* Running it may commit an open transaction: COMMIT, an implicit commit
	 * (BEGIN, DDL, LOCK TABLES, SET autocommit = 1, ...) or anything not known
	 * not to (UNKNOWN, CALL, EXECUTE). False only for reads, ROLLBACK,
	 * session settings that leave autocommit off, and row changes (INSERT,
	 * UPDATE, DELETE, REPLACE, LOAD DATA|XML, HANDLER, SAVEPOINT work); several
	 * statements: any of them. Whether a transaction whose node died under
	 * the statement was rolled back, or its outcome is unknown. */
	bool may_commit;
	char db[CLASSIFY_DB_MAX + 1]; /* USE db: the name, unquoted; else "" */
};

/*
 * Classify the statement text sql[0..len).
 *
 * truncated: sql is only the first len bytes of a longer statement. The
 * result (with CLASSIFY_TRUNCATED) says what the prefix shows; the router
 * decides what that is worth. no_backslash_escapes: the session's sql_mode
 * has NO_BACKSLASH_ESCAPES (the server's status flags say so), so '\' is
 * not an escape inside strings.
 *
 * Kinds beyond the obvious: EXPLAIN and DESCRIBE are READs (they run
 * nothing); ANALYZE stmt is a READ for a READ, else a WRITE; DO is a READ
 * unless it calls a user function (UNKNOWN); compound statements (BEGIN NOT
 * ATOMIC, IF, LOOP, ...) and routine definitions are WRITEs, one statement
 * each despite their inner ';'. SET STATEMENT ... FOR stmt is stmt.
 *
 * Several statements (CLASSIFY_MULTI): READ if every one is a READ, SESSION
 * if every one is a SESSION, else UNKNOWN; flags are OR-ed, except that the
 * last autocommit change wins; db is the last USE of an all-SESSION text.
 * An empty statement (";;") counts as an UNKNOWN one.
 *
 * A statement the server may lex otherwise than this lexer does is UNKNOWN:
 * an unterminated string, name or comment (unless truncated); a NUL byte in
 * the code or ending a line comment; a comment inside a comment; "...\"..."
 * when backslashes escape, which ANSI_QUOTES reads as a name ending at the
 * \"; an executable comment for a version above 10.11.0 (it may not run) or
 * left open across a ';'.
 *
 * Assumes an ASCII-compatible connection character set in which no
 * multi-byte character holds an ASCII byte (utf8mb4, utf8, latin1; not big5,
 * cp932, gbk or sjis) and a sql_mode without ORACLE.
 *
 * Never reads outside sql[0..len); sql need not be NUL-terminated and may
 * hold any bytes (NULL with len 0 is an empty text). out is always filled.
 */
void classify(const char *sql, size_t len, bool truncated, bool no_backslash_escapes,
	      struct classify_result *out);

/*
 * Recognise `KILL [HARD|SOFT] [CONNECTION|QUERY] n` (comments and trailing
 * ';' allowed, nothing else): sluice carries it out itself, because n is one
 * of its own connection ids. True with *query_only and *id set; false for
 * anything else (KILL USER, KILL QUERY ID, an expression, other text), which
 * then goes to a node as it is. Same input rules as classify().
 */
/*
 * The tables a CREATE [OR REPLACE] TEMPORARY TABLE|SEQUENCE or a DROP
 * [TEMPORARY] TABLE|TABLES|SEQUENCE statement names, as keys: a 64-bit hash
 * of the table's database (db for a name without one; NULL or "" is no
 * database) and its name, both unquoted and taken byte for byte. One table
 * spelled two ways may get two keys; two tables get one key only by a hash
 * collision. Writes the first max keys to keys[] and returns how many
 * tables the statement names (more than max: some were not written); 0
 * for any other statement, or one whose names cannot be read. Looks at the
 * first statement only. Same input rules as classify().
 */
size_t classify_table_keys(const char *sql, size_t len, bool no_backslash_escapes, const char *db,
			   uint64_t *keys, size_t max) __attribute__((warn_unused_result));

bool classify_kill(const char *sql, size_t len, bool *query_only, uint64_t *id)
	__attribute__((warn_unused_result));

/* "read", "write", ... for logs and the stats page; "?" for a bad value. */
const char *classify_kind_str(enum classify_kind kind);

/* The name of one flag bit ("locking_read", ...); "?" for anything else. */
const char *classify_flag_str(unsigned flag);

/* Whether name[0..len) is a MariaDB 10.11 builtin function (any case). */
bool classify_is_builtin(const char *name, size_t len);

/* For the unit test: whether every lookup table is strictly sorted, which
 * their binary searches rely on. */
bool classify_tables_sorted(void);
/* For the unit test: whether the keyword table finds every keyword, in
 * upper and lower case, and no word that only starts or ends like one. */
bool classify_keywords_found(void);

#endif
