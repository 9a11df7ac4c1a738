/*
 * The statement classifier (see classify.h). A lexer that follows MariaDB's
 * rules for strings, quoted names and comments, executable comments being
 * code, and one pass over its tokens per statement: the first keywords give
 * the statement's kind, and every token is watched for the flags.
 */
#include "routing/classify.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "fnv.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The oldest server sluice expects (MariaDB 10.11). An executable comment
 * for a newer version runs on some servers only: its statement is UNKNOWN. */
#define SERVER_VERSION_MIN 101100

/* Paren depths at which a WITH list is followed; a CTE deeper than this has
 * its column list taken for a call (a user function: the primary). */
#define CTE_DEPTHS 64

/* The flags of what a statement evaluates, which EXPLAIN does not. */
#define EXPR_FLAGS                                                                                 \
	(CLASSIFY_LOCKING_READ | CLASSIFY_INTO | CLASSIFY_LOCK_FUNC | CLASSIFY_SEQUENCE |          \
	 CLASSIFY_LAST_INSERT_ID | CLASSIFY_FOUND_ROWS | CLASSIFY_CALC_FOUND_ROWS |                \
	 CLASSIFY_USER_VAR_READ | CLASSIFY_USER_VAR_WRITE | CLASSIFY_USER_FUNC |                   \
	 CLASSIFY_DIAGNOSTICS | CLASSIFY_RELEASE_LOCK | CLASSIFY_RELEASE_ALL_LOCKS)

/*
 * Every builtin function of MariaDB 10.11 (native, keyword and GIS ones, the
 * Oracle-mode variants, the inet plugin's), upper case, in strcmp order for
 * binary search. WSREP_LAST_SEEN_GTID and WSREP_LAST_WRITTEN_GTID are left
 * out on purpose: they report this session's own writes, which only its
 * primary connection knows, so a call keeps the statement on the primary.
 */
/* clang-format off */
static const char *const builtins[] = {
	"ABS", "ACOS", "ADDDATE", "ADDTIME", "ADD_MONTHS", "AES_DECRYPT", "AES_ENCRYPT", "ANALYSE",
	"AREA", "ASBINARY", "ASCII", "ASIN", "ASTEXT", "ASWKB", "ASWKT", "ATAN", "ATAN2", "AVG",
	"BENCHMARK", "BIN", "BINLOG_GTID_POS", "BIT_AND", "BIT_COUNT", "BIT_LENGTH", "BIT_OR",
	"BIT_XOR", "BOUNDARY", "BUFFER", "CAST", "CEIL", "CEILING", "CENTROID", "CHAR",
	"CHARACTER_LENGTH", "CHARSET", "CHAR_LENGTH", "CHR", "COALESCE", "COERCIBILITY",
	"COLLATION", "COLUMN_ADD", "COLUMN_CHECK", "COLUMN_CREATE", "COLUMN_DELETE",
	"COLUMN_EXISTS", "COLUMN_GET", "COLUMN_JSON", "COLUMN_LIST", "COMPRESS", "CONCAT",
	"CONCAT_OPERATOR_ORACLE", "CONCAT_WS", "CONNECTION_ID", "CONTAINS", "CONV", "CONVERT",
	"CONVERT_TZ", "CONVEXHULL", "COS", "COT", "COUNT", "CRC32", "CRC32C", "CROSSES",
	"CUME_DIST", "CURDATE", "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME",
	"CURRENT_TIMESTAMP", "CURRENT_USER", "CURTIME", "DATABASE", "DATE", "DATEDIFF", "DATE_ADD",
	"DATE_FORMAT", "DATE_SUB", "DAY", "DAYNAME", "DAYOFMONTH", "DAYOFWEEK", "DAYOFYEAR",
	"DECODE", "DECODE_HISTOGRAM", "DECODE_ORACLE", "DEGREES", "DENSE_RANK", "DES_DECRYPT",
	"DES_ENCRYPT", "DIMENSION", "DISJOINT", "ELT", "ENCODE", "ENCRYPT", "ENDPOINT", "ENVELOPE",
	"EQUALS", "EXP", "EXPORT_SET", "EXTERIORRING", "EXTRACT", "EXTRACTVALUE", "FIELD",
	"FIND_IN_SET", "FIRST_VALUE", "FLOOR", "FORMAT", "FOUND_ROWS", "FROM_BASE64", "FROM_DAYS",
	"FROM_UNIXTIME", "GEOMCOLLFROMTEXT", "GEOMCOLLFROMWKB", "GEOMETRYCOLLECTION",
	"GEOMETRYCOLLECTIONFROMTEXT", "GEOMETRYCOLLECTIONFROMWKB", "GEOMETRYFROMTEXT",
	"GEOMETRYFROMWKB", "GEOMETRYN", "GEOMETRYTYPE", "GEOMFROMTEXT", "GEOMFROMWKB",
	"GET_FORMAT", "GET_LOCK", "GLENGTH", "GREATEST", "GROUP_CONCAT", "HEX", "HOUR", "IF",
	"IFNULL", "INET6_ATON", "INET6_NTOA", "INET_ATON", "INET_NTOA", "INSERT", "INSTR",
	"INTERIORRINGN", "INTERSECTS", "ISCLOSED", "ISEMPTY", "ISNULL", "ISRING", "ISSIMPLE",
	"IS_FREE_LOCK", "IS_IPV4", "IS_IPV4_COMPAT", "IS_IPV4_MAPPED", "IS_IPV6", "IS_USED_LOCK",
	"JSON_ARRAY", "JSON_ARRAYAGG", "JSON_ARRAY_APPEND", "JSON_ARRAY_INSERT", "JSON_COMPACT",
	"JSON_CONTAINS", "JSON_CONTAINS_PATH", "JSON_DEPTH", "JSON_DETAILED", "JSON_EQUALS",
	"JSON_EXISTS", "JSON_EXTRACT", "JSON_INSERT", "JSON_KEYS", "JSON_LENGTH", "JSON_LOOSE",
	"JSON_MERGE", "JSON_MERGE_PATCH", "JSON_MERGE_PRESERVE", "JSON_NORMALIZE", "JSON_OBJECT",
	"JSON_OBJECTAGG", "JSON_OVERLAPS", "JSON_PRETTY", "JSON_QUERY", "JSON_QUOTE",
	"JSON_REMOVE", "JSON_REPLACE", "JSON_SEARCH", "JSON_SET", "JSON_TABLE", "JSON_TYPE",
	"JSON_UNQUOTE", "JSON_VALID", "JSON_VALUE", "LAG", "LASTVAL", "LAST_DAY", "LAST_INSERT_ID",
	"LAST_VALUE", "LCASE", "LEAD", "LEAST", "LEFT", "LENGTH", "LENGTHB", "LINEFROMTEXT",
	"LINEFROMWKB", "LINESTRING", "LINESTRINGFROMTEXT", "LINESTRINGFROMWKB", "LN", "LOAD_FILE",
	"LOCALTIME", "LOCALTIMESTAMP", "LOCATE", "LOG", "LOG10", "LOG2", "LOWER", "LPAD",
	"LPAD_ORACLE", "LTRIM", "LTRIM_ORACLE", "MAKEDATE", "MAKETIME", "MAKE_SET",
	"MASTER_GTID_WAIT", "MASTER_POS_WAIT", "MAX", "MBRCONTAINS", "MBRDISJOINT", "MBREQUAL",
	"MBREQUALS", "MBRINTERSECTS", "MBROVERLAPS", "MBRTOUCHES", "MBRWITHIN", "MD5", "MEDIAN",
	"MICROSECOND", "MID", "MIN", "MINUTE", "MLINEFROMTEXT", "MLINEFROMWKB", "MOD", "MONTH",
	"MONTHNAME", "MPOINTFROMTEXT", "MPOINTFROMWKB", "MPOLYFROMTEXT", "MPOLYFROMWKB",
	"MULTILINESTRING", "MULTILINESTRINGFROMTEXT", "MULTILINESTRINGFROMWKB", "MULTIPOINT",
	"MULTIPOINTFROMTEXT", "MULTIPOINTFROMWKB", "MULTIPOLYGON", "MULTIPOLYGONFROMTEXT",
	"MULTIPOLYGONFROMWKB", "NAME_CONST", "NATURAL_SORT_KEY", "NEXTVAL", "NOW", "NTH_VALUE",
	"NTILE", "NULLIF", "NUMGEOMETRIES", "NUMINTERIORRINGS", "NUMPOINTS", "NVL", "NVL2", "OCT",
	"OCTET_LENGTH", "OLD_PASSWORD", "ORD", "OVERLAPS", "PASSWORD", "PERCENTILE_CONT",
	"PERCENTILE_DISC", "PERCENT_RANK", "PERIOD_ADD", "PERIOD_DIFF", "PI", "POINT",
	"POINTFROMTEXT", "POINTFROMWKB", "POINTN", "POINTONSURFACE", "POLYFROMTEXT", "POLYFROMWKB",
	"POLYGON", "POLYGONFROMTEXT", "POLYGONFROMWKB", "POSITION", "POW", "POWER", "QUARTER",
	"QUOTE", "RADIANS", "RAND", "RANDOM_BYTES", "RANK", "REGEXP_INSTR", "REGEXP_REPLACE",
	"REGEXP_SUBSTR", "RELEASE_ALL_LOCKS", "RELEASE_LOCK", "REPEAT", "REPLACE",
	"REPLACE_ORACLE", "REVERSE", "RIGHT", "ROUND", "ROWNUM", "ROW_COUNT", "ROW_NUMBER", "RPAD",
	"RPAD_ORACLE", "RTRIM", "RTRIM_ORACLE", "SCHEMA", "SECOND", "SEC_TO_TIME", "SESSION_USER",
	"SETVAL", "SFORMAT", "SHA", "SHA1", "SHA2", "SIGN", "SIN", "SLEEP", "SOUNDEX", "SPACE",
	"SQRT", "SRID", "STARTPOINT", "STD", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "STRCMP",
	"STR_TO_DATE", "ST_AREA", "ST_ASBINARY", "ST_ASGEOJSON", "ST_ASTEXT", "ST_ASWKB",
	"ST_ASWKT", "ST_BOUNDARY", "ST_BUFFER", "ST_CENTROID", "ST_CONTAINS", "ST_CONVEXHULL",
	"ST_CROSSES", "ST_DIFFERENCE", "ST_DIMENSION", "ST_DISJOINT", "ST_DISTANCE",
	"ST_DISTANCE_SPHERE", "ST_ENDPOINT", "ST_ENVELOPE", "ST_EQUALS", "ST_EXTERIORRING",
	"ST_GEOMCOLLFROMTEXT", "ST_GEOMCOLLFROMWKB", "ST_GEOMETRYCOLLECTIONFROMTEXT",
	"ST_GEOMETRYCOLLECTIONFROMWKB", "ST_GEOMETRYFROMTEXT", "ST_GEOMETRYFROMWKB",
	"ST_GEOMETRYN", "ST_GEOMETRYTYPE", "ST_GEOMFROMGEOJSON", "ST_GEOMFROMTEXT",
	"ST_GEOMFROMWKB", "ST_INTERIORRINGN", "ST_INTERSECTION", "ST_INTERSECTS", "ST_ISCLOSED",
	"ST_ISEMPTY", "ST_ISRING", "ST_ISSIMPLE", "ST_LENGTH", "ST_LINEFROMTEXT", "ST_LINEFROMWKB",
	"ST_LINESTRINGFROMTEXT", "ST_LINESTRINGFROMWKB", "ST_MLINEFROMTEXT", "ST_MLINEFROMWKB",
	"ST_MPOINTFROMTEXT", "ST_MPOINTFROMWKB", "ST_MPOLYFROMTEXT", "ST_MPOLYFROMWKB",
	"ST_MULTILINESTRINGFROMTEXT", "ST_MULTILINESTRINGFROMWKB", "ST_MULTIPOINTFROMTEXT",
	"ST_MULTIPOINTFROMWKB", "ST_MULTIPOLYGONFROMTEXT", "ST_MULTIPOLYGONFROMWKB",
	"ST_NUMGEOMETRIES", "ST_NUMINTERIORRINGS", "ST_NUMPOINTS", "ST_OVERLAPS",
	"ST_POINTFROMTEXT", "ST_POINTFROMWKB", "ST_POINTN", "ST_POINTONSURFACE", "ST_POLYFROMTEXT",
	"ST_POLYFROMWKB", "ST_POLYGONFROMTEXT", "ST_POLYGONFROMWKB", "ST_RELATE", "ST_SRID",
	"ST_STARTPOINT", "ST_SYMDIFFERENCE", "ST_TOUCHES", "ST_UNION", "ST_WITHIN", "ST_X", "ST_Y",
	"SUBDATE", "SUBSTR", "SUBSTRING", "SUBSTRING_INDEX", "SUBSTR_ORACLE", "SUBTIME", "SUM",
	"SYSDATE", "SYSTEM_USER", "SYS_GUID", "TAN", "TIME", "TIMEDIFF", "TIMESTAMP",
	"TIMESTAMPADD", "TIMESTAMPDIFF", "TIME_FORMAT", "TIME_TO_SEC", "TOUCHES", "TO_BASE64",
	"TO_CHAR", "TO_DAYS", "TO_SECONDS", "TRIM", "TRIM_ORACLE", "TRUNCATE", "UCASE",
	"UNCOMPRESS", "UNCOMPRESSED_LENGTH", "UNHEX", "UNIX_TIMESTAMP", "UPDATEXML", "UPPER",
	"USER", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP", "UUID", "UUID_SHORT", "VARIANCE",
	"VAR_POP", "VAR_SAMP", "VERSION", "WEEK", "WEEKDAY", "WEEKOFYEAR", "WEIGHT_STRING",
	"WITHIN", "WSREP_SYNC_WAIT_UPTO_GTID", "X", "Y", "YEAR", "YEARWEEK",
};
/* clang-format on */

