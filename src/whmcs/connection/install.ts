import type { Db } from './db.js';
import { DatabaseError } from '../../errors.js';

export interface SerializeLimits {
  maxLength: number;
  maxArrayLength: number;
  maxDepth: number;
}

export const DEFAULT_SERIALIZE_LIMITS: SerializeLimits = { maxLength: 16384, maxArrayLength: 256, maxDepth: 5 };

/** What a connected database is: which WHMCS, which shape, which storage formats are in play. */
export interface Install {
  version: string | null;
  major: number | null;
  minor: number | null;
  /** '7' keeps clients' 2FA in tblclients; '8' keeps users' 2FA in tblusers. */
  shape: '7' | '8';
  /** tblactivitylog has user_id/admin_id (8.x). */
  activityHasUserColumns: boolean;
  /** Whether writes of per-account config should be AES-hex (8.12+, or AES already seen here). */
  aesConfigs: boolean;
  /**
   * The server's own estimate of each WHMCS table's size when connecting (MySQL's
   * information_schema; absent on SQLite) — enough to decide how to cut a full scan, never a count.
   */
  tableStats: Record<string, TableStats>;
}

export interface TableStats {
  /** Estimated rows (InnoDB samples; may be stale or null). */
  rows: number | null;
  /** The next AUTO_INCREMENT id, so ids lie below it (may be stale or null). */
  nextId: number | null;
}

export async function inspectInstall(db: Db): Promise<Install> {
  const { knex } = db;
  // Both at once (on MySQL, on two connections): the version query fails if tblconfiguration is
  // missing, and then the schema facts say why.
  const versionQuery = knex('tblconfiguration').where({ setting: 'Version' }).first('value');
  const [meta, versionRead] = await Promise.all([schemaFacts(db), versionQuery.then((row) => ({ row }), (error: unknown) => ({ error }))]);
  if (!meta.tables.has('tblconfiguration')) {
    throw new DatabaseError(`${db.label} is not a WHMCS database (no tblconfiguration table) — point --whmcs-dir or --db at WHMCS's own database`);
  }
  if (!meta.tables.has('tbladmins')) {
    throw new DatabaseError(`${db.label} is not a WHMCS database (no tbladmins table) — point --whmcs-dir or --db at WHMCS's own database`);
  }
  if ('error' in versionRead) throw versionRead.error;
  const row = versionRead.row as { value: unknown } | undefined;
  const version = row ? String(row.value) : null;
  const m = version ? /^(\d+)\.(\d+)/.exec(version) : null;
  const major = m ? Number(m[1]) : null;
  const minor = m ? Number(m[2]) : null;
  const hasUsers = meta.tables.has('tblusers');
  const shape: '7' | '8' = hasUsers || (major ?? 0) >= 8 ? '8' : '7';
  if (shape === '8' && !hasUsers) {
    throw new DatabaseError(`${db.label} says WHMCS ${version} but has no tblusers table — the upgrade looks incomplete; finish it before using whmcs-2fa`);
  }
  const activityHasUserColumns = meta.activityHasUserId;
  const aesConfigs = shape === '8' && (isAtLeast(major, minor, 8, 12) || (await anyAesConfig(db)));
  return { version, major, minor, shape, activityHasUserColumns, aesConfigs, tableStats: meta.stats };
}

const WHMCS_TABLES = ['tblconfiguration', 'tbladmins', 'tblusers', 'tblclients', 'tblactivitylog'];

interface SchemaFacts {
  /** Which of WHMCS_TABLES exist (lower-cased). */
  tables: Set<string>;
  /** tblactivitylog has user_id (8.x). */
  activityHasUserId: boolean;
  stats: Record<string, TableStats>;
}

type FactRow = { t: unknown; c: unknown; n?: unknown; ai?: unknown };

/**
 * The tables, their size estimates and the one column the shape depends on, in a single round
 * trip on MySQL (every command starts here; a query per table and column cost a round trip each).
 * information_schema compares names case-insensitively, like knex's hasTable did.
 */
async function schemaFacts(db: Db): Promise<SchemaFacts> {
  const { knex } = db;
  const marks = WHMCS_TABLES.map(() => '?').join(', ');
  const rows: FactRow[] =
    db.dialect === 'mysql'
      ? ((await knex.raw(
          `SELECT TABLE_NAME AS t, '' AS c, TABLE_ROWS AS n, AUTO_INCREMENT AS ai FROM information_schema.TABLES ` +
            `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${marks}) ` +
            `UNION ALL SELECT TABLE_NAME, COLUMN_NAME, NULL, NULL FROM information_schema.COLUMNS ` +
            `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tblactivitylog' AND COLUMN_NAME = 'user_id'`,
          WHMCS_TABLES,
        )) as [FactRow[]])[0]
      : await knex.raw(
          `SELECT name AS t, '' AS c FROM sqlite_master WHERE type = 'table' AND lower(name) IN (${marks}) ` +
            `UNION ALL SELECT 'tblactivitylog' AS t, name AS c FROM pragma_table_info('tblactivitylog') WHERE lower(name) = 'user_id'`,
          WHMCS_TABLES,
        );
  const tables = new Set<string>();
  const stats: Record<string, TableStats> = {};
  let activityHasUserId = false;
  const num = (v: unknown): number | null => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));
  for (const r of rows) {
    const t = String(r.t).toLowerCase();
    if (String(r.c ?? '') !== '') {
      if (t === 'tblactivitylog') activityHasUserId = true;
      continue;
    }
    tables.add(t);
    if (db.dialect === 'mysql') stats[t] = { rows: num(r.n), nextId: num(r.ai) };
  }
  return { tables, activityHasUserId, stats };
}

function isAtLeast(major: number | null, minor: number | null, M: number, m: number): boolean {
  if (major === null) return false;
  return major > M || (major === M && (minor ?? 0) >= m);
}

/**
 * The first release that writes AES-hex is unknown (docs/data-model.md §2.4), so a database that already
 * holds one AES-hex config proves its WHMCS reads them. One indexed probe per table, no scan in JS.
 */
async function anyAesConfig(db: Db): Promise<boolean> {
  const probes: Array<[string, string]> = [
    ['tblusers', 'second_factor_config'],
    ['tbladmins', 'authdata'],
  ];
  for (const [table, col] of probes) {
    const rows = await db
      .knex(table)
      .whereNot(col, '')
      .whereNotNull(col)
      .whereNot(col, 'like', '{%')
      .whereNot(col, 'like', 'a:%')
      .limit(5)
      .pluck(col);
    if (rows.some((v: unknown) => typeof v === 'string' && v.length % 2 === 0 && /^[0-9a-f]+$/i.test(v))) return true;
  }
  return false;
}

/** Duo's iframe prompt (WHMCS ≤ 8.8) stopped working on 2024-03-30. */
export function duoNeedsUniversalPrompt(install: Install): boolean {
  return install.major !== null && !isAtLeast(install.major, install.minor, 8, 9);
}

