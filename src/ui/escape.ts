/**
 * Text from the database (names, emails, module values, server messages) on a terminal: control
 * characters are shown, never obeyed. An email holding `ESC ] 0 ; … BEL` would retitle the window,
 * `ESC [ 2 J` clear it, a carriage return overwrite what came before, and bidirectional overrides
 * (U+202E…) make a value read differently from what it is. Each becomes a visible escape instead:
 * `\e`, `\r`, `\x07`, `\u{202e}`. Newlines are kept where the text is ours and multi-line
 * (`keepNewlines`), escaped in cells.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_WITH_NEWLINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const ANY = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\x1b': '\\e' };

function visible(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

export function terminalSafe(s: string, keepNewlines = false): string {
  if (!ANY.test(s)) return s;
  return s.replace(keepNewlines ? UNSAFE : UNSAFE_WITH_NEWLINE, visible);
}

/** A constant: a literal inside csvFormulaSafe would be a new object for every cell. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A CSV cell that a spreadsheet would evaluate (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`, or one
 * starting with a tab or carriage return) gets a leading `'`, as OWASP advises for CSV injection:
 * the spreadsheet shows it as text. Numbers written as numbers (an offset of -0.5) stay numbers.
 */
export function csvFormulaSafe(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

// The characters JSON.stringify leaves raw that a terminal may still obey (C1 controls, DEL) or
// that reorder or break what is shown (bidi controls, line/paragraph separators).
const JSON_RAW = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const JSON_RAW_ANY = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * JSON (or YAML's JSON-style double-quoted scalars) with those characters as `\uXXXX`: the same
 * value for a parser, inert on a terminal. Outside strings JSON text holds none of them, so the
 * whole text can be rewritten.
 */
export function jsonSafe(text: string): string {
  if (!JSON_RAW_ANY.test(text)) return text;
  return text.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
