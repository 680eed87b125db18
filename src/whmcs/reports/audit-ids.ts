/**
 * The stable ids of `audit`'s checks (JSON, csv, --fail-on/--warn-on/--ignore, Prometheus labels).
 * Their own module, without imports, so shell completion can offer them without loading the audit.
 */
/** Every check `audit` can report, in the order findings of one severity are listed. */
export const FINDING_IDS = [
  'settings-missing',
  'settings-unreadable',
  'no-service-enabled',
  'no-admin-module',
  'admin-no-second-factor',
  'admin-module-zero',
  'admin-config-unusable',
  'admin-service-broken',
  'cc-hash-disagrees',
  'duo-iframe-era',
  'duo-keys-invalid',
  'yubico-no-credentials',
  'clock-totp',
  'admins-not-forced',
  'admin-module-not-enabled',
  'admin-no-backup-code',
  'settings-duplicate',
  'no-client-module',
  'clients-second-factor-skipped',
  'client-config-unusable',
  'module-gone',
  'cc-hash-missing',
  'clients-not-forced',
  'client-module-zero',
  'disabled-admins-enrolled',
  'client-no-backup-code',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: Severity[] = ['critical', 'warning', 'info'];
const RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };
export const severityRank = (s: Severity): number => RANK[s];
