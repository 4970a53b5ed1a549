/** Minimal RSocket-over-WebSocket client for tests: raw frames in, decoded frames out. */
import { serialize, deserialize } from 'bson';
import WebSocket from 'ws';
import type { SyncLine } from '@syncline/protocol';
import { FrameType, decodeFrame, encodeRequestStream, encodeSetup, type Frame } from '../../src/websocket/rsocket-frames.ts';

export interface RSocketTestClient extends AsyncDisposable {
  ws: WebSocket;
  send(frame: Buffer): void;
  /** Next frame from the server (throws after `timeoutMs`), or null once the socket closed. */
  next(timeoutMs?: number): Promise<Frame | null>;
  /** True when no frame arrives within `ms`. */
  quiet(ms: number): Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
  /** Opens a `/sync/stream` request; BSON or JSON per the SETUP MIME type. */
  requestStream(streamId: number, initialN: number, request: Record<string, unknown>, path?: string): void;
  /** Reads PAYLOAD frames of `streamId` as sync lines until `predicate` matches. */
  linesUntil(streamId: number, predicate: (l: SyncLine) => boolean, timeoutMs?: number): Promise<SyncLine[]>;
}

export async function connectRSocket(
  url: string,
  setup: { token?: string; mime?: 'application/bson' | 'application/json'; keepAlive?: number; lifetime?: number; userAgent?: string; compress?: boolean },
): Promise<RSocketTestClient> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/sync/stream', { perMessageDeflate: setup.compress ?? true });
  const queue: Frame[] = [];
  let wake: (() => void) | null = null;
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      isClosed = true;
      wake?.();
      resolve({ code, reason: reason.toString() });
    }),
  );
  ws.on('message', (data) => {
    queue.push(decodeFrame(data as Buffer));
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const mime = setup.mime ?? 'application/bson';
  const encode = (v: Record<string, unknown>) => (mime === 'application/bson' ? Buffer.from(serialize(v)) : Buffer.from(JSON.stringify(v)));
  ws.send(
    encodeSetup({
      keepAlive: setup.keepAlive ?? 20_000,
      lifetime: setup.lifetime ?? 90_000,
      metadataMimeType: mime,
      dataMimeType: mime,
      metadata: encode({ ...(setup.token !== undefined ? { token: setup.token } : {}), user_agent: setup.userAgent ?? 'rsocket-test-client' }),
      data: null,
    }),
  );
  const next = async (timeoutMs = 15_000): Promise<Frame | null> => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0) {
      if (isClosed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
    }
    return queue.shift()!;
  };
  return {
    ws,
    closed,
    send: (f) => ws.send(f),
    next,
    async quiet(ms) {
      await new Promise((r) => setTimeout(r, ms));
      return queue.length === 0;
    },
    requestStream(streamId, initialN, request, path = '/sync/stream') {
      ws.send(encodeRequestStream(streamId, initialN, encode({ path }), encode(request)));
    },
    async linesUntil(streamId, predicate, timeoutMs = 15_000) {
      const out: SyncLine[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const f = await next(Math.max(1, deadline - Date.now()));
        if (!f) throw new Error(`socket closed; lines so far: ${JSON.stringify(out).slice(0, 1000)}`);
        if (f.streamId !== streamId) continue;
        if (f.type === FrameType.ERROR) throw new Error(`stream error ${f.code}: ${f.message}`);
        if (f.type !== FrameType.PAYLOAD) continue;
        if (f.data.length === 0) throw new Error('stream completed before the expected line');
        const line = deserialize(f.data) as SyncLine;
        out.push(line);
        if (predicate(line)) return out;
      }
    },
    async [Symbol.asyncDispose]() {
      if (!isClosed) ws.terminate();
      await closed;
    },
  };
}
