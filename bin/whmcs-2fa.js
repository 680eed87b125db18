#!/usr/bin/env node
// The published entry: the bundled build (npm run build). Kept tiny so start-up is node's own.
import { main } from '../dist/cli.js';

main().catch((e) => {
  process.stderr.write(`Error: ${e?.message ?? e}\n`);
  process.exitCode = 1;
});
