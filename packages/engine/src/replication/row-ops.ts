/**
 * Pure core of replication: turns one source-row change plus the row's previous state into bucket
 * ops, parameter-index rows and the row's new state. No I/O; unit-tested without a database.
 *
 * Rules (reference §2, §7.7): every (bucket, table, id) the row now produces gets a PUT, even when
 * unchanged; every previous membership no longer produced gets a REMOVE; a delete removes all.
 * Lookups the row no longer produces get a tombstone ('[]').
 */
import { opChecksumPut, opChecksumRemove, stringifySqliteRow } from '@syncline/protocol';
import type { SqliteRow } from '../sync-rules/types.ts';
import { opaqueSubkey } from './opaque-subkey.ts';

/** A source row as Postgres sent it: text values, null, or undefined for an unchanged TOAST value. */
export type RawRow = Record<string, string | null | undefined>;

export type Membership = [bucket: string, table: string, id: string];

export interface RowState {
  /** Raw row image for TOAST merging; null when the table sends complete rows (REPLICA IDENTITY FULL). */
  data: Record<string, string | null> | null;
  buckets: Membership[];
  lookups: string[];
}

export interface PendingOp {
  bucket: string;
  op: 1 | 2;
  table: string;
  rowId: string;
  data: string | null;
  checksum: number;
  sourceTable: number;
  sourceKey: string;
  /** The stored wire subkey (`bucket_data.subkey`): null for versions without a salt. */
  subkey: string | null;
}

export interface PendingParameterRow {
  lookup: string;
  bucketParameters: string;
  sourceTable: number;
  sourceKey: string;
}

export interface RowEvaluator {
  /** Converts a complete raw row to SQLite values (type mapping per edition). */
  toSqlite(row: Record<string, string | null>): SqliteRow;
  evaluateData(row: SqliteRow): Array<{ bucket: string; table: string; id: string; data: string }>;
  evaluateParameters(row: SqliteRow): Array<{ lookup: string; bucketParameters: SqliteRow[] }>;
  /** Whether the table is used by data queries / parameter queries. */
  readonly syncsData: boolean;
  readonly syncsParameters: boolean;
  /** Keep the raw row image (needed unless the table has REPLICA IDENTITY FULL). */
  readonly storeRowImage: boolean;
}

export interface RowChangeResult {
  ops: PendingOp[];
  parameters: PendingParameterRow[];
  /** New state; null when the row is gone. */
  state: RowState | null;
  /** Per bucket: +1 row entered, −1 row left. */
  liveDelta: Map<string, number>;
  /** Set when a TOAST value could not be filled because the previous image is unknown. */
  incomplete?: boolean;
}


/** Fills unchanged TOAST columns (undefined) from the previous image. Returns null if impossible. */
export function mergeToast(next: RawRow, previous: Record<string, string | null> | null): Record<string, string | null> | null {
  let complete: Record<string, string | null> | null = null;
  for (const key of Object.keys(next)) {
    if (next[key] !== undefined) continue;
    if (!previous || !(key in previous)) return null;
    complete ??= { ...(next as Record<string, string | null>) };
    complete[key] = previous[key] ?? null;
  }
  return complete ?? (next as Record<string, string | null>);
}

const membershipKey = (m: Membership) => `${m[0]}\u0000${m[1]}\u0000${m[2]}`;

/**
 * Applies an upsert (insert/update/snapshot row) or a delete (next = null) of one source row.
 * `subkeySalt` is the version's secret for wire subkeys (opaque-subkey.ts): REMOVE checksums hash
 * the subkey clients receive.
 */
export function evaluateRowChange(
  evaluator: RowEvaluator,
  sourceTable: number,
  sourceKey: string,
  previous: RowState | undefined,
  next: RawRow | null,
  subkeySalt: string | null,
): RowChangeResult {
  const ops: PendingOp[] = [];
  const parameters: PendingParameterRow[] = [];
  const liveDelta = new Map<string, number>();
  const prevBuckets = previous?.buckets ?? [];
  const prevLookups = previous?.lookups ?? [];

  const newBuckets: Membership[] = [];
  let newLookups: string[] = [];
  let image: Record<string, string | null> | null = null;
  let incomplete = false;
  // The row's wire subkey, hashed once per change however many buckets it enters or leaves.
  let wireSubkey: string | undefined;
  const subkey = (): string => (wireSubkey ??= opaqueSubkey(subkeySalt, sourceTable, sourceKey));
  const storedSubkey = (): string | null => (subkeySalt === null ? null : subkey());

  if (next) {
    const merged = mergeToast(next, previous?.data ?? null);
    if (!merged) {
      // Previous image unknown (should not happen after a snapshot): keep what we had.
      incomplete = true;
    } else {
      image = merged;
      const sqliteRow = evaluator.toSqlite(merged);
      if (evaluator.syncsData) {
        const seen = new Set<string>();
        for (const out of evaluator.evaluateData(sqliteRow)) {
          const m: Membership = [out.bucket, out.table, out.id];
          const k = membershipKey(m);
          if (seen.has(k)) continue;
          seen.add(k);
          newBuckets.push(m);
          ops.push({
            bucket: out.bucket,
            op: 1,
            table: out.table,
            rowId: out.id,
            data: out.data,
            checksum: opChecksumPut(out.table, out.id, out.data),
            sourceTable,
            sourceKey,
            subkey: storedSubkey(),
          });
        }
      }
      if (evaluator.syncsParameters) {
        for (const p of evaluator.evaluateParameters(sqliteRow)) {
          newLookups.push(p.lookup);
          parameters.push({
            lookup: p.lookup,
            bucketParameters: `[${p.bucketParameters.map((r) => stringifySqliteRow(r)).join(',')}]`,
            sourceTable,
            sourceKey,
          });
        }
      }
    }
  }
  if (incomplete && previous) {
    return { ops: [], parameters: [], state: previous, liveDelta, incomplete };
  }

  const newKeys = new Set(newBuckets.map(membershipKey));
  const prevKeys = new Set(prevBuckets.map(membershipKey));
  let removeChecksum: number | undefined;
  for (const m of prevBuckets) {
    if (newKeys.has(membershipKey(m))) continue;
    // One REMOVE checksum per source row, computed only when the row leaves a bucket.
    removeChecksum ??= opChecksumRemove(subkey());
    ops.push({ bucket: m[0], op: 2, table: m[1], rowId: m[2], data: null, checksum: removeChecksum, sourceTable, sourceKey, subkey: storedSubkey() });
    liveDelta.set(m[0], (liveDelta.get(m[0]) ?? 0) - 1);
  }
  for (const m of newBuckets) {
    if (!prevKeys.has(membershipKey(m))) liveDelta.set(m[0], (liveDelta.get(m[0]) ?? 0) + 1);
  }
  const newLookupSet = new Set(newLookups);
  for (const l of prevLookups) {
    if (!newLookupSet.has(l)) parameters.push({ lookup: l, bucketParameters: '[]', sourceTable, sourceKey });
  }
  newLookups = [...newLookupSet];

  if (!next) return { ops, parameters, state: null, liveDelta };
  if (incomplete) {
    // First sight of a row with unchanged TOAST columns and no image: nothing emitted.
    return { ops: [], parameters: [], state: null, liveDelta: new Map(), incomplete };
  }
  return {
    ops,
    parameters,
    state: { data: evaluator.storeRowImage ? image : null, buckets: newBuckets, lookups: newLookups },
    liveDelta,
  };
}
