import type { Command } from 'commander';
import { register as status } from './status.js';
import { register as audit } from './audit.js';
import { register as sandbox } from './sandbox.js';
import { register as undo } from './undo.js';
import { register as accounts } from './accounts.js';
import { register as reset } from './reset.js';
import { register as backupCode } from './backup-code.js';
import { register as enroll } from './enroll.js';
import { register as verify } from './verify.js';
import { register as activate } from './activate.js';
import { register as deactivate } from './deactivate.js';
import { register as enforce } from './enforce.js';
import { register as completion } from './completion.js';
import { register as clockCheck } from './clock-check.js';

/** Every command, in the order `--help` lists them. Each file only declares options; work is lazy. */
export function registerCommands(program: Command): void {
  status(program);
  audit(program);
  accounts(program);
  activate(program);
  deactivate(program);
  enforce(program);
  enroll(program);
  verify(program);
  reset(program);
  backupCode(program);
  clockCheck(program);
  undo(program);
  sandbox(program);
  completion(program);
}
