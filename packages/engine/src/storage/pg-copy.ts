/**
 * Bulk append with `COPY … FROM STDIN` (text format): several times faster than multi-row INSERT
 * for the op-log and snapshot row state.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type CopyValue = string | number | bigint | boolean | null;

/** Escapes one value for COPY text format (`\N` is NULL). */
export function copyField(v: CopyValue): string {
  if (v === null) return '\\N';
  if (typeof v !== 'string') return String(v);
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

const CHUNK_ROWS = 2000;
const NEEDS_ESCAPE = /[\\\n\r\t]/;

export async function copyRows(client: pg.PoolClient, table: string, columns: string[], rows: Iterable<CopyValue[]>): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  const source = Readable.from(
    (function* () {
      let buf: string[] = [];
      for (const row of rows) {
        buf.push(row.map(copyField).join('\t'));
        if (buf.length >= CHUNK_ROWS) {
          yield buf.join('\n') + '\n';
          buf = [];
        }
      }
      if (buf.length) yield buf.join('\n') + '\n';
    })(),
  );
  await pipeline(source, stream);
}
