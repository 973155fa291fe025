import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { WarehouseError } from '../errors.js';
import { fromJobError } from '../warehouse/bigquery/bigquery-error.js';
import { toWarehouseError } from '../warehouse/duckdb/duckdb-error.js';
import { hideRewriteExcerpt } from './hide-rewrite-excerpt.js';
import { sanitizeError } from './sanitize-error.js';

/** DuckDB's own error for SQL it cannot bind, converted by the adapter. */
async function duckDbError(sql: string): Promise<WarehouseError> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run('CREATE TABLE customers (name VARCHAR, email VARCHAR)');
    await connection.run(sql);
    throw new Error('expected DuckDB to refuse');
  } catch (err) {
    return toWarehouseError(err);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const BQ = { project: 'p', baseAccount: 'gateway@p.iam.gserviceaccount.com', impersonated: 'sa@p.iam.gserviceaccount.com' };

describe('hideRewriteExcerpt', () => {
  it("DuckDB: the LINE …^ quote of the rewrite is left out; what was wrong (the column, the candidates) stays", async () => {
    const err = await duckDbError('SELECT nme FROM (SELECT * REPLACE (sha256(email) AS email) FROM customers) AS customers');
    expect(err.engineMessage?.text).toContain('SELECT * REPLACE'); // DuckDB quotes what it ran (withheld: sanitizeError shows it)
    const hidden = hideRewriteExcerpt(err);
    expect(hidden.details?.sql_excerpt).toBeUndefined();
    const { error: shown, sealed } = sanitizeError(hidden, { sql: 'SELECT nme FROM customers', seal: (t) => t });
    expect(shown).toBeInstanceOf(WarehouseError);
    expect(shown.code).toBe(err.code);
    expect(shown.rule).toBe(err.rule);
    expect(shown.exitCode).toBe(7);
    expect(shown.message).toMatch(/^Binder Error: Referenced column "nme" not found in FROM clause! Candidate bindings: .*"name"/);
    expect(shown.message).not.toMatch(/LINE|REPLACE|sha256|\^/);
    expect(shown.hint).toContain("DuckDB's own");
    expect(shown.hint).toContain('hoopq explain');
    expect(sealed).toMatch(/^Binder Error: Referenced column "nme" not found/); // the operator's sealed copy: the engine's text, its quote of the rewrite left out too
    expect(sealed).not.toContain('REPLACE');
  });

  it('BigQuery: the [line:column] into the rewrite is left out', () => {
    const err = fromJobError({ reason: 'invalidQuery', message: 'Unrecognized name: nme; Did you mean name? at [1:8]' }, BQ);
    const hidden = hideRewriteExcerpt(err);
    expect(hidden.hint).toContain('hoopq explain');
    expect(sanitizeError(hidden, { sql: 'SELECT nme FROM customers' }).error.message).toBe('BigQuery invalidQuery: Unrecognized name: nme; Did you mean name?');
  });

  it('an error without a marked excerpt is returned as it is', async () => {
    const plain = new WarehouseError('warehouse.sql_error', 'Binder Error: something', { hint: 'h' });
    expect(hideRewriteExcerpt(plain)).toBe(plain);
    const timeout = fromJobError({ reason: 'timeout', message: 'Query exceeded the timeout' }, BQ);
    expect(hideRewriteExcerpt(timeout)).toBe(timeout);
  });
});
