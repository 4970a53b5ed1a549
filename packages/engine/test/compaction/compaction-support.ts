/**
 * Shared pieces of the compaction integration tests: a seeded workload over a two-definition rule
 * set (owner buckets with moves between them, and a parameter query), a storage-level client that
 * syncs through PgBucketReader with the sync stream's invalidation rule, and storage invariants.
 */
import type pg from 'pg';
import { expect } from 'vitest';
import { PgBucketReader } from '@syncline/engine';
import { ClientBucket, type ModelOp } from './op-log-model.ts';

export const SCHEMA = `
  CREATE TABLE items (id text PRIMARY KEY, owner text NOT NULL, v integer NOT NULL);
  CREATE TABLE memberships (id text PRIMARY KEY, user_id text NOT NULL, team text NOT NULL);
`;
export const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT id, owner, v FROM items WHERE owner = bucket.owner
  by_team:
    parameters: SELECT team FROM memberships WHERE user_id = request.user_id()
    data:
      - SELECT id, owner, v FROM items WHERE owner = bucket.team
`;

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OWNERS = ['a', 'b', 'c'];

/** A few source transactions of random inserts/updates/deletes/moves between owners, and membership churn. */
export async function randomChanges(source: pg.Pool, rand: () => number, ids: Set<string>, next: { n: number }): Promise<void> {
  const txs = 1 + Math.floor(rand() * 3);
  for (let t = 0; t < txs; t++) {
    const stmts: string[] = [];
    const count = 1 + Math.floor(rand() * 12);
    for (let i = 0; i < count; i++) {
      const r = rand();
      const existing = [...ids];
      const pick = existing[Math.floor(rand() * existing.length)];
      const owner = OWNERS[Math.floor(rand() * OWNERS.length)]!;
      if (r < 0.3 || !pick) {
        const id = `i${next.n++}`;
        ids.add(id);
        stmts.push(`INSERT INTO items VALUES ('${id}', '${owner}', ${Math.floor(rand() * 1000)})`);
      } else if (r < 0.65) stmts.push(`UPDATE items SET v = v + 1 WHERE id = '${pick}'`);
      else if (r < 0.8) stmts.push(`UPDATE items SET owner = '${owner}' WHERE id = '${pick}'`);
      else if (r < 0.92) {
        ids.delete(pick);
        stmts.push(`DELETE FROM items WHERE id = '${pick}'`);
      } else {
        const m = `m${Math.floor(rand() * 4)}`;
        stmts.push(
          rand() < 0.5
            ? `INSERT INTO memberships VALUES ('${m}', 'u${Math.floor(rand() * 2)}', '${owner}') ON CONFLICT (id) DO UPDATE SET team = excluded.team`
            : `DELETE FROM memberships WHERE id = '${m}'`,
        );
      }
    }
    await source.query(`BEGIN; ${stmts.join('; ')}; COMMIT`);
  }
}

/** A client syncing one version straight from storage, with the sync stream's rules. */
export class StorageClient {
  readonly buckets = new Map<string, ClientBucket>();
  readonly positions = new Map<string, bigint>();
  /** Checkpoint of the last successful completion. */
  completed: bigint | null = null;
  mismatches = 0;

  constructor(private readonly reader: PgBucketReader, private readonly versionId: number) {}

  clone(): StorageClient {
    const c = new StorageClient(this.reader, this.versionId);
    for (const [b, s] of this.buckets) {
      const copy = new ClientBucket();
      copy.rows = new Map(s.rows);
      copy.add = s.add;
      c.buckets.set(b, copy);
    }
    for (const [b, p] of this.positions) c.positions.set(b, p);
    c.completed = this.completed;
    return c;
  }

  /**
   * Downloads everything up to `checkpoint` (optionally stopping after `maxPages` pages: a client
   * mid-download). Returns true when checkpoint_complete would have been sent, i.e. no op received
   * points past the checkpoint; checksums are then validated (a mismatch drops the bucket).
   */
  async sync(checkpoint: bigint, buckets: string[], expected: Map<string, number>, opts: { pageSize?: number; maxPages?: number; onPage?: () => Promise<void> } = {}): Promise<boolean | 'partial'> {
    let invalid = false;
    let pages = 0;
    let remaining = [...buckets].sort();
    while (remaining.length > 0) {
      if (opts.maxPages !== undefined && pages >= opts.maxPages) return 'partial';
      const { results, resumeFrom } = await this.reader.getOps(this.versionId, remaining.map((b) => ({ bucket: b, after: this.positions.get(b) ?? 0n })), checkpoint, opts.pageSize ?? 1000);
      pages++;
      for (const r of results) {
        const state = this.buckets.get(r.bucket) ?? new ClientBucket();
        this.buckets.set(r.bucket, state);
        for (const op of r.ops) {
          state.apply(toModel(op));
          if (op.targetOp !== null && op.targetOp > checkpoint) invalid = true;
        }
        this.positions.set(r.bucket, r.ops[r.ops.length - 1]!.opId);
      }
      remaining = remaining.slice(resumeFrom);
      await opts.onPage?.();
    }
    if (invalid) return false;
    for (const b of buckets) {
      const mine = this.buckets.get(b)?.checksum() ?? 0;
      if (mine !== (expected.get(b) ?? 0)) {
        this.mismatches++;
        this.buckets.delete(b);
        this.positions.delete(b);
      }
    }
    this.completed = checkpoint;
    return true;
  }

  rows(): Map<string, Map<string, string | null>> {
    const out = new Map<string, Map<string, string | null>>();
    for (const [b, s] of this.buckets) if (s.rows.size > 0) out.set(b, s.live());
    return out;
  }
}

function toModel(op: { opId: bigint; op: ModelOp['op']; table: string | null; rowId: string | null; subkey: string | null; checksum: number; data: string | null }): ModelOp {
  return { opId: op.opId, op: op.op, key: op.table === null ? null : `${op.table}/${op.rowId}/${op.subkey}`, data: op.data, checksum: op.checksum };
}

/** Expected checksums of every bucket at a checkpoint, from storage (bucket_state − ops past it). */
export async function expectedChecksums(reader: PgBucketReader, storage: pg.Pool, versionId: number, checkpoint: bigint): Promise<{ buckets: string[]; sums: Map<string, number> }> {
  const { rows } = await storage.query<{ bucket: string }>('SELECT bucket FROM syncline.bucket_state WHERE version_id = $1', [versionId]);
  const buckets = rows.map((r) => r.bucket);
  const m = await reader.getChecksums(versionId, buckets, checkpoint);
  return { buckets, sums: new Map([...m].map(([b, c]) => [b, c.checksum])) };
}

/** Client rows keyed like the oracle (`table/id`), per bucket. */
export function clientRowsLikeOracle(c: StorageClient): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [b, rows] of c.rows()) out.set(b, new Map([...rows].map(([k, v]) => [k.split('/').slice(0, 2).join('/'), v!])));
  return out;
}

/** bucket_state agrees with the op-log: checksum sum, op count and bytes. */
export async function expectBucketStateExact(storage: pg.Pool, versionId: number): Promise<void> {
  const { rows } = await storage.query<{ bucket: string; s_sum: string; s_count: string; s_bytes: string; d_sum: string | null; d_count: string; d_bytes: string | null }>(
    `SELECT s.bucket, s.checksum::text AS s_sum, s.op_count::text AS s_count, s.bytes::text AS s_bytes,
            (sum(d.checksum) % 4294967296)::text AS d_sum, count(d.op_id)::text AS d_count, sum(coalesce(length(d.data), 0))::text AS d_bytes
       FROM syncline.bucket_state s LEFT JOIN syncline.bucket_data d ON d.version_id = s.version_id AND d.bucket = s.bucket
      WHERE s.version_id = $1 GROUP BY s.bucket, s.checksum, s.op_count, s.bytes`,
    [versionId],
  );
  for (const r of rows) {
    expect({ bucket: r.bucket, sum: r.s_sum, count: r.s_count, bytes: r.s_bytes }).toEqual({ bucket: r.bucket, sum: r.d_sum ?? '0', count: r.d_count, bytes: r.d_bytes ?? '0' });
  }
}
