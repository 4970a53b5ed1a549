/**
 * YAML side of Sync Streams (reference §1): the `streams:` mapping, global and stream-local
 * `with:` CTEs, stream options and their diagnostics. SQL goes through {@link QueryCompiler}.
 */
import { isMap, isScalar, isSeq, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { SyncRulesCode } from '../issue-codes.ts';
import type { IssueCollector, IssueSink } from '../sql-issues.ts';
import type { SourceSchema } from '../types.ts';
import { scalarOffsetMapper } from '../yaml-positions.ts';
import { StreamExpressions } from './expressions.ts';
import { DataSource, type VariantQuerier } from './plan.ts';
import { LookupRegistry, QueryCompiler, type CompiledBranch } from './query.ts';
import { parseStreamSelect, type CteDefinition } from './query-sources.ts';
import type { Scope } from './scope.ts';
import type { CompiledStream, StreamPriority } from './stream.ts';

export const MAX_VARIANTS = 100;
const STREAM_KEYS = new Set(['query', 'queries', 'auto_subscribe', 'priority', 'accept_potentially_dangerous_queries', 'with']);

export interface StreamsCompileEnv {
  text: string;
  issues: IssueCollector;
  edition: number;
  versionId: number;
  versionedBucketIds: boolean;
  fixedJsonExtract: boolean;
  defaultSchema: string;
  schema: SourceSchema | undefined;
}

function range(node: Node | null | undefined): { start: number; end: number } | undefined {
  const r = node?.range;
  return r ? { start: r[0], end: r[1] } : undefined;
}

export class StreamsCompiler {
  readonly registry = new LookupRegistry();
  private readonly texts = new Map<Scope, { sql: string; sink: IssueSink }>();
  private readonly exprs: StreamExpressions;
  private readonly globalCtes = new Map<string, CteDefinition>();
  private readonly cteNodes = new Map<CteDefinition, Node>();

  constructor(private readonly env: StreamsCompileEnv) {
    this.exprs = new StreamExpressions({ fixedJsonExtract: env.fixedJsonExtract }, this.texts);
  }

  private sqlSink(node: Scalar<string>): IssueSink {
    const r = node.range ?? [0, 0, 0];
    return this.env.issues.scoped(scalarOffsetMapper(this.env.text, r[0], r[1], node.value));
  }

  private fatal(message: string, node: Node | null | undefined, code: SyncRulesCode = SyncRulesCode.SCHEMA): void {
    this.env.issues.add('fatal', code, message, range(node));
  }

  /** Parses a `with:` mapping into CTE definitions. */
  ctes(node: Node | null, into: Map<string, CteDefinition>): void {
    if (node === null || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) return this.fatal('Expected a mapping here.', node);
    for (const pair of node.items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : '';
      const value = pair.value as Node | null;
      if (!isScalar(value) || typeof value.value !== 'string') {
        this.fatal('Expected a scalar here.', value ?? key);
        continue;
      }
      const sink = this.sqlSink(value as Scalar<string>);
      const stmt = parseStreamSelect(value.value, sink);
      const def: CteDefinition = { name, sql: value.value, sink, stmt, used: false };
      into.set(name.toLowerCase(), def);
      this.cteNodes.set(def, key);
      const shadowed = this.env.schema?.tables.some((t) => t.name.toLowerCase() === name.toLowerCase());
      if (shadowed) this.env.issues.add('warning', SyncRulesCode.SCHEMA_MISMATCH, 'This common table expression shadows the name of a table in the source schema.', range(key));
    }
  }

  globalWith(node: Node | null): void {
    this.ctes(node, this.globalCtes);
  }

  /** Warns about CTEs no query referenced (call after all streams). */
  finish(): void {
    for (const [def, node] of this.cteNodes) {
      if (!def.used) this.env.issues.add('warning', SyncRulesCode.UNUSED_CTE, "This common table expression isn't referenced.", range(node));
    }
  }

  stream(pair: Pair<Node, Node | null>): CompiledStream | null {
    const { issues, edition } = this.env;
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    const body = pair.value;
    if (!isMap(body)) {
      this.fatal('Expected a mapping here.', body ?? pair.key);
      return null;
    }
    let queryNode: Pair<unknown, unknown> | undefined;
    let queriesNode: Pair<unknown, unknown> | undefined;
    let autoSubscribe = false;
    let priority: StreamPriority = 3;
    let acceptDangerous = false;
    const local = new Map(this.globalCtes);
    for (const item of (body as YAMLMap<unknown, unknown>).items) {
      const keyNode = item.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const value = item.value as Node | null;
      if (!STREAM_KEYS.has(key)) {
        this.fatal(`Unknown key '${key}'.`, keyNode);
        continue;
      }
      switch (key) {
        case 'query':
          queryNode = item;
          break;
        case 'queries':
          if (edition < 3) this.fatal('`queries` require edition 3 (`config: { edition: 3 }`).', keyNode, SyncRulesCode.CONFIG);
          queriesNode = item;
          break;
        case 'with':
          if (edition < 3) this.fatal('Common table expressions require edition 3.', keyNode, SyncRulesCode.CONFIG);
          else this.ctes(value, local);
          break;
        case 'priority': {
          const v = isScalar(value) ? value.value : undefined;
          if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3) priority = v as StreamPriority;
          else this.fatal('Invalid priority, expected a number between 0 and 3 (inclusive).', value ?? keyNode, SyncRulesCode.INVALID_PRIORITY);
          break;
        }
        default: {
          const v = isScalar(value) ? value.value : undefined;
          if (typeof v !== 'boolean') this.fatal(`\`${key}\` must be a boolean`, value ?? keyNode);
          else if (key === 'auto_subscribe') autoSubscribe = v;
          else acceptDangerous = v;
        }
      }
    }
    if ((queryNode === undefined) === (queriesNode === undefined)) {
      this.fatal('One of `queries` or `query` must be given.', (queryNode?.key ?? queriesNode?.key ?? pair.key) as Node);
      if (queryNode && queriesNode) return null;
    }
    const sqlNodes: Scalar<string>[] = [];
    if (queryNode) {
      const v = queryNode.value as Node | null;
      if (isScalar(v) && typeof v.value === 'string') sqlNodes.push(v as Scalar<string>);
      else this.fatal('Expected a scalar here.', v ?? (queryNode.key as Node));
    }
    if (queriesNode) {
      const v = queriesNode.value as Node | null;
      if (!isSeq(v)) this.fatal('Expected a sequence here.', v ?? (queriesNode.key as Node));
      else {
        for (const item of v.items) {
          if (isScalar(item) && typeof item.value === 'string') sqlNodes.push(item as Scalar<string>);
          else this.fatal('Expected a scalar here.', item as Node);
        }
      }
    }

    const prefix = this.env.versionedBucketIds ? `${this.env.versionId}#${name}` : name;
    const variants: VariantQuerier[] = [];
    const dataSources: DataSource[] = [];
    const bySignature = new Map<string, VariantQuerier>();
    const tablesRead = new Set<string>();
    let counter = 0;
    for (const node of sqlNodes) {
      const sink = this.sqlSink(node);
      const compiler = new QueryCompiler(
        { defaultSchema: this.env.defaultSchema, exprs: this.exprs, texts: this.texts, ctes: new Map(local), registry: this.registry, schema: this.env.schema },
        sink,
      );
      const branches = compiler.compile(node.value);
      if (!branches) continue;
      let warned = false;
      for (const b of branches) {
        const variant = this.variant(b, bySignature, variants, prefix, counter++);
        dataSources.push(new DataSource(b.primary.pattern, b.outputTable, b.columns, b.rowFilters, b.partitions, variant.bucketPrefix));
        for (const t of b.tablesRead) tablesRead.add(t);
        if (b.dangerous && !acceptDangerous && !warned) {
          warned = true;
          issues.add(
            'warning',
            SyncRulesCode.DANGEROUS_QUERY,
            'Clients can send any value for this unauthenticated parameter, so this is unsuitable for authorization. Use auth.* data, or set `accept_potentially_dangerous_queries: true` if this is intended.',
            range(node),
          );
        }
      }
    }
    if (variants.length > MAX_VARIANTS) {
      this.fatal(`This stream defines too many buckets (${variants.length}, at most ${MAX_VARIANTS} are allowed). Split the OR conditions into several streams.`, pair.key, SyncRulesCode.SQL_UNSUPPORTED);
    }
    return { name, autoSubscribe, priority, variants, dataSources, tablesRead: [...tablesRead] };
  }

  private variant(b: CompiledBranch, bySignature: Map<string, VariantQuerier>, variants: VariantQuerier[], prefix: string, index: number): VariantQuerier {
    const existing = bySignature.get(b.signature);
    if (existing) return existing;
    const v: VariantQuerier = {
      variant: index,
      bucketPrefix: `${prefix}|${index}`,
      requestFilters: b.requestFilters,
      keyCount: b.keyCount,
      providers: b.providers,
      dynamic: b.dynamic,
    };
    bySignature.set(b.signature, v);
    variants.push(v);
    return v;
  }
}
