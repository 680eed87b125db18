import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';

/**
 * The layering rule of eslint.config.js (run by `npm run lint` in `npm test`) really catches what
 * it is for: src/whmcs, src/services and src/clock reaching src/ui, src/commands, the command
 * context, or the terminal.
 */
const eslint = new ESLint({ cwd: resolve(import.meta.dirname, '..') });

async function problems(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: resolve(import.meta.dirname, '..', file) });
  return r!.messages.map((m) => `${m.line}:${m.ruleId}`);
}

describe('the domain layering rule', () => {
  it.each(['src/whmcs/x.ts', 'src/whmcs/schema/x.ts', 'src/services/x.ts', 'src/clock/x.ts'])('refuses presentation imports in %s', async (file) => {
    const up = file.split('/').length === 4 ? '../../' : '../';
    const code = [
      `import type { View } from '${up}ui/view.js';`,
      `import { action } from '${up}commands/run.js';`,
      `import type { Context } from '${up}context.js';`,
      `export async function f() { return import('${up}ui/prompts.js'); }`,
      `export function g() { process.stdout.write('x'); console.log('y'); process.exit(1); }`,
      '',
    ].join('\n');
    expect(await problems(file, code)).toEqual([
      '1:no-restricted-imports',
      '2:no-restricted-imports',
      '3:no-restricted-imports',
      '4:no-restricted-syntax',
      '5:no-restricted-syntax',
      '5:no-restricted-syntax',
      '5:no-restricted-syntax',
    ]);
  });

  it('lets the domain import the domain, and the presentation layers import anything', async () => {
    expect(await problems('src/whmcs/x.ts', `import type { DiffLine } from './diff.js';\nimport { UsageError } from '../errors.js';\nexport type D = DiffLine;\nexport const U = UsageError;\n`)).toEqual([]);
    expect(await problems('src/commands/x.ts', `import type { View } from '../ui/view.js';\nexport type V = View;\n`)).toEqual([]);
  });
});

describe('the terminal I/O rule', () => {
  const code = (ctx: string) =>
    [
      `export function g(${ctx}: any) {`,
      `  process.stdout.write('x'); process.exitCode = 1; process.on('SIGINT', () => {});`,
      `  return [process.env.HOME, process.cwd(), process.stdin.isTTY];`,
      `}`,
      `export const ok = (ctx: any) => [ctx.io.isTTY('stdin'), ctx.io.canPrompt, ctx.io.env.HOME, ctx.io.cwd];`,
      '',
    ].join('\n');

  it.each(['src/commands/x.ts', 'src/context.ts', 'src/cli.ts', 'src/completion/x.ts'])('sends %s to the run\'s IOStreams for streams, TTY facts, exit, signals, env and cwd', async (file) => {
    expect(await problems(file, code('ctx'))).toEqual(['2:no-restricted-syntax', '2:no-restricted-syntax', '2:no-restricted-syntax', '3:no-restricted-syntax', '3:no-restricted-syntax', '3:no-restricted-syntax', '3:no-restricted-syntax']);
  });

  it('holds in src/ui too, except in the I/O object itself', async () => {
    expect(await problems('src/ui/x.ts', code('ctx'))).toEqual(['2:no-restricted-syntax', '2:no-restricted-syntax', '2:no-restricted-syntax', '3:no-restricted-syntax', '3:no-restricted-syntax', '3:no-restricted-syntax']);
    expect(await problems('src/ui/iostreams.ts', code('ctx'))).toEqual([]);
  });
});
