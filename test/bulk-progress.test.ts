import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgressBar } from '../src/ui/progress.js';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { BIN, TEST_STATE_HOME, runCli } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { seedBulkUsers, usersChecksum } from './helpers/bulk-seed.js';

class FakeStream {
  chunks: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns = 80) {}
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

describe('progress bar', () => {
  it('draws in place on a TTY: carriage return, erase line, bar, percentage, counts, rate, ETA', () => {
    let now = 0;
    const s = new FakeStream(true, 80);
    const bar = new ProgressBar(s, 100_000, { unit: 'users', minIntervalMs: 0, now: () => now });
    now = 2000;
    bar.update(25_000);
    expect(s.chunks).toHaveLength(1);
    const line = s.chunks[0]!;
    expect(line.startsWith('\r\x1b[2K[')).toBe(true);
    expect(line).toContain(' 25% 25,000/100,000 users  12,500/s, 6s left');
    const visible = line.replace('\r\x1b[2K', '');
    expect([...visible].length).toBeLessThanOrEqual(80);
    const inner = visible.slice(1, visible.indexOf(']'));
    expect(inner.replace(/░/g, '').length / inner.length).toBeCloseTo(0.25, 1);
    now = 8000;
    bar.update(100_000);
    bar.finish();
    expect(s.chunks.at(-2)).toContain('100% 100,000/100,000 users  8.0s');
    expect(s.chunks.at(-1)).toBe('\n');
  });

  it('throttles redraws but never skips the last one; finish is idempotent', () => {
    let now = 0;
    const s = new FakeStream(true);
    const bar = new ProgressBar(s, 10, { unit: 'admins', minIntervalMs: 100, now: () => now });
    for (let i = 1; i <= 9; i++) {
      now += 10;
      bar.update(i);
    }
    expect(s.chunks).toHaveLength(1); // the first draw only
    now += 10;
    bar.update(10);
    expect(s.chunks).toHaveLength(2);
    bar.finish('interrupted');
    bar.finish();
    expect(s.text.match(/\n/g)).toHaveLength(1);
    expect(s.chunks.at(-2)).toContain('interrupted');
  });

  it('fits narrow and wide terminals, and follows a total that grows', () => {
    for (const columns of [12, 20, 30, 40, 80, 200]) {
      const s = new FakeStream(true, columns);
      const bar = new ProgressBar(s, 100_000, { unit: 'users', minIntervalMs: 0 });
      bar.update(33_333);
      const visible = s.chunks[0]!.replace('\r\x1b[2K', '');
      // One column short of the width (a full line would wrap), at most 120.
      expect([...visible].length).toBeLessThanOrEqual(Math.min(columns, 121) - 1);
      expect(visible).toContain('33%');
      if (columns >= 40) expect(visible).toMatch(/^\[█+░+\] {2}33% 33,333\/100,000 users/);
      if (columns >= 80) expect(visible).toMatch(/left$/);
    }
    const s = new FakeStream(true);
    const bar = new ProgressBar(s, 5, { unit: 'users', minIntervalMs: 0 });
    bar.update(8, 8);
    expect(s.text).toContain('8/8 users');
  });

  it('writes nothing at all when the stream is not a terminal', () => {
    const s = new FakeStream(false);
    const bar = new ProgressBar(s, 100, { unit: 'users', minIntervalMs: 0 });
    bar.update(50);
    bar.finish();
    expect(s.chunks).toEqual([]);
    expect(bar.enabled).toBe(false);
  });

  it('colours only when asked', () => {
    const s = new FakeStream(true);
    new ProgressBar(s, 4, { unit: 'users', minIntervalMs: 0, color: true }).update(2);
    expect(s.text).toContain('\x1b[32m');
    const p = new FakeStream(true);
    new ProgressBar(p, 4, { unit: 'users', minIntervalMs: 0 }).update(2);
    expect(p.text).not.toContain('\x1b[32m');
  });
});

// A real terminal: the typed-count confirmation and the progress bar of a bulk reset, in tmux.
describeBackends(
  'bulk reset in a real terminal',
  () => {
    describeWithPeer(['tmux'], 'tmux', () => {
      let t: TestDb;
      const session = `w2fa-bulk-${process.pid}`;
      const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
      const screen = () => tmux('capture-pane', '-p', '-t', session, '-S', '-50');
      const waitFor = async (re: RegExp, ms = 30_000) => {
        const end = Date.now() + ms;
        for (;;) {
          const s = screen();
          if (re.test(s)) return s;
          if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${s}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      beforeAll(async () => {
        t = await createTestDb('mysql', '8', '8.7.2-release.1');
        await seedBulkUsers(t.knex, 20_000, 'tty');
        tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', '-e', `XDG_STATE_HOME=${TEST_STATE_HOME}`, '-e', 'NO_COLOR=1', 'bash', '--norc', '--noprofile');
      }, 120_000);
      afterAll(async () => {
        try {
          tmux('kill-server');
        } catch {
          /* already gone */
        }
        await t?.drop();
      });

      it('a wrong count cancels; the right count runs with a progress bar on stderr', async () => {
        const before = await usersChecksum(t.knex);
        const cmd = `node ${BIN} --whmcs-dir ${t.whmcsDir} reset --module duo --users --batch-size 500`;
        tmux('send-keys', '-t', session, `clear; ${cmd}; echo "rc=$?"`, 'Enter');
        await waitFor(/Type 19600 to reset all of them/);
        expect(screen()).toMatch(/About to reset 19600 users on Duo Security/);
        tmux('send-keys', '-t', session, '123', 'Enter');
        await waitFor(/rc=8/);
        expect(screen()).toMatch(/Error: cancelled at the prompt — nothing was changed/);
        expect(await usersChecksum(t.knex)).toEqual(before);

        tmux('send-keys', '-t', session, `clear; ${cmd}; echo "rc=$?"`, 'Enter');
        await waitFor(/Type 19600 to reset all of them/);
        tmux('send-keys', '-t', session, '19600', 'Enter');
        const done = await waitFor(/rc=\d+/, 60_000);
        expect(done).toMatch(/rc=0/);
        expect(done).toMatch(/\[█+\] 100% 19,600\/19,600 users/);
        expect(done).toMatch(/Done: 19600 users reset in 40 batches/);
        expect((await usersChecksum(t.knex)).duo).toBe(0);

        const u = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', '--yes', '--format', 'json'], { timeoutMs: 60_000 });
        expect(u.code, u.stderr).toBe(0);
        expect(await usersChecksum(t.knex)).toEqual(before);
      }, 120_000);
    });
  },
  ['mysql'],
);
