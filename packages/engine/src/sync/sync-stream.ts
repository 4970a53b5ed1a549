/**
 * The per-connection sync algorithm as an async generator of protocol lines (reference §1.7).
 * Transport-free: apps/sync-api encodes the lines as NDJSON, BSON or RSocket frames. The stream
 * ends when the token expires, the serving sync-rules version changes, or the signal aborts.
 */
import {
  ServiceError,
  type BucketChecksumLine,
  type OplogEntryLine,
  type StreamingSyncRequest,
  type SyncLine,
} from '@syncline/protocol';
import type { Logger } from 'pino';
import { parseLosslessJson } from '@syncline/protocol';
import type { SyncRules } from '../sync-rules/index.ts';
import { TooManyBucketsError, TooManyParameterResultsError } from '../sync-rules/errors.ts';
import type { BucketDescription, BucketQuerier, ParameterLookupSource, SqliteRow, StreamsRequest } from '../sync-rules/types.ts';
import type { StoredOp } from '../storage/storage-types.ts';
import type { CheckpointEvent, CheckpointWatcher } from './checkpoint-watcher.ts';

export interface SyncStreamContext {
  watcher: CheckpointWatcher;
  /** Compiled rules of the serving version (cached per version by the caller). */
  rulesFor(versionId: number, content: string): SyncRules;
  request: StreamingSyncRequest;
  userId: string;
  claims: Record<string, unknown>;
  /** JWT expiry (seconds since epoch). */
  tokenExpiresAt: number;
  signal: AbortSignal;
  logger: Logger;
  /** Send `token_expires_in` keepalives (HTTP); RSocket has its own keepalive. */
  keepalives: boolean;
  maxBuckets?: number;
  /** Max rows all parameter queries of this connection may return (default 1,000, as PowerSync). */
  maxParameterResults?: number;
  /** Ops per storage read (default 1000) and bytes per data line (default 1 MB). */
  batchOps?: number;
  chunkBytes?: number;
  /** Called with stats as lines are produced (for the connection registry and metrics). */
  onProgress?: (p: { ops: number; checkpoint: bigint; buckets: number }) => void;
}

const KEEPALIVE_MS = 20_000;

interface SentChecksum {
  checksum: number;
  count: number;
  priority: number;
}

