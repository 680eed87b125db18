import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { summarizeProfile } from '../bench/profile-summary.js';
import { renderMarkdown, type BenchReport, type Row } from '../bench/report.js';
import { tempDir } from './helpers/tmp.js';

type Frame = { name: string; url?: string; line?: number; col?: number; self?: number; children?: Frame[] };

/** A CPU profile from a call tree: each frame's `self` µs become one sample lasting that long. */
function profileOf(root: Frame) {
  const nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children: number[] }> = [];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const walk = (f: Frame): number => {
    const id = nodes.length + 1;
    const node = { id, callFrame: { functionName: f.name, url: f.url ?? '', lineNumber: f.line ?? -1, columnNumber: f.col ?? -1 }, children: [] as number[] };
    nodes.push(node);
    if (f.self) {
      samples.push(id);
      timeDeltas.push(f.self);
    }
    for (const c of f.children ?? []) node.children.push(walk(c));
    return id;
  };
  walk(root);
  // As V8 writes them: timeDeltas[i] is the time since the sample before, so each sample's own
  // time is the next delta (the last one's runs to endTime).
  const total = timeDeltas.reduce((a, b) => a + b, 0);
  return { nodes, samples, timeDeltas: [0, ...timeDeltas.slice(0, -1)], startTime: 1_000, endTime: 1_000 + total };
}

