import { writeSync } from 'node:fs';
import type { Block, View } from './view.js';
import { toYaml } from './yaml.js';
import { toCsv } from './csv.js';

export type Format = 'table' | 'json' | 'yaml' | 'csv' | 'nagios';
export const FORMATS: Format[] = ['table', 'json', 'yaml', 'csv', 'nagios'];

export interface OutputOptions {
  format: Format;
  color: boolean;
  quiet: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

type Paint = (tone: 'ok' | 'warn' | 'bad' | 'dim' | 'bold', s: string) => string;

/**
 * The one output layer: every command's View goes through `print`, every error through `error`.
 * Colour is decided once (TTY, NO_COLOR, --no-color) and applied only to human formats.
 */
export class Output {
  readonly format: Format;
  readonly color: boolean;
  readonly quiet: boolean;
  private stdout?: Pick<NodeJS.WritableStream, 'write'>;
  private stderr?: NodeJS.WritableStream;
  private paint: Paint = (_t, s) => s;

  constructor(opts: OutputOptions) {
    this.format = opts.format;
    this.color = opts.color;
    this.quiet = opts.quiet;
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
  }

  // Created on first use: process.stderr costs start-up time (stream machinery, a pipe or TTY
  // handle) that a run which never warns should not pay. Standard output goes to the descriptor.
  private get out(): Pick<NodeJS.WritableStream, 'write'> {
    return (this.stdout ??= new StdoutDescriptor());
  }

  private get err(): NodeJS.WritableStream {
    return (this.stderr ??= process.stderr);
  }

  /** chalk is loaded only when colour is really used, to keep start-up light. */
  async init(): Promise<void> {
    if (!this.color) return;
    const { Chalk } = await import('chalk');
    const c = new Chalk({ level: 1 });
    const map = { ok: c.green, warn: c.yellow, bad: c.red, dim: c.dim, bold: c.bold } as const;
    this.paint = (tone, s) => map[tone](s);
  }

  get human(): boolean {
    return this.format === 'table';
  }

  write(s: string): void {
    this.out.write(s);
  }

  /** Progress and notices for humans: stderr, never with --quiet. */
  info(s: string): void {
    if (!this.quiet) this.err.write(s.endsWith('\n') ? s : s + '\n');
  }

  warn(s: string): void {
    if (!this.quiet) this.err.write(this.paint('warn', 'Warning: ') + s + '\n');
  }

  error(message: string, exitCode: number, details?: unknown): void {
    this.err.write(this.paint('bad', 'Error: ') + message + '\n');
    if (this.format === 'json') {
      this.out.write(JSON.stringify({ error: { message, exitCode, ...(details ? { details } : {}) } }, null, 2) + '\n');
    }
  }

