/**
 * Sync lines (server → client, reference server §1.5) parsed into typed values. Text is parsed
 * with JSON.parse, and again with the lossless parser when the result holds an integer beyond
 * 2^53 (which JSON.parse may have rounded), so 64-bit values survive exactly. Unknown line types are passed through
 * as `unknown` (forward compatibility).
 */
import { parseLosslessJson, stringifyLosslessJson, toUint32, type LosslessJsonValue, type ParsedJsonValue } from '@syncline/protocol';
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { OpType, OplogEntry } from './op-log-reduction.ts';

export const DEFAULT_PRIORITY = 3;

export interface BucketChecksum {
  bucket: string;
  /** Unsigned 32-bit. */
  checksum: number;
  count: number | undefined;
  priority: number;
  /** Why the client has this bucket (Sync Streams); empty from servers that do not send it. */
  subscriptions: readonly SubscriptionReason[];
}

/** `{default: k}` indexes the first checkpoint's `streams`; `{sub: i}` the request's `streams.subscriptions`. */
export type SubscriptionReason = { default: number } | { sub: number };

/** One entry of `checkpoint.streams`: a stream the server resolved for this connection. */
export interface StreamInfo {
  name: string;
  isDefault: boolean;
  /** `subscription` is a request index, or `'default'` for the implicit default subscription. */
  errors: readonly { subscription: number | 'default'; message: string }[];
}

export interface Checkpoint {
  lastOpId: bigint;
  writeCheckpoint: bigint | null;
  buckets: ReadonlyMap<string, BucketChecksum>;
}

export type SyncLine =
  /** `streams` is absent when the server sent none (servers without Sync Streams). */
  | { type: 'checkpoint'; checkpoint: Checkpoint; streams: StreamInfo[] | undefined }
  | { type: 'checkpoint_diff'; lastOpId: bigint; writeCheckpoint: bigint | null; updated: BucketChecksum[]; removed: string[] }
  | { type: 'data'; bucket: string; ops: OplogEntry[] }
  | { type: 'checkpoint_complete'; lastOpId: bigint }
  | { type: 'partial_checkpoint_complete'; lastOpId: bigint; priority: number }
  | { type: 'token_expires_in'; seconds: number }
  | { type: 'unknown'; key: string };

type Json = ParsedJsonValue | undefined;
type JsonObject = { [key: string]: ParsedJsonValue };

function fail(message: string): never {
  throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, `Invalid sync line: ${message}`);
}

/**
 * Whether JSON.parse may have rounded an integer: any parsed integer beyond ±(2^53 − 1). An
 * integer literal that lost precision always rounds to at least 2^53 in magnitude, so this finds
 * every such literal (numbers inside strings are untouched text). Walking the parsed value costs
 * far less than scanning the text of a large data line for long digit runs.
 */
function hasUnsafeInteger(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v);
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (hasUnsafeInteger(v[i])) return true;
    return false;
  }
  for (const k in v) if (hasUnsafeInteger((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** Parses one NDJSON line. */
export function parseSyncLineText(text: string): SyncLine {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
    if (hasUnsafeInteger(value)) value = parseLosslessJson(text, { integers: 'bigint' });
    // Legacy (non-raw) data lines embed rows as objects: re-parse so INTEGER/REAL stay distinct.
    if (typeof value === 'object' && hasObjectRowData(value)) value = parseLosslessJson(text, { integers: 'bigint' });
  } catch (e) {
    throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, `Sync line is not valid JSON: ${String(e)}`, { cause: e });
  }
  return parseSyncLine(value);
}

function hasObjectRowData(value: Json): boolean {
  if (!isObject(value)) return false;
  const body = value['data'];
  if (!isObject(body) || !Array.isArray(body['data'])) return false;
  return body['data'].some((op) => isObject(op) && isObject(op['data']));
}

function isObject(v: Json): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function opId(v: Json, what: string): bigint {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return fail(`${what} must be a decimal op id`);
}

function optionalOpId(v: Json, what: string): bigint | null {
  return v === undefined || v === null ? null : opId(v, what);
}

function integer(v: Json, what: string): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isFinite(v) && Number.isInteger(v)) return v;
  return fail(`${what} must be an integer`);
}

/** Checksums may arrive as u32, i32, larger integers or whole floats; all wrap to u32. */
function checksum(v: Json, what: string): number {
  if (typeof v === 'bigint') return toUint32(v);
  if (typeof v === 'number' && Number.isFinite(v) && Number.isInteger(v)) return toUint32(v);
  return fail(`${what} must be an integer checksum`);
}

function str(v: Json, what: string): string {
  if (typeof v === 'string') return v;
  return fail(`${what} must be a string`);
}

function optionalStr(v: Json): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

function bucketChecksum(v: Json): BucketChecksum {
  if (!isObject(v)) return fail('bucket checksum must be an object');
  const priority = v['priority'] === undefined || v['priority'] === null ? DEFAULT_PRIORITY : integer(v['priority'], 'priority');
  return {
    bucket: str(v['bucket'], 'bucket'),
    checksum: checksum(v['checksum'], 'checksum'),
    count: v['count'] === undefined || v['count'] === null ? undefined : integer(v['count'], 'count'),
    priority,
    subscriptions: subscriptionReasons(v['subscriptions']),
  };
}

