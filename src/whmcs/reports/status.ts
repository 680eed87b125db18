import type { Session } from '../connection/session.js';
import { readSettingsRow, modulesOf, isEnabled, isForced, anyEnabled, type PhpArray } from '../settings/settings.js';
import { duoNeedsUniversalPrompt } from '../connection/install.js';
import { ADMINS, clientSideTable, moduleIsOn, type AccountTable } from '../accounts/accounts-table.js';
import { moduleInfo, moduleLabel } from '../../services/catalog.js';
import { revealModuleSettings, type RevealedSetting } from '../settings/module-settings.js';
import { groupCounts } from '../connection/parallel-count.js';
import { checkEncryptionKey, summarizeKeyCheck, type KeyVerdict } from '../crypto/key-check.js';

interface ModuleStatus {
  name: string;
  label: string;
  known: boolean;
  inSettings: boolean;
  enabled: { clients: boolean; admins: boolean };
  settings: RevealedSetting[];
  enrolled: { admins: number; users?: number; clients?: number };
}

export interface StatusReport {
  whmcs: { version: string | null; shape: '7' | '8'; accountConfigFormat: 'serialized' | 'json' | 'aes' };
  database: { label: string; source: string };
  /**
   * `rows`: how many rows carry the name (7.x has no unique key; WHMCS reads the last, `id`);
   * `oddities`: what reads, but not as WHMCS writes it.
   */
  settings: { present: boolean; readable: boolean; error: string | null; id: number | null; rows: number; oddities: string[] };
  /**
   * Whether cc_encryption_hash decrypts what WHMCS encrypted (key-check.ts): `checked` conclusive
   * values, the sources of those that did not decrypt, and one line saying what it means.
   */
  encryptionKey: { verdict: KeyVerdict; checked: number; disagreeing: string[]; message: string };
  force: { clients: boolean; admins: boolean };
  modules: ModuleStatus[];
  accounts: {
    admins: AccountCounts;
    users?: AccountCounts;
    clients?: AccountCounts;
  };
  warnings: string[];
}

interface AccountCounts {
  total: number;
  enrolled: number;
  /** Rows whose module column is '0' — left by the SQL in WHMCS's own docs. */
  zeroModule: number;
  /** Enrolled and able to log in (admins: not disabled; 7.x clients: not Closed). */
  activeEnrolled: number;
}

interface ModuleCount {
  module: string;
  n: number;
  active: number;
}

/**
 * Enrolment counts per module, in SQL: GROUP BY queries (in parallel id ranges on a large MySQL
 * table), never loading the rows. `active` counts accounts that can log in, which is what the
 * lockout guards care about.
 */
async function countByModule(session: Session, t: AccountTable): Promise<ModuleCount[]> {
  const activeExpr =
    t.table === 'tbladmins' ? 'SUM(CASE WHEN disabled = 0 THEN 1 ELSE 0 END)'
    : t.table === 'tblclients' ? "SUM(CASE WHEN status <> 'Closed' THEN 1 ELSE 0 END)"
    : 'COUNT(*)';
  const groups = await groupCounts(
    session.db,
    { table: t.table, groupColumn: t.moduleColumn, aggregates: ['COUNT(*)', activeExpr] },
    session.install.tableStats[t.table],
  );
  return groups.map((g) => ({ module: g.key, n: g.sums[0]!, active: g.sums[1]! }));
}

function summarize(counts: ModuleCount[]): AccountCounts {
  const on = counts.filter((c) => moduleIsOn(c.module));
  return {
    total: counts.reduce((a, c) => a + c.n, 0),
    enrolled: on.reduce((a, c) => a + c.n, 0),
    activeEnrolled: on.reduce((a, c) => a + c.active, 0),
    zeroModule: counts.filter((c) => c.module === '0').reduce((a, c) => a + c.n, 0),
  };
}

