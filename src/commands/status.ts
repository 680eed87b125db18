import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';
import type { StatusReport } from '../whmcs/reports/status.js';

export function register(program: Command): void {
  program
    .command('status')
    .description('WHMCS version, security modules, enforcement, enrolment counts and warnings')
    .action(
      action(async (ctx) => {
        // The report's code loads while the connection is being set up.
        const [session, { collectStatus }] = await Promise.all([ctx.session(), import('../whmcs/reports/status.js')]);
        const report = await collectStatus(session, { showSecrets: ctx.showSecrets });
        return { json: report, blocks: statusBlocks(report), warnings: report.warnings };
      }),
    );
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function statusBlocks(r: StatusReport): Block[] {
  const clientKey = r.whmcs.shape === '8' ? 'users' : 'clients';
  const cs = r.accounts[clientKey]!;
  const blocks: Block[] = [
    {
      kind: 'pairs',
      title: 'WHMCS',
      pairs: [
        ['Version', `${r.whmcs.version ?? 'unknown'} (${r.whmcs.shape === '8' ? 'users in tblusers' : 'clients in tblclients'})`],
        ['Database', `${r.database.label} (from ${r.database.source})`],
        ['Per-account 2FA data', r.whmcs.accountConfigFormat === 'aes' ? 'AES-encrypted JSON' : r.whmcs.accountConfigFormat === 'json' ? 'JSON' : 'PHP-serialized'],
        [
          '2fasettings',
          (!r.settings.present ? 'missing' : r.settings.readable ? (r.settings.oddities.length ? 'readable, with oddities (see warnings)' : 'ok') : `unreadable: ${r.settings.error}`) +
            (r.settings.rows > 1 ? ` — ${r.settings.rows} rows, WHMCS reads id ${r.settings.id}` : ''),
        ],
        [
          'cc_encryption_hash',
          r.encryptionKey.verdict === 'agrees'
            ? `agrees (${r.encryptionKey.checked} encrypted value${r.encryptionKey.checked === 1 ? '' : 's'} checked${r.encryptionKey.disagreeing.length ? `, ${r.encryptionKey.disagreeing.length} not decrypting` : ''})`
            : r.encryptionKey.verdict === 'disagrees'
              ? `DISAGREES (${r.encryptionKey.disagreeing.length} of ${r.encryptionKey.checked} values do not decrypt)`
              : 'not checked (nothing encrypted to check against)',
        ],
        ['Force admins to enrol', yesNo(r.force.admins)],
        ['Force clients to enrol', yesNo(r.force.clients)],
      ],
    },
    {
      kind: 'table',
      title: 'Security modules',
      columns: ['Module', 'Clients', 'Admins', 'Enrolled admins', `Enrolled ${clientKey}`],
      rows: r.modules.map((m) => [
        m.known ? `${m.label} (${m.name})` : `${m.name} (third-party)`,
        m.enabled.clients ? 'enabled' : 'off',
        m.enabled.admins ? 'enabled' : 'off',
        String(m.enrolled.admins),
        String(m.enrolled[clientKey] ?? 0),
      ]),
    },
  ];
  for (const m of r.modules) {
    if (!m.settings.length) continue;
    blocks.push({ kind: 'pairs', title: `${m.label} settings`, pairs: m.settings.map((s) => [s.label, s.problem ? `${s.value}  (!)` : s.value]) });
  }
  blocks.push({
    kind: 'pairs',
    title: 'Accounts',
    pairs: [
      ['Admins', `${r.accounts.admins.enrolled} of ${r.accounts.admins.total} enrolled (${r.accounts.admins.activeEnrolled} active)`],
      [clientKey === 'users' ? 'Users' : 'Clients', `${cs.enrolled} of ${cs.total} enrolled`],
    ],
  });
  return blocks;
}
