// Bundles the tool into dist/. Start-up time is the point of the layout:
//
// dist/cli.cjs      what bin/whmcs-2fa.js loads: everything `--help` needs and nothing else — the
//                   program definition (src/cli.ts and all it imports statically) with commander
//                   bundled in. One file, so no module resolution in node_modules. It also exports
//                   its modules (`__shared`), so the lazy code below uses the same instances.
// dist/lib/**.cjs   every other src module, one file each, loaded when a command's `await import()`
//                   reaches it. Modules that live in dist/cli.cjs are stubs handing out its copy;
//                   so are the modules of a lazy bundle (LAZY_BUNDLES), which live in its entry's file.
// dist/vendor/*.cjs each npm package the lazy code imports, bundled with its dependencies: knex
//                   with lodash and tarn is one file instead of ~330.
// dist/whmcs-2fa.cjs
//                   the same program as one self-contained file: what the standalone executables
//                   carry (scripts/release.mjs), and a file to copy onto a server that has Node
//                   (`node whmcs-2fa.cjs`). SQLite then uses Node's built-in node:sqlite (22.16+),
//                   or better-sqlite3 installed next to it; MySQL/MariaDB needs nothing.
//
// Everything is CommonJS, and dynamic import() becomes require(): Node's ESM loader costs a tenth
// of Node's own start-up time and is never started (and a standalone executable's main must be
// CommonJS). Everything is minified
// with names kept (errors are recognised by name) and has source maps (`node --enable-source-maps`).
// The build goes to a temporary directory and is swapped in with renames, so a CLI started by a
// concurrent test run never sees a half-written dist/. BUILD_ANALYZE=1 prints what each output holds.
import { analyzeMetafile, build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { absentOptional } from './build/absent-optional.mjs';
import { knexDiet } from './build/knex-diet.mjs';
import { lazyChildProcess } from './build/lazy-child-process.mjs';
import { compactErrors } from './build/mysql2-compact-errors.mjs';
import { smallCaches } from './build/mysql2-small-caches.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const tmp = join(root, `dist.tmp-${process.pid}`);
const ENTRY = join(src, 'cli.ts');

// Lazy modules that a command always loads together, built as one file: every file a run loads
// costs it ~0.3 ms (resolving, stats, reading the source and its code cache, compiling), which for
// clock-check's SNTP client and verdict, seven files, was a sizeable share of the whole check.
// The bundle is written as the entry's own dist/lib file and holds the src modules the entry
// imports statically, except those already in dist/cli.cjs; their own dist/lib files become stubs
// handing out the bundle's instances, so every module still exists once.
// `status` loads the connection path (connect.ts: configuration.php reader, URL parser, session,
// journal, install inspection — twelve files) and then its report (seven more); a bundle listed
// later leaves out what an earlier one already holds.
const LAZY_BUNDLES = [join(src, 'clock/verdict.ts'), join(src, 'whmcs/connection/connect.ts'), join(src, 'whmcs/reports/status.ts')];

// Native addon: cannot be bundled, loads from node_modules when a SQLite database is opened.
const NATIVE = ['better-sqlite3'];
// Drivers knex would load for databases this tool never talks to; not installed.
const FOREIGN_DRIVERS = ['pg', 'pg-native', 'pg-query-stream', 'sqlite3', 'tedious', 'mysql', 'oracledb', 'mariadb', 'mariadb/*'];
const EXTERNAL = [...NATIVE, ...FOREIGN_DRIVERS];
const isBuiltin = (p) => p.startsWith('node:') || builtinModules.includes(p.split('/')[0]);
const isBare = (p) => !p.startsWith('.') && !p.startsWith('/') && !isBuiltin(p);
const inSrc = (p) => p.startsWith(src + '/');

// Plugins that rewrite or leave out parts of dependencies, one file each in scripts/build/ (each
// says what it saves and why it is safe; docs/build.md has what each one measured, and which
// were dropped because they no longer paid).
// BUILD_WITHOUT=name,name builds without some of them, to measure what each still pays.
const without = new Set((process.env.BUILD_WITHOUT ?? '').split(',').filter(Boolean));
const use = (...plugins) => plugins.filter((p) => !without.has(p.name));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // import() → require(): lazy loading without the ESM loader.
  supported: { 'dynamic-import': false },
  external: EXTERNAL,
  minify: !process.env.BUILD_NO_MINIFY,
  keepNames: true,
  legalComments: 'linked',
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
};

const report = [];
const keep = (r) => (report.push(r.metafile), r);

/** dist/lib/<path>.cjs for a src module. */
const libFile = (srcPath) => join(tmp, 'lib', relative(src, srcPath).replace(/\.ts$/, '.cjs'));
/** dist/vendor/<name>.cjs for an npm package specifier. */
const vendorFile = (spec) => join(tmp, 'vendor', `${spec.replace(/^@/, '').replaceAll('/', '__')}.cjs`);
const requirePath = (fromFile, toFile) => {
  const r = relative(dirname(fromFile), toFile);
  return r.startsWith('.') ? r : `./${r}`;
};

