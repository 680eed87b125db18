#!/usr/bin/env node
// `npm run bench` entry: the harness is TypeScript (it seeds with the schema and crypto code in
// src/), so it is bundled with esbuild into bench/.out/ first — npm packages stay external — and
// then run. See bench/main.ts for what is measured and how.
import { build } from 'esbuild';

await build({
  entryPoints: { main: new URL('./main.ts', import.meta.url).pathname },
  outdir: new URL('./.out/', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
await import('./.out/main.js');