/*
 * Words that stand before '(' without calling a function: the reserved words
 * of MariaDB 10.11 (IN, VALUES, EXISTS, USING, INDEX, PARTITION, OVER, ...),
 * which a stored function's name can only be if quoted or qualified, and
 * non-reserved ones used that way: ANY/SOME (subquery), ROW, VALUE, the data
 * types of CAST, AGAINST, COLUMNS of JSON_TABLE, AS OF. Sorted like builtins.
 */
/* clang-format off */
static const char *const paren_words[] = {
	"ACCESSIBLE", "ADD", "AGAINST", "ALL", "ALTER", "ANALYZE", "AND", "ANY", "AS", "ASC",
	"ASENSITIVE", "BEFORE", "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BOOL", "BOOLEAN",
	"BOTH", "BY", "CALL", "CASCADE", "CASE", "CHANGE", "CHAR", "CHARACTER", "CHECK", "CLOB",
	"COLLATE", "COLUMN", "COLUMNS", "CONDITION", "CONSTRAINT", "CONTINUE", "CONVERT", "CREATE",
	"CROSS", "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
	"CURRENT_USER", "CURSOR", "DATABASE", "DATABASES", "DATETIME", "DAY_HOUR",
	"DAY_MICROSECOND", "DAY_MINUTE", "DAY_SECOND", "DEC", "DECIMAL", "DECLARE", "DEFAULT",
	"DELAYED", "DELETE", "DELETE_DOMAIN_ID", "DESC", "DESCRIBE", "DETERMINISTIC", "DISTINCT",
	"DISTINCTROW", "DIV", "DOUBLE", "DO_DOMAIN_IDS", "DROP", "DUAL", "EACH", "ELSE", "ELSEIF",
	"ENCLOSED", "ENUM", "ESCAPED", "EXCEPT", "EXISTS", "EXIT", "EXPLAIN", "FALSE", "FETCH",
	"FIXED", "FLOAT", "FLOAT4", "FLOAT8", "FOR", "FORCE", "FOREIGN", "FROM", "FULLTEXT",
	"GENERAL", "GRANT", "GROUP", "HAVING", "HIGH_PRIORITY", "HOUR_MICROSECOND", "HOUR_MINUTE",
	"HOUR_SECOND", "IF", "IGNORE", "IGNORE_DOMAIN_IDS", "IGNORE_SERVER_IDS", "IN", "INDEX",
	"INET4", "INET6", "INFILE", "INNER", "INOUT", "INSENSITIVE", "INSERT", "INT", "INT1",
	"INT2", "INT3", "INT4", "INT8", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "IS",
	"ITERATE", "JOIN", "KEY", "KEYS", "KILL", "LATERAL", "LEADING", "LEAVE", "LEFT", "LIKE",
	"LIMIT", "LINEAR", "LINES", "LOAD", "LOCALTIME", "LOCALTIMESTAMP", "LOCK", "LONG",
	"LONGBLOB", "LONGTEXT", "LOOP", "LOW_PRIORITY", "MASTER_HEARTBEAT_PERIOD",
	"MASTER_SSL_VERIFY_SERVER_CERT", "MATCH", "MAXVALUE", "MEDIUMBLOB", "MEDIUMINT",
	"MEDIUMTEXT", "MIDDLEINT", "MINUS", "MINUTE_MICROSECOND", "MINUTE_SECOND", "MOD",
	"MODIFIES", "NATIONAL", "NATURAL", "NCHAR", "NOT", "NO_WRITE_TO_BINLOG", "NULL", "NUMBER",
	"NUMERIC", "NVARCHAR", "OF", "OFFSET", "ON", "OPTIMIZE", "OPTION", "OPTIONALLY", "OR",
	"ORDER", "OUT", "OUTER", "OUTFILE", "OVER", "PAGE_CHECKSUM", "PARSE_VCOL_EXPR",
	"PARTITION", "POSITION", "PRECISION", "PRIMARY", "PROCEDURE", "PURGE", "RANGE", "RAW",
	"READ", "READS", "READ_WRITE", "REAL", "RECURSIVE", "REFERENCES", "REF_SYSTEM_ID",
	"REGEXP", "RELEASE", "RENAME", "REPEAT", "REPLACE", "REQUIRE", "RESIGNAL", "RESTRICT",
	"RETURN", "RETURNING", "REVOKE", "RIGHT", "RLIKE", "ROW", "ROWS", "SCHEMA", "SCHEMAS",
	"SECOND_MICROSECOND", "SELECT", "SENSITIVE", "SEPARATOR", "SET", "SHOW", "SIGNAL", "SLOW",
	"SMALLINT", "SOME", "SPATIAL", "SPECIFIC", "SQL", "SQLEXCEPTION", "SQLSTATE", "SQLWARNING",
	"SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE", "SQL_CALC_FOUND_ROWS", "SQL_NO_CACHE",
	"SQL_SMALL_RESULT", "SSL", "STARTING", "STATS_AUTO_RECALC", "STATS_PERSISTENT",
	"STATS_SAMPLE_PAGES", "STRAIGHT_JOIN", "SYSTEM_TIME", "TABLE", "TERMINATED", "TEXT",
	"THEN", "TINYBLOB", "TINYINT", "TINYTEXT", "TO", "TRAILING", "TRIGGER", "TRUE", "UNDO",
	"UNION", "UNIQUE", "UNLOCK", "UNSIGNED", "UPDATE", "USAGE", "USE", "USING", "UTC_DATE",
	"UTC_TIME", "UTC_TIMESTAMP", "VALUE", "VALUES", "VARBINARY", "VARCHAR", "VARCHAR2",
	"VARCHARACTER", "VARYING", "WHEN", "WHERE", "WHILE", "WINDOW", "WITH", "WRITE", "XOR",
	"YEAR_MONTH", "ZEROFILL",
};
/* clang-format on */

