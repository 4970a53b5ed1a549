/**
 * A source row's bucket memberships (as stored in current_data and as the rules evaluate it now),
 * and "why is row R (not) in user U's buckets": the user's parameter lookups and their results,
 * the buckets the row's data queries produce, and a verdict per bucket definition.
 */
import { parseBucketId, ServiceError } from '@syncline/protocol';
import { describeTable, type SourceTableDescription } from '../replication/source-catalog.ts';
import { idText, loadVersion, type AdminDeps } from './admin-deps.ts';
import { definitionOfBucket } from './impact-preview.ts';
import { readRowByKey, toSqliteRow } from './source-rows.ts';
import { findLiveSourceTableId, getStoredRowState } from '../storage/pg-source-tables.ts';
import { definitionQueries, type DefinitionQueries } from './sync-rules-text.ts';
import { jsonRow, jsonValue, resolveUserBuckets, type LookupResult, type UserRequest } from './user-inspection.ts';

export interface RowRef {
  versionId?: number | null;
  /** Source schema; default `public`. */
  schema?: string;
  /** Source table name. */
  table: string;
  /** Key value (single-column key) or a JSON array of key values (composite key). */
  id: string;
}

export interface RowBucket {
  bucket: string;
  definition: string;
  table: string;
  id: string;
  /** Bucket parameter values parsed from the bucket id (the data query's filter values). */
  parameters: unknown[];
}

export interface RowMemberships {
  versionId: number;
  table: { schema: string; name: string; sourceTableId: number | null; keyColumns: string[] };
  sourceKey: string;
  /** The source row now (null when it does not exist in the source). */
  row: Record<string, unknown> | null;
  /** What replication stored for the row (current_data); null when not stored. */
  stored: { buckets: RowBucket[]; lookups: string[] } | null;
  /** What the version's rules produce for the source row now. */
  evaluated: RowBucket[];
  /** Parameter-index entries the row produces (parameter queries on this table). */
  parameterEntries: Array<{ lookup: string; bucketParameters: unknown[] }>;
}

function toRowBucket(bucket: string, table: string, id: string): RowBucket {
  let parameters: unknown[] = [];
  try {
    parameters = parseBucketId(bucket).parameters.map(jsonValue);
  } catch {
    /* not a parameterised id */
  }
  return { bucket, definition: definitionOfBucket(bucket), table, id, parameters };
}

