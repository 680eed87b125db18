/**
 * Every change to WHMCS's global 2FA settings (the `2fasettings` row, docs/data-model.md §1): activating and
 * deactivating a security service per audience, and forcing an audience to enrol. Each is written
 * through applyChange (one transaction, the row read FOR UPDATE, compare-and-set, undo journal,
 * activity log) as PHP-serialized data exactly as WHMCS writes it.
 *
 * JSON shapes (`--format json`, stable):
 *
 * activate / deactivate
 *   {
 *     "changed": boolean,               // false when it was already so (exit 0), or with --dry-run
 *     "dryRun": boolean,
 *     "service": "totp" | "duosecurity" | "yubico",          // the module name WHMCS stores
 *     "audiences": ["clients", "admins"],                    // what this run acted on
 *     "before": { "clients": boolean, "admins": boolean },   // service enabled for…, as WHMCS reads it
 *     "after":  { "clients": boolean, "admins": boolean },
 *     "journalId": string | null,                            // `whmcs-2fa undo <journalId>` reverts it
 *     "warnings": string[],
 *     "diff": [{ "field": string, "before": string, "after": string }],  // secrets masked, flags on/off
 *     "check"?: { "kind": "duo-health-check" | "yubico-otp", "ok": true, "status": string, "message": string }
 *   }
 *
 * enforce
 *   {
 *     "changed": boolean,
 *     "dryRun": boolean,
 *     "force":  { "clients": boolean, "admins": boolean },   // forced to enrol, after this run
 *     "before": { "clients": boolean, "admins": boolean },
 *     "willEnrol": [{ "id": number, "username": string }],  // active admins without a second factor,
 *                                                           // made to enrol at next login while admins are forced
 *     "journalId": string | null,
 *     "warnings": string[],
 *     "diff": [{ "field": string, "before": string, "after": string }]
 *   }
 */