export async function* streamSyncLines(ctx: SyncStreamContext): AsyncGenerator<SyncLine, string> {
  const { watcher, request, signal } = ctx;
  const batchOps = ctx.batchOps ?? 1000;
  const chunkBytes = ctx.chunkBytes ?? 1_000_000;
  const userKey = request.client_id ? `${ctx.userId}/${request.client_id}` : ctx.userId;
  const positions = new Map<string, bigint>((request.buckets ?? []).map((b) => [b.name, BigInt(b.after)]));

  await using sub = watcher.subscribe();
  const serving = watcher.current() ?? (await watcher.waitForCheckpoint(10_000, signal));
  if (!serving) throw new ServiceError('NO_SYNC_RULES', 'No sync rules are active yet: deploy sync rules, or wait until the first version finishes its snapshot.');
  const versionId = serving.version.id;
  const rules = ctx.rulesFor(versionId, serving.version.content);
  const querier = rules.createQuerier({ userId: ctx.userId, jwtClaims: ctx.claims, clientParameters: request.parameters ?? {}, streams: streamsRequest(request) }, { maxBuckets: ctx.maxBuckets, maxParameterResults: ctx.maxParameterResults });

  let event: CheckpointEvent | null = {
    type: 'checkpoint',
    versionId,
    opId: serving.opId,
    lsn: serving.lsn,
    changedBuckets: null,
    changedLookups: null,
    releasedWriteCheckpoints: new Map(),
  };
  let bucketSet: Map<string, BucketDescription> | null = null;
  let lastSent: Map<string, SentChecksum> | null = null;
  let lastWriteCheckpoint: bigint | null = null;
  const pending = new Set<string>();
  /** Buckets whose stored checksum changed under us (compaction): re-read at the next checkpoint. */
  const recheck = new Set<string>();
  let opsSent = 0;
  let nextKeepalive = Date.now() + KEEPALIVE_MS * (0.9 + Math.random() * 0.2);

  while (!signal.aborted) {
    const now = Date.now() / 1000;
    if (now >= ctx.tokenExpiresAt) {
      yield { token_expires_in: 0 };
      return 'token_expired';
    }
    if (!event) {
      const remainingMs = (ctx.tokenExpiresAt - now) * 1000;
      const waitMs = Math.max(1, Math.min(nextKeepalive - Date.now(), remainingMs, remainingMs > 20_000 ? remainingMs - 20_000 : remainingMs));
      const next = await sub.next(waitMs, signal);
      if (next === null) return signal.aborted ? 'aborted' : 'shutdown';
      if (next === 'timeout') {
        const left = Math.ceil(ctx.tokenExpiresAt - Date.now() / 1000);
        if (left <= 0) continue;
        if (ctx.keepalives || left <= 20) yield { token_expires_in: left };
        nextKeepalive = Date.now() + KEEPALIVE_MS * (0.9 + Math.random() * 0.2);
        continue;
      }
      if (next.type === 'version-changed') return 'new_sync_rules';
      if (next.versionId !== versionId) return 'new_sync_rules';
      event = next;
    }
    const cp = event;
    event = null;

    // 1. Bucket set: static part once, dynamic part when its lookups changed.
    const lookupsChanged =
      querier.hasDynamicBuckets && (cp.changedLookups === null || querier.lookups.some((l) => cp.changedLookups!.has(l.key)));
    let setChanged = false;
    if (!bucketSet || lookupsChanged) {
      const resolved = await resolveBucketsOrLimitError(querier, async (lookups) => {
        const maxResults = ctx.maxParameterResults ?? 1_000;
        // One row past the limit is enough to know it is exceeded; nothing more is loaded.
        const sets = await watcher.reader.getParameterSets(versionId, lookups.map((l) => l.key), cp.opId, maxResults + 1);
        return lookups.map((l) => (sets.get(l.key) ?? []).flatMap((json) => parseLosslessJson(json) as unknown as SqliteRow[]));
      });
      const max = ctx.maxBuckets ?? 10_000;
      if (resolved.length > max) {
        throw new ServiceError(
          'TOO_MANY_BUCKETS',
          `This connection would sync ${resolved.length} buckets; the limit is ${max} (MAX_BUCKETS_PER_CONNECTION). ${topDefinitions(resolved)}`,
        );
      }
      const next = new Map(resolved.map((b) => [b.bucket, b]));
      setChanged = !bucketSet || next.size !== bucketSet.size || [...next.keys()].some((b) => !bucketSet!.has(b));
      bucketSet = next;
    }

    // 2. Checksums: everything on the first line; afterwards only changed or new buckets.
    const toCheck: string[] = [];
    for (const b of bucketSet.keys()) {
      if (!lastSent || !lastSent.has(b) || cp.changedBuckets === null || cp.changedBuckets.has(b) || recheck.has(b)) toCheck.push(b);
    }
    recheck.clear();
    const sums = await watcher.checksums.get(versionId, toCheck, cp.opId);

    // 3. Write checkpoint released for this user/client.
    let writeCheckpoint: bigint | null = lastWriteCheckpoint;
    if (lastSent === null) writeCheckpoint = await watcher.releasedWriteCheckpoint(userKey, cp.lsn);
    else {
      const released = cp.releasedWriteCheckpoints.get(userKey);
      if (released !== undefined && (writeCheckpoint === null || released > writeCheckpoint)) writeCheckpoint = released;
    }

    const lineFor = (b: string): BucketChecksumLine => {
      const d = bucketSet!.get(b)!;
      const s = sums.get(b) ?? lastSent?.get(b) ?? { checksum: 0, count: 0 };
      return { bucket: b, checksum: s.checksum | 0, count: s.count, priority: d.priority, subscriptions: d.reasons };
    };
    const updated: BucketChecksumLine[] = [];
    for (const b of toCheck) {
      const prev = lastSent?.get(b);
      const s = sums.get(b)!;
      if (!prev || prev.checksum !== s.checksum || prev.count !== s.count) updated.push(lineFor(b));
    }
    const removed = lastSent ? [...lastSent.keys()].filter((b) => !bucketSet!.has(b)) : [];
    const wcChanged = writeCheckpoint !== lastWriteCheckpoint;
    if (lastSent && updated.length === 0 && removed.length === 0 && !wcChanged && !setChanged) continue;

    const lastOpId = cp.opId.toString();
    if (!lastSent) {
      const buckets = [...bucketSet.keys()].map(lineFor);
      yield {
        checkpoint: {
          last_op_id: lastOpId,
          ...(writeCheckpoint !== null ? { write_checkpoint: writeCheckpoint.toString() } : {}),
          buckets,
          streams: querier.streams.map((st) => ({ name: st.name, is_default: st.isDefault, errors: st.errors })),
        },
      };
      for (const b of [...positions.keys()]) if (!bucketSet.has(b)) positions.delete(b);
    } else {
      yield {
        checkpoint_diff: {
          last_op_id: lastOpId,
          ...(writeCheckpoint !== null && wcChanged ? { write_checkpoint: writeCheckpoint.toString() } : {}),
          updated_buckets: updated,
          removed_buckets: removed,
        },
      };
      for (const b of removed) {
        positions.delete(b);
        pending.delete(b);
      }
    }
    const newSent: Map<string, SentChecksum> = new Map(lastSent ? [...lastSent] : []);
    for (const b of removed) newSent.delete(b);
    for (const b of toCheck) {
      const s = sums.get(b)!;
      newSent.set(b, { checksum: s.checksum, count: s.count, priority: bucketSet.get(b)!.priority });
    }
    const toFetch = new Set<string>(pending);
    for (const line of lastSent ? updated : [...bucketSet.keys()].map(lineFor)) toFetch.add(line.bucket);
    lastSent = newSent;
    lastWriteCheckpoint = writeCheckpoint;

    // 4. Data, by priority (0 first); partial completes between priorities.
    const byPriority = new Map<number, string[]>();
    for (const b of toFetch) {
      const d = bucketSet.get(b);
      if (!d) continue;
      pending.add(b);
      const list = byPriority.get(d.priority) ?? [];
      list.push(b);
      byPriority.set(d.priority, list);
    }
    const priorities = [...byPriority.keys()].sort((a, b) => a - b);
    if (priorities.length === 0) priorities.push(3);
    let invalidated = false;
    let interrupted = false;
    for (let pi = 0; pi < priorities.length && !interrupted; pi++) {
      const priority = priorities[pi]!;
      let remaining = (byPriority.get(priority) ?? []).sort();
      const downloaded = new Set<string>();
      while (remaining.length > 0) {
        if (signal.aborted) return 'aborted';
        // A long download must not outlive the token: end it at exp like an idle stream (§1.8).
        if (Date.now() / 1000 >= ctx.tokenExpiresAt) {
          yield { token_expires_in: 0 };
          return 'token_expired';
        }
        const { results, resumeFrom } = await watcher.opPages.getOps(
          versionId,
          remaining.map((b) => ({ bucket: b, after: positions.get(b) ?? 0n })),
          cp.opId,
          batchOps,
        );
        for (const r of results) {
          const chunks = [...chunkOps(r.ops, chunkBytes)];
          for (let ci = 0; ci < chunks.length; ci++) {
            const chunk = chunks[ci]!;
            const after = positions.get(r.bucket) ?? 0n;
            const last = chunk[chunk.length - 1]!;
            yield {
              data: {
                bucket: r.bucket,
                after: after.toString(),
                next_after: last.opId.toString(),
                has_more: ci < chunks.length - 1 || r.hasMore,
                data: wireOps(chunk),
              },
            };
            for (const op of chunk) if (op.targetOp !== null && op.targetOp > cp.opId) invalidated = true;
            positions.set(r.bucket, last.opId);
            downloaded.add(r.bucket);
            opsSent += chunk.length;
          }
        }
        for (const b of remaining.slice(0, resumeFrom)) pending.delete(b);
        remaining = remaining.slice(resumeFrom);
        ctx.onProgress?.({ ops: opsSent, checkpoint: cp.opId, buckets: bucketSet.size });
      }
      if (!invalidated && downloaded.size > 0) {
        // A compaction that ran while we were reading may have folded ops ≤ this checkpoint into a
        // CLEAR above it; then what we sent no longer sums to the checksum we announced.
        const now = await watcher.checksums.fresh(versionId, [...downloaded], cp.opId);
        for (const b of downloaded) {
          if (now.get(b)?.checksum === lastSent.get(b)?.checksum) continue;
          // Re-announce this bucket's checksum with the next checkpoint instead of completing this one.
          invalidated = true;
          recheck.add(b);
          watcher.checksums.evict(b);
        }
      }
      if (invalidated) {
        // Compaction rewrote ops past this checkpoint: complete with the next checkpoint instead.
        interrupted = true;
        break;
      }
      if (pi < priorities.length - 1) yield { partial_checkpoint_complete: { last_op_id: lastOpId, priority } };
    }
    if (!interrupted) {
      pending.clear();
      yield { checkpoint_complete: { last_op_id: lastOpId } };
    }
    ctx.onProgress?.({ ops: opsSent, checkpoint: cp.opId, buckets: bucketSet.size });
  }
  return 'aborted';
}

