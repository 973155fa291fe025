import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.js';
import { parseBqArgs } from './parse-bq-args.js';

describe('parseBqArgs: bq command lines as bq reads them', () => {
  it.each([
    [['--format=json', 'query', '--nouse_legacy_sql', 'SELECT', '1'], 'query', { format: 'json', use_legacy_sql: false }, ['SELECT', '1']],
    [['--format', 'prettyjson', '--project_id=p', '--dataset_id', 'd', 'ls'], 'ls', { format: 'prettyjson', project_id: 'p', dataset_id: 'd' }, []],
    [['-q', '--headless', '--apilog=/tmp/x', '--location=EU', 'query', '-n', '5', 'SELECT 1'], 'query', { quiet: true, headless: true, apilog: '/tmp/x', location: 'EU', max_rows: '5' }, ['SELECT 1']],
    [['query', '--dry_run=false', '--use_legacy_sql=false', 'SELECT 1', '--format=csv'], 'query', { dry_run: false, use_legacy_sql: false, format: 'csv' }, ['SELECT 1']],
    [['query', '--dry_run', '--parameter', 'a:INT64:1', '--parameter=b::x', '--label', 'k:v', 'SELECT @a'], 'query', { dry_run: true, parameter: ['a:INT64:1', 'b::x'], label: ['k:v'] }, ['SELECT @a']],
    [['query', '--maximum_bytes_billed=1000', '--batch', '--nouse_cache', '--job_id=j1', 'SELECT 1'], 'query', { maximum_bytes_billed: '1000', batch: true, use_cache: false, job_id: 'j1' }, ['SELECT 1']],
    [['ls', '-a', '-n', '3', 'demo:crm'], 'ls', { all: true, max_results: '3' }, ['demo:crm']],
    [['show', '--schema', '--format=prettyjson', 'crm.customers'], 'show', { schema: true, format: 'prettyjson' }, ['crm.customers']],
    [['head', '-n', '2', '-s', '1', '-c', 'a,b', 'crm.t'], 'head', { max_rows: '2', start_row: '1', selected_fields: 'a,b' }, ['crm.t']],
    [['query', '--', '--not-a-flag'], 'query', {}, ['--not-a-flag']],
    [['query', 'SELECT -1, "-- x"'], 'query', {}, ['SELECT -1, "-- x"']],
  ])('%j', (argv, command, flags, args) => {
    const parsed = parseBqArgs(argv);
    expect(parsed.command).toBe(command);
    expect(parsed.flags).toEqual(flags);
    expect(parsed.args).toEqual(args);
  });

  it('records accepted flags that have no effect, with why', () => {
    expect(parseBqArgs(['--headless', 'query', '--batch', 'x']).ignored.map((i) => i.flag)).toEqual(['--headless', '--batch']);
  });

  it.each([
    [['query', '--destination_table=d.t', 'SELECT 1'], /bq flag --destination_table is not supported: hoopq returns results to the caller/],
    [['--credential_file=/k.json', 'ls'], /--credential_file is not supported: under hoopq the run token/],
    [['query', '--no_such_flag', 'x'], /unknown bq flag --no_such_flag for bq query/],
    [['query', '--nomax_rows', 'x'], /unknown bq flag --nomax_rows/],
    [['mk', 'ds'], /bq mk is not supported: create tables with CREATE TABLE/],
    [['frobnicate'], /bq frobnicate is not supported$/],
    [['query', '--dry_run=maybe', 'x'], /--dry_run takes true or false/],
    [['query', '--max_rows'], /--max_rows needs a value/],
    [['-n', '5', 'query', 'x'], /unknown bq flag -n$/],
  ])('refuses %j in one line', (argv, message) => {
    let caught: unknown;
    try {
      parseBqArgs(argv);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toMatch(message);
    expect((caught as UsageError).message).not.toContain('\n');
  });

  it('help and version', () => {
    expect(parseBqArgs(['help']).command).toBe('help');
    expect(parseBqArgs(['--help']).command).toBe('help');
    expect(parseBqArgs(['version']).command).toBe('version');
    expect(parseBqArgs([]).command).toBeUndefined();
  });
});
