import type { Db } from './db.js';
import type { Install, SerializeLimits } from './install.js';
import { Journal } from '../history/journal.js';
import { DecryptError } from '../../errors.js';

/** A connected WHMCS database and everything needed to read and write it the way WHMCS does. */
export class Session {
  private journalInstance?: Journal;
  constructor(
    readonly db: Db,
    readonly install: Install,
    /** `$cc_encryption_hash`; undefined when connecting by URL without $WHMCS_CC_ENCRYPTION_HASH. */
    readonly ccHash: string | undefined,
    readonly limits: SerializeLimits,
    readonly operator: string,
    readonly source: string,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The installation's history (tables in this database). */
  journal(): Journal {
    this.journalInstance ??= new Journal(this.db.knex, this.ccHash, this.db.label);
    return this.journalInstance;
  }

  /** For operations that must encrypt or decrypt: a missing hash is a clear error, not garbage. */
  requireCcHash(why: string): string {
    if (this.ccHash === undefined || this.ccHash === '') {
      throw new DecryptError(
        `${why} needs cc_encryption_hash — use --whmcs-dir (reads configuration.php) or set WHMCS_CC_ENCRYPTION_HASH`,
      );
    }
    return this.ccHash;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
