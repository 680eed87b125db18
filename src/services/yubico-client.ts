/**
 * Yubico OTP validation protocol 2.0 client (https://developers.yubico.com/yubikey-val/Validation_Protocol_V2.0.html).
 *
 * The npm clients are stale and hard-code Yubico's hosts, and this tool must also talk to self-hosted
 * validation servers, so the protocol is implemented here on top of the global `fetch`.
 *
 * Every answer that comes back over the network is returned as a result (`ok` tells whether the OTP
 * is good); only arguments that are wrong before anything is sent throw a UsageError.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';

const YUBICO_DEFAULT_API_URL = 'https://api.yubico.com';
const YUBICO_DEFAULT_TIMEOUT_MS = 10_000;
/** Length of the public key identity at the start of every OTP, as WHMCS cuts it for `yubicoprefix`. */
const YUBICO_KEY_ID_LENGTH = 12;

const MODHEX = 'cbdefghijklnrtuv';
const KEY_ID_PATTERN = /^[cbdefghijklnrtuv]{12}$/;
const NONCE_PATTERN = /^[A-Za-z0-9]{16,40}$/;
// Canonical, padded, standard-alphabet base64 (what Yubico hands out and what PHP's decoder reads back).
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const VERIFY_PATH = '/wsapi/2.0/verify';

/** Statuses a protocol 2.0 server can answer. */
type YubicoServerStatus =
  | 'OK'
  | 'BAD_OTP'
  | 'REPLAYED_OTP'
  | 'BAD_SIGNATURE'
  | 'MISSING_PARAMETER'
  | 'NO_SUCH_CLIENT'
  | 'OPERATION_NOT_ALLOWED'
  | 'BACKEND_ERROR'
  | 'NOT_ENOUGH_ANSWERS'
  | 'REPLAYED_REQUEST';

/** Outcomes decided on this side of the wire: transport failures and answers we refuse to trust. */
type YubicoClientStatus =
  | 'BAD_RESPONSE_SIGNATURE'
  | 'NONCE_MISMATCH'
  | 'OTP_MISMATCH'
  | 'UNKNOWN_STATUS'
  | 'MALFORMED_RESPONSE'
  | 'HTTP_ERROR'
  | 'TIMEOUT'
  | 'NETWORK_ERROR';

type YubicoStatus = YubicoServerStatus | YubicoClientStatus;

const SERVER_STATUSES: ReadonlySet<string> = new Set<YubicoServerStatus>([
  'OK',
  'BAD_OTP',
  'REPLAYED_OTP',
  'BAD_SIGNATURE',
  'MISSING_PARAMETER',
  'NO_SUCH_CLIENT',
  'OPERATION_NOT_ALLOWED',
  'BACKEND_ERROR',
  'NOT_ENOUGH_ANSWERS',
  'REPLAYED_REQUEST',
]);

interface YubicoVerifyOptions {
  otp: string;
  /** Yubico API client ID (positive integer). */
  clientId: string | number;
  /** Base64 API secret key. Empty: the request goes unsigned and answers cannot be authenticated. */
  secretKey: string;
  /** Server base URL; `/wsapi/2.0/verify` is appended unless already present. */
  apiUrl?: string;
  timeoutMs?: number;
  /** 16–40 alphanumeric characters; random when omitted. */
  nonce?: string;
}

export interface YubicoVerifyResult {
  status: YubicoStatus;
  /** True only for a server `OK` whose signature (when a key is configured) and echoes all check out. */
  ok: boolean;
  /** One line for people: what happened and what to do. */
  message: string;
  /** First 12 modhex characters of the OTP: the key's public identity. */
  keyId: string;
  /**
   * true: the answer's `h` matched our key. false: it was missing or wrong. null: no secret key was
   * configured, so nothing could be checked.
   */
  responseSignatureValid: boolean | null;
  /** The `status` field exactly as the server sent it, when there was one. */
  serverStatus: string | null;
  httpStatus: number | null;
  /** Every `key=value` field of the answer (empty when nothing parseable came back). */
  fields: Record<string, string>;
  nonce: string;
  /** The request URL (it carries only a MAC, never the key). */
  url: string;
}

/** Trimmed and lower-cased: YubiKeys type lower case, and validation servers lower-case too. */
function normalizeYubicoOtp(otp: string): string {
  return otp.trim().toLowerCase();
}

