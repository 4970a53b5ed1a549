/**
 * "Migrate to Sync Streams": a `bucket_definitions` config (edition 1 or 2) → an edition-3
 * `streams:` draft that gives every user the same rows. Pure (no I/O); the admin API, the CLI
 * and the dashboard button all call this one function.
 *
 * **One stream per bucket definition**, named after it, with `auto_subscribe: true` (a
 * definition is always synced, like a default stream) and `queries:` for its data queries.
 * PowerSync's converter instead groups definitions by priority into `migrated_to_streams[_prio_<p>]`.
 * We keep one stream per definition because (1) each definition keeps its own priority and
 * `accept_potentially_dangerous_queries` without regrouping, (2) the stream names are the names
 * the operator already knows (dashboard, logs, `checkpoint.streams`, client `forStream`), and (3)
 * the YAML diff maps each definition to the stream that replaces it, which is what the operator
 * reviews before deploying. The SQL rewrite of one definition is in migrate-definition.ts.
 *
 * Comments are preserved: the definition's own comments stay on its key, comments on `data`
 * items move to the matching `queries` items, the rest of the definition's comments move to
 * `queries`. Anything that cannot be translated is reported in `issues` with the definition's
 * name (level `fatal`) and listed as a comment in the YAML; the differences the reference lists
 * under "after migrating, check" come back as warnings.
 *
 * @example
 * const { yaml, issues } = migrateSyncRulesToStreams(`
 * bucket_definitions:
 *   mine:
 *     parameters: SELECT request.user_id() AS uid
 *     data: [SELECT * FROM todos WHERE owner_id = bucket.uid]
 * `);
 * // streams: { mine: { auto_subscribe: true, queries: ["SELECT * FROM todos WHERE owner_id = auth.user_id()"] } }
 */
import type { Document} from 'yaml';
import { isMap, isScalar, isSeq, parseDocument, Scalar, YAMLMap, YAMLSeq, type Node, type Pair } from 'yaml';
import { compileSyncRules } from './compile.ts';
import { migrateDefinition, type DefinitionInput, type StreamDraft, type StreamPriority } from './migrate-definition.ts';

/** Stable codes of migration issues. */
export const MigrationCode = {
  /** The input is not a string, too large, not YAML, or not valid sync rules. Fix the input (the issue says where). */
  INVALID_INPUT: 'MIGRATE_INVALID_INPUT',
  /** The input already uses `streams:` / edition 3: nothing to migrate. */
  ALREADY_STREAMS: 'MIGRATE_ALREADY_STREAMS',
  /** A definition uses something Sync Streams cannot express; it is not in the draft. Rewrite it by hand. */
  UNTRANSLATABLE: 'MIGRATE_UNTRANSLATABLE',
  /** Warning: behaviour that differs after migrating (bucket ids, `_` columns, default streams…). Check it. */
  BEHAVIOUR_CHANGE: 'MIGRATE_BEHAVIOUR_CHANGE',
} as const;
export type MigrationCode = (typeof MigrationCode)[keyof typeof MigrationCode];

export interface MigrationIssue {
  level: 'fatal' | 'warning';
  code: MigrationCode;
  message: string;
  /** The bucket definition concerned, when there is one. */
  definition?: string;
  /** 1-based position in the INPUT text (invalid input only). */
  location?: { line: number; column: number };
}

export interface MigratedStreamSummary {
  /** Stream name (= the definition's name). */
  name: string;
  definition: string;
  priority: StreamPriority;
  queries: number;
  /** Stream-local CTEs made from parameter queries. */
  ctes: number;
}

export interface MigrationResult {
  /** The edition-3 YAML; '' when the input could not be read at all. */
  yaml: string;
  issues: MigrationIssue[];
  streams: MigratedStreamSummary[];
}

export interface MigrationOptions {
  /** Largest input accepted, in characters (default 512 KiB, like the admin API). */
  maxLength?: number;
}

export const DEFAULT_MIGRATION_MAX_LENGTH = 512 * 1024;

const EDITION_1_FLAGS = ['timestamps_iso8601', 'fixed_json_extract', 'custom_postgres_types'] as const;

