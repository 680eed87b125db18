/**
 * Is this `cc_encryption_hash` the one WHMCS encrypted its data with? Neither of WHMCS's ciphers
 * can tell (data model §4: `encrypt()` has no integrity check, and a wrong AES key makes WHMCS read
 * an empty config), so a write that encrypts with a wrong key succeeds and then locks people out.
 * The proof is what the database already holds that WHMCS encrypted with its key: a few rows of
 * each, read with LIMIT (never a scan).
 *
 * Strong probes (a wrong key is caught with near certainty):
 * - AES second-factor configs (tbladmins.authdata, tblusers.second_factor_config): must decrypt
 *   with valid padding to a JSON array (or to nothing, WHMCS's empty config);
 * - the Duo keys in `2fasettings`: must decrypt to printable text of the 20/40 characters Duo needs.
 * Weak probes (other `encrypt()`ed values WHMCS keeps): server passwords (tblservers.password),
 * service passwords (tblhosting.password), registrar settings (tblregistrars.value) and the SMTP
 * password (tblconfiguration `SMTPPassword`). A wrong key turns them into random bytes, which are
 * seldom readable text; only plaintexts of at least MIN_WEAK_LENGTH bytes count, so the chance of a
 * wrong key passing one is below 1 % and falls with every further row.
 *
 * All sources are read side by side.
 *
 * Verdict: `agrees` when a strong probe decrypts (a wrong key cannot pass one, so this key is one
 * WHMCS wrote its two-factor data with; values that do not decrypt beside it are named in the
 * message: parts of the database were saved under another key), or when only weak probes exist and
 * all of them decrypt; `disagrees` when no strong probe agrees and something does not decrypt;
 * `unchecked` when there is nothing conclusive to check against (or no key).
 */
import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { aesDecryptConfig, isAesDecryptable } from './aes-config.js';
import { whmcsDecrypt } from './whmcs-encrypt.js';
import { modulesOf, readSettingsRow } from '../settings/settings.js';
import { DecryptError } from '../../errors.js';

export type KeyVerdict = 'agrees' | 'disagrees' | 'unchecked';

interface KeyProbe {
  /** Where the value came from, e.g. `tbladmins.authdata #3`, `2fasettings duosecurity.secretKey`. */
  source: string;
  /** It decrypts to what WHMCS would have stored. */
  ok: boolean;
  /** strong: AES configs and Duo keys; weak: other encrypt()ed values (a readable-text test). */
  strength: 'strong' | 'weak';
}

export interface KeyCheck {
  verdict: KeyVerdict;
  /** Conclusive probes only (values that prove nothing — empty, too short — are left out). */
  probes: KeyProbe[];
  /** One line: what was found and, unless it agrees cleanly, what to check. */
  message: string;
}

/** Rows read per source: enough to outvote one odd value, cheap on any install. */
const ROWS_PER_SOURCE = 5;
/** Shorter weak plaintexts are readable by chance too often to count. */
const MIN_WEAK_LENGTH = 6;
const DUO_LENGTHS: Record<string, number> = { integrationKey: 20, secretKey: 40 };

const cache = new WeakMap<Session, Promise<KeyCheck>>();

/**
 * The key check for this session (run once, then remembered): used by every write that encrypts
 * and reported by `status`. Never throws for a disagreement — see `requireKeyAgreement`.
 */
export function checkEncryptionKey(session: Session): Promise<KeyCheck> {
  let p = cache.get(session);
  if (!p) {
    p = runCheck(session);
    cache.set(session, p);
    p.catch(() => cache.delete(session));
  }
  return p;
}

/**
 * Before a write that encrypts: exit 6 (nothing written) when the key disagrees with what WHMCS
 * encrypted; a warning to pass on when there is nothing to prove it against.
 */
