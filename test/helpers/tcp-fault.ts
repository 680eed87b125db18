/**
 * TCP in front of MariaDB that fails the way networks do: a server that accepts and never speaks
 * (a dead SSH tunnel's local end), and a proxy that forwards faithfully until the client sends a
 * chosen statement, then freezes — neither closing nor answering — as a hung server or a tunnel
 * whose far end vanished does. Everything is closed by `close()`.
 */
import net from 'node:net';

export interface TcpFault {
  port: number;
  /** Set once the proxy has frozen. */
  readonly frozen: boolean;
  close(): Promise<void>;
}

/** Accepts connections and never sends a byte (no handshake). */
export async function silentServer(): Promise<TcpFault> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('error', () => {});
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    frozen: true,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Forwards to `target` until client data matches `freezeOn` (case-insensitive, over the raw
 * protocol bytes as latin1); from then on nothing more is forwarded in either direction, on every
 * connection, and no connection is closed until `close()`.
 */
export async function freezingProxy(target: { host: string; port: number }, freezeOn: RegExp): Promise<TcpFault> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) s.on('error', () => {});
    client.on('data', (d) => {
      if (!frozen && freezeOn.test(d.toString('latin1'))) frozen = true;
      if (!frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => {
      if (!frozen) upstream.destroy();
    });
    upstream.on('close', () => {
      if (!frozen) client.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get frozen() {
      return frozen;
    },
    close: async () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
