/**
 * A QR code as terminal text: half-block characters, one module wide and two modules per line.
 *
 * The drawn glyphs are the DARK modules. On a terminal (`paint`), every line carries its own
 * colours — black ink on a white background, quiet zone included — so it scans the same on a dark
 * and on a light theme: the theme's default colours never take part. Those two colours are the
 * picture, not decoration, so NO_COLOR and --no-color do not remove them. Without `paint` (a file, a
 * pipe) the text is dark-on-light like a printed code: black glyphs on white paper or a light viewer.
 * Returns the text; the caller decides where it goes.
 */
export interface QrOptions {
  /** Paint black on white with ANSI colours (the destination is a terminal). */
  paint?: boolean;
  /** Light modules around the symbol: 4, as the QR standard asks (zbar misses small symbols with 2). */
  quiet?: number;
}

const INK = '\x1b[30;47m';
const RESET = '\x1b[0m';

export async function renderQr(text: string, opts: QrOptions = {}): Promise<string> {
  const modules = await qrModules(text);
  const quiet = opts.quiet ?? 4;
  const n = modules.length;
  const size = n + 2 * quiet;
  const dark = (r: number, c: number) => modules[r - quiet]?.[c - quiet] === true;
  const lines: string[] = [];
  for (let r = 0; r < size; r += 2) {
    let line = '';
    for (let c = 0; c < size; c++) {
      const top = dark(r, c);
      const bottom = r + 1 < size && dark(r + 1, c);
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' ';
    }
    lines.push(opts.paint ? INK + line + RESET : line);
  }
  return lines.join('\n') + '\n';
}

/** The symbol's modules, true = dark, without a quiet zone (error correction level L, as before). */
export async function qrModules(text: string): Promise<boolean[][]> {
  const [{ default: QRCode }, { default: level }] = await Promise.all([
    import('qrcode-terminal/vendor/QRCode/index.js'),
    import('qrcode-terminal/vendor/QRCode/QRErrorCorrectLevel.js'),
  ]);
  const qr = new QRCode(-1, level.L);
  qr.addData(text);
  qr.make();
  return qr.modules.map((row) => row.map((m) => m === true));
}
