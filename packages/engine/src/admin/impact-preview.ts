/**
 * Impact preview before a deploy: evaluates the candidate rules and the active ones over the
 * current source rows and reports, per bucket definition / stream, how many buckets and rows each
 * produces; and, for sample users with sample stream subscriptions, which buckets and rows each
 * would sync per stream (their parameter lookups answered from an in-memory parameter index built
 * from the same rows, so candidate rules need no deploy). Big tables are sampled (the first
 * `rowLimitPerTable` rows); the result says which were.
 */
import { ServiceError, stringifyLosslessJson, type LosslessJsonValue } from '@syncline/protocol';
import { compileSyncRules, type SqliteRow, type SyncRules, type SyncRulesIssue } from '../sync-rules/index.ts';
import { getServingVersion } from '../storage/pg-versions.ts';
import type { AdminDeps } from './admin-deps.ts';
import { readRows, tablesForRules, toSqliteRow } from './source-rows.ts';
import { rulesOutline, streamOfBucket } from './sync-rules-text.ts';
import { reasonLabel, resolveWith, subscriptionResults, type ReasonLabel, type SubscriptionResult, type UserRequest } from './user-inspection.ts';

export interface DefinitionImpact {
  /** Bucket definition or stream name. */
  definition: string;
  kind: 'definition' | 'stream';
  /** Candidate's setting (active's when removed): synced without an explicit subscription. */
  autoSubscribe: boolean;
  status: 'added' | 'removed' | 'changed' | 'unchanged';
  active: { buckets: number; rows: number } | null;
  candidate: { buckets: number; rows: number } | null;
}

export interface TableScan {
  schema: string;
  name: string;
  scannedRows: number;
  estimatedRows: number;
  sampled: boolean;
}

export interface ImpactPreview {
  activeVersionId: number | null;
  definitions: DefinitionImpact[];
  tables: TableScan[];
  /** True when any table was only partly read: counts are lower bounds for those tables. */
  sampled: boolean;
  rowLimitPerTable: number;
  issues: SyncRulesIssue[];
  /** Per sample user: per stream, the buckets and rows they would sync (candidate vs active). */
  users: UserImpact[];
}

export interface StreamCounts {
  buckets: number;
  rows: number;
}

export interface UserStreamImpact {
  stream: string;
  active: StreamCounts | null;
  candidate: StreamCounts | null;
  /** Candidate's reasons for this stream's buckets (`default` / `sub i`). */
  reasons: ReasonLabel[];
}

export interface UserImpact {
  userId: string;
  streams: UserStreamImpact[];
  /** Candidate: what each explicit subscription yields (buckets, priority, errors). */
  subscriptions: SubscriptionResult[];
  /** Set when the user would be refused (too many buckets / parameter rows). */
  candidateError: string | null;
  activeError: string | null;
}

/** At most this many sample users per preview (each resolves against both rule sets). */
export const MAX_SAMPLE_USERS = 20;

interface Tally {
  buckets: Set<string>;
  rows: number;
}

interface RuleSet {
  rules: SyncRules;
  tally: Map<string, Tally>;
  /** Rows per bucket (for sample users). */
  bucketRows: Map<string, number>;
  /** In-memory parameter index: lookup key → JSON arrays of bucket parameter rows. */
  parameters: Map<string, string[]>;
}

function tallyFor(map: Map<string, Tally>, def: string): Tally {
  let t = map.get(def);
  if (!t) map.set(def, (t = { buckets: new Set(), rows: 0 }));
  return t;
}

/** Definition or stream name of a bucket id (`<v>#name[...]`, `<v>#stream|0[...]` or `name[...]`). */
export const definitionOfBucket = streamOfBucket;

