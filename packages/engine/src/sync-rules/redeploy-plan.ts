/**
 * What a redeploy changes, per stream / bucket definition and per source table: the first step of
 * incremental reprocessing. A table read only by streams and definitions that did not change
 * evaluates every row exactly as before (apart from the `<version>#` bucket prefix), so its
 * snapshot could be reused instead of read again from the source; a table read by a changed or
 * added stream must be snapshotted.
 *
 * Today every deploy still snapshots every table (a version owns its slot, storage rows and
 * `<version>#` bucket ids, so nothing is shared across versions yet); this plan is reported with
 * each deploy so operators see what a reuse would save, and is the input a reuse will need.
 *
 * A stream or definition counts as changed when its YAML value differs, or when anything it may
 * depend on differs: the `config` block and the global `with` CTEs change all of them.
 */
import { isMap, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';
import { compileSyncRules } from './compile.ts';

export interface RedeployPlan {
  /** Streams and definitions that are new, removed, changed or unchanged, by name. */
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  /** Every table the new rules read (`schema.table`, wildcards as written), with what it needs. */
  tables: Array<{ table: string; snapshot: 'required' | 'reusable'; readBy: string[] }>;
}

interface Entry {
  kind: 'stream' | 'definition';
  /** Canonical JSON of the entry's YAML value (comments and formatting do not count). */
  canonical: string;
  /** The entry alone as a YAML document (with `config` and global `with`), for per-entry table lists. */
  alone: string;
}

function entries(yamlText: string): { entries: Map<string, Entry>; shared: string } {
  const doc = parseDocument(yamlText);
  const out = new Map<string, Entry>();
  const root = doc.contents;
  if (!isMap(root)) return { entries: out, shared: '' };
  const top = new Map<string, unknown>();
  for (const pair of (root as YAMLMap<unknown, unknown>).items) {
    if (isScalar(pair.key)) top.set(String(pair.key.value), (pair as Pair<unknown, { toJSON?: () => unknown }>).value);
  }
  const json = (v: unknown) => JSON.stringify((v as { toJSON?: () => unknown } | null)?.toJSON?.() ?? v ?? null);
  const shared = `${json(top.get('config'))}\u0000${json(top.get('with'))}`;
  const prefix: Record<string, unknown> = {};
  if (top.has('config')) prefix['config'] = (top.get('config') as { toJSON: () => unknown }).toJSON();
  if (top.has('with')) prefix['with'] = (top.get('with') as { toJSON: () => unknown }).toJSON();
  for (const [section, kind] of [
    ['streams', 'stream'],
    ['bucket_definitions', 'definition'],
  ] as const) {
    const node = top.get(section);
    if (!isMap(node)) continue;
    for (const pair of (node as YAMLMap<unknown, unknown>).items) {
      if (!isScalar(pair.key)) continue;
      const name = String(pair.key.value);
      const value = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? pair.value;
      out.set(name, { kind, canonical: JSON.stringify(value), alone: JSON.stringify({ ...prefix, [section]: { [name]: value } }) });
    }
  }
  return { entries: out, shared };
}

/** Tables one entry reads, compiled on its own (JSON is valid YAML); null when it does not compile. */
function tablesOf(entry: Entry): string[] | null {
  const { rules } = compileSyncRules(entry.alone, { versionId: 0 });
  return rules ? rules.sourceTables().map((t) => `${t.schema}.${t.tablePattern}${t.isWildcard ? '%' : ''}`) : null;
}

/** Compares the active rules with a candidate; pure, no I/O. `activeYaml` null = first deploy. */
export function planRedeploy(activeYaml: string | null, candidateYaml: string): RedeployPlan {
  const before = activeYaml === null ? { entries: new Map<string, Entry>(), shared: '\u0001' } : entries(activeYaml);
  const after = entries(candidateYaml);
  const sharedChanged = before.shared !== after.shared;
  const plan: RedeployPlan = { added: [], removed: [], changed: [], unchanged: [], tables: [] };
  for (const [name, entry] of after.entries) {
    const old = before.entries.get(name);
    if (!old) plan.added.push(name);
    else if (sharedChanged || old.kind !== entry.kind || old.canonical !== entry.canonical) plan.changed.push(name);
    else plan.unchanged.push(name);
  }
  for (const name of before.entries.keys()) if (!after.entries.has(name)) plan.removed.push(name);

  const dirty = new Set([...plan.added, ...plan.changed]);
  const tables = new Map<string, { required: boolean; readBy: string[] }>();
  const read = [...after.entries].map(([name, entry]) => ({ name, tables: tablesOf(entry) }));
  // An entry that only compiles together with the others: nothing can be known to be reusable.
  if (read.some((r) => r.tables === null)) for (const r of read) dirty.add(r.name);
  for (const { name, tables: list } of read) {
    for (const table of list ?? []) {
      const t = tables.get(table) ?? { required: false, readBy: [] };
      t.readBy.push(name);
      if (dirty.has(name)) t.required = true;
      tables.set(table, t);
    }
  }
  plan.tables = [...tables.entries()].map(([table, t]) => ({ table, snapshot: t.required ? 'required' : 'reusable', readBy: t.readBy }));
  return plan;
}
