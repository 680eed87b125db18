import type { DiffLine } from '../whmcs/changes/diff.js';

export type { DiffLine };

/**
 * What a command hands to the renderer. Commands never print: they return a `View`, and
 * `Output.print` (`src/ui/output.ts`) turns it into table / json / yaml / csv. `json` is the
 * stable, documented machine shape; `blocks` is how a human sees the same data; `rows` (optional)
 * is what `--format csv` prints for commands that list things.
 */
export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: string; tone?: 'ok' | 'warn' | 'bad' | 'dim' }
  | { kind: 'pairs'; title?: string; pairs: Array<[string, string]> }
  | { kind: 'table'; title?: string; columns: string[]; rows: string[][] }
  | { kind: 'diff'; title?: string; lines: DiffLine[] }
  /** A QR code from src/ui/qr.ts, written as is (its colours are the picture). */
  | { kind: 'qr'; text: string };

/**
 * A list in `View.json` that the JSON renderer writes while it is being read, a page at a time: a
 * listing of 100 000 accounts then never exists in memory as a whole. `pages` is iterated once.
 * Only for `--format json`; the other formats need the whole list (column widths, csv rows).
 */
export class StreamedList<T = unknown> {
  constructor(readonly pages: () => AsyncIterable<readonly T[]>) {}
}

/**
 * A table too long to hold in memory (--format table of 100 000 accounts): `pages` is read twice,
 * once for the column widths and the count in the title, then again to print.
 */
export interface StreamedTable {
  title: (count: number) => string;
  columns: string[];
  pages: () => AsyncIterable<readonly string[][]>;
}

/** Text for one format written piece by piece (`write` may return a promise: wait for it). */
export type TextStream = (write: (s: string) => void | Promise<void>) => Promise<void>;

export interface View {
  json: unknown;
  blocks: Block[];
  /** --format table: these tables, streamed, instead of `blocks`. */
  tables?: StreamedTable[];
  /** Streamed text that replaces everything else for a format (yaml and csv of a long listing). */
  stream?: Partial<Record<string, TextStream>>;
  rows?: Array<Record<string, unknown>>;
  warnings?: string[];
  /**
   * Warnings known only once the StreamedLists in `json` have been read (counts over a listing);
   * printed after the output, where `warnings` are printed before it.
   */
  warningsAfter?: () => string[];
  /** Process exit code when the command succeeded but wants a non-zero status (verify, clock-check). */
  exitCode?: number;
  /** Preformatted text that replaces everything else for a format (e.g. `--format nagios`). */
  raw?: Partial<Record<string, string>>;
}
