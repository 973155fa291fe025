/**
 * Black-box: query parameters on the DuckDB demo, written as on BigQuery — `@name` in the SQL,
 * `--parameter name:TYPE:VALUE` with bq's types, including ARRAY and STRUCT (JSON values) —
 * plus what must not be taken for a parameter (`@` inside a string, the `<@` operator) and
 * hoopq's reserved names.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, type CliResult, type Demo } from './cli-harness.js';

let demo: Demo;
let token: string;

beforeAll(() => {
  demo = createDemo();
  token = demo.mint('analyst-agent', 'bb-parameters');
});
afterAll(() => {
  rmSync(demo.dir, { recursive: true, force: true });
});

const query = (sql: string, ...params: string[]): Promise<CliResult> =>
  demo.runAsync(['query', '--format', 'json', ...params.flatMap((p) => ['--parameter', p]), sql], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'parameters test' } });
const rows = (r: CliResult) => JSON.parse(r.stdout) as Array<Record<string, unknown>>;

describe('query parameters on DuckDB', () => {
  it.concurrent.each<[string, string, string[], unknown[]]>([
    ['a named scalar, @name', 'SELECT id FROM analytics.events WHERE id <= @max_id ORDER BY id', ['max_id:INT64:3'], [1, 2, 3]],
    ['DuckDB\'s own $name still works', 'SELECT id FROM analytics.events WHERE id <= $max_id ORDER BY id', ['max_id:INT64:2'], [1, 2]],
    ['an ARRAY', 'SELECT id FROM analytics.events WHERE list_contains(@ids, id) ORDER BY id', ['ids:ARRAY<INT64>:[2, 4, 6]'], [2, 4, 6]],
    ['a STRUCT, by field', 'SELECT id FROM analytics.events WHERE id BETWEEN @range.low AND @range.high ORDER BY id', ['range:STRUCT<low INT64, high INT64>:{"low": 3, "high": 5}'], [3, 4, 5]],
    ['an ARRAY of STRUCT', 'SELECT p.n AS id FROM (SELECT unnest(@pairs) AS p) ORDER BY 1', ['pairs:ARRAY<STRUCT<n INT64, s STRING>>:[{"n": 7, "s": "x"}, {"n": 8, "s": null}]'], [7, 8]],
    ['a positional parameter', 'SELECT id FROM analytics.events WHERE id = ? ORDER BY id', [':INT64:4'], [4]],
  ])('%s', async (_what, sql, params, ids) => {
    const r = await query(sql, ...params);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(rows(r).map((row) => Number(row.id))).toEqual(ids);
  });

  it('leaves an @ inside a string literal and the <@ operator alone', async () => {
    const r = await query("SELECT 'meet @noon' AS s, [1] <@ [1, 2] AS contained, @x AS x", 'x:INT64:5');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(rows(r)).toEqual([{ s: 'meet @noon', contained: true, x: '5' }]);
  });

  it('names a missing parameter (exit 7)', async () => {
    const r = await query('SELECT id FROM analytics.events WHERE id = @nope');
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'warehouse.missing_parameter' });
    expect(JSON.parse(r.stderr).message).toContain('@nope');
  });

  it.each([
    ['a value that is not of its type', ['n:INT64:seven'], 2],
    ['an ARRAY value that is not JSON', ['ids:ARRAY<INT64>:1,2'], 2],
    ['a STRUCT with a field it does not declare', ['s:STRUCT<a INT64>:{"b": 1}'], 2],
    ['an unknown type', ['n:VARCHAR2:x'], 2],
    ["hoopq's reserved name", ['__hoopq_x:INT64:1'], 2],
  ])('refuses %s', async (_what, params, code) => {
    const r = await query('SELECT 1 AS one', ...params);
    expect(r.code).toBe(code);
  });

  it("refuses SQL using hoopq's reserved names (exit 6)", async () => {
    const r = await query('SELECT @__hoopq_hash AS k');
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'analysis.reserved_name' });
  });
});
