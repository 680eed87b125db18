/**
 * Faults on a real MariaDB: the tool's connection killed in the middle of a bulk reset, SIGINT in
 * the middle of a batch, concurrent runs on the same `2fasettings` row, and a history that cannot
 * be written. Each checks what the database and the history hold afterwards, row by row.
 *
 * To hit a batch in the middle (its UPDATE done, its commit not yet), the test takes
 * `LOCK TABLES tblactivitylog WRITE` from its own session: the tool's next batch then waits on its
 * activity-log INSERT, which comes after the UPDATE and before the commit.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { createTestDb, describeBackends, mysqlServer, tempDir, type TestDb } from './helpers/db.js';
import { BIN, runCli, type CliResult } from './helpers/cli.js';
import { seedBulkUsers } from './helpers/bulk-seed.js';
import { changedTables, snapshotDb } from './helpers/snapshot.js';
import { expectClean } from './bad-inputs/harness.js';
import { mulberry32 } from './helpers/fuzz.js';
import { insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize, phpTruthy, phpUnserialize } from '../src/whmcs/php/php-serialize.js';

import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { whmcsDecryptString } from './helpers/whmcs-oracles.js';
import { Journal } from '../src/whmcs/history/journal.js';
import { historyEntries, historyRows } from './helpers/history.js';

const USERS = 20_000;
const BATCH = 200;
const DUO_USERS = USERS - Math.ceil(USERS / 50);
/** Per run: two runs of this file (two checkouts) must not see or drop each other's user. */
const FAULT_USER = `w2fa_fault_${randomBytes(4).toString('hex')}`;
const FAULT_PASSWORD = 'fault-drill-pw';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Spawned {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  done: Promise<CliResult>;
}

const running = new Set<Spawned>();

/** The built CLI as a child process that the test can signal while it runs. */
function spawnCli(args: string[], env: Record<string, string>): Spawned {
  const full: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...env })) if (v !== undefined) full[k] = v;
  delete full.WHMCS_DB_URL;
  const child = spawn(process.execPath, [BIN, ...args], { env: full, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) =>
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON */
      }
      res({ code: code ?? -1, stdout, stderr, json });
    }),
  );
  const spawned: Spawned = { pid: child.pid!, kill: (s) => child.kill(s), done };
  running.add(spawned);
  void done.then(() => running.delete(spawned));
  return spawned;
}

/** Batches committed so far by the run (parts of bulk entries in the history; one part per batch here). */
async function committedBatches(t: TestDb): Promise<number> {
  return (await historyEntries(t.knex)).filter((e) => e.summary.includes('bulk') && !e.undoneBy && !e.undoOf).reduce((n, e) => n + e.parts, 0);
}

type UserRow = { m: string | null; c: string | null };

async function userRows(t: TestDb): Promise<Map<number, UserRow>> {
  const rows = (await t.knex('tblusers').select('id', 'second_factor', 'second_factor_config').orderBy('id')) as Array<{ id: number; second_factor: string | null; second_factor_config: string | null }>;
  return new Map(rows.map((r) => [Number(r.id), { m: r.second_factor, c: r.second_factor_config }]));
}

async function activityCount(t: TestDb): Promise<number> {
  return Number(((await t.knex('tblactivitylog').count({ n: '*' }).first()) as { n: unknown }).n);
}

/**
 * The invariants after a bulk reset that stopped early: every row fully old or fully reset, whole
 * batches only, the journal's committed rows exactly the reset ones and its uncommitted rows still
 * old, one activity-log row per committed batch; then `undo` restores every row byte for byte.
 */
async function expectConsistentAfterStop(t: TestDb, stateHome: string, before: Map<number, UserRow>, usersTableBefore: string, logBefore: number, reported: { rows: number; batches: number; journalId: string }) {
  const now = await userRows(t);
  const reset: number[] = [];
  for (const [id, old] of before) {
    const cur = now.get(id)!;
    if (cur.m === old.m && cur.c === old.c) continue;
    expect({ id, ...cur }, `row ${id} is neither its old value nor reset`).toEqual({ id, m: '', c: '' });
    expect(old.m).toBe('duosecurity');
    reset.push(id);
  }
  expect(reset.length, 'rows reset vs reported').toBe(reported.rows);
  expect(reset.length % BATCH === 0 || reset.length === DUO_USERS, `${reset.length} is not whole batches of ${BATCH}`).toBe(true);
  expect(reported.batches).toBe(reset.length / BATCH);
  expect((await activityCount(t)) - logBefore).toBe(reported.batches);

  // The history holds exactly the committed batches: a batch rolled back took its part with it.
  const entry = (await historyEntries(t.knex, t.ccHash)).find((e) => e.id === reported.journalId)!;
  expect(entry).toMatchObject({ rows: reported.rows, parts: reported.batches });
  expect((await historyRows(t.knex, t.ccHash, reported.journalId)).map((r) => Number(r.key.id)).sort((a, b) => a - b)).toEqual(reset);

  const u = await runCli(['--whmcs-dir', faultDir!, 'undo', reported.journalId, '--yes', '--format', 'json'], { env: { XDG_STATE_HOME: stateHome }, timeoutMs: 120_000 });
  expect(u.code, u.stderr).toBe(0);
  expect(u.json.rowsRestored).toBe(reported.rows);
  expect(u.json.rowsAlreadyRestored).toBe(0);
  expect(await userRows(t)).toEqual(before);
  expect((await snapshotDb(t.knex)).tables.tblusers!.hash, 'tblusers byte for byte after undo').toBe(usersTableBefore);
}

