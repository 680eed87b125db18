/**
 * Duo Security (Universal Prompt) credentials: offline checks, a live health check, and the username
 * WHMCS sends to Duo (docs/data-model.md §1.3, §9).
 *
 * The Duo library is imported lazily: it pulls in axios and jose, which `--help` must not pay for.
 */
import type { Client as DuoClient } from '@duosecurity/duo_universal';

/** Lengths the Duo Universal client libraries (PHP, used by WHMCS 8.9+, and Node) insist on. */
export const DUO_CLIENT_ID_LENGTH = 20;
export const DUO_CLIENT_SECRET_LENGTH = 40;
/**
 * Duo's documented API hostname shape, `api-XXXXXXXX.duosecurity.com`, plus the same shape under
 * `duofederal.com`, where Duo Federal (FedRAMP) accounts live. Other hosts are refused: WHMCS itself
 * would store anything, but a hostname outside these domains is almost always a paste error
 * (e.g. the Admin Panel URL `admin-XXXXXXXX.duosecurity.com`).
 */
export const DUO_API_HOSTNAME_PATTERN = /^api-[a-z0-9]+\.(?:duosecurity|duofederal)\.com$/i;
const DUO_DEFAULT_TIMEOUT_MS = 10_000;

// The health check never redirects anywhere; the library merely refuses to start without a URL.
const PLACEHOLDER_REDIRECT_URL = 'https://localhost/whmcs-2fa-health-check';

export interface DuoCredentials {
  /** WHMCS `integrationKey` ("Client ID" in 8.12), decrypted. */
  clientId: string;
  /** WHMCS `secretKey` ("Client Secret" in 8.12), decrypted. */
  clientSecret: string;
  apiHostname: string;
}

interface DuoCredentialProblem {
  field: 'clientId' | 'clientSecret' | 'apiHostname';
  /** One line; never contains the Client Secret. */
  message: string;
}

/** Everything wrong with a set of Duo credentials; empty when they can be used. */
export function validateDuoCredentials(creds: DuoCredentials): DuoCredentialProblem[] {
  const problems: DuoCredentialProblem[] = [];
  const lengthProblem = (label: string, value: string, want: number): string | null => {
    if (value.length === 0) return `the Duo ${label} is empty`;
    if (/\s/.test(value)) return `the Duo ${label} contains whitespace — paste it without spaces or line breaks`;
    if (value.length !== want) return `the Duo ${label} must be exactly ${want} characters, got ${value.length}`;
    return null;
  };
  const id = lengthProblem('Client ID', creds.clientId, DUO_CLIENT_ID_LENGTH);
  if (id) problems.push({ field: 'clientId', message: id });
  const secret = lengthProblem('Client Secret', creds.clientSecret, DUO_CLIENT_SECRET_LENGTH);
  if (secret) problems.push({ field: 'clientSecret', message: secret });
  const host = hostnameProblem(creds.apiHostname);
  if (host) problems.push({ field: 'apiHostname', message: host });
  return problems;
}

function hostnameProblem(host: string): string | null {
  if (host.length === 0) return 'the Duo API Hostname is empty';
  if (/\s/.test(host)) return 'the Duo API Hostname contains whitespace';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    return 'the Duo API Hostname must be a bare host name without https:// (e.g. api-1a2b3c4d.duosecurity.com)';
  }
  if (/[/:?#@]/.test(host)) {
    return 'the Duo API Hostname must be a bare host name, without path, port or query (e.g. api-1a2b3c4d.duosecurity.com)';
  }
  if (!DUO_API_HOSTNAME_PATTERN.test(host)) {
    return `the Duo API Hostname "${clip(host)}" does not look like api-XXXXXXXX.duosecurity.com (or .duofederal.com) — copy it from the Duo Admin Panel application page`;
  }
  return null;
}

/** The slice of an axios instance the Duo client uses; tests pass one aimed at a local mock. */
export interface DuoHttpClient {
  post(url: string, data?: unknown, config?: unknown): Promise<{ data: unknown }>;
}

