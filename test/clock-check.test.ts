/**
 * `whmcs-2fa clock-check` through the built CLI, against private chronyd servers on loopback (always
 * -x: this machine's clock is never touched), some of them shifted with faketime.
 * Offsets use the NTP sign: a server 90 s ahead of this host measures +90 (this host is behind).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, type CliResult } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { freeUdpPort, startChronyd, type ChronyPeer } from './helpers/ntp-peers.js';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { tempDir } from './helpers/tmp.js';

/** A directory with no configuration.php in it, and no WHMCS in the environment. */
const noWhmcs = { cwd: tempDir('whmcs2fa-clock-'), env: { WHMCS_DIR: undefined, WHMCS_DB_URL: undefined } };

const check = (args: string[], format = 'json'): Promise<CliResult> =>
  runCli(['clock-check', '--timeout', '3', '--format', format, ...args], noWhmcs);

const NAGIOS_OK = /^CLOCK OK - offset [+-]\d+\.\d{3} s, TOTP margin .* \| offset=/;

describeWithPeer(['chronyd', 'faketime'], 'clock-check CLI', () => {
  let accurate: ChronyPeer;
  let ahead90: ChronyPeer;
  let ahead10: ChronyPeer;
  let accurateSpec: string;
  let ahead90Spec: string;
  let ahead10Spec: string;
  beforeAll(async () => {
    [accurate, ahead90, ahead10] = await Promise.all([
      startChronyd(),
      startChronyd({ faketime: '+90s' }),
      startChronyd({ faketime: '+10s' }),
    ]);
    accurateSpec = `127.0.0.1:${accurate.port}`;
    ahead90Spec = `127.0.0.1:${ahead90.port}`;
    ahead10Spec = `127.0.0.1:${ahead10.port}`;
  });
  afterAll(async () => {
    await Promise.all([accurate?.stop(), ahead90?.stop(), ahead10?.stop()]);
  });

  it('an accurate server: exit 0, offset ≈ 0, one nagios status line with perfdata, a human table', async () => {
    const [json, nagios, table] = await Promise.all([
      check(['--server', accurateSpec]),
      check(['--server', accurateSpec], 'nagios'),
      check(['--server', accurateSpec], 'table'),
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(Math.abs(json.json.offset)).toBeLessThan(0.05);
    expect(json.json).toMatchObject({ status: 0, statusName: 'OK', validServers: 1, disagree: false, database: null });
    expect(json.json.servers).toHaveLength(1);
    expect(json.json.servers[0]).toMatchObject({ host: '127.0.0.1', port: accurate.port, address: '127.0.0.1', stratum: 10, leap: 0, error: null });
    expect(json.json.servers[0].delay).toBeLessThan(0.05);
    expect(json.json.totpMarginSeconds).toBeGreaterThan(29.9);
    expect(json.json.totpVerdict.level).toBe('ok');
    expect(json.json.duoVerdict.level).toBe('ok');
    expect(json.json.thresholds).toEqual({ warning: 5, critical: 15 });

    expect(nagios.code).toBe(0);
    const [head] = nagios.stdout.split('\n');
    expect(head).toMatch(NAGIOS_OK);
    expect(head).toMatch(/\| offset=-?\d+(\.\d+)?s;5;15 delay=\d+(\.\d+)?s servers=1;;;0;1$/);

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/NTP servers\n\s+Host\s+Address\s+Stratum\s+Offset \(s\)\s+Delay \(s\)\s+Status/);
    expect(table.stdout).toContain(`127.0.0.1:${accurate.port}`);
    expect(table.stdout).toMatch(/TOTP\s+codes keep working/);
    expect(table.stdout).toMatch(/Database clock\s+not checked: no WHMCS configured/);
    expect(table.stdout).toMatch(/^CLOCK OK - /m);
  });

  it('a server 90 s ahead: CRITICAL (exit 2), offset +90 s, TOTP codes always fail, Duo at risk', async () => {
    const [r, n] = await Promise.all([check(['--server', ahead90Spec]), check(['--server', ahead90Spec], 'nagios')]);
    expect(r.code, r.stderr).toBe(2);
    expect(Math.abs(r.json.offset - 90)).toBeLessThan(0.05);
    expect(r.json.statusName).toBe('CRITICAL');
    expect(r.json.totpVerdict).toMatchObject({ level: 'fails', failingShare: 1 });
    expect(r.json.totpVerdict.words).toMatch(/codes always fail/);
    expect(r.json.totpMarginSeconds).toBeCloseTo(-60, 1);
    expect(r.json.duoVerdict.level).toBe('at-risk');
    expect(n.code).toBe(2);
    expect(n.stdout).toMatch(/^CLOCK CRITICAL - offset \+(89\.9|90\.0)\d\d s, TOTP margin -60\.[01] s \(codes always fail\)/);
  });

  it('codes that always fail are CRITICAL even when -c is higher, and a note says why', async () => {
    const r = await check(['--server', ahead90Spec, '-w', '100', '-c', '120']);
    expect(r.code).toBe(2);
    expect(r.json.thresholds).toEqual({ warning: 100, critical: 120 });
    expect(r.json.notes).toContainEqual(expect.stringMatching(/^CRITICAL although the critical threshold is 120 s: at (89\.9|90\.0) s off, every TOTP code fails/));
  });

  it('10 s ahead: WARNING (exit 1) with the defaults, OK with -w 20 -c 30', async () => {
    const [defaults, relaxed] = await Promise.all([
      check(['--server', ahead10Spec]),
      check(['--server', ahead10Spec, '-w', '20', '-c', '30'], 'nagios'),
    ]);
    expect(defaults.code).toBe(1);
    expect(defaults.json.statusName).toBe('WARNING');
    expect(Math.abs(defaults.json.offset - 10)).toBeLessThan(0.05);
    expect(defaults.json.totpVerdict.level).toBe('ok');
    expect(defaults.json.totpMarginSeconds).toBeCloseTo(20, 1);
    expect(relaxed.code).toBe(0);
    expect(relaxed.stdout).toMatch(NAGIOS_OK);
    expect(relaxed.stdout).toMatch(/TOTP margin (19\.9|20\.0) s \| offset=(9\.9\d*|10(\.\d+)?)s;20;30 /);
  });

  it('no server answering is CRITICAL (exit 2), UNKNOWN (exit 3) with --unknown-if-unreachable, and says why', async () => {
    const closed = `127.0.0.1:${await freeUdpPort()}`;
    const [critical, unknown, nagios] = await Promise.all([
      check(['--server', closed]),
      check(['--server', closed, '--unknown-if-unreachable']),
      check(['--server', closed], 'nagios'),
    ]);
    expect(critical.code).toBe(2);
    expect(critical.json).toMatchObject({ statusName: 'CRITICAL', offset: null, validServers: 0, totpVerdict: null });
    expect(critical.json.servers[0].error).toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
    expect(critical.json.servers[0].error.message).toMatch(/refused UDP port \d+ .*no NTP server listens there/);
    expect(unknown.code).toBe(3);
    expect(unknown.json.statusName).toBe('UNKNOWN');
    expect(nagios.stdout).toMatch(/^CLOCK CRITICAL - no NTP server gave usable time \(127\.0\.0\.1: network\) \| offset=U;5;15/);
  });

  it('an accurate and a shifted server: both answer, and the disagreement is reported', async () => {
    const [r, n] = await Promise.all([
      check(['--server', accurateSpec, '--server', ahead90Spec]),
      check(['--server', `${accurateSpec},${ahead90Spec}`], 'nagios'),
    ]);
    expect(r.json.validServers).toBe(2);
    expect(r.json.disagree).toBe(true);
    expect(r.json.spread).toBeGreaterThan(89.9);
    expect(r.json.notes).toContainEqual(expect.stringMatching(/^servers disagree by (89\.9|90\.0)\d\d s/));
    expect(r.json.summary).toMatch(/servers disagree by (89\.9|90\.0) s/);
    expect(n.stdout.split('\n')[0]).toMatch(/servers disagree by (89\.9|90\.0) s \| .*servers=2;;;0;2$/);
  });

  describeBackends('with a configured WHMCS database', (backend) => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8');
    });
    afterAll(async () => {
      await t?.drop();
    });

    it(backend === 'mysql' ? 'also checks the database server clock against NTP' : 'SQLite has no server clock: skipped, not an error', async () => {
      const r = await check(['--whmcs-dir', t.whmcsDir, '--server', accurateSpec]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json.database.source).toBe(join(t.whmcsDir, 'configuration.php'));
      if (backend === 'mysql') {
        expect(r.json.database).toMatchObject({ dialect: 'mysql', reference: 'ntp', error: null, skipped: null });
        // The database runs on this machine: its clock is this host's clock.
        expect(Math.abs(r.json.database.offset)).toBeLessThan(0.05);
        expect(r.json.database.roundTrip).toBeLessThan(0.05);
        const n = await check(['--whmcs-dir', t.whmcsDir, '--server', accurateSpec], 'nagios');
        expect(n.stdout).toMatch(/database offset [+-]0\.0\d\d s \| .* db_offset=-?\d+(\.\d+)?s;5;15/);
      } else {
        expect(r.json.database).toMatchObject({ dialect: 'sqlite', offset: null, error: null });
        expect(r.json.database.skipped).toMatch(/SQLite has no server clock/);
      }
    });
  }, ['mysql', 'sqlite']);

  it('a configured but unreachable database is reported and makes the result UNKNOWN; --no-db skips it', async () => {
    const dead = `mysql://root@127.0.0.1:${await freeUdpPort()}/whmcs`;
    const [r, skipped] = await Promise.all([
      check(['--db', dead, '--server', accurateSpec]),
      check(['--db', dead, '--no-db', '--server', accurateSpec]),
    ]);
    expect(r.code).toBe(3);
    expect(r.json.statusName).toBe('UNKNOWN');
    expect(r.json.database).toMatchObject({ source: '--db', dialect: 'mysql', offset: null });
    expect(r.json.database.error).toMatch(/connection refused/);
    expect(Math.abs(r.json.offset)).toBeLessThan(0.05);
    expect(skipped.code).toBe(0);
    expect(skipped.json.database).toBeNull();
  });

  it('usage errors exit 3 (UNKNOWN), never 1 or 2, with an Error line', async () => {
    const [badW, inverted, badServer, unknownOption, nagios] = await Promise.all([
      check(['-w', 'five', '--server', accurateSpec]),
      check(['-w', '20', '-c', '10', '--server', accurateSpec]),
      check(['--server', '[::1']),
      check(['--frobnicate']),
      check(['-w', '-3', '--server', accurateSpec], 'nagios'),
    ]);
    expect(badW.code).toBe(3);
    expect(badW.stderr).toMatch(/^Error: --warning must be a number of seconds/m);
    expect(badW.json.error).toMatchObject({ exitCode: 3 });
    expect(inverted.code).toBe(3);
    expect(inverted.stderr).toMatch(/^Error: warning \(20 s\) must not exceed critical \(10 s\)/m);
    expect(badServer.code).toBe(3);
    expect(badServer.stderr).toMatch(/^Error: invalid NTP server "\[::1"/m);
    expect(unknownOption.code).toBe(3);
    expect(unknownOption.stderr).toMatch(/^Error: unknown option '--frobnicate'/m);
    expect(nagios.code).toBe(3);
    expect(nagios.stdout).toMatch(/^CLOCK UNKNOWN - --warning must be a number of seconds/);
    expect(nagios.stderr).toMatch(/^Error: /m);
  });
});
