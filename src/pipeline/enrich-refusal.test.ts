/**
 * Refusals an agent can act on, through checkQuery on a real DuckDB warehouse: the message,
 * code and rule stay as policy evaluation made them; the hint names readable tables close to
 * the one refused (never a denied one, never a view over a denied one), their masks, and
 * that a justification is needed. Asserted as exact text.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError, HoopqError, PolicyDeniedError, formatRefusal } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { openWarehouse } from '../warehouse/open-warehouse.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { checkQuery } from './check-query.js';
import { TEST_HASH_KEY } from '../../test/fixtures/test-hash-key.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-enrich-'));
const path = join(dir, 'shop.duckdb');
const names = { defaultProject: 'shop', defaultDataset: 'crm' };
let warehouse: Warehouse;

const policy: Policy = {
  name: 'analyst',
  sha256: 'x'.repeat(64),
  file: '/p/analyst.yaml',
  statements: ['select'],
  tables: { read: ['shop.analytics.*', 'shop.crm.customers'], write: [], deny: ['shop.crm.payment_cards'] },
  columns: { 'shop.crm.customers.email': 'hash', '*.*.*.phone': 'partial' },
  detect: [],
  limits: {},
  requireJustification: true,
  identity: [],
  allowExternalQuery: false,
  routines: { allow: [], deny: [] },
  destinations: [],
};

beforeAll(async () => {
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  await c.run(`CREATE SCHEMA crm; CREATE SCHEMA analytics;
    CREATE TABLE crm.customers (id INTEGER, name VARCHAR, email VARCHAR, phone VARCHAR);
    CREATE TABLE crm.payment_cards (id INTEGER, card_number VARCHAR);
    CREATE TABLE crm.notes (id INTEGER, body VARCHAR);
    CREATE TABLE analytics.events (id INTEGER, kind VARCHAR);
    CREATE VIEW analytics.card_summary AS SELECT count(*) AS n FROM crm.payment_cards;`);
  c.closeSync();
  instance.closeSync();
  warehouse = await openWarehouse({ kind: 'duckdb', path, ...names }, { writable: false, hashKey: TEST_HASH_KEY });
});

afterAll(async () => {
  await warehouse?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refusal(sql: string, justification: string | null = 'testing'): Promise<HoopqError> {
  try {
    await checkQuery(warehouse, sql, policy, justification, names);
  } catch (err) {
    return err as HoopqError;
  }
  throw new Error(`not refused: ${sql}`);
}

describe('refusal hints', () => {
  it('a denied table: close readable tables with their masks; never the view over the denied table', async () => {
    const err = await refusal('SELECT * FROM crm.payment_cards');
    expect(err).toBeInstanceOf(PolicyDeniedError);
    expect(err.code).toBe('policy.table_denied');
    expect(err.rule).toBe('tables.deny');
    expect(err.message).toBe('refused: reading shop.crm.payment_cards is denied by policy analyst (rule tables.deny "shop.crm.payment_cards")');
    expect(err.hint).toBe(
      'you may read instead: shop.crm.customers (masked: email=hash, phone=partial); tables you may read: shop.analytics.*, shop.crm.customers',
    );
    expect(err.hint).not.toContain('card_summary');
    expect(err.hint).not.toContain('crm.notes');
    expect(formatRefusal(err)).toBe(
      'hoopq: refused: reading shop.crm.payment_cards is denied by policy analyst (rule tables.deny "shop.crm.payment_cards"). ' +
        'You may read instead: shop.crm.customers (masked: email=hash, phone=partial); tables you may read: shop.analytics.*, shop.crm.customers.',
    );
  });

  it('a table no rule names, without a justification: suggestions and the justification', async () => {
    const err = await refusal('SELECT * FROM analytics.event', null);
    expect(err).toBeInstanceOf(AnalysisError);
    expect(err.code).toBe('analysis.unknown_table');
    expect(err.hint).toContain('you may read instead: shop.analytics.events');
    expect(err.hint).toContain('policy analyst also needs a justification with every query');
  });

  it('a table not allowed by any read pattern', async () => {
    const err = await refusal('SELECT * FROM shop.crm.notes');
    expect(err.code).toBe('policy.table_not_allowed');
    expect(err.rule).toBe('tables.read');
    expect(err.hint).toMatch(/^you may read instead: shop\.crm\.customers \(masked: email=hash, phone=partial\)/);
  });

  it('a missing justification says so, once', async () => {
    const err = await refusal('SELECT id FROM analytics.events', null);
    expect(err.code).toBe('policy.justification_required');
    expect(formatRefusal(err)).toBe(
      'hoopq: refused: policy analyst requires a justification for every query (rule require_justification). ' +
        'Say why you need this data: --justification "…" (or HOOPQ_JUSTIFICATION; over MCP, the query tool\'s justification argument).',
    );
  });

  it('a statement kind the policy does not allow keeps its hint', async () => {
    const err = await refusal('DELETE FROM analytics.events');
    expect(err.rule).toBe('statements');
    expect(err.hint).toBe('allowed statement kinds: select');
  });

  it('an allowed query passes untouched', async () => {
    const checked = await checkQuery(warehouse, 'SELECT email FROM customers', policy, 'testing', names);
    expect(checked.masks).toEqual({ 'shop.crm.customers.email': 'hash', 'shop.crm.customers.phone': 'partial' });
  });
});
