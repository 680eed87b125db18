// The floor under `clock-check` as a user runs it (a WHMCS configured, one NTP server): the least a
// Node program built on mysql2 pays for the same two answers — one raw SNTP exchange (RFC 4330)
// with 127.0.0.1:<ntp port> and, at the same time, one connection to the database server and one
// read of its clock. No configuration.php reading, no samples, no verdict. Not a competitor.
//   node bench/floor-clock.cjs <pkg dir> <ntp port> <host> <port> <user> <database>
'use strict';
const { createSocket } = require('node:dgram');
const [pkg, ntpPort, host, port, user, database] = process.argv.slice(2);
require(`${pkg}/bin/compile-cache.js`);
const mysql = require(`${pkg}/dist/vendor/mysql2.cjs`);

const NTP_EPOCH = 2208988800;
const fromNtp = (b, o) => (b.readUInt32BE(o) - NTP_EPOCH) * 1000 + (b.readUInt32BE(o + 4) / 2 ** 32) * 1000;
const fail = (e) => {
  console.error(e.message);
  process.exit(1);
};

const ntp = new Promise((resolve, reject) => {
  const socket = createSocket('udp4');
  const req = Buffer.alloc(48);
  req[0] = 0x23;
  const timer = setTimeout(() => reject(new Error('no NTP answer')), 5000);
  socket.on('message', (msg) => {
    const t4 = Date.now();
    clearTimeout(timer);
    socket.close();
    resolve((fromNtp(msg, 32) - t1 + (fromNtp(msg, 40) - t4)) / 2000);
  });
  const t1 = Date.now();
  const s = t1 / 1000 + NTP_EPOCH;
  req.writeUInt32BE(Math.floor(s) >>> 0, 40);
  req.writeUInt32BE(Math.floor((s % 1) * 2 ** 32) >>> 0, 44);
  socket.send(req, Number(ntpPort), '127.0.0.1');
});
const db = new Promise((resolve, reject) => {
  const c = mysql.createConnection({ host, port: Number(port), user, password: process.env.MYSQL_PWD ?? '', database });
  c.query("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS us", (err, rows) => {
    const t = Date.now();
    c.end();
    if (err) reject(err);
    else resolve(t / 1000 - Number(rows[0].us) / 1e6);
  });
});
Promise.all([ntp, db]).then(([offset, dbOffset]) => process.stdout.write(`${JSON.stringify({ offset, dbOffset })}\n`), fail);
