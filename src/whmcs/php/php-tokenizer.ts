/**
 * A tokenizer for the part of PHP a configuration.php can contain, following PHP 8's scanner
 * (zend_language_scanner.l) closely enough that whatever it decodes is what `include` would
 * produce. It works on a byte string (one JS char per byte) so values keep their exact bytes.
 *
 * Text outside `<?php … ?>` is output by PHP, not executed, so it is skipped. Strings that
 * interpolate variables cannot be decoded statically: the tokenizer stops with a
 * PhpLexError of kind 'interpolation' instead of guessing where such a string ends.
 */
import { decodeDoubleQuoted, decodeSingleQuoted, PhpEscapeError, scanNumber, type PhpNumber } from './php-literal.js';

export type Token =
  | { kind: 'var'; name: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: PhpNumber; text: string; pos: number }
  | { kind: 'ident'; name: string; pos: number }
  | { kind: 'op'; op: string; pos: number }
  /** `?>`: ends a statement like `;` does. */
  | { kind: 'close'; pos: number }
  | { kind: 'eof'; pos: number };

type LexErrorKind = 'syntax' | 'interpolation' | 'unsupported';

export class PhpLexError extends Error {
  constructor(
    readonly kind: LexErrorKind,
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const LABEL_START = /[A-Za-z_\x80-\xff]/;
const LABEL_CHAR = /[A-Za-z0-9_\x80-\xff]/;
const LABEL = '[A-Za-z_\\x80-\\xff][A-Za-z0-9_\\x80-\\xff]*';
const IDENT_RE = new RegExp(`\\\\?${LABEL}(?:\\\\${LABEL})*`, 'y');
const LABEL_RE = new RegExp(LABEL, 'y');
const HEREDOC_START_RE = new RegExp(`<<<[ \\t]*(?:(${LABEL})|"(${LABEL})"|'(${LABEL})')(\\r\\n|\\r|\\n)`, 'y');
const OPEN_TAG_RE = /<\?php(?:[ \t]|\r\n?|\n|$)/iy;

// Longest first, so the first match is the scanner's maximal munch.
const OPS = [
  '**=', '...', '<=>', '===', '!==', '<<=', '>>=', '??=', '?->',
  '**', '++', '--', '->', '=>', '::', '==', '!=', '<>', '<=', '>=', '&&', '||', '??',
  '+=', '-=', '*=', '/=', '.=', '%=', '&=', '|=', '^=', '<<', '>>',
  '+', '-', '*', '/', '%', '=', '.', ',', ';', ':', '?', '!', '<', '>', '&', '|', '^', '~',
  '@', '(', ')', '[', ']', '{', '}', '$', '\\',
];

const isLabelStart = (c: string | undefined): boolean => c !== undefined && LABEL_START.test(c);

export class PhpTokenizer {
  private pos = 0;
  private inPhp = false;
  private sawOpenTag = false;
  private readonly ahead: Token[] = [];
  private readonly lineStarts: number[] = [0];

  constructor(private readonly src: string) {
    for (let i = 0; i < src.length; i++) {
      const c = src[i];
      if (c === '\n' || (c === '\r' && src[i + 1] !== '\n')) this.lineStarts.push(i + 1);
    }
  }

  /** 1-based line of a byte offset, counting `\n`, `\r\n` and a lone `\r` like PHP. */
  lineOf(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  get openedPhp(): boolean {
    return this.sawOpenTag;
  }

  /** The token `n` places ahead without consuming it (the parser needs two to tell `FOO` from `foo()`). */
  peek(n = 0): Token {
    while (this.ahead.length <= n) {
      const last = this.ahead[this.ahead.length - 1];
      this.ahead.push(last?.kind === 'eof' ? last : this.scan());
    }
    return this.ahead[n];
  }

  next(): Token {
    const t = this.peek();
    this.ahead.shift();
    return t;
  }

  private fail(kind: LexErrorKind, message: string, pos: number): never {
    throw new PhpLexError(kind, message, pos);
  }

  private scan(): Token {
    for (;;) {
      if (!this.inPhp && !this.skipInlineHtml()) return { kind: 'eof', pos: this.src.length };
      const t = this.scanPhp();
      if (t) return t;
    }
  }

  /** Skips output text up to the next open tag; false at end of input. */
  private skipInlineHtml(): boolean {
    const src = this.src;
    for (;;) {
      const lt = src.indexOf('<?', this.pos);
      if (lt < 0) {
        this.pos = src.length;
        return false;
      }
      OPEN_TAG_RE.lastIndex = lt;
      const m = OPEN_TAG_RE.exec(src);
      if (m) {
        this.pos = lt + m[0].length;
        this.inPhp = this.sawOpenTag = true;
        return true;
      }
      // `<?=` and short tags run code or not depending on php.ini (short_open_tag): refuse to guess.
      const what = src.startsWith('<?=', lt) ? 'the <?= echo tag' : 'a short open tag <?';
      this.fail('unsupported', `${what} is not supported — use <?php followed by a space or newline`, lt);
    }
  }

  /** One token in PHP mode, or null after a comment/whitespace run that ended PHP mode. */
  private scanPhp(): Token | null {
    const src = this.src;
    for (;;) {
      const c = src[this.pos];
      if (c === undefined) return { kind: 'eof', pos: this.pos };
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        this.pos++;
        continue;
      }
      if (c === '#' && src[this.pos + 1] === '[') {
        // PHP 8 reads `#[` as an attribute, not as a comment (PHP 7 did).
        this.fail('unsupported', '#[ starts a PHP 8 attribute, not a comment', this.pos);
      }
      if (c === '#' || (c === '/' && src[this.pos + 1] === '/')) {
        this.skipLineComment();
        continue;
      }
      if (c === '/' && src[this.pos + 1] === '*') {
        const end = src.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('syntax', 'unterminated /* comment', this.pos);
        this.pos = end + 2;
        continue;
      }
      break;
    }
    const start = this.pos;
    const c = src[start];
    const c1 = src[start + 1];
    if (c === '?' && c1 === '>') {
      this.pos += 2;
      // The closing tag swallows one newline directly after it.
      if (src.startsWith('\r\n', this.pos)) this.pos += 2;
      else if (src[this.pos] === '\n' || src[this.pos] === '\r') this.pos++;
      this.inPhp = false;
      return { kind: 'close', pos: start };
    }
    if (c === "'") return this.scanSingleQuoted(start, start + 1);
    if (c === '"') return this.scanDoubleQuoted(start, start + 1);
    if ((c === 'b' || c === 'B') && (c1 === "'" || c1 === '"')) {
      return c1 === "'" ? this.scanSingleQuoted(start, start + 2) : this.scanDoubleQuoted(start, start + 2);
    }
    if (c === '<' && src.startsWith('<<<', start)) return this.scanHeredoc(start, start);
    if ((c === 'b' || c === 'B') && src.startsWith('<<<', start + 1)) return this.scanHeredoc(start, start + 1);
    if (c === '`') this.fail('unsupported', 'backticks run a shell command', start);
    if ((c >= '0' && c <= '9') || (c === '.' && c1 >= '0' && c1 <= '9')) {
      let num;
      try {
        num = scanNumber(src, start);
      } catch (e) {
        if (e instanceof PhpEscapeError) this.fail('syntax', e.message, start);
        throw e;
      }
      if (num) {
        this.pos = start + num.text.length;
        return { kind: 'number', value: num.value, text: num.text, pos: start };
      }
    }
    if (c === '$' && isLabelStart(c1)) {
      LABEL_RE.lastIndex = start + 1;
      const name = LABEL_RE.exec(src)![0];
      this.pos = start + 1 + name.length;
      return { kind: 'var', name, pos: start };
    }
    IDENT_RE.lastIndex = start;
    const ident = IDENT_RE.exec(src);
    if (ident) {
      this.pos = start + ident[0].length;
      return { kind: 'ident', name: ident[0], pos: start };
    }
    for (const op of OPS) {
      if (src.startsWith(op, start)) {
        this.pos = start + op.length;
        return { kind: 'op', op, pos: start };
      }
    }
    const hex = c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
    this.fail('syntax', `unexpected character 0x${hex}`, start);
  }

  /** `//` and `#` comments end at a newline — or at `?>`, which then closes PHP mode. */
  private skipLineComment(): void {
    const src = this.src;
    let i = this.pos;
    for (; i < src.length; i++) {
      const c = src[i];
      if (c === '\n' || c === '\r') {
        i++;
        break;
      }
      if (c === '?' && src[i + 1] === '>') break;
    }
    this.pos = i;
  }

  private scanSingleQuoted(start: number, bodyStart: number): Token {
    const src = this.src;
    let i = bodyStart;
    for (;;) {
      if (i >= src.length) this.fail('syntax', 'unterminated single-quoted string', start);
      const c = src[i++];
      if (c === "'") break;
      if (c === '\\' && i < src.length) i++;
    }
    this.pos = i;
    return { kind: 'string', value: decodeSingleQuoted(src.slice(bodyStart, i - 1)), pos: start };
  }

  private scanDoubleQuoted(start: number, bodyStart: number): Token {
    const src = this.src;
    let i = bodyStart;
    for (;;) {
      if (i >= src.length) this.fail('syntax', 'unterminated double-quoted string', start);
      const c = src[i++];
      if (c === '"') break;
      if (c === '\\') {
        if (i < src.length) i++;
      } else {
        this.checkInterpolation(c, i);
      }
    }
    this.pos = i;
    return { kind: 'string', value: this.decode(src.slice(bodyStart, i - 1), '"', bodyStart), pos: start };
  }

  /** `$name`, `${` and `{$` inside double quotes and heredocs interpolate; a lone `$` or `{` does not. */
  private checkInterpolation(c: string, next: number): void {
    const n = this.src[next];
    if ((c === '$' && (isLabelStart(n) || n === '{')) || (c === '{' && n === '$')) {
      const at = c === '$' ? next - 1 : next;
      LABEL_RE.lastIndex = at + 1;
      const name = LABEL_RE.exec(this.src)?.[0];
      this.fail('interpolation', name ? `$${name}` : 'an expression', at);
    }
  }

  private decode(body: string, quote: '"' | '', bodyStart: number): string {
    try {
      return decodeDoubleQuoted(body, quote);
    } catch (e) {
      if (e instanceof PhpEscapeError) this.fail('syntax', e.message, bodyStart + e.offset);
      throw e;
    }
  }

  /**
   * Heredoc/nowdoc with PHP 7.3+ flexible closing markers: the body ends at the first line whose
   * leading spaces/tabs are followed by the label and a non-label character, and that
   * indentation is removed from every body line.
   */
  private scanHeredoc(start: number, at: number): Token {
    const src = this.src;
    HEREDOC_START_RE.lastIndex = at;
    const m = HEREDOC_START_RE.exec(src);
    if (!m) this.fail('syntax', 'malformed <<< heredoc start', start);
    const label = m[1] ?? m[2] ?? m[3];
    const nowdoc = m[3] !== undefined;
    const bodyStart = at + m[0].length;
    // Find the closing line: the body's first line, or any line after a newline in the body.
    let lineStart = bodyStart;
    let closeIndentEnd = -1;
    for (;;) {
      let j = lineStart;
      while (src[j] === ' ' || src[j] === '\t') j++;
      // PHP only sees a closing label that is followed by at least one more byte.
      if (src.startsWith(label, j) && j + label.length < src.length && !LABEL_CHAR.test(src[j + label.length])) {
        closeIndentEnd = j;
        break;
      }
      const nl = nextNewline(src, lineStart);
      if (nl < 0) this.fail('syntax', `unterminated heredoc (no closing ${label})`, start);
      lineStart = nl + (src[nl] === '\r' && src[nl + 1] === '\n' ? 2 : 1);
    }
    const indent = src.slice(lineStart, closeIndentEnd);
    if (indent.includes(' ') && indent.includes('\t')) {
      this.fail('syntax', 'invalid heredoc indentation — tabs and spaces cannot be mixed', lineStart);
    }
    // The newline before the closing line belongs to the syntax, not to the value.
    let bodyEnd = lineStart;
    if (bodyEnd > bodyStart) bodyEnd -= src[bodyEnd - 1] === '\n' && src[bodyEnd - 2] === '\r' ? 2 : 1;
    if (bodyEnd < bodyStart) bodyEnd = bodyStart;
    const raw = src.slice(bodyStart, bodyEnd);
    if (!nowdoc) {
      for (let i = 0; i < raw.length; i++) {
        const c = raw[i];
        if (c === '\\') {
          if (raw[i + 1] !== '\n' && raw[i + 1] !== '\r') i++;
        } else if (c === '$' || c === '{') {
          this.checkInterpolation(c, bodyStart + i + 1);
        }
      }
    }
    this.pos = closeIndentEnd + label.length;
    const stripped = this.stripIndentation(raw, indent, bodyStart, lineStart > bodyStart);
    return { kind: 'string', value: nowdoc ? stripped : this.decode(stripped, '', bodyStart), pos: start };
  }

  /** Port of strip_multiline_string_indentation(); whitespace-only lines may be shorter. */
  private stripIndentation(raw: string, indent: string, bodyStart: number, hasBody: boolean): string {
    if (indent === '' || !hasBody) return raw;
    const usesSpaces = indent[0] === ' ';
    let out = '';
    let i = 0;
    while (i <= raw.length) {
      let nl = nextNewline(raw, i);
      const nlLen = nl < 0 ? 0 : raw[nl] === '\r' && raw[nl + 1] === '\n' ? 2 : 1;
      if (nl < 0) nl = raw.length;
      for (let skip = 0; skip < indent.length; skip++, i++) {
        if (i === nl) break;
        const c = raw[i];
        if (c !== ' ' && c !== '\t') {
          this.fail('syntax', `invalid heredoc body indentation (expected at least ${indent.length})`, bodyStart + i);
        }
        if ((c === ' ') !== usesSpaces) {
          this.fail('syntax', 'invalid heredoc indentation — tabs and spaces cannot be mixed', bodyStart + i);
        }
      }
      if (i >= raw.length) break;
      out += raw.slice(i, nl + nlLen);
      i = nl + nlLen;
    }
    return out;
  }
}

function nextNewline(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\n' || s[i] === '\r') return i;
  }
  return -1;
}
