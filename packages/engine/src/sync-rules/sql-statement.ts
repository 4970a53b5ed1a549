/**
 * Parses one sync-rules SQL query and rejects clauses that sync rules do not support.
 */
import { parse, type SelectFromStatement, type Statement } from 'pgsql-ast-parser';
import { SyncRulesCode } from './issue-codes.ts';
import type { IssueSink } from './sql-issues.ts';
import { rangeOf } from './expression-compiler.ts';

interface ParserError {
  message: string;
  token?: { offset?: number; text?: string; value?: string };
}

function syntaxMessage(err: ParserError): string {
  const token = /Unexpected (\S+) token: ("(?:[^"\\]|\\.)*")/.exec(err.message);
  if (token) return `SQL syntax error: unexpected ${token[2]}`;
  if (/Unexpected end of input/i.test(err.message)) return 'SQL syntax error: unexpected end of input';
  const first = (err.message.split('\n')[0] ?? '').replace(/^Syntax error at line \d+ col \d+:?\s*/, '').trim();
  return `SQL syntax error${first ? `: ${first}` : ''}`;
}

/**
 * Returns the SELECT statement, or null after reporting why it is not usable. Unsupported
 * clauses (LIMIT, ORDER BY…) are reported but the statement is still returned so that the rest
 * of the query gets validated too.
 */
export function parseSelect(sql: string, sink: IssueSink): SelectFromStatement | null {
  let statements: Statement[];
  try {
    statements = parse(sql, { locationTracking: true });
  } catch (e) {
    const err = e as ParserError;
    const offset = err.token?.offset ?? sql.trimEnd().length;
    const length = err.token?.text?.length ?? 0;
    sink.add('fatal', SyncRulesCode.SQL_SYNTAX, syntaxMessage(err), { start: offset, end: offset + length });
    return null;
  }
  if (statements.length !== 1) {
    const second = statements[1];
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Only a single SELECT statement is supported', (second && rangeOf(second)) ?? { start: 0, end: sql.length });
    return null;
  }
  const stmt = statements[0] as Statement;
  if (stmt.type !== 'select') {
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Only a single SELECT statement is supported', rangeOf(stmt));
    return null;
  }
  // Unsupported clauses are reported, but the rest of the query is still validated.
  reportUnsupportedClauses(stmt, sink, (name) => `${name} is not supported in sync rules queries`);
  return stmt;
}

/**
 * Reports every clause sync queries cannot have (LIMIT, ORDER BY, GROUP BY / HAVING, DISTINCT,
 * SKIP, FOR) at its position; `message` words it for bucket definitions or streams.
 */
export function reportUnsupportedClauses(stmt: SelectFromStatement, sink: IssueSink, message: (clause: string) => string, havingName = 'HAVING'): void {
  const clauses: Array<[unknown, string]> = [
    [stmt.groupBy, 'GROUP BY'],
    [stmt.having, havingName],
    [stmt.limit, 'LIMIT'],
    [stmt.orderBy, 'ORDER BY'],
    [stmt.for, 'FOR'],
    [stmt.skip, 'SKIP'],
    [stmt.distinct, 'DISTINCT'],
  ];
  for (const [value, name] of clauses) {
    if (value === undefined || value === null) continue;
    const first: unknown = Array.isArray(value) ? value[0] : value;
    const node = typeof first === 'object' && first !== null ? (first as { _location?: { start: number; end: number } }) : undefined;
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, message(name), (node && rangeOf(node)) ?? rangeOf(stmt));
  }
}
