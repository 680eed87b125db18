/**
 * `enroll` as an operator uses it: in a real terminal (tmux), reading the QR code off the screen,
 * typing codes an authenticator (oathtool) computes from what the screen shows.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { BIN, TEST_STATE_HOME, runCli } from './helpers/cli.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { describeWithPeer } from './helpers/peers.js';
import { zbarDecode } from './helpers/qr-image.js';
import { renderTerminalQr } from './helpers/terminal-image.js';
import { TmuxTerminal } from './helpers/tmux.js';
import { insertAdmin } from '../src/whmcs/schema/seed.js';
import { decodeAccountConfig } from '../src/whmcs/accounts/account-config.js';

const now = () => Math.floor(Date.now() / 1000);

describeWithPeer(['tmux', 'oathtool', 'zbarimg'], 'enroll in a terminal', () => {
  describeBackends('enroll in a terminal', (backend) => suite(backend));
});

function suite(backend: Backend) {
  let t: TestDb;
  let term: TmuxTerminal | undefined;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
  });
  afterAll(() => t?.drop());
  afterEach(() => {
    term?.kill();
    term = undefined;
  });

  const start = (args: string[]) =>
    (term = TmuxTerminal.start([process.execPath, BIN, '--whmcs-dir', t.whmcsDir, ...args], {
      env: { XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', WHMCS_DB_URL: undefined },
    }));
  const admin = (username: string) => t.knex('tbladmins').where({ username }).first();

  /**
   * What the screen offers: the URI in text, the URI in the QR code, and the secret. The QR code is
   * read off the screen as a dark-theme and as a light-theme terminal draws it: both must scan.
   */
  function readEnrolmentScreen(screen: string) {
    const uri = /otpauth:\/\/\S+/.exec(screen)?.[0];
    const secret = /Secret\s+([A-Z2-7]{16})\s/.exec(screen)?.[1];
    const coloured = term!.captureWithColours();
    const scanned = zbarDecode(renderTerminalQr(coloured, 'dark'), 'ppm');
    expect(zbarDecode(renderTerminalQr(coloured, 'light'), 'ppm')).toEqual(scanned);
    return { uri, secret, scanned };
  }

  it('shows a QR code that scans to the URI, takes a wrong then a right code, enrols; verify accepts the next code', async () => {
    await insertAdmin(t.knex, { username: 'ops', email: 'ops@example.com' });
    const term = start(['enroll', '--admin', 'ops']);
    const screen = await term.waitFor(/Code from the app:/);
    const { uri, secret, scanned } = readEnrolmentScreen(screen);
    expect(secret).toBeDefined();
    expect(uri).toBe(`otpauth://totp/billing.example.com:ops?secret=${secret}&issuer=billing.example.com`);
    expect(scanned).toEqual([uri]);

    // A wrong code (from 9 steps ago; 10 if the step turns meanwhile) is explained and asked again.
    term.type(oathtoolTotp(secret!, now() - 270)[0]!);
    const retry = await term.waitFor(/try 2 of 3/);
    expect(retry).toMatch(/did not match what was expected: this code was valid (270 s|5 min) ago/);
    expect((await admin('ops')).authmodule).toBe('');

    const code = oathtoolTotp(secret!, now())[0]!;
    term.type(code);
    expect(await term.exitCode()).toBe(0);
    const done = term.capture();
    expect(done).toMatch(/Enrolled admin "ops" in Time-Based Tokens/);
    expect(done).toMatch(/Backup code\s+[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/);
    expect(done).not.toMatch(/Apply this change\?|\(y\/N\)/);

    const row = await admin('ops');
    expect(row.authmodule).toBe('totp');
    expect(decodeAccountConfig(row.authdata, t.ccHash)).toMatchObject({ format: 'aes', config: { secret } });

    // The activation code is spent (WHMCS records it too); the next step's code is accepted.
    const used = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--admin', 'ops', code, '--format', 'json']);
    expect(used.json).toMatchObject({ replayed: true, accepted: false });
    const at = now() + 30;
    const next = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--admin', 'ops', oathtoolTotp(secret!, at)[0]!, '--at', String(at), '--format', 'json']);
    expect(next.code).toBe(0);
    expect(next.json).toMatchObject({ accepted: true, matchedStep: 0, replayed: false });
  });

  it('three wrong codes: exit 1 with the time-step analysis, nothing written', async () => {
    await insertAdmin(t.knex, { username: 'slow', email: 'slow@example.com' });
    const term = start(['enroll', '--admin', 'slow']);
    const { secret } = readEnrolmentScreen(await term.waitFor(/Code from the app:/));
    for (let i = 1; i <= 3; i++) {
      term.type(oathtoolTotp(secret!, now() - 90)[0]!);
      if (i < 3) await term.waitFor(new RegExp(`try ${i + 1} of 3`));
    }
    expect(await term.exitCode()).toBe(1);
    expect(term.capture()).toMatch(/3 wrong codes — nothing was written\. The code you entered did not match what was expected: this code was valid (90 s|2 min) ago — the device clock is about (90 s|2 min) slow/);
    expect(await admin('slow')).toMatchObject({ authmodule: '', authdata: '' });
    expect(await t.knex('tblactivitylog').where('description', 'like', '%slow%').first()).toBeUndefined();
  });

  it('Ctrl-C at the prompt: interrupted, exit 130, nothing written', async () => {
    await insertAdmin(t.knex, { username: 'quitter' });
    const term = start(['enroll', '--admin', 'quitter']);
    await term.waitFor(/Code from the app:/);
    term.key('C-c');
    expect(await term.exitCode()).toBe(130);
    expect(term.capture()).toMatch(/Error: interrupted \(Ctrl-C\) — nothing was written/);
    expect((await admin('quitter')).authmodule).toBe('');
  });

  it('Ctrl-D at the prompt: cancelled, exit 8, nothing written (the prompt does not wait on)', async () => {
    await insertAdmin(t.knex, { username: 'eof' });
    const term = start(['enroll', '--admin', 'eof']);
    await term.waitFor(/Code from the app:/);
    term.key('C-d');
    expect(await term.exitCode()).toBe(8);
    expect(term.capture()).toMatch(/Error: cancelled: end of input \(Ctrl-D\) at the prompt — nothing was written/);
    expect((await admin('eof')).authmodule).toBe('');
  });

  it('--format json on a terminal: the QR code goes to stderr and scans to the otpauthUri in the JSON', async () => {
    await insertAdmin(t.knex, { username: 'json' });
    const term = start(['enroll', '--admin', 'json', '--format', 'json']);
    const { secret, scanned } = readEnrolmentScreen(await term.waitFor(/Code from the app:/));
    term.type(oathtoolTotp(secret!, now())[0]!);
    expect(await term.exitCode()).toBe(0);
    const lines = term.capture().split('\n').map((l) => l.replace(/\s+$/, ''));
    const from = lines.lastIndexOf('{');
    const to = lines.indexOf('}', from);
    const json = JSON.parse(lines.slice(from, to + 1).join('\n'));
    expect(json).toMatchObject({ enrolled: true, secret, otpauthUri: scanned[0] });
    expect(json.backupCode).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
  });
}
