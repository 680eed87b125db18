import { once } from 'node:events';
import { IOStreams, StdoutDescriptor } from './iostreams.js';
import { StreamedList, type Block, type StreamedTable, type View } from './view.js';
import { toYaml } from './yaml.js';
import { toCsv } from './csv.js';
import { jsonSafe, terminalSafe } from './escape.js';

export type Format = 'table' | 'json' | 'yaml' | 'csv' | 'nagios' | 'prometheus';
export const FORMATS: Format[] = ['table', 'json', 'yaml', 'csv', 'nagios', 'prometheus'];

export interface OutputOptions {
  format: Format;
  /** Colour on standard output (the report). */
  color: boolean;
  /**
   * Colour on standard error (warnings, errors, the progress bar); default: `color`. A function is
   * asked on first use: asking whether stderr is a terminal creates process.stderr, which a run
   * that never warns should not pay for.
   */
  errColor?: boolean | (() => boolean);
  quiet: boolean;
  /** The terminal written to; default: this process's. */
  io?: IOStreams;
}

type Paint = (tone: 'ok' | 'warn' | 'bad' | 'dim' | 'bold', s: string) => string;

/**
 * The one output layer: every command's View goes through `print`, every error through `error`.
 * Colour is decided once (TTY, NO_COLOR, --no-color) and applied only to human formats.
 */
export class Output {
  readonly format: Format;
  readonly color: boolean;
  private errColorSource: boolean | (() => boolean);
  readonly quiet: boolean;
  readonly io: IOStreams;
  private stdout?: Pick<NodeJS.WritableStream, 'write'>;
  private stderr?: NodeJS.WritableStream;
  private paint: Paint = (_t, s) => s;
  private deferred: string[] = [];

  constructor(opts: OutputOptions) {
    this.format = opts.format;
    this.color = opts.color;
    this.errColorSource = opts.errColor ?? opts.color;
    this.quiet = opts.quiet;
    this.io = opts.io ?? IOStreams.system();
  }

  // Asked for on first use: process.stderr costs start-up time (stream machinery, a pipe or TTY
  // handle) that a run which never warns should not pay (src/ui/iostreams.ts).
  private get out(): Pick<NodeJS.WritableStream, 'write'> {
    return (this.stdout ??= this.io.stdout);
  }

  private get err(): NodeJS.WritableStream {
    return (this.stderr ??= this.io.stderr);
  }

  get errColor(): boolean {
    if (typeof this.errColorSource === 'function') this.errColorSource = this.errColorSource();
    return this.errColorSource;
  }

  /** The Warning:/Error: prefixes: plain ANSI colours, so no library is loaded to print them. */
  private errPaint(tone: 'warn' | 'bad', s: string): string {
    return this.errColor ? `\x1b[${tone === 'warn' ? 33 : 31}m${s}\x1b[39m` : s;
  }

  /** chalk is loaded only when colour is really used, to keep start-up light. */
  async init(): Promise<void> {
    if (!this.color) return;
    const { Chalk } = await import('chalk');
    const c = new Chalk({ level: 1 });
    const map = { ok: c.green, warn: c.yellow, bad: c.red, dim: c.dim, bold: c.bold } as const;
    const paint: Paint = (tone, s) => map[tone](s);
    this.paint = paint;
  }

  get human(): boolean {
    return this.format === 'table';
  }

  write(s: string): void {
    this.out.write(s);
  }

  /** Progress and notices for humans: stderr, never with --quiet. */
  info(s: string): void {
    if (this.quiet) return;
    const safe = terminalSafe(s, true);
    this.err.write(safe.endsWith('\n') ? safe : safe + '\n');
  }

  /**
   * Warnings wait until the report has been printed (or an error, or a prompt, comes first): a long
   * warning printed first scrolls a short report off an 80×24 screen. Each is printed once.
   */
  warn(s: string): void {
    if (this.quiet) return;
    this.deferred.push(s);
    live.add(this);
  }

  /** Prints the warnings held so far (before a prompt, which must come after what led to it). */
  flushWarnings(): void {
    const held = this.deferred.splice(0);
    live.delete(this);
    for (const w of held) this.err.write(this.errPaint('warn', 'Warning: ') + terminalSafe(w, true) + '\n');
  }

  /** The human line is made terminal-safe; the JSON object carries the message as it is (JSON escapes it). */
  error(message: string, exitCode: number, details?: unknown): void {
    this.flushWarnings();
    this.err.write(this.errPaint('bad', 'Error: ') + terminalSafe(message, true) + '\n');
    if (this.format === 'json') {
      this.out.write(jsonSafe(JSON.stringify({ error: { message, exitCode, ...(details ? { details } : {}) } }, null, 2)) + '\n');
    }
  }

