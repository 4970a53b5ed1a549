/**
 * Stable error codes of the Syncline service. Every error a client or operator can see carries one
 * of these codes, an HTTP status and a message that says what to do. `details` are for logs only
 * and never sent to clients.
 *
 * `psync` is the closest PowerSync service code, sent next to ours in RSocket ERROR frames: the
 * official SDKs fetch new credentials after an error whose message contains `PSYNC_S21…` (auth) or
 * no `PSYNC_` code at all, and keep them after any other `PSYNC_` code. So auth errors map to
 * S2101/S2103/S2106 and nothing else does (a drain or an admin disconnect must not send every
 * client to the app's token endpoint).
 */
export const ERROR_CODES = {
  /** Authorization header missing or not `Token <jwt>` / `Bearer <jwt>`. Send a valid header. */
  AUTH_MISSING: { code: 'SYNC_AUTH_MISSING', status: 401, psync: 'PSYNC_S2106' },
  /** JWT could not be verified (signature, kid, alg, audience, expiry…). The message says which check failed. */
  AUTH_INVALID: { code: 'SYNC_AUTH_INVALID', status: 401, psync: 'PSYNC_S2101' },
  /**
   * The token's `kid` names no configured key, or it has no `kid` and no key without a kid is
   * configured (also: an RS/ES/EdDSA token while no JWKS_URI is set). Sign with a configured key and
   * put its kid (JWT_SECRET_KID, JWT_SECRETS_PREVIOUS, or the JWK's kid) in the token header.
   */
  AUTH_UNKNOWN_KEY: { code: 'SYNC_AUTH_UNKNOWN_KEY', status: 401, psync: 'PSYNC_S2101' },
  /**
   * The token's `alg` is not the one algorithm of the key it names (HS secrets are HS256 only; a JWK
   * with `alg` accepts only that, one without accepts its key type's default: RS256, ES256/384/512 by
   * curve, EdDSA), or `none`. Sign with the key's algorithm.
   */
  AUTH_ALG_NOT_ALLOWED: { code: 'SYNC_AUTH_ALG_NOT_ALLOWED', status: 401, psync: 'PSYNC_S2101' },
  /**
   * The token's `iat` is more than the 60 s clock skew in the future (it would stretch the lifetime
   * cap). Fix the issuer's clock, or issue tokens with `iat` = now.
   */
  AUTH_ISSUED_IN_FUTURE: { code: 'SYNC_AUTH_ISSUED_IN_FUTURE', status: 401, psync: 'PSYNC_S2101' },
  /** JWT expired. Fetch a new token. */
  AUTH_EXPIRED: { code: 'SYNC_AUTH_EXPIRED', status: 401, psync: 'PSYNC_S2103' },
  /** Admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`. */
  ADMIN_AUTH: { code: 'SYNC_ADMIN_AUTH', status: 401, psync: 'PSYNC_S2106' },
  /** No sync rules are active yet (none deployed, or the first version is still snapshotting). Retry later. */
  NO_SYNC_RULES: { code: 'SYNC_NO_ACTIVE_RULES', status: 503, psync: 'PSYNC_S2302' },
  /** The user's rules produce more buckets than `max_buckets_per_connection` (MAX_BUCKETS_PER_CONNECTION). */
  TOO_MANY_BUCKETS: { code: 'SYNC_TOO_MANY_BUCKETS', status: 400, psync: 'PSYNC_S2305' },
  /**
   * The user's parameter queries return more rows than MAX_PARAMETER_RESULTS_PER_CONNECTION (default
   * 1,000), so the bucket set is not loaded. Narrow the parameter queries (or the data behind them),
   * or raise the limit.
   */
  TOO_MANY_PARAMETER_RESULTS: { code: 'SYNC_TOO_MANY_PARAMETER_RESULTS', status: 400, psync: 'PSYNC_S2305' },
  /**
   * This user asked for write checkpoints (`/write-checkpoint2.json`, `/sync/checkpoint-request`)
   * faster than WRITE_CHECKPOINTS_PER_MINUTE allows. Wait `Retry-After` seconds; clients normally
   * need one per upload batch.
   */
  RATE_LIMITED: { code: 'SYNC_RATE_LIMITED', status: 429, psync: 'PSYNC_S2304' },
  /**
   * A WebSocket connection opened more concurrent REQUEST_STREAMs than MAX_STREAMS_PER_WEBSOCKET.
   * SDKs use one stream per connection: cancel the old stream first, or open another connection.
   */
  TOO_MANY_SOCKET_STREAMS: { code: 'SYNC_TOO_MANY_SOCKET_STREAMS', status: 429, psync: 'PSYNC_S2304' },
  /** The process already serves MAX_CONCURRENT_STREAMS streams. Retry with backoff or add API processes. */
  TOO_MANY_STREAMS: { code: 'SYNC_TOO_MANY_STREAMS', status: 429, psync: 'PSYNC_S2304' },
  /** Request body is not valid; the message names the field. */
  BAD_REQUEST: { code: 'SYNC_BAD_REQUEST', status: 400, psync: 'PSYNC_S2001' },
  /** Request body larger than the configured limit. */
  BODY_TOO_LARGE: { code: 'SYNC_BODY_TOO_LARGE', status: 413, psync: 'PSYNC_S2001' },
  /** Sync rules failed validation; the details list every problem with its position. */
  SYNC_RULES_INVALID: { code: 'SYNC_RULES_INVALID', status: 422, psync: 'PSYNC_R0001' },
  /** The resource does not exist. */
  NOT_FOUND: { code: 'SYNC_NOT_FOUND', status: 404, psync: 'PSYNC_S2001' },
  /** A deploy is already being processed. Wait for it to become active or stop it first. */
  CONFLICT: { code: 'SYNC_CONFLICT', status: 409, psync: 'PSYNC_S2001' },
  /** The server is shutting down. Reconnect to another instance. */
  SHUTTING_DOWN: { code: 'SYNC_SHUTTING_DOWN', status: 503, psync: 'PSYNC_S2003' },
  /**
   * This API process is draining before it exits (SIGTERM): it opens no new sync streams. Retry
   * after the Retry-After delay; a load balancer sends the retry to another process.
   */
  DRAINING: { code: 'SYNC_DRAINING', status: 503, psync: 'PSYNC_S2003' },
  /**
   * A WebSocket sync stream was ended by the server: an admin disconnect (at any point, also while
   * the stream waits for REQUEST_N credits or for its first checkpoint), or another end before its
   * first line. Reconnect. (An RSocket stream ended that early is failed with this instead of
   * COMPLETE: the official SDKs only settle their connect on the first payload or an error.)
   */
  STREAM_ENDED: { code: 'SYNC_STREAM_ENDED', status: 503, psync: 'PSYNC_S2003' },
  /** Dev tokens are only available when DEV_MODE is on. */
  DEV_MODE_OFF: { code: 'SYNC_DEV_MODE_OFF', status: 403, psync: 'PSYNC_S2001' },
  /**
   * A database the service needs (storage or source) cannot be reached or refused the connection
   * right now (network error, restart, connection limit). Retry with backoff; operators: check the
   * database and the service's connection settings.
   */
  DATABASE_UNAVAILABLE: { code: 'SYNC_DATABASE_UNAVAILABLE', status: 503, psync: 'PSYNC_S2003' },
  /** Unexpected failure; details are in the server log under the request id. */
  INTERNAL: { code: 'SYNC_INTERNAL', status: 500, psync: 'PSYNC_S2003' },
} as const;

