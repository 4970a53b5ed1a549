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
}

export class ChaosClient {
  readonly buckets = new Map<string, LocalBucket>();
  readonly stats: ChaosClientStats = { connects: 0, streamErrors: 0, checksumFailures: 0, checkpointsCompleted: 0, serverErrors: 0, serverErrorSamples: [] };
  /** Op id of the last checkpoint whose checksums all matched (and no data since). */
  lastComplete = -1n;
  /** Data received since the last complete checkpoint. */
  pending = false;
  private target: { lastOpId: bigint; checksums: Map<string, number> } | null = null;
  private stream: OpenStream | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  /** Called for every PUT received (latency probes). */
  onPut: ((key: string, data: string) => void) | null = null;

  constructor(
    readonly userId: string,
    private readonly url: () => string,
    private readonly token: () => Promise<string>,
  ) {}

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
        this.stream = await openSyncStream(this.url(), await this.token(), { buckets, client_id: `chaos-${this.userId}` });
        for (;;) {
          const line = await this.stream.next(60_000);
          if (line === null) break;
          this.apply(line);
        }
      } catch (e) {
        if (this.stopped) break;
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
    } else if ('checkpoint_complete' in line && this.target) {
      let ok = true;
      for (const [name, checksum] of this.target.checksums) {
        const local = this.buckets.get(name)?.sum ?? 0;
        if ((local | 0) !== (checksum | 0)) {
          ok = false;
          this.stats.checksumFailures++;
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
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}
