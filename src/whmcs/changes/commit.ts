import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import { CliError, EXIT } from '../../errors.js';
import { queryError } from '../connection/db.js';
import { HISTORY, PARTS } from '../history/journal.js';

/**
 * COMMIT when its reply can be lost. A COMMIT sent on a connection that then dies (failover, a
 * network drop, KILL) may or may not have committed: saying "nothing was written" could hide a
 * change that happened. Because the history row is written in the same transaction, its presence
 * answers the question: reconnect, make sure the old session is gone (KILL it, then wait until the
 * server no longer lists it — after that its transaction has either committed or rolled back for
 * good), then look for the row.
 */
type CommitOutcome = 'committed' | 'recovered' | 'rolled-back';

interface CommitProbe {
  /** The server's id of the connection that runs the transaction (MySQL). */
  connectionId: number | null;
  entryId: string;
  /** The part written last in this transaction (parts are numbered from 1 per entry). */
  part: number;
}


/** The server id of this transaction's connection (null on SQLite, where a commit cannot be half-heard). */
export async function connectionIdOf(trx: Knex.Transaction): Promise<number | null> {
  if (isSqlite(trx)) return null;
  const r = (await trx.raw('SELECT CONNECTION_ID() AS id')) as [Array<{ id: number | string }>];
  return Number(r[0][0]!.id);
}

/**
 * Commits; on a failure at COMMIT finds out what happened. Returns 'committed' normally,
 * 'recovered' when the reply was lost but the commit is proven; throws DatabaseError (exit 5) when it
 * is proven that nothing was written, and exit 9 when it cannot be found out.
 */
export async function commitChecked(knex: Knex, trx: Knex.Transaction, probe: CommitProbe): Promise<CommitOutcome> {
  // knex's commit() resolves even when COMMIT fails; the failure rejects the transaction's own promise.
  const settled = (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise;
  try {
    await trx.commit();
    if (settled) await settled;
    return 'committed';
  } catch (e) {
    if (isSqlite(trx)) throw queryError(e, 'nothing was written');
    const found = await findOutcome(knex, probe);
    if (found === true) return 'recovered';
    const cause = firstLine((queryError(e) as Error)?.message ?? String(e));
    if (found === false) {
      throw new CliError(`the connection failed at COMMIT (${cause}); checked after reconnecting: the change was NOT committed — nothing was written`, EXIT.DATABASE, {
        journalId: probe.entryId,
        committed: false,
      });
    }
    throw new CliError(
      `the connection failed at COMMIT (${cause}) and whether the change was committed could not be found out — run \`whmcs-2fa undo --list\` when the database is back: entry ${probe.entryId} is there exactly if it was`,
      EXIT.COMMIT_UNKNOWN,
      { journalId: probe.entryId, committed: null },
    );
  }
}

function firstLine(s: string): string {
  return s.replace(/^database error: /, '').split('\n')[0]!.split(' — ')[0]!;
}

/** true: committed; false: not; null: unknown. */
async function findOutcome(knex: Knex, p: CommitProbe): Promise<boolean | null> {
  try {
    if (p.connectionId !== null) {
      await knex.raw(`KILL CONNECTION ${Number(p.connectionId)}`).catch(() => {});
      // A KILLed session that was committing finishes or rolls back before it leaves the list.
      for (let i = 0; ; i++) {
        const r = (await knex.raw('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [p.connectionId])) as [Array<{ n: number | string }>];
        if (Number(r[0][0]!.n) === 0) break;
        if (i >= 300) return null;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const row = await knex(PARTS)
      .join(HISTORY, `${HISTORY}.seq`, `${PARTS}.seq`)
      .where(`${HISTORY}.id`, p.entryId)
      .andWhere(`${PARTS}.part`, p.part)
      .first(`${PARTS}.part`);
    return Boolean(row);
  } catch {
    return null;
  }
}
