#!/usr/bin/env node
// The published entry. CommonJS on purpose (bin/package.json): `--help` and the argument parser
// then run without starting Node's ESM loader; commands load their code lazily from dist/lib and
// dist/vendor, compiled from a per-user V8 code cache after the first run (compile-cache.js).
'use strict';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Scripts and monitoring ask this often; the answer needs neither the parser nor the program,
  // nor process.stdout (creating the stream costs more than the write).
  writeOut(Buffer.from(`${require('../package.json').version}\n`));
} else if (!(args.length === 1 && (args[0] === '--help' || args[0] === '-h') && printedHelpText())) {
  require('./compile-cache.js');
  loadProgram().run();
}

/** dist/ is the build: a clone has none until `npm run build` (a package always has it). */
function loadProgram() {
  try {
    return require('../dist/cli.cjs');
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes('dist/cli.cjs')) throw e;
    const dir = require('node:path').join(__dirname, '..');
    process.stderr.write(`Error: whmcs-2fa is not built in ${dir} — run \`npm ci && npm run build\` there (a clone needs it once)\n`);
    process.exit(1);
  }
}

/**
 * `--help` into a pipe or a file is always the same text (80 columns, no colour): the build renders
 * it once (dist/help.txt, scripts/build.mjs). At a terminal, or if anything is amiss, commander
 * renders it as usual.
 */
function printedHelpText() {
  const fs = require('node:fs');
  let buf;
  try {
    if (fs.fstatSync(1).isCharacterDevice()) return false;
    buf = fs.readFileSync(require('node:path').join(__dirname, '..', 'dist', 'help.txt'));
  } catch {
    return false;
  }
  writeOut(buf);
  return true;
}

/** Writes to file descriptor 1 directly, without creating process.stdout. */
function writeOut(buf) {
  const fs = require('node:fs');
  try {
    while (buf.length) buf = buf.subarray(fs.writeSync(1, buf));
  } catch (e) {
    // The reader has gone (… | head): nothing more to say. A full non-blocking pipe: the stream
    // queues the rest. Anything else (a full disk): one line, exit 1.
    if (e.code === 'EAGAIN') process.stdout.write(buf);
    else if (e.code !== 'EPIPE') {
      process.stderr.write(`Error: cannot write to standard output: ${e.message}\n`);
      process.exitCode = 1;
    }
  }
}
