/**
 * What a bulk reset and its undo hold at once is bounded, whatever the number of rows: the engine
 * has at most two batches read and not yet committed (the pipeline's depth), every part of the
 * history entry is small (no string or buffer made from it is one of V8's large objects, which only
 * a full collection frees), and undo reads those parts several to a query and loads them into its
 * temporary table in statements of bounded size. Counted with injected counters and the queries
 * sent, not with time or memory thresholds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { openSession } from '../src/whmcs/connection/connect.js';
import type { Session } from '../src/whmcs/connection/session.js';
import { bulkResetJob } from '../src/whmcs/accounts/reset.js';
import { USERS } from '../src/whmcs/accounts/accounts-table.js';
import { runBulk } from '../src/whmcs/changes/bulk.js';
import { undoChange } from '../src/whmcs/history/undo.js';
import { HISTORY, PARTS } from '../src/whmcs/history/journal.js';
import { journalLines, journalPieces, PART_CHARS_MAX } from '../src/whmcs/history/journal-rows.js';
import type { RowChange } from '../src/whmcs/changes/row-change.js';
import { mulberry32 } from './helpers/fuzz.js';

const ROWS = 6_000;
const BATCH = 1_000;
/** V8's largest regular heap object (kMaxRegularHeapObjectSize): anything bigger is a large object. */
const LARGE_OBJECT = 128 * 1024;

describeBackends('bulk reset and undo hold a bounded amount', (backend) => {
  let t: TestDb;
  let session: Session;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    // Configs of 200–300 characters, so that a batch's history is cut into several parts.
    const rows = Array.from({ length: ROWS }, (_, i) => ({
      first_name: 'Bulk',
      last_name: 'User',
      email: `bulk${i}@x.test`,
      password: '',
      language: '',
      second_factor: 'duosecurity',
      second_factor_config: JSON.stringify({ backupcode: 'x'.repeat(150 + (i % 100)), duo_auth_identifier: 'email' }),
      created_at: '2026-01-01 00:00:00',
      updated_at: '2026-01-01 00:00:00',
    }));
    await t.knex.batchInsert('tblusers', rows, backend === 'sqlite' ? 50 : 1000);
    session = await openSession({ whmcsDir: t.whmcsDir, env: {}, cwd: t.whmcsDir, warn: () => {} });
  }, 120_000);
  afterAll(async () => {
    await session?.close();
    await t?.drop();
  });

  let entryId = '';

  it('has at most two batches read and not yet committed; every part of the history stays small', async () => {
    const job = bulkResetJob(session, USERS, 'duosecurity', 'bounded', BATCH);
    let read = 0;
    let committed = 0;
    let most = 0;
    const counted = {
      ...job,
      change: (current: Record<string, string | null>) => {
        read++;
        most = Math.max(most, read - committed);
        return job.change(current);
      },
    };
    const out = await runBulk(session, counted, { onBatch: (p) => (committed = p.done) });
    expect(out).toMatchObject({ rows: ROWS, batches: ROWS / BATCH, interrupted: false });
    expect(read).toBe(ROWS);
    // MariaDB reads batch n+1 while n commits; SQLite one batch at a time.
    expect(most).toBeLessThanOrEqual((backend === 'mysql' ? 2 : 1) * BATCH);
    entryId = out.journalId!;

    const entry = (await t.knex(HISTORY).where({ id: entryId }).first('seq', 'parts', 'row_count')) as { seq: number; parts: number; row_count: number };
    const parts = (await t.knex(PARTS).where({ seq: entry.seq }).orderBy('part').select('part', 'row_count', 'data')) as Array<{ part: number; row_count: number; data: string }>;
    expect(parts).toHaveLength(Number(entry.parts));
    expect(parts.reduce((n, p) => n + Number(p.row_count), 0)).toBe(ROWS);
    // Cut within batches, not one part per batch.
    expect(parts.length).toBeGreaterThan(out.batches * 2);
    for (const p of parts) {
      expect(p.data.length).toBeLessThan(LARGE_OBJECT);
      // Sealed (AES, base64): a third more than at most PART_CHARS_MAX characters of text.
      expect(p.data.length).toBeLessThanOrEqual(Math.ceil((PART_CHARS_MAX + 32) / 3) * 4);
    }
  });

  it('undo reads the parts several to a query, loads them in bounded statements and restores every row', async () => {
    const parts = Number(((await t.knex(PARTS).count({ n: '*' }).first()) as { n: unknown }).n);
    const sent: Array<{ sql: string; bindings?: unknown[] }> = [];
    const onQuery = (q: { sql: string; bindings?: unknown[] }) => sent.push(q);
    session.db.knex.on('query', onQuery);
    let r;
    try {
      r = await undoChange(session, entryId, { yes: true, dryRun: false });
    } finally {
      session.db.knex.off('query', onQuery);
    }
    expect(r.restored).toBe(ROWS);
    expect(Number(((await t.knex('tblusers').where({ second_factor: 'duosecurity' }).count({ n: '*' }).first()) as { n: unknown }).n)).toBe(ROWS);

    const partReads = sent.filter((q) => /^select .* from [`"]mod_whmcs2fa_journal_parts[`"]/i.test(q.sql));
    // The first read takes one part (its size is not known yet), then about half a megabyte each.
    expect(partReads.length).toBeLessThanOrEqual(Math.ceil(parts / 3) + 2);
    const inserts = sent.filter((q) => /^insert into [`"]whmcs2fa_undo_rows[`"]/i.test(q.sql));
    expect(inserts.length).toBeLessThan(parts);
    // Each statement's values stay well under a large object, however many rows the entry has.
    for (const q of inserts) expect((q.bindings ?? []).reduce((n: number, v) => n + String(v ?? '').length, 0)).toBeLessThan(LARGE_OBJECT);
  });
});

describe('journalPieces', () => {
  it('cuts a batch into pieces of at most PART_CHARS_MAX characters (a longer row alone) that together are journalLines of it', () => {
    const rng = mulberry32(77);
    for (let n = 0; n < 20; n++) {
      // Rows of very different sizes, a few longer than a whole piece.
      const rows: RowChange[] = Array.from({ length: 1 + Math.floor(rng() * 2000) }, (_, i) => {
        const size = rng() < 0.01 ? PART_CHARS_MAX + Math.floor(rng() * 5000) : Math.floor(rng() ** 3 * 3000);
        return { table: 'tblusers', key: { id: i + 1 }, before: { second_factor: 'duosecurity', second_factor_config: 'c'.repeat(size) }, after: { second_factor: '', second_factor_config: '' } };
      });
      const pieces = journalPieces(rows);
      expect(pieces.map((p) => p.text).join('')).toBe(journalLines(rows).text);
      expect(pieces.reduce((k, p) => k + p.rows, 0)).toBe(rows.length);
      for (const p of pieces) if (p.rows > 1) expect(p.text.length).toBeLessThanOrEqual(PART_CHARS_MAX);
    }
  });
});