import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import { applyChange, type ChangeOptions, type ChangeOutcome, type Plan, type RowChange } from '../changes/change.js';
import { activityText } from '../changes/activity-log.js';
import { whmcsEncrypt } from '../crypto/whmcs-encrypt.js';
import { decryptField, maskClientId, MASK } from './module-settings.js';
import { dbNow } from '../connection/sql-time.js';
import { phpTree, type PhpNode } from '../php/php-tree.js';
import { requireKeyAgreement } from '../crypto/key-check.js';
import { ADMINS, clientSideTable, type AccountTable } from '../accounts/accounts-table.js';
import {
  AUDIENCES,
  FLAG,
  SETTING,
  anyEnabled,
  codecOf,
  emptySettings,
  enabledModules,
  isEnabled,
  isForced,
  modulesOf,
  nonArrayModule,
  parseSettings,
  readSettingsRow,
  serializeSettings,
  withForce,
  withModule,
  type Audience,
  type PhpArray,
  type SettingsRow,
} from './settings.js';
import type { Session } from '../connection/session.js';
import { moduleInfo, moduleLabel, type ModuleField } from '../../services/catalog.js';
import { DUO_CLIENT_ID_LENGTH, DUO_CLIENT_SECRET_LENGTH, validateDuoCredentials } from '../../services/duo.js';
import { validateYubicoClientId, validateYubicoSecretKey } from '../../services/yubico-client.js';
import { CliError, DecryptError, EXIT, RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';
import type { ServiceCheck } from './activation-checks.js';

export type Flags = Record<Audience, boolean>;

export interface ServiceChangeJson {
  changed: boolean;
  dryRun: boolean;
  service: string;
  audiences: Audience[];
  before: Flags;
  after: Flags;
  journalId: string | null;
  warnings: string[];
  diff: DiffLine[];
  check?: ServiceCheck;
}

export interface EnforceJson {
  changed: boolean;
  dryRun: boolean;
  force: Flags;
  before: Flags;
  willEnrol: AdminRef[];
  journalId: string | null;
  warnings: string[];
  diff: DiffLine[];
}

export interface AdminRef {
  id: number;
  username: string;
}

export interface ChangeResult<J> {
  json: J;
  outcome: ChangeOutcome;
}

const onOff = (b: boolean) => (b ? 'on' : 'off');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const audienceText = (a: Audience[]) => (a.length === 2 ? 'clients and admins' : a[0]!);

/** Duo Universal refuses anything else; a wrong cc_encryption_hash decrypts to other lengths. */
const REQUIRED_LENGTH: Record<string, number> = { integrationKey: DUO_CLIENT_ID_LENGTH, secretKey: DUO_CLIENT_SECRET_LENGTH };

/** Which flag sets a config field on the command line, for messages. */
export const FIELD_FLAG: Record<string, Record<string, string>> = {
  duosecurity: { integrationKey: '--client-id', secretKey: '--client-secret', apiHostname: '--api-hostname' },
  yubico: { clientid: '--client-id', secretkey: '--secret-key' },
};

// ---------------------------------------------------------------------------------------------
// Module configuration (Duo / Yubico credentials)
// ---------------------------------------------------------------------------------------------

export interface ModuleConfigState {
  /** Plaintext values to end up with: the ones given on this run, else the usable stored ones. */
  values: Record<string, string>;
  /** Fields with neither a given value nor a stored one: ask for them or refuse. */
  missing: ModuleField[];
  /** Fields whose stored value is kept (not given on this run). */
  kept: string[];
  warnings: string[];
}

/**
 * Works out the credentials an activation will store: the given values win; a field not given keeps
 * its stored value — which must decrypt (Duo's `password` fields) to something Duo accepts, or the
 * run refuses with exit 6, because a wrong cc_encryption_hash is the usual cause and re-saving
 * garbage would hide it.
 */
export async function resolveModuleConfig(session: Session, module: string, given: Record<string, string>): Promise<ModuleConfigState> {
  const info = moduleInfo(module);
  const out: ModuleConfigState = { values: {}, missing: [], kept: [], warnings: [] };
  if (!info || info.fields.length === 0) return out;
  const row = await readSettingsRow(session.db.knex, session.limits, { codec: codecOf(session.db) });
  const entry = modulesOf(row.parsed)[module] ?? {};
  const hasPassword = info.fields.some((f) => f.type === 'password');
  const H = hasPassword ? session.requireCcHash(`${info.label} keeps its keys encrypted with WHMCS encrypt(), so activating it`) : undefined;
  const undecryptable: ModuleField[] = [];
  for (const f of info.fields) {
    const stored = storedPlain(f, entry[f.key], H);
    if (stored.bad) undecryptable.push(f);
    if (f.key in given) {
      out.values[f.key] = given[f.key]!;
    } else if (stored.bad) {
      continue;
    } else if (stored.value === null || stored.value === '') {
      out.missing.push(f);
    } else {
      out.values[f.key] = stored.value;
      out.kept.push(f.key);
    }
  }
  const blocking = undecryptable.filter((f) => !(f.key in given));
  if (blocking.length) {
    const names = blocking.map((f) => f.label).join(' and ');
    const flags = blocking.map((f) => FIELD_FLAG[module]?.[f.key]).filter(Boolean).join(' and ');
    throw new DecryptError(
      `the stored ${info.label} ${names} ${blocking.length === 1 ? 'does' : 'do'} not decrypt to a valid value with this cc_encryption_hash — it is probably not the one WHMCS saved ${blocking.length === 1 ? 'it' : 'them'} with (check --whmcs-dir / WHMCS_CC_ENCRYPTION_HASH), or give new ones with ${flags}`,
    );
  }
  if (hasPassword) {
    // Prove the key before encrypting with it (key-check.ts). Stored keys this run replaces do not
    // count: they may be the very thing being repaired.
    const replaced = new Set(info.fields.filter((f) => f.type === 'password' && f.key in given).map((f) => `2fasettings ${module}.${f.key}`));
    const agreement = await requireKeyAgreement(session, `encrypting the ${info.label} keys`, { replacing: (p) => replaced.has(p.source) });
    out.warnings.push(...agreement.warnings);
  }
  if (undecryptable.length) {
    out.warnings.push(
      `the stored ${info.label} keys did not decrypt with this cc_encryption_hash: if it is not the one in WHMCS's configuration.php, WHMCS will not be able to read the new ones either`,
    );
  }
  return out;
}

/** A stored field as plaintext; `bad` when an encrypted one does not decrypt to a usable value. */
function storedPlain(f: ModuleField, stored: unknown, H: string | undefined): { value: string | null; bad: boolean } {
  if (stored === undefined || stored === null) return { value: null, bad: false };
  if (f.type !== 'password') return { value: String(stored), bad: false };
  const d = decryptField(stored, H);
  if (d.problem || d.value === null) return { value: null, bad: true };
  // encrypt('') decrypts to '' under any key: an emptied field, not a key problem.
  if (d.value === '') return { value: '', bad: false };
  const want = REQUIRED_LENGTH[f.key];
  if (want !== undefined && d.value.length !== want) return { value: null, bad: true };
  return { value: d.value, bad: false };
}

/** Problems with the credentials about to be stored, each naming the flag that fixes it. */
export function validateModuleConfig(module: string, values: Record<string, string>, kept: string[] = []): string[] {
  const stored = (key: string) => (kept.includes(key) ? ` (the stored value — give a new one with ${FIELD_FLAG[module]?.[key]})` : '');
  if (module === 'duosecurity') {
    const keyOf = { clientId: 'integrationKey', clientSecret: 'secretKey', apiHostname: 'apiHostname' } as const;
    return validateDuoCredentials({
      clientId: values.integrationKey ?? '',
      clientSecret: values.secretKey ?? '',
      apiHostname: values.apiHostname ?? '',
    }).map((p) => p.message + stored(keyOf[p.field]));
  }
  if (module === 'yubico') {
    const problems: string[] = [];
    const id = validateYubicoClientId(values.clientid ?? '');
    if (id) problems.push(`Yubico ${id}${stored('clientid')}`);
    const key = validateYubicoSecretKey(values.secretkey ?? '');
    if (key) problems.push(`Yubico ${key}${stored('secretkey')}`);
    return problems;
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// activate / deactivate
// ---------------------------------------------------------------------------------------------

export interface ServiceChangeRequest {
  module: string;
  audiences: Audience[];
  /** activate only: config values to end up with (from resolveModuleConfig). */
  values?: Record<string, string>;
  /** activate only: fields whose stored value is being kept. */
  kept?: string[];
  /** Rebuild an unreadable row (both); deactivate despite the named consequences. */
  force: boolean;
  reason?: string;
  showSecrets: boolean;
  warnings?: string[];
}

interface ServiceState {
  before: Flags;
  after: Flags;
}

export async function activateService(session: Session, req: ServiceChangeRequest, opts: ChangeOptions): Promise<ChangeResult<ServiceChangeJson>> {
  const label = moduleLabel(req.module);
  const info = moduleInfo(req.module);
  const H = info?.fields.some((f) => f.type === 'password') ? session.requireCcHash(`Writing the ${label} keys`) : undefined;
  let state: ServiceState = { before: { clients: false, admins: false }, after: { clients: false, admins: false } };
  const outcome = await applyChange(
    session,
    {
      command: `activate ${req.module}`,
      summary: `${label} activated for ${audienceText(req.audiences)}`,
      reason: req.reason,
      plan: async (trx, lock) => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(trx, session.limits, { forUpdate: lock, codec: codecOf(session.db) });
        const { base, diff, rebuilt, from } = baseSettings(row, req.force);
        const odd = nonArrayModule(base, req.module);
        if (odd) {
          if (!req.force) {
            throw new RefusedError(
              `refusing to activate ${label}: in the 2fasettings row ${odd}, not an array, and activating would replace it — pass --force to replace it (the old row is kept in the undo journal)`,
            );
          }
          diff.push({ field: `2fasettings ${odd.replace(/^"|" is .*$/g, '')}`, before: odd.replace(/^"[^"]*" is /, ''), after: 'replaced by an array' });
        }
        const entry = modulesOf(base)[req.module];
        const patch: PhpArray = {};
        const changedFields: string[] = [];
        for (const f of info?.fields ?? []) {
          const want = req.values?.[f.key];
          if (want === undefined) continue;
          const cur = storedPlain(f, entry?.[f.key], H);
          if (cur.value === want) continue;
          if (req.kept?.includes(f.key)) {
            throw new RefusedError(`the ${label} settings were changed by someone else while whmcs-2fa was working — nothing was written; run the command again`);
          }
          patch[f.key] = f.type === 'password' ? whmcsEncrypt(want, H!) : want;
          changedFields.push(f.label);
          diff.push({
            field: `${label} ${f.label}`,
            before: cur.bad ? '(undecryptable)' : showField(f, cur.value, req.showSecrets),
            after: showField(f, want, req.showSecrets),
          });
        }
        const turnedOn: Audience[] = [];
        for (const aud of req.audiences) {
          if (isEnabled(base, req.module, aud)) continue;
          patch[FLAG[aud]] = 1;
          turnedOn.push(aud);
          diff.push({ field: `${label} for ${aud}`, before: 'off', after: 'on' });
        }
        const before = flagsOf(row.parsed, req.module);
        if (Object.keys(patch).length === 0 && !rebuilt && !odd) {
          state = { before, after: before };
          return noChange();
        }
        const next = withModule(base, req.module, patch);
        state = { before, after: flagsOf(next, req.module) };
        const what: string[] = [];
        if (turnedOn.length) what.push(`${label} (${req.module}) activated for ${audienceText(turnedOn)}`);
        if (changedFields.length) what.push(`${label} ${changedFields.join(', ')} changed`);
        if (rebuilt) what.push('unreadable 2fasettings rebuilt');
        if (!row.exists) what.push('2fasettings created');
        return settingsPlan(session, trx, row, from, next, diff, [], what.join('; '), req.reason);
      },
    },
    opts,
  );
  return { outcome, json: serviceJson(req, outcome, state) };
}

export async function deactivateService(session: Session, req: ServiceChangeRequest, opts: ChangeOptions): Promise<ChangeResult<ServiceChangeJson>> {
  const label = moduleLabel(req.module);
  let state: ServiceState = { before: { clients: false, admins: false }, after: { clients: false, admins: false } };
  const outcome = await applyChange(
    session,
    {
      command: `deactivate ${req.module}`,
      summary: `${label} deactivated for ${audienceText(req.audiences)}`,
      reason: req.reason,
      plan: async (trx, lock) => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(trx, session.limits, { forUpdate: lock, codec: codecOf(session.db) });
        // A missing row means no service is active: nothing to deactivate, and nothing to create.
        const { base, diff, rebuilt, from } = row.exists ? baseSettings(row, req.force) : { base: emptySettings(), diff: [], rebuilt: false, from: null };
        const before = flagsOf(row.parsed, req.module);
        const patch: PhpArray = {};
        const turnedOff: Audience[] = [];
        for (const aud of req.audiences) {
          if (!isEnabled(base, req.module, aud)) continue;
          patch[FLAG[aud]] = 0;
          turnedOff.push(aud);
          diff.push({ field: `${label} for ${aud}`, before: 'on', after: 'off' });
        }
        if (turnedOff.length === 0 && !rebuilt) {
          state = { before, after: before };
          return noChange();
        }
        const next = turnedOff.length ? withModule(base, req.module, patch) : base;
        state = { before, after: flagsOf(next, req.module) };
        for (const aud of turnedOff) {
          if (isForced(next, aud) && !anyEnabled(next, aud)) {
            throw new RefusedError(
              `refusing to deactivate ${label} for ${aud}: ${aud} are forced to enrol and it is the last service enabled for them, which would leave forced 2FA with no service — run \`whmcs-2fa enforce --${aud} off\` first`,
            );
          }
        }
        const { consequences, notes } = await deactivationConsequences(trx, session, req.module, turnedOff, next);
        if (consequences.length && !req.force) {
          throw new RefusedError(
            `refusing to deactivate ${label} for ${audienceText(turnedOff)}: ${consequences.join('; ')} — move them to another service first, or pass --force to deactivate anyway`,
            { consequences },
          );
        }
        const what = [`${label} (${req.module}) deactivated for ${audienceText(turnedOff)}, its settings kept`];
        if (rebuilt) what.push('unreadable 2fasettings rebuilt');
        return settingsPlan(session, trx, row, from, next, diff, [...consequences, ...notes], what.join('; '), req.reason);
      },
    },
    opts,
  );
  return { outcome, json: serviceJson(req, outcome, state) };
}

/**
 * What turning a service off does to people (docs/data-model.md §1.5), counted in SQL. `consequences` are
 * people who would log in without a second factor (refused without --force); `notes` are facts the
 * operator should know but that lock nobody out and let nobody in.
 */
async function deactivationConsequences(
  trx: Knex.Transaction,
  session: Session,
  module: string,
  turnedOff: Audience[],
  next: PhpArray,
): Promise<{ consequences: string[]; notes: string[] }> {
  const label = moduleLabel(module);
  const consequences: string[] = [];
  const notes: string[] = [];
  const clientTable = clientSideTable(session.install);
  if (turnedOff.includes('clients')) {
    if (session.install.shape === '8') {
      const n = await countEnrolled(trx, clientTable, module);
      if (n) consequences.push(`${plural(n, 'user')} enrolled in ${label} would log in WITHOUT a second factor (WHMCS 8 only asks users whose service is enabled for clients)`);
    } else if (!anyEnabled(next, 'clients')) {
      const n = await countEnrolled(trx, clientTable);
      if (n) consequences.push(`no service would remain enabled for clients, so WHMCS 7 skips client 2FA entirely: ${plural(n, 'enrolled client')} would log in without a second factor`);
    } else {
      const n = await countEnrolled(trx, clientTable, module);
      if (n) notes.push(`${plural(n, 'client')} enrolled in ${label} will still be asked for it (WHMCS 7 challenges enrolled clients while any service is enabled for clients)`);
    }
  }
  if (turnedOff.includes('admins')) {
    const inModule = await countEnrolled(trx, ADMINS, module);
    if (!anyEnabled(next, 'admins')) {
      const all = await countEnrolled(trx, ADMINS);
      if (all) {
        consequences.push(
          `no service would remain enabled for admins, so WHMCS skips admin 2FA entirely: ${plural(all, 'active admin')} with a second factor (${inModule} in ${label}) would log in without it`,
        );
      }
    } else if (inModule) {
      notes.push(
        `${plural(inModule, 'active admin')} enrolled in ${label} will still be challenged with it (WHMCS loads an admin's own service even when it is not enabled) — still enabled for admins: ${enabledModules(next, 'admins').map(moduleLabel).join(', ')}`,
      );
    }
  }
  return { consequences, notes };
}

/**
 * A safety guard's count, taken inside the writing transaction, must see what concurrent runs have
 * committed and keep them from changing it until this change commits: on MySQL it is a locking read
 * (LOCK IN SHARE MODE), which waits for a concurrent enrolment or reset holding an account row and
 * then reads the latest committed rows, and blocks new ones until COMMIT. (WHMCS indexes no module
 * column, so InnoDB locks every row the count scans: the rows that could join the count too.)
 * SQLite's writing transaction already holds the database's write lock. Previews count without locks.
 */
function guardRead(trx: Knex | Knex.Transaction, q: Knex.QueryBuilder): Knex.QueryBuilder {
  return guardLocking.has(trx) && !isSqlite(trx) ? q.forShare() : q;
}
/** Transactions whose plan runs under lock (the writing pass), for guardRead. */
const guardLocking = new WeakSet<object>();
export function lockGuards(trx: Knex.Transaction, lock: boolean): void {
  if (lock) guardLocking.add(trx);
}

/** Accounts able to log in whose module column is `module` (or any service when omitted). */
async function countEnrolled(trx: Knex.Transaction, t: AccountTable, module?: string): Promise<number> {
  let q = trx(t.table);
  q = module !== undefined ? q.where(t.moduleColumn, module) : q.whereNotNull(t.moduleColumn).whereNotIn(t.moduleColumn, ['', '0']);
  if (t.table === 'tbladmins') q = q.where('disabled', 0);
  if (t.table === 'tblclients') q = q.whereNot('status', 'Closed');
  const row = (await guardRead(trx, q.count({ n: '*' })).first()) as { n: unknown } | undefined;
  return Number(row?.n ?? 0);
}

function serviceJson(req: ServiceChangeRequest, outcome: ChangeOutcome, state: ServiceState): ServiceChangeJson {
  return {
    changed: outcome.changed,
    dryRun: outcome.dryRun,
    service: req.module,
    audiences: req.audiences,
    before: state.before,
    after: state.after,
    journalId: outcome.journalId,
    warnings: [...(req.warnings ?? []), ...outcome.plan.notes],
    diff: outcome.plan.diff,
  };
}

function flagsOf(s: PhpArray | null, module: string): Flags {
  return { clients: isEnabled(s, module, 'clients'), admins: isEnabled(s, module, 'admins') };
}

function showField(f: ModuleField, plain: string | null, showSecrets: boolean): string {
  if (plain === null || plain === '') return '(not set)';
  if (showSecrets) return plain;
  if (f.secret) return MASK;
  if (f.key === 'integrationKey') return maskClientId(plain);
  return plain;
}

// ---------------------------------------------------------------------------------------------
// enforce
// ---------------------------------------------------------------------------------------------

export interface EnforceRequest {
  force: Partial<Flags>;
  /** Rebuild an unreadable row. */
  rebuild: boolean;
  reason?: string;
}

export async function enforce(session: Session, req: EnforceRequest, opts: ChangeOptions): Promise<ChangeResult<EnforceJson>> {
  let before: Flags = { clients: false, admins: false };
  let after: Flags = before;
  let willEnrol: AdminRef[] = [];
  const asked = AUDIENCES.filter((a) => req.force[a] !== undefined);
  const outcome = await applyChange(
    session,
    {
      command: 'enforce',
      summary: `enrolment ${asked.map((a) => `${a} ${onOff(req.force[a]!)}`).join(', ')}`,
      reason: req.reason,
      plan: async (trx, lock) => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(trx, session.limits, { forUpdate: lock, codec: codecOf(session.db) });
        const { base, diff, rebuilt, from } = row.exists ? baseSettings(row, req.rebuild) : { base: emptySettings(), diff: [], rebuilt: false, from: null };
        before = { clients: isForced(row.parsed, 'clients'), admins: isForced(row.parsed, 'admins') };
        let next = base;
        const changed: string[] = [];
        const notes: string[] = [];
        for (const aud of ['admins', 'clients'] as const) {
          const want = req.force[aud];
          if (want === undefined || isForced(next, aud) === want) continue;
          if (want) await guardForcing(trx, next, aud);
          next = withForce(next, aud, want);
          changed.push(`${aud} ${want ? 'forced to enrol' : 'no longer forced to enrol'}`);
          diff.push({ field: `force ${aud} to enrol`, before: onOff(!want), after: onOff(want) });
        }
        after = { clients: isForced(next, 'clients'), admins: isForced(next, 'admins') };
        willEnrol = after.admins ? await adminsWithoutSecondFactor(trx) : [];
        if (changed.length === 0 && !rebuilt) return noChange();
        if (after.admins && !before.admins) {
          for (const a of willEnrol.slice(0, 20)) diff.push({ field: `admin #${a.id} ${a.username}`, before: 'no second factor', after: 'must enrol at next login' });
          if (willEnrol.length > 20) diff.push({ field: `… and ${willEnrol.length - 20} more admins`, before: '', after: 'must enrol at next login' });
          if (willEnrol.length) {
            notes.push(`${plural(willEnrol.length, 'active admin')} will be made to enrol at next login: ${willEnrol.map((a) => `${a.username} (#${a.id})`).join(', ')}`);
          }
        }
        if (after.clients && !before.clients) {
          const t = clientSideTable(session.install);
          const n = await countNotEnrolled(trx, t);
          if (n) notes.push(`${plural(n, t.plural === 'users' ? 'user' : 'client')} without a second factor will be made to enrol at their next login`);
        }
        if (rebuilt) changed.push('unreadable 2fasettings rebuilt');
        return settingsPlan(session, trx, row, from, next, diff, notes, `enrolment enforcement changed: ${changed.join(', ')}`, req.reason);
      },
    },
    opts,
  );
  return {
    outcome,
    json: {
      changed: outcome.changed,
      dryRun: outcome.dryRun,
      force: after,
      before,
      willEnrol,
      journalId: outcome.journalId,
      warnings: outcome.plan.notes,
      diff: outcome.plan.diff,
    },
  };
}

/** `enforce` without flags: the current state, read-only. */
export async function readEnforcement(session: Session): Promise<EnforceJson> {
  const { knex } = session.db;
  const row = await readSettingsRow(knex, session.limits, { codec: codecOf(session.db) });
  const force: Flags = { clients: isForced(row.parsed, 'clients'), admins: isForced(row.parsed, 'admins') };
  const warnings: string[] = [];
  if (row.exists && !row.parsed) warnings.push(`the 2fasettings row cannot be read (${row.error}): WHMCS currently sees no two-factor settings, so nothing is forced`);
  const willEnrol = force.admins ? await adminsWithoutSecondFactor(knex) : [];
  for (const aud of AUDIENCES) {
    if (force[aud] && !anyEnabled(row.parsed, aud)) warnings.push(`${aud} are forced to enrol but no service is enabled for them, so WHMCS asks nobody — activate one (\`whmcs-2fa activate totp --${aud}\`) or \`whmcs-2fa enforce --${aud} off\``);
  }
  return { changed: false, dryRun: false, force, before: force, willEnrol, journalId: null, warnings, diff: [] };
}

/**
 * Lockout guard: forcing an audience with no service enabled for it does nothing useful, and forcing
 * admins while no active admin has a second factor stops every admin at the enrolment page.
 */
async function guardForcing(trx: Knex.Transaction, s: PhpArray, aud: Audience): Promise<void> {
  if (!anyEnabled(s, aud)) {
    throw new RefusedError(`refusing to force ${aud} to enrol: no service is enabled for ${aud} — activate one first (\`whmcs-2fa activate totp --${aud}\`)`);
  }
  if (aud === 'admins' && (await countEnrolled(trx, ADMINS)) === 0) {
    throw new RefusedError(
      'refusing to force admins to enrol: no active admin has a second factor yet, so every admin would be stopped at the enrolment page at next login — enrol one first (`whmcs-2fa enroll --admin <name>`)',
    );
  }
}

/** Active admins (disabled = 0) with no second factor: WHMCS's isEnrollmentNeeded() for each. */
async function adminsWithoutSecondFactor(trx: Knex | Knex.Transaction): Promise<AdminRef[]> {
  const q = trx('tbladmins')
    .select('id', 'username')
    .where('disabled', 0)
    .where((w) => w.whereNull('authmodule').orWhereIn('authmodule', ['', '0']))
    .orderBy('id');
  const rows = (await guardRead(trx, q)) as Array<{ id: unknown; username: unknown }>;
  return rows.map((r) => ({ id: Number(r.id), username: String(r.username) }));
}

async function countNotEnrolled(trx: Knex.Transaction, t: AccountTable): Promise<number> {
  let q = trx(t.table).where((w) => w.whereNull(t.moduleColumn).orWhereIn(t.moduleColumn, ['', '0']));
  if (t.table === 'tblclients') q = q.whereNot('status', 'Closed');
  const row = (await guardRead(trx, q.count({ n: '*' })).first()) as { n: unknown } | undefined;
  return Number(row?.n ?? 0);
}

// ---------------------------------------------------------------------------------------------
// Shared: the row as a base to change, and the row change itself
// ---------------------------------------------------------------------------------------------

/** Where a change's settings came from, so that untouched parts are written back byte for byte. */
type Origin = { raw: string | null; tree: PhpNode | null; codec: SettingsRow['codec'] } | null;

/**
 * The settings to change. A missing row starts from what WHMCS creates. An unreadable one means
 * WHMCS currently runs with no 2FA at all, and is only replaced on request (--force) — keeping every
 * module entry and key that can be recovered from it (wrong string lengths, wrong array counts,
 * repeated keys, trailing bytes are read through). If anything could not be recovered, the rebuild
 * is refused (exit 4) rather than drop it; a value with nothing to recover is rebuilt from scratch.
 */
function baseSettings(row: SettingsRow, force: boolean): { base: PhpArray; diff: DiffLine[]; rebuilt: boolean; from: Origin } {
  if (!row.exists) return { base: emptySettings(), diff: [{ field: SETTING, before: '(missing)', after: 'created' }], rebuilt: false, from: null };
  if (row.parsed) return { base: row.parsed, diff: [], rebuilt: false, from: row };
  if (!force) {
    throw new CliError(
      `the 2fasettings row cannot be read (${row.error}): WHMCS currently sees no two-factor settings at all, so no service is offered or demanded — pass --force to rebuild it, keeping every entry that can be recovered (the old value is kept in the undo journal)`,
      EXIT.ERROR,
    );
  }
  const raw = row.raw ?? '';
  const bytes = row.codec.encode(raw);
  const rec = phpTree(bytes, { codec: row.codec, recover: true });
  const size = `unreadable (${bytes.length} bytes)`;
  const recovered = rec.root && rec.root.kind === 'a' && !rec.lost ? (rec.root.value as PhpArray) : null;
  if (recovered) {
    const modules = Object.keys(modulesOf(recovered));
    return {
      base: recovered,
      diff: [
        {
          field: SETTING,
          before: size,
          after: `rebuilt keeping all it holds (${modules.length ? `modules ${modules.join(', ')}` : 'no modules'}${rec.repairs.length ? `; repaired: ${rec.repairs.join('; ')}` : ''})`,
        },
      ],
      rebuilt: true,
      from: { raw, tree: rec.root, codec: row.codec },
    };
  }
  // Nothing that reads as an array: there is nothing to keep.
  const nothing = !rec.lost || rec.lost.at === 0 || (rec.root !== null && rec.root.kind !== 'a');
  if (nothing) {
    return { base: emptySettings(), diff: [{ field: SETTING, before: size, after: 'rebuilt from scratch (nothing in it could be read)' }], rebuilt: true, from: null };
  }
  throw new RefusedError(
    `refusing to rebuild the 2fasettings row: it cannot be read past byte ${rec.lost!.at} (${rec.lost!.what}, in ${rec.lost!.path}), so a rebuild would drop what follows — repair tblconfiguration id ${row.id} by hand, or delete that row to start from scratch; nothing was written`,
    { lostAt: rec.lost!.at, path: rec.lost!.path },
  );
}

function noChange(): Plan {
  return { rows: [], activity: [], diff: [], notes: [] };
}

/**
 * The row change: UPDATE by id with compare-and-set on the bytes read, or INSERT as WHMCS would.
 * Duplicate rows of the name (7.x) get the same value, as WHMCS's own save writes every one of them;
 * each is its own journalled row, so undo restores every row touched. Timestamps are the
 * database's local time (sql-time.ts), as WHMCS writes them.
 */
async function settingsPlan(
  session: Session,
  trx: Knex.Transaction,
  row: SettingsRow,
  from: Origin,
  next: PhpArray,
  diff: DiffLine[],
  notes: string[],
  what: string,
  reason?: string,
): Promise<Plan> {
  let value: string;
  try {
    value = serializeSettings(next, from);
  } catch (e) {
    throw new CliError(`the new 2fasettings value cannot be written over this ${row.codec.name} connection: ${(e as Error).message} — nothing was written`);
  }
  const check = parseSettings(value, session.limits, row.codec);
  if (!check.parsed) {
    const rebuilt = row.exists && !row.parsed;
    const message = `the new 2fasettings value would not be readable by WHMCS (${check.error}) — nothing was written; check $serialize_* limits in configuration.php`;
    throw rebuilt ? new RefusedError(message) : new CliError(message);
  }
  if (row.exists && value === row.raw) return noChange();
  const now = await dbNow(trx);
  const rows: RowChange[] = row.exists
    ? [
        ...row.duplicates.map((d): RowChange => ({ t: 'tblconfiguration', k: { id: d.id }, b: { value: d.raw, updated_at: d.updatedAt }, a: { value, updated_at: now } })),
        { t: 'tblconfiguration', k: { id: row.id! }, b: { value: row.raw, updated_at: row.updatedAt ?? null }, a: { value, updated_at: now } },
      ]
    : [{ t: 'tblconfiguration', k: { setting: SETTING }, b: null, a: { value, created_at: now, updated_at: now } }];
  if (row.duplicates.length) {
    notes.push(
      `2fasettings exists ${row.duplicates.length + 1} times (tblconfiguration ids ${[...row.duplicates.map((d) => d.id), row.id].join(', ')}): all of them get the new value, as WHMCS's own save does`,
    );
  }
  return {
    rows,
    activity: [{ description: activityText(what, session.operator, reason) }],
    diff,
    notes,
  };
}
