/**
 * The parts of clock-check's verdict that need no server: the CRITICAL floor for clocks at which no
 * TOTP code can work, and how the database clock is read (connection outside the round trip, the
 * least-delay read kept, one shared time budget).
 */
import { describe, expect, it } from 'vitest';
import type { ServerResult } from '../src/clock/sntp.js';
import { DB_CLOCK_READS, STATUS, buildClockReport, readDatabaseClock } from '../src/clock/verdict.js';
import { databaseConfigured } from '../src/clock/db-clock.js';
import { tempDir, writeFileSync } from './helpers/db.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

function server(offset: number): ServerResult {
  return {
    host: 'ntp.test',
    port: 123,
    address: '192.0.2.1',
    stratum: 2,
    leap: 0,
    refid: '192.0.2.9',
    offset,
    delay: 0.02,
    rootDelay: null,
    rootDispersion: null,
    samples: 4,
    sent: 4,
    ignored: { malformed: 0, wrongOrigin: 0, stale: 0 },
    notes: [],
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A local clock in seconds that the test moves by hand. */
function manualClock() {
  let now = 1_000;
  return { clock: () => now, advance: (s: number) => (now += s) };
}

describe('CRITICAL floor: TOTP codes always failing', () => {
  it('forces CRITICAL above a -c that would allow it, with a note saying so', () => {
    const r = buildClockReport([server(-75)], { warning: 100, critical: 120, unknownIfUnreachable: false });
    expect(r.status).toBe(STATUS.CRITICAL);
    expect(r.statusName).toBe('CRITICAL');
    expect(r.notes).toContain('CRITICAL although the critical threshold is 120 s: at 75.0 s off, every TOTP code fails');
  });

  it('exactly 60 s off already fails every code; just under does not force anything', () => {
    expect(buildClockReport([server(60)], { warning: 100, critical: 120, unknownIfUnreachable: false }).status).toBe(STATUS.CRITICAL);
    const under = buildClockReport([server(59.9)], { warning: 50, critical: 120, unknownIfUnreachable: false });
    expect(under.status).toBe(STATUS.WARNING);
    expect(under.notes.some((n) => n.startsWith('CRITICAL although'))).toBe(false);
  });

  it('adds no note when the thresholds already say CRITICAL', () => {
    const r = buildClockReport([server(90)], { warning: 5, critical: 15, unknownIfUnreachable: false });
    expect(r.status).toBe(STATUS.CRITICAL);
    expect(r.notes.some((n) => n.startsWith('CRITICAL although'))).toBe(false);
  });
});

describe('reading the database clock', () => {
  it('connecting does not count toward the round trip; the least-delay read is kept', async () => {
    const { clock, advance } = manualClock();
    const delays = [0.2, 0.004, 0.05];
    let reads = 0;
    const r = await readDatabaseClock(
      async () => {
        const d = delays[reads++]!;
        // The database reads its clock mid-way, and it runs 2 s ahead of this host.
        advance(d / 2);
        const value = clock() + 2;
        advance(d / 2);
        return value;
      },
      clock,
      5000,
      async () => {
        advance(3);
        await sleep(1);
      },
    );
    expect(reads).toBe(DB_CLOCK_READS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.dbMinusLocal).toBeCloseTo(2, 9);
    expect(r.roundTrip).toBeCloseTo(0.004, 9);
  });

  it('a connection that does not finish in time is an error naming the budget', async () => {
    const r = await readDatabaseClock(async () => Date.now() / 1000, () => Date.now() / 1000, 50, () => sleep(2000));
    expect(r).toEqual({ ok: false, error: 'the database did not report its time within 0.05 s' });
  });

  it('a connection failure is reported with its own message', async () => {
    const r = await readDatabaseClock(async () => 0, () => 0, 1000, () => Promise.reject(new Error('cannot connect to x: connection refused')));
    expect(r).toEqual({ ok: false, error: 'cannot connect to x: connection refused' });
  });

  it('running out of time after a good read keeps that read', async () => {
    let reads = 0;
    const r = await readDatabaseClock(
      async () => {
        if (reads++ > 0) await sleep(2000);
        return 1_000;
      },
      () => 1_000,
      100,
    );
    expect(r).toEqual({ ok: true, dbMinusLocal: 0, roundTrip: 0 });
  });
});

describe('is a database configured?', () => {
  const env = {};
  it('not without options, environment or a configuration.php upwards', () => {
    expect(databaseConfigured({ env, cwd: tempDir('whmcs2fa-noconf-') })).toBe(false);
  });

  it('yes with --db, --whmcs-dir, $WHMCS_DB_URL, $WHMCS_DIR or a configuration.php found upwards', () => {
    const cwd = tempDir('whmcs2fa-noconf-');
    expect(databaseConfigured({ env, cwd, dbUrl: 'sqlite:x' })).toBe(true);
    expect(databaseConfigured({ env, cwd, whmcsDir: '/nonexistent' })).toBe(true);
    expect(databaseConfigured({ env: { WHMCS_DB_URL: 'sqlite:x' }, cwd })).toBe(true);
    expect(databaseConfigured({ env: { WHMCS_DIR: '/nonexistent' }, cwd })).toBe(true);
    const root = tempDir('whmcs2fa-conf-');
    writeFileSync(join(root, 'configuration.php'), '<?php\n');
    const below = join(root, 'sub');
    mkdirSync(below);
    expect(databaseConfigured({ env, cwd: below })).toBe(true);
  });
});