export interface DuoHealthCheckOptions extends DuoCredentials {
  /**
   * Replaces the library's own axios instance (HTTPS to `apiHostname`, Duo's CAs pinned). Only for
   * tests: no local HTTPS server can present a certificate under those CAs.
   */
  httpClient?: DuoHttpClient;
  timeoutMs?: number;
}

type DuoHealthReason =
  | 'ok'
  | 'invalid-config'
  | 'bad-credentials'
  | 'dns'
  | 'unreachable'
  | 'timeout'
  | 'tls'
  | 'http-error'
  | 'bad-response';

export interface DuoHealthResult {
  ok: boolean;
  /** One line; never a stack trace, never the Client Secret. */
  message: string;
  reason: DuoHealthReason;
  httpStatus?: number;
  /** Duo's clock (Unix seconds) from a healthy answer. */
  duoTime?: number;
}

/**
 * Ask Duo's `/oauth/v1/health_check` whether it is reachable and accepts these credentials (the
 * request carries a JWT signed with the Client Secret, so a healthy answer proves both).
 */
export async function duoHealthCheck(options: DuoHealthCheckOptions): Promise<DuoHealthResult> {
  const { clientId, clientSecret, apiHostname } = options;
  const timeoutMs = options.timeoutMs ?? DUO_DEFAULT_TIMEOUT_MS;
  const problems = validateDuoCredentials({ clientId, clientSecret, apiHostname });
  if (problems.length > 0) {
    return { ok: false, reason: 'invalid-config', message: problems.map((p) => p.message).join('; ') };
  }
  const host = apiHostname.toLowerCase();

  let client: DuoClient;
  try {
    const { Client } = await import('@duosecurity/duo_universal');
    client = new Client({ clientId, clientSecret, apiHost: host, redirectUrl: PLACEHOLDER_REDIRECT_URL });
  } catch (err) {
    return { ok: false, reason: 'invalid-config', message: `the Duo client refused the settings: ${safeText(errorMessage(err), clientSecret)}` };
  }
  // `axios` is private in the library's types but a plain property at runtime, and the only seam it offers.
  const internals = client as unknown as { axios: DuoHttpClient & { defaults?: { timeout?: number } } };
  if (options.httpClient) internals.axios = options.httpClient;
  else if (internals.axios.defaults) internals.axios.defaults.timeout = timeoutMs;

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const answer = await Promise.race([client.healthCheck(), timedOut]);
    if (answer === 'timeout') return timeoutResult(host, timeoutMs);
    const duoTime = answer?.response?.timestamp;
    return {
      ok: true,
      reason: 'ok',
      message: `Duo at ${host} is reachable and accepted the Client ID and Client Secret`,
      ...(typeof duoTime === 'number' ? { duoTime } : {}),
    };
  } catch (err) {
    return describeDuoFailure(err, { host, clientSecret, timeoutMs });
  } finally {
    clearTimeout(timer);
  }
}

interface AxiosLikeError {
  isAxiosError: true;
  code?: string;
  message?: string;
  response?: { status?: number; statusText?: string; data?: unknown };
}

/** Turn whatever the Duo client threw into one line for people. Exported for tests. */
export function describeDuoFailure(
  err: unknown,
  ctx: { host: string; clientSecret: string; timeoutMs: number },
): DuoHealthResult {
  const { host, clientSecret } = ctx;
  const axiosErr = findAxiosError(err);
  if (axiosErr) {
    const status = axiosErr.response?.status;
    if (status !== undefined) {
      const duoSays = duoErrorText(axiosErr.response?.data);
      if (status === 401 || status === 403 || /invalid_client/i.test(duoSays)) {
        return badCredentials(host, duoSays, clientSecret, status);
      }
      const detail = duoSays ? `: ${safeText(duoSays, clientSecret)}` : '';
      return {
        ok: false,
        reason: 'http-error',
        httpStatus: status,
        message: `Duo at ${host} answered the health check with HTTP ${status}${detail}${status >= 500 ? ' — Duo may be having problems; try again later' : ''}`,
      };
    }
    return networkFailure(axiosErr.code, axiosErr.message ?? '', ctx);
  }
  // The library reports a 200 answer whose `stat` is not OK as a plain DuoException carrying Duo's words.
  const text = errorMessage(err);
  if (/invalid_client/i.test(text)) return badCredentials(host, text, clientSecret);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$|CERT|TLS/.test(code)) return networkFailure(code, text, ctx);
  return {
    ok: false,
    reason: 'bad-response',
    message: `Duo at ${host} did not confirm the health check (${safeText(text, clientSecret)}) — is this really a Duo API hostname?`,
  };
}

