/**
 * Forcing clients or admins to enrol (`forceclient`/`forceadmin` in the `2fasettings` row,
 * docs/data-model.md §1), with the guards that keep it from locking every admin out.
 *
 * JSON shape (`--format json`, stable):
 *
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
import { applyChange, type ChangeOptions, type PlanWithResult } from '../changes/change.js';
import { ADMINS, clientSideTable, type AccountTable } from '../accounts/accounts-table.js';
import { AUDIENCES, anyEnabled, emptySettings, isForced, readSettingsRow, withForce, type Audience, type PhpArray } from './settings.js';
import type { Session } from '../connection/session.js';
import { RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';
import { countEnrolled, guardRead, lockGuards } from './guard-counts.js';
import { baseSettings, noChange, onOff, plural, settingsPlan, type ChangeResult, type Flags } from './settings-write.js';

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

interface AdminRef {
  id: number;
  username: string;
}

/** What a plan found: enforcement before and after it, and the admins it makes enrol. */
interface EnforcementState {
  before: Flags;
  after: Flags;
  willEnrol: AdminRef[];
}

interface EnforceRequest {
  force: Partial<Flags>;
  /** Rebuild an unreadable row. */
  rebuild: boolean;
  reason?: string;
}

export async function enforce(session: Session, req: EnforceRequest, opts: ChangeOptions): Promise<ChangeResult<EnforceJson>> {
  const asked = AUDIENCES.filter((a) => req.force[a] !== undefined);
  const outcome = await applyChange(
    session,
    {
      command: 'enforce',
      summary: `enrolment ${asked.map((a) => `${a} ${onOff(req.force[a]!)}`).join(', ')}`,
      reason: req.reason,
      plan: async (trx, lock): Promise<PlanWithResult<EnforcementState>> => {
        lockGuards(trx, lock);
        const row = await readSettingsRow(session, trx, lock && 'update');
        const { base, diff, rebuilt, from } = row.exists ? baseSettings(row, req.rebuild) : { base: emptySettings(), diff: [], rebuilt: false, from: null };
        const before: Flags = { clients: isForced(row.parsed, 'clients'), admins: isForced(row.parsed, 'admins') };
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
        const after: Flags = { clients: isForced(next, 'clients'), admins: isForced(next, 'admins') };
        const willEnrol = after.admins ? await adminsWithoutSecondFactor(trx) : [];
        const result = { before, after, willEnrol };
        if (changed.length === 0 && !rebuilt) return { ...noChange(), result };
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
        return { ...(await settingsPlan(session, trx, row, from, next, diff, notes, `enrolment enforcement changed: ${changed.join(', ')}`, req.reason)), result };
      },
    },
    opts,
  );
  return {
    outcome,
    json: {
      changed: outcome.changed,
      dryRun: outcome.dryRun,
      force: outcome.result.after,
      before: outcome.result.before,
      willEnrol: outcome.result.willEnrol,
      journalId: outcome.journalId,
      warnings: outcome.plan.notes,
      diff: outcome.plan.diff,
    },
  };
}

/** `enforce` without flags: the current state, read-only. */
export async function readEnforcement(session: Session): Promise<EnforceJson> {
  const { knex } = session.db;
  const row = await readSettingsRow(session);
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
