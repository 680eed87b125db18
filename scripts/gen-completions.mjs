// Writes completions/ from the built program (run `npm run build` first; `npm run completions` does
// both). The scripts ask `whmcs-2fa complete -- <words…>` at every Tab, so new commands and options
// need no regeneration; this only matters when the script generator itself changes.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = { bash: 'whmcs-2fa.bash', zsh: '_whmcs-2fa', fish: 'whmcs-2fa.fish' };
for (const [shell, name] of Object.entries(files)) {
  const text = execFileSync(process.execPath, [`${root}bin/whmcs-2fa.js`, 'completion', shell], { encoding: 'utf8' });
  writeFileSync(`${root}completions/${name}`, text);
  console.log(`completions/${name}`);
}
