/**
 * The installation's history (`mod_whmcs2fa_journal`) and `undo`: one history per database from
 * any connection form and OS account, never another installation's; damaged and planted entries
 * refused naming the line with nothing written; undo stepping back by sequence (not wall clock);
 * re-applying only by id; set-based bulk undo with --skip-changed; attribution; and a COMMIT
 * whose reply is lost (a TCP proxy), SIGKILL at chosen writes, and a legacy file journal.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { BIN, runCli, type CliResult } from './helpers/cli.js';
import { createTestDb, describeBackends, MYSQL_OK, mysqlServer, tempDir, type TestDb } from './helpers/db.js';
import { describeWithPeer } from './helpers/peers.js';
import { changedTables, snapshotDb } from './helpers/snapshot.js';
import { historyEntries, historyRowCount, historyRows } from './helpers/history.js';
import { insertAdmin, insertUser } from '../src/whmcs/schema/seed.js';
import { HISTORY, PARTS, seal } from '../src/whmcs/history/journal.js';
import { legacyDir } from '../src/whmcs/history/journal-file.js';
import { openDb } from '../src/whmcs/connection/db.js';

const V812 = '8.12.1-release.1';
const CONFIG = (n: number) => `{"secret":"SECRET${n}","backupcode":"b${n}"}`;

async function seedAdmins(knex: Knex, n: number, prefix = 'adm'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await insertAdmin(knex, { username: `${prefix}${i}`, authmodule: 'totp', authdata: CONFIG(i) }));
  return ids;
}

async function seedUsers(knex: Knex, n: number, module = 'duosecurity', prefix = 'u'): Promise<void> {
  const now = '2026-01-01 00:00:00';
  const rows = Array.from({ length: n }, (_, i) => ({
    first_name: 'U', last_name: 'X', email: `${prefix}${i}@x.test`, password: '', language: '',
    second_factor: module, second_factor_config: i % 10 === 3 ? null : i % 10 === 7 ? '' : `{"n":${i}}`, created_at: now, updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += 200) await knex('tblusers').insert(rows.slice(i, i + 200));
}

async function usersDump(knex: Knex): Promise<string[]> {
  return ((await knex('tblusers').select('id', 'email', 'second_factor', 'second_factor_config').orderBy('id')) as Array<Record<string, unknown>>).map((r) => JSON.stringify(r));
}

/** A part of an entry, rewritten — as damage (any bytes) or as an insider with the hash would (sealed). */
async function rewritePart(knex: Knex, entryId: string, part: number, text: string | ((old: string) => string), ccHash?: string, raw = false): Promise<void> {
  const h = await knex(HISTORY).where({ id: entryId }).first('seq', 'enc');
  const p = await knex(PARTS).where({ seq: h.seq, part }).first('data');
  if (raw) {
    await knex(PARTS).where({ seq: h.seq, part }).update({ data: typeof text === 'string' ? text : text(String(p.data)) });
    return;
  }
  const s = seal(entryId, part, typeof text === 'string' ? text : text(''), ccHash);
  await knex(PARTS).where({ seq: h.seq, part }).update({ data: s.data, mac: s.mac, row_count: (typeof text === 'string' ? text : '').split('\n').filter(Boolean).length });
}

function expectOneError(r: CliResult, code: number, re: RegExp): void {
  const errs = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(errs, r.stderr).toHaveLength(1);
  expect(errs[0]).toMatch(re);
  expect(r.code, r.stderr).toBe(code);
}

