import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { isSqlite } from '../../src/whmcs/connection/sqlite-driver.js';

/**
 * A byte-level picture of a whole database: every table, every row ordered by its primary key,
 * every column. Taken before and after a command, two equal snapshots prove the command wrote
 * nothing — not only to the rows a test thought of checking.
 *
 * Values are encoded with their type (NULL ≠ '' ≠ 'NULL'; Buffers as hex; MySQL returns dates as
 * the stored strings because the test connections use dateStrings), so any changed byte changes
 * the table's hash. Auto-increment counters are left out on purpose: InnoDB advances them even
 * for a rolled-back insert, which writes nothing.
 */
export interface DbSnapshot {
  /** sha256 over every table's dump. */
  hash: string;
  /** Per table: row count and sha256 of its dump, so a mismatch names the table that changed. */
  tables: Record<string, { rows: number; hash: string }>;
}


function encodeValue(v: unknown): string {
  if (v === null || v === undefined) return 'N';
  if (Buffer.isBuffer(v)) return `x${v.toString('hex')}`;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') return `n${v}`;
  if (v instanceof Date) return `d${v.toISOString()}`;
  const s = String(v);
  return `s${Buffer.byteLength(s)}:${s}`;
}

async function tablesOf(knex: Knex): Promise<Array<{ name: string; key: string[] }>> {
  if (isSqlite(knex)) {
    const names = ((await knex.raw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)) as Array<{ name: string }>).map((r) => r.name);
    const out: Array<{ name: string; key: string[] }> = [];
    for (const name of names) {
      const cols = (await knex.raw(`PRAGMA table_info("${name.replace(/"/g, '""')}")`)) as Array<{ name: string; pk: number }>;
      const key = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      out.push({ name, key: key.length ? key : ['rowid'] });
    }
    return out;
  }
  const [tables] = (await knex.raw(
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
  )) as [Array<{ name: string }>];
  const [keys] = (await knex.raw(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE
     WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  )) as [Array<{ t: string; c: string }>];
  const [columns] = (await knex.raw(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  )) as [Array<{ t: string; c: string }>];
  return tables.map(({ name }) => {
    const key = keys.filter((k) => k.t === name).map((k) => k.c);
    // No primary key: order by every column, which is still a total order of the dump.
    return { name, key: key.length ? key : columns.filter((c) => c.t === name).map((c) => c.c) };
  });
}

/** Dumps every table of the database `knex` is connected to (MySQL/MariaDB or SQLite). */
export async function snapshotDb(knex: Knex): Promise<DbSnapshot> {
  const all = createHash('sha256');
  const tables: DbSnapshot['tables'] = {};
  for (const { name, key } of await tablesOf(knex)) {
    const h = createHash('sha256');
    let rows = 0;
    // Raw bytes on MySQL: HEX() of every column would be exact too, but a string compare of
    // utf8mb4 text already changes with any byte; binary columns come back as Buffers.
    const q = knex(name).select(isSqlite(knex) && key[0] === 'rowid' ? [knex.raw('rowid AS __rowid'), '*'] : '*');
    for (const k of key) q.orderBy(k === 'rowid' ? '__rowid' : k);
    for (const row of (await q) as Array<Record<string, unknown>>) {
      rows++;
      h.update(Object.keys(row).sort().map((c) => `${c}=${encodeValue(row[c])}`).join('\x1f') + '\x1e');
    }
    const hash = h.digest('hex');
    tables[name] = { rows, hash };
    all.update(`${name}\x1d${rows}\x1d${hash}\x1c`);
  }
  return { hash: all.digest('hex'), tables };
}

/** The names of the tables whose contents differ (or exist on one side only). Empty = identical. */
export function changedTables(before: DbSnapshot, after: DbSnapshot): string[] {
  const names = new Set([...Object.keys(before.tables), ...Object.keys(after.tables)]);
  return [...names].filter((n) => before.tables[n]?.hash !== after.tables[n]?.hash || before.tables[n]?.rows !== after.tables[n]?.rows).sort();
}