  print(v: View): void {
    for (const w of v.warnings ?? []) this.warn(w);
    const raw = v.raw?.[this.format];
    if (raw !== undefined) {
      this.out.write(raw.endsWith('\n') ? raw : raw + '\n');
      return;
    }
    switch (this.format) {
      case 'json':
        writeJson(v.json, (s) => this.out.write(s));
        return;
      case 'yaml':
        this.out.write(toYaml(v.json));
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

  renderBlocks(blocks: Block[]): string {
    const parts: string[] = [];
    for (const b of blocks) parts.push(this.renderBlock(b));
    return parts.filter((p) => p !== '').join('\n\n') + (parts.length ? '\n' : '');
  }

  private renderBlock(b: Block): string {
    switch (b.kind) {
      case 'heading':
        return this.paint('bold', b.text);
      case 'text':
        return b.tone ? this.paint(b.tone, b.text) : b.text;
      case 'pairs': {
        const w = Math.max(0, ...b.pairs.map(([k]) => k.length));
        const lines = b.pairs.map(([k, val]) => `  ${k.padEnd(w)}  ${val}`);
        return (b.title ? this.paint('bold', b.title) + '\n' : '') + lines.join('\n');
      }
      case 'table':
        return (b.title ? this.paint('bold', b.title) + '\n' : '') + this.table(b.columns, b.rows);
      case 'diff': {
        const lines = b.lines.map(
          (l) => `  ${l.field}: ${this.paint('bad', l.before)} → ${this.paint('ok', l.after)}`,
        );
        return (b.title ? this.paint('bold', b.title) + '\n' : '') + (lines.length ? lines.join('\n') : '  (no change)');
      }
    }
  }

  private table(columns: string[], rows: string[][]): string {
    if (rows.length === 0) return this.paint('dim', '  (none)');
    const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
    const line = (cells: string[]) =>
      '  ' + cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ');
    return [this.paint('dim', line(columns)), ...rows.map(line)].join('\n');
  }
}

/**
 * Standard output written to file descriptor 1 directly, as help and usage errors are (src/cli.ts):
 * creating process.stdout costs a short run like clock-check more than printing its answer. If a
 * write fails (EAGAIN on a full non-blocking pipe, …), it and every later one go through
 * process.stdout instead, which queues what it cannot write yet: the order never changes.
 */
class StdoutDescriptor {
  private stream: NodeJS.WritableStream | null = null;

  write(s: string | Uint8Array): boolean {
    if (this.stream) return this.stream.write(s);
    let buf = typeof s === 'string' ? Buffer.from(s) : s;
    try {
      while (buf.length) buf = buf.subarray(writeSync(1, buf));
      return true;
    } catch {
      this.stream = process.stdout;
      return this.stream.write(buf);
    }
  }
}

/** Elements stringified at a time, and the size of the pieces handed to `write`. */
const JSON_BATCH = 512;
const JSON_PIECE = 1 << 20;

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
const hasLongArray = (v: unknown, depth: number): boolean =>
  Array.isArray(v)
    ? v.length > JSON_BATCH || (depth > 0 && v.some((x) => hasLongArray(x, depth - 1)))
    : isPlain(v) && depth > 0 && Object.values(v).some((x) => hasLongArray(x, depth - 1));
const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * Exactly `JSON.stringify(value, null, 2) + '\n'`, but a value holding long arrays (a 100 000-account
 * listing) is written in pieces of about 1 MB: it never exists as one 30 MB string plus its copy
 * as a Buffer, which costs memory and garbage-collection time. Long arrays are stringified
 * JSON_BATCH elements at a time and re-indented (JSON strings hold no raw newlines).
 */
export function writeJson(value: unknown, write: (s: string) => void): void {
  if (!hasLongArray(value, 3)) {
    write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  let piece = '';
  const put = (s: string) => {
    piece += s;
    if (piece.length >= JSON_PIECE) {
      write(piece);
      piece = '';
    }
  };
  const nested = (s: string, indent: string) => (indent ? s.replaceAll('\n', '\n' + indent) : s);
  const emit = (v: unknown, indent: string): void => {
    if (Array.isArray(v) && v.length > 0 && hasLongArray(v, 2)) {
      put('[\n');
      for (let i = 0; i < v.length; i += JSON_BATCH) {
        // "[\n  a,\n  b\n]" → "  a,\n  b", then indented to this depth.
        const batch = JSON.stringify(v.slice(i, i + JSON_BATCH), null, 2);
        put((i ? ',\n' : '') + indent + nested(batch.slice(2, -2), indent));
      }
      put('\n' + indent + ']');
    } else if (isPlain(v) && hasLongArray(v, 2)) {
      const keys = Object.keys(v).filter((k) => !skipped(v[k]));
      put('{');
      keys.forEach((k, i) => {
        put((i ? ',\n' : '\n') + indent + '  ' + JSON.stringify(k) + ': ');
        emit(v[k], indent + '  ');
      });
      put(keys.length ? '\n' + indent + '}' : '}');
    } else {
      put(nested(String(JSON.stringify(v, null, 2)), indent));
    }
  };
  emit(value, '');
  put('\n');
  if (piece) write(piece);
}

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}