/** Resolves the bucket set; the engine's TooManyBucketsError becomes the service error clients see. */
async function resolveBucketsOrLimitError(querier: BucketQuerier, source: ParameterLookupSource): Promise<BucketDescription[]> {
  try {
    return await querier.resolveBuckets(source);
  } catch (e) {
    if (e instanceof TooManyBucketsError) {
      throw new ServiceError('TOO_MANY_BUCKETS', `${e.message} Raise MAX_BUCKETS_PER_CONNECTION to allow more.`);
    }
    if (e instanceof TooManyParameterResultsError) throw new ServiceError('TOO_MANY_PARAMETER_RESULTS', e.message);
    throw e;
  }
}

/** The request's `streams` field in engine terms: wire `null` parameters become `{}` (reference §4.1). */
export function streamsRequest(request: StreamingSyncRequest): StreamsRequest {
  return {
    includeDefaults: request.streams?.include_defaults ?? true,
    subscriptions: (request.streams?.subscriptions ?? []).map((s) => ({
      stream: s.stream,
      parameters: (s.parameters ?? {}) as Record<string, unknown>,
      overridePriority: (s.override_priority ?? null) as 0 | 1 | 2 | 3 | null,
    })),
  };
}

function* chunkOps(ops: StoredOp[], maxBytes: number): Generator<StoredOp[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < ops.length; i++) {
    bytes += (ops[i]!.data?.length ?? 0) + 100;
    if (bytes >= maxBytes && i + 1 < ops.length) {
      yield ops.slice(start, i + 1);
      start = i + 1;
      bytes = 0;
    }
  }
  if (start === 0) yield ops;
  else if (start < ops.length) yield ops.slice(start);
}

