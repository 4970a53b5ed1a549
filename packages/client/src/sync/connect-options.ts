/**
 * What the app passes to `connect()`: the backend connector and options.
 *
 * @example
 * await db.connect({
 *   fetchCredentials: async () => ({ endpoint: 'http://localhost:8080', token: await getJwt() }),
 *   uploadData: async (db) => {
 *     const tx = await db.getNextCrudTransaction();
 *     if (!tx) return;
 *     await myApi.apply(tx.crud.map((e) => e.toJSON()));
 *     await tx.complete();
 *   },
 * });
 */
import type { SynclineDatabase } from '../db/syncline-database.ts';
import type { BackoffOptions } from './backoff.ts';
import type { FetchLike } from './fetch.ts';
import type { SyncTransport } from './sync-line-stream.ts';
import type { WebSocketConstructor } from './websocket-stream.ts';

export interface SynclineCredentials {
  /** Base URL of the sync service, e.g. `https://sync.example.com` (no trailing `/`). */
  endpoint: string;
  /** The user's JWT. */
  token: string;
  /** When the token expires; credentials are refetched 30 s before. */
  expiresAt?: Date;
}

export interface BackendConnector {
  /** Always fetch fresh credentials; return null when signed out; throw on transient errors. */
  fetchCredentials(): Promise<SynclineCredentials | null>;
  /**
   * Send queued writes to your backend and `complete()` them. Throw to retry later (with
   * backoff); complete rejected writes too, or the queue stays blocked.
   */
  uploadData(db: SynclineDatabase): Promise<void>;
  /** Optional hook: cached credentials were invalidated (e.g. a 401). */
  invalidateCredentials?(): void;
}

export interface ConnectOptions {
  /** Client parameters for the sync rules (`request.parameters()`). */
  params?: Record<string, unknown>;
  /** Sync `auto_subscribe` streams (and legacy bucket definitions) without explicit subscriptions (default true). */
  includeDefaultStreams?: boolean;
  /** String metadata logged by the service. */
  appMetadata?: Record<string, string>;
  /** Reconnect backoff (default 1 s doubling to 30 s, 50 % jitter). */
  retry?: Partial<BackoffOptions>;
  /** Upload retry backoff (default: same as `retry`). */
  uploadRetry?: Partial<BackoffOptions>;
  /** Minimum time between two upload rounds (default 1000 ms; 0 in tests). */
  crudUploadThrottleMs?: number;
  /** The HTTP implementation (default: global fetch). Compose decorators with `composeFetch`. */
  fetch?: FetchLike;
  /** Sent as `x-user-agent`. */
  userAgent?: string;
  /**
   * How lines are downloaded (default `http`): `http` = `POST /sync/stream` with NDJSON;
   * `websocket` = RSocket over WebSocket with BSON lines and REQUEST_N flow control (a slow
   * apply pauses the server). When the WebSocket cannot be opened the attempt falls back to HTTP
   * (status `transport: 'http'`, `transportFallback` says why) and the next reconnect tries the
   * WebSocket again.
   */
  transport?: SyncTransport;
  /** WebSocket constructor for `transport: 'websocket'` (default `globalThis.WebSocket`; on Node 20 pass `ws`'s). */
  webSocket?: WebSocketConstructor;
  /** WebSocket transport: sync lines requested ahead, and the bound on lines held unapplied (default 32, minimum 16). */
  flowControlWindow?: number;
}
