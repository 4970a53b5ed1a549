import { describe, expect, it } from 'vitest';
import { pgRowToSqlite, pgTextToSqlite } from '../../src/sync-rules/pg-value-mapping.ts';
import { parsePgArrayLiteral } from '../../src/sync-rules/pg-array-literal.ts';
import { PgOid } from '../../src/sync-rules/pg-oids.ts';
import { ValueMappingError } from '../../src/sync-rules/errors.ts';
import type { PgValueOptions } from '../../src/sync-rules/pg-value-options.ts';
import { rulesFrom } from './helpers.ts';

const ISO: PgValueOptions = { timestampsIso8601: true, customPostgresTypes: true };
const LEGACY: PgValueOptions = { timestampsIso8601: false, customPostgresTypes: false };

describe('scalar types (both editions)', () => {
  it.each([
    ['int2', PgOid.int2, '-12', -12n],
    ['int4', PgOid.int4, '2147483647', 2147483647n],
    ['int8', PgOid.int8, '9223372036854775807', 9223372036854775807n],
    ['oid', PgOid.oid, '4294967295', 4294967295n],
    ['float4', PgOid.float4, '1.5', 1.5],
    ['float8', PgOid.float8, '3', 3],
    ['float8 NaN', PgOid.float8, 'NaN', null],
    ['float8 Infinity', PgOid.float8, 'Infinity', Infinity],
    ['float8 -Infinity', PgOid.float8, '-Infinity', -Infinity],
    ['numeric', PgOid.numeric, '12345678901234567890.123456789', '12345678901234567890.123456789'],
    ['bool t', PgOid.bool, 't', 1n],
    ['bool f', PgOid.bool, 'f', 0n],
    ['json', PgOid.json, '{"a": 1}', '{"a": 1}'],
    ['jsonb', PgOid.jsonb, '{"a": 1}', '{"a": 1}'],
    ['uuid', PgOid.uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['text', PgOid.text, 'hello', 'hello'],
    ['varchar', PgOid.varchar, 'v', 'v'],
    ['unknown OID', 999999, '(1,2)', '(1,2)'],
    ['interval', PgOid.interval, '1 day 02:00:00', '1 day 02:00:00'],
    ['pg_lsn', PgOid.pg_lsn, '16/B374D848', '00000016/B374D848'],
    ['date', PgOid.date, '2024-02-29', '2024-02-29'],
    ['date infinity', PgOid.date, 'infinity', '9999-12-31'],
    ['date -infinity', PgOid.date, '-infinity', '0000-01-01'],
    ['date BC', PgOid.date, '0044-03-15 BC', '-0043-03-15'],
  ])('%s', (_name, oid, text, expected) => {
    expect(pgTextToSqlite(text, oid, ISO)).toEqual(expected);
    expect(pgTextToSqlite(text, oid, LEGACY)).toEqual(expected);
  });

  it('maps NULL to NULL for every type', () => {
    for (const oid of Object.values(PgOid)) expect(pgTextToSqlite(null, oid, ISO)).toBe(null);
  });

  it('decodes bytea (hex and escape formats) to blobs', () => {
    expect(pgTextToSqlite('\\x0a0bff', PgOid.bytea, ISO)).toEqual(new Uint8Array([10, 11, 255]));
    expect(pgTextToSqlite('ab\\\\\\001', PgOid.bytea, ISO)).toEqual(new Uint8Array([97, 98, 92, 1]));
  });
});

describe('timestamps per edition', () => {
  it.each([
    ['timestamptz UTC', PgOid.timestamptz, '2023-03-06 15:47:00+00', '2023-03-06 15:47:00Z', '2023-03-06T15:47:00.000000Z'],
    ['timestamptz offset', PgOid.timestamptz, '2023-03-06 17:47:00.123+02', '2023-03-06 15:47:00.123Z', '2023-03-06T15:47:00.123000Z'],
    ['timestamptz half-hour offset across midnight', PgOid.timestamptz, '2023-03-01 02:00:00+05:30', '2023-02-28 20:30:00Z', '2023-02-28T20:30:00.000000Z'],
    ['timestamptz negative offset', PgOid.timestamptz, '2023-12-31 20:00:00.5-05', '2024-01-01 01:00:00.5Z', '2024-01-01T01:00:00.500000Z'],
    ['timestamptz infinity', PgOid.timestamptz, 'infinity', '9999-12-31 23:59:59Z', '9999-12-31T23:59:59Z'],
    ['timestamptz -infinity', PgOid.timestamptz, '-infinity', '0000-01-01 00:00:00Z', '0000-01-01T00:00:00Z'],
    ['timestamp', PgOid.timestamp, '2023-03-06 15:47:00.654321', '2023-03-06 15:47:00.654321', '2023-03-06T15:47:00.654321'],
    ['timestamp whole seconds', PgOid.timestamp, '2023-03-06 15:47:00', '2023-03-06 15:47:00', '2023-03-06T15:47:00.000000'],
    ['timestamp infinity', PgOid.timestamp, 'infinity', 'infinity', '9999-12-31T23:59:59'],
    ['timestamp -infinity', PgOid.timestamp, '-infinity', '-infinity', '0000-01-01T00:00:00'],
    ['time', PgOid.time, '15:47:00.5', '15:47:00.5', '15:47:00.500000'],
    ['timetz', PgOid.timetz, '15:47:00+02', '15:47:00+02', '15:47:00.000000+02'],
  ])('%s', (_name, oid, text, legacy, iso) => {
    expect(pgTextToSqlite(text, oid, LEGACY)).toBe(legacy);
    expect(pgTextToSqlite(text, oid, ISO)).toBe(iso);
  });

  it.each([
    ['seconds', '2023-03-06T15:47:00Z'],
    ['milliseconds', '2023-03-06T15:47:00.123Z'],
    ['microseconds', '2023-03-06T15:47:00.123456Z'],
    ['nanoseconds', '2023-03-06T15:47:00.123456000Z'],
  ] as const)('honours timestamp_max_precision=%s', (precision, expected) => {
    expect(pgTextToSqlite('2023-03-06 15:47:00.123456+00', PgOid.timestamptz, { ...ISO, timestampMaxPrecision: precision })).toBe(expected);
  });
});

describe('arrays', () => {
  it.each([
    ['int4[]', 1007, '{1,2,3}', '[1,2,3]'],
    ['int4[] with NULL', 1007, '{1,NULL,3}', '[1,null,3]'],
    ['int8[] big', 1016, '{9223372036854775807}', '[9223372036854775807]'],
    ['bool[]', 1000, '{t,f}', '[1,0]'],
    ['float8[]', 1022, '{1.5,2}', '[1.5,2.0]'],
    ['text[] quoted', 1009, '{"a b","c\\"d","e\\\\f",plain}', '["a b","c\\"d","e\\\\f","plain"]'],
    ['text[] "NULL" string vs NULL', 1009, '{"NULL",NULL}', '["NULL",null]'],
    ['nested int4[][]', 1007, '{{1,2},{3,4}}', '[[1,2],[3,4]]'],
    ['empty', 1007, '{}', '[]'],
    ['dimension prefix', 1007, '[0:1]={5,6}', '[5,6]'],
    ['numeric[]', 1231, '{1.50,2}', '["1.50","2"]'],
    ['jsonb[]', 3807, '{"{\\"a\\": 1}"}', '["{\\"a\\": 1}"]'],
    ['uuid[]', 2951, '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]'],
    ['date[] with infinity', 1182, '{2024-01-01,infinity}', '["2024-01-01","9999-12-31"]'],
  ])('%s', (_name, oid, text, expected) => {
    expect(pgTextToSqlite(text, oid, ISO)).toBe(expected);
  });

  it('converts timestamp elements per edition', () => {
    expect(pgTextToSqlite('{"2023-03-06 15:47:00+00"}', 1185, ISO)).toBe('["2023-03-06T15:47:00.000000Z"]');
    expect(pgTextToSqlite('{"2023-03-06 15:47:00+00"}', 1185, LEGACY)).toBe('["2023-03-06 15:47:00Z"]');
  });

  it('rejects arrays nested deeper than 10 levels', () => {
    const ok = '{'.repeat(10) + '1' + '}'.repeat(10);
    const tooDeep = '{'.repeat(11) + '1' + '}'.repeat(11);
    expect(pgTextToSqlite(ok, 1007, ISO)).toBe('['.repeat(10) + '1' + ']'.repeat(10));
    expect(() => pgTextToSqlite(tooDeep, 1007, ISO)).toThrow(ValueMappingError);
  });

  it('rejects malformed literals', () => {
    expect(() => parsePgArrayLiteral('{1,2')).toThrow(ValueMappingError);
    expect(() => parsePgArrayLiteral('1,2}')).toThrow(ValueMappingError);
    expect(() => parsePgArrayLiteral('{1,,2}')).toThrow(ValueMappingError);
  });
});

describe('custom types (custom_postgres_types)', () => {
  const customTypes = new Map([
    [50001, { kind: 'domain' as const, baseOid: PgOid.int4 }],
    [50002, { kind: 'array' as const, elementOid: 50003 }],
  ]);
  it('maps domains to their base type and arrays of custom types as arrays, only when enabled', () => {
    expect(pgTextToSqlite('5', 50001, { ...ISO, customTypes })).toBe(5n);
    expect(pgTextToSqlite('5', 50001, { ...LEGACY, customTypes })).toBe('5');
    expect(pgTextToSqlite('{happy,sad}', 50002, { ...ISO, customTypes })).toBe('["happy","sad"]');
    expect(pgTextToSqlite('{happy,sad}', 50002, { ...LEGACY, customTypes })).toBe('{happy,sad}');
  });
});

describe('pgRowToSqlite', () => {
  it('converts a row in column order using the rules’ value options', () => {
    const rules = rulesFrom('config: { edition: 1 }\nbucket_definitions:\n  g:\n    data: [SELECT * FROM t]');
    const row = pgRowToSqlite(
      [
        { name: 'id', typeOid: PgOid.text },
        { name: 'n', typeOid: PgOid.int4 },
        { name: 'at', typeOid: PgOid.timestamptz },
        { name: 'gone', typeOid: PgOid.text },
      ],
      ['a', '1', '2024-01-01 00:00:00+00', null],
      rules,
    );
    expect(row).toEqual({ id: 'a', n: 1n, at: '2024-01-01 00:00:00Z', gone: null });
    expect(Object.keys(row)).toEqual(['id', 'n', 'at', 'gone']);
    expect(rules.valueOptions.timestampsIso8601).toBe(false);
  });
});
