/**
 * Expression-level rewrites of the Sync Streams migration, as text edits on the original SQL:
 *
 * | sync rules                          | Sync Streams                                  |
 * |-------------------------------------|-----------------------------------------------|
 * | `request.user_id()`                 | `auth.user_id()`                              |
 * | `request.jwt() ->> 'k'`             | `auth.parameter('k')`                         |
 * | `request.jwt()`                     | `auth.parameters()`                           |
 * | `request.parameters() ->> 'k'`      | `connection.parameter('k')`                   |
 * | `request.parameter('k')`            | `connection.parameter('k')`                   |
 * | `request.parameters()`              | `connection.parameters()`                     |
 * | `user_parameters.k`                 | `connection.parameter('k')`                   |
 * | `token_parameters.user_id`          | `auth.user_id()`                              |
 * | `token_parameters.k`                | `(auth.parameter('parameters') ->> 'k')`      |
 * | `substr(…)`                         | `substring(…)`                                |
 * | `-expr` (not a literal)             | `(0 - expr)`                                  |
 *
 * `token_parameters.k` reads the JWT's `parameters` claim (request-context.ts), not a top-level
 * claim, so it maps to `auth.parameter('parameters') ->> 'k'`, which gives the same value.
 * Anything streams do not accept (`json_valid`, other unknown functions) is reported as a
 * problem; `bucket.<p>` references are left to the caller. Pure.
 */
import { isAtomic, sqlString, spanOf, walkSql, type TextEdit } from './migrate-sql-text.ts';

/** Scalar functions the Sync Streams compiler accepts, with their argument counts (reference §2.3). */
const STREAM_FUNCTIONS: ReadonlyMap<string, [number, number]> = new Map([
  ['hex', [1, 1]],
  ['ifnull', [2, Infinity]],
  ['iif', [3, 3]],
  ['instr', [2, 2]],
  ['length', [1, 1]],
  ['lower', [1, 1]],
  ['upper', [1, 1]],
  ['typeof', [1, 1]],
  ['substring', [2, 3]],
  ['json_array_length', [1, 2]],
  ['json_extract', [2, Infinity]],
  ['unixepoch', [1, Infinity]],
  ['datetime', [1, Infinity]],
  ['base64', [1, 1]],
  ['json_keys', [1, 1]],
  ['uuid_blob', [1, 1]],
  ['st_asgeojson', [1, 1]],
  ['st_astext', [1, 1]],
  ['st_x', [1, 1]],
  ['st_y', [1, 1]],
]);

export interface RewriteContext {
  sql: string;
  /** Collected edits (appended to). */
  edits: TextEdit[];
  /** Reports something streams cannot express. */
  problem(message: string): void;
  /** Called for `bucket.<name>` references (data queries); absent = report them. */
  onBucketRef?(node: Record<string, unknown>, name: string): void;
}

type Node = Record<string, unknown>;

function requestCall(node: unknown): string | null {
  const n = node as { type?: string; function?: { schema?: string; name?: string }; args?: unknown[] };
  if (n?.type !== 'call' || n.function?.schema !== 'request') return null;
  return (n.function.name ?? '').toLowerCase();
}

/** Collects the rewrite edits of every expression below `root`. */
export function rewriteExpressions(root: unknown, ctx: RewriteContext): void {
  const { sql, edits } = ctx;
  const replace = (node: unknown, text: string) => {
    const r = spanOf(sql, node);
    edits.push({ ...r, text });
  };
  const visit = (node: Node): boolean => {
    const type = node['type'];
    if (type === 'member' && node['op'] === '->>' && typeof node['member'] === 'string') {
      const fn = requestCall(node['operand']);
      const key = sqlString(node['member']);
      if (fn === 'jwt') {
        replace(node, `auth.parameter(${key})`);
        return false;
      }
      if (fn === 'parameters') {
        replace(node, `connection.parameter(${key})`);
        return false;
      }
    }
    if (type === 'call') {
      const fn = node['function'] as { name: string; schema?: string };
      const args = (node['args'] as unknown[] | undefined) ?? [];
      const r = requestCall(node);
      if (r !== null) {
        if (r === 'user_id') replace(node, 'auth.user_id()');
        else if (r === 'jwt') replace(node, 'auth.parameters()');
        else if (r === 'parameters') replace(node, 'connection.parameters()');
        else if (r === 'parameter' && args[0] !== undefined) {
          const a = spanOf(sql, args[0]);
          replace(node, `connection.parameter(${sql.slice(a.start, a.end)})`);
        } else ctx.problem(`request.${fn.name}() has no Sync Streams equivalent`);
        return false;
      }
      const name = fn.name.toLowerCase();
      if (fn.schema) {
        ctx.problem(`Function '${fn.schema}.${fn.name}' has no Sync Streams equivalent`);
        return true;
      }
      if (name === 'json_each') return true;
      if (name === 'substr') {
        edits.push({ ...spanOf(sql, node['function']), text: 'substring' });
        return true;
      }
      const arity = STREAM_FUNCTIONS.get(name);
      if (!arity) {
        const hint = name === 'json_valid' ? ' (Sync Streams do not accept json_valid: rewrite the filter, e.g. with json_extract/typeof, or drop it)' : '';
        ctx.problem(`Function '${fn.name}' is not supported in Sync Streams${hint}`);
      } else if (args.length < arity[0] || args.length > arity[1]) {
        ctx.problem(`Function '${fn.name}' with ${args.length} arguments is not supported in Sync Streams`);
      }
      return true;
    }
    if (type === 'unary' && node['op'] === '-') {
      // Streams reject unary minus on an expression; `(0 - x)` is the same value.
      const operand = node['operand'];
      const whole = spanOf(sql, node);
      const o = spanOf(sql, operand);
      const atomic = isAtomic(operand);
      edits.push({ start: whole.start, end: o.start, text: atomic ? '(0 - ' : '(0 - (' });
      edits.push({ start: o.end, end: whole.end, text: atomic ? ')' : '))' });
      return true;
    }
    if (type === 'ref') {
      const table = (node['table'] as { name?: string } | undefined)?.name;
      const name = node['name'] as string;
      if (table === 'token_parameters') {
        replace(node, name === 'user_id' ? 'auth.user_id()' : `(auth.parameter('parameters') ->> ${sqlString(name)})`);
      } else if (table === 'user_parameters') {
        replace(node, `connection.parameter(${sqlString(name)})`);
      } else if (table === 'bucket') {
        if (ctx.onBucketRef) ctx.onBucketRef(node, name);
        else ctx.problem(`bucket.${name} outside a data query`);
      }
      return false;
    }
    return true;
  };
  walkSql(root, visit);
}
