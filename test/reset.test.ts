import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { insertAdmin, insertClient, insertUser, linkUserToClient, setConfigValue } from '../src/whmcs/schema/seed.js';
import { aesEncryptConfig } from '../src/whmcs/crypto/aes-config.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { operatorName } from '../src/whmcs/changes/activity-log.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const cli = (t: TestDb, ...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

async function row(t: TestDb, table: string, id: number): Promise<Record<string, unknown>> {
  return (await t.knex(table).where({ id }).first())!;
}

async function activity(t: TestDb): Promise<Record<string, unknown>[]> {
  return t.knex('tblactivitylog').orderBy('id');
}

describeBackends('reset one account', (backend) => {
  describe('WHMCS 8.12', () => suite812(backend));
  describe('WHMCS 8.7', () => suite87(backend));
  describe('WHMCS 7.8', () => suite7(backend));
});

function suite812(backend: Backend) {
  let t: TestDb;
  let jdoe: number;
  let zero: number;
  let user: number;
  let jdoeRaw: string;
  const zeroRaw = `{"secret":"${SECRET}","backupcode":"x"}`;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    jdoeRaw = aesEncryptConfig(`{"secret":"${SECRET}","backupcode":"y"}`, t.ccHash);
    jdoe = await insertAdmin(t.knex, { username: 'jdoe', email: 'jdoe@x.test', authmodule: 'totp', authdata: jdoeRaw });
    await insertAdmin(t.knex, { username: 'other', authmodule: 'duosecurity', authdata: '{"backupcode":"z"}' });
    zero = await insertAdmin(t.knex, { username: 'legacy', authmodule: '0', authdata: zeroRaw });
    await insertAdmin(t.knex, { username: 'clean', authmodule: '', authdata: '' });
    // Two admins share an email: selecting by it is ambiguous.
    await insertAdmin(t.knex, { username: 'twin1', email: 'twin@x.test' });
    await insertAdmin(t.knex, { username: 'twin2', email: 'twin@x.test' });
    user = await insertUser(t.knex, { email: 'u@x.test', second_factor: 'duosecurity', second_factor_config: null });
    await linkUserToClient(t.knex, user, 12, false);
    await linkUserToClient(t.knex, user, 34, true);
    await setConfigValue(
      t.knex,
      '2fasettings',
      phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 1, forceadmin: 0 }),
    );
  });
  afterAll(() => t?.drop());

  it('an admin needs --reason (exit 2, nothing written)', async () => {
    const r = await cli(t, 'reset', '--admin', 'jdoe', '--yes', '--format', 'json');
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/--reason/);
    expect((await row(t, 'tbladmins', jdoe)).authmodule).toBe('totp');
  });

  it('--dry-run shows the change and writes nothing', async () => {
    const r = await cli(t, 'reset', '--admin', 'jdoe', '--reason', 'x', '--dry-run', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: false, dryRun: true, previousModule: 'totp', journalId: null });
    expect((await row(t, 'tbladmins', jdoe)).authdata).toBe(jdoeRaw);
  });

  it("leaves '' / '' (not aes('')), logs operator, target and reason, says what follows; undo restores the bytes", async () => {
    const r = await cli(t, 'reset', '--admin', 'jdoe', '--reason', 'lost  phone\nticket #42', '--yes', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ account: { kind: 'admin', id: jdoe, name: 'jdoe' }, previousModule: 'totp', changed: true, dryRun: false });
    expect(r.json.journalId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const notes = r.json.notes.join('\n');
    expect(notes).toMatch(/can log in with the password alone/); // admins are not forced here
    expect(notes).toMatch(/1 other active admin still has a second factor/);
    expect(notes).toMatch(/AES of ''/);
    expect(await row(t, 'tbladmins', jdoe)).toMatchObject({ authmodule: '', authdata: '' });
    const log = (await activity(t)).at(-1)!;
    expect(log.description).toBe(
      `Two-Factor Authentication: disabled for admin 'jdoe' (was: totp) by whmcs-2fa CLI (OS user ${operatorName()}) - Reason: lost phone ticket #42`,
    );
    expect(log).toMatchObject({ user: 'System', admin_id: jdoe, user_id: 0, userid: 0 });

    const u = await cli(t, 'undo', '--yes', '--format', 'json');
    expect(u.code).toBe(0);
    expect(await row(t, 'tbladmins', jdoe)).toMatchObject({ authmodule: 'totp', authdata: jdoeRaw });
  });

  it("repairs a '0' row left by WHMCS's documented SQL (the secret goes too)", async () => {
    const r = await cli(t, 'reset', '--admin', 'legacy', '--reason', 'clean up', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, previousModule: '0' });
    expect(r.json.notes.join('\n')).toMatch(/'0'/);
    expect(await row(t, 'tbladmins', zero)).toMatchObject({ authmodule: '', authdata: '' });
    expect((await activity(t)).at(-1)!.description).toMatch(/disabled for admin 'legacy' \(was: '0'.*Reason: clean up$/);
  });

  it('an account with nothing set: changed false, exit 0, no journal entry, no log row', async () => {
    const before = (await activity(t)).length;
    const r = await cli(t, 'reset', '--admin', 'clean', '--reason', 'x', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: false, journalId: null });
    expect((await activity(t)).length).toBe(before);
  });

  it('a user: suffix User ID, user_id, userid = the owned client; forced enrolment is announced; NULL config → ""', async () => {
    const r = await cli(t, 'reset', '--user', 'u@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json.notes.join('\n')).toMatch(/WHMCS forces clients .* enrol again at next login/);
    expect(await row(t, 'tblusers', user)).toMatchObject({ second_factor: '', second_factor_config: '' });
    const log = (await activity(t)).at(-1)!;
    expect(log.description).toMatch(new RegExp(`disabled for user 'u@x.test' \\(was: duosecurity\\) by whmcs-2fa CLI \\(OS user [^)]+\\) - User ID: ${user}$`));
    expect(log).toMatchObject({ user_id: user, userid: 34, admin_id: 0 });
    expect((await cli(t, 'undo', '--yes')).code).toBe(0);
    expect(await row(t, 'tblusers', user)).toMatchObject({ second_factor: 'duosecurity', second_factor_config: null });
  });

  it('ambiguous selector → exit 3 with the candidates in the JSON error details; unknown → exit 3', async () => {
    const r = await cli(t, 'reset', '--admin', 'twin@x.test', '--reason', 'x', '--yes', '--format', 'json');
    expect(r.code).toBe(3);
    expect(r.json.error.exitCode).toBe(3);
    expect(r.json.error.details.candidates.map((c: any) => c.name).sort()).toEqual(['twin1', 'twin2']);
    const u = await cli(t, 'reset', '--user', 'nobody@x.test', '--yes', '--format', 'json');
    expect(u.code).toBe(3);
    expect(u.json.error.message).toMatch(/no user matches/);
  });

  it('usage errors: no selector, both single and bulk, --client on 8.x', async () => {
    expect((await cli(t, 'reset', '--yes')).code).toBe(2);
    expect((await cli(t, 'reset', '--admin', 'jdoe', '--module', 'totp', '--admins', '--reason', 'x', '--yes')).code).toBe(2);
    expect((await cli(t, 'reset', '--client', '1', '--yes')).code).toBe(2);
  });

  it('without a TTY and without --yes: refused with exit 4, nothing written', async () => {
    const r = await cli(t, 'reset', '--user', 'u@x.test', '--format', 'json');
    expect(r.code).toBe(4);
    expect((await row(t, 'tblusers', user)).second_factor).toBe('duosecurity');
  });
}

