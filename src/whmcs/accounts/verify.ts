/**
 * Explains a TOTP code against an account the way WHMCS would judge it (docs/data-model.md §6): current
 * step ±1, the replay list, the stored secret in any format, and the lockout state. Read-only: it
 * never records the code, so checking a code does not burn it.
 */
import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { findAccount, type Account, type Selector } from './find-account.js';
import { moduleIsOn, tableFor } from './accounts-table.js';
import { decodeAccountConfig, type AccountConfigFormat } from './account-config.js';
import { isAesDecryptable } from '../crypto/aes-config.js';
import { readUsedOtps, replayIdentity } from './replay-cache.js';
import { anyEnabled, isEnabled, readSettingsRow } from '../settings/settings.js';
import { phpUnserialize } from '../php/php-serialize.js';
import { moduleInfo } from '../../services/catalog.js';
import { analyzeCode, type CodeVerdict } from '../../services/totp/code-check.js';
import { base32Encode } from '../../services/totp/base32-secret.js';
import { isReplayed, type ReplayCheck } from '../../services/totp/replay-list.js';
import { secretBytesFromConfig, type ResolvedSecret } from '../../services/totp/stored-secret.js';
import { CliError, DecryptError, UsageError } from '../../errors.js';

export const DEFAULT_VERIFY_WINDOW = 10;
/** User::TWOFA_ATTEMPTS / TWOFA_BACKUP_ATTEMPTS (WHMCS 8.7, 8.12). */
const TWOFA_ATTEMPTS = 5;
const TWOFA_BACKUP_ATTEMPTS = 3;
const BAN_REASON = 'Login Attempts Exceeded';

interface BanInfo {
  ip: string;
  /** As stored (WHMCS writes its own local time). */
  expires: string;
  active: boolean;
}

export interface VerifyReport {
  account: { kind: Account['kind']; id: number; name: string; email: string };
  module: string;
  at: string;
  atUnix: number;
  window: number;
  /** WHMCS would accept this code now: TOTP account, readable secret, ±1 step, not in the replay list. */
  accepted: boolean;
  /** The code matches now ±1, replay protection aside. */
  codeMatches: boolean;
  matchedStep: number | null;
  offsetSeconds: number | null;
  verdict: CodeVerdict | 'no-secret';
  /** The time-step analysis in words. */
  explanation: string | null;
  replayed: boolean;
  /** Why the verdict is what it is, most important first. */
  reasons: string[];
  /** Context that does not decide the verdict (module switched off, bans, counters). */
  notes: string[];
  secret: {
    present: boolean;
    format: AccountConfigFormat;
    source: ResolvedSecret['source'] | null;
    description: string | null;
    warnings: string[];
    /** Only with --show-secrets: the base32 key. */
    value?: string;
  };
  replay: {
    identity: string;
    identityConfirmed: boolean;
    key: string;
    cache: 'absent' | 'ok' | 'unreadable';
    entries: number;
    usedAt: number | null;
    ageSeconds: number | null;
    stale: boolean;
  };
  moduleEnabled: { totpForAudience: boolean; anyForAudience: boolean; settingsReadable: boolean };
  lockout: { bans: BanInfo[]; attempts: number | null; backupAttempts: number | null };
}

interface VerifyOptions {
  at?: number;
  window?: number;
  showSecrets?: boolean;
}

const who = (a: Account): string => `${a.kind} "${a.name}" (#${a.id})`;

