/**
 * Encodes protocol lines for the HTTP stream: NDJSON (raw form: row data as JSON text; legacy form
 * when the client did not ask for raw_data: row data embedded as JSON), or a BSON stream.
 */
import { serialize } from 'bson';
import type { SyncLine } from '@syncline/protocol';

export type StreamFormat = 'ndjson' | 'bson';
export const NDJSON = 'application/x-ndjson';
export const BSON_STREAM = 'application/vnd.powersync.bson-stream';

/** Picks the response format from the Accept header (q-values honoured; no header → NDJSON). */
export function negotiateFormat(accept: string | undefined): StreamFormat {
  if (!accept) return 'ndjson';
  let best: { format: StreamFormat; q: number } | null = null;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    const t = type.trim().toLowerCase();
    const format: StreamFormat | null = t === BSON_STREAM ? 'bson' : t === NDJSON || t === '*/*' || t === 'application/*' ? 'ndjson' : null;
    if (format && q > 0 && (!best || q > best.q)) best = { format, q };
  }
  return best?.format ?? 'ndjson';
}

export function encodeLine(line: SyncLine, format: StreamFormat, rawData: boolean): Buffer {
  if (format === 'bson') return Buffer.from(serialize(line as unknown as Record<string, unknown>));
  const encoded = encodeNdjsonLine(line, rawData);
  return typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
}

/**
 * One NDJSON line (with its newline): data lines as bytes, every other line as text. The HTTP
 * stream joins text lines and converts them to bytes once per socket write instead of once per
 * line (many small lines per checkpoint with many connections).
 *
 * Data lines are encoded as bytes in pieces of {@link OPS_PER_PIECE} ops: a page of 1,000 ops is
 * ~360 KB of JSON, and a string that large is a V8 large object whose fresh pages are faulted in
 * one by one — on this machine ~5 ms per MB (for JSON.stringify of the page, then again for the
 * flattened line before its UTF-8 copy), against ~0.1 ms per MB for strings below 128 KB. Encoding
 * 300 pages took 1.64–1.78 s CPU as one string per page, 1.28–1.33 s in pieces (BENCHMARKS.md).
 */
export function encodeNdjsonLine(line: SyncLine, rawData: boolean): string | Buffer {
  if ('data' in line) {
    if (!rawData) return dataLine(line.data, legacyOpsBytes, legacyOps);
    if (isPlainDataLine(line)) return dataLine(line.data, rawOpsBytes, rawOps);
  }
  if ('checkpoint_complete' in line && Object.keys(line.checkpoint_complete).length === 1) return completeLine(line.checkpoint_complete.last_op_id);
  return JSON.stringify(line) + '\n';
}

/** Every stream completes the same checkpoint after a fan-out: its line is built once. */
let lastComplete = { opId: '', text: '' };
function completeLine(opId: string): string {
  if (lastComplete.opId !== opId) lastComplete = { opId, text: `{"checkpoint_complete":{"last_op_id":${JSON.stringify(opId)}}}\n` };
  return lastComplete.text;
}

type DataLine = Extract<SyncLine, { data: unknown }>;
type WireOps = DataLine['data']['data'];

/** Ops encoded per piece: ~45 KB of JSON at ~360 B per op, well below V8's large-object size. */
export const OPS_PER_PIECE = 128;

/**
 * Encoded ops per ops array: the sync generator hands every connection at the same position the
 * same array (shared op pages), so a checkpoint's data line is encoded once, not once per stream.
 */
const rawOpsBytes = new WeakMap<WireOps, Buffer>();
const legacyOpsBytes = new WeakMap<WireOps, Buffer>();

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_ARRAY = Buffer.from(']');
const CLOSE = Buffer.from('}}\n');

function dataLine(d: DataLine['data'], cache: WeakMap<WireOps, Buffer>, encode: (ops: WireOps) => string): Buffer {
  let ops = cache.get(d.data);
  if (ops === undefined) {
    ops = opsBytes(d.data, encode);
    cache.set(d.data, ops);
  }
  const head = Buffer.from(
    `{"data":{"bucket":${JSON.stringify(d.bucket)},"after":${JSON.stringify(d.after)},"next_after":${JSON.stringify(d.next_after)},"has_more":${d.has_more},"data":`,
  );
  return Buffer.concat([head, ops, CLOSE]);
}

/** `[op,op,…]` as UTF-8, encoded {@link OPS_PER_PIECE} ops at a time (each piece `[…]`, brackets dropped). */
function opsBytes(ops: WireOps, encode: (ops: WireOps) => string): Buffer {
  const parts: Buffer[] = [OPEN];
  for (let at = 0; at < ops.length; at += OPS_PER_PIECE) {
    if (at > 0) parts.push(COMMA);
    const piece = Buffer.from(encode(ops.slice(at, at + OPS_PER_PIECE)));
    parts.push(piece.subarray(1, piece.length - 1));
  }
  parts.push(CLOSE_ARRAY);
  return Buffer.concat(parts);
}

const DATA_KEYS = ['bucket', 'after', 'next_after', 'has_more', 'data'];
/** True when JSON.stringify(line) is exactly what dataLine builds (same keys, same order). */
function isPlainDataLine(line: DataLine): boolean {
  if (Object.keys(line).length !== 1) return false;
  const keys = Object.keys(line.data);
  if (keys.length !== DATA_KEYS.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== DATA_KEYS[i]) return false;
  const d = line.data;
  return typeof d.bucket === 'string' && typeof d.after === 'string' && typeof d.next_after === 'string' && typeof d.has_more === 'boolean' && Array.isArray(d.data);
}

const rawOps = (ops: WireOps) => JSON.stringify(ops);

/** Legacy NDJSON ops: `data` embedded as JSON (already lossless text), checksum as integer. */
function legacyOps(ops: WireOps): string {
  const parts = ops.map((op) => {
    const { data, ...rest } = op;
    const head = JSON.stringify(rest);
    if (data === undefined) return head;
    return `${head.slice(0, -1)},"data":${data === null ? 'null' : data}}`;
  });
  return `[${parts.join(',')}]`;
}
