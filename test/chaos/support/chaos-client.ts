/**
 * A sync client for the chaos suite: speaks the NDJSON protocol of POST /sync/stream, keeps its
 * buckets (rows by `table/id`, running checksum, resume point), validates every bucket checksum
 * at each `checkpoint_complete` (a mismatch is counted and the bucket re-downloaded, as real
 * clients do), and reconnects with its resume points whenever the stream fails or ends.
 */
import { openSyncStream, type OpenStream } from '../../../apps/sync-api/test/support/sync-client.ts';
import type { SyncLine } from '@syncline/protocol';

interface LocalBucket {
  rows: Map<string, string>;
  sum: number;
  after: string;
}

export interface ChaosClientStats {
  connects: number;
  streamErrors: number;
  checksumFailures: number;
  checkpointsCompleted: number;
  /** HTTP statuses ≥ 500 seen when (re)connecting. */
  serverErrors: number;
  /** The first few of those, as `status body`. */
  serverErrorSamples: string[];
  /** The first few checksum failures: when, which bucket, and where the stream stood. */
  checksumFailureSamples: string[];
}

/**
 * One stream connection as the client saw it: where it resumed from and what it downloaded until
 * its first complete checkpoint (the catch-up), so a test can tell a resume from a full re-download.
 */
export interface ConnectionSample {
  /** performance.now() when the stream was opened. */
  openedAt: number;
  /** `after` per bucket sent in the request (buckets the client already had). */
  resumeFrom: Map<string, string>;
  /** Ops and response bytes received before the first checkpoint_complete (null: none yet). */
  catchUpOps: number;
  catchUpBytes: number;
  /** Op id and bucket names of the first complete checkpoint on this connection. */
  firstComplete: { at: number; lastOpId: bigint; buckets: string[] } | null;
  /** How the stream ended: the server ended it cleanly, or it failed (reset, timeout, bad status). */
  end: { at: number; clean: boolean } | null;
}

export class ChaosClient {
  readonly buckets = new Map<string, LocalBucket>();
  readonly stats: ChaosClientStats = { connects: 0, streamErrors: 0, checksumFailures: 0, checkpointsCompleted: 0, serverErrors: 0, serverErrorSamples: [], checksumFailureSamples: [] };
  /** Op id of the last checkpoint whose checksums all matched (and no data since). */
  lastComplete = -1n;
  /** Data received since the last complete checkpoint. */
  pending = false;
  private target: { lastOpId: bigint; checksums: Map<string, number> } | null = null;
  private stream: OpenStream | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  /** Every stream this client opened, oldest first (kept when `keepSamples`). */
  readonly samples: ConnectionSample[] = [];
  keepSamples = false;
  /** Called with the time of every complete checkpoint (failover probes). */
  onComplete: ((lastOpId: bigint, at: number) => void) | null = null;
  private sample: ConnectionSample | null = null;
  /** `client_id` sent with every stream (shows in the server's connection registry). */
  clientId: string;
  /** Called for every PUT received (latency probes). */
  onPut: ((key: string, data: string) => void) | null = null;

  constructor(
    readonly userId: string,
    private readonly url: () => string,
    private readonly token: () => Promise<string>,
  ) {
    this.clientId = `chaos-${userId}`;
  }

  start(): this {
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.close();
    await this.loop;
  }

  /** Drops the current stream (the client reconnects with its resume points). */
  reconnect(): void {
    this.stream?.close();
  }

