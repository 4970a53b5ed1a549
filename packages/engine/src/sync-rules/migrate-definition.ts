/**
 * One bucket definition → one Sync Streams stream (edition 3). Pure; the YAML around it is
 * handled by migrate-to-streams.ts.
 *
 * A user has bucket `def[v]` when some parameter query yields the row `v`, and a data query puts
 * a source row into `def[v]` when its WHERE holds with `bucket.<p> = v.<p>`. So the user syncs a
 * row when, for SOME parameter query, the data query's WHERE holds for one of its rows. Each
 * data query therefore becomes one stream query whose WHERE is the OR, over the parameter
 * queries, of the original WHERE with `bucket.<p>` replaced by where `p` comes from:
 *
 * - a parameter query without FROM (`SELECT request.user_id() AS u [WHERE …]`): the value itself
 *   (`owner_id = auth.user_id()`), with its WHERE ANDed as a request filter;
 * - a parameter query over a table (or over `json_each(<request array>)`) with one row-side
 *   output: a stream-local CTE `<def>_param[<i>]` holding that query, used as a set:
 *   `<expr> = bucket.p` → `<expr> IN <cte>`, `bucket.p IN <json array column>` →
 *   `<column> && (SELECT p FROM <cte>)` (the arrays overlap). `SELECT value … FROM json_each(<array>)` without a
 *   filter is inlined as `<expr> IN <array>`;
 * - request-side outputs of a table query stay values (they are the same for every row);
 * - a table parameter query with several row-side outputs (values that belong together): the
 *   CTE is joined as `bucket` (`FROM boards, <cte> AS bucket`), so `bucket.<p>` stays as written
 *   and the row's columns get qualified; only when it is the definition's one parameter query.
 *
 * - a table parameter query without row-side outputs only checks that a row exists: it becomes
 *   the request filter `<request value> IN (SELECT <column> FROM t WHERE …)` (an EXISTS gate),
 *   built from one top-level `<column> = <request value>` of its WHERE.
 *
 * Anything else (a gate without such an equality, correlated outputs next to other parameter
 * queries, functions streams lack) is reported, never dropped silently.
 */
import { parse, type Expr, type SelectFromStatement, type Statement } from 'pgsql-ast-parser';
import { rewriteExpressions } from './migrate-sql-rewrite.ts';
import { isAtomic, isAtomicText, parenthesize, renderRange, spanOf, walkSql, type TextEdit } from './migrate-sql-text.ts';

export type StreamPriority = 0 | 1 | 2 | 3;

export interface DefinitionInput {
  name: string;
  priority: StreamPriority;
  acceptDangerous: boolean;
  parameterQueries: string[];
  dataQueries: string[];
}

export interface StreamDraft {
  name: string;
  priority: StreamPriority;
  /** Stream-local CTEs in order. */
  with: Array<{ name: string; sql: string }>;
  queries: string[];
  /** Problems that make the stream unusable (the definition is not migrated). */
  problems: string[];
  /** Non-blocking notes about this definition. */
  notes: string[];
  /** What the migrated queries read from the request (for the warnings). */
  usesConnectionParameters: boolean;
  selectsStar: boolean;
}

/**
 * A set binding is used as `x IN <text>`; `overlap` is its form on the right of `&&`, which takes a
 * parameter array or a subquery but not a CTE name (`&& (SELECT p FROM cte)`).
 */
type Binding = { kind: 'value'; text: string; atomic: boolean } | { kind: 'set'; text: string; overlap: string } | { kind: 'joined'; text: string };

interface ParameterSource {
  bindings: Map<string, Binding>;
  /** A request-only filter to AND into every data query (parameter queries without FROM). */
  filter: string | null;
  priority: StreamPriority | undefined;
  cte: { name: string; sql: string } | null;
  /** Set when the data queries must join the CTE as `bucket` (correlated outputs). */
  join?: string;
}

function parseOne(sql: string): SelectFromStatement | null {
  let statements: Statement[];
  try {
    statements = parse(sql, { locationTracking: true });
  } catch {
    return null;
  }
  const stmt = statements[0];
  return statements.length === 1 && stmt?.type === 'select' ? stmt : null;
}

