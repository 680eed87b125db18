import { describe, expect, it } from 'vitest';
import { otpauthUri } from '../src/services/totp.js';
import { renderQr } from '../src/ui/qr.js';
import { modulesToPbm, terminalQrToModules, zbarDecode } from './helpers/qr-image.js';
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
  it('returns half-block text and does not print', async () => {
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
    const modules = terminalQrToModules(text);
    // A QR symbol is 21 + 4k modules square; small mode adds a 1-module light border (+ a pad row).
    const size = modules[0].length - 2;
    expect((size - 21) % 4).toBe(0);
    expect(modules.length).toBeGreaterThanOrEqual(size + 2);
  });
});

describeWithPeer(['zbarimg'], 'renderQr output scans back (zbarimg)', () => {
  it.each(URIS.map((u) => [u]))('%s', async (uri) => {
    const modules = terminalQrToModules(await renderQr(uri));
    expect(zbarDecode(modulesToPbm(modules))).toEqual([uri]);
  });

  it('decodes other text at another scale and quiet zone', async () => {
    const modules = terminalQrToModules(await renderQr('something else'));
    expect(zbarDecode(modulesToPbm(modules, 3, 6))).toEqual(['something else']);
  });
});