  async print(v: View): Promise<void> {
    for (const w of v.warnings ?? []) this.warn(w);
    await this.printBody(v);
    for (const w of v.warningsAfter?.() ?? []) this.warn(w);
    this.flushWarnings();
  }

  private async printBody(v: View): Promise<void> {
    const stream = v.stream?.[this.format];
    if (stream) {
      // Streamed JSON and YAML carry database text like their one-piece forms: the same escaping.
      const safe = this.format === 'json' || this.format === 'yaml' ? jsonSafe : (s: string) => s;
      await stream((s) => this.writeDrained(safe(s)));
      return;
    }
    if (this.format === 'table' && v.tables) {
      if (!this.quiet) await this.writeTables(v.tables);
      return;
    }
    const raw = v.raw?.[this.format];
    if (raw !== undefined) {
      this.out.write(raw.endsWith('\n') ? raw : raw + '\n');
      return;
    }
    switch (this.format) {
      case 'json':
        await writeJson(v.json, (s) => this.writeDrained(jsonSafe(s)));
        return;
      case 'yaml':
        this.out.write(jsonSafe(toYaml(v.json)));
        return;
      case 'csv':
        if (v.rows) {
          this.out.write(toCsv(v.rows));
          return;
        }
        // Not a row list: csv falls back to the stable JSON shape rather than inventing columns.
        this.out.write(JSON.stringify(v.json, null, 2) + '\n');
        return;
      default:
        if (this.quiet) return;
        this.out.write(this.renderBlocks(v.blocks));
    }
  }

  /** Writes and, when the stream buffers (a slow pipe or socket), waits until it has drained. */
  private writeDrained(s: string): Promise<void> | undefined {
    const out = this.out;
    if (out.write(s)) return undefined;
    // A StdoutDescriptor's writes are synchronous until one fails; then process.stdout buffers.
    const emitter = out instanceof StdoutDescriptor ? out.stream : (out as NodeJS.WritableStream);
    return emitter ? once(emitter, 'drain').then(() => undefined) : undefined;
  }

  renderBlocks(blocks: Block[]): string {
    const parts: string[] = [];
    for (const b of blocks) parts.push(this.renderBlock(b));
    return parts.filter((p) => p !== '').join('\n\n') + (parts.length ? '\n' : '');
  }

  /** Every string a block carries can hold database text: made terminal-safe before colour is added. */
  private renderBlock(b: Block): string {
    const line = (s: string) => terminalSafe(s);
    const title = b.kind !== 'heading' && b.kind !== 'text' && b.kind !== 'qr' && b.title ? this.paint('bold', line(b.title)) + '\n' : '';
    switch (b.kind) {
      case 'heading':
        return this.paint('bold', line(b.text));
      case 'text': {
        const text = terminalSafe(b.text, true);
        return b.tone ? this.paint(b.tone, text) : text;
      }
      case 'qr':
        // Built here, not from database text: its colour codes are what makes it scan on any theme.
        return b.text;
      case 'pairs': {
        const pairs = b.pairs.map(([k, val]) => [line(k), terminalSafe(val, true)] as const);
        const w = Math.max(0, ...pairs.map(([k]) => k.length));
        const lines = pairs.map(([k, val]) => `  ${k.padEnd(w)}  ${val}`);
        return title + lines.join('\n');
      }
      case 'table':
        return title + this.table(b.columns.map(line), b.rows.map((r) => r.map(line)));
      case 'diff': {
        const lines = b.lines.map(
          (l) => `  ${line(l.field)}: ${this.paint('bad', line(l.before))} → ${this.paint('ok', line(l.after))}`,
        );
        return title + (lines.length ? lines.join('\n') : '  (no change)');
      }
    }
  }

  private table(columns: string[], rows: string[][]): string {
    if (rows.length === 0) return this.paint('dim', '  (none)');
    const widths = fitToTerminal(columns.map((c, i) => Math.max(c.length, ...rows.map((r) => visibleLength(r[i] ?? '')))), this.terminalColumns);
    return [this.paint('dim', tableLine(columns, widths)), ...rows.map((r) => tableLine(r, widths))].join('\n');
  }

  private columnsCache: number | null | undefined;
  /**
   * The terminal's width when standard output is one (null in a pipe or file, where rows are never
   * cut: `accounts | grep` sees whole values). A table wider than the terminal would wrap every row
   * into an unreadable zigzag; its widest columns are cut with an ellipsis instead.
   */
  private get terminalColumns(): number | null {
    if (this.columnsCache !== undefined) return this.columnsCache;
    return (this.columnsCache = this.io.terminalWidth('stdout'));
  }

