import { isIPv6 } from 'node:net';
import { UsageError } from '../errors.js';

export const NTP_PORT = 123;

/** Three independent operators, so one bad source is outvoted by the median. */
export const DEFAULT_SERVERS: readonly string[] = ['pool.ntp.org', 'time.cloudflare.com', 'time.google.com'];

/**
 * `net.isIP` without its start-up cost: Node's IPv6 pattern is so large that V8 takes tens of
 * milliseconds to compile it on first use, longer than a whole NTP exchange on a LAN. Only a string
 * with two or more colons can be an IPv6 address, so nothing else is matched against that pattern.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (s.indexOf(':') === s.lastIndexOf(':')) return isIPv4(s) ? 4 : 0;
  return isIPv6(s) ? 6 : 0;
}

/**
 * Exactly what `net.isIPv4` accepts — four decimal parts 0-255, no leading zeros — without
 * compiling a regular expression, which costs more than the rest of parsing three servers.
 */
export function isIPv4(s: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e; // a final '.' closes the last part
    if (c === 0x2e) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      digits = 0;
      value = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      if (++digits > 3) return false;
      value = value * 10 + (c - 0x30);
    } else {
      return false;
    }
  }
  return parts === 4;
}

interface ServerSpec {
  host: string;
  port: number;
}

/**
 * Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal (several colons and no
 * brackets can only be an address, never host:port).
 */
export function parseServerSpec(spec: string): ServerSpec {
  const text = spec.trim();
  const fail = (why: string): never => {
    throw new UsageError(`invalid NTP server "${spec}": ${why}; use host, host:port or [ipv6]:port`);
  };
  if (text === '') fail('empty');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
    if (!m) return fail('unbalanced brackets');
    host = m[1];
    portText = m[2];
    if (ipFamily(host) !== 6) fail('brackets are only for IPv6 addresses');
  } else if (ipFamily(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    if (i >= 0 && text.indexOf(':') !== i) fail('an IPv6 address with a port needs brackets');
    host = i >= 0 ? text.slice(0, i) : text;
    portText = i >= 0 ? text.slice(i + 1) : undefined;
    if (host === '') fail('empty host');
    if (/\s/.test(host)) fail('host contains whitespace');
  }
  let port = NTP_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return fail(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) fail(`port ${port} is out of range 1-65535`);
  }
  return { host, port };
}

/**
 * Operators that smear leap seconds (spread the extra second over ~24 h instead of stepping).
 * Around a leap second they legitimately differ from non-smearing servers by up to 0.5 s, so
 * mixing the two kinds can look like disagreement.
 */
const SMEARING = [
  { pattern: /(^|\.)time\d*\.google\.com$/i, operator: 'Google' },
  { pattern: /(^|\.)time\.aws\.com$/i, operator: 'Amazon' },
  { pattern: /(^|\.)time\.facebook\.com$/i, operator: 'Meta' },
];

export function smearNote(host: string): string | undefined {
  // An address names no operator (and compiling the patterns costs a run more than this check).
  if (ipFamily(host)) return undefined;
  const hit = SMEARING.find((s) => s.pattern.test(host.replace(/\.$/, '')));
  return hit
    ? `${hit.operator} smears leap seconds: near a leap second it differs from non-smearing servers by up to 0.5 s`
    : undefined;
}
