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
  return Buffer.from(encodeNdjsonLine(line, rawData));
}

/**
 * One NDJSON line (with its newline) as text: the HTTP stream joins the lines of a checkpoint and
 * converts them to bytes once per socket write instead of once per line.
 */
export function encodeNdjsonLine(line: SyncLine, rawData: boolean): string {
  if ('data' in line) {
    if (!rawData) return dataLine(line.data, legacyOpsText, legacyOps) + '\n';
    if (isPlainDataLine(line)) return dataLine(line.data, rawOpsText, rawOps) + '\n';
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

/**
 * Encoded ops per ops array: the sync generator hands every connection at the same position the
 * same array (shared op pages), so a checkpoint's data line is encoded once, not once per stream.
 */
const rawOpsText = new WeakMap<WireOps, string>();
const legacyOpsText = new WeakMap<WireOps, string>();

function dataLine(d: DataLine['data'], cache: WeakMap<WireOps, string>, encode: (ops: WireOps) => string): string {
  let ops = cache.get(d.data);
  if (ops === undefined) {
    ops = encode(d.data);
    cache.set(d.data, ops);
  }
  return `{"data":{"bucket":${JSON.stringify(d.bucket)},"after":${JSON.stringify(d.after)},"next_after":${JSON.stringify(d.next_after)},"has_more":${d.has_more},"data":${ops}}}`;
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
