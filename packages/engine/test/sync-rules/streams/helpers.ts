import { compileSyncRules } from '../../../src/sync-rules/compile.ts';
import type { SyncRules } from '../../../src/sync-rules/sync-rules.ts';
import type { ParameterLookupSource, RequestParameters, SourceTableRef, SqliteRow, StreamsRequest, SyncRulesIssue } from '../../../src/sync-rules/types.ts';

export const table = (name: string, schema = 'public'): SourceTableRef => ({ schema, name });

/** Compiles an edition-3 config (prepends `config: { edition: 3 }` unless a config is given). */
export function streamsFrom(yaml: string, versionId = 1): SyncRules {
  const text = yaml.includes('config:') ? yaml : `config: { edition: 3 }\n${yaml}`;
  const { rules, issues } = compileSyncRules(text, { versionId });
  const fatal = issues.filter((i) => i.level === 'fatal');
  if (!rules || fatal.length) throw new Error(`Unexpected issues: ${JSON.stringify(issues, null, 2)}`);
  return rules;
}

export function issuesOf(yaml: string): SyncRulesIssue[] {
  return compileSyncRules(yaml, { versionId: 1 }).issues;
}

export function fatalMessages(yaml: string): string[] {
  return issuesOf(yaml)
    .filter((i) => i.level === 'fatal')
    .map((i) => i.message);
}

export function request(userId: string, extra: Partial<RequestParameters> = {}, streams?: StreamsRequest): RequestParameters {
  return { userId, jwtClaims: { sub: userId }, clientParameters: {}, ...extra, ...(streams ? { streams } : {}) };
}

export function subscribe(...subs: Array<[string, Record<string, unknown>?, (0 | 1 | 2 | 3 | null)?]>): StreamsRequest {
  return { includeDefaults: true, subscriptions: subs.map(([stream, parameters, p]) => ({ stream, parameters: parameters ?? {}, overridePriority: p ?? null })) };
}

/**
 * An in-memory parameter index fed through `evaluateParameterRow`, diffing lookups per source
 * row like storage does (keys a row no longer produces are dropped).
 */
export class MemoryIndex {
  private readonly byKey = new Map<string, Map<string, SqliteRow[]>>();
  private readonly keysOfRow = new Map<string, Set<string>>();
  reads = 0;

  constructor(private readonly rules: SyncRules) {}

  put(t: SourceTableRef, rowId: string, row: SqliteRow): void {
    const source = `${t.schema}.${t.name}/${rowId}`;
    const old = this.keysOfRow.get(source) ?? new Set<string>();
    const now = new Set<string>();
    for (const e of this.rules.evaluateParameterRow(t, row)) {
      now.add(e.lookup.key);
      let m = this.byKey.get(e.lookup.key);
      if (!m) this.byKey.set(e.lookup.key, (m = new Map()));
      if (e.bucketParameters.length > 0) m.set(source, e.bucketParameters);
      else m.delete(source);
    }
    for (const k of old) if (!now.has(k)) this.byKey.get(k)?.delete(source);
    this.keysOfRow.set(source, now);
  }

  readonly source: ParameterLookupSource = async (lookups) => {
    this.reads++;
    return lookups.map((l) => [...(this.byKey.get(l.key)?.values() ?? [])].flat());
  };
}

export const bucketIds = (buckets: Array<{ bucket: string }>): string[] => buckets.map((b) => b.bucket).sort();
