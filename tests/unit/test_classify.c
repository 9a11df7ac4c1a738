/*
 * Unit tests for src/classify.c: a table of statements with the exact kind,
 * flags and database each must give (lexing, every statement type, the
 * flags, hints, several statements, odd and truncated texts), then every
 * prefix and random mutations of each (heap copies of exactly their length,
 * so that the ASan build catches any read past the end), and 1 MB texts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routing/classify.h"
#include "check.h"

#define K(kind) CLASSIFY_##kind
#define F(flag) CLASSIFY_##flag

#define NBE   1u /* the session has NO_BACKSLASH_ESCAPES */
#define TRUNC 2u /* the text is a prefix of the statement */

struct row {
	const char *sql;
	enum classify_kind kind;
	unsigned flags; /* exact */
	const char *db; /* NULL: "" */
	unsigned opts;	/* NBE, TRUNC */
	size_t len;	/* 0: strlen(sql); set for texts holding a NUL */
};

#define C(sql, kind, flags)                                                                        \
	{                                                                                          \
		sql, kind, flags, NULL, 0, 0                                                       \
	}
#define CO(sql, kind, flags, opts)                                                                 \
	{                                                                                          \
		sql, kind, flags, NULL, opts, 0                                                    \
	}
#define CDB(sql, db, flags)                                                                        \
	{                                                                                          \
		sql, CLASSIFY_SESSION, flags, db, 0, 0                                             \
	}
#define CLEN(sql, kind, flags)                                                                     \
	{                                                                                          \
		sql, kind, flags, NULL, 0, sizeof(sql) - 1                                         \
	}