/* The keywords the classifier acts on, sorted: kw_names[k - 1] names k. */
/* clang-format off */
#define KEYWORDS(X)                                                                                \
	X(AGGREGATE) X(ALGORITHM) X(ALL) X(ALTER) X(ANALYZE) X(AND) X(AS) X(ATOMIC) X(BACKUP)      \
	X(BEGIN) X(BINLOG) X(CACHE) X(CALL) X(CASE) X(CHAIN) X(CHANGE) X(CHARACTER) X(CHARSET)     \
	X(CHECK) X(CHECKSUM) X(COMMIT) X(CONDITION) X(CONSISTENT) X(COUNT) X(CREATE) X(CURRENT)    \
	X(CURRENT_USER) X(CURRVAL) X(DEALLOCATE) X(DEFAULT) X(DEFINER) X(DELAYED) X(DELETE)        \
	X(DESC) X(DESCRIBE) X(DIAGNOSTICS) X(DO) X(DROP) X(ELSE) X(END) X(ERRORS) X(EVENT)         \
	X(EXECUTE) X(EXPLAIN) X(EXPORT) X(FLUSH) X(FOR) X(FORMAT) X(FUNCTION) X(GET) X(GLOBAL)     \
	X(GRANT) X(HANDLER) X(HELP) X(HIGH_PRIORITY) X(IF) X(IGNORE) X(IMMEDIATE) X(IN) X(INSERT)  \
	X(INSTALL) X(INTO) X(INVOKER) X(KILL) X(LOAD) X(LOCAL) X(LOCK) X(LOOP) X(LOW_PRIORITY)     \
	X(MASTER) X(MERGE) X(NAMES) X(NEXT) X(NEXTVAL) X(NO) X(NOT) X(NO_WRITE_TO_BINLOG) X(ONLY)  \
	X(OPTIMIZE) X(OR) X(PACKAGE) X(PASSWORD) X(PREPARE) X(PREVIOUS) X(PROCEDURE) X(PURGE)      \
	X(READ) X(RECOVER) X(RECURSIVE) X(RELEASE) X(RENAME) X(REPAIR) X(REPEAT) X(REPLACE)        \
	X(REPLICA) X(REPLICATION) X(RESET) X(REVOKE) X(ROLE) X(ROLLBACK) X(SAVEPOINT) X(SECURITY)  \
	X(SELECT) X(SESSION) X(SET) X(SHARE) X(SHOW) X(SHUTDOWN) X(SLAVE) X(SNAPSHOT) X(SQL)       \
	X(SQL_CALC_FOUND_ROWS) X(STACKED) X(START) X(STATEMENT) X(STOP) X(TABLE) X(TABLES)         \
	X(TEMPORARY) X(TEMPTABLE) X(THEN) X(TO) X(TRANSACTION) X(TRIGGER) X(TRUNCATE)              \
	X(UNDEFINED) X(UNINSTALL) X(UNLOCK) X(UPDATE) X(USE) X(VALUE) X(VALUES) X(WARNINGS)        \
	X(WHILE) X(WITH) X(WORK) X(WRITE) X(XA)
/* clang-format on */

enum kw {
	KW_NONE,
#define KW_ENUM(name) KW_##name,
	KEYWORDS(KW_ENUM)
#undef KW_ENUM
};

static const char *const kw_names[] = {
#define KW_NAME(name) #name,
	KEYWORDS(KW_NAME)
#undef KW_NAME
};

/* Builtins that tell the router something (the rest only are not user functions). */
struct special_func {
	const char *name;
	unsigned flag;
};

static const struct special_func special_funcs[] = {
	{"FOUND_ROWS", CLASSIFY_FOUND_ROWS},
	{"GET_LOCK", CLASSIFY_LOCK_FUNC},
	{"IS_FREE_LOCK", CLASSIFY_LOCK_FUNC},
	{"IS_USED_LOCK", CLASSIFY_LOCK_FUNC},
	{"LASTVAL", CLASSIFY_SEQUENCE},
	{"LAST_INSERT_ID", CLASSIFY_LAST_INSERT_ID},
	{"NEXTVAL", CLASSIFY_SEQUENCE},
	{"RELEASE_ALL_LOCKS", CLASSIFY_LOCK_FUNC | CLASSIFY_RELEASE_ALL_LOCKS},
	{"RELEASE_LOCK", CLASSIFY_LOCK_FUNC | CLASSIFY_RELEASE_LOCK},
	{"ROW_COUNT", CLASSIFY_FOUND_ROWS},
	{"SETVAL", CLASSIFY_SEQUENCE},
};

static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* A byte of an unquoted name: ASCII letters and digits, '_', '$', and every
 * byte of a multi-byte character. */
static bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Compare w[0..n), in any case, with an upper-case name: <0, 0, >0. w may
 * hold NUL bytes (a string's text): the name ends at its own NUL, w is then
 * the longer. */
static int word_cmp(const char *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char a = upper((unsigned char)w[i]), b = (unsigned char)name[i];

		if (b == '\0')
			return 1;
		if (a != b)
			return a > b ? 1 : -1;
	}
	return name[n] == '\0' ? 0 : -1;
}

static bool word_is(const char *w, size_t n, const char *name)
{
	return word_cmp(w, n, name) == 0;
}

