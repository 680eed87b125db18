/**
 * Generator of hostile strings: what a database row, an environment variable or a server reply can
 * carry to attack the terminal or spreadsheet that shows it, or the SQL that holds it. Seeded, so a
 * failure names the string that caused it.
 */
import { chance, int, mulberry32, pick, type Rng } from './fuzz.js';

/** Terminal escapes and controls that change what a terminal shows or does. */
export const TERMINAL_ATTACKS = [
  '\x1b]0;pwned\x07', // OSC 0: window title
  '\x1b]8;;https://evil.test/\x1b\\click\x1b]8;;\x1b\\', // OSC 8 hyperlink
  '\x1b[2J\x1b[H', // clear screen, cursor home
  '\x1b[1A\x1b[2K', // up one line, erase it
  '\x1b[31mred\x1b[0m',
  '\x1bP+q544e\x1b\\', // DCS (terminal query)
  '\x9b2J', // C1 CSI
  '\x9d0;c1\x9c', // C1 OSC … ST
  '\rover', // carriage return overwrite
  '\b\b\bxx', // backspaces
  '\x07', // bell
  '\x00nul',
  '\x7f',
  'line1\nline2: forged', // a forged output line
  '\u202eevil\u202c', // right-to-left override
  '\u2066isolate\u2069',
  '\u2028sep',
];

/** CSV cells a spreadsheet would evaluate. */
export const FORMULA_ATTACKS = ['=HYPERLINK("https://evil.test","click")', '+1+cmd|\' /C calc\'!A0', '-2+3', '@SUM(1+1)*cmd|\' /C calc\'!A0', '\t=1+1', '\r=1+1'];

/** SQL and quoting fragments (the values must arrive byte for byte). */
export const QUOTING_ATTACKS = ["O'Brien", "\\'; DROP TABLE tbladmins; -- ", '\\\\', '"double"', '\\0', '%_', '`tick`', "\\x27 OR 1=1"];

const ALL = [...TERMINAL_ATTACKS, ...FORMULA_ATTACKS, ...QUOTING_ATTACKS];

/** `count` hostile strings: each fixed attack once, then seeded mixtures of them with plain text. */
export function hostileStrings(count: number, seed = 16): string[] {
  const out = [...ALL];
  const r: Rng = mulberry32(seed);
  while (out.length < count) {
    let s = '';
    const parts = 1 + int(r, 3);
    for (let i = 0; i < parts; i++) {
      s += chance(r, 0.3) ? 'x' + int(r, 1000) : '';
      s += chance(r, 0.2) ? String.fromCharCode(int(r, 0x20)) : pick(r, ALL);
    }
    out.push(s);
  }
  return out.slice(0, count);
}

/** Characters a terminal must never receive from data: C0 except newline, DEL, C1, bidi controls. */
// eslint-disable-next-line no-control-regex
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
