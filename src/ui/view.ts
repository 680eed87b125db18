/**
 * What a command hands to the renderer. Commands never print: they return a `View`, and
 * `src/ui/render.ts` turns it into table / json / yaml / csv. `json` is the stable, documented
 * machine shape; `blocks` is how a human sees the same data; `rows` (optional) is what `--format csv`
 * prints for commands that list things.
 */
export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: string; tone?: 'ok' | 'warn' | 'bad' | 'dim' }
  | { kind: 'pairs'; title?: string; pairs: Array<[string, string]> }
  | { kind: 'table'; title?: string; columns: string[]; rows: string[][] }
  | { kind: 'diff'; title?: string; lines: DiffLine[] };

export interface DiffLine {
  field: string;
  before: string;
  after: string;
}

export interface View {
  json: unknown;
  blocks: Block[];
  rows?: Array<Record<string, unknown>>;
  warnings?: string[];
  /** Process exit code when the command succeeded but wants a non-zero status (verify, clock-check). */
  exitCode?: number;
  /** Preformatted text that replaces everything else for a format (e.g. `--format nagios`). */
  raw?: Partial<Record<string, string>>;
}

export function view(json: unknown, blocks: Block[], extra: Partial<View> = {}): View {
  return { json, blocks, ...extra };
}
