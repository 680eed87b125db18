/**
 * Unusual but real WHMCS data (issue #14, points 2–8): duplicated 2fasettings rows on 7.x, a latin1
 * connection, odd shapes PHP still reads, --force that keeps what it can read, untouched data kept
 * byte for byte, verify's tokendata precedence, and timestamps in the database's local time. PHP's
 * own unserialize() is the judge of "does WHMCS read it".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { php, phpBytes } from './helpers/php.js';
import { FRESH_INSTALL_2FA, insertAdmin, insertUser } from '../src/whmcs/schema/seed.js';
import { hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { encodeTokendata } from '../src/services/totp/stored-secret.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { totpAt } from './helpers/whmcs-oracles.js';

const OFF_FOR_CLIENTS = 'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:0;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}';
/** A third-party module entry as PHP serialize() writes it: a float, mixed int/string keys in PHP order. */
const THIRD_PARTY = 's:6:"acme2f";a:5:{s:5:"ratio";d:1;i:7;s:5:"seven";s:4:"name";s:4:"ACME";i:0;s:4:"zero";s:12:"adminenabled";i:0;}';

async function rows(t: TestDb, setting = '2fasettings') {
  return (await t.knex('tblconfiguration').where({ setting }).orderBy('id').select('id', 'value', 'created_at', 'updated_at')) as Array<{
    id: number;
    value: string;
    created_at: string;
    updated_at: string;
  }>;
}

/** PHP's unserialize() of the value; throws when PHP cannot read it. */
function phpReads(bytes: string | Buffer): any {
  return JSON.parse(
    php(
      `$v = unserialize(stream_get_contents(STDIN), ['allowed_classes' => false]);
       if (!is_array($v)) { throw new Exception('PHP cannot unserialize it'); }
       echo json_encode($v);`,
      bytes,
    ),
  );
}

