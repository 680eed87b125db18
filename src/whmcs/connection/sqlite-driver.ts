// Which SQLite engine opens the sandbox (and any `sqlite:` database), and the knex client for it.
//
// SQLite is only ever the embedded sandbox; the tool's real work is on MySQL/MariaDB. So no SQLite
// package is a dependency: installing for MySQL never needs a compiler.
//
// - Node.js 22.16+/24+ carry SQLite themselves (`node:sqlite`). It is used whenever present: the
//   standalone executables (which cannot hold a native addon) and npm installs on a current Node
//   need nothing else. knex has no dialect for it, so `NodeSqliteDatabase` below gives knex's
//   better-sqlite3 client the small part of better-sqlite3's API that client calls.
// - On Node 20 the optional native addon `better-sqlite3` is used if it is installed next to the
//   tool (`npm install -g better-sqlite3@12`); without it, opening SQLite is a one-line error
//   saying exactly that.
import type { Knex } from 'knex';
import { DatabaseError } from '../../errors.js';

type SqliteEngine = 'node:sqlite' | 'better-sqlite3';

/** The part of node:sqlite's StatementSync this file uses (typed here: @types/node 20 has none). */
interface NodeStatement {
  columns(): unknown[];
  all(...params: unknown[]): Record<string, unknown>[];
  get(...params: unknown[]): Record<string, unknown> | undefined;
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (file: string, options?: { readOnly?: boolean }) => NodeDatabase;
}

let builtIn: NodeSqliteModule | null = null;
let probing: Promise<NodeSqliteModule | null> | undefined;
/**
 * node:sqlite if this runtime has a complete one: knex needs to know whether a statement returns
 * rows before running it, which `StatementSync#columns()` (Node 22.16+, 23.11+) answers.
 * WHMCS_2FA_SQLITE=better-sqlite3 prefers the addon (to test that path on a newer Node).
 * One probe per process, shared by concurrent openers (each must see its answer, not a guess).
 */
function nodeSqlite(): Promise<NodeSqliteModule | null> {
  probing ??= probeNodeSqlite().then((m) => (builtIn = m));
  return probing;
}

async function probeNodeSqlite(): Promise<NodeSqliteModule | null> {
  if (process.env.WHMCS_2FA_SQLITE === 'better-sqlite3') return null;
  // Node 22 announces the module as experimental on first load; that note is not for our users.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (/SQLite/i.test(String(warning))) return;
    return (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const specifier = 'node:sqlite';
    const m = (await import(specifier)) as NodeSqliteModule;
    const probe = new m.DatabaseSync(':memory:');
    const ok = typeof probe.prepare('SELECT 1').columns === 'function';
    probe.close();
    return ok ? m : null;
  } catch {
    return null; // no built-in SQLite on this runtime
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** The engine this process uses for SQLite, or null when neither is available. */
export async function sqliteEngine(): Promise<SqliteEngine | null> {
  if (await nodeSqlite()) return 'node:sqlite';
  try {
    await import('better-sqlite3');
    return 'better-sqlite3';
  } catch {
    return null;
  }
}

const NO_SQLITE_MESSAGE =
  `SQLite (the sandbox) needs Node.js 22.16 or newer, or the better-sqlite3 package on Node ${process.versions.node}: ` +
  'run `npm install -g better-sqlite3@12` (needs a C++ compiler), or use the standalone executable; MySQL/MariaDB needs neither';

/** SQLite's primary result codes by number, named as better-sqlite3 names them (`SQLITE_BUSY`…). */
const RESULT_CODES: Record<number, string> = {
  1: 'ERROR', 2: 'INTERNAL', 3: 'PERM', 4: 'ABORT', 5: 'BUSY', 6: 'LOCKED', 7: 'NOMEM', 8: 'READONLY',
  9: 'INTERRUPT', 10: 'IOERR', 11: 'CORRUPT', 12: 'NOTFOUND', 13: 'FULL', 14: 'CANTOPEN', 15: 'PROTOCOL',
  17: 'SCHEMA', 18: 'TOOBIG', 19: 'CONSTRAINT', 20: 'MISMATCH', 21: 'MISUSE', 23: 'AUTH', 25: 'RANGE', 26: 'NOTADB',
};

/**
 * node:sqlite reports every failure as ERR_SQLITE_ERROR with the SQLite result code in `errcode`;
 * the rest of the program (queryError, lock-wait and read-only advice) reads better-sqlite3's
 * `SQLITE_<NAME>` codes. Same error, the code better-sqlite3 would give it.
 */
function sqliteError(e: unknown): unknown {
  const err = e as { code?: unknown; errcode?: unknown };
  if (!e || typeof e !== 'object' || err.code !== 'ERR_SQLITE_ERROR' || typeof err.errcode !== 'number') return e;
  const name = RESULT_CODES[err.errcode & 0xff];
  if (name) (e as { code: string }).code = `SQLITE_${name}`;
  return e;
}

function mapped<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw sqliteError(e);
  }
}