export async function requireKeyAgreement(
  session: Session,
  what: string,
  opts: { replacing?: (p: KeyProbe) => boolean } = {},
): Promise<{ warnings: string[]; check: KeyCheck }> {
  // Values this write replaces prove nothing about the key it writes with (new Duo keys replacing
  // ones saved under another key): the verdict rests on the rest.
  const full = await checkEncryptionKey(session);
  const check = opts.replacing ? withoutProbes(full, opts.replacing) : full;
  if (check.verdict === 'disagrees') {
    throw new DecryptError(`not ${what}: ${check.message} — nothing was written`, { encryptionKey: summarizeKeyCheck(check) });
  }
  if (check.verdict === 'unchecked') return { warnings: [`${what}: ${check.message}`], check };
  return { warnings: check.probes.some((p) => !p.ok) ? [check.message] : [], check };
}

/** The compact form `status` reports. */
export function summarizeKeyCheck(c: KeyCheck): { verdict: KeyVerdict; checked: number; disagreeing: string[]; message: string } {
  return { verdict: c.verdict, checked: c.probes.length, disagreeing: c.probes.filter((p) => !p.ok).map((p) => p.source), message: c.message };
}

async function runCheck(session: Session): Promise<KeyCheck> {
  const H = session.ccHash;
  if (H === undefined || H === '') {
    return {
      verdict: 'unchecked',
      probes: [],
      message: 'no cc_encryption_hash is known (connected by URL without $WHMCS_CC_ENCRYPTION_HASH), so nothing encrypted can be read or checked',
    };
  }
  const { knex } = session.db;
  const tables = await existingTables(session);
  const strong = async (table: string, col: string): Promise<KeyProbe[]> => {
    if (!tables.has(table)) return [];
    const out: KeyProbe[] = [];
    for (const r of await sample(knex, table, col)) {
      if (!isAesDecryptable(r.v)) continue;
      const plain = aesDecryptConfig(r.v, H);
      out.push({ source: `${table}.${col} #${r.id}`, ok: plain !== null && (plain === '' || isJsonArrayText(plain)), strength: 'strong' });
    }
    return out;
  };
  const duo = async (): Promise<KeyProbe[]> => {
    const entry = modulesOf((await readSettingsRow(session)).parsed).duosecurity;
    const out: KeyProbe[] = [];
    for (const key of Object.keys(DUO_LENGTHS)) {
      const stored = entry?.[key];
      if (typeof stored !== 'string' || stored === '') continue;
      const plain = whmcsDecrypt(stored, H);
      if (plain.length === 0) continue; // encrypt('') decrypts to '' under any key
      out.push({ source: `2fasettings duosecurity.${key}`, ok: isPrintableAscii(plain) && plain.length === DUO_LENGTHS[key], strength: 'strong' });
    }
    return out;
  };
  const weak = async (table: string, col: string, setting: string | null): Promise<KeyProbe[]> => {
    if (!tables.has(table)) return [];
    const out: KeyProbe[] = [];
    for (const r of await sample(knex, table, col, setting)) {
      // Not encrypt() output (plaintext, or no more than the 20-byte header): proves nothing.
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(r.v) || Buffer.from(r.v, 'base64').length <= 20) continue;
      const plain = whmcsDecrypt(r.v, H);
      if (plain.length < MIN_WEAK_LENGTH) continue;
      out.push({ source: setting ? `${table} ${setting}` : `${table}.${col} #${r.id}`, ok: isReadableText(plain), strength: 'weak' });
    }
    return out;
  };
  // Side by side (each is one small LIMITed read): status runs this on every call.
  const parts = await Promise.all([
    strong('tbladmins', 'authdata'),
    strong('tblusers', 'second_factor_config'),
    duo(),
    weak('tblconfiguration', 'value', 'SMTPPassword'),
    weak('tblservers', 'password', null),
    weak('tblhosting', 'password', null),
    weak('tblregistrars', 'value', null),
  ]);
  return verdictOf(parts.flat());
}

