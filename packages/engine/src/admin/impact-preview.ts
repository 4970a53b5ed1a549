/**
 * Impact preview before a deploy: evaluates the candidate rules and the active ones over the
 * current source rows and reports, per bucket definition, how many buckets and rows each produces.
 * Big tables are sampled (the first `rowLimitPerTable` rows); the result says which were.
 */
import { ServiceError } from '@syncline/protocol';
import { compileSyncRules, type SyncRules, type SyncRulesIssue } from '../sync-rules/index.ts';
import { getServingVersion } from '../storage/pg-versions.ts';
import type { AdminDeps } from './admin-deps.ts';
import { readRows, tablesForRules, toSqliteRow } from './source-rows.ts';

export interface DefinitionImpact {
  definition: string;
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
}

interface Tally {
  buckets: Set<string>;
  rows: number;
}

function tallyFor(map: Map<string, Tally>, def: string): Tally {
  let t = map.get(def);
  if (!t) map.set(def, (t = { buckets: new Set(), rows: 0 }));
  return t;
}

/** Definition name of a bucket id (`<v>#name[...]` or `name[...]`). */
export function definitionOfBucket(bucket: string): string {
  const hash = /^\d+#/.exec(bucket);
  const rest = hash ? bucket.slice(hash[0].length) : bucket;
  const i = rest.indexOf('[');
  return i < 0 ? rest : rest.slice(0, i);
}

export async function previewImpact(deps: AdminDeps, candidateYaml: string, opts: { rowLimitPerTable?: number } = {}): Promise<ImpactPreview> {
  const rowLimit = Math.min(Math.max(opts.rowLimitPerTable ?? 20_000, 100), 1_000_000);
  const active = await getServingVersion(deps.storage);
  const compiled = compileSyncRules(candidateYaml, { versionId: active ? active.id + 1 : 1 });
  if (!compiled.rules) {
    throw new ServiceError('SYNC_RULES_INVALID', 'The candidate sync rules are invalid; fix the errors before previewing.', compiled.issues);
  }
  const candidate = compiled.rules;
  const activeRules = active ? compileSyncRules(active.content, { versionId: active.id }).rules : null;
  const sets: Array<{ rules: SyncRules; tally: Map<string, Tally> }> = [{ rules: candidate, tally: new Map() }];
  if (activeRules) sets.push({ rules: activeRules, tally: new Map() });
  for (const s of sets) for (const d of s.rules.definitions) tallyFor(s.tally, d.name);

  const tables = await tablesForRules(deps.source, sets.map((s) => s.rules));
  const scans: TableScan[] = [];
  for (const t of tables) {
    const batch = await readRows(deps.source, t, rowLimit);
    const ref = { schema: t.schema, name: t.name };
    for (const s of sets) {
      if (!s.rules.tableMatches(ref).data) continue;
      for (const raw of batch.rows) {
        for (const out of s.rules.evaluateRow(ref, toSqliteRow(s.rules, raw, batch.types))) {
          const tally = tallyFor(s.tally, definitionOfBucket(out.bucket));
          tally.buckets.add(out.bucket);
          tally.rows++;
        }
      }
    }
    const sampled = batch.rows.length >= rowLimit;
    scans.push({ schema: t.schema, name: t.name, scannedRows: batch.rows.length, estimatedRows: Math.max(t.estimatedRows, batch.rows.length), sampled });
  }

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
    return { definition: name, status, active: as, candidate: cs };
  });
  return {
    activeVersionId: active?.id ?? null,
    definitions,
    tables: scans,
    sampled: scans.some((s) => s.sampled),
    rowLimitPerTable: rowLimit,
    issues: compiled.issues,
  };
}