function badCredentials(host: string, duoSays: string, secret: string, httpStatus?: number): DuoHealthResult {
  const detail = duoSays ? ` (${safeText(duoSays, secret)})` : '';
  return {
    ok: false,
    reason: 'bad-credentials',
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    message: `Duo rejected the Client ID/Client Secret${detail} — copy both from the Web SDK application in the Duo Admin Panel for ${host}`,
  };
}

function networkFailure(code: string | undefined, text: string, ctx: { host: string; clientSecret: string; timeoutMs: number }): DuoHealthResult {
  const { host } = ctx;
  switch (code) {
    case 'ECONNABORTED':
    case 'ETIMEDOUT':
      return timeoutResult(host, ctx.timeoutMs);
    case 'ENOTFOUND':
      return { ok: false, reason: 'dns', message: `the Duo API Hostname ${host} does not resolve (DNS lookup failed) — check it for typos, and this machine's DNS` };
    case 'EAI_AGAIN':
      return { ok: false, reason: 'dns', message: `DNS lookup of ${host} failed temporarily — check this machine's DNS and try again` };
    case 'ECONNREFUSED':
      return { ok: false, reason: 'unreachable', message: `cannot reach Duo at ${host}: connection refused — check outbound HTTPS (port 443) from this machine` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { ok: false, reason: 'unreachable', message: `the connection to Duo at ${host} was dropped — check proxies/firewalls and try again` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { ok: false, reason: 'unreachable', message: `cannot reach Duo at ${host}: no route to host — check the network` };
    default:
      break;
  }
  if (code && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return {
      ok: false,
      reason: 'tls',
      message: `the TLS certificate of ${host} is not one Duo's pinned CAs issued (${code}) — is an HTTPS-inspecting proxy in the way?`,
    };
  }
  const detail = safeText(text || 'unknown error', ctx.clientSecret);
  return { ok: false, reason: 'unreachable', message: `cannot reach Duo at ${host}: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}` };
}

function timeoutResult(host: string, timeoutMs: number): DuoHealthResult {
  const secs = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000}` : (timeoutMs / 1000).toFixed(1);
  return { ok: false, reason: 'timeout', message: `Duo at ${host} did not answer within ${secs} s — check the network and try again` };
}

function findAxiosError(err: unknown): AxiosLikeError | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    if ((e as { isAxiosError?: unknown }).isAxiosError === true) return e as AxiosLikeError;
    e = (e as { inner?: unknown; cause?: unknown }).inner ?? (e as { cause?: unknown }).cause;
  }
  return null;
}

/** Duo's own words from an error body: `message: message_detail` or `error: error_description`. */
function duoErrorText(data: unknown): string {
  if (!data || typeof data !== 'object') return typeof data === 'string' && data.length < 200 ? data : '';
  const d = data as Record<string, unknown>;
  const pair = (a: unknown, b: unknown) => [a, b].filter((x) => typeof x === 'string' && x.length > 0).join(': ');
  return pair(d.message, d.message_detail) || pair(d.error, d.error_description);
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'unknown error';
}

/** One line, bounded, and scrubbed of the secret in case a server or library ever echoes it. */
function safeText(text: string, secret: string): string {
  let s = text.replace(/\s+/g, ' ').trim();
  if (secret.length > 0) s = s.split(secret).join('***');
  return clip(s, 160);
}

function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
