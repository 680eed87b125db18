/**
 * Enrolling an account in Time-Based Tokens the way WHMCS's own activation does (docs/data-model.md §2.3,
 * §3, §6, §11): a 10-byte base32 secret, a first code checked before anything is written, then
 * module `totp`, the config in this install's format, a fresh backup code, the activation code in
 * the replay list (8.x), and optionally the `totp` enable flag — one journalled change.
 */
import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { accountById, findAccount, type Account, type Selector } from './find-account.js';
import { moduleIsOn, tableFor, type Kind } from './accounts-table.js';
import { accountRowChange, configTargetFor, encodeForInstall } from './account-write.js';
import { decodeAccountConfig } from './account-config.js';
import { activityText, type ActivityEntry } from '../changes/activity-log.js';
import type { PlanWithResult, RowChange } from '../changes/change.js';
import { hashBackupCode } from '../crypto/backup-code-hash.js';
import { readUsedOtps, replayIdentity, usedOtpsRowChanges, withUsedCode } from './replay-cache.js';
import {
  FLAG,
  SETTING,
  anyEnabled,
  emptySettings,
  isEnabled,
  nonArrayModule,
  readSettingsRow,
  serializeSettings,
  withModule,
  type Audience,
  type SettingsLock,
} from '../settings/settings.js';
import { dbNow } from '../connection/sql-time.js';
import { moduleInfo } from '../../services/catalog.js';
import { analyzeCode, type CodeAnalysis } from '../../services/totp/code-check.js';
import { encodeTokendata } from '../../services/totp/stored-secret.js';
import { generateTotpSecret, normalizeImportedSecret, sonataBase32Decode } from '../../services/totp/base32-secret.js';
import { issuerFromSystemUrl, otpauthUri } from '../../services/totp/otpauth-uri.js';
import { DecryptError, RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';

/** WHMCS's activation window: previous, current and next step. */
const DEFAULT_ACTIVATION_WINDOW = 1;
/** How far the diagnosis of a rejected code looks (±5 min). */
const DIAGNOSIS_WINDOW = 10;

interface TotpAudienceState {
  audience: Audience;
  /** The `2fasettings` row parses (else --activate would have to invent the other settings). */
  readable: boolean;
  totpEnabled: boolean;
  anyEnabled: boolean;
}

export interface EnrolmentDraft {
  account: Account;
  secret: string;
  imported: boolean;
  issuer: string;
  /** The account name in the URI: admin username, user/client email. */
  label: string;
  otpauthUri: string;
  settings: TotpAudienceState;
  /** Consequences the operator should hear before typing a code. */
  warnings: string[];
}

interface PrepareOptions {
  secret?: string;
  force?: boolean;
  activate?: boolean;
}

const who = (a: Account): string => `${a.kind} "${a.name}" (#${a.id})`;
const audienceOf = (kind: Kind): Audience => tableFor(kind).audience;

/**
 * Everything that can be decided before the operator types a code: the account, refusal to
 * replace a second factor without --force, the secret and its provisioning URI, and whether WHMCS
 * would use the factor at all.
 */
export async function prepareEnrolment(session: Session, sel: Selector, opts: PrepareOptions = {}): Promise<EnrolmentDraft> {
  const account = await findAccount(session, sel);
  refuseExisting(account, Boolean(opts.force));
  const keyWarnings: string[] = [];
  // Writing AES needs the key; better to say so now than after the operator has scanned a QR code.
  if (configTargetFor(session.install) === 'aes') {
    const ccHash = session.requireCcHash('writing the encrypted second-factor data of WHMCS 8.12+');
    // Data that does not decrypt is how a wrong cc_encryption_hash shows: the new secret would be
    // encrypted with the same wrong key, and WHMCS could not read it either.
    const own = decodeAccountConfig(account.rawConfig, ccHash, session.limits);
    if (own.undecryptable) {
      throw new DecryptError(
        `the second-factor data of ${account.kind} "${account.name}" (#${account.id}) does not decrypt with this cc_encryption_hash, so a new secret encrypted with it may be unreadable for WHMCS too — fix $cc_encryption_hash in configuration.php, or \`whmcs-2fa reset\` the account first if its data really comes from another install`,
      );
    }
    // An empty slot proves nothing: the key must agree with what else WHMCS encrypted, or WHMCS
    // reads the new secret and backup code as an empty config and the account is locked out.
    // (An AES config of its own that decrypts is that proof already.)
    if (own.format !== 'aes') {
      const { requireKeyAgreement } = await import('../crypto/key-check.js');
      keyWarnings.push(...(await requireKeyAgreement(session, 'encrypting the new TOTP secret')).warnings);
    }
  }
  const secret = opts.secret !== undefined ? normalizeImportedSecret(opts.secret) : generateTotpSecret();
  const systemUrl = await session.db.knex('tblconfiguration').where({ setting: 'SystemURL' }).orderBy('id').first('value');
  const issuer = issuerFromSystemUrl(systemUrl ? String(systemUrl.value) : null);
  // WHMCS 8.12 labels the token with the login identifier; admins log in with their username.
  const label = account.kind === 'admin' ? account.name : account.email;
  const settings = await totpAudienceState(session.db.knex, session, audienceOf(account.kind));
  const warnings = [...keyWarnings, ...audienceWarnings(session, account, settings, Boolean(opts.activate))];
  if (account.disabled) {
    warnings.push(
      account.kind === 'admin'
        ? `admin "${account.name}" is disabled: WHMCS does not load its second factor until it is enabled again`
        : `client ${account.email} is Closed: WHMCS 7 does not load its second factor`,
    );
  }
  return {
    account,
    secret,
    imported: opts.secret !== undefined,
    issuer,
    label,
    otpauthUri: otpauthUri({ issuer, account: label, secret }),
    settings,
    warnings,
  };
}

function refuseExisting(account: Account, force: boolean): void {
  if (!force && moduleIsOn(account.module)) {
    const label = moduleInfo(account.module)?.label ?? account.module;
    throw new RefusedError(
      `${who(account)} already has a second factor (${label}) — pass --force to replace it (\`whmcs-2fa undo\` restores it)`,
    );
  }
}

async function totpAudienceState(k: Knex | Knex.Transaction, session: Session, audience: Audience, lock: SettingsLock = false): Promise<TotpAudienceState> {
  // The row WHMCS reads: the last of its name (7.x may hold duplicates).
  const row = await readSettingsRow(session, k, lock);
  if (!row.exists) return { audience, readable: true, totpEnabled: false, anyEnabled: false };
  return { audience, readable: row.parsed !== null, totpEnabled: isEnabled(row.parsed, 'totp', audience), anyEnabled: anyEnabled(row.parsed, audience) };
}

/** What WHMCS does with a TOTP factor whose module is off for the audience (docs/data-model.md §1.5). */
function audienceWarnings(session: Session, account: Account, s: TotpAudienceState, activate: boolean): string[] {
  if (s.totpEnabled || activate) return [];
  const flag = `${FLAG[s.audience]}`;
  const fix = 'pass --activate to turn it on in the same change';
  if (!s.readable) return [`the 2fasettings row is unreadable, so WHMCS sees no modules at all and asks nobody for a second factor — repair it first`];
  if (account.kind === 'admin') {
    return [
      s.anyEnabled
        ? `Time-Based Tokens is not enabled for admins (totp.${flag}=0): WHMCS still challenges this admin with it, but does not offer it for (re-)enrolment — ${fix}`
        : `no security module is enabled for admins: WHMCS skips admin 2FA entirely, so this factor will not be asked for — ${fix}`,
    ];
  }
  if (session.install.shape === '8') {
    return [`Time-Based Tokens is not enabled for clients (totp.${flag}=0): WHMCS 8 ignores this factor and the user logs in WITHOUT 2FA — ${fix}`];
  }
  return [
    s.anyEnabled
      ? `Time-Based Tokens is not enabled for clients (totp.${flag}=0): WHMCS 7 still challenges this client, but does not offer it for (re-)enrolment — ${fix}`
      : `no security module is enabled for clients: WHMCS 7 skips client 2FA entirely, so this factor will not be asked for — ${fix}`,
  ];
}

// ---------------------------------------------------------------------------------------------
// The first code

export interface ActivationCheck {
  ok: boolean;
  /** The code as compared (spaces and dashes removed). */
  code: string;
  at: number;
  analysis: CodeAnalysis;
  /** One line: why it failed, or a caveat when it only passed thanks to a wider --window. */
  message: string | null;
}

/**
 * Checks the first code like WHMCS's activation (±1 step; `window` widens it), and explains a
 * rejection from a ±5 min search: a code from a nearby step means a clock problem, none means a
 * wrong secret or a mistyped code.
 */
export async function checkActivationCode(secret: string, input: string, opts: { at?: number; window?: number } = {}): Promise<ActivationCheck> {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  const window = opts.window ?? DEFAULT_ACTIVATION_WINDOW;
  const code = input.replace(/[\s-]/g, '');
  const analysis = await analyzeCode(sonataBase32Decode(secret), code, { at, window: Math.max(window, DIAGNOSIS_WINDOW), mode: 'sonata' });
  const ok = analysis.matchedStep !== null && Math.abs(analysis.matchedStep) <= window;
  let message: string | null = null;
  if (!ok) {
    message = `The code you entered did not match what was expected: ${analysis.explanation}`;
    if (analysis.matchedStep !== null) message += ` (pass --window ${Math.abs(analysis.matchedStep)} to accept it anyway, but WHMCS itself will reject this device's codes until its clock is fixed)`;
  } else if (!analysis.accepted) {
    message = `accepted only because of --window ${window}: ${analysis.explanation} — WHMCS will reject this device's codes until the clock is fixed`;
  }
  return { ok, code, at, analysis, message };
}

// ---------------------------------------------------------------------------------------------
// The change

interface EnrolmentInput {
  draft: EnrolmentDraft;
  /** The verified first code and when it was checked (recorded in the replay list); null in a dry run without one. */
  activation: ActivationCheck | null;
  /** Raw backup code (16 hex), shown once after the write. */
  backupCode: string;
  force: boolean;
  activate: boolean;
  reason?: string;
  showSecrets: boolean;
}

interface EnrolmentFacts {
  /** 'aes' | 'json' | 'serialized' — how the config was written. */
  format: string;
  /** The module that was replaced ('' for none). */
  replaced: string;
  replayRecorded: boolean;
  replayIdentity: string | null;
  activated: boolean;
}

/** The config WHMCS itself would store for this secret on this install (§2.3). */
function enrolmentConfig(session: Session, secret: string, backupCodeHash: string): Record<string, unknown> {
  if (session.install.shape === '7') {
    return { tokendata: encodeTokendata(sonataBase32Decode(secret)), backupcode: backupCodeHash };
  }
  return { secret, backupcode: backupCodeHash };
}

export function enrolmentSummary(draft: EnrolmentDraft): string {
  return `enrol ${draft.account.kind} ${draft.account.name} in Time-Based Tokens`;
}

/**
 * Builds the plan (called for the preview and again under lock), with what it found and decided.
 * Re-reads the account so a factor that appeared meanwhile is still refused without --force.
 */
export async function planEnrolment(session: Session, trx: Knex.Transaction, lock: boolean, input: EnrolmentInput): Promise<PlanWithResult<EnrolmentFacts>> {
  const { draft, activation } = input;
  // Locks in one order for every change: the settings row first, then accounts. Under lock the row
  // is read with a lock that conflicts with `deactivate` (which takes it FOR UPDATE and then counts
  // enrolled accounts): either deactivate's guard counts this enrolment, or this run sees the
  // service already off. --activate takes it for update at once (no S→X upgrade deadlock).
  // (SQLite: both are the database's write lock, which the writing pass already holds.)
  const locked = lock ? await totpAudienceState(trx, session, audienceOf(draft.account.kind), input.activate ? 'update' : 'share') : null;
  const account = await accountById(trx, draft.account.kind, draft.account.id, lock);
  refuseExisting(account, input.force);
  const t = tableFor(account.kind);
  const now = await dbNow(trx);
  const config = enrolmentConfig(session, draft.secret, hashBackupCode(input.backupCode));
  const rows: RowChange[] = [accountRowChange(account, { module: 'totp', rawConfig: encodeForInstall(session, config) })];
  const target = configTargetFor(session.install);
  const formatName = target === 'aes' ? 'AES-encrypted JSON' : target === 'json' ? 'JSON' : 'PHP-serialized';
  const secretShown = input.showSecrets ? draft.secret : '••••';
  const diff: DiffLine[] = [
    { field: `${t.table} #${account.id} ${t.moduleColumn}`, before: account.module === '' ? "''" : `'${account.module}'`, after: "'totp'" },
    {
      field: `${t.table} #${account.id} ${t.dataColumn}`,
      before: account.rawConfig ? `(${account.rawConfig.length} bytes)` : '(empty)',
      after:
        session.install.shape === '7'
          ? `${formatName} {tokendata: ${secretShown}, backupcode: new}`
          : `${formatName} {secret: ${secretShown}, backupcode: new}`,
    },
  ];
  const notes: string[] = [];
  const facts: EnrolmentFacts = { format: target, replaced: moduleIsOn(account.module) ? account.module : '', replayRecorded: false, replayIdentity: null, activated: false };
  if (facts.replaced) notes.push(`replaces ${moduleInfo(facts.replaced)?.label ?? facts.replaced}: the old device and backup code stop working`);

  // The activation code goes into the replay list, as WHMCS 8's totp_add_to_used_codes does. The
  // 7.x identity is unconfirmed and global per code value, so 7.x is left alone.
  if (session.install.shape === '8') {
    const id = replayIdentity(session.install, account);
    const used = await readUsedOtps(trx, session.limits, lock);
    const before = used.exists ? (used.map ? `${Object.keys(used.map).length} entries` : 'unreadable (WHMCS reads it as empty)') : '(absent)';
    facts.replayIdentity = id.identity;
    if (activation) {
      const next = withUsedCode(used.map, id.identity, activation.code, activation.at);
      rows.push(...usedOtpsRowChanges(used, next.map, now));
      facts.replayRecorded = true;
      diff.push({
        field: 'tblconfiguration TOTPUsedOTPs',
        before,
        after: `${Object.keys(next.map).length} entries (activation code recorded${next.pruned ? `, ${next.pruned} expired pruned` : ''})`,
      });
    } else {
      // A dry run that asked for no code: the real run records the code it is given.
      diff.push({ field: 'tblconfiguration TOTPUsedOTPs', before, after: '+1 entry (the activation code, when enrolling for real)' });
    }
  }

  const state = locked ?? (await totpAudienceState(trx, session, t.audience));
  if (lock && !input.activate && draft.settings.totpEnabled && !state.totpEnabled) {
    throw new RefusedError(
      `Time-Based Tokens was turned off for ${t.audience} while this enrolment was being prepared (${state.anyEnabled ? 'WHMCS would no longer offer it' : 'WHMCS would skip this factor'}) — nothing was written; run the command again to see what that means, or pass --activate to turn it back on in the same change`,
    );
  }
  if (input.activate && !state.totpEnabled) {
    rows.push(...(await settingsRowChanges(trx, session, t.audience, lock, now)));
    facts.activated = true;
    diff.push({ field: `2fasettings totp.${FLAG[t.audience]}`, before: '0', after: '1' });
    notes.push(`Time-Based Tokens becomes available to all ${t.audience} for self-service enrolment`);
  }

  const activity: ActivityEntry[] = [
    {
      description: activityText(
        `Time-Based Token enrolled for ${account.kind} '${account.name}'${facts.replaced ? ` (was: ${facts.replaced})` : ''}`,
        session.operator,
        input.reason,
        account.kind === 'user' ? `User ID: ${account.id}` : account.kind === 'client' ? `Client ID: ${account.id}` : undefined,
      ),
      ...(account.kind === 'admin' ? { adminId: account.id } : account.kind === 'user' ? { userId: account.id } : { clientId: account.id }),
    },
  ];
  if (facts.activated) {
    activity.push({ description: activityText(`module Time-Based Tokens enabled for ${t.audience}`, session.operator, input.reason) });
  }
  return { rows, activity, diff, notes, result: facts };
}

async function settingsRowChanges(trx: Knex.Transaction, session: Session, audience: Audience, lock: boolean, now: string): Promise<RowChange[]> {
  const row = await readSettingsRow(session, trx, lock && 'update');
  const patch = { [FLAG[audience]]: 1 };
  if (!row.exists) {
    return [{ table: 'tblconfiguration', key: { setting: SETTING }, before: null, after: { value: serializeSettings(withModule(emptySettings(), 'totp', patch), row), created_at: now, updated_at: now } }];
  }
  if (!row.parsed) {
    throw new RefusedError(`--activate cannot turn Time-Based Tokens on: the 2fasettings row is unreadable (${row.error}) and rewriting it would lose the other settings — repair it first`);
  }
  const odd = nonArrayModule(row.parsed, 'totp');
  if (odd) throw new RefusedError(`--activate cannot turn Time-Based Tokens on: in the 2fasettings row ${odd}, not an array — \`whmcs-2fa activate totp --force\` replaces it`);
  const value = serializeSettings(withModule(row.parsed, 'totp', patch), row);
  // Every row of the name gets the value, as WHMCS's own save writes them all.
  return [...row.duplicates, { id: row.id!, raw: row.raw!, updatedAt: row.updatedAt ?? null }].map((r) => ({
    table: 'tblconfiguration',
    key: { id: r.id },
    before: { value: r.raw, updated_at: r.updatedAt },
    after: { value, updated_at: now },
  }));
}
