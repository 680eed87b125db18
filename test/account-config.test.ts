import { describe, expect, it } from 'vitest';
import { decodeAccountConfig, decodeAccountConfigs, encodeAccountConfig, type AccountConfigTarget } from '../src/whmcs/accounts/account-config.js';
import { aesEncryptBytes, aesEncryptConfig } from '../src/whmcs/crypto/aes-config.js';
import { describeWithPeer } from './helpers/peers.js';
import { phpMap } from './helpers/php.js';
import { int, mulberry32 } from './helpers/fuzz.js';

const H = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab';
const TOTP = { secret: 'JBSWY3DPEHPK3PXP', backupcode: 'fe5567e8d769550852182cdf69d74bb16dff8e29' };
const TOTP_JSON = '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"fe5567e8d769550852182cdf69d74bb16dff8e29"}';
const TOTP_AES =
  '8a80d0c95f15b50ee62fd9450797a6d989057adb6f76a28c988d88e65a435aa2ea37e1d12ebaee2628fa39a5d4d5686e7e35a9b743fd6fe2581417149e2ada9b4fb9f48848922d34bc0f3d55dfc5761fd53813db1a13bc1fca8c569b955c5d1f1502047175b71412f37b8cdfdb8f7f33';
const DUO_ADMIN = { backupcode: '8e4c59f8b49b0d0163a73e765e7be2169ac15614', duo_auth_identifier: 'email' };
const DUO_ADMIN_JSON = '{"backupcode":"8e4c59f8b49b0d0163a73e765e7be2169ac15614","duo_auth_identifier":"email"}';
// docs/data-model.md §2.3: 7.x tokendata is base64 of a serialized ga4php token.
const TOKEN =
  'a:6:{s:8:"tokenkey";s:20:"48656c6c6f21deadbeef";s:9:"tokentype";s:4:"TOTP";s:10:"tokentimer";i:30;s:12:"tokencounter";i:1;s:14:"tokenalgorithm";s:4:"SHA1";s:4:"user";s:0:"";}';
const TOKENDATA = Buffer.from(TOKEN).toString('base64');
const LEGACY = { tokendata: TOKENDATA, backupcode: '8e4c59f8b49b0d0163a73e765e7be2169ac15614' };
const LEGACY_SERIALIZED = `a:2:{s:9:"tokendata";s:${TOKENDATA.length}:"${TOKENDATA}";s:10:"backupcode";s:40:"8e4c59f8b49b0d0163a73e765e7be2169ac15614";}`;
const ABANDONED_SERIALIZED = `a:1:{s:9:"tokendata";s:${TOKENDATA.length}:"${TOKENDATA}";}`;

describe('decodeAccountConfigs (a page of values at once)', () => {
  const values: Array<string | null | undefined> = [
    TOTP_AES,
    TOTP_AES.toUpperCase(),
    TOTP_JSON,
    DUO_ADMIN_JSON,
    LEGACY_SERIALIZED,
    ABANDONED_SERIALIZED,
    encodeAccountConfig(DUO_ADMIN, 'aes', H),
    encodeAccountConfig(DUO_ADMIN, 'aes', 'another-hash'),
    aesEncryptConfig('', H, { strPad: 0 }),
    aesEncryptConfig('', H, { strPad: 3 }),
    aesEncryptConfig('"a string"', H),
    aesEncryptConfig('["a","b"]', H),
    aesEncryptBytes('{"a":1}', H),
    '[1,2]',
    ' \n{"backupcode":"x"}',
    '"json string"',
    'a:1:{i:0;s:1:"x";}',
    'garbage{',
    'abc',
    '0',
    '',
    null,
    undefined,
  ];

  it('decodes each value as decodeAccountConfig does, in any order and batch size (seeded)', () => {
    const r = mulberry32(0xacc0);
    for (let run = 0; run < 200; run++) {
      const batch = Array.from({ length: int(r, 40) }, () => values[int(r, values.length)]);
      expect(decodeAccountConfigs(batch, H), `run ${run}`).toEqual(batch.map((v) => decodeAccountConfig(v, H)));
    }
    expect(decodeAccountConfigs(values, H)[0]).toEqual({ format: 'aes', config: TOTP, undecryptable: false });
  });
});

