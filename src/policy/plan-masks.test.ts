import { describe, expect, it } from 'vitest';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import type { ColumnInfo, TableInfo } from '../warehouse/warehouse.js';
import { BIGQUERY_DIALECT } from '../warehouse/bigquery/bigquery-dialect.js';
import { DUCKDB_DIALECT } from '../warehouse/duckdb/duckdb-dialect.js';
import { planMasks, planMasksByName, type MaskCatalog } from './plan-masks.js';
import type { Policy } from './policy.js';

const text = (name: string): ColumnInfo => ({ name, type: 'STRING' });

/** A catalog over a fixed set of table descriptions (the warehouse's answers, as data). */
function catalogOf(tables: TableInfo[]): MaskCatalog {
  return {
    describeTable: async (name) => tables.find((t) => t.name === name) ?? null,
    listTables: async (dataset) => tables.filter((t) => t.name.startsWith(`${dataset}.`)).map((t) => t.name),
  };
}

function policyWith(columns: Policy['columns'], deny: string[] = []): Policy {
  return {
    name: 'p', sha256: '', file: '', statements: ['select'], tables: { read: ['acme.*.*'], write: [], deny }, columns,
    routines: { allow: [], deny: [] }, destinations: [], detect: [], limits: {}, requireJustification: false, identity: [], allowExternalQuery: false,
  };
}

const CUSTOMERS: TableInfo = {
  name: 'acme.sales.customers',
  kind: 'table',
  columns: [
    text('id'),
    text('EMAIL'),
    { name: 'address', type: 'STRUCT', fields: [text('city'), text('Email')] },
    { name: 'contacts', type: 'ARRAY<STRUCT>', repeated: true, fields: [text('kind'), text('value')] },
  ],
};
const ARCHIVE: TableInfo = { name: 'acme.sales.customers_2023', kind: 'table', columns: [text('id'), text('email'), text('phone')] };
const ORDERS: TableInfo = { name: 'acme.sales.orders', kind: 'table', columns: [text('id'), text('total')] };
const SNAPSHOT: TableInfo = { name: 'acme.scratch.snap', kind: 'table', columns: [text('id'), text('email'), text('phone')], baseTable: 'acme.sales.customers_2023' };
const SALARY_COPY: TableInfo = { name: 'acme.scratch.salaries', kind: 'table', columns: [text('salary')], baseTable: 'acme.hr.salaries' };
const catalog = catalogOf([CUSTOMERS, ARCHIVE, ORDERS, SNAPSHOT, SALARY_COPY, { name: 'acme.hr.salaries', kind: 'table', columns: [text('salary')] }]);

