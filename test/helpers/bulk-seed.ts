import type { Knex } from 'knex';

/**
 * Seeds `n` users set-based on MySQL/MariaDB (one INSERT … SELECT over a digits cross join, no
 * sequence engine needed): every 50th is on `totp` (must stay untouched by a Duo reset), the rest
 * on `duosecurity` with a mix of NULL, '' and JSON configs so NULL/'' restores are exercised.
 */
export async function seedBulkUsers(knex: Knex, n: number, prefix = 'bulk'): Promise<void> {
  const digits = '(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
  const places = Math.max(1, Math.ceil(Math.log10(n + 1)));
  const tables = Array.from({ length: places }, (_, i) => `${digits} p${i}`).join(' CROSS JOIN ');
  const num = Array.from({ length: places }, (_, i) => `p${i}.d * ${10 ** i}`).join(' + ');
  await knex.raw(
    `INSERT INTO tblusers (first_name, last_name, email, password, language, second_factor, second_factor_config, created_at, updated_at)
     SELECT 'Bulk', 'User', CONCAT(?, seq.n, '@x.test'), '', '',
            CASE WHEN seq.n % 50 = 0 THEN 'totp' ELSE 'duosecurity' END,
            CASE WHEN seq.n % 10 = 3 THEN NULL WHEN seq.n % 10 = 7 THEN ''
                 ELSE CONCAT('{"backupcode":"', SHA1(seq.n), '","duo_auth_identifier":"email"}') END,
            NOW(), NOW()
     FROM (SELECT ${num} AS n FROM ${tables}) seq
     WHERE seq.n < ?
     ORDER BY seq.n`,
    [prefix, n],
  );
}

export interface UsersChecksum {
  rows: number;
  crc: string;
  nulls: number;
  duo: number;
}

/** A byte-level fingerprint of tblusers' 2FA columns (NULL counted separately: IFNULL hides it). */
export async function usersChecksum(knex: Knex): Promise<UsersChecksum> {
  const [rows] = (await knex.raw(
    `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT(id, '|', second_factor, '|', IFNULL(second_factor_config, '')))) AS crc,
            SUM(second_factor_config IS NULL) AS nulls, SUM(second_factor = 'duosecurity') AS duo FROM tblusers`,
  )) as [Array<Record<string, unknown>>];
  const r = rows[0]!;
  return { rows: Number(r.n), crc: String(r.crc), nulls: Number(r.nulls), duo: Number(r.duo) };
}
