/**
 * The live checks `activate` can run before it writes anything: Duo's health check (`--check`) and
 * one YubiKey OTP against a Yubico validation protocol 2.0 server (`--check-otp`). Both return a
 * one-line result; neither throws for an answer that came back over the network.
 */
import { UsageError } from '../errors.js';
import type { DuoCredentials, DuoHealthResult, DuoHttpClient } from '../services/duo.js';
import type { YubicoVerifyResult } from '../services/yubico-client.js';

export interface ServiceCheck {
  kind: 'duo-health-check' | 'yubico-otp';
  ok: boolean;
  /** One line, never a secret. */
  message: string;
  /** Duo: ok/bad-credentials/unreachable…; Yubico: the protocol status (OK, BAD_OTP, …). */
  status: string;
}

/**
 * Duo pins its own CAs, so no local HTTPS stand-in can answer the real client. Tests therefore name
 * a plain-HTTP mock in this variable; only loopback addresses are accepted, so it can never send a
 * request signed with a real Client Secret anywhere else.
 */
export const DUO_TEST_URL_ENV = 'WHMCS_2FA_DUO_TEST_URL';

export async function checkDuo(creds: DuoCredentials, env: NodeJS.ProcessEnv = process.env): Promise<ServiceCheck> {
  const { duoHealthCheck } = await import('../services/duo.js');
  const testUrl = env[DUO_TEST_URL_ENV];
  const r: DuoHealthResult = await duoHealthCheck({ ...creds, ...(testUrl ? { httpClient: loopbackHttpClient(testUrl) } : {}) });
  return { kind: 'duo-health-check', ok: r.ok, message: r.message, status: r.reason };
}

export async function checkYubicoOtp(opts: { otp: string; clientId: string; secretKey: string; apiUrl?: string }): Promise<ServiceCheck & { keyId: string }> {
  const { verifyYubicoOtp } = await import('../services/yubico-client.js');
  const r: YubicoVerifyResult = await verifyYubicoOtp(opts);
  return { kind: 'yubico-otp', ok: r.ok, message: r.message, status: r.status, keyId: r.keyId };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The slice of axios the Duo client uses, over fetch: answers ≥ 400 and transport failures are
 * thrown in axios's error shape (`isAxiosError`, `response.status`/`data`, `code`), which is what
 * the Duo client and describeDuoFailure recognise.
 */
function loopbackHttpClient(base: string): DuoHttpClient {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`${DUO_TEST_URL_ENV} is not a URL`);
  }
  if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) {
    throw new UsageError(`${DUO_TEST_URL_ENV} must be an http:// URL on this machine (127.0.0.1, localhost or [::1])`);
  }
  return {
    async post(path: string, data?: unknown) {
      let res: Response;
      try {
        res = await fetch(new URL(path, url), {
          method: 'POST',
          body: data as URLSearchParams,
          signal: AbortSignal.timeout(10_000),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const code = cause?.code ?? ((e as Error).name === 'TimeoutError' ? 'ECONNABORTED' : undefined);
        throw Object.assign(new Error(cause?.message ?? (e as Error).message), { isAxiosError: true, code });
      }
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON: keep the text */
      }
      if (res.status >= 400) {
        throw Object.assign(new Error(`Request failed with status code ${res.status}`), {
          isAxiosError: true,
          response: { status: res.status, statusText: res.statusText, data: body },
        });
      }
      return { data: body };
    },
  };
}
