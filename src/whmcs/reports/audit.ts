/**
 * `audit`: is every way into this WHMCS protected by a second factor? Read-only. Builds on what
 * `status` and `accounts` read (the settings row, the account listings, the module settings checks)
 * and turns it into findings `{id, severity, accounts, why, fix}` that people and monitoring read.
 *
 * Every fact used here is the data model's (§1.5 for who WHMCS challenges, §2.2 for unreadable
 * configs, §9 for Duo's eras): an admin is challenged when their module column is truthy AND any
 * module is enabled for admins (their own module need not be); an 8.x user only when their own
 * module is enabled for clients; a 7.x client when any module is enabled for clients.
 */
import type { Session } from '../connection/session.js';
import { readSettingsRow, parseSettings, modulesOf, isEnabled, isForced, anyEnabled, type PhpArray, type SettingsRow } from '../settings/settings.js';
import { duoNeedsUniversalPrompt, type SerializeLimits } from '../connection/install.js';
import { clientSideTable, moduleIsOn, type Kind } from '../accounts/accounts-table.js';
import { eachListedAccount, type Listed, type ListedAdmin, type ListedClient } from '../accounts/accounts-list.js';
import { decodeAccountConfig } from '../accounts/account-config.js';
import { phpTruthy } from '../php/php-serialize.js';
import { moduleInfo } from '../../services/catalog.js';
import { FINDING_IDS, SEVERITIES, severityRank, type FindingId, type Severity } from './audit-ids.js';
import { duoHealth, yubicoHealth, keyFinding } from './audit-services.js';
import { checkEncryptionKey } from '../crypto/key-check.js';
import { selects, type FindingSelector } from './audit-selectors.js';

export { FINDING_IDS, SEVERITIES, severityRank, type FindingId, type Severity };
export { parseFindingSelector, selects, auditStatus, type FindingSelector } from './audit-selectors.js';
export { keyFinding } from './audit-services.js';

const RANK: Record<Severity, number> = { critical: severityRank('critical'), warning: severityRank('warning'), info: severityRank('info') };

export interface AuditAccount {
  kind: Kind;
  id: number;
  /** Admin username, or the user's/client's email. */
  name: string;
  email: string;
  /** The module column as stored ('' and '0' are off). */
  module: string;
  /** Admins: role name (or #id) and whether it is the Full Administrator role. */
  role?: string;
  fullAdmin?: boolean;
  disabled?: boolean;
}

export interface Finding {
  id: FindingId;
  severity: Severity;
  /** One line: what is wrong. */
  title: string;
  /** Accounts concerned (at most ACCOUNT_LIMIT listed; `count` is the real number). */
  accounts: AuditAccount[];
  count: number;
  truncated: boolean;
  /** Why it matters: what WHMCS does with this. */
  why: string;
  /** The command (or step) that fixes it. */
  fix: string;
}

/** Per audience: what every account's login looks like right now. */
export interface AccountVerdicts {
  total: number;
  /** Able to log in (admins: not disabled; 7.x clients: not Closed; 8.x users: all). */
  active: number;
  /** Active, and WHMCS demands a second factor that can work. */
  protected: number;
  /** Active, and a password alone gets in. */
  unprotected: number;
  /** Active, and WHMCS demands a second factor that cannot work (unreadable data, broken service). */
  broken: number;
  /** Enrolled accounts whose second factor could not be checked (AES data without cc_encryption_hash). */
  unchecked: number;
}

export interface ClockFinding {
  status: 0 | 1 | 2 | 3;
  statusName: string;
  offset: number | null;
  databaseOffset: number | null;
  totpMarginSeconds: number | null;
  summary: string;
}

export interface AuditReport {
  whmcs: { version: string | null; shape: '7' | '8' };
  database: { label: string; source: string };
  accounts: { admins: AccountVerdicts; users?: AccountVerdicts; clients?: AccountVerdicts };
  modules: Array<{ name: string; enabled: { clients: boolean; admins: boolean } }>;
  force: { clients: boolean; admins: boolean };
  findings: Finding[];
  counts: Record<Severity, number>;
  clock: ClockFinding | null;
  /** One line: the verdict on admins ("all admins protected", or who is not). */
  summary: string;
}

const ACCOUNT_LIMIT = 100;

