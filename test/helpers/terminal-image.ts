/**
 * Draws what a terminal shows for a QR code: the captured screen with its escape sequences
 * (`tmux capture-pane -e`, or the text a command wrote), each cell painted as a terminal paints it —
 * a half-block glyph's ink in the cell's foreground colour, the rest in its background colour —
 * with a theme's default colours wherever the text sets none. The result is a PPM image for
 * zbarimg, like a photo of the screen taken by a phone.
 */
export type Theme = 'dark' | 'light';
type Rgb = [number, number, number];

// xterm's 8 standard colours, which dark and light themes alike keep close to these.
const PALETTE: Rgb[] = [
  [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0], [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
];
export const THEMES: Record<Theme, { fg: Rgb; bg: Rgb }> = {
  dark: { fg: [229, 229, 229], bg: [24, 24, 24] },
  light: { fg: [24, 24, 24], bg: [255, 255, 255] },
};

interface Cell {
  ch: string;
  fg: Rgb;
  bg: Rgb;
}

/** The screen as cells: SGR colours (30–37, 40–47, 39, 49, 0, 7 reverse) applied, the rest dropped. */
export function screenCells(screen: string, theme: Theme): Cell[][] {
  const t = THEMES[theme];
  let fg: number | null = null;
  let bg: number | null = null;
  let reverse = false;
  const rows: Cell[][] = [];
  for (const line of screen.split('\n')) {
    const row: Cell[] = [];
    // eslint-disable-next-line no-control-regex
    for (const part of line.split(/(\x1b\[[0-9;]*m)/)) {
      // eslint-disable-next-line no-control-regex
      const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
      if (sgr) {
        for (const p of (sgr[1] || '0').split(';').map(Number)) {
          if (p === 0) [fg, bg, reverse] = [null, null, false];
          else if (p === 7) reverse = true;
          else if (p === 27) reverse = false;
          else if (p >= 30 && p <= 37) fg = p - 30;
          else if (p === 39) fg = null;
          else if (p >= 40 && p <= 47) bg = p - 40;
          else if (p === 49) bg = null;
        }
        continue;
      }
      for (const ch of part) {
        const f = fg === null ? t.fg : PALETTE[fg]!;
        const b = bg === null ? t.bg : PALETTE[bg]!;
        row.push(reverse ? { ch, fg: b, bg: f } : { ch, fg: f, bg: b });
      }
    }
    rows.push(row);
  }
  return rows;
}

const plain = (row: Cell[]) => row.map((c) => c.ch).join('').replace(/\s+$/, '');

/** The rows that hold the QR code: the longest run of lines made only of half blocks and spaces. */
export function qrRows(cells: Cell[][]): Cell[][] {
  let best: Cell[][] = [];
  let run: Cell[][] = [];
  for (const row of cells) {
    const l = plain(row);
    if (l.length >= 21 && /^[█▀▄ ]+$/u.test(l) && /[█▀▄]/u.test(l)) run.push(row);
    else {
      if (run.length > best.length) best = run;
      run = [];
    }
  }
  if (run.length > best.length) best = run;
  if (best.length === 0) throw new Error('no QR code in the text');
  return best;
}

/**
 * The QR rows as a terminal of `theme` draws them, with `margin` cells of the theme's background
 * around (the rest of the screen), each cell `scale` pixels wide and 2·`scale` tall. PPM (P6).
 */
export function renderTerminalQr(screen: string, theme: Theme, scale = 4, margin = 4): Buffer {
  const rows = qrRows(screenCells(screen, theme));
  const bgDefault = THEMES[theme].bg;
  const cols = Math.max(...rows.map((r) => r.length)) + 2 * margin;
  const w = cols * scale;
  const h = (rows.length + 2 * margin) * 2 * scale;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    const ry = Math.floor(y / (2 * scale)) - margin;
    const upper = Math.floor(y / scale) % 2 === 0;
    for (let x = 0; x < w; x++) {
      const cell = rows[ry]?.[Math.floor(x / scale) - margin];
      let colour = bgDefault;
      if (cell) {
        const ink = cell.ch === '█' || (cell.ch === '▀' && upper) || (cell.ch === '▄' && !upper);
        colour = ink ? cell.fg : cell.bg;
      }
      px.set(colour, (y * w + x) * 3);
    }
  }
  return Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`, 'ascii'), px]);
}
