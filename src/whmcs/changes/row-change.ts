/**
 * One row a change writes: its column values before and after, exactly as stored (strings or
 * null). The history keeps these in its own compact form (src/whmcs/history/journal-rows.ts).
 */
export interface RowChange {
  table: string;
  /** The columns that find the row: `{ id }`, or `{ setting }` for a tblconfiguration row inserted by name. */
  key: Record<string, string | number>;
  /** Column values before the change; null: the row did not exist (it is inserted). */
  before: Record<string, string | null> | null;
  /** Column values after the change; null: the row is deleted. */
  after: Record<string, string | null> | null;
  /**
   * A side record (e.g. the TOTP replay list, which WHMCS rewrites on every login): if it has
   * changed since, undo leaves it as it is instead of refusing the whole undo.
   */
  soft?: true;
  /** Whose row it was when changed (username, email or setting name): undo checks it still is. */
  identity?: Record<string, string>;
}
