/**
 * `audit` read by real monitoring peers: `promtool check metrics` (Debian `prometheus`), a real
 * `prometheus-node-exporter` serving the file through its textfile collector over loopback HTTP,
 * and `--clock` against real chronyd servers (one 90 s ahead under faketime).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, MYSQL_OK, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { startChronyd, type ChronyPeer } from './helpers/ntp-peers.js';
import { insertAdmin, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const BACKUP = 'fe5567e8d769550852182cdf69d74bb16dff8e29';

/** An 8.12 install with one unprotected full administrator, one protected admin and a user. */
async function seeded(backend: 'mysql' | 'sqlite'): Promise<TestDb> {
  const t = await createTestDb(backend, '8', '8.12.1-release.1');
  await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 1, forceadmin: 1 }));
  const aes = encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash);
  await insertAdmin(t.knex, { username: 'root' });
  await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: aes });
  // A label value that needs escaping in the exposition format.
  await insertUser(t.knex, { email: 'a@x.test', second_factor: 'we"ird\\mod', second_factor_config: '' });
  return t;
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describeWithPeer(['promtool'], 'audit --format prometheus passes promtool check metrics', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await seeded('sqlite');
  });
  afterAll(() => t?.drop());

  it('no lint problems, and promtool does reject a broken exposition', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'audit', '--format', 'prometheus']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('whmcs_2fa_audit_finding_accounts{finding="module-gone"} 1\n');
    const ok = spawnSync('promtool', ['check', 'metrics'], { input: r.stdout, encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // The same check on our text with one sample's label quoting broken must fail: the check is real.
    const broken = r.stdout.replace('whmcs_2fa_audit_success 1', 'whmcs_2fa_audit_success{x="1} 1');
    expect(spawnSync('promtool', ['check', 'metrics'], { input: broken, encoding: 'utf8' }).status).not.toBe(0);
  });

  it('the failure exposition passes too', async () => {
    const r = await runCli(['--db', 'mysql://nobody@127.0.0.1:1/whmcs', 'audit', '--format', 'prometheus'], { env: { WHMCS_DB_PASSWORD: 'x' } });
    expect(r.code).toBe(5);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.stdout, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

describeWithPeer(['prometheus-node-exporter'], 'audit read back through node_exporter\'s textfile collector', () => {
  let t: TestDb;
  let exporter: ChildProcess | undefined;
  let port: number;
  let dir: string;
  let log = '';
  beforeAll(async () => {
    t = await seeded('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'whmcs2fa-textfile-'));
    port = await freeTcpPort();
    exporter = spawn(
      'prometheus-node-exporter',
      ['--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${dir}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    exporter.stdout!.on('data', (d) => (log += d));
    exporter.stderr!.on('data', (d) => (log += d));
  });
  afterAll(async () => {
    if (exporter?.pid && exporter.exitCode === null) {
      exporter.kill('SIGTERM');
      await new Promise((r) => exporter!.once('exit', r));
    }
    await t?.drop();
  });

  async function scrape(): Promise<string> {
    // The exporter answers once it listens; until then the connection is refused.
    for (let i = 0; ; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        return await res.text();
      } catch (e) {
        if (exporter?.exitCode !== null || i > 200) throw new Error(`node_exporter does not answer: ${String(e)}\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  it('serves every family with its samples, no scrape error', async () => {
    // The recipe in the README: write aside, then rename, so a scrape never sees half a file.
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'audit', '--format', 'prometheus']);
    expect(r.code).toBe(0);
    writeFileSync(join(dir, 'whmcs_2fa.prom.tmp'), r.stdout);
    renameSync(join(dir, 'whmcs_2fa.prom.tmp'), join(dir, 'whmcs_2fa.prom'));
    const text = await scrape();
    expect(text).toMatch(/^node_textfile_scrape_error 0$/m);
    expect(text).toMatch(/^whmcs_2fa_audit_success 1$/m);
    expect(text).toMatch(/^whmcs_2fa_audit_status 2$/m);
    expect(text).toMatch(/^whmcs_2fa_accounts\{kind="admin",state="unprotected"\} 1$/m);
    expect(text).toMatch(/^whmcs_2fa_accounts\{kind="admin",state="protected"\} 1$/m);
    expect(text).toMatch(/^whmcs_2fa_audit_finding_accounts\{finding="admin-no-second-factor"\} 1$/m);
    expect(text).toMatch(/^whmcs_2fa_audit_findings\{severity="critical"\} 1$/m);
    expect(text).toMatch(/^# HELP whmcs_2fa_accounts Accounts by kind and login state/m);
    expect(text).toMatch(/^# TYPE whmcs_2fa_accounts gauge$/m);
    expect(text).toMatch(/^whmcs_2fa_whmcs_info\{shape="8",version="8\.12\.1-release\.1"\} 1$/m);
    // Every family the file holds is served, none lost to a parse problem.
    const families = new Set([...r.stdout.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const f of families) expect(text, f).toMatch(new RegExp(`^# TYPE ${f} gauge$`, 'm'));
  });
});

const clockBackend = MYSQL_OK ? 'mysql' : 'sqlite';

describeWithPeer(['chronyd', 'faketime'], `audit --clock against real chronyd [${clockBackend}]`, () => {
  let t: TestDb;
  let accurate: ChronyPeer;
  let ahead: ChronyPeer;
  beforeAll(async () => {
    [t, accurate, ahead] = await Promise.all([seeded(clockBackend), startChronyd(), startChronyd({ faketime: '+90s' })]);
  });
  afterAll(async () => {
    await Promise.all([accurate?.stop(), ahead?.stop(), t?.drop()]);
  });

  it('an accurate clock adds no finding; its offset is in every machine format', async () => {
    const base = ['--whmcs-dir', t.whmcsDir, 'audit', '--clock', '--server', `127.0.0.1:${accurate.port}`, '--clock-timeout', '5'];
    const j = await runCli([...base, '--format', 'json']);
    expect(j.code).toBe(1); // the unprotected admin
    expect(j.json.clock).toMatchObject({ status: 0, statusName: 'OK' });
    expect(Math.abs(j.json.clock.offset)).toBeLessThan(0.5);
    if (clockBackend === 'mysql') expect(Math.abs(j.json.clock.databaseOffset)).toBeLessThan(0.5);
    expect(j.json.findings.map((f: any) => f.id)).not.toContain('clock-totp');
    const n = await runCli([...base, '--format', 'nagios', '-w', '3', '-c', '9']);
    // Perfdata numbers are plain decimals (no exponent), e.g. 0, -0.000012 or 0.25.
    expect(n.stdout.split('\n')[0]).toMatch(/ clock_offset=-?\d+(\.\d+)?s;3;9( db_clock_offset=-?\d+(\.\d+)?s;3;9)?$/);
    const p = await runCli([...base, '--format', 'prometheus']);
    expect(p.stdout).toMatch(/^whmcs_2fa_clock_status 0$/m);
    // The exposition format takes Go float syntax: a tiny offset may print as 1.5e-7.
    expect(p.stdout).toMatch(/^whmcs_2fa_clock_offset_seconds -?\d+(\.\d+)?(e-?\d+)?$/m);
    expect(p.stdout).toMatch(/^whmcs_2fa_audit_finding_accounts\{finding="clock-totp"\} 0$/m);
  });

  it('a clock 90 s off is a critical clock-totp finding', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'audit', '--clock', '--server', `127.0.0.1:${ahead.port}`, '--format', 'json', '--ignore', 'admin-no-second-factor,admins-not-forced']);
    expect(r.code).toBe(1);
    const f = r.json.findings.find((x: any) => x.id === 'clock-totp');
    expect(f).toMatchObject({ severity: 'critical' });
    expect(f.title).toMatch(/^clock CRITICAL: local clock (89\.9|90\.0)\d\d s behind NTP time/);
    expect(Math.abs(r.json.clock.offset - 90)).toBeLessThan(0.05);
    const only = await runCli(['--whmcs-dir', t.whmcsDir, 'audit', '--clock', '--server', `127.0.0.1:${ahead.port}`, '--format', 'nagios', '--fail-on', 'clock-totp', '--warn-on', 'none']);
    expect(only.code).toBe(2);
    expect(only.stdout).toMatch(/\n\[CRITICAL\] clock-totp: clock CRITICAL: /);
  });
});

describe('peers are declared for CI', () => {
  it('.ci/run installs promtool, node_exporter and chronyd', async () => {
    const { readFileSync } = await import('node:fs');
    const run = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
    expect(run).toContain('[promtool]=prometheus');
    expect(run).toContain('[prometheus-node-exporter]=prometheus-node-exporter');
    expect(run).toContain('[chronyd]=chrony');
  });
});
