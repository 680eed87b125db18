/**
 * How `audit` reports look: the table for people, csv rows, the Nagios/Icinga plugin line and the
 * Prometheus text exposition (for node_exporter's textfile collector). Pure functions of the report.
 */
import type { AccountVerdicts, AuditAccount, AuditReport, Finding, FindingId, Severity } from '../whmcs/reports/audit.js';
import type { Block } from './view.js';

export const STATUS_NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

const SEV_WORD: Record<Severity, string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO' };

function accountLabel(a: AuditAccount): string {
  if (a.kind !== 'admin') return `${a.name} (#${a.id})`;
  return a.fullAdmin ? `${a.name} (Full Administrator)` : a.name;
}

function accountList(f: Finding, max: number): string {
  if (f.count === 0 || f.accounts.length === 0) return f.count ? String(f.count) : '—';
  const shown = f.accounts.slice(0, max).map(accountLabel);
  const more = f.count - shown.length;
  return shown.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

function verdictLine(v: AccountVerdicts, word: string): string {
  const inactive = v.total - v.active;
  const bits = [`${v.protected} protected`, `${v.unprotected} password only`];
  if (v.broken) bits.push(`${v.broken} cannot complete their second factor`);
  if (v.unchecked) bits.push(`${v.unchecked} unchecked (no cc_encryption_hash)`);
  return `${v.active} active ${word}: ${bits.join(', ')}${inactive ? ` (+${inactive} disabled or closed)` : ''}`;
}

export function auditBlocks(r: AuditReport, status: 0 | 1 | 2, failOnText: string): Block[] {
  const clientKey = r.accounts.users ? 'users' : 'clients';
  const cs = r.accounts[clientKey]!;
  const tone = status === 2 ? 'bad' : status === 1 ? 'warn' : 'ok';
  const blocks: Block[] = [
    { kind: 'text', text: `${STATUS_NAMES[status]}: ${r.summary}`, tone },
    {
      kind: 'pairs',
      title: `WHMCS ${r.whmcs.version ?? '(version unknown)'} — ${r.database.label}`,
      pairs: [
        ['Admins', verdictLine(r.accounts.admins, 'admins')],
        [clientKey === 'users' ? 'Users' : 'Clients', verdictLine(cs, clientKey)],
        ['Forced to enrol', `admins ${r.force.admins ? 'yes' : 'no'}, ${clientKey} ${r.force.clients ? 'yes' : 'no'}`],
        ...(r.clock ? ([['Clock', `${r.clock.statusName}: ${r.clock.summary}`]] as Array<[string, string]>) : []),
      ],
    },
  ];
  if (r.findings.length === 0) {
    blocks.push({ kind: 'text', text: 'No findings.', tone: 'ok' });
    return blocks;
  }
  blocks.push({
    kind: 'table',
    title: `Findings, worst first (${r.counts.critical} critical, ${r.counts.warning} warning, ${r.counts.info} info)`,
    columns: ['Severity', 'Finding', 'Accounts', 'What'],
    rows: r.findings.map((f) => [SEV_WORD[f.severity], f.id, f.count ? String(f.count) : '—', f.title]),
  });
  for (const f of r.findings) {
    const pairs: Array<[string, string]> = [];
    if (f.accounts.length) pairs.push(['Accounts', accountList(f, 10)]);
    pairs.push(['Why', f.why], ['Fix', f.fix]);
    blocks.push({ kind: 'pairs', title: `${SEV_WORD[f.severity]} ${f.id}: ${f.title}`, pairs });
  }
  blocks.push({ kind: 'text', text: status === 2 ? `Exit 1: findings count for --fail-on ${failOnText}.` : `Nothing counts for --fail-on ${failOnText}.`, tone: 'dim' });
  return blocks;
}

/** The csv columns, also printed (as the header alone) when there is no finding. */
export const AUDIT_CSV_COLUMNS = ['severity', 'finding', 'title', 'count', 'kind', 'id', 'name', 'email', 'role', 'module', 'why', 'fix'];

/** One row per finding and account (a finding about settings: one row without an account). */
export function auditCsvRows(r: AuditReport): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const f of r.findings) {
    const base = { severity: f.severity, finding: f.id, title: f.title, count: f.count };
    const tail = { why: f.why, fix: f.fix };
    if (!f.accounts.length) {
      rows.push({ ...base, kind: '', id: '', name: '', email: '', role: '', module: '', ...tail });
      continue;
    }
    for (const a of f.accounts) rows.push({ ...base, kind: a.kind, id: a.id, name: a.name, email: a.email, role: a.role ?? '', module: a.module, ...tail });
  }
  return rows;
}

