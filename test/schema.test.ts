import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { inspectInstall } from '../src/whmcs/connection/install.js';
import { insertAdmin, insertUser } from '../src/whmcs/schema/seed.js';
import { sqliteDdl, mysqlDdl } from '../src/whmcs/schema/ddl.js';

describeBackends('fixture schema and install detection', (backend) => {
  const dbs: TestDb[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it('8.12 shape: tblusers, activity-log user columns, AES by version', async () => {
    const t = await createTestDb(backend, '8', '8.12.1-release.1');
    dbs.push(t);
    const i = await inspectInstall(t.db);
    expect(i).toMatchObject({ version: '8.12.1-release.1', major: 8, minor: 12, shape: '8', activityHasUserColumns: true, aesConfigs: true });
  });

  it('8.7 shape: JSON unless an AES-hex config is already present', async () => {
    const t = await createTestDb(backend, '8', '8.7.2-release.1');
    dbs.push(t);
    expect((await inspectInstall(t.db)).aesConfigs).toBe(false);
    await insertUser(t.knex, { email: 'a@b.c', second_factor: 'totp', second_factor_config: '{"secret":"X"}' });
    expect((await inspectInstall(t.db)).aesConfigs).toBe(false);
    await insertAdmin(t.knex, { username: 'x', authmodule: 'totp', authdata: 'a1'.repeat(48) });
    expect((await inspectInstall(t.db)).aesConfigs).toBe(true);
  });

  it('7.8 shape: clients only, no user columns, userid without default', async () => {
    const t = await createTestDb(backend, '7', '7.8.3-release.1');
    dbs.push(t);
    const i = await inspectInstall(t.db);
    expect(i).toMatchObject({ shape: '7', activityHasUserColumns: false, aesConfigs: false });
    expect(await t.knex.schema.hasTable('tblusers')).toBe(false);
  });
});

it('SQLite DDL is derived from the MySQL DDL table for table', () => {
  for (const shape of ['7', '8'] as const) {
    const tables = (ddl: string[]) => ddl.filter((s) => s.startsWith('CREATE TABLE')).map((s) => /CREATE TABLE (\w+)/.exec(s)![1]);
    expect(tables(sqliteDdl(shape))).toEqual(tables(mysqlDdl(shape)));
  }
});
