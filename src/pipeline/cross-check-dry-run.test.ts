import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { AGENT_SA, PROJECT, setUpFakeBigQuery, type FakeBigQuerySetup } from '../../test/fakes/google/fake-bigquery-setup.js';
import { TEST_HASH_KEY } from '../../test/fixtures/test-hash-key.js';
import { openBigQueryWarehouse } from '../warehouse/bigquery/open-bigquery-warehouse.js';
import type { BigQueryWarehouse } from '../warehouse/bigquery/bigquery-warehouse.js';
import type { DryRunResult } from '../warehouse/warehouse.js';
import { checkQuery } from './check-query.js';
import { crossCheckDryRun } from './cross-check-dry-run.js';

const names = { defaultProject: PROJECT, defaultDataset: 'crm' };

const policy: Policy = {
  name: 'agent',
  sha256: 'x'.repeat(64),
  file: '/p/agent.yaml',
  statements: ['select'],
  tables: { read: [`${PROJECT}.crm.*`, `${PROJECT}.analytics.*`], write: [], deny: [`${PROJECT}.crm.payment_cards`] },
  columns: { [`${PROJECT}.crm.customers.email`]: 'hash' },
  routines: { allow: [`${PROJECT}.udfs.*`], deny: [] },
  destinations: [],
  detect: [],
  limits: {},
  requireJustification: false,
  identity: [],
  allowExternalQuery: false,
  impersonate: AGENT_SA,
};

describe('crossCheckDryRun: what BigQuery names must agree with the analysis, the policy and the masks', () => {
  let fx: FakeBigQuerySetup;
  let wh: BigQueryWarehouse;

  beforeAll(async () => {
    fx = await setUpFakeBigQuery();
    wh = await openBigQueryWarehouse({ kind: 'bigquery', project: PROJECT, credentials: fx.keyFile, apiEndpoint: fx.google.url, iamEndpoint: fx.google.url }, { impersonate: AGENT_SA, notAfter: new Date(Date.now() + 3600_000), hashKey: TEST_HASH_KEY });
  });
  afterAll(async () => {
    await wh?.close();
    await fx?.cleanup();
  });

  const dry = (referencedTables: string[], extra: Partial<DryRunResult> = {}): DryRunResult => ({ statementType: 'SELECT', referencedTables, ...extra });
  const failure = async (sql: string, result: DryRunResult) => {
    const checked = await checkQuery(wh, sql, policy, null, names);
    return crossCheckDryRun(result, checked, policy, wh).then(
      () => undefined,
      (e: unknown) => e,
    );
  };

  it('accepts the tables a planned, masked wildcard expands to', async () => {
    expect(await failure('SELECT id FROM `test-proj.crm.cust*`', dry([`${PROJECT}.crm.customers`, `${PROJECT}.crm.customer_contacts`]))).toBeUndefined();
  });

  it('refuses a table the dry run reads with masks the plan lacks (a table the catalog did not list in time)', async () => {
    // the plan of this query holds no masks (nothing it names is masked); BigQuery says it reads customers
    const checked = await checkQuery(wh, 'SELECT n FROM `test-proj.crm.c*`', { ...policy, columns: {} }, null, names);
    const err = await crossCheckDryRun(dry([`${PROJECT}.crm.customers`]), checked, policy, wh).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect(err).toMatchObject({ code: 'masking.dry_run_mismatch', exitCode: 6 });
  });

  it('refuses a routine the dry run reports that the policy does not allow (exit 5)', async () => {
    const err = await failure('SELECT id FROM customers', dry([`${PROJECT}.crm.customers`], { referencedRoutines: [`${PROJECT}.hr.lookup`] }));
    expect(err).toBeInstanceOf(PolicyDeniedError);
    expect(err).toMatchObject({ rule: 'routines.allow' });
  });

  it('refuses an allowed routine the analysis did not find (exit 6)', async () => {
    const err = await failure('SELECT id FROM customers', dry([`${PROJECT}.crm.customers`], { referencedRoutines: [`${PROJECT}.udfs.f`] }));
    expect(err).toMatchObject({ code: 'analysis.dry_run_mismatch', exitCode: 6 });
  });

  it('accepts a routine the analysis found and the policy allows', async () => {
    expect(await failure('SELECT udfs.f(id) FROM customers', dry([`${PROJECT}.crm.customers`], { referencedRoutines: [`${PROJECT}.udfs.f`] }))).toBeUndefined();
  });

  it('refuses a denied table named in another case (a case-insensitive dataset folds it)', async () => {
    const err = await failure('SELECT id FROM customers', dry([`${PROJECT}.crm.customers`, `${PROJECT}.crm.PAYMENT_CARDS`]));
    expect(err).toMatchObject({ rule: 'tables.deny' });
  });

  it('refuses a list that may have been cut at the engine\'s limit', async () => {
    const many = Array.from({ length: 50 }, (_, i) => `${PROJECT}.crm.t${i}`);
    const err = await failure('SELECT id FROM customers', dry(many));
    expect(err).toMatchObject({ rule: 'limits.referenced_tables' });
  });
});
