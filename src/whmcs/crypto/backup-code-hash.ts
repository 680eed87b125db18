/**
 * WHMCS's backup codes (docs/data-model.md §3): how they are made, shown and normalised, and the
 * sha1 WHMCS stores instead of the code.
 */
import { createHash, randomBytes } from 'node:crypto';

/** 16 lowercase hex characters, the alphabet WHMCS itself produces. */
export function generateBackupCode(): string {
  return randomBytes(8).toString('hex');
}

/** `0123456789abcdef` → `0123 4567 89ab cdef`, as WHMCS shows it. */
export function formatBackupCode(raw: string): string {
  return (raw.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * WHMCS's normalisation: strtolower (ASCII only in PHP 8), then drop every byte outside [a-z0-9].
 * JS toLowerCase would map e.g. the Kelvin sign to "k", which PHP never does.
 */
export function normalizeBackupCode(input: string): string {
  return input.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/[^a-z0-9]/g, '');
}

/** The stored form: lowercase sha1 hex of the normalised code. */
export function hashBackupCode(input: string): string {
  return createHash('sha1').update(normalizeBackupCode(input)).digest('hex');
}
