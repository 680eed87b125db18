#!/usr/bin/env node
// The published entry. CommonJS on purpose (bin/package.json): `--help` and the argument parser
// then run without starting Node's ESM loader; commands load their code lazily from dist/lib and
// dist/vendor, compiled from a per-user V8 code cache after the first run (compile-cache.js).
'use strict';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Scripts and monitoring ask this often; the answer needs neither the parser nor the program.
  process.stdout.write(`${require('../package.json').version}\n`);
} else {
  require('./compile-cache.js');
  require('../dist/cli.cjs').run();
}
