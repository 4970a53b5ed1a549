/**
 * The per-connection sync algorithm as an async generator of protocol lines (reference §1.7).
 * Transport-free: apps/sync-api encodes the lines as NDJSON, BSON or RSocket frames. The stream
 * ends when the token expires, the serving sync-rules version changes, or the signal aborts.
 */
import {
  ServiceError,
  type OplogEntryLine,
  type StreamingSyncRequest,
  type SyncLine,
} from '@syncline/protocol';
import type { Logger } from 'pino';
import { parseLosslessJson } from '@syncline/protocol';
import type { SyncRules } from '../sync-rules/index.ts';
import { TooManyBucketsError, TooManyParameterResultsError } from '../sync-rules/errors.ts';
import type { BucketDescription, BucketQuerier, ParameterLookupSource, SqliteRow, StreamsRequest } from '../sync-rules/types.ts';
import { ConnectionState } from './connection-state.ts';
import type { BucketChecksum, StoredOp } from '../storage/storage-types.ts';
import type { CheckpointEvent, CheckpointWatcher, ServingState } from './checkpoint-watcher.ts';
import type { OpPage } from './op-page-cache.ts';

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
  /** Ops per storage read (default 1000). */
  batchOps?: number;
  /** Estimated JSON bytes per data line (default {@link DATA_LINE_BYTES}). */
  chunkBytes?: number;
  /** Called with stats as lines are produced (for the connection registry and metrics). */
  onProgress?: (p: { ops: number; checkpoint: bigint; buckets: number }) => void;
}

const KEEPALIVE_MS = 20_000;

/**
 * A page of ops is sent as data lines of about this many bytes of JSON: below V8's large-object
 * size (128 KB), so neither the server's encoding nor a client's decode of a line allocates a large
 * object (~5 ms per MB to fault in on a small VM; a 1,000-op line of ~360 KB is one). In process,
 * a 1M-row download into SQLite took 10.7–11.0 s client CPU with ~300-op lines against
 * 11.6–14.0 s with 1,000-op lines (BENCHMARKS.md).
 */
export const DATA_LINE_BYTES = 96_000;