export async function previewImpact(deps: AdminDeps, candidateYaml: string, opts: { rowLimitPerTable?: number; users?: UserRequest[] } = {}): Promise<ImpactPreview> {
  const users = opts.users ?? [];
  if (users.length > MAX_SAMPLE_USERS) throw new ServiceError('BAD_REQUEST', `At most ${MAX_SAMPLE_USERS} sample users per preview; remove some.`);
  const rowLimit = Math.min(Math.max(opts.rowLimitPerTable ?? 20_000, 100), 1_000_000);
  const active = await getServingVersion(deps.storage);
  const compiled = compileSyncRules(candidateYaml, { versionId: active ? active.id + 1 : 1 });
  if (!compiled.rules) {
    throw new ServiceError('SYNC_RULES_INVALID', 'The candidate sync rules are invalid; fix the errors before previewing.', compiled.issues);
  }
  const candidate = compiled.rules;
  const activeRules = active ? compileSyncRules(active.content, { versionId: active.id }).rules : null;
  const newSet = (rules: SyncRules): RuleSet => ({ rules, tally: new Map(), bucketRows: new Map(), parameters: new Map() });
  const sets: RuleSet[] = [newSet(candidate)];
  if (activeRules) sets.push(newSet(activeRules));
  const outlines = [rulesOutline(candidateYaml), active ? rulesOutline(active.content) : null];
  sets.forEach((s, i) => {
    for (const d of s.rules.definitions) tallyFor(s.tally, d.name);
    for (const d of outlines[i]?.definitions ?? []) tallyFor(s.tally, d.name);
  });

  const tables = await tablesForRules(deps.source, sets.map((s) => s.rules));
  const scans: TableScan[] = [];
  for (const t of tables) {
    const batch = await readRows(deps.source, t, rowLimit);
    const ref = { schema: t.schema, name: t.name };
    for (const s of sets) {
      const matches = s.rules.tableMatches(ref);
      if (!matches.data && !(matches.parameters && users.length > 0)) continue;
      for (const raw of batch.rows) {
        const row = toSqliteRow(s.rules, raw, batch.types);
        if (matches.data) {
          for (const out of s.rules.evaluateRow(ref, row)) {
            const tally = tallyFor(s.tally, streamOfBucket(out.bucket));
            tally.buckets.add(out.bucket);
            tally.rows++;
            s.bucketRows.set(out.bucket, (s.bucketRows.get(out.bucket) ?? 0) + 1);
          }
        }
        if (matches.parameters && users.length > 0) {
          for (const p of s.rules.evaluateParameterRow(ref, row)) {
            if (p.bucketParameters.length === 0) continue;
            const list = s.parameters.get(p.lookup.key) ?? [];
            list.push(stringifyRows(p.bucketParameters));
            s.parameters.set(p.lookup.key, list);
          }
        }
      }
    }
    const sampled = batch.rows.length >= rowLimit;
    scans.push({ schema: t.schema, name: t.name, scannedRows: batch.rows.length, estimatedRows: Math.max(t.estimatedRows, batch.rows.length), sampled });
  }

  const userImpacts: UserImpact[] = [];
  for (const u of users) userImpacts.push(await userImpact(u, sets[0]!, sets[1] ?? null));

  const kinds = new Map<string, { kind: DefinitionImpact['kind']; autoSubscribe: boolean }>();
  for (const o of [outlines[1], outlines[0]]) for (const d of o?.definitions ?? []) kinds.set(d.name, { kind: d.kind, autoSubscribe: d.autoSubscribe });
  const cand = sets[0]!.tally;
  const act = sets[1]?.tally ?? new Map<string, Tally>();
  const names = [...new Set([...cand.keys(), ...act.keys()])].sort();
  const definitions = names.map((name): DefinitionImpact => {
    const c = cand.get(name);
    const a = act.get(name);
    const cs = c ? { buckets: c.buckets.size, rows: c.rows } : null;
    const as = a ? { buckets: a.buckets.size, rows: a.rows } : null;
    let status: DefinitionImpact['status'] = 'unchanged';
    if (!as) status = 'added';
    else if (!cs) status = 'removed';
    else if (cs.buckets !== as.buckets || cs.rows !== as.rows) status = 'changed';
    const k = kinds.get(name) ?? { kind: 'definition' as const, autoSubscribe: true };
    return { definition: name, kind: k.kind, autoSubscribe: k.autoSubscribe, status, active: as, candidate: cs };
  });
  return {
    activeVersionId: active?.id ?? null,
    definitions,
    tables: scans,
    sampled: scans.some((s) => s.sampled),
    rowLimitPerTable: rowLimit,
    issues: compiled.issues,
    users: userImpacts,
  };
}

/** As storage writes parameter rows (lossless; read back like the sync endpoint does). */
function stringifyRows(rows: SqliteRow[]): string {
  return stringifyLosslessJson(rows as unknown as LosslessJsonValue);
}

async function userImpact(req: UserRequest, candidate: RuleSet, active: RuleSet | null): Promise<UserImpact> {
  const resolveIn = (s: RuleSet) => resolveWith(s.rules, req, async (keys) => new Map(keys.map((k) => [k, s.parameters.get(k) ?? []])));
  const c = await resolveIn(candidate);
  const a = active ? await resolveIn(active) : null;
  const count = (s: RuleSet, buckets: Array<{ bucket: string }>) => {
    const m = new Map<string, StreamCounts>();
    for (const b of buckets) {
      const name = streamOfBucket(b.bucket);
      const t = m.get(name) ?? { buckets: 0, rows: 0 };
      t.buckets++;
      t.rows += s.bucketRows.get(b.bucket) ?? 0;
      m.set(name, t);
    }
    return m;
  };
  const cc = count(candidate, c.buckets);
  const ac = a && active ? count(active, a.buckets) : new Map<string, StreamCounts>();
  const names = [...new Set([...c.streams.map((s) => s.name), ...cc.keys(), ...(a?.streams.map((s) => s.name) ?? []), ...ac.keys()])];
  const streams = names.map((stream): UserStreamImpact => {
    const reasons = [...new Set(c.buckets.filter((b) => streamOfBucket(b.bucket) === stream).flatMap((b) => b.reasons.map(reasonLabel)))];
    const inCand = c.streams.some((s) => s.name === stream) || cc.has(stream);
    const inAct = a !== null && (a.streams.some((s) => s.name === stream) || ac.has(stream));
    return { stream, candidate: inCand ? (cc.get(stream) ?? { buckets: 0, rows: 0 }) : null, active: inAct ? (ac.get(stream) ?? { buckets: 0, rows: 0 }) : null, reasons };
  });
  return { userId: req.userId, streams, subscriptions: subscriptionResults(req, c).subscriptions, candidateError: c.error, activeError: a?.error ?? null };
}