// ---------------------------------------------------------------- Nagios / Icinga (plugin API v3)

function clean(text: string): string {
  return text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ');
}

function perfNumber(value: number): string {
  return String(Number(value.toFixed(6)));
}

function perfCounts(prefix: string, v: AccountVerdicts): string[] {
  const max = v.active;
  return [
    `${prefix}_total=${v.total};;;0`,
    `${prefix}_active=${v.active};;;0`,
    `${prefix}_protected=${v.protected};;;0;${max}`,
    `${prefix}_unprotected=${v.unprotected};;;0;${max}`,
    `${prefix}_broken=${v.broken};;;0;${max}`,
  ];
}

export function auditNagios(r: AuditReport, status: 0 | 1 | 2, thresholds?: { warning: number; critical: number }): string {
  const clientKey = r.accounts.users ? 'users' : 'clients';
  const text = [r.summary];
  const n = r.findings.length;
  if (n) text.push(`${r.counts.critical} critical, ${r.counts.warning} warning, ${r.counts.info} info finding${n === 1 ? '' : 's'}`);
  const perf = [
    ...perfCounts('admins', r.accounts.admins),
    ...perfCounts(clientKey, r.accounts[clientKey]!),
    `findings_critical=${r.counts.critical};;;0`,
    `findings_warning=${r.counts.warning};;;0`,
    `findings_info=${r.counts.info};;;0`,
  ];
  if (r.clock) {
    const w = thresholds ? perfNumber(thresholds.warning) : '';
    const c = thresholds ? perfNumber(thresholds.critical) : '';
    perf.push(r.clock.offset === null ? `clock_offset=U;${w};${c}` : `clock_offset=${perfNumber(r.clock.offset)}s;${w};${c}`);
    if (r.clock.databaseOffset !== null) perf.push(`db_clock_offset=${perfNumber(r.clock.databaseOffset)}s;${w};${c}`);
  }
  const head = `WHMCS-2FA ${STATUS_NAMES[status]} - ${clean(text.join('; '))} | ${perf.join(' ')}`;
  const long = r.findings.map((f) => clean(`[${SEV_WORD[f.severity]}] ${f.id}: ${f.title}${f.accounts.length ? ` — ${accountList(f, 20)}` : ''} — fix: ${f.fix}`));
  return [head, ...long].join('\n');
}

export function auditNagiosError(message: string): string {
  return `WHMCS-2FA UNKNOWN - ${clean(message)}`;
}

// ---------------------------------------------------------------- Prometheus text exposition 0.0.4

/** Label values: backslash, double quote and line feed escaped, as the exposition format requires. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function promNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

class Exposition {
  private lines: string[] = [];
  family(name: string, help: string, samples: Array<[Record<string, string>, number]>): void {
    if (!samples.length) return;
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${labelValue(x)}"`).join(',');
      this.lines.push(`${name}${l ? `{${l}}` : ''} ${promNumber(v)}`);
    }
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export const PROM_PREFIX = 'whmcs_2fa_';

/**
 * The audit as metric families with stable names and labels. Every check that ran has a sample in
 * `whmcs_2fa_audit_finding_accounts` (0 when clean), so a series never disappears when a problem
 * is fixed and alerts can say `> 0`.
 */