async function findTable(deps: AdminDeps, schema: string, name: string): Promise<SourceTableDescription> {
  const { rows } = await deps.source.query<{ oid: number }>(
    `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, name],
  );
  const d = rows[0] ? await describeTable(deps.source, rows[0].oid) : null;
  if (!d) throw new ServiceError('NOT_FOUND', `Source table ${schema}.${name} does not exist.`);
  return d;
}

function keyValues(t: SourceTableDescription, id: string): string[] {
  if (t.keyColumns.length <= 1) return [id];
  let parsed: unknown;
  try {
    parsed = JSON.parse(id);
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== t.keyColumns.length) {
    throw new ServiceError('BAD_REQUEST', `${t.schema}.${t.name} has a composite key (${t.keyColumns.map((c) => c.name).join(', ')}): pass the id as a JSON array of its values.`);
  }
  return parsed.map((v) => String(v));
}

export async function rowMemberships(deps: AdminDeps, ref: RowRef): Promise<RowMemberships> {
  const { version, rules } = await loadVersion(deps, ref.versionId);
  const schema = ref.schema || 'public';
  const t = await findTable(deps, schema, ref.table);
  const key = keyValues(t, ref.id);
  const sourceKey = JSON.stringify(key);
  const sourceTableId = await findLiveSourceTableId(deps.storage, version.id, t.relationOid);
  let stored: RowMemberships['stored'] = null;
  if (sourceTableId !== null) {
    const r = await getStoredRowState(deps.storage, version.id, sourceTableId, sourceKey);
    if (r) stored = { buckets: r.buckets.map(([b, tn, id]) => toRowBucket(b, tn, id)), lookups: r.lookups };
  }
  const batch = await readRowByKey(deps.source, t, key);
  const raw = batch?.rows[0];
  let row: Record<string, unknown> | null = null;
  let evaluated: RowBucket[] = [];
  let parameterEntries: RowMemberships['parameterEntries'] = [];
  if (raw && batch) {
    const sqlite = toSqliteRow(rules, raw, batch.types);
    const ref2 = { schema: t.schema, name: t.name };
    row = jsonRow(sqlite);
    evaluated = rules.evaluateRow(ref2, sqlite).map((o) => toRowBucket(o.bucket, o.table, o.id));
    parameterEntries = rules
      .evaluateParameterRow(ref2, sqlite)
      .map((p) => ({ lookup: p.lookup.key, bucketParameters: p.bucketParameters.map(jsonRow) }));
  }
  return {
    versionId: version.id,
    table: { schema: t.schema, name: t.name, sourceTableId, keyColumns: t.keyColumns.map((c) => c.name) },
    sourceKey,
    row,
    stored,
    evaluated,
    parameterEntries,
  };
}

export type Verdict = 'in-bucket' | 'no-bucket-for-row' | 'user-has-none' | 'different-parameters';

export interface DefinitionExplanation {
  definition: string;
  queries: DefinitionQueries | null;
  verdict: Verdict;
  message: string;
  rowBuckets: RowBucket[];
  userBuckets: Array<{ bucket: string; parameters: unknown[] }>;
  lookups: LookupResult[];
}

export interface RowExplanation {
  versionId: number;
  checkpoint: string | null;
  userId: string;
  /** True when some bucket of the user contains the row (per the rules evaluated now). */
  visible: boolean;
  /** True when replication's stored memberships agree with the rules evaluated now. */
  storedAgrees: boolean | null;
  memberships: RowMemberships;
  definitions: DefinitionExplanation[];
  userError: string | null;
}

const show = (v: unknown[]) => JSON.stringify(v);

export async function explainRow(deps: AdminDeps, req: UserRequest & RowRef): Promise<RowExplanation> {
  const { version, rules } = await loadVersion(deps, req.versionId);
  const memberships = await rowMemberships(deps, { ...req, versionId: version.id });
  const user = await resolveUserBuckets(deps, rules, version.id, version.lastCheckpoint, req);
  const userSet = new Set(user.buckets.map((b) => b.bucket));
  const texts = definitionQueries(version.content);
  const definitions = rules.definitions.map((d): DefinitionExplanation => {
    const rowBuckets = memberships.evaluated.filter((b) => b.definition === d.name);
    const userBuckets = user.buckets.filter((b) => b.definition === d.name).map((b) => toRowBucket(b.bucket, '', '')).map((b) => ({ bucket: b.bucket, parameters: b.parameters }));
    const lookups = user.lookups.filter((l) => l.definition === d.name || l.key.startsWith(`${d.name}|`));
    const hit = rowBuckets.filter((b) => userSet.has(b.bucket));
    let verdict: Verdict;
    let message: string;
    if (hit.length > 0) {
      verdict = 'in-bucket';
      message = `The row is in ${hit.map((b) => b.bucket).join(', ')}, which the user syncs.`;
    } else if (rowBuckets.length === 0) {
      verdict = 'no-bucket-for-row';
      message = memberships.row
        ? `No data query of "${d.name}" puts this row in a bucket: none selects from ${memberships.table.name}, or its WHERE filter found no bucket parameter value (e.g. the compared column is NULL or does not match).`
        : `The row does not exist in the source table, so no bucket contains it.`;
    } else if (userBuckets.length === 0) {
      verdict = 'user-has-none';
      message = `The row is in ${rowBuckets.map((b) => b.bucket).join(', ')}, but the user gets no bucket of "${d.name}"${lookups.length ? `: the parameter lookups returned ${lookups.map((l) => `${show(l.values)} → ${l.results.length} row(s)`).join('; ')}` : ' (its parameter queries produced nothing for this user)'}.`;
    } else {
      verdict = 'different-parameters';
      message = `The row is in bucket parameters ${rowBuckets.map((b) => show(b.parameters)).join(', ')}, but the user's "${d.name}" buckets have ${userBuckets.slice(0, 10).map((b) => show(b.parameters)).join(', ')}${userBuckets.length > 10 ? ` and ${userBuckets.length - 10} more` : ''}.`;
    }
    return { definition: d.name, queries: texts.find((t) => t.name === d.name) ?? null, verdict, message, rowBuckets, userBuckets, lookups };
  });
  const storedKeys = memberships.stored ? memberships.stored.buckets.map((b) => `${b.bucket}|${b.table}|${b.id}`).sort() : [];
  const evalKeys = memberships.evaluated.map((b) => `${b.bucket}|${b.table}|${b.id}`).sort();
  return {
    versionId: version.id,
    checkpoint: idText(version.lastCheckpoint),
    userId: req.userId,
    visible: definitions.some((d) => d.verdict === 'in-bucket'),
    storedAgrees: memberships.stored || memberships.row ? JSON.stringify(storedKeys) === JSON.stringify(evalKeys) : null,
    memberships,
    definitions,
    userError: user.error,
  };
}