/** A better-sqlite3 statement as knex's client uses it, over node:sqlite. */
class NodeSqliteStatement {
  readonly reader: boolean;
  constructor(private readonly stmt: NodeStatement) {
    this.reader = stmt.columns().length > 0;
  }
  all(params: unknown[] = []): Record<string, unknown>[] {
    // node:sqlite hands out objects without a prototype; the rest of the program expects plain ones.
    return mapped(() => this.stmt.all(...params)).map((row) => ({ ...row }));
  }
  get(params: unknown[] = []): Record<string, unknown> | undefined {
    const row = mapped(() => this.stmt.get(...params));
    return row === undefined ? undefined : { ...row };
  }
  run(params: unknown[] = []): { changes: number; lastInsertRowid: number } {
    const r = mapped(() => this.stmt.run(...params));
    return { changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
  }
  safeIntegers(): this {
    return this;
  }
}

/** A better-sqlite3 Database as knex's client uses it, over node:sqlite. */
class NodeSqliteDatabase {
  private readonly db: NodeDatabase;
  constructor(file: string, options: { readonly?: boolean } = {}) {
    const m = builtIn;
    if (!m) throw new DatabaseError(NO_SQLITE_MESSAGE);
    this.db = mapped(() => new m.DatabaseSync(file, { readOnly: !!options.readonly }));
  }
  prepare(sql: string): NodeSqliteStatement {
    return new NodeSqliteStatement(mapped(() => this.db.prepare(sql)));
  }
  exec(sql: string): this {
    mapped(() => this.db.exec(sql));
    return this;
  }
  pragma(setting: string): void {
    mapped(() => this.db.exec(`PRAGMA ${setting}`));
  }
  defaultSafeIntegers(): this {
    return this;
  }
  close(): void {
    this.db.close();
  }
}

type KnexConfig = Knex.Config & { client?: unknown };

/**
 * knex's configuration for a SQLite file. With node:sqlite, knex's own better-sqlite3 client is
 * given NodeSqliteDatabase as its driver; the client class comes from a knex instance made without a
 * connection (which loads no driver), so nothing reaches into knex's internal paths.
 */
export async function sqliteClientConfig(knexFactory: (c: Knex.Config) => Knex, config: KnexConfig): Promise<KnexConfig> {
  const engine = await sqliteEngine();
  if (!engine) throw new DatabaseError(NO_SQLITE_MESSAGE);
  if (engine === 'better-sqlite3') return { ...config, client: 'better-sqlite3' };
  const BetterSqliteClient = knexFactory({ client: 'better-sqlite3', useNullAsDefault: true }).client.constructor as new (
    c: KnexConfig,
  ) => object;
  class NodeSqliteClient extends BetterSqliteClient {
    _driver(): typeof NodeSqliteDatabase {
      return NodeSqliteDatabase;
    }
  }
  return { ...config, client: NodeSqliteClient as unknown as KnexConfig['client'] };
}

/** True for a knex instance or transaction on SQLite, whichever engine runs it. */
export function isSqlite(k: Knex | Knex.Transaction): boolean {
  return (k.client as { dialect?: string }).dialect === 'sqlite3';
}

/**
 * Takes SQLite's write lock for the rest of transaction `k`. SQLite has no FOR UPDATE, and a
 * transaction that has only read cannot later become a writer while another process writes
 * (SQLITE_BUSY at once: the busy timeout is not consulted for that upgrade). A write that changes
 * nothing takes the lock now instead: a concurrent writer is waited for (busy timeout), and what it
 * committed is what this transaction then reads — the serialisation FOR UPDATE gives on MySQL.
 * SQLite locks the whole database, so the table written to does not matter.
 */
export async function holdSqliteWriteLock(k: Knex | Knex.Transaction): Promise<void> {
  await k.raw('UPDATE tblconfiguration SET id = id WHERE 0');
}
