/**
 * Reads the top-level `$name = <literal>;` assignments of a PHP file without running it, the way
 * `include` would see them. Everything else is either skipped because it cannot change a variable
 * (a plain function call such as `date_default_timezone_set('UTC');`, or a non-literal value of a
 * variable the caller does not need, like WHMCS's documented `$smarty_security_policy = array(…)`),
 * or refused with a ParseError that names the line: guessing at PHP semantics could connect with
 * the wrong credentials.
 *
 * Skipped code is only bracket-matched, not parsed, so a syntax error inside it goes unnoticed
 * (PHP would reject the whole file); `fullyParsed` reports when anything was skipped.
 */
import { ParseError } from '../../errors.js';
import { negate, phpNumberToString, type PhpNumber } from './php-literal.js';
import { PhpLexError, PhpTokenizer, type Token } from './php-tokenizer.js';

export type PhpLiteralType = 'string' | 'int' | 'float' | 'bool' | 'null';

export interface PhpLiteral {
  type: PhpLiteralType;
  /** `strval()` of the value as a byte string (one char per byte). */
  bytes: string;
  line: number;
}

interface PhpAssignments {
  /** Final literal value of each variable (later assignments win, as in PHP). */
  literals: Map<string, PhpLiteral>;
  /** Variables whose final value is not a literal (only those not in `strict`). */
  nonLiteral: Map<string, { line: number; reason: string }>;
  /** Function-call statements that were skipped because they cannot assign variables. */
  ignoredCalls: Array<{ name: string; line: number }>;
  /** Line of a top-level `return`: nothing after it runs. */
  returnedAtLine?: number;
  /** Variables assigned after that `return` (never set by PHP). */
  unreachable: string[];
  /**
   * False when some statement (a skipped value, an ignored call, a return value) was only
   * bracket-matched, not parsed: PHP could still find a syntax error in it.
   */
  fullyParsed: boolean;
}

export type ConfigErrorReason = 'syntax' | 'dynamic' | 'unsupported';

/** ParseError that also says why, so callers and tests can tell PHP syntax errors from refusals. */
export class PhpConfigError extends ParseError {
  constructor(
    message: string,
    readonly reason: ConfigErrorReason,
    readonly line: number,
  ) {
    super(message);
  }
}

