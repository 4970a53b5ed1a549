import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseLosslessJson } from '@syncline/protocol';
import { castAsText, realToText } from '../../src/sync-rules/sqlite-cast.ts';
import { compareText } from '../../src/sync-rules/sqlite-values.ts';
import type { SqliteRow, SqliteValue } from '../../src/sync-rules/types.ts';
import { REQUEST, rulesFrom, todos } from './helpers.ts';

const RULES = `
bucket_definitions:
  everything:
    parameters: SELECT request.user_id() AS u
    data:
      - SELECT *, upper(a) AS ua, lower(b) AS lb, substring(a, b, c) AS s, hex(a) AS h, length(b) AS l, base64(c) AS b64,
          typeof(a) AS t, ifnull(a, b) AS i, iif(a, b, c) AS ii, instr(a, b) AS ins, a || b AS cat, a + b AS plus, a * c AS mul,
          a / b AS div, a % c AS modulo, -a AS neg, CAST(a AS integer) AS ci, CAST(b AS real) AS cr, CAST(c AS numeric) AS cn,
          CAST(a AS text) AS ct, a ->> 'x' AS jx, a -> 0 AS j0, json_extract(b, '$.y') AS je, json_array_length(c) AS jal,
          json_valid(a) AS jv, json_keys(b) AS jk, unixepoch(a) AS ue, datetime(b, 'unixepoch') AS dt,
          st_astext(a) AS wkt, st_x(b) AS sx, uuid_blob(c) AS ub, a IN b AS inj, a && b AS ov, a < b AS lt, a = c AS eq
        FROM todos WHERE owner = bucket.u OR bucket.u IN a
`;

const value: fc.Arbitrary<SqliteValue> = fc.oneof(
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  fc.string(),
  fc.json(),
  fc.uint8Array({ maxLength: 8 }),
  fc.constantFrom('["u1","u2"]', '{"x":1}', '0101000000000000000000F03F0000000000000040', '2024-01-01', 'u1'),
);

describe('evaluation never throws on arbitrary data', () => {
  const rules = rulesFrom(RULES);

  it('produces valid lossless JSON for any row', () => {
    fc.assert(
      fc.property(fc.record({ id: value, owner: value, a: value, b: value, c: value }), (row: SqliteRow) => {
        for (const out of rules.evaluateRow(todos, row)) {
          expect(() => parseLosslessJson(out.data)).not.toThrow();
          expect(out.bucket.startsWith('1#everything[')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('resolves buckets for arbitrary claims and client parameters', async () => {
    const r = rulesFrom(`
bucket_definitions:
  a:
    accept_potentially_dangerous_queries: true
    parameters:
      - SELECT value AS v FROM json_each(request.jwt() -> 'x') WHERE typeof(value) != 'null'
      - SELECT request.parameters() ->> 'v' AS v
    data: [SELECT * FROM t WHERE k = bucket.v]
`);
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.jsonValue(), async (x, v) => {
        const q = r.createQuerier({ ...REQUEST, jwtClaims: { x }, clientParameters: { v } });
        const buckets = await q.resolveBuckets(async (ls) => ls.map(() => []));
        for (const b of buckets) expect(b.bucket.startsWith('1#a[')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('SQLite text forms', () => {
  it.each([
    [3, '3.0'],
    [0.1, '0.1'],
    [1e20, '1.0e+20'],
    [1.5e-7, '1.5e-07'],
    [0.30000000000000004, '0.3'],
    [123456789012345.6, '123456789012346.0'],
    [-2.5, '-2.5'],
    [1e15, '1.0e+15'],
  ])('REAL %d prints as %s (%%!.15g)', (n, expected) => {
    expect(realToText(n)).toBe(expected);
  });

  it('prints INTEGER exactly and blobs as UTF-8 text', () => {
    expect(castAsText(-9223372036854775808n)).toBe('-9223372036854775808');
    expect(castAsText(new Uint8Array([0x68, 0x69]))).toBe('hi');
  });

  it('compares text by code point (UTF-8 byte order)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        expect(Math.sign(compareText(a, b))).toBe(bytes);
      }),
    );
  });
});