/** Reasons are informational: malformed entries are skipped rather than failing the line. */
function subscriptionReasons(v: Json): SubscriptionReason[] {
  if (!Array.isArray(v)) return [];
  const out: SubscriptionReason[] = [];
  for (const r of v) {
    if (!isObject(r)) continue;
    const d = r['default'];
    const s = r['sub'];
    if (typeof d === 'number' && Number.isInteger(d) && d >= 0) out.push({ default: d });
    else if (typeof s === 'number' && Number.isInteger(s) && s >= 0) out.push({ sub: s });
  }
  return out;
}

function streamInfos(v: Json): StreamInfo[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return fail('checkpoint.streams must be an array');
  return v.map((entry): StreamInfo => {
    if (!isObject(entry)) return fail('checkpoint.streams entries must be objects');
    const errors = Array.isArray(entry['errors']) ? entry['errors'] : [];
    return {
      name: str(entry['name'], 'stream name'),
      isDefault: entry['is_default'] === true,
      errors: errors.filter(isObject).map((e) => {
        const sub = e['subscription'];
        return {
          subscription: typeof sub === 'number' && Number.isInteger(sub) ? sub : typeof sub === 'bigint' ? Number(sub) : 'default',
          message: typeof e['message'] === 'string' ? e['message'] : JSON.stringify(e['message'] ?? null),
        };
      }),
    };
  });
}

const OP_TYPES: ReadonlySet<string> = new Set(['PUT', 'REMOVE', 'MOVE', 'CLEAR']);

function oplogEntry(v: Json): OplogEntry {
  if (!isObject(v)) return fail('op must be an object');
  const op = str(v['op'], 'op');
  if (!OP_TYPES.has(op)) return fail(`unknown op "${op}"`);
  const data = v['data'];
  let dataText: string | undefined;
  if (typeof data === 'string') dataText = data;
  else if (isObject(data)) dataText = stringifyLosslessJson(data as LosslessJsonValue); // legacy non-raw form
  return {
    opId: opId(v['op_id'], 'op_id'),
    op: op as OpType,
    checksum: checksum(v['checksum'], 'op checksum'),
    objectType: optionalStr(v['object_type']),
    objectId: optionalStr(v['object_id']),
    subkey: optionalStr(v['subkey']),
    data: dataText,
  };
}

export function parseSyncLine(value: Json): SyncLine {
  if (!isObject(value)) return fail('a line must be a JSON object');
  const key = Object.keys(value)[0];
  if (key === undefined) return fail('empty object');
  const body = value[key];
  switch (key) {
    case 'checkpoint': {
      if (!isObject(body)) return fail('checkpoint must be an object');
      const buckets = new Map<string, BucketChecksum>();
      const list = body['buckets'];
      if (!Array.isArray(list)) return fail('checkpoint.buckets must be an array');
      for (const b of list) {
        const parsed = bucketChecksum(b);
        buckets.set(parsed.bucket, parsed);
      }
      return {
        type: 'checkpoint',
        checkpoint: { lastOpId: opId(body['last_op_id'], 'last_op_id'), writeCheckpoint: optionalOpId(body['write_checkpoint'], 'write_checkpoint'), buckets },
        streams: streamInfos(body['streams']),
      };
    }
    case 'checkpoint_diff': {
      if (!isObject(body)) return fail('checkpoint_diff must be an object');
      const updated = body['updated_buckets'] ?? [];
      const removed = body['removed_buckets'] ?? [];
      if (!Array.isArray(updated) || !Array.isArray(removed)) return fail('checkpoint_diff bucket lists must be arrays');
      return {
        type: 'checkpoint_diff',
        lastOpId: opId(body['last_op_id'], 'last_op_id'),
        writeCheckpoint: optionalOpId(body['write_checkpoint'], 'write_checkpoint'),
        updated: updated.map(bucketChecksum),
        removed: removed.map((r) => str(r, 'removed bucket')),
      };
    }
    case 'data': {
      if (!isObject(body)) return fail('data must be an object');
      const ops = body['data'];
      if (!Array.isArray(ops)) return fail('data.data must be an array');
      return { type: 'data', bucket: str(body['bucket'], 'data.bucket'), ops: ops.map(oplogEntry) };
    }
    case 'checkpoint_complete': {
      if (!isObject(body)) return fail('checkpoint_complete must be an object');
      return { type: 'checkpoint_complete', lastOpId: opId(body['last_op_id'], 'last_op_id') };
    }
    case 'partial_checkpoint_complete': {
      if (!isObject(body)) return fail('partial_checkpoint_complete must be an object');
      return { type: 'partial_checkpoint_complete', lastOpId: opId(body['last_op_id'], 'last_op_id'), priority: integer(body['priority'], 'priority') };
    }
    case 'token_expires_in':
      return { type: 'token_expires_in', seconds: integer(body, 'token_expires_in') };
    default:
      return { type: 'unknown', key };
  }
}

/** Applies a `checkpoint_diff` to the tracked checkpoint (a missing write_checkpoint means none). */
export function applyCheckpointDiff(base: Checkpoint, diff: Extract<SyncLine, { type: 'checkpoint_diff' }>): Checkpoint {
  const buckets = new Map(base.buckets);
  for (const name of diff.removed) buckets.delete(name);
  for (const b of diff.updated) buckets.set(b.bucket, b);
  return { lastOpId: diff.lastOpId, writeCheckpoint: diff.writeCheckpoint, buckets };
}
