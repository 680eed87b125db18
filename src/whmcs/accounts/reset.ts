/**
 * Turning an account's second factor off the way WHMCS's own "disable" does (docs/data-model.md §2.2,
 * §10, §11): module column '' and data column ''. The docs' `SET authmodule='' AND authdata=''`
 * stores '0' and keeps the secret; such rows count as off but are still reset here, which removes
 * the secret they kept.
 */
import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { accountById, findAccount, type Account, type Selector } from './find-account.js';
import { ADMINS, moduleIsOn, tableFor, type AccountTable, type Kind } from './accounts-table.js';
import { accountRowChange } from './account-write.js';
import { activityText, type ActivityEntry } from '../changes/activity-log.js';
import { applyChange, emptyPlan, type ChangeOptions, type ChangeOutcome, type PlanWithResult } from '../changes/change.js';
import { isAesDecryptable } from '../crypto/aes-config.js';
import { anyEnabled, isForced, readSettingsRow, type Audience } from '../settings/settings.js';
import { UsageError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';
import type { BulkJob } from '../changes/bulk.js';

interface ResetResult {
  account: { kind: Kind; id: number; name: string; email: string; module: string };
  outcome: ChangeOutcome;
  notes: string[];
  warnings: string[];
}

/** Admins' 2FA can only be switched off here or in SQL, so the activity log must say why. */
export function requireReasonFor(kind: Kind | 'admins', reason: string | undefined): string | undefined {
  const r = reason?.replace(/\s+/g, ' ').trim();
  if ((kind === 'admin' || kind === 'admins') && !r) {
    throw new UsageError('resetting an admin\'s second factor needs --reason "<why>" — it is written to the WHMCS activity log');
  }
  return r || undefined;
}

/** The stored value, described without revealing it (configs can hold TOTP secrets). */
function describeStored(v: string | null): string {
  if (v === null) return 'NULL';
  if (v === '') return "''";
  if (v === '0') return "'0'";
  const kind = isAesDecryptable(v as unknown) ? 'AES' : v.startsWith('{') || v.startsWith('[') ? 'JSON' : v.startsWith('a:') ? 'serialized' : 'data';
  return `(${v.length} bytes, ${kind})`;
}

const who = (a: Account): string => (a.kind === 'admin' ? `admin '${a.name}'` : `${a.kind} '${a.email}'`);

function was(a: Account): string {
  if (a.module === '') return 'was: no module, leftover data cleared';
  if (a.module === '0') return "was: '0' from WHMCS's documented SQL, secret still stored";
  return `was: ${a.module}`;
}

/** The client a user's activity-log row is filed under: the one they own, else the first they belong to. */
export async function owningClientId(k: Knex | Knex.Transaction, userId: number): Promise<number> {
  const row = await k('tblusers_clients').where({ auth_user_id: userId }).orderBy([{ column: 'owner', order: 'desc' }, { column: 'client_id' }]).first('client_id');
  return row ? Number(row.client_id) : 0;
}

async function resetActivity(k: Knex | Knex.Transaction, session: Session, a: Account, reason: string | undefined): Promise<ActivityEntry> {
  const what = `disabled for ${who(a)} (${was(a)})`;
  if (a.kind === 'admin') return { description: activityText(what, session.operator, reason), adminId: a.id };
  if (a.kind === 'user') {
    return { description: activityText(what, session.operator, reason, `User ID: ${a.id}`), userId: a.id, clientId: await owningClientId(k, a.id) };
  }
  return { description: activityText(what, session.operator, reason, `Client ID: ${a.id}`), clientId: a.id };
}

function resetDiff(a: Account): DiffLine[] {
  const t = tableFor(a.kind);
  const lines: DiffLine[] = [];
  if (a.module !== '') lines.push({ field: `${t.table} #${a.id} ${t.moduleColumn}`, before: `'${a.module}'`, after: "''" });
  if ((a.rawConfig ?? '') !== '' || a.rawConfig === null) {
    lines.push({ field: `${t.table} #${a.id} ${t.dataColumn}`, before: describeStored(a.rawConfig), after: "''" });
  }
  return lines;
}

const audienceOf = (t: AccountTable): Audience => t.audience;

/**
 * What follows from switching second factors off for `count` accounts of one table: forced
 * enrolment at next login, and for admins whether anyone is left with a second factor.
 */
export async function resetConsequences(
  session: Session,
  t: AccountTable,
  target: { label: string; count: number; excludeIds?: number[]; module?: string },
): Promise<{ notes: string[]; warnings: string[] }> {
  const { knex } = session.db;
  const notes: string[] = [];
  const warnings: string[] = [];
  const settings = (await readSettingsRow(session)).parsed;
  const aud = audienceOf(t);
  const single = target.count === 1 && !target.module;
  const whom = single ? target.label : `every ${t.kind} reset`;
  if (isForced(settings, aud) && anyEnabled(settings, aud)) {
    notes.push(`WHMCS forces ${aud} to use two-factor authentication: ${whom} will be made to enrol again at next login`);
  } else {
    notes.push(`${whom} has no second factor now and can log in with the password alone until they enrol again${t === ADMINS ? ' (My Account › Two-Factor Authentication)' : ' (Security Settings)'}`);
  }
  if (t === ADMINS) {
    let q = knex('tbladmins').whereNotIn('authmodule', ['', '0']).where('disabled', 0);
    if (target.excludeIds?.length) q = q.whereNotIn('id', target.excludeIds);
    if (target.module) q = q.whereNot('authmodule', target.module);
    const row = await q.count({ n: '*' }).first();
    const others = Number(row?.n ?? 0);
    if (others === 0) {
      warnings.push('no other active admin has a second factor any more — every admin login is password-only until someone enrols (`whmcs-2fa enroll --admin <name>`)');
    } else {
      notes.push(`${others} other active admin${others === 1 ? '' : 's'} still ${others === 1 ? 'has' : 'have'} a second factor`);
    }
  }
  if (session.install.aesConfigs) {
    notes.push("WHMCS 8.12 itself stores an encrypted empty config (AES of '') when it disables 2FA; the '' written here reads back the same (an empty config)");
  }
  return { notes, warnings };
}

/** How far back in the activity log a reset looks for a backup code it would void. */
const RECENT_ACTIVITY_ROWS = 20_000;

/**
 * When the latest whmcs-2fa entry in the activity log about this account is a backup code it
 * issued, that entry's date: resetting now voids a code someone may just have been handed.
 */
async function lastBackupCodeIssued(session: Session, a: Account): Promise<string | null> {
  const name = who(a);
  let rows: Array<{ description: string; date: unknown }>;
  try {
    // The newest entries only: a busy install's log holds millions of rows, and a LIKE over all of
    // them would make every reset wait for a note.
    const k = session.db.knex;
    const [{ top }] = (await k('tblactivitylog').max({ top: 'id' })) as Array<{ top: unknown }>;
    rows = await k('tblactivitylog')
      .where('id', '>', Number(top ?? 0) - RECENT_ACTIVITY_ROWS)
      .andWhere('description', 'like', 'Two-Factor Authentication: %by whmcs-2fa CLI%')
      .orderBy('id', 'desc')
      .limit(200)
      .select('description', 'date');
  } catch {
    // Only a note: an unreadable activity log is reported by the write that needs it.
    return null;
  }
  const mine = rows.find((r) => r.description.includes(` ${name}`));
  if (!mine || !mine.description.startsWith('Two-Factor Authentication: backup code regenerated for ')) return null;
  // As stored (the driver reads DATETIME as local time: its local fields are the stored text).
  const d = mine.date;
  if (!(d instanceof Date)) return String(d);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Resets one account through the change engine (journal, CAS, activity log, one transaction). */
export async function resetAccount(session: Session, sel: Selector, reason: string | undefined, opts: ChangeOptions): Promise<ResetResult> {
  const first = await findAccount(session, sel);
  const t = tableFor(first.kind);
  const consequences = moduleIsOn(first.module)
    ? await resetConsequences(session, t, { label: who(first), count: 1, excludeIds: [first.id] })
    : { notes: [] as string[], warnings: [] as string[] };
  const issued = await lastBackupCodeIssued(session, first);
  if (issued) {
    consequences.notes.unshift(`the backup code issued by \`whmcs-2fa backup-code\` on ${issued} (the last second-factor change of this account) stops working: a reset clears it with the rest`);
  }
  if (first.module === '0') {
    consequences.notes.unshift("the module column was '0' (left by the SQL in WHMCS's docs): WHMCS already treated it as off, but the old secret was still stored — it is removed now");
  } else if (first.module === '' && (first.rawConfig ?? '') !== '') {
    consequences.notes.unshift('no module was set: only the leftover second-factor data (an abandoned enrolment or WHMCS 8.12\'s encrypted empty config) is cleared');
  }
  const outcome = await applyChange(
    session,
    {
      command: 'reset',
      summary: `reset the second factor of ${who(first)} (#${first.id})`,
      reason,
      plan: async (trx, lock): Promise<PlanWithResult<Account>> => {
        const a = await accountById(trx, first.kind, first.id, lock);
        if (a.module === '' && (a.rawConfig ?? '') === '') return { ...emptyPlan(), notes: [`${who(a)} has no second factor and no leftover data — nothing to reset`], result: a };
        return {
          rows: [accountRowChange(a, { module: '', rawConfig: '' })],
          activity: [await resetActivity(trx, session, a, reason)],
          diff: resetDiff(a),
          notes: consequences.notes,
          result: a,
        };
      },
    },
    opts,
  );
  const current = outcome.result;
  return {
    account: { kind: current.kind, id: current.id, name: current.name, email: current.email, module: current.module },
    outcome,
    notes: outcome.plan.rows.length ? consequences.notes : outcome.plan.notes,
    warnings: outcome.plan.rows.length ? consequences.warnings : [],
  };
}

/**
 * A bulk reset of every account of one table on `module` (e.g. Duo on WHMCS ≤ 8.8 after its iframe
 * prompt was retired). One activity-log row per batch names the count and the id range: one row
 * per account would put 100 000 rows into tblactivitylog, and the journal already has every id.
 */
export function bulkResetJob(session: Session, t: AccountTable, module: string, reason: string | undefined, batchSize: number): BulkJob {
  const cleared = Object.freeze({ [t.moduleColumn]: '', [t.dataColumn]: '' });
  return {
    command: 'reset',
    summary: `bulk reset of every ${t.kind} on ${module}`,
    reason,
    table: t.table,
    columns: [t.moduleColumn, t.dataColumn],
    identity: [t.kind === 'admin' ? 'username' : 'email'],
    filter: (q) => q.where(t.moduleColumn, module),
    // One record for every row: the bulk engine then writes the batch as one set-based UPDATE.
    change: () => cleared,
    activity: (b) => [
      {
        description: activityText(
          `disabled for ${b.count} ${b.count === 1 ? t.kind : t.plural} on ${module} (bulk reset batch ${b.index}, ${t.table} ids ${b.firstId}-${b.lastId})`,
          session.operator,
          reason,
        ),
      },
    ],
    batchSize,
  };
}
