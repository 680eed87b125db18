// Lint rules that keep the architecture honest (`npm run lint`, part of `npm test`). Rules only:
// formatting is left as it is.
import tseslint from 'typescript-eslint';

/** The layers that may not reach the terminal or the command line (docs/CONVENTIONS.md). */
const DOMAIN = ['src/whmcs/**/*.ts', 'src/services/**/*.ts', 'src/clock/**/*.ts'];
/** A relative import of src/ui, src/commands, the command context or the program. */
const PRESENTATION = String.raw`^(\.\.?/)+(ui|commands)/|^(\.\.?/)+(context|cli)\.js$`;
/** A SQLite test by the knex client's name: wrong on node:sqlite (src/whmcs/connection/sqlite-driver.ts). */
const CLIENT_NAME_CHECK = {
  selector: `MemberExpression[object.property.name='config'][property.name='client']`,
  message: 'use isSqlite() from src/whmcs/connection/sqlite-driver.ts: the client name differs between SQLite engines',
};
const WHY = 'the domain (src/whmcs, src/services, src/clock) returns data; src/ui and src/commands present it — move the type to the domain or inject the behaviour';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'completions/**', 'man/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    // Registered (no rules enabled) so a `// eslint-disable-next-line @typescript-eslint/…` names a
    // known rule; a stale directive is a warning, not a failure.
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    // The code already marks its deliberate exceptions to these two.
    rules: { 'no-control-regex': 'error', 'no-sparse-arrays': 'error' },
  },
  {
    // SQLite runs on node:sqlite or better-sqlite3 (src/whmcs/connection/sqlite-driver.ts): the knex client's
    // name does not say which database it is; isSqlite() does.
    files: ['src/**/*.ts', 'test/**/*.ts'],
    ignores: ['src/whmcs/connection/sqlite-driver.ts'],
    rules: {
      'no-restricted-syntax': ['error', CLIENT_NAME_CHECK],
    },
  },
  {
    files: DOMAIN,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: PRESENTATION, message: WHY }] }],
      'no-restricted-syntax': [
        'error',
        // `await import('../ui/…')` is an import too.
        { selector: `ImportExpression > Literal[value=/${PRESENTATION.replaceAll('/', String.raw`\x2F`)}/]`, message: WHY },
        { selector: `ImportExpression > TemplateLiteral`, message: 'import a literal path, so the layering check can see it' },
        // The domain never prints and never ends the process.
        { selector: `MemberExpression[object.name='process'][property.name=/^(stdout|stderr|stdin|exit)$/]`, message: 'the domain never prints, reads the terminal or exits: return data, throw a typed error' },
        { selector: `MemberExpression[object.name='console']`, message: 'the domain never prints: return data (warnings as strings)' },
        // (Flat config replaces a rule's options per file: the check of the block above, again.)
        CLIENT_NAME_CHECK,
      ],
    },
  },
);
