/**
 * A YAML emitter for JSON-shaped data (the only thing `--format yaml` ever prints). Strings are
 * quoted whenever a plain scalar could be read back as something else.
 */
import { numberText } from '../number-text.js';

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ .\/@:+-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? numberText(v) : JSON.stringify(String(v));
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const s = String(v);
  if (s !== '' && PLAIN.test(s) && !RESERVED.test(s) && !s.endsWith(':') && !s.includes(': ') && !s.includes(' #') && s.trim() === s) {
    return s;
  }
  return JSON.stringify(s);
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
}

/**
 * The lines of `v` (a non-empty container) at `indent`, each ending in a newline, as one string:
 * no array of lines per value (an account listing emits ten lines per account, a million times).
 * `first` replaces the indent of the first line: a block that is a list item starts after its dash.
 */
function emit(v: object, indent: string, first: string = indent): string {
  let out = '';
  let lead = first;
  if (Array.isArray(v)) {
    for (const item of v) {
      out += isContainer(item) ? emit(item, indent + '  ', lead + '- ') : lead + '- ' + emptyOrScalar(item) + '\n';
      lead = indent;
    }
    return out;
  }
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const val = (v as Record<string, unknown>)[k];
    out += isContainer(val) ? lead + scalar(k) + ':\n' + emit(val, indent + '  ') : lead + scalar(k) + ': ' + emptyOrScalar(val) + '\n';
    lead = indent;
  }
  return out;
}

function emptyOrScalar(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object' && v !== null) return '{}';
  return scalar(v);
}

export function toYaml(value: unknown): string {
  if (!isContainer(value)) return emptyOrScalar(value) + '\n';
  return emit(value, '');
}

/** List items rendered into one write: a few tens of KB of YAML, never a whole page's worth of lines. */
export const YAML_BATCH = 128;

/**
 * A mapping of lists written a few list items at a time, exactly as toYaml writes the whole
 * mapping: `key:` before the first item, `key: []` for a list without items.
 */
export async function writeYamlLists(
  lists: Array<[key: string, items: () => AsyncIterable<readonly unknown[]>]>,
  write: (s: string) => void | Promise<void>,
): Promise<void> {
  if (lists.length === 0) {
    await write('{}\n');
    return;
  }
  for (const [key, items] of lists) {
    let any = false;
    for await (const page of items()) {
      for (let i = 0; i < page.length; i += YAML_BATCH) {
        const batch = page.length <= YAML_BATCH ? page : page.slice(i, i + YAML_BATCH);
        await write((any ? '' : `${scalar(key)}:\n`) + emit(batch, '  '));
        any = true;
      }
    }
    if (!any) await write(`${scalar(key)}: []\n`);
  }
}
