import { describe, expect, it } from 'vitest';
import { CTID_MAX_BLOCKS_PER_CHUNK, encodeBlockPosition, initialBlocks, nextBlocks, resumeBlock } from '../../src/replication/snapshot-paging.ts';

describe('snapshot block-range paging', () => {
  it('resumes at the stored block only for the same relfilenodes', () => {
    const stored = encodeBlockPosition({ block: 42, relfiles: '16384' });
    expect(resumeBlock(stored, '16384')).toBe(42);
    expect(resumeBlock(stored, '16999')).toBe(0);
  });

  it('starts over from a key-order position, nothing stored or a damaged position', () => {
    expect(resumeBlock(null, '1')).toBe(0);
    expect(resumeBlock('["a", null]', '1')).toBe(0);
    expect(resumeBlock('{not json', '1')).toBe(0);
    expect(resumeBlock('{"ctid":{"block":-3,"relfiles":"1"}}', '1')).toBe(0);
    expect(resumeBlock('{"ctid":{"block":1.5,"relfiles":"1"}}', '1')).toBe(0);
    expect(resumeBlock('null', '1')).toBe(0);
  });

  it('sizes chunks from statistics and adapts them to the rows found', () => {
    expect(initialBlocks(10_000, 20_000, 100)).toBe(50);
    expect(initialBlocks(10_000, 0, 0)).toBe(100); // never analysed: assume 100 rows a block
    expect(initialBlocks(10_000, 5, 1_000)).toBe(10_000); // mostly empty pages
    expect(nextBlocks(50, 20_000, 10_000)).toBe(25);
    expect(nextBlocks(50, 0, 10_000)).toBe(100);
    expect(nextBlocks(1, 1_000_000, 10_000)).toBe(1);
    expect(nextBlocks(CTID_MAX_BLOCKS_PER_CHUNK, 0, 10_000)).toBe(CTID_MAX_BLOCKS_PER_CHUNK);
  });
});
