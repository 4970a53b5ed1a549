/**
 * Bucket id codec (reference §6.3): `[<version>#]<definition>[<params as JSON array>]`.
 *
 * Parameters are written by a raw lossless stringifier: INTEGER (`bigint`) and REAL (`number`)
 * with the same numeric value print identically (`1`), so `1` and `1.0` select the same bucket.
 * Strings are JSON-escaped. Blobs cannot be bucket parameters.
 *
 * Bucket ids are opaque to clients; only the server parses them (for diagnostics).
 *
 * @example
 * serializeBucketId('by_list', ['v1', 2n], 3); // '3#by_list["v1",2]'
 * parseBucketId('3#by_list["v1",2]'); // { versionPrefix: 3, definition: 'by_list', parameters: ['v1', 2] }
 */
import { parseLosslessJson, quoteJsonString, type ParsedJsonValue } from './lossless-json.ts';

/** A value allowed as a bucket parameter. */
export type BucketParameterValue = string | number | bigint | null;

/** Thrown when a value cannot be part of a bucket id, or an id cannot be parsed. */
export class BucketIdError extends Error {
  constructor(
    readonly code: 'BUCKET_ID_INVALID_PARAMETER' | 'BUCKET_ID_MALFORMED',
    message: string,
  ) {
    super(message);
    this.name = 'BucketIdError';
  }
}

/** True when `value` can be written into a bucket id (no blobs, no NaN/±Infinity). */
export function isBucketParameterValue(value: unknown): value is BucketParameterValue {
  switch (typeof value) {
    case 'string':
    case 'bigint':
      return true;
    case 'number':
      return Number.isFinite(value);
    default:
      return value === null;
  }
}

/** Writes one parameter value. Whole reals print without `.0`. */
export function stringifyBucketParameter(value: BucketParameterValue): string {
  switch (typeof value) {
    case 'string':
      return quoteJsonString(value);
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) break;
      // Whole reals within the exact range print like integers (`1.0` → `1`).
      return Number.isSafeInteger(value) ? value.toFixed(0) : String(value);
    default:
      if (value === null) return 'null';
  }
  throw new BucketIdError('BUCKET_ID_INVALID_PARAMETER', `Value of type ${typeof value} cannot be a bucket parameter`);
}

/** Writes the JSON array part: `["v1",2]`. */
export function serializeBucketParameters(params: readonly BucketParameterValue[]): string {
  if (params.length === 1) return `[${stringifyBucketParameter(params[0] as BucketParameterValue)}]`;
  let out = '[';
  for (let i = 0; i < params.length; i++) {
    if (i > 0) out += ',';
    out += stringifyBucketParameter(params[i] as BucketParameterValue);
  }
  return out + ']';
}

/**
 * Builds a bucket id. `versionPrefix` (the deployed sync-rules version id) is prepended as
 * `<n>#` when given; omit it for unversioned (legacy) ids.
 */
export function serializeBucketId(definition: string, params: readonly BucketParameterValue[], versionPrefix?: number): string {
  const base = definition + serializeBucketParameters(params);
  return versionPrefix === undefined ? base : `${versionPrefix}#${base}`;
}

export interface ParsedBucketId {
  /** The `<n>#` prefix, or null for unversioned ids. */
  versionPrefix: number | null;
  definition: string;
  parameters: ParsedJsonValue[];
}

const VERSION_PREFIX = /^(\d+)#/;

/**
 * Parses a bucket id produced by {@link serializeBucketId}. A leading `<digits>#` is read as the
 * version prefix unless `options.versioned` is false (use that for unversioned ids whose
 * definition name itself starts with digits and `#`). Large integers come back as `bigint`.
 * Throws {@link BucketIdError} when the id has no trailing JSON array.
 */
export function parseBucketId(id: string, options?: { versioned?: boolean }): ParsedBucketId {
  let rest = id;
  let versionPrefix: number | null = null;
  const m = options?.versioned === false ? null : VERSION_PREFIX.exec(id);
  if (m) {
    versionPrefix = Number(m[1]);
    rest = id.slice(m[0].length);
  } else if (options?.versioned === true) {
    throw new BucketIdError('BUCKET_ID_MALFORMED', `Bucket id '${id}' has no version prefix`);
  }
  // The parameters are the trailing JSON array; the definition name may itself contain '['.
  for (let i = rest.indexOf('['); i >= 0; i = rest.indexOf('[', i + 1)) {
    let parsed: ParsedJsonValue;
    try {
      parsed = parseLosslessJson(rest.slice(i));
    } catch {
      continue;
    }
    if (Array.isArray(parsed)) return { versionPrefix, definition: rest.slice(0, i), parameters: parsed };
  }
  throw new BucketIdError('BUCKET_ID_MALFORMED', `Bucket id '${id}' does not end with a JSON array of parameters`);
}