/** Worst first; within a severity in FINDING_IDS order. */
function ordered(list: Finding[]): { findings: Finding[]; counts: Record<Severity, number> } {
  const findings = [...list].sort((x, y) => RANK[y.severity] - RANK[x.severity] || FINDING_IDS.indexOf(x.id) - FINDING_IDS.indexOf(y.id));
  const counts: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { findings, counts };
}

/** The report with the clock check's verdict (`--clock`, run beside the audit) and its finding. */
export function withClock(r: AuditReport, clock: ClockFinding): AuditReport {
  const list = r.findings.filter((f) => f.id !== 'clock-totp');
  if (clock.status !== 0) {
    list.push({
      id: 'clock-totp',
      severity: clock.status === 2 ? 'critical' : 'warning',
      title: clock.status === 3 ? `the clock could not be checked: ${clock.summary}` : `clock ${clock.statusName}: ${clock.summary}`,
      accounts: [],
      count: 0,
      truncated: false,
      why: 'TOTP codes are accepted for the current 30 s step and one either side: a clock off by 30 s rejects some codes, by 60 s all of them (Duo allows 60 s)',
      fix: 'fix time synchronisation (chrony, ntpd or systemd-timesyncd) on the web and database hosts; `whmcs-2fa clock-check` for details',
    });
  }
  return { ...r, ...ordered(list), clock };
}

class Collector {
  readonly findings = new Map<FindingId, Finding>();
  add(id: FindingId, severity: Severity, title: string, why: string, fix: string, accounts: AuditAccount[] = [], count?: number): Finding {
    const f: Finding = { id, severity, title, accounts: accounts.slice(0, ACCOUNT_LIMIT), count: count ?? accounts.length, truncated: false, why, fix };
    f.truncated = f.count > f.accounts.length;
    this.findings.set(id, f);
    return f;
  }
  /** A finding that gathers accounts as they are read. */
  account(id: FindingId, make: () => Omit<Finding, 'accounts' | 'count' | 'truncated' | 'id'>, a: AuditAccount): void {
    let f = this.findings.get(id);
    if (!f) {
      f = { id, ...make(), accounts: [], count: 0, truncated: false };
      this.findings.set(id, f);
    }
    f.count++;
    if (f.accounts.length < ACCOUNT_LIMIT) f.accounts.push(a);
    else f.truncated = true;
  }
}

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;
const isFullAdmin = (a: ListedAdmin) => a.roleId === 1 || a.role === 'Full Administrator';

function adminAccount(a: ListedAdmin): AuditAccount {
  return { kind: 'admin', id: a.id, name: a.username, email: a.email, module: a.module, role: a.role ?? `#${a.roleId}`, fullAdmin: isFullAdmin(a), disabled: a.disabled };
}

function clientAccount(kind: Kind, a: Listed): AuditAccount {
  const acc: AuditAccount = { kind, id: a.id, name: a.email, email: a.email, module: a.module };
  if (kind === 'client') acc.disabled = (a as ListedClient).status === 'Closed';
  return acc;
}

/** `--admin jdoe` for admins (username), `--user <id>`/`--client <id>` otherwise (emails can repeat on 7.x). */
function selector(a: AuditAccount): string {
  return a.kind === 'admin' ? `--admin ${/^[\w.@+-]+$/.test(a.name) ? a.name : String(a.id)}` : `--${a.kind} ${a.id}`;
}

/** The clock check's result as audit keeps it. */
export function clockFinding(r: { status: 0 | 1 | 2 | 3; statusName: string; offset: number | null; totpMarginSeconds: number | null; summary: string; database?: { offset: number | null } }): ClockFinding {
  return { status: r.status, statusName: r.statusName, offset: r.offset, databaseOffset: r.database?.offset ?? null, totpMarginSeconds: r.totpMarginSeconds, summary: r.summary };
}

/**
 * Every `2fasettings` row (7.x has no unique key on `setting`, and hand-written SQL adds rows), and
 * whether they differ in what WHMCS would enforce: which of them WHMCS reads is not something to
 * rely on.
 */
function duplicateSettingsRows(row: SettingsRow, limits: SerializeLimits): { rows: number; distinct: number; enforcement: string[] } {
  const all = row.exists ? [...row.duplicates.map((d) => d.raw), row.raw ?? ''] : [];
  const values = [...new Set(all)];
  const enforcement = values.length > 1 ? [...new Set(values.map((v) => enforcementOf(parseSettings(v, limits, row.codec).parsed)))] : [];
  return { rows: all.length, distinct: values.length, enforcement };
}