describe('planMasks', () => {
  it('matches column names case-insensitively where the engine does (BigQuery)', async () => {
    const plan = await planMasks(['acme.sales.customers'], policyWith({ 'acme.sales.*.email': 'hash' }), catalog, BIGQUERY_DIALECT);
    expect(plan).toEqual({ 'acme.sales.customers': { EMAIL: 'hash' } });
  });

  it('matches table names case-insensitively for masks, even where the engine keeps case (a dataset may fold it)', async () => {
    const folded = catalogOf([{ ...ORDERS, name: 'acme.sales.ORDERS' }]);
    const plan = await planMasks(['acme.sales.ORDERS'], policyWith({ 'acme.sales.orders.total': 'redact' }), folded, BIGQUERY_DIALECT);
    expect(plan).toEqual({ 'acme.sales.ORDERS': { total: 'redact' } });
  });

  it('masks fields inside RECORD columns and ARRAY<STRUCT>, and a whole column over its fields', async () => {
    const plan = await planMasks(
      ['acme.sales.customers'],
      policyWith({ 'acme.sales.customers.address.email': 'hash', 'acme.sales.customers.contacts.*': 'redact', 'acme.sales.customers.contacts': 'null' }),
      catalog,
      BIGQUERY_DIALECT,
    );
    expect(plan).toEqual({ 'acme.sales.customers': { 'address.Email': 'hash', contacts: 'null' } });
  });

  it('refuses a field mask on an engine that masks whole columns only (DuckDB)', async () => {
    const err = await planMasks(['acme.sales.customers'], policyWith({ 'acme.sales.customers.address.email': 'hash' }), catalog, DUCKDB_DIALECT).catch((e) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect(err.code).toBe('masking.nested_unsupported');
  });

  it('plans every table a wildcard reaches, and the union for the wildcard itself', async () => {
    const plan = await planMasks(['acme.sales.cust*'], policyWith({ 'acme.sales.*.email': 'hash', 'acme.sales.customers_2023.phone': 'partial' }), catalog, BIGQUERY_DIALECT);
    expect(plan).toEqual({
      'acme.sales.customers': { EMAIL: 'hash' },
      'acme.sales.customers_2023': { email: 'hash', phone: 'partial' },
      'acme.sales.cust*': { EMAIL: 'hash', phone: 'partial' },
    });
  });

  describe('an earlier version (FOR SYSTEM_TIME AS OF)', () => {
    const travel = (columns: Policy['columns'], table = 'acme.sales.customers') =>
      planMasks([table], policyWith(columns), catalog, BIGQUERY_DIALECT, [table]).then(
        (plan) => ({ plan, code: undefined as string | undefined }),
        (err: AnalysisError) => ({ plan: undefined, code: err.code, message: err.message }),
      );

    it.each<[string, Policy['columns'], string, string | undefined]>([
      ['every masked name is a column now (any case)', { 'acme.sales.customers.email': 'hash' }, 'acme.sales.customers', undefined],
      ['a masked field is a field now', { 'acme.sales.customers.address.email': 'hash' }, 'acme.sales.customers', undefined],
      ['a masked column the table lacks now (renamed, dropped, replaced)', { 'acme.sales.customers.ssn': 'redact' }, 'acme.sales.customers', 'masking.time_travel'],
      ['a masked field the record lacks now', { 'acme.sales.customers.address.phone': 'redact' }, 'acme.sales.customers', 'masking.time_travel'],
      ['a dataset-wide glob whose column this table lacks', { 'acme.sales.*.email': 'hash' }, 'acme.sales.orders', 'masking.time_travel'],
      ['a column pattern', { 'acme.sales.customers.e*': 'hash' }, 'acme.sales.customers', 'masking.time_travel'],
      ["a snapshot's source masks a column the snapshot lacks", { 'acme.sales.customers_2023.ssn': 'redact' }, 'acme.scratch.snap', 'masking.time_travel'],
      ['a table no column glob names', { 'acme.hr.*.salary': 'redact' }, 'acme.sales.orders', undefined],
    ])('%s', async (_what, columns, table, code) => {
      const got = await travel(columns, table);
      expect(got.code).toBe(code);
      if (code) expect(got.message).toMatch(/FOR SYSTEM_TIME AS OF/);
    });

    it('the current version of the same table is planned as usual', async () => {
      const plan = await planMasks(['acme.sales.orders'], policyWith({ 'acme.sales.*.email': 'hash' }), catalog, BIGQUERY_DIALECT);
      expect(plan).toEqual({});
    });
  });

  it('refuses a wildcard whose tables mask one column differently', async () => {
    const err = await planMasks(['acme.sales.cust*'], policyWith({ 'acme.sales.customers.email': 'hash', 'acme.sales.customers_2023.email': 'redact' }), catalog, BIGQUERY_DIALECT).catch((e) => e);
    expect(err).toBeInstanceOf(AnalysisError);
  });

  it("carries a copy's source masks to the snapshot, and denies a copy of a denied table", async () => {
    const plan = await planMasks(['acme.scratch.snap'], policyWith({ 'acme.sales.customers_2023.phone': 'partial' }), catalog, BIGQUERY_DIALECT);
    expect(plan).toEqual({ 'acme.scratch.snap': { phone: 'partial' } });
    const err = await planMasks(['acme.scratch.salaries'], policyWith({ 'acme.sales.*.email': 'hash' }, ['acme.hr.*']), catalog, BIGQUERY_DIALECT).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyDeniedError);
    expect(err.rule).toBe('tables.deny');
  });

  it('refuses a masked table whose columns cannot be listed', async () => {
    const err = await planMasks(['acme.sales.gone'], policyWith({ 'acme.sales.*.email': 'hash' }), catalog, BIGQUERY_DIALECT).catch((e) => e);
    expect(err).toMatchObject({ code: 'masking.unknown_columns' });
  });

  it('lists masks by name without a catalog (explain --offline)', () => {
    expect(planMasksByName(['acme.sales.orders', 'acme.hr.x'], policyWith({ 'acme.sales.*.email': 'hash', 'acme.sales.orders.total': 'redact' }), BIGQUERY_DIALECT)).toEqual({
      'acme.sales.orders.email': 'hash',
      'acme.sales.orders.total': 'redact',
    });
  });
});