/** Problem with an OTP's shape, or null when it looks like a YubiKey OTP. */
export function validateYubicoOtp(otp: string): string | null {
  const s = normalizeYubicoOtp(otp);
  if (s.length === 0) return 'the OTP is empty — touch the YubiKey to type one';
  const bad = [...s].find((c) => !MODHEX.includes(c));
  if (bad !== undefined) {
    return `not a YubiKey OTP: "${bad}" is not a modhex character (only ${MODHEX} occur in OTPs)`;
  }
  if (s.length < 32 || s.length > 48) {
    return `not a YubiKey OTP: expected 32–48 modhex characters, got ${s.length}`;
  }
  return null;
}

/** The key identity (first 12 modhex characters) of an OTP, or a key ID given on its own. */
export function yubicoKeyId(otpOrKeyId: string): string {
  const s = normalizeYubicoOtp(otpOrKeyId);
  if (KEY_ID_PATTERN.test(s)) return s;
  const problem = validateYubicoOtp(s);
  if (problem) throw new UsageError(`${problem}; a key ID is exactly 12 modhex characters`);
  return s.slice(0, YUBICO_KEY_ID_LENGTH);
}

/** WHMCS `yubicoprefix`: sha1 hex of the first 12 characters of the OTP. */
export function yubicoPrefixHash(otpOrKeyId: string): string {
  return createHash('sha1').update(yubicoKeyId(otpOrKeyId), 'ascii').digest('hex');
}

/** Problem with a Yubico API client ID, or null when it is a positive integer. */
export function validateYubicoClientId(clientId: string | number): string | null {
  if (typeof clientId === 'number') {
    return Number.isSafeInteger(clientId) && clientId > 0
      ? null
      : `the Client ID must be a positive whole number, got ${clientId}`;
  }
  if (clientId.length === 0) return 'the Client ID is empty';
  if (!/^[0-9]+$/.test(clientId)) return 'the Client ID must be a positive whole number (digits only)';
  if (/^0/.test(clientId)) {
    return clientId === '0' || /^0+$/.test(clientId)
      ? 'the Client ID must be a positive whole number, got 0'
      : 'the Client ID must not start with 0';
  }
  if (!Number.isSafeInteger(Number(clientId))) return 'the Client ID is too large to be a Yubico client ID';
  return null;
}

/**
 * Problem with a Yubico API secret key, or null when it is canonical padded base64 decoding to at least
 * one byte. The message never repeats the key.
 */
export function validateYubicoSecretKey(b64: string): string | null {
  if (b64.length === 0) return 'the Secret Key is empty';
  if (/\s/.test(b64)) return 'the Secret Key contains whitespace — paste it without spaces or line breaks';
  if (/[-_]/.test(b64) && /^[A-Za-z0-9\-_=]+$/.test(b64)) {
    return 'the Secret Key uses the URL-safe base64 alphabet (- or _); Yubico keys use standard base64 (+ and /)';
  }
  if (!/^[A-Za-z0-9+/=]+$/.test(b64)) {
    return 'the Secret Key is not base64: only A–Z, a–z, 0–9, +, / and trailing = padding may occur';
  }
  if (b64.length % 4 !== 0) {
    return `the Secret Key is not valid base64: its length (${b64.length}) is not a multiple of 4 (missing = padding?)`;
  }
  if (!BASE64_PATTERN.test(b64)) return 'the Secret Key is not valid base64: = may only pad the end';
  // Node decodes sloppily; a round trip catches stray bits in the last character.
  if (Buffer.from(b64, 'base64').toString('base64') !== b64) {
    return 'the Secret Key is not canonical base64 (its last character carries stray bits) — check for a typo';
  }
  return null;
}

/** HMAC-SHA1 over the alphabetically sorted `k=v&…` pairs, base64 — the protocol's `h`. */
export function yubicoSignature(params: Record<string, string>, key: Buffer): string {
  const data = Object.keys(params)
    .filter((k) => k !== 'h')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHmac('sha1', key).update(data, 'utf8').digest('base64');
}

/**
 * `key=value` lines of an answer. Values may themselves contain `=` (base64 `h`), so each line is
 * split at its first `=`. Returns a description of the problem instead when the body is not that shape.
 */
