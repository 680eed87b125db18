import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  parseYubicoResponse,
  validateYubicoClientId,
  validateYubicoOtp,
  validateYubicoSecretKey,
  verifyYubicoOtp,
  yubicoKeyId,
  yubicoPrefixHash,
  yubicoSignature,
  type YubicoVerifyResult,
} from '../src/services/yubico-client.js';
import { describeWithPeer } from './helpers/peers.js';
import { mockSign, startYubiMock, type YubiMock } from './helpers/yubi-mock.js';
import { startYubiserver, type YubiserverPeer } from './helpers/yubiserver.js';

// A real exchange with Debian's yubiserver (API key id 1, stored secret "YLcisVtTGhuLHacY4RR5").
const RECORDED = {
  secretKey: 'WUxjaXNWdFRHaHVMSGFjWTRSUjU=',
  otp: 'cccccbcdefghbfllikvghhtjhgrhgubcldbjttfdfgcg',
  nonce: 'abcdefghijklmnopqrstu',
  body:
    'h=6Pf3GgWcs5nfhiY5hetTYmLqwmg=\r\nt=2026-11-27T18:44:03.973Z\r\n' +
    'otp=cccccbcdefghbfllikvghhtjhgrhgubcldbjttfdfgcg\r\nnonce=abcdefghijklmnopqrstu\r\nsl=100\r\nstatus=OK\r\n',
};
const KEY = RECORDED.secretKey;
const OTHER_KEY = Buffer.alloc(20, 7).toString('base64');
const OTP = RECORDED.otp;
let otpSerial = 0;
/** A distinct well-formed OTP each call (the mock only looks at its shape and replay history). */
function freshOtp(): string {
  const n = (otpSerial++).toString(16).padStart(32, '0');
  return 'cccccbcdefgh' + [...n].map((c) => 'cbdefghijklnrtuv'[parseInt(c, 16)]).join('');
}

function expectOneLine(r: YubicoVerifyResult): void {
  expect(r.message).not.toMatch(/\n|\r/);
  expect(r.message).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
  expect(r.message).not.toContain(KEY);
}

describe('OTP shape, key ID and WHMCS yubicoprefix', () => {
  it('accepts 32–48 modhex characters, case-insensitively', () => {
    expect(validateYubicoOtp(OTP)).toBeNull();
    expect(validateYubicoOtp('c'.repeat(32))).toBeNull();
    expect(validateYubicoOtp('c'.repeat(48))).toBeNull();
    expect(validateYubicoOtp(` ${OTP.toUpperCase()}\n`)).toBeNull();
  });

  it('names what is wrong with a non-OTP', () => {
    expect(validateYubicoOtp('')).toMatch(/empty/);
    expect(validateYubicoOtp('c'.repeat(31))).toMatch(/32–48 .* got 31/);
    expect(validateYubicoOtp('c'.repeat(49))).toMatch(/got 49/);
    expect(validateYubicoOtp(OTP.slice(0, 40) + 'aaaa')).toMatch(/"a" is not a modhex/);
    expect(validateYubicoOtp('123456')).toMatch(/"1" is not a modhex/);
  });

  it('key ID is the first 12 modhex characters; a bare key ID is accepted', () => {
    expect(yubicoKeyId(OTP)).toBe('cccccbcdefgh');
    expect(yubicoKeyId(OTP.toUpperCase())).toBe('cccccbcdefgh');
    expect(yubicoKeyId('cccccbcdefgh')).toBe('cccccbcdefgh');
    expect(() => yubicoKeyId('cccccbcdefg')).toThrow(UsageError);
    expect(() => yubicoKeyId('not an otp at all')).toThrow(UsageError);
  });

  it('yubicoprefix is sha1 hex of the key ID (printf cccccbcdefgh | sha1sum)', () => {
    expect(yubicoPrefixHash(OTP)).toBe('c1e383d1c8db9a5748b3e8ed16cee3ec75aa2711');
    expect(yubicoPrefixHash('cccccbcdefgh')).toBe('c1e383d1c8db9a5748b3e8ed16cee3ec75aa2711');
    expect(yubicoPrefixHash(freshOtp())).toBe(yubicoPrefixHash(OTP));
  });
});

