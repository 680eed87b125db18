/**
 * A Yubico protocol 2.0 validation server in-process, for what Debian's yubiserver cannot show:
 * request-signature checks, replay detection under our control, and hostile or broken answers.
 *
 * Signatures are computed here with node:crypto directly (not with the client's helper) so that a bug
 * in the client's signing cannot hide itself.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface YubiMockRequest {
  /** Query parameters, URL-decoded. */
  params: Record<string, string>;
  /** The raw request path and query as received. */
  rawUrl: string;
  /** Whether `h` verified with the mock's key; null when the request carried no `h`. */
  signatureValid: boolean | null;
}

export type YubiMockReply =
  /** Answer these fields; `sign` (default true) adds a correct `h`, 'wrong' adds a corrupted one. */
  | { fields: Record<string, string>; sign?: boolean | 'wrong'; httpStatus?: number }
  /** Answer this body verbatim. */
  | { raw: string; httpStatus?: number; contentType?: string }
  /** Never answer (the client's timeout has to fire). */
  | { hang: true };

export type YubiMockHandler = (req: YubiMockRequest, mock: YubiMock) => YubiMockReply;

export interface YubiMock {
  url: string;
  clientId: string;
  secretKey: string;
  requests: YubiMockRequest[];
  /** OTPs the default handler has accepted (for replay detection). */
  seenOtps: Set<string>;
  setHandler(handler: YubiMockHandler): void;
  /** What a well-behaved server would answer: checks id, signature and replays, echoes otp and nonce. */
  defaultReply(req: YubiMockRequest, overrides?: Record<string, string>): YubiMockReply;
  close(): Promise<void>;
}

/** HMAC-SHA1 over sorted `k=v&…` of everything but `h`, base64. */
export function mockSign(fields: Record<string, string>, secretKeyB64: string): string {
  const data = Object.keys(fields)
    .filter((k) => k !== 'h')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
  return createHmac('sha1', Buffer.from(secretKeyB64, 'base64')).update(data).digest('base64');
}

export async function startYubiMock(opts: { clientId: string; secretKey: string }): Promise<YubiMock> {
  const requests: YubiMockRequest[] = [];
  const seenOtps = new Set<string>();
  let handler: YubiMockHandler = (req, m) => m.defaultReply(req);

  const mock: YubiMock = {
    url: '',
    clientId: opts.clientId,
    secretKey: opts.secretKey,
    requests,
    seenOtps,
    setHandler(h) {
      handler = h;
    },
    defaultReply(req, overrides = {}) {
      const p = req.params;
      let status: string;
      if (!p.id || !p.otp || !p.nonce) status = 'MISSING_PARAMETER';
      else if (p.id !== opts.clientId) status = 'NO_SUCH_CLIENT';
      else if (req.signatureValid === false) status = 'BAD_SIGNATURE';
      else if (seenOtps.has(p.otp)) status = 'REPLAYED_OTP';
      else {
        status = 'OK';
        seenOtps.add(p.otp);
      }
      const fields: Record<string, string> = {
        // Yubico's own timestamp shape, e.g. 2024-05-01T10:00:00Z0123.
        t: `${new Date().toISOString().slice(0, 19)}Z0${String(new Date().getMilliseconds()).padStart(3, '0')}`,
        otp: p.otp ?? '',
        nonce: p.nonce ?? '',
        sl: '100',
        status,
        ...overrides,
      };
      // Like Yubico's servers: an unknown client gets an unsigned answer, since there is no key to sign with.
      return { fields, sign: status !== 'NO_SUCH_CLIENT' };
    },
    close: async () => {},
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '';
    const url = new URL(rawUrl, 'http://mock');
    const params = Object.fromEntries(url.searchParams.entries());
    let signatureValid: boolean | null = null;
    if (params.h !== undefined) signatureValid = params.h === mockSign(params, opts.secretKey);
    const request: YubiMockRequest = { params, rawUrl, signatureValid };
    requests.push(request);

    if (url.pathname !== '/wsapi/2.0/verify') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const reply = handler(request, mock);
    if ('hang' in reply) return;
    if ('raw' in reply) {
      res.writeHead(reply.httpStatus ?? 200, { 'content-type': reply.contentType ?? 'text/plain' }).end(reply.raw);
      return;
    }
    const fields = { ...reply.fields };
    delete fields.h;
    const sign = reply.sign ?? true;
    let h: string | undefined;
    if (sign === true) h = mockSign(fields, opts.secretKey);
    if (sign === 'wrong') {
      const mac = Buffer.from(mockSign(fields, opts.secretKey), 'base64');
      mac[0] ^= 0x01;
      h = mac.toString('base64');
    }
    const lines = [...(h !== undefined ? [`h=${h}`] : []), ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)];
    res.writeHead(reply.httpStatus ?? 200, { 'content-type': 'text/plain' }).end(`${lines.join('\r\n')}\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  mock.url = `http://127.0.0.1:${port}`;
  mock.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return mock;
}
