/**
 * Per-user inspection: the buckets a user gets (with definition, priority and the stored totals of
 * bucket_state), the parameter lookups that produced them, and a bucket's ops page by page.
 */
import { parseLosslessJson, ServiceError } from '@syncline/protocol';
import { TooManyBucketsError, type ParameterLookup, type SqliteRow, type SqliteValue, type SyncRules } from '../sync-rules/index.ts';
import { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import { opaqueSubkey } from '../replication/opaque-subkey.ts';
import { getBucketStates, listBucketOpsAfter, listBucketStates } from '../storage/pg-bucket-inspection.ts';
import { getSubkeySalt } from '../storage/pg-versions.ts';
import { OP_NAMES, type OpName } from '../storage/storage-types.ts';
import { idText, loadVersion, type AdminDeps } from './admin-deps.ts';

export interface UserRequest {
  userId: string;
  /** Extra JWT claims (besides `sub`). */
  claims?: Record<string, unknown>;
  /** Client parameters as a client would send them. */
  clientParameters?: Record<string, unknown>;
  versionId?: number | null;
}

export interface LookupResult {
  key: string;
  definition: string | null;
  queryId: string | null;
  values: unknown[];
  /** Parameter rows found in the parameter index at the checkpoint. */
  results: unknown[];
}

export interface UserBucket {
  bucket: string;
  definition: string;
  priority: number;
  opCount: number;
  liveRows: number;
  checksum: number;
  bytes: number;
  lastOp: string | null;
}

export interface UserInspection {
  versionId: number;
  checkpoint: string | null;
  userId: string;
  buckets: UserBucket[];
  lookups: LookupResult[];
  /** Set when the user would be refused (e.g. too many buckets). */
  error: string | null;
}

/** JSON-safe form of a SQLite value (bigint → number when safe, else string; blobs → marker). */
export function jsonValue(v: SqliteValue | unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return `<blob ${v.length} bytes>`;
  return v;
}

export function jsonRow(row: SqliteRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in row) out[k] = jsonValue(row[k]);
  return out;
}

/** Resolves the user's buckets at the version's checkpoint, recording every lookup and its result. */
export async function resolveUserBuckets(
  deps: AdminDeps,
  rules: SyncRules,
  versionId: number,
  checkpoint: bigint | null,
  req: UserRequest,
): Promise<{ buckets: Array<{ bucket: string; definition: string; priority: number }>; lookups: LookupResult[]; error: string | null }> {
  const querier = rules.createQuerier({
    userId: req.userId,
    jwtClaims: { ...req.claims, sub: req.userId },
    clientParameters: req.clientParameters ?? {},
  });
  const reader = new PgBucketReader(deps.storage);
  const lookups: LookupResult[] = [];
  const source = async (ls: ParameterLookup[]): Promise<SqliteRow[][]> => {
    const sets = checkpoint === null ? new Map<string, string[]>() : await reader.getParameterSets(versionId, ls.map((l) => l.key), checkpoint);
    return ls.map((l) => {
      const rows = (sets.get(l.key) ?? []).flatMap((json) => parseLosslessJson(json) as unknown as SqliteRow[]);
      lookups.push({ key: l.key, definition: l.definition ?? null, queryId: l.queryId ?? null, values: (l.values ?? []).map(jsonValue), results: rows.map(jsonRow) });
      return rows;
    });
  };
  try {
    const buckets = await querier.resolveBuckets(source);
    return { buckets, lookups, error: null };
  } catch (e) {
    if (e instanceof TooManyBucketsError) return { buckets: [], lookups, error: e.message };
    throw e;
  }
}

export async function inspectUser(deps: AdminDeps, req: UserRequest): Promise<UserInspection> {
  const { version, rules } = await loadVersion(deps, req.versionId);
  const checkpoint = version.lastCheckpoint;
  const resolved = await resolveUserBuckets(deps, rules, version.id, checkpoint, req);
  const state = await getBucketStates(deps.storage, version.id, resolved.buckets.map((b) => b.bucket));
  const buckets = resolved.buckets
    .map((b): UserBucket => {
      const s = state.get(b.bucket);
      return {
        bucket: b.bucket,
        definition: b.definition,
        priority: b.priority,
        opCount: s?.opCount ?? 0,
        liveRows: s?.liveRows ?? 0,
        checksum: s?.checksum ?? 0,
        bytes: s?.bytes ?? 0,
        lastOp: s?.lastOp ?? null,
      };
    })
    .sort((a, b) => a.priority - b.priority || a.bucket.localeCompare(b.bucket));
  return { versionId: version.id, checkpoint: idText(checkpoint), userId: req.userId, buckets, lookups: resolved.lookups, error: resolved.error };
}

export interface BucketListPage {
  versionId: number;
  buckets: Array<{ bucket: string; opCount: number; liveRows: number; checksum: number; bytes: number; lastOp: string }>;
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

/** All buckets of a version in name order (keyset pagination on the primary key), optional prefix. */
export async function listBuckets(deps: AdminDeps, opts: { versionId?: number | null; prefix?: string; after?: string; limit?: number }): Promise<BucketListPage> {
  const { version } = await loadVersion(deps, opts.versionId);
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const prefix = opts.prefix ?? '';
  const rows = await listBucketStates(deps.storage, version.id, { after: opts.after ?? '', prefix, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return { versionId: version.id, buckets: page, next: rows.length > limit ? page[page.length - 1]!.bucket : null };
}

export interface BucketOp {
  opId: string;
  op: OpName;
  table: string | null;
  rowId: string | null;
  subkey: string | null;
  checksum: number;
  data: string | null;
  targetOp: string | null;
}

export interface BucketOpsPage {
  versionId: number;
  bucket: string;
  ops: BucketOp[];
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

/** Ops of one bucket in op_id order, paginated by op_id, optionally filtered by op type and row id. */
export async function listBucketOps(
  deps: AdminDeps,
  opts: { versionId?: number | null; bucket: string; after?: string | null; limit?: number; op?: OpName | null; rowId?: string | null },
): Promise<BucketOpsPage> {
  const { version } = await loadVersion(deps, opts.versionId);
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  if (opts.after && !/^\d{1,20}$/.test(opts.after)) throw new ServiceError('BAD_REQUEST', '"after" must be an op id (digits).');
  const salt = await getSubkeySalt(deps.storage, version.id);
  const rows = await listBucketOpsAfter(deps.storage, version.id, { bucket: opts.bucket, afterOpId: opts.after ?? '0', limit: limit + 1, op: opts.op ?? null, rowId: opts.rowId || null });
  const ops = rows.slice(0, limit).map(({ sourceTable, sourceKey, op, ...r }) => ({
    ...r,
    op: OP_NAMES[op],
    // The subkey clients receive (opaque for versions with a salt), so operators can match ops they see on clients.
    subkey: sourceTable === null || sourceKey === null ? null : opaqueSubkey(salt, sourceTable, sourceKey),
  }));
  return { versionId: version.id, bucket: opts.bucket, ops, next: rows.length > limit ? ops[ops.length - 1]!.opId : null };
}