static const struct row rows[] = {
	/* Reads. */
	C("SELECT 1", K(READ), 0),
	C("select * from t where a = 1", K(READ), 0),
	C("  \t\n\r\f\vSELECT 1  ", K(READ), 0),
	C("SELECT * FROM t WHERE a IN (1, 2, 3) ORDER BY b DESC LIMIT 10", K(READ), 0),
	C("SELECT a FROM t1 JOIN t2 USING (a) WHERE (a, b) IN ((1, 2))", K(READ), 0),
	C("SELECT * FROM (SELECT 1) AS dt", K(READ), 0),
	C("SELECT (SELECT 1), EXISTS (SELECT 1), 1 = ANY (SELECT 1), 2 = SOME (SELECT 2)", K(READ),
	  0),
	C("SELECT 1 FROM DUAL WHERE NOT EXISTS (SELECT 1) AND (1 OR (2 XOR 3))", K(READ), 0),
	C("SELECT 1 UNION ALL (SELECT 2) UNION DISTINCT (SELECT 3)", K(READ), 0),
	C("SELECT 1 EXCEPT (SELECT 2) INTERSECT (SELECT 3)", K(READ), 0),
	C("(SELECT 1) UNION (SELECT 2)", K(READ), 0),
	C("((SELECT 1))", K(READ), 0),
	C("( ( select 1 ) )", K(READ), 0),
	C("(VALUES (1))", K(READ), 0),
	C("(TABLE t)", K(READ), 0),
	C("(DELETE FROM t)", K(UNKNOWN), 0),
	C("VALUES (1), (2)", K(READ), 0),
	C("TABLE t", K(READ), 0),
	C("SHOW TABLES", K(READ), 0),
	C("SHOW CREATE TABLE t", K(READ), 0),
	C("show full processlist", K(READ), 0),
	C("SHOW GRANTS FOR 'u'@'h'", K(READ), 0),
	C("SHOW GRANTS FOR u@localhost", K(READ), 0),
	C("DESCRIBE t", K(READ), 0),
	C("DESC t a", K(READ), 0),
	C("EXPLAIN SELECT * FROM t", K(READ), 0),
	C("EXPLAIN FORMAT=JSON SELECT f(1), @a := 1 FROM t FOR UPDATE", K(READ), 0),
	C("EXPLAIN UPDATE t SET a = 1", K(READ), 0),
	C("EXPLAIN EXTENDED SELECT GET_LOCK('a', 1)", K(READ), 0),
	C("DESCRIBE SELECT LAST_INSERT_ID()", K(READ), 0),
	C("HELP 'SELECT'", K(READ), 0),
	C("CHECKSUM TABLE t", K(READ), 0),
	C("SELECT COUNT(*), NOW(), JSON_EXTRACT(j,'$.a') FROM t", K(READ), 0),
	C("SELECT COUNT(DISTINCT a), SUM(b), AVG(c), MIN(d), MAX(e), GROUP_CONCAT(f SEPARATOR ',')"
	  " FROM t GROUP BY g HAVING SUM(b) > 1",
	  K(READ), 0),
	C("SELECT IF(a, b, c), IFNULL(a, b), NULLIF(a, b), COALESCE(a, b), CASE WHEN a THEN b ELSE"
	  " c END FROM t",
	  K(READ), 0),
	C("SELECT CAST(a AS DECIMAL(10,2)), CONVERT(b, CHAR(3)), CAST(c AS DATETIME(6)), CAST(d AS"
	  " VARCHAR(10)) FROM t",
	  K(READ), 0),
	C("SELECT CONVERT(a USING utf8mb4), CHAR(65 USING latin1), TRIM(LEADING 'x' FROM a),"
	  " SUBSTRING(a FROM 1 FOR 2), POSITION('a' IN b), EXTRACT(YEAR FROM d)",
	  K(READ), 0),
	C("SELECT DATE_ADD(d, INTERVAL 1 DAY), DATE_FORMAT(d, '%Y'), UNIX_TIMESTAMP(), CURDATE(),"
	  " CURRENT_TIMESTAMP(6), TIMESTAMPDIFF(SECOND, a, b), LAST_DAY(d), WEEK(d)",
	  K(READ), 0),
	C("SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b), RANK() OVER w, LAG(a, 1) OVER w"
	  " FROM t WINDOW w AS (ORDER BY a)",
	  K(READ), 0),
	C("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY a) OVER (), MEDIAN(a) OVER () FROM t",
	  K(READ), 0),
	C("SELECT JSON_OBJECT('a', 1), JSON_ARRAYAGG(a), JSON_OBJECTAGG(k, v), JSON_VALUE(j, '$')"
	  " FROM t",
	  K(READ), 0),
	C("SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (id FOR ORDINALITY, a INT PATH '$',"
	  " b VARCHAR(10) PATH '$.b', NESTED PATH '$.c' COLUMNS (c INT PATH '$'))) AS jt",
	  K(READ), 0),
	C("SELECT ST_AsText(ST_GeomFromText('POINT(1 1)')), ST_Distance(POINT(1, 2), g),"
	  " MBRContains(a, b), ST_X(p) FROM t",
	  K(READ), 0),
	C("SELECT UUID(), UUID_SHORT(), DATABASE(), SCHEMA(), USER(), CURRENT_USER(), VERSION(),"
	  " CONNECTION_ID(), CHARSET(a), COLLATION(a)",
	  K(READ), 0),
	C("SELECT INET6_ATON('::1'), INET_NTOA(1), IS_IPV4('1.2.3.4'), MD5('a'), SHA2('a', 256),"
	  " AES_ENCRYPT('a', 'k'), RANDOM_BYTES(4), CRC32('a')",
	  K(READ), 0),
	C("SELECT REGEXP_REPLACE(a, 'x', 'y'), SFORMAT('{}', 1), NATURAL_SORT_KEY(a), LPAD(a, 5,"
	  " '0'), CONCAT_WS(',', a, b), REPLACE(a, 'x', 'y'), INSERT(a, 1, 2, 'z'), LEFT(a, 1)",
	  K(READ), 0),
	C("SELECT COLUMN_GET(d, 1 AS INT), COLUMN_JSON(d), WEIGHT_STRING(a AS CHAR(3)),"
	  " GET_FORMAT(DATE, 'EUR'), ROUND(1.5), TRUNCATE(1.5, 0), MOD(5, 2), 5 DIV 2",
	  K(READ), 0),
	C("SELECT a FROM t WHERE MATCH (a, b) AGAINST ('x' IN BOOLEAN MODE)", K(READ), 0),
	C("SELECT * FROM t USE INDEX (i) FORCE KEY (k) IGNORE INDEX FOR JOIN (j) PARTITION (p)",
	  K(READ), 0),
	C("SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP('2020-01-01')", K(READ), 0),
	C("SELECT x FROM t GROUP BY x WITH ROLLUP", K(READ), 0),
	C("SELECT HIGH_PRIORITY DISTINCT STRAIGHT_JOIN SQL_NO_CACHE (a) FROM t", K(READ), 0),
	C("SELECT a FROM t WHERE b BETWEEN (1) AND (2) AND c LIKE ('x') AND d REGEXP ('y')",
	  K(READ), 0),
	C("SELECT ROW(1, 2) = ROW(1, 2), (1, 2) IN (VALUES (1, 2))", K(READ), 0),
	C("SELECT 1 FROM t PROCEDURE ANALYSE()", K(READ), 0),
	C("SELECT t.a, db.t.b, `t`.`c` FROM db.t", K(READ), 0),
	C("SELECT 1e5, .5, 0x1F, x'41', b'01', N'abc', _utf8mb4'x' COLLATE utf8mb4_bin", K(READ),
	  0),
	C("SELECT 'it''s', \"say \"\"hi\"\"\", 'a' 'b'", K(READ), 0),
	C("SELECT `a``b` FROM `t``u`", K(READ), 0),
	C("SELECT a<=>b, a<>b, a!=b, a>=b, a<=b, a<<1, a>>1, !a, ~a, a||b, a&&b", K(READ), 0),
	C("SELECT 1--1", K(READ), 0),
	C("SELECT 1 -- comment", K(READ), 0),
	C("SELECT 1 --\tcomment", K(READ), 0),
	C("SELECT 1 --", K(READ), 0),
	C("SELECT 1 # comment", K(READ), 0),
	C("SELECT 1 /* comment */", K(READ), 0),
	C("/* lead */ -- line\n # hash\n SELECT 1", K(READ), 0),
	C("SELECT 1 -- x\x01; DELETE FROM t", K(READ), 0),
	C("SELECT 1 /*/ still a comment */", K(READ), 0),
	C("SELECT 'x; DELETE FROM t'", K(READ), 0),
	C("SELECT 'a\\'; DELETE FROM t; --'", K(READ), 0),
	CO("SELECT 'a\\'; DELETE FROM t; --'", K(UNKNOWN), F(MULTI), NBE),
	C("SELECT \"a\\\\\"", K(READ), 0),
	CO("SELECT \"a\\\\\"", K(READ), 0, NBE),
	CO("SELECT 'a\\'", K(READ), 0, NBE),
	C("SELECT 'a\\nb\\tc\\\\'", K(READ), 0),
	C("SELECT f FROM t", K(READ), 0),
	C("SELECT get_lock FROM t", K(READ), 0),
	C("SELECT a FROM t WHERE a = @@session.sql_mode AND b = @@global.max_connections", K(READ),
	  0),
	C("SELECT @@version, @@SESSION.autocommit, @@local.x, @@innodb_buffer_pool_size", K(READ),
	  0),

	/* Comments that hide what they hold. */
	C("/* SELECT 1 FOR UPDATE */ SELECT 1", K(READ), 0),
	C("SELECT 1 /* FOR UPDATE */", K(READ), 0),
	C("SELECT 1 -- FOR UPDATE", K(READ), 0),
	C("SELECT 1 # FOR UPDATE", K(READ), 0),
	C("SELECT 1 -- x\nFOR UPDATE", K(READ), F(LOCKING_READ)),
	C("SELECT 'FOR UPDATE', \"GET_LOCK(1)\", `NEXTVAL`", K(READ), 0),
	C("SELECT 1 /* ; DELETE FROM t */", K(READ), 0),
	C("SELECT 1 -- ; DELETE FROM t", K(READ), 0),
	C("SELECT `; DELETE FROM t`", K(READ), 0),

	/* Executable comments. */
	C("/*!40101 SET NAMES utf8mb4 */", K(SESSION), 0),
	C("/*!40101 SET NAMES utf8mb4 */;", K(SESSION), 0),
	C("/*M!100100 SELECT 1 FOR UPDATE */", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*!50000 FOR UPDATE */", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*! FOR UPDATE */", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*!FOR UPDATE*/", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*M!FOR UPDATE*/", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*!40101 , '*/' */", K(READ), 0),
	C("SELECT 1 /*!50700 FOR UPDATE */", K(READ), 0),
	C("SELECT 1 /*!80000 ; DELETE FROM t */", K(READ), 0),
	C("SELECT 1 /*M!50700 FOR UPDATE */", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*!101100 FOR UPDATE */", K(READ), F(LOCKING_READ)),
	C("SELECT 1 /*!110000 FOR UPDATE */", K(UNKNOWN), F(LOCKING_READ)),
	C("/*!999999 SELECT 1 */ DELETE FROM t", K(UNKNOWN), 0),
	C("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", K(SESSION),
	  F(USER_VAR_WRITE)),
	C("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;", K(SESSION),
	  F(USER_VAR_WRITE)),
	C("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */", K(SESSION), F(USER_VAR_READ)),
	C("/*!50003 CREATE*/ /*!50020 DEFINER=`root`@`localhost`*/ /*!50003 PROCEDURE p()"
	  " BEGIN SELECT 1; END */",
	  K(WRITE), 0),
	C("SELECT 1 /*!40101 /* nested */ */", K(UNKNOWN), 0),
	C("/*!40101 /*!40101 SELECT 1 */ */", K(UNKNOWN), 0),
	C("/*!40101 SELECT 1", K(UNKNOWN), 0),
	C("/*!40101 SELECT 1; SELECT 2 */", K(UNKNOWN), F(MULTI)),
	C("SELECT 1 /*!40101 -- */ FOR UPDATE", K(UNKNOWN), 0),

	/* Hints. */
	C("select 1 -- sluice:primary", K(READ), F(HINT_PRIMARY)),
	C("/* sluice: reader */ SELECT 1", K(READ), F(HINT_READER)),
	C("SELECT /*sluice:primary*/ 1", K(READ), F(HINT_PRIMARY)),
	C("SELECT 1 # SLUICE : READER", K(READ), F(HINT_READER)),
	C("SELECT 1 /*\tSluice\t:\tPrimary\t*/", K(READ), F(HINT_PRIMARY)),
	C("SELECT 1 /* sluice:primary because the cache */", K(READ), F(HINT_PRIMARY)),
	C("SELECT 1 /* sluice:primary, please */", K(READ), F(HINT_PRIMARY)),
	C("SELECT 1 -- sluice:reader\n FOR UPDATE", K(READ), F(HINT_READER) | F(LOCKING_READ)),
	C("/* sluice:primary */ /* sluice:reader */ SELECT 1", K(READ),
	  F(HINT_PRIMARY) | F(HINT_READER)),
	C("UPDATE t SET a = 1 /* sluice:reader */", K(WRITE), F(HINT_READER)),
	C("SELECT 1 /* sluice:primaryx */", K(READ), 0),
	C("SELECT 1 /* use sluice:primary */", K(READ), 0),
	C("SELECT 1 /* sluice primary */", K(READ), 0),
	C("SELECT 1 /* sluice:writer */", K(READ), 0),
	C("SELECT 1 /* sluicer:primary */", K(READ), 0),
	C("SELECT '/* sluice:primary */', \"-- sluice:reader\"", K(READ), 0),
	C("SELECT 1 --sluice:primary", K(READ), 0),
	C("SELECT 1 /*!40101 sluice:primary */", K(READ), 0),
	C("-- sluice:primary", K(UNKNOWN), F(HINT_PRIMARY)),
	C("SELECT 1; /* sluice:primary */ SELECT 2", K(READ), F(MULTI) | F(HINT_PRIMARY)),
	C("SELECT 1; -- sluice:reader", K(READ), F(HINT_READER)),

	/* Locking reads. */
	C("SELECT * FROM t WHERE a = 1 FOR UPDATE", K(READ), F(LOCKING_READ)),
	C("select * from t for update nowait", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t FOR UPDATE SKIP LOCKED", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t FOR UPDATE WAIT 5", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t FOR SHARE", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t LOCK IN SHARE MODE", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t WHERE a IN (SELECT b FROM u FOR UPDATE)", K(READ), F(LOCKING_READ)),
	C("(SELECT 1 FOR UPDATE) UNION (SELECT 2)", K(READ), F(LOCKING_READ)),
	C("SELECT * FROM t WHERE a = @x FOR UPDATE", K(READ), F(LOCKING_READ) | F(USER_VAR_READ)),

	/* INTO. */
	C("SELECT a INTO @x FROM t", K(READ), F(INTO) | F(USER_VAR_WRITE)),
	C("SELECT a, b FROM t INTO @x, @y", K(READ), F(INTO) | F(USER_VAR_WRITE)),
	C("SELECT @x INTO @y", K(READ), F(INTO) | F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("SELECT * FROM t INTO OUTFILE '/tmp/x' FIELDS TERMINATED BY ','", K(READ), F(INTO)),
	C("SELECT 1 INTO DUMPFILE '/tmp/x'", K(READ), F(INTO)),
	C("SELECT a FROM t FOR UPDATE INTO @x", K(READ),
	  F(INTO) | F(USER_VAR_WRITE) | F(LOCKING_READ)),
	C("INSERT INTO t VALUES (1)", K(WRITE), 0),
	C("LOAD DATA INFILE 'f' INTO TABLE t", K(WRITE), 0),

	/* Lock functions, sequences, primary-only facts. */
	C("SELECT GET_LOCK('a', 1)", K(READ), F(LOCK_FUNC)),
	C("select get_lock ('a', 1)", K(READ), F(LOCK_FUNC)),
	C("SELECT RELEASE_LOCK('a')", K(READ), F(LOCK_FUNC) | F(RELEASE_LOCK)),
	C("SELECT RELEASE_ALL_LOCKS()", K(READ), F(LOCK_FUNC) | F(RELEASE_ALL_LOCKS)),
	C("DO RELEASE_LOCK('a'), RELEASE_ALL_LOCKS()", K(READ),
	  F(LOCK_FUNC) | F(RELEASE_LOCK) | F(RELEASE_ALL_LOCKS)),
	C("SELECT IS_FREE_LOCK('a'), IS_USED_LOCK('a')", K(READ), F(LOCK_FUNC)),
	C("DO GET_LOCK('a', 0)", K(READ), F(LOCK_FUNC)),
	C("SELECT NEXT VALUE FOR s", K(READ), F(SEQUENCE)),
	C("SELECT PREVIOUS VALUE FOR s", K(READ), F(SEQUENCE)),
	C("SELECT NEXTVAL(s)", K(READ), F(SEQUENCE)),
	C("SELECT lastval(s), setval(s, 10)", K(READ), F(SEQUENCE)),
	C("SELECT s.nextval, s.currval FROM dual", K(READ), F(SEQUENCE)),
	C("SELECT nextval FROM t", K(READ), 0),
	C("SELECT LAST_INSERT_ID()", K(READ), F(LAST_INSERT_ID)),
	C("SELECT last_insert_id ( )", K(READ), F(LAST_INSERT_ID)),
	C("SELECT @@last_insert_id", K(READ), F(LAST_INSERT_ID)),
	C("SELECT @@IDENTITY", K(READ), F(LAST_INSERT_ID)),
	C("SELECT @@session.last_insert_id", K(READ), F(LAST_INSERT_ID)),
	C("SELECT FOUND_ROWS()", K(READ), F(FOUND_ROWS)),
	C("SELECT ROW_COUNT()", K(READ), F(FOUND_ROWS)),
	C("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", K(READ), F(CALC_FOUND_ROWS)),
	C("SELECT WSREP_LAST_SEEN_GTID()", K(READ), F(USER_FUNC)),
	C("SELECT WSREP_SYNC_WAIT_UPTO_GTID('1-1-1')", K(READ), 0),
	C("SELECT @@warning_count, @@error_count", K(READ), F(DIAGNOSTICS)),
	C("SHOW WARNINGS", K(READ), F(DIAGNOSTICS)),
	C("SHOW ERRORS LIMIT 1", K(READ), F(DIAGNOSTICS)),
	C("SHOW COUNT(*) WARNINGS", K(READ), F(DIAGNOSTICS)),
	C("GET DIAGNOSTICS @n = NUMBER, @r = ROW_COUNT", K(READ),
	  F(DIAGNOSTICS) | F(USER_VAR_WRITE)),
	C("GET CURRENT DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT", K(READ),
	  F(DIAGNOSTICS) | F(USER_VAR_WRITE)),
	C("GET STACKED DIAGNOSTICS CONDITION @c @m = MESSAGE_TEXT", K(READ),
	  F(DIAGNOSTICS) | F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("GET LOST", K(UNKNOWN), 0),

	/* User variables. */
	C("SELECT @a", K(READ), F(USER_VAR_READ)),
	C("SELECT @a, @@version", K(READ), F(USER_VAR_READ)),
	C("SELECT @a := 1", K(READ), F(USER_VAR_WRITE)),
	C("SELECT @a:=1", K(READ), F(USER_VAR_WRITE)),
	C("SELECT @a := @a + 1", K(READ), F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("SELECT @a = 1", K(READ), F(USER_VAR_READ)),
	C("SELECT @`a b`, @'c', @\"d\", @e.f, @$g", K(READ), F(USER_VAR_READ)),
	C("SELECT 1 FROM t WHERE a = @x", K(READ), F(USER_VAR_READ)),
	C("SELECT @ x", K(READ), F(USER_VAR_READ)),
	C("SELECT@x", K(READ), F(USER_VAR_READ)),
	C("UPDATE t SET a = @x", K(WRITE), F(USER_VAR_READ)),
	C("UPDATE t SET a = (@x := @x + 1)", K(WRITE), F(USER_VAR_READ) | F(USER_VAR_WRITE)),

	/* User functions. */
	C("SELECT my_db.f(1)", K(READ), F(USER_FUNC)),
	C("SELECT f (1)", K(READ), F(USER_FUNC)),
	C("SELECT f(1) FROM t", K(READ), F(USER_FUNC)),
	C("SELECT f/* c */(1)", K(READ), F(USER_FUNC)),
	C("SELECT `f`(1)", K(READ), F(USER_FUNC)),
	C("SELECT `concat`('a')", K(READ), F(USER_FUNC)),
	C("SELECT db.now()", K(READ), F(USER_FUNC)),
	C("SELECT `db`.`f`(1)", K(READ), F(USER_FUNC)),
	C("SELECT a FROM t WHERE b = stored_fn(c)", K(READ), F(USER_FUNC)),
	C("SELECT * FROM t WHERE a IN (SELECT f(b) FROM u)", K(READ), F(USER_FUNC)),
	C("SELECT Concat('a'), NOW(), SuBsTrInG('abc', 2)", K(READ), 0),
	C("DO f()", K(UNKNOWN), F(USER_FUNC)),
	C("DO SLEEP(1)", K(READ), 0),
	C("DO 1, 2", K(READ), 0),
	C("DO @a := 1", K(READ), F(USER_VAR_WRITE)),
	C("CALL p(1)", K(WRITE), F(CALL)),
	C("CALL p(@x)", K(WRITE), F(CALL) | F(USER_VAR_READ)),
	C("INSERT INTO t (a, b) VALUES (f(1), 2)", K(WRITE), 0),
	C("CREATE TABLE t (a INT)", K(WRITE), 0),

	/* WITH. */
	C("WITH c AS (SELECT 1) SELECT * FROM c", K(READ), 0),
	C("WITH c (a) AS (SELECT 1) SELECT a FROM c", K(READ), 0),
	C("WITH c (a, b) AS (SELECT 1, 2), d AS (SELECT 3) SELECT * FROM c, d", K(READ), 0),
	C("with recursive c (n) as (select 1 union all select n + 1 from c where n < 5), d (m) as"
	  " (select 2) select * from c, d",
	  K(READ), 0),
	C("WITH `c` (a) AS (SELECT 1) SELECT * FROM `c`", K(READ), 0),
	C("WITH c AS (SELECT 1) (SELECT * FROM c)", K(READ), 0),
	C("(WITH c (x) AS (SELECT 1) SELECT x FROM c)", K(READ), 0),
	C("SELECT * FROM (WITH c (x) AS (SELECT 1) SELECT x FROM c) d", K(READ), 0),
	C("WITH a AS (WITH b (x) AS (SELECT 1) SELECT x FROM b), c (y) AS (SELECT 2) SELECT * FROM"
	  " a, c",
	  K(READ), 0),
	C("WITH c AS (SELECT f(1)) SELECT * FROM c", K(READ), F(USER_FUNC)),
	C("WITH c AS (SELECT 1) SELECT * FROM c FOR UPDATE", K(READ), F(LOCKING_READ)),
	C("WITH c AS (SELECT 1) SELECT a INTO @x FROM c", K(READ), F(INTO) | F(USER_VAR_WRITE)),
	C("WITH c AS (SELECT 1) UPDATE t SET a = 1", K(WRITE), 0),
	C("WITH c AS (SELECT 1) DELETE FROM t WHERE a IN (SELECT * FROM c)", K(WRITE), 0),
	C("WITH c AS (SELECT f(1)) INSERT INTO t SELECT * FROM c", K(WRITE), 0),
	C("WITH c AS (SELECT 1) REPLACE INTO t SELECT * FROM c", K(WRITE), 0),
	C("WITH c AS (SELECT 1) SHOW TABLES", K(UNKNOWN), 0),
	C("WITH", K(UNKNOWN), 0),
	C("WITH c AS SELECT 1", K(UNKNOWN), 0),
	C("WITH c AS (SELECT 1)", K(UNKNOWN), 0),

	/* Writes. */
	C("INSERT INTO t VALUES (1)", K(WRITE), 0),
	C("insert ignore into t set a = 1", K(WRITE), 0),
	C("INSERT INTO t SELECT * FROM u FOR UPDATE", K(WRITE), F(LOCKING_READ)),
	C("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", K(WRITE), 0),
	C("INSERT INTO t VALUES (LAST_INSERT_ID(), NEXTVAL(s), GET_LOCK('a', 1))", K(WRITE),
	  F(LAST_INSERT_ID) | F(SEQUENCE) | F(LOCK_FUNC)),
	C("UPDATE t SET a = 1 WHERE b = 2", K(WRITE), 0),
	C("UPDATE t SET a = f(1)", K(WRITE), 0),
	C("DELETE FROM t WHERE a IN (SELECT b FROM u)", K(WRITE), 0),
	C("REPLACE INTO t VALUES (1)", K(WRITE), 0),
	C("LOAD DATA LOCAL INFILE 'f' INTO TABLE t (@a) SET b = @a", K(WRITE), F(USER_VAR_READ)),
	C("LOAD XML INFILE 'f' INTO TABLE t", K(WRITE), 0),
	C("CREATE TABLE t2 AS SELECT * FROM t", K(WRITE), 0),
	C("CREATE DATABASE d", K(WRITE), 0),
	C("ALTER TABLE t ADD c INT", K(WRITE), 0),
	C("DROP TABLE t", K(WRITE), F(TEMP_DROP)),
	C("DROP TABLE IF EXISTS t", K(WRITE), F(TEMP_DROP)),
	C("DROP TABLES t, u", K(WRITE), F(TEMP_DROP)),
	C("drop temporary sequence s", K(WRITE), F(TEMP_DROP)),
	C("DROP VIEW v", K(WRITE), 0),
	C("DROP DATABASE d", K(WRITE), 0),
	C("RENAME TABLE a TO b", K(WRITE), 0),
	C("TRUNCATE TABLE t", K(WRITE), 0),
	C("TRUNCATE t", K(WRITE), 0),
	C("GRANT SELECT ON db.* TO 'u'@'h'", K(WRITE), 0),
	C("GRANT ALL ON *.* TO u@'%' WITH GRANT OPTION", K(WRITE), 0),
	C("REVOKE ALL ON *.* FROM `u`@`h`", K(WRITE), 0),
	C("CREATE USER 'u'@'h' IDENTIFIED BY 'p'", K(WRITE), 0),
	C("OPTIMIZE TABLE t", K(WRITE), 0),
	C("REPAIR TABLE t", K(WRITE), 0),
	C("CHECK TABLE t", K(WRITE), 0),
	C("ANALYZE TABLE t", K(WRITE), 0),
	C("ANALYZE LOCAL TABLE t", K(WRITE), 0),
	C("ANALYZE NO_WRITE_TO_BINLOG TABLE t", K(WRITE), 0),
	C("ANALYZE SELECT * FROM t", K(READ), 0),
	C("ANALYZE FORMAT=JSON SELECT * FROM t FOR UPDATE", K(READ), F(LOCKING_READ)),
	C("ANALYZE UPDATE t SET a = 1", K(WRITE), 0),
	C("ANALYZE DELETE FROM t", K(WRITE), 0),
	C("ANALYZE SET a = 1", K(WRITE), 0),
	C("CACHE INDEX t IN c", K(WRITE), 0),
	C("FLUSH PRIVILEGES", K(WRITE), 0),
	C("FLUSH TABLES", K(WRITE), 0),
	C("KILL 5", K(WRITE), 0),
	C("KILL QUERY 5", K(WRITE), 0),
	C("INSTALL SONAME 'ha_x'", K(WRITE), 0),
	C("UNINSTALL PLUGIN x", K(WRITE), 0),
	C("HANDLER t OPEN", K(WRITE), F(HANDLER_OPEN)),
	C("HANDLER d.t OPEN AS h", K(WRITE), F(HANDLER_OPEN)),
	C("handler `t` close", K(WRITE), F(HANDLER_CLOSE)),
	C("HANDLER t READ FIRST", K(WRITE), 0),
	C("SAVEPOINT s", K(WRITE), 0),
	C("RELEASE SAVEPOINT s", K(WRITE), 0),
	C("RELEASE s", K(UNKNOWN), 0),
	C("BINLOG 'abc'", K(WRITE), 0),
	C("PURGE BINARY LOGS TO 'x'", K(WRITE), 0),
	C("RESET MASTER", K(WRITE), 0),
	C("CHANGE MASTER TO MASTER_HOST = 'h'", K(WRITE), 0),
	C("CHANGE REPLICATION FILTER REPLICATE_DO_DB = (d)", K(WRITE), 0),
	C("CHANGE x", K(UNKNOWN), 0),
	C("START SLAVE", K(WRITE), 0),
	C("START REPLICA", K(WRITE), 0),
	C("START ALL SLAVES", K(WRITE), 0),
	C("STOP SLAVE", K(WRITE), 0),
	C("STOP REPLICA 'c'", K(WRITE), 0),
	C("STOP x", K(UNKNOWN), 0),
	C("START x", K(UNKNOWN), 0),
	C("BACKUP STAGE START", K(WRITE), 0),
	C("SHUTDOWN", K(WRITE), 0),
	C("EXECUTE IMMEDIATE 'SELECT 1'", K(WRITE), 0),

	/* Compound statements: their inner ';' do not end them. */
	C("BEGIN NOT ATOMIC SELECT 1; END", K(WRITE), 0),
	C("BEGIN NOT ATOMIC DECLARE x INT; IF x THEN SELECT 1; ELSEIF 1 THEN SELECT 2; ELSE"
	  " SELECT 3; END IF; END",
	  K(WRITE), 0),
	C("BEGIN NOT ATOMIC SELECT 1; END; SELECT 2", K(UNKNOWN), F(MULTI)),
	C("BEGIN NOT", K(UNKNOWN), 0),
	C("IF 1 THEN SELECT 1; END IF", K(WRITE), 0),
	C("IF (1) THEN SELECT 1; ELSE SELECT IF(1, 2, 3); END IF", K(WRITE), 0),
	C("WHILE 0 DO SELECT 1; END WHILE", K(WRITE), 0),
	C("REPEAT SELECT 1; UNTIL 1 END REPEAT", K(WRITE), 0),
	C("CASE WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE", K(WRITE), 0),
	C("FOR i IN 1..3 DO SELECT i; END FOR", K(WRITE), 0),
	C("LOOP SELECT 1; END LOOP", K(WRITE), 0),
	C("lbl: LOOP SELECT 1; LEAVE lbl; END LOOP lbl", K(WRITE), 0),
	C("lbl: BEGIN NOT ATOMIC SELECT 1; END lbl", K(WRITE), 0),
	C("CREATE PROCEDURE p() BEGIN SELECT 1; IF 1 THEN SELECT 2; END IF; END", K(WRITE), 0),
	C("CREATE PROCEDURE p() BEGIN SELECT 1; END; SELECT 2", K(UNKNOWN), F(MULTI)),
	C("CREATE DEFINER=root@localhost PROCEDURE p() BEGIN REPEAT SET @a = 1; UNTIL 1 END"
	  " REPEAT; END",
	  K(WRITE), 0),
	C("CREATE PROCEDURE p() SELECT GET_LOCK('a', 1), f(@x) INTO @y FOR UPDATE", K(WRITE), 0),
	C("BEGIN NOT ATOMIC SET @a = 1; SELECT @b INTO @c; DO GET_LOCK('x', 1); END", K(WRITE),
	  F(USER_VAR_WRITE) | F(USER_VAR_READ) | F(LOCK_FUNC)),
	C("IF 1 THEN SET @a = @b; END IF", K(WRITE), F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("BEGIN NOT ATOMIC SET @a = 1; END", K(WRITE), F(USER_VAR_WRITE)),
	C("BEGIN NOT ATOMIC IF 1 THEN SELECT 1; END IF; END; SELECT 2", K(UNKNOWN), F(MULTI)),
	C("CREATE OR REPLACE DEFINER = 'u'@'h' FUNCTION f() RETURNS INT DETERMINISTIC BEGIN"
	  " DECLARE x INT DEFAULT 0; WHILE x < 3 DO SET x = x + 1; END WHILE; RETURN x; END",
	  K(WRITE), 0),
	C("CREATE DEFINER=CURRENT_USER() TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN IF NEW.a"
	  " > 1 THEN SET NEW.b = CASE WHEN 1 THEN 2 END; END IF; END",
	  K(WRITE), 0),
	C("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1; SELECT 1", K(UNKNOWN),
	  F(MULTI)),
	C("CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN DELETE FROM t; END", K(WRITE), 0),
	C("ALTER EVENT e DO BEGIN DELETE FROM t; END", K(WRITE), 0),
	C("CREATE FUNCTION f() RETURNS INT RETURN 1; SELECT 1", K(UNKNOWN), F(MULTI)),
	C("CREATE AGGREGATE FUNCTION f(x INT) RETURNS INT BEGIN DECLARE CONTINUE HANDLER FOR NOT"
	  " FOUND RETURN 1; LOOP FETCH GROUP NEXT ROW; END LOOP; END",
	  K(WRITE), 0),
	C("CREATE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW v AS SELECT CASE WHEN 1 THEN 2 END;"
	  " SELECT 1",
	  K(UNKNOWN), F(MULTI)),

	/* Transactions. */
	C("BEGIN", K(BEGIN), 0),
	C("begin;", K(BEGIN), 0),
	C("BEGIN WORK", K(BEGIN), 0),
	C("BEGIN WORK x", K(UNKNOWN), 0),
	C("START TRANSACTION", K(BEGIN), 0),
	C("START TRANSACTION READ WRITE", K(BEGIN), 0),
	C("START TRANSACTION WITH CONSISTENT SNAPSHOT", K(BEGIN), 0),
	C("START TRANSACTION READ ONLY", K(BEGIN_READ_ONLY), 0),
	C("start transaction read only;", K(BEGIN_READ_ONLY), 0),
	C("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", K(BEGIN_READ_ONLY), 0),
	C("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT", K(BEGIN_READ_ONLY), 0),
	C("START TRANSACTION READ ONLY, READ WRITE", K(UNKNOWN), 0),
	C("START TRANSACTION READ", K(UNKNOWN), 0),
	C("START TRANSACTION WITH SNAPSHOT", K(UNKNOWN), 0),
	C("START TRANSACTION READ ONLY READ WRITE", K(UNKNOWN), 0),
	C("START TRANSACTION,", K(UNKNOWN), 0),
	C("COMMIT", K(COMMIT), 0),
	C("COMMIT WORK", K(COMMIT), 0),
	C("COMMIT AND CHAIN", K(COMMIT), 0),
	C("COMMIT WORK AND NO CHAIN NO RELEASE", K(COMMIT), 0),
	C("COMMIT RELEASE", K(COMMIT), 0),
	C("COMMIT AND", K(UNKNOWN), 0),
	C("COMMIT x", K(UNKNOWN), 0),
	C("ROLLBACK", K(ROLLBACK), 0),
	C("ROLLBACK WORK AND CHAIN", K(ROLLBACK), 0),
	C("ROLLBACK TO SAVEPOINT s", K(WRITE), 0),
	C("ROLLBACK WORK TO s", K(WRITE), 0),
	C("ROLLBACK NO RELEASE", K(ROLLBACK), 0),
	C("ROLLBACK NO x", K(UNKNOWN), 0),
	C("XA START 'x'", K(WRITE), F(XA)),
	C("XA BEGIN 'x'", K(WRITE), F(XA)),
	C("XA END 'x'", K(WRITE), F(XA)),
	C("XA PREPARE 'x'", K(WRITE), F(XA)),
	C("XA COMMIT 'x' ONE PHASE", K(WRITE), F(XA)),
	C("XA ROLLBACK 'x'", K(WRITE), F(XA)),
	C("XA RECOVER", K(WRITE), F(XA)),
	C("XA x", K(UNKNOWN), 0),
	C("XA 'x'", K(UNKNOWN), 0),

	/* Session state and its flags. */
	C("SET autocommit=0", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET autocommit = 1", K(SESSION), F(AUTOCOMMIT_ON)),
	C("set @@session.autocommit = OFF", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET @@autocommit=ON", K(SESSION), F(AUTOCOMMIT_ON)),
	C("SET @@local.autocommit := true", K(SESSION), F(AUTOCOMMIT_ON)),
	C("SET SESSION autocommit = FALSE", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET LOCAL AUTOCOMMIT=0", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET `autocommit` = 0", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET autocommit = 'OFF'", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET autocommit = DEFAULT", K(SESSION), 0),
	C("SET autocommit = @old", K(SESSION), F(USER_VAR_READ)),
	C("SET autocommit = 1 - 1", K(SESSION), 0),
	C("SET autocommit=0, autocommit=1", K(SESSION), F(AUTOCOMMIT_ON)),
	C("SET autocommit=0, autocommit=@x", K(SESSION), F(USER_VAR_READ)),
	C("SET sql_mode = '', autocommit = 0", K(SESSION), F(AUTOCOMMIT_OFF)),
	C("SET NAMES utf8, autocommit = 1", K(SESSION), F(AUTOCOMMIT_ON)),
	C("SET GLOBAL autocommit = 0", K(WRITE), F(GLOBAL_SET)),
	C("SET @@global.autocommit = 0", K(WRITE), F(GLOBAL_SET)),
	C("SET autocommit_x = 0", K(SESSION), 0),
	C("SET sql_mode=''", K(SESSION), 0),
	C("SET sql_mode='', @a := 1", K(SESSION), F(USER_VAR_WRITE)),
	C("SET @a = 1", K(SESSION), F(USER_VAR_WRITE)),
	C("SET @a = @b", K(SESSION), F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("SET @a = (SELECT a FROM t FOR UPDATE)", K(SESSION), F(USER_VAR_WRITE) | F(LOCKING_READ)),
	C("SET @a = f(1)", K(SESSION), F(USER_VAR_WRITE) | F(USER_FUNC)),
	C("SET @a = GET_LOCK('x', 1)", K(SESSION), F(USER_VAR_WRITE) | F(LOCK_FUNC)),
	C("SET @a = 1, @b = CONCAT('a', @a)", K(SESSION), F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("SET sql_mode = CONCAT(@@sql_mode, ',ANSI')", K(SESSION), 0),
	C("SET SESSION sql_mode = 'ANSI', SESSION wait_timeout = 10", K(SESSION), 0),
	C("SET NAMES utf8mb4", K(SESSION), 0),
	C("SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", K(SESSION), 0),
	C("SET CHARACTER SET utf8", K(SESSION), 0),
	C("SET CHARSET latin1", K(SESSION), 0),
	C("SET ROLE admin", K(SESSION), 0),
	C("SET ROLE NONE", K(SESSION), 0),
	C("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", K(SESSION), F(SET_TRANSACTION)),
	C("SET TRANSACTION READ ONLY", K(SESSION), F(SET_TRANSACTION)),
	C("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", K(SESSION), 0),
	C("SET GLOBAL TRANSACTION READ ONLY", K(WRITE), F(GLOBAL_SET)),
	C("SET GLOBAL x=1", K(WRITE), F(GLOBAL_SET)),
	C("SET GLOBAL a = 1, b = 2", K(WRITE), F(GLOBAL_SET)),
	C("SET a = 1, GLOBAL b = 2", K(WRITE), F(GLOBAL_SET)),
	C("SET @@global.max_connections = 10", K(WRITE), F(GLOBAL_SET)),
	C("SET GLOBAL keycache1.key_buffer_size = 1024", K(WRITE), F(GLOBAL_SET)),
	C("SET PASSWORD = PASSWORD('x')", K(WRITE), 0),
	C("SET PASSWORD FOR 'u'@'h' = 'x'", K(WRITE), 0),
	C("SET DEFAULT ROLE r FOR u", K(WRITE), 0),
	C("SET DEFAULT x", K(UNKNOWN), 0),
	C("SET", K(UNKNOWN), 0),
	C("SET x", K(UNKNOWN), 0),
	C("SET x 1", K(UNKNOWN), 0),
	C("SET = 1", K(UNKNOWN), 0),
	C("SET STATEMENT max_statement_time=1 FOR SELECT 1", K(READ), 0),
	C("SET STATEMENT max_statement_time=1, sql_mode='' FOR SELECT * FROM t FOR UPDATE", K(READ),
	  F(LOCKING_READ)),
	C("SET STATEMENT max_statement_time=1 FOR UPDATE t SET a = 1", K(WRITE), 0),
	C("SET STATEMENT sql_mode='' FOR INSERT INTO t VALUES (1)", K(WRITE), 0),
	C("SET STATEMENT x = (SELECT f(1)) FOR SELECT 1", K(READ), F(USER_FUNC)),
	C("SET STATEMENT x = 1 FOR SELECT a INTO @v FROM t", K(READ), F(INTO) | F(USER_VAR_WRITE)),
	C("SET STATEMENT x = 1", K(UNKNOWN), 0),
	CDB("USE db", "db", 0),
	CDB("use DB;", "DB", 0),
	CDB("USE `my``db`", "my`db", 0),
	CDB("USE /* c */ `a b` -- c", "a b", 0),
	CDB("USE db1; USE db2", "db2", F(MULTI)),
	CDB("USE db; SET autocommit = 0", "db", F(MULTI) | F(AUTOCOMMIT_OFF)),
	CDB("USE \xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", 0),
	CDB("USE a234567890123456789012345678901234567890123456789012345678901234",
	    "a234567890123456789012345678901234567890123456789012345678901234", 0),
	C("USE a2345678901234567890123456789012345678901234567890123456789012345", K(UNKNOWN), 0),
	C("USE db extra", K(UNKNOWN), 0),
	C("USE", K(UNKNOWN), 0),
	C("USE 123", K(UNKNOWN), 0),
	C("USE ``", K(UNKNOWN), 0),
	C("USE 'db'", K(UNKNOWN), 0),
	C("USE db; SELECT 1", K(UNKNOWN), F(MULTI)),

	/* Temporary tables, table locks, prepared statements. */
	C("CREATE TEMPORARY TABLE t (a int)", K(WRITE), F(TEMP_CREATE)),
	C("create or replace temporary table t select 1", K(WRITE), F(TEMP_CREATE)),
	C("CREATE TEMPORARY TABLE IF NOT EXISTS t LIKE u", K(WRITE), F(TEMP_CREATE)),
	C("CREATE TEMPORARY SEQUENCE s", K(WRITE), F(TEMP_CREATE)),
	C("DROP TEMPORARY TABLE IF EXISTS t", K(WRITE), F(TEMP_DROP)),
	C("DROP TEMPORARY TABLE t1, t2", K(WRITE), F(TEMP_DROP)),
	C("LOCK TABLES t WRITE", K(WRITE), F(LOCK_TABLES)),
	C("lock table t read, u as x write", K(WRITE), F(LOCK_TABLES)),
	C("LOCK x", K(UNKNOWN), 0),
	C("UNLOCK TABLES", K(WRITE), F(UNLOCK_TABLES)),
	C("UNLOCK TABLE", K(WRITE), F(UNLOCK_TABLES)),
	C("UNLOCK x", K(UNKNOWN), 0),
	C("FLUSH TABLES WITH READ LOCK", K(WRITE), F(LOCK_TABLES)),
	C("FLUSH TABLE t1, t2 WITH READ LOCK", K(WRITE), F(LOCK_TABLES)),
	C("FLUSH TABLES t FOR EXPORT", K(WRITE), F(LOCK_TABLES)),
	C("BACKUP LOCK t", K(WRITE), F(LOCK_TABLES)),
	C("BACKUP UNLOCK", K(WRITE), F(UNLOCK_TABLES)),
	C("PREPARE s FROM 'SELECT 1'", K(WRITE), F(SQL_PREPARE)),
	C("PREPARE s FROM @sql", K(WRITE), F(SQL_PREPARE) | F(USER_VAR_READ)),
	C("EXECUTE s", K(WRITE), F(SQL_PREPARE)),
	C("EXECUTE s USING @a, @b", K(WRITE), F(SQL_PREPARE) | F(USER_VAR_READ)),
	C("DEALLOCATE PREPARE s", K(WRITE), F(SQL_PREPARE)),
	C("DEALLOCATE s", K(UNKNOWN), 0),
	C("DROP PREPARE s", K(WRITE), F(SQL_PREPARE)),

	/* Several statements. */
	C("SELECT 1; SELECT 2", K(READ), F(MULTI)),
	C("SELECT 1;SELECT 2;SELECT 3;", K(READ), F(MULTI)),
	C("SELECT 1; INSERT INTO t VALUES (1)", K(UNKNOWN), F(MULTI)),
	C("INSERT INTO t VALUES (1); SELECT 1", K(UNKNOWN), F(MULTI)),
	C("SELECT 1; SELECT GET_LOCK('a', 1)", K(READ), F(MULTI) | F(LOCK_FUNC)),
	C("SET NAMES utf8; SET autocommit = 0", K(SESSION), F(MULTI) | F(AUTOCOMMIT_OFF)),
	C("SET autocommit = 0; SET autocommit = 1", K(SESSION), F(MULTI) | F(AUTOCOMMIT_ON)),
	C("SET autocommit = 1; SET autocommit = 0", K(SESSION), F(MULTI) | F(AUTOCOMMIT_OFF)),
	C("SET autocommit = 0; SET sql_mode = ''", K(SESSION), F(MULTI) | F(AUTOCOMMIT_OFF)),
	C("SET @a = 1; SELECT @a", K(UNKNOWN), F(MULTI) | F(USER_VAR_WRITE) | F(USER_VAR_READ)),
	C("BEGIN; SELECT 1; COMMIT", K(UNKNOWN), F(MULTI)),
	C("SELECT 1;", K(READ), 0),
	C("SELECT 1 ; \n -- done\n /* really */ # yes", K(READ), 0),
	C("SELECT 1;;", K(UNKNOWN), F(MULTI)),
	C("; SELECT 1", K(UNKNOWN), F(MULTI)),
	C(";", K(UNKNOWN), 0),
	C("SELECT ';'; SELECT \";\"; SELECT `;`", K(READ), F(MULTI)),
	C("SELECT (1; SELECT 2)", K(READ), F(MULTI)), /* a syntax error: nothing runs */

	/* Unknown, empty, odd. */
	C("", K(UNKNOWN), 0),
	C("   \n\t ", K(UNKNOWN), 0),
	C("/* only a comment */", K(UNKNOWN), 0),
	C("-- only a comment", K(UNKNOWN), 0),
	C("FOO BAR", K(UNKNOWN), 0),
	C("'SELECT'", K(UNKNOWN), 0),
	C("`SELECT` 1", K(UNKNOWN), 0),
	C("@x", K(UNKNOWN), F(USER_VAR_READ)),
	C("SELEC 1", K(UNKNOWN), 0),
	C("DECLARE x INT", K(UNKNOWN), 0),
	C("SIGNAL SQLSTATE '45000'", K(UNKNOWN), 0),
	C("DELIMITER //", K(UNKNOWN), 0),
	C("SELECT 'abc", K(UNKNOWN), 0),
	C("SELECT \"abc", K(UNKNOWN), 0),
	C("SELECT `abc", K(UNKNOWN), 0),
	C("SELECT @'abc", K(UNKNOWN), F(USER_VAR_READ)),
	C("SELECT 1 /* abc", K(UNKNOWN), 0),
	C("SELECT 1 /* a /* b */", K(UNKNOWN), 0),
	C("SELECT \"a\\\"; DROP TABLE t; --\"", K(UNKNOWN), 0),
	CO("SELECT \"a\\\"; DROP TABLE t; --\"", K(UNKNOWN), F(MULTI) | F(TEMP_DROP), NBE),
	C("SELECT \"a\\\"b\"", K(UNKNOWN), 0),
	CO("SELECT \"a\\\"b\"", K(UNKNOWN), 0, NBE),
	C("SELECT 'a\\'", K(UNKNOWN), 0),
	C("SELECT 'x' 'y", K(UNKNOWN), 0),
	CLEN("SELECT 1\0", K(UNKNOWN), 0),
	CLEN("SELECT '\0'", K(READ), 0),
	CLEN("SELECT `a\0b`", K(READ), 0),
	CLEN("SELECT 1 /* \0 */", K(READ), 0),
	CLEN("SELECT 1 -- x\0; DELETE FROM t", K(UNKNOWN), F(MULTI)),
	CLEN("\0SELECT 1", K(UNKNOWN), 0),
	CLEN("USE `a\0b`", K(UNKNOWN), 0),
	/* Found by fuzz_classify: a NUL in a string compared with a name read
	 * past the name (ASan in build-asan); 'ON' then a NUL is not ON. */
	CLEN("SET autocommit = 'ON\0'", K(SESSION), 0),
	CLEN("SET @@session.autocommit = \"OFF\0/x\"", K(SESSION), 0),
	C("SELECT \xff\xfe FROM \x80", K(READ), 0),
	C("SELECT \xc3\xa9(1)", K(READ), F(USER_FUNC)),

	/* Truncated texts: what the prefix shows. */
	CO("SELECT * FROM t WHERE a = 'abc", K(READ), F(TRUNCATED), TRUNC),
	CO("SELECT 1 /* sluice:prim", K(READ), F(TRUNCATED), TRUNC),
	CO("SELECT 1 /* sluice:primary", K(READ), F(TRUNCATED) | F(HINT_PRIMARY), TRUNC),
	CO("SELECT * FROM t FOR UPD", K(READ), F(TRUNCATED), TRUNC),
	CO("INSERT INTO t VALUES ('x", K(WRITE), F(TRUNCATED), TRUNC),
	CO("SELECT 1; SEL", K(UNKNOWN), F(TRUNCATED) | F(MULTI), TRUNC),
	CO("SELECT 1;", K(READ), F(TRUNCATED), TRUNC),
	CO("/*!40101 SET NAMES utf8", K(SESSION), F(TRUNCATED), TRUNC),
	CO("SELECT `abc", K(READ), F(TRUNCATED), TRUNC),
	{"USE `my", K(SESSION), F(TRUNCATED), "my", TRUNC, 0},
	CO("SET autocommit", K(UNKNOWN), F(TRUNCATED), TRUNC),
	CO("", K(UNKNOWN), F(TRUNCATED), TRUNC),
	CO("SELECT \"a\\\"b", K(UNKNOWN), F(TRUNCATED), TRUNC),
	CO("SELECT 'a\\'b", K(READ), F(TRUNCATED), TRUNC | NBE),
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		size_t len = r->len ? r->len : strlen(r->sql);
		char *copy = malloc(len ? len : 1);
		struct classify_result out;

		check_case("[%zu] %s%s%s", i, r->sql, r->opts & NBE ? " (nbe)" : "",
			   r->opts & TRUNC ? " (truncated)" : "");
		memcpy(copy, r->sql, len);
		classify(copy, len, r->opts & TRUNC, r->opts & NBE, &out);
		free(copy);
		if (!CHECK_EQ_STR(classify_kind_str(out.kind), classify_kind_str(r->kind)))
			continue;
		if (out.flags != r->flags) {
			char got[512] = "", want[512] = "";

			for (unsigned b = 0; b < 32; b++) {
				char *s = out.flags & (1u << b)	 ? got
					  : r->flags & (1u << b) ? want
								 : NULL;

				if (s && (out.flags ^ r->flags) & (1u << b))
					snprintf(s + strlen(s), 512 - strlen(s), " %s",
						 classify_flag_str(1u << b));
			}
			check_report(0, __FILE__, __LINE__, "flags: extra [%s ] missing [%s ]", got,
				     want);
		}
		CHECK_EQ_STR(out.db, r->db ? r->db : "");
	}
}

/* What holds for any text: a kind from the enum, a terminated db only for
 * SESSION, TRUNCATED exactly when asked for, no undefined flag. */
static bool sane(const struct classify_result *r, bool truncated)
{
	return r->kind <= CLASSIFY_UNKNOWN && memchr(r->db, '\0', sizeof(r->db)) &&
	       (r->db[0] == '\0' || r->kind == CLASSIFY_SESSION) &&
	       !!(r->flags & CLASSIFY_TRUNCATED) == truncated && (r->flags >> 30) == 0;
}

/* Classify p[0..len) from an exact heap copy in all four modes. */
static void classify_all_modes(const char *p, size_t len)
{
	char *copy = malloc(len ? len : 1);

	memcpy(copy, p, len);
	for (unsigned mode = 0; mode < 4; mode++) {
		struct classify_result a, b;

		classify(copy, len, mode & TRUNC, mode & NBE, &a);
		classify(copy, len, mode & TRUNC, mode & NBE, &b);
		CHECK(sane(&a, mode & TRUNC));
		CHECK(memcmp(&a, &b, sizeof(a)) == 0); /* no hidden state */
	}
	free(copy);
}

/* Every prefix of every row, as a truncated text and as a whole one. */
static void test_prefixes(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].sql);

		check_case("prefixes of [%zu]", i);
		for (size_t n = 0; n <= len; n++)
			classify_all_modes(rows[i].sql, n);
	}
}

static uint32_t rng_state = 0x2545f491u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Each row with random bytes replaced, many of them ones the lexer cares
 * about, and a random cut. */
static void test_mutations(void)
{
	static const char special[] = "'\"`\\/*!M-#@:;()=,.\n \0";

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].sql);
		char buf[1024];

		check_case("mutations of [%zu]", i);
		if (len == 0 || len > sizeof(buf))
			continue;
		for (unsigned round = 0; round < 64; round++) {
			size_t n = len;

			memcpy(buf, rows[i].sql, len);
			for (unsigned k = 1 + rng() % 4; k > 0; k--) {
				uint32_t r = rng();

				buf[r % len] = (r >> 16) & 1
						       ? special[(r >> 8) % (sizeof(special) - 1)]
						       : (char)(r >> 24);
			}
			if (round & 1)
				n = rng() % (len + 1);
			classify_all_modes(buf, n);
		}
	}
}

/* Texts of 1 MB: one pass, no recursion, whatever they hold. */
static void test_large(void)
{
	size_t cap = 1u << 20, n;
	char *s = malloc(cap + 64);
	struct classify_result r;

	check_case("1 MB IN list");
	n = (size_t)sprintf(s, "SELECT * FROM t WHERE id IN (");
	while (n < cap)
		n += (size_t)sprintf(s + n, "%zu,", n);
	s[n - 1] = ')';
	classify(s, n, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, 0);
	/* Cut anywhere, it stays a read. */
	classify(s, n / 2, true, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, CLASSIFY_TRUNCATED);

	check_case("1 MB string");
	n = (size_t)sprintf(s, "SELECT '");
	memset(s + n, 'x', cap - n);
	n = cap;
	classify(s, n, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_UNKNOWN); /* unterminated */
	classify(s, n, true, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	s[n++] = '\'';
	memcpy(s + n, " FOR UPDATE", 11);
	classify(s, n + 11, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, CLASSIFY_LOCKING_READ);

	check_case("1 MB of statements");
	for (n = 0; n + 10 < cap; n += 10)
		memcpy(s + n, "SELECT 1; ", 10);
	classify(s, n, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, CLASSIFY_MULTI);

	check_case("1 MB of comments");
	for (n = 0; n + 8 < cap; n += 8)
		memcpy(s + n, "/* c */ ", 8);
	memcpy(s + n, "SELECT 1 FOR UPDATE", 19);
	classify(s, n + 19, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, CLASSIFY_LOCKING_READ);

	check_case("1 MB of parentheses");
	memset(s, '(', cap);
	classify(s, cap, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_UNKNOWN);
	memcpy(s + cap - 8, "SELECT 1", 8);
	classify(s, cap, true, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);

	check_case("1 MB of nested blocks");
	n = (size_t)sprintf(s, "BEGIN NOT ATOMIC ");
	while (n + 6 < cap)
		n += (size_t)sprintf(s + n, "BEGIN ");
	classify(s, n, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_WRITE);
	CHECK_EQ_INT(r.flags, 0);

	check_case("1 MB of user functions and variables");
	n = (size_t)sprintf(s, "SELECT ");
	while (n + 16 < cap)
		n += (size_t)sprintf(s + n, "f(@a), NOW(), ");
	n += (size_t)sprintf(s + n, "1");
	classify(s, n, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_READ);
	CHECK_EQ_INT(r.flags, CLASSIFY_USER_FUNC | CLASSIFY_USER_VAR_READ);
	free(s);
}

static void test_builtins(void)
{
	static const char *const yes[] = {
		"ABS",
		"abs",
		"Concat",
		"COUNT",
		"NOW",
		"json_extract",
		"ST_AsText",
		"ST_Y",
		"YEARWEEK",
		"X",
		"GROUP_CONCAT",
		"IF",
		"IFNULL",
		"CAST",
		"CONVERT",
		"DATABASE",
		"USER",
		"VERSION",
		"CONNECTION_ID",
		"UUID",
		"ROW_NUMBER",
		"LAG",
		"JSON_ARRAYAGG",
		"JSON_TABLE",
		"GET_LOCK",
		"NEXTVAL",
		"SETVAL",
		"LAST_INSERT_ID",
		"FOUND_ROWS",
		"ROW_COUNT",
		"INET6_ATON",
		"SYS_GUID",
		"NATURAL_SORT_KEY",
		"SFORMAT",
		"CRC32C",
		"MBRWITHIN",
		"GEOMFROMWKB",
		"COLUMN_GET",
		"TIMESTAMPDIFF",
		"WEIGHT_STRING",
		"DECODE_ORACLE",
		"LOCALTIMESTAMP",
		"UTC_TIMESTAMP",
		"PERCENTILE_DISC",
		"MEDIAN",
	};
	static const char *const no[] = {
		"",
		"F",
		"MY_FUNC",
		"NOW_",
		"NO",
		"ABSX",
		"SELECT",
		"IN",
		"WSREP_LAST_SEEN_GTID",
		"WSREP_LAST_WRITTEN_GTID",
		"ZZZZ",
		"AAA",
		"ST_",
		"JSON_",
	};

	check_case("builtin names");
	CHECK(classify_tables_sorted());
	CHECK(classify_keywords_found());
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!CHECK(classify_is_builtin(yes[i], strlen(yes[i]))))
			fprintf(stderr, "  not a builtin: %s\n", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!CHECK(!classify_is_builtin(no[i], strlen(no[i]))))
			fprintf(stderr, "  a builtin: %s\n", no[i]);
	CHECK(!classify_is_builtin(NULL, 0));
	CHECK(classify_is_builtin("NOW()", 3));
}

static void test_names(void)
{
	check_case("kind and flag names");
	CHECK_EQ_STR(classify_kind_str(CLASSIFY_READ), "read");
	CHECK_EQ_STR(classify_kind_str(CLASSIFY_BEGIN_READ_ONLY), "begin_read_only");
	CHECK_EQ_STR(classify_kind_str(CLASSIFY_UNKNOWN), "unknown");
	CHECK_EQ_STR(classify_kind_str((enum classify_kind)99), "?");
	CHECK_EQ_STR(classify_flag_str(CLASSIFY_LOCKING_READ), "locking_read");
	CHECK_EQ_STR(classify_flag_str(CLASSIFY_GLOBAL_SET), "global_set");
	CHECK_EQ_STR(classify_flag_str(CLASSIFY_DIAGNOSTICS), "diagnostics");
	CHECK_EQ_STR(classify_flag_str(3u), "?");
	CHECK_EQ_STR(classify_flag_str(CLASSIFY_RELEASE_ALL_LOCKS), "release_all_locks");
	CHECK_EQ_STR(classify_flag_str(CLASSIFY_CALL), "call");
	CHECK_EQ_STR(classify_flag_str(1u << 30), "?");
	for (unsigned b = 0; b < 30; b++)
		CHECK(strcmp(classify_flag_str(1u << b), "?") != 0);
}

static void test_null(void)
{
	struct classify_result r;

	check_case("NULL text");
	memset(&r, 0x5a, sizeof(r));
	classify(NULL, 0, false, false, &r);
	CHECK_EQ_INT(r.kind, CLASSIFY_UNKNOWN);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_STR(r.db, "");
}

/* KILL as sluice carries it out: its own connection ids, nothing else. */
static void test_kill(void)
{
	static const struct {
		const char *sql;
		bool ok, query;
		uint64_t id;
	} kills[] = {
		{"KILL 42", true, false, 42},
		{"kill connection 7;", true, false, 7},
		{"  /* x */ KILL QUERY 9 ;; ", true, true, 9},
		{"KILL HARD QUERY 3", true, true, 3},
		{"KILL SOFT CONNECTION 18446744073709551615", true, false, UINT64_MAX},
		{"KILL 18446744073709551616", false, false, 0},
		/* Found by fuzz_classify: the server skips leading zeros, so this
		 * is KILL 42, not a number too long to be an id. */
		{"KILL 000000000000000000000000042", true, false, 42},
		{"KILL QUERY 0000018446744073709551615", true, true, UINT64_MAX},
		{"KILL 0000018446744073709551616", false, false, 0},
		{"KILL QUERY ID 5", false, false, 0},
		{"KILL USER app", false, false, 0},
		{"KILL 1+1", false, false, 0},
		{"KILL 4; SELECT 1", false, false, 0},
		{"KILL 0x10", false, false, 0},
		{"KILL", false, false, 0},
		{"KILLX 4", false, false, 0},
		{"KILL /* open", false, false, 0},
		{"KILL 5 -- done", true, false, 5},
		{"SELECT 1", false, false, 0},
	};

	for (size_t i = 0; i < sizeof(kills) / sizeof(kills[0]); i++) {
		bool query = false;
		uint64_t id = 0;

		check_case("kill %s", kills[i].sql);
		bool ok = classify_kill(kills[i].sql, strlen(kills[i].sql), &query, &id);
		CHECK_EQ_INT(ok, kills[i].ok);
		if (ok && kills[i].ok) {
			CHECK_EQ_INT(query, kills[i].query);
			CHECK(id == kills[i].id);
		}
	}
}

/* One key for the statement's single table (0 if it names none or more). */
static uint64_t key1(const char *sql, const char *db)
{
	uint64_t k[4] = {0};
	size_t n = classify_table_keys(sql, strlen(sql), false, db, k, 4);

	return n == 1 ? k[0] : 0;
}

static void test_table_keys(void)
{
	uint64_t k[2];
	uint64_t t = key1("CREATE TEMPORARY TABLE t (a INT)", "d");

	check_case("temporary table keys");
	CHECK(t != 0);
	/* The same table however it is spelled with its database. */
	CHECK(key1("DROP TEMPORARY TABLE t", "d") == t);
	CHECK(key1("drop table `d`.`t`", "other") == t);
	CHECK(key1("DROP TABLE d.t RESTRICT", NULL) == t);
	CHECK(key1("DROP TABLE IF EXISTS /* c */ `t`", "d") == t);
	CHECK(key1("create or replace temporary table if not exists t(a int)", "d") == t);
	CHECK(key1("CREATE TEMPORARY TABLE t LIKE u", "d") == t);
	CHECK(key1("CREATE TEMPORARY SEQUENCE t", "d") == t);
	/* Other tables, or the same name elsewhere. */
	CHECK(key1("DROP TEMPORARY TABLE t", "e") != t);
	CHECK(key1("DROP TEMPORARY TABLE t", NULL) != t);
	CHECK(key1("DROP TEMPORARY TABLE T", "d") != t); /* byte for byte */
	CHECK(key1("DROP TEMPORARY TABLE tt", "d") != t);
	CHECK(key1("DROP TEMPORARY TABLE `a``b`", "d") == key1("DROP TABLE `a``b`", "d"));
	CHECK(key1("DROP TEMPORARY TABLE `a``b`", "d") != key1("DROP TABLE `a``b``b`", "d"));
	/* Lists: the count, and the first max keys. */
	CHECK_EQ_INT(classify_table_keys("DROP TABLE a, d.t, `c`", 22, false, "d", k, 2), 3);
	CHECK(k[1] == t);
	/* Not such statements, or names that cannot be read. */
	static const char *const none[] = {
		"CREATE TABLE t (a INT)",
		"DROP VIEW t",
		"DROP DATABASE t",
		"SELECT 1",
		"CREATE TEMPORARY t",
		"DROP TABLE (t)",
		"DROP TABLE t.",
		"DROP TABLE",
		"CREATE OR TEMPORARY TABLE t",
		"CREATE TEMPORARY TABLE IF EXISTS t",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		check_case("no keys: %s", none[i]);
		CHECK_EQ_INT(classify_table_keys(none[i], strlen(none[i]), false, "d", k, 2), 0);
	}
	CHECK_EQ_INT(classify_table_keys(NULL, 0, false, "d", k, 2), 0);
}

/* Which statements may commit an open transaction: what sluice tells a
 * client whose transaction's node died under the statement (rolled back, or
 * outcome unknown) rests on it, so anything not known not to commit does. */
static void test_may_commit(void)
{
	static const struct {
		const char *sql;
		bool may_commit;
	} cases[] = {
		/* Never: reads, row changes, savepoints, rollback, session settings. */
		{"SELECT * FROM t FOR UPDATE", false},
		{"SELECT f(1)", false}, /* a stored function cannot commit */
		{"SHOW TABLES", false},
		{"INSERT INTO t VALUES (1)", false},
		{"insert into t select * from u", false},
		{"UPDATE t SET a = 1", false},
		{"DELETE FROM t", false},
		{"REPLACE INTO t VALUES (1)", false},
		{"LOAD DATA LOCAL INFILE 'x' INTO TABLE t", false},
		{"LOAD XML INFILE 'x' INTO TABLE t", false},
		{"SAVEPOINT s1", false},
		{"RELEASE SAVEPOINT s1", false},
		{"ROLLBACK TO SAVEPOINT s1", false},
		{"ROLLBACK", false},
		{"ROLLBACK AND NO CHAIN", false},
		{"HANDLER t READ FIRST", false},
		{"SET SESSION sql_mode = ''", false},
		{"SET autocommit = 0", false},
		{"USE db", false},
		{"SET STATEMENT max_statement_time = 1 FOR UPDATE t SET a = 1", false},
		{"INSERT INTO t VALUES (1); UPDATE t SET a = 2", false},
		{"", false}, /* runs nothing */
		/* May: explicit and implicit commits, and what sluice cannot see into. */
		{"COMMIT", true},
		{"COMMIT WORK AND CHAIN", true},
		{"BEGIN", true},
		{"START TRANSACTION READ ONLY", true},
		{"SET autocommit = 1", true},
		{"SET autocommit = 1; SET autocommit = 0", true},
		{"CREATE TABLE t (a INT)", true},
		{"CREATE TEMPORARY TABLE t (a INT)", true},
		{"ALTER TABLE t ADD b INT", true},
		{"DROP TABLE t", true},
		{"TRUNCATE TABLE t", true},
		{"RENAME TABLE t TO u", true},
		{"LOCK TABLES t WRITE", true},
		{"UNLOCK TABLES", true},
		{"GRANT SELECT ON *.* TO u", true},
		{"LOAD INDEX INTO CACHE t", true},
		{"ANALYZE TABLE t", true},
		{"FLUSH TABLES", true},
		{"XA COMMIT 'x'", true},
		{"CALL p()", true},
		{"EXECUTE s", true},
		{"INSERT INTO t VALUES (1); COMMIT", true},
		{"BEGIN NOT ATOMIC INSERT INTO t VALUES (1); COMMIT; END", true},
		{"frobnicate", true},
		{"INSERT INTO t VALUES ('unterminated", true},
	};
	struct classify_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_case("%s", cases[i].sql);
		classify(cases[i].sql, strlen(cases[i].sql), false, false, &r);
		CHECK_EQ_INT(r.may_commit, cases[i].may_commit);
	}
}

int main(void)
{
	static const struct check_test tests[] = {
		{"classify table", test_rows},
		{"every prefix", test_prefixes},
		{"random mutations", test_mutations},
		{"1 MB texts", test_large},
		{"builtin table", test_builtins},
		{"names", test_names},
		{"NULL text", test_null},
		{"KILL", test_kill},
		{"temporary table keys", test_table_keys},
		{"statements that may commit", test_may_commit},
	};
	return CHECK_RUN(tests);
}