describe('credential validation', () => {
  it('secret key: canonical padded base64 of at least one byte', () => {
    expect(validateYubicoSecretKey(KEY)).toBeNull();
    expect(validateYubicoSecretKey(Buffer.alloc(20, 0xfb).toString('base64'))).toBeNull(); // has + and /
    expect(validateYubicoSecretKey('AA==')).toBeNull();
    expect(validateYubicoSecretKey('AAA=')).toBeNull();
    expect(validateYubicoSecretKey('')).toMatch(/empty/);
    expect(validateYubicoSecretKey(`${KEY}\n`)).toMatch(/whitespace/);
    expect(validateYubicoSecretKey('ab-_abcd')).toMatch(/URL-safe/);
    expect(validateYubicoSecretKey('abc$')).toMatch(/not base64/);
    expect(validateYubicoSecretKey(KEY.slice(0, 27))).toMatch(/multiple of 4/);
    expect(validateYubicoSecretKey('A===')).toMatch(/not valid base64/);
    expect(validateYubicoSecretKey('a=bc')).toMatch(/= may only pad/);
    expect(validateYubicoSecretKey('====')).toMatch(/not valid base64/);
    expect(validateYubicoSecretKey('AB==')).toMatch(/canonical/); // Node would quietly decode it
    for (const bad of [`${KEY}\n`, 'abc$', KEY.slice(0, 27)]) {
      expect(validateYubicoSecretKey(bad)).not.toContain(bad.trim());
    }
  });

  it('client ID: a positive whole number', () => {
    for (const ok of [1, 87, '1', '12345', String(Number.MAX_SAFE_INTEGER)]) expect(validateYubicoClientId(ok)).toBeNull();
    expect(validateYubicoClientId(0)).toMatch(/positive/);
    expect(validateYubicoClientId(-3)).toMatch(/positive/);
    expect(validateYubicoClientId(1.5)).toMatch(/positive/);
    expect(validateYubicoClientId('')).toMatch(/empty/);
    expect(validateYubicoClientId('0')).toMatch(/positive/);
    expect(validateYubicoClientId('012')).toMatch(/start with 0/);
    expect(validateYubicoClientId('12a')).toMatch(/digits only/);
    expect(validateYubicoClientId('-1')).toMatch(/digits only/);
    expect(validateYubicoClientId('1e3')).toMatch(/digits only/);
    expect(validateYubicoClientId('99999999999999999999')).toMatch(/too large/);
  });
});

describe('signing and parsing', () => {
  it('request signature matches openssl', () => {
    // printf 'id=87&nonce=…&otp=…' | openssl dgst -sha1 -mac HMAC -macopt hexkey:<key hex> -binary | base64
    const params = { otp: OTP, id: '87', nonce: '0123456789abcdef0123456789abcdef' };
    expect(yubicoSignature(params, Buffer.from(KEY, 'base64'))).toBe('J1Z9VbN+Ojc8M6ah73+AYwE/r90=');
  });

  it('response signature of a recorded yubiserver answer verifies', () => {
    const fields = parseYubicoResponse(RECORDED.body);
    expect(typeof fields).toBe('object');
    const f = fields as Record<string, string>;
    expect(f.h).toBe('6Pf3GgWcs5nfhiY5hetTYmLqwmg=');
    expect(yubicoSignature(f, Buffer.from(KEY, 'base64'))).toBe(f.h);
  });

  it('splits each line at its first "="', () => {
    expect(parseYubicoResponse('h=ab+/c==\nstatus=OK\nx=a=b=c\n')).toEqual({ h: 'ab+/c==', status: 'OK', x: 'a=b=c' });
  });

  it('rejects bodies that are not key=value lines with a status', () => {
    expect(parseYubicoResponse('')).toMatch(/empty/);
    expect(parseYubicoResponse('<html><body>Bad gateway</body></html>')).toMatch(/unexpected line/);
    expect(parseYubicoResponse('h=abc\nt=now\n')).toMatch(/no status/);
    expect(parseYubicoResponse('status=OK\nstatus=BAD_OTP\n')).toMatch(/twice/);
    expect(parseYubicoResponse('=OK\n')).toMatch(/unexpected line/);
  });
});

