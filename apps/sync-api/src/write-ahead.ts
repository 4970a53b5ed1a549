/**
 * How far an HTTP sync stream may produce ahead of its client. A client that stores a batch of
 * lines in one synchronous SQLite transaction (the Node client with better-sqlite3) reads nothing
 * meanwhile; if the server stopped at the first full socket buffer, its storage reads and encoding
 * would only run while the client reads, and one download would cost client + server time
 * instead of the larger of the two. Each stream may therefore hold up to `perStream` bytes in its
 * response buffer before it waits for the socket to drain — within a process-wide `total`, so many
 * clients that stop reading cannot grow memory beyond it (a stream over the budget waits for drain
 * as if there were no write-ahead). Pure bookkeeping: the route reports each stream's buffered
 * bytes (`writableLength`) after every write.
 */
export class WriteAheadBudget {
  private used = 0;

  constructor(
    readonly perStream: number,
    readonly total: number,
  ) {}

  /** Bytes held ahead by all streams together (for metrics and tests). */
  get inUse(): number {
    return this.used;
  }

  /** One stream's share; `release()` whenever its response drained or closed. */
  stream(): WriteAheadShare {
    let held = 0;
    const set = (bytes: number): void => {
      this.used += bytes - held;
      held = bytes;
    };
    return {
      mayContinue: (buffered: number): boolean => {
        if (buffered > held && (buffered > this.perStream || this.used + (buffered - held) > this.total)) return false;
        set(buffered);
        return true;
      },
      release: () => set(0),
    };
  }
}

export interface WriteAheadShare {
  /**
   * After each write: whether the stream may go on producing with `buffered` bytes waiting in its
   * response (0 when the write did not report a full buffer). False: wait for drain, then `release()`.
   */
  mayContinue(buffered: number): boolean;
  /** Its response holds nothing ahead any more (drained, or closed). */
  release(): void;
}
