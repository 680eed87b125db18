/**
 * A one-line progress bar for long bulk runs, on stderr and only on a terminal: piped or
 * redirected output (scripts, logs, --format json consumers) never sees carriage returns.
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** What is being counted, e.g. "users". */
  unit: string;
  /** Redraws closer together than this are skipped (the final one never is). */
  minIntervalMs?: number;
  color?: boolean;
  now?: () => number;
}

export class ProgressBar {
  private readonly start: number;
  private lastDraw = -Infinity;
  private done = 0;
  private drawn = false;
  private finished = false;
  readonly enabled: boolean;

  constructor(
    private readonly stream: ProgressStream,
    private total: number,
    private readonly opts: ProgressOptions,
  ) {
    this.enabled = Boolean(stream.isTTY);
    this.start = this.now();
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Sets the absolute count; a total that grows (rows added meanwhile) is followed. */
  update(done: number, total: number = this.total): void {
    this.done = done;
    this.total = Math.max(total, done);
    if (!this.enabled || this.finished) return;
    const t = this.now();
    if (t - this.lastDraw < (this.opts.minIntervalMs ?? 80) && done < this.total) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** Ends the line so later output starts in column 0. `note` replaces the rate (e.g. "interrupted"). */
  finish(note?: string): void {
    if (!this.enabled || this.finished) return;
    this.draw(this.now(), note);
    this.stream.write('\n');
    this.finished = true;
  }

  /**
   * The line as drawn (without the leading carriage return and line clear); exposed for tests. It
   * stays one column short of the terminal width: a full-width line would wrap on some terminals,
   * and a wrapped line cannot be redrawn in place. On narrow terminals the rate, then the bar, go.
   */
  render(elapsedMs: number, note?: string): string {
    const width = Math.max(10, Math.min(this.stream.columns ?? 80, 121)) - 1;
    const pct = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const counts = `${this.done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ${this.opts.unit}`;
    const secs = elapsedMs / 1000;
    const rate = secs > 0 ? Math.round(this.done / secs) : 0;
    const eta = rate > 0 && this.done < this.total ? Math.ceil((this.total - this.done) / rate) : 0;
    const tail = note ?? (this.done >= this.total ? `${secs.toFixed(1)}s` : `${rate.toLocaleString('en-US')}/s, ${eta}s left`);
    const short = ` ${String(Math.floor(pct * 100)).padStart(3)}% ${counts}`;
    const MIN_BAR = 10;
    const label = [`${short}  ${tail}`, short].find((l) => l.length + MIN_BAR + 2 <= width);
    if (!label) return short.trim().slice(0, width);
    const barWidth = width - label.length - 2;
    const filled = Math.round(pct * barWidth);
    let bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
    if (this.opts.color) bar = `\x1b[32m${bar.slice(0, filled)}\x1b[2m${bar.slice(filled)}\x1b[0m`;
    return `[${bar}]${label}`;
  }

  private draw(t: number, note?: string): void {
    // \r + erase-line: redraw in place even when the new line is shorter than the old one.
    this.stream.write(`\r\x1b[2K${this.render(t - this.start, note)}`);
    this.drawn = true;
  }

  get hasDrawn(): boolean {
    return this.drawn;
  }
}
