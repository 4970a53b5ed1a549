/**
 * Coalesces work items into few statements: items added in the same turn of the event loop, or
 * while a statement runs, go together into the next one (at most `maxItems` each). A connection
 * storm or a drain then costs a handful of round trips and pool connections instead of one each.
 */
interface Pending<T> {
  item: T;
  resolve(): void;
  reject(e: unknown): void;
}

export class StatementBatcher<T> {
  private pending: Pending<T>[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  /** `run` executes one statement for a batch; its rejection rejects every item of that batch. */
  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
  ) {}

  /** Queues one item; settles when the statement that carries it has finished. */
  add(item: T): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.pending.push({ item, resolve, reject }));
    this.schedule();
    return done;
  }

  /** Resolves once nothing is queued or running (items added meanwhile are waited for too). */
  idle(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxItems);
        try {
          await this.run(batch.map((p) => p.item));
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