export async function* streamSyncLines(ctx: SyncStreamContext): AsyncGenerator<SyncLine, string> {
  const { watcher, request, signal } = ctx;
  const batchOps = ctx.batchOps ?? 1000;
  const chunkBytes = ctx.chunkBytes ?? DATA_LINE_BYTES;
  const userKey = request.client_id ? `${ctx.userId}/${request.client_id}` : ctx.userId;
  const state = new ConnectionState(request.buckets ?? []);

  await using sub = watcher.subscribe();
  let serving = watcher.current() ?? (await watcher.waitForCheckpoint(10_000, signal));
  if (!serving) throw new ServiceError('NO_SYNC_RULES', 'No sync rules are active yet: deploy sync rules, or wait until the first version finishes its snapshot.');
  serving = await coverPositions(watcher, serving, state.positions);
  const versionId = serving.version.id;
  // Keeps the version's op-log from being deleted while this stream may read it (once replaced, the
  // stream ends at its next page: `serves` below).
  using _reading = watcher.readVersion(versionId);
  const rules = ctx.rulesFor(versionId, serving.version.content);
  const querier = rules.createQuerier(
    { userId: ctx.userId, jwtClaims: ctx.claims, clientParameters: request.parameters ?? {}, streams: streamsRequest(request) },
    { maxBuckets: ctx.maxBuckets, maxParameterResults: ctx.maxParameterResults },
  );

  let event: CheckpointEvent | null = {
    type: 'checkpoint',
    versionId,
    opId: serving.opId,
    lsn: serving.lsn,
    changedBuckets: null,
    changedLookups: null,
    releasedWriteCheckpoints: new Map(),
  };
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
    if (state.needsResolve(cp, querier.lookups, querier.hasDynamicBuckets)) {
      const maxResults = ctx.maxParameterResults ?? 1_000;
      state.setBuckets(
        await resolveBucketsOrLimitError(querier, async (lookups) => {
          // One row past the limit is enough to know it is exceeded; nothing more is loaded.
          const sets = await watcher.reader.getParameterSets(versionId, lookups.map((l) => l.key), cp.opId, maxResults + 1);
          return lookups.map((l) => (sets.get(l.key) ?? []).flatMap((json) => parseLosslessJson(json) as unknown as SqliteRow[]));
        }),
      );
    }

    // 2. Checksums (everything first, then changed buckets) and the released write checkpoint.
    const toCheck = state.bucketsToCheck(cp);
    const sums = await watcher.checksums.get(versionId, toCheck, cp.opId);
    const writeCheckpoint = state.isFirstCheckpoint
      ? await watcher.releasedWriteCheckpoint(userKey, cp.lsn)
      : state.mergeWriteCheckpoint(cp.releasedWriteCheckpoints.get(userKey));
    const announced = state.announce(cp, toCheck, sums, writeCheckpoint, querier.streams);
    if (!announced) continue;
    yield announced.line;

    // 3. Data, by priority (0 first); partial completes between priorities.
    const { plan } = announced;
    let interrupted = false;
    for (let gi = 0; gi < plan.groups.length && !interrupted; gi++) {
      const group = plan.groups[gi]!;
      let remaining = group.buckets;
      /** Bucket → the last page that carried its data and when it was asked for (its post-read check covers it). */
      const downloaded = new Map<string, { page: OpPage; requestedAt: number }>();
      let invalidated = false;
      while (remaining.length > 0) {
        if (signal.aborted) return 'aborted';
        // A deploy replaced the version: its op-log is deleted once no stream reads it, so stop
        // reading it now; the client reconnects and gets the new version.
        if (!watcher.serves(versionId)) return 'new_sync_rules';
        // A long download must not outlive the token: end it at exp like an idle stream (§1.8).
        if (Date.now() / 1000 >= ctx.tokenExpiresAt) {
          yield { token_expires_in: 0 };
          return 'token_expired';
        }
        const requestedAt = watcher.opPages.tick();
        const page = await watcher.opPages.getOps(
          versionId,
          remaining.map((b) => ({ bucket: b, after: state.after(b) })),
          cp.opId,
          batchOps,
        );
        const { results, resumeFrom } = page;
        for (const r of results) {
          const chunks = lineChunks(r.ops, chunkBytes);
          for (let ci = 0; ci < chunks.length; ci++) {
            const chunk = chunks[ci]!;
            const last = chunk[chunk.length - 1]!;
            yield {
              data: {
                bucket: r.bucket,
                after: state.after(r.bucket).toString(),
                next_after: last.opId.toString(),
                has_more: ci < chunks.length - 1 || r.hasMore,
                data: wireOps(chunk),
              },
            };
            for (const op of chunk) if (op.targetOp !== null && op.targetOp > cp.opId) invalidated = true;
            state.advance(r.bucket, last.opId);
            downloaded.set(r.bucket, { page, requestedAt });
            opsSent += chunk.length;
          }
        }
        for (const b of remaining.slice(0, resumeFrom)) state.delivered(b);
        remaining = remaining.slice(resumeFrom);
        ctx.onProgress?.({ ops: opsSent, checkpoint: cp.opId, buckets: state.bucketCount });
      }
      if (!invalidated && downloaded.size > 0) {
        // A compaction that ran while we were reading may have folded ops ≤ this checkpoint into a
        // CLEAR above it; then what we sent no longer sums to the checksum we announced.
        // The check is read once per page after the page was read (shared by every stream that asked
        // for the page before), so after a fan-out it is ready by now.
        const reads = [...downloaded.values()];
        const sums = await Promise.all(reads.map((d) => watcher.opPages.verified(versionId, d.page, cp.opId, d.requestedAt)));
        const checks = new Map<{ page: OpPage; requestedAt: number }, Map<string, BucketChecksum>>(reads.map((d, i) => [d, sums[i]!]));
        for (const [b, d] of downloaded) {
          if (checks.get(d)!.get(b)?.checksum === state.announcedChecksum(b)) continue;
          invalidated = true;
          state.invalidate(b);
          watcher.checksums.evict(b);
        }
      }
      // Replaced while the last page was read: no (partial) complete from a version being deleted.
      const serving = watcher.confirmServes(versionId);
      if (!(typeof serving === 'boolean' ? serving : await serving)) return 'new_sync_rules';
      // Compaction rewrote ops past this checkpoint: complete with the next checkpoint instead.
      if (invalidated) interrupted = true;
      else if (gi < plan.groups.length - 1) yield { partial_checkpoint_complete: { last_op_id: plan.lastOpId, priority: group.priority } };
    }
    if (!interrupted) {
      state.completed();
      yield { checkpoint_complete: { last_op_id: plan.lastOpId } };
    }
    ctx.onProgress?.({ ops: opsSent, checkpoint: cp.opId, buckets: state.bucketCount });
  }
  return 'aborted';
}

/**
 * The checkpoint to start from when the client holds ops past this process's checkpoint: it resumes
 * from another API process that is ahead (its NOTIFY not handled here yet). A first checkpoint below
 * a position fails the checksum of every bucket with ops past it — the client discards and
 * downloads those buckets again — so the checkpoint is read from storage once. If storage has no
 * checkpoint that far either, the positions are stale or bogus: start anyway, and the client's
 * checksum check discards what does not match.
 */
async function coverPositions(watcher: CheckpointWatcher, serving: ServingState, positions: ReadonlyMap<string, bigint>): Promise<ServingState> {
  let held = 0n;
  for (const after of positions.values()) if (after > held) held = after;
  if (held <= serving.opId) return serving;
  await watcher.refreshFromStorage();
  const now = watcher.current();
  return now && now.version.id === serving.version.id && now.opId > serving.opId ? now : serving;
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

/** A wire op's JSON beyond its row data: ids, type, subkey, checksum, escaping (~200 B measured). */
const OP_OVERHEAD_BYTES = 220;

/**
 * The ops of a page cut into data lines of about `maxBytes`. Memoised per page: every connection at
 * the same position gets the same line arrays, so each line is encoded once (see `wireOps`).
 */
const chunkCache = new WeakMap<StoredOp[], { maxBytes: number; chunks: StoredOp[][] }>();
export function lineChunks(ops: StoredOp[], maxBytes: number): StoredOp[][] {
  const hit = chunkCache.get(ops);
  if (hit && hit.maxBytes === maxBytes) return hit.chunks;
  const chunks: StoredOp[][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < ops.length; i++) {
    bytes += (ops[i]!.data?.length ?? 0) + OP_OVERHEAD_BYTES;
    if (bytes >= maxBytes && i + 1 < ops.length) {
      chunks.push(ops.slice(start, i + 1));
      start = i + 1;
      bytes = 0;
    }
  }
  chunks.push(start === 0 ? ops : ops.slice(start));
  chunkCache.set(ops, { maxBytes, chunks });
  return chunks;
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
