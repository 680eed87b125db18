import type { Command } from 'commander';
import { analyze, formatAnswer } from './engine.js';
import type { Candidate } from './values.js';

interface CompleteOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Budget for connecting and querying (DNS included); past it: no suggestions. */
  deadlineMs?: number;
  connectTimeoutMs?: number;
}

interface CompleteResult {
  text: string;
  /** The lookup was abandoned at the deadline: a connection attempt may still be pending. */
  abandoned: boolean;
}

/**
 * Answers `whmcs-2fa complete -- <words…>`: candidates for the last word, in @bomb.sh/tab's
 * protocol. Account selectors (`--admin`, `--user`, `--client`) are looked up in the database when
 * one is configured; whatever goes wrong there only means fewer suggestions.
 */
export async function completeLine(program: Command, words: string[], opts: CompleteOptions): Promise<CompleteResult> {
  const a = analyze(program, words);
  let candidates: Candidate[] = a.source.kind === 'list' ? a.source.values : [];
  let abandoned = false;
  if (a.source.kind === 'accounts') {
    const { prepareLookup } = await import('./accounts.js');
    const deadline = opts.deadlineMs ?? 2500;
    const lookup = await prepareLookup({
      kind: a.source.accounts,
      prefix: a.prefix,
      connection: a.connection,
      env: opts.env,
      cwd: opts.cwd,
      connectTimeoutMs: opts.connectTimeoutMs ?? Math.min(2000, deadline),
    }).catch(() => undefined);
    if (lookup) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), deadline)));
      const found = await Promise.race([lookup().catch(() => [] as Candidate[]), late]);
      clearTimeout(timer);
      if (found === 'late') abandoned = true;
      else candidates = found;
    }
  }
  return { text: formatAnswer(candidates, a.prefix, a.source), abandoned };
}

/**
 * The words after `complete --` exactly as the shell passed them. They are read from the raw
 * argv because commander would otherwise treat words such as `--help` or `--` as its own.
 */
export function wordsFromArgv(rawArgs: string[], parsed: string[]): string[] {
  const i = rawArgs.indexOf('complete');
  if (i >= 0 && rawArgs[i + 1] === '--') return rawArgs.slice(i + 2);
  return parsed;
}