  /**
   * Tables as renderBlocks would print them, in memory a page at a time: a first read of each
   * table's pages measures the columns and counts the rows, a second one prints them.
   */
  private async writeTables(tables: StreamedTable[]): Promise<void> {
    for (let n = 0; n < tables.length; n++) {
      const t = tables[n]!;
      const widths = t.columns.map((c) => visibleLength(c));
      let count = 0;
      // Cells hold database text: measured and printed terminal-safe, as renderBlock's tables are.
      for await (const page of t.pages()) {
        for (const r of page) {
          count++;
          for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, visibleLength(terminalSafe(r[i] ?? '')));
        }
      }
      let text = (n ? '\n' : '') + this.paint('bold', t.title(count)) + '\n';
      if (count === 0) {
        await this.writeDrained(text + this.paint('dim', '  (none)') + '\n');
        continue;
      }
      const fitted = fitToTerminal(widths, this.terminalColumns);
      text += this.paint('dim', tableLine(t.columns, fitted)) + '\n';
      // A few tens of KB per write, as writeJson's batches: a whole page of lines held as one
      // string outlives the young generation and is promoted, garbage only a full collection frees.
      let lines = 0;
      for await (const page of t.pages()) {
        for (const r of page) {
          text += tableLine(r.map((c) => terminalSafe(c ?? '')), fitted) + '\n';
          if (++lines % TABLE_BATCH === 0) {
            await this.writeDrained(text);
            text = '';
          }
        }
      }
      if (text) await this.writeDrained(text);
    }
  }
}

/** Outputs holding warnings, for flushAllWarnings. */
const live = new Set<Output>();

/** Before a prompt: every warning held for this terminal is printed, so the question comes after what it is about. */
export function flushAllWarnings(io: IOStreams): void {
  for (const o of [...live]) if (o.io === io) o.flushWarnings();
}

/**
 * Elements stringified at a time, each batch one write: about 40 KB of JSON for an account listing.
 * Batches of 512 (150 KB strings, and Buffers of that size made from them) raised the peak RSS of a
 * 100 000-account listing by ~10 MB and cost no less time. JSON_PIECE: the size at which the small
 * structural text between them is written.
 */
export const JSON_BATCH = 128;
/** Table lines per write of a streamed table (about as much text as a JSON_BATCH). */
export const TABLE_BATCH = 128;
const JSON_PIECE = 1 << 16;

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
const hasLongArray = (v: unknown, depth: number): boolean =>
  v instanceof StreamedList ||
  (Array.isArray(v)
    ? v.length > JSON_BATCH || (depth > 0 && v.some((x) => hasLongArray(x, depth - 1)))
    : isPlain(v) && depth > 0 && Object.values(v).some((x) => hasLongArray(x, depth - 1)));
const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * `list[from, to)` of an array `depth` containers deep, as `JSON.stringify(…, null, 2)` of the whole
 * value writes it: opened by "[\n" for the first elements, by ",\n" after earlier ones, without the
 * closing bracket. Wrapping the batch in `depth` one-element arrays makes JSON.stringify indent it
 * for that depth itself (re-indenting its output would cost as much again), and a leading 0 in a
 * later batch makes it write the ",\n" too. The text is then one slice of JSON.stringify's result:
 * written as is, without being copied into a bigger string first.
 */
function elementsText(list: readonly unknown[], from: number, to: number, depth: number, first: boolean): string {
  let wrapped: unknown = first && from === 0 && to === list.length ? list : first ? list.slice(from, to) : [0, ...list.slice(from, to)];
  for (let i = 0; i < depth; i++) wrapped = [wrapped];
  const s = JSON.stringify(wrapped, null, 2);
  // The opening lines "[\n", "  [\n", …: depth + 1 brackets, each after 2·level spaces; closing alike.
  const cut = (depth + 1) * (depth + 2);
  // First: from the innermost "[\n". Later: from the "," after the leading 0 and its indentation.
  return s.slice(first ? cut - 2 : cut + 2 * (depth + 1) + 1, s.length - cut);
}

/**
 * Exactly `JSON.stringify(value, null, 2) + '\n'` — with every StreamedList written as the array of
 * all its pages' elements — but a value holding long arrays (a 100 000-account listing) is written
 * a batch of JSON_BATCH elements at a time: it never exists as one 30 MB string plus its copy as a
 * Buffer, which costs memory and garbage-collection time. `write` may return a promise
 * (backpressure): it is awaited before anything else is written.
 */
