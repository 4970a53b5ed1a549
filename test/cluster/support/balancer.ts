/**
 * A round-robin TCP load balancer for the cluster test (node:net, no dependency): each incoming
 * connection (an HTTP request's keep-alive socket or a WebSocket) goes to the next backend in
 * turn; a backend that refuses the connection is skipped and the next one tried, as a real
 * balancer's health check would. Counts connections per backend so the test can see where
 * clients went after a fault.
 */
import net from 'node:net';

export interface Backend {
  readonly name: string;
  readonly port: number;
}

export interface BalancerStats {
  /** Connections forwarded, by backend name. */
  connections: Record<string, number>;
  /** Connection attempts a backend refused (skipped to the next one). */
  refused: Record<string, number>;
  /** Client connections dropped because no backend accepted them. */
  dropped: number;
}

export interface Balancer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly stats: BalancerStats;
  /** Replaces the backend list (a restarted process listens on a new port). */
  setBackends(backends: Backend[]): void;
  /** Open client connections per backend right now. */
  open(): Record<string, number>;
}

function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export async function startBalancer(initial: Backend[]): Promise<Balancer> {
  let backends = [...initial];
  let next = 0;
  const stats: BalancerStats = { connections: {}, refused: {}, dropped: 0 };
  const live = new Map<string, Set<net.Socket>>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.pause();
    void (async () => {
      const order = backends.map((_, i) => backends[(next + i) % backends.length]!);
      next = (next + 1) % Math.max(1, backends.length);
      for (const b of order) {
        let upstream: net.Socket;
        try {
          upstream = await connectTo(b.port);
        } catch {
          stats.refused[b.name] = (stats.refused[b.name] ?? 0) + 1;
          continue;
        }
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        stats.connections[b.name] = (stats.connections[b.name] ?? 0) + 1;
        const set = live.get(b.name) ?? new Set<net.Socket>();
        live.set(b.name, set);
        set.add(client);
        sockets.add(upstream);
        const close = () => {
          client.destroy();
          upstream.destroy();
          set.delete(client);
          sockets.delete(client);
          sockets.delete(upstream);
        };
        // A backend that closes its side (a drained stream, a killed process) closes the client's.
        upstream.on('error', close).on('close', close);
        client.on('close', close);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      stats.dropped++;
      client.destroy();
      sockets.delete(client);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats,
    setBackends(list) {
      backends = [...list];
    },
    open() {
      return Object.fromEntries([...live].map(([k, v]) => [k, v.size]));
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
