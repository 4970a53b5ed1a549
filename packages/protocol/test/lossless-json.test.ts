import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LosslessJsonSyntaxError,
  parseLosslessJson,
  stringifyLosslessJson,
  stringifyReal,
  stringifySqliteRow,
  type LosslessJsonValue,
} from '../src/lossless-json.ts';

describe('lossless JSON writer', () => {
  it.each([
    [{ a: 1n }, '{"a":1}'],
    [{ a: 3 }, '{"a":3.0}'],
    [{ a: -0.5 }, '{"a":-0.5}'],
    [{ a: 12345678901234567890n }, '{"a":12345678901234567890}'],
    [{ a: -9223372036854775808n }, '{"a":-9223372036854775808}'],
    [{ a: null }, '{"a":null}'],
    [{ a: 'x"y\n\u0001' }, '{"a":"x\\"y\\n\\u0001"}'],
    [{ blob: new Uint8Array([1]), b: 'kept' }, '{"b":"kept"}'],
    [{ z: 1n, a: 2n }, '{"z":1,"a":2}'],
    [{}, '{}'],
  ])('writes row %o as %s', (row, expected) => {
    expect(stringifySqliteRow(row)).toBe(expected);
  });

  it.each([
    [3, '3.0'],
    [0, '0.0'],
    [1e21, '1e+21'],
    [1.5e-7, '1.5e-7'],
    [Number.NaN, 'null'],
    [Infinity, '9e999'],
    [-Infinity, '-9e999'],
  ])('writes REAL %d as %s', (n, expected) => {
    expect(stringifyReal(n)).toBe(expected);
  });

  it('writes nested values and skips blobs and undefined in objects', () => {
    const value: LosslessJsonValue = { a: [1n, 2.0, 'x', null, true, new Uint8Array()], b: undefined, c: { d: false } };
    expect(stringifyLosslessJson(value)).toBe('{"a":[1,2.0,"x",null,true,null],"c":{"d":false}}');
  });

  it('escapes strings exactly like JSON.stringify', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(stringifySqliteRow({ s })).toBe(JSON.stringify({ s }));
      }),
    );
  });
});

describe('lossless JSON parser', () => {
  it('keeps integers beyond 2^53 as bigint and small ones as numbers', () => {
    expect(parseLosslessJson('{"a":12345678901234567890,"b":5,"c":9007199254740993}')).toEqual({
      a: 12345678901234567890n,
      b: 5,
      c: 9007199254740993n,
    });
    expect(parseLosslessJson('9007199254740991')).toBe(9007199254740991);
  });

  it('reads every integer as bigint in bigint mode and reals as numbers', () => {
    expect(parseLosslessJson('[1, 1.0, 1e2, -3]', { integers: 'bigint' })).toEqual([1n, 1, 100, -3n]);
  });

  it('parses the usual JSON grammar', () => {
    expect(parseLosslessJson(' {"a" : [true, false, null, "x\\u00e9\\n"], "b": {} , "c": []} ')).toEqual({
      a: [true, false, null, 'xé\n'],
      b: {},
      c: [],
    });
    const parsed = parseLosslessJson('{"__proto__": 1}') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__']);
  });

  it.each(['', '{', '[1,]', '{"a" 1}', '01', '1.', '-', 'tru', '"abc', '"\\x"', '[1 2]', '{} x', '"a\nb"'])('rejects %j', (text) => {
    expect(() => parseLosslessJson(text)).toThrow(LosslessJsonSyntaxError);
  });
});

describe('lossless JSON round trip (property)', () => {
  const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
  const real = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n));
  const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.bigInt(), real, fc.string());
  const value = fc.letrec<{ v: LosslessJsonValue }>((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
  })).v;

  it('parse(stringify(v)) equals v with bigint integers', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(parseLosslessJson(stringifyLosslessJson(v), { integers: 'bigint' })).toEqual(v);
      }),
    );
  });

  it('stringify(parse(s)) is stable for writer output', () => {
    fc.assert(
      fc.property(value, (v) => {
        const s = stringifyLosslessJson(v);
        expect(stringifyLosslessJson(parseLosslessJson(s, { integers: 'bigint' }))).toBe(s);
      }),
    );
  });

  it('agrees with JSON.parse on plain JSON', () => {
    fc.assert(
      fc.property(fc.json(), (s) => {
        const expected = JSON.parse(s) as unknown;
        const parsed = parseLosslessJson(s);
        expect(JSON.stringify(parsed, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))).toBe(JSON.stringify(expected));
      }),
    );
  });
});