class Rejection extends Error {
  constructor(
    readonly reason: ConfigErrorReason,
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

// PHP's reserved words: a statement starting with one is never a plain function call.
const KEYWORDS = new Set(
  ('abstract and array as break callable case catch class clone const continue declare default do echo else ' +
    'elseif empty enddeclare endfor endforeach endif endswitch endwhile eval exit die extends final finally fn ' +
    'for foreach function global goto if implements include include_once instanceof insteadof interface isset ' +
    'list match namespace new or print private protected public readonly require require_once return static ' +
    'switch throw trait try unset use var while xor yield __halt_compiler').split(' '),
);
const INCLUDES = new Set(['include', 'include_once', 'require', 'require_once']);
// Inside skipped code: anything that can define or change variables, or stop the script.
const FORBIDDEN_IN_SKIPPED = new Set([...INCLUDES, 'eval', 'extract', 'parse_str', 'mb_parse_str', 'exit', 'die', 'global']);
const ASSIGN_OPS = new Set(['=', '+=', '-=', '*=', '/=', '.=', '%=', '**=', '??=', '&=', '|=', '^=', '<<=', '>>=']);
const EXPR_START_OPS = new Set(['+', '-', '!', '~', '@', '(', '[', '&', '$', '\\', '++', '--']);
const OP_REASON: Record<string, string> = {
  '.': 'concatenation',
  '+': 'arithmetic', '-': 'arithmetic', '*': 'arithmetic', '/': 'arithmetic', '%': 'arithmetic', '**': 'arithmetic',
  '?': 'conditional expression', '??': 'conditional expression',
  '(': 'function call', '::': 'class constant', '[': 'array access', '->': 'property access', '?->': 'property access',
};

const bare = (ident: string): string => ident.replace(/^\\/, '').toLowerCase();

export function parsePhpAssignments(src: string, fileName: string, strict: ReadonlySet<string>): PhpAssignments {
  return new AssignmentParser(src, fileName, strict).run();
}

class AssignmentParser {
  private readonly tok: PhpTokenizer;
  private readonly out: PhpAssignments = { literals: new Map(), nonLiteral: new Map(), ignoredCalls: [], unreachable: [], fullyParsed: true };
  /**
   * After a top-level `return` nothing runs, but PHP still compiles the rest, so it is parsed
   * by the same rules (a file PHP rejects must not pass); its assignments are just not recorded.
   */
  private dead = false;

  constructor(
    src: string,
    private readonly fileName: string,
    private readonly strict: ReadonlySet<string>,
  ) {
    this.tok = new PhpTokenizer(src);
  }

  run(): PhpAssignments {
    try {
      while (this.statement());
    } catch (e) {
      throw this.toParseError(e);
    }
    if (!this.tok.openedPhp) {
      throw new PhpConfigError(`${this.fileName}: no <?php open tag — this is not a PHP configuration file`, 'unsupported', 1);
    }
    return this.out;
  }

  private toParseError(e: unknown): unknown {
    if (e instanceof Rejection) return this.error(e.reason, e.message, e.pos);
    if (e instanceof PhpLexError) {
      if (e.kind === 'interpolation') return this.error('dynamic', `a string interpolates ${e.message}`, e.pos);
      return this.error(e.kind === 'syntax' ? 'syntax' : 'unsupported', e.message, e.pos);
    }
    return e;
  }

  private error(reason: ConfigErrorReason, what: string, pos: number): PhpConfigError {
    const line = this.tok.lineOf(pos);
    const where = `${this.fileName} line ${line}`;
    const message =
      reason === 'syntax'
        ? `${where}: PHP syntax error: ${what} — PHP cannot load this file either; check it with php -l`
        : reason === 'dynamic'
          ? `${where}: ${what} — whmcs-2fa only reads literal values; write the value as a quoted string`
          : `${where}: ${what} — whmcs-2fa only reads $name = 'value'; assignments; simplify the file or pass --db <url>`;
    return new PhpConfigError(message, reason, line);
  }

  /** One statement; false once nothing more can run. */
  private statement(): boolean {
    const t = this.tok.next();
    switch (t.kind) {
      case 'eof':
        return false;
      case 'close':
        return true;
      case 'var':
        this.assignment(t);
        return true;
      case 'ident':
        return this.identStatement(t);
      case 'op':
        if (t.op === ';') return true;
        if (t.op === '@' && (this.tok.peek().kind === 'ident' || this.isOp(this.tok.peek(), '@'))) {
          // `@ini_set(…)`: the silence operator changes nothing we care about.
          return this.statement();
        }
        throw new Rejection('unsupported', `unsupported PHP statement starting with '${t.op}'`, t.pos);
      default:
        throw new Rejection('unsupported', `unsupported PHP statement starting with ${describe(t)}`, t.pos);
    }
  }

  private identStatement(t: Token & { kind: 'ident' }): boolean {
    const name = bare(t.name);
    if (name === 'return' && !t.name.startsWith('\\')) {
      this.returnStatement(t);
      return true;
    }
    if (name === '__halt_compiler') {
      // Everything after `__halt_compiler();` is raw data, not code.
      if (!this.isOp(this.tok.next(), '(') || !this.isOp(this.tok.next(), ')')) {
        throw new Rejection('syntax', 'expected __halt_compiler();', t.pos);
      }
      const end = this.tok.peek();
      if (end.kind !== 'close' && !this.isOp(end, ';')) throw new Rejection('syntax', 'expected ; after __halt_compiler()', end.pos);
      return false;
    }
    if (INCLUDES.has(name)) {
      throw new Rejection('unsupported', `${name} of another file is not supported (whmcs-2fa reads configuration.php alone)`, t.pos);
    }
    if (FORBIDDEN_IN_SKIPPED.has(name)) {
      throw new Rejection('unsupported', `${name}() can set variables, so whmcs-2fa cannot read past it`, t.pos);
    }
    if (KEYWORDS.has(name) || !this.isOp(this.tok.peek(), '(')) {
      throw new Rejection('unsupported', `unsupported PHP statement '${t.name}'`, t.pos);
    }
    this.skipExpression(`function call statement ${t.name}()`);
    this.out.ignoredCalls.push({ name: t.name, line: this.tok.lineOf(t.pos) });
    return true;
  }

  private returnStatement(t: Token): void {
    this.out.returnedAtLine ??= this.tok.lineOf(t.pos);
    this.dead = true;
    const next = this.tok.peek();
    if (next.kind === 'close' || this.isOp(next, ';')) {
      this.tok.next();
      return;
    }
    // `return <value>;`: the value is irrelevant, but must parse like any skipped expression.
    try {
      if ('type' in this.literal()) return;
    } catch (e) {
      if (!(e instanceof PhpLexError && e.kind === 'interpolation')) throw e;
    }
    this.skipExpression('return statement');
  }

  private assignment(v: Token & { kind: 'var' }): void {
    const op = this.tok.peek();
    if (op.kind !== 'op' || !ASSIGN_OPS.has(op.op)) {
      throw new Rejection('unsupported', `unsupported PHP statement starting with $${v.name}`, v.pos);
    }
    if (v.name === 'this' || v.name === 'GLOBALS') {
      throw new Rejection('syntax', `cannot re-assign $${v.name}`, v.pos);
    }
    this.tok.next();
    let result: PhpLiteral | { reason: string; pos: number };
    try {
      result = op.op === '=' ? this.literal() : { reason: `compound assignment ${op.op}`, pos: op.pos };
    } catch (e) {
      if (e instanceof PhpLexError && e.kind === 'interpolation') {
        throw new Rejection('dynamic', `$${v.name} is not a plain literal (interpolates ${e.message})`, v.pos);
      }
      throw e;
    }
    if ('type' in result) {
      if (this.dead) this.out.unreachable.push(v.name);
      else {
        this.out.nonLiteral.delete(v.name);
        this.out.literals.set(v.name, { ...result, line: this.tok.lineOf(v.pos) });
      }
      return;
    }
    // The error points at the assignment's first line, where a reader looks for `$name`.
    if (this.strict.has(v.name)) {
      throw new Rejection('dynamic', `$${v.name} is not a plain literal (${result.reason})`, v.pos);
    }
    this.skipExpression(v);
    if (this.dead) return;
    this.out.literals.delete(v.name);
    this.out.nonLiteral.set(v.name, { line: this.tok.lineOf(v.pos), reason: result.reason });
  }

  /**
   * A literal right-hand side followed by `;`/`?>`, or the reason it is not one. Only consumes
   * tokens that belong to the literal, so a refusal can resume skipping at the offending token.
   */
  private literal(): PhpLiteral | { reason: string; pos: number } {
    const first = this.tok.peek();
    let negative = false;
    let signs = 0;
    while (this.isOp(this.tok.peek(signs), '-') || this.isOp(this.tok.peek(signs), '+')) {
      if (this.isOp(this.tok.peek(signs), '-')) negative = !negative;
      signs++;
    }
    const t = this.tok.peek(signs);
    let lit: { type: PhpLiteralType; bytes: string } | null = null;
    if (t.kind === 'number') {
      const n: PhpNumber = negative ? negate(t.value) : t.value;
      lit = { type: n.type, bytes: phpNumberToString(n) };
    } else if (signs > 0) {
      return { reason: t.kind === 'string' ? 'arithmetic' : this.startReason(t), pos: first.pos };
    } else if (t.kind === 'string') {
      lit = { type: 'string', bytes: t.value };
    } else if (t.kind === 'ident' && ['true', 'false', 'null'].includes(bare(t.name))) {
      const b = bare(t.name);
      lit = b === 'null' ? { type: 'null', bytes: '' } : { type: 'bool', bytes: b === 'true' ? '1' : '' };
    }
    if (!lit) return { reason: this.startReason(t), pos: t.pos };
    for (let i = 0; i <= signs; i++) this.tok.next();
    const end = this.tok.peek();
    if (end.kind === 'close' || this.isOp(end, ';')) {
      this.tok.next();
      return { ...lit, line: this.tok.lineOf(first.pos) };
    }
    if (end.kind === 'eof') throw new Rejection('syntax', "unexpected end of file, expecting ';'", end.pos);
    if (end.kind === 'string' || end.kind === 'number' || end.kind === 'var') {
      throw new Rejection('syntax', `unexpected ${describe(end)}, expecting ';'`, end.pos);
    }
    return { reason: end.kind === 'op' ? (OP_REASON[end.op] ?? 'expression') : 'expression', pos: end.pos };
  }

  /** Why a right-hand side starting with `t` is not a literal (PHP syntax errors are thrown). */
  private startReason(t: Token): string {
    switch (t.kind) {
      case 'var':
        return `uses variable $${t.name}`;
      case 'ident': {
        const name = bare(t.name);
        if (name === 'array' || name === 'list') return 'array';
        if (name === 'new') return 'object creation';
        if (name === 'function' || name === 'fn') return 'closure';
        if (INCLUDES.has(name)) return 'includes another file';
        const next = this.tok.peek(1);
        if (this.isOp(next, '(')) return `function call ${t.name}()`;
        if (this.isOp(next, '::')) return `class constant ${t.name}::…`;
        return KEYWORDS.has(name) ? 'expression' : `constant ${t.name}`;
      }
      case 'op':
        if (t.op === '[') return 'array';
        if (t.op === '&') return 'reference to another variable';
        if (EXPR_START_OPS.has(t.op)) return 'expression';
        throw new Rejection('syntax', `unexpected '${t.op}'`, t.pos);
      case 'close':
        throw new Rejection('syntax', "unexpected '?>'", t.pos);
      case 'eof':
        throw new Rejection('syntax', 'unexpected end of file', t.pos);
      default:
        return 'expression';
    }
  }

  /**
   * Skips the rest of a statement whose value is not needed, up to `;`/`?>` at bracket depth 0.
   * Refuses anything inside that could set a variable: variables themselves, assignments,
   * includes, extract()…; without a variable in sight PHP code cannot reach the globals.
   */
  private skipExpression(owner: (Token & { kind: 'var' }) | string): void {
    this.out.fullyParsed = false;
    const closers: string[] = [];
    const refuse = (what: string, pos: number): never => {
      throw typeof owner === 'string'
        ? new Rejection('unsupported', `${owner} ${what}`, pos)
        : new Rejection('dynamic', `$${owner.name} is not a plain literal (${what})`, owner.pos);
    };
    for (;;) {
      let t: Token;
      try {
        t = this.tok.next();
      } catch (e) {
        if (e instanceof PhpLexError && e.kind === 'interpolation') refuse(`interpolates ${e.message}`, e.pos);
        throw e;
      }
      if (t.kind === 'eof') throw new Rejection('syntax', 'unexpected end of file', t.pos);
      if (t.kind === 'close') {
        if (closers.length) throw new Rejection('syntax', "unexpected '?>'", t.pos);
        return;
      }
      if (t.kind === 'var') refuse(`uses variable $${t.name}`, t.pos);
      if (t.kind === 'ident' && FORBIDDEN_IN_SKIPPED.has(bare(t.name))) refuse(`uses ${bare(t.name)}`, t.pos);
      if (t.kind !== 'op') continue;
      const op = t.op;
      if (op === '$') refuse('uses a variable variable', t.pos);
      if (ASSIGN_OPS.has(op) || op === '++' || op === '--') refuse(`contains an assignment ${op}`, t.pos);
      if (op === ';') {
        if (closers.length === 0) return;
        if (closers[closers.length - 1] !== '}') throw new Rejection('syntax', "unexpected ';'", t.pos);
      } else if (op === '(' || op === '[' || op === '{') {
        closers.push(op === '(' ? ')' : op === '[' ? ']' : '}');
      } else if (op === ')' || op === ']' || op === '}') {
        if (closers.pop() !== op) throw new Rejection('syntax', `unexpected '${op}'`, t.pos);
      }
    }
  }

  private isOp(t: Token, op: string): boolean {
    return t.kind === 'op' && t.op === op;
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'var':
      return `variable $${t.name}`;
    case 'string':
      return 'string';
    case 'number':
      return `number ${t.text}`;
    case 'ident':
      return `'${t.name}'`;
    case 'op':
      return `'${t.op}'`;
    case 'close':
      return "'?>'";
    case 'eof':
      return 'end of file';
  }
}
