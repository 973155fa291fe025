import { describe, expect, it } from 'vitest';
import { bigQueryColumns, convertBigQueryRow, timestampText, type BigQueryField } from './convert-bigquery-rows.js';

const fields: BigQueryField[] = [
  { name: 'i', type: 'INTEGER' },
  { name: 'big', type: 'INT64' },
  { name: 'f', type: 'FLOAT' },
  { name: 'nan', type: 'FLOAT64' },
  { name: 'b', type: 'BOOLEAN' },
  { name: 'n', type: 'NUMERIC' },
  { name: 'ts', type: 'TIMESTAMP' },
  { name: 'd', type: 'DATE' },
  { name: 's', type: 'STRING' },
  { name: 'bytes', type: 'BYTES' },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  { name: 'addr', type: 'RECORD', fields: [{ name: 'city', type: 'STRING' }, { name: 'zips', type: 'INTEGER', mode: 'REPEATED' }] },
  { name: 'nothing', type: 'STRING' },
];

describe('convertBigQueryRow', () => {
  it('converts every type per the schema', () => {
    const row = {
      f: [
        { v: '42' },
        { v: '9007199254740993' },
        { v: '1.5' },
        { v: 'NaN' },
        { v: 'true' },
        { v: '123456789012345678901234567890.123456789' },
        { v: '1704067200123456' },
        { v: '2024-01-01' },
        { v: 'Ada' },
        { v: 'AAEC' },
        { v: [{ v: 'a' }, { v: 'b' }] },
        { v: { f: [{ v: 'London' }, { v: [{ v: '1' }, { v: '2' }] }] } },
        { v: null },
      ],
    };
    expect(convertBigQueryRow(row, fields)).toEqual([
      42,
      9007199254740993n,
      1.5,
      'NaN',
      true,
      '123456789012345678901234567890.123456789',
      '2024-01-01T00:00:00.123456Z',
      '2024-01-01',
      'Ada',
      'AAEC',
      ['a', 'b'],
      { city: 'London', zips: [1, 2] },
      null,
    ]);
  });

  it('names columns with GoogleSQL types', () => {
    expect(bigQueryColumns(fields).map((c) => c.type)).toEqual([
      'INT64', 'INT64', 'FLOAT64', 'FLOAT64', 'BOOL', 'NUMERIC', 'TIMESTAMP', 'DATE', 'STRING', 'BYTES', 'ARRAY<STRING>', 'STRUCT<city STRING, zips ARRAY<INT64>>', 'STRING',
    ]);
  });

  it.each([
    ['1704067200000000', '2024-01-01T00:00:00Z'],
    ['-1', '1969-12-31T23:59:59.999999Z'],
    ['1.7040672E9', '2024-01-01T00:00:00Z'],
    ['1704067200.5', '2024-01-01T00:00:00.500000Z'],
  ])('timestamp %s -> %s', (wire, text) => {
    expect(timestampText(wire)).toBe(text);
  });
});
