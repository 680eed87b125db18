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
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  private paint: Paint = (_t, s) => s;

  constructor(opts: OutputOptions) {
    this.format = opts.format;
    this.color = opts.color;
    this.quiet = opts.quiet;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
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
        this.out.write(JSON.stringify(v.json, null, 2) + '\n');
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

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}
