// tests/clients/clients.js -- Node mysql2 through sluice (tests/test_clients.py runs it).
// Two sessions at once, interleaved: server-side prepared SELECTs (execute()) with the same and
// different texts, a time_zone per session read back each round (query()), a rolled back
// transaction, AUTO_INCREMENT inserts against LAST_INSERT_ID(), CURRENT_USER(). One JSON line
// per result on stdout; the test checks them. Usage: node clients.js HOST PORT USER PASSWORD DB BASE
'use strict';
const mysql = require('mysql2/promise');

const [host, port, user, password, database, base] = process.argv.slice(2);
const ROUNDS = 32;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const SA = 'SELECT v, ? FROM clients_t WHERE id = ?';
const SB = 'SELECT v + 1, ? FROM clients_t WHERE id = ?';
const TZ = '/* sluice:primary */ SELECT @@time_zone, CONNECTION_ID()';

async function connect() {
  return mysql.createConnection({ host, port: Number(port), user, password, database,
                                  rowsAsArray: true, connectTimeout: 20000 });
}

async function tz(c, sess, round) {
  const [rows] = await c.query(TZ);
  out({ ev: 'tz', sess, round, tz: rows[0][0], cid: Number(rows[0][1]) });
}

async function settle(c, sess) {
  // An insert keeps its node connection for a few statements (for LAST_INSERT_ID()); with
  // one connection per node the other session waits for it, so this one goes on first.
  for (let k = 0; k < 5; k++) await tz(c, sess, 'settle');
}

async function main() {
  const a = await connect();
  const b = await connect();
  const sessions = { a, b };
  for (const [sess, c] of Object.entries(sessions)) {
    const [rows] = await c.query('SELECT CURRENT_USER()');
    const [prows] = await c.execute('SELECT CURRENT_USER(), ?', [sess]);
    out({ ev: 'user', sess, current_user: rows[0][0], prepared: prows[0][0] });
  }
  await a.query("SET time_zone = '+01:00'");
  await b.query("SET time_zone = '+05:30'");
  // [session, statement text, statement name, tag]: sa on a, sb and sc (a's text) on b.
  const stmts = [[a, 'a', SA, 'sa', 'a'], [b, 'b', SB, 'sb', 'b'], [b, 'b', SA, 'sc', 'c']];
  for (let i = 1; i <= ROUNDS; i++) {
    for (const [c, sess, sql, stmt, tag] of stmts) {
      const id = (i * 7) % 100 + 1;
      const [rows] = await c.execute(sql, [tag, id]);
      out({ ev: 'prep', sess, round: i, stmt, id, row: rows[0] });
    }
    await tz(a, 'a', i);
    await tz(b, 'b', i);
    if (i === 16) {
      // a changes its time zone and closes sa, then prepares it again.
      await a.query("SET time_zone = '-03:00'");
      a.unprepare(SA);
      await a.prepare(SA);
    }
  }
  for (const [sess, c] of Object.entries(sessions)) {
    const key = Number(base) + (sess === 'a' ? 1 : 2);
    await c.query('BEGIN');
    await c.query('INSERT INTO clients_tx (id, who) VALUES (?, ?)', [key, sess]);
    const [inside] = await c.execute('SELECT who FROM clients_tx WHERE id = ?', [key]);
    await c.query('ROLLBACK');
    const [after] = await c.execute('SELECT COUNT(*) FROM clients_tx WHERE id = ?', [key]);
    out({ ev: 'trx', sess, inside: inside.map((r) => r[0]), after: Number(after[0][0]) });
  }
  for (const [sess, c] of Object.entries(sessions)) {
    for (const how of ['text', 'prepared']) {
      const who = `${sess}-${how}-${base}`;
      const [res] = how === 'text'
        ? await c.query(`INSERT INTO clients_ai (who) VALUES ('${who}')`)
        : await c.execute('INSERT INTO clients_ai (who) VALUES (?)', [who]);
      const [lid] = await c.query('SELECT LAST_INSERT_ID()');
      const [row] = await c.execute('SELECT who FROM clients_ai WHERE id = ?', [res.insertId]);
      out({ ev: 'insert', sess, how, who, insert_id: Number(res.insertId),
            last_insert_id: Number(lid[0][0]), row_who: row.length ? row[0][0] : null });
      await settle(c, sess);
    }
  }
  await tz(a, 'a', 'end');
  await tz(b, 'b', 'end');
  await a.end();
  await b.end();
  out({ ev: 'done' });
}

main().catch((e) => {
  out({ ev: 'error', message: String(e && e.message), code: e && e.code, sql: e && e.sql });
  process.exit(1);
});
