/**
 * REQUEST_N flow control on the client side of the WebSocket transport, as pure bookkeeping.
 * The window bounds every line the client holds or has asked for but not yet applied:
 * `outstanding` (granted, not received) + `unapplied` (received, not yet applied) ≤ `window`.
 * Credits are granted back only as lines are applied, so a slow consumer (a slow SQLite apply)
 * stops the server instead of growing memory. Grants are batched (at least a quarter of the
 * window) so a fast consumer sends one REQUEST_N per several lines, not one per line.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';

export class FlowWindow {
  private granted = 0;
  private received = 0;
  private appliedCount = 0;
  /** Highest `unapplied` ever seen (tests and diagnostics). */
  maxUnapplied = 0;

  constructor(readonly window: number) {
    if (!Number.isInteger(window) || window < 1) throw new SynclineError(ClientErrorCodes.INVALID_ARGUMENT, `flow-control window must be a positive integer, got ${window}`);
  }

  /** Credits to send with REQUEST_STREAM. */
  initial(): number {
    this.granted = this.window;
    return this.window;
  }

  get outstanding(): number {
    return this.granted - this.received;
  }

  get unapplied(): number {
    return this.received - this.appliedCount;
  }

  /** One PAYLOAD arrived. A server sending beyond its credits breaks the protocol. */
  onReceived(): void {
    if (this.received >= this.granted) {
      throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, `The sync service sent more lines than requested (${this.granted}); reconnecting.`);
    }
    this.received++;
    if (this.unapplied > this.maxUnapplied) this.maxUnapplied = this.unapplied;
  }

  /** `n` received lines were applied; returns how many credits to grant now (0: none yet). */
  onApplied(n: number): number {
    this.appliedCount = Math.min(this.received, this.appliedCount + n);
    const free = this.window - this.outstanding - this.unapplied;
    const threshold = Math.max(1, Math.floor(this.window / 4));
    // Grant in batches, but never leave the server without credit while the client has room.
    if (free >= threshold || (free > 0 && this.outstanding === 0)) {
      this.granted += free;
      return free;
    }
    return 0;
  }
}