export async function writeJson(value: unknown, write: (s: string) => void | Promise<void>): Promise<void> {
  if (!hasLongArray(value, 3)) {
    await write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  // Structural text (keys, brackets, small values) gathers here; batches are written on their own.
  let piece = '';
  const put = async (s: string) => {
    piece += s;
    if (piece.length >= JSON_PIECE) await flush();
  };
  const flush = async () => {
    const p = piece;
    piece = '';
    if (p) await write(p);
  };
  const nested = (s: string, indent: string) => (indent ? s.replaceAll('\n', '\n' + indent) : s);
  /** The elements of an array, after `count` already written; returns the new count. */
  const elements = async (list: readonly unknown[], depth: number, count: number): Promise<number> => {
    for (let i = 0; i < list.length; i += JSON_BATCH) {
      const to = Math.min(i + JSON_BATCH, list.length);
      await flush();
      await write(elementsText(list, i, to, depth, count === 0));
      count += to - i;
    }
    return count;
  };
  const emit = async (v: unknown, depth: number): Promise<void> => {
    const indent = '  '.repeat(depth);
    if (v instanceof StreamedList) {
      let count = 0;
      for await (const page of v.pages()) count = await elements(page, depth, count);
      await put(count ? '\n' + indent + ']' : '[]');
    } else if (Array.isArray(v) && v.length > 0 && hasLongArray(v, 2)) {
      await elements(v, depth, 0);
      await put('\n' + indent + ']');
    } else if (isPlain(v) && hasLongArray(v, 2)) {
      const keys = Object.keys(v).filter((k) => !skipped(v[k]));
      await put('{');
      for (let i = 0; i < keys.length; i++) {
        await put((i ? ',\n' : '\n') + indent + '  ' + JSON.stringify(keys[i]) + ': ');
        await emit(v[keys[i]], depth + 1);
      }
      await put(keys.length ? '\n' + indent + '}' : '}');
    } else {
      await put(nested(String(JSON.stringify(v, null, 2)), indent));
    }
  };
  await emit(value, 0);
  await put('\n');
  await flush();
}

/** One table line: two spaces in, columns two apart, the last one unpadded; a cell wider than its column is cut with '…'. */
function tableLine(cells: readonly string[], widths: readonly number[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    const w = widths[i]!;
    let cell = cells[i]!;
    let len = visibleLength(cell);
    if (len > w) {
      cell = [...cell].slice(0, Math.max(0, w - 1)).join('') + '…';
      len = visibleLength(cell);
    }
    line += i === cells.length - 1 ? '  ' + cell : '  ' + cell + ' '.repeat(Math.max(0, w - len));
  }
  return line.trimEnd();
}

/** Narrowest a column is cut to: enough to recognise a value and its start. */
const MIN_COLUMN = 8;

/**
 * Column widths that fit `columns` terminal cells (two spaces in, two between): the last column
 * gives up cells first, then the widest, none below MIN_COLUMN (or its own width). Unchanged when
 * they already fit or there is no terminal.
 */
export function fitToTerminal(widths: readonly number[], columns: number | null): number[] {
  const out = [...widths];
  if (!columns || columns <= 0) return out;
  const total = () => 2 + out.reduce((a, w) => a + w, 0) + 2 * Math.max(0, out.length - 1);
  let excess = total() - columns;
  // The last column first (free text such as Problems, cut where a terminal would cut it), then the
  // widest of the others, a cell at a time.
  const last = out.length - 1;
  if (excess > 0 && last >= 0 && out[last]! > MIN_COLUMN) {
    const cut = Math.min(excess, out[last]! - MIN_COLUMN);
    out[last] = out[last]! - cut;
    excess -= cut;
  }
  while (excess > 0) {
    let widest = -1;
    for (let i = 0; i < out.length; i++) if (out[i]! > MIN_COLUMN && (widest < 0 || out[i]! > out[widest]!)) widest = i;
    if (widest < 0) break;
    const next = Math.max(MIN_COLUMN, ...out.filter((_, i) => i !== widest).map((w) => Math.min(w, out[widest]!)));
    const cut = Math.min(excess, Math.max(1, out[widest]! - next));
    out[widest] = out[widest]! - cut;
    excess -= cut;
  }
  return out;
}

/** Printable ASCII: one cell per character, nothing to strip (nearly every cell of a listing). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function visibleLength(s: string): number {
  if (PRINTABLE_ASCII.test(s)) return s.length;
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}