/** Line and column (0-based) where `needle` starts in `text`. */
function position(text: string, needle: string): { line: number; col: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in the bundle`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length - 1, col: before[before.length - 1]!.length };
}

describe('bench profile summary', () => {
  it('charges each sample to its owner: bundled code through its source map, native work and Node calls to the caller outside Node', async () => {
    const dir = tempDir('whmcs2fa-bench-profile-');
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'node_modules/knex'), { recursive: true });
    writeFileSync(join(dir, 'node_modules/knex/package.json'), '{"name":"knex","main":"index.js"}');
    writeFileSync(join(dir, 'node_modules/knex/index.js'), 'function kfun(n) {\n  let s = 0;\n  for (let i = 0; i < n; i++) s += i;\n  return s;\n}\nexports.kfun = kfun;\n');
    writeFileSync(join(dir, 'src/own.ts'), "import { kfun } from 'knex';\nexport function hot(n: number): number {\n  return kfun(n) * 2;\n}\n");
    const out = join(dir, 'dist/lib/own.cjs');
    await build({ entryPoints: [join(dir, 'src/own.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: out, sourcemap: 'linked', logLevel: 'silent' });
    const text = readFileSync(out, 'utf8');
    const url = pathToFileURL(out).href;
    const hot = position(text, 'function hot(');
    // esbuild renames the package's kfun (the bundle's scope already has the import's name).
    const kfun = position(text, /function kfun\d*\(/.exec(text)![0]);

    const p = profileOf({
      name: '(root)',
      children: [
        { name: '(idle)', self: 40_000 },
        { name: '(garbage collector)', self: 3_000 },
        { name: '(program)', self: 1_000 },
        // require() of a bundle: loading, whoever asked.
        { name: 'compileForInternalLoader', url: 'node:internal/bootstrap/realm', line: 1, col: 1, self: 5_000 },
        {
          name: 'hot', url, line: hot.line, col: hot.col, self: 2_000,
          children: [
            { name: 'kfun', url, line: kfun.line, col: kfun.col, self: 7_000 },
            // JSON.stringify called by the tool: the tool's.
            { name: 'stringify', self: 4_000 },
          ],
        },
        {
          name: 'write', url: pathToFileURL(join(dir, 'node_modules/mysql2/lib/connection.js')).href, line: 10, col: 2, self: 500,
          // A socket write mysql2 makes, through Node's streams: mysql2's.
          children: [{ name: 'Writable.write', url: 'node:internal/streams/writable', line: 3, col: 0, children: [{ name: 'writeBuffer', self: 6_000 }] }],
        },
        // The event loop with nothing of ours on the stack.
        { name: 'processTicksAndRejections', url: 'node:internal/process/task_queues', line: 5, col: 0, self: 1_500, children: [{ name: 'runMicrotasks', self: 500 }] },
        // A native function with no script at all above it: V8's.
        { name: 'Builtin', self: 300 },
        { name: 'main', url: pathToFileURL(join(dir, 'bench/floor-reset.cjs')).href, line: 17, col: 4, self: 2_500 },
        { name: 'compileWithCache', url: pathToFileURL(join(dir, 'bin/compile-cache.js')).href, line: 60, col: 2, self: 800 },
      ],
    });
    const s = summarizeProfile(p);
    expect(s.totalMs).toBeCloseTo(74.1);
    expect(s.byOwner).toEqual({
      'waiting (idle)': 40,
      'garbage collector': 3,
      'V8 (unattributed)': 1.3,
      'Node.js: loading code': 5.8,
      'whmcs-2fa': 6,
      knex: 7,
      mysql2: 6.5,
      'Node.js: runtime': 2,
      'floor script': 2.5,
    });
    // The tool's own lines by self time (native work it called included), by their source file and line.
    expect(s.top[0]).toEqual({ where: 'src/own.ts:2', ms: 6 });
    expect(s.top.map((t) => t.where)).toContain('bench/floor-reset.cjs:18');
    expect(s.unmapped).toEqual([]);
    // Without its source map, a bundle's frames are the tool's, and the summary says which bundle lost its map.
    rmSync(`${out}.map`);
    const blind = summarizeProfile(p);
    expect(blind.byOwner.knex).toBeUndefined();
    expect(blind.unmapped).toEqual(['dist/lib/own.cjs']);
  });

  it('renders the tool and the floor owner by owner, with the difference, and the tool\'s hottest lines', () => {
    const summary = (own: number, mysql2: number, idle: number) => ({ totalMs: own + mysql2 + idle, byOwner: { 'whmcs-2fa': own, mysql2, 'waiting (idle)': idle }, top: [{ where: 'src/x.ts:3', ms: own }], unmapped: [] });
    const row: Row = {
      id: 'status', measure: '`status`', kind: 'time', available: true,
      peer: { label: 'p', medianMs: 1, samplesMs: [1], cpuMs: 1, cpuSamplesMs: [1], serverCpuMs: null, serverCpuSamplesMs: [] },
      ours: { label: 'o', medianMs: 2, samplesMs: [2], cpuMs: 2, cpuSamplesMs: [2], serverCpuMs: null, serverCpuSamplesMs: [] },
      profileSummary: { ours: summary(30, 20, 10), floor: { ...summary(5, 12, 10), top: [] } },
    };
    const rep: BenchReport = {
      date: '2026-11-30T12:00:00.000Z',
      machine: { cpus: 2, cpuModel: 'T', memoryGiB: 1, kernel: 'k', node: 'v20', mariadb: 'm', bufferPoolMiB: null, loadAverageAtStart: [0], loadAverageAtEnd: [0] },
      options: { runs: 1, warmup: 0, slowRuns: 1, undoRuns: 1, admins: 1, only: null },
      serverCpu: null, startup: [], growth: null,
      scales: [{ scale: '100k', users: 100_000, admins: 1, seed: { seconds: 1, counts: {} as never }, rows: [row] }],
    };
    const md = renderMarkdown(rep);
    expect(md).toContain('Where the gap to the floor goes at 100 000 users');
    expect(md).toMatch(/\| `status` +\| whmcs-2fa +\| 30\.0 +\| 0 +\| 20\.0 +\|.*\| 50\.0 +\| 10\.0 +\|/);
    expect(md).toMatch(/\| +\| floor +\| 5\.0 +\| 0 +\| 12\.0 +\|.*\| 17\.0 +\| 10\.0 +\|/);
    expect(md).toMatch(/\| +\| \*\*difference\*\* +\| \+25\.0 +\| 0 +\| \+8\.0 +\|.*\| \+33\.0 +\| 0 +\|/);
    expect(md).toContain("The tool's own functions with the most self time");
    expect(md).toContain('- `status`: `src/x.ts:3` 30.0 ms');
  });
});
