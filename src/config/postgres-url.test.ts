/**
 * postgres:// in hoopq.yaml: where state: and audit: point, the postgres: section for both,
 * and the refusals (a password in the file, no database, two different answers to where the
 * state lives).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.js';
import { describePostgresUrl } from './postgres-url.js';

const WAREHOUSE = 'warehouse: { kind: duckdb, path: ./w.duckdb }\n';
const URL_A = 'postgres://hoopq@db.internal:5432/hoopq';

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-pg-config-'));
  const file = join(dir, 'hoopq.yaml');
  writeFileSync(file, WAREHOUSE + yaml);
  return { dir, config: () => loadConfig(file) };
}

describe('postgres:// URLs in hoopq.yaml', () => {
  it('state: and audit: each name a database; the SQLite file then keeps only approvals and operator keys', () => {
    const { dir, config } = load(`state: ${URL_A}\naudit: ${URL_A}\n`);
    const c = config();
    expect(c.statePostgres).toBe(URL_A);
    expect(c.audit).toEqual({ kind: 'postgres', url: URL_A });
    expect(c.statePath).toBe(join(dir, '.hoopq', 'state.db'));
  });

  it.each(['', 'url: '])('postgres: (%s) puts both there', (form) => {
    const c = load(form ? `postgres:\n  url: ${URL_A}\n` : `postgres: ${URL_A}\n`).config();
    expect(c.statePostgres).toBe(URL_A);
    expect(c.audit).toEqual({ kind: 'postgres', url: URL_A });
  });

  it.each([
    ['a password in the URL', `state: postgres://hoopq:s3cret@db.internal/hoopq\n`, /carries a password/],
    ['a password in audit:', `audit: postgres://hoopq:s3cret@db.internal/hoopq\n`, /carries a password/],
    ['no database', `state: postgres://hoopq@db.internal:5432\n`, /names no database/],
    ['postgres: and another state:', `postgres: ${URL_A}\nstate: ./state.db\n`, /conflicts with postgres:/],
    ['postgres: and another audit:', `postgres: ${URL_A}\naudit: ./audit.jsonl\n`, /conflicts with postgres:/],
    ['postgres: that is not a postgres URL', 'postgres: mysql://db/hoopq\n', /is not a postgres:\/\/ URL/],
  ])('%s is refused (exit 3), never echoing a password', (_what, yaml, why) => {
    let caught: any;
    try {
      load(yaml).config();
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ exitCode: 3 });
    expect(caught.message).toMatch(why);
    expect(`${caught.message} ${caught.hint ?? ''}`).not.toContain('s3cret');
  });

  it('postgres: beside state:/audit: naming the same database is accepted', () => {
    expect(load(`postgres: ${URL_A}\nstate: ${URL_A}\naudit: ${URL_A}\n`).config().statePostgres).toBe(URL_A);
  });

  it('messages name the database without a password or query options', () => {
    expect(describePostgresUrl('postgres://u:pw@h:5432/db?sslmode=require')).toBe('postgres://u@h:5432/db');
  });
});