function fail(issues: MigrationIssue[]): MigrationResult {
  return { yaml: '', issues, streams: [] };
}

function stringList(node: unknown): string[] {
  if (isScalar(node) && typeof node.value === 'string') return [node.value];
  if (isSeq(node)) return node.items.flatMap((i) => (isScalar(i) && typeof i.value === 'string' ? [i.value] : []));
  return [];
}

function keyOf(pair: Pair<unknown, unknown>): string {
  return isScalar(pair.key) ? String(pair.key.value) : '';
}

/** Every comment attached to nodes under `node` (own comments of the definition body). */
function commentsUnder(node: unknown, skip: ReadonlySet<unknown>): string[] {
  const out: string[] = [];
  const visit = (n: unknown): void => {
    if (n === null || typeof n !== 'object' || skip.has(n)) return;
    const c = n as { commentBefore?: string | null; comment?: string | null };
    if (c.commentBefore) out.push(c.commentBefore);
    if (c.comment) out.push(c.comment);
    if (isMap(n) || isSeq(n)) {
      for (const item of n.items) {
        if (isMap(n)) {
          visit((item as Pair).key);
          visit((item as Pair).value);
        } else visit(item);
      }
    }
  };
  visit(node);
  return out;
}

function readDefinition(pair: Pair<unknown, unknown>): { input: DefinitionInput; dataItems: Array<Scalar | null>; dataSeq: YAMLSeq | null; body: YAMLMap } | null {
  const body = pair.value;
  if (!isMap(body)) return null;
  const input: DefinitionInput = { name: keyOf(pair), priority: 3, acceptDangerous: false, parameterQueries: [], dataQueries: [] };
  let dataItems: Array<Scalar | null> = [];
  let dataSeq: YAMLSeq | null = null;
  for (const item of body.items) {
    const key = keyOf(item);
    const value = item.value;
    if (key === 'parameters') input.parameterQueries = stringList(value);
    else if (key === 'data') {
      input.dataQueries = stringList(value);
      dataItems = isSeq(value) ? value.items.map((i) => (isScalar(i) ? i : null)) : [isScalar(value) ? value : null];
      if (isSeq(value)) dataSeq = value;
    } else if (key === 'priority' && isScalar(value) && typeof value.value === 'number') input.priority = value.value as StreamPriority;
    else if (key === 'accept_potentially_dangerous_queries' && isScalar(value)) input.acceptDangerous = value.value === true;
  }
  return { input, dataItems, dataSeq, body };
}

function streamBody(doc: Document, draft: StreamDraft, def: DefinitionInput, dataItems: Array<Scalar | null>, dataSeq: YAMLSeq | null, oldBody: YAMLMap): YAMLMap {
  const body = new YAMLMap();
  body.add(doc.createPair('auto_subscribe', true));
  if (draft.priority !== 3) body.add(doc.createPair('priority', draft.priority));
  if (def.acceptDangerous) body.add(doc.createPair('accept_potentially_dangerous_queries', true));
  if (draft.with.length > 0) {
    const w = new YAMLMap();
    for (const cte of draft.with) w.add(doc.createPair(cte.name, cte.sql));
    body.add(doc.createPair('with', w));
  }
  const queries = new YAMLSeq();
  const moved = new Set<unknown>();
  draft.queries.forEach((sql, i) => {
    const item = new Scalar(sql);
    const old = dataItems[i];
    // A comment above the first `data` item belongs to the sequence in the YAML tree.
    const before = [i === 0 ? dataSeq?.commentBefore : null, old?.commentBefore].filter(Boolean).join('\n');
    if (before) item.commentBefore = before;
    if (old) {
      item.comment = old.comment ?? null;
      moved.add(old);
    }
    queries.items.push(item);
  });
  const queriesPair = doc.createPair('queries', queries);
  const rest = commentsUnder(oldBody, moved).filter((c) => c !== dataSeq?.commentBefore);
  if (rest.length > 0) (queriesPair.key as Scalar).commentBefore = rest.join('\n');
  body.add(queriesPair);
  return body;
}

