/**
 * Pure helpers for Sync Streams subscriptions: canonical JSON for subscription parameters (so
 * `{a: 1, b: 2}` and `{b: 2, a: 1}` are the same subscription — PowerSync compares
 * `JSON.stringify` output, which depends on key order), the key of a (name, parameters) pair, and
 * validation of `subscribe()` options with typed errors.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';

/** Parameters of a stream subscription: a JSON object, or null for none. */
export type StreamParameters = Record<string, unknown> | null;

/** TTL used when `subscribe()` is given none: 24 h, like PowerSync. */
export const DEFAULT_STREAM_TTL_SECONDS = 86_400;

function invalid(message: string): never {
  throw new SynclineError(ClientErrorCodes.INVALID_ARGUMENT, message);
}

function canonical(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) return invalid(`Stream parameter ${path} must be a finite number, got ${String(value)}`);
      return JSON.stringify(value);
    case 'object': {
      if (seen.has(value)) return invalid(`Stream parameter ${path} is circular`);
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = `[${value.map((v, i) => canonical(v, `${path}[${i}]`, seen)).join(',')}]`;
      } else {
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) return invalid(`Stream parameter ${path} must be plain JSON (got ${Object.prototype.toString.call(value)})`);
        const entries = Object.keys(value)
          .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k], `${path}.${k}`, seen)}`);
        out = `{${entries.join(',')}}`;
      }
      seen.delete(value);
      return out;
    }
    default:
      return invalid(`Stream parameter ${path} must be JSON (string, number, boolean, null, array or object), got ${typeof value}`);
  }
}

/**
 * Canonical JSON text of subscription parameters: object keys sorted at every level, `undefined`
 * members dropped; `null`/`undefined` give `'null'`. Throws `INVALID_ARGUMENT` for anything that is
 * not plain JSON or not an object at the top.
 */
export function canonicalParameters(parameters: unknown): string {
  if (parameters === undefined || parameters === null) return 'null';
  if (typeof parameters !== 'object' || Array.isArray(parameters)) {
    return invalid(`Stream parameters must be an object or null, got ${Array.isArray(parameters) ? 'an array' : typeof parameters}`);
  }
  return canonical(parameters, 'parameters', new Set());
}

/** Parses stored canonical parameters back (the stored text is always valid JSON). */
export function parseParameters(text: string): StreamParameters {
  return JSON.parse(text) as StreamParameters;
}

/** The identity of a subscription: name plus canonical parameters. */
export function subscriptionKey(name: string, canonicalParams: string): string {
  return `${name}\u0000${canonicalParams}`;
}

export function validateStreamName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) return invalid('A stream name must be a non-empty string of at most 256 characters');
  return name;
}

export interface ValidatedSubscribeOptions {
  /** Milliseconds; `null` = never expires (`ttl: Infinity`). */
  ttlMs: number | null;
  priority: number | null;
}

/**
 * Validates `subscribe()` options: `ttl` in seconds, a non-negative number (fractions allowed,
 * `Infinity` = never expires, default 24 h); `priority` an integer 0..3.
 */
export function validateSubscribeOptions(options: { ttl?: unknown; priority?: unknown } | undefined): ValidatedSubscribeOptions {
  const ttl = options?.ttl;
  let ttlMs: number | null;
  if (ttl === undefined) ttlMs = DEFAULT_STREAM_TTL_SECONDS * 1000;
  else if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) return invalid(`ttl must be a non-negative number of seconds (or Infinity), got ${String(ttl)}`);
  else ttlMs = ttl === Infinity ? null : Math.round(ttl * 1000);
  if (ttlMs !== null && !Number.isSafeInteger(ttlMs)) ttlMs = null; // beyond ~285,000 years: never
  const priority = options?.priority;
  if (priority !== undefined && priority !== null && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 3)) {
    return invalid(`priority must be an integer from 0 to 3, got ${String(priority)}`);
  }
  return { ttlMs, priority: priority ?? null };
}

/** The longer of two TTLs (`null` = never expires wins). */
export function longerTtl(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.max(a, b);
}

/** The more urgent of two priority overrides (smaller number), ignoring `null` (none). */
export function higherPriority(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
