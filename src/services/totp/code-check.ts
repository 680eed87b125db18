/**
 * Whether a TOTP code matches, and when it would have: the 6-digit token each of WHMCS's verifiers
 * effectively compares (Sonata for `secret`, ga4php for legacy `tokendata`), and a search of nearby
 * time steps that turns "code rejected" into a clock or secret diagnosis. otplib does HMAC,
 * truncation and the constant-time compare, loaded only when a code is checked.
 */
import { UsageError } from '../../errors.js';

/** WHMCS (Sonata `GoogleAuthenticator` and ga4php alike): HMAC-SHA1, 6 digits, 30 s, window ±1 step. */
export const TOTP_PERIOD = 30;
const TOTP_DIGITS = 6;
const WHMCS_WINDOW_STEPS = 1;

/** 'sonata' = configs with `secret` (8.x); 'ga4php' = legacy `tokendata` (7.x, still read by 8.x). */
export type VerifyMode = 'sonata' | 'ga4php';

interface OtpLib {
  lib: typeof import('otplib');
  guardrails: import('otplib').OTPGuardrails;
}
let otpLib: Promise<OtpLib> | undefined;

function loadOtplib(): Promise<OtpLib> {
  otpLib ??= import('otplib').then((lib) => ({
    lib,
    // otplib refuses keys under 16 bytes by default; WHMCS keys are 10 bytes, and a damaged
    // secret can decode to even fewer, which WHMCS still happily uses.
    guardrails: lib.createGuardrails({ MIN_SECRET_BYTES: 1, MAX_SECRET_BYTES: 4096 }),
  }));
  return otpLib;
}

/**
 * HMAC zero-pads keys to the block size, so an empty key is the same key as one zero byte.
 * WHMCS can end up with an empty key (secret with no valid base32 characters); otplib cannot.
 */
function hmacKey(secretBytes: Uint8Array): Uint8Array {
  return secretBytes.length === 0 ? new Uint8Array(1) : new Uint8Array(secretBytes);
}

function stepOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / TOTP_PERIOD);
}

const PHP_NUMERIC = /^[ \t\n\r\v\f]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

/**
 * The 6-digit token a WHMCS verifier would effectively compare, or null if no code can match.
 * Sonata: `hash_equals` against the exact 6-character string. ga4php: six consecutive digits
 * somewhere, then PHP `==`, which compares numeric strings by value (" 071271", "71271.0e0"…).
 * Trailing whitespace counts as numeric from PHP 8 on; PHP 7 compared such input as a string.
 */
export function effectiveToken(code: string, mode: VerifyMode): string | null {
  if (typeof code !== 'string') return null;
  if (mode === 'sonata') return /^\d{6}$/.test(code) ? code : null;
  if (!/\d{6}/.test(code)) return null;
  if (/^\d{6}$/.test(code)) return code;
  if (!PHP_NUMERIC.test(code)) return null;
  const value = Number(code.trim());
  if (!Number.isInteger(value) || value < 0 || value > 999_999) return null;
  return String(value).padStart(TOTP_DIGITS, '0');
}

async function matchesAtStep(secretBytes: Uint8Array, token: string, step: number): Promise<boolean> {
  if (step < 0) return false;
  const { lib, guardrails } = await loadOtplib();
  const r = await lib.verify({
    secret: hmacKey(secretBytes),
    token,
    epoch: step * TOTP_PERIOD,
    epochTolerance: 0,
    period: TOTP_PERIOD,
    digits: TOTP_DIGITS,
    algorithm: 'sha1',
    guardrails,
  });
  return r.valid;
}

export type CodeVerdict = 'accepted' | 'past' | 'future' | 'no-match' | 'malformed';

export interface CodeAnalysis {
  /** WHMCS would accept it now (±1 step), ignoring replay protection. */
  accepted: boolean;
  /** Steps from now of the closest matching step within ±window, or null. */
  matchedStep: number | null;
  /** matchedStep × 30. Negative = the code belongs to the past. */
  offsetSeconds: number | null;
  verdict: CodeVerdict;
  explanation: string;
}

interface AnalyzeOptions {
  /** Unix seconds to judge at; default now. */
  at?: number;
  /** How many steps either side to search for a match; default 10 (±5 min). */
  window?: number;
  mode?: VerifyMode;
}

function span(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** Was this code right at some nearby time? Turns "code rejected" into a clock or secret diagnosis. */
export async function analyzeCode(
  secretBytes: Uint8Array,
  code: string,
  opts: AnalyzeOptions = {},
): Promise<CodeAnalysis> {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  const window = opts.window ?? 10;
  const mode = opts.mode ?? 'sonata';
  if (!Number.isInteger(window) || window < 0 || window > 2880) {
    throw new UsageError(`The search window must be a whole number of steps from 0 to 2880, not ${window}.`);
  }
  const token = effectiveToken(code, mode);
  if (token === null) {
    return {
      accepted: false,
      matchedStep: null,
      offsetSeconds: null,
      verdict: 'malformed',
      explanation:
        mode === 'sonata'
          ? 'not a 6-digit code — WHMCS compares the exact 6-character string, leading zeros included'
          : 'not a usable code — WHMCS needs six consecutive digits that equal the expected code',
    };
  }
  const now = stepOf(at);
  // Nearest first, so a code that happens to repeat further out cannot hide the real match.
  let matched: number | null = null;
  for (let k = 0; k <= window && matched === null; k++) {
    for (const d of k === 0 ? [0] : [-k, k]) {
      if (await matchesAtStep(secretBytes, token, now + d)) {
        matched = d;
        break;
      }
    }
  }
  if (matched === null) {
    return {
      accepted: false,
      matchedStep: null,
      offsetSeconds: null,
      verdict: 'no-match',
      explanation: `no match within ±${window} steps (±${span(window * TOTP_PERIOD)}) — wrong secret, wrong account, or the device is far off`,
    };
  }
  const offsetSeconds = matched * TOTP_PERIOD;
  const accepted = Math.abs(matched) <= WHMCS_WINDOW_STEPS;
  const s = span(Math.abs(offsetSeconds));
  let explanation: string;
  if (matched === 0) explanation = 'accepted now (matches the current step)';
  else if (accepted) {
    explanation =
      matched < 0
        ? `accepted now (matches the previous step, ${s} ago — inside WHMCS's ±1 step tolerance)`
        : `accepted now (matches the next step, ${s} ahead — inside WHMCS's ±1 step tolerance)`;
  } else if (matched < 0) {
    explanation = `this code was valid ${s} ago — the device clock is about ${s} slow, or the server about ${s} fast`;
  } else {
    explanation = `this code will be valid in ${s} — the device clock is about ${s} fast, or the server about ${s} slow`;
  }
  return {
    accepted,
    matchedStep: matched,
    offsetSeconds,
    verdict: accepted ? 'accepted' : matched < 0 ? 'past' : 'future',
    explanation,
  };
}
