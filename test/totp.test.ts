import { createHash, createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NotFoundError, ParseError, UsageError } from '../src/errors.js';
import { analyzeCode, effectiveToken } from '../src/services/totp/code-check.js';
import { base32Encode, generateTotpSecret, normalizeImportedSecret, sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { encodeTokendata, secretBytesFromConfig, TokendataMalformedError, TotpSecretMissingError } from '../src/services/totp/stored-secret.js';
import { isReplayed, recordUsedOtp, replayCacheKey } from '../src/services/totp/replay-list.js';
import { issuerFromSystemUrl, otpauthUri, rawurlencode } from '../src/services/totp/otpauth-uri.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { describeWithPeer } from './helpers/peers.js';
import { totpAt, whmcsAccepts } from './helpers/whmcs-oracles.js';

// § numbers refer to docs/data-model.md.

const JBSWY = 'JBSWY3DPEHPK3PXP';
const JBSWY_HEX = '48656c6c6f21deadbeef';
const TOKEN_SERIALIZED =
  'a:6:{s:8:"tokenkey";s:20:"48656c6c6f21deadbeef";s:9:"tokentype";s:4:"TOTP";s:10:"tokentimer";i:30;' +
  's:12:"tokencounter";i:1;s:14:"tokenalgorithm";s:4:"SHA1";s:4:"user";s:0:"";}';

/** Reproducible "random" material, so a rare code collision can never make a run flaky. */
function det(label: string, i: number): Buffer {
  return createHash('sha256').update(`${label}-${i}`).digest();
}
function detSecret(i: number): Buffer {
  return det('secret', i).subarray(0, 10);
}
function detTime(i: number): number {
  return 1_000_000_000 + (det('time', i).readUInt32BE(0) % 1_000_000_000);
}

describe('§12 TOTP vectors', () => {
  it.each([
    [59, '996554'],
    [1111111109, '071271'],
    [1700000000, '324550'],
  ])('JBSWY3DPEHPK3PXP at %i → %s', async (t, code) => {
    const { bytes } = secretBytesFromConfig({ secret: JBSWY });
    expect(await totpAt(bytes, t)).toBe(code);
    expect(await whmcsAccepts(bytes, code, t)).toBe(true);
  });

  it('RFC 6238 20-byte secret at 59 → 287082', async () => {
    const { bytes } = secretBytesFromConfig({ secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' });
    expect(bytes.toString()).toBe('12345678901234567890');
    expect(await totpAt(bytes, 59)).toBe('287082');
  });

  it('lowercase secret gives the wrong key exactly as WHMCS does: 542034', async () => {
    const r = secretBytesFromConfig({ secret: 'jbswy3dpehpk3pxp' });
    expect(await totpAt(r.bytes, 1700000000)).toBe('542034');
    expect(r.warnings.join(' ')).toMatch(/outside A-Z2-7/);
    expect(await whmcsAccepts(r.bytes, '324550', 1700000000)).toBe(false);
  });

  it('same vectors via legacy tokendata', async () => {
    const tokendata = Buffer.from(TOKEN_SERIALIZED).toString('base64');
    const r = secretBytesFromConfig({ tokendata, backupcode: 'x' });
    expect(r).toMatchObject({ source: 'tokendata', mode: 'ga4php' });
    expect(r.bytes.toString('hex')).toBe(JBSWY_HEX);
    expect(await totpAt(r.bytes, 1111111109)).toBe('071271');
  });
});

describe('secrets', () => {
  it('generateTotpSecret: 16 uppercase base32 chars = 10 fresh bytes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const s = generateTotpSecret();
      expect(s).toMatch(/^[A-Z2-7]{16}$/);
      expect(sonataBase32Decode(s)).toHaveLength(10);
      expect(base32Encode(sonataBase32Decode(s))).toBe(s);
      seen.add(s);
    }
    expect(seen.size).toBe(50);
  });

  it('Sonata decoding equals RFC 4648 for every canonical length', () => {
    for (let n = 1; n <= 40; n++) {
      const bytes = det('len', n).subarray(0, Math.min(n, 32));
      const padded = Buffer.concat([bytes, det('len2', n)]).subarray(0, n);
      expect(sonataBase32Decode(base32Encode(padded)).equals(padded)).toBe(true);
    }
    expect(sonataBase32Decode(`${JBSWY}======`).toString('hex')).toBe(JBSWY_HEX);
  });

  it('Sonata decoding skips unknown characters and emits a partial last byte', () => {
    expect(sonataBase32Decode('JBSW-Y3DP EHPK3PXP').toString('hex')).toBe(JBSWY_HEX);
    // 17 chars: apps drop the 5 leftover bits, Sonata makes an 11th byte of them.
    expect(sonataBase32Decode(`${JBSWY}A`)).toHaveLength(11);
    expect(sonataBase32Decode('')).toHaveLength(0);
    expect(sonataBase32Decode('abcdefgh')).toHaveLength(0);
  });

  it('an empty key works (HMAC treats it like a single zero byte)', async () => {
    const hEmpty = createHmac('sha1', Buffer.alloc(0)).update('x').digest('hex');
    expect(createHmac('sha1', Buffer.alloc(1)).update('x').digest('hex')).toBe(hEmpty);
    expect(await totpAt(Buffer.alloc(0), 1700000000)).toMatch(/^\d{6}$/);
    expect(secretBytesFromConfig({ secret: 'nothing valid' }).bytes).toHaveLength(0);
  });

  it('normalizeImportedSecret cleans and validates', () => {
    expect(normalizeImportedSecret(' jbsw y3dp\tehpk 3pxp ')).toBe(JBSWY);
    expect(normalizeImportedSecret(`${JBSWY}======`)).toBe(JBSWY);
    expect(normalizeImportedSecret('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    for (const bad of ['', '   ', 'JBSWY3DPEHPK3PX1', 'JBSWY3DPEHPK3PX8', 'JBSWY3DP-EHPK3PXP', 'JBSWY3DPEHPK3PX', `${JBSWY}A`]) {
      expect(() => normalizeImportedSecret(bad), bad).toThrow(UsageError);
    }
    expect(() => normalizeImportedSecret('JBSWY3DPEHPK3P0P')).toThrow(/not base32 \(0\)/);
    expect(() => normalizeImportedSecret('JBSWY3DPEHPK3PX')).toThrow(/too short \(9 bytes\)/);
    expect(() => normalizeImportedSecret(`${JBSWY}A`)).toThrow(/17-character secret is not valid base32/);
    try {
      normalizeImportedSecret('!');
      expect.unreachable();
    } catch (e) {
      expect((e as UsageError).exitCode).toBe(2);
    }
  });

  it('secretBytesFromConfig: tokendata wins over secret (as WHMCS checks it), Map input, typed errors', () => {
    const tokendata = encodeTokendata(Buffer.alloc(10, 7));
    const both = secretBytesFromConfig({ secret: JBSWY, tokendata });
    expect(both).toMatchObject({ source: 'tokendata' });
    expect(both.bytes.equals(Buffer.alloc(10, 7))).toBe(true);
    expect(both.warnings.join(' ')).toMatch(/both a legacy "tokendata" and a "secret": WHMCS checks "tokendata"/);
    const onlySecret = secretBytesFromConfig({ secret: JBSWY, tokendata: '' });
    expect(onlySecret).toMatchObject({ source: 'secret', mode: 'sonata', warnings: [] });
    expect(onlySecret.description).toBe('base32 secret (16 chars → 10-byte key, Sonata decoding)');
    expect(secretBytesFromConfig(new Map([['tokendata', tokendata]])).bytes.equals(Buffer.alloc(10, 7))).toBe(true);
    // PHP truthiness: '0' is not a secret.
    expect(secretBytesFromConfig({ secret: '0', tokendata }).source).toBe('tokendata');

    expect(() => secretBytesFromConfig({ backupcode: 'abc' })).toThrow(TotpSecretMissingError);
    expect(() => secretBytesFromConfig({})).toThrow(NotFoundError);
    expect(() => secretBytesFromConfig({ tokendata: '!!!not base64' })).toThrow(TokendataMalformedError);
    expect(() => secretBytesFromConfig({ tokendata: Buffer.from('a:1:{s:4:"user";s:0:"";}').toString('base64') })).toThrow(
      /no tokenkey/,
    );
    const notHex = Buffer.from('a:1:{s:8:"tokenkey";s:4:"zz00";}').toString('base64');
    expect(() => secretBytesFromConfig({ tokendata: notHex })).toThrow(ParseError);
    expect(() => secretBytesFromConfig({ secret: 12345 })).toThrow(TokendataMalformedError);
  });
});

describe('tokendata', () => {
  it('encodes the exact ga4php shape (key order, i: for timer/counter, lowercase hex)', () => {
    const t = encodeTokendata(Buffer.from(JBSWY_HEX, 'hex'));
    expect(Buffer.from(t, 'base64').toString()).toBe(TOKEN_SERIALIZED);
  });

  it('accepts injected serializer functions', () => {
    let seen: unknown;
    const t = encodeTokendata(Buffer.from([0xab, 0xcd]), (v) => {
      seen = v;
      return 'X';
    });
    expect(t).toBe(Buffer.from('X').toString('base64'));
    expect(Object.keys(seen as object)).toEqual([
      'tokenkey',
      'tokentype',
      'tokentimer',
      'tokencounter',
      'tokenalgorithm',
      'user',
    ]);
    expect((seen as { tokenkey: string }).tokenkey).toBe('abcd');
    const r = secretBytesFromConfig({ tokendata: 'eA==' }, () => ({ tokenkey: 'ABCD' }));
    expect(r.bytes.toString('hex')).toBe('abcd');
  });

  it('round-trips random keys', () => {
    for (let i = 0; i < 20; i++) {
      const key = detSecret(i);
      const r = secretBytesFromConfig({ tokendata: encodeTokendata(key) });
      expect(r.bytes.equals(key)).toBe(true);
      expect(r.warnings).toEqual([]);
      expect(r.description).toBe('legacy tokendata (ga4php, tokenkey 20 hex chars → 10-byte key)');
    }
  });

  it('pads an odd tokenkey like pack("H*") and flags odd token settings', () => {
    const s = 'a:3:{s:8:"tokenkey";s:3:"abc";s:9:"tokentype";s:4:"HOTP";s:10:"tokentimer";i:60;}';
    const r = secretBytesFromConfig({ tokendata: Buffer.from(s).toString('base64') });
    expect(r.bytes.toString('hex')).toBe('abc0');
    expect(r.warnings).toHaveLength(3);
  });
});

describe('WHMCS acceptance rules', () => {
  const key = Buffer.from(JBSWY_HEX, 'hex');
  const t = 1111111109; // 071271; a leading zero matters for the loose/strict difference

  it('sonata: exact 6-character string only', async () => {
    expect(await whmcsAccepts(key, '071271', t, 'sonata')).toBe(true);
    for (const c of ['71271', ' 071271', '071271 ', '0071271', '+071271', '071271.0', '07127l', '']) {
      expect(await whmcsAccepts(key, c, t, 'sonata'), JSON.stringify(c)).toBe(false);
    }
  });

  it('ga4php: six digits somewhere, then PHP 8 loose ==', async () => {
    for (const c of ['071271', ' 071271', '071271 ', '\t071271\n', '0071271', '+071271', '071271.0', '0712710e-1']) {
      expect(await whmcsAccepts(key, c, t, 'ga4php'), JSON.stringify(c)).toBe(true);
    }
    for (const c of ['71271', '71271.0', 'x071271', '071271x', '0x071271', '-071271', '071271.5', '071272']) {
      expect(await whmcsAccepts(key, c, t, 'ga4php'), JSON.stringify(c)).toBe(false);
    }
  });

  it('window is exactly current step ±1', async () => {
    const secret = detSecret(99);
    const at = 1_700_000_015;
    for (let d = -3; d <= 3; d++) {
      const code = await totpAt(secret, at + d * 30);
      expect(await whmcsAccepts(secret, code, at), `d=${d}`).toBe(Math.abs(d) <= 1);
    }
  });
});

describeWithPeer(['php'], 'PHP semantics cross-check (php-cli)', () => {
  const php = (code: string, args: string[] = []): string =>
    execFileSync('php', ['-r', code, '--', ...args], { encoding: 'utf8' });

  it('serialize() of the ga4php token matches encodeTokendata', () => {
    const out = php(
      'echo base64_encode(serialize(["tokenkey"=>bin2hex(hex2bin($argv[1])),"tokentype"=>"TOTP","tokentimer"=>30,"tokencounter"=>1,"tokenalgorithm"=>"SHA1","user"=>""]));',
      [JBSWY_HEX],
    );
    expect(encodeTokendata(Buffer.from(JBSWY_HEX, 'hex'))).toBe(out);
  });

  it('ga4php input rule agrees with PHP preg_match + == for many inputs', () => {
    const inputs = [
      '071271', ' 071271', '071271 ', '\n071271', '0071271', '+071271', '-071271', '071271.0', '071271.', '.071271',
      '0712710e-1', '71271', '071271x', 'x071271', '0x11667', '071 271', '７１２７１', '000000071271', '071271e0',
      '1071271', '71271.00000', '0000071271.0000', ' +0071271.0e0 ',
    ];
    const phpOut = php(
      'foreach (array_slice($argv, 1) as $c) { echo (preg_match("/[0-9][0-9][0-9][0-9][0-9][0-9]/", $c) && $c == "071271") ? "1" : "0"; }',
      inputs,
    );
    const ours = inputs.map((c) => (effectiveToken(c, 'ga4php') === '071271' ? '1' : '0')).join('');
    expect(ours).toBe(phpOut);
  });

  it('rawurlencode and md5(identity . code) match PHP', () => {
    const s = "Ünïcødé !'()*~-_. +/&?=@:%";
    expect(rawurlencode(s)).toBe(php('echo rawurlencode($argv[1]);', [s]));
    expect(replayCacheKey('admin@example.com', '071271')).toBe(php('echo md5($argv[1] . $argv[2]);', ['admin@example.com', '071271']));
  });
});

describeWithPeer(['oathtool'], 'oathtool cross-check', () => {
  it('totpAt equals oathtool for many keys and times', async () => {
    for (let i = 0; i < 40; i++) {
      const secret = detSecret(i);
      const at = detTime(i);
      const [expected] = oathtoolTotp(base32Encode(secret), at);
      expect(await totpAt(secret, at), `secret #${i} at ${at}`).toBe(expected);
      // …and through the stored-secret path.
      expect(await totpAt(secretBytesFromConfig({ secret: base32Encode(secret) }).bytes, at)).toBe(expected);
    }
  });

  it('20-byte and odd-sized keys too', async () => {
    for (const n of [16, 20, 32, 5]) {
      const secret = det('size', n).subarray(0, n);
      const [expected] = oathtoolTotp(base32Encode(secret), 1_234_567_890);
      expect(await totpAt(secret, 1_234_567_890)).toBe(expected);
    }
  });

  it('analyzeCode classifies codes at −3, −1, 0, +1, +2 and outside the window', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const secret = detSecret(100 + i);
      const at = detTime(100 + i);
      // 31 reference codes, steps −15 … +15 around `at`.
      const ref = oathtoolTotp(base32Encode(secret), at - 15 * 30, 31);
      const codeAt = (d: number): string => ref[d + 15];
      const nearest = (code: string, window: number): number | null => {
        for (let k = 0; k <= window; k++) for (const d of k === 0 ? [0] : [-k, k]) if (codeAt(d) === code) return d;
        return null;
      };
      for (const d of [-3, -1, 0, 1, 2, 13, -15]) {
        const code = codeAt(d);
        const r = await analyzeCode(secret, code, { at });
        const expected = nearest(code, 10);
        expect(r.matchedStep, `#${i} d=${d}`).toBe(expected);
        expect(r.offsetSeconds).toBe(expected === null ? null : expected * 30);
        expect(r.accepted).toBe(expected !== null && Math.abs(expected) <= 1);
        expect(r.accepted).toBe(await whmcsAccepts(secret, code, at));
        seen.add(`${d}:${r.matchedStep}`);
      }
    }
    // With these keys no code repeats nearby, so every case lands where it was generated.
    expect(seen).toEqual(new Set(['-3:-3', '-1:-1', '0:0', '1:1', '2:2', '13:null', '-15:null']));
  });
});

