/**
 * REQUEST_N flow control for one RSocket stream: the client grants credits, each PAYLOAD spends
 * one, and the sender waits while none are left. This is the transport's only backpressure, so the
 * sync generator is not pulled again until a credit is available.
 */
import { MAX_REQUEST_N } from './rsocket-frames.ts';

export class RequestCredits {
  private available: number;
  private waiter: { resolve: (ok: boolean) => void } | null = null;
  private closed = false;

  constructor(initial: number) {
    this.available = Math.max(0, Math.min(initial, MAX_REQUEST_N));
  }

  get count(): number {
    return this.available;
  }

  /** Adds credits from a REQUEST_N frame (saturating at 2^31−1, as RSocket treats that as unbounded). */
  grant(n: number): void {
    if (n <= 0 || this.closed) return;
    this.available = Math.min(MAX_REQUEST_N, this.available + n);
    this.wake(true);
  }

  /** Resolves true when a credit was taken, false when the stream closed while waiting. */
  async take(): Promise<boolean> {
    while (!this.closed) {
      if (this.available > 0) {
        // MAX_REQUEST_N means "unbounded" in RSocket: it is never counted down.
        if (this.available < MAX_REQUEST_N) this.available--;
        return true;
      }
      if (!(await new Promise<boolean>((resolve) => (this.waiter = { resolve })))) return false;
    }
    return false;
  }

  /** Releases a waiting `take()` with false; later calls return false at once. */
  close(): void {
    this.closed = true;
    this.wake(false);
  }

  private wake(ok: boolean): void {
    const w = this.waiter;
    this.waiter = null;
    w?.resolve(ok);
  }
}