describeBackends('history in the installation', (backend) => {
  let t: TestDb;
  let ids: number[];
  const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(['--whmcs-dir', t.whmcsDir, ...args], { env });
  beforeAll(async () => {
    t = await createTestDb(backend, '8', V812);
    ids = await seedAdmins(t.knex, 4);
  }, 60_000);
  afterAll(() => t?.drop());

  it('is written in the database with the change, sealed and encrypted, and read the same from another connection form and another state directory', async () => {
    const r = await cli(['reset', '--admin', 'adm0', '--reason', 'lost phone', '--yes', '--format', 'json'], { XDG_STATE_HOME: tempDir() });
    expect(r.code, r.stderr).toBe(0);
    const id = r.json.journalId as string;
    const [entry] = await historyEntries(t.knex, t.ccHash);
    expect(entry).toMatchObject({ id, command: 'reset', reason: 'lost phone', rows: 1, parts: 1, encrypted: true, source: 'db' });
    // The old secret is in the history only encrypted.
    const raw = await t.knex(PARTS).where({ seq: entry!.seq }).first('data');
    expect(String(raw.data)).not.toContain('SECRET0');
    expect(await historyRows(t.knex, t.ccHash, id)).toEqual([
      { table: 'tbladmins', key: { id: ids[0] }, before: { authmodule: 'totp', authdata: CONFIG(0) }, after: { authmodule: '', authdata: '' }, identity: { username: 'adm0' } },
    ]);
    // Another connection form (URL + the hash from the environment), another HOME and state directory.
    const env = { WHMCS_CC_ENCRYPTION_HASH: t.ccHash, XDG_STATE_HOME: tempDir(), HOME: tempDir() };
    const list = await runCli(['--db', t.url, 'undo', '--list', '--format', 'json'], { env });
    expect(list.code, list.stderr).toBe(0);
    expect(list.json.entries.map((e: { id: string }) => e.id)).toEqual([id]);
    expect(list.json.entries[0]).toMatchObject({ committed: true, undoneBy: null, rows: 1, seq: entry!.seq });
    // Without the hash the encrypted entry cannot be read: exit 6, nothing written.
    const noHash = await runCli(['--db', t.url, 'undo', '--yes'], { env: { ...env, WHMCS_CC_ENCRYPTION_HASH: undefined } });
    expectOneError(noHash, 6, /encrypted with cc_encryption_hash/);
    const u = await runCli(['--db', t.url, 'undo', '--yes', '--reason', 'found it', '--format', 'json'], { env });
    expect(u.code, u.stderr).toBe(0);
    expect(u.json).toMatchObject({ undone: { id, command: 'reset' }, changed: true, rowsRestored: 1, reapplied: false });
    expect(await t.knex('tbladmins').where({ id: ids[0] }).first('authmodule', 'authdata')).toEqual({ authmodule: 'totp', authdata: CONFIG(0) });
  });

  it('steps back through the changes by sequence; a second undo never re-applies; re-applying takes the undo\'s id; prefixes', async () => {
    const made: string[] = [];
    for (const who of ['adm1', 'adm2', 'adm3']) {
      const r = await cli(['reset', '--admin', who, '--reason', 'r', '--yes', '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      made.push(r.json.journalId);
    }
    const undone: string[] = [];
    for (let i = 0; i < 3; i++) {
      const u = await cli(['undo', '--yes', '--format', 'json']);
      expect(u.code, u.stderr).toBe(0);
      undone.push(u.json.undone.id);
    }
    expect(undone).toEqual([...made].reverse());
    for (const [i, who] of ['adm1', 'adm2', 'adm3'].entries()) {
      expect(await t.knex('tbladmins').where({ username: who }).first('authdata')).toEqual({ authdata: CONFIG(i + 1) });
    }
    // Everything is undone (the first test's change too): plain undo says so, exit 3, and writes nothing.
    const before = await snapshotDb(t.knex);
    expectOneError(await cli(['undo', '--yes']), 3, /every recorded change has already been undone/);
    // Undoing an already undone change by id is refused and names the undo that re-applies it.
    const again = await cli(['undo', made[0]!, '--yes']);
    expectOneError(again, 4, new RegExp(`already undone by \\S+ — to re-apply it, \`whmcs-2fa undo \\S+\``));
    expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
    // Re-apply: undo the undo, by its id.
    const list = (await cli(['undo', '--list', '--format', 'json'])).json.entries as Array<{ id: string; undoOf: string | null; undoneBy: string | null }>;
    const undoOfFirst = list.find((e) => e.undoOf === made[0])!;
    const re = await cli(['undo', undoOfFirst.id, '--yes', '--format', 'json']);
    expect(re.code, re.stderr).toBe(0);
    expect(re.json).toMatchObject({ reapplied: true, changed: true, rowsRestored: 1 });
    expect(await t.knex('tbladmins').where({ username: 'adm1' }).first('authmodule')).toEqual({ authmodule: '' });
    const after = (await cli(['undo', '--list', '--format', 'json'])).json.entries as Array<{ id: string; undoneBy: string | null }>;
    expect(after.find((e) => e.id === made[0])!.undoneBy).toBeNull();
    // …so plain undo now takes that change back again.
    const back = await cli(['undo', '--yes', '--format', 'json']);
    expect(back.json.undone.id).toBe(made[0]);
    // An ambiguous prefix lists the candidates (exit 3); a unique one works.
    const prefix = made[0]!.slice(0, 8);
    const amb = await cli(['undo', prefix, '--dry-run', '--format', 'json']);
    expect(amb.code).toBe(3);
    expect(amb.json.error.message).toMatch(/matches \d+ changes/);
    expect(amb.json.error.details.candidates.length).toBeGreaterThan(1);
    expect(amb.json.error.details.candidates[0]).toHaveProperty('command');
    expectOneError(await cli(['undo', 'nope-nope']), 3, /no change "nope-nope"/);
  });

  it('a damaged, planted or foreign entry is refused naming part and line; nothing is written', async () => {
    const r = await cli(['reset', '--admin', 'adm2', '--reason', 'r', '--yes', '--format', 'json']);
    const id = r.json.journalId as string;
    const good = JSON.stringify({ t: 'tbladmins', k: { id: ids[2] }, b: { authmodule: 'totp', authdata: CONFIG(2) }, a: { authmodule: '', authdata: '' } });
    const cases: Array<[string, () => Promise<void>, RegExp]> = [
      ['bytes changed (no hash)', () => rewritePart(t.knex, id, 1, (d) => d.slice(0, 30) + (d[30] === 'A' ? 'B' : 'A') + d.slice(31), undefined, true), /part 1: (its seal does not match|does not decrypt)/],
      ['a planted column', () => rewritePart(t.knex, id, 1, JSON.stringify({ t: 'tbladmins', k: { id: ids[0] }, b: { password: 'x' }, a: { password: 'y' } }) + '\n', t.ccHash), /part 1 line 1: column "password" is not one whmcs-2fa writes/],
      ['another database', () => rewritePart(t.knex, id, 1, good + '\n' + JSON.stringify({ t: 'otherdb.tbladmins', k: { id: 1 }, b: { authmodule: '' }, a: { authmodule: 'x' } }) + '\n', t.ccHash), /part 1 line 2: table "otherdb.tbladmins" is not one whmcs-2fa writes/],
      ['a damaged line in the middle', () => rewritePart(t.knex, id, 1, good + '\n{"t":"tbladm\n' + good + '\n', t.ccHash), /part 1 line 2: not JSON/],
      ['a settings row that is not 2FA', () => rewritePart(t.knex, id, 1, JSON.stringify({ t: 'tblconfiguration', k: { setting: 'SystemURL' }, b: null, a: { value: 'x' } }) + '\n', t.ccHash), /key setting=SystemURL is not one whmcs-2fa writes/],
    ];
    for (const [name, damage, re] of cases) {
      await damage();
      const before = await snapshotDb(t.knex);
      const u = await cli(['undo', id, '--yes']);
      expectOneError(u, 4, re);
      expect(u.stderr, name).toContain(`refusing to undo ${id}; nothing was restored`);
      expect(changedTables(before, await snapshotDb(t.knex)), name).toEqual([]);
    }
  });

  it('a row that is now another account is not restored; --skip-changed restores the others and lists the rest', async () => {
    const base = await seedAdmins(t.knex, 3, 'sk');
    const r = await cli(['reset', '--module', 'totp', '--admins', '--reason', 'r', '--yes', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.json.journalId as string;
    // One row now belongs to someone else (same id, other username), one was changed since.
    await t.knex('tbladmins').where({ id: base[0] }).update({ username: 'intruder' });
    await t.knex('tbladmins').where({ id: base[1] }).update({ authmodule: 'yubico' });
    const before = await snapshotDb(t.knex);
    const refused = await cli(['undo', id, '--yes', '--format', 'json']);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.json.error.message).toMatch(/2 rows were changed after it .*another account.*nothing was restored; `--skip-changed`/);
    expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
    const u = await cli(['undo', id, '--yes', '--skip-changed', '--format', 'json']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.json.rowsSkipped).toBe(2);
    expect(u.json.skippedRows).toEqual(
      expect.arrayContaining([
        { table: 'tbladmins', id: base[0], why: 'other-account' },
        { table: 'tbladmins', id: base[1], why: 'changed' },
      ]),
    );
    expect(u.stderr).toMatch(/^Warning: 2 rows left as they are/m);
    expect(await t.knex('tbladmins').where({ id: base[2] }).first('authmodule', 'authdata')).toEqual({ authmodule: 'totp', authdata: CONFIG(2) });
    expect(await t.knex('tbladmins').where({ id: base[0] }).first('authmodule')).toEqual({ authmodule: '' });
    expect(await t.knex('tbladmins').where({ id: base[1] }).first('authmodule')).toEqual({ authmodule: 'yubico' });
  });

  it('the activity log names who ran each command (undo: the undoing operator, with --reason); SUDO_USER cannot inject text', async () => {
    const r = await cli(['reset', '--admin', 'adm3', '--reason', 'real reason', '--yes', '--format', 'json'], { SUDO_USER: 'mallory - Reason: approved by the CEO\n2nd line' });
    expect(r.code, r.stderr).toBe(0);
    const log = await t.knex('tblactivitylog').orderBy('id', 'desc').first('description');
    expect(log.description).not.toMatch(/[\n\r]/);
    expect(log.description.split(' - Reason: ')).toHaveLength(2);
    expect(log.description).toMatch(/ - Reason: real reason$/);
    const [entry] = (await historyEntries(t.knex, t.ccHash)).slice(-1);
    expect(entry!.operator).not.toMatch(/[\n\r]| - Reason/);
    const u = await cli(['undo', r.json.journalId, '--reason', 'rolled back', '--yes']);
    expect(u.code, u.stderr).toBe(0);
    const undoLog = await t.knex('tblactivitylog').orderBy('id', 'desc').first('description');
    expect(undoLog.description).toMatch(new RegExp(`undid change ${r.json.journalId} \\(.*, made by ${entry!.operator.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\), 1 row restored by whmcs-2fa CLI \\(OS user [^)]+\\) - Reason: rolled back$`));
  });
});

describeBackends('bulk undo, set-based', (backend) => {
  let t: TestDb;
  const N = 2600;
  const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args], { timeoutMs: 120_000 });
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    await seedUsers(t.knex, N);
  }, 120_000);
  afterAll(() => t?.drop());

  it('refuses over changed rows listing them, --skip-changed restores exactly the others, re-applying follows the reference', async () => {
    const before = await usersDump(t.knex);
    const r = await cli(['reset', '--module', 'duosecurity', '--users', '--batch-size', '1000', '--yes', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.rowsReset).toBe(N);
    const id = r.json.journalId as string;
    const all: number[] = await t.knex('tblusers').orderBy('id').pluck('id');
    const [reEnrolled, renamed, gone] = [all[10]!, all[1500]!, all[2500]!];
    await t.knex('tblusers').where({ id: reEnrolled }).update({ second_factor: 'totp', second_factor_config: '{"x":1}' });
    await t.knex('tblusers').where({ id: renamed }).update({ email: 'someone-else@x.test' });
    await t.knex('tblusers').where({ id: gone }).delete();
    const mid = await snapshotDb(t.knex);
    const refused = await cli(['undo', id, '--yes', '--format', 'json']);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.json.error.message).toMatch(new RegExp(`3 rows were changed after it \\(tblusers ids ${reEnrolled} \\(changed\\), ${renamed} \\(other-account\\), ${gone} \\(missing\\)\\) — nothing was restored`));
    expect(changedTables(mid, await snapshotDb(t.knex))).toEqual([]);
    const dry = await cli(['undo', id, '--skip-changed', '--dry-run', '--format', 'json']);
    expect(dry.json).toMatchObject({ changed: false, dryRun: true, rowsRestored: N - 3, rowsSkipped: 3 });
    expect(changedTables(mid, await snapshotDb(t.knex))).toEqual([]);
    const u = await cli(['undo', id, '--skip-changed', '--yes', '--format', 'json']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.json).toMatchObject({ changed: true, rowsRestored: N - 3, rowsSkipped: 3 });
    expect(u.json.skippedRows).toEqual([
      { table: 'tblusers', id: reEnrolled, why: 'changed' },
      { table: 'tblusers', id: renamed, why: 'other-account' },
      { table: 'tblusers', id: gone, why: 'missing' },
    ]);
    const now = await usersDump(t.knex);
    const keep = (rows: string[]) => rows.filter((l) => ![reEnrolled, renamed, gone].includes(JSON.parse(l).id));
    expect(keep(now)).toEqual(keep(before));
    // The undo's history is a reference, read back as the restored rows inverted.
    const undoRows = await historyRows(t.knex, t.ccHash, u.json.journalId);
    expect(undoRows).toHaveLength(N - 3);
    expect(undoRows[0]!.after).toEqual({ second_factor: 'duosecurity', second_factor_config: JSON.parse(before[0]!).second_factor_config });
    // Re-applying the bulk change: undo of the undo, set-based again.
    const re = await cli(['undo', u.json.journalId, '--yes', '--format', 'json']);
    expect(re.code, re.stderr).toBe(0);
    expect(re.json).toMatchObject({ reapplied: true, rowsRestored: N - 3 });
    expect(Number((await t.knex('tblusers').where({ second_factor: 'duosecurity' }).count({ n: '*' }).first())!.n)).toBe(0);
  }, 180_000);
});

