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

export function csvHeader(columns: string[]): string {
  return columns.map(cell).join(',') + '\r\n';
}

export function toCsv(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  const cols = columns ?? (rows.length ? Object.keys(rows[0]!) : []);
  const lines = [cols.map(cell).join(',')];
  for (const r of rows) lines.push(cols.map((c) => cell(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}
