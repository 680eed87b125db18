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
/**
 * The terminal and the process belong to one object, the run's IOStreams (src/ui/iostreams.ts):
 * tests replace it, so whatever goes around it is untested and leaks between in-process runs.
 */
const IO_WHY = "use the run's IOStreams (ctx.io; src/ui/iostreams.ts), which tests replace";
const PROCESS_IO = {
  selector: `MemberExpression[object.name='process'][property.name=/^(stdout|stderr|stdin|exit|exitCode|on|once|off|addListener|removeListener)$/]`,
  message: `the terminal, exit status and signals: ${IO_WHY}`,
};
const PROCESS_CONTEXT = {
  selector: `MemberExpression[object.name='process'][property.name=/^(env|cwd)$/]`,
  message: `the run's environment and working directory are io.env and io.cwd: ${IO_WHY}`,
};
const TTY_CHECK = {
  // A stream's own isTTY property; io.isTTY(stream), a call, is the answer.
  selector: `MemberExpression[property.name='isTTY']:not(CallExpression > MemberExpression.callee)`,
  message: `whether a stream is a terminal, or a question can be asked: io.isTTY(stream), io.canPrompt — ${IO_WHY}`,
};

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
    // Everything but the domain (which has its own rule below) and the I/O object itself.
    files: ['src/**/*.ts'],
    ignores: ['src/ui/iostreams.ts', ...DOMAIN],
    rules: { 'no-restricted-syntax': ['error', CLIENT_NAME_CHECK, PROCESS_IO, PROCESS_CONTEXT] },
  },
  {
    // Where "is this a terminal?" was once asked four ways: now one object answers.
    files: ['src/commands/**/*.ts', 'src/completion/**/*.ts', 'src/context.ts', 'src/cli.ts'],
    rules: { 'no-restricted-syntax': ['error', CLIENT_NAME_CHECK, PROCESS_IO, PROCESS_CONTEXT, TTY_CHECK] },
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
        { selector: `MemberExpression[object.name='process'][property.name=/^(stdout|stderr|stdin|exit|exitCode)$/]`, message: 'the domain never prints, reads the terminal or exits: return data, throw a typed error' },
        { selector: `MemberExpression[object.name='console']`, message: 'the domain never prints: return data (warnings as strings)' },
        // (Flat config replaces a rule's options per file: the check of the block above, again.)
        CLIENT_NAME_CHECK,
      ],
    },
  },
);