/** What a settings value makes WHMCS enforce, as one comparable line. */
function enforcementOf(s: PhpArray | null): string {
  if (!s) return 'unreadable (no second factor anywhere)';
  const list = (a: 'admins' | 'clients') => Object.keys(modulesOf(s)).filter((m) => isEnabled(s, m, a)).sort().join('+') || 'none';
  return `admins: ${list('admins')}${isForced(s, 'admins') ? ' (forced)' : ''}; clients: ${list('clients')}${isForced(s, 'clients') ? ' (forced)' : ''}`;
}

/** TOTP admins whose config holds no secret at all: WHMCS challenges them with nothing to check against. */
async function totpWithoutSecret(session: Session): Promise<Set<number>> {
  const rows = (await session.db.knex('tbladmins').where({ authmodule: 'totp' }).select('id', 'authdata')) as Array<{ id: unknown; authdata: unknown }>;
  const out = new Set<number>();
  for (const r of rows) {
    const raw = r.authdata === null || r.authdata === undefined ? null : String(r.authdata);
    const d = decodeAccountConfig(raw, session.ccHash ?? '', session.limits);
    if (d.undecryptable || d.format === 'unreadable') continue; // reported as unusable already
    if (!session.ccHash && d.format === 'aes') continue;
    if (!phpTruthy(d.config.secret) && !phpTruthy(d.config.tokendata)) out.add(Number(r.id));
  }
  return out;
}

