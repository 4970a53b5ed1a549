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
  if (!rawData && 'data' in line) return Buffer.from(legacyDataLine(line) + '\n');
  return Buffer.from(JSON.stringify(line) + '\n');
}

/** Legacy NDJSON data line: `data` embedded as JSON (already lossless text), checksum as integer. */
function legacyDataLine(line: Extract<SyncLine, { data: unknown }>): string {
  const d = line.data;
  const ops = d.data.map((op) => {
    const { data, ...rest } = op;
    const head = JSON.stringify(rest);
    if (data === undefined) return head;
    return `${head.slice(0, -1)},"data":${data === null ? 'null' : data}}`;
  });
  return `{"data":{"bucket":${JSON.stringify(d.bucket)},"after":${JSON.stringify(d.after)},"next_after":${JSON.stringify(d.next_after)},"has_more":${d.has_more},"data":[${ops.join(',')}]}}`;
}
