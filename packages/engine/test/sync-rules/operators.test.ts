import { describe, expect, it } from 'vitest';
import { evalExpr } from './helpers.ts';

describe('literals', () => {
  it.each([
    ['1', 1n],
    ['-5', -5n],
    ['12345678901234567890', 12345678901234567890n],
    ['3.0', 3],
    ['0.5', 0.5],
    ["'text'", 'text'],
    ["'it''s'", "it's"],
    ['true', 1n],
    ['false', 0n],
    ['null', null],
  ])('%s evaluates to %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('comparison operators', () => {
  it.each([
    ['1 = 1', 1n],
    ['1 = 1.0', 1n],
    ["1 = '1'", 0n],
    ["'a' = 'a'", 1n],
    ['1 != 2', 1n],
    ['1 <> 1', 0n],
    ['1 < 2', 1n],
    ['2 > 1.5', 1n],
    ['2 <= 2.0', 1n],
    ['2 >= 3', 0n],
    ["'a' < 'b'", 1n],
    ["1 < 'a'", 1n],
    ["'B' < 'a'", 1n],
    ['null = null', null],
    ['1 = null', null],
    ['null < 1', null],
    ['null != 1', null],
    ['9223372036854775807 > 9223372036854775806', 1n],
    ['9223372036854775807 = 9223372036854775806', 0n],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('logic (three-valued)', () => {
  it.each([
    ['1 AND 1', 1n],
    ['1 AND 0', 0n],
    ['null AND 0', 0n],
    ['null AND 1', null],
    ['0 OR null', null],
    ['1 OR null', 1n],
    ['0 OR 0', 0n],
    ['NOT 0', 1n],
    ['NOT 2', 0n],
    ['NOT null', null],
    ["'1' AND 1", 1n],
    ["'abc' OR 0", 0n],
    ['0.5 AND 1', 1n],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('IS operators', () => {
  it.each([
    ['null IS NULL', 1n],
    ['1 IS NULL', 0n],
    ['1 IS NOT NULL', 1n],
    ['null IS NOT NULL', 0n],
    ['1 IS TRUE', 1n],
    ['null IS TRUE', 0n],
    ['0 IS FALSE', 1n],
    ['null IS NOT TRUE', 1n],
    ['1 IS NOT FALSE', 1n],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('arithmetic', () => {
  it.each([
    ['1 + 2', 3n],
    ['1 + 2.0', 3],
    ['7 / 2', 3n],
    ['-7 / 2', -3n],
    ['7.0 / 2', 3.5],
    ['1 / 0', null],
    ['1.0 / 0', null],
    ['7 % 3', 1n],
    ['7.5 % 2', 1],
    ['5 % 0', null],
    ['3 * 4', 12n],
    ['2 - 5', -3n],
    ['9223372036854775807 + 1', 9223372036854775808],
    ["'12abc' + 1", 13n],
    ["'abc' + 1", 1n],
    ["'1.5' * 2", 3],
    ['null + 1', null],
    ['1 - null', null],
    ['-(3)', -3n],
    ["+'5'", 5n],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('|| concatenation', () => {
  it.each([
    ["'a' || 'b'", 'ab'],
    ["'n' || 1", 'n1'],
    ["'r' || 1.5", 'r1.5'],
    ["'r' || 2.0", 'r2.0'],
    ["'a' || null", null],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('IN', () => {
  it.each([
    ["'a' IN ('a', 'b')", 1n],
    ["'c' IN ('a', 'b')", 0n],
    ["'c' IN ('a', null)", null],
    ["null IN ('a')", null],
    ["'c' NOT IN ('a', 'b')", 1n],
    [`'b' IN '["a","b"]'`, 1n],
    [`2 IN '[1,2,3]'`, 1n],
    [`2.0 IN '[1,2,3]'`, 1n],
    [`'2' IN '[1,2,3]'`, 0n],
    [`'x' IN 'not json'`, 0n],
    [`null IN '[null]'`, null],
    [`'z' NOT IN '["a"]'`, 1n],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });

  it('reads a JSON array column', () => {
    expect(evalExpr("'x' IN tags", { tags: '["x","y"]' })).toBe(1n);
  });
});

describe('&& (JSON array overlap)', () => {
  it.each([
    [`'[1,2]' && '[2,3]'`, 1n],
    [`'[1,2]' && '[3]'`, 0n],
    [`'["a"]' && '["a"]'`, 1n],
    [`'[]' && '[1]'`, 0n],
    [`null && '[1]'`, null],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });
});

describe('CAST', () => {
  it.each([
    ['CAST(1 AS text)', '1'],
    ['CAST(1.5 AS text)', '1.5'],
    ['CAST(3.0 AS text)', '3.0'],
    ["CAST('12.7' AS integer)", 12n],
    ['CAST(12.7 AS integer)', 12n],
    ['CAST(-12.7 AS integer)', -12n],
    ["CAST('abc' AS integer)", 0n],
    ["CAST('1.5' AS real)", 1.5],
    ['CAST(2 AS real)', 2],
    ["CAST('3.0' AS numeric)", 3n],
    ["CAST('3.5' AS numeric)", 3.5],
    ["CAST('42' AS numeric)", 42n],
    ['CAST(null AS text)', null],
    ["'7'::integer", 7n],
    ['5::text', '5'],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });

  it('casts to blob as UTF-8 bytes', () => {
    expect(evalExpr("CAST('hé' AS blob)")).toEqual(new Uint8Array([0x68, 0xc3, 0xa9]));
    expect(evalExpr('CAST(12 AS blob)')).toEqual(new Uint8Array([0x31, 0x32]));
  });

  it('rejects other target types', () => {
    expect(() => evalExpr('CAST(1 AS bigint)')).toThrow(/CAST to 'bigint' is not supported/);
  });
});

describe('column references', () => {
  it('reads bare and qualified columns, missing columns are NULL', () => {
    const row = { a: 1n, b: 'x' };
    expect(evalExpr('a', row)).toBe(1n);
    expect(evalExpr('t.b', row)).toBe('x');
    expect(evalExpr('missing', row)).toBe(null);
  });

  it('rejects unknown tables and unsupported syntax', () => {
    expect(() => evalExpr('other.a')).toThrow(/Undefined reference: other.a/);
    expect(() => evalExpr("a LIKE 'x'")).toThrow(/Operator 'LIKE' is not supported/);
    expect(() => evalExpr('CASE WHEN a THEN 1 END')).toThrow(/CASE expressions are not supported/);
    expect(() => evalExpr('(SELECT 1)')).toThrow(/Subqueries are not supported/);
    expect(() => evalExpr('a BETWEEN 1 AND 2')).toThrow(/BETWEEN is not supported/);
    expect(() => evalExpr('bucket.x')).toThrow(/Undefined reference: bucket.x/);
  });
});
