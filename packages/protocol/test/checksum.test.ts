import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addChecksums, opChecksumPut, opChecksumRemove, sumChecksums, toSignedInt32, toUint32 } from '../src/checksum.ts';
import { stringifySqliteRow } from '../src/lossless-json.ts';

describe('op checksums (reference §3.4 vectors)', () => {
  it.each([
    ['t1', '{"id":"t1","description":"Test 1"}', 920318466],
    ['t2', '{"id":"t2","description":"Test 2"}', 3280762209],
    ['t1', '{"id":"t1","description":"Test 1b"}', 1859363232],
    ['t2', '{"id":"t2","description":"Test 2b"}', 3028503153],
    ['a', '{"id":"a","description":"Test 1"}', 2582164875],
  ])('PUT of %s %s in table test is %d', (id, data, expected) => {
    expect(opChecksumPut('test', id, data)).toBe(expected);
  });

  it('sums the two-op bucket to -93886621 as signed int32', () => {
    const sum = addChecksums(920318466, 3280762209);
    expect(sum).toBe(4201080675);
    expect(toSignedInt32(sum)).toBe(-93886621);
  });

  it('adds a CLEAR checksum and two new PUTs to 499012468', () => {
    expect(toSignedInt32(sumChecksums([-93886621, 1859363232, 3028503153]))).toBe(499012468);
  });

  it('reproduces the large_num row checksum 3442149460 from a lossless row', () => {
    const data = stringifySqliteRow({ id: 't1', description: 'Test\n"string"', large_num: 12345678901234567890n });
    expect(data).toBe('{"id":"t1","description":"Test\\n\\"string\\"","large_num":12345678901234567890}');
    expect(opChecksumPut('test', 't1', data)).toBe(3442149460);
    expect(toSignedInt32(3442149460)).toBe(-852817836);
  });

  it('shows the one-op bucket of row "a" as -1712802421', () => {
    expect(toSignedInt32(2582164875)).toBe(-1712802421);
  });

  it('hashes REMOVE ops over "delete." + subkey as an unsigned 32-bit value', () => {
    const c = opChecksumRemove('1/0a0b');
    expect(Number.isInteger(c)).toBe(true);
    expect(c).toBeGreaterThanOrEqual(0);
    expect(c).toBeLessThan(2 ** 32);
    expect(opChecksumRemove('1/0a0b')).toBe(c);
    expect(opChecksumRemove('1/0a0c')).not.toBe(c);
  });
});

describe('checksum arithmetic (properties)', () => {
  const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
  const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const anyChecksum = fc.oneof(u32, i32);

  it('matches BigInt arithmetic modulo 2^32', () => {
    fc.assert(
      fc.property(anyChecksum, anyChecksum, (a, b) => {
        const expected = Number(BigInt.asUintN(32, BigInt(a) + BigInt(b)));
        expect(addChecksums(a, b)).toBe(expected);
      }),
    );
  });

  it('is commutative and associative, with 0 as identity', () => {
    fc.assert(
      fc.property(anyChecksum, anyChecksum, anyChecksum, (a, b, c) => {
        expect(addChecksums(a, b)).toBe(addChecksums(b, a));
        expect(addChecksums(addChecksums(a, b), c)).toBe(addChecksums(a, addChecksums(b, c)));
        expect(addChecksums(a, 0)).toBe(toUint32(a));
      }),
    );
  });

  it('treats signed and unsigned forms of the same value alike', () => {
    fc.assert(
      fc.property(u32, anyChecksum, (a, b) => {
        expect(addChecksums(toSignedInt32(a), b)).toBe(addChecksums(a, b));
        expect(toUint32(toSignedInt32(a))).toBe(a);
      }),
    );
  });

  it('keeps signed results in [-2^31, 2^31) and unsigned in [0, 2^32)', () => {
    fc.assert(
      fc.property(fc.array(anyChecksum), (xs) => {
        const sum = sumChecksums(xs);
        expect(sum).toBeGreaterThanOrEqual(0);
        expect(sum).toBeLessThan(2 ** 32);
        const signed = toSignedInt32(sum);
        expect(signed).toBeGreaterThanOrEqual(-(2 ** 31));
        expect(signed).toBeLessThan(2 ** 31);
      }),
    );
  });

  it('wraps bigint and out-of-range inputs', () => {
    expect(toUint32(2n ** 32n + 5n)).toBe(5);
    expect(toUint32(-1n)).toBe(2 ** 32 - 1);
    expect(toUint32(2 ** 40 + 7)).toBe(7);
    expect(toSignedInt32(2 ** 32 - 1)).toBe(-1);
  });
});

describe('pure-JS SHA-256 (browser fallback)', () => {
  it('matches node:crypto for ASCII, multi-byte and block-boundary inputs', async () => {
    const { createHash } = await import('node:crypto');
    const { sha256 } = await import('../src/sha256.ts');
    const inputs = ['', 'abc', 'put.test.t1.{"id":"t1","description":"Test 1"}', 'ü€😀'.repeat(20), 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'y'.repeat(1000)];
    for (const s of inputs) expect(Buffer.from(sha256(s)).toString('hex')).toBe(createHash('sha256').update(s, 'utf8').digest('hex'));
  });
});
