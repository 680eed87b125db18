import { setConfigValue } from '../../../src/whmcs/schema/seed.js';
import type { BadInput, CaseEnv } from '../harness.js';

/** A valid row to damage: TOTP on for both audiences, nothing forced (what a fresh install has). */
const GOOD = 'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}';

const s = (v: string) => `s:${Buffer.byteLength(v)}:"${v}";`;
/** A well-formed array nested `depth` levels below the top one. */
const nested = (depth: number): string => (depth === 0 ? 'i:1;' : `a:1:{${s('x')}${nested(depth - 1)}}`);

/** Damaged `2fasettings` values: each is something WHMCS's safe_unserialize refuses, or a shape it cannot use. */
export const DAMAGED: Record<string, { value: string; why: RegExp }> = {
  truncated: { value: GOOD.slice(0, -1), why: /unexpected end of input inside an array/ },
  'a wrong string length': { value: GOOD.replace('s:4:"totp"', 's:5:"totp"'), why: /string of 5 bytes is not followed by '"'/ },
  'an object (O:)': { value: 'O:8:"stdClass":1:{s:7:"modules";a:0:{}}', why: /'O:' \(objects and references\) is not allowed/ },
  'a reference (r:)': { value: 'a:2:{s:7:"modules";a:0:{}s:11:"forceclient";r:1;}', why: /'r:' \(objects and references\) is not allowed/ },
  'over 16384 bytes': { value: GOOD.replace('i:0;}', `i:0;${s('pad')}${s('x'.repeat(16_400))}}`).replace('a:3:', 'a:4:'), why: /input of \d+ bytes exceeds 16384/ },
  'an array of over 256 elements': {
    value: `a:257:{${Array.from({ length: 257 }, (_, i) => `i:${i};i:0;`).join('')}}`,
    why: /array length 257 exceeds 256/,
  },
  'arrays nested over 5 levels': { value: `a:1:{${s('modules')}${nested(6)}}`, why: /arrays nested more than 5 levels/ },
  'not an array at all': { value: 'i:1;', why: /the value is not a serialized array/ },
  'an empty value': { value: '', why: /empty input/ },
};

/**
 * Odd values that still read (PHP's unserialize() reads them, WHMCS's flag checks find no flag in a
 * string): `status` names the oddity and the row stays readable; changes keep what they do not touch.
 */
export const ODD: Record<string, { value: string; why: RegExp }> = {
  '"modules" a string': { value: `a:3:{${s('modules')}${s('totp')}${s('forceclient')}i:0;${s('forceadmin')}i:0;}`, why: /"modules" is a string, not an array: WHMCS sees no security module enabled/ },
  'a module entry that is a string': { value: `a:1:{${s('modules')}a:1:{${s('totp')}${s('on')}}}`, why: /"modules\.totp" is a string, not an array: WHMCS finds no flags in it/ },
  'trailing bytes after the array': { value: GOOD + 'x', why: /1 byte after the serialized value \(PHP's unserialize\(\) ignores them/ },
};

const damage = (key: string) => async (e: CaseEnv) => setConfigValue(e.t.knex, '2fasettings', DAMAGED[key]!.value);
const dir = (e: CaseEnv) => ['--whmcs-dir', e.t.whmcsDir];

/** `status` reads a damaged row: a warning naming the problem, exit 0, nothing written. */
const statusCase = (key: string): BadInput => ({
  name: `status on 2fasettings with ${key}`,
  setup: damage(key),
  args: (e) => [...dir(e), 'status'],
  exit: 0,
  expect: { warning: new RegExp(`^Warning: the 2fasettings row cannot be read \\(.*${DAMAGED[key]!.why.source}.*\\): WHMCS treats it as empty.*--force`) },
});

/** A change on a damaged row is refused unless --force (exit 1: the row is unusable, not a safety rule). */
const changeCase = (key: string, command: string[]): BadInput => ({
  name: `${command.slice(0, 2).join(' ')} on 2fasettings with ${key}`,
  setup: damage(key),
  args: (e) => [...dir(e), ...command, '--yes'],
  exit: 1,
  expect: { error: new RegExp(`^Error: the 2fasettings row cannot be read \\(.*${DAMAGED[key]!.why.source}.*\\): WHMCS currently sees no two-factor settings at all.* — pass --force to rebuild it`) },
});

/** `audit` reads a damaged row: the settings-unreadable finding naming the problem, Nagios CRITICAL, nothing written. */
const auditCase = (key: string): BadInput => ({
  name: `audit on 2fasettings with ${key}`,
  setup: damage(key),
  args: (e) => [...dir(e), 'audit', '--format', 'nagios'],
  exit: 2,
  expect: { report: new RegExp(`^WHMCS-2FA CRITICAL - .*\\n\\[CRITICAL\\] settings-unreadable: the 2fasettings row cannot be read \\(.*${DAMAGED[key]!.why.source}.*\\) — fix: `) },
});

/** `status` reads an odd row: a warning naming the oddity, exit 0, nothing written. */
const oddStatusCase = (key: string): BadInput => ({
  name: `status on 2fasettings with ${key}`,
  setup: async (e) => setConfigValue(e.t.knex, '2fasettings', ODD[key]!.value),
  args: (e) => [...dir(e), 'status'],
  exit: 0,
  expect: { warning: new RegExp(`^Warning: 2fasettings: ${ODD[key]!.why.source}`) },
});

export const settingsCases: BadInput[] = [
  ...Object.keys(DAMAGED).map(statusCase),
  ...Object.keys(DAMAGED).map(auditCase),
  ...Object.keys(ODD).map(oddStatusCase),
  {
    name: 'activate totp on 2fasettings with "modules" a string: it would be replaced, so only with --force',
    setup: async (e) => setConfigValue(e.t.knex, '2fasettings', ODD['"modules" a string']!.value),
    args: (e) => [...dir(e), 'activate', 'totp', '--yes'],
    exit: 4,
    expect: { error: /^Error: refusing to activate Time-Based Tokens: in the 2fasettings row "modules" is a string, not an array, and activating would replace it — pass --force/ },
  },
  changeCase('truncated', ['activate', 'totp']),
  changeCase('a wrong string length', ['deactivate', 'totp', '--admins']),
  changeCase('an object (O:)', ['activate', 'totp', '--clients']),
  changeCase('over 16384 bytes', ['enforce', '--clients', 'on']),
  changeCase('an array of over 256 elements', ['activate', 'totp', '--admins']),
  changeCase('arrays nested over 5 levels', ['deactivate', 'totp', '--clients']),
  {
    name: 'activate yubikey on a damaged row, credentials given',
    setup: damage('truncated'),
    args: (e) => [...dir(e), 'activate', 'yubikey', '--client-id', '12345', '--secret-key', '-', '--yes'],
    stdin: 'c2VjcmV0LXZpYS1zdGRpbg==\n',
    exit: 1,
    expect: { error: /^Error: the 2fasettings row cannot be read .* — pass --force to rebuild it/ },
    forbid: () => ['c2VjcmV0LXZpYS1zdGRpbg=='],
  },
];