/** Resolves like esbuild would, without re-entering the calling plugin. */
async function resolveReal(b, args) {
  const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'inner' });
  if (r.errors.length) throw new Error(`${args.importer}: cannot resolve ${args.path}`);
  return r.path;
}

/** Pass 1: the src modules `--help` needs — the static import graph of src/cli.ts. */
async function entryGraph() {
  const lazyOut = { name: 'lazy-out', setup: (b) => b.onResolve({ filter: /.*/ }, (a) => (a.kind === 'dynamic-import' ? { path: a.path, external: true } : undefined)) };
  const r = await build({ ...common, entryPoints: [ENTRY], write: false, outdir: tmp, sourcemap: false, plugins: [lazyOut, ...use(lazyChildProcess)] });
  const inputs = Object.values(r.metafile.outputs).find((o) => o.entryPoint).inputs;
  return new Set(Object.keys(inputs).map((p) => join(root, p)).filter(inSrc));
}

/**
 * Imports that leave the file being built: src modules → dist/lib, npm packages → dist/vendor
 * (collected in `vendors`). `outFile` maps an importer to the file it is built into. For the entry
 * bundle (`lazyOnly`) only dynamic imports leave; everything static, commander included, stays in.
 */
function splitAt(vendors, outFile, { lazyOnly = false, keep } = {}) {
  return {
    name: 'split',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === 'inner' || isBuiltin(args.path) || EXTERNAL.includes(args.path)) return undefined;
        if (lazyOnly && args.kind !== 'dynamic-import') return undefined;
        if (isBare(args.path)) {
          vendors.add(args.path);
          return { path: requirePath(outFile(args.importer), vendorFile(args.path)), external: true };
        }
        const target = await resolveReal(b, args);
        if (!inSrc(target) || !target.endsWith('.ts')) return undefined;
        // A lazy bundle keeps its own modules in (`keep`); a dynamic import of one still leaves.
        if (keep?.has(target) && args.kind !== 'dynamic-import') return undefined;
        return { path: requirePath(outFile(args.importer), libFile(target)), external: true };
      });
    },
  };
}

/** Pass 2: dist/cli.cjs, exporting its src modules for the lazy code. */
async function buildEntry(shared, vendors) {
  const contents = sharedModule(ENTRY, shared);
  const outfile = join(tmp, 'cli.cjs');
  return keep(
    await build({
      ...common,
      stdin: { contents, resolveDir: root, sourcefile: 'whmcs-2fa-entry.js', loader: 'js' },
      outfile,
      plugins: [splitAt(vendors, () => outfile, { lazyOnly: true }), ...use(lazyChildProcess)],
    }),
  );
}

/** `export *` of the entry plus `__shared`: every module of the bundle by its path from the root. */
function sharedModule(entry, modules) {
  const list = [...modules];
  return [
    `export * from ${JSON.stringify(entry)};`,
    ...list.map((p, i) => `import * as m${i} from ${JSON.stringify(p)};`),
    `export const __shared = { ${list.map((p, i) => `${JSON.stringify(relative(root, p))}: m${i}`).join(', ')} };`,
  ].join('\n');
}

/** The src modules a lazy bundle holds: its entry's static imports, minus what dist/cli.cjs has. */
async function lazyBundleGraph(entry, shared, owned = new Map()) {
  const leave = {
    name: 'leave',
    setup: (b) =>
      b.onResolve({ filter: /.*/ }, async (a) => {
        if (a.kind === 'entry-point' || a.pluginData === 'inner' || isBuiltin(a.path)) return undefined;
        if (a.kind === 'dynamic-import' || isBare(a.path) || EXTERNAL.includes(a.path)) return { path: a.path, external: true };
        const target = await resolveReal(b, a);
        return shared.has(target) || owned.has(target) ? { path: a.path, external: true } : undefined;
      }),
  };
  const r = await build({ ...common, entryPoints: [entry], write: false, outdir: tmp, sourcemap: false, plugins: [leave] });
  // Every module of the static graph, also those tree-shaking left empty here: one left out would
  // be built on its own and, if it imports a module of this bundle, require the bundle while the
  // bundle is still loading it (a cycle that hands out an empty __shared).
  return new Set(Object.keys(r.metafile.inputs).map((p) => join(root, p)).filter(inSrc));
}

