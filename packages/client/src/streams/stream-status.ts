/**
 * Status of Sync Streams subscriptions (pure): the public types, which buckets belong to which
 * subscription (from the per-bucket `subscriptions` reasons), and the per-subscription status
 * (priority, progress summed over its buckets, errors) built from the persisted rows.
 *
 * Timestamps are `Date`s built from milliseconds stored as milliseconds — no µs/s conversion
 * anywhere (PowerSync's JS SDK multiplies µs values by 1000 and ends up 10⁶ off).
 */
import { summariseBuckets, type BucketProgress } from '../sync/download-progress.ts';
import type { DownloadProgress } from '../sync/sync-status.ts';
import type { BucketChecksum, StreamInfo } from '../sync/sync-lines.ts';
import { canonicalParameters, parseParameters, subscriptionKey, type StreamParameters } from './stream-key.ts';

/** A stream plus the parameters of one subscription to it. */
export interface SyncStreamDescription {
  name: string;
  parameters: StreamParameters;
}

export interface SyncSubscriptionDescription extends SyncStreamDescription {
  /** The server knows the stream (it is listed in the connection's `checkpoint.streams`). */
  active: boolean;
  /** The stream is `auto_subscribe` (synced without an explicit subscription). */
  isDefault: boolean;
  /** `subscribe()` was called and the subscription has not expired or been cleared. */
  hasExplicitSubscription: boolean;
  /** When the subscription expires if no handle is held (`null`: never, or not explicit). */
  expiresAt: Date | null;
  /** A checkpoint covering this subscription was applied at least once. */
  hasSynced: boolean;
  lastSyncedAt: Date | null;
}

export interface SyncStreamStatus {
  subscription: SyncSubscriptionDescription;
  /** Operations of this subscription's buckets in the current download; null when unknown. */
  progress: Omit<DownloadProgress, 'untilPriority'> | null;
  /** The lowest urgency (largest number) among its buckets: `hasSynced` is set by a partial checkpoint at that priority. */
  priority: number | null;
  /** Errors the server reported for this subscription on the current connection. */
  errors: readonly string[];
}

/** One row of `sl_stream_subscriptions`. */
export interface SubscriptionRow {
  id: number;
  name: string;
  /** Canonical JSON text of the parameters. */
  params: string;
  explicit: boolean;
  /** Explicit rows: the TTL in ms, `null` = never expires. */
  ttlMs: number | null;
  /** Milliseconds since the epoch. */
  expiresAt: number | null;
  localPriority: number | null;
  active: boolean;
  isDefault: boolean;
  lastSyncedAt: number | null;
}

export function rowKey(row: Pick<SubscriptionRow, 'name' | 'params'>): string {
  return subscriptionKey(row.name, row.params);
}

/** The key of a description, or undefined when its parameters are not valid JSON parameters. */
export function descriptionKey(d: SyncStreamDescription): string | undefined {
  try {
    return subscriptionKey(d.name, canonicalParameters(d.parameters));
  } catch {
    return undefined;
  }
}

/**
 * Buckets per subscription key: `{sub: i}` → the subscription sent at request index `i`;
 * `{default: k}` → the parameterless subscription of `streams[k]`.
 */
export function associateBuckets(
  buckets: Iterable<BucketChecksum>,
  requestKeys: readonly string[],
  streams: readonly StreamInfo[],
): Map<string, BucketChecksum[]> {
  const out = new Map<string, BucketChecksum[]>();
  const add = (key: string | undefined, b: BucketChecksum): void => {
    if (key === undefined) return;
    const list = out.get(key);
    if (!list) out.set(key, [b]);
    else if (list[list.length - 1] !== b) list.push(b);
  };
  for (const b of buckets) {
    for (const r of b.subscriptions) {
      if ('sub' in r) add(requestKeys[r.sub], b);
      else {
        const stream = streams[r.default];
        add(stream ? subscriptionKey(stream.name, 'null') : undefined, b);
      }
    }
  }
  return out;
}

/** Server errors per subscription key. */
export function errorsByKey(requestKeys: readonly string[], streams: readonly StreamInfo[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of streams) {
    for (const e of s.errors) {
      const key = e.subscription === 'default' ? subscriptionKey(s.name, 'null') : requestKeys[e.subscription];
      if (key === undefined) continue;
      out.set(key, [...(out.get(key) ?? []), e.message]);
    }
  }
  return out;
}

export interface ConnectionView {
  buckets: ReadonlyMap<string, BucketChecksum[]>;
  progress: ReadonlyMap<string, BucketProgress> | null;
  errors: ReadonlyMap<string, string[]>;
}

/** The largest priority number among the buckets, or null without buckets. */
export function streamPriority(buckets: readonly BucketChecksum[] | undefined): number | null {
  if (!buckets || buckets.length === 0) return null;
  return Math.max(...buckets.map((b) => b.priority));
}

export function buildStreamStatuses(rows: readonly SubscriptionRow[], view: ConnectionView | undefined): SyncStreamStatus[] {
  return rows.map((row) => {
    const key = rowKey(row);
    const buckets = view?.buckets.get(key);
    return {
      subscription: {
        name: row.name,
        parameters: parseParameters(row.params),
        active: row.active,
        isDefault: row.isDefault,
        hasExplicitSubscription: row.explicit,
        expiresAt: row.explicit && row.expiresAt !== null ? new Date(row.expiresAt) : null,
        hasSynced: row.lastSyncedAt !== null,
        lastSyncedAt: row.lastSyncedAt === null ? null : new Date(row.lastSyncedAt),
      },
      progress: view?.progress ? summariseBuckets(view.progress, (buckets ?? []).map((b) => b.bucket)) : null,
      priority: streamPriority(buckets),
      errors: view?.errors.get(key) ?? [],
    };
  });
}

/** A comparable text of the statuses (Dates as ms), to publish only real changes. */
export function statusSignature(statuses: readonly SyncStreamStatus[]): string {
  return JSON.stringify(statuses, (_k, v: unknown) => (v instanceof Date ? v.getTime() : v));
}

/**
 * The status of one subscription, matched by name and canonical parameters (key order does not
 * matter, unlike PowerSync's `forStream`).
 */
export function findStreamStatus(statuses: readonly SyncStreamStatus[] | undefined, description: SyncStreamDescription): SyncStreamStatus | undefined {
  const key = descriptionKey(description);
  if (key === undefined || !statuses) return undefined;
  return statuses.find((s) => subscriptionKey(s.subscription.name, canonicalParameters(s.subscription.parameters)) === key);
}
