/**
 * Server side of one RSocket-over-WebSocket connection: SETUP (auth from the metadata token),
 * KEEPALIVE answers, REQUEST_STREAM → SocketSyncStream, REQUEST_N / CANCEL routing, and closing
 * with an ERROR frame plus a WebSocket close whose reason is the stable error code.
 *
 * Frames are handled strictly in arrival order (a promise chain), so a REQUEST_STREAM sent right
 * after SETUP waits for the token check instead of racing it.
 */
import type { Logger } from 'pino';
import { deserialize } from 'bson';
import WebSocket from 'ws';
import { ServiceError, toServiceError } from '@syncline/protocol';
import { TokenVerifier, type VerifiedToken } from '../auth.ts';
import type { Services } from '../services.ts';
import { ErrorCode, Flags, FrameDecodeError, FrameType, decodeFrame, encodeError, encodeKeepAlive, type Frame } from './rsocket-frames.ts';
import { SocketSyncStream, serializeServiceError, type FrameSink } from './socket-sync-stream.ts';

/** Above this many unsent bytes a stream waits for the socket before sending its next frame. */
export const SOCKET_HIGH_WATER_BYTES = 256 * 1024;
const SUPPORTED_MIME = new Set(['application/json', 'application/bson']);

/** WebSocket close codes used with an RSocket ERROR; the close reason is the stable error code. */
const CLOSE = { GOING_AWAY: 1001, PROTOCOL: 1002, POLICY: 1008, INTERNAL: 1011, TRY_LATER: 1013 } as const;

type State = 'awaiting-setup' | 'ready' | 'closed';

export class RSocketConnection {
  private state: State = 'awaiting-setup';
  private chain: Promise<void> = Promise.resolve();
  private readonly streams = new Map<number, SocketSyncStream>();
  private token: VerifiedToken | null = null;
  private userAgent: string;
  private metadataMime = 'application/json';
  private dataMime = 'application/json';
  /** Client keepalive lifetime from SETUP; the server closes a connection silent for longer. */
  lifetimeMs = 0;
  lastFrameAt = Date.now();
  readonly openedAt = Date.now();
  private readonly sink: FrameSink;

