/**
 * Watched queries: run once, then again (trailing-throttled) whenever a table the query reads
 * changes. Two shapes: a callback handler, and an async iterator built on it that only keeps the
 * newest unread result (a slow consumer never sees stale intermediate results pile up).
 */
import type { TableChanges } from './table-changes.ts';

export interface WatchOptions<T> {
  /** Tables to watch instead of the ones resolved from the query plan. */
  tables?: readonly string[];
  /** Minimum delay between re-runs after a change (default 30 ms). */
  throttleMs?: number;
  signal?: AbortSignal;
  /** Return true when two results are equal; equal results are not emitted again. */
  comparator?: (previous: T[], next: T[]) => boolean;
}

export interface WatchHandler<T> {
  onResult(rows: T[]): void;
  onError?(error: unknown): void;
}

export interface WatchSource<T> {
  resolveTables(): Promise<readonly string[]>;
  run(): Promise<T[]>;
  changes: TableChanges;
}

/** Starts watching; returns a function that stops it. */
export function startWatch<T>(source: WatchSource<T>, handler: WatchHandler<T>, options: WatchOptions<T> = {}): () => void {
  const throttleMs = options.throttleMs ?? 30;
  let stopped = false;
  let running = false;
  let dirty = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let previous: T[] | undefined;
  let unsubscribe: (() => void) | undefined;

  const stop = (): void => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    unsubscribe?.();
    options.signal?.removeEventListener('abort', stop);
  };

  const fail = (e: unknown): void => {
    if (!stopped) handler.onError?.(e);
  };

  const runOnce = async (): Promise<void> => {
    if (stopped) return;
    running = true;
    dirty = false;
    try {
      const rows = await source.run();
      if (stopped) return;
      if (previous === undefined || !options.comparator?.(previous, rows)) {
        previous = rows;
        handler.onResult(rows);
      }
    } catch (e) {
      fail(e);
    } finally {
      running = false;
      if (dirty) schedule();
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    dirty = true;
    if (running || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void runOnce();
    }, throttleMs);
  };

  if (options.signal?.aborted) {
    stopped = true;
    return stop;
  }
  options.signal?.addEventListener('abort', stop);

  void (async () => {
    try {
      const tables = new Set(options.tables ?? (await source.resolveTables()));
      if (stopped) return;
      unsubscribe = source.changes.subscribe((changed) => {
        for (const t of changed) {
          if (tables.has(t)) return schedule();
        }
      });
      await runOnce();
    } catch (e) {
      fail(e);
    }
  })();
  return stop;
}

/** The async-iterator form of {@link startWatch}. Ends when `signal` aborts or the loop breaks. */
export function watchIterable<T>(source: WatchSource<T>, options: WatchOptions<T> = {}): AsyncIterable<T[]> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T[]> {
      let latest: { rows: T[] } | undefined;
      let error: { e: unknown } | undefined;
      let done = false;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        wake?.();
        wake = undefined;
      };
      const stop = startWatch(
        source,
        {
          onResult: (rows) => {
            latest = { rows };
            notify();
          },
          onError: (e) => {
            error = { e };
            notify();
          },
        },
        options,
      );
      const onAbort = (): void => {
        done = true;
        notify();
      };
      options.signal?.addEventListener('abort', onAbort);
      const finish = (): IteratorReturnResult<undefined> => {
        done = true;
        stop();
        options.signal?.removeEventListener('abort', onAbort);
        return { done: true, value: undefined };
      };
      return {
        async next(): Promise<IteratorResult<T[]>> {
          for (;;) {
            if (done || options.signal?.aborted) return finish();
            if (error) {
              const e = error.e;
              finish();
              throw e;
            }
            if (latest) {
              const { rows } = latest;
              latest = undefined;
              return { done: false, value: rows };
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<T[]>> {
          return finish();
        },
      };
    },
  };
}
