// knex's other dialects and its migration/seed machinery (required eagerly, used only by knex's
// own CLI) become stubs that throw if anything ever reaches them: ~40 % of knex's code.
const UNUSED_DIALECTS = /^\.\/(cockroachdb|mssql|mariadb|oracle|oracledb|pgnative|postgres|redshift)$/;

export const knexDiet = {
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
