import type { Command } from 'commander';
import { register as status } from './status.js';
import { register as sandbox } from './sandbox.js';
import { register as undo } from './undo.js';

/** Every command, in the order `--help` lists them. Each file only declares options; work is lazy. */
export function registerCommands(program: Command): void {
  status(program);
  undo(program);
  sandbox(program);
}
