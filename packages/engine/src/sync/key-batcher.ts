/**
 * Coalesces keyed reads of many connections into one storage query per group (e.g. per version and
 * checkpoint): requests made during one event-loop turn are collected and loaded together on the
 * next `setImmediate`. The query therefore always starts after every request in its batch was
 * made, so a batched read is never older than an unbatched one would have been.
 */
export class KeyBatcher<G, V> {
  private readonly pending = new Map<string, { group: G; waiters: Map<string, Array<Request<V>>> }>();
  private scheduled = false;
  /** Storage queries issued (for tests and metrics). */
  queries = 0;

  constructor(
    private readonly run: (group: G, keys: string[]) => Promise<Map<string, V>>,
    private readonly maxKeysPerQuery = 5_000,
  ) {}

  /** Loads `keys` of `group` (identified by `groupKey`); keys missing from the result map to undefined. */
  load(groupKey: string, group: G, keys: Iterable<string>): Promise<Map<string, V | undefined>> {
    let batch = this.pending.get(groupKey);
    if (!batch) {
      batch = { group, waiters: new Map() };
      this.pending.set(groupKey, batch);
    }
    return new Promise((resolve, reject) => {
      const request: Request<V> = { out: new Map(), remaining: 0, resolve, reject, failed: false };
      for (const key of keys) {
        if (request.out.has(key)) continue;
        request.out.set(key, undefined);
        request.remaining++;
        const list = batch.waiters.get(key);
        if (list) list.push(request);
        else batch.waiters.set(key, [request]);
      }
      if (request.remaining === 0) {
        resolve(request.out);
        return;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending.values()];
    this.pending.clear();
    for (const { group, waiters } of batches) {
      const keys = [...waiters.keys()];
      for (let i = 0; i < keys.length; i += this.maxKeysPerQuery) {
        const slice = keys.slice(i, i + this.maxKeysPerQuery);
        this.queries++;
        this.run(group, slice).then(
          (result) => {
            for (const k of slice) {
              const v = result.get(k);
              for (const r of waiters.get(k)!) {
                if (r.failed) continue;
                r.out.set(k, v);
                if (--r.remaining === 0) r.resolve(r.out);
              }
            }
          },
          (e: unknown) => {
            for (const k of slice) {
              for (const r of waiters.get(k)!) {
                if (r.failed) continue;
                r.failed = true;
                r.reject(e);
              }
            }
          },
        );
      }
    }
  }
}

interface Request<V> {
  out: Map<string, V | undefined>;
  remaining: number;
  failed: boolean;
  resolve(out: Map<string, V | undefined>): void;
  reject(e: unknown): void;
}