/** The verdict over some of a check's probes (e.g. without the values a write is replacing). */
function withoutProbes(c: KeyCheck, drop: (p: KeyProbe) => boolean): KeyCheck {
  return c.probes.some(drop) ? verdictOf(c.probes.filter((p) => !drop(p))) : c;
}

function verdictOf(probes: KeyProbe[]): KeyCheck {
  if (probes.length === 0) {
    return {
      verdict: 'unchecked',
      probes,
      message: 'nothing in the database was encrypted with cc_encryption_hash yet (no AES second-factor data, Duo keys or encrypted passwords), so it cannot be proven — make sure it is the one in WHMCS\'s own configuration.php',
    };
  }
  const bad = probes.filter((p) => !p.ok);
  const strongOk = probes.some((p) => p.strength === 'strong' && p.ok);
  const names = (ps: KeyProbe[]) => {
    const shown = ps.slice(0, 4).map((p) => p.source).join(', ');
    return ps.length > 4 ? `${shown} and ${ps.length - 4} more` : shown;
  };
  if (bad.length === 0) return { verdict: 'agrees', probes, message: `cc_encryption_hash decrypts what WHMCS encrypted (${names(probes)})` };
  if (!strongOk) {
    return {
      verdict: 'disagrees',
      probes,
      message: `cc_encryption_hash is not the key WHMCS encrypted its data with: ${names(bad)} ${bad.length === 1 ? 'does' : 'do'} not decrypt with it${bad.length < probes.length ? ` (${names(probes.filter((p) => p.ok))} ${probes.length - bad.length === 1 ? 'does' : 'do'})` : ''} — check $cc_encryption_hash in configuration.php (or $WHMCS_CC_ENCRYPTION_HASH) against the one this WHMCS runs with`,
    };
  }
  return {
    verdict: 'agrees',
    probes,
    message: `cc_encryption_hash decrypts two-factor data WHMCS encrypted (${names(probes.filter((p) => p.ok))}), but ${names(bad)} ${bad.length === 1 ? 'does' : 'do'} not decrypt with it — parts of this database were saved with another key (restored or merged data?)`,
  };
}

/** Which of the probed tables exist (information_schema / sqlite_master, one query). */
async function existingTables(session: Session): Promise<Set<string>> {
  const names = ['tbladmins', 'tblusers', 'tblconfiguration', 'tblservers', 'tblhosting', 'tblregistrars'];
  const marks = names.map(() => '?').join(', ');
  const { knex } = session.db;
  const rows: Array<{ t: unknown }> =
    session.db.dialect === 'mysql'
      ? ((await knex.raw(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${marks})`, names)) as [Array<{ t: unknown }>])[0]
      : await knex.raw(`SELECT name AS t FROM sqlite_master WHERE type = 'table' AND lower(name) IN (${marks})`, names);
  return new Set(rows.map((r) => String(r.t).toLowerCase()));
}

async function sample(knex: Knex, table: string, col: string, setting: string | null = null): Promise<Array<{ id: number; v: string }>> {
  let q = knex(table).select({ id: 'id', v: col }).whereNotNull(col).whereNot(col, '');
  if (setting) q = q.where({ setting });
  else if (table === 'tbladmins' || table === 'tblusers') q = q.whereNot(col, 'like', '{%').whereNot(col, 'like', 'a:%');
  const rows = (await q.orderBy('id', 'desc').limit(ROWS_PER_SOURCE)) as Array<{ id: unknown; v: unknown }>;
  return rows.map((r) => ({ id: Number(r.id), v: String(r.v) }));
}

function isJsonArrayText(s: string): boolean {
  if (s[0] !== '{' && s[0] !== '[') return false;
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

function isPrintableAscii(b: Buffer): boolean {
  for (const x of b) if (x < 0x20 || x > 0x7e) return false;
  return true;
}

/** Valid UTF-8 without control characters (tab aside): what a password someone typed looks like. */
function isReadableText(b: Buffer): boolean {
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return false;
  }
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(s);
}
