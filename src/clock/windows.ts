/**
 * What a clock offset means for the second factors WHMCS checks against the server clock.
 *
 * TOTP (docs/data-model.md §6): 30 s steps; WHMCS accepts the current step and one step either side.
 * Let e be how far the server clock is ahead of a correctly-set phone when a code arrives. The phone
 * shows the code of step n at phase p ∈ [0, 30) of that step (phone time 30n + p), so the server
 * sees it at 30n + p + e and accepts it while that lies in [30(n−1), 30(n+2)):
 *   accepted  ⇔  −30 ≤ p + e < 60
 * Over all phases p:
 *   |e| ≤ 30       → every code is accepted, whatever the phase;
 *   30 < |e| < 60  → codes shown late in their step (server ahead) or early (server behind) fail:
 *                    a share of (|e| − 30) / 30 of codes from correctly-set phones is rejected;
 *   |e| ≥ 60       → no phase works: every code fails.
 * So an offset under 30 s never breaks TOTP by itself; 30 − |offset| is what is left for the phone's
 * own clock error and for typing time (which adds to e). The warning/critical thresholds (5/15 s by
 * default) are deliberately far stricter: they alarm long before users notice anything.
 *
 * Duo Universal Prompt: the SDKs (duo_universal_php in WHMCS, duo_universal for Node) verify token
 * time claims with a 60 s leeway; beyond that, logins can be rejected.
 */

const TOTP_STEP_SECONDS = 30;
/** WHMCS accepts codes of the current step and one step either side. */
const TOTP_WINDOW_STEPS = 1;
export const DUO_LEEWAY_SECONDS = 60;

type TotpLevel = 'ok' | 'intermittent' | 'fails';

export interface TotpVerdict {
  level: TotpLevel;
  /** Seconds left for phone clock error and typing time: 30 − |offset| (negative = already failing). */
  marginSeconds: number;
  /** Share (0–1) of codes from a correctly-set device that the server rejects. */
  failingShare: number;
  words: string;
}

export interface DuoVerdict {
  level: 'ok' | 'at-risk';
  leewaySeconds: number;
  /** 60 − |offset|. */
  marginSeconds: number;
  words: string;
}

/** The fraction of TOTP codes from a correct device rejected by a server whose clock is `offset` s off. */
export function totpFailingShare(offset: number): number {
  const tolerance = TOTP_STEP_SECONDS * TOTP_WINDOW_STEPS;
  const share = (Math.abs(offset) - tolerance) / TOTP_STEP_SECONDS;
  return Math.min(1, Math.max(0, share));
}

function totpMargin(offset: number): number {
  return TOTP_STEP_SECONDS * TOTP_WINDOW_STEPS - Math.abs(offset);
}

/**
 * A margin for display, rounded down to 0.1 s: showing 30.0 s for an offset of 12 ms would claim
 * more room than there is.
 */
export function formatMargin(marginSeconds: number): string {
  return (Math.floor(marginSeconds * 10 + 1e-9) / 10).toFixed(1);
}

export function totpVerdict(offset: number): TotpVerdict {
  const marginSeconds = totpMargin(offset);
  const failingShare = totpFailingShare(offset);
  const off = `${Math.abs(offset).toFixed(1)} s`;
  if (failingShare >= 1) {
    return {
      level: 'fails',
      marginSeconds,
      failingShare,
      words: `codes always fail: the clock is ${off} off and WHMCS accepts only the current 30 s step and one step either side`,
    };
  }
  if (failingShare > 0) {
    return {
      level: 'intermittent',
      marginSeconds,
      failingShare,
      words: `codes from devices with correct time fail intermittently: about ${Math.round(failingShare * 100)}% are rejected (clock ${off} off, WHMCS tolerates 30 s)`,
    };
  }
  const tight = marginSeconds < 10 ? '; little room left for a phone that is itself off or for slow typing' : '';
  return {
    level: 'ok',
    marginSeconds,
    failingShare,
    words: `codes keep working (${formatMargin(marginSeconds)} s margin within the ±30 s window${tight})`,
  };
}

export function duoVerdict(offset: number): DuoVerdict {
  const marginSeconds = DUO_LEEWAY_SECONDS - Math.abs(offset);
  if (marginSeconds >= 0) {
    return {
      level: 'ok',
      leewaySeconds: DUO_LEEWAY_SECONDS,
      marginSeconds,
      words: `Duo unaffected (token time checks allow ${DUO_LEEWAY_SECONDS} s; ${formatMargin(marginSeconds)} s margin)`,
    };
  }
  return {
    level: 'at-risk',
    leewaySeconds: DUO_LEEWAY_SECONDS,
    marginSeconds,
    words: `Duo logins may be rejected: the clock is ${Math.abs(offset).toFixed(1)} s off, beyond the ${DUO_LEEWAY_SECONDS} s leeway of its token time checks`,
  };
}