/** Sets `edition: 3`, keeping every flag; an edition-1 config keeps its row format explicitly. */
function migrateConfig(doc: Document, root: YAMLMap, issues: MigrationIssue[]): void {
  const existing = root.items.find((p) => keyOf(p) === 'config');
  let config: YAMLMap;
  if (existing && isMap(existing.value)) config = existing.value;
  else {
    config = new YAMLMap();
    config.flow = false;
    if (existing) existing.value = config;
    else {
      // The file's leading comment stays at the top, above the new `config:`.
      const pair = doc.createPair('config', config) as Pair<unknown, unknown>;
      const first = root.items[0]?.key;
      if (isScalar(first) && first.commentBefore) {
        (pair.key as Scalar).commentBefore = first.commentBefore;
        first.commentBefore = null;
      }
      root.items.unshift(pair);
    }
  }
  const editionPair = config.items.find((p) => keyOf(p) === 'edition');
  const edition = editionPair && isScalar(editionPair.value) ? editionPair.value.value : undefined;
  if (editionPair) (editionPair as Pair<unknown, unknown>).value = doc.createNode(3);
  else config.items.unshift(doc.createPair('edition', 3) as Pair<unknown, unknown>);
  if (edition === 1) {
    const added: string[] = [];
    for (const flag of EDITION_1_FLAGS) {
      if (config.items.some((p) => keyOf(p) === flag)) continue;
      config.add(doc.createPair(flag, false));
      added.push(flag);
    }
    if (added.length > 0) {
      issues.push({
        level: 'warning',
        code: MigrationCode.BEHAVIOUR_CHANGE,
        message: `The input was edition 1: ${added.map((f) => `${f}: false`).join(', ')} keep its row format (timestamps, JSON paths, custom types). Remove them to get the edition-3 defaults, which change how those values sync.`,
      });
    }
  }
}

/**
 * Converts `bucket_definitions` YAML into an edition-3 `streams:` draft. Never throws for bad
 * input: everything wrong comes back in `issues` (level `fatal` means the draft must not be
 * deployed as is).
 */