function suite87(backend: Backend) {
  let t: TestDb;
  let only: number;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    only = await insertAdmin(t.knex, { username: 'solo', authmodule: 'totp', authdata: `{"secret":"${SECRET}"}` });
    await insertAdmin(t.knex, { username: 'off', authmodule: 'totp', authdata: '', disabled: 1 });
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 1 }));
  });
  afterAll(() => t?.drop());

  it('warns when no other active admin keeps a second factor, announces forced re-enrolment, no AES note on 8.7', async () => {
    const r = await cli(t, 'reset', '--admin', 'solo', '--reason', 'last one', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no other active admin has a second factor/);
    const notes = r.json.notes.join('\n');
    expect(notes).toMatch(/WHMCS forces admins .* will be made to enrol again at next login/);
    expect(notes).not.toMatch(/AES/);
    expect(await row(t, 'tbladmins', only)).toMatchObject({ authmodule: '', authdata: '' });
  });
}

function suite7(backend: Backend) {
  let t: TestDb;
  let client: number;
  const raw = phpSerialize({ tokendata: 'eA==', backupcode: 'abc' });
  beforeAll(async () => {
    t = await createTestDb(backend, '7', '7.8.3-release.1');
    client = await insertClient(t.knex, { email: 'c@x.test', authmodule: 'totp', authdata: raw });
    // An abandoned 7.x enrolment: tokendata written, module never set.
    await insertClient(t.knex, { email: 'half@x.test', authmodule: '', authdata: phpSerialize({ tokendata: 'eA==' }) });
  });
  afterAll(() => t?.drop());

  it('a 7.x client: tblclients cleared, userid = the client, Client ID suffix, no 8.x columns needed', async () => {
    const r = await cli(t, 'reset', '--client', 'c@x.test', '--reason', 'phone stolen', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(await row(t, 'tblclients', client)).toMatchObject({ authmodule: '', authdata: '' });
    const log = (await activity(t)).at(-1)!;
    expect(log.description).toMatch(new RegExp(`disabled for client 'c@x.test' \\(was: totp\\) .* - Reason: phone stolen - Client ID: ${client}$`));
    expect(log.userid).toBe(client);
    expect(log).not.toHaveProperty('user_id');
    expect((await cli(t, 'undo', '--yes')).code).toBe(0);
    expect((await row(t, 'tblclients', client)).authdata).toBe(raw);
  });

  it('clears leftover data of an abandoned enrolment (module already empty)', async () => {
    const r = await cli(t, 'reset', '--client', 'half@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json.changed).toBe(true);
    expect(r.json.notes.join('\n')).toMatch(/leftover/);
    expect(await t.knex('tblclients').where({ email: 'half@x.test' }).first()).toMatchObject({ authmodule: '', authdata: '' });
  });
}

describeBackends('reset in bulk (small)', (backend) => {
  let t: TestDb;
  const duo: Array<{ id: number; raw: string | null }> = [];
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    for (let i = 0; i < 7; i++) {
      const raw = i === 3 ? null : `{"backupcode":"${i}"}`;
      duo.push({ id: await insertUser(t.knex, { email: `duo${i}@x.test`, second_factor: 'duosecurity', second_factor_config: raw }), raw });
      await insertUser(t.knex, { email: `totp${i}@x.test`, second_factor: 'totp', second_factor_config: `{"secret":"${SECRET}"}` });
    }
    await insertAdmin(t.knex, { username: 'a1', authmodule: 'duosecurity', authdata: '{}' });
  });
  afterAll(() => t?.drop());

  it('--dry-run: count and a sample, nothing written', async () => {
    const r = await cli(t, 'reset', '--module', 'duo', '--users', '--dry-run', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ mode: 'bulk', kind: 'user', module: 'duosecurity', matched: 7, dryRun: true, changed: false, rowsReset: 0 });
    expect(r.json.sample.map((s: any) => s.name)).toEqual(duo.map((_, i) => `duo${i}@x.test`));
    expect(await t.knex('tblusers').where({ second_factor: 'duosecurity' }).count({ n: '*' }).first()).toMatchObject({ n: 7 });
  });

  it('no TTY and no --yes → exit 4, nothing written; admins need --reason', async () => {
    expect((await cli(t, 'reset', '--module', 'duo', '--users', '--format', 'json')).code).toBe(4);
    expect((await cli(t, 'reset', '--module', 'duo', '--admins', '--yes', '--format', 'json')).code).toBe(2);
    expect((await cli(t, 'reset', '--module', 'none', '--users', '--yes')).code).toBe(2);
    expect((await cli(t, 'reset', '--module', 'duo', '--users', '--batch-size', '0', '--yes')).code).toBe(2);
    expect(await t.knex('tblusers').where({ second_factor: 'duosecurity' }).count({ n: '*' }).first()).toMatchObject({ n: 7 });
  });

  it('resets only that module in batches, one summary log row per batch, one journal entry that undo restores', async () => {
    const before = await t.knex('tblusers').orderBy('id');
    const logBefore = (await activity(t)).length;
    const r = await cli(t, 'reset', '--module', 'duo', '--users', '--batch-size', '3', '--reason', 'Duo retired', '--yes', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ matched: 7, rowsReset: 7, batches: 3, changed: true, interrupted: false, idRange: { first: duo[0]!.id, last: duo[6]!.id } });
    for (const d of duo) expect(await row(t, 'tblusers', d.id)).toMatchObject({ second_factor: '', second_factor_config: '' });
    expect(await t.knex('tblusers').where({ second_factor: 'totp' }).count({ n: '*' }).first()).toMatchObject({ n: 7 });
    const logs = (await activity(t)).slice(logBefore);
    expect(logs).toHaveLength(3);
    expect(logs.map((l) => String(l.description).match(/disabled for (\d+) users? on duosecurity \(bulk reset batch (\d+), tblusers ids (\d+)-(\d+)\)/)!.slice(1).map(Number))).toEqual([
      [3, 1, duo[0]!.id, duo[2]!.id],
      [3, 2, duo[3]!.id, duo[5]!.id],
      [1, 3, duo[6]!.id, duo[6]!.id],
    ]);
    expect(String(logs[0]!.description)).toMatch(/Reason: Duo retired$/);

    const u = await cli(t, 'undo', r.json.journalId, '--yes', '--format', 'json');
    expect(u.code).toBe(0);
    expect(u.json.rowsRestored).toBe(7);
    expect(await t.knex('tblusers').orderBy('id')).toEqual(before);
  });

  it('bulk admins: --reason required, the others-still-enrolled check looks beyond that module', async () => {
    const r = await cli(t, 'reset', '--module', 'duosecurity', '--admins', '--reason', 'Duo retired', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ kind: 'admin', table: 'tbladmins', matched: 1, rowsReset: 1, batches: 1 });
    expect(r.json.warnings.join('\n')).toMatch(/no other active admin has a second factor/);
    expect(r.stderr).toMatch(/no other active admin has a second factor/);
    expect(await t.knex('tbladmins').where({ username: 'a1' }).first()).toMatchObject({ authmodule: '', authdata: '' });
    const log = (await activity(t)).at(-1)!;
    expect(log.description).toMatch(/disabled for 1 admin on duosecurity \(bulk reset batch 1, tbladmins ids \d+-\d+\) .* - Reason: Duo retired$/);
  });

  it('nothing on that module: changed false, exit 0', async () => {
    const r = await cli(t, 'reset', '--module', 'yubikey', '--users', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ matched: 0, changed: false, rowsReset: 0, journalId: null });
  });
});