/**
 * Wire ops of a chunk. Pages come from the shared op-page cache, so every connection at the same
 * position gets the same chunk array and now the same wire array too, which lets the transport
 * encode the ops of a data line once for all of them.
 */
const wireCache = new WeakMap<StoredOp[], OplogEntryLine[]>();
function wireOps(chunk: StoredOp[]): OplogEntryLine[] {
  let out = wireCache.get(chunk);
  if (!out) {
    out = chunk.map(toWireOp);
    wireCache.set(chunk, out);
  }
  return out;
}

function toWireOp(op: StoredOp): OplogEntryLine {
  if (op.op === 'MOVE' || op.op === 'CLEAR') return { op_id: op.opId.toString(), op: op.op, checksum: op.checksum };
  return {
    op_id: op.opId.toString(),
    op: op.op,
    object_type: op.table ?? '',
    object_id: op.rowId ?? '',
    subkey: op.subkey ?? '',
    data: op.op === 'PUT' ? op.data : null,
    checksum: op.checksum,
  };
}

function topDefinitions(buckets: BucketDescription[]): string {
  const counts = new Map<string, number>();
  for (const b of buckets) counts.set(b.definition, (counts.get(b.definition) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return `Most buckets come from: ${top.map(([d, n]) => `${d} (${n})`).join(', ')}.`;
}
