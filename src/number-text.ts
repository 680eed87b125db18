/**
 * A number as `String(n)` writes it, without V8's number-to-string cache. That cache (about 32 000
 * entries, kept in the old generation) holds every string it made until another number takes its
 * slot: a listing converts a million different ids, each string is kept long enough to be promoted,
 * and the old generation then fills with garbage that only a full collection frees. `toFixed`
 * makes a fresh string and caches nothing; for a safe integer it writes the same digits.
 */
export function numberText(n: number): string {
  return Number.isSafeInteger(n) ? n.toFixed(0) : String(n);
}

/** Numbers joined by spaces, as `list.join(' ')` writes them (see numberText). */
export function numbersText(list: readonly number[]): string {
  if (list.length === 0) return '';
  if (list.length === 1) return numberText(list[0]!);
  return list.map(numberText).join(' ');
}
