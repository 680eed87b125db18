import type { Db } from './db.js';
import { DatabaseError } from '../errors.js';

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
}

export async function inspectInstall(db: Db): Promise<Install> {
  const { knex } = db;
  if (!(await knex.schema.hasTable('tblconfiguration'))) {
    throw new DatabaseError(`${db.label} is not a WHMCS database (no tblconfiguration table) — point --whmcs-dir or --db at WHMCS's own database`);
  }
  if (!(await knex.schema.hasTable('tbladmins'))) {
    throw new DatabaseError(`${db.label} is not a WHMCS database (no tbladmins table) — point --whmcs-dir or --db at WHMCS's own database`);
  }
  const row = await knex('tblconfiguration').where({ setting: 'Version' }).first('value');
  const version = row ? String(row.value) : null;
  const m = version ? /^(\d+)\.(\d+)/.exec(version) : null;
  const major = m ? Number(m[1]) : null;
  const minor = m ? Number(m[2]) : null;
  const hasUsers = await knex.schema.hasTable('tblusers');
  const shape: '7' | '8' = hasUsers || (major ?? 0) >= 8 ? '8' : '7';
  if (shape === '8' && !hasUsers) {
    throw new DatabaseError(`${db.label} says WHMCS ${version} but has no tblusers table — the upgrade looks incomplete; finish it before using whmcs-2fa`);
  }
  const activityHasUserColumns = (await knex.schema.hasTable('tblactivitylog'))
    ? await knex.schema.hasColumn('tblactivitylog', 'user_id')
    : false;
  const aesConfigs = shape === '8' && (isAtLeast(major, minor, 8, 12) || (await anyAesConfig(db)));
  return { version, major, minor, shape, activityHasUserColumns, aesConfigs };
}

function isAtLeast(major: number | null, minor: number | null, M: number, m: number): boolean {
  if (major === null) return false;
  return major > M || (major === M && (minor ?? 0) >= m);
}

/**
 * The first release that writes AES-hex is unknown (data model §2.4), so a database that already
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

export function versionAtLeast(install: Install, major: number, minor: number): boolean {
  return isAtLeast(install.major, install.minor, major, minor);
}
