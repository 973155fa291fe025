import { describe, expect, it } from 'vitest';
import { bigQueryField, encodeRow, encodeTimestamp } from './bigquery-result-schema.js';

describe('bigQueryField: both engines\' type spellings -> BigQuery REST types', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['INTEGER', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['BIGINT', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['INT64', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['HUGEINT', { type: 'BIGNUMERIC', mode: 'NULLABLE' }],
    ['UBIGINT', { type: 'NUMERIC', mode: 'NULLABLE' }],
    ['DECIMAL(10,2)', { type: 'NUMERIC', mode: 'NULLABLE' }],
    ['DECIMAL(76,10)', { type: 'BIGNUMERIC', mode: 'NULLABLE' }],
    ['VARCHAR', { type: 'STRING', mode: 'NULLABLE' }],
    ['DOUBLE', { type: 'FLOAT', mode: 'NULLABLE' }],
    ['BOOLEAN', { type: 'BOOLEAN', mode: 'NULLABLE' }],
    ['TIMESTAMP WITH TIME ZONE', { type: 'TIMESTAMP', mode: 'NULLABLE' }],
    ['BLOB', { type: 'BYTES', mode: 'NULLABLE' }],
    ['VARCHAR[]', { type: 'STRING', mode: 'REPEATED' }],
    ['ARRAY<INT64>', { type: 'INTEGER', mode: 'REPEATED' }],
    ['INTEGER[][]', { type: 'STRING', mode: 'NULLABLE' }],
    ['UNION(a INTEGER, b VARCHAR)', { type: 'STRING', mode: 'NULLABLE' }],
    ['STRUCT(a INTEGER, "b c" VARCHAR[])', { type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'a', type: 'INTEGER', mode: 'NULLABLE' }, { name: 'b c', type: 'STRING', mode: 'REPEATED' }] }],
    ['STRUCT<a INT64, b STRUCT<c STRING>>', { type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'a', type: 'INTEGER', mode: 'NULLABLE' }, { name: 'b', type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'c', type: 'STRING', mode: 'NULLABLE' }] }] }],
    ['MAP(VARCHAR, INTEGER)', { type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'key', type: 'STRING', mode: 'NULLABLE' }, { name: 'value', type: 'INTEGER', mode: 'NULLABLE' }] }],
  ];
  it.each(cases)('%s', (type, expected) => {
    expect(bigQueryField('c', type)).toEqual({ name: 'c', ...expected });
  });
});

describe('encodeRow: BigQuery wire rows', () => {
  it('scalars as strings, null as null, nested values as f/v', () => {
    const fields = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'VARCHAR', 'TIMESTAMP', 'STRUCT(a INTEGER, b VARCHAR[])', 'INTEGER[]', 'JSON', 'INTEGER[][]'].map((t, i) => bigQueryField(`c${i}`, t));
    const row = ['9007199254740993', 1.5, true, null, '2024-01-02 03:04:05.123456', { a: 1, b: ['x', null] }, [1, 2], { k: [1] }, [[1], [2]]];
    expect(encodeRow(row, fields, 'int64')).toEqual({
      f: [
        { v: '9007199254740993' },
        { v: '1.5' },
        { v: 'true' },
        { v: null },
        { v: '1704164645123456' },
        { v: { f: [{ v: '1' }, { v: [{ v: 'x' }, { v: null }] }] } },
        { v: [{ v: '1' }, { v: '2' }] },
        { v: '{"k":[1]}' },
        { v: '[[1],[2]]' },
      ],
    });
  });
});

describe('encodeTimestamp', () => {
  it.each([
    ['2024-01-02T03:04:05.123456Z', 'int64', '1704164645123456'],
    ['2024-01-02 05:04:05+02', 'int64', '1704164645000000'],
    ['2024-01-02 03:04:05', 'float', '1704164645.000000'],
    ['1969-12-31 23:59:59.5', 'float', '-0.500000'],
    ['2024-01-02 03:04:05.123456', 'iso', '2024-01-02T03:04:05.123456Z'],
    ['not a timestamp', 'int64', 'not a timestamp'],
  ] as const)('%s as %s', (text, format, expected) => {
    expect(encodeTimestamp(text, format)).toBe(expected);
  });
});