export function migrateSyncRulesToStreams(yamlText: unknown, options: MigrationOptions = {}): MigrationResult {
  const maxLength = options.maxLength ?? DEFAULT_MIGRATION_MAX_LENGTH;
  if (typeof yamlText !== 'string') return fail([{ level: 'fatal', code: MigrationCode.INVALID_INPUT, message: 'The sync rules must be YAML text (a string).' }]);
  if (yamlText.length > maxLength) {
    return fail([{ level: 'fatal', code: MigrationCode.INVALID_INPUT, message: `The sync rules are too large (${yamlText.length} characters, at most ${maxLength}).` }]);
  }
  const doc = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true });
  const root = doc.contents;
  if (doc.errors.length === 0 && isMap(root)) {
    const streamsKey = root.items.some((p) => keyOf(p) === 'streams');
    const config = root.items.find((p) => keyOf(p) === 'config')?.value;
    const edition3 = isMap(config) && config.items.some((p) => keyOf(p) === 'edition' && isScalar(p.value) && p.value.value === 3);
    if (streamsKey || edition3) {
      return fail([{ level: 'fatal', code: MigrationCode.ALREADY_STREAMS, message: 'These sync rules already use Sync Streams (`streams:` or `edition: 3`); there is nothing to migrate.' }]);
    }
  }
  const compiled = compileSyncRules(yamlText, { versionId: 1 });
  const fatal = compiled.issues.filter((i) => i.level === 'fatal');
  if (!compiled.rules || fatal.length > 0) {
    return fail(
      fatal.map((i) => ({
        level: 'fatal' as const,
        code: MigrationCode.INVALID_INPUT,
        message: `The sync rules are not valid, fix them first: ${i.message}`,
        ...(i.location ? { location: { line: i.location.line, column: i.location.column } } : {}),
      })),
    );
  }
  const rootMap = root as YAMLMap;
  const issues: MigrationIssue[] = [];
  const reserved = new Set(compiled.rules.sourceTables().map((t) => t.tablePattern.toLowerCase()));
  const defsPair = rootMap.items.find((p) => keyOf(p) === 'bucket_definitions') as Pair<unknown, unknown>;
  const defs = defsPair.value as YAMLMap;
  const streams = new YAMLMap();
  const summaries: MigratedStreamSummary[] = [];
  const notMigrated: string[] = [];
  let anyStar = false;
  let anyConnection = false;

  for (const pair of defs.items as Array<Pair<unknown, unknown>>) {
    const read = readDefinition(pair);
    if (!read) continue;
    const draft = migrateDefinition(read.input, reserved);
    const name = read.input.name;
    if (draft.problems.length > 0) {
      for (const p of [...new Set(draft.problems)]) {
        issues.push({ level: 'fatal', code: MigrationCode.UNTRANSLATABLE, definition: name, message: `Bucket definition '${name}' was not migrated: ${p}` });
      }
      notMigrated.push(` NOT MIGRATED: bucket definition '${name}' (see the issues); rewrite it as a stream by hand. It was:`);
      const start = (pair.key as Node).range?.[0];
      const end = (pair.value as Node).range?.[1];
      if (start !== undefined && end !== undefined) {
        const lineStart = yamlText.lastIndexOf('\n', start - 1) + 1;
        const lines = yamlText.slice(lineStart, end).trimEnd().split('\n');
        const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
        for (const line of lines) notMigrated.push(`   ${line.slice(indent).trimEnd()}`);
      }
      continue;
    }
    for (const n of draft.notes) issues.push({ level: 'warning', code: MigrationCode.BEHAVIOUR_CHANGE, definition: name, message: `Bucket definition '${name}': ${n}` });
    anyStar ||= draft.selectsStar;
    anyConnection ||= draft.usesConnectionParameters;
    const key = pair.key as Scalar;
    streams.items.push(doc.createPair(key, streamBody(doc, draft, read.input, read.dataItems, read.dataSeq, read.body)) as Pair<unknown, unknown>);
    summaries.push({ name, definition: name, priority: draft.priority, queries: draft.queries.length, ctes: draft.with.length });
  }
  if (notMigrated.length > 0) streams.comment = notMigrated.join('\n');

  // Replace the `bucket_definitions` pair in place so comments around it stay where they were.
  const streamsKey = new Scalar('streams');
  const oldKey = defsPair.key as Scalar;
  streamsKey.commentBefore = oldKey.commentBefore ?? null;
  streamsKey.spaceBefore = oldKey.spaceBefore ?? false;
  defsPair.key = streamsKey;
  streams.comment = [defs.comment, streams.comment].filter(Boolean).join('\n') || null;
  // A comment above the first definition belongs to the mapping in the YAML tree.
  streams.commentBefore = defs.commentBefore ?? null;
  defsPair.value = streams;
  migrateConfig(doc, rootMap, issues);

  issues.push(...behaviourWarnings(anyStar, anyConnection));
  const yaml = doc.toString({ lineWidth: 0 });
  return { yaml, issues, streams: summaries };
}

function behaviourWarnings(anyStar: boolean, anyConnection: boolean): MigrationIssue[] {
  const w = (message: string): MigrationIssue => ({ level: 'warning', code: MigrationCode.BEHAVIOUR_CHANGE, message });
  const out = [
    w('Bucket ids change (`<version>#<stream>|<n>[…]`): after deploying, every client downloads its data once more.'),
    w('Clients that connect with `includeDefaultStreams: false` get none of the migrated streams (they are all `auto_subscribe: true`) unless they subscribe explicitly; clients without Sync Streams support still get every stream.'),
    w('Stream queries no longer require an `id` column: a row without one syncs with an empty id instead of being rejected at deploy.'),
  ];
  if (anyStar) out.push(w('`SELECT *` in a stream also syncs columns whose names start with `_` (sync rules dropped them): list the columns if such columns must stay on the server.'));
  if (anyConnection) {
    out.push(w('`connection.parameter(…)` values are sent by the client and are not authenticated; where a value selects what to sync on demand, `subscription.parameter(…)` on a stream without auto_subscribe is the Sync Streams way.'));
  }
  return out;
}