let faultDir: string | undefined;

describeBackends(
  'faults during a bulk reset',
  () => {
    let t: TestDb;
    /** Holds LOCK TABLES and kills; a session holding table locks may touch only those tables. */
    let locker: Connection;
    /** Reads PROCESSLIST and, READ UNCOMMITTED, the rows a held batch has written. */
    let probe: Connection;
    let dbName: string;

    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      dbName = new URL(t.url).pathname.slice(1);
      await seedBulkUsers(t.knex, USERS, 'fault');
      // The tool connects as its own user, so its connections can be told apart in PROCESSLIST.
      await t.knex.raw(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?`, [FAULT_USER, FAULT_PASSWORD]);
      await t.knex.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${dbName}\`.* TO ?@'%'`, [FAULT_USER]);
      // The history tables, created once by a user that may (as WHMCS's own user usually can).
      await new Journal(t.knex, t.ccHash, 'faults').ensure();
      const s = mysqlServer();
      faultDir = tempDir();
      writeFileSync(
        join(faultDir, 'configuration.php'),
        `<?php\n$db_host = '${s.host}';\n$db_port = '${s.port}';\n$db_username = '${FAULT_USER}';\n$db_password = '${FAULT_PASSWORD}';\n$db_name = '${dbName}';\n$cc_encryption_hash = '${t.ccHash}';\n`,
      );
      const mysql = await import('mysql2/promise');
      locker = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password });
      probe = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password });
      await probe.query('SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED');
    }, 180_000);
    // A failed test must not leave the lock held or a run waiting on it.
    afterEach(async () => {
      await locker?.query('UNLOCK TABLES').catch(() => {});
      for (const r of running) r.kill('SIGKILL');
    });
    afterAll(async () => {
      await locker?.query('UNLOCK TABLES').catch(() => {});
      await locker?.end().catch(() => {});
      await probe?.end().catch(() => {});
      await t?.knex.raw(`DROP USER IF EXISTS ?@'%'`, [FAULT_USER]).catch(() => {});
      await t?.drop();
    });

    const bulkArgs = () => ['--whmcs-dir', faultDir!, 'reset', '--module', 'duosecurity', '--users', '--yes', '--batch-size', String(BATCH), '--reason', 'fault drill', '--format', 'json'];

    /**
     * Starts the bulk reset, lets `commits` batches commit, then holds it inside the next batch: its
     * UPDATE done (visible to a READ UNCOMMITTED reader), its activity-log INSERT waiting on our lock.
     */
    async function startAndHoldMidBatch(stateHome: string, commits: number): Promise<{ run: Spawned; threadId: number }> {
      const run = spawnCli(bulkArgs(), { XDG_STATE_HOME: stateHome });
      try {
          await waitFor(`${commits} committed batches`, async () => (await committedBatches(t)) >= commits);
        await locker.query(`LOCK TABLES \`${dbName}\`.tblactivitylog WRITE`);
        // The tool's connection, found by database, user and command: blocked on its activity-log insert.
        const threadId = await waitFor('the tool blocked on its activity-log insert', async () => {
          const [rows] = (await probe.query(
            `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND USER = ? AND COMMAND = 'Query' AND INFO LIKE 'insert into \`tblactivitylog\`%'`,
            [dbName, FAULT_USER],
          )) as [Array<{ id: number }>, unknown];
          return rows[0] ? Number(rows[0].id) : undefined;
        });
        const committed = await committedBatches(t);
        const [dirty] = (await probe.query(`SELECT COUNT(*) AS n FROM \`${dbName}\`.tblusers WHERE second_factor = ''`)) as [Array<{ n: number }>, unknown];
        expect(Number(dirty[0]!.n), 'the held batch has written its UPDATE, uncommitted').toBe((committed + 1) * BATCH);
        return { run, threadId };
      } catch (e) {
        run.kill('SIGKILL');
        await locker.query('UNLOCK TABLES').catch(() => {});
        throw e;
      }
    }

    it('KILL CONNECTION while a batch is written: whole batches only, journal = database, undo restores every byte', async () => {
      const before = await userRows(t);
      const usersTable = (await snapshotDb(t.knex)).tables.tblusers!.hash;
      const logBefore = await activityCount(t);
      const stateHome = tempDir();
      const { run, threadId } = await startAndHoldMidBatch(stateHome, 3);
      await locker.query(`KILL CONNECTION ${threadId}`);
      await locker.query('UNLOCK TABLES');
      const r = await run.done;

      expectClean({ exit: 5, expect: { error: /^Error: bulk change stopped: database error: .* — \d+ rows were already changed in \d+ committed batches — `whmcs-2fa undo \S+` restores them$/ } }, r, r.stderr);
      const details = r.json.error.details as { journalId: string; rows: number; batches: number };
      expect(details.batches).toBeGreaterThanOrEqual(3);
      expect(details.rows).toBe(details.batches * BATCH);
      expect(r.stderr).toContain(`${details.rows} rows were already changed in ${details.batches} committed batches — \`whmcs-2fa undo ${details.journalId}\``);
      await expectConsistentAfterStop(t, stateHome, before, usersTable, logBefore, details);
    }, 180_000);

    it('KILL CONNECTION at an arbitrary moment: the same invariants hold', async () => {
      const before = await userRows(t);
      const usersTable = (await snapshotDb(t.knex)).tables.tblusers!.hash;
      const logBefore = await activityCount(t);
      const stateHome = tempDir();
      const run = spawnCli(bulkArgs(), { XDG_STATE_HOME: stateHome });
      await waitFor('5 committed batches', async () => (await committedBatches(t)) >= 5);
      const [rows] = (await locker.query(`SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND USER = ? AND COMMAND IN ('Query', 'Sleep')`, [dbName, FAULT_USER])) as [Array<{ id: number }>, unknown];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) await locker.query(`KILL CONNECTION ${Number(row.id)}`).catch(() => {});
      const r = await run.done;

      if (r.code === 0) {
        // The kill landed between two batches on a connection the pool then replaced: the run went on
        // to the end. Rare, and still has to leave a consistent database and journal.
        expect(r.json.rowsReset).toBe(DUO_USERS);
        await expectConsistentAfterStop(t, stateHome, before, usersTable, logBefore, { rows: r.json.rowsReset, batches: r.json.batches, journalId: r.json.journalId });
        return;
      }
      // A kill that lands on a batch's COMMIT loses its reply: the run reconnects and finds out that
      // batch did not commit (had it, the run would have gone on, as above).
      expectClean({ exit: 5, expect: { error: /^Error: bulk change stopped: (database error: .*|the connection failed at COMMIT \(.*\); checked after reconnecting: the change was NOT committed — nothing was written) — \d+ rows were already changed in \d+ committed batches/ } }, r, r.stderr);
      await expectConsistentAfterStop(t, stateHome, before, usersTable, logBefore, r.json.error.details);
    }, 180_000);

    /** Signals that stop a bulk run, and the exit status a shell would report for each: 128 + its number. */
    const STOPS: Array<[NodeJS.Signals, number]> = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]];
    for (const [signal, exit] of STOPS) {
      it(`${signal} inside a batch: that batch rolls back, the run reports what it did (as JSON too) and exits ${exit}`, async () => {
        const before = await userRows(t);
        const usersTable = (await snapshotDb(t.knex)).tables.tblusers!.hash;
        const logBefore = await activityCount(t);
        const stateHome = tempDir();
        const { run } = await startAndHoldMidBatch(stateHome, 2);
        run.kill(signal);
        await sleep(200);
        await locker.query('UNLOCK TABLES');
        const r = await run.done;

        expect(r.code, r.stderr).toBe(exit);
        expect(r.json).toMatchObject({ interrupted: true, signal, changed: true, batchSize: BATCH, matched: DUO_USERS });
        expect(r.json.batches).toBeGreaterThanOrEqual(2);
        expect(r.json.rowsReset).toBe(r.json.batches * BATCH);
        expect(r.stderr).toContain(`Interrupted (${signal}) — rolling back the batch in progress and stopping`);
        expect(r.stderr).toContain(`Warning: interrupted after ${r.json.rowsReset} of ${DUO_USERS} users — journal ${r.json.journalId}`);
        expect(r.stderr).not.toMatch(/^\s+at |Error:/m);
        await expectConsistentAfterStop(t, stateHome, before, usersTable, logBefore, { rows: r.json.rowsReset, batches: r.json.batches, journalId: r.json.journalId });
      }, 180_000);
    }

    /**
     * Generator: a seeded random signal at a random moment — after a random number of committed
     * batches plus a random few milliseconds, so it lands anywhere in a batch (reading, journalling,
     * writing, committing) or between two. FAULT_SIGNAL_ROUNDS and FUZZ_SEED vary it.
     */
    const rounds = Number(process.env.FAULT_SIGNAL_ROUNDS ?? 6);
    const seed = Number(process.env.FUZZ_SEED ?? 16);
    const rng = mulberry32(seed);
    for (let round = 1; round <= rounds; round++) {
      const [signal, exit] = STOPS[Math.floor(rng() * STOPS.length)]!;
      const after = 1 + Math.floor(rng() * 8);
      const jitterMs = Math.floor(rng() * 40);
      it(`random signal ${round}/${rounds} (FUZZ_SEED=${seed}): ${signal} after ${after} batches + ${jitterMs} ms — whole batches, journal = database, undo restores every byte`, async () => {
        const before = await userRows(t);
        const usersTable = (await snapshotDb(t.knex)).tables.tblusers!.hash;
        const logBefore = await activityCount(t);
        const stateHome = tempDir();
        const run = spawnCli(bulkArgs(), { XDG_STATE_HOME: stateHome });
        await waitFor(`${after} committed batches`, async () => (await committedBatches(t)) >= after);
        await sleep(jitterMs);
        run.kill(signal);
        const r = await run.done;
        if (r.code === 0) {
          // The run had already finished its last batch.
          expect(r.json.rowsReset).toBe(DUO_USERS);
        } else {
          expect(r.code, r.stderr).toBe(exit);
          expect(r.json).toMatchObject({ interrupted: true, signal });
          expect(r.stderr).not.toMatch(/^\s+at |Error:/m);
        }
        await expectConsistentAfterStop(t, stateHome, before, usersTable, logBefore, { rows: r.json.rowsReset, batches: r.json.batches, journalId: r.json.journalId });
      }, 180_000);
    }
  },
  ['mysql'],
);

