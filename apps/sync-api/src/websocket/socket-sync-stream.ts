/**
 * One `/sync/stream` REQUEST_STREAM on an RSocket connection: validates the request, registers
 * the stream, pulls protocol lines from the engine's generator only while the client has granted
 * REQUEST_N credits, and sends each line as a BSON PAYLOAD(NEXT). Ends with COMPLETE, or ERROR
 * carrying the serialised service error; CANCEL or a closed socket abort it.
 *
 * A stream that ends before its first PAYLOAD (a drain that lands while it registers or computes
 * its first checkpoint) ends with ERROR, never COMPLETE: the official SDKs' RSocket requester
 * settles its connect only on the first payload or an error, so a bare COMPLETE leaves
 * `@powersync/node` waiting forever — it never reconnects and its tables go stale.
 *
 * An abort from the server side (admin disconnect, drain) ends the stream at once: it stops waiting
 * for REQUEST_N credits and for a generator step still in progress (a slow storage query), and
 * sends nothing the generator produces after the abort. An admin disconnect always ends with ERROR
 * `SYNC_STREAM_ENDED` (the server cut the stream; not a normal completion), so the SDK reconnects.
 */
import type { Logger } from 'pino';
import { ServiceError, streamingSyncRequestSchema, toServiceError, type StreamingSyncRequest, type SyncLine } from '@syncline/protocol';
import { streamSyncLines } from '@syncline/engine';
import type { VerifiedToken } from '../auth.ts';
import { encodeLine } from '../line-encoding.ts';
import { DRAIN_RETRY_AFTER_SECONDS, parseBody } from '../routes/sync-routes.ts';
import type { Services } from '../services.ts';
import { ErrorCode, encodeComplete, encodeError, encodePayload } from './rsocket-frames.ts';
import { RequestCredits } from './request-credits.ts';
import { armTokenExpiry } from '../token-expiry.ts';

/** Where a stream writes its frames; `send` resolves once the socket can take more. */
export interface FrameSink {
  send(frame: Buffer): Promise<void>;
  readonly open: boolean;
}

export interface StreamSession {
  token: VerifiedToken;
  userAgent: string;
  logger: Logger;
}

/**
 * Serialised form of a service error inside an RSocket ERROR frame: the fields of HTTP bodies plus
 * the PowerSync code the official SDKs decide on (re-fetch credentials only for auth errors).
 */
export function serializeServiceError(e: ServiceError): string {
  return JSON.stringify({ code: e.code, status: e.status, message: e.message, psync: e.psyncCode });
}

/** What the abort race resolves with when the server aborted the stream. */
const SERVER_ABORT = Symbol('server-abort');

export class SocketSyncStream {
  readonly credits: RequestCredits;
  private readonly abort = new AbortController();
  private cancelled = false;
  /** PAYLOAD(NEXT) frames sent: until the first, the stream must not end with COMPLETE. */
  private payloads = 0;

  constructor(
    private readonly s: Services,
    readonly streamId: number,
    private readonly sink: FrameSink,
    private readonly session: StreamSession,
    initialN: number,
  ) {
    this.credits = new RequestCredits(initialN);
  }

  requestN(n: number): void {
    this.credits.grant(n);
  }

  /** Client CANCEL or socket closed: stop without sending anything more on this stream. */
  cancel(): void {
    this.cancelled = true;
    this.abort.abort();
    this.credits.close();
  }

