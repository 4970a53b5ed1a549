/**
 * Request values as SQLite sees them (reference §5.4):
 * - `request.user_id()` = JWT `sub`;
 * - `request.jwt()` = the whole JWT payload as JSON text;
 * - `request.parameters()` / `user_parameters.<x>` = the client's (unauthenticated) parameters;
 * - `request.parameter('k')` = `request.parameters() ->> 'k'` (client-controlled as well);
 * - `token_parameters.<x>` = the JWT `parameters` claim, with `user_id` always set to `sub`.
 *
 * JSON values convert to SQLite types: whole numbers → INTEGER, booleans → 1/0, objects and
 * arrays → JSON text.
 */
import { stringifyLosslessJson, type LosslessJsonValue } from '@syncline/protocol';
import type { RequestParameters, SqliteValue } from './types.ts';

/** Converts an already-parsed JSON value (e.g. a JWT claim) to a SQLite value. */
export function unknownToSqlite(v: unknown): SqliteValue {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v;
    case 'number':
      return Number.isInteger(v) && Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'boolean':
      return v ? 1n : 0n;
    case 'undefined':
      return null;
    case 'object':
      if (v === null) return null;
      if (v instanceof Uint8Array) return v;
      return toJsonText(v);
    default:
      return null;
  }
}

/** JSON text of claims: integers print without `.0` (JSON.parse cannot tell 1 from 1.0). */
export function toJsonText(v: unknown): string {
  return stringifyLosslessJson(toLossless(v, 0));
}

function toLossless(v: unknown, depth: number): LosslessJsonValue {
  if (depth > 64) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'object': {
      if (v === null) return null;
      if (Array.isArray(v)) return v.map((x) => toLossless(x, depth + 1));
      const out: Record<string, LosslessJsonValue> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x !== undefined && typeof x !== 'function') out[k] = toLossless(x, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}

/** Lazily converted request values, shared by all expressions evaluated for one connection. */
export class RequestContext {
  private jwtText: string | undefined;
  private clientText: string | undefined;
  private tokenParams: Record<string, unknown> | undefined;

  constructor(readonly request: RequestParameters) {}

  get userId(): SqliteValue {
    return this.request.userId;
  }

  get jwtJson(): string {
    return (this.jwtText ??= toJsonText(this.request.jwtClaims ?? {}));
  }

  get clientParametersJson(): string {
    return (this.clientText ??= toJsonText(this.request.clientParameters ?? {}));
  }

  /** `token_parameters.<name>`. */
  tokenParameter(name: string): SqliteValue {
    if (this.tokenParams === undefined) {
      const claim = this.request.jwtClaims?.['parameters'];
      const base = claim !== null && typeof claim === 'object' && !Array.isArray(claim) ? (claim as Record<string, unknown>) : {};
      this.tokenParams = { ...base, user_id: this.request.userId };
    }
    return Object.prototype.hasOwnProperty.call(this.tokenParams, name) ? unknownToSqlite(this.tokenParams[name]) : null;
  }

  /** `user_parameters.<name>` and `request.parameter(name)`. */
  clientParameter(name: string): SqliteValue {
    const params = this.request.clientParameters ?? {};
    return Object.prototype.hasOwnProperty.call(params, name) ? unknownToSqlite(params[name]) : null;
  }
}
