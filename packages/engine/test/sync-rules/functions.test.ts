import { describe, expect, it } from 'vitest';
import { evalExpr, REQUEST } from './helpers.ts';

// POINT(1 2) as little-endian WKB, and with an EWKB SRID 4326 header.
const WKB_POINT = '0101000000000000000000F03F0000000000000040';
const EWKB_POINT = '0101000020E6100000000000000000F03F0000000000000040';
// LINESTRING(0 0, 1 1)
const WKB_LINE = '010200000002000000' + '0000000000000000'.repeat(2) + '000000000000F03F'.repeat(2);

describe('scalar functions', () => {
  it.each([
    ["upper('abc')", 'ABC'],
    ["upper('straße')", 'STRASSE'],
    ["lower('ABC')", 'abc'],
    ['upper(null)', null],
    ['upper(12)', '12'],
    ["substring('hello', 2)", 'ello'],
    ["substring('hello', 2, 3)", 'ell'],
    ["substring('hello', -3)", 'llo'],
    ["substring('hello', -3, 2)", 'll'],
    ["substring('hello', 0, 2)", 'h'],
    ["substring('hello', 3, -2)", 'he'],
    ["substring('héllo😀x', 5, 2)", 'o😀'],
    ["substring('hello', 10)", ''],
    ['substring(null, 1)', null],
    ["substr('hello', 1, 1)", 'h'],
    ["hex('ab')", '6162'],
    ['hex(12)', '3132'],
    ['hex(null)', ''],
    ["length('héllo')", 5n],
    ["length('😀')", 1n],
    ['length(123)', 3n],
    ['length(null)', null],
    ["base64('hello')", 'aGVsbG8='],
    ['base64(null)', null],
    ["typeof('a')", 'text'],
    ['typeof(1)', 'integer'],
    ['typeof(1.5)', 'real'],
    ['typeof(null)', 'null'],
    ["typeof(uuid_blob('00000000-0000-0000-0000-000000000000'))", 'blob'],
    ["typeof(uuid_blob('nope'))", 'null'],
    ["hex(uuid_blob('0102030405060708090a0b0c0d0e0f10'))", '0102030405060708090A0B0C0D0E0F10'],
    ["ifnull(null, 'b')", 'b'],
    ["ifnull('a', 'b')", 'a'],
    ["iif(1, 'y', 'n')", 'y'],
    ["iif(0, 'y', 'n')", 'n'],
    ["iif(null, 'y', 'n')", 'n'],
    ["instr('hello', 'll')", 3n],
    ["instr('hello', 'z')", 0n],
    ["instr('héllo', 'l')", 3n],
    ["instr(null, 'a')", null],
    ["json_extract('{\"a\":{\"b\":[1,2.5]}}', '$.a.b[1]')", 2.5],
    ["json_extract('{\"a\":{\"b\":[1,2]}}', '$.a.b')", '[1,2]'],
    ["json_extract('{\"a\":1,\"b\":2}', '$.a', '$.b')", '[1,2]'],
    ["json_extract('{\"a\":true}', '$.a')", 1n],
    ["json_extract('{\"a\":null}', '$.a')", null],
    ["json_extract('[1,2,3]', '$[#-1]')", 3n],
    ["json_extract('{\"a.b\":1}', '$.\"a.b\"')", 1n],
    ["json_extract('{\"a\":1}', 'a')", null],
    ["json_extract('not json', '$')", null],
    ["json_extract('{\"n\":12345678901234567890}', '$.n')", 12345678901234567890n],
    ["json_array_length('[1,2,3]')", 3n],
    ["json_array_length('{\"a\":[1]}', '$.a')", 1n],
    ["json_array_length('{}')", 0n],
    ["json_array_length('{}', '$.missing')", null],
    ["json_valid('{\"a\":1}')", 1n],
    ["json_valid('{a:1}')", 0n],
    ['json_valid(null)', null],
    ["json_keys('{\"b\":1,\"a\":2}')", '["b","a"]'],
    ["json_keys('[1]')", null],
    ["unixepoch('1970-01-02')", 86400n],
    ["unixepoch('2024-01-01 00:00:00')", 1704067200n],
    ["unixepoch('2024-01-01T01:00:00+01:00')", 1704067200n],
    ["unixepoch('2024-01-01 00:00:00.250', 'subsec')", 1704067200.25],
    ["unixepoch(1704067200, 'unixepoch')", 1704067200n],
    ["unixepoch('garbage')", null],
    ["unixepoch('2024-01-01', 'start of month')", null],
    ["datetime('2024-01-01T10:20:30Z')", '2024-01-01 10:20:30'],
    ["datetime(1704067200, 'unixepoch')", '2024-01-01 00:00:00'],
    ["datetime('2024-01-01 10:20:30.5', 'subsec')", '2024-01-01 10:20:30.500'],
    ['datetime(2460310.5)', '2024-01-01 00:00:00'],
    [`st_astext('${WKB_POINT}')`, 'POINT(1 2)'],
    [`st_astext('${EWKB_POINT}')`, 'POINT(1 2)'],
    [`st_asgeojson('${WKB_POINT}')`, '{"type":"Point","coordinates":[1,2]}'],
    [`st_astext('${WKB_LINE}')`, 'LINESTRING(0 0,1 1)'],
    [`st_asgeojson('${WKB_LINE}')`, '{"type":"LineString","coordinates":[[0,0],[1,1]]}'],
    [`st_x('${WKB_POINT}')`, 1],
    [`st_y('${EWKB_POINT}')`, 2],
    [`st_x('${WKB_LINE}')`, null],
    ["st_astext('zz')", null],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql)).toEqual(expected);
  });

  it('rejects unknown functions and wrong argument counts', () => {
    expect(() => evalExpr('nope(1)')).toThrow(/Function 'nope' is not defined/);
    expect(() => evalExpr('upper(1, 2)')).toThrow(/Function 'upper' expects 1 argument/);
    expect(() => evalExpr('unixepoch()')).toThrow(/expects at least 1/);
    expect(() => evalExpr('x.upper(1)')).toThrow(/Function 'x.upper' is not defined/);
    expect(() => evalExpr("json_each('[1]')")).toThrow(/json_each\(\) can only be used in the FROM clause/);
  });
});

