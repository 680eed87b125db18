/**
 * Activating and deactivating a security service per audience in WHMCS's global 2FA settings (the
 * `2fasettings` row, docs/data-model.md §1), with the checks of who would log in without a second
 * factor afterwards. Each is written through applyChange (one transaction, the row read under lock,
 * compare-and-set, undo journal, activity log) as PHP-serialized data exactly as WHMCS writes it.
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
 */
import type { Knex } from 'knex';
import { applyChange, type ChangeOptions, type ChangeOutcomeWith, type PlanWithResult } from '../changes/change.js';
import { whmcsEncrypt } from '../crypto/whmcs-encrypt.js';
import { maskClientId, MASK } from './module-settings.js';
import { ADMINS, clientSideTable } from '../accounts/accounts-table.js';
import { FLAG, anyEnabled, emptySettings, enabledModules, isEnabled, isForced, modulesOf, nonArrayModule, readSettingsRow, withModule, type Audience, type PhpArray } from './settings.js';
import type { Session } from '../connection/session.js';
import { moduleInfo, moduleLabel, type ModuleField } from '../../services/catalog.js';
import { RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';
import type { ServiceCheck } from './activation-checks.js';
import { countEnrolled, lockGuards } from './guard-counts.js';
import { storedPlain } from './module-config.js';
import { audienceText, baseSettings, noChange, plural, settingsPlan, type ChangeResult, type Flags } from './settings-write.js';

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

interface ServiceChangeRequest {
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
  const outcome = await applyChange(
    session,
    {
      command: `activate ${req.module}`,
      summary: `${label} activated for ${audienceText(req.audiences)}`,
      reason: req.reason,
      plan: async (trx, lock): Promise<PlanWithResult<ServiceState>> => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(session, trx, lock && 'update');
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
        if (Object.keys(patch).length === 0 && !rebuilt && !odd) return { ...noChange(), result: { before, after: before } };
        const next = withModule(base, req.module, patch);
        const result = { before, after: flagsOf(next, req.module) };
        const what: string[] = [];
        if (turnedOn.length) what.push(`${label} (${req.module}) activated for ${audienceText(turnedOn)}`);
        if (changedFields.length) what.push(`${label} ${changedFields.join(', ')} changed`);
        if (rebuilt) what.push('unreadable 2fasettings rebuilt');
        if (!row.exists) what.push('2fasettings created');
        return { ...(await settingsPlan(session, trx, row, from, next, diff, [], what.join('; '), req.reason)), result };
      },
    },
    opts,
  );
  return { outcome, json: serviceJson(req, outcome) };
}

export async function deactivateService(session: Session, req: ServiceChangeRequest, opts: ChangeOptions): Promise<ChangeResult<ServiceChangeJson>> {
  const label = moduleLabel(req.module);
  const outcome = await applyChange(
    session,
    {
      command: `deactivate ${req.module}`,
      summary: `${label} deactivated for ${audienceText(req.audiences)}`,
      reason: req.reason,
      plan: async (trx, lock): Promise<PlanWithResult<ServiceState>> => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(session, trx, lock && 'update');
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
        if (turnedOff.length === 0 && !rebuilt) return { ...noChange(), result: { before, after: before } };
        const next = turnedOff.length ? withModule(base, req.module, patch) : base;
        const result = { before, after: flagsOf(next, req.module) };
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
        return { ...(await settingsPlan(session, trx, row, from, next, diff, [...consequences, ...notes], what.join('; '), req.reason)), result };
      },
    },
    opts,
  );
  return { outcome, json: serviceJson(req, outcome) };
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

function serviceJson(req: ServiceChangeRequest, outcome: ChangeOutcomeWith<ServiceState>): ServiceChangeJson {
  return {
    changed: outcome.changed,
    dryRun: outcome.dryRun,
    service: req.module,
    audiences: req.audiences,
    before: outcome.result.before,
    after: outcome.result.after,
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
