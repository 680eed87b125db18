import { describe, expect, it } from 'vitest';
import { otpauthUri } from '../src/services/totp/otpauth-uri.js';
import { qrModules, renderQr } from '../src/ui/qr.js';
import { zbarDecode } from './helpers/qr-image.js';
import { renderTerminalQr } from './helpers/terminal-image.js';
import { describeWithPeer } from './helpers/peers.js';

const URIS = [
  otpauthUri({ issuer: 'billing.example.com', account: 'admin@example.com', secret: 'JBSWY3DPEHPK3PXP' }),
  otpauthUri({
    issuer: 'portal.hosting-company-with-a-long-name.example',
    account: "o'brien+two-factor (ops)@subdomain.hosting-company-with-a-long-name.example",
    secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
  }),
  otpauthUri({ issuer: 'WHMCS', account: 'Zoë Ünïcode@example.de', secret: 'MFRGGZDFMZTWQ2LK' }),
];

describe('renderQr', () => {
  it('returns half-block text and does not print; drawn glyphs are the dark modules', async () => {
    const writes: unknown[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: unknown) => {
      writes.push(chunk);
      return true;
    }) as typeof process.stdout.write;
    let text: string;
    try {
      text = await renderQr(URIS[0]);
    } finally {
      process.stdout.write = orig;
    }
    expect(writes).toEqual([]);
    expect(text).toMatch(/^[█▀▄ \n]+$/u);
    const modules = await qrModules(URIS[0]);
    // A QR symbol is 21 + 4k modules square; the text adds a quiet zone of 4 light modules.
    expect((modules.length - 21) % 4).toBe(0);
    const lines = text.replace(/\n$/, '').split('\n');
    expect(lines.map((l) => [...l].length)).toEqual(lines.map(() => modules.length + 8));
    expect(lines).toHaveLength(Math.ceil((modules.length + 8) / 2));
    // Finder pattern's top-left corner (module 0,0 is dark) sits after the quiet zone: line 2, column 4.
    expect([...lines[2]!][4]).toBe('█');
    expect(lines[0]!.trim() + lines[1]!.trim()).toBe('');
  });

  it('on a terminal every line carries black-on-white colours and resets after itself', async () => {
    const text = await renderQr(URIS[0], { paint: true });
    for (const line of text.replace(/\n$/, '').split('\n')) {
      expect(line.startsWith('\x1b[30;47m')).toBe(true);
      expect(line.endsWith('\x1b[0m')).toBe(true);
    }
  });
});

describeWithPeer(['zbarimg'], 'renderQr output scans back (zbarimg) on dark and light terminal themes', () => {
  it.each(URIS.flatMap((u) => (['dark', 'light'] as const).map((theme) => [u, theme] as const)))('%s on %s', async (uri, theme) => {
    const text = await renderQr(uri, { paint: true });
    expect(zbarDecode(renderTerminalQr(text, theme), 'ppm')).toEqual([uri]);
  });

  it('the renders tell the themes apart: text without colours scans on one theme only', async () => {
    // The plain text (files, pipes) is dark-on-light, like a printed code.
    const text = await renderQr(URIS[0]);
    expect(zbarDecode(renderTerminalQr(text, 'light'), 'ppm')).toEqual([URIS[0]]);
    expect(() => zbarDecode(renderTerminalQr(text, 'dark'), 'ppm')).toThrow();
    // qrcode-terminal's own small output (what enroll printed before) draws the light modules and sets no colours.
    const mod = await import('qrcode-terminal');
    const qrcode = (mod as unknown as { default?: typeof mod }).default ?? mod;
    const old = await new Promise<string>((resolve) => qrcode.generate(URIS[0], { small: true }, resolve));
    expect(() => zbarDecode(renderTerminalQr(old, 'light'), 'ppm')).toThrow();
  });

  it('decodes other text at another scale and margin', async () => {
    const text = await renderQr('something else', { paint: true });
    expect(zbarDecode(renderTerminalQr(text, 'dark', 3, 6), 'ppm')).toEqual(['something else']);
  });
});