describe('JSON operators', () => {
  const doc = '{"a":{"b":"x"},"a.b":"literal","n":null,"i":7,"r":7.0,"arr":[10,20]}';
  it.each([
    ["doc -> 'a'", true, '{"b":"x"}'],
    ["doc ->> 'i'", true, 7n],
    ["doc ->> 'r'", true, 7],
    ["doc -> 'r'", true, '7.0'],
    ["doc -> 'missing'", true, null],
    ["doc -> 'arr' -> 1", true, '20'],
    ["doc -> 'arr' ->> 0", true, 10n],
    ["doc ->> '$.a.b'", true, 'x'],
    ["doc ->> 'a.b'", true, 'literal'],
    ["doc ->> 'a.b'", false, 'x'],
    ["doc ->> '$.a.b'", false, 'x'],
    ["doc ->> 'n'", true, null],
    ["doc ->> 'n'", false, 'null'],
    ["doc -> 'n'", true, 'null'],
    ["doc ->> 'a'", true, '{"b":"x"}'],
    ["'not json' ->> 'a'", true, null],
    ["null ->> 'a'", true, null],
  ])('%s (fixed_json_extract=%s) → %s', (sql, fixed, expected) => {
    expect(evalExpr(sql, { doc }, { fixedJsonExtract: fixed })).toEqual(expected);
  });

  it('keeps big integers exact', () => {
    expect(evalExpr("doc ->> 'big'", { doc: '{"big":12345678901234567890}' })).toBe(12345678901234567890n);
  });
});

describe('request functions and legacy parameter tables', () => {
  it.each([
    ['request.user_id()', 'u1'],
    ["request.jwt() ->> 'role'", 'admin'],
    ["request.jwt() ->> 'n'", 5n],
    ["request.jwt() ->> 'f'", 1.5],
    ["request.jwt() ->> 'ok'", 1n],
    ["request.jwt() -> 'nested'", '{"a":"b"}'],
    ["request.jwt() -> 'ids'", '[1,2]'],
    ["request.jwt() ->> 'sub'", 'u1'],
    ["request.parameters() ->> 'list'", 'l1'],
    ["request.parameters() ->> 'flag'", 0n],
    ["request.parameters() -> 'tags'", '["x","y"]'],
    ["request.parameter('list')", 'l1'],
    ["request.parameter('missing')", null],
    ['token_parameters.team', 't1'],
    ['token_parameters.user_id', 'u1'],
    ['token_parameters.missing', null],
    ['user_parameters.list', 'l1'],
    ['user_parameters.tags', '["x","y"]'],
  ])('%s → %s', (sql, expected) => {
    expect(evalExpr(sql, {}, { request: REQUEST })).toEqual(expected);
  });

  it('serialises the whole JWT payload', () => {
    expect(evalExpr('request.jwt()')).toBe(
      '{"sub":"u1","role":"admin","n":5,"f":1.5,"ok":true,"nested":{"a":"b"},"ids":[1,2],"parameters":{"team":"t1","user_id":"spoofed"}}',
    );
    expect(evalExpr('request.parameters()')).toBe('{"list":"l1","flag":false,"tags":["x","y"]}');
  });

  it('rejects unknown request functions', () => {
    expect(() => evalExpr('request.email()')).toThrow(/Function 'request.email' is not defined/);
    expect(() => evalExpr('request.user_id(1)')).toThrow(/expects 0 argument/);
  });
});