/** Pass 2b: each lazy bundle, as its entry's dist/lib file. Returns module → bundle entry. */
async function buildLazyBundles(shared, vendors) {
  const owner = new Map();
  for (const entry of LAZY_BUNDLES) {
    const modules = await lazyBundleGraph(entry, shared, owner);
    for (const p of modules) {
      if (owner.has(p)) throw new Error(`${relative(root, p)} is in two lazy bundles`);
      owner.set(p, entry);
    }
    const outfile = libFile(entry);
    keep(
      await build({
        ...common,
        stdin: { contents: sharedModule(entry, modules), resolveDir: root, sourcefile: `${relative(src, entry)}.bundle.js`, loader: 'js' },
        outfile,
        // Only src modules (ES modules, strict by definition), as when each was its own file.
        banner: { js: '"use strict";' },
        plugins: [splitAt(vendors, () => outfile, { keep: modules })],
      }),
    );
  }
  return owner;
}

/** Pass 3: dist/lib — every src module outside the entry and lazy bundles, one file each. */
async function buildLib(shared, bundled, vendors) {
  const all = walk(src).filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'));
  const own = all.filter((p) => !shared.has(p) && !bundled.has(p));
  // One build per file: esbuild cannot mark another entry point of the same build as external.
  await Promise.all(
    own.map(async (p) =>
      keep(
        await build({
          ...common,
          entryPoints: [p],
          outfile: libFile(p),
          plugins: [splitAt(vendors, libFile)],
        }),
      ),
    ),
  );
  // Modules of the entry bundle: hand out its instance, so classes and state exist once.
  const stubs = [...[...shared].map((p) => [p, join(tmp, 'cli.cjs')]), ...[...bundled].filter(([p, e]) => p !== e).map(([p, e]) => [p, libFile(e)])];
  for (const [p, home] of stubs) {
    const file = libFile(p);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `module.exports = require(${JSON.stringify(requirePath(file, home))}).__shared[${JSON.stringify(relative(root, p))}];\n`);
  }
}

/** Pass 4: dist/vendor — one bundle per npm package; a package another one uses stays shared. */
async function buildVendors(vendors) {
  for (const spec of vendors) {
    const outfile = vendorFile(spec);
    const others = {
      name: 'other-vendors',
      setup: (b) =>
        b.onResolve({ filter: /.*/ }, (a) => (a.path !== spec && vendors.has(a.path) ? { path: requirePath(outfile, vendorFile(a.path)), external: true } : undefined)),
    };
    keep(
      await build({
        ...common,
        stdin: { contents: `module.exports = require(${JSON.stringify(spec)});`, resolveDir: root, sourcefile: `${spec}.js`, loader: 'js' },
        outfile,
        plugins: [others, ...use(absentOptional, compactErrors, smallCaches, knexDiet, lazyChildProcess)],
      }),
    );
  }
}

/** Pass 5: the one-file artefact, every npm package inside (CommonJS, like the rest). */
async function buildOneFile() {
  const outfile = join(tmp, 'whmcs-2fa.cjs');
  keep(
    await build({
      ...common,
      stdin: { contents: `require(${JSON.stringify(ENTRY)}).run();\n`, resolveDir: root, sourcefile: 'whmcs-2fa.js', loader: 'js' },
      outfile,
      banner: { js: '#!/usr/bin/env node' },
      plugins: use(absentOptional, compactErrors, smallCaches, knexDiet, lazyChildProcess),
    }),
  );
  chmodSync(outfile, 0o755);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

rmSync(tmp, { recursive: true, force: true });
try {
  const shared = await entryGraph();
  const vendors = new Set();
  await buildEntry(shared, vendors);
  const bundled = await buildLazyBundles(shared, vendors);
  await buildLib(shared, bundled, vendors);
  await buildVendors(vendors);
  await buildOneFile();
  writeHelpText();
  if (process.env.BUILD_ANALYZE) for (const m of report) process.stdout.write(await analyzeMetafile(m));
  swapInto(tmp, dist);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * Pass 6: dist/help.txt, the program's `--help` as the built CLI prints it when standard output is
 * not a terminal (commander's 80 columns, no colour: nothing else goes into it). bin/whmcs-2fa.js
 * prints it in that case without loading the program, as it answers `--version` from package.json;
 * at a terminal, where the width and colours vary, commander renders help as usual.
 */
function writeHelpText() {
  const runner = join(tmp, 'help-text.cjs');
  writeFileSync(runner, `require(${JSON.stringify(join(tmp, 'cli.cjs'))}).run();\n`);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('WHMCS_') || k === 'NODE_OPTIONS') delete env[k];
  const r = spawnSync(process.execPath, [runner, '--help'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  rmSync(runner);
  if (r.status !== 0 || !r.stdout.startsWith('Usage: whmcs-2fa')) throw new Error(`rendering --help failed (exit ${r.status}): ${r.stderr}`);
  writeFileSync(join(tmp, 'help.txt'), r.stdout);
}

/** Replaces `dest` by `from` with two renames; retries if a concurrent build swapped in between. */
function swapInto(from, dest) {
  for (let i = 0; ; i++) {
    const old = `${dest}.old-${process.pid}-${i}`;
    try {
      renameSync(dest, old);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    try {
      renameSync(from, dest);
      return;
    } catch (e) {
      if ((e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') || i >= 10) throw e;
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }
}
