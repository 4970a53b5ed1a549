/**
 * Stand-in for the sync API while apps/sync-api has no server yet: answers the two probes only.
 * Everything else is 404, so dashboard login falls back to comparing with its own ADMIN_TOKEN.
 * Runs inside the Playwright runner process.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInSyncApi {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startStandInSyncApi(): Promise<StandInSyncApi> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && path === '/probes/liveness') return reply(200, { status: 'live', standIn: true });
    if (req.method === 'GET' && path === '/probes/readiness') return reply(200, { status: 'ready', standIn: true });
    return reply(404, { error: { code: 'NOT_FOUND', message: 'stand-in sync API: probes only' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