// ---------------------------------------------------------------------------------------------

const DUO_ID = 'DIWJ8X6AEYOR5OMC6TQ1';
const DUO_SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const YUBICO = { clientid: '87654', secretkey: 'c2VjcmV0LWtleS1vZi15dWJpY28tYXBp' };

/** Each run changes a different part of the row; a run that exits 0 must find its change in the end. */
const RUNS: Array<{ name: string; args: string[]; env?: Record<string, string>; applied: (s: any, ccHash: string) => boolean }> = [
  { name: 'activate yubikey --admins', args: ['activate', 'yubikey', '--admins'], applied: (s) => phpTruthy(s.modules?.yubico?.adminenabled) && s.modules.yubico.secretkey === YUBICO.secretkey },
  { name: 'enforce --clients on', args: ['enforce', '--clients', 'on'], applied: (s) => phpTruthy(s.forceclient) },
  {
    name: 'activate duo --clients',
    args: ['activate', 'duo', '--clients', '--client-id', DUO_ID, '--api-hostname', 'api-1a2b3c4d.duosecurity.com'],
    env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET },
    applied: (s, h) => phpTruthy(s.modules?.duosecurity?.clientenabled) && whmcsDecryptString(s.modules.duosecurity.secretKey, h) === DUO_SECRET,
  },
  { name: 'deactivate totp --admins --force', args: ['deactivate', 'totp', '--admins', '--force'], applied: (s) => !phpTruthy(s.modules?.totp?.adminenabled) },
  {
    name: 'activate duo --admins',
    args: ['activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', 'api-1a2b3c4d.duosecurity.com'],
    env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET },
    applied: (s, h) => phpTruthy(s.modules?.duosecurity?.adminenabled) && whmcsDecryptString(s.modules.duosecurity.integrationKey, h) === DUO_ID,
  },
];

