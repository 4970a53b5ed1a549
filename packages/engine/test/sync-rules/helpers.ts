import { parse, type SelectFromStatement } from 'pgsql-ast-parser';
import { ExpressionCompiler } from '../../src/sync-rules/expression-compiler.ts';
import { RequestContext } from '../../src/sync-rules/request-context.ts';
import { compileSyncRules } from '../../src/sync-rules/compile.ts';
import type { SyncRules } from '../../src/sync-rules/sync-rules.ts';
import type { CompileOptions, RequestParameters, SqliteRow, SqliteValue, SyncRulesIssue } from '../../src/sync-rules/types.ts';

export const REQUEST: RequestParameters = {
  userId: 'u1',
  jwtClaims: { sub: 'u1', role: 'admin', n: 5, f: 1.5, ok: true, nested: { a: 'b' }, ids: [1, 2], parameters: { team: 't1', user_id: 'spoofed' } },
  clientParameters: { list: 'l1', flag: false, tags: ['x', 'y'] },
};

/** Evaluates one SQL expression against a row (columns usable bare or as `t.col`). */
export function evalExpr(
  sql: string,
  row: SqliteRow = {},
  options: { fixedJsonExtract?: boolean; request?: RequestParameters } = {},
): SqliteValue {
  const text = `SELECT ${sql}`;
  const stmt = parse(text, { locationTracking: true })[0] as SelectFromStatement;
  const issues: string[] = [];
  const compiler = new ExpressionCompiler(
    { tableNames: new Set(['t']), allowRow: true, allowRequest: true, allowBucket: false },
    { add: (_level, _code, message) => issues.push(message) },
    { fixedJsonExtract: options.fixedJsonExtract ?? true },
    text,
  );
  const compiled = compiler.compile(stmt.columns?.[0]?.expr as never);
  if (issues.length) throw new Error(issues.join('; '));
  return compiled.evaluate({ row, request: new RequestContext(options.request ?? REQUEST) });
}

/** Compiles YAML and fails loudly on fatal issues. */
export function rulesFrom(yaml: string, options: Partial<CompileOptions> = {}): SyncRules {
  const { rules, issues } = compileSyncRules(yaml, { versionId: 1, ...options });
  const fatal = issues.filter((i) => i.level === 'fatal');
  if (!rules || fatal.length) throw new Error(`Unexpected issues: ${JSON.stringify(issues, null, 2)}`);
  return rules;
}

/** Issues of a YAML text (rules may or may not compile). */
export function issuesOf(yaml: string, options: Partial<CompileOptions> = {}): SyncRulesIssue[] {
  return compileSyncRules(yaml, { versionId: 1, ...options }).issues;
}

export const todos = { schema: 'public', name: 'todos' };
