/**
 * A QR code as terminal text (half-block characters, two modules per line), for enrolling an
 * authenticator app from the console. Drawn glyphs are the light modules, so it scans on a dark
 * terminal background. Returns the text; the caller decides where it goes.
 */
export async function renderQr(text: string): Promise<string> {
  const mod = await import('qrcode-terminal');
  // CommonJS package: the namespace's default export is the module object.
  const qrcode = (mod as unknown as { default?: typeof mod }).default ?? mod;
  return new Promise((resolve) => {
    qrcode.generate(text, { small: true }, (out: string) => resolve(out));
  });
}
