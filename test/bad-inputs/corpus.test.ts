import { describe, expect, it } from 'vitest';
import { CORPUS } from './corpus.js';

describe('bad-input corpus', () => {
  it('has at least 50 distinct cases, each expecting an exact exit code', () => {
    const all = Object.values(CORPUS).flat();
    const runs = all.reduce((n, c) => n + (c.backends ?? ['mysql', 'sqlite']).length, 0);
    console.log(`bad-input corpus: ${all.length} cases (${runs} runs over MariaDB and SQLite): ${Object.entries(CORPUS).map(([g, c]) => `${g} ${c.length}`).join(', ')}`);
    expect(all.length).toBeGreaterThanOrEqual(50);
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
    for (const c of all) expect(Number.isInteger(c.exit), c.name).toBe(true);
  });
});
