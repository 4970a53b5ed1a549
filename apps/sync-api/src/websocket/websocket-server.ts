/**
 * Attaches the RSocket-over-WebSocket sync transport to the HTTP server: every upgrade request is
 * accepted (SDKs use `/sync/stream`; the route comes from the request metadata), with
 * permessage-deflate as the reference service configures it. A shared sweep closes connections
 * that never sent SETUP or went silent past their keepalive lifetime.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { Services } from '../services.ts';
import { ErrorCode } from './rsocket-frames.ts';
import { RSocketConnection } from './rsocket-connection.ts';

/** Same bound as HTTP request bodies: a SETUP or REQUEST_STREAM frame is at most this large. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
const SETUP_TIMEOUT_MS = 30_000;
const SWEEP_MS = 5_000;

export const PER_MESSAGE_DEFLATE: PerMessageDeflateOptions = {
  zlibDeflateOptions: { level: 3 },
  serverMaxWindowBits: 12,
  clientNoContextTakeover: true,
  threshold: 1024,
};

export interface WebSocketTransport {
  readonly connectionCount: number;
  close(): Promise<void>;
}

export function attachWebSocketTransport(server: Server, s: Services, logger: Logger): WebSocketTransport {
  const log = logger.child({ component: 'websocket' });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: PER_MESSAGE_DEFLATE, maxPayload: MAX_FRAME_BYTES });
  const connections = new Set<RSocketConnection>();
  let counter = 0;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const agent = String(req.headers['x-user-agent'] ?? req.headers['user-agent'] ?? '');
      const conn = new RSocketConnection(ws, s, log.child({ ws: ++counter }), agent.slice(0, 300));
      connections.add(conn);
      ws.on('close', () => connections.delete(conn));
    });
  };
  server.on('upgrade', onUpgrade);

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of connections) {
      if (!c.isSetUp && now - c.openedAt > SETUP_TIMEOUT_MS) {
        c.closeWithError(ErrorCode.INVALID_SETUP, 'No SETUP frame received in time', 1002, 'SYNC_BAD_REQUEST');
      } else if (c.isSetUp && c.lifetimeMs > 0 && now - c.lastFrameAt > c.lifetimeMs) {
        c.closeWithError(ErrorCode.CONNECTION_ERROR, `No frame received for ${c.lifetimeMs} ms (keepalive lifetime)`, 1001, 'SYNC_KEEPALIVE_TIMEOUT');
      }
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    get connectionCount() {
      return connections.size;
    },
    async close() {
      clearInterval(sweep);
      server.off('upgrade', onUpgrade);
      for (const c of connections) c.goAway();
      // Give clients a moment to answer the close handshake, then drop whatever is left.
      const deadline = Date.now() + 1_000;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
