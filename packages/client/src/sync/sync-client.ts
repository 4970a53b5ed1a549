/**
 * The sync driver for one `connect()`: interprets the connection state machine's effects (open or
 * abort the stream, schedule retries), runs one `SyncSession` per stream, and runs the upload
 * loop. Errors never reject `connect()`; they surface as `downloadError`/`uploadError`.
 */
import type { DatabaseInternals, SynclineDatabase } from '../db/syncline-database.ts';
import { ClientErrorCodes, toSynclineError } from '../errors.ts';
import type { CrudQueue } from '../upload/crud-queue.ts';
import { UploadLoop } from '../upload/upload-loop.ts';
import { DEFAULT_BACKOFF } from './backoff.ts';
import { BucketStorage } from './bucket-storage.ts';
import type { BackendConnector, ConnectOptions } from './connect-options.ts';
import { connectionFlags, INITIAL_CONNECTION_STATE, transition, type ConnectionEvent, type ConnectionState } from './connection-state.ts';
import { CREDENTIALS_REFRESH_MARGIN_MS, CredentialsCache } from './credentials.ts';
import { defaultFetch } from './fetch.ts';
import type { SyncLine } from './sync-lines.ts';
import { DEFAULT_USER_AGENT, SyncRemote, type StreamingSyncRequest } from './sync-remote.ts';
import { textLineStream, type SyncLineStream } from './sync-line-stream.ts';
import { DEFAULT_FLOW_WINDOW, openWebSocketStream, WebSocketUnavailableError, type WebSocketConstructor } from './websocket-stream.ts';
import { SyncSession } from './sync-session.ts';
import { Mutex } from '../db/mutex.ts';
import type { StreamConnection } from '../streams/stream-connection.ts';
import type { StreamManager } from '../streams/stream-manager.ts';

/**
 * Consecutive data lines are stored in one transaction, up to these bounds. Fewer, larger
 * transactions matter most where a commit is expensive (OPFS: several hundred ms per commit) and
 * where the op log's index pages would otherwise be rewritten once per commit; the bounds keep the
 * parsed lines held in memory (and the time the write lock is held) moderate.
 * Over WebSocket the smaller bounds stay: lines are credited back only once stored, so a batch
 * must fill well within the flow-control window — see {@link batchBounds}.
 */
export const DATA_BATCH_LINES = 16;
const DATA_BATCH_OPS = 10_000;
const HTTP_BATCH = { lines: 128, ops: 50_000, bytes: 16 * 2 ** 20 };
const WEBSOCKET_BATCH = { lines: DATA_BATCH_LINES, ops: DATA_BATCH_OPS, bytes: Infinity };

/**
 * How many data lines a batch may gather before it is stored. A flow-controlled stream stops once
 * its window is held unapplied, and credits withheld for batching (up to a quarter of the window,
 * flow-window.ts) count against it too: a batch of the whole window would wait for a line the
 * server may not send (with a window of 16 and one applied checkpoint line, 15 data lines arrived
 * and the 16th never came). Half the window always fills.
 */
export function batchBounds(stream: Pick<SyncLineStream, 'window'>): { lines: number; ops: number; bytes: number } {
  if (stream.window === undefined) return HTTP_BATCH;
  return { ...WEBSOCKET_BATCH, lines: Math.max(1, Math.min(WEBSOCKET_BATCH.lines, Math.floor(stream.window / 2))) };
}

type IterationOutcome = { type: 'ended' } | { type: 'restart' } | { type: 'aborted' };

interface Iteration {
  controller: AbortController;
  session: SyncSession | undefined;
  task: Promise<void>;
  /** The streams part of the request, once assembled. */
  streams: StreamConnection | undefined;
}

