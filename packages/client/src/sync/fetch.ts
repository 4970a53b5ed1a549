/**
 * The HTTP seam: the SDK only ever calls a `FetchLike`, so tests inject a fake and apps compose
 * decorators (`fetch → fetch`) for headers, proxies or instrumentation.
 *
 * @example
 * const fetch = composeFetch(globalThis.fetch, withHeaders({ 'x-app': 'todo' }));
 * await db.connect(connector, { fetch });
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;
export type FetchDecorator = (next: FetchLike) => FetchLike;

export function composeFetch(base: FetchLike, ...decorators: FetchDecorator[]): FetchLike {
  return decorators.reduceRight<FetchLike>((next, decorate) => decorate(next), base);
}

/** Adds headers to every request (request headers win over these). */
export function withHeaders(headers: Record<string, string>): FetchDecorator {
  return (next) => (url, init) => {
    const merged = new Headers(headers);
    new Headers(init.headers).forEach((value, key) => merged.set(key, value));
    return next(url, { ...init, headers: merged });
  };
}

/** Calls `observe` after every response (e.g. metrics); never changes the response. */
export function withObserver(observe: (url: string, status: number, ms: number) => void): FetchDecorator {
  return (next) => async (url, init) => {
    const started = Date.now();
    const response = await next(url, init);
    observe(url, response.status, Date.now() - started);
    return response;
  };
}

export function defaultFetch(): FetchLike {
  return (url, init) => globalThis.fetch(url, init);
}
