import { describe, expect, it } from 'vitest';
import { NdjsonSplitter, ndjsonLines } from '../src/sync/ndjson.ts';

const encoder = new TextEncoder();

/** Splits `text` into byte chunks at the given byte offsets. */
function chunksAt(text: string, cuts: number[]): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.slice(at, cut));
    at = cut;
  }
  return out;
}

function split(chunks: Uint8Array[]): string[] {
  const s = new NdjsonSplitter();
  return [...chunks.flatMap((c) => s.push(c)), ...s.end()];
}

function stream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      const c = chunks[i++];
      if (c) controller.enqueue(c);
      else controller.close();
    },
  });
}

describe('NDJSON line splitting', () => {
  it('joins a line split across chunks', () => {
    expect(split(chunksAt('{"a":1}\n{"b":2}\n', [3, 10, 12]))).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('joins a line split across many chunks, one byte each', () => {
    const text = '{"data":"' + 'x'.repeat(50) + '"}\n{"c":3}\n';
    expect(split(chunksAt(text, Array.from({ length: text.length - 1 }, (_, i) => i + 1)))).toEqual(['{"data":"' + 'x'.repeat(50) + '"}', '{"c":3}']);
  });

  it('decodes multi-byte UTF-8 split across chunks at every position', () => {
    const text = '{"t":"ä€😀"}\n{"u":"ß"}\n';
    const length = encoder.encode(text).length;
    for (let cut = 1; cut < length; cut++) {
      expect(split(chunksAt(text, [cut])), `cut at byte ${cut}`).toEqual(['{"t":"ä€😀"}', '{"u":"ß"}']);
    }
    // every byte its own chunk: a 4-byte character spans four chunks
    expect(split(chunksAt(text, Array.from({ length: length - 1 }, (_, i) => i + 1)))).toEqual(['{"t":"ä€😀"}', '{"u":"ß"}']);
  });

  it('returns many lines from one chunk, in order', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i }));
    expect(split([encoder.encode(lines.join('\n') + '\n')])).toEqual(lines);
  });

  it('skips empty and whitespace-only lines, keeps other whitespace', () => {
    expect(split(chunksAt('\n\n{"a":1}\n  \n\t\r\n {"b":2}\r\n\n', [1, 9]))).toEqual(['{"a":1}', ' {"b":2}\r']);
  });

  it('accepts a final line without newline (also when it spans chunks)', () => {
    expect(split(chunksAt('{"a":1}\n{"b":2}', [10]))).toEqual(['{"a":1}', '{"b":2}']);
    expect(split(chunksAt('{"a":1}\n   ', [9]))).toEqual(['{"a":1}']);
  });

  it('keeps the unfinished tail even if the reader reuses the chunk memory', () => {
    const s = new NdjsonSplitter();
    const chunk = encoder.encode('{"a":1}\n{"b"');
    expect(s.push(chunk)).toEqual(['{"a":1}']);
    chunk.fill(0x20);
    expect(s.push(encoder.encode(':2}\n'))).toEqual(['{"b":2}']);
  });

  it('streams lines with their sizes and releases the reader', async () => {
    const body = stream(chunksAt('{"a":1}\n\n{"bb":"é"}\n{"c":3}', [4, 13]));
    const got: { text: string; size: number }[] = [];
    for await (const l of ndjsonLines(body)) got.push(l);
    expect(got).toEqual([
      { text: '{"a":1}', size: 8 },
      { text: '{"bb":"é"}', size: 11 },
      { text: '{"c":3}', size: 7 },
    ]);
    expect(body.locked).toBe(false);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(encoder.encode(`{"n":${pulls}}\n`));
      },
    });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const { text } of ndjsonLines(body, controller.signal)) {
          got.push(text);
          if (got.length === 3) controller.abort();
        }
      })(),
    ).resolves.toBeUndefined();
    expect(got).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });
});
