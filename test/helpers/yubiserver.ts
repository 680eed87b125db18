/**
 * Debian's `yubiserver` as a real Yubico protocol 2.0 peer, with OTPs minted by libyubikey's `ykgenerate`.
 *
 * Quirks this works around (yubiserver 0.6):
 * - `yubiserver` always daemonizes: the process we spawn exits at once, and the server's PID is only
 *   found in its log ("… starting:<port>:<pid>") or in /proc.
 * - Started as root it switches to the `yubiserver` user (uid only; gid stays), so its database, the
 *   directory holding it (sqlite journal) and the log must be writable by that user.
 * - `yubiserver-admin` cannot create an empty database, so the schema of the package's
 *   yubiserver.sqlite.init is created here.
 * - It listens on 0.0.0.0 (no bind address option); only the port is ours to choose.
 * - API keys: `yubiserver-admin -p -a NAME <20 chars>` stores those 20 characters and prints their base64,
 *   which is the Secret Key a client uses (the HMAC key is the 20 raw characters).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openDb } from '../../src/whmcs/connection/db.js';

const run = promisify(execFile);

const SCHEMA = `
CREATE TABLE yubikeys(
 nickname varchar(16) unique not null,
 publicname varchar(16) unique not null,
 created varchar(24) not null,
 internalname varchar(12) not null,
 aeskey varchar(32) not null,
 active boolean default true,
 counter integer not null default 1,
 time integer not null default 1
);
CREATE TABLE oathtokens(
 nickname varchar(16) unique not null,
 publicname varchar(12) unique not null,
 created varchar(24) not null,
 secret varchar(40) not null,
 active boolean default true,
 counter integer not null default 1
);
CREATE TABLE apikeys(
 nickname varchar(16),
 secret varchar(28),
 id integer primary key
);
`;

export interface YubiKeyIdentity {
  /** 12 modhex characters that start every OTP of this key. */
  publicId: string;
  /** 6-byte private identity (hex), encrypted inside every OTP. */
  privateId: string;
  /** AES-128 key (hex). */
  aesKey: string;
}

export interface YubiserverPeer {
  url: string;
  port: number;
  pid: number;
  clientId: string;
  /** base64 Secret Key as yubiserver-admin printed it. */
  secretKey: string;
  key: YubiKeyIdentity;
  /** A fresh OTP from `key` (session counter increases each call). */
  nextOtp(): Promise<string>;
  /** An OTP with a valid structure from a key the server does not know. */
  foreignOtp(): Promise<string>;
  stop(): Promise<void>;
}

const MODHEX = 'cbdefghijklnrtuv';

function randomModhex(n: number): string {
  return [...randomBytes(n)].map((b) => MODHEX[b & 15]).join('');
}

async function ykgenerate(key: YubiKeyIdentity, counter: number): Promise<string> {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const low = randomBytes(2).readUInt16BE();
  const { stdout } = await run('ykgenerate', [key.aesKey, key.privateId, hex(counter, 4), hex(low, 4), '00', '00']);
  const token = stdout.trim();
  if (!/^[cbdefghijklnrtuv]{32}$/.test(token)) throw new Error(`ykgenerate printed an unexpected token: ${token}`);
  return key.publicId + token;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

function pidFromProc(dbPath: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('yubiserver') && argv.includes(dbPath)) return Number(entry);
    } catch {
      // processes come and go while we look
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startYubiserver(): Promise<YubiserverPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'whmcs2fa-yubiserver-'));
  chmodSync(dir, 0o777);
  const db = join(dir, 'yubiserver.sqlite');
  const log = join(dir, 'yubiserver.log');

  // Through the tool's own SQLite opener: node:sqlite or better-sqlite3, whichever this Node has.
  const handle = await openDb({ kind: 'sqlite', file: db, create: true });
  for (const statement of SCHEMA.split(';').filter((s) => s.trim())) await handle.knex.raw(statement);
  await handle.close();
  chmodSync(db, 0o666);

  const key: YubiKeyIdentity = {
    publicId: randomModhex(12),
    privateId: randomBytes(6).toString('hex'),
    aesKey: randomBytes(16).toString('hex'),
  };
  await run('yubiserver-admin', ['-b', db, '-y', '-a', 'whmcs2fa', key.publicId, key.privateId, key.aesKey]);
  // yubiserver-admin insists on exactly 20 characters; letters and digits keep it shell- and SQL-safe.
  const rawApiKey = randomBytes(20).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 20);
  const added = await run('yubiserver-admin', ['-b', db, '-p', '-a', 'whmcs2fa', rawApiKey]);
  const out = added.stdout + added.stderr;
  const secretKey = /New API key for '[^']*': (\S+)/.exec(out)?.[1];
  const clientId = /API key ID is: (\d+)/.exec(out)?.[1];
  if (!secretKey || !clientId) throw new Error(`unexpected yubiserver-admin output: ${out}`);

  let port = 0;
  let pid: number | null = null;
  for (let attempt = 0; attempt < 5 && pid === null; attempt++) {
    port = await freePort();
    rmSync(log, { force: true });
    await new Promise<void>((resolve, reject) => {
      const child = spawn('yubiserver', ['-p', String(port), '-d', db, '-l', log], { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', () => resolve());
    });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (text.includes('[ERROR]')) {
        // Most likely someone took the port between our probe and its bind: try another.
        break;
      }
      if (await canConnect(port)) {
        const m = new RegExp(`starting:${port}:(\\d+)`).exec(text);
        pid = m ? Number(m[1]) : pidFromProc(db);
        break;
      }
      await sleep(25);
    }
    if (pid === null) {
      // Do not leave a half-started daemon behind before trying another port.
      const stray = pidFromProc(db);
      if (stray !== null) process.kill(stray, 'SIGTERM');
    }
  }
  if (pid === null) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '(no log)';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`yubiserver did not start: ${text}`);
  }
  const serverPid = pid;

  let counter = 0;
  const foreign: YubiKeyIdentity = {
    publicId: randomModhex(12),
    privateId: randomBytes(6).toString('hex'),
    aesKey: randomBytes(16).toString('hex'),
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: serverPid,
    clientId,
    secretKey,
    key,
    nextOtp: () => ykgenerate(key, ++counter),
    foreignOtp: () => ykgenerate(foreign, 1),
    async stop() {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 100 && (await canConnect(port)); i++) await sleep(20);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
