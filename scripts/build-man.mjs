// man/whmcs-2fa.1.md (ronn-style markdown) → man/whmcs-2fa.1 (roff) with marked-man.
// The header date is fixed here, not "now", so the committed page is reproducible and a test can
// compare it with a fresh build; bump MAN_DATE when the page changes. `--stdout` prints instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Marked } from 'marked';
import markedMan from 'marked-man';

const MAN_DATE = '2026-11-30';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const md = readFileSync(`${root}man/whmcs-2fa.1.md`, 'utf8');

const marked = new Marked();
marked.use(markedMan);
// Paragraphs are wrapped in the source, so line breaks are not kept (a trailing `\` forces one).
const raw = marked.parse(md, { breaks: false, date: Date.parse(`${MAN_DATE}T00:00:00Z`), manVersion: version, manual: 'whmcs-2fa manual' });
// marked escapes quotes inside code spans as HTML entities, which marked-man leaves in the roff.
// Typographic quotes become roff glyphs, so the page is plain ASCII (groff without preconv reads it).
// No hyphenation, ragged right: option names stay whole and greppable.
const roff = raw
  .replace(/&quot;/g, '\\(dq')
  .replace(/&#39;/g, '\\(aq')
  .replace(/\u201c/g, '\\(lq')
  .replace(/\u201d/g, '\\(rq')
  .replace(/^(\.TH .*\n)/m, '$1.nh\n.ad l\n');

if (process.argv.includes('--stdout')) process.stdout.write(roff);
else {
  writeFileSync(`${root}man/whmcs-2fa.1`, roff);
  console.log('man/whmcs-2fa.1');
}
