import { createServer, connect, type Server, type Socket } from 'node:net';

/** How the proxy treats connections while it is cut. */
export type CutMode =
  /** New connections are refused (ECONNREFUSED): the listener is closed. */
  | 'refuse'
  /** New connections are accepted and then hear nothing, ever (a dead host or a dropped route). */
  | 'blackhole';

export interface TcpProxy {
  /** `127.0.0.1:port` clients connect to. */
  readonly port: number;
  readonly url: (scheme?: string) => string;
  /** Destroys every open connection and refuses or blackholes new ones until restore(). */
  cut(mode: CutMode): Promise<void>;
  /** Forwards new connections again (blackholed ones are destroyed). */
  restore(): Promise<void>;
  /** Connections accepted so far, and those refused or blackholed while cut. */
  stats(): { accepted: number; droppedWhileCut: number; cuts: number };
  close(): Promise<void>;
}

/**
 * A TCP proxy for chaos tests: clients talk to the shared server through it, and the test cuts
 * the link (an outage of that server for these clients only) without touching the server, which
 * other tests and engineers share.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const held = new Set<Socket>();
  let mode: CutMode | undefined;
  let accepted = 0;
  let dropped = 0;
  let cuts = 0;
  let server: Server;
  let port = 0;

  function onConnection(client: Socket): void {
    if (mode === 'blackhole') {
      dropped++;
      held.add(client);
      client.on('error', () => undefined);
      client.on('close', () => held.delete(client));
      client.pause();
      return;
    }
    accepted++;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer(onConnection);
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address === 'object' && address) port = address.port;
        resolve();
      });
    });
  const closeListener = () => new Promise<void>((resolve) => server.close(() => resolve()));

  await listen(0);

  return {
    get port() {
      return port;
    },
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    async cut(next) {
      cuts++;
      const previous = mode;
      mode = next;
      for (const s of [...open, ...(next === 'refuse' ? held : [])]) s.destroy();
      open.clear();
      if (next === 'refuse' && previous !== 'refuse') await closeListener();
      if (next !== 'refuse' && previous === 'refuse') await listen(port);
    },
    async restore() {
      if (mode === 'refuse') await listen(port);
      mode = undefined;
      for (const s of held) s.destroy();
      held.clear();
    },
    stats: () => ({ accepted, droppedWhileCut: dropped, cuts }),
    async close() {
      for (const s of [...open, ...held]) s.destroy();
      if (mode !== 'refuse') await closeListener();
    },
  };
}