export async function verifyAccountCode(session: Session, sel: Selector, rawCode: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  const window = opts.window ?? DEFAULT_VERIFY_WINDOW;
  const code = rawCode.trim();
  if (code === '') throw new UsageError('give the code to check, e.g. `whmcs-2fa verify --admin jdoe 123456`');
  const account = await findAccount(session, sel);
  const knex = session.db.knex;
  const t = tableFor(account.kind);
  const reasons: string[] = [];
  const notes: string[] = [];

  // -- the stored secret
  const raw = account.rawConfig;
  const ccHash = isAesDecryptable(raw) ? session.requireCcHash('decrypting the account\'s second-factor data (AES, WHMCS 8.12+)') : (session.ccHash ?? '');
  const decoded = decodeAccountConfig(raw, ccHash, session.limits);
  if (decoded.undecryptable) {
    throw new DecryptError(
      `the second-factor data of ${who(account)} does not decrypt with this cc_encryption_hash — it was saved with another one (restored backup or migrated install?); WHMCS itself now reads it as empty, so no code is accepted. Fix $cc_encryption_hash in configuration.php, or \`whmcs-2fa reset\` the account`,
    );
  }
  let secret: ResolvedSecret | null = null;
  let secretProblem: string | null = null;
  if (decoded.format === 'unreadable') {
    secretProblem = 'the stored second-factor data is neither AES, JSON nor PHP-serialized — WHMCS reads it as empty, so there is no secret to check against';
  } else {
    try {
      secret = secretBytesFromConfig(decoded.config, (text) => phpUnserialize(text, session.limits));
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      secretProblem = e.message;
    }
  }

  // -- the module
  const isTotp = account.module === 'totp';
  if (!moduleIsOn(account.module)) {
    reasons.push(`${who(account)} has no second factor (${t.moduleColumn} is ${account.module === '' ? 'empty' : `'${account.module}'`}) — WHMCS asks it for no code`);
  } else if (!isTotp) {
    const label = moduleInfo(account.module)?.label ?? `third-party module '${account.module}'`;
    reasons.push(`${who(account)} uses ${label}, not Time-Based Tokens — WHMCS never asks it for a TOTP code`);
  }
  if (secretProblem && isTotp) reasons.push(secretProblem);

  // -- the code
  const analysis = secret ? await analyzeCode(secret.bytes, code, { at, window, mode: secret.mode }) : null;

  // -- the replay list (WHMCS keys it by the code as typed)
  const id = replayIdentity(session.install, account);
  const used = await readUsedOtps(knex, session.limits);
  const replay: ReplayCheck = isReplayed(used.map, id.identity, code, at);
  if (used.exists && !used.map) notes.push(`the TOTPUsedOTPs row is unreadable (${used.error}) — WHMCS treats the replay list as empty`);

  // -- verdict
  const codeMatches = Boolean(analysis?.accepted);
  const accepted = isTotp && secret !== null && codeMatches && !replay.replayed;
  if (analysis) {
    if (!analysis.accepted) reasons.push(analysis.explanation);
    else if (!accepted) reasons.push(`the code itself is right (${analysis.explanation.replace(/^accepted now \((.*)\)$/, '$1')})`);
  }
  if (replay.replayed && (isTotp || secret)) {
    const age = replay.ageSeconds !== null ? ` ${replay.ageSeconds} s ago` : '';
    reasons.push(
      `this code was already used${age} (it is in WHMCS's replay list TOTPUsedOTPs${id.confirmed ? '' : ' under the WHMCS 7 identity "WHMCS:", unconfirmed'}) — WHMCS rejects a code a second time; wait for the next one` +
        (replay.stale ? '; the entry is over 300 s old but stays until the next successful TOTP login prunes it' : ''),
    );
  }
  if (accepted && analysis) reasons.unshift(analysis.explanation);
  if (secret) for (const w of secret.warnings) notes.push(w);

  // -- is the factor used at all?
  // The row WHMCS reads: the last of its name (7.x may hold duplicates).
  const settingsRow = await readSettingsRow(session);
  const s = settingsRow.parsed;
  const moduleEnabled = {
    totpForAudience: isEnabled(s, 'totp', t.audience),
    anyForAudience: anyEnabled(s, t.audience),
    settingsReadable: !settingsRow.exists || s !== null,
  };
  if (isTotp) {
    if (!moduleEnabled.settingsReadable) notes.push('the 2fasettings row is unreadable: WHMCS sees no modules and asks nobody for a second factor');
    else if (account.kind === 'user' && !moduleEnabled.totpForAudience) notes.push('Time-Based Tokens is not enabled for clients: WHMCS 8 skips this user\'s second factor entirely (logs in without 2FA)');
    else if (!moduleEnabled.anyForAudience) notes.push(`no security module is enabled for ${t.audience}: WHMCS skips this second factor entirely`);
  }
  if (account.disabled) notes.push(account.kind === 'admin' ? 'the admin account is disabled' : 'the client is Closed: WHMCS 7 does not load its second factor');

  // -- lockout
  const bans = await recentBans(knex, at);
  const active = bans.filter((b) => b.active);
  if (active.length) notes.push(`${active.length} IP${active.length === 1 ? ' is' : 's are'} banned for "${BAN_REASON}" right now (${active.map((b) => b.ip).join(', ')}) — a banned IP cannot log in whatever the code`);
  let attempts: number | null = null;
  let backupAttempts: number | null = null;
  if (account.kind === 'user') {
    attempts = counter(decoded.config.attempts);
    backupAttempts = counter(decoded.config.backup_attempts);
    if (attempts) notes.push(`${attempts} failed second-factor attempt${attempts === 1 ? '' : 's'} recorded (WHMCS bans the IP for 15 min at ${TWOFA_ATTEMPTS})`);
    if (backupAttempts) notes.push(`${backupAttempts} failed backup-code attempt${backupAttempts === 1 ? '' : 's'} recorded (ban at ${TWOFA_BACKUP_ATTEMPTS})`);
  }

  return {
    account: { kind: account.kind, id: account.id, name: account.name, email: account.email },
    module: account.module,
    at: new Date(at * 1000).toISOString(),
    atUnix: at,
    window,
    accepted,
    codeMatches,
    matchedStep: analysis?.matchedStep ?? null,
    offsetSeconds: analysis?.offsetSeconds ?? null,
    verdict: analysis?.verdict ?? 'no-secret',
    explanation: analysis?.explanation ?? null,
    replayed: replay.replayed,
    reasons,
    notes,
    secret: {
      present: secret !== null,
      format: decoded.format,
      source: secret?.source ?? null,
      description: secret?.description ?? null,
      warnings: secret?.warnings ?? [],
      ...(opts.showSecrets && secret ? { value: secret.source === 'secret' ? String(decoded.config.secret) : base32Encode(secret.bytes) } : {}),
    },
    replay: {
      identity: id.identity,
      identityConfirmed: id.confirmed,
      key: replay.key,
      cache: !used.exists ? 'absent' : used.map ? 'ok' : 'unreadable',
      entries: used.map ? Object.keys(used.map).length : 0,
      usedAt: replay.usedAt,
      ageSeconds: replay.ageSeconds,
      stale: replay.stale,
    },
    moduleEnabled,
    lockout: { bans, attempts, backupAttempts },
  };
}