describe('decodeAccountConfig', () => {
  it.each([[''], [null], [undefined]])('%j is the empty format', (raw) => {
    expect(decodeAccountConfig(raw, H)).toEqual({ format: 'empty', config: {}, undecryptable: false });
  });

  it('reads the WHMCS 8.12 AES vector', () => {
    expect(decodeAccountConfig(TOTP_AES, H)).toEqual({ format: 'aes', config: TOTP, undecryptable: false });
  });

  it('reads WHMCS 8.12 "disabled" values — AES of "" (32 hex) and of 32 spaces (96 hex) — as empty, not undecryptable', () => {
    const ofEmpty = aesEncryptConfig('', H, { strPad: 0 });
    const ofSpaces = aesEncryptConfig('', H, { strPad: 16 });
    expect([ofEmpty.length, ofSpaces.length]).toEqual([32, 96]);
    for (const hex of [ofEmpty, ofSpaces]) {
      expect(decodeAccountConfig(hex, H)).toEqual({ format: 'aes', config: {}, undecryptable: false });
    }
  });

  it('flags AES under another key as undecryptable (WHMCS would silently read [])', () => {
    expect(decodeAccountConfig(TOTP_AES, 'another-cc-encryption-hash')).toEqual({ format: 'aes', config: {}, undecryptable: true });
    for (let i = 0; i < 100; i++) {
      expect(decodeAccountConfig(TOTP_AES, `k${i}`).undecryptable).toBe(true);
    }
  });

  it('flags AES that decrypts to something other than a JSON array as undecryptable', () => {
    for (const plain of ['not json', '5', '"str"', 'null', 'a:0:{}']) {
      expect(decodeAccountConfig(aesEncryptBytes(plain.padEnd(32, ' '), H), H)).toEqual({ format: 'aes', config: {}, undecryptable: true });
    }
    // A hex-only legacy value is taken for AES, exactly as WHMCS 8.12 does.
    expect(decodeAccountConfig('1234', H)).toMatchObject({ format: 'aes', undecryptable: true });
  });

  it('reads AES of a JSON list as PHP would key it', () => {
    expect(decodeAccountConfig(aesEncryptConfig('["a","b"]', H), H).config).toEqual({ '0': 'a', '1': 'b' });
  });

  it('reads the §2.3 plain JSON configs (WHMCS 8.0–8.7)', () => {
    expect(decodeAccountConfig(TOTP_JSON, H)).toEqual({ format: 'json', config: TOTP, undecryptable: false });
    expect(decodeAccountConfig(DUO_ADMIN_JSON, H)).toEqual({ format: 'json', config: DUO_ADMIN, undecryptable: false });
    expect(decodeAccountConfig('{"yubicoprefix":"a\\/b","backupcode":"x","attempts":2}', H).config).toEqual({
      yubicoprefix: 'a/b',
      backupcode: 'x',
      attempts: 2,
    });
    expect(decodeAccountConfig('[]', H)).toEqual({ format: 'json', config: {}, undecryptable: false });
  });

  it('reads the §2.3 serialized configs (WHMCS 7.x, and 8.x rows not yet converted)', () => {
    expect(decodeAccountConfig(LEGACY_SERIALIZED, H)).toEqual({ format: 'serialized', config: LEGACY, undecryptable: false });
    expect(decodeAccountConfig(ABANDONED_SERIALIZED, H)).toEqual({
      format: 'serialized',
      config: { tokendata: TOKENDATA },
      undecryptable: false,
    });
    expect(decodeAccountConfig('a:0:{}', H)).toEqual({ format: 'serialized', config: {}, undecryptable: false });
  });

  it('honours serialize limits', () => {
    expect(decodeAccountConfig(LEGACY_SERIALIZED, H, { maxLength: 50 }).format).toBe('unreadable');
  });

  it.each([['garbage'], ['{"a":'], ['"just a string"'], ['i:5;'], ['s:1:"a";'], ['a:1:{s:1:"a";'], ['O:8:"stdClass":0:{}'], ['   ']])(
    '%j is unreadable',
    (raw) => {
      expect(decodeAccountConfig(raw, H)).toEqual({ format: 'unreadable', config: {}, undecryptable: false });
    },
  );
});

