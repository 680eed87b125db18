/** `--fail-on`, `--warn-on` and `--ignore` of `audit`: which findings count, and the resulting status. */
import { FINDING_IDS, SEVERITIES, severityRank, type FindingId, type Severity } from './audit-ids.js';
import type { Finding } from './audit.js';

/** Which findings an option selects: a minimum severity, a list of finding ids, or none. */
export type FindingSelector = { kind: 'severity'; min: Severity } | { kind: 'ids'; ids: Set<FindingId> } | { kind: 'none' };

/**
 * `--fail-on` / `--warn-on` / `--ignore` as typed: `critical`, `warning`, `info`, `none`, or a
 * comma-separated list of finding ids. Returns a message instead of throwing (the caller owns the
 * error type and exit code).
 */
export function parseFindingSelector(text: string): FindingSelector | string {
  const s = text.trim().toLowerCase();
  if (s === 'none') return { kind: 'none' };
  if ((SEVERITIES as string[]).includes(s)) return { kind: 'severity', min: s as Severity };
  const ids = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const unknown = ids.filter((x) => !(FINDING_IDS as readonly string[]).includes(x));
  if (ids.length === 0 || unknown.length) {
    return `${unknown.length ? `unknown finding "${unknown[0]}"` : 'no finding named'} — use critical, warning, info, none, or finding ids separated by commas (${FINDING_IDS.join(', ')})`;
  }
  return { kind: 'ids', ids: new Set(ids as FindingId[]) };
}

export function selects(sel: FindingSelector, f: Finding): boolean {
  if (sel.kind === 'none') return false;
  if (sel.kind === 'ids') return sel.ids.has(f.id);
  return severityRank(f.severity) >= severityRank(sel.min);
}

/** Monitoring status: 2 when a finding counts for --fail-on, else 1 when one counts for --warn-on, else 0. */
export function auditStatus(findings: Finding[], failOn: FindingSelector, warnOn: FindingSelector): 0 | 1 | 2 {
  if (findings.some((f) => selects(failOn, f))) return 2;
  if (findings.some((f) => selects(warnOn, f))) return 1;
  return 0;
}