export async function runAudit(session: Session): Promise<AuditReport> {
  const { install } = session;
  const c = new Collector();
  const clientTable = clientSideTable(install);
  const clientKind = clientTable.kind;
  const clientWord = clientKind === 'user' ? 'user' : 'client';

  const [row, noSecret] = await Promise.all([readSettingsRow(session), totpWithoutSecret(session)]);
  const dup = duplicateSettingsRows(row, session.limits);
  const s: PhpArray | null = row.parsed;
  const modules = modulesOf(s);
  const force = { clients: isForced(s, 'clients'), admins: isForced(s, 'admins') };
  const adminOn = anyEnabled(s, 'admins');
  const clientOn = anyEnabled(s, 'clients');

  // --- the settings row itself ---
  if (!row.exists) {
    c.add('settings-missing', 'critical', 'the 2fasettings row is missing: no second factor is offered or demanded anywhere',
      'WHMCS reads no modules, so it skips every second factor — admins and clients log in with a password alone',
      '`whmcs-2fa activate totp` (creates the row with Time-Based Tokens for clients and admins), then `whmcs-2fa enforce --admins on`');
  } else if (!s) {
    c.add('settings-unreadable', 'critical', `the 2fasettings row cannot be read (${row.error})`,
      'WHMCS treats an unreadable row as empty: no module is active, so every second factor is skipped',
      '`whmcs-2fa activate <service> --force` rebuilds it (the old value is kept in the undo journal)');
  }
  if (dup.rows > 1) {
    const differ = dup.enforcement.length > 1;
    c.add('settings-duplicate', differ ? 'critical' : dup.distinct > 1 ? 'warning' : 'info',
      `${dup.rows} 2fasettings rows in tblconfiguration${differ ? `, enforcing different things (${dup.enforcement.join(' / ')})` : dup.distinct > 1 ? ', with different values' : ''}`,
      differ
        ? 'which row WHMCS reads depends on how the database returns them: what WHMCS enforces may not be what this audit (or the admin page) shows'
        : 'they enforce the same today, but a save from the admin page updates only one of them',
      'keep one row: delete the others in tblconfiguration (after a backup), then run `whmcs-2fa audit` again');
  }

  // --- services ---
  const counts = { admins: new Map<string, number>(), clients: new Map<string, number>() };
  // Enrolment counts per module come with the listings below; services are judged after them.

  const duo = duoHealth(modules.duosecurity, session);
  const yubico = yubicoHealth(modules.yubico);
  const serviceBroken = (m: string): string[] | null => {
    if (m === 'duosecurity') return duo.broken.length ? duo.broken : null;
    if (m === 'yubico') return yubico.broken.length ? yubico.broken : null;
    return null;
  };
  const gone = (m: string) => !moduleInfo(m) && !(m in modules);

  const goneMake = () => ({
    severity: 'warning' as const,
    title: '',
    why: `WHMCS cannot run a security module that is not installed: admins${clientKind === 'client' ? ' and clients' : ''} on it cannot complete the login${clientKind === 'user' ? ', users on it are not challenged at all' : ''}`,
    fix: `reset them: \`whmcs-2fa reset --module <module> --admins\` and \`--${clientWord}s\``,
  });

  // --- admins ---
  const admins: ListedAdmin[] = [];
  await eachListedAccount(session, 'admin', {}, (a) => admins.push(a as ListedAdmin));
  // Full administrators first, then by id: they are the accounts an attacker wants.
  admins.sort((a, b) => Number(isFullAdmin(b)) - Number(isFullAdmin(a)) || a.id - b.id);
  const av: AccountVerdicts = { total: admins.length, active: 0, protected: 0, unprotected: 0, broken: 0, unchecked: 0 };
  let undecryptableAccounts = 0;
  for (const a of admins) {
    const acc = adminAccount(a);
    if (moduleIsOn(a.module)) {
      counts.admins.set(a.module, (counts.admins.get(a.module) ?? 0) + 1);
      if (gone(a.module)) c.account('module-gone', goneMake, acc);
    }
    if (a.flags.includes('undecryptable')) undecryptableAccounts++;
    if (a.disabled) {
      if (moduleIsOn(a.module)) {
        c.account('disabled-admins-enrolled', () => ({
          severity: 'info',
          title: 'disabled admins still enrolled',
          why: 'their second-factor secrets stay stored; re-enabling the account brings back a factor nobody may still hold',
          fix: 'reset each: `whmcs-2fa reset --admin <name> --reason "disabled account"`',
        }), acc);
      }
      continue;
    }
    av.active++;
    if (a.module === '') {
      av.unprotected++;
      c.account('admin-no-second-factor', () => ({
        severity: 'critical',
        title: 'active admins without a second factor',
        why: force.admins && adminOn
          ? 'they log in with a password alone; forced enrolment then asks them to set one up — whoever holds the password enrols their own device'
          : 'they log in with a password alone (PCI DSS 8.4 asks for MFA on every administrative access)',
        fix: 'enrol each over SSH: `whmcs-2fa enroll --admin <name>`, and force the rest: `whmcs-2fa enforce --admins on`',
      }), acc);
      continue;
    }
    if (a.module === '0') {
      av.unprotected++;
      c.account('admin-module-zero', () => ({
        severity: 'critical',
        title: "admins in the '0' state left by the recovery SQL in WHMCS's docs",
        why: "WHMCS reads '0' as off: they log in with a password alone, while their old secret is still stored",
        fix: 'clear it properly and re-enrol: `whmcs-2fa reset --admin <name>` then `whmcs-2fa enroll --admin <name>`',
      }), acc);
      continue;
    }
    if (!adminOn) {
      // Reported below as no-admin-module, with these accounts.
      av.unprotected++;
      c.account('no-admin-module', () => ({
        severity: 'critical',
        title: 'no security module is enabled for admins',
        why: 'WHMCS skips the admin second factor entirely when no module is admin-enabled: enrolled admins log in with a password alone',
        fix: '`whmcs-2fa activate totp --admins` (or the service the admins are enrolled in)',
      }), acc);
      continue;
    }
    if (a.flags.includes('undecryptable') || a.flags.includes('unreadable') || (a.module === 'totp' && noSecret.has(a.id))) {
      av.broken++;
      const what = a.flags.includes('undecryptable') ? 'does not decrypt with this cc_encryption_hash' : a.flags.includes('unreadable') ? 'is neither AES, JSON nor PHP-serialized' : 'holds no TOTP secret';
      c.account('admin-config-unusable', () => ({
        severity: 'critical',
        title: 'admins whose second-factor data cannot work',
        why: 'WHMCS reads such data as an empty config: the challenge is demanded but there is no secret or backup code to check against',
        fix: 'check cc_encryption_hash first; then `whmcs-2fa reset --admin <name>` and `whmcs-2fa enroll --admin <name>`',
      }), { ...acc, module: `${a.module} (${what})` });
      continue;
    }
    const broken = serviceBroken(a.module);
    if (broken || gone(a.module)) {
      av.broken++;
      c.account('admin-service-broken', () => ({
        severity: 'critical',
        title: 'admins enrolled in a service that cannot work',
        why: 'WHMCS challenges them with a service that is misconfigured or no longer installed: they cannot complete the login, and a fail-open service lets them in without it',
        fix: 'fix the service (see its finding) or move them: `whmcs-2fa reset --admin <name>` then `whmcs-2fa enroll --admin <name>`',
      }), acc);
      continue;
    }
    if (a.flags.includes('needs-cc-hash')) av.unchecked++;
    av.protected++;
    if (!isEnabled(s, a.module, 'admins')) {
      c.account('admin-module-not-enabled', () => ({
        severity: 'warning',
        title: 'admins enrolled in a module that is not enabled for admins',
        why: 'WHMCS still challenges them (it loads the module whether enabled or not), but only while some other module is admin-enabled; turning that one off silently drops their second factor',
        fix: '`whmcs-2fa activate <module> --admins`, or move them to an enabled module',
      }), acc);
    }
    if (a.backupCode === false) {
      c.account('admin-no-backup-code', () => ({
        severity: 'warning',
        title: 'admins without a backup code',
        why: 'a lost device then means the recovery SQL, which is how accounts end up in the \'0\' state',
        fix: '`whmcs-2fa backup-code --admin <name>` (or `--all-admins`) and store the code safely',
      }), acc);
    }
  }

  // --- users (8.x) / clients (7.x): streamed, a big install has 100 000 of them ---
  const cv: AccountVerdicts = { total: 0, active: 0, protected: 0, unprotected: 0, broken: 0, unchecked: 0 };
  await eachListedAccount(session, clientKind, {}, (a) => {
    cv.total++;
    const acc = clientAccount(clientKind, a);
    if (moduleIsOn(a.module)) {
      counts.clients.set(a.module, (counts.clients.get(a.module) ?? 0) + 1);
      if (gone(a.module)) c.account('module-gone', goneMake, acc);
    }
    if (a.flags.includes('undecryptable')) undecryptableAccounts++;
    if (acc.disabled) return;
    cv.active++;
    if (a.module === '0') {
      cv.unprotected++;
      c.account('client-module-zero', () => ({
        severity: 'info',
        title: `${clientWord}s in the '0' state (off, old secret kept)`,
        why: "WHMCS reads '0' as off; the old secret stays stored and confuses later support",
        fix: `\`whmcs-2fa reset --${clientWord} <id>\` clears it properly`,
      }), acc);
      return;
    }
    if (!moduleIsOn(a.module)) {
      cv.unprotected++;
      return;
    }
    const challenged = clientKind === 'user' ? isEnabled(s, a.module, 'clients') : clientOn;
    if (!challenged) {
      cv.unprotected++;
      c.account('clients-second-factor-skipped', () => ({
        severity: 'warning',
        title: `${clientWord}s enrolled, but WHMCS skips their second factor`,
        why: clientKind === 'user'
          ? 'WHMCS 8 challenges a user only when their own module is enabled for clients: these log in with a password alone'
          : 'WHMCS 7 challenges clients only while some module is enabled for clients: these log in with a password alone',
        fix: '`whmcs-2fa activate <module> --clients`, or reset them so they can enrol again',
      }), acc);
      return;
    }
    // An empty data column on TOTP: nothing to check a code against (AES of an empty config is
    // read as empty too, but only an admin's is decrypted here: the listing keeps no secret).
    const noSecret = a.module === 'totp' && a.configFormat === 'empty';
    if (a.flags.includes('undecryptable') || a.flags.includes('unreadable') || noSecret) {
      cv.broken++;
      const what = a.flags.includes('undecryptable') ? 'does not decrypt with this cc_encryption_hash' : a.flags.includes('unreadable') ? 'is neither AES, JSON nor PHP-serialized' : 'is empty';
      c.account('client-config-unusable', () => ({
        severity: 'warning',
        title: `${clientWord}s whose second-factor data cannot work`,
        why: 'WHMCS reads such data as an empty config: there is no secret or backup code, so they cannot complete the login',
        fix: `check cc_encryption_hash first; then \`whmcs-2fa reset --${clientWord} <id>\` so they can enrol again`,
      }), { ...acc, module: `${a.module} (${what})` });
      return;
    }
    if (serviceBroken(a.module) || gone(a.module)) {
      cv.broken++;
      return;
    }
    if (a.flags.includes('needs-cc-hash')) cv.unchecked++;
    cv.protected++;
    if (a.backupCode === false) {
      c.account('client-no-backup-code', () => ({
        severity: 'info',
        title: `${clientWord}s without a backup code`,
        why: 'a lost device then needs an admin to turn their second factor off',
        fix: `\`whmcs-2fa backup-code --${clientWord} <id>\``,
      }), acc);
    }
  });

  // --- modules: enabled flags, and services in use that cannot work ---
  const inUse = (m: string) => isEnabled(s, m, 'admins') || isEnabled(s, m, 'clients') || (counts.admins.get(m) ?? 0) > 0 || (counts.clients.get(m) ?? 0) > 0;
  const usage = (m: string) => {
    const bits: string[] = [];
    if (isEnabled(s, m, 'admins')) bits.push('enabled for admins');
    if (isEnabled(s, m, 'clients')) bits.push('enabled for clients');
    const na = counts.admins.get(m) ?? 0;
    const nc = counts.clients.get(m) ?? 0;
    if (na) bits.push(plural(na, 'admin') + ' enrolled');
    if (nc) bits.push(plural(nc, clientWord) + ' enrolled');
    return bits.join(', ');
  };
  if (inUse('duosecurity')) {
    if (duoNeedsUniversalPrompt(install)) {
      c.add('duo-iframe-era', 'critical', `Duo Security is in use on WHMCS ${install.version}, whose iframe prompt stopped working on 2024-03-30 (${usage('duosecurity')})`,
        'WHMCS before 8.9 uses Duo\'s retired Web SDK v2 iframe: the challenge cannot complete',
        'upgrade WHMCS to 8.9+ (Universal Prompt, with a Duo "Web SDK" application\'s Client ID and Secret), or `whmcs-2fa deactivate duo` and move the accounts to Time-Based Tokens');
    }
    const keyProblems = duo.broken.filter((p) => !p.startsWith('WHMCS '));
    if (keyProblems.length) {
      c.add('duo-keys-invalid', 'critical', `Duo Security is in use (${usage('duosecurity')}) but cannot work: ${keyProblems.join('; ')}`,
        'the Duo Universal client refuses to start with such keys ("Duo Security configuration error"), so every Duo login fails',
        're-enter the keys from the Duo Admin Panel: `whmcs-2fa activate duo --client-id … --client-secret - --api-hostname … --check`');
    }
  }
  if (inUse('yubico') && yubico.broken.length) {
    c.add('yubico-no-credentials', 'critical', `YubiKey is in use (${usage('yubico')}) but ${yubico.broken.join(' and ')}`,
      'WHMCS validates every YubiKey OTP against Yubico\'s API with these credentials: without them no YubiKey login can succeed',
      'get an API key at https://upgrade.yubico.com/getapikey/ and `whmcs-2fa activate yubikey --client-id … --secret-key - --check-otp`');
  }
  const goneFinding = c.findings.get('module-gone');
  if (goneFinding) {
    const names = [...new Set(goneFinding.accounts.map((a) => a.module))];
    goneFinding.title = `${plural(goneFinding.count, 'account')} on ${names.map((m) => `"${m}"`).join(', ')}, a module with no settings that WHMCS does not ship`;
  }

  // --- enforcement ---
  if (s && !adminOn && !clientOn) {
    c.add('no-service-enabled', 'critical', 'no security module is enabled for anyone',
      'with nothing enabled WHMCS offers no second factor and demands none: every login is a password alone',
      '`whmcs-2fa activate totp` then `whmcs-2fa enforce --admins on`');
    // The enrolled admins (if any) stay under their own finding; the general one is this.
    const f = c.findings.get('no-admin-module');
    if (f) f.title = 'no security module is enabled for admins: enrolled admins are not challenged';
  } else if (s && !adminOn && !c.findings.has('no-admin-module')) {
    c.add('no-admin-module', 'critical', 'no security module is enabled for admins',
      'admins cannot enrol, and WHMCS skips the admin second factor entirely',
      '`whmcs-2fa activate totp --admins`, then `whmcs-2fa enforce --admins on`');
  } else if (s && !clientOn) {
    c.add('no-client-module', 'warning', 'no security module is enabled for clients',
      `${clientWord}s cannot set up a second factor at all`,
      '`whmcs-2fa activate totp --clients`');
  }
  if (s && adminOn && !force.admins) {
    c.add('admins-not-forced', av.unprotected > 0 ? 'critical' : 'warning', 'admins are not forced to enrol',
      'a new admin (or one whose second factor was reset) keeps logging in with a password alone until they choose to enrol',
      '`whmcs-2fa enforce --admins on` (refused while no active admin is enrolled: enrol one first)');
  }
  if (s && clientOn && !force.clients) {
    c.add('clients-not-forced', 'info', `${clientWord}s are not forced to enrol`,
      `${clientWord}s who never set up a second factor log in with a password alone`,
      '`whmcs-2fa enforce --clients on`');
  }

  // --- keys ---
  const key = keyFinding(await checkEncryptionKey(session), { duoFields: duo.undecryptable, undecryptableAccounts }, session);
  if (key) c.add('cc-hash-disagrees', 'critical', key.title, key.why, key.fix);
  if (!session.ccHash) {
    const aes = av.unchecked + cv.unchecked;
    c.add('cc-hash-missing', 'warning', 'cc_encryption_hash is not available: encrypted Duo keys and AES second-factor data were not checked',
      `${aes ? plural(aes, 'enrolled account') + ' with AES data counted as protected unchecked; ' : ''}a wrong or missing key is how second factors silently stop working`,
      'run with --whmcs-dir (reads configuration.php) or set WHMCS_CC_ENCRYPTION_HASH');
  }

  for (const f of c.findings.values()) concreteFix(f);
  const { findings, counts: countsBySeverity } = ordered([...c.findings.values()]);

  const moduleNames = new Set<string>([...Object.keys(modules), ...counts.admins.keys(), ...counts.clients.keys()]);
  return {
    whmcs: { version: install.version, shape: install.shape },
    database: { label: session.db.label, source: session.source },
    accounts: { admins: av, [clientKind === 'user' ? 'users' : 'clients']: cv },
    modules: [...moduleNames].map((name) => ({ name, enabled: { clients: isEnabled(s, name, 'clients'), admins: isEnabled(s, name, 'admins') } })),
    force,
    findings,
    counts: countsBySeverity,
    clock: null,
    summary: adminSummary(av, c),
  };
}

