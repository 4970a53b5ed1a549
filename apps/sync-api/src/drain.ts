/**
 * Graceful drain of an API process (SIGTERM/SIGINT): readiness turns 503 (`draining`), new sync
 * streams are refused with 503 SYNC_DRAINING + Retry-After (a WebSocket REQUEST_STREAM gets an
 * RSocket ERROR with that code), and every open stream is ended cleanly — HTTP: the chunked body
 * ends after a whole line; WebSocket: COMPLETE — so clients reconnect (to another process) and
 * resume from their bucket positions. Streams that have not finished within the timeout (a client
 * that stopped reading) are left for the caller to cut.
 */
import type { Logger } from 'pino';
import type { Services } from './services.ts';

export interface DrainResult {
  /** Streams open when the drain started. */
  streams: number;
  /** Streams still open at the timeout (the caller cuts them). */
  remaining: number;
  durationMs: number;
  timedOut: boolean;
}

const POLL_MS = 10;

export async function drainStreams(
  s: Pick<Services, 'connections'> & { shuttingDown: boolean },
  timeoutMs: number,
  logger: Logger,
  /** Closes idle keep-alive connections (the listener itself stays open for probes and 503s). */
  closeIdleConnections: () => void = () => {},
): Promise<DrainResult> {
  const started = Date.now();
  s.shuttingDown = true;
  // A pooled idle connection would carry a client's reconnect (even a WebSocket upgrade) back here.
  closeIdleConnections();
  const streams = s.connections.abortAll();
  logger.info({ streams, timeoutMs }, 'drain started: readiness 503, new streams refused, open streams ending');
  const deadline = started + timeoutMs;
  while (s.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  const remaining = s.connections.size;
  const result = { streams, remaining, durationMs: Date.now() - started, timedOut: remaining > 0 };
  logger.info({ ...result, ended: streams - remaining }, remaining > 0 ? `drain timed out: cutting ${remaining} streams` : 'drain finished: all streams ended');
  return result;
}
