import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The output layer writes standard output to file descriptor 1 itself (creating process.stdout
 * costs a short command more than printing its answer). Runs the BUILT output module (npm test
 * builds dist/ first) in a child whose stdout is a pipe nobody reads for a while.
 */
const OUTPUT = resolve(import.meta.dirname, '../dist/lib/ui/output.cjs');

function run(script: string, readAfterMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTPUT } });
    // Bytes, decoded once at the end: a chunk of the pipe may end inside a character.
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.pause();
    setTimeout(() => child.stdout.on('data', (d: Buffer) => stdout.push(d)).resume(), readAfterMs);
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr }));
  });
}

describe('standard output', () => {
  it('a full non-blocking pipe (EAGAIN) hands over to process.stdout: nothing lost, nothing reordered', async () => {
    // Creating process.stdout first makes libuv put the pipe in non-blocking mode, as any code that
    // touches it would; 400 KB is far more than a pipe buffer holds.
    const script = `
      const { Output } = require(process.env.OUTPUT);
      process.stdout;
      const out = new Output({ format: 'json', color: false, quiet: false });
      for (let i = 0; i < 40000; i += 1000) out.write(Array.from({ length: 1000 }, (_, j) => 'line ' + (i + j) + '\\n').join(''));
      out.write('end\\n');`;
    const r = await run(script, 300);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(Array.from({ length: 40000 }, (_, i) => `line ${i}\n`).join('') + 'end\n');
  });

  it('a full non-blocking pipe cuts a write inside a multi-byte character: the bytes still arrive whole and in order', async () => {
    // Lines of 2- to 4-byte UTF-8 characters: a partial write ends wherever the pipe filled, often
    // inside one, and the rest must follow byte for byte.
    const script = `
      const { Output } = require(process.env.OUTPUT);
      process.stdout;
      const out = new Output({ format: 'json', color: false, quiet: false });
      for (let i = 0; i < 20000; i += 1000) out.write(Array.from({ length: 1000 }, (_, j) => 'é✓𝄞 ' + (i + j) + '\\n').join(''));`;
    const r = await run(script, 300);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(Array.from({ length: 20000 }, (_, i) => `é✓𝄞 ${i}\n`).join(''));
  });

  it.each([
    ['blocking (direct writes)', ''],
    ['non-blocking (process.stdout)', 'process.stdout;'],
  ])('a reader that goes away (… | head) ends the run quietly with exit 0 — %s', async (_label, prelude) => {
    const script = `
      const { Output } = require(process.env.OUTPUT);
      ${prelude}
      const out = new Output({ format: 'json', color: false, quiet: false });
      const line = 'x'.repeat(1023) + '\\n';
      let n = 0;
      const tick = () => { for (let i = 0; i < 64; i++) out.write(line); if (++n > 2000) { process.stderr.write('still running\\n'); process.exit(3); } setImmediate(tick); };
      tick();`;
    const r = await new Promise<{ code: number | null; signal: string | null; stderr: string }>((res, rej) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTPUT } });
      let stderr = '';
      child.stdout.once('data', () => child.stdout.destroy());
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', rej);
      child.on('close', (code, signal) => res({ code, signal, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, signal: null });
  });
});
