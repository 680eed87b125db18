/**
 * PHP 8's loose comparison (`==`) of a string against a stored value of any type: WHMCS compares a
 * backup code's sha1 with the stored one this way (docs/data-model.md §3), so "0e…" hashes can
 * match each other.
 */
import { phpTruthy } from './php-serialize.js';

/** PHP 8 numeric string: optional leading/trailing whitespace, sign, digits, fraction, exponent. */
const NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;
const INTEGRAL = /^[ \t\n\r\v\f]*[+-]?\d+[ \t\n\r\v\f]*$/;

/** A PHP numeric string's value: a bigint for an integer string that fits int64, else a float. */
function phpNumeric(s: string): { value: number | bigint; overflow: boolean } | null {
  if (!NUMERIC.test(s)) return null;
  if (INTEGRAL.test(s)) {
    const n = BigInt(s.trim());
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return { value: n, overflow: false };
    return { value: Number(s.trim()), overflow: true };
  }
  return { value: Number(s.trim()), overflow: false };
}

/**
 * PHP 8 `$a == $b` for a string `$a` (the sha1 of the input) against a stored value of any type.
 * Two numeric strings compare as numbers — so "0e123…" == "0e456…" — which is WHMCS's behaviour and
 * therefore what a faithful verifier must predict.
 */
export function phpLooseEqualsString(a: string, b: unknown): boolean {
  if (b === null || b === undefined) return a === '';
  if (typeof b === 'boolean') return phpTruthy(a) === b;
  if (typeof b === 'number' || typeof b === 'bigint') {
    const na = phpNumeric(a);
    if (!na) return typeof b === 'bigint' || Number.isInteger(b) ? a === String(b) : false;
    return typeof na.value === 'bigint' && (typeof b === 'bigint' || Number.isInteger(b))
      ? na.value === BigInt(b)
      : Number(na.value) === Number(b);
  }
  if (typeof b !== 'string') return false;
  const na = phpNumeric(a);
  const nb = na && phpNumeric(b);
  if (!na || !nb) return a === b;
  // Same-side integer overflow and equal floats: PHP falls back to comparing the strings.
  if (na.overflow && nb.overflow && Number(na.value) === Number(nb.value)) return a === b;
  if (typeof na.value === 'bigint' && typeof nb.value === 'bigint') return na.value === nb.value;
  if (na.overflow !== nb.overflow && (typeof na.value === 'bigint' || typeof nb.value === 'bigint')) return false;
  const fa = Number(na.value);
  const fb = Number(nb.value);
  if (fa === fb && !Number.isFinite(fa)) return a === b;
  return fa === fb;
}
