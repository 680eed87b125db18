// The floor under `undo` of the bulk reset: the least a Node program built on mysql2 pays to put
// back what bench/floor-reset.cjs journalled — Node's start, mysql2 (this project's trimmed bundle,
// from the V8 code cache), the journal file read and parsed, then set-based in one transaction: the
// previous values sent into a temporary table by multi-row INSERTs of 5 000 rows, one
// UPDATE … JOIN, COMMIT. No compare-and-set, no activity log, no checks. Not a competitor.
//   node bench/floor-undo.cjs <pkg dir> <host> <port> <user> <database> <journal file>
'use strict';
const fs = require('node:fs');
const [pkg, host, port, user, database, journal] = process.argv.slice(2);
require(`${pkg}/bin/compile-cache.js`);
const mysql = require(`${pkg}/dist/vendor/mysql2.cjs`);

(async () => {
  const rows = fs
    .readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const j = JSON.parse(line);
      return [j.k.id, j.b.second_factor, j.b.second_factor_config];
    });
  const c = await mysql.createConnection({ host, port: Number(port), user, password: process.env.MYSQL_PWD ?? '', database }).promise();
  await c.query('CREATE TEMPORARY TABLE floor_undo (id INT UNSIGNED NOT NULL PRIMARY KEY, second_factor VARCHAR(255) NOT NULL, second_factor_config TEXT NULL)');
  await c.query('BEGIN');
  for (let i = 0; i < rows.length; i += 5000) await c.query('INSERT INTO floor_undo VALUES ?', [rows.slice(i, i + 5000)]);
  const [r] = await c.query('UPDATE tblusers u JOIN floor_undo f ON f.id = u.id SET u.second_factor = f.second_factor, u.second_factor_config = f.second_factor_config');
  await c.query('COMMIT');
  process.stdout.write(`${JSON.stringify({ rows: r.affectedRows })}\n`);
  await c.end();
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
