/**
 * The break-glass path (docs/data-model.md §3, §10): a fresh backup code for an enrolled account, which
 * then logs in with WHMCS's "Login using Backup Code" and stays enrolled. Only `backupcode` (its
 * sha1) changes and the failure counters go; every other key keeps its value and position, and the
 * config is written back in this database's format.
 */
import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import type { Session } from '../connection/session.js';
import { accountById, findAccount, toAccount, type Account, type Selector } from './find-account.js';
import { ADMINS, tableFor } from './accounts-table.js';
import { accountRowChange, configTargetFor, decodeForWrite, encodeForInstall } from './account-write.js';
import { activityText, type ActivityEntry } from '../changes/activity-log.js';
import { applyChange, type ChangeOptions, type ChangeOutcome, type PlanWithResult } from '../changes/change.js';
import { formatBackupCode, generateBackupCode, hashBackupCode } from '../crypto/backup-code-hash.js';
import { owningClientId } from './reset.js';
import { requireKeyAgreement } from '../crypto/key-check.js';
import { RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';

/** Keys WHMCS 8 keeps failed-attempt counts in (§2.3); a new code starts with a clean slate. */
const ATTEMPT_KEYS = ['attempts', 'backup_attempts'] as const;

interface IssuedCode {
  kind: Account['kind'];
  id: number;
  name: string;
  email: string;
  module: string;
  disabled: boolean;
  /** Formatted `xxxx xxxx xxxx xxxx`; null in a dry run (no code is generated). */
  backupCode: string | null;
}

interface BackupCodeResult {
  accounts: IssuedCode[];
  outcome: ChangeOutcome;
  notes: string[];
  /** E.g. that cc_encryption_hash could not be proven before encrypting (key-check.ts). */
  warnings: string[];
}

const who = (a: Account): string => (a.kind === 'admin' ? `admin '${a.name}'` : `${a.kind} '${a.email}'`);

function refuseUnenrolled(a: Account): void {
  if (a.module === '' || a.module === '0') {
    throw new RefusedError(
      `${who(a)} (#${a.id}) has no second factor${a.module === '0' ? " (module '0' counts as off)" : ''} — there is nothing to bypass; it can log in with the password alone (enrol it with \`whmcs-2fa enroll\`)`,
    );
  }
}

/**
 * The new data column for `a` with backup code `code`: decode (exit 6 when it does not decrypt),
 * replace `backupcode` in place (or append it, where WHMCS puts it), drop the counters, re-encode.
 */
function withNewBackupCode(session: Session, a: Account, code: string): { raw: string; diff: DiffLine[] } {
  const d = decodeForWrite(session, a);
  const config: Record<string, unknown> = { ...d.config };
  const had = 'backupcode' in config && config.backupcode !== '' && config.backupcode !== null;
  config.backupcode = hashBackupCode(code);
  const t = tableFor(a.kind);
  const field = `${t.table} #${a.id} ${t.dataColumn}`;
  const diff: DiffLine[] = [{ field: `${field} backupcode`, before: had ? '(old code)' : '(none)', after: '(new code)' }];
  for (const k of ATTEMPT_KEYS) {
    if (k in config) {
      diff.push({ field: `${field} ${k}`, before: String(config[k]), after: '(removed)' });
      delete config[k];
    }
  }
  const target = configTargetFor(session.install);
  if (d.format !== 'empty' && d.format !== target) diff.push({ field: `${field} format`, before: d.format, after: target });
  return { raw: encodeForInstall(session, config), diff };
}

function activityFor(session: Session, a: Account, reason: string | undefined, clientId: number): ActivityEntry {
  const what = `backup code regenerated for ${who(a)} (stays enrolled in ${a.module})`;
  if (a.kind === 'admin') return { description: activityText(what, session.operator, reason), adminId: a.id };
  if (a.kind === 'user') return { description: activityText(what, session.operator, reason, `User ID: ${a.id}`), userId: a.id, clientId };
  return { description: activityText(what, session.operator, reason, `Client ID: ${a.id}`), clientId: a.id };
}

/** Every enrolled admin, locked when asked (the plan's second pass runs inside the write). */
async function enrolledAdmins(k: Knex | Knex.Transaction, lock: boolean): Promise<Account[]> {
  let q = k('tbladmins').select(['id', 'username', 'email', 'authmodule', 'authdata', 'disabled', 'roleid']).whereNotIn('authmodule', ['', '0']).orderBy('id');
  if (lock && !isSqlite(k)) q = q.forUpdate();
  return ((await q) as Record<string, unknown>[]).map((r) => toAccount(ADMINS, r));
}

interface BackupCodeRequest {
  selector?: Selector;
  allAdmins?: boolean;
  reason?: string;
}

/**
 * Issues new backup codes through the change engine. Codes are drawn once per account id, before
 * the preview, so the confirmed change is exactly what is written; in a dry run none is drawn.
 */
export async function issueBackupCodes(session: Session, req: BackupCodeRequest, opts: ChangeOptions): Promise<BackupCodeResult> {
  const codes = new Map<number, string>();
  const codeFor = (id: number): string => {
    // A dry run still encodes (proving the config can be written) but with a throwaway value.
    if (opts.dryRun) return '0000000000000000';
    let c = codes.get(id);
    if (!c) codes.set(id, (c = generateBackupCode()));
    return c;
  };

  let targets: Account[];
  if (req.allAdmins) {
    targets = await enrolledAdmins(session.db.knex, false);
    if (!targets.length) throw new RefusedError('no admin has a second factor — there is nothing to bypass');
  } else {
    targets = [await findAccount(session, req.selector ?? {})];
  }
  let ownProof = true;
  for (const a of targets) {
    refuseUnenrolled(a);
    if (decodeForWrite(session, a).format !== 'aes') ownProof = false;
  }
  const warnings: string[] = [];
  if (configTargetFor(session.install) === 'aes') {
    session.requireCcHash('writing the encrypted second-factor data of WHMCS 8.12+');
    // An AES config that decrypts proves the key for its own account; anything else (an empty or
    // plain config) proves nothing, so the key must agree with what else WHMCS encrypted.
    if (!ownProof) warnings.push(...(await requireKeyAgreement(session, 'encrypting the new backup code')).warnings);
  }

  const summary = req.allAdmins
    ? `new backup codes for all ${targets.length} enrolled admins`
    : `new backup code for ${who(targets[0]!)} (#${targets[0]!.id})`;
  const outcome = await applyChange(
    session,
    {
      command: 'backup-code',
      summary,
      reason: req.reason,
      plan: async (trx, lock): Promise<PlanWithResult<Account[]>> => {
        const accounts = req.allAdmins
          ? await enrolledAdmins(trx, lock)
          : [await accountById(trx, targets[0]!.kind, targets[0]!.id, lock)];
        const plan: PlanWithResult<Account[]> = { rows: [], activity: [], diff: [], notes: [], result: accounts };
        for (const a of accounts) {
          refuseUnenrolled(a);
          const next = withNewBackupCode(session, a, codeFor(a.id));
          plan.rows.push(accountRowChange(a, { module: a.module, rawConfig: next.raw }));
          plan.diff.push(...next.diff);
          plan.activity.push(activityFor(session, a, req.reason, a.kind === 'user' ? await owningClientId(trx, a.id) : 0));
        }
        return plan;
      },
    },
    opts,
  );
  const planned = outcome.result;
  const notes: string[] = [
    opts.dryRun
      ? 'a dry run generates no code — run without --dry-run to issue one'
      : 'the code is shown once: WHMCS stores only its sha1 — log in with "Login using Backup Code"; WHMCS then issues a new code and the account stays enrolled',
  ];
  if (planned.some((a) => a.disabled)) {
    notes.push(`disabled account${planned.filter((a) => a.disabled).length === 1 ? '' : 's'} got a code too, but cannot log in until enabled again`);
  }
  return {
    accounts: planned.map((a) => ({
      kind: a.kind,
      id: a.id,
      name: a.name,
      email: a.email,
      module: a.module,
      disabled: Boolean(a.disabled),
      backupCode: outcome.changed ? formatBackupCode(codes.get(a.id)!) : null,
    })),
    outcome,
    notes,
    warnings,
  };
}