describeBackends(
  'concurrent runs on 2fasettings',
  () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      await insertAdmin(t.knex, { username: 'alice', authmodule: 'totp', authdata: encodeAccountConfig({ secret: 'JBSWY3DPEHPK3PXP' }, 'json', t.ccHash) });
    });
    afterAll(() => t?.drop());

    it('5 rounds of 5 parallel changes: no lost update, a refused run wrote nothing', async () => {
      const outcomes: Record<string, number> = {};
      for (let round = 0; round < 5; round++) {
        await setConfigValue(
          t.knex,
          '2fasettings',
          phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 }, yubico: { ...YUBICO, clientenabled: 0, adminenabled: 0 } }, forceclient: 0, forceadmin: 0 }),
        );
        const logBefore = await activityCount(t);
        const entriesBefore = (await historyEntries(t.knex)).length;
        // A different order each round, all started together.
        const order = RUNS.map((r, i) => ({ r, k: (i * 7 + round * 3) % RUNS.length })).sort((a, b) => a.k - b.k).map((x) => x.r);
        const states = order.map(() => tempDir());
        const results = await Promise.all(
          order.map((r, i) => runCli(['--whmcs-dir', t.whmcsDir, ...r.args, '--yes', '--format', 'json'], { env: { XDG_STATE_HOME: states[i]!, ...r.env } })),
        );
        const final = phpUnserialize(String((await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first('value')).value)) as any;
        let wrote = 0;
        results.forEach((res, i) => {
          const r = order[i]!;
          const where = `round ${round}, ${r.name}: exit ${res.code}\n${res.stderr}`;
          outcomes[`exit ${res.code}`] = (outcomes[`exit ${res.code}`] ?? 0) + 1;
          if (res.code === 0) {
            expect(res.json.changed, where).toBe(true);
            expect(r.applied(final, t.ccHash), `lost update: ${where}`).toBe(true);
            wrote++;
          } else {
            expectClean({ exit: 4, expect: { error: /changed by someone else while whmcs-2fa was working — nothing was written/ } }, res, where);
            expect(r.applied(final, t.ccHash), `a refused run's change is in the row: ${where}`).toBe(false);
          }
        });
        expect(await activityCount(t)).toBe(logBefore + wrote);
        // Only the runs that wrote have a history entry: a refused run's entry went with its rollback.
        expect((await historyEntries(t.knex)).length).toBe(entriesBefore + wrote);
      }
      console.log(`concurrent 2fasettings runs: ${JSON.stringify(outcomes)}`);
    }, 240_000);
  },
  ['mysql'],
);