/** A MySQL-protocol proxy that, once armed, sees the next COMMIT and either drops the reply or the COMMIT itself. */
async function commitProxy(target: { host: string; port: number }, mode: 'drop-reply' | 'drop-commit' | 'drop-reply-and-close') {
  let armed = true;
  const servers: net.Socket[] = [];
  const clients: net.Socket[] = [];
  const srv = net.createServer((client) => {
    clients.push(client);
    const server = net.connect(target.port, target.host);
    servers.push(server);
    let buf = Buffer.alloc(0);
    let dropping = false;
    server.on('data', (d) => {
      if (dropping) {
        // The server answered the COMMIT (it committed): the client never hears it.
        client.destroy();
        return;
      }
      client.write(d);
    });
    client.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUIntLE(0, 3);
        if (buf.length < 4 + len) break;
        const packet = buf.subarray(0, 4 + len);
        buf = buf.subarray(4 + len);
        const isCommit = len > 1 && packet[4] === 0x03 && /^COMMIT;?$/i.test(packet.subarray(5).toString('latin1').trim());
        if (armed && isCommit) {
          armed = false;
          if (mode === 'drop-commit') {
            client.destroy();
            server.destroy();
            return;
          }
          // The way back is gone for good: no new connection gets through either.
          if (mode === 'drop-reply-and-close') {
            srv.close();
            for (const c of clients) if (c !== client) c.destroy();
          }
          dropping = true;
        }
        server.write(packet);
      }
    });
    client.on('error', () => {});
    server.on('error', () => {});
    client.on('close', () => {
      if (!dropping) server.destroy();
    });
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  return {
    port: (srv.address() as net.AddressInfo).port,
    get armed() {
      return armed;
    },
    close: () => {
      for (const s of servers) s.destroy();
      srv.close();
    },
  };
}

