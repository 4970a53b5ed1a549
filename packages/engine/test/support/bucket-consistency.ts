/**
 * Consistency oracle for tests: reduces the stored op-log per bucket (the way clients do) and
 * compares it with the buckets obtained by evaluating the sync rules over the current source rows;
 * also checks that bucket_state checksums equal the op-log sums, and that every stored subkey is
 * the opaque subkey of its source row (none on MOVE/CLEAR or without a salt).
 */
import type pg from 'pg';
import { compileSyncRules, describeMatchingTables, getSubkeySalt, pgTextToSqlite } from '@syncline/engine';
import { opaqueSubkey } from '../../src/replication/opaque-subkey.ts';

export interface ConsistencyReport {
  expected: Map<string, Map<string, string>>;
  actual: Map<string, Map<string, string>>;
  problems: string[];
}

const RAW = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export async function checkBucketConsistency(source: pg.Pool, storage: pg.Pool, versionId: number, checkpoint?: bigint): Promise<ConsistencyReport> {
  const { rows: vrows } = await storage.query<{ content: string; last_checkpoint: string }>(
    'SELECT content, last_checkpoint FROM syncline.sync_rules_versions WHERE id = $1',
    [versionId],
  );
  const { rules } = compileSyncRules(vrows[0]!.content, { versionId });
  if (!rules) throw new Error('rules do not compile');
  const upTo = checkpoint ?? BigInt(vrows[0]!.last_checkpoint);

  const expected = new Map<string, Map<string, string>>();
  const client = await source.connect();
  try {
    for (const t of await describeMatchingTables(client, rules.sourceTables())) {
      const res = await client.query({ text: `SELECT * FROM "${t.schema}"."${t.name}"`, types: RAW });
      const types = new Map(res.fields.map((f) => [f.name, f.dataTypeID]));
      for (const raw of res.rows as Record<string, string | null>[]) {
        const row: Record<string, ReturnType<typeof pgTextToSqlite>> = {};
        for (const [k, v] of Object.entries(raw)) row[k] = pgTextToSqlite(v, types.get(k)!, rules.valueOptions);
        for (const out of rules.evaluateRow({ schema: t.schema, name: t.name }, row)) {
          const m = expected.get(out.bucket) ?? new Map<string, string>();
          m.set(`${out.table}/${out.id}`, out.data);
          expected.set(out.bucket, m);
        }
      }
    }
  } finally {
    client.release();
  }

  const actual = new Map<string, Map<string, string>>();
  const sums = new Map<string, number>();
  const { rows: ops } = await storage.query<{ bucket: string; op_id: string; op: number; table_name: string; row_id: string; data: string; checksum: string; source_table: number | null; source_key: string | null; subkey: string | null }>(
    'SELECT bucket, op_id, op, table_name, row_id, data, checksum, source_table, source_key, subkey FROM syncline.bucket_data WHERE version_id = $1 AND op_id <= $2 ORDER BY bucket, op_id',
    [versionId, upTo.toString()],
  );
  const problems: string[] = [];
  const salt = await getSubkeySalt(storage, versionId);
  for (const op of ops) {
    const subkey = salt === null || op.source_table === null || op.source_key === null ? null : opaqueSubkey(salt, op.source_table, op.source_key);
    if (op.subkey !== subkey) problems.push(`${op.bucket} op ${op.op_id}: stored subkey ${op.subkey}, expected ${subkey}`);
    const m = actual.get(op.bucket) ?? new Map<string, string>();
    actual.set(op.bucket, m);
    sums.set(op.bucket, ((sums.get(op.bucket) ?? 0) + Number(op.checksum)) % 4294967296);
    if (op.op === 1) m.set(`${op.table_name}/${op.row_id}`, op.data);
    else if (op.op === 2) m.delete(`${op.table_name}/${op.row_id}`);
    else if (op.op === 4) m.clear();
  }
  const buckets = new Set([...expected.keys(), ...actual.keys()]);
  for (const b of buckets) {
    const e = expected.get(b) ?? new Map();
    const a = actual.get(b) ?? new Map();
    for (const [k, v] of e) if (a.get(k) !== v) problems.push(`${b} ${k}: expected ${v}, stored ${a.get(k) ?? '(missing)'}`);
    for (const k of a.keys()) if (!e.has(k)) problems.push(`${b} ${k}: stored but not expected`);
  }
  const { rows: states } = await storage.query<{ bucket: string; checksum: string; last_op: string }>(
    'SELECT bucket, checksum, last_op FROM syncline.bucket_state WHERE version_id = $1',
    [versionId],
  );
  for (const s of states) {
    if (BigInt(s.last_op) > upTo) continue;
    if (Number(s.checksum) !== (sums.get(s.bucket) ?? 0)) problems.push(`${s.bucket}: bucket_state checksum ${s.checksum} ≠ op-log sum ${sums.get(s.bucket) ?? 0}`);
  }
  return { expected, actual, problems };
}