describe('verifyYubicoOtp against a mock validation server', () => {
  let mock: YubiMock;
  const CLIENT_ID = '87';
  const verify = (over: Partial<Parameters<typeof verifyYubicoOtp>[0]> = {}) =>
    verifyYubicoOtp({ otp: freshOtp(), clientId: CLIENT_ID, secretKey: KEY, apiUrl: mock.url, timeoutMs: 5000, ...over });

  beforeEach(async () => {
    mock = await startYubiMock({ clientId: CLIENT_ID, secretKey: KEY });
  });
  afterEach(async () => {
    await mock.close();
  });

  it('OK: signed request that the server verifies, signed answer that we verify', async () => {
    const otp = freshOtp();
    const r = await verify({ otp });
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: true, serverStatus: 'OK', httpStatus: 200 });
    expect(r.keyId).toBe('cccccbcdefgh');
    expect(r.message).toMatch(/valid/);
    expectOneLine(r);
    expect(mock.requests).toHaveLength(1);
    const seen = mock.requests[0];
    expect(seen.signatureValid).toBe(true);
    expect(Object.keys(seen.params)).toEqual(['id', 'otp', 'nonce', 'h']);
    expect(seen.params).toMatchObject({ id: CLIENT_ID, otp, nonce: r.nonce });
    expect(r.nonce).toMatch(/^[A-Za-z0-9]{16,40}$/);
    expect(seen.rawUrl.startsWith('/wsapi/2.0/verify?')).toBe(true);
  });

  it('sends exactly the documented request, h URL-encoded', async () => {
    const nonce = '0123456789abcdef0123456789abcdef';
    const r = await verify({ otp: OTP, nonce });
    expect(r.ok).toBe(true);
    expect(mock.requests[0].rawUrl).toBe(
      `/wsapi/2.0/verify?id=87&otp=${OTP}&nonce=${nonce}&h=J1Z9VbN%2BOjc8M6ah73%2BAYwE%2Fr90%3D`,
    );
    expect(mock.requests[0].signatureValid).toBe(true);
  });

  it('a fresh nonce per request', async () => {
    const a = await verify();
    const b = await verify();
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('accepts the recorded yubiserver answer (values containing "=")', async () => {
    mock.setHandler(() => ({ raw: RECORDED.body }));
    const r = await verify({ otp: OTP, nonce: RECORDED.nonce });
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: true });
    expect(r.fields.h).toBe('6Pf3GgWcs5nfhiY5hetTYmLqwmg=');
  });

  it('extra fields are covered by the signature', async () => {
    mock.setHandler((req, m) => m.defaultReply(req, { sessioncounter: '5', extra: 'a=b==' }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: true });
    expect(r.fields.extra).toBe('a=b==');
  });

  it('unsigned mode: empty secret key → no h sent, answer not authenticated', async () => {
    const r = await verify({ secretKey: '' });
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: null });
    expect(r.message).toMatch(/unauthenticated/);
    expect(mock.requests[0].params.h).toBeUndefined();
    expect(mock.requests[0].signatureValid).toBeNull();
  });

  it('REPLAYED_OTP', async () => {
    const otp = freshOtp();
    expect((await verify({ otp })).ok).toBe(true);
    const r = await verify({ otp });
    expect(r).toMatchObject({ status: 'REPLAYED_OTP', ok: false, responseSignatureValid: true });
    expect(r.message).toBe('this OTP was already used — touch the key again for a fresh one');
  });

  it('BAD_SIGNATURE: the server rejects our request signature (answer correctly signed)', async () => {
    mock.setHandler((req, m) => m.defaultReply(req, { status: 'BAD_SIGNATURE' }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'BAD_SIGNATURE', ok: false, responseSignatureValid: true });
    expect(r.message).toMatch(/Secret Key does not belong to Client ID 87/);
  });

  it('wrong secret key: the mock answers BAD_SIGNATURE, which we cannot authenticate either', async () => {
    const r = await verify({ secretKey: OTHER_KEY });
    expect(mock.requests[0].signatureValid).toBe(false);
    expect(r).toMatchObject({ status: 'BAD_RESPONSE_SIGNATURE', ok: false, serverStatus: 'BAD_SIGNATURE', responseSignatureValid: false });
    expect(r.message).toMatch(/Secret Key is most likely wrong/);
    expect(r.message).not.toContain(OTHER_KEY);
  });

  it('a wrong h on an OK answer is rejected', async () => {
    mock.setHandler((req, m) => ({ ...(m.defaultReply(req) as { fields: Record<string, string> }), sign: 'wrong' }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'BAD_RESPONSE_SIGNATURE', ok: false, serverStatus: 'OK', responseSignatureValid: false });
    expectOneLine(r);
  });

  it('an OK signed with some other key is rejected', async () => {
    mock.setHandler((req) => {
      const fields = { otp: req.params.otp, nonce: req.params.nonce, status: 'OK', t: 'x' };
      return { raw: `h=${mockSign(fields, OTHER_KEY)}\nstatus=OK\notp=${fields.otp}\nnonce=${fields.nonce}\nt=x\n` };
    });
    expect((await verify()).status).toBe('BAD_RESPONSE_SIGNATURE');
  });

  it('a tampered field under a valid-looking h is rejected', async () => {
    mock.setHandler((req) => {
      const signed = { otp: req.params.otp, nonce: req.params.nonce, status: 'BAD_OTP', t: 'x' };
      return { raw: `h=${mockSign(signed, KEY)}\nstatus=OK\notp=${signed.otp}\nnonce=${signed.nonce}\nt=x\n` };
    });
    expect((await verify()).status).toBe('BAD_RESPONSE_SIGNATURE');
  });

  it('an unsigned OK is rejected when a key is configured', async () => {
    mock.setHandler((req, m) => ({ ...(m.defaultReply(req) as { fields: Record<string, string> }), sign: false }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'BAD_RESPONSE_SIGNATURE', ok: false });
    expect(r.message).toMatch(/without a signature/);
  });

  it('NO_SUCH_CLIENT (unsigned, as real servers send it)', async () => {
    const r = await verify({ clientId: 999 });
    expect(r).toMatchObject({ status: 'NO_SUCH_CLIENT', ok: false, responseSignatureValid: false });
    expect(r.message).toMatch(/Client ID 999/);
  });

  it('nonce echo must match', async () => {
    mock.setHandler((req, m) => m.defaultReply(req, { nonce: 'ffffffffffffffffffffffffffffffff' }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'NONCE_MISMATCH', ok: false, responseSignatureValid: true });
    expect(r.message).toMatch(/different nonce/);
  });

  it('an OK without any nonce echo is not trusted', async () => {
    mock.setHandler((req) => ({ fields: { otp: req.params.otp, status: 'OK', t: 'x' } }));
    expect((await verify()).status).toBe('NONCE_MISMATCH');
  });

  it('otp echo must match', async () => {
    const other = freshOtp();
    mock.setHandler((req, m) => m.defaultReply(req, { otp: other }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'OTP_MISMATCH', ok: false, responseSignatureValid: true });
    expect(r.message).toMatch(/different OTP/);
  });

  it('a failure without echoes (early server errors) is reported as sent', async () => {
    mock.setHandler(() => ({ fields: { t: 'x', status: 'MISSING_PARAMETER' } }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'MISSING_PARAMETER', ok: false, responseSignatureValid: true });
  });

  it.each([
    ['BAD_OTP', /rejected the OTP/],
    ['OPERATION_NOT_ALLOWED', /does not allow Client ID 87/],
    ['BACKEND_ERROR', /internal error/],
    ['NOT_ENOUGH_ANSWERS', /sync servers/],
    ['REPLAYED_REQUEST', /already seen this OTP with this nonce/],
  ])('%s has its own message', async (status, re) => {
    mock.setHandler((req, m) => m.defaultReply(req, { status }));
    const r = await verify();
    expect(r).toMatchObject({ status, ok: false, serverStatus: status });
    expect(r.message).toMatch(re);
    expectOneLine(r);
  });

  it('an unknown status is a failure', async () => {
    mock.setHandler((req, m) => m.defaultReply(req, { status: 'DELAYED_OTP' }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'UNKNOWN_STATUS', ok: false, serverStatus: 'DELAYED_OTP' });
    expect(r.message).toMatch(/"DELAYED_OTP"/);
  });

  it('malformed bodies', async () => {
    mock.setHandler(() => ({ raw: '<html><body><h1>Welcome to nginx!</h1></body></html>', contentType: 'text/html' }));
    const html = await verify();
    expect(html).toMatchObject({ status: 'MALFORMED_RESPONSE', ok: false, httpStatus: 200 });
    expect(html.message).toMatch(/did not send a Yubico verification answer/);
    expectOneLine(html);
    mock.setHandler(() => ({ raw: '' }));
    expect((await verify()).status).toBe('MALFORMED_RESPONSE');
    mock.setHandler(() => ({ raw: 'h=abc\r\nt=x\r\n' }));
    expect((await verify()).message).toMatch(/no status field/);
  });

  it('non-200 answers', async () => {
    mock.setHandler(() => ({ raw: 'oops', httpStatus: 503 }));
    const r = await verify();
    expect(r).toMatchObject({ status: 'HTTP_ERROR', ok: false, httpStatus: 503 });
    expect(r.message).toMatch(/HTTP 503 Service Unavailable/);
    const wrongPath = await verify({ apiUrl: `${mock.url}/elsewhere/` });
    expect(wrongPath).toMatchObject({ status: 'HTTP_ERROR', httpStatus: 404 });
  });

  it('timeout', async () => {
    mock.setHandler(() => ({ hang: true }));
    // The given timeout governs: of two requests started together, the shorter gives up first (an
    // order, not a time limit).
    const short = verify({ timeoutMs: 300 });
    const long = verify({ timeoutMs: 1500 });
    const first = await Promise.race([short.then(() => 'short'), long.then(() => 'long')]);
    expect(first).toBe('short');
    const r = await short;
    expect((await long).status).toBe('TIMEOUT');
    expect(r).toMatchObject({ status: 'TIMEOUT', ok: false, httpStatus: null });
    expect(r.message).toMatch(/no answer from 127\.0\.0\.1:\d+ within 0\.3 s/);
  });

  it('connection refused', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const r = await verify({ apiUrl: `http://127.0.0.1:${port}` });
    expect(r).toMatchObject({ status: 'NETWORK_ERROR', ok: false });
    expect(r.message).toMatch(/cannot reach 127\.0\.0\.1:\d+: connection refused/);
    expectOneLine(r);
  });

  it('the API URL may carry a trailing slash or the full verify path', async () => {
    expect((await verify({ apiUrl: `${mock.url}/` })).ok).toBe(true);
    expect((await verify({ apiUrl: `${mock.url}/wsapi/2.0/verify` })).ok).toBe(true);
    expect(mock.requests.every((q) => q.rawUrl.startsWith('/wsapi/2.0/verify?'))).toBe(true);
  });

  it('bad arguments throw before anything is sent', async () => {
    await expect(verify({ otp: 'hello' })).rejects.toThrow(UsageError);
    await expect(verify({ otp: 'c'.repeat(31) })).rejects.toThrow(/32–48/);
    await expect(verify({ clientId: '0' })).rejects.toThrow(/Client ID/);
    await expect(verify({ secretKey: 'not base64!' })).rejects.toThrow(/Secret Key/);
    await expect(verify({ nonce: 'short' })).rejects.toThrow(/nonce/);
    await expect(verify({ apiUrl: 'api.yubico.com' })).rejects.toThrow(/not a URL/);
    await expect(verify({ apiUrl: 'ftp://api.yubico.com' })).rejects.toThrow(/https/);
    await expect(verify({ timeoutMs: 0 })).rejects.toThrow(/timeout/);
    expect(mock.requests).toHaveLength(0);
  });

  it('OTPs are sent lower-cased and trimmed', async () => {
    const otp = freshOtp();
    const r = await verify({ otp: `  ${otp.toUpperCase()}\n` });
    expect(r.ok).toBe(true);
    expect(mock.requests[0].params.otp).toBe(otp);
  });
});

