/**
 * The Node entry's HTTP client: a `FetchLike` over `node:http`/`node:https` for the sync stream
 * and write checkpoints, used when the app passes no `fetch` of its own (a custom `fetch` in
 * `connect()` options always wins).
 *
 * Why not the global `fetch` (undici): for a large download its gzip path could re-copy the
 * socket backlog on every parser resume (quadratic, 55 % of client CPU in a profiled 1M-row run;
 * BENCHMARKS.md, issue 14), and its web-stream layers cost CPU per chunk. Here the socket's
 * chunks go straight into one `ReadableStream` (paused while the reader is behind), and gzip, when
 * used, is one `zlib` stream in between.
 *
 * Encoding: on loopback (`localhost`, `127.0.0.0/8`, `::1`) it asks for `identity` — compressing
 * and inflating cost CPU on both ends of one machine and save nothing; elsewhere `gzip`. A request
 * that sets `accept-encoding` itself keeps it. Redirects are followed (at most 20) like `fetch`,
 * dropping the `authorization` header when the origin changes. Bodies that are neither text nor
 * bytes, and URLs that are not http(s), go to the global `fetch`.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FetchLike } from '../../sync/fetch.ts';

const MAX_REDIRECTS = 20;
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** Whether `hostname` (as `URL.hostname` gives it) is this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface NodeFetchOptions {
  /** Used for what this client does not handle (other schemes, stream/form bodies). Default: the global `fetch`. */
  fallback?: FetchLike;
}

/** A `FetchLike` over `node:http`; see the file comment. */
export function nodeFetch(options: NodeFetchOptions = {}): FetchLike {
  const fallback = options.fallback ?? ((url, init) => globalThis.fetch(url, init));
  return async (url, init) => {
    const body = requestBody(init.body);
    const target = new URL(url);
    if (body === 'unsupported' || (target.protocol !== 'http:' && target.protocol !== 'https:')) return fallback(url, init);
    return send(target, (init.method ?? 'GET').toUpperCase(), new Headers(init.headers), body, init.signal ?? undefined, 0);
  };
}

function requestBody(body: RequestInit['body']): Buffer | undefined | 'unsupported' {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return 'unsupported';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

async function send(url: URL, method: string, headers: Headers, body: Buffer | undefined, signal: AbortSignal | undefined, redirects: number): Promise<Response> {
  if (signal?.aborted) throw abortReason(signal);
  const outgoing: Record<string, string> = {};
  headers.forEach((value, key) => {
    outgoing[key] = value;
  });
  outgoing['accept-encoding'] ??= isLoopbackHost(url.hostname) ? 'identity' : 'gzip';
  if (body !== undefined) outgoing['content-length'] = String(body.length);

  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers: outgoing });
    const onAbort = (): void => {
      req.destroy();
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('response', (res) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new TypeError(`fetch failed: ${e.message}`, { cause: e }));
    });
    req.end(body);
  });

  const status = response.statusCode ?? 0;
  const location = response.headers.location;
  if (location !== undefined && [301, 302, 303, 307, 308].includes(status)) {
    response.resume();
    if (redirects >= MAX_REDIRECTS) throw new TypeError(`fetch failed: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    // As fetch does: 303 turns into GET (HEAD stays), 301/302 turn a POST into GET; 307/308 keep all.
    const keepsBody = !((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST'));
    const nextHeaders = new Headers(headers);
    if (next.origin !== url.origin) nextHeaders.delete('authorization');
    if (!keepsBody) {
      nextHeaders.delete('content-type');
      nextHeaders.delete('content-length');
    }
    return send(next, keepsBody ? method : 'GET', nextHeaders, keepsBody ? body : undefined, signal, redirects + 1);
  }

  const responseHeaders = new Headers();
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) responseHeaders.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    response.resume();
    return new Response(null, { status, statusText: response.statusMessage ?? '', headers: responseHeaders });
  }
  const decoded = decode(response);
  if (decoded !== response) {
    // The body is no longer in the encoding the length and encoding headers describe.
    responseHeaders.delete('content-encoding');
    responseHeaders.delete('content-length');
  }
  return new Response(webStream(decoded, response, signal), { status, statusText: response.statusMessage ?? '', headers: responseHeaders });
}

/** The response body stream, inflated when the server compressed it. */
function decode(response: IncomingMessage): Readable {
  const encoding = (response.headers['content-encoding'] ?? '').trim().toLowerCase();
  const inflate = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  if (!inflate) return response;
  return pipeline(response, inflate, () => undefined);
}

/**
 * A byte `ReadableStream` fed by `source`: the source is paused whenever the stream's queue is
 * full and resumed when the reader pulls, so an app that reads slowly does not buffer the whole
 * download. A connection that closes before the body's end errors the stream.
 */
function webStream(source: Readable, response: IncomingMessage, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  let settled = false;
  let onAbort: (() => void) | undefined;
  const finish = (): void => {
    settled = true;
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (e: unknown): void => {
        if (settled) return;
        finish();
        controller.error(e);
        response.destroy();
        source.destroy();
      };
      onAbort = () => fail(abortReason(signal!));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      source.on('data', (chunk: Buffer) => {
        if (settled) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      source.once('end', () => {
        if (settled) return;
        finish();
        controller.close();
      });
      source.once('error', (e) => fail(new TypeError(`terminated: ${e.message}`, { cause: e })));
      // 'aborted' is not always followed by 'error' (Node 20): a body cut short must not look complete.
      response.once('close', () => {
        if (!response.complete) fail(new TypeError('terminated: the connection closed before the response body ended'));
      });
    },
    pull() {
      source.resume();
    },
    cancel() {
      finish();
      response.destroy();
      source.destroy();
    },
  });
}