describeBackends(
  'lost COMMIT reply (TCP proxy)',
  () => {
    let t: TestDb;
    let ids: number[];
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', V812);
      ids = await seedAdmins(t.knex, 3, 'lc');
    }, 60_000);
    afterAll(() => t?.drop());
    const viaProxy = (port: number) => t.url.replace(/:\d+\//, `:${port}/`);

    it('COMMIT forwarded, reply dropped: finds out it committed, says so, keeps the history (exit 0)', async () => {
      const proxy = await commitProxy(mysqlServer() as { host: string; port: number }, 'drop-reply');
      try {
        const r = await runCli(['--db', viaProxy(proxy.port), 'reset', '--admin', 'lc0', '--reason', 'r', '--yes', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash } });
        expect(proxy.armed).toBe(false);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/^Warning: the connection failed at COMMIT; checked after reconnecting: the change WAS committed \(history entry \S+\)$/m);
        expect(r.json).toMatchObject({ changed: true });
        expect(await t.knex('tbladmins').where({ id: ids[0] }).first('authmodule')).toEqual({ authmodule: '' });
        const [e] = (await historyEntries(t.knex, t.ccHash)).filter((x) => x.id === r.json.journalId);
        expect(e).toMatchObject({ rows: 1, command: 'reset' });
        // …and it is undoable.
        const u = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', r.json.journalId, '--yes']);
        expect(u.code, u.stderr).toBe(0);
        expect(await t.knex('tbladmins').where({ id: ids[0] }).first('authdata')).toEqual({ authdata: CONFIG(0) });
      } finally {
        proxy.close();
      }
    });

    it('COMMIT never arrives: finds out nothing was committed, says so (exit 5), no history entry', async () => {
      const proxy = await commitProxy(mysqlServer() as { host: string; port: number }, 'drop-commit');
      try {
        const before = await snapshotDb(t.knex);
        const r = await runCli(['--db', viaProxy(proxy.port), 'reset', '--admin', 'lc1', '--reason', 'r', '--yes'], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash } });
        expect(proxy.armed).toBe(false);
        expectOneError(r, 5, /the connection failed at COMMIT .*; checked after reconnecting: the change was NOT committed — nothing was written/);
        expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
      } finally {
        proxy.close();
      }
    });

    it('COMMIT forwarded, reply dropped, no way back: exit 9 naming the entry, which is there exactly if it committed', async () => {
      const proxy = await commitProxy(mysqlServer() as { host: string; port: number }, 'drop-reply-and-close');
      try {
        const r = await runCli(['--db', viaProxy(proxy.port), 'reset', '--admin', 'lc2', '--reason', 'r', '--yes', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash }, timeoutMs: 100_000 });
        expect(proxy.armed).toBe(false);
        expectOneError(r, 9, /the connection failed at COMMIT .* and whether the change was committed could not be found out — run `whmcs-2fa undo --list` when the database is back: entry (\S+) is there exactly if it was$/);
        const id = r.json.error.details.journalId as string;
        // The server did get the COMMIT: the change and its entry are there.
        expect(await t.knex('tbladmins').where({ id: ids[2] }).first('authmodule')).toEqual({ authmodule: '' });
        expect((await historyEntries(t.knex, t.ccHash)).map((e) => e.id)).toContain(id);
      } finally {
        proxy.close();
      }
    }, 150_000);

    it('a bulk batch whose COMMIT reply is lost is counted as committed and its rows are in the history', async () => {
      await seedUsers(t.knex, 300, 'duosecurity', 'lc');
      const proxy = await commitProxy(mysqlServer() as { host: string; port: number }, 'drop-reply');
      try {
        const r = await runCli(['--db', viaProxy(proxy.port), 'reset', '--module', 'duosecurity', '--users', '--batch-size', '100', '--yes', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash }, timeoutMs: 100_000 });
        expect(proxy.armed).toBe(false);
        // The run stops or goes on, but the history always equals what the database holds.
        const resetIds: number[] = await t.knex('tblusers').where({ second_factor: '' }).orderBy('id').pluck('id');
        const entries = (await historyEntries(t.knex, t.ccHash)).filter((e) => e.command === 'reset' && e.summary.includes('bulk'));
        expect(entries).toHaveLength(1);
        const rows = await historyRows(t.knex, t.ccHash, entries[0]!.id);
        expect(rows.map((x) => Number(x.key.id))).toEqual(resetIds);
        expect(resetIds.length).toBeGreaterThanOrEqual(100);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/^Warning: the connection failed at the COMMIT of batch 1; checked after reconnecting: it WAS committed$/m);
        expect(r.json.rowsReset).toBe(300);
      } finally {
        proxy.close();
      }
    }, 150_000);
  },
  ['mysql'],
);

