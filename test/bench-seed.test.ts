import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDb, type Db } from '../src/whmcs/connection/db.js';
import { seedBenchData, type SeedCounts } from '../bench/seed.js';
import { describeBackends, mysqlServer } from './helpers/db.js';

/**
 * The benchmark's seed at any size is the same statements in chunks: seeded here across chunk
 * boundaries at a small size (chunks of 700 rows for 2 000 users, as 100 000-row chunks are for
 * 1 000 000), every id, module and client link must be where one statement would have put it.
 */
describeBackends(
  'bench seed in chunks',
  () => {
    const server = mysqlServer();
    const names: string[] = [];
    let admin: Db;
    const seeded = async (chunk: number): Promise<{ db: Db; counts: SeedCounts }> => {
      const name = `whmcs2fa_test_${randomBytes(5).toString('hex')}`;
      names.push(name);
      await admin.knex.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8 COLLATE utf8_unicode_ci`);
      const db = await openDb({ ...server, database: name });
      return { db, counts: await seedBenchData(db.knex, { users: 2000, admins: 30, chunk }) };
    };
    const one = async (db: Db, sql: string): Promise<number> => Number(Object.values(((await db.knex.raw(sql)) as [Array<Record<string, unknown>>])[0][0]!)[0]);

    beforeAll(async () => {
      admin = await openDb({ ...server, database: '' });
    });
    afterAll(async () => {
      for (const n of names) await admin.knex.raw(`DROP DATABASE IF EXISTS \`${n}\``);
      await admin.close();
    });

    it('gives ids 1…N, the module spread by id and one owned client (plus every tenth a second) per user', async () => {
      const { db, counts } = await seeded(700);
      try {
        expect(counts).toMatchObject({ users: 2000, admins: 30, clients: 2000, links: 2000 + 200, duoUsers: 600 });
        expect(counts.byModule).toEqual({ totp: 600, duosecurity: 600, yubico: 100, '0': 40, none: 660 });
        for (const t of ['tblusers', 'tblclients']) expect(await one(db, `SELECT CONCAT(COUNT(*), MIN(id), MAX(id), COUNT(DISTINCT id)) FROM ${t}`)).toBe(2000120002000);
        expect(await one(db, 'SELECT CONCAT(COUNT(*), MIN(id), MAX(id)) FROM tbladmins')).toBe(30130);
        // The module of user n is decided by n alone (the seed's buckets), whatever chunk it fell in.
        const wrong = `SELECT COUNT(*) FROM tblusers WHERE second_factor <> CASE WHEN id % 100 < 30 THEN 'totp' WHEN id % 100 < 60 THEN 'duosecurity'
          WHEN id % 100 < 65 THEN 'yubico' WHEN id % 100 < 67 THEN '0' ELSE '' END`;
        expect(await one(db, wrong)).toBe(0);
        expect(await one(db, "SELECT COUNT(*) FROM tblusers WHERE email <> CONCAT('user', id, '@example.net')")).toBe(0);
        expect(await one(db, 'SELECT COUNT(*) FROM tblusers_clients WHERE owner = 1 AND client_id = auth_user_id')).toBe(2000);
        expect(await one(db, 'SELECT COUNT(*) FROM tblusers_clients WHERE owner = 0 AND client_id = auth_user_id - 1 AND auth_user_id % 10 = 0')).toBe(200);
        expect(await one(db, 'SELECT COUNT(*) FROM tblusers_clients uc LEFT JOIN tblclients c ON c.id = uc.client_id WHERE c.id IS NULL')).toBe(0);
      } finally {
        await db.close();
      }
    });

    it('seeds the same data in one statement as in chunks', async () => {
      const a = await seeded(700);
      const b = await seeded(1_000_000);
      try {
        expect(b.counts).toEqual(a.counts);
        // Same module, config format bucket and config presence per id (the configs' secrets are random).
        const format = "CASE WHEN second_factor_config IS NULL THEN 'null' WHEN second_factor_config = '' THEN 'empty' WHEN second_factor_config LIKE '{%' THEN 'json' WHEN second_factor_config LIKE 'a:%' THEN 'serialized' ELSE 'other' END";
        const shape = `SELECT BIT_XOR(CRC32(CONCAT_WS('|', id, email, second_factor, ${format}))) FROM tblusers`;
        expect(await one(b.db, shape)).toBe(await one(a.db, shape));
      } finally {
        await a.db.close();
        await b.db.close();
      }
    });
  },
  ['mysql'],
);