export function parseYubicoResponse(body: string): Record<string, string> | string {
  const fields: Record<string, string> = {};
  const lines = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) return 'the body is empty';
  for (const line of lines) {
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    if (!/^[A-Za-z0-9_]+$/.test(key)) return `unexpected line "${clip(line)}"`;
    if (Object.hasOwn(fields, key)) return `field "${key}" appears twice`;
    fields[key] = line.slice(eq + 1).trim();
  }
  if (!fields.status) return 'there is no status field';
  return fields;
}

/** Verify an OTP against a protocol 2.0 validation server. */
export async function verifyYubicoOtp(options: YubicoVerifyOptions): Promise<YubicoVerifyResult> {
  const otp = normalizeYubicoOtp(options.otp);
  const otpProblem = validateYubicoOtp(otp);
  if (otpProblem) throw new UsageError(otpProblem);
  const clientId = String(options.clientId).trim();
  const idProblem = validateYubicoClientId(clientId);
  if (idProblem) throw new UsageError(`Yubico ${idProblem}`);
  const key = decodeSecretKey(options.secretKey);
  const nonce = options.nonce ?? randomBytes(16).toString('hex');
  if (!NONCE_PATTERN.test(nonce)) throw new UsageError('the Yubico nonce must be 16–40 letters and digits');
  const timeoutMs = options.timeoutMs ?? YUBICO_DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('the Yubico timeout must be a positive number of milliseconds');
  const endpoint = verifyEndpoint(options.apiUrl ?? YUBICO_DEFAULT_API_URL);

  const params: Record<string, string> = { id: clientId, otp, nonce };
  if (key) params.h = yubicoSignature(params, key);
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  const url = `${endpoint.href}?${query}`;
  const host = endpoint.host;

  const base = {
    keyId: otp.slice(0, YUBICO_KEY_ID_LENGTH),
    nonce,
    url,
    serverStatus: null,
    httpStatus: null,
    fields: {},
    responseSignatureValid: key ? false : null,
  };
  const fail = (
    status: YubicoStatus,
    message: string,
    extra: Partial<YubicoVerifyResult> = {},
  ): YubicoVerifyResult => ({ ...base, ...extra, status, ok: false, message });

  let httpStatus: number;
  let body: string;
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'text/plain' },
    });
    httpStatus = res.status;
    body = await res.text();
    if (res.status !== 200) {
      const reason = res.statusText ? ` ${res.statusText}` : '';
      return fail(
        'HTTP_ERROR',
        `${host} answered HTTP ${res.status}${reason} instead of a verification result — check the API URL`,
        { httpStatus },
      );
    }
  } catch (err) {
    if (isTimeout(err)) {
      return fail('TIMEOUT', `no answer from ${host} within ${formatSeconds(timeoutMs)} — try again, or check the network`);
    }
    return fail('NETWORK_ERROR', `cannot reach ${host}: ${describeNetworkError(err)}`);
  }

  const parsed = parseYubicoResponse(body);
  if (typeof parsed === 'string') {
    return fail(
      'MALFORMED_RESPONSE',
      `${host} did not send a Yubico verification answer (${parsed}) — check the API URL`,
      { httpStatus },
    );
  }
  const fields = parsed;
  const serverStatus = fields.status;
  const got = { httpStatus, fields, serverStatus };

  let signatureValid: boolean | null = null;
  if (key) {
    const h = fields.h ?? '';
    if (h.length > 0) {
      signatureValid = signatureMatches(h, yubicoSignature(fields, key));
      if (!signatureValid) {
        const hint =
          serverStatus === 'BAD_SIGNATURE'
            ? `; the server also reports BAD_SIGNATURE, so the Secret Key is most likely wrong for Client ID ${clientId}`
            : ' — the Secret Key is wrong, or the answer was tampered with';
        return fail('BAD_RESPONSE_SIGNATURE', `the answer from ${host} is not signed with our Secret Key, so it is not trusted${hint}`, got);
      }
    } else {
      signatureValid = false;
      // An unsigned failure cannot let anything through, so it is reported as sent; an unsigned OK cannot be believed.
      if (serverStatus === 'OK') {
        return fail('BAD_RESPONSE_SIGNATURE', `${host} answered OK without a signature although a Secret Key is configured — not trusting it`, got);
      }
    }
  }
  const checked = { ...got, responseSignatureValid: signatureValid };

  // A signed answer proves nothing about *this* request unless it echoes our nonce and OTP.
  const mustEcho = serverStatus === 'OK';
  if (fields.nonce !== nonce && (mustEcho || fields.nonce !== undefined)) {
    return fail('NONCE_MISMATCH', `the answer from ${host} carries a different nonce than we sent — a replayed or tampered answer; not trusting it`, checked);
  }
  if (fields.otp !== otp && (mustEcho || fields.otp !== undefined)) {
    return fail('OTP_MISMATCH', `the answer from ${host} is about a different OTP than we sent — possible tampering; not trusting it`, checked);
  }

  if (!SERVER_STATUSES.has(serverStatus)) {
    return fail('UNKNOWN_STATUS', `${host} answered status "${clip(serverStatus)}", which protocol 2.0 does not define — treating it as a failure`, checked);
  }
  const status = serverStatus as YubicoServerStatus;
  let message = statusMessage(status, clientId, base.keyId);
  if (status === 'OK' && signatureValid === null) {
    message += ' (unauthenticated: no Secret Key is configured, so the answer could not be checked)';
  }
  return { ...base, ...checked, status, ok: status === 'OK', message };
}

