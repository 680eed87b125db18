// The floor under `status`: what any Node program built on mysql2 pays to run the baseline's
// aggregates — Node's start, mysql2 loaded (this project's trimmed bundle, from the V8 code cache:
// the cheapest way there is), one connection, the four statements in one round trip. Not a
// competitor: if this alone misses the target, no Node tool on this stack can meet it here.
//   node bench/floor-status.cjs <pkg dir> <host> <port> <user> <database>
'use strict';
const [pkg, host, port, user, database] = process.argv.slice(2);
require(`${pkg}/bin/compile-cache.js`);
const mysql = require(`${pkg}/dist/vendor/mysql2.cjs`);

const sql = [
  "SELECT value FROM tblconfiguration WHERE setting = 'Version'",
  "SELECT id, value, updated_at FROM tblconfiguration WHERE setting = '2fasettings' ORDER BY id LIMIT 1",
  'SELECT authmodule AS module, COUNT(*) AS n, SUM(CASE WHEN disabled = 0 THEN 1 ELSE 0 END) AS active FROM tbladmins GROUP BY authmodule',
  'SELECT second_factor AS module, COUNT(*) AS n FROM tblusers GROUP BY second_factor',
].join('; ');
const c = mysql.createConnection({ host, port: Number(port), user, password: process.env.MYSQL_PWD ?? '', database, multipleStatements: true });
c.query(sql, (err, results) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(results[3])}\n`);
  c.end();
});
