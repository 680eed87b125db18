/**
 * A YAML emitter for JSON-shaped data (the only thing `--format yaml` ever prints). Strings are
 * quoted whenever a plain scalar could be read back as something else.
 */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_ .\/@:+-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
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

function emit(v: unknown, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isContainer(item)) {
        const sub: string[] = [];
        emit(item, indent + '  ', sub);
        // The first line of a nested block sits after the dash.
        out.push(indent + '- ' + sub[0]!.trimStart());
        out.push(...sub.slice(1));
      } else {
        out.push(indent + '- ' + emptyOrScalar(item));
      }
    }
    return;
  }
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const key = scalar(k);
    if (isContainer(val)) {
      out.push(`${indent}${key}:`);
      emit(val, indent + '  ', out);
    } else {
      out.push(`${indent}${key}: ${emptyOrScalar(val)}`);
    }
  }
}

function emptyOrScalar(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object' && v !== null) return '{}';
  return scalar(v);
}

export function toYaml(value: unknown): string {
  if (!isContainer(value)) return emptyOrScalar(value) + '\n';
  const out: string[] = [];
  emit(value, '', out);
  return out.join('\n') + '\n';
}

/**
 * A mapping of lists written a list item at a time, exactly as toYaml writes the whole mapping:
 * `key:` before the first item, `key: []` for a list without items.
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
      if (page.length === 0) continue;
      const out: string[] = [];
      if (!any) out.push(`${scalar(key)}:`);
      any = true;
      emit(page, '  ', out);
      await write(out.join('\n') + '\n');
    }
    if (!any) await write(`${scalar(key)}: []\n`);
  }
}
