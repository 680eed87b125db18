import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Rebuild the module grid from qrcode-terminal's small output. Each character is one module wide
 * and two tall; the glyph's ink is the light colour: █ both light, ▀ top light, ▄ bottom light,
 * space both dark. Returns rows of booleans, true = dark module.
 */
export function terminalQrToModules(text: string): boolean[][] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const width = [...lines[0]].length;
  const rows: boolean[][] = [];
  for (const line of lines) {
    const chars = [...line];
    if (chars.length !== width) throw new Error(`ragged QR text: line of ${chars.length} chars, expected ${width}`);
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of chars) {
      switch (ch) {
        case '█': top.push(false); bottom.push(false); break;
        case '▀': top.push(false); bottom.push(true); break;
        case '▄': top.push(true); bottom.push(false); break;
        case ' ': top.push(true); bottom.push(true); break;
        default: throw new Error(`unexpected character U+${ch.codePointAt(0)!.toString(16)} in QR text`);
      }
    }
    rows.push(top, bottom);
  }
  return rows;
}

/** Binary PBM (P4): a light quiet zone of `quiet` modules around, each module `scale` pixels. */
export function modulesToPbm(modules: boolean[][], scale = 4, quiet = 4): Buffer {
  const w = (modules[0].length + 2 * quiet) * scale;
  const h = (modules.length + 2 * quiet) * scale;
  const rowBytes = Math.ceil(w / 8);
  const body = Buffer.alloc(rowBytes * h);
  for (let y = 0; y < h; y++) {
    const my = Math.floor(y / scale) - quiet;
    for (let x = 0; x < w; x++) {
      const mx = Math.floor(x / scale) - quiet;
      const dark = modules[my]?.[mx] ?? false;
      if (dark) body[y * rowBytes + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return Buffer.concat([Buffer.from(`P4\n${w} ${h}\n`, 'ascii'), body]);
}

/** Decode an image with zbarimg; returns the payload of every symbol found. */
export function zbarDecode(image: Buffer, ext = 'pbm'): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'qr-'));
  try {
    const file = join(dir, `code.${ext}`);
    writeFileSync(file, image);
    // stderr is captured: zbarimg complains about a missing D-Bus on headless machines.
    const out = execFileSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.replace(/\n$/, '').split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
