/**
 * The sync stream over RSocket-on-WebSocket, as the Syncline (and PowerSync) service speaks it:
 * SETUP (BSON metadata with the token) → REQUEST_STREAM `/sync/stream` with the sync request →
 * PAYLOAD frames, each one BSON sync line. REQUEST_N flow control through {@link FlowWindow}:
 * credits go back only as the consumer reports lines applied (`applied(n)`), so a slow SQLite
 * apply pauses the server. KEEPALIVE every `keepAliveMs`; a server silent for `lifetimeMs` counts
 * as a dead connection.
 *
 * The WebSocket constructor is injectable (Node 20 has no global one: pass `ws`'s); only the
 * browser-standard subset below is used.
 */
import { deserialize, serialize } from 'bson';
import {
  FrameDecodeError,
  FrameFlags,
  FrameType,
  decodeRSocketFrame,
  encodeCancelFrame,
  encodeKeepAliveFrame,
  encodeRequestNFrame,
  encodeRequestStreamFrame,
  encodeSetupFrame,
} from '@syncline/protocol';
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import { FlowWindow } from './flow-window.ts';
import { parseSyncLine, type SyncLine } from './sync-lines.ts';
import type { SyncLineStream } from './sync-line-stream.ts';

/** The part of the standard WebSocket API the transport needs (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Lines requested ahead by default (and the bound on lines held unapplied). */
export const DEFAULT_FLOW_WINDOW = 32;
const OPEN_TIMEOUT_MS = 10_000;
const KEEPALIVE_MS = 20_000;
const LIFETIME_MS = 60_000;
const STREAM_ID = 1;

export interface WebSocketStreamOptions {
  WebSocket: WebSocketConstructor;
  endpoint: string;
  token: string;
  userAgent: string;
  request: unknown;
  signal: AbortSignal;
  window?: number;
  keepAliveMs?: number;
  lifetimeMs?: number;
  /** Called with a 401 from the service (credentials are stale). */
  onUnauthorized?: () => void;
}

/** The socket could not be opened at all (no server, proxy refusing upgrades): fall back to HTTP. */
export class WebSocketUnavailableError extends SynclineError {
  constructor(message: string) {
    super(ClientErrorCodes.NETWORK_ERROR, message);
    this.name = 'WebSocketUnavailableError';
  }
}

export function webSocketUrl(endpoint: string): string {
  return `${endpoint.replace(/^http/, 'ws')}/sync/stream`;
}

/** Turns the JSON in an RSocket ERROR frame (`{code, status, message}`) into a client error. */
export function serviceErrorFromFrame(message: string, onUnauthorized?: () => void): SynclineError {
  let parsed: { code?: unknown; status?: unknown; message?: unknown } | undefined;
  try {
    parsed = JSON.parse(message) as typeof parsed;
  } catch {
    // plain text
  }
  const code = typeof parsed?.code === 'string' ? parsed.code : undefined;
  const text = typeof parsed?.message === 'string' ? parsed.message : message;
  if (parsed?.status === 401) {
    onUnauthorized?.();
    return new SynclineError(ClientErrorCodes.UNAUTHORIZED, `sync stream: the sync service rejected the token (401) ${code ?? ''} ${text}`.trim());
  }
  const status = typeof parsed?.status === 'number' ? ` ${parsed.status}` : '';
  return new SynclineError(ClientErrorCodes.HTTP_ERROR, `sync stream (websocket):${status} ${code ?? ''} ${text}`.replace(/\s+/g, ' ').trim());
}

