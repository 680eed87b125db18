import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
// axios comes with @duosecurity/duo_universal; the library only lets itself be tested through an axios instance.
import axios from 'axios';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeDuoFailure,
  duoHealthCheck,
  validateDuoCredentials,
  type DuoHealthCheckOptions,
  type DuoHealthResult,
} from '../src/services/duo.js';
import { DUO_HEALTHY, DUO_INVALID_CLIENT, startDuoMock, type DuoMock } from './helpers/duo-mock.js';
import { duoUsername } from './helpers/whmcs-oracles.js';

// § numbers refer to docs/data-model.md.

const CLIENT_ID = 'DIWJ8X6AEYOR5OMC6TQ1';
const CLIENT_SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const WRONG_SECRET = 'Xh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const API_HOST = 'api-1a2b3c4d.duosecurity.com';
const GOOD = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, apiHostname: API_HOST };

function expectCleanMessage(r: DuoHealthResult, secret = CLIENT_SECRET): void {
  expect(r.message).not.toMatch(/[\r\n]/);
  expect(r.message).not.toMatch(/\bat .*:\d+:\d+/);
  expect(r.message).not.toContain(secret);
  expect(r.message.length).toBeLessThan(300);
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

describe('validateDuoCredentials', () => {
  it('accepts well-formed credentials', () => {
    expect(validateDuoCredentials(GOOD)).toEqual([]);
    expect(validateDuoCredentials({ ...GOOD, apiHostname: 'API-1A2B3C4D.DuoSecurity.com' })).toEqual([]);
    expect(validateDuoCredentials({ ...GOOD, apiHostname: 'api-1a2b3c4d.duofederal.com' })).toEqual([]);
  });

  it('Client ID exactly 20, Client Secret exactly 40 characters', () => {
    const problems = validateDuoCredentials({ ...GOOD, clientId: CLIENT_ID.slice(1), clientSecret: `${CLIENT_SECRET}x` });
    expect(problems).toEqual([
      { field: 'clientId', message: 'the Duo Client ID must be exactly 20 characters, got 19' },
      { field: 'clientSecret', message: 'the Duo Client Secret must be exactly 40 characters, got 41' },
    ]);
    expect(JSON.stringify(problems)).not.toContain(CLIENT_SECRET);
  });

  it('empty and whitespace values', () => {
    expect(validateDuoCredentials({ clientId: '', clientSecret: '', apiHostname: '' }).map((p) => p.field)).toEqual([
      'clientId',
      'clientSecret',
      'apiHostname',
    ]);
    const ws = validateDuoCredentials({ ...GOOD, clientSecret: `${CLIENT_SECRET.slice(0, 39)}\n` });
    expect(ws).toHaveLength(1);
    expect(ws[0].message).toMatch(/whitespace/);
    expect(ws[0].message).not.toContain(CLIENT_SECRET.slice(0, 39));
  });

  it.each([
    [`https://${API_HOST}`, /without https:\/\//],
    [`${API_HOST}/`, /bare host name/],
    [`${API_HOST}:443`, /bare host name/],
    ['admin-1a2b3c4d.duosecurity.com', /does not look like api-XXXXXXXX/],
    ['api-1a2b3c4d.duosecurity.com.example.net', /does not look like/],
    ['api-.duosecurity.com', /does not look like/],
    ['api-1a2b3c4d.duosecurity.eu', /does not look like/],
    ['duosecurity.com', /does not look like/],
  ])('API hostname %s is refused', (host, re) => {
    const problems = validateDuoCredentials({ ...GOOD, apiHostname: host });
    expect(problems).toHaveLength(1);
    expect(problems[0].field).toBe('apiHostname');
    expect(problems[0].message).toMatch(re);
  });
});

describe('duoUsername', () => {
  it('is identifier:email:license (§9)', () => {
    expect(duoUsername('jane@example.com', 'jane@example.com', 'Leased-0123abcd')).toBe(
      'jane@example.com:jane@example.com:Leased-0123abcd',
    );
    expect(duoUsername('admin', 'admin@example.com', 'Owned-xyz')).toBe('admin:admin@example.com:Owned-xyz');
  });
});

describe('the Duo library stays out of the startup path', () => {
  it('is only imported with await import()', () => {
    const src = readFileSync(new URL('../src/services/duo.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/^import\s+(?!type\b)[^;]*duo_universal/m);
    expect(src).toMatch(/await import\('@duosecurity\/duo_universal'\)/);
  });
});

describe('duoHealthCheck against a local Duo mock', () => {
  let mock: DuoMock;
  const check = (over: Partial<DuoHealthCheckOptions> = {}) =>
    duoHealthCheck({ ...GOOD, httpClient: axios.create({ baseURL: mock.url }), timeoutMs: 5000, ...over });

  beforeEach(async () => {
    mock = await startDuoMock({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, apiHost: API_HOST });
  });
  afterEach(async () => {
    await mock.close();
  });

  it('healthy answer → ok, and the library really signed the assertion with the secret', async () => {
    const r = await check();
    expect(r).toMatchObject({ ok: true, reason: 'ok' });
    expect(r.message).toMatch(/accepted the Client ID and Client Secret/);
    expect(typeof r.duoTime).toBe('number');
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0].path).toBe('/oauth/v1/health_check');
    expect(mock.requests[0].assertionProblem).toBeNull();
    expect(mock.requests[0].form.client_id).toBe(CLIENT_ID);
    expectCleanMessage(r);
  });

  it('a lower-case host is what the assertion is issued for', async () => {
    const r = await check({ apiHostname: API_HOST.toUpperCase() });
    expect(r.ok).toBe(true);
    expect(mock.requests[0].assertionProblem).toBeNull();
  });

  it('wrong Client Secret → Duo rejected the Client ID/Client Secret', async () => {
    const r = await check({ clientSecret: WRONG_SECRET });
    expect(mock.requests[0].assertionProblem).toBe('bad signature');
    expect(r).toMatchObject({ ok: false, reason: 'bad-credentials', httpStatus: 400 });
    expect(r.message).toMatch(/^Duo rejected the Client ID\/Client Secret/);
    expect(r.message).toMatch(/invalid_client/);
    expectCleanMessage(r, WRONG_SECRET);
  });

  it('HTTP 401 → Duo rejected the Client ID/Client Secret', async () => {
    mock.setHandler(() => ({ status: 401, body: { stat: 'FAIL', code: 40101, message: 'Missing request credentials' } }));
    const r = await check();
    expect(r).toMatchObject({ ok: false, reason: 'bad-credentials', httpStatus: 401 });
    expect(r.message).toMatch(/^Duo rejected the Client ID\/Client Secret/);
    expectCleanMessage(r);
  });

  it('OAuth-style invalid_client body', async () => {
    mock.setHandler(() => ({ status: 400, body: { error: 'invalid_client', error_description: 'The provided client_assertion was invalid.' } }));
    const r = await check();
    expect(r.reason).toBe('bad-credentials');
  });

  it('HTTP 200 with stat FAIL invalid_client', async () => {
    mock.setHandler(() => ({ status: 200, body: DUO_INVALID_CLIENT }));
    const r = await check();
    expect(r).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(r.message).toMatch(/^Duo rejected the Client ID\/Client Secret/);
  });

  it('server errors are reported with their status', async () => {
    mock.setHandler(() => ({ status: 503, body: { stat: 'FAIL', code: 50301, message: 'Service Unavailable', message_detail: 'try later' } }));
    const r = await check();
    expect(r).toMatchObject({ ok: false, reason: 'http-error', httpStatus: 503 });
    expect(r.message).toMatch(/HTTP 503: Service Unavailable: try later/);
    expectCleanMessage(r);
  });

  it('an answer that is not Duo (an HTML page)', async () => {
    mock.setHandler(() => ({ status: 200, body: '<html>captive portal</html>' }));
    const r = await check();
    expect(r).toMatchObject({ ok: false, reason: 'bad-response' });
    expect(r.message).toMatch(/did not confirm the health check \(Result missing expected data\)/);
  });

  it('a healthy answer with no timestamp is still healthy', async () => {
    mock.setHandler(() => ({ status: 200, body: { stat: 'OK' } }));
    const r = await check();
    expect(r.ok).toBe(true);
    expect(r.duoTime).toBeUndefined();
    mock.setHandler(() => ({ status: 200, body: DUO_HEALTHY(1700000000) }));
    expect((await check()).duoTime).toBe(1700000000);
  });

  it('connection refused → unreachable', async () => {
    const port = await closedPort();
    const r = await check({ httpClient: axios.create({ baseURL: `http://127.0.0.1:${port}` }) });
    expect(r).toMatchObject({ ok: false, reason: 'unreachable' });
    expect(r.message).toBe(`cannot reach Duo at ${API_HOST}: connection refused — check outbound HTTPS (port 443) from this machine`);
  });

  it('a dropped connection → unreachable', async () => {
    mock.setHandler(() => ({ destroy: true }));
    const r = await check();
    expect(r).toMatchObject({ ok: false, reason: 'unreachable' });
    expectCleanMessage(r);
  });

  it('no answer → timeout', async () => {
    mock.setHandler(() => ({ hang: true }));
    // The given timeout governs: of two checks started together, the shorter gives up first (an
    // order, not a time limit).
    const short = check({ timeoutMs: 300 });
    const long = check({ timeoutMs: 1500 });
    const first = await Promise.race([short.then(() => 'short'), long.then(() => 'long')]);
    expect(first).toBe('short');
    const r = await short;
    expect((await long).reason).toBe('timeout');
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
    expect(r.message).toBe(`Duo at ${API_HOST} did not answer within 0.3 s — check the network and try again`);
  });

  it('malformed credentials never reach the network', async () => {
    const r = await check({ clientSecret: 'short-secret', apiHostname: 'https://api-1a2b3c4d.duosecurity.com' });
    expect(r).toMatchObject({ ok: false, reason: 'invalid-config' });
    expect(r.message).toMatch(/Client Secret must be exactly 40 characters, got 12; .*without https/);
    expect(r.message).not.toContain('short-secret');
    expect(mock.requests).toHaveLength(0);
  });
});

describe('describeDuoFailure (errors the network cannot be made to produce here)', () => {
  const ctx = { host: API_HOST, clientSecret: CLIENT_SECRET, timeoutMs: 10_000 };
  const wrapped = (code: string) => Object.assign(new Error(`getaddrinfo ${code} ${API_HOST}`), { inner: { isAxiosError: true, code, message: `x ${code}` } });

  it.each([
    ['ENOTFOUND', 'dns', /does not resolve/],
    ['EAI_AGAIN', 'dns', /failed temporarily/],
    ['ECONNABORTED', 'timeout', /did not answer within 10 s/],
    ['ETIMEDOUT', 'timeout', /did not answer/],
    ['EHOSTUNREACH', 'unreachable', /no route to host/],
    ['ECONNRESET', 'unreachable', /dropped/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls', /pinned CAs/],
    ['CERT_HAS_EXPIRED', 'tls', /CERT_HAS_EXPIRED/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', /proxy/],
    ['ESOMETHINGNEW', 'unreachable', /cannot reach Duo .*ESOMETHINGNEW/],
  ])('%s → %s', (code, reason, re) => {
    const r = describeDuoFailure(wrapped(code), ctx);
    expect(r.reason).toBe(reason);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(re);
    expectCleanMessage(r);
  });

  it('scrubs the secret from anything a server echoes', () => {
    const err = { isAxiosError: true, response: { status: 500, data: { message: 'bad', message_detail: `secret was ${CLIENT_SECRET}` } } };
    const r = describeDuoFailure(err, ctx);
    expect(r.reason).toBe('http-error');
    expect(r.message).toMatch(/secret was \*\*\*/);
    expectCleanMessage(r);
  });

  it('an arbitrary exception becomes one line without a stack', () => {
    const r = describeDuoFailure(new Error('multi\nline\n    at foo (bar.js:1:2)'), ctx);
    expect(r.reason).toBe('bad-response');
    expect(r.message).not.toMatch(/\n/);
    expect(describeDuoFailure('weird', ctx).message).toMatch(/weird/);
    expect(describeDuoFailure(undefined, ctx).message).toMatch(/unknown error/);
  });
});
