import { describe, expect, it } from 'vitest';
import { bigQuerySchemaField } from './bigquery-schema-field.js';

describe("engine types as BigQuery's table schema fields", () => {
  it.each([
    ['duckdb', 'BIGINT', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['duckdb', 'INTEGER', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['duckdb', 'VARCHAR', { type: 'STRING', mode: 'NULLABLE' }],
    ['duckdb', 'DOUBLE', { type: 'FLOAT', mode: 'NULLABLE' }],
    ['duckdb', 'DECIMAL(18,3)', { type: 'NUMERIC', mode: 'NULLABLE' }],
    ['duckdb', 'TIMESTAMP', { type: 'DATETIME', mode: 'NULLABLE' }],
    ['duckdb', 'TIMESTAMP WITH TIME ZONE', { type: 'TIMESTAMP', mode: 'NULLABLE' }],
    ['duckdb', 'BLOB', { type: 'BYTES', mode: 'NULLABLE' }],
    ['duckdb', 'BOOLEAN', { type: 'BOOLEAN', mode: 'NULLABLE' }],
    ['duckdb', 'INTEGER[]', { type: 'INTEGER', mode: 'REPEATED' }],
    ['bigquery', 'TIMESTAMP', { type: 'TIMESTAMP', mode: 'NULLABLE' }],
    ['bigquery', 'INT64', { type: 'INTEGER', mode: 'NULLABLE' }],
    ['bigquery', 'ARRAY<STRING>', { type: 'STRING', mode: 'REPEATED' }],
  ] as const)('%s %s', (kind, type, expected) => {
    expect(bigQuerySchemaField(kind, 'c', type)).toEqual({ name: 'c', ...expected });
  });

  it('records, nested and repeated, with their fields', () => {
    expect(bigQuerySchemaField('duckdb', 'r', 'STRUCT("x" BIGINT, "y z" INTEGER[], s STRUCT(a VARCHAR))[]')).toEqual({
      name: 'r',
      type: 'RECORD',
      mode: 'REPEATED',
      fields: [
        { name: 'x', type: 'INTEGER', mode: 'NULLABLE' },
        { name: 'y z', type: 'INTEGER', mode: 'REPEATED' },
        { name: 's', type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'a', type: 'STRING', mode: 'NULLABLE' }] },
      ],
    });
    expect(bigQuerySchemaField('bigquery', 'r', 'STRUCT<a INT64, b ARRAY<STRUCT<c STRING>>>')).toEqual({
      name: 'r',
      type: 'RECORD',
      mode: 'NULLABLE',
      fields: [
        { name: 'a', type: 'INTEGER', mode: 'NULLABLE' },
        { name: 'b', type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'c', type: 'STRING', mode: 'NULLABLE' }] },
      ],
    });
    expect(bigQuerySchemaField('duckdb', 'm', 'MAP(VARCHAR, INTEGER)')).toEqual({
      name: 'm',
      type: 'RECORD',
      mode: 'REPEATED',
      fields: [
        { name: 'key', type: 'STRING', mode: 'NULLABLE' },
        { name: 'value', type: 'INTEGER', mode: 'NULLABLE' },
      ],
    });
  });
});