  /** Runs the stream to its end; never throws (errors become ERROR frames). */
  async run(rawRequest: unknown): Promise<void> {
    const { s, session } = this;
    let connectionId: string | null = null;
    let generator: AsyncGenerator<SyncLine, string> | null = null;
    const log = session.logger.child({ stream: this.streamId });
    const started = Date.now();
    let bytes = 0;
    let ops = 0;
    let lines = 0;
    let reason = 'client_closed';
    let disarmExpiry = () => {};
    /** The generator finished and `end()` sent the terminal frame. */
    let ended = false;
    try {
      const request = parseBody(streamingSyncRequestSchema, rawRequest ?? {});
      const versionId = await this.checkAdmission();
      // A drain or an admin disconnect aborts the stream through the registry: stop waiting for
      // credits (the terminal frame needs none) and for the generator. Listening before
      // registering: a drain can land while the registry row is being inserted.
      const serverAbort = new Promise<typeof SERVER_ABORT>((resolve) => {
        const onAbort = () => {
          if (!this.cancelled) this.credits.close();
          resolve(SERVER_ABORT);
        };
        if (this.abort.signal.aborted) onAbort();
        else this.abort.signal.addEventListener('abort', onAbort, { once: true });
      });
      connectionId = await s.connections.register(
        { userId: session.token.userId, clientId: request.client_id ?? null, userAgent: session.userAgent, transport: 'websocket', versionId },
        this.abort,
      );
      s.metrics.streamsOpened++;
      const id = connectionId;
      generator = streamSyncLines({
        watcher: s.watcher!,
        rulesFor: s.rulesFor,
        request: request as StreamingSyncRequest,
        userId: session.token.userId,
        claims: session.token.claims,
        tokenExpiresAt: session.token.expiresAt,
        signal: this.abort.signal,
        logger: log,
        keepalives: false,
        maxBuckets: s.config.MAX_BUCKETS_PER_CONNECTION,
        maxParameterResults: s.config.MAX_PARAMETER_RESULTS_PER_CONNECTION,
        onProgress: (p) => {
          s.metrics.opsSent += p.ops - ops;
          ops = p.ops;
          s.connections.update(id, { bucketCount: p.buckets, opsSent: p.ops, lastCheckpoint: p.checkpoint, bytesSent: bytes });
        },
      });
      disarmExpiry = armTokenExpiry(session.token.expiresAt, () => {
        // The client stopped granting credits past exp: end the stream without one.
        reason = 'token_expired';
        const e = new ServiceError('AUTH_EXPIRED', 'Token has expired; fetch a new one and reconnect.');
        if (this.sink.open) void this.sink.send(encodeError(this.streamId, ErrorCode.APPLICATION_ERROR, serializeServiceError(e))).catch(() => {});
        this.cancel();
      });
      for (;;) {
        // Backpressure: no credit, no pull. The generator stays suspended until REQUEST_N.
        if (!(await this.credits.take())) break;
        // Raced with the abort: a step blocked in storage must not hold an aborted stream open,
        // and what it yields after the abort is not sent.
        const next = await Promise.race([generator.next(), serverAbort]);
        if (next === SERVER_ABORT || this.cancelled || !this.sink.open || this.abort.signal.aborted) break;
        if (next.done) {
          reason = next.value;
          ended = true;
          await this.end();
          break;
        }
        const payload = encodeLine(next.value, 'bson', true);
        bytes += payload.length;
        lines++;
        s.metrics.bytesSent += payload.length;
        this.payloads++;
        await this.sink.send(encodePayload(this.streamId, { data: payload }));
      }
      if (this.cancelled && reason !== 'token_expired') reason = 'client_closed';
      else if (this.abort.signal.aborted && !ended && reason !== 'token_expired') {
        reason = s.shuttingDown ? 'draining' : 'disconnected';
        if (this.sink.open) await this.end();
      }
    } catch (e) {
      const err = toServiceError(e);
      reason = err.code;
      if (err.status >= 500) log.error({ err: e, code: err.code }, 'sync stream failed');
      // Rejected before it started (bad request, limits): like HTTP 4xx, not worth a warning.
      else if (!connectionId) log.debug({ code: err.code }, err.message);
      else log.warn({ code: err.code }, err.message);
      if (!this.cancelled && this.sink.open) {
        await this.sink.send(encodeError(this.streamId, ErrorCode.APPLICATION_ERROR, serializeServiceError(err))).catch(() => {});
      }
    } finally {
      disarmExpiry();
      this.abort.abort();
      this.credits.close();
      await generator?.return('closed').catch(() => {});
      if (connectionId) {
        s.metrics.streamsClosed++;
        await s.connections.unregister(connectionId);
        log.info({ durationMs: Date.now() - started, lines, ops, bytes, reason, transport: 'websocket' }, 'sync stream closed');
      }
    }
  }

  /**
   * Sends the terminal frame. Aborted by the server but not draining (an admin disconnect): ERROR
   * SYNC_STREAM_ENDED. Otherwise COMPLETE once it has sent a line; before that an ERROR the client
   * retries on (SYNC_DRAINING while draining), since an SDK waits for its first payload forever.
   */
  private async end(): Promise<void> {
    const disconnected = this.abort.signal.aborted && !this.s.shuttingDown;
    if (this.payloads > 0 && !disconnected) return this.sink.send(encodeComplete(this.streamId));
    const e = this.s.shuttingDown
      ? new ServiceError('DRAINING', `This process is draining before it exits; retry in ${DRAIN_RETRY_AFTER_SECONDS} s (another process will serve you).`)
      : disconnected
        ? new ServiceError('STREAM_ENDED', 'The server ended this sync stream (disconnected by an operator); reconnect.')
        : new ServiceError('STREAM_ENDED', 'The sync stream was ended before its first line; reconnect.');
    return this.sink.send(encodeError(this.streamId, ErrorCode.APPLICATION_ERROR, serializeServiceError(e)));
  }

  /** Same admission rules as HTTP; returns the serving sync-rules version. */
  private async checkAdmission(): Promise<number> {
    const { s } = this;
    if (!s.watcher) throw new ServiceError('NOT_FOUND', 'This process runs only the replicator (SYNC_RUNNER=replicator); connect to an API process.');
    if (s.shuttingDown) throw new ServiceError('DRAINING', `This process is draining before it exits; retry in ${DRAIN_RETRY_AFTER_SECONDS} s (another process will serve you).`);
    if (s.connections.size >= s.config.MAX_CONCURRENT_STREAMS) {
      throw new ServiceError('TOO_MANY_STREAMS', `This process already serves ${s.config.MAX_CONCURRENT_STREAMS} streams (MAX_CONCURRENT_STREAMS); retry later.`);
    }
    const serving = s.watcher.current() ?? (await s.watcher.waitForCheckpoint(5_000, this.abort.signal));
    if (!serving) throw new ServiceError('NO_SYNC_RULES', 'No sync rules are active yet: deploy sync rules, or wait until the first version finishes its snapshot.');
    return serving.version.id;
  }
}
