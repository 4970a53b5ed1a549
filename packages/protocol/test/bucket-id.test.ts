import { describe, expect, it } from 'vitest';
import { BucketIdError, isBucketParameterValue, parseBucketId, serializeBucketId, serializeBucketParameters } from '../src/bucket-id.ts';

describe('bucket ids', () => {
  it.each([
    ['global', [], undefined, 'global[]'],
    ['by_user', ['user1'], undefined, 'by_user["user1"]'],
    ['org_lists', ['o1', 42n], undefined, 'org_lists["o1",42]'],
    ['by_list', ['v1', 2n], 3, '3#by_list["v1",2]'],
    ['mybucket', [], 1, '1#mybucket[]'],
    ['reals', [1.0, 2.5, 12345678901234567890n], undefined, 'reals[1,2.5,12345678901234567890]'],
    ['escaped', ['a"b\\c\n'], undefined, 'escaped["a\\"b\\\\c\\n"]'],
    ['nulls', [null], undefined, 'nulls[null]'],
  ] as const)('serialises %s → %s', (name, params, prefix, expected) => {
    expect(serializeBucketId(name, params, prefix)).toBe(expected);
  });

  it('prints integer and real with the same value identically', () => {
    expect(serializeBucketParameters([1n])).toBe(serializeBucketParameters([1.0]));
  });

  it('rejects blobs and non-finite reals', () => {
    expect(() => serializeBucketId('b', [new Uint8Array([1]) as never])).toThrow(BucketIdError);
    expect(() => serializeBucketId('b', [Number.NaN])).toThrow(BucketIdError);
    expect(isBucketParameterValue(new Uint8Array())).toBe(false);
    expect(isBucketParameterValue(Infinity)).toBe(false);
    expect(isBucketParameterValue('x')).toBe(true);
  });

  it('parses versioned and unversioned ids', () => {
    expect(parseBucketId('3#by_list["v1",2]')).toEqual({ versionPrefix: 3, definition: 'by_list', parameters: ['v1', 2] });
    expect(parseBucketId('global[]')).toEqual({ versionPrefix: null, definition: 'global', parameters: [] });
    expect(parseBucketId('12#x[12345678901234567890]').parameters).toEqual([12345678901234567890n]);
    expect(parseBucketId('1#odd[name]["a"]')).toEqual({ versionPrefix: 1, definition: 'odd[name]', parameters: ['a'] });
    expect(parseBucketId('7#x[]', { versioned: false })).toEqual({ versionPrefix: null, definition: '7#x', parameters: [] });
  });

  it('round-trips serialised ids', () => {
    const id = serializeBucketId('d', ['a', 5n, 'b[]'], 9);
    expect(parseBucketId(id)).toEqual({ versionPrefix: 9, definition: 'd', parameters: ['a', 5, 'b[]'] });
  });

  it('rejects malformed ids', () => {
    expect(() => parseBucketId('nobrackets')).toThrow(/does not end with a JSON array/);
    expect(() => parseBucketId('x[1', {})).toThrow(BucketIdError);
    expect(() => parseBucketId('x[]', { versioned: true })).toThrow(/no version prefix/);
  });
});
