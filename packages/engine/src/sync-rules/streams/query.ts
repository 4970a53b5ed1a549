/**
 * Compiles one stream query (reference §2–3): DNF of the WHERE clause (with JOIN conditions and
 * subqueries inlined), each branch classified into row filters, request filters and `=` edges,
 * then turned into a data source (primary table), lookup creators (other tables) and a querier.
 */
import type { Expr, SelectFromStatement } from 'pgsql-ast-parser';
import { rangeOf, type Evaluator } from '../expression-compiler.ts';
import { SyncRulesCode } from '../issue-codes.ts';
import type { IssueSink } from '../sql-issues.ts';
import { patternKey } from '../table-pattern.ts';
import { LookupCreator, type LookupNode, type OutputColumn, type Provider, type ValueExpr } from './plan.ts';
import { AtomClassifier, only, type Atom, type Leaf } from './atoms.ts';
import { parseStreamSelect, SourceBuilder, type Cond, type SourcesEnv } from './query-sources.ts';
import { nodeText, type Scope, type Side, type TableSource } from './scope.ts';

export const MAX_DNF_TERMS = 100;

/** Lookup creators of the whole file, shared when equal. */
export class LookupRegistry {
  readonly creators: LookupCreator[] = [];
  private readonly bySignature = new Map<string, LookupCreator>();

  get(signature: string, make: (id: string) => LookupCreator): LookupCreator {
    let c = this.bySignature.get(signature);
    if (!c) {
      c = make(String(this.creators.length));
      this.creators.push(c);
      this.bySignature.set(signature, c);
    }
    return c;
  }
}

/** One DNF branch of a query, compiled. */
export interface CompiledBranch {
  primary: TableSource;
  outputTable: string | null;
  columns: OutputColumn[];
  rowFilters: Evaluator[];
  partitions: ValueExpr[];
  requestFilters: Evaluator[];
  providers: Provider[];
  keyCount: number;
  dynamic: boolean;
  /** Equal signatures within a stream share a bucket variant. */
  signature: string;
  /** Some bucket parameter (or the request filters) relies only on unauthenticated data. */
  dangerous: boolean;
  tablesRead: string[];
}

class NodeBuilder {
  readonly keys: Side[] = [];
  readonly outputs: Side[] = [];
  readonly filters: Array<{ evaluate: Evaluator; canon: string }> = [];
  readonly requestProviders: Array<{ key: number; side: Side }> = [];
  readonly children = new Map<NodeBuilder, Array<{ key: number; output: number }>>();
  private readonly keyIndex = new Map<string, number>();
  private readonly outputIndex = new Map<string, number>();

  constructor(readonly table: TableSource) {}

  key(side: Side): number {
    let i = this.keyIndex.get(side.canon);
    if (i === undefined) {
      i = this.keys.push(side) - 1;
      this.keyIndex.set(side.canon, i);
    }
    return i;
  }

  output(side: Side): number {
    let i = this.outputIndex.get(side.canon);
    if (i === undefined) {
      i = this.outputs.push(side) - 1;
      this.outputIndex.set(side.canon, i);
    }
    return i;
  }
}

export interface QueryEnv extends SourcesEnv {
  registry: LookupRegistry;
}

export class QueryCompiler {
  private readonly atoms: AtomClassifier;

  constructor(
    private readonly env: QueryEnv,
    private readonly sink: IssueSink,
  ) {
    this.atoms = new AtomClassifier(env);
  }

  compile(sql: string): CompiledBranch[] | null {
    const stmt = parseStreamSelect(sql, this.sink);
    if (!stmt) return null;
    const builder = new SourceBuilder(this.env);
    const scope = builder.newScope(sql, this.sink);
    const conds = builder.select(stmt, scope);
    const result = this.resultColumns(stmt, scope);
    if (!result) return null;
    const branches = this.dnf({ k: 'and', items: conds }, false);
    if (branches === null) {
      this.sink.add(
        'fatal',
        SyncRulesCode.SQL_UNSUPPORTED,
        `For Sync Streams, inner OR operators need to be moved up to be top-level filters. This query would need more than ${MAX_DNF_TERMS} OR terms.`,
        rangeOf(stmt.where ?? stmt),
      );
      return null;
    }
    const out: CompiledBranch[] = [];
    for (const branch of branches) {
      const compiled = this.branch(branch, result.primary, result.columns, stmt);
      if (compiled) out.push(compiled);
    }
    return out;
  }

