// The floor under `accounts --users --format json`: the least a Node program built on mysql2 pays
// to write the same listing — Node's start, mysql2 (this project's trimmed bundle, from the V8 code
// cache), one connection; the client links read first by one plain scan into a Map, then the users
// streamed (the same two statements as the `mariadb` peer) and written as JSON in batches of 128
// straight to fd 1, indented by JSON.stringify itself. It reads every config but decodes none (no
// AES, no JSON or PHP parsing): what it prints is the tool's shape without configFormat, backupCode
// and flags. Not a competitor: if this alone misses the target, a Node tool on this stack that
// also decodes the configs will not meet it.
//   node bench/floor-accounts.cjs <pkg dir> <host> <port> <user> <database>
'use strict';
const fs = require('node:fs');
const [pkg, host, port, user, database] = process.argv.slice(2);
require(`${pkg}/bin/compile-cache.js`);
const mysql = require(`${pkg}/dist/vendor/mysql2.cjs`);

const c = mysql.createConnection({ host, port: Number(port), user, password: process.env.MYSQL_PWD ?? '', database });
const fail = (err) => {
  console.error(err.message);
  process.exit(1);
};
// Straight to fd 1 as a string (writeSync encodes it natively; a pipe may take less at a time).
const out = (text) => {
  const n = fs.writeSync(1, text);
  if (n < Buffer.byteLength(text)) {
    let buf = Buffer.from(text).subarray(n);
    while (buf.length) buf = buf.subarray(fs.writeSync(1, buf));
  }
};

const links = new Map();
c.query({ sql: 'SELECT auth_user_id, client_id, owner FROM tblusers_clients', rowsAsArray: true }, (err, rows) => {
  if (err) fail(err);
  for (const [u, cl, owner] of rows) {
    let l = links.get(u);
    if (!l) links.set(u, (l = { all: [], owned: [] }));
    l.all.push(cl);
    if (owner) l.owned.push(cl);
  }
  let batch = [];
  let first = true;
  const flush = () => {
    if (!batch.length) return;
    // Wrapped one level deeper, JSON.stringify indents the elements as they stand in the listing
    // (no second pass to re-indent them); the wrapper's brackets are cut off.
    const text = JSON.stringify([batch], null, 2);
    out((first ? '' : ',\n') + text.slice(6, -6));
    first = false;
    batch = [];
  };
  out('{\n  "users": [\n');
  c.query({ sql: 'SELECT id, email, second_factor, second_factor_config FROM tblusers', rowsAsArray: true })
    .on('error', fail)
    .on('result', ([id, email, module, config]) => {
      const l = links.get(id);
      batch.push({ id, email, module, enrolled: module !== '' && module !== '0' && config !== null, clientIds: l ? l.all : [], ownedClientIds: l ? l.owned : [] });
      if (batch.length === 128) flush();
    })
    .on('end', () => {
      flush();
      out('\n  ]\n}\n');
      c.end();
    });
});
