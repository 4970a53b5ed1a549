/**
 * Read-ahead for a sync stream: a pump pulls items from `source` into a queue while the consumer
 * is busy (storing a batch of lines), up to `limit` (by `sizeOf`) queued. Without it the client
 * stops reading the socket during every batch's transaction, the server's writes block on a full
 * socket, and download time becomes client CPU + server CPU instead of the larger of the two.
 *
 * Items and the source's error (if any) come out in order; the error is thrown only after every
 * item read before it. Ending the consumer early (break, throw) stops the pump; it returns the
 * source once its pending read settles (the caller aborts the stream to make that prompt).
 */
export async function* readAhead<T>(source: AsyncIterable<T>, sizeOf: (item: T) => number, limit: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  let queued = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  /** Wakes the consumer (an item, the end or an error arrived). */
  let wakeConsumer: (() => void) | undefined;
  /** Wakes the pump (the consumer took items, or stopped). */
  let wakePump: (() => void) | undefined;

  const pump = async (): Promise<void> => {
    try {
      while (!stopped) {
        if (queued >= limit) {
          await new Promise<void>((resolve) => (wakePump = resolve));
          continue;
        }
        const next = await iterator.next();
        if (next.done) break;
        queue.push(next.value);
        queued += sizeOf(next.value);
        wakeConsumer?.();
      }
    } catch (e) {
      failure = { error: e };
    } finally {
      ended = true;
      wakeConsumer?.();
      if (stopped) await Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  };
  void pump();

  try {
    for (;;) {
      if (queue.length > 0) {
        const item = queue.shift() as T;
        queued -= sizeOf(item);
        wakePump?.();
        wakePump = undefined;
        yield item;
        continue;
      }
      if (ended) {
        if (failure) throw failure.error;
        return;
      }
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
      wakeConsumer = undefined;
    }
  } finally {
    // Not awaited: the pump may be waiting on a read only the stream's abort ends.
    stopped = true;
    wakePump?.();
  }
}