describeWithPeer(['yubiserver', 'yubiserver-admin', 'ykgenerate'], 'verifyYubicoOtp against Debian yubiserver', () => {
  let peer: YubiserverPeer;
  const verify = (otp: string, over: Partial<Parameters<typeof verifyYubicoOtp>[0]> = {}) =>
    verifyYubicoOtp({ otp, clientId: peer.clientId, secretKey: peer.secretKey, apiUrl: peer.url, timeoutMs: 5000, ...over });

  beforeAll(async () => {
    peer = await startYubiserver();
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('the API key yubiserver-admin printed is a 20-byte base64 key', () => {
    expect(validateYubicoSecretKey(peer.secretKey)).toBeNull();
    expect(Buffer.from(peer.secretKey, 'base64')).toHaveLength(20);
    expect(validateYubicoClientId(peer.clientId)).toBeNull();
  });

  it('OK for a fresh OTP, with a verified response signature', async () => {
    const otp = await peer.nextOtp();
    const r = await verify(otp);
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: true, keyId: peer.key.publicId });
    expect(yubicoPrefixHash(otp)).toBe(createHash('sha1').update(peer.key.publicId).digest('hex'));
  });

  it('REPLAYED_OTP when the same OTP comes again (yubiserver tracks the counter)', async () => {
    const otp = await peer.nextOtp();
    expect((await verify(otp)).ok).toBe(true);
    const r = await verify(otp);
    expect(r).toMatchObject({ status: 'REPLAYED_OTP', ok: false, responseSignatureValid: true });
  });

  it('BAD_OTP for garbage behind a known key ID', async () => {
    const r = await verify(peer.key.publicId + 'c'.repeat(32));
    expect(r).toMatchObject({ status: 'BAD_OTP', ok: false, responseSignatureValid: true });
  });

  it('BAD_OTP for an OTP from a key the server does not know', async () => {
    const r = await verify(await peer.foreignOtp());
    expect(r).toMatchObject({ status: 'BAD_OTP', ok: false, responseSignatureValid: true });
  });

  it('NO_SUCH_CLIENT for an unknown client ID', async () => {
    const r = await verify(await peer.nextOtp(), { clientId: 4242 });
    expect(r).toMatchObject({ status: 'NO_SUCH_CLIENT', ok: false, responseSignatureValid: false });
  });

  it('an answer signed with the real key fails against a wrong configured key', async () => {
    const r = await verify(await peer.nextOtp(), { secretKey: OTHER_KEY });
    expect(r).toMatchObject({ status: 'BAD_RESPONSE_SIGNATURE', ok: false, serverStatus: 'OK' });
  });

  it('unsigned mode still works and says so', async () => {
    const r = await verify(await peer.nextOtp(), { secretKey: '' });
    expect(r).toMatchObject({ status: 'OK', ok: true, responseSignatureValid: null });
  });
});
