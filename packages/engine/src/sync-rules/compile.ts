/**
 * `compileSyncRules`: YAML text → validated, compiled {@link SyncRules} plus every issue found
 * (fatal and warnings), each with a 1-based line/column in the YAML.
 *
 * Accepts `bucket_definitions` (editions 1–2), Sync Streams (`streams:`, edition 3; alpha
 * streams with a warning in editions ≤ 2, next to bucket definitions), see `streams/`.
 *
 * @example
 * const { rules, issues } = compileSyncRules(`
 * bucket_definitions:
 *   by_user:
 *     parameters: SELECT request.user_id() AS user_id
 *     data:
 *       - SELECT * FROM todos WHERE owner_id = bucket.user_id
 * `, { versionId: 1 });
 *
 * @example
 * compileSyncRules(`
 * config: { edition: 3 }
 * streams:
 *   list_todos:
 *     query: SELECT * FROM todos WHERE list_id = subscription.parameter('list_id')
 * `, { versionId: 1 });
 */
import { isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { BucketDefinition } from './bucket-definition.ts';
import { resolveCompatibility, type Compatibility } from './compatibility.ts';
import { parseConfig } from './config-block.ts';
import { compileDataQuery, type DataQuery } from './data-query.ts';
import { SyncRulesCode } from './issue-codes.ts';
import { compileParameterQuery, INVALID_PRIORITY_MESSAGE, type CompiledParameterQuery } from './parameter-query-compiler.ts';
import { RequestParameterQuery, type Priority, type TableParameterQuery } from './parameter-queries.ts';
import { IssueCollector } from './sql-issues.ts';
import { SyncRules } from './sync-rules.ts';
import type { CompileOptions, SyncRulesIssue } from './types.ts';
import { scalarOffsetMapper } from './yaml-positions.ts';
import { StreamsCompiler } from './streams/compile-streams.ts';
import type { CompiledStream } from './streams/stream.ts';

const TOP_LEVEL_KEYS = new Set(['config', 'bucket_definitions', 'streams', 'event_definitions', 'with']);
const DEFINITION_KEYS = new Set(['parameters', 'data', 'priority', 'accept_potentially_dangerous_queries']);

export function nodeRange(node: Node | null | undefined): { start: number; end: number } | undefined {
  const r = node?.range;
  return r ? { start: r[0], end: r[1] } : undefined;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

interface Env {
  text: string;
  issues: IssueCollector;
  options: CompileOptions;
  compat: Compatibility;
}

export function compileSyncRules(yamlText: string, options: CompileOptions): { rules: SyncRules | null; issues: SyncRulesIssue[] } {
  const issues = new IssueCollector(yamlText);
  const doc = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true, version: '1.2', schema: 'core' });
  for (const e of doc.errors) issues.add('fatal', SyncRulesCode.YAML_SYNTAX, `YAML error: ${firstLine(e.message)}`, { start: e.pos[0], end: e.pos[1] });
  for (const w of doc.warnings) issues.add('warning', SyncRulesCode.YAML_SYNTAX, `YAML warning: ${firstLine(w.message)}`, { start: w.pos[0], end: w.pos[1] });
  if (doc.errors.length > 0) return { rules: null, issues: issues.issues };

  const root = doc.contents;
  if (!isMap(root)) {
    issues.add('fatal', SyncRulesCode.SCHEMA, 'Sync rules must be a YAML mapping with a `bucket_definitions` or `streams` key', nodeRange(root as Node | null) ?? { start: 0, end: 0 });
    return { rules: null, issues: issues.issues };
  }

  let configNode: Node | null = null;
  let definitionsPair: Pair<unknown, unknown> | undefined;
  let streamsPair: Pair<unknown, unknown> | undefined;
  let withPair: Pair<unknown, unknown> | undefined;
  for (const pair of (root as YAMLMap<unknown, unknown>).items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    if (!TOP_LEVEL_KEYS.has(key)) {
      issues.add('fatal', SyncRulesCode.SCHEMA, `Unknown top-level key '${key}'; allowed: ${[...TOP_LEVEL_KEYS].join(', ')}`, nodeRange(keyNode));
    } else if (key === 'config') {
      configNode = pair.value as Node | null;
    } else if (key === 'bucket_definitions') {
      definitionsPair = pair;
    } else if (key === 'streams') {
      streamsPair = pair;
    } else if (key === 'with') {
      withPair = pair;
    } else {
      issues.add('warning', SyncRulesCode.UNSUPPORTED_FEATURE, '`event_definitions` are not supported yet and are ignored', nodeRange(keyNode));
    }
  }

  const config = parseConfig(configNode, issues);
  const compat = resolveCompatibility(config);
  const env: Env = { text: yamlText, issues, options, compat };
  const edition = compat.edition;

  if (edition === 3) {
    if (definitionsPair) {
      issues.add(
        'fatal',
        SyncRulesCode.EDITION_MISMATCH,
        "'bucket_definitions' are not supported by the new compiler. Use 'streams' instead (or `config: { edition: 2 }` for bucket definitions).",
        nodeRange(definitionsPair.key as Node),
      );
    }
    if (!streamsPair) issues.add('fatal', SyncRulesCode.EDITION_MISMATCH, "'streams' are required.", { start: 0, end: 0 });
  } else {
    if (withPair) issues.add('fatal', SyncRulesCode.CONFIG, 'Common table expressions require edition 3.', nodeRange(withPair.key as Node));
    if (streamsPair) {
      issues.add(
        'warning',
        SyncRulesCode.STREAMS_ALPHA,
        'This is using an alpha version of Sync Streams. Set `config: { edition: 3 }` to use the Sync Streams compiler.',
        nodeRange(streamsPair.key as Node),
      );
    }
    if (!definitionsPair && !streamsPair) {
      issues.add('fatal', SyncRulesCode.SCHEMA, 'Missing `bucket_definitions`: at least one bucket definition is required', { start: 0, end: 0 });
      return { rules: null, issues: issues.issues };
    }
  }

  const names = new Set<string>();
  const uniqueName = (keyNode: Node): void => {
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    if (names.has(name)) issues.add('fatal', SyncRulesCode.DUPLICATE_NAME, 'Duplicate stream or bucket definition.', nodeRange(keyNode));
    names.add(name);
  };
  const definitions: BucketDefinition[] = [];
  const defsNode = (edition === 3 ? null : (definitionsPair?.value ?? null)) as Node | null;
  if (isMap(defsNode)) {
    for (const pair of defsNode.items) {
      uniqueName(pair.key as Node);
      const def = compileDefinition(pair as Pair<Node, Node | null>, env);
      if (def) definitions.push(def);
    }
  } else if (defsNode !== null && !(isScalar(defsNode) && defsNode.value === null)) {
    issues.add('fatal', SyncRulesCode.SCHEMA, '`bucket_definitions` must be a mapping of definition names to definitions', nodeRange(defsNode));
  }

  const streamsCompiler = new StreamsCompiler({
    text: yamlText,
    issues,
    edition,
    versionId: options.versionId,
    versionedBucketIds: compat.versionedBucketIds,
    fixedJsonExtract: compat.fixedJsonExtract,
    defaultSchema: options.defaultSchema ?? 'public',
    schema: options.schema,
  });
  if (edition === 3 && withPair) streamsCompiler.globalWith(withPair.value as Node | null);
  const streams: CompiledStream[] = [];
  const streamsNode = (streamsPair?.value ?? null) as Node | null;
  if (isMap(streamsNode)) {
    for (const pair of streamsNode.items) {
      uniqueName(pair.key as Node);
      const s = streamsCompiler.stream(pair as Pair<Node, Node | null>);
      if (s) streams.push(s);
    }
  } else if (streamsNode !== null && !(isScalar(streamsNode) && streamsNode.value === null)) {
    issues.add('fatal', SyncRulesCode.SCHEMA, 'Expected a mapping here.', nodeRange(streamsNode));
  }
  streamsCompiler.finish();

  if (issues.hasFatal) return { rules: null, issues: issues.issues };
  const streamsFirst = streamsPair !== undefined && definitionsPair !== undefined && (streamsPair.key as Node).range![0] < (definitionsPair.key as Node).range![0];
  const rules = new SyncRules({
    definitions,
    compatibility: compat,
    versionId: options.versionId,
    maxBuckets: options.maxBuckets,
    streams,
    lookupCreators: streamsCompiler.registry.creators,
    streamsFirst,
  });
  return { rules, issues: issues.issues };
}

