/**
 * Typed failures. Each carries the process exit code promised in the README, so the CLI layer
 * can turn any of them into one `Error: …` line without knowing where it came from.
 */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  REFUSED: 4,
  DATABASE: 5,
  DECRYPT: 6,
  /** Timed out (--timeout), or blocked by another session's lock, or chosen as a deadlock victim. */
  TIMEOUT: 7,
  /** The connection failed at COMMIT and whether the change committed could not be found out. */
  COMMIT_UNKNOWN: 9,
  /** The operator answered no, or ended the input (Ctrl-D), at a prompt. */
  CANCELLED: 8,
  /** Ctrl-C (SIGINT): 128 + 2, as shells report a process ended by it. */
  INTERRUPTED: 130,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  /** Extra machine-readable detail for `--format json` errors (e.g. candidate accounts). */
  readonly details?: unknown;
  constructor(message: string, exitCode: number = EXIT.ERROR, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** Bad flags or arguments. */
export class UsageError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.USAGE, details);
  }
}

/** Unknown account, module, journal entry… */
export class NotFoundError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.NOT_FOUND, details);
  }
}

/** A safety rule said no (no TTY without --yes, lockout guard, stale undo…). */
export class RefusedError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.REFUSED, details);
  }
}

/** Database unreachable, bad credentials, or not a WHMCS database. */
export class DatabaseError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.DATABASE, details);
  }
}

/** Stored secrets do not decrypt with this cc_encryption_hash. */
export class DecryptError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.DECRYPT, details);
  }
}

/** The operator said no at a prompt or closed it (Ctrl-D): nothing happened, by their choice. */
export class CancelledError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.CANCELLED, details);
  }
}

/** Ctrl-C (SIGINT) at a prompt or during work that stops cleanly. */
export class InterruptedError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.INTERRUPTED, details);
  }
}

/** Timed out (--timeout), or blocked by another session's lock, or chosen as a deadlock victim. Nothing was written. */
export class TimeoutError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.TIMEOUT, details);
  }
}

/** Input that is structurally wrong (configuration.php, serialized data). Exit 1 unless wrapped. */
export class ParseError extends CliError {
  constructor(message: string, exitCode: number = EXIT.ERROR) {
    super(message, exitCode);
  }
}
