import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { groupCounts, idRanges, partsFor, MAX_PARTS, ROWS_PER_PART } from '../src/whmcs/connection/parallel-count.js';
import { inspectInstall } from '../src/whmcs/connection/install.js';
import { mulberry32 } from './helpers/fuzz.js';

describe('partsFor / idRanges', () => {
  it('keeps a small or unknown table in one query', () => {
    expect(partsFor({ rows: null, nextId: 500_000 })).toBe(1);
    expect(partsFor({ rows: ROWS_PER_PART, nextId: null })).toBe(1);
    expect(partsFor({ rows: 10 * ROWS_PER_PART, nextId: null })).toBe(MAX_PARTS);
    expect(idRanges(1, 1, 2)).toEqual([null]);
    expect(idRanges(5, 100, 1)).toEqual([null]);
  });

  it('cuts lo..hi into contiguous, even parts that cover every id', () => {
    const rng = mulberry32(20261127);
    for (let i = 0; i < 2000; i++) {
      const lo = Math.floor(rng() * 1_000_000) - 10;
      const hi = lo + Math.floor(rng() * 3_000_000);
      const n = 1 + Math.floor(rng() * MAX_PARTS);
      const ranges = idRanges(lo, hi, n);
      if (ranges[0] === null) {
        expect(n === 1 || hi - lo + 1 < n).toBe(true);
        continue;
      }
      const rs = ranges as Array<{ from: number; to: number }>;
      expect(rs).toHaveLength(n);
      expect(rs[0]!.from).toBe(Number.MIN_SAFE_INTEGER);
      expect(rs[n - 1]!.to).toBe(Number.MAX_SAFE_INTEGER);
      for (let k = 1; k < n; k++) expect(rs[k]!.from).toBe(rs[k - 1]!.to + 1);
      // Even: every part but the open ends holds the same number of ids in lo..hi (±1 part's rounding).
      const inside = rs.map((r) => Math.min(r.to, hi) - Math.max(r.from, lo) + 1);
      expect(Math.max(...inside) - Math.min(...inside)).toBeLessThanOrEqual(Math.ceil((hi - lo + 1) / n));
      expect(inside.reduce((x, y) => x + y, 0)).toBe(hi - lo + 1);
    }
  });
});

describeBackends('groupCounts', (backend) => {
  let t: TestDb;
  const modules = ['', '0', 'totp', 'duosecurity', 'yubico', 'acme2fa'];
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    const rng = mulberry32(7);
    const rows = [];
    // Ids with gaps and some far beyond any estimate, so parts see uneven and out-of-range ids.
    let id = 0;
    for (let i = 0; i < 3000; i++) {
      id += 1 + Math.floor(rng() * 3);
      if (i === 2990) id += 1_000_000;
      rows.push({ id, email: `u${id}@x.test`, second_factor: modules[Math.floor(rng() * modules.length)]!, second_factor_config: '' });
    }
    for (let i = 0; i < rows.length; i += 500) await t.knex('tblusers').insert(rows.slice(i, i + 500));
  });
  afterAll(() => t?.drop());

  async function plain(): Promise<Map<string, number>> {
    const r = (await t.knex('tblusers').select('second_factor').count({ n: '*' }).groupBy('second_factor')) as Array<{ second_factor: string; n: unknown }>;
    return new Map(r.map((x) => [x.second_factor, Number(x.n)]));
  }

  it.each([
    ['no estimate', undefined],
    ['a right-sized estimate', { rows: 3000 * 40, nextId: 6000 }],
    ['a stale, too-small id estimate', { rows: 10 * ROWS_PER_PART, nextId: 100 }],
    ['an estimate far beyond the ids', { rows: 10 * ROWS_PER_PART, nextId: 50_000_000 }],
  ])('equals one GROUP BY with %s', async (_label, stats) => {
    const got = await groupCounts(t.db, { table: 'tblusers', groupColumn: 'second_factor', aggregates: ['COUNT(*)', "SUM(CASE WHEN second_factor = 'totp' THEN 1 ELSE 0 END)"] }, stats);
    const want = await plain();
    expect(new Map(got.map((g) => [g.key, g.sums[0]]))).toEqual(want);
    expect(got.find((g) => g.key === 'totp')?.sums[1]).toBe(want.get('totp'));
    expect(got.filter((g) => g.key !== 'totp').every((g) => g.sums[1] === 0)).toBe(true);
  });

  it('inspectInstall reports size estimates on MySQL only', async () => {
    const i = await inspectInstall(t.db);
    if (backend === 'mysql') {
      expect(Object.keys(i.tableStats)).toEqual(expect.arrayContaining(['tblusers', 'tbladmins', 'tblconfiguration']));
      expect(i.tableStats.tblusers!.nextId).toBeGreaterThan(1_000_000);
    } else {
      expect(i.tableStats).toEqual({});
    }
  });
});