/** Sync-rules text of a node with the request rewrites applied. */
function rewritten(sql: string, node: unknown, problems: string[]): string {
  const edits: TextEdit[] = [];
  rewriteExpressions(node, { sql, edits, problem: (m) => problems.push(m) });
  return renderRange(sql, spanOf(sql, node), edits);
}

/** True when the expression reads the row (an unqualified column or one of `tableNames`). */
function readsRow(expr: unknown, tableNames: ReadonlySet<string>): boolean {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as Record<string, unknown>;
    if (n['type'] === 'ref') {
      const table = (n['table'] as { name?: string } | undefined)?.name;
      if (table === undefined || tableNames.has(table)) found = true;
      return;
    }
    for (const [k, v] of Object.entries(n)) if (k !== '_location') visit(v);
  };
  visit(expr);
  return found;
}

function outputName(col: { expr: Expr; alias?: { name: string } }): string | undefined {
  if (col.alias) return col.alias.name;
  return col.expr.type === 'ref' ? col.expr.name : undefined;
}

/** A valid unquoted SQL identifier derived from a definition name. */
export function cteBaseName(definition: string): string {
  const cleaned = definition.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

function analyzeParameterQuery(sql: string, cteName: string, problems: string[]): ParameterSource | null {
  const stmt = parseOne(sql);
  if (!stmt) {
    problems.push(`parameter query could not be parsed: ${sql}`);
    return null;
  }
  const from = stmt.from?.[0];
  const tableNames = new Set<string>();
  let fromText = '';
  if (from?.type === 'table') {
    tableNames.add(from.name.alias ?? from.name.name);
    fromText = sql.slice(spanOf(sql, from).start, spanOf(sql, from).end);
  } else if (from?.type === 'call') {
    tableNames.add(from.alias?.name ?? 'json_each');
    fromText = rewritten(sql, from, problems);
  }
  const bindings = new Map<string, Binding>();
  const rowOutputs: Array<{ name: string; expr: Expr }> = [];
  let priority: StreamPriority | undefined;
  for (const col of stmt.columns ?? []) {
    const name = outputName(col);
    if (name === undefined) {
      problems.push(`parameter query output without a name: ${sql}`);
      return null;
    }
    if (name === '_priority') {
      const v = col.expr.type === 'integer' ? col.expr.value : NaN;
      if (v >= 0 && v <= 3) priority = v as StreamPriority;
      continue;
    }
    if (from && readsRow(col.expr, tableNames)) rowOutputs.push({ name, expr: col.expr });
    else {
      const text = rewritten(sql, col.expr, problems);
      bindings.set(name, { kind: 'value', text, atomic: isAtomic(col.expr) || isAtomicText(text) });
    }
  }
  const where = stmt.where ? rewritten(sql, stmt.where, problems) : null;
  if (!from) return { bindings, filter: where, priority, cte: null };

  if (rowOutputs.length === 0) {
    // Only "a matching row exists": an EXISTS gate, `<request value> IN (SELECT <column> FROM …)`.
    const gate = from.type === 'table' ? existenceGate(sql, stmt.where, fromText, tableNames, problems) : null;
    if (gate === null) {
      problems.push(
        `the parameter query \`${sql}\` only checks that a row exists (no output read from ${[...tableNames][0]}) and has no \`<column> = <request value>\` condition to ` +
          'turn into `<request value> IN (SELECT <column> FROM …)`: rewrite this definition by hand',
      );
      return null;
    }
    return { bindings, filter: gate, priority, cte: null };
  }
  if (rowOutputs.length > 1) {
    // Correlated outputs: the data query joins the CTE as `bucket`, so `bucket.<p>` keeps working.
    const columns = rowOutputs.map((o) => {
      const text = rewritten(sql, o.expr, problems);
      return text === o.name ? text : `${text} AS ${o.name}`;
    });
    for (const o of rowOutputs) bindings.set(o.name, { kind: 'joined', text: `bucket.${o.name}` });
    const cteSql = `SELECT ${columns.join(', ')} FROM ${fromText}${where ? ` WHERE ${where}` : ''}`;
    return { bindings, filter: null, priority, cte: { name: cteName, sql: cteSql }, join: cteName };
  }
  const out = rowOutputs[0] as { name: string; expr: Expr };
  const outText = rewritten(sql, out.expr, problems);
  if (from.type === 'call' && !stmt.where && out.expr.type === 'ref' && out.expr.name === 'value' && from.args[0] !== undefined) {
    // `SELECT value AS p FROM json_each(<array>)`: the array itself is the set.
    const arg = from.args[0];
    const text = rewritten(sql, arg, problems);
    const set = parenthesize(text, isAtomic(arg) || isAtomicText(text));
    bindings.set(out.name, { kind: 'set', text: set, overlap: set });
    return { bindings, filter: null, priority, cte: null };
  }
  const cteSql = `SELECT ${outText}${outText === out.name ? '' : ` AS ${out.name}`} FROM ${fromText}${where ? ` WHERE ${where}` : ''}`;
  bindings.set(out.name, { kind: 'set', text: cteName, overlap: `(SELECT ${out.name} FROM ${cteName})` });
  return { bindings, filter: null, priority, cte: { name: cteName, sql: cteSql } };
}

/** Set-valued bucket parameters referenced more than once in `where`. */
function repeatedSetParameters(where: Expr | null | undefined, sources: ParameterSource[]): string[] {
  const counts = new Map<string, number>();
  walkSql(where, (n) => {
    const table = (n['table'] as { name?: string } | undefined)?.name;
    if (n['type'] === 'ref' && table === 'bucket') {
      const name = n['name'] as string;
      if (sources.some((s) => s.bindings.get(name)?.kind === 'set')) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return true;
  });
  return [...counts].filter(([, c]) => c > 1).map(([n]) => n);
}

/** Edits prefixing every unqualified column reference below `roots` with `qualifier`. */
function qualifyColumns(sql: string, roots: unknown[], qualifier: string): TextEdit[] {
  const edits: TextEdit[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as Record<string, unknown>;
    if (n['type'] === 'ref' && n['table'] === undefined) {
      const r = spanOf(sql, n);
      edits.push({ ...r, text: n['name'] === '*' ? `${qualifier}.*` : `${qualifier}.${sql.slice(r.start, r.end)}` });
      return;
    }
    for (const [k, v] of Object.entries(n)) if (k !== '_location') visit(v);
  };
  roots.forEach(visit);
  return edits;
}

function readsRequest(expr: unknown): boolean {
  let found = false;
  walkSql(expr, (n) => {
    const table = (n['table'] as { name?: string } | undefined)?.name;
    const fn = n['function'] as { schema?: string } | undefined;
    if ((n['type'] === 'ref' && (table === 'token_parameters' || table === 'user_parameters')) || (n['type'] === 'call' && fn?.schema === 'request')) found = true;
    return !found;
  });
  return found;
}

/** The AND-ed conditions of a WHERE clause. */
function conjuncts(where: Expr): Expr[] {
  return where.type === 'binary' && where.op === 'AND' ? [...conjuncts(where.left), ...conjuncts(where.right)] : [where];
}

/**
 * `<request value> IN (SELECT <column> FROM t WHERE <other conditions>)` for a parameter query
 * whose WHERE has a top-level `<column> = <request value>`; null when it has none.
 */
function existenceGate(sql: string, where: Expr | null | undefined, fromText: string, tableNames: ReadonlySet<string>, problems: string[]): string | null {
  if (!where) return null;
  const all = conjuncts(where);
  for (const c of all) {
    if (c.type !== 'binary' || c.op !== '=') continue;
    const rowSide = [c.left, c.right].find((e) => readsRow(e, tableNames) && !readsRequest(e));
    const requestSide = rowSide === c.left ? c.right : c.left;
    if (!rowSide || readsRow(requestSide, tableNames) || !readsRequest(requestSide)) continue;
    const rest = all.filter((o) => o !== c).map((o) => parenthesize(rewritten(sql, o, problems), isAtomic(o) || all.length === 2));
    const value = rewritten(sql, requestSide, problems);
    const column = rewritten(sql, rowSide, problems);
    return `${parenthesize(value, isAtomic(requestSide) || isAtomicText(value))} IN (SELECT ${column} FROM ${fromText}${rest.length ? ` WHERE ${rest.join(' AND ')}` : ''})`;
  }
  return null;
}

/** Start of the WHERE keyword before the WHERE expression at `exprStart`. */
function whereKeywordStart(sql: string, exprStart: number): number {
  const before = sql.slice(0, exprStart);
  const m = /\bwhere[\s(]*$/i.exec(before);
  return m ? m.index : exprStart;
}

function rewriteDataQuery(sql: string, sources: ParameterSource[], problems: string[], draft: StreamDraft): string | null {
  const stmt = parseOne(sql);
  if (!stmt) {
    problems.push(`data query could not be parsed: ${sql}`);
    return null;
  }
  if ((stmt.columns ?? []).some((c) => c.expr.type === 'ref' && c.expr.name === '*')) draft.selectsStar = true;
  const repeated = repeatedSetParameters(stmt.where, sources);
  const only = sources[0];
  if (repeated.length > 0 && !only?.join) {
    // `a = bucket.p AND b = bucket.p` needs the same value twice: `a IN cte AND b IN cte` would
    // accept two different values, so the CTE is joined as `bucket` instead.
    if (sources.length !== 1 || !only?.cte) {
      problems.push(`bucket.${repeated[0]} is used more than once in \`${sql}\`; with this parameter query it needs a hand-written JOIN`);
      return null;
    }
    const bindings = new Map<string, Binding>([...only.bindings].map(([n, b]) => [n, b.kind === 'set' ? { kind: 'joined', text: `bucket.${n}` } : b]));
    sources = [{ ...only, bindings, join: only.cte.name }];
  }
  const headEdits: TextEdit[] = [];
  rewriteExpressions(stmt.columns ?? [], { sql, edits: headEdits, problem: (m) => problems.push(m) });
  const join = sources[0]?.join;
  const from = stmt.from?.[0];
  let qualify: TextEdit[] = [];
  if (join && from?.type === 'table') {
    // Two tables in scope now: qualify the row's columns and join the CTE as `bucket`.
    const q = from.name.alias ?? from.name.name;
    qualify = qualifyColumns(sql, [stmt.columns, stmt.where], /^[a-z_][a-z0-9_]*$/.test(q) ? q : `"${q.replaceAll('"', '""')}"`);
    const end = spanOf(sql, from).end;
    headEdits.push(...qualify, { start: end, end, text: `, ${join} AS bucket` });
  }
  const stmtEnd = sql.replace(/[\s;]+$/, '').length;
  const where = stmt.where;
  const headEnd = where ? whereKeywordStart(sql, spanOf(sql, where).start) : stmtEnd;
  const head = renderRange(sql, { start: 0, end: headEnd }, headEdits).trimEnd();

  const branches: Array<string | null> = [];
  for (const source of sources) {
    const parts: string[] = [];
    if (where) parts.push(substituteBuckets(sql, where, source, problems, qualify));
    if (source.filter) parts.push(source.filter);
    branches.push(parts.length === 0 ? null : parts.length === 1 ? (parts[0] as string) : parts.map((p) => `(${p})`).join(' AND '));
  }
  // A branch without any condition matches every row: the OR of the branches is then TRUE.
  const conditions = branches.some((b) => b === null) ? [] : [...new Set(branches as string[])];
  if (conditions.length === 0) return head;
  if (conditions.length === 1) return `${head} WHERE ${conditions[0]}`;
  return `${head} WHERE ${conditions.map((c) => `(${c})`).join(' OR ')}`;
}

/** The WHERE text with `bucket.<p>` replaced according to one parameter source. */
function substituteBuckets(sql: string, where: Expr, source: ParameterSource, problems: string[], extra: readonly TextEdit[] = []): string {
  const edits: TextEdit[] = [];
  const claimed = new Set<unknown>();
  const bucketName = (e: unknown): string | null => {
    const n = e as { type?: string; table?: { name?: string }; name?: string };
    return n?.type === 'ref' && n.table?.name === 'bucket' ? (n.name ?? null) : null;
  };
  const setBinding = (name: string | null) => {
    const b = name === null ? undefined : source.bindings.get(name);
    return b?.kind === 'set' ? b : null;
  };
  const setOf = (name: string | null): string | null => setBinding(name)?.text ?? null;
  const rowText = (e: Expr): string => {
    const text = rewritten(sql, e, problems);
    return parenthesize(text, isAtomic(e) || isAtomicText(text));
  };
  // First the `<expr> = bucket.p` / `bucket.p IN <expr>` forms of set-valued parameters.
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as Record<string, unknown>;
    if (n['type'] === 'binary' && (n['op'] === '=' || n['op'] === 'IN')) {
      const left = n['left'] as Expr;
      const right = n['right'] as Expr;
      const ls = setOf(bucketName(left));
      const rs = n['op'] === '=' ? setOf(bucketName(right)) : null;
      if (n['op'] === '=' && (ls || rs)) {
        const text = `${rowText(ls ? right : left)} IN ${ls ?? rs}`;
        edits.push({ ...spanOf(sql, n), text });
        claimed.add(ls ? left : right);
        return;
      }
      if (n['op'] === 'IN' && ls && right.type !== 'list') {
        edits.push({ ...spanOf(sql, n), text: `${rowText(right)} && ${setBinding(bucketName(left))!.overlap}` });
        claimed.add(left);
        return;
      }
    }
    for (const [k, v] of Object.entries(n)) if (k !== '_location') visit(v);
  };
  visit(where);
  const onBucketRef = (node: Record<string, unknown>, name: string) => {
    if (claimed.has(node)) return;
    const b = source.bindings.get(name);
    if (b?.kind === 'joined') return;
    if (!b) problems.push(`bucket.${name} is not an output of every parameter query`);
    else if (b.kind === 'value') edits.push({ ...spanOf(sql, node), text: parenthesize(b.text, b.atomic) });
    else problems.push(`bucket.${name} is used in a form other than \`<expr> = bucket.${name}\` or \`bucket.${name} IN <array column>\``);
  };
  // Outer edits first when two start at the same offset (renderRange skips the inner one).
  const inner: TextEdit[] = [];
  rewriteExpressions(where, { sql, edits: inner, problem: (m) => problems.push(m), onBucketRef });
  // Edits inside a replaced comparison are already part of its text.
  const inside = (e: TextEdit, o: TextEdit) => (e.start === e.end ? e.start > o.start && e.end < o.end : e.start >= o.start && e.end <= o.end);
  const all = [...edits, ...[...extra, ...inner].filter((e) => !edits.some((o) => inside(e, o)))];
  return renderRange(sql, spanOf(sql, where), all);
}

export function migrateDefinition(def: DefinitionInput, reservedNames: ReadonlySet<string>): StreamDraft {
  const draft: StreamDraft = { name: def.name, priority: def.priority, with: [], queries: [], problems: [], notes: [], usesConnectionParameters: false, selectsStar: false };
  const problems = draft.problems;
  const base = cteBaseName(def.name);
  const tableQueries = def.parameterQueries.filter((q) => (parseOne(q)?.from?.length ?? 0) > 0).length;
  const sources: ParameterSource[] = [];
  def.parameterQueries.forEach((sql, i) => {
    let cteName = tableQueries > 1 ? `${base}_param${i}` : `${base}_param`;
    while (reservedNames.has(cteName.toLowerCase())) cteName = `${cteName}_`;
    const source = analyzeParameterQuery(sql, cteName, problems);
    if (source) sources.push(source);
  });
  if (def.parameterQueries.length === 0) sources.push({ bindings: new Map(), filter: null, priority: undefined, cte: null });
  if (sources.some((s) => s.join) && sources.length > 1) {
    problems.push('a parameter query with several correlated outputs is combined with other parameter queries; split the definition or translate it by hand');
  }
  if (problems.length > 0) return draft;

  // `_priority` folds into the stream priority; when parameter queries disagree, the most urgent wins.
  const priorities = [...new Set(sources.map((s) => s.priority ?? def.priority))];
  draft.priority = Math.min(...priorities) as StreamPriority;
  if (priorities.length > 1) {
    draft.notes.push(`its parameter queries had different priorities (${priorities.join(', ')}); the stream uses ${draft.priority} for all its buckets`);
  }
  for (const s of sources) if (s.cte) draft.with.push(s.cte);
  for (const sql of def.dataQueries) {
    const q = rewriteDataQuery(sql, sources, problems, draft);
    if (q !== null) draft.queries.push(q);
  }
  const all = [...draft.queries, ...draft.with.map((w) => w.sql)].join('\n');
  draft.usesConnectionParameters = /\bconnection\.parameters?\(/.test(all);
  return draft;
}
