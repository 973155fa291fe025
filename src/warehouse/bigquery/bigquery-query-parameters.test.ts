import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.js';
import { toBigQueryParameters } from './bigquery-query-parameters.js';

describe('toBigQueryParameters', () => {
  it('types named parameters, with aliases and NULL', () => {
    expect(
      toBigQueryParameters([
        { name: 'id', type: 'INTEGER', value: '7' },
        { name: 'since', type: 'date', value: '2024-01-01' },
        { name: 'gone', type: 'STRING', value: null },
      ]),
    ).toEqual({
      parameterMode: 'NAMED',
      queryParameters: [
        { name: 'id', parameterType: { type: 'INT64' }, parameterValue: { value: '7' } },
        { name: 'since', parameterType: { type: 'DATE' }, parameterValue: { value: '2024-01-01' } },
        { name: 'gone', parameterType: { type: 'STRING' }, parameterValue: { value: null } },
      ],
    });
  });

  it('types positional parameters and arrays', () => {
    expect(toBigQueryParameters([{ name: '', type: 'ARRAY<INT64>', value: '[1,2,null]' }])).toEqual({
      parameterMode: 'POSITIONAL',
      queryParameters: [{ parameterType: { type: 'ARRAY', arrayType: { type: 'INT64' } }, parameterValue: { arrayValues: [{ value: '1' }, { value: '2' }, { value: null }] } }],
    });
  });

  it('has nothing to send without parameters', () => {
    expect(toBigQueryParameters(undefined)).toEqual({});
    expect(toBigQueryParameters([])).toEqual({});
  });

  it.each([
    [[{ name: 'a', type: 'STRING', value: 'x' }, { name: '', type: 'STRING', value: 'y' }]],
    [[{ name: 'a', type: 'STRUCT<x INT64>', value: '{}' }]],
    [[{ name: 'a', type: 'ARRAY<INT64>', value: 'not json' }]],
    [[{ name: 'a', type: 'VARCHAR', value: 'x' }]],
  ])('refuses %j with a usage error', (params) => {
    expect(() => toBigQueryParameters(params)).toThrow(UsageError);
  });
});