export function auditPrometheus(r: AuditReport, opts: { status: 0 | 1 | 2; checks: readonly FindingId[]; nowSeconds: number; durationSeconds: number }): string {
  const e = new Exposition();
  const p = PROM_PREFIX;
  e.family(`${p}audit_success`, 'Whether the last audit read the WHMCS database (1) or failed (0).', [[{}, 1]]);
  e.family(`${p}audit_timestamp_seconds`, 'Unix time at which the last audit ran.', [[{}, opts.nowSeconds]]);
  e.family(`${p}audit_duration_seconds`, 'How long the last audit took.', [[{}, Number(opts.durationSeconds.toFixed(3))]]);
  e.family(`${p}audit_status`, 'Verdict of the last audit as a monitoring status: 0 ok, 1 warning, 2 critical (see --warn-on/--fail-on).', [[{}, opts.status]]);
  e.family(`${p}whmcs_info`, 'The WHMCS install audited (value always 1).', [[{ version: r.whmcs.version ?? '', shape: r.whmcs.shape }, 1]]);
  const accounts: Array<[Record<string, string>, number]> = [];
  for (const [kind, v] of [['admin', r.accounts.admins], ['user', r.accounts.users], ['client', r.accounts.clients]] as const) {
    if (!v) continue;
    accounts.push(
      [{ kind, state: 'protected' }, v.protected],
      [{ kind, state: 'unprotected' }, v.unprotected],
      [{ kind, state: 'broken' }, v.broken],
      [{ kind, state: 'inactive' }, v.total - v.active],
    );
  }
  e.family(`${p}accounts`, 'Accounts by kind and login state: protected (a working second factor is demanded), unprotected (a password alone logs in), broken (a second factor is demanded that cannot work), inactive (disabled admins, closed clients).', accounts);
  e.family(`${p}audit_findings`, 'Findings of the last audit by severity.', (['critical', 'warning', 'info'] as const).map((s) => [{ severity: s }, r.counts[s]]));
  const byId = new Map(r.findings.map((f) => [f.id, f]));
  e.family(
    `${p}audit_finding_accounts`,
    'Per check: accounts concerned by its finding (1 for a finding about settings), 0 when the check found nothing.',
    opts.checks.map((id) => {
      const f = byId.get(id);
      return [{ finding: id }, f ? Math.max(1, f.count) : 0];
    }),
  );
  e.family(
    `${p}module_enabled`,
    'Whether a security module is enabled for an audience in the 2fasettings row (1) or not (0).',
    r.modules.flatMap((m) => [
      [{ module: m.name, audience: 'admins' }, m.enabled.admins ? 1 : 0],
      [{ module: m.name, audience: 'clients' }, m.enabled.clients ? 1 : 0],
    ] as Array<[Record<string, string>, number]>),
  );
  e.family(`${p}enrolment_forced`, 'Whether the audience is forced to enrol at next login (1) or not (0).', [
    [{ audience: 'admins' }, r.force.admins ? 1 : 0],
    [{ audience: 'clients' }, r.force.clients ? 1 : 0],
  ]);
  if (r.clock) {
    e.family(`${p}clock_status`, 'Clock check of the last audit (--clock): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.', [[{}, r.clock.status]]);
    if (r.clock.offset !== null) e.family(`${p}clock_offset_seconds`, 'Seconds to add to this host\'s clock to get NTP time (positive: the clock is behind).', [[{}, r.clock.offset]]);
    if (r.clock.databaseOffset !== null) e.family(`${p}database_clock_offset_seconds`, 'Seconds to add to the database server\'s clock to get the right time.', [[{}, r.clock.databaseOffset]]);
  }
  return e.text();
}

/** What the textfile collector should see when the audit could not run. */
export function auditPrometheusFailure(nowSeconds: number): string {
  const e = new Exposition();
  e.family(`${PROM_PREFIX}audit_success`, 'Whether the last audit read the WHMCS database (1) or failed (0).', [[{}, 0]]);
  e.family(`${PROM_PREFIX}audit_timestamp_seconds`, 'Unix time at which the last audit ran.', [[{}, nowSeconds]]);
  return e.text();
}
