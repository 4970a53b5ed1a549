/**
 * The SQL text of each bucket definition (parameter and data queries) and of each Sync Stream
 * (`query`/`queries`, stream-local and global `with` CTEs), plus the stream settings
 * (auto_subscribe, priority) and the edition, read from the YAML so the console can show operators
 * the exact queries it evaluated and what each version syncs. Pure; tolerant of invalid YAML
 * (returns what it can read).
 */
import { parse } from 'yaml';

export interface CommonTableExpression {
  name: string;
  sql: string;
  /** `global`: top-level `with`; `stream`: the stream's own `with` (shadows a global one). */
  scope: 'global' | 'stream';
}

export interface DefinitionQueries {
  name: string;
  /** `definition`: a legacy bucket definition (a default stream); `stream`: an entry of `streams:`. */
  kind: 'definition' | 'stream';
  /** Parameter queries (bucket definitions only). */
  parameters: string[];
  /** Data queries of a definition, or the stream's `query` / `queries`. */
  data: string[];
  /** CTEs the stream can use: its own, then the global ones it does not shadow. Empty for definitions. */
  with: CommonTableExpression[];
  /** Synced without an explicit subscription (`auto_subscribe: true`; always true for definitions). */
  autoSubscribe: boolean;
  /** Declared priority (null = default 3). */
  priority: number | null;
}

export interface RulesOutline {
  /** `config.edition` (1 when absent or unreadable). */
  edition: number;
  definitions: DefinitionQueries[];
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function asCtes(v: unknown, scope: CommonTableExpression['scope']): CommonTableExpression[] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([name, sql]) => ({ name, sql, scope }));
}

function asPriority(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

function entries(v: unknown): Array<[string, Record<string, unknown>]> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).map(([k, d]) => [k, d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : {}]);
}

/** Edition, bucket definitions and streams of a sync-rules YAML, in file order (definitions first). */
export function rulesOutline(yaml: string): RulesOutline {
  let doc: unknown;
  try {
    doc = parse(yaml);
  } catch {
    return { edition: 1, definitions: [] };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { edition: 1, definitions: [] };
  const top = doc as Record<string, unknown>;
  const config = top.config && typeof top.config === 'object' ? (top.config as Record<string, unknown>) : {};
  const edition = typeof config.edition === 'number' ? config.edition : 1;
  const globalWith = asCtes(top.with, 'global');
  const defs = entries(top.bucket_definitions).map(([name, d]): DefinitionQueries => ({
    name,
    kind: 'definition',
    parameters: asList(d.parameters),
    data: asList(d.data),
    with: [],
    autoSubscribe: true,
    priority: asPriority(d.priority),
  }));
  const streams = entries(top.streams).map(([name, s]): DefinitionQueries => {
    const local = asCtes(s.with, 'stream');
    const shadowed = new Set(local.map((c) => c.name));
    return {
      name,
      kind: 'stream',
      parameters: [],
      data: [...asList(s.query), ...asList(s.queries)],
      with: [...local, ...globalWith.filter((c) => !shadowed.has(c.name))],
      autoSubscribe: s.auto_subscribe === true,
      priority: asPriority(s.priority),
    };
  });
  return { edition, definitions: [...defs, ...streams] };
}

/** SQL text per bucket definition and per stream (see {@link rulesOutline}). */
export function definitionQueries(yaml: string): DefinitionQueries[] {
  return rulesOutline(yaml).definitions;
}

/**
 * Stream (or definition) name of a bucket id: `3#todos|0["a"]` → `todos`, `3#by_user["u1"]` →
 * `by_user`, `by_user["u1"]` → `by_user`.
 */
export function streamOfBucket(bucket: string): string {
  const hash = /^\d+#/.exec(bucket);
  const rest = hash ? bucket.slice(hash[0].length) : bucket;
  const bracket = rest.indexOf('[');
  const name = bracket < 0 ? rest : rest.slice(0, bracket);
  const variant = /\|\d+$/.exec(name);
  return variant ? name.slice(0, variant.index) : name;
}

/** What a version syncs, for history and diff: edition, then each definition / stream's settings. */
export interface StreamOutline {
  edition: number;
  streams: Array<{ name: string; kind: DefinitionQueries['kind']; autoSubscribe: boolean; priority: number | null; queries: number }>;
}

export function streamOutline(yaml: string): StreamOutline {
  const o = rulesOutline(yaml);
  return {
    edition: o.edition,
    streams: o.definitions.map((d) => ({ name: d.name, kind: d.kind, autoSubscribe: d.autoSubscribe, priority: d.priority, queries: d.parameters.length + d.data.length })),
  };
}

export interface StreamChange {
  name: string;
  kind: DefinitionQueries['kind'];
  status: 'added' | 'removed' | 'changed' | 'unchanged';
  /** Human-readable differences, e.g. `auto_subscribe false → true`, `query changed`. */
  changes: string[];
}

/** Per definition / stream: added, removed, or what changed (settings, SQL, CTEs) from `a` to `b`. */
export function streamChanges(a: string, b: string): StreamChange[] {
  const from = rulesOutline(a).definitions;
  const to = rulesOutline(b).definitions;
  const out: StreamChange[] = [];
  for (const d of to) {
    const old = from.find((x) => x.name === d.name);
    if (!old) {
      out.push({ name: d.name, kind: d.kind, status: 'added', changes: [] });
      continue;
    }
    const changes: string[] = [];
    if (old.kind !== d.kind) changes.push(`${old.kind} → ${d.kind}`);
    if (old.autoSubscribe !== d.autoSubscribe) changes.push(`auto_subscribe ${old.autoSubscribe} → ${d.autoSubscribe}`);
    if (old.priority !== d.priority) changes.push(`priority ${old.priority ?? 'default'} → ${d.priority ?? 'default'}`);
    if (JSON.stringify(old.parameters) !== JSON.stringify(d.parameters)) changes.push('parameter queries changed');
    if (JSON.stringify(old.data) !== JSON.stringify(d.data)) changes.push(d.kind === 'stream' ? 'query changed' : 'data queries changed');
    if (JSON.stringify(old.with) !== JSON.stringify(d.with)) changes.push('with (CTEs) changed');
    out.push({ name: d.name, kind: d.kind, status: changes.length ? 'changed' : 'unchanged', changes });
  }
  for (const d of from) if (!to.some((x) => x.name === d.name)) out.push({ name: d.name, kind: d.kind, status: 'removed', changes: [] });
  return out;
}