describeWithPeer(['php'], 'unusual WHMCS data', () => {
  describeBackends('duplicate 2fasettings rows (7.x has no unique key)', (backend: Backend) => {
    let t: TestDb;
    beforeEach(async () => {
      t = await createTestDb(backend, '7', '7.8.3-release.1');
      // An older copy first, then the row WHMCS reads: the last one (it loads all settings, the last wins).
      await t.knex('tblconfiguration').where({ setting: '2fasettings' }).update({ value: OFF_FOR_CLIENTS, updated_at: '2020-01-02 03:04:05' });
      await t.knex('tblconfiguration').insert({ setting: '2fasettings', value: FRESH_INSTALL_2FA.replace('s:13:"clientenabled";i:1;', 's:13:"clientenabled";i:0;').replace('s:12:"adminenabled";i:1;', 's:12:"adminenabled";i:0;'), created_at: '2021-01-01 00:00:00', updated_at: '2021-01-01 00:00:00' });
    });
    afterEach(() => t?.drop());
    const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

    it('status reads the row WHMCS reads (the last) and reports the duplicates with what to do', async () => {
      const [first, last] = await rows(t);
      const r = await cli(['status', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(r.json.settings).toMatchObject({ present: true, readable: true, id: last!.id, rows: 2 });
      // The last row has TOTP off for both audiences; the older copy had it on for admins.
      expect(r.json.modules.find((m: any) => m.name === 'totp').enabled).toEqual({ clients: false, admins: false });
      expect(r.json.warnings.join('\n')).toContain(
        `2fasettings exists 2 times in tblconfiguration (ids ${first!.id}, ${last!.id}): WHMCS reads the last one (id ${last!.id}), and the others hold different values — any change by whmcs-2fa (or WHMCS's own settings page) writes all of them; to clean up, delete the older rows (ids ${first!.id})`,
      );
    });

    it('a change writes every row of the name, as WHMCS saves; undo restores every row byte for byte', async () => {
      const before = await rows(t);
      const r = await cli(['activate', 'totp', '--yes', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(r.json.before).toEqual({ clients: false, admins: false });
      expect(r.json.after).toEqual({ clients: true, admins: true });
      expect(r.json.warnings.join('\n')).toMatch(/2fasettings exists 2 times .*all of them get the new value/);
      const after = await rows(t);
      expect(after.map((x) => x.value)).toEqual([FRESH_INSTALL_2FA, FRESH_INSTALL_2FA]);
      expect(phpReads(after[1]!.value).modules.totp).toEqual({ clientenabled: 1, adminenabled: 1 });
      const u = await cli(['undo', '--yes', '--format', 'json']);
      expect(u.code).toBe(0);
      expect(u.json.rowsRestored).toBe(2);
      expect(await rows(t)).toEqual(before);
    });

    it('verify and enroll --activate read the last row too', async () => {
      const secret = 'JBSWY3DPEHPK3PXP';
      const id = await insertAdmin(t.knex, { username: 'ann' });
      const code = await totpAt(sonataBase32Decode(secret), Math.floor(Date.now() / 1000));
      const e = await cli(['enroll', '--admin', 'ann', '--secret', secret, '--code', code, '--activate', '--yes', '--format', 'json']);
      expect(e.code).toBe(0);
      expect(e.json.activated).toBe(true);
      const after = await rows(t);
      // Both rows now hold the last row's settings with TOTP on for admins (what WHMCS would save).
      expect(after[0]!.value).toBe(after[1]!.value);
      expect(phpReads(after[1]!.value).modules.totp).toEqual({ clientenabled: 0, adminenabled: 1 });
      expect(id).toBeGreaterThan(0);
    });
  });

  describeBackends('odd shapes PHP still reads; untouched data byte for byte', (backend: Backend) => {
    let t: TestDb;
    beforeEach(async () => {
      t = await createTestDb(backend, '8', '8.7.2-release.1');
    });
    afterEach(() => t?.drop());
    const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);
    const set = (value: string) => t.knex('tblconfiguration').where({ setting: '2fasettings' }).update({ value });

    it('a third-party entry keeps d:1; and its mixed int/string key order when another module changes', async () => {
      const value = `a:3:{s:7:"modules";a:2:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:0;}${THIRD_PARTY}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}`;
      expect(phpReads(value).modules.acme2f.ratio).toBe(1);
      await set(value);
      const r = await cli(['activate', 'totp', '--admins', '--yes', '--format', 'json']);
      expect(r.code).toBe(0);
      const [row] = await rows(t);
      expect(row!.value).toBe(value.replace('s:12:"adminenabled";i:0;}s:6:"acme2f"', 's:12:"adminenabled";i:1;}s:6:"acme2f"'));
      expect(row!.value).toContain(THIRD_PARTY);
      // PHP reads it, and PHP's serialize() of what it read gives the same bytes (a float stays a float).
      expect(php(`$v = unserialize(stream_get_contents(STDIN)); echo var_export(is_float($v['modules']['acme2f']['ratio']), true), ' ', implode(',', array_keys($v['modules']['acme2f']));`, row!.value)).toBe(
        'true ratio,7,name,0,adminenabled',
      );
      expect(php(`$raw = stream_get_contents(STDIN); echo serialize(unserialize($raw)) === $raw ? 'same' : 'differs';`, row!.value)).toBe('same');
    });

    it('a module entry that is not an array: readable, named by status, kept as it is by a change', async () => {
      const value = `a:3:{s:7:"modules";a:2:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}s:6:"legacy";s:2:"on";}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}`;
      await set(value);
      const st = await cli(['status', '--format', 'json']);
      expect(st.code).toBe(0);
      expect(st.json.settings).toMatchObject({ readable: true });
      expect(st.json.settings.oddities).toEqual([expect.stringMatching(/^"modules\.legacy" is a string, not an array: WHMCS finds no flags in it/)]);
      expect(st.json.modules.find((m: any) => m.name === 'totp').enabled).toEqual({ clients: true, admins: true });
      const r = await cli(['enforce', '--clients', 'on', '--yes', '--format', 'json']);
      expect(r.code).toBe(0);
      const [row] = await rows(t);
      expect(row!.value).toBe(value.replace('s:11:"forceclient";i:0;', 's:11:"forceclient";i:1;'));
      expect(phpReads(row!.value).modules.legacy).toBe('on');
    });

    it('trailing bytes: readable (PHP ignores them), named by status; the next change writes the row without them', async () => {
      await set(OFF_FOR_CLIENTS + '\n');
      const st = await cli(['status', '--format', 'json']);
      expect(st.json.settings).toMatchObject({ readable: true, oddities: [expect.stringMatching(/^1 byte after the serialized value/)] });
      const r = await cli(['activate', 'totp', '--clients', '--yes']);
      expect(r.code).toBe(0);
      const [row] = await rows(t);
      expect(row!.value).toBe(FRESH_INSTALL_2FA);
    });

    it('--force rebuilds a row with a wrong string length keeping every entry (third-party ones included)', async () => {
      const broken = `a:3:{s:7:"modules";a:2:{s:4:"totp";a:2:{s:13:"clientenabled";i:0;s:12:"adminenabled";i:1;}${THIRD_PARTY.replace('s:4:"ACME"', 's:9:"ACME"')}}s:11:"forceclient";i:0;s:10:"forceadmin";i:1;}`;
      await set(broken);
      expect(() => phpReads(broken)).toThrow();
      const refused = await cli(['activate', 'totp', '--clients', '--yes']);
      expect(refused.code).toBe(1);
      const r = await cli(['activate', 'totp', '--clients', '--force', '--yes', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(r.json.diff[0].after).toMatch(/^rebuilt keeping all it holds \(modules totp, acme2f; repaired: modules\.acme2f\.name: string declared as 9 bytes holds 4\)$/);
      const [row] = await rows(t);
      const v = phpReads(row!.value);
      expect(v).toEqual({
        modules: { totp: { clientenabled: 1, adminenabled: 1 }, acme2f: { ratio: 1, 7: 'seven', name: 'ACME', 0: 'zero', adminenabled: 0 } },
        forceclient: 0,
        forceadmin: 1,
      });
      expect(row!.value).toContain(THIRD_PARTY);
    });
  });

  describeBackends(
    "$mysql_charset = 'latin1': bytes as WHMCS's connection gives them",
    (backend: Backend) => {
      let t: TestDb;
      beforeEach(async () => {
        t = await createTestDb(backend, '7', '7.8.3-release.1');
        const conf = `${t.whmcsDir}/configuration.php`;
        writeFileSync(conf, readFileSync(conf, 'utf8').replace("$mysql_charset = 'utf8';", "$mysql_charset = 'latin1';"));
      });
      afterEach(() => t?.drop());
      const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

      /** Writes `bytes` the way PHP over a latin1 connection does: the server converts them into the utf8 column. */
      const writeAsWhmcs = (bytes: Buffer) => t.knex.raw("UPDATE tblconfiguration SET value = CONVERT(? USING latin1) WHERE setting = '2fasettings'", [bytes]);
      /** The bytes a latin1 connection (WHMCS's) reads back. */
      const readAsWhmcs = async (): Promise<Buffer> => {
        const [r] = (await t.knex.raw("SELECT CAST(CONVERT(value USING latin1) AS BINARY) AS b FROM tblconfiguration WHERE setting = '2fasettings'")) as [Array<{ b: Buffer }>];
        return r[0]!.b;
      };

      it('non-ASCII text counted in latin1 bytes reads as readable and survives a change byte for byte', async () => {
        // PHP serialize() of a third-party entry holding "Café Größe €" in latin1 (cp1252) bytes.
        const phpValue = phpBytes(
          `$label = "Caf\\xe9 Gr\\xf6\\xdfe \\x80";
           echo serialize(['modules' => ['totp' => ['clientenabled' => 0, 'adminenabled' => 1], 'acme' => ['label' => $label, 'adminenabled' => 0]], 'forceclient' => 0, 'forceadmin' => 0]);`,
        );
        await writeAsWhmcs(phpValue);
        expect(await readAsWhmcs()).toEqual(phpValue);
        const st = await cli(['status', '--format', 'json']);
        expect(st.code).toBe(0);
        expect(st.json.settings).toMatchObject({ readable: true, error: null });
        // audit reads the row as status does (one reader, the connection's charset): readable.
        const au = await cli(['audit', '--format', 'json']);
        expect(au.json.findings.map((f: { id: string }) => f.id)).not.toContain('settings-unreadable');
        expect(au.json.modules.map((m: { name: string }) => m.name)).toEqual(['totp', 'acme']);
        const r = await cli(['activate', 'totp', '--clients', '--yes', '--format', 'json']);
        expect(r.code).toBe(0);
        const after = await readAsWhmcs();
        // What WHMCS reads now: PHP unserializes it, the label is the same latin1 bytes.
        expect(
          php(
            `$v = unserialize(stream_get_contents(STDIN));
             echo $v['modules']['acme']['label'] === "Caf\\xe9 Gr\\xf6\\xdfe \\x80" ? 'same label' : 'label differs', ' ', $v['modules']['totp']['clientenabled'];`,
            after,
          ),
        ).toBe('same label 1');
        expect(after).toEqual(Buffer.from(phpValue.toString('latin1').replace('s:13:"clientenabled";i:0;', 's:13:"clientenabled";i:1;'), 'latin1'));
        const u = await cli(['undo', '--yes']);
        expect(u.code).toBe(0);
        expect(await readAsWhmcs()).toEqual(phpValue);
      });
    },
    ['mysql'],
  );

  describeBackends('verify follows WHMCS: tokendata before secret', (backend: Backend) => {
    let t: TestDb;
    beforeEach(async () => {
      t = await createTestDb(backend, '8', '8.7.2-release.1');
    });
    afterEach(() => t?.drop());

    it('a config with both checks the tokendata key; a code of the secret is rejected', async () => {
      const legacy = 'GEZDGNBVGY3TQOJQ';
      const modern = 'JBSWY3DPEHPK3PXP';
      const config = { tokendata: encodeTokendata(sonataBase32Decode(legacy)), secret: modern, backupcode: hashBackupCode('0123456789abcdef') };
      await insertUser(t.knex, { email: 'dual@example.com', second_factor: 'totp', second_factor_config: encodeAccountConfig(config, 'json', t.ccHash) });
      const at = Math.floor(Date.now() / 1000);
      const ok = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--user', 'dual@example.com', await totpAt(sonataBase32Decode(legacy), at), '--format', 'json']);
      expect(ok.json.secret.source).toBe('tokendata');
      expect(ok.json.codeMatches).toBe(true);
      expect(ok.json.secret.warnings.join(' ')).toMatch(/WHMCS checks "tokendata" and never uses the "secret"/);
      const bad = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--user', 'dual@example.com', await totpAt(sonataBase32Decode(modern), at), '--format', 'json']);
      expect(bad.code).toBe(1);
      expect(bad.json.codeMatches).toBe(false);
    });
  });

  describeBackends(
    'timestamps in the local time WHMCS on that host writes',
    (backend: Backend) => {
      let t: TestDb;
      beforeEach(async () => {
        t = await createTestDb(backend, '8', '8.7.2-release.1');
      });
      afterEach(() => t?.drop());

      it('updated_at is the local time of the zone the tool runs in (SQLite sandbox: TZ), not UTC', async () => {
        // +05:30 all year: a UTC timestamp can never fall inside the local window below.
        const local = () => {
          const d = new Date(Date.now() + 5.5 * 3600_000);
          return d.toISOString().slice(0, 19).replace('T', ' ');
        };
        const from = local();
        // A process of its own: the time zone is the process's, read from $TZ when it starts.
        const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--yes'], { env: { TZ: 'Asia/Kolkata' }, process: true });
        const to = local();
        expect(r.code).toBe(0);
        const [row] = await rows(t);
        expect(row!.updated_at >= from && row!.updated_at <= to, `${row!.updated_at} in [${from}, ${to}]`).toBe(true);
      });
    },
    ['sqlite'],
  );

  describeBackends(
    'timestamps: the database clock (NOW()) on MariaDB',
    (backend: Backend) => {
      let t: TestDb;
      beforeEach(async () => {
        t = await createTestDb(backend, '8', '8.7.2-release.1');
      });
      afterEach(() => t?.drop());
      const dbNow = async () => String(((await t.knex.raw("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS n")) as [Array<{ n: string }>])[0][0]!.n);

      it('updated_at and the activity log date come from the same clock', async () => {
        const from = await dbNow();
        const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--yes']);
        const to = await dbNow();
        expect(r.code).toBe(0);
        const [row] = await rows(t);
        expect(row!.updated_at >= from && row!.updated_at <= to, `${row!.updated_at} in [${from}, ${to}]`).toBe(true);
      });
    },
    ['mysql'],
  );
});
