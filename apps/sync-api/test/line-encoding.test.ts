import type { OplogEntryLine, SyncLine } from '@syncline/protocol';
import { describe, expect, it } from 'vitest';
import { OPS_PER_PIECE, encodeLine, encodeNdjsonLine } from '../src/line-encoding.ts';

const text = (encoded: string | Buffer): string => (typeof encoded === 'string' ? encoded : encoded.toString('utf8'));

function ops(n: number): OplogEntryLine[] {
  return Array.from({ length: n }, (_, i): OplogEntryLine => {
    if (i % 7 === 3) return { op_id: String(i + 1), op: 'REMOVE', object_type: 'todos', object_id: `r${i}`, subkey: `s/${i}`, checksum: -i };
    if (i % 11 === 5) return { op_id: String(i + 1), op: 'MOVE', checksum: i };
    // Row text with quotes, backslashes, a newline, non-ASCII and an astral character.
    return { op_id: String(i + 1), op: 'PUT', object_type: 'todos', object_id: `r${i}`, subkey: `s/${i}`, data: JSON.stringify({ id: `r${i}`, d: `"q" \\ é€😀\n${i}`, n: i }), checksum: 4294967295 - i };
  });
}

const dataLine = (data: OplogEntryLine[]): SyncLine => ({ data: { bucket: 'by_owner["ä"]', after: '0', next_after: String(data.length), has_more: true, data } });

describe('NDJSON line encoding', () => {
  it('encodes raw data lines of any size exactly as JSON.stringify, whether the ops fit one piece or span several', () => {
    for (const n of [0, 1, OPS_PER_PIECE - 1, OPS_PER_PIECE, OPS_PER_PIECE + 1, 3 * OPS_PER_PIECE + 17]) {
      const line = dataLine(ops(n));
      const encoded = encodeNdjsonLine(line, true);
      expect(text(encoded)).toBe(JSON.stringify(line) + '\n');
      // The same ops array again (shared op pages): same bytes from the cache.
      expect(text(encodeNdjsonLine({ data: { ...(line as { data: object }).data, after: '9' } } as SyncLine, true))).toBe(
        JSON.stringify({ data: { ...(line as { data: object }).data, after: '9' } }) + '\n',
      );
    }
  });

  it('encodes legacy (non-raw) data lines with the row JSON embedded, across pieces', () => {
    const data = ops(2 * OPS_PER_PIECE + 5);
    const line = dataLine(data);
    const parsed = JSON.parse(text(encodeNdjsonLine(line, false))) as { data: { data: Record<string, unknown>[] } };
    expect(parsed.data.data).toHaveLength(data.length);
    parsed.data.data.forEach((op, i) => {
      const source = data[i]!;
      expect(op).toEqual({ ...source, ...(typeof source.data === 'string' ? { data: JSON.parse(source.data) as unknown } : {}) });
    });
  });

  it('encodes other lines as text, and encodeLine returns the same bytes as a Buffer', () => {
    const complete: SyncLine = { checkpoint_complete: { last_op_id: '42' } };
    expect(encodeNdjsonLine(complete, true)).toBe(JSON.stringify(complete) + '\n');
    const line = dataLine(ops(OPS_PER_PIECE + 2));
    expect(encodeLine(line, 'ndjson', true).toString('utf8')).toBe(JSON.stringify(line) + '\n');
    expect(encodeLine(complete, 'ndjson', true).toString('utf8')).toBe(JSON.stringify(complete) + '\n');
  });
});