function counter(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** `Y-m-d H:i:s` in this machine's local time, the way PHP's date() writes ban expiries. */
function localSqlTime(unix: number): string {
  const d = new Date(unix * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "Login Attempts Exceeded" bans still running at `at`, or that ended in the 24 h before. */
async function recentBans(knex: Knex, at: number): Promise<BanInfo[]> {
  if (!(await knex.schema.hasTable('tblbannedips'))) return [];
  const now = localSqlTime(at);
  const rows = (await knex('tblbannedips')
    .where({ reason: BAN_REASON })
    .where('expires', '>=', localSqlTime(at - 86_400))
    .orderBy('expires', 'desc')
    .limit(20)
    .select('ip', 'expires')) as Array<{ ip: unknown; expires: unknown }>;
  return rows.map((r) => ({ ip: String(r.ip), expires: String(r.expires), active: String(r.expires) > now }));
}

/** A `--window` value: whole 30-second steps. */
export function parseWindow(v: string | undefined, def: number, max = 2880): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v.trim()) || Number(v) > max) throw new UsageError(`--window must be a whole number of 30-second steps from 0 to ${max}, not "${v}"`);
  return Number(v);
}

/** Unix seconds or ISO 8601 → unix seconds. */
export function parseAt(v: string): number {
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.floor(Number(s));
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const ms = Date.parse(s);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  throw new UsageError(`--at needs unix seconds or an ISO 8601 time (e.g. 2025-01-31T12:00:00Z), not "${v}"`);
}

// ---------------------------------------------------------------------------------------------
// Clock (verify --ntp)

export interface ClockSide {
  /** Seconds this machine's clock is ahead of NTP time (negative = behind); null without an answer. */
  serverAheadSeconds: number | null;
  /** Seconds the device's clock seems ahead of true time, from the matched step (±30 s). */
  deviceAheadSeconds: number | null;
  /** 'server' | 'device' | 'both' | 'neither' | 'unknown' */
  culprit: 'server' | 'device' | 'both' | 'neither' | 'unknown';
  summary: string;
}

const SERVER_TOLERANCE = 15;

/**
 * Combines the code's step offset (device minus server, 30 s resolution) with this machine's NTP
 * offset (assumed to be the WHMCS server) into which clock is wrong.
 * `ntpOffset` follows NTP's sign: what must be added to the local clock (positive = it is behind).
 */
export function whichClock(codeOffsetSeconds: number | null, ntpOffset: number | null): ClockSide {
  if (ntpOffset === null) {
    return { serverAheadSeconds: null, deviceAheadSeconds: null, culprit: 'unknown', summary: 'no NTP server gave a usable answer, so it cannot say which clock is off' };
  }
  const server = -ntpOffset;
  const abs = Math.abs(server);
  const serverText = abs < 1 ? 'this server\'s clock is right (within 1 s of NTP)' : `this server's clock is ${abs.toFixed(1)} s ${server > 0 ? 'fast' : 'slow'}`;
  if (codeOffsetSeconds === null) {
    return {
      serverAheadSeconds: server,
      deviceAheadSeconds: null,
      culprit: abs >= SERVER_TOLERANCE ? 'server' : 'unknown',
      summary: `${serverText}; the code matched no nearby step, so the device's clock cannot be judged (wrong secret or account?)`,
    };
  }
  const device = codeOffsetSeconds + server;
  const serverOff = abs >= SERVER_TOLERANCE;
  // The step offset has 30 s resolution (and a step may turn between typing and checking), so
  // only more than one step away says anything about the device.
  const deviceOff = Math.abs(device) > 30;
  const dev = `${Math.abs(Math.round(device))} s ${device > 0 ? 'fast' : 'slow'}`;
  if (serverOff && deviceOff) return { serverAheadSeconds: server, deviceAheadSeconds: device, culprit: 'both', summary: `${serverText}, and the device's clock is about ${dev} — fix both (NTP on the server, automatic time on the device)` };
  if (serverOff) return { serverAheadSeconds: server, deviceAheadSeconds: device, culprit: 'server', summary: `${serverText} and the device looks right — fix the server's time (NTP); every user's codes are affected` };
  if (deviceOff) return { serverAheadSeconds: server, deviceAheadSeconds: device, culprit: 'device', summary: `${serverText}, so the device's clock is about ${dev} — turn on automatic date and time on the device` };
  return { serverAheadSeconds: server, deviceAheadSeconds: device, culprit: 'neither', summary: `${serverText} and the code fits the current time — neither clock is the problem` };
}
