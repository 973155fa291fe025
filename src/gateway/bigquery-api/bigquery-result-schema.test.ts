import { describe, expect, it } from 'vitest';
import { bigQuerySchemaField } from '../../warehouse/bigquery-schema-field.js';
import { encodeRow, encodeTimestamp } from './bigquery-result-schema.js';

describe('encodeRow: BigQuery wire rows', () => {
  it('scalars as strings, null as null, nested values as f/v', () => {
    const types = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'VARCHAR', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP', 'STRUCT(a INTEGER, b VARCHAR[])', 'INTEGER[]', 'JSON', 'UUID'];
    const fields = types.map((t, i) => bigQuerySchemaField('duckdb', `c${i}`, t));
    const row = [9007199254740993n, 1.5, true, null, '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05', { a: 1, b: ['x', null] }, [1, 2], { k: [1n] }, { not: 'a string' }];
    expect(encodeRow(row, fields, 'int64')).toEqual({
      f: [
        { v: '9007199254740993' },
        { v: '1.5' },
        { v: 'true' },
        { v: null },
        { v: '1704164645123456' },
        { v: '2024-01-02T03:04:05' },
        { v: { f: [{ v: '1' }, { v: [{ v: 'x' }, { v: null }] }] } },
        { v: [{ v: '1' }, { v: '2' }] },
        { v: '{"k":["1"]}' },
        { v: '{"not":"a string"}' },
      ],
    });
  });

  it('a NULL array is an empty list, as BigQuery sends it', () => {
    expect(encodeRow([null], [bigQuerySchemaField('bigquery', 'a', 'ARRAY<INT64>')], 'int64')).toEqual({ f: [{ v: [] }] });
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
