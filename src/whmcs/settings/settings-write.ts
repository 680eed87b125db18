/**
 * What every change to the `2fasettings` row shares: the settings to start from (a missing row, an
 * unreadable one rebuilt on request) and the row change itself, written as WHMCS writes it.
 */
import type { Knex } from 'knex';
import type { ChangeOutcome, Plan, RowChange } from '../changes/change.js';
import { activityText } from '../changes/activity-log.js';
import { dbNow } from '../connection/sql-time.js';
import { phpTree, type PhpNode } from '../php/php-tree.js';
import { SETTING, emptySettings, modulesOf, parseSettings, serializeSettings, type Audience, type PhpArray, type SettingsRow } from './settings.js';
import type { Session } from '../connection/session.js';
import { CliError, EXIT, RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';

export type Flags = Record<Audience, boolean>;

export interface ChangeResult<J> {
  json: J;
  outcome: ChangeOutcome;
}

export const onOff = (b: boolean) => (b ? 'on' : 'off');
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
export const audienceText = (a: Audience[]) => (a.length === 2 ? 'clients and admins' : a[0]!);

/** Where a change's settings came from, so that untouched parts are written back byte for byte. */
type Origin = { raw: string | null; tree: PhpNode | null; codec: SettingsRow['codec'] } | null;

/**
 * The settings to change. A missing row starts from what WHMCS creates. An unreadable one means
 * WHMCS currently runs with no 2FA at all, and is only replaced on request (--force) — keeping every
 * module entry and key that can be recovered from it (wrong string lengths, wrong array counts,
 * repeated keys, trailing bytes are read through). If anything could not be recovered, the rebuild
 * is refused (exit 4) rather than drop it; a value with nothing to recover is rebuilt from scratch.
 */
export function baseSettings(row: SettingsRow, force: boolean): { base: PhpArray; diff: DiffLine[]; rebuilt: boolean; from: Origin } {
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

export function noChange(): Plan {
  return { rows: [], activity: [], diff: [], notes: [] };
}

/**
 * The row change: UPDATE by id with compare-and-set on the bytes read, or INSERT as WHMCS would.
 * Duplicate rows of the name (7.x) get the same value, as WHMCS's own save writes every one of them;
 * each is its own journalled row, so undo restores every row touched. Timestamps are the
 * database's local time (sql-time.ts), as WHMCS writes them.
 */
export async function settingsPlan(
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
        ...row.duplicates.map((d): RowChange => ({ table: 'tblconfiguration', key: { id: d.id }, before: { value: d.raw, updated_at: d.updatedAt }, after: { value, updated_at: now } })),
        { table: 'tblconfiguration', key: { id: row.id! }, before: { value: row.raw, updated_at: row.updatedAt ?? null }, after: { value, updated_at: now } },
      ]
    : [{ table: 'tblconfiguration', key: { setting: SETTING }, before: null, after: { value, created_at: now, updated_at: now } }];
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
