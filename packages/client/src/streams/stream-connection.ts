/**
 * The Sync Streams side of one sync connection: the `streams` part of its request (with the
 * request index → subscription map), and the hooks the session calls — each checkpoint is
 * reconciled with the persisted subscriptions, data updates per-subscription progress, and an
 * applied (partial) checkpoint marks the subscriptions it covers as synced.
 */
import type { Logger } from '../logger.ts';
import type { BucketProgress } from '../sync/download-progress.ts';
import type { BucketChecksum, Checkpoint, StreamInfo } from '../sync/sync-lines.ts';
import { parseParameters, subscriptionKey, type StreamParameters } from './stream-key.ts';
import { associateBuckets, errorsByKey, rowKey, streamPriority, type ConnectionView, type SubscriptionRow } from './stream-status.ts';
import type { SubscriptionStore } from './subscription-store.ts';

export interface StreamsRequest {
  include_defaults: boolean;
  subscriptions: { stream: string; parameters: StreamParameters; override_priority: number | null }[];
}

/** What the sync session tells the streams side (all optional for sessions without streams). */
export interface SessionStreams {
  onCheckpoint(checkpoint: Checkpoint, streams: readonly StreamInfo[] | undefined): Promise<void>;
  onProgress(progress: ReadonlyMap<string, BucketProgress>): void;
  onApplied(priority: number | null): Promise<void>;
}

export interface ConnectionHost {
  readonly store: SubscriptionStore;
  readonly logger: Logger;
  isCurrent(connection: StreamConnection): boolean;
  /** Whether any subscription is tracked (progress is only worth publishing then). */
  hasSubscriptions(): boolean;
  /** Re-reads the rows (`reload`) and publishes the status if it changed. */
  refresh(reload: boolean): Promise<void>;
}

export class StreamConnection implements SessionStreams {
  readonly request: StreamsRequest;
  /** Request index → subscription key. */
  readonly keys: readonly string[];
  /** Comparable text of `request`: a different one means the connection must restart. */
  readonly signature: string;
  private streams: readonly StreamInfo[] | undefined;
  private buckets = new Map<string, BucketChecksum[]>();
  private errors = new Map<string, string[]>();
  private progress: ReadonlyMap<string, BucketProgress> | null = null;

  constructor(
    private readonly host: ConnectionHost,
    explicitRows: readonly SubscriptionRow[],
    private readonly includeDefaults: boolean,
  ) {
    this.request = {
      include_defaults: includeDefaults,
      subscriptions: explicitRows.map((r) => ({ stream: r.name, parameters: parseParameters(r.params), override_priority: r.localPriority })),
    };
    this.keys = explicitRows.map(rowKey);
    this.signature = JSON.stringify(this.request);
  }

  view(): ConnectionView {
    return { buckets: this.buckets, progress: this.progress, errors: this.errors };
  }

  async onCheckpoint(checkpoint: Checkpoint, streams: readonly StreamInfo[] | undefined): Promise<void> {
    if (!this.host.isCurrent(this)) return;
    if (streams !== undefined) {
      this.streams = streams;
      this.errors = errorsByKey(this.keys, streams);
      for (const s of streams) {
        for (const e of s.errors) {
          this.host.logger.warn('The sync service reported an error for a stream subscription', {
            stream: s.name,
            subscription: e.subscription === 'default' ? 'default' : this.request.subscriptions[e.subscription]?.parameters ?? null,
            message: e.message,
          });
        }
      }
      await this.host.store.reconcile(streams, this.includeDefaults);
    }
    this.buckets = associateBuckets(checkpoint.buckets.values(), this.keys, this.streams ?? []);
    await this.host.refresh(streams !== undefined);
  }

  onProgress(progress: ReadonlyMap<string, BucketProgress>): void {
    if (!this.host.isCurrent(this)) return;
    // The session's live map (no copy per data batch): statuses are built from it when published.
    this.progress = progress;
    if (this.host.hasSubscriptions()) void this.host.refresh(false);
  }

  /** Subscriptions this connection asked for (or got by default) that the server knows. */
  private covered(): Set<string> {
    const out = new Set<string>();
    if (!this.streams) return out;
    const known = new Set(this.streams.map((s) => s.name));
    this.keys.forEach((key, i) => {
      const stream = this.request.subscriptions[i]?.stream;
      if (stream !== undefined && known.has(stream)) out.add(key);
    });
    if (this.includeDefaults) for (const s of this.streams) if (s.isDefault) out.add(subscriptionKey(s.name, 'null'));
    return out;
  }

  async onApplied(priority: number | null): Promise<void> {
    if (!this.host.isCurrent(this)) return;
    let keys = this.covered();
    if (priority !== null) {
      keys = new Set(
        [...keys].filter((k) => {
          const p = streamPriority(this.buckets.get(k));
          return p !== null && p <= priority;
        }),
      );
    }
    if (keys.size === 0) return;
    await this.host.store.markSynced(keys, Date.now());
    await this.host.refresh(true);
  }
}
