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

  it('types STRUCT and ARRAY<STRUCT> parameters, nested, as bq writes them', () => {
    expect(
      toBigQueryParameters([
        { name: 'who', type: 'STRUCT<id INT64, tags ARRAY<STRING>>', value: '{"id": 7, "tags": ["a", "b"]}' },
        { name: 'pairs', type: 'ARRAY<STRUCT<k STRING, v FLOAT64>>', value: '[{"k": "x", "v": 1.5}, {"k": "y", "v": null}]' },
      ]),
    ).toEqual({
      parameterMode: 'NAMED',
      queryParameters: [
        {
          name: 'who',
          parameterType: { type: 'STRUCT', structTypes: [{ name: 'id', type: { type: 'INT64' } }, { name: 'tags', type: { type: 'ARRAY', arrayType: { type: 'STRING' } } }] },
          parameterValue: { structValues: { id: { value: '7' }, tags: { arrayValues: [{ value: 'a' }, { value: 'b' }] } } },
        },
        {
          name: 'pairs',
          parameterType: { type: 'ARRAY', arrayType: { type: 'STRUCT', structTypes: [{ name: 'k', type: { type: 'STRING' } }, { name: 'v', type: { type: 'FLOAT64' } }] } },
          parameterValue: {
            arrayValues: [{ structValues: { k: { value: 'x' }, v: { value: '1.5' } } }, { structValues: { k: { value: 'y' }, v: { value: null } } }],
          },
        },
      ],
    });
  });

  it('has nothing to send without parameters', () => {
    expect(toBigQueryParameters(undefined)).toEqual({});
    expect(toBigQueryParameters([])).toEqual({});
  });

  it.each([
    [[{ name: 'a', type: 'STRING', value: 'x' }, { name: '', type: 'STRING', value: 'y' }]],
    [[{ name: 'a', type: 'STRUCT<x INT64>', value: '[1]' }]],
    [[{ name: 'a', type: 'STRUCT<x INT64>', value: '{"y": 1}' }]],
    [[{ name: 'a', type: 'ARRAY<ARRAY<INT64>>', value: '[[1]]' }]],
    [[{ name: '__hoopq_hash_inner', type: 'BYTES', value: 'AAAA' }]],
    [[{ name: 'a', type: 'ARRAY<INT64>', value: 'not json' }]],
    [[{ name: 'a', type: 'VARCHAR', value: 'x' }]],
  ])('refuses %j with a usage error', (params) => {
    expect(() => toBigQueryParameters(params)).toThrow(UsageError);
  });
});
