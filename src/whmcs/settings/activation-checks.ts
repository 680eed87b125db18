/**
 * The live checks `activate` can run before it writes anything: Duo's health check (`--check`) and
 * one YubiKey OTP against a Yubico validation protocol 2.0 server (`--check-otp`). Both return a
 * one-line result; neither throws for an answer that came back over the network.
 */
import type { DuoCredentials, DuoHealthResult, DuoHttpClient } from '../../services/duo.js';
import type { YubicoVerifyResult } from '../../services/yubico-client.js';

export interface ServiceCheck {
  kind: 'duo-health-check' | 'yubico-otp';
  ok: boolean;
  /** One line, never a secret. */
  message: string;
  /** Duo: ok/bad-credentials/unreachable…; Yubico: the protocol status (OK, BAD_OTP, …). */
  status: string;
}

/**
 * Duo's health check with these credentials. `httpClient` replaces the Duo library's own transport
 * (given by tests through the program's dependencies; production passes none).
 */
export async function checkDuo(creds: DuoCredentials, opts: { httpClient?: DuoHttpClient } = {}): Promise<ServiceCheck> {
  const { duoHealthCheck } = await import('../../services/duo.js');
  const r: DuoHealthResult = await duoHealthCheck({ ...creds, ...(opts.httpClient ? { httpClient: opts.httpClient } : {}) });
  return { kind: 'duo-health-check', ok: r.ok, message: r.message, status: r.reason };
}

export async function checkYubicoOtp(opts: { otp: string; clientId: string; secretKey: string; apiUrl?: string }): Promise<ServiceCheck & { keyId: string }> {
  const { verifyYubicoOtp } = await import('../../services/yubico-client.js');
  const r: YubicoVerifyResult = await verifyYubicoOtp(opts);
  return { kind: 'yubico-otp', ok: r.ok, message: r.message, status: r.status, keyId: r.keyId };
}