describeBackends(
  'SIGKILL at chosen writes',
  () => {
    let t: TestDb;
    let locker: Knex;
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', V812);
      await seedAdmins(t.knex, 2, 'k');
      await seedUsers(t.knex, 500, 'duosecurity');
      locker = (await openDb({ ...mysqlServer(), database: t.url.split('/').pop()! })).knex;
      // The history tables exist from an earlier change, so they can be locked.
      expect((await runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--admins', 'on', '--yes'])).code).toBe(0);
    }, 60_000);
    afterAll(async () => {
      await locker?.destroy();
      await t?.drop();
    });

    const dbName = () => t.url.split('/').pop()!;
    /** The server rolls a killed client's session back; wait until it is gone before comparing. */
    async function deadSessionGone(): Promise<void> {
      for (let i = 0; i < 200; i++) {
        const r = (await t.knex.raw(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'`, [dbName()])) as [Array<{ n: number }>];
        if (Number(r[0][0]!.n) === 0) return;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    async function blockedOn(pattern: string): Promise<void> {
      for (let i = 0; i < 600; i++) {
        const r = (await t.knex.raw(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE ?`, [dbName(), pattern])) as [Array<{ n: number }>];
        if (Number(r[0][0]!.n) > 0) return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`the tool never blocked on ${pattern}`);
    }

    // `reset` reads the activity log before it writes (does the reset void a backup code just
    // issued?), so the activity-log lock is met by `enforce`, which only writes it.
    for (const [what, table, pattern, args] of [
      ['the activity-log insert', 'tblactivitylog', 'insert into `tblactivitylog`%', ['enforce', '--clients', 'on', '--yes']],
      ['the history part insert', PARTS, `insert into \`${PARTS}\`%`, ['reset', '--admin', 'k1', '--reason', 'r', '--yes']],
    ] as const) {
      it(`killed while blocked on ${what}: neither the change nor its history`, async () => {
        const before = await snapshotDb(t.knex);
        const conn = await (locker.client as { acquireConnection(): Promise<{ query(s: string, cb: (e: unknown) => void): void }> }).acquireConnection();
        await new Promise<void>((res, rej) => conn.query(`LOCK TABLES \`${table}\` WRITE`, (e) => (e ? rej(e) : res())));
        const child = spawn(process.execPath, [BIN, '--whmcs-dir', t.whmcsDir, ...args], { stdio: 'ignore', env: { ...process.env, XDG_STATE_HOME: tempDir() } });
        const exited = new Promise((res) => child.on('close', res));
        try {
          await blockedOn(pattern);
          child.kill('SIGKILL');
          await exited;
        } finally {
          await new Promise<void>((res) => conn.query('UNLOCK TABLES', () => res()));
          await locker.client.releaseConnection(conn);
        }
        await deadSessionGone();
        expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
      });
    }

    it('a bulk run killed while blocked in a later batch: the history holds exactly the committed batches', async () => {
      await seedUsers(t.knex, 6000, 'duosecurity', 'big');
      const child = spawn(process.execPath, [BIN, '--whmcs-dir', t.whmcsDir, 'reset', '--module', 'duosecurity', '--users', '--batch-size', '50', '--yes'], { stdio: 'ignore', env: { ...process.env, XDG_STATE_HOME: tempDir() } });
      const exited = new Promise((res) => child.on('close', res));
      const conn = await (locker.client as { acquireConnection(): Promise<{ query(s: string, cb: (e: unknown) => void): void }> }).acquireConnection();
      try {
        // A few batches commit, then the activity log is locked: a later batch blocks on its insert.
        for (let i = 0; i < 1200 && (await historyRowCount(t.knex)) < 150; i++) await new Promise((res) => setTimeout(res, 25));
        await new Promise<void>((res, rej) => conn.query('LOCK TABLES `tblactivitylog` WRITE', (e) => (e ? rej(e) : res())));
        await blockedOn('insert into `tblactivitylog`%');
        child.kill('SIGKILL');
        await exited;
      } finally {
        await new Promise<void>((res) => conn.query('UNLOCK TABLES', () => res()));
        await locker.client.releaseConnection(conn);
      }
      await deadSessionGone();
      const resetIds: number[] = await t.knex('tblusers').where({ second_factor: '' }).orderBy('id').pluck('id');
      expect(resetIds.length).toBeGreaterThanOrEqual(150);
      expect(resetIds.length % 50).toBe(0);
      const entry = (await historyEntries(t.knex, t.ccHash)).find((e) => e.summary.includes('bulk'))!;
      expect(entry).toMatchObject({ rows: resetIds.length, parts: resetIds.length / 50 });
      expect((await historyRows(t.knex, t.ccHash, entry.id)).map((r) => Number(r.key.id))).toEqual(resetIds);
    }, 120_000);
  },
  ['mysql'],
);

describeWithPeer(['runuser'], 'two OS users, two connection forms, one history', () => {
  let t: TestDb;
  beforeAll(async () => {
    if (!MYSQL_OK) return;
    t = await createTestDb('mysql', '8', V812);
    await seedAdmins(t.knex, 2, 'ou');
  }, 60_000);
  afterAll(() => t?.drop());
  // This suite's Node if nobody may run it; a runtime kept in root's home (npm run test:lts) is not,
  // and then the system's Node runs nobody's side: the history, not the runtime, is under test.
  const nobodysNode = (() => {
    for (const n of [process.execPath, '/usr/bin/node', '/usr/local/bin/node']) {
      if (spawnSync('runuser', ['-u', 'nobody', '--', n, '-e', '0'], { stdio: 'ignore' }).status === 0) return n;
    }
    return process.execPath;
  })();
  const asNobody = (args: string[]): CliResult => {
    const home = mkdtempSync(join(tmpdir(), 'nobody-'));
    chmodSync(home, 0o777);
    try {
      const out = execFileSync('runuser', ['-u', 'nobody', '--', 'env', `HOME=${home}`, `WHMCS_CC_ENCRYPTION_HASH=${t.ccHash}`, 'NO_COLOR=1', nobodysNode, BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
      return { code: 0, stdout: out, stderr: '', json: JSON.parse(out) };
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      let json: unknown;
      try {
        json = JSON.parse(x.stdout);
      } catch {
        /* not JSON */
      }
      return { code: x.status, stdout: x.stdout, stderr: x.stderr, json };
    }
  };

  it.skipIf(process.getuid?.() !== 0)('root changes through configuration.php; nobody lists and undoes it through a URL, and is named in the log', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'reset', '--admin', 'ou0', '--reason', 'r', '--yes', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const list = asNobody(['--db', t.url, 'undo', '--list', '--format', 'json']);
    expect(list.code, list.stderr).toBe(0);
    expect((list.json as { entries: Array<{ id: string; operator: string }> }).entries.map((e) => e.id)).toContain(r.json.journalId);
    const u = asNobody(['--db', t.url, 'undo', '--yes', '--reason', 'other shift', '--format', 'json']);
    expect(u.code, u.stderr).toBe(0);
    expect(await t.knex('tbladmins').where({ username: 'ou0' }).first('authdata')).toEqual({ authdata: CONFIG(0) });
    const log = await t.knex('tblactivitylog').orderBy('id', 'desc').first('description');
    expect(log.description).toMatch(/made by root\), 1 row restored by whmcs-2fa CLI \(OS user nobody\) - Reason: other shift$/);
  });
});

/**
 * A temporary directory of a private server's own, made in `parent` and writable by mysql. Never
 * /tmp, which the shared test server uses: a starting mariadbd deletes every `#sql*` file in its
 * tmpdir, and with it the temporary tables of statements other runs have in flight on the shared
 * server ("Error on delete of '/tmp/#sql-update-….MAI'"). mariadb-install-db's bootstrap server
 * is given it too.
 */
function privateTmpdir(parent: string): string {
  const d = join(parent, 'tmp');
  mkdirSync(d, { recursive: true });
  execFileSync('chown', ['mysql:mysql', parent, d]);
  return d;
}

describeWithPeer(['mariadb-install-db', 'mariadbd'], 'two servers, same database name', () => {
  let dir: string;
  let proc: ReturnType<typeof spawn> | undefined;
  const PORT = 33000 + (process.pid % 1000);
  let a: TestDb;
  let bUrl: string;
  let bDir: string;
  let bKnex: Knex;
  beforeAll(async () => {
    if (!MYSQL_OK) return;
    dir = mkdtempSync(join(tmpdir(), 'mariadb-b-'));
    execFileSync('chown', ['mysql:mysql', dir]);
    // The server runs as mysql: its temporary files go to the system's /tmp, not the run's private TMPDIR.
    const env = { ...process.env, TMPDIR: '/tmp' };
    // mariadb-install-db starts a server too (passing it the options it does not know): its tmpdir as well.
    const serverTmp = privateTmpdir(dir);
    execFileSync('mariadb-install-db', ['--user=mysql', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${serverTmp}`], { stdio: 'ignore', env });
    proc = spawn('mariadbd', ['--user=mysql', `--datadir=${dir}/data`, `--socket=${dir}/sock`, `--port=${PORT}`, '--bind-address=127.0.0.1', `--pid-file=${dir}/pid`, '--skip-log-bin', `--tmpdir=${serverTmp}`], { stdio: 'ignore', env });
    let b: Awaited<ReturnType<typeof openDb>> | undefined;
    for (let i = 0; i < 200 && !b; i++) {
      b = await openDb({ kind: 'mysql', host: '127.0.0.1', port: PORT, user: 'root', database: '', connectTimeoutMs: 500 }).catch(() => undefined);
      if (!b) await new Promise((res) => setTimeout(res, 100));
    }
    a = await createTestDb('mysql', '8', V812);
    await seedAdmins(a.knex, 1, 'same');
    const name = a.url.split('/').pop()!;
    await b!.knex.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8 COLLATE utf8_unicode_ci`);
    await b!.close();
    const bDb = await openDb({ kind: 'mysql', host: '127.0.0.1', port: PORT, user: 'root', database: name });
    bKnex = bDb.knex;
    const { createWhmcsSchema } = await import('../src/whmcs/schema/seed.js');
    await createWhmcsSchema(bKnex, 'mysql', '8', V812);
    await seedAdmins(bKnex, 1, 'same');
    bUrl = `mysql://root@127.0.0.1:${PORT}/${name}`;
    bDir = tempDir();
  }, 120_000);
  afterAll(async () => {
    await bKnex?.destroy();
    await a?.drop();
    proc?.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 300));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a change on one server is never listed or undone on the other', async () => {
    const env = { WHMCS_CC_ENCRYPTION_HASH: a.ccHash, XDG_STATE_HOME: bDir };
    const r = await runCli(['--db', a.url, 'reset', '--admin', 'same0', '--reason', 'r', '--yes', '--format', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    // Same state directory, same database name and user, same admin name: still another installation.
    const listB = await runCli(['--db', bUrl, 'undo', '--list', '--format', 'json'], { env });
    expect(listB.code, listB.stderr).toBe(0);
    expect(listB.json.entries).toEqual([]);
    const undoB = await runCli(['--db', bUrl, 'undo', r.json.journalId, '--yes'], { env });
    expectOneError(undoB, 3, /no changes recorded/);
    expect(await bKnex('tbladmins').where({ username: 'same0' }).first('authmodule')).toEqual({ authmodule: 'totp' });
    expect((await runCli(['--db', a.url, 'undo', '--yes'], { env })).code).toBe(0);
  });
});

describeWithPeer(['faketime'], 'clock steps (faketime)', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', V812);
    await seedAdmins(t.knex, 2, 'ck');
  }, 60_000);
  afterAll(() => t?.drop());
  const at = (offset: string, args: string[]) => {
    try {
      return { code: 0, out: execFileSync('faketime', ['-f', offset, process.execPath, BIN, '--whmcs-dir', t.whmcsDir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }) };
    } catch (e) {
      return { code: (e as { status: number }).status, out: (e as { stdout: string }).stdout };
    }
  };

  it('undo takes the last change made, even when the clock was stepped back in between', async () => {
    const first = at('+1d', ['reset', '--admin', 'ck0', '--reason', 'r', '--yes', '--format', 'json']);
    expect(first.code).toBe(0);
    const second = at('-1d', ['reset', '--admin', 'ck1', '--reason', 'r', '--yes', '--format', 'json']);
    expect(second.code).toBe(0);
    const ids = [JSON.parse(first.out).journalId, JSON.parse(second.out).journalId];
    // The second change's id and time say it is two days older…
    expect(ids[1] < ids[0]).toBe(true);
    // …but undo takes it first, then the one before.
    const u1 = JSON.parse(at('+0s', ['undo', '--yes', '--format', 'json']).out);
    const u2 = JSON.parse(at('+0s', ['undo', '--yes', '--format', 'json']).out);
    expect([u1.undone.id, u2.undone.id]).toEqual([ids[1], ids[0]]);
  });
});

describeBackends(
  'earlier file journals',
  () => {
    let t: TestDb;
    let state: string;
    let id: number;
    beforeAll(async () => {
      t = await createTestDb('sqlite', '8', '8.7.2-release.1');
      id = await insertAdmin(t.knex, { username: 'old', authmodule: '', authdata: '' });
      state = tempDir();
    }, 60_000);
    afterAll(() => t?.drop());
    const label = () => `sqlite:${t.url.slice('sqlite:'.length)}`;
    const writeEntry = (name: string, lines: unknown[]) => {
      const dir = legacyDir(label(), { XDG_STATE_HOME: state });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, name), lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n', { mode: 0o600 });
      return dir;
    };
    const header = (hid: string) => ({ id: hid, createdAt: '2026-01-02T03:04:05.000Z', install: label(), command: 'reset', summary: 'old reset', operator: 'alice' });
    const row = { t: 'tbladmins', k: { id: 0 }, b: { authmodule: 'totp', authdata: CONFIG(9) }, a: { authmodule: '', authdata: '' } };

    it('a damaged line refuses the import naming file and line; a symlinked directory is refused', async () => {
      const dir = writeEntry('20260102T030405Z-aaaaaa.jsonl', [header('20260102T030405Z-aaaaaa'), { ...row, k: { id } }, '{"t":"tbl', { ...row, k: { id } }, { commit: 1 }]);
      const env = { XDG_STATE_HOME: state };
      const list = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--list', '--format', 'json'], { env });
      expect(list.stderr).toMatch(/1 change recorded by an earlier version .* `whmcs-2fa undo --import-legacy`/);
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--import-legacy', '--yes'], { env });
      expectOneError(r, 4, /20260102T030405Z-aaaaaa\.jsonl line 3: not JSON — refusing to import; nothing was imported/);
      rmSync(join(dir, '20260102T030405Z-aaaaaa.jsonl'));
      // A symlinked journal directory is refused and its target's mode left alone.
      const other = tempDir();
      chmodSync(other, 0o755);
      const linkState = tempDir();
      mkdirSync(join(linkState, 'whmcs-2fa'), { mode: 0o700 });
      symlinkSync(other, legacyDir(label(), { XDG_STATE_HOME: linkState }));
      const s = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--import-legacy', '--yes'], { env: { XDG_STATE_HOME: linkState } });
      expectOneError(s, 4, /is a symbolic link — refusing to read it/);
      expect((await import('node:fs')).statSync(other).mode & 0o777).toBe(0o755);
    });

    it('imports an entry (torn commit marker and all) and undoes it; a planted table is refused', async () => {
      await t.knex('tbladmins').where({ id }).update({ authmodule: '', authdata: '' });
      // A tear with the row appended later glued to it, and a torn last marker (a crash between the
      // database commit and the marker): the row is read, the entry imported.
      const dir = writeEntry('20260102T030406Z-bbbbbb.jsonl', [header('20260102T030406Z-bbbbbb'), '{"comm' + JSON.stringify({ ...row, k: { id } }), '{"comm']);
      const env = { XDG_STATE_HOME: state };
      const imp = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--import-legacy', '--yes', '--format', 'json'], { env });
      expect(imp.code, imp.stderr).toBe(0);
      expect(imp.json).toMatchObject({ imported: 1 });
      expect(readdirSync(dir)).toEqual(['20260102T030406Z-bbbbbb.jsonl.imported']);
      const [e] = await historyEntries(t.knex, t.ccHash);
      expect(e).toMatchObject({ id: '20260102T030406Z-bbbbbb', source: 'file', operator: 'alice', rows: 1 });
      const u = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--yes', '--format', 'json'], { env });
      expect(u.code, u.stderr).toBe(0);
      expect(u.json.undone.id).toBe('20260102T030406Z-bbbbbb');
      expect(await t.knex('tbladmins').where({ id }).first('authmodule', 'authdata')).toEqual({ authmodule: 'totp', authdata: CONFIG(9) });
      writeEntry('20260102T030407Z-cccccc.jsonl', [header('20260102T030407Z-cccccc'), { t: 'tbladmins', k: { id }, b: { password: 'a' }, a: { password: 'b' } }, { commit: 1 }]);
      const planted = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--import-legacy', '--yes'], { env });
      expectOneError(planted, 4, /20260102T030407Z-cccccc\.jsonl line 2: column "password" is not one whmcs-2fa writes/);
    });
  },
  ['sqlite'],
);

describeWithPeer(['mariadb-install-db', 'mariadbd', 'mount', 'fallocate'], 'a full filesystem under the database server', () => {
  const root = process.getuid?.() === 0;
  const HASH = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab';
  let dir: string;
  let proc: ReturnType<typeof spawn> | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  const PORT = 34000 + (process.pid % 1000);
  let knex: Knex | undefined;
  let whmcsDir: string;
  /** Outside the filesystem the test fills: the server's own temporary files are not what runs out. */
  let serverTmp: string;
  const opts = ['--innodb-log-file-size=4M', '--innodb-flush-method=fsync'];
  async function start(): Promise<Knex> {
    proc = spawn('mariadbd', ['--user=mysql', `--datadir=${dir}/data`, `--socket=${dir}/sock`, `--port=${PORT}`, '--bind-address=127.0.0.1', `--pid-file=${dir}/pid`, '--skip-log-bin', `--tmpdir=${serverTmp}`, ...opts], { stdio: 'ignore', env: { ...process.env, TMPDIR: '/tmp' } });
    exited = new Promise((res) => proc!.on('close', res));
    for (let i = 0; i < 300; i++) {
      const db = await openDb({ kind: 'mysql', host: '127.0.0.1', port: PORT, user: 'root', database: '', connectTimeoutMs: 500 }).catch(() => undefined);
      if (db) {
        await db.knex.raw('CREATE DATABASE IF NOT EXISTS whmcs_full CHARACTER SET utf8 COLLATE utf8_unicode_ci');
        await db.close();
        return (await openDb({ kind: 'mysql', host: '127.0.0.1', port: PORT, user: 'root', database: 'whmcs_full' })).knex;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('the private MariaDB did not start');
  }
  beforeAll(async () => {
    if (!root || !MYSQL_OK) return;
    // Under the system's /tmp (the mount point must be reachable by mysql, and short: a socket path
    // is limited to 107 bytes).
    dir = mkdtempSync('/tmp/whmcs2fa-mariadb-full-');
    serverTmp = privateTmpdir(mkdtempSync('/tmp/whmcs2fa-mariadb-tmp-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', dir]);
    execFileSync('chown', ['mysql:mysql', dir]);
    execFileSync('mariadb-install-db', ['--user=mysql', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${serverTmp}`, ...opts], { stdio: 'ignore', env: { ...process.env, TMPDIR: '/tmp' } });
    knex = await start();
    const { createWhmcsSchema } = await import('../src/whmcs/schema/seed.js');
    await createWhmcsSchema(knex, 'mysql', '8', '8.7.2-release.1');
    // Big configs, so the history of a bulk reset needs more room than is left.
    const now = '2026-01-01 00:00:00';
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 4000; i += 200) {
      await knex('tblusers').insert(Array.from({ length: 200 }, (_, j) => ({ first_name: 'F', last_name: 'L', email: `f${i + j}@x.test`, password: '', language: '', second_factor: 'duosecurity', second_factor_config: `{"n":${i + j},"p":"${pad}"}`, created_at: now, updated_at: now })));
    }
    await new (await import('../src/whmcs/history/journal.js')).Journal(knex, undefined, 'full').ensure();
    whmcsDir = tempDir();
    writeFileSync(join(whmcsDir, 'configuration.php'), `<?php\n$db_host = '127.0.0.1';\n$db_port = '${PORT}';\n$db_username = 'root';\n$db_password = '';\n$db_name = 'whmcs_full';\n$cc_encryption_hash = '${HASH}';\n`);
  }, 180_000);
  afterAll(async () => {
    await knex?.destroy().catch(() => {});
    proc?.kill('SIGTERM');
    await exited;
    if (dir) {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
    if (serverTmp) rmSync(dirname(serverTmp), { recursive: true, force: true });
  }, 60_000);

  it.skipIf(!root)('a bulk reset that runs out of space: stops; after recovery the history equals the database, and undo restores it', async () => {
    // Fill the filesystem, leaving less room than the run's history needs.
    const free = () => Number(execFileSync('df', ['--output=avail', '-B1', dir], { encoding: 'utf8' }).split('\n')[1]);
    const before = await usersDump(knex!);
    execFileSync('fallocate', ['-l', String(Math.max(0, free() - 3 * 1024 * 1024)), join(dir, 'filler')]);
    const r = await runCli(['--whmcs-dir', whmcsDir, 'reset', '--module', 'duosecurity', '--users', '--batch-size', '200', '--yes', '--format', 'json'], { timeoutMs: 120_000 });
    // MariaDB answers "table is full", or gives up and stops: either way the run stops and says what it committed.
    expect(r.code, r.stderr).toBe(5);
    // Where it stops depends on what fits in the room left: in a later batch, or at the first write.
    expect(r.stderr).toMatch(/^Error: (bulk change stopped: database error: .* — (\d+ rows were already changed in \d+ committed batch(es)?|nothing was changed)|database error: .* — nothing was written)/m);
    rmSync(join(dir, 'filler'));
    if (proc!.exitCode !== null || proc!.signalCode !== null || !(await knex!.raw('SELECT 1').then(() => true, () => false))) {
      // The server died on the full disk: restart it; crash recovery keeps exactly the committed transactions.
      proc!.kill('SIGKILL');
      await exited;
      await knex!.destroy().catch(() => {});
      knex = await start();
    }
    const resetIds: number[] = await knex!('tblusers').where({ second_factor: '' }).orderBy('id').pluck('id');
    expect(resetIds.length).toBeLessThan(4000);
    const entries = await historyEntries(knex!, HASH);
    const rows = entries.length ? await historyRows(knex!, HASH, entries[0]!.id) : [];
    expect(rows.map((x) => Number(x.key.id))).toEqual(resetIds);
    if (resetIds.length) {
      const u = await runCli(['--whmcs-dir', whmcsDir, 'undo', '--yes', '--format', 'json'], { timeoutMs: 120_000 });
      expect(u.code, u.stderr).toBe(0);
    }
    expect(await usersDump(knex!)).toEqual(before);
  }, 240_000);
});
