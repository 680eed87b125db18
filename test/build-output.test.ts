// The build's module layout (scripts/build.mjs, docs/build.md): every file in dist/lib, loaded first
// in a fresh module cache — as a command's lazy import does — must hand out a module. A stub whose
// bundle is still loading when the stub is required (a require cycle between a bundle and a file
// built on its own) hands out `undefined`, and the command fails with "Cannot read properties of
// undefined" only when it runs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = resolve(import.meta.dirname, '../dist');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.cjs') ? [join(dir, e.name)] : []));
}

describe('dist/ (npm test builds it first)', () => {
  it('every dist/lib module loads on its own, first, and exports something', () => {
    const files = walk(join(DIST, 'lib'));
    expect(files.length).toBeGreaterThan(20);
    const script = `
      const failures = [];
      for (const f of ${JSON.stringify(files)}) {
        for (const k of Object.keys(require.cache)) delete require.cache[k];
        try {
          const m = require(f);
          if (m === undefined || m === null) failures.push(f + ': undefined');
        } catch (e) {
          failures.push(f + ': ' + String(e && e.message).split('\\n')[0]);
        }
      }
      process.stdout.write(JSON.stringify(failures));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