  constructor(
    private readonly ws: WebSocket,
    private readonly s: Services,
    private readonly log: Logger,
    headerUserAgent: string,
  ) {
    this.userAgent = headerUserAgent;
    this.sink = {
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
      send: (frame) => this.send(frame),
    };
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => this.onClosed());
    ws.on('error', (e) => this.log.debug({ err: e }, 'websocket error'));
  }

  get isSetUp(): boolean {
    return this.state === 'ready';
  }

  /** Sends a frame; resolves at once unless the socket has a backlog, then when it has flushed. */
  private send(frame: Buffer): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    if (this.ws.bufferedAmount < SOCKET_HIGH_WATER_BYTES) {
      this.ws.send(frame, { binary: true });
      return Promise.resolve();
    }
    return new Promise((resolve) => this.ws.send(frame, { binary: true }, () => resolve()));
  }

  /** Sends a connection-level ERROR frame, then closes the socket with `closeCode`. */
  closeWithError(rsocketCode: number, message: string, closeCode: number, reason: string): void {
    if (this.state === 'closed') return;
    void this.send(encodeError(0, rsocketCode, message));
    this.shutdown();
    this.ws.close(closeCode, reason.slice(0, 120));
  }

  /** Server shutdown: end streams and close the socket. */
  goAway(): void {
    const e = new ServiceError('SHUTTING_DOWN', 'Server is shutting down; reconnect.');
    this.closeWithError(ErrorCode.CONNECTION_CLOSE, serializeServiceError(e), CLOSE.GOING_AWAY, e.code);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.lastFrameAt = Date.now();
    if (this.state === 'closed') return;
    if (!isBinary) {
      this.closeWithError(ErrorCode.CONNECTION_ERROR, 'RSocket frames must be sent as binary WebSocket messages', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (e) {
      const msg = e instanceof FrameDecodeError ? e.message : 'Invalid RSocket frame';
      this.closeWithError(this.state === 'awaiting-setup' ? ErrorCode.INVALID_SETUP : ErrorCode.CONNECTION_ERROR, msg, CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    this.chain = this.chain
      .then(() => this.handle(frame))
      .catch((e) => {
        this.log.error({ err: e }, 'rsocket frame handling failed');
        const err = toServiceError(e);
        this.closeWithError(ErrorCode.CONNECTION_ERROR, serializeServiceError(err), CLOSE.INTERNAL, err.code);
      });
  }

  private async handle(frame: Frame): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'awaiting-setup') {
      if (frame.type !== FrameType.SETUP) {
        const code = frame.type === FrameType.RESUME ? ErrorCode.REJECTED_RESUME : ErrorCode.INVALID_SETUP;
        this.closeWithError(code, 'The first frame must be SETUP (resumption is not supported)', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
        return;
      }
      await this.setup(frame);
      return;
    }
    switch (frame.type) {
      case FrameType.SETUP:
        this.closeWithError(ErrorCode.CONNECTION_ERROR, 'SETUP was already received on this connection', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
        return;
      case FrameType.KEEPALIVE:
        if (frame.flags & Flags.RESPOND) void this.send(encodeKeepAlive(false, frame.data));
        return;
      case FrameType.REQUEST_STREAM:
        this.openStream(frame);
        return;
      case FrameType.REQUEST_N:
        this.streams.get(frame.streamId)?.requestN(frame.requestN);
        return;
      case FrameType.CANCEL:
        this.cancelStream(frame.streamId);
        return;
      case FrameType.ERROR:
        if (frame.streamId === 0) {
          this.log.debug({ code: frame.code }, 'client closed the connection with an error');
          this.shutdown();
          this.ws.close(1000);
        } else this.cancelStream(frame.streamId);
        return;
      case FrameType.REQUEST_RESPONSE:
      case FrameType.REQUEST_CHANNEL:
        void this.send(encodeError(frame.streamId, ErrorCode.REJECTED, 'Only REQUEST_STREAM interactions are supported'));
        return;
      case FrameType.RESUME:
        this.closeWithError(ErrorCode.REJECTED_RESUME, 'Resumption is not supported', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
        return;
      default:
        // REQUEST_FNF, PAYLOAD (channels only), METADATA_PUSH, LEASE, RESUME_OK, EXT: nothing to do.
        return;
    }
  }

  private async setup(frame: Extract<Frame, { type: typeof FrameType.SETUP }>): Promise<void> {
    if (frame.majorVersion !== 1) {
      this.closeWithError(ErrorCode.UNSUPPORTED_SETUP, `RSocket version ${frame.majorVersion}.${frame.minorVersion} is not supported (need 1.x)`, CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    if (frame.flags & (Flags.RESUME_ENABLE | Flags.LEASE)) {
      this.closeWithError(ErrorCode.UNSUPPORTED_SETUP, 'Resumption and leases are not supported', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    const mdMime = frame.metadataMimeType.toLowerCase();
    const dataMime = frame.dataMimeType.toLowerCase();
    if (!SUPPORTED_MIME.has(mdMime) || !SUPPORTED_MIME.has(dataMime)) {
      this.closeWithError(ErrorCode.UNSUPPORTED_SETUP, 'Metadata and data MIME types must be application/json or application/bson', CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    this.metadataMime = mdMime;
    this.dataMime = dataMime;
    this.lifetimeMs = frame.lifetime;
    try {
      const meta = this.decode(frame.metadata, mdMime, 'SETUP metadata');
      const tokenField = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).token : undefined;
      const agent = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).user_agent : undefined;
      if (typeof agent === 'string' && agent) this.userAgent = agent.slice(0, 300);
      const jwt = TokenVerifier.fromHeader(typeof tokenField === 'string' ? tokenField : undefined);
      try {
        this.token = await this.s.verifier.verify(jwt);
      } catch (e) {
        this.s.metrics.authFailures++;
        throw e;
      }
      if (this.s.shuttingDown) throw new ServiceError('DRAINING', 'This process is draining before it exits; reconnect (another process will serve you).');
      if (this.s.connections.size >= this.s.config.MAX_CONCURRENT_STREAMS) {
        throw new ServiceError('TOO_MANY_STREAMS', `This process already serves ${this.s.config.MAX_CONCURRENT_STREAMS} streams (MAX_CONCURRENT_STREAMS); retry later.`);
      }
    } catch (e) {
      const err = toServiceError(e);
      this.log.debug({ code: err.code }, 'websocket setup rejected');
      const closeCode = err.status === 401 ? CLOSE.POLICY : err.status === 429 || err.status === 503 ? CLOSE.TRY_LATER : err.status >= 500 ? CLOSE.INTERNAL : CLOSE.PROTOCOL;
      this.closeWithError(ErrorCode.REJECTED_SETUP, serializeServiceError(err), closeCode, err.code);
      return;
    }
    if (this.state === 'closed') return;
    this.state = 'ready';
  }

  private openStream(frame: Extract<Frame, { type: typeof FrameType.REQUEST_STREAM | typeof FrameType.REQUEST_CHANNEL }>): void {
    const id = frame.streamId;
    const reject = (e: ServiceError, code: number = ErrorCode.APPLICATION_ERROR) => void this.send(encodeError(id, code, serializeServiceError(e)));
    if (id === 0 || this.streams.has(id)) {
      this.closeWithError(ErrorCode.CONNECTION_ERROR, `Invalid or duplicate stream id ${id}`, CLOSE.PROTOCOL, 'SYNC_BAD_REQUEST');
      return;
    }
    if (this.streams.size >= this.s.config.MAX_STREAMS_PER_WEBSOCKET) {
      return reject(
        new ServiceError(
          'TOO_MANY_SOCKET_STREAMS',
          `This connection already has ${this.streams.size} open streams (MAX_STREAMS_PER_WEBSOCKET); cancel one first or open another connection.`,
        ),
      );
    }
    if (frame.flags & Flags.FOLLOWS) return reject(new ServiceError('BAD_REQUEST', 'Fragmented requests are not supported'), ErrorCode.INVALID);
    let request: unknown;
    try {
      const meta = this.decode(frame.metadata, this.metadataMime, 'request metadata');
      const path = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).path : undefined;
      if (path !== '/sync/stream') return reject(new ServiceError('NOT_FOUND', `No socket route for path ${JSON.stringify(path ?? null)}; use "/sync/stream".`));
      request = this.decode(frame.data, this.dataMime, 'request data') ?? {};
    } catch (e) {
      return reject(toServiceError(e));
    }
    const stream = new SocketSyncStream(this.s, id, this.sink, { token: this.token!, userAgent: this.userAgent, logger: this.log }, frame.requestN);
    this.streams.set(id, stream);
    void stream.run(request).finally(() => this.streams.delete(id));
  }

  private cancelStream(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    stream.cancel();
  }

  private decode(buf: Buffer | null, mime: string, what: string): unknown {
    if (!buf || buf.length === 0) return null;
    try {
      return mime === 'application/bson' ? deserialize(buf) : JSON.parse(buf.toString('utf8'));
    } catch {
      throw new ServiceError('BAD_REQUEST', `Invalid ${what}: not valid ${mime === 'application/bson' ? 'BSON' : 'JSON'}.`);
    }
  }

  private shutdown(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const stream of this.streams.values()) stream.cancel();
    this.streams.clear();
  }

  private onClosed(): void {
    this.shutdown();
  }
}
