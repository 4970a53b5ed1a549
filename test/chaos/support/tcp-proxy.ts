/**
 * A TCP proxy for fault injection (node:net): the service connects to the proxy instead of a
 * database. `cut()` destroys every open connection (a dropped network as the service sees it:
 * sockets reset mid-query), `refuse()` also turns new connections away until `resume()`.
 */
import net from 'node:net';

export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** Rewrites a postgres:// URL to go through the proxy. */
  url(target: string): string;
  /** Destroys every open connection (both sides). Returns how many were cut. */
  cut(): number;
  /** Cuts everything and refuses new connections until `resume()`. */
  refuse(): number;
  resume(): void;
  readonly stats: { accepted: number; refused: number; cut: number };
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let refusing = false;
  const stats = { accepted: 0, refused: 0, cut: 0 };
  const server = net.createServer((client) => {
    if (refusing) {
      stats.refused++;
      client.destroy();
      return;
    }
    stats.accepted++;
    const upstream = net.connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const cut = () => {
    const n = open.size / 2;
    for (const s of open) {
      try {
        s.resetAndDestroy(); // RST, like a broken link
      } catch {
        s.destroy();
      }
    }
    open.clear();
    stats.cut += n;
    return n;
  };
  return {
    port,
    stats,
    url(target) {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut,
    refuse() {
      refusing = true;
      return cut();
    },
    resume() {
      refusing = false;
    },
    async [Symbol.asyncDispose]() {
      refusing = true;
      cut();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
