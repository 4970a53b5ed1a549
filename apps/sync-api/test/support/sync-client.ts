/** Minimal protocol reader for tests: opens /sync/stream and yields parsed NDJSON lines. */
import type { SyncLine } from '@syncline/protocol';

export interface OpenStream extends AsyncDisposable {
  /** Next line, or null when the stream ended. Throws on timeout. */
  next(timeoutMs?: number): Promise<SyncLine | null>;
  /** Reads lines until `predicate` matches; returns every line read including the match. */
  until(predicate: (line: SyncLine) => boolean, timeoutMs?: number): Promise<SyncLine[]>;
  status: number;
  /** Response body bytes read so far. */
  readonly bytesRead: number;
  close(): void;
}

export async function openSyncStream(url: string, token: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<OpenStream> {
  const abort = new AbortController();
  const res = await fetch(`${url}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ raw_data: true, ...body }),
    signal: abort.signal,
  });
  if (!res.ok || !res.body) {
    const text = await res.text();
    throw Object.assign(new Error(`sync stream failed: ${res.status} ${text}`), { status: res.status, body: text });
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: SyncLine[] = [];
  let ended = false;
  let bytesRead = 0;
  const fill = async () => {
    while (queue.length === 0 && !ended) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      bytesRead += value.byteLength;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) queue.push(JSON.parse(line) as SyncLine);
      }
    }
  };
  const next = async (timeoutMs = 15_000): Promise<SyncLine | null> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no sync line within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([fill(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return queue.shift() ?? null;
  };
  return {
    status: res.status,
    get bytesRead() {
      return bytesRead;
    },
    next,
    async until(predicate, timeoutMs = 15_000) {
      const out: SyncLine[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = await next(Math.max(1, deadline - Date.now()));
        if (line === null) throw new Error(`stream ended before the expected line; got ${JSON.stringify(out).slice(0, 2000)}`);
        out.push(line);
        if (predicate(line)) return out;
      }
    },
    close: () => abort.abort(),
    async [Symbol.asyncDispose]() {
      abort.abort();
      await reader.cancel().catch(() => {});
    },
  };
}

export const isComplete = (l: SyncLine) => 'checkpoint_complete' in l;
