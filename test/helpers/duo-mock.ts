/**
 * Plain-HTTP stand-in for Duo's `/oauth/v1/health_check`. The Duo library pins Duo's CAs, so tests hand
 * it an axios instance aimed here instead of at https://<apiHost>.
 *
 * By default it behaves like Duo: the client_assertion must be an HS512 JWT signed with the Client
 * Secret, issued by the Client ID, for the audience https://<apiHost>/oauth/v1/health_check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DuoMockRequest {
  path: string;
  form: Record<string, string>;
  /** Why the assertion was refused, or null when it was good. */
  assertionProblem: string | null;
}

export type DuoMockReply = { status: number; body: unknown } | { hang: true } | { destroy: true };

export interface DuoMock {
  url: string;
  requests: DuoMockRequest[];
  setHandler(h: (req: DuoMockRequest) => DuoMockReply): void;
  close(): Promise<void>;
}

export const DUO_HEALTHY = (now = Math.floor(Date.now() / 1000)) => ({ stat: 'OK', response: { timestamp: now } });
/** What Duo answers for a bad client ID or a client_assertion signed with the wrong secret. */
export const DUO_INVALID_CLIENT = {
  stat: 'FAIL',
  code: 40002,
  message: 'invalid_client',
  message_detail: 'The provided client_assertion was invalid.',
  timestamp: 1573053670,
};

function checkAssertion(form: Record<string, string>, opts: { clientId: string; clientSecret: string; apiHost: string }): string | null {
  const jwt = form.client_assertion;
  if (!jwt) return 'no client_assertion';
  if (form.client_id !== opts.clientId) return 'client_id differs';
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'not a JWT';
  const [h, p, sig] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
  if (header.alg !== 'HS512') return `alg ${header.alg}`;
  const expected = createHmac('sha512', opts.clientSecret).update(`${h}.${p}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return 'bad signature';
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  if (claims.iss !== opts.clientId || claims.sub !== opts.clientId) return 'iss/sub differ';
  if (claims.aud !== `https://${opts.apiHost}/oauth/v1/health_check`) return `aud ${String(claims.aud)}`;
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp < now) return 'expired';
  return null;
}

export async function startDuoMock(opts: { clientId: string; clientSecret: string; apiHost: string }): Promise<DuoMock> {
  const requests: DuoMockRequest[] = [];
  let handler = (req: DuoMockRequest): DuoMockReply =>
    req.assertionProblem === null ? { status: 200, body: DUO_HEALTHY() } : { status: 400, body: DUO_INVALID_CLIENT };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()).entries());
      const path = req.url ?? '';
      const request: DuoMockRequest = { path, form, assertionProblem: checkAssertion(form, opts) };
      requests.push(request);
      if (req.method !== 'POST' || path !== '/oauth/v1/health_check') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ stat: 'FAIL', code: 40401, message: 'Resource not found' }));
        return;
      }
      const reply = handler(request);
      if ('hang' in reply) return;
      if ('destroy' in reply) {
        req.socket.destroy();
        return;
      }
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      const type = typeof reply.body === 'string' ? 'text/html' : 'application/json';
      res.writeHead(reply.status, { 'content-type': type }).end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setHandler(h) {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
