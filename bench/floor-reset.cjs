// The floor under the bulk reset: the least a Node program built on mysql2 does to reset the
// rows AND keep an undo journal of them — Node's start, mysql2 (this project's trimmed bundle, from
// the V8 code cache), one transaction: read the rows' previous values FOR UPDATE, write them as
// JSON lines and fsync, one UPDATE, COMMIT. No batching, no activity log, no checks. Not a
// competitor: if this alone misses the target, a journalled reset on this stack cannot meet it.
//   node bench/floor-reset.cjs <pkg dir> <host> <port> <user> <database> <journal file>
'use strict';
const fs = require('node:fs');
const [pkg, host, port, user, database, journal] = process.argv.slice(2);
require(`${pkg}/bin/compile-cache.js`);
const mysql = require(`${pkg}/dist/vendor/mysql2.cjs`);

(async () => {
  const c = await mysql.createConnection({ host, port: Number(port), user, password: process.env.MYSQL_PWD ?? '', database }).promise();
  await c.query('BEGIN');
  const [rows] = await c.query("SELECT id, second_factor, second_factor_config FROM tblusers WHERE second_factor = 'duosecurity' FOR UPDATE");
  const a = { second_factor: '', second_factor_config: '' };
  const text = rows.map((r) => JSON.stringify({ t: 'tblusers', k: { id: r.id }, b: { second_factor: r.second_factor, second_factor_config: r.second_factor_config }, a })).join('\n') + '\n';
  const fd = fs.openSync(journal, 'w', 0o600);
  fs.writeSync(fd, text);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  await c.query("UPDATE tblusers SET second_factor = '', second_factor_config = '', updated_at = NOW() WHERE second_factor = 'duosecurity'");
  await c.query('COMMIT');
  process.stdout.write(`${JSON.stringify({ rows: rows.length })}\n`);
  await c.end();
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
