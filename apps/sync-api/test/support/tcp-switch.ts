/**
 * A TCP switch for multi-process tests, standing in for a load balancer: every new connection
 * goes to the current target port; connections already open stay where they are, and when either
 * side closes the other is destroyed (an upstream SIGKILL reaches the client as a reset socket).
 */
import net from 'node:net';

export interface TcpSwitch {
  readonly url: string;
  /** Port new connections go to. */
  target: number;
  /** Connections currently piped (client side). */
  readonly open: number;
  close(): Promise<void>;
}

export function startTcpSwitch(initialTarget = 0): Promise<TcpSwitch> {
  const clients = new Set<net.Socket>();
  const sockets = new Set<net.Socket>();
  const state = { target: initialTarget };
  const server = net.createServer((client) => {
    const upstream = net.connect(state.target, '127.0.0.1');
    clients.add(client);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        clients.delete(s);
      });
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        get target() {
          return state.target;
        },
        set target(p: number) {
          state.target = p;
        },
        get open() {
          return clients.size;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    }),
  );
}
