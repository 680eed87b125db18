// Peer for `clock-check`: one raw SNTP exchange (RFC 4330) with 127.0.0.1:<port>, the least a
// Node program can do to learn a clock offset. Prints the offset in seconds. CommonJS: an ES module
// would start Node's ESM loader, a few ms that would flatter the tool.
'use strict';
const { createSocket } = require('node:dgram');

const port = Number(process.argv[2] ?? 123);
const NTP_EPOCH = 2208988800;
const toNtp = (ms) => {
  const s = ms / 1000 + NTP_EPOCH;
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(s) >>> 0, 0);
  b.writeUInt32BE(Math.floor((s % 1) * 2 ** 32) >>> 0, 4);
  return b;
};
const fromNtp = (b, o) => (b.readUInt32BE(o) - NTP_EPOCH) * 1000 + (b.readUInt32BE(o + 4) / 2 ** 32) * 1000;

const socket = createSocket('udp4');
const req = Buffer.alloc(48);
req[0] = 0x23; // LI 0, version 4, mode 3 (client)
const t1 = Date.now();
toNtp(t1).copy(req, 40);
const timer = setTimeout(() => {
  console.error('no answer');
  process.exit(1);
}, 5000);
socket.on('message', (msg) => {
  const t4 = Date.now();
  const t2 = fromNtp(msg, 32);
  const t3 = fromNtp(msg, 40);
  clearTimeout(timer);
  socket.close();
  console.log(JSON.stringify({ offset: (t2 - t1 + (t3 - t4)) / 2000, stratum: msg[1] }));
});
socket.send(req, port, '127.0.0.1');