// ---------------------------------------------------------------------------------------------

describeBackends(
  'history not writable',
  () => {
    let t: TestDb;
    let dir: string;
    const USER = 'w2fa_nocreate';
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      await insertAdmin(t.knex, { username: 'alice', authmodule: 'totp', authdata: encodeAccountConfig({ secret: 'JBSWY3DPEHPK3PXP' }, 'json', t.ccHash) });
      await seedBulkUsers(t.knex, 500, 'journal');
      // A database user that may change WHMCS's rows but not create the history tables.
      const name = new URL(t.url).pathname.slice(1);
      await t.knex.raw(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY 'pw-nocreate'`, [USER]);
      await t.knex.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${name}\`.* TO ?@'%'`, [USER]);
      const s = mysqlServer();
      dir = tempDir();
      writeFileSync(join(dir, 'configuration.php'), `<?php\n$db_host = '${s.host}';\n$db_port = '${s.port}';\n$db_username = '${USER}';\n$db_password = 'pw-nocreate';\n$db_name = '${name}';\n$cc_encryption_hash = '${t.ccHash}';\n`);
    });
    afterAll(async () => {
      await t?.knex.raw(`DROP USER IF EXISTS ?@'%'`, [USER]).catch(() => {});
      await t?.drop();
    });

    for (const [name, args] of [
      ['reset one admin', ['reset', '--admin', 'alice', '--reason', 'r']],
      ['enforce', ['enforce', '--clients', 'on']],
      ['activate', ['activate', 'yubikey', '--admins', '--client-id', '12345']],
      ['bulk reset', ['reset', '--module', 'duosecurity', '--users', '--reason', 'r']],
    ] as const) {
      it(`${name}: exit 4, nothing written, no activity-log row`, async () => {
        const before = await snapshotDb(t.knex);
        const logBefore = await activityCount(t);
        const r = await runCli(['--whmcs-dir', dir, ...args, '--yes'], { env: { WHMCS_YUBICO_SECRET_KEY: 'c2VjcmV0LWtleS1vZi15dWJpY28tYXBp' } });
        expectClean({ exit: 4, expect: { error: /^Error: cannot create the history table mod_whmcs2fa_journal \(ER_\w+\) — nothing was changed; the database user needs CREATE on the WHMCS database once$/ } }, r, r.stderr);
        expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
        expect(await activityCount(t)).toBe(logBefore);
      });
    }
  },
  ['mysql'],
);
