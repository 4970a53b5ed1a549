/**
 * Server-side HTTP calls to the sync API: bounded by a timeout, never cached, and carrying the admin
 * token only when the caller asks for it.
 */
import { serverEnv, syncApiUrl } from '../env.ts';

export const SYNC_API_TIMEOUT_MS = 3_000;

export interface SyncApiFetchOptions {
  readonly method?: string;
  readonly headers?: HeadersInit;
  readonly body?: BodyInit | null;
  /** Adds `Authorization: Bearer <ADMIN_TOKEN>` (server-side only). */
  readonly withAdminToken?: boolean;
  /** Uses this bearer token instead of the configured one (login verification). */
  readonly bearer?: string;
  /** Aborts when no response headers arrived in time (0: no timeout). Default SYNC_API_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Fetches `path` (starting with `/`) from the sync API. Rejects on network errors and timeouts. */
export async function syncApiFetch(path: string, opts: SyncApiFetchOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  const bearer = opts.bearer ?? (opts.withAdminToken ? serverEnv().ADMIN_TOKEN : undefined);
  if (bearer !== undefined) headers.set('authorization', `Bearer ${bearer}`);

  const timeoutMs = opts.timeoutMs ?? SYNC_API_TIMEOUT_MS;
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) forwardAbort();
  else opts.signal?.addEventListener('abort', forwardAbort, { once: true });
  const timer =
    timeoutMs > 0
      ? setTimeout(
          () => controller.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError')),
          timeoutMs,
        )
      : undefined;
  const init: RequestInit & { duplex?: 'half' } = {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body ?? null,
    cache: 'no-store',
    redirect: 'manual',
    signal: controller.signal,
  };
  // Node's fetch requires `duplex` when streaming a request body.
  if (opts.body instanceof ReadableStream) init.duplex = 'half';
  try {
    return await fetch(`${syncApiUrl()}${path}`, init);
  } finally {
    // The timeout covers connecting and the response headers; the body streams for as long as needed.
    clearTimeout(timer);
  }
}

/** A short, secret-free description of why a request to the sync API failed. */
export function describeFetchError(e: unknown): string {
  if (e instanceof DOMException && e.name === 'TimeoutError') return e.message;
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && 'code' in cause && typeof cause.code === 'string') return cause.code;
    return e.message;
  }
  return 'unknown error';
}
