/**
 * A newcomer's first session, in a real terminal (tmux), on the sandbox: status → accounts →
 * backup-code → reset → undo → enroll (QR visible, code from oathtool) → verify → clock-check
 * against a loopback NTP server. Each screen is checked the way a person would read it.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { BIN, TEST_STATE_HOME } from './helpers/cli.js';
import { tempDir } from './helpers/db.js';
import { describeWithPeer } from './helpers/peers.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { zbarDecode } from './helpers/qr-image.js';
import { renderTerminalQr } from './helpers/terminal-image.js';
import { TmuxTerminal } from './helpers/tmux.js';
import { startChronyd, type ChronyPeer } from './helpers/ntp-peers.js';

const now = () => Math.floor(Date.now() / 1000);

describeWithPeer(['tmux', 'oathtool', 'zbarimg', 'chronyd'], "a newcomer's path in a real terminal", () => {
  const dir = join(tempDir(), 'sandbox');
  let term: TmuxTerminal | undefined;
  let ntp: ChronyPeer;
  beforeAll(async () => {
    ntp = await startChronyd();
  });
  afterAll(() => ntp?.stop());
  afterEach(() => {
    term?.kill();
    term = undefined;
  });

  const run = (args: string[]) =>
    (term = TmuxTerminal.start([process.execPath, BIN, ...args], {
      env: { XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', WHMCS_DB_URL: undefined, WHMCS_DIR: undefined },
    }));
  const inSandbox = (args: string[]) => run(['--whmcs-dir', dir, ...args]);
  /** Answers the confirmation prompt with yes and returns the final screen and exit status. */
  /** The screen without whitespace: a long prompt wraps at the terminal's width. */
  const flatScreen = (screen: string) => screen.replace(/\s+/g, '');

  async function confirmAndFinish(t: TmuxTerminal): Promise<{ code: number; screen: string }> {
    await t.waitFor(/\(y\/N\)/);
    t.type('y');
    const code = await t.exitCode(30_000);
    return { code, screen: t.capture() };
  }

  it('walks the whole path', async () => {
    let t = run(['sandbox', dir]);
    expect(await t.exitCode(30_000)).toBe(0);
    expect(t.capture()).toMatch(/Sandbox created in/);
    t.kill();

    t = inSandbox(['status']);
    expect(await t.exitCode()).toBe(0);
    let s = t.capture();
    expect(s).toMatch(/Time-Based Tokens \(totp\)\s+enabled\s+enabled/);
    expect(s).toMatch(/Client Secret\s+••••/);
    expect(s).toMatch(/Warning: .*module '0'/);
    t.kill();

    t = inSandbox(['accounts']);
    expect(await t.exitCode()).toBe(0);
    s = t.capture();
    expect(s).toMatch(/jdoe/);
    expect(s).toMatch(/alice@example\.net/);
    t.kill();

    t = inSandbox(['backup-code', '--admin', 'jdoe']);
    let r = await confirmAndFinish(t);
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/\b[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}\b/);
    t.kill();

    t = inSandbox(['reset', '--admin', 'jdoe', '--reason', 'lost phone']);
    r = await confirmAndFinish(t);
    expect(r.code).toBe(0);
    t.kill();

    t = inSandbox(['accounts', '--admins', '--format', 'json']);
    expect(await t.exitCode()).toBe(0);
    expect(t.capture()).toMatch(/"username": "jdoe"[\s\S]*?"module": ""/);
    t.kill();

    t = inSandbox(['undo']);
    // The prompt names the entry: id, command and summary, time and operator.
    const prompt = flatScreen(await t.waitFor(/\(y\/N\)/));
    expect(prompt).toMatch(/Undo\d{8}T\d{6}Z-[0-9a-f]{6}—reset:resetthesecondfactorofadmin'jdoe'\(#\d+\)\(made\d{4}-\d\d-\d\d\d\d:\d\d:\d\dUTCby\w+\)\?/);
    r = await confirmAndFinish(t);
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/Restored/);
    t.kill();

    t = inSandbox(['enroll', '--admin', 'support']);
    s = await t.waitFor(/Code from the app:/);
    const secret = /Secret\s+([A-Z2-7]{16})\s/.exec(s)?.[1];
    const uri = /otpauth:\/\/\S+/.exec(s)?.[0];
    expect(secret).toBeDefined();
    for (const theme of ['dark', 'light'] as const) expect(zbarDecode(renderTerminalQr(t.captureWithColours(), theme), 'ppm')).toEqual([uri]);
    t.type(oathtoolTotp(secret!, now())[0]!);
    expect(await t.exitCode()).toBe(0);
    expect(t.capture()).toMatch(/Enrolled admin "support"/);
    t.kill();

    const at = now() + 30;
    t = inSandbox(['verify', '--admin', 'support', oathtoolTotp(secret!, at)[0]!, '--at', String(at)]);
    expect(await t.exitCode()).toBe(0);
    expect(t.capture()).toMatch(/accept/i);
    t.kill();

    t = inSandbox(['clock-check', '--server', `127.0.0.1:${ntp.port}`]);
    expect(await t.exitCode(20_000)).toBe(0);
    expect(t.capture()).toMatch(/CLOCK OK/);
  }, 180_000);
});