function statusMessage(status: YubicoServerStatus, clientId: string, keyId: string): string {
  switch (status) {
    case 'OK':
      return `the OTP is valid (YubiKey ${keyId})`;
    case 'BAD_OTP':
      return 'the validation server rejected the OTP: it is mistyped, or comes from a key the server does not know';
    case 'REPLAYED_OTP':
      return 'this OTP was already used — touch the key again for a fresh one';
    case 'BAD_SIGNATURE':
      return `the validation server says our request signature is wrong — the Secret Key does not belong to Client ID ${clientId}`;
    case 'MISSING_PARAMETER':
      return 'the validation server says the request lacks a parameter — is the API URL a Yubico protocol 2.0 server?';
    case 'NO_SUCH_CLIENT':
      return `the validation server does not know Client ID ${clientId} — check the Client ID (Yubico issues them at https://upgrade.yubico.com/getapikey/)`;
    case 'OPERATION_NOT_ALLOWED':
      return `the validation server does not allow Client ID ${clientId} to verify OTPs`;
    case 'BACKEND_ERROR':
      return 'the validation server had an internal error — try again later';
    case 'NOT_ENOUGH_ANSWERS':
      return 'the validation server could not reach enough of its sync servers — touch the key again to retry';
    case 'REPLAYED_REQUEST':
      return 'the validation server has already seen this OTP with this nonce — touch the key again for a fresh OTP';
  }
}

function decodeSecretKey(secretKey: string): Buffer | null {
  if (secretKey.length === 0) return null;
  const problem = validateYubicoSecretKey(secretKey);
  if (problem) throw new UsageError(`Yubico ${problem}`);
  return Buffer.from(secretKey, 'base64');
}

function verifyEndpoint(apiUrl: string): URL {
  let url: URL;
  try {
    url = new URL(apiUrl.trim());
  } catch {
    throw new UsageError(`the Yubico API URL "${clip(apiUrl)}" is not a URL — use e.g. ${YUBICO_DEFAULT_API_URL}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`the Yubico API URL must start with https:// (or http://), got ${url.protocol}`);
  }
  if (url.search || url.hash) throw new UsageError('the Yubico API URL must not carry a query string or fragment');
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith(VERIFY_PATH) ? path : `${path}${VERIFY_PATH}`;
  return url;
}

function signatureMatches(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'base64');
  const b = Buffer.from(expected, 'base64');
  // A forged `h` in sloppy base64 must not decode into a match, so the text has to be canonical too.
  return a.length === b.length && timingSafeEqual(a, b) && a.toString('base64') === received;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function describeNetworkError(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  const code = cause?.code ?? (err as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused — is the validation server running, and is the API URL right?';
    case 'ENOTFOUND':
      return 'the host name does not resolve (DNS) — check the API URL for typos, and this machine\'s DNS';
    case 'EAI_AGAIN':
      return 'DNS lookup failed temporarily — check this machine\'s DNS and try again';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was dropped — try again';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host — check the network';
    default:
      break;
  }
  if (code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return `the TLS certificate was not accepted (${code}) — a proxy intercepting HTTPS, or the wrong host`;
  }
  const detail = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return code ? `${clip(detail)} (${code})` : clip(detail);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function clip(s: string, max = 80): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