/**
 * The fix names the account (and module) when there is just one, so it can be run as printed:
 * `whmcs-2fa reset --admin jdoe` rather than `--admin <name>`.
 */
function concreteFix(f: Finding): void {
  const modules = new Set(f.accounts.map((a) => a.module.replace(/ \(.*$/, '')));
  if (modules.size === 1 && f.count === f.accounts.length) f.fix = f.fix.replaceAll('<module>', [...modules][0]!);
  if (f.count !== 1 || f.accounts.length !== 1) return;
  const a = f.accounts[0]!;
  const sel = selector(a).replace(/^--\w+ /, '');
  f.fix = f.fix.replaceAll('<name>', sel).replaceAll('<id>', String(a.id));
}

function adminSummary(av: AccountVerdicts, c: Collector): string {
  if (av.active === 0) return 'no active admins';
  if (av.unprotected === 0 && av.broken === 0) {
    return `all admins protected: ${av.protected} of ${av.active} active admin${av.active === 1 ? ' has' : 's have'} a working second factor`;
  }
  const parts: string[] = [];
  if (av.unprotected) {
    const names = ['admin-no-second-factor', 'admin-module-zero', 'no-admin-module']
      .flatMap((id) => c.findings.get(id as FindingId)?.accounts ?? [])
      .map((a) => a.name);
    parts.push(`${av.unprotected} of ${av.active} active admin${av.active === 1 ? '' : 's'} can log in with a password alone (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  if (av.broken) parts.push(`${av.broken} cannot complete their second factor`);
  return parts.join('; ');
}

/** The report without the ignored findings (counts recomputed). */
export function withoutIgnored(r: AuditReport, ignore: FindingSelector): AuditReport {
  if (ignore.kind === 'none') return r;
  return { ...r, ...ordered(r.findings.filter((f) => !selects(ignore, f))) };
}
