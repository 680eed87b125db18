import { csvFormulaSafe } from './escape.js';
import { numberText } from '../number-text.js';

// Module constants: a regular-expression literal inside a function is a new object at every call
// (a listing's cells are counted in millions).
const NEEDS_QUOTES = /[",\r\n]/;
const QUOTE = /"/g;

/** RFC 4180 CSV with a header row; nested values are JSON-encoded in their cell. */
function cell(v: unknown): string {
  const s =
    v === null || v === undefined ? '' : typeof v === 'number' ? numberText(v) : typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : csvFormulaSafe(typeof v === 'object' ? JSON.stringify(v) : String(v));
  return NEEDS_QUOTES.test(s) ? '"' + s.replace(QUOTE, '""') + '"' : s;
}

/** Rows as CSV lines after the header (each line ends with CRLF). */
export function csvLines(rows: Array<Record<string, unknown>>, columns: string[]): string {
  let s = '';
  for (const r of rows) s += columns.map((c) => cell(r[c])).join(',') + '\r\n';
  return s;
}

/** Items per write of a streamed CSV (as JSON_BATCH and YAML_BATCH): a few tens of KB of text. */
export const CSV_BATCH = 128;

/**
 * CSV lines for pages of items, written CSV_BATCH items at a time: the rows and text of a whole
 * page would outlive the young generation and be promoted, garbage only a full collection frees.
 */
export async function writeCsvPages<T>(
  pages: AsyncIterable<readonly T[]>,
  rowsOf: (batch: T[]) => Array<Record<string, unknown>>,
  columns: string[],
  write: (s: string) => void | Promise<void>,
): Promise<void> {
  for await (const page of pages) {
    for (let i = 0; i < page.length; i += CSV_BATCH) await write(csvLines(rowsOf(page.slice(i, i + CSV_BATCH)), columns));
  }
}

export function csvHeader(columns: string[]): string {
  return columns.map(cell).join(',') + '\r\n';
}

export function toCsv(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  const cols = columns ?? (rows.length ? Object.keys(rows[0]!) : []);
  const lines = [cols.map(cell).join(',')];
  for (const r of rows) lines.push(cols.map((c) => cell(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}
