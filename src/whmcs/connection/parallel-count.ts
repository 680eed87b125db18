import type { Knex } from 'knex';
import type { Db } from './db.js';
import type { TableStats } from './install.js';

/**
 * Grouped counts over a whole table, cut into primary-key ranges that run side by side.
 *
 * WHMCS indexes neither `tbladmins.authmodule` nor `tblusers.second_factor`, so counting accounts
 * per module is a full scan, and MySQL runs one statement on one thread: at 100 000 users the scan
 * is most of `status`. The same scan as N range queries on N connections runs on N server threads
 * (measured: two halves take half the wall time on a two-core server). Small tables stay one query.
 *
 * The parts are separate statements, so they see the table at slightly different moments: right
 * for a report of counts, not for anything a write is computed from (writes lock what they read).
 */

/** A table estimated this size or smaller is scanned by one query; more is cut into parts of about this size. */
export const ROWS_PER_PART = 50_000;
/** Never more parts than this (each holds a connection; the pool has four). */
export const MAX_PARTS = 4;

interface GroupCount {
  key: string;
  /** Sum of each aggregate over the group. */
  sums: number[];
}

interface GroupCountQuery {
  table: string;
  /** The column grouped by (a trusted identifier from accounts-table.ts). */
  groupColumn: string;
  /** SQL expressions summed per group, e.g. `COUNT(*)` (trusted constants, no user input). */
  aggregates: string[];
}

/**
 * `stats` is the server's size estimate from connecting (Install.tableStats): it decides whether
 * and into how many parts to cut, without a query of its own. Without it (SQLite, or a server that
 * keeps no statistics) the table is one query. The cut itself is made between MIN(id) and MAX(id)
 * (two dives into the primary key): AUTO_INCREMENT can run far ahead of the ids after bulk
 * inserts and would leave one part with most of the rows. The parts cover every id whatever
 * happens meanwhile — the first starts below any id, the last has no end.
 */
export async function groupCounts(db: Db, q: GroupCountQuery, stats?: TableStats): Promise<GroupCount[]> {
  const { knex } = db;
  const n = db.dialect === 'mysql' && stats ? partsFor(stats) : 1;
  let ranges: Range[] = [null];
  if (n > 1) {
    const b = (await knex(q.table).select(knex.raw('MIN(id) AS lo, MAX(id) AS hi')).first()) as { lo: unknown; hi: unknown } | undefined;
    if (b && b.lo !== null && b.hi !== null) ranges = idRanges(Number(b.lo), Number(b.hi), n);
  }
  const parts = await Promise.all(ranges.map((r) => groupQuery(knex, q, r)));
  const merged = new Map<string, number[]>();
  for (const rows of parts) {
    for (const row of rows) {
      const key = String(row.g ?? '');
      const sums = merged.get(key) ?? merged.set(key, q.aggregates.map(() => 0)).get(key)!;
      q.aggregates.forEach((_, i) => (sums[i]! += Number(row[`a${i}`] ?? 0)));
    }
  }
  return [...merged].map(([key, sums]) => ({ key, sums }));
}

type Range = { from: number; to: number } | null;

/** How many parts a table of this estimated size is cut into (1: one query). */
export function partsFor(stats: TableStats): number {
  if (stats.rows === null || !(stats.rows > ROWS_PER_PART)) return 1;
  return Math.min(MAX_PARTS, Math.ceil(stats.rows / ROWS_PER_PART));
}

/** `n` contiguous id ranges splitting lo..hi evenly, together covering every possible id. */
export function idRanges(lo: number, hi: number, n: number): Range[] {
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi - lo + 1 < n || n <= 1) return [null];
  const size = Math.ceil((hi - lo + 1) / n);
  const ranges: Range[] = [];
  for (let i = 0; i < n; i++) {
    ranges.push({
      from: i === 0 ? Number.MIN_SAFE_INTEGER : lo + i * size,
      to: i === n - 1 ? Number.MAX_SAFE_INTEGER : lo + (i + 1) * size - 1,
    });
  }
  return ranges;
}

async function groupQuery(knex: Knex, q: GroupCountQuery, range: Range): Promise<Array<Record<string, unknown>>> {
  const aggs = q.aggregates.map((a, i) => `${a} AS a${i}`).join(', ');
  let query = knex(q.table).select(knex.raw(`${q.groupColumn} AS g, ${aggs}`)).groupBy(q.groupColumn);
  if (range) query = query.whereBetween('id', [range.from, range.to]);
  return (await query) as Array<Record<string, unknown>>;
}