export async function collectStatus(session: Session, opts: { showSecrets: boolean }): Promise<StatusReport> {
  const { install } = session;
  const warnings: string[] = [];
  // All at once: the client side's full scan (in parallel parts) is most of the run; the settings
  // row and the small admins table are read beside it.
  const clientTable = clientSideTable(install);
  const [row, clientCounts, adminCounts, keyCheck] = await Promise.all([
    readSettingsRow(session),
    countByModule(session, clientTable),
    countByModule(session, ADMINS),
    checkEncryptionKey(session),
  ]);
  const encryptionKey = summarizeKeyCheck(keyCheck);
  if (encryptionKey.verdict === 'disagrees' || encryptionKey.disagreeing.length) {
    warnings.push(`${encryptionKey.message}; until then every change that encrypts (enrol on AES installs, Duo keys, backup codes on AES installs) is refused`);
  }
  const s: PhpArray | null = row.parsed;
  if (!row.exists) {
    warnings.push('the 2fasettings row is missing: WHMCS runs with no two-factor authentication at all — run `whmcs-2fa activate totp` to create it');
  } else if (!s) {
    warnings.push(`the 2fasettings row cannot be read (${row.error}): WHMCS treats it as empty, so no 2FA is offered or demanded — rebuild it with \`whmcs-2fa activate <service> --force\`, which keeps every entry it can recover (the old value is kept in the undo journal)`);
  }
  for (const o of row.oddities) warnings.push(`2fasettings: ${o}`);
  if (row.duplicates.length) {
    const ids = row.duplicates.map((d) => d.id);
    const differ = row.duplicates.some((d) => d.raw !== row.raw);
    warnings.push(
      `2fasettings exists ${ids.length + 1} times in tblconfiguration (ids ${[...ids, row.id].join(', ')}): WHMCS reads the last one (id ${row.id})${differ ? ', and the others hold different values' : ''} — any change by whmcs-2fa (or WHMCS's own settings page) writes all of them; to clean up, delete the older rows (ids ${ids.join(', ')})`,
    );
  }

  const clientKey = install.shape === '8' ? 'users' : 'clients';

  const names = new Set<string>(Object.keys(modulesOf(s)));
  for (const c of [...adminCounts, ...clientCounts]) if (moduleIsOn(c.module)) names.add(c.module);

  const modules: ModuleStatus[] = [];
  for (const name of names) {
    const entry = modulesOf(s)[name];
    const settings = entry ? revealModuleSettings(name, entry, session.ccHash, opts.showSecrets) : [];
    const enrolled: ModuleStatus['enrolled'] = {
      admins: adminCounts.find((c) => c.module === name)?.n ?? 0,
      [clientKey]: clientCounts.find((c) => c.module === name)?.n ?? 0,
    };
    modules.push({
      name,
      label: moduleLabel(name),
      known: Boolean(moduleInfo(name)),
      inSettings: Boolean(entry),
      enabled: { clients: isEnabled(s, name, 'clients'), admins: isEnabled(s, name, 'admins') },
      settings,
      enrolled,
    });
  }

  const admins = summarize(adminCounts);
  const clientSide = summarize(clientCounts);
  const force = { clients: isForced(s, 'clients'), admins: isForced(s, 'admins') };

  // --- warnings, each saying what to do ---
  const duo = modules.find((m) => m.name === 'duosecurity');
  if (duo && (duo.enabled.clients || duo.enabled.admins) && duoNeedsUniversalPrompt(install)) {
    warnings.push(`Duo Security is active on WHMCS ${install.version}: its iframe prompt stopped working on 2024-03-30 — upgrade WHMCS to 8.9+ (Universal Prompt) or \`whmcs-2fa deactivate duo\` and move accounts to another service`);
  }
  for (const m of modules) {
    for (const st of m.settings) if (st.problem) warnings.push(`${m.label} ${st.label}: ${st.problem}`);
  }
  if (force.admins && admins.activeEnrolled === 0) {
    warnings.push('admins are forced to enrol but no active admin has a second factor yet: every admin will be made to enrol at next login — enrol one first with `whmcs-2fa enroll --admin <name>`');
  }
  for (const [aud, counts, label, tbl] of [
    ['admins', adminCounts, 'admin', ADMINS],
    ['clients', clientCounts, clientKey === 'users' ? 'user' : 'client', clientTable],
  ] as const) {
    for (const c of counts) {
      if (!moduleIsOn(c.module) || isEnabled(s, c.module, aud)) continue;
      const anyOn = anyEnabled(s, aud);
      let consequence: string;
      if (tbl === ADMINS) {
        consequence = anyOn
          ? 'WHMCS still challenges them with it (it loads the module regardless)'
          : 'no module is enabled for admins, so WHMCS skips their second factor entirely';
      } else if (install.shape === '8') {
        consequence = 'WHMCS 8 lets them log in WITHOUT a second factor';
      } else {
        consequence = anyOn ? 'WHMCS 7 still challenges them' : 'no module is enabled for clients, so WHMCS skips their second factor';
      }
      warnings.push(`${c.n} ${label}${c.n === 1 ? '' : 's'} enrolled in ${moduleLabel(c.module)}, which is not enabled for ${aud}: ${consequence} — \`whmcs-2fa activate ${c.module} --${aud}\` or reset them`);
    }
  }
  for (const [label, cnt] of [['admin', admins.zeroModule], [clientKey === 'users' ? 'user' : 'client', clientSide.zeroModule]] as const) {
    if (cnt > 0) {
      warnings.push(`${cnt} ${label} row${cnt === 1 ? '' : 's'} with module '0' (left by the SQL in WHMCS's docs, which keeps the old secret) — \`whmcs-2fa reset --${label} <id>\` clears them properly`);
    }
  }
  return {
    whmcs: {
      version: install.version,
      shape: install.shape,
      accountConfigFormat: install.shape === '7' ? 'serialized' : install.aesConfigs ? 'aes' : 'json',
    },
    database: { label: session.db.label, source: session.source },
    settings: { present: row.exists, readable: Boolean(s), error: row.error, id: row.id ?? null, rows: row.exists ? row.duplicates.length + 1 : 0, oddities: row.oddities },
    encryptionKey,
    force,
    modules,
    accounts: { admins, [clientKey]: clientSide },
    warnings,
  };
}
