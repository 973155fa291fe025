import { describe, expect, it } from 'vitest';
import { bqTimestampText, isBqStringType, javaDoubleText, toBqRow, toBqValue } from './bq-values.js';

describe("values as bq prints them (BigQuery's API strings)", () => {
  it.each([
    [42, 'INTEGER', '42'],
    [9007199254740993n, 'BIGINT', '9007199254740993'],
    [42, 'INT64', '42'],
    [2, 'DOUBLE', '2.0'],
    [0.5, 'FLOAT64', '0.5'],
    [1e10, 'DOUBLE', '1.0E10'],
    [1.5e-7, 'FLOAT', '1.5E-7'],
    [NaN, 'DOUBLE', 'NaN'],
    [-Infinity, 'DOUBLE', '-Infinity'],
    [true, 'BOOLEAN', 'true'],
    ['12.50', 'DECIMAL(10,2)', '12.50'],
    ['2024-01-01 10:00:00', 'TIMESTAMP', '2024-01-01T10:00:00'],
    ['2024-01-01 10:00:00.25+02', 'TIMESTAMP WITH TIME ZONE', '2024-01-01 08:00:00'],
    ['2024-01-01T10:00:00.123456Z', 'TIMESTAMP', '2024-01-01 10:00:00'],
    ['2024-01-01T10:00:00', 'DATETIME', '2024-01-01T10:00:00'],
    ['2024-01-01T10:00:00Z', 'VARCHAR', '2024-01-01T10:00:00Z'],
    [null, 'VARCHAR', null],
    [{ a: 1, b: [true, null], c: 2n }, 'STRUCT(a INTEGER, b BOOLEAN[], c BIGINT)', { a: '1', b: ['true', null], c: '2' }],
  ] as Array<[unknown, string, unknown]>)('case %# (%s)', (value, type, expected) => {
    expect(toBqValue(value, type)).toEqual(expected);
  });

  it('a row, column by column', () => {
    expect(toBqRow([1, 'x', null], ['INTEGER', 'VARCHAR', 'DATE'])).toEqual(['1', 'x', null]);
  });

  it('java double text', () => {
    expect([0, 1, 0.001, 9999999, 1e7, 123456789.5, -0.0001].map(javaDoubleText)).toEqual(['0.0', '1.0', '0.001', '9999999.0', '1.0E7', '1.234567895E8', '-1.0E-4']);
  });

  it('timestamps that are not timestamps stay as they are', () => {
    expect(bqTimestampText('yesterday')).toBe('yesterday');
  });

  it('STRING columns are the ones bq aligns left', () => {
    expect(['VARCHAR', 'STRING', 'UUID', "ENUM('a')"].every(isBqStringType)).toBe(true);
    expect(['INTEGER', 'DATE', 'JSON', 'VARCHAR[]', 'STRUCT(a VARCHAR)'].some(isBqStringType)).toBe(false);
  });
});