  /** Resolves after the next complete checkpoint. */
  nextComplete(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** Rows of one table over all buckets of the given version (`table/id` → data). */
  rowsOf(bucketPrefix: string): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [name, b] of this.buckets) if (name.startsWith(bucketPrefix)) out.set(name, b.rows);
    return out;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.stats.connects++;
        const buckets = [...this.buckets].map(([name, b]) => ({ name, after: b.after }));
        const openedAt = performance.now();
        this.sample = null;
        this.stream = await openSyncStream(this.url(), await this.token(), { buckets, client_id: this.clientId });
        this.sample = this.keepSamples ? { openedAt, resumeFrom: new Map(buckets.map((b) => [b.name, b.after])), catchUpOps: 0, catchUpBytes: 0, firstComplete: null, end: null } : null;
        if (this.sample) this.samples.push(this.sample);
        for (;;) {
          const line = await this.stream.next(60_000);
          if (line === null) break;
          this.apply(line);
        }
        if (this.sample && !this.sample.end) this.sample.end = { at: performance.now(), clean: true };
      } catch (e) {
        if (this.stopped) break;
        if (this.sample && !this.sample.end) this.sample.end = { at: performance.now(), clean: false };
        this.stats.streamErrors++;
        const status = (e as { status?: number }).status;
        // 503 SYNC_NO_ACTIVE_RULES before the first version is active is the documented answer.
        if (status !== undefined && status >= 500 && !String((e as { body?: string }).body).includes('SYNC_NO_ACTIVE_RULES')) {
          this.stats.serverErrors++;
          if (this.stats.serverErrorSamples.length < 3) this.stats.serverErrorSamples.push(`${status} ${String((e as { body?: string }).body).slice(0, 200)}`);
        }
      } finally {
        this.stream?.close();
        this.stream = null;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
    }
  }

  private apply(line: SyncLine): void {
    if ('checkpoint' in line) {
      const c = line.checkpoint;
      this.target = { lastOpId: BigInt(c.last_op_id), checksums: new Map(c.buckets.map((b) => [b.bucket, b.checksum])) };
      for (const name of [...this.buckets.keys()]) if (!this.target.checksums.has(name)) this.buckets.delete(name);
    } else if ('checkpoint_diff' in line && this.target) {
      const d = line.checkpoint_diff;
      this.target.lastOpId = BigInt(d.last_op_id);
      for (const b of d.updated_buckets) this.target.checksums.set(b.bucket, b.checksum);
      for (const name of d.removed_buckets) {
        this.target.checksums.delete(name);
        this.buckets.delete(name);
      }
    } else if ('data' in line) {
      const d = line.data;
      this.pending = true;
      let b = this.buckets.get(d.bucket);
      if (!b) this.buckets.set(d.bucket, (b = { rows: new Map(), sum: 0, after: '0' }));
      for (const op of d.data) {
        const key = `${op.object_type}/${op.object_id}`;
        if (op.op === 'PUT') {
          b.rows.set(key, op.data ?? '');
          this.onPut?.(key, op.data ?? '');
        }
        else if (op.op === 'REMOVE') b.rows.delete(key);
        else if (op.op === 'CLEAR') {
          b.rows.clear();
          b.sum = 0;
        }
        b.sum = (b.sum + op.checksum) >>> 0;
      }
      b.after = d.next_after;
      if (this.sample && !this.sample.firstComplete) this.sample.catchUpOps += d.data.length;
    } else if ('checkpoint_complete' in line && this.target) {
      let ok = true;
      for (const [name, checksum] of this.target.checksums) {
        const local = this.buckets.get(name)?.sum ?? 0;
        if ((local | 0) !== (checksum | 0)) {
          ok = false;
          this.stats.checksumFailures++;
          if (this.stats.checksumFailureSamples.length < 5) {
            const s = this.sample;
            this.stats.checksumFailureSamples.push(
              `${new Date().toISOString()} ${name} expected ${checksum | 0} has ${local | 0} after ${this.buckets.get(name)?.after ?? '-'} at ${line.checkpoint_complete.last_op_id}` +
                (s ? `; stream ${Math.round(performance.now() - s.openedAt)} ms old, resumed from ${s.resumeFrom.get(name) ?? 'nothing'} (${s.resumeFrom.size} buckets), ${s.firstComplete ? 'completed before' : 'first completion'}` : ''),
            );
          }
          this.buckets.delete(name); // re-downloaded from scratch on the next connection
        }
      }
      if (!ok) {
        this.stream?.close();
        return;
      }
      for (const name of this.target.checksums.keys()) if (!this.buckets.has(name)) this.buckets.set(name, { rows: new Map(), sum: 0, after: '0' });
      this.lastComplete = BigInt(line.checkpoint_complete.last_op_id);
      this.pending = false;
      this.stats.checkpointsCompleted++;
      const at = performance.now();
      if (this.sample && !this.sample.firstComplete) {
        this.sample.catchUpBytes = this.stream?.bytesRead ?? 0;
        this.sample.firstComplete = { at, lastOpId: this.lastComplete, buckets: [...this.target.checksums.keys()] };
      }
      this.onComplete?.(this.lastComplete, at);
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}
