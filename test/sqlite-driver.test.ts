// The SQLite engine: node:sqlite where the runtime has a complete one (Node 22.16+/24), else the
// better-sqlite3 addon. `npm test` runs this on Node 20 (addon), `npm run test:lts` on Node 24.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '../src/whmcs/connection/db.js';
import { isSqlite, sqliteEngine } from '../src/whmcs/connection/sqlite-driver.js';

const dir = mkdtempSync(join(tmpdir(), 'whmcs2fa-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const hasBuiltIn = major >= 24 || (major === 23 && minor >= 11) || (major === 22 && minor >= 16);

describe(`SQLite engine on Node ${process.versions.node}`, () => {
  it(`is ${hasBuiltIn ? 'node:sqlite' : 'better-sqlite3'}`, async () => {
    expect(await sqliteEngine()).toBe(hasBuiltIn ? 'node:sqlite' : 'better-sqlite3');
  });

  it('many databases opened at once all get the same engine and work', async () => {
    const dbs = await Promise.all(Array.from({ length: 6 }, (_, i) => openDb({ kind: 'sqlite', file: join(dir, `c${i}.sqlite`), create: true })));
    try {
      for (const db of dbs) {
        expect(isSqlite(db.knex)).toBe(true);
        expect(await db.knex.raw('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      }
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  it('reads, writes, returns plain rows and row counts, and rolls back', async () => {
    const db = await openDb({ kind: 'sqlite', file: join(dir, 'rw.sqlite'), create: true });
    try {
      const k = db.knex;
      await k.schema.createTable('t', (t) => {
        t.increments('id');
        t.string('v');
      });
      await k('t').insert([{ v: 'a' }, { v: "it's" }, { v: 'ü€' }]);
      const rows = await k('t').select('id', 'v').orderBy('id');
      expect(rows).toEqual([
        { id: 1, v: 'a' },
        { id: 2, v: "it's" },
        { id: 3, v: 'ü€' },
      ]);
      // Plain objects, as the rest of the program (and JSON output) expects.
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
      expect(await k('t').where('id', '>', 1).update({ v: 'x' })).toBe(2);
      await expect(
        k.transaction(async (trx) => {
          await trx('t').update({ v: 'gone' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await k('t').pluck('v')).sort()).toEqual(['a', 'x', 'x']);
    } finally {
      await db.close();
    }
  });

  it('a file that is not a database is one line naming the file', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(dir, 'junk.sqlite');
    writeFileSync(file, 'this is not a database, just some text long enough to have a header'.repeat(20));
    await expect(openDb({ kind: 'sqlite', file })).rejects.toThrow(/cannot open SQLite database .*junk\.sqlite/);
  });
});

describe('SQLite errors carry the SQLITE_<NAME> code whichever engine raised them', () => {
  it('a missing table is SQLITE_ERROR, a duplicate key SQLITE_CONSTRAINT…', async () => {
    const db = await openDb({ kind: 'sqlite', file: join(dir, 'errors.sqlite'), create: true });
    try {
      await expect(db.knex.raw('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: 'SQLITE_ERROR' });
      await db.knex.raw('CREATE TABLE u (id INTEGER PRIMARY KEY)');
      await db.knex('u').insert({ id: 1 });
      await expect(db.knex('u').insert({ id: 1 })).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_CONSTRAINT/) });
    } finally {
      await db.close();
    }
  });
});
