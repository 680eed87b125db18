// Bundles the tool into dist/, twice:
//
// 1. dist/cli.js + dist/chunks/: what bin/whmcs-2fa.js runs. The entry chunk holds only start-up
//    code — commander (bundled in: resolving and loading a package's files from node_modules costs
//    more than parsing the same code in one file) and the thin command definitions. Everything a
//    command needs when it runs, npm packages included, sits in lazily imported chunks: knex with
//    lodash and mysql2 is one chunk instead of ~420 files. `--help` never loads a database driver.
// 2. dist/whmcs-2fa.mjs: the same program as one self-contained file to copy onto a server. Only
//    better-sqlite3 (a native addon) stays outside; SQLite then needs `npm install better-sqlite3`
//    next to it, MySQL/MariaDB needs nothing.
//
// Both are minified (with names kept: error classes are recognised by name) and have source maps.
// The build is written to a temporary directory and swapped in with renames, so a CLI started by a
// concurrent test run never sees a half-written or missing dist/.
import { analyzeMetafile, build } from 'esbuild';
import { chmodSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
const tmp = `${root}dist.tmp-${process.pid}`;

// Native addon: cannot be bundled, loads from node_modules when a SQLite database is opened.
const NATIVE = ['better-sqlite3'];
// Drivers knex would load for databases this tool never talks to; not installed.
const FOREIGN_DRIVERS = ['pg', 'pg-native', 'pg-query-stream', 'sqlite3', 'tedious', 'mysql', 'oracledb', 'mariadb', 'mariadb/*'];

// knex's other dialects and its migration/seed machinery (required eagerly by knex, used only by
// its own CLI) are replaced by stubs that throw if anything ever reaches them.
const UNUSED_DIALECTS = /^\.\/(cockroachdb|mssql|mariadb|oracle|oracledb|pgnative|postgres|redshift)$/;
const knexDiet = {
  name: 'knex-diet',
  setup(b) {
    b.onResolve({ filter: UNUSED_DIALECTS }, (args) =>
      /[\\/]knex[\\/]lib[\\/]dialects[\\/]index\.js$/.test(args.importer) ? { path: args.path, namespace: 'knex-stub' } : undefined,
    );
    b.onResolve({ filter: /^\.\.\/migrations\/(migrate\/Migrator|seed\/Seeder)$/ }, (args) =>
      /[\\/]knex[\\/]lib[\\/]knex-builder[\\/]make-knex\.js$/.test(args.importer) ? { path: args.path, namespace: 'knex-stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'knex-stub' }, (args) => {
      const fail = `throw new Error('knex ${args.path.replace(/^[./]+/, '')} is not part of whmcs-2fa')`;
      if (args.path.endsWith('Migrator')) return { contents: `exports.Migrator = class Migrator { constructor() { ${fail} } };`, loader: 'js' };
      if (args.path.endsWith('Seeder')) return { contents: `module.exports = class Seeder { constructor() { ${fail} } };`, loader: 'js' };
      return { contents: `${fail};`, loader: 'js' };
    });
  },
};

// Bundled CommonJS packages call require() for Node built-ins; ESM output has no require of its own.
const requireShim = "import { createRequire as __whmcs2faRequire } from 'node:module'; const require = __whmcs2faRequire(import.meta.url);";

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [...NATIVE, ...FOREIGN_DRIVERS],
  plugins: [knexDiet],
  minify: true,
  keepNames: true,
  legalComments: 'linked',
  sourcemap: 'linked',
  logLevel: 'warning',
  // BUILD_ANALYZE=1 npm run build: what each output file is made of.
  metafile: Boolean(process.env.BUILD_ANALYZE),
};
const analyze = async (r) => {
  if (r.metafile) process.stdout.write(await analyzeMetafile(r.metafile));
};

rmSync(tmp, { recursive: true, force: true });
try {
  const split = await build({
    ...common,
    entryPoints: { cli: `${root}src/cli.ts` },
    outdir: tmp,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: { js: requireShim },
  });
  await analyze(split);
  await build({
    ...common,
    stdin: {
      contents: "import { run } from './src/cli.ts';\nrun();\n",
      resolveDir: root,
      sourcefile: 'whmcs-2fa.ts',
      loader: 'ts',
    },
    outfile: `${tmp}/whmcs-2fa.mjs`,
    banner: { js: `#!/usr/bin/env node\n${requireShim}` },
  });
  chmodSync(`${tmp}/whmcs-2fa.mjs`, 0o755);
  swapInto(tmp, dist);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** Replaces `dest` by `src` with two renames; retries if a concurrent build swapped in between. */
function swapInto(src, dest) {
  for (let i = 0; ; i++) {
    const old = `${dest}.old-${process.pid}-${i}`;
    try {
      renameSync(dest, old);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    try {
      renameSync(src, dest);
      return;
    } catch (e) {
      if ((e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') || i >= 10) throw e;
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }
}