describe('encodeAccountConfig', () => {
  it('writes the exact §2.3 strings', () => {
    expect(encodeAccountConfig(TOTP, 'json', H)).toBe(TOTP_JSON);
    expect(encodeAccountConfig(DUO_ADMIN, 'json', H)).toBe(DUO_ADMIN_JSON);
    expect(encodeAccountConfig(LEGACY, 'serialized', H)).toBe(LEGACY_SERIALIZED);
    expect(encodeAccountConfig({ tokendata: TOKENDATA }, 'serialized', H)).toBe(ABANDONED_SERIALIZED);
    expect(encodeAccountConfig(TOTP, 'aes', H)).toBe(TOTP_AES);
  });

  it.each<AccountConfigTarget>(['serialized', 'json', 'aes'])('an empty config is "" as %s', (target) => {
    expect(encodeAccountConfig({}, target, H)).toBe('');
  });

  it.each<AccountConfigTarget>(['serialized', 'json', 'aes'])('round-trips through %s', (target) => {
    for (const config of [TOTP, DUO_ADMIN, LEGACY, { yubicoprefix: 'ä/ö', backupcode: 'b', attempts: 3, backup_attempts: 1 }]) {
      const decoded = decodeAccountConfig(encodeAccountConfig(config, target, H), H);
      expect(decoded).toEqual({ format: target, config, undecryptable: false });
    }
  });

  it('converts between formats without losing keys or order', () => {
    const fromSerialized = decodeAccountConfig(LEGACY_SERIALIZED, H).config;
    const asJson = encodeAccountConfig(fromSerialized, 'json', H);
    expect(asJson).toBe(`{"tokendata":"${TOKENDATA.replace(/\//g, '\\/')}","backupcode":"8e4c59f8b49b0d0163a73e765e7be2169ac15614"}`);
    const asAes = encodeAccountConfig(decodeAccountConfig(asJson, H).config, 'aes', H);
    expect(Object.keys(decodeAccountConfig(asAes, H).config)).toEqual(['tokendata', 'backupcode']);
    expect(encodeAccountConfig(decodeAccountConfig(asAes, H).config, 'serialized', H)).toBe(LEGACY_SERIALIZED);
  });
});

describeWithPeer(['php'], 'account config against php-cli', () => {
  it('PHP reads what we write in each format as WHMCS would', () => {
    // getSecondFactorConfig (8.12) in outline: AES-hex → decrypt, trim, json_decode; else JSON; else unserialize.
    const prelude = `
      function read_cfg($v, $h) {
        if ($v === '') return [];
        if (strlen($v) % 2 == 0 && ctype_xdigit($v)) {
          $p = openssl_decrypt(hex2bin($v), 'aes-256-cbc', substr(hash('sha256', $h), 0, 32), OPENSSL_RAW_DATA, str_repeat("\\0", 16));
          $d = json_decode(trim((string) $p), true);
          return is_array($d) ? $d : [];
        }
        $d = json_decode($v, true);
        if (is_array($d)) return $d;
        $d = unserialize($v, ['allowed_classes' => false]);
        return is_array($d) ? $d : [];
      }`;
    const configs = [TOTP, DUO_ADMIN, LEGACY, { yubicoprefix: 'ä/ö 😀', backupcode: 'b', attempts: 3 }];
    const targets: AccountConfigTarget[] = ['serialized', 'json', 'aes'];
    const cases = configs.flatMap((c) => targets.map((t) => ({ stored: encodeAccountConfig(c, t, H), expected: c })));
    const ok = phpMap<boolean>(`return read_cfg($x['stored'], '${H}') === $x['expected'];`, cases, prelude);
    expect(ok).toEqual(cases.map(() => true));
  });
});