/* Index of w[0..n) in a sorted table of upper-case names, or -1. */
static long lookup(const char *const *table, size_t count, const char *w, size_t n)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = word_cmp(w, n, table[mid]);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Keywords are looked up for every word of every statement: by a hash of
 * the upper-case word in an open-addressing table (at most a quarter full,
 * so a probe ends soon; the keys are fixed, a client's words only look),
 * built once. */
#define KW_MAX_LEN 19
#define KW_SLOTS   1024
static uint16_t kw_slot[KW_SLOTS]; /* index into kw_names + 1; 0: empty */
static uint8_t kw_len[ARRAY_LEN(kw_names)];
static pthread_once_t kw_once = PTHREAD_ONCE_INIT;

static size_t kw_hash(const unsigned char *up, size_t n)
{
	uint64_t h = FNV1A_START;

	for (size_t i = 0; i < n; i++)
		h = fnv1a(h, up[i]);
	return (size_t)(h ^ (h >> 32)) & (KW_SLOTS - 1);
}

static void kw_build(void)
{
	_Static_assert(ARRAY_LEN(kw_names) * 4 <= KW_SLOTS, "keyword table too full");
	for (size_t i = 0; i < ARRAY_LEN(kw_names); i++) {
		size_t n = strlen(kw_names[i]), h = kw_hash((const unsigned char *)kw_names[i], n);

		kw_len[i] = (uint8_t)n;
		while (kw_slot[h])
			h = (h + 1) & (KW_SLOTS - 1);
		kw_slot[h] = (uint16_t)(i + 1);
	}
}

static enum kw keyword(const char *w, size_t n)
{
	unsigned char up[KW_MAX_LEN];

	/* Numbers and long names are never keywords: skip the search. */
	if (n < 2 || n > KW_MAX_LEN || is_digit((unsigned char)w[0]))
		return KW_NONE;
	pthread_once(&kw_once, kw_build);
	for (size_t i = 0; i < n; i++)
		up[i] = upper((unsigned char)w[i]);
	for (size_t h = kw_hash(up, n); kw_slot[h]; h = (h + 1) & (KW_SLOTS - 1)) {
		size_t i = kw_slot[h] - 1u;
		if (kw_len[i] == n && memcmp(kw_names[i], up, n) == 0)
			return (enum kw)(i + 1);
	}
	return KW_NONE;
}

bool classify_is_builtin(const char *name, size_t len)
{
	return name && lookup(builtins, ARRAY_LEN(builtins), name, len) >= 0;
}

static bool sorted(const char *const *table, size_t count)
{
	for (size_t i = 1; i < count; i++)
		if (strcmp(table[i - 1], table[i]) >= 0)
			return false;
	return true;
}

bool classify_keywords_found(void)
{
	for (size_t i = 0; i < ARRAY_LEN(kw_names); i++) {
		char lower[KW_MAX_LEN + 1];
		size_t n = strlen(kw_names[i]);

		if (n > KW_MAX_LEN || keyword(kw_names[i], n) != (enum kw)(i + 1))
			return false;
		for (size_t j = 0; j < n; j++)
			lower[j] = (char)(kw_names[i][j] >= 'A' && kw_names[i][j] <= 'Z'
						  ? kw_names[i][j] - 'A' + 'a'
						  : kw_names[i][j]);
		if (keyword(lower, n) != (enum kw)(i + 1))
			return false;
	}
	return keyword("SELECTX", 7) == KW_NONE && keyword("SELEC", 5) == KW_NONE;
}

bool classify_tables_sorted(void)
{
	for (size_t i = 1; i < ARRAY_LEN(special_funcs); i++)
		if (strcmp(special_funcs[i - 1].name, special_funcs[i].name) >= 0)
			return false;
	return sorted(builtins, ARRAY_LEN(builtins)) &&
	       sorted(paren_words, ARRAY_LEN(paren_words)) && sorted(kw_names, ARRAY_LEN(kw_names));
}

/* ---- the lexer ---- */

enum tok_kind {
	TOK_EOS,      /* end of the statement: end of input, or its ';' */
	TOK_WORD,     /* keyword, name or number */
	TOK_QIDENT,   /* `name` (p, len: between the backquotes, `` not undone) */
	TOK_STRING,   /* '...' or "..." (between the quotes, escapes not undone) */
	TOK_USER_VAR, /* @name, @'name', @`name` (the name) */
	TOK_SYS_VAR,  /* @@name, @@session.name (after the @@) */
	TOK_HOST,     /* the @host of user@host */
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COMMA,
	TOK_SEMI,
	TOK_DOT,
	TOK_EQ,	    /* = */
	TOK_ASSIGN, /* := */
	TOK_COLON,
	TOK_OTHER, /* another operator, or a byte that is none */
	TOK_END,   /* the lexer's end of input, which statements see as TOK_EOS */
};

struct token {
	enum tok_kind kind;
	enum kw kw; /* TOK_WORD: which keyword, if any */
	const char *p;
	size_t len;
};

struct lexer {
	const char *p, *end;
	bool no_backslash_escapes;
	bool truncated;
	bool in_exec;	/* in the code of an executable comment */
	bool odd;	/* met something the server may read otherwise (classify.h) */
	unsigned hints; /* CLASSIFY_HINT_* found in comments */
	/* The token before, for user@host. */
	enum tok_kind last;
	const char *last_p, *last_end;
};

static const char *skip_spaces(const char *p, const char *e)
{
	while (p < e && is_space((unsigned char)*p))
		p++;
	return p;
}

/* Whether *p starts with the upper-case w in any case; if so, move past it. */
static bool skip_prefix(const char **p, const char *e, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(e - *p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper((unsigned char)(*p)[i]) != (unsigned char)w[i])
			return false;
	*p += n;
	return true;
}

/* The hint in a comment's text p[0..e): after optional spaces, "sluice",
 * ':', then "primary" or "reader", in any case and with spaces around the
 * colon, ending the word. */
static unsigned hint(const char *p, const char *e)
{
	unsigned flag;

	p = skip_spaces(p, e);
	if (!skip_prefix(&p, e, "SLUICE"))
		return 0;
	p = skip_spaces(p, e);
	if (p == e || *p != ':')
		return 0;
	p = skip_spaces(p + 1, e);
	if (skip_prefix(&p, e, "PRIMARY"))
		flag = CLASSIFY_HINT_PRIMARY;
	else if (skip_prefix(&p, e, "READER"))
		flag = CLASSIFY_HINT_READER;
	else
		return 0;
	return p == e || !is_word((unsigned char)*p) ? flag : 0;
}

/* A '#' or '-- ' comment from its text at from. The server ends one at a
 * NUL byte too and reads on after it; this lexer does the same but calls
 * the text odd. */
static void line_comment(struct lexer *lx, const char *from)
{
	const char *e = from;

	while (e < lx->end && *e != '\n' && *e != '\0')
		e++;
	lx->hints |= hint(from, e);
	if (e < lx->end && *e == '\0')
		lx->odd = true;
	lx->p = e < lx->end ? e + 1 : e;
}

/* The first "*" "/" in p[0..e), or NULL. */
static const char *comment_end(const char *p, const char *e)
{
	while (e - p >= 2) {
		const char *star = memchr(p, '*', (size_t)(e - p - 1));

		if (!star)
			return NULL;
		if (star[1] == '/')
			return star;
		p = star + 1;
	}
	return NULL;
}

/* Whether p[0..e) holds a "/" "*" (a comment opened inside a comment). */
static bool has_comment_start(const char *p, const char *e)
{
	while (e - p >= 2) {
		const char *slash = memchr(p, '/', (size_t)(e - p - 1));

		if (!slash)
			return false;
		if (slash[1] == '*')
			return true;
		p = slash + 1;
	}
	return false;
}

/*
 * A comment at lx->p ("/" "*"). "/" "*" "!" and "/" "*" "M!", with an optional
 * 5 or 6 digit server version, open an executable comment whose text is code:
 * the lexer goes on inside it until its "*" "/". MariaDB skips, like any
 * comment, "/" "*" "!" with a MySQL 5.7+ version (50700 to 99999), and a
 * version above SERVER_VERSION_MIN runs on some servers only (odd). Nested
 * comments are odd: MariaDB reads some of them differently.
 */
static void block_comment(struct lexer *lx)
{
	const char *p = lx->p + 2, *e = lx->end, *close, *stop;
	bool mariadb = e - p >= 2 && p[0] == 'M' && p[1] == '!';

	if (mariadb || (p < e && p[0] == '!')) {
		const char *code = p + (mariadb ? 2 : 1);
		unsigned long version = 0;
		size_t digits = 0;

		while (digits < 6 && code + digits < e && is_digit((unsigned char)code[digits]))
			version = version * 10 + (unsigned long)(code[digits++] - '0');
		if (digits < 5) {
			digits = 0;
			version = 0;
		}
		if (mariadb || digits == 0 || version < 50700 || version > 99999) {
			if (version > SERVER_VERSION_MIN || lx->in_exec)
				lx->odd = true;
			lx->in_exec = true;
			lx->p = code + digits;
			return;
		}
	}
	close = comment_end(p, e);
	stop = close ? close : e;
	if (lx->in_exec || has_comment_start(p, stop) || (!close && !lx->truncated))
		lx->odd = true;
	lx->hints |= hint(p, stop);
	lx->p = close ? close + 2 : e;
}

/*
 * A quoted string or name whose opening quote is at q: doubled quotes stay
 * inside, and so does an escaped byte when escapes is set. Sets the token's
 * text to what is between the quotes; returns the byte after the closing one.
 * In "...", an escaped '"' ends a name under ANSI_QUOTES, where '\' is plain:
 * odd.
 */
static const char *quoted(struct lexer *lx, const char *q, bool escapes, struct token *t)
{
	const char quote = *q, *p = q + 1, *e = lx->end;

	while (p < e) {
		if (*p == '\\' && escapes) {
			if (quote == '"' && e - p >= 2 && p[1] == '"')
				lx->odd = true;
			p += e - p >= 2 ? 2 : 1;
			continue;
		}
		if (*p == quote) {
			if (e - p >= 2 && p[1] == quote) {
				p += 2;
				continue;
			}
			t->p = q + 1;
			t->len = (size_t)(p - t->p);
			return p + 1;
		}
		p++;
	}
	if (!lx->truncated)
		lx->odd = true;
	t->p = q + 1;
	t->len = (size_t)(e - t->p);
	return e;
}

/* Whether an '@' at lx->p is the separator of user@host: it follows a user
 * name with nothing between (MariaDB decides by grammar; this is close). */
static bool after_user(const struct lexer *lx)
{
	if (lx->last_end != lx->p)
		return false;
	if (lx->last == TOK_STRING || lx->last == TOK_QIDENT)
		return true;
	return lx->last == TOK_WORD &&
	       keyword(lx->last_p, (size_t)(lx->last_end - lx->last_p)) == KW_NONE &&
	       lookup(paren_words, ARRAY_LEN(paren_words), lx->last_p,
		      (size_t)(lx->last_end - lx->last_p)) < 0;
}

/* @name, @'name', @@name or user@host's @host, at lx->p; returns its end. */
static const char *variable(struct lexer *lx, struct token *t)
{
	const char *p = lx->p + 1, *e = lx->end;

	if (p < e && *p == '@') {
		t->kind = TOK_SYS_VAR;
		p++;
	} else {
		t->kind = after_user(lx) ? TOK_HOST : TOK_USER_VAR;
		if (p < e && (*p == '\'' || *p == '"' || *p == '`'))
			return quoted(lx, p, *p != '`' && !lx->no_backslash_escapes, t);
	}
	t->p = p;
	while (p < e && (is_word((unsigned char)*p) || *p == '.'))
		p++;
	t->len = (size_t)(p - t->p);
	return p;
}

/* The next token, after spaces and comments; TOK_END at the end of input. */
static struct token lex(struct lexer *lx)
{
	struct token t = {.kind = TOK_OTHER};
	const char *p, *next, *e = lx->end;

	for (;;) {
		p = lx->p = skip_spaces(lx->p, e);
		if (p == e) {
			if (lx->in_exec && !lx->truncated)
				lx->odd = true;
			t.kind = TOK_END;
			t.p = p;
			return t;
		}
		if (lx->in_exec && p[0] == '*' && e - p >= 2 && p[1] == '/') {
			lx->in_exec = false;
			lx->p = p + 2;
		} else if (p[0] == '/' && e - p >= 2 && p[1] == '*') {
			block_comment(lx);
		} else if (p[0] == '#') {
			line_comment(lx, p + 1);
		} else if (p[0] == '-' && e - p >= 2 && p[1] == '-' &&
			   (e - p == 2 || (unsigned char)p[2] <= ' ' || p[2] == 0x7f)) {
			line_comment(lx, p + 2);
		} else {
			break;
		}
	}
	t.p = p;
	next = p + 1;
	switch (*p) {
	case '\'':
	case '"':
		t.kind = TOK_STRING;
		next = quoted(lx, p, !lx->no_backslash_escapes, &t);
		break;
	case '`':
		t.kind = TOK_QIDENT;
		next = quoted(lx, p, false, &t);
		break;
	case '@':
		next = variable(lx, &t);
		break;
	case '(':
		t.kind = TOK_LPAREN;
		break;
	case ')':
		t.kind = TOK_RPAREN;
		break;
	case ',':
		t.kind = TOK_COMMA;
		break;
	case ';':
		t.kind = TOK_SEMI;
		break;
	case '.':
		t.kind = TOK_DOT;
		break;
	case '=':
		t.kind = TOK_EQ;
		break;
	case ':':
		if (e - p >= 2 && p[1] == '=') {
			t.kind = TOK_ASSIGN;
			next = p + 2;
		} else {
			t.kind = TOK_COLON;
		}
		break;
	case '<':
	case '>':
	case '!':
		/* <=, >=, !=, <>, <=>: never a lone '=' */
		while (next < e && (*next == '=' || *next == '<' || *next == '>'))
			next++;
		break;
	case '\0':
		lx->odd = true; /* the server takes a NUL for a stray character */
		break;
	default:
		if (is_word((unsigned char)*p)) {
			while (next < e && is_word((unsigned char)*next))
				next++;
			t.kind = TOK_WORD;
			t.kw = keyword(p, (size_t)(next - p));
		}
		break;
	}
	if (t.kind != TOK_STRING && t.kind != TOK_QIDENT && t.kind != TOK_USER_VAR &&
	    t.kind != TOK_SYS_VAR && t.kind != TOK_HOST)
		t.len = (size_t)(next - p);
	lx->p = next;
	lx->last = t.kind;
	lx->last_p = p;
	lx->last_end = next;
	return t;
}

/* ---- statements ---- */

/* What the scanner remembers of a token. */
struct seen {
	enum tok_kind kind;
	enum kw kw;
	const char *p;
	size_t len;
	bool cte; /* a CTE's name: a '(' after it opens a column list */
};

struct cls {
	struct lexer lx;
	/* The statement being read, reset by stmt_begin(). */
	unsigned flags;
	unsigned tokens;    /* consumed */
	bool ended;	    /* its end was reached... */
	bool by_semi;	    /* ... at a ';', after which more may follow */
	unsigned depth;	    /* of parentheses */
	unsigned block;	    /* of BEGIN ... END and the like, when compound */
	bool compound;	    /* may hold ';' inside blocks (BEGIN NOT ATOMIC, CREATE
			       PROCEDURE, ...) */
	bool select;	    /* SELECT-like: INTO is meaningful */
	bool quiet;	    /* EXPLAIN, DESCRIBE: runs nothing, no expression flags */
	bool is_do;	    /* DO: a READ unless it calls a user function */
	bool rows;	    /* changes rows (or savepoints) only: never commits */
	bool into;	    /* a user variable now is an INTO target */
	bool set_target;    /* the next token is a SET assignment's target */
	bool arm_target;    /* ... the one after this (SET in a compound statement) */
	bool var_pending;   /* a user variable, read unless := follows */
	bool cte_expect;    /* the next name is a CTE's */
	uint64_t cte_lists; /* bit d: a WITH list is open at depth d */
	struct seen prev, prev2;
	bool has_db;
	char db[CLASSIFY_DB_MAX + 1];
};

static bool is_kw(const struct token *t, enum kw kw)
{
	return t->kind == TOK_WORD && t->kw == kw;
}

/* Whether t is the word w (upper case), in any case: for words the
 * keyword table does not hold. */
static bool is_word_tok(const struct token *t, const char *w)
{
	return t->kind == TOK_WORD && word_cmp(t->p, t->len, w) == 0;
}

/* A '(' follows prev: is prev a function, and which? */
static void call(struct cls *c)
{
	const struct seen *f = &c->prev;

	if (f->cte || (f->kind != TOK_WORD && f->kind != TOK_QIDENT))
		return;
	/* A quoted name may be a stored function named like a builtin; a
	 * qualified one (db.f) always is a stored function. */
	if (f->kind == TOK_QIDENT || c->prev2.kind == TOK_DOT) {
		c->flags |= CLASSIFY_USER_FUNC;
		return;
	}
	if (is_digit((unsigned char)f->p[0]))
		return;
	if (lookup(builtins, ARRAY_LEN(builtins), f->p, f->len) >= 0) {
		size_t lo = 0, hi = ARRAY_LEN(special_funcs);

		while (lo < hi) { /* GET_LOCK and the like */
			size_t mid = lo + (hi - lo) / 2;
			int cmp = word_cmp(f->p, f->len, special_funcs[mid].name);

			if (cmp == 0) {
				c->flags |= special_funcs[mid].flag;
				break;
			}
			if (cmp < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	} else if (lookup(paren_words, ARRAY_LEN(paren_words), f->p, f->len) < 0) {
		c->flags |= CLASSIFY_USER_FUNC;
	}
}

/* A user variable: written when assigned (SET @x =, INTO @x, and @x :=,
 * which the next token tells), else read. */
static void user_var(struct cls *c)
{
	if (c->into || c->set_target)
		c->flags |= CLASSIFY_USER_VAR_WRITE;
	else
		c->var_pending = true;
}

/* @@last_insert_id and @@identity are LAST_INSERT_ID(); @@warning_count and
 * @@error_count read the diagnostics area. */
static void sys_var(struct cls *c, const struct token *t)
{
	const char *p = t->p, *e = t->p + t->len;
	size_t n;

	if (!skip_prefix(&p, e, "SESSION.") && !skip_prefix(&p, e, "LOCAL."))
		skip_prefix(&p, e, "GLOBAL.");
	n = (size_t)(e - p);
	if (word_is(p, n, "LAST_INSERT_ID") || word_is(p, n, "IDENTITY"))
		c->flags |= CLASSIFY_LAST_INSERT_ID;
	else if (word_is(p, n, "WARNING_COUNT") || word_is(p, n, "ERROR_COUNT"))
		c->flags |= CLASSIFY_DIAGNOSTICS;
}

/* Follows the blocks of a compound statement so that its inner ';' do not
 * end it. IF, REPEAT and FOR open one only where a statement starts (else
 * they are a function, or FOR UPDATE); END IF, END LOOP ... close one. A
 * miscount only merges statements, all of them then going to the primary. */
static void block(struct cls *c, enum kw kw)
{
	enum kw p = c->prev.kw;
	bool start = c->prev.kind == TOK_SEMI || c->prev.kind == TOK_COLON || p == KW_BEGIN ||
		     p == KW_ATOMIC || p == KW_THEN || p == KW_ELSE || p == KW_DO || p == KW_LOOP ||
		     p == KW_REPEAT;

	switch (kw) {
	case KW_BEGIN:
		c->block++;
		break;
	case KW_CASE:
	case KW_LOOP:
	case KW_WHILE:
		if (p != KW_END)
			c->block++;
		break;
	case KW_IF:
	case KW_REPEAT:
	case KW_FOR:
		if (start && p != KW_END)
			c->block++;
		break;
	case KW_SET: /* SET @x = ... inside: its first target is written */
		c->arm_target = start;
		break;
	case KW_END:
		if (c->block > 0)
			c->block--;
		break;
	default:
		break;
	}
}

static void word(struct cls *c, const struct token *t)
{
	switch (t->kw) {
	case KW_FOR: /* NEXT VALUE FOR s, PREVIOUS VALUE FOR s */
		if (c->prev.kw == KW_VALUE &&
		    (c->prev2.kw == KW_NEXT || c->prev2.kw == KW_PREVIOUS))
			c->flags |= CLASSIFY_SEQUENCE;
		break;
	case KW_UPDATE:
		if (c->prev.kw == KW_FOR)
			c->flags |= CLASSIFY_LOCKING_READ;
		break;
	case KW_SHARE: /* FOR SHARE, LOCK IN SHARE MODE */
		if (c->prev.kw == KW_FOR || (c->prev.kw == KW_IN && c->prev2.kw == KW_LOCK))
			c->flags |= CLASSIFY_LOCKING_READ;
		break;
	case KW_SQL_CALC_FOUND_ROWS:
		c->flags |= CLASSIFY_CALC_FOUND_ROWS;
		break;
	case KW_INTO:
		c->flags |= CLASSIFY_INTO;
		c->into = true;
		break;
	case KW_WITH:
		c->cte_expect = true;
		break;
	case KW_NEXTVAL: /* s.nextval, s.currval (sql_mode=ORACLE) */
	case KW_CURRVAL:
		if (c->prev.kind == TOK_DOT)
			c->flags |= CLASSIFY_SEQUENCE;
		break;
	default:
		break;
	}
	if (c->compound)
		block(c, t->kw);
}

/*
 * The scanner: sees every token of the statement once, in order, and keeps
 * the paren depth, the CTE lists and the two tokens before for the flags.
 */
static void feed(struct cls *c, const struct token *t)
{
	struct seen s = {t->kind, t->kw, t->p, t->len, false};
	bool list_here = c->depth < CTE_DEPTHS && (c->cte_lists >> c->depth & 1);

	if (c->var_pending) {
		c->flags |=
			t->kind == TOK_ASSIGN ? CLASSIFY_USER_VAR_WRITE : CLASSIFY_USER_VAR_READ;
		c->var_pending = false;
	}
	switch (t->kind) {
	case TOK_LPAREN:
		call(c);
		c->depth++;
		break;
	case TOK_RPAREN:
		if (c->depth > 0)
			c->depth--;
		if (c->depth < CTE_DEPTHS - 1)
			c->cte_lists &= (2ull << c->depth) - 1;
		break;
	case TOK_COMMA:
		if (list_here)
			c->cte_expect = true;
		break;
	case TOK_WORD:
	case TOK_QIDENT:
		/* WITH [RECURSIVE] name [(columns)] AS (...) [, name ...] */
		if (c->cte_expect && t->kw != KW_RECURSIVE) {
			s.cte = true;
			c->cte_expect = false;
			if (c->depth < CTE_DEPTHS)
				c->cte_lists |= 1ull << c->depth;
			break;
		}
		if (list_here && t->kw != KW_AS && t->kw != KW_RECURSIVE)
			c->cte_lists &= ~(1ull << c->depth);
		if (t->kind == TOK_WORD)
			word(c, t);
		break;
	case TOK_USER_VAR:
		user_var(c);
		break;
	case TOK_SYS_VAR:
		sys_var(c, t);
		break;
	default:
		break;
	}
	if (t->kind != TOK_WORD && t->kind != TOK_QIDENT && t->kind != TOK_COMMA)
		c->cte_expect = false;
	if (t->kind != TOK_USER_VAR && t->kind != TOK_COMMA && t->kw != KW_INTO)
		c->into = false;
	c->set_target = c->arm_target;
	c->arm_target = false;
	c->prev2 = c->prev;
	c->prev = s;
}

/* The statement's next token, fed to the scanner; TOK_EOS at its end (the
 * end of input, or a ';' outside blocks), and from then on. */
static struct token next(struct cls *c)
{
	struct token t = {.kind = TOK_EOS};

	if (c->ended)
		return t;
	t = lex(&c->lx);
	if (t.kind == TOK_END || (t.kind == TOK_SEMI && c->block == 0)) {
		c->ended = true;
		c->by_semi = t.kind == TOK_SEMI;
		/* The server starts the next statement afresh: an executable
		 * comment cannot run across the ';'. */
		if (c->by_semi && c->lx.in_exec) {
			c->lx.odd = true;
			c->lx.in_exec = false;
		}
		t.kind = TOK_EOS;
		return t;
	}
	c->tokens++;
	feed(c, &t);
	return t;
}

/* The token next() would return, without taking it. */
static struct token peek(const struct cls *c)
{
	struct lexer ahead = c->lx;
	struct token t = {.kind = TOK_EOS};

	if (c->ended)
		return t;
	t = lex(&ahead);
	if (t.kind == TOK_END || (t.kind == TOK_SEMI && c->block == 0))
		t.kind = TOK_EOS;
	return t;
}

static bool peek_kw(const struct cls *c, enum kw kw)
{
	struct token t = peek(c);

	return is_kw(&t, kw);
}

/* Takes the next token: whether it is the keyword kw. */
static bool take(struct cls *c, enum kw kw)
{
	struct token t = next(c);

	return is_kw(&t, kw);
}

/* Reads up to the ',' that ends a list item (outside parentheses) or the
 * end of the statement. Returns the item's token count; *first is its first. */
static unsigned skip_item(struct cls *c, struct token *first)
{
	unsigned n = 0;

	for (;;) {
		struct token t = next(c);

		if (t.kind == TOK_EOS || (t.kind == TOK_COMMA && c->depth == 0))
			return n;
		if (n++ == 0 && first)
			*first = t;
	}
}

/* Reads to the ')' that closes the '(' just taken. */
static void skip_group(struct cls *c)
{
	unsigned outer = c->depth - 1;

	for (;;) {
		struct token t = next(c);

		if (t.kind == TOK_EOS || (t.kind == TOK_RPAREN && c->depth == outer))
			return;
	}
}

/* ---- the first keywords of each statement ---- */

/* WITH [RECURSIVE] name [(columns)] AS (body) [, ...] then the statement. */
static enum classify_kind with(struct cls *c)
{
	bool after_body = false;
	struct token t = next(c);

	if (is_kw(&t, KW_RECURSIVE))
		t = next(c);
	for (;; t = next(c)) {
		switch (t.kind) {
		case TOK_COMMA:
			after_body = false;
			continue;
		case TOK_LPAREN:
			if (after_body) { /* WITH ... (SELECT ...) */
				c->select = true;
				return CLASSIFY_READ;
			}
			skip_group(c); /* the column list */
			continue;
		case TOK_QIDENT:
			if (after_body)
				return CLASSIFY_UNKNOWN;
			continue;
		case TOK_WORD:
			break;
		default:
			return CLASSIFY_UNKNOWN;
		}
		if (after_body) {
			switch (t.kw) {
			case KW_SELECT:
			case KW_VALUES:
			case KW_TABLE:
				c->select = true;
				return CLASSIFY_READ;
			case KW_UPDATE:
			case KW_DELETE:
			case KW_INSERT:
			case KW_REPLACE:
				return CLASSIFY_WRITE;
			default:
				return CLASSIFY_UNKNOWN;
			}
		}
		if (t.kw == KW_AS) {
			if (next(c).kind != TOK_LPAREN)
				return CLASSIFY_UNKNOWN;
			skip_group(c);
			after_body = true;
		}
	}
}

/* After a '(' that opens a statement: ( SELECT ...), ((SELECT ...)), (WITH ...). */
static enum classify_kind paren(struct cls *c)
{
	for (;;) {
		struct token t = next(c);

		if (t.kind == TOK_LPAREN)
			continue;
		if (is_kw(&t, KW_SELECT) || is_kw(&t, KW_VALUES) || is_kw(&t, KW_TABLE)) {
			c->select = true;
			return CLASSIFY_READ;
		}
		return is_kw(&t, KW_WITH) ? with(c) : CLASSIFY_UNKNOWN;
	}
}

/* USE db: the name, unquoted, when it is all the statement holds. */
static enum classify_kind use(struct cls *c)
{
	struct token t = next(c);
	size_t n = 0;

	if (t.kind == TOK_WORD) {
		bool number = true;

		for (size_t i = 0; i < t.len; i++)
			number = number && is_digit((unsigned char)t.p[i]);
		if (number || t.len > CLASSIFY_DB_MAX)
			return CLASSIFY_UNKNOWN;
		memcpy(c->db, t.p, t.len);
		n = t.len;
	} else if (t.kind == TOK_QIDENT) {
		for (size_t i = 0; i < t.len; i++) {
			if (n == CLASSIFY_DB_MAX || t.p[i] == '\0')
				return CLASSIFY_UNKNOWN;
			c->db[n++] = t.p[i];
			if (t.p[i] == '`') /* `` */
				i++;
		}
	} else {
		return CLASSIFY_UNKNOWN;
	}
	if (n == 0 || peek(c).kind != TOK_EOS)
		return CLASSIFY_UNKNOWN;
	c->db[n] = '\0';
	c->has_db = true;
	return CLASSIFY_SESSION;
}

/* The value of an autocommit assignment, 0 or 1, or -1 if it is not a
 * constant (an expression, DEFAULT, a variable). */
static int autocommit_value(const struct token *t, unsigned count)
{
	static const char *const on[] = {"1", "ON", "TRUE"}, *const off[] = {"0", "OFF", "FALSE"};

	if (count != 1 || (t->kind != TOK_WORD && t->kind != TOK_STRING))
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(on); i++) {
		if (word_is(t->p, t->len, on[i]))
			return 1;
		if (word_is(t->p, t->len, off[i]))
			return 0;
	}
	return -1;
}

/* @@global.x is global; @@session.x, @@local.x and @@x are the session's. */
static bool sys_var_global(const struct token *t, const char **name, size_t *len)
{
	const char *p = t->p, *e = t->p + t->len;
	bool global = skip_prefix(&p, e, "GLOBAL.");

	if (!global && !skip_prefix(&p, e, "SESSION."))
		skip_prefix(&p, e, "LOCAL.");
	*name = p;
	*len = (size_t)(e - p);
	return global;
}

/*
 * SET after its keyword (SET STATEMENT is read by head()). A list of
 * [GLOBAL | SESSION | LOCAL] target = value, NAMES ..., CHARACTER SET ...,
 * TRANSACTION ...; a scope keyword holds for the items after it. Any global
 * makes a WRITE; else SESSION with the last autocommit value, if constant.
 */
static enum classify_kind set(struct cls *c)
{
	bool global_scope = false, scoped = false, global = false;
	int autocommit = -1;
	bool autocommit_set = false;

	if (peek_kw(c, KW_PASSWORD))
		return CLASSIFY_WRITE;
	if (peek_kw(c, KW_ROLE))
		return CLASSIFY_SESSION;
	if (peek_kw(c, KW_DEFAULT)) {
		next(c);
		return peek_kw(c, KW_ROLE) ? CLASSIFY_WRITE : CLASSIFY_UNKNOWN;
	}
	while (!c->ended) {
		bool item_global = global_scope;
		const char *name = NULL;
		size_t name_len = 0;
		struct token t, value = {.kind = TOK_EOS};
		unsigned count;

		c->set_target = true;
		t = next(c);
		if (is_kw(&t, KW_GLOBAL) || is_kw(&t, KW_SESSION) || is_kw(&t, KW_LOCAL)) {
			global_scope = item_global = t.kw == KW_GLOBAL;
			scoped = true;
			c->set_target = true;
			t = next(c);
		}
		if (is_kw(&t, KW_NAMES) || is_kw(&t, KW_CHARSET) || is_kw(&t, KW_CHARACTER)) {
			skip_item(c, NULL);
			continue;
		}
		if (is_kw(&t, KW_TRANSACTION)) {
			if (item_global)
				global = true;
			else if (!scoped)
				c->flags |= CLASSIFY_SET_TRANSACTION;
			skip_item(c, NULL);
			continue;
		}
		switch (t.kind) {
		case TOK_USER_VAR: /* the scanner saw the write */
			break;
		case TOK_SYS_VAR:
			item_global = sys_var_global(&t, &name, &name_len);
			break;
		case TOK_WORD:
		case TOK_QIDENT:
			name = t.p;
			name_len = t.len;
			if (peek(c).kind == TOK_DOT) { /* a structured variable: cache.var */
				next(c);
				t = next(c);
				if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
					return CLASSIFY_UNKNOWN;
				name = NULL;
			}
			break;
		default:
			return CLASSIFY_UNKNOWN;
		}
		t = next(c);
		if (t.kind != TOK_EQ && t.kind != TOK_ASSIGN)
			return CLASSIFY_UNKNOWN;
		count = skip_item(c, &value);
		if (item_global) {
			global = true;
		} else if (name && word_is(name, name_len, "AUTOCOMMIT")) {
			autocommit = autocommit_value(&value, count);
			autocommit_set = true;
		}
	}
	if (autocommit_set && autocommit >= 0)
		c->flags |= autocommit ? CLASSIFY_AUTOCOMMIT_ON : CLASSIFY_AUTOCOMMIT_OFF;
	if (global) {
		c->flags |= CLASSIFY_GLOBAL_SET;
		return CLASSIFY_WRITE;
	}
	return CLASSIFY_SESSION;
}

/* START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT] [, ...] */
static enum classify_kind start_transaction(struct cls *c)
{
	bool read_only = false, read_write = false;
	struct token t = next(c);

	while (t.kind != TOK_EOS) {
		if (is_kw(&t, KW_READ)) {
			t = next(c);
			if (is_kw(&t, KW_ONLY))
				read_only = true;
			else if (is_kw(&t, KW_WRITE))
				read_write = true;
			else
				return CLASSIFY_UNKNOWN;
		} else if (is_kw(&t, KW_WITH)) {
			if (!take(c, KW_CONSISTENT) || !take(c, KW_SNAPSHOT))
				return CLASSIFY_UNKNOWN;
		} else {
			return CLASSIFY_UNKNOWN;
		}
		t = next(c);
		if (t.kind == TOK_COMMA)
			t = next(c);
		else if (t.kind != TOK_EOS)
			return CLASSIFY_UNKNOWN;
	}
	if (read_only && read_write)
		return CLASSIFY_UNKNOWN;
	return read_only ? CLASSIFY_BEGIN_READ_ONLY : CLASSIFY_BEGIN;
}

/* COMMIT or ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]; ROLLBACK [WORK]
 * TO [SAVEPOINT] s is a WRITE. */
static enum classify_kind transaction_end(struct cls *c, enum classify_kind kind)
{
	struct token t = next(c);

	if (is_kw(&t, KW_WORK))
		t = next(c);
	if (kind == CLASSIFY_ROLLBACK && is_kw(&t, KW_TO)) {
		c->rows = true; /* ROLLBACK TO SAVEPOINT */
		return CLASSIFY_WRITE;
	}
	if (is_kw(&t, KW_AND)) {
		t = next(c);
		if (is_kw(&t, KW_NO))
			t = next(c);
		if (!is_kw(&t, KW_CHAIN))
			return CLASSIFY_UNKNOWN;
		t = next(c);
	}
	if (is_kw(&t, KW_NO)) {
		t = next(c);
		if (!is_kw(&t, KW_RELEASE))
			return CLASSIFY_UNKNOWN;
		t = next(c);
	} else if (is_kw(&t, KW_RELEASE)) {
		t = next(c);
	}
	return t.kind == TOK_EOS ? kind : CLASSIFY_UNKNOWN;
}

/* DEFINER = user after its keyword, if the '=' follows (not SQL SECURITY
 * DEFINER): 'u'@'h', u@h, CURRENT_USER[()], CURRENT_ROLE. */
static void definer(struct cls *c)
{
	struct token t;

	if (peek(c).kind != TOK_EQ)
		return;
	next(c);
	t = next(c);
	if (is_kw(&t, KW_CURRENT_USER) && peek(c).kind == TOK_LPAREN) {
		next(c);
		next(c);
	} else if (peek(c).kind == TOK_HOST) {
		next(c);
	}
}

/*
 * CREATE or ALTER after its keyword: the modifiers up to the object. A
 * TEMPORARY table (or sequence) is session state; a procedure, function,
 * trigger, event or package holds a body whose ';' do not end it, and which
 * does not run now (no expression flags).
 */
static enum classify_kind create(struct cls *c, bool alter)
{
	bool temporary = false;

	for (unsigned i = 0; i < 32; i++) {
		struct token t = next(c);

		if (t.kind == TOK_EOS)
			break;
		if (t.kind != TOK_WORD) /* the '=' of ALGORITHM = ... */
			continue;
		if (t.kw == KW_TEMPORARY) {
			temporary = true;
			continue;
		}
		if (t.kw == KW_DEFINER) {
			definer(c);
			continue;
		}
		if (t.kw == KW_OR || t.kw == KW_REPLACE || t.kw == KW_AGGREGATE ||
		    t.kw == KW_ALGORITHM || t.kw == KW_MERGE || t.kw == KW_TEMPTABLE ||
		    t.kw == KW_UNDEFINED || t.kw == KW_SQL || t.kw == KW_SECURITY ||
		    t.kw == KW_INVOKER)
			continue;
		if (t.kw == KW_PROCEDURE || t.kw == KW_FUNCTION || t.kw == KW_TRIGGER ||
		    t.kw == KW_EVENT || t.kw == KW_PACKAGE) {
			c->compound = true;
			c->quiet = true;
		}
		break;
	}
	if (temporary && !alter)
		c->flags |= CLASSIFY_TEMP_CREATE;
	return CLASSIFY_WRITE;
}

/* FLUSH ...: a WITH READ LOCK or FOR EXPORT leaves tables locked. */
static enum classify_kind flush(struct cls *c)
{
	enum kw p1 = KW_NONE, p2 = KW_NONE;

	for (;;) {
		struct token t = next(c);

		if (t.kind == TOK_EOS)
			return CLASSIFY_WRITE;
		if ((is_kw(&t, KW_LOCK) && p1 == KW_READ && p2 == KW_WITH) ||
		    (is_kw(&t, KW_EXPORT) && p1 == KW_FOR))
			c->flags |= CLASSIFY_LOCK_TABLES;
		p2 = p1;
		p1 = t.kind == TOK_WORD ? t.kw : KW_NONE;
	}
}

/* GET [CURRENT | STACKED] DIAGNOSTICS [CONDITION n] target = item [, ...] */
static enum classify_kind get(struct cls *c)
{
	struct token t = next(c);

	if (is_kw(&t, KW_CURRENT) || is_kw(&t, KW_STACKED))
		t = next(c);
	if (!is_kw(&t, KW_DIAGNOSTICS))
		return CLASSIFY_UNKNOWN;
	c->flags |= CLASSIFY_DIAGNOSTICS;
	if (peek_kw(c, KW_CONDITION)) {
		next(c);
		next(c);
	}
	while (!c->ended) {
		c->set_target = true;
		skip_item(c, NULL);
	}
	return CLASSIFY_READ;
}

/* A statement that its first token t (taken) decides, with what follows. */
static enum classify_kind verb(struct cls *c, const struct token *t)
{
	struct token n;

	if (t->kind == TOK_LPAREN)
		return paren(c);
	if (t->kind != TOK_WORD)
		return CLASSIFY_UNKNOWN;
	switch (t->kw) {
	case KW_SELECT:
	case KW_VALUES:
	case KW_TABLE:
		c->select = true;
		return CLASSIFY_READ;
	case KW_SHOW:
		n = peek(c);
		if (is_kw(&n, KW_WARNINGS) || is_kw(&n, KW_ERRORS) || is_kw(&n, KW_COUNT))
			c->flags |= CLASSIFY_DIAGNOSTICS;
		return CLASSIFY_READ;
	case KW_DESC:
	case KW_DESCRIBE:
	case KW_EXPLAIN:
		c->quiet = true;
		return CLASSIFY_READ;
	case KW_HELP:
	case KW_CHECKSUM:
		return CLASSIFY_READ;
	case KW_DO:
		c->is_do = true;
		return CLASSIFY_READ;
	case KW_WITH:
		return with(c);
	case KW_SET:
		return set(c);
	case KW_USE:
		return use(c);
	case KW_GET:
		return get(c);
	case KW_BEGIN:
		n = peek(c);
		if (n.kind == TOK_EOS)
			return CLASSIFY_BEGIN;
		next(c);
		if (is_kw(&n, KW_WORK))
			return peek(c).kind == TOK_EOS ? CLASSIFY_BEGIN : CLASSIFY_UNKNOWN;
		if (!is_kw(&n, KW_NOT) || !take(c, KW_ATOMIC))
			return CLASSIFY_UNKNOWN;
		c->compound = true; /* BEGIN NOT ATOMIC ... END */
		c->block = 1;
		return CLASSIFY_WRITE;
	case KW_IF: /* the other compound statements */
	case KW_CASE:
	case KW_LOOP:
	case KW_WHILE:
	case KW_REPEAT:
	case KW_FOR:
		c->compound = true;
		c->block = 1;
		return CLASSIFY_WRITE;
	case KW_START:
		n = next(c);
		if (is_kw(&n, KW_TRANSACTION))
			return start_transaction(c);
		if (is_kw(&n, KW_SLAVE) || is_kw(&n, KW_REPLICA) || is_kw(&n, KW_ALL))
			return CLASSIFY_WRITE;
		return CLASSIFY_UNKNOWN;
	case KW_COMMIT:
		return transaction_end(c, CLASSIFY_COMMIT);
	case KW_ROLLBACK:
		return transaction_end(c, CLASSIFY_ROLLBACK);
	case KW_CREATE:
		return create(c, false);
	case KW_ALTER:
		return create(c, true);
	case KW_DROP:
		n = next(c);
		if (is_kw(&n, KW_TEMPORARY))
			n = next(c);
		if (is_kw(&n, KW_TABLE) || is_kw(&n, KW_TABLES) || is_word_tok(&n, "SEQUENCE"))
			/* A temporary table of the name goes first, TEMPORARY or not. */
			c->flags |= CLASSIFY_TEMP_DROP;
		else if (is_kw(&n, KW_PREPARE))
			c->flags |= CLASSIFY_SQL_PREPARE;
		return CLASSIFY_WRITE;
	case KW_LOCK:
	case KW_UNLOCK:
		n = next(c);
		if (!is_kw(&n, KW_TABLE) && !is_kw(&n, KW_TABLES))
			return CLASSIFY_UNKNOWN;
		c->flags |= t->kw == KW_LOCK ? CLASSIFY_LOCK_TABLES : CLASSIFY_UNLOCK_TABLES;
		return CLASSIFY_WRITE;
	case KW_FLUSH:
		return flush(c);
	case KW_BACKUP: /* BACKUP LOCK holds until BACKUP UNLOCK */
		n = next(c);
		if (is_kw(&n, KW_LOCK))
			c->flags |= CLASSIFY_LOCK_TABLES;
		else if (is_kw(&n, KW_UNLOCK))
			c->flags |= CLASSIFY_UNLOCK_TABLES;
		return CLASSIFY_WRITE;
	case KW_PREPARE:
		c->flags |= CLASSIFY_SQL_PREPARE;
		return CLASSIFY_WRITE;
	case KW_EXECUTE: /* EXECUTE IMMEDIATE leaves no prepared statement */
		if (!peek_kw(c, KW_IMMEDIATE))
			c->flags |= CLASSIFY_SQL_PREPARE;
		return CLASSIFY_WRITE;
	case KW_DEALLOCATE:
		if (!take(c, KW_PREPARE))
			return CLASSIFY_UNKNOWN;
		c->flags |= CLASSIFY_SQL_PREPARE;
		return CLASSIFY_WRITE;
	case KW_XA:
		n = next(c);
		if (n.kind != TOK_WORD)
			return CLASSIFY_UNKNOWN;
		switch (n.kw) {
		case KW_START:
		case KW_BEGIN:
		case KW_END:
		case KW_PREPARE:
		case KW_COMMIT:
		case KW_ROLLBACK:
		case KW_RECOVER:
			c->flags |= CLASSIFY_XA;
			return CLASSIFY_WRITE;
		default:
			return CLASSIFY_UNKNOWN;
		}
	case KW_RELEASE:
		c->rows = true;
		return take(c, KW_SAVEPOINT) ? CLASSIFY_WRITE : CLASSIFY_UNKNOWN;
	case KW_CHANGE:
		n = next(c);
		if (is_kw(&n, KW_MASTER) || is_kw(&n, KW_REPLICATION))
			return CLASSIFY_WRITE;
		return CLASSIFY_UNKNOWN;
	case KW_STOP:
		n = next(c);
		if (is_kw(&n, KW_SLAVE) || is_kw(&n, KW_REPLICA) || is_kw(&n, KW_ALL))
			return CLASSIFY_WRITE;
		return CLASSIFY_UNKNOWN;
	case KW_CALL:
		c->flags |= CLASSIFY_CALL;
		return CLASSIFY_WRITE;
	case KW_HANDLER: /* HANDLER tbl OPEN [AS alias] | READ ... | CLOSE */
		c->rows = true;
		next(c); /* the table, or its database */
		if (peek(c).kind == TOK_DOT) {
			next(c);
			next(c);
		}
		n = next(c);
		if (is_word_tok(&n, "OPEN"))
			c->flags |= CLASSIFY_HANDLER_OPEN;
		else if (is_word_tok(&n, "CLOSE"))
			c->flags |= CLASSIFY_HANDLER_CLOSE;
		return CLASSIFY_WRITE;
	case KW_INSERT:
	case KW_UPDATE:
	case KW_DELETE:
	case KW_REPLACE:
	case KW_SAVEPOINT:
		c->rows = true;
		return CLASSIFY_WRITE;
	case KW_LOAD: /* DATA or XML; LOAD INDEX INTO CACHE commits */
		n = peek(c);
		c->rows = is_word_tok(&n, "DATA") || is_word_tok(&n, "XML");
		return CLASSIFY_WRITE;
	case KW_RENAME:
	case KW_TRUNCATE:
	case KW_GRANT:
	case KW_REVOKE:
	case KW_OPTIMIZE:
	case KW_REPAIR:
	case KW_CHECK:
	case KW_CACHE:
	case KW_KILL:
	case KW_INSTALL:
	case KW_UNINSTALL:
	case KW_BINLOG:
	case KW_PURGE:
	case KW_RESET:
	case KW_SHUTDOWN:
		return CLASSIFY_WRITE;
	default:
		/* label: BEGIN NOT ATOMIC / LOOP / ... */
		if (peek(c).kind == TOK_COLON) {
			c->compound = true;
			return CLASSIFY_WRITE;
		}
		return CLASSIFY_UNKNOWN;
	}
}

/*
 * The kind of the statement from its first keywords. SET STATEMENT ... FOR
 * and ANALYZE are prefixes: the statement after them decides (ANALYZE runs
 * it: anything but a READ is a WRITE; ANALYZE TABLE is one).
 */
static enum classify_kind head(struct cls *c)
{
	bool analyze = false;
	enum classify_kind kind;

	for (;;) {
		struct token t = next(c);

		if (is_kw(&t, KW_SET) && peek_kw(c, KW_STATEMENT)) {
			do
				t = next(c);
			while (t.kind != TOK_EOS && !(is_kw(&t, KW_FOR) && c->depth == 0));
			if (t.kind == TOK_EOS)
				return CLASSIFY_UNKNOWN;
			/* What follows is a statement of its own: FOR UPDATE t ... */
			memset(&c->prev, 0, sizeof(c->prev));
			memset(&c->prev2, 0, sizeof(c->prev2));
			continue;
		}
		if (is_kw(&t, KW_ANALYZE)) {
			struct token n = peek(c);

			if (is_kw(&n, KW_TABLE) || is_kw(&n, KW_LOCAL) ||
			    is_kw(&n, KW_NO_WRITE_TO_BINLOG))
				return CLASSIFY_WRITE;
			if (is_kw(&n, KW_FORMAT)) { /* FORMAT = JSON */
				next(c);
				next(c);
				next(c);
			}
			analyze = true;
			continue;
		}
		kind = verb(c, &t);
		break;
	}
	if (analyze && kind != CLASSIFY_READ && kind != CLASSIFY_UNKNOWN)
		kind = CLASSIFY_WRITE;
	return kind;
}

static void stmt_begin(struct cls *c)
{
	struct lexer lx = c->lx;

	memset(c, 0, sizeof(*c));
	c->lx = lx;
	c->lx.odd = false;
}

/* The statement's kind and flags once all of it was read. */
static enum classify_kind stmt_end(struct cls *c, enum classify_kind kind)
{
	if (c->var_pending)
		c->flags |= CLASSIFY_USER_VAR_READ;
	if (c->lx.odd)
		kind = CLASSIFY_UNKNOWN;
	if (c->is_do && (c->flags & CLASSIFY_USER_FUNC))
		kind = CLASSIFY_UNKNOWN;
	if (c->quiet)
		c->flags &= ~EXPR_FLAGS;
	if (!c->select)
		c->flags &= ~CLASSIFY_INTO;
	if (kind == CLASSIFY_WRITE)
		c->flags &= ~CLASSIFY_USER_FUNC;
	return kind;
}

/* Whether one statement of this kind, read into c, may commit (see
 * classify_result.may_commit). */
static bool may_commit(const struct cls *c, enum classify_kind kind)
{
	switch (kind) {
	case CLASSIFY_READ:
	case CLASSIFY_ROLLBACK:
		return false;
	case CLASSIFY_SESSION:
		return (c->flags & CLASSIFY_AUTOCOMMIT_ON) != 0;
	case CLASSIFY_WRITE:
		return !c->rows || c->compound;
	case CLASSIFY_BEGIN:
	case CLASSIFY_BEGIN_READ_ONLY:
	case CLASSIFY_COMMIT:
	case CLASSIFY_UNKNOWN:
		break;
	}
	return true;
}

/* Adds statement number n (from 0) to the result. */
static void combine(struct classify_result *out, const struct cls *c, enum classify_kind kind,
		    unsigned n)
{
	out->may_commit |= may_commit(c, kind);
	if (n == 0)
		out->kind = kind;
	else if (out->kind != kind || (kind != CLASSIFY_READ && kind != CLASSIFY_SESSION))
		out->kind = CLASSIFY_UNKNOWN;
	/* The last autocommit change wins. */
	if (c->flags & (CLASSIFY_AUTOCOMMIT_ON | CLASSIFY_AUTOCOMMIT_OFF))
		out->flags &= ~(CLASSIFY_AUTOCOMMIT_ON | CLASSIFY_AUTOCOMMIT_OFF);
	out->flags |= c->flags;
	if (c->has_db)
		memcpy(out->db, c->db, sizeof(out->db));
}

void classify(const char *sql, size_t len, bool truncated, bool no_backslash_escapes,
	      struct classify_result *out)
{
	struct cls c;
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (!sql) {
		sql = "";
		len = 0;
	}
	c.lx.p = sql;
	c.lx.end = sql + len;
	c.lx.no_backslash_escapes = no_backslash_escapes;
	c.lx.truncated = truncated;
	c.lx.last = TOK_END;
	for (;;) {
		enum classify_kind kind;

		stmt_begin(&c);
		kind = head(&c);
		while (next(&c).kind != TOK_EOS)
			;
		/* Only spaces and comments after the last ';' (or at all). */
		if (c.tokens == 0 && !c.by_semi && !c.lx.odd)
			break;
		combine(out, &c, stmt_end(&c, kind), n++);
		if (!c.by_semi)
			break;
	}
	if (n == 0)
		out->kind = CLASSIFY_UNKNOWN;
	if (n > 1)
		out->flags |= CLASSIFY_MULTI;
	if (out->kind != CLASSIFY_SESSION)
		out->db[0] = '\0';
	out->flags |= c.lx.hints;
	if (truncated)
		out->flags |= CLASSIFY_TRUNCATED;
}

/* ---- temporary tables ---- */

/* Hash the name token t into h: quoted names without their quotes, a
 * doubled quote taken once. */
static uint64_t key_add(uint64_t h, const struct token *t)
{
	char q = t->kind == TOK_QIDENT ? '`' : t->kind == TOK_STRING ? t->p[-1] : 0;

	for (size_t i = 0; i < t->len; i++) {
		h = fnv1a(h, (uint8_t)t->p[i]);
		if (q && t->p[i] == q && i + 1 < t->len && t->p[i + 1] == q)
			i++;
	}
	return h;
}

static bool is_name(const struct token *t)
{
	/* "name" is a string unless ANSI_QUOTES; either way the server
	 * accepted it as a name if the statement succeeded. */
	return t->kind == TOK_WORD || t->kind == TOK_QIDENT || t->kind == TOK_STRING;
}

size_t classify_table_keys(const char *sql, size_t len, bool no_backslash_escapes, const char *db,
			   uint64_t *keys, size_t max)
{
	struct lexer lx = {
		.p = sql ? sql : "", .no_backslash_escapes = no_backslash_escapes, .last = TOK_END};
	struct token t;
	bool create;
	size_t n = 0;

	lx.end = lx.p + (sql ? len : 0);
	t = lex(&lx);
	create = is_kw(&t, KW_CREATE);
	if (!create && !is_kw(&t, KW_DROP))
		return 0;
	t = lex(&lx);
	if (create && is_kw(&t, KW_OR)) {
		t = lex(&lx);
		if (!is_kw(&t, KW_REPLACE))
			return 0;
		t = lex(&lx);
	}
	if (is_kw(&t, KW_TEMPORARY))
		t = lex(&lx);
	else if (create)
		return 0;
	if (!is_kw(&t, KW_TABLE) && !(!create && is_kw(&t, KW_TABLES)) &&
	    !is_word_tok(&t, "SEQUENCE"))
		return 0;
	t = lex(&lx);
	if (is_kw(&t, KW_IF)) {
		t = lex(&lx);
		if (create && !is_kw(&t, KW_NOT))
			return 0;
		if (create)
			t = lex(&lx);
		if (!is_word_tok(&t, "EXISTS"))
			return 0;
		t = lex(&lx);
	}
	for (;;) {
		struct token first = t;
		uint64_t h = FNV1A_START;

		if (!is_name(&first))
			return 0;
		t = lex(&lx);
		if (t.kind == TOK_DOT) {
			struct token name = lex(&lx);
			if (!is_name(&name))
				return 0;
			h = key_add(h, &first);
			h = fnv1a(h, '.');
			h = key_add(h, &name);
			t = lex(&lx);
		} else {
			struct token d = {
				.kind = TOK_WORD, .p = db ? db : "", .len = db ? strlen(db) : 0};
			h = key_add(h, &d);
			h = fnv1a(h, '.');
			h = key_add(h, &first);
		}
		if (n < max)
			keys[n] = h;
		n++;
		if (create || t.kind != TOK_COMMA)
			break;
		t = lex(&lx);
	}
	return n;
}

bool classify_kill(const char *sql, size_t len, bool *query_only, uint64_t *id)
{
	struct lexer lx = {.p = sql, .end = sql + len, .last = TOK_END};
	const char *first = skip_spaces(sql, sql + len);
	uint64_t v = 0;

	/* Nearly every statement is told apart by its first character: not a
	 * K, and no comment in front. */
	if (first < lx.end && upper((unsigned char)*first) != 'K' && *first != '/' &&
	    *first != '#' && *first != '-')
		return false;
	struct token t = lex(&lx);

	if (!is_word_tok(&t, "KILL"))
		return false;
	t = lex(&lx);
	if (is_word_tok(&t, "HARD") || is_word_tok(&t, "SOFT"))
		t = lex(&lx);
	*query_only = is_word_tok(&t, "QUERY");
	if (*query_only || is_word_tok(&t, "CONNECTION"))
		t = lex(&lx);
	/* Any number of leading zeros, as the server's lexer skips them; past
	 * UINT64_MAX it is not a connection id. */
	if (t.kind != TOK_WORD || t.len == 0)
		return false;
	for (size_t i = 0; i < t.len; i++) {
		unsigned d = (unsigned char)t.p[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	do
		t = lex(&lx);
	while (t.kind == TOK_SEMI);
	if (t.kind != TOK_END || lx.odd || lx.in_exec)
		return false;
	*id = v;
	return true;
}

const char *classify_kind_str(enum classify_kind kind)
{
	switch (kind) {
	case CLASSIFY_READ:
		return "read";
	case CLASSIFY_WRITE:
		return "write";
	case CLASSIFY_BEGIN:
		return "begin";
	case CLASSIFY_BEGIN_READ_ONLY:
		return "begin_read_only";
	case CLASSIFY_COMMIT:
		return "commit";
	case CLASSIFY_ROLLBACK:
		return "rollback";
	case CLASSIFY_SESSION:
		return "session";
	case CLASSIFY_UNKNOWN:
		return "unknown";
	}
	return "?";
}

const char *classify_flag_str(unsigned flag)
{
	static const char *const names[] = {
		"locking_read",	     "into",
		"lock_func",	     "sequence",
		"last_insert_id",    "found_rows",
		"calc_found_rows",   "user_var_read",
		"user_var_write",    "temp_create",
		"temp_drop",	     "lock_tables",
		"unlock_tables",     "autocommit_off",
		"autocommit_on",     "set_transaction",
		"sql_prepare",	     "xa",
		"user_func",	     "multi",
		"hint_primary",	     "hint_reader",
		"truncated",	     "global_set",
		"diagnostics",	     "release_lock",
		"release_all_locks", "call",
		"handler_open",	     "handler_close",
	};

	for (unsigned i = 0; i < ARRAY_LEN(names); i++)
		if (flag == 1u << i)
			return names[i];
	return "?";
}