describe('analyzeCode wording', () => {
  const key = Buffer.from(JBSWY_HEX, 'hex');
  const at = 1_700_000_000;

  it('explains past, future, current, neighbours and no match', async () => {
    const at3 = await analyzeCode(key, await totpAt(key, at - 90), { at });
    expect(at3).toMatchObject({ accepted: false, matchedStep: -3, offsetSeconds: -90, verdict: 'past' });
    expect(at3.explanation).toBe(
      'this code was valid 90 s ago — the device clock is about 90 s slow, or the server about 90 s fast',
    );

    const p2 = await analyzeCode(key, await totpAt(key, at + 60), { at });
    expect(p2).toMatchObject({ accepted: false, matchedStep: 2, offsetSeconds: 60, verdict: 'future' });
    expect(p2.explanation).toBe(
      'this code will be valid in 1 min — the device clock is about 1 min fast, or the server about 1 min slow',
    );

    const now = await analyzeCode(key, '324550', { at });
    expect(now).toMatchObject({ accepted: true, matchedStep: 0, offsetSeconds: 0, verdict: 'accepted' });
    expect(now.explanation).toBe('accepted now (matches the current step)');

    const prev = await analyzeCode(key, await totpAt(key, at - 30), { at });
    expect(prev).toMatchObject({ accepted: true, matchedStep: -1 });
    expect(prev.explanation).toMatch(/^accepted now \(matches the previous step, 30 s ago/);

    const far = await analyzeCode(key, await totpAt(key, at + 30 * 30), { at });
    expect(far).toMatchObject({ accepted: false, matchedStep: null, offsetSeconds: null, verdict: 'no-match' });
    expect(far.explanation).toBe(
      'no match within ±10 steps (±5 min) — wrong secret, wrong account, or the device is far off',
    );
    expect((await analyzeCode(key, '000000', { at, window: 3 })).explanation).toMatch(/^no match within ±3 steps \(±90 s\)/);
  });

  it('a wider window finds far-off codes; malformed input is classified', async () => {
    const r = await analyzeCode(key, await totpAt(key, at - 40 * 30), { at, window: 60 });
    expect(r.matchedStep).toBe(-40);
    expect(r.explanation).toMatch(/valid 20 min ago/);
    expect(await analyzeCode(key, '32455', { at })).toMatchObject({ verdict: 'malformed', matchedStep: null });
    expect((await analyzeCode(key, ' 324550', { at, mode: 'ga4php' })).accepted).toBe(true);
    expect((await analyzeCode(key, ' 324550', { at, mode: 'sonata' })).verdict).toBe('malformed');
    await expect(analyzeCode(key, '324550', { at, window: -1 })).rejects.toThrow(UsageError);
  });

  it('prefers the nearest step when a code repeats', async () => {
    // With this key the code 468979 comes up at steps 56705706 and 56705714 (found offline).
    expect(await totpAt(key, 56705706 * 30)).toBe('468979');
    expect(await totpAt(key, 56705714 * 30)).toBe('468979');
    expect((await analyzeCode(key, '468979', { at: 56705709 * 30 + 7 })).matchedStep).toBe(-3);
    expect((await analyzeCode(key, '468979', { at: 56705712 * 30 + 7 })).matchedStep).toBe(2);
    // 256847 at steps 56885100 and 56885102: equally near, the past wins.
    const tie = await analyzeCode(key, '256847', { at: 56885101 * 30 });
    expect(tie).toMatchObject({ matchedStep: -1, accepted: true });
  });
});

describe('replay protection (TOTPUsedOTPs)', () => {
  const email = 'admin@example.com';
  const now = 1_700_000_000;

  it('key is md5 hex of identity.code', () => {
    expect(replayCacheKey(email, '123456')).toBe(createHash('md5').update('admin@example.com123456').digest('hex'));
    expect(replayCacheKey('WHMCS:', '123456')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('presence means rejection however old, with the age reported', () => {
    const key = replayCacheKey(email, '123456');
    expect(isReplayed({}, email, '123456', now)).toMatchObject({ replayed: false, usedAt: null, ageSeconds: null });
    expect(isReplayed(null, email, '123456', now).replayed).toBe(false);
    expect(isReplayed({ [key]: now - 20 }, email, '123456', now)).toEqual({
      replayed: true,
      key,
      usedAt: now - 20,
      ageSeconds: 20,
      stale: false,
    });
    expect(isReplayed(new Map([[key, now - 5000]]), email, '123456', now)).toMatchObject({
      replayed: true,
      ageSeconds: 5000,
      stale: true,
    });
    expect(isReplayed({ [key]: now }, 'other@example.com', '123456', now).replayed).toBe(false);
  });

  it('recordUsedOtp adds the key then prunes entries older than 300 s', () => {
    const old = replayCacheKey('x', '111111');
    const edge = replayCacheKey('y', '222222');
    const map = recordUsedOtp({ [old]: now - 301, [edge]: now - 300 }, email, '123456', now);
    expect(map).toEqual({ [edge]: now - 300, [replayCacheKey(email, '123456')]: now });
  });
});

describe('provisioning URI and issuer', () => {
  it('rawurlencodes issuer and account like WHMCS 8.12', () => {
    expect(otpauthUri({ issuer: 'billing.example.com', account: "o'brien+2fa@example.com", secret: JBSWY })).toBe(
      'otpauth://totp/billing.example.com:o%27brien%2B2fa%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=billing.example.com',
    );
    expect(otpauthUri({ issuer: 'My Host (EU)', account: 'a*b!@x.io', secret: JBSWY })).toBe(
      'otpauth://totp/My%20Host%20%28EU%29:a%2Ab%21%40x.io?secret=JBSWY3DPEHPK3PXP&issuer=My%20Host%20%28EU%29',
    );
  });

  it('issuer is the System URL host', () => {
    expect(issuerFromSystemUrl('https://billing.example.com/whmcs/')).toBe('billing.example.com');
    expect(issuerFromSystemUrl('http://user:pw@Portal.Example.net:8443/x?y#z')).toBe('Portal.Example.net');
    expect(issuerFromSystemUrl('https://[2001:db8::1]:8080/')).toBe('[2001:db8::1]');
    expect(issuerFromSystemUrl('example.org/whmcs')).toBe('example.org');
    expect(issuerFromSystemUrl('')).toBe('WHMCS');
    expect(issuerFromSystemUrl(null)).toBe('WHMCS');
    expect(issuerFromSystemUrl('https:///nohost')).toBe('WHMCS');
  });
});
