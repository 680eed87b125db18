// Option values several commands parse the same way (clock-check, audit --clock): one definition,
// one wording of the usage error.
import { UsageError } from '../errors.js';

/** A repeatable, comma-separated option (`--server a,b --server c`) as one list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter((s) => s !== '')];
}

/** A number of seconds (`5`, `0.5`); undefined when the option was not given. */
export function seconds(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text.trim())) throw new UsageError(`${name} must be a number of seconds such as 5 or 0.5, got "${text}"`);
  return Number(text);
}

/** A whole number (`3`); undefined when the option was not given. */
export function wholeNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${name} must be a whole number, got "${text}"`);
  return Number(text);
}
