import { describe, expect, it } from 'vitest';
import { parseLabels, parseQueryConfiguration } from './parse-query-configuration.js';

const codeOf = (work: () => unknown): string | undefined => {
  try {
    work();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('parseQueryConfiguration', () => {
  it('reads the SQL, default dataset and typed parameters', () => {
    expect(
      parseQueryConfiguration(
        {
          query: 'SELECT @a, @b',
          useLegacySql: false,
          useQueryCache: true,
          priority: 'INTERACTIVE',
          parameterMode: 'named',
          defaultDataset: { datasetId: 'crm' },
          queryParameters: [
            { name: 'a', parameterType: { type: 'INT64' }, parameterValue: { value: 5 } },
            { name: 'b', parameterType: { type: 'ARRAY', arrayType: { type: 'STRING' } }, parameterValue: { arrayValues: [{ value: 'x' }, { value: 'y' }] } },
            { name: 'c', parameterType: { type: 'STRING' }, parameterValue: {} },
          ],
        },
        'demo',
      ),
    ).toEqual({
      sql: 'SELECT @a, @b',
      names: { defaultProject: 'demo', defaultDataset: 'crm' },
      params: [
        { name: 'a', type: 'INT64', value: '5' },
        { name: 'b', type: 'ARRAY<STRING>', value: '["x","y"]' },
        { name: 'c', type: 'STRING', value: null },
      ],
    });
    expect(parseQueryConfiguration({ query: 'SELECT 1', maximumBytesBilled: '1000000' }, 'p').maxBytesBilled).toBe(1_000_000);
    expect(parseQueryConfiguration({ query: 'SELECT ?', parameterMode: 'POSITIONAL', queryParameters: [{ parameterType: { type: 'BOOL' }, parameterValue: { value: 'true' } }] }, 'p').params).toEqual([{ name: '', type: 'BOOL', value: 'true' }]);
  });

  it.each([
    ['a destination table', { destinationTable: { tableId: 't' } }, 'bigquery_api.not_supported'],
    ['a write disposition', { writeDisposition: 'WRITE_TRUNCATE' }, 'bigquery_api.not_supported'],
    ['external tables', { tableDefinitions: { t: {} } }, 'bigquery_api.not_supported'],
    ['a byte cap that is no number', { maximumBytesBilled: '-1' }, 'bigquery_api.invalid'],
    ['a session', { createSession: true }, 'bigquery_api.not_supported'],
    ['connection properties', { connectionProperties: [{ key: 'session_id', value: 'x' }] }, 'bigquery_api.not_supported'],
    ['legacy SQL', { useLegacySql: true }, 'bigquery_api.legacy_sql'],
    ['a STRUCT parameter', { queryParameters: [{ name: 's', parameterType: { type: 'STRUCT' }, parameterValue: {} }] }, 'bigquery_api.not_supported'],
    ['a named parameter without a name', { parameterMode: 'NAMED', queryParameters: [{ parameterType: { type: 'INT64' }, parameterValue: { value: '1' } }] }, 'bigquery_api.invalid'],
    ['no query', { query: '  ' }, 'bigquery_api.invalid'],
  ])('refuses %s rather than ignoring it', (_name, extra, code) => {
    expect(codeOf(() => parseQueryConfiguration({ query: 'SELECT 1', ...extra }, 'demo'))).toBe(code);
  });
});

describe('parseLabels', () => {
  it("keeps the caller's labels, takes the justification apart, refuses hoopq's own and invalid ones", () => {
    expect(parseLabels({ team: 'ml', hoopq_justification: 'weekly_churn-report' })).toEqual({ labels: { team: 'ml' }, justification: 'weekly churn report' });
    expect(codeOf(() => parseLabels({ hoopq_run: 'someone-else' }))).toBe('bigquery_api.reserved_label');
    expect(codeOf(() => parseLabels({ hoopq_record: 'forged' }))).toBe('bigquery_api.reserved_label');
    expect(codeOf(() => parseLabels({ Team: 'ml' }))).toBe('bigquery_api.invalid');
    expect(codeOf(() => parseLabels({ team: 'has space' }))).toBe('bigquery_api.invalid');
    expect(codeOf(() => parseLabels(Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v']))))).toBe('bigquery_api.invalid');
  });
});