export class SyncClient {
  private state: ConnectionState = INITIAL_CONNECTION_STATE;
  private readonly credentials: CredentialsCache;
  private readonly remote: SyncRemote;
  private readonly storage: BucketStorage;
  private readonly uploads: UploadLoop;
  private readonly backoff;
  private iteration: Iteration | undefined;
  /** Subscription checks run one at a time, so one change restarts the connection at most once. */
  private readonly streamCheck = new Mutex();
  private offStreams: (() => void) | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private settled: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly database: SynclineDatabase,
    private readonly db: DatabaseInternals,
    crud: CrudQueue,
    private readonly streams: StreamManager,
    private readonly connector: BackendConnector,
    private readonly options: ConnectOptions,
    private readonly clientId: () => Promise<string>,
  ) {
    this.credentials = new CredentialsCache(connector);
    // An app's own fetch wins over the adapter's platform client (Node: node:http), then the global one.
    this.remote = new SyncRemote(options.fetch ?? db.adapter.platformFetch ?? defaultFetch(), this.credentials, options.userAgent);
    this.storage = new BucketStorage(db);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.retry };
    this.uploads = new UploadLoop({
      crud,
      upload: () => this.connector.uploadData(this.database),
      fetchWriteCheckpoint: async (signal) => this.remote.fetchWriteCheckpoint(await this.clientId(), signal),
      onTargetUpdated: async () => {
        await this.iteration?.session?.completedUpload();
      },
      updateStatus: (patch) => this.db.updateStatus(patch),
      logger: db.logger,
      throttleMs: options.crudUploadThrottleMs ?? 1000,
      backoff: { ...this.backoff, ...options.uploadRetry },
    });
  }

  /** Starts syncing; resolves when the first connection attempt has settled. */
  async start(): Promise<void> {
    this.unsubscribe = this.db.changes.subscribe((tables) => {
      if (tables.has('sl_crud')) this.uploads.trigger();
    });
    this.offStreams = this.streams.onChange(() => void this.checkStreams());
    this.uploads.start();
    this.uploads.trigger();
    const settled = new Promise<void>((resolve) => (this.settled = resolve));
    this.dispatch({ type: 'connect' });
    await settled;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.offStreams?.();
    this.dispatch({ type: 'disconnect' });
    await this.iteration?.task;
    this.streams.attach(undefined);
    await this.uploads.stop();
    this.db.updateStatus({ connected: false, connecting: false, downloading: false, downloadProgress: null });
  }

  private dispatch(event: ConnectionEvent): void {
    const { state, effects } = transition(this.state, event, { backoff: this.backoff });
    this.state = state;
    for (const effect of effects) {
      switch (effect.type) {
        case 'open_stream':
          this.openStream();
          break;
        case 'abort_stream':
          this.iteration?.controller.abort();
          break;
        case 'schedule_retry':
          this.retryTimer = setTimeout(() => this.dispatch({ type: 'retry_timer' }), effect.delayMs);
          break;
        case 'cancel_retry':
          clearTimeout(this.retryTimer);
          break;
      }
    }
    this.db.updateStatus(connectionFlags(state));
    if (state.kind !== 'connecting') {
      this.settled?.();
      this.settled = undefined;
    }
    if (state.kind === 'disconnected' || state.kind === 'backoff') {
      this.db.updateStatus({ downloading: false, downloadProgress: null });
    }
  }

  private openStream(): void {
    const controller = new AbortController();
    const iteration: Iteration = { controller, session: undefined, task: Promise.resolve(), streams: undefined };
    const previous = this.iteration?.task ?? Promise.resolve();
    this.iteration = iteration;
    iteration.task = previous
      .then(() => this.runIteration(iteration))
      .then(
        (outcome) => {
          if (this.iteration !== iteration || controller.signal.aborted || outcome.type === 'aborted') return;
          this.dispatch(outcome);
        },
        (e: unknown) => {
          if (this.iteration !== iteration || controller.signal.aborted) return;
          const error = toSynclineError(e, ClientErrorCodes.NETWORK_ERROR);
          this.db.logger.warn('Sync stream failed', { code: error.code, message: error.message });
          this.db.updateStatus({ downloadError: error });
          this.dispatch({ type: 'failed', error });
        },
      );
  }

  /**
   * Compares the streams request the connection would send now with the one in flight and
   * restarts the connection (keeping bucket positions) when they differ. Runs on every
   * subscription change, expiry and keepalive. An iteration still assembling its request is
   * skipped: it re-checks itself once its request is recorded (see runIteration), so a change made
   * during connection setup is never lost.
   */
  private checkStreams(): Promise<void> {
    return this.streamCheck
      .run(async () => {
        const iteration = this.iteration;
        if (!iteration?.streams || iteration.controller.signal.aborted) return;
        if (this.state.kind !== 'connecting' && this.state.kind !== 'connected') return;
        const now = await this.streams.assemble(this.includeDefaults);
        if (this.iteration !== iteration || iteration.controller.signal.aborted || !iteration.streams) return;
        if (now.signature !== iteration.streams.signature) {
          this.db.logger.info('Stream subscriptions changed; reconnecting', { subscriptions: now.request.subscriptions.length });
          this.dispatch({ type: 'restart' });
        }
      })
      .catch((e: unknown) => this.db.logger.warn('Could not check stream subscriptions', { message: String(e) }));
  }

  private get includeDefaults(): boolean {
    return this.options.includeDefaultStreams ?? true;
  }

  private async runIteration(iteration: Iteration): Promise<IterationOutcome> {
    const signal = iteration.controller.signal;
    if (signal.aborted) return { type: 'aborted' };
    // Read the generation before assembling: a change stored after this point bumps it, and the
    // check below catches it even if its own notification came too early to compare.
    const generation = this.streams.generation;
    const streams = await this.streams.assemble(this.includeDefaults);
    if (signal.aborted) return { type: 'aborted' };
    this.streams.attach(streams);
    const session = new SyncSession(
      this.storage,
      {
        logger: this.db.logger,
        status: () => this.db.status,
        updateStatus: (patch) => {
          if (!signal.aborted) this.db.updateStatus(patch);
        },
      },
      streams,
    );
    iteration.session = session;
    iteration.streams = streams;
    if (this.streams.generation !== generation) void this.checkStreams();
    const buckets = await session.begin();
    const lines = await this.openLines(
      {
        buckets,
        include_checksum: true,
        raw_data: true,
        client_id: await this.clientId(),
        parameters: this.options.params ?? {},
        streams: streams.request,
        ...(this.options.appMetadata ? { app_metadata: this.options.appMetadata } : {}),
      },
      signal,
    );
    if (signal.aborted) return { type: 'aborted' };
    this.dispatch({ type: 'opened' });
    // Credentials with a known expiry are replaced 30 s ahead, even if the service never warns.
    // (A token that is already that close to expiry is left to the service's token_expires_in.)
    const { expiresAt } = await this.credentials.get();
    const due = expiresAt === undefined ? -1 : expiresAt.getTime() - Date.now() - CREDENTIALS_REFRESH_MARGIN_MS;
    const refreshTimer =
      due <= 0
        ? undefined
        : setTimeout(() => {
            this.credentials.refresh().then(
              () => {
                if (this.iteration === iteration && !signal.aborted) this.dispatch({ type: 'restart' });
              },
              (e: unknown) => this.db.logger.warn('Could not refresh credentials ahead of expiry', { message: String(e) }),
            );
          }, Math.min(2 ** 31 - 1, due));
    try {
      return await this.readLines(session, lines, signal);
    } finally {
      clearTimeout(refreshTimer);
    }
  }

  /**
   * Opens the stream on the chosen transport. A WebSocket that cannot be opened at all falls back
   * to HTTP for this attempt (logged, and shown as `transportFallback`); errors after it opened
   * (a rejected token, a closed socket) are handled like HTTP errors.
   */
  private async openLines(request: StreamingSyncRequest, signal: AbortSignal): Promise<SyncLineStream> {
    if ((this.options.transport ?? 'http') === 'websocket') {
      const WebSocketImpl = this.options.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      let reason: string;
      if (!WebSocketImpl) {
        reason = 'no WebSocket implementation here (pass connect option webSocket)';
      } else {
        const { endpoint, token } = await this.credentials.get();
        try {
          const stream = await openWebSocketStream({
            WebSocket: WebSocketImpl,
            endpoint,
            token,
            userAgent: this.options.userAgent ?? DEFAULT_USER_AGENT,
            request,
            signal,
            window: Math.max(DATA_BATCH_LINES, this.options.flowControlWindow ?? DEFAULT_FLOW_WINDOW),
            onUnauthorized: () => this.credentials.invalidate(),
          });
          this.db.updateStatus({ transport: 'websocket', transportFallback: undefined });
          return stream;
        } catch (e) {
          if (!(e instanceof WebSocketUnavailableError) || signal.aborted) throw e;
          reason = e.message;
        }
      }
      this.db.logger.warn('WebSocket transport unavailable; falling back to HTTP for this connection', { reason });
      this.db.updateStatus({ transport: 'http', transportFallback: reason });
      return textLineStream(await this.remote.openStream(request, signal));
    }
    const stream = textLineStream(await this.remote.openStream(request, signal));
    this.db.updateStatus({ transport: 'http', transportFallback: undefined });
    return stream;
  }

  private async readLines(session: SyncSession, stream: SyncLineStream, signal: AbortSignal): Promise<IterationOutcome> {
    let first = true;
    // Consecutive data lines are stored together (one transaction); any other line flushes them
    // first, so every line still takes effect in stream order. Unflushed lines are simply not
    // stored (their bucket positions did not advance), so an abort loses nothing.
    // A full batch is stored while the next one is read and parsed (at most one batch in flight;
    // the session's queue keeps stores in order anyway): parsing and SQLite then overlap, which in
    // the browser means the page thread and the SQLite worker. Any other line, the end of the
    // stream and every return wait for that store first, and its error surfaces there.
    let batch: { line: Extract<SyncLine, { type: 'data' }>; byteLength: number }[] = [];
    let batchOps = 0;
    let batchBytes = 0;
    let storing: Promise<void> | undefined;
    const bounds = batchBounds(stream);
    const settle = async (): Promise<void> => {
      const pending = storing;
      storing = undefined;
      await pending;
    };
    const flush = async (overlap: boolean): Promise<void> => {
      await settle();
      // Aborted while the previous batch was being stored: the stream is over, so the lines read
      // behind it are dropped, not stored (their positions did not advance; the next connection
      // asks for them again). Storing them would write after disconnect()/close() began.
      if (batch.length === 0 || signal.aborted) return;
      const lines = batch;
      batch = [];
      batchOps = 0;
      batchBytes = 0;
      const stored = session.handleDataLines(lines).then(() => stream.applied(lines.length));
      if (!overlap) return stored;
      stored.catch(() => undefined); // awaited (and thrown) by the next settle()
      storing = stored;
    };
    try {
      for await (const { line, size } of stream.lines) {
        if (signal.aborted) return { type: 'aborted' };
        if (first) {
          first = false;
          this.uploads.trigger();
        }
        if (line.type === 'data') {
          batch.push({ line, byteLength: size });
          batchOps += line.ops.length;
          batchBytes += size;
          if (batchOps >= bounds.ops || batchBytes >= bounds.bytes || batch.length >= bounds.lines) await flush(true);
          continue;
        }
        await flush(false);
        if (signal.aborted) return { type: 'aborted' };
        const action = await session.handleLine(line, size);
        stream.applied(1);
        if (signal.aborted) return { type: 'aborted' };
        if (line.type === 'checkpoint') this.dispatch({ type: 'healthy' });
        if (action?.type === 'close') {
          if (action.invalidateCredentials) this.credentials.invalidate();
          throw action.error;
        }
        // Keepalives are when a TTL that ran out is noticed (besides the expiry timer).
        if (line.type === 'token_expires_in') void this.checkStreams();
        if (action?.type === 'refresh_credentials') {
          await this.credentials.refresh();
          return { type: 'restart' };
        }
      }
      if (signal.aborted) return { type: 'aborted' };
      await flush(false);
      return signal.aborted ? { type: 'aborted' } : { type: 'ended' };
    } finally {
      // Never leave a store running behind the next connection attempt (its error, if any, was
      // either thrown above or no longer matters: the iteration is over).
      await storing?.catch(() => undefined);
    }
  }
}
