/**
 * A source row's bucket memberships (as stored in current_data and as the rules evaluate it now),
 * and "why is row R (not) in user U's buckets" for a request with stream subscriptions: the user's
 * parameter lookups and their results, the buckets the row lands in, the lookups the row itself
 * feeds (JOIN / subquery side), and a verdict per bucket definition and stream (row-verdict.ts).
 */
import { parseBucketId, ServiceError } from '@syncline/protocol';
import { describeTable, type SourceTableDescription } from '../replication/source-catalog.ts';
import { idText, loadVersion, type AdminDeps } from './admin-deps.ts';
import { readRowByKey, toSqliteRow } from './source-rows.ts';
import { findLiveSourceTableId, getStoredRowState } from '../storage/pg-source-tables.ts';
import { streamVerdict, type DefinitionExplanation, type FedLookup } from './row-verdict.ts';
import { rulesOutline, streamOfBucket } from './sync-rules-text.ts';
import { jsonRow, jsonValue, reasonLabel, resolveUserBuckets, subscriptionResults, type SubscriptionResult, type UserRequest } from './user-inspection.ts';

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
  return { bucket, definition: streamOfBucket(bucket), table, id, parameters };
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

export type { DefinitionExplanation, FedLookup, Verdict } from './row-verdict.ts';

export interface RowExplanation {
  versionId: number;
  checkpoint: string | null;
  userId: string;
  /** True when some bucket of the user contains the row (per the rules evaluated now). */
  visible: boolean;
  /** True when replication's stored memberships agree with the rules evaluated now. */
  storedAgrees: boolean | null;
  memberships: RowMemberships;
  /** One per bucket definition and stream (config order), with a verdict each. */
  definitions: DefinitionExplanation[];
  /** What the user's explicit subscriptions yield (buckets, priority, errors). */
  subscriptions: SubscriptionResult[];
  /** Parameter-index entries this row produces, marked when the user's resolution read them. */
  rowFeeds: FedLookup[];
  userError: string | null;
}

/** Stream of a lookup: the querier's `definition`, else the key's first `|` segment. */
function lookupStream(l: { key: string; definition?: string | null | undefined }): string | null {
  if (l.definition) return l.definition;
  const i = l.key.indexOf('|');
  return i > 0 ? l.key.slice(0, i) : null;
}

export async function explainRow(deps: AdminDeps, req: UserRequest & RowRef): Promise<RowExplanation> {
  const { version, rules } = await loadVersion(deps, req.versionId);
  const memberships = await rowMemberships(deps, { ...req, versionId: version.id });
  const user = await resolveUserBuckets(deps, rules, version.id, version.lastCheckpoint, req);
  const { subscriptions, defaults } = subscriptionResults(req, user);
  const outline = rulesOutline(version.content).definitions;
  const read = new Set([...user.readLookups, ...user.lookups.map((l) => l.key)]);
  const lookupOwner = new Map(user.lookups.map((l) => [l.key, lookupStream(l)]));
  const rowFeeds: FedLookup[] = memberships.parameterEntries.map((p) => ({
    lookup: p.lookup,
    stream: lookupOwner.get(p.lookup) ?? lookupStream({ key: p.lookup }),
    bucketParameters: p.bucketParameters,
    readByUser: read.has(p.lookup),
  }));

  // Every definition and stream: compiled ones, the YAML's, and any name a bucket or the querier mentions.
  const names: string[] = [];
  const add = (n: string) => {
    if (!names.includes(n)) names.push(n);
  };
  for (const d of rules.definitions) add(d.name);
  for (const d of outline) add(d.name);
  for (const s of user.streams) add(s.name);
  for (const b of memberships.evaluated) add(b.definition);
  for (const b of user.buckets) add(streamOfBucket(b.bucket));

  const owned = (owner: string | null, name: string) => owner === name || owner === null || !names.includes(owner);
  const definitions = names.map((name) => {
    const o = outline.find((d) => d.name === name) ?? null;
    const described = user.streams.find((s) => s.name === name);
    return streamVerdict({
      name,
      kind: o?.kind ?? 'definition',
      autoSubscribe: o ? o.autoSubscribe : (described?.isDefault ?? true),
      queries: o,
      rowExists: memberships.row !== null,
      tableName: memberships.table.name,
      includeDefaults: req.includeDefaults ?? true,
      rowBuckets: memberships.evaluated.filter((b) => b.definition === name),
      userBuckets: user.buckets
        .filter((b) => streamOfBucket(b.bucket) === name)
        .map((b) => ({ bucket: b.bucket, parameters: toRowBucket(b.bucket, '', '').parameters, priority: b.priority, reasons: b.reasons.map(reasonLabel) })),
      subscriptions: subscriptions.filter((s) => s.stream === name),
      defaultErrors: defaults.find((d) => d.stream === name)?.errors ?? [],
      // Lookups shared between streams (or keyed without a stream name) are listed under every stream.
      lookups: user.lookups.filter((l) => owned(lookupStream(l), name)),
      rowFeeds: rowFeeds.filter((f) => owned(f.stream, name)),
    });
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
    subscriptions,
    rowFeeds,
    userError: user.error,
  };
}
