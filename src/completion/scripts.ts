import { script } from '@bomb.sh/tab';
import type { Shell } from './shells.js';

const PROGRAM_NAME = 'whmcs-2fa';

/**
 * The shell script for `shell`: @bomb.sh/tab's script (it asks `whmcs-2fa complete -- <words…>` at
 * every Tab, so it never goes stale when commands change), with the bash fixes below. The same text
 * is shipped in completions/ (`npm run completions`).
 */
export function completionScript(shell: Shell): string {
  const raw = captureStdout(() => script(shell, PROGRAM_NAME, PROGRAM_NAME));
  return shell === 'bash' ? patchBash(raw) : raw;
}

/** tab prints its scripts with console.log; take the text instead. */
function captureStdout(fn: () => void): string {
  const original = console.log;
  const chunks: string[] = [];
  console.log = (...args: unknown[]) => {
    chunks.push(args.map(String).join(' ') + '\n');
  };
  try {
    fn();
  } finally {
    console.log = original;
  }
  return chunks.join('');
}

/** Each fix must apply exactly; a different tab version fails here (and in the tests) instead of shipping a half-patched script. */
function replaceOnce(text: string, find: string | RegExp, replacement: string, what: string): string {
  const count = typeof find === 'string' ? text.split(find).length - 1 : (text.match(new RegExp(find.source, find.flags.includes('g') ? find.flags : find.flags + 'g')) ?? []).length;
  if (count !== 1) throw new Error(`bash completion script: cannot apply "${what}" (found ${count} matches) — check the @bomb.sh/tab version`);
  return text.replace(find, replacement);
}

function patchBash(s: string): string {
  // 1. Global `readonly` constants make a second `source` (or another tab-based tool) print
  //    "readonly variable" errors; keep them local to the function instead.
  const constants = [...s.matchAll(/^readonly (ShellCompDirective\w+=\d+)\n/gm)].map((m) => m[1]);
  if (constants.length !== 6) throw new Error(`bash completion script: expected 6 directive constants, found ${constants.length} — check the @bomb.sh/tab version`);
  s = s.replace(/^# Define shell completion directives\n(readonly ShellCompDirective\w+=\d+\n)+\n/m, '');
  s = replaceOnce(
    s,
    '    local cur prev words cword\n',
    `    local cur prev words cword\n    local ${constants.join(' ')}\n`,
    'local directive constants',
  );
  // 2. Only the words up to the cursor: completing in the middle of a line must not see the rest.
  s = replaceOnce(s, 'complete -- ${words[@]:1}"', 'complete -- ${words[@]:1:cword}"', 'words up to the cursor');
  // 3. `--format=j`: with `=` in COMP_WORDBREAKS (the default) readline replaces only the text after
  //    `=`, so match and insert the bare value.
  s = replaceOnce(
    s,
    '    out=$(eval "$requestComp" 2>/dev/null)\n',
    '    out=$(eval "$requestComp" 2>/dev/null)\n' +
      '    if [[ "$cur" == -*=* && "$COMP_WORDBREAKS" == *=* ]]; then\n' +
      '        cur=${cur#*=}\n' +
      '    fi\n',
    'value after =',
  );
  // 4. Without the bash-completion package there is no _get_comp_words_by_ref ("command not found"
  //    at every Tab): split the line up to the cursor at blanks instead, as it does with -n "=:".
  s = replaceOnce(
    s,
    '    _get_comp_words_by_ref -n "=:" cur prev words cword\n',
    '    if declare -F _get_comp_words_by_ref >/dev/null; then\n' +
      '        _get_comp_words_by_ref -n "=:" cur prev words cword\n' +
      '    else\n' +
      '        local line=${COMP_LINE:0:COMP_POINT}\n' +
      '        read -r -a words <<< "$line"\n' +
      '        [[ -z $line || $line == *[[:blank:]] ]] && words+=("")\n' +
      '        cword=$(( ${#words[@]} - 1 ))\n' +
      '        cur=${words[cword]}\n' +
      '        prev=${words[cword-1]:-}\n' +
      '    fi\n',
    'works without bash-completion',
  );
  return s;
}