export type ErrorKind = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorKind]['code'];

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** The closest PowerSync code (see ERROR_CODES). */
  readonly psyncCode: string;
  constructor(
    kind: ErrorKind,
    message: string,
    /** Log-only context; never serialised to clients. */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ServiceError';
    this.code = ERROR_CODES[kind].code;
    this.status = ERROR_CODES[kind].status;
    this.psyncCode = ERROR_CODES[kind].psync;
  }

  /** The JSON error body sent to clients: `{error: {code, status, message}}`. */
  toJSON(): { error: { code: ErrorCode; status: number; message: string } } {
    return { error: { code: this.code, status: this.status, message: this.message } };
  }
}

/** Node socket errors that mean "cannot reach the server right now". */
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a database that is down, restarting, out of connections or refusing this database
 * (class 08 connection exceptions are matched by prefix).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '55000']);
const UNAVAILABLE_MESSAGES = [/^Connection terminated/, /timeout exceeded when trying to connect/, /not currently accepting connections/, /Client has encountered a connection error/];

/**
 * Whether an error means a database could not be reached or dropped the connection (transient,
 * retryable) rather than a bug. Reads only the error's shape (`code`, `message`), no driver import.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const code = (e as { code?: unknown }).code;
  const message = String((e as { message?: unknown }).message ?? '');
  if (typeof code === 'string') {
    if (NETWORK_ERRNOS.has(code) || code.startsWith('08')) return true;
    // 55000 is also "object not in prerequisite state"; only the connection refusal counts.
    if (UNAVAILABLE_SQLSTATES.has(code) && (code !== '55000' || /accepting connections/.test(message))) return true;
  }
  return UNAVAILABLE_MESSAGES.some((re) => re.test(message));
}

/**
 * Normalises any thrown value into a ServiceError: database outages become a retryable
 * DATABASE_UNAVAILABLE (503), anything else unknown becomes INTERNAL.
 */
export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (isDatabaseUnavailable(e)) return new ServiceError('DATABASE_UNAVAILABLE', 'A database this service needs is unreachable right now; retry with backoff.', e);
  return new ServiceError('INTERNAL', 'Internal error; see the server log', e);
}