/** Reads a list of SQL strings (one string or a sequence). */
function queryList(node: Node | null, what: string, env: Env): Scalar<string>[] {
  if (node === null) return [];
  if (isScalar(node) && typeof node.value === 'string') return [node as Scalar<string>];
  if (isSeq(node)) {
    const out: Scalar<string>[] = [];
    for (const item of node.items) {
      if (isScalar(item) && typeof item.value === 'string') out.push(item as Scalar<string>);
      else env.issues.add('fatal', SyncRulesCode.SCHEMA, `Each ${what} query must be a string`, nodeRange(item as Node));
    }
    return out;
  }
  env.issues.add('fatal', SyncRulesCode.SCHEMA, `\`${what}\` must be a SQL string or a list of SQL strings`, nodeRange(node));
  return [];
}

function sqlSink(node: Scalar<string>, env: Env) {
  const r = node.range ?? [0, 0, 0];
  return env.issues.scoped(scalarOffsetMapper(env.text, r[0], r[1], node.value));
}

function compileDefinition(pair: Pair<Node, Node | null>, env: Env): BucketDefinition | null {
  const { issues, compat, options } = env;
  const name = isScalar(pair.key) ? String(pair.key.value) : '';
  const body = pair.value;
  if (!isMap(body)) {
    issues.add('fatal', SyncRulesCode.SCHEMA, `Bucket definition '${name}' must be a mapping with \`data\` (and optionally \`parameters\`)`, nodeRange(body ?? pair.key));
    return null;
  }
  let parametersNode: Node | null = null;
  let dataNode: Node | null | undefined;
  let priority: Priority = 3;
  let acceptDangerous = false;
  for (const item of body.items) {
    const keyNode = item.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const value = item.value as Node | null;
    if (!DEFINITION_KEYS.has(key)) {
      issues.add('fatal', SyncRulesCode.SCHEMA, `Unknown key '${key}' in bucket definition '${name}'; allowed: ${[...DEFINITION_KEYS].join(', ')}`, nodeRange(keyNode));
    } else if (key === 'parameters') {
      parametersNode = value;
    } else if (key === 'data') {
      dataNode = value;
    } else if (key === 'priority') {
      const v = isScalar(value) ? value.value : undefined;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3) priority = v as Priority;
      else issues.add('fatal', SyncRulesCode.INVALID_PRIORITY, INVALID_PRIORITY_MESSAGE, nodeRange(value ?? keyNode));
    } else {
      const v = isScalar(value) ? value.value : undefined;
      if (typeof v === 'boolean') acceptDangerous = v;
      else issues.add('fatal', SyncRulesCode.SCHEMA, '`accept_potentially_dangerous_queries` must be true or false', nodeRange(value ?? keyNode));
    }
  }
  if (dataNode === undefined) {
    issues.add('fatal', SyncRulesCode.SCHEMA, `Bucket definition '${name}' must have \`data\`: a list of SELECT queries`, nodeRange(pair.key));
    return null;
  }

  const shared = { definition: name, defaultSchema: options.defaultSchema ?? 'public', schema: options.schema, fixedJsonExtract: compat.fixedJsonExtract };
  const compiled: Array<{ result: CompiledParameterQuery; node: Scalar<string> }> = [];
  let parameterFailures = 0;
  const paramNodes = queryList(parametersNode, 'parameters', env);
  paramNodes.forEach((node, i) => {
    const result = compileParameterQuery(node.value, String(i), { ...shared, sink: sqlSink(node, env), acceptDangerous });
    if (result) compiled.push({ result, node });
    else parameterFailures++;
  });

  const bucketParameters = compiled[0]?.result.outputNames ?? [];
  for (const { result, node } of compiled.slice(1)) {
    const same = result.outputNames.length === bucketParameters.length && result.outputNames.every((n) => bucketParameters.includes(n));
    if (!same) {
      issues.add(
        'fatal',
        SyncRulesCode.PARAMETERS_MISMATCH,
        `Bucket parameters must match for each parameter query within a bucket. Expected: ${JSON.stringify(bucketParameters)} Got: ${JSON.stringify(result.outputNames)}`,
        nodeRange(node),
      );
    }
  }

  const bucketPrefix = compat.versionedBucketIds ? `${options.versionId}#${name}` : name;
  const dataQueries: DataQuery[] = [];
  const dataNodes = queryList(dataNode, 'data', env);
  for (const node of dataNodes) {
    const sink = sqlSink(node, env);
    // When a parameter query failed, its parameter names are unknown: skip coverage checks.
    const q = compileDataQuery(node.value, { ...shared, sink, bucketParameters, bucketPrefix, lenientParameters: parameterFailures > 0 });
    if (q) dataQueries.push(q);
  }

  const requestQueries: RequestParameterQuery[] = [];
  const tableQueries: TableParameterQuery[] = [];
  for (const { result } of compiled) {
    if (result.query.kind === 'table') tableQueries.push(result.query);
    else requestQueries.push(result.query);
  }
  if (paramNodes.length === 0) {
    // No parameters: one global bucket (an implicit `SELECT`).
    requestQueries.push(new RequestParameterQuery('static', '0', [], [], null, undefined));
  }
  return new BucketDefinition(name, priority, bucketParameters, requestQueries, tableQueries, dataQueries, bucketPrefix, paramNodes.length);
}