  private resultColumns(stmt: SelectFromStatement, scope: Scope): { primary: TableSource; columns: OutputColumn[] } | null {
    let primary: TableSource | null = null;
    let aliasedBeforeStar = false;
    const columns: OutputColumn[] = [];
    const setPrimary = (t: TableSource, node: Expr): void => {
      if (primary && primary !== t) {
        this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Sync streams can only select from a single table, and this one already selects from '${primary.alias}'.`, rangeOf(node));
      } else primary = t;
    };
    for (const col of stmt.columns ?? []) {
      const e = col.expr;
      if (e.type === 'ref' && e.name === '*') {
        if (aliasedBeforeStar) {
          this.sink.add('warning', SyncRulesCode.SQL_UNSUPPORTED, 'This * comes after an aliased column: a source column of the same name replaces the aliased value.', rangeOf(e));
        }
        const entries = e.table ? [scope.entries.get(e.table.name)] : [...scope.entries.values()];
        const entry = entries[0];
        if (!entry || entries.length !== 1) {
          if (!entry) this.sink.add('fatal', SyncRulesCode.UNDEFINED_REFERENCE, `Undefined reference: ${e.table?.name ?? ''}.*`, rangeOf(e));
          else this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Sync streams can only select from a single table, and this one already selects from '${entry.alias}'.`, rangeOf(e));
          continue;
        }
        if (entry.kind === 'derived') {
          // `SELECT * FROM cte`: the CTE's columns, which must all come from one table.
          for (const [name, column] of entry.columns) {
            const side = this.env.exprs.side(column.expr, column.scope);
            const t = only(side.tables);
            if (!t || side.auth || side.unauth || side.expand) {
              this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Sync streams can only select from actual tables', rangeOf(e));
              continue;
            }
            setPrimary(t, e);
            columns.push({ star: false, name, evaluate: side.evaluate });
          }
          continue;
        }
        if (entry.kind !== 'table') {
          this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Sync streams can only select from actual tables', rangeOf(e));
          continue;
        }
        setPrimary(entry, e);
        columns.push({ star: true });
        continue;
      }
      const side = this.env.exprs.side(e, scope);
      if (side.auth || side.unauth) {
        this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'This attempts to sync a connection parameter. Only columns of the synced table can be selected; filter on request data in the WHERE clause.', rangeOf(e));
        continue;
      }
      if (side.expand) continue;
      if (side.tables.size > 1) {
        this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Sync streams can only select from a single table', rangeOf(e));
        continue;
      }
      const t = only(side.tables);
      if (t) setPrimary(t, e);
      let name = col.alias?.name ?? (e.type === 'ref' ? e.name : undefined);
      if (col.alias) aliasedBeforeStar = true;
      if (!name) {
        name = this.env.texts.get(scope)?.sql.slice(rangeOf(e)?.start ?? 0, rangeOf(e)?.end ?? 0) ?? 'expr';
        this.sink.add('warning', SyncRulesCode.SQL_UNSUPPORTED, `This expression has no alias, so it is synced as the column '${name}'. Add \`AS <name>\`.`, rangeOf(e));
      }
      columns.push({ star: false, name, evaluate: side.evaluate });
    }
    if (!primary) {
      this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Must have a result column selecting from a table', rangeOf(stmt.columns?.[0]?.expr ?? stmt));
      return null;
    }
    const p = primary as TableSource;
    if (p.aliased && scope.entries.size > 1) {
      const text = nodeText.get(p.node) ?? '';
      if (!text.trimEnd().endsWith(`"${p.alias}"`)) {
        this.sink.add(
          'warning',
          SyncRulesCode.SQL_UNSUPPORTED,
          `Rows of '${p.name}' sync to clients as table '${p.alias}' (its alias). Write AS "${p.alias}" if that is intended, or remove the alias.`,
          rangeOf(p.node as unknown as Expr),
        );
      }
    }
    return { primary, columns };
  }

  /** Disjunctive normal form; null when it would exceed {@link MAX_DNF_TERMS}. */
  private dnf(c: Cond, negated: boolean): Leaf[][] | null {
    switch (c.k) {
      case 'atom':
      case 'eq':
        return [[{ cond: c, negated }]];
      case 'not':
        return this.dnf(c.item, !negated);
      default: {
        const conjunctive = (c.k === 'and') !== negated;
        const parts: Leaf[][][] = [];
        for (const item of c.items) {
          const d = this.dnf(item, negated);
          if (d === null) return null;
          parts.push(d);
        }
        if (!conjunctive) {
          const flat = parts.flat();
          return flat.length > MAX_DNF_TERMS ? null : flat;
        }
        let acc: Leaf[][] = [[]];
        for (const p of parts) {
          const next: Leaf[][] = [];
          for (const a of acc) for (const b of p) next.push([...a, ...b]);
          if (next.length > MAX_DNF_TERMS) return null;
          acc = next;
        }
        return acc;
      }
    }
  }

  private branch(leaves: Leaf[], primary: TableSource, columns: OutputColumn[], stmt: SelectFromStatement): CompiledBranch | null {
    const atoms = leaves.map((l) => this.atoms.classify(l));
    const internal = new Set(leaves.flatMap((l, i) => (l.cond.internal ? [atoms[i] as Atom] : [])));
    if (atoms.some((a) => a.kind === 'error')) return null;
    if (atoms.some((a) => a.kind === 'static' && !a.value)) return null;

    // Tree of tables rooted at the primary table, following `=` edges.
    const nodes = new Map<TableSource, NodeBuilder>([[primary, new NodeBuilder(primary)]]);
    const parent = new Map<TableSource, TableSource>();
    const edges = atoms.filter((a): a is Extract<Atom, { kind: 'edge' }> => a.kind === 'edge');
    const grow = (start: TableSource): void => {
      let frontier = [start];
      while (frontier.length > 0) {
        const next: TableSource[] = [];
        for (const t of frontier) {
          for (const e of edges) {
            const other = e.a === t ? e.b : e.b === t ? e.a : null;
            if (!other || nodes.has(other)) continue;
            nodes.set(other, new NodeBuilder(other));
            parent.set(other, t);
            next.push(other);
          }
        }
        frontier = next;
      }
    };
    grow(primary);
    // Tables not joined to the primary table but fed by request data are existence gates
    // (`auth.user_id() IN (SELECT id FROM admins)`): a lookup that must return a row.
    const gates: TableSource[] = [];
    for (const a of atoms) {
      if (a.kind !== 'reqedge' || nodes.has(a.table) || !a.table.inSubquery) continue;
      nodes.set(a.table, new NodeBuilder(a.table));
      gates.push(a.table);
      grow(a.table);
    }
    const unrelated = (node: Expr): null => {
      this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'This filter is unrelated to the request or the table being synced, and not supported.', rangeOf(node));
      return null;
    };
    const requestFilters: Array<{ evaluate: Evaluator; canon: string; auth: boolean; unauth: boolean }> = [];
    for (const a of atoms) {
      // Conditions of a FROM-joined CTE / derived table that this branch does not connect to
      // the synced table go with it.
      if (internal.has(a) && !this.connected(a, nodes)) continue;
      if (a.kind === 'request') requestFilters.push(a);
      else if (a.kind === 'row') {
        const n = nodes.get(a.table);
        if (!n) return unrelated(a.node);
        n.filters.push(a);
      } else if (a.kind === 'reqedge') {
        const n = nodes.get(a.table);
        if (!n) return unrelated(a.node);
        n.requestProviders.push({ key: n.key(a.rowSide), side: a.reqSide });
      } else if (a.kind === 'edge') {
        let child: TableSource;
        let childSide: Side;
        let parentSide: Side;
        if (parent.get(a.b) === a.a) [child, childSide, parentSide] = [a.b, a.bSide, a.aSide];
        else if (parent.get(a.a) === a.b) [child, childSide, parentSide] = [a.a, a.aSide, a.bSide];
        else {
          if (!nodes.has(a.a)) return unrelated(a.node);
          this.sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Join cycles are not supported: each table can be joined to the synced table through one path only.', rangeOf(a.node));
          return null;
        }
        const p = nodes.get(parent.get(child) as TableSource) as NodeBuilder;
        const c = nodes.get(child) as NodeBuilder;
        const pairs = p.children.get(c) ?? [];
        pairs.push({ key: p.key(parentSide), output: c.output(childSide) });
        p.children.set(c, pairs);
      }
    }
    // Every non-primary table must feed the primary table something (gates feed existence).
    for (const [t, n] of nodes) {
      if (t !== primary && !gates.includes(t) && n.outputs.length === 0) return unrelated(stmt.where ?? (t.node as unknown as Expr));
    }

    const root = nodes.get(primary) as NodeBuilder;
    for (const g of gates) root.children.set(nodes.get(g) as NodeBuilder, []);
    const built = this.providers(root);
    for (const g of built.gates) requestFilters.push({ evaluate: () => null, canon: '', auth: g.auth, unauth: !g.auth });
    const usesRequest = built.keys.map((k) => k.request);
    const authed = built.keys.map((k) => k.auth);
    // A branch is authenticated when any bucket parameter is (reference §2.7); without
    // request-derived parameters, the request filters decide.
    const dangerous = usesRequest.some((u) => u)
      ? !authed.some((a) => a)
      : requestFilters.length > 0 && !requestFilters.some((f) => f.auth);
    const tablesRead = [...new Set([...nodes.keys()].map((t) => patternKey(t.pattern)))];
    return {
      primary,
      outputTable: primary.aliased ? primary.alias : primary.pattern.isWildcard ? null : primary.name,
      columns,
      rowFilters: root.filters.map((f) => f.evaluate),
      partitions: root.keys.map((k) => ({ evaluate: k.evaluate, expand: k.expand })),
      requestFilters: requestFilters.filter((f) => f.canon !== '').map((f) => f.evaluate),
      providers: built.providers,
      keyCount: root.keys.length,
      dynamic: root.children.size > 0,
      signature: JSON.stringify({ rf: requestFilters.map((f) => f.canon).filter((c) => c !== '').sort(), p: built.signature }),
      dangerous,
      tablesRead,
    };
  }

  private connected(a: Atom, nodes: Map<TableSource, NodeBuilder>): boolean {
    switch (a.kind) {
      case 'row':
        return nodes.has(a.table);
      case 'reqedge':
        return nodes.has(a.table);
      case 'edge':
        return nodes.has(a.a) || nodes.has(a.b);
      default:
        return true;
    }
  }

  /** Runtime providers of a node (children compiled to lookup nodes first). */
  private providers(n: NodeBuilder): { providers: Provider[]; signature: unknown[]; keys: Array<{ auth: boolean; request: boolean }>; gates: Array<{ auth: boolean }> } {
    const providers: Provider[] = [];
    const gates: Array<{ auth: boolean }> = [];
    const signature: unknown[] = [];
    const keys = n.keys.map(() => ({ auth: false, request: false }));
    for (const { key, side } of n.requestProviders) {
      providers.push({ kind: 'request', key, value: { evaluate: side.evaluate, expand: side.expand }, auth: side.auth, unauth: side.unauth });
      signature.push({ r: key, c: side.canon, x: side.expand });
      const k = keys[key] as { auth: boolean; request: boolean };
      k.auth ||= side.auth;
      k.request = true;
    }
    for (const [child, pairs] of n.children) {
      const inner = this.providers(child);
      const t = child.table;
      const sig = JSON.stringify({
        t: patternKey(t.pattern),
        f: child.filters.map((f) => f.canon).sort(),
        i: child.keys.map((k) => [k.canon, k.expand]),
        o: child.outputs.map((o) => [o.canon, o.expand]),
      });
      const creator = this.env.registry.get(
        sig,
        (id) =>
          new LookupCreator(
            id,
            t.pattern,
            child.filters.map((f) => f.evaluate),
            child.keys.map((k) => ({ evaluate: k.evaluate, expand: k.expand })),
            child.outputs.map((o) => ({ evaluate: o.evaluate, expand: o.expand })),
          ),
      );
      const node: LookupNode = { creator, keyCount: child.keys.length, providers: inner.providers };
      providers.push({ kind: 'child', node, pairs });
      signature.push({ l: creator.id, pairs, p: inner.signature });
      const childAuth = inner.keys.some((k) => k.auth);
      const childRequest = inner.keys.some((k) => k.request);
      if (pairs.length === 0) gates.push({ auth: childAuth });
      for (const p of pairs) {
        const k = keys[p.key] as { auth: boolean; request: boolean };
        k.auth ||= childAuth;
        k.request ||= childRequest;
      }
    }
    return { providers, signature, keys, gates };
  }
}