/** Opens the socket and the stream; resolves once SETUP and REQUEST_STREAM are sent. */
export async function openWebSocketStream(o: WebSocketStreamOptions): Promise<SyncLineStream & { readonly flow: FlowWindow }> {
  const flow = new FlowWindow(o.window ?? DEFAULT_FLOW_WINDOW);
  const queue: Uint8Array[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let lastFrameAt = Date.now();
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = (error?: Error): void => {
    if (ended) return;
    ended = true;
    failure = error;
    clearInterval(keepalive);
    notify();
  };

  let socket: WebSocketLike;
  try {
    socket = new o.WebSocket(webSocketUrl(o.endpoint));
  } catch (e) {
    throw new WebSocketUnavailableError(`WebSocket could not be created: ${String(e)}`);
  }
  socket.binaryType = 'arraybuffer';
  const send = (frame: Uint8Array): void => {
    if (socket.readyState === 1) socket.send(frame);
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // never opened
      }
      reject(new WebSocketUnavailableError(why));
    };
    const timer = setTimeout(() => fail(`WebSocket did not open within ${OPEN_TIMEOUT_MS} ms`), OPEN_TIMEOUT_MS);
    socket.addEventListener('open', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve();
    });
    socket.addEventListener('error', () => fail(`WebSocket to ${webSocketUrl(o.endpoint)} could not be opened`));
    socket.addEventListener('close', ((ev: { code?: number }) => fail(`WebSocket closed before it opened (code ${ev.code ?? '?'})`)) as (e: never) => void);
    o.signal.addEventListener('abort', () => fail('aborted'), { once: true });
  });
  if (o.signal.aborted) throw new SynclineError(ClientErrorCodes.ABORTED, 'Sync stream aborted');

  socket.addEventListener('message', ((ev: { data: unknown }) => {
    lastFrameAt = Date.now();
    if (ended) return;
    const data = ev.data;
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      finish(new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, 'The sync service sent a text WebSocket message; RSocket frames are binary'));
      return;
    }
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    try {
      const frame = decodeRSocketFrame(bytes);
      switch (frame.type) {
        case FrameType.PAYLOAD:
          if (frame.streamId !== STREAM_ID) return;
          if (frame.flags & FrameFlags.NEXT) {
            flow.onReceived();
            queue.push(frame.data);
            notify();
          }
          if (frame.flags & FrameFlags.COMPLETE) finish();
          return;
        case FrameType.ERROR:
          if (frame.streamId !== 0 && frame.streamId !== STREAM_ID) return;
          finish(serviceErrorFromFrame(frame.message, o.onUnauthorized));
          return;
        case FrameType.KEEPALIVE:
          if (frame.flags & FrameFlags.RESPOND) send(encodeKeepAliveFrame(false, frame.data));
          return;
        default:
          return;
      }
    } catch (e) {
      const message = e instanceof FrameDecodeError ? e.message : String(e);
      finish(e instanceof SynclineError ? e : new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, message));
    }
  }) as (e: never) => void);
  socket.addEventListener('close', ((ev: { code?: number; reason?: string }) => {
    finish(new SynclineError(ClientErrorCodes.NETWORK_ERROR, `The sync WebSocket closed (code ${ev.code ?? '?'}${ev.reason ? `, ${ev.reason}` : ''})`));
  }) as (e: never) => void);
  const onAbort = (): void => {
    send(encodeCancelFrame(STREAM_ID));
    socket.close(1000);
    finish(new SynclineError(ClientErrorCodes.ABORTED, 'Sync stream aborted'));
  };
  o.signal.addEventListener('abort', onAbort, { once: true });

  const lifetimeMs = o.lifetimeMs ?? LIFETIME_MS;
  const keepAliveMs = o.keepAliveMs ?? KEEPALIVE_MS;
  const keepalive = setInterval(() => {
    if (Date.now() - lastFrameAt > lifetimeMs) {
      socket.close(1001);
      finish(new SynclineError(ClientErrorCodes.NETWORK_ERROR, `No frame from the sync service for ${lifetimeMs} ms; reconnecting`));
      return;
    }
    send(encodeKeepAliveFrame(true));
  }, keepAliveMs);

  const metadata = serialize({ token: `Token ${o.token}`, user_agent: o.userAgent });
  send(encodeSetupFrame({ keepAlive: keepAliveMs, lifetime: lifetimeMs, metadataMimeType: 'application/bson', dataMimeType: 'application/bson', metadata, data: null }));
  send(encodeRequestStreamFrame(STREAM_ID, flow.initial(), serialize({ path: '/sync/stream' }), serialize(o.request as Record<string, unknown>)));

  async function* lines(): AsyncGenerator<{ line: SyncLine; size: number }> {
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          let value: unknown;
          try {
            value = deserialize(next, { useBigInt64: true });
          } catch (e) {
            throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, `Sync line is not valid BSON: ${String(e)}`, { cause: e });
          }
          yield { line: parseSyncLine(value as never), size: next.byteLength };
          continue;
        }
        if (ended) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      o.signal.removeEventListener('abort', onAbort);
      if (!ended || socket.readyState === 1) {
        send(encodeCancelFrame(STREAM_ID));
        socket.close(1000);
      }
      finish();
    }
  }

  return {
    transport: 'websocket',
    flow,
    window: flow.window,
    lines: lines(),
    applied(n: number): void {
      if (ended) return;
      const grant = flow.onApplied(n);
      if (grant > 0) send(encodeRequestNFrame(STREAM_ID, grant));
    },
  };
}
