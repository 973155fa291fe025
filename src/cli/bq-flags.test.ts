import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { normaliseBqFlags } from './bq-flags.js';

describe('normaliseBqFlags', () => {
  it.each([
    [['query', '--use_legacy_sql=false', 'SELECT 1'], ['query', 'SELECT 1']],
    [['query', '--use_legacy_sql', 'false', 'SELECT 1'], ['query', 'SELECT 1']],
    [['query', '--nouse_legacy_sql', 'SELECT 1'], ['query', 'SELECT 1']],
    [['query', '--max_rows=5', 'SELECT 1'], ['query', '--max-rows=5', 'SELECT 1']],
    [['query', '--max_rows', '5', 'SELECT 1'], ['query', '--max-rows', '5', 'SELECT 1']],
    [['query', '--dry_run', 'SELECT 1'], ['query', '--dry-run', 'SELECT 1']],
    [['query', '--dry_run=true', 'SELECT 1'], ['query', '--dry-run', 'SELECT 1']],
    [['query', '--dry_run=false', 'SELECT 1'], ['query', 'SELECT 1']],
    [['query', '--nodry_run', 'SELECT 1'], ['query', 'SELECT 1']],
    [['query', '--format=json', 'SELECT 1'], ['query', '--format=json', 'SELECT 1']],
    [['query', '--', '--dry_run'], ['query', '--', '--dry_run']],
  ])('%j', (argv, expected) => {
    expect(normaliseBqFlags(argv)).toEqual(expected);
  });

  it.each([[['query', '--use_legacy_sql=true', 'x']], [['query', '--use_legacy_sql', 'x']], [['query', '--dry_run=maybe', 'x']]])('refuses legacy SQL %j', (argv) => {
    expect(() => normaliseBqFlags(argv)).toThrow(UsageError);
  });
});
