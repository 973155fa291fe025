import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WarehouseConfig } from '../../config/config.js';
import { AnalysisError, AuthError, ConfigError, WarehouseError } from '../../errors.js';
import { AGENT_SA, CUSTOMERS, GATEWAY_SA, PROJECT, setUpFakeBigQuery, type FakeBigQuerySetup } from '../../../test/fakes/google/fake-bigquery-setup.js';
import { CONTRACT_PEOPLE, describeWarehouseContract, drainExecution, failureOf } from '../warehouse-contract.case.js';
import { openWarehouse } from '../open-warehouse.js';
import { openBigQueryWarehouse } from './open-bigquery-warehouse.js';
import type { BigQueryWarehouse } from './bigquery-warehouse.js';
import { TEST_HASH_KEY, testHash } from '../../../test/fixtures/test-hash-key.js';

const HUNDRED_THOUSAND = 'SELECT n FROM UNNEST(GENERATE_ARRAY(0, 99999)) AS n ORDER BY n';
const LONG_RUNNING = "SELECT 'slow' AS marker";
const names = { defaultProject: PROJECT, defaultDataset: 'crm' };
const inTwoHours = () => new Date(Date.now() + 2 * 3600_000);
const signal = () => new AbortController().signal;

function configOf(fx: FakeBigQuerySetup, extra: Partial<WarehouseConfig> = {}): WarehouseConfig {
  return { kind: 'bigquery', project: PROJECT, location: 'US', credentials: fx.keyFile, apiEndpoint: fx.google.url, iamEndpoint: fx.google.url, ...extra };
}

describeWarehouseContract('bigquery on fake Google', async () => {
  const fx = await setUpFakeBigQuery({ people: CONTRACT_PEOPLE });
  fx.google.bigquery.script(/'slow' AS marker/, { runMs: 60_000 });
  const warehouse = await openBigQueryWarehouse(configOf(fx), { impersonate: AGENT_SA, notAfter: inTwoHours() });
  return {
    warehouse,
    dataset: 'contract',
    sqlName: (resolved) => `\`${resolved}\``,
    sql: { hundredThousandRows: HUNDRED_THOUSAND, longRunning: LONG_RUNNING, invalid: `SELECT no_such_column FROM \`${PROJECT}.contract.people\`` },
    async cleanup() {
      await warehouse.close();
      await fx.cleanup();
    },
  };
});

describe('BigQueryWarehouse on fake Google', () => {
  let fx: FakeBigQuerySetup;
  let wh: BigQueryWarehouse;
  const bq = () => fx.google.bigquery;

  beforeAll(async () => {
    fx = await setUpFakeBigQuery({ people: CONTRACT_PEOPLE });
    bq().script(/'slow' AS marker/, { runMs: 60_000 });
    wh = await openBigQueryWarehouse(configOf(fx), { impersonate: AGENT_SA, notAfter: inTwoHours(), hashKey: TEST_HASH_KEY });
  });
  afterAll(async () => {
    await wh?.close();
    await fx?.cleanup();
  });

  it('calls BigQuery only with the impersonated token, and IAM only with the base token', async () => {
    await drainExecution(await wh.execute([`SELECT id FROM \`${PROJECT}.crm.customers\``], { signal: signal() }));
    await wh.describeTable(`${PROJECT}.crm.customers`);
    const tokens = fx.google.tokens;
    const bigquery = fx.google.requestsTo('bigquery');
    expect(bigquery.length).toBeGreaterThan(2);
    for (const r of bigquery) {
      const t = tokens.issued.get(r.bearer ?? '');
      expect(t, `${r.method} ${r.path}`).toMatchObject({ kind: 'impersonated', principal: AGENT_SA, scopes: ['https://www.googleapis.com/auth/bigquery'] });
    }
    const iam = fx.google.requestsTo('iam');
    expect(iam.length).toBeGreaterThanOrEqual(1);
    for (const r of iam) {
      expect(tokens.issued.get(r.bearer ?? '')).toMatchObject({ kind: 'base', principal: GATEWAY_SA });
      expect(r.path).toBe(`/v1/projects/-/serviceAccounts/${AGENT_SA}:generateAccessToken`);
      expect(r.body.scope).toEqual(['https://www.googleapis.com/auth/bigquery']);
      expect(Number(String(r.body.lifetime).replace(/s$/, ''))).toBeLessThanOrEqual(3600);
    }
    // the base credential was obtained from the key's token_uri (the fake), by JWT-bearer grant
    const oauth = fx.google.requestsTo('oauth');
    expect(oauth.length).toBeGreaterThanOrEqual(1);
    expect(new URLSearchParams(oauth[0]!.rawBody).get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  it('asks for a credential no longer than the run token has left', async () => {
    const before = fx.google.requestsTo('iam').length;
    const short = await openBigQueryWarehouse(configOf(fx), { impersonate: AGENT_SA, notAfter: new Date(Date.now() + 90_000) });
    await short.describeTable(`${PROJECT}.crm.customers`);
    await short.close();
    const asked = fx.google.requestsTo('iam').slice(before);
    expect(asked).toHaveLength(1);
    const seconds = Number(String(asked[0]!.body.lifetime).replace(/s$/, ''));
    expect(seconds).toBeGreaterThan(80);
    expect(seconds).toBeLessThanOrEqual(90);
  });

  it('issues no credential and calls nothing for a run token already expired', async () => {
    const before = fx.google.requests.length;
    const expired = await openBigQueryWarehouse(configOf(fx), { impersonate: AGENT_SA, notAfter: new Date(Date.now() - 1000) });
    const err = await expired.describeTable(`${PROJECT}.crm.customers`).catch((e) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.exitCode).toBe(4);
    expect(fx.google.requests.slice(before).filter((r) => r.api !== 'oauth')).toEqual([]);
  });

  it('refuses a bigquery policy without impersonate (exit 3) before any call', async () => {
    const before = fx.google.requests.length;
    const err = await openWarehouse(configOf(fx), { writable: false }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ exitCode: 3, rule: 'impersonate' });
    expect(err.hint).toMatch(/impersonate/);
    expect(fx.google.requests.length).toBe(before);
  });

  it('builds every job with GoogleSQL, the bytes cap, sanitised labels, timeout, default dataset and typed parameters', async () => {
    const before = fx.google.requestsTo('bigquery').length;
    const execution = await wh.execute(['SELECT name FROM customers WHERE id = @id'], {
      signal: signal(),
      maxBytesBilled: 10 * 1024 ** 3,
      timeoutMs: 30_000,
      labels: { hoopq_run: 'GitHub/Acme ML#42', hoopq_record: '5b8f1c0e-1d2a-4c8e-9b7a-0f6e2d3c4b5a', '9lives': 'x'.repeat(100) },
      params: [{ name: 'id', type: 'INTEGER', value: '2' }],
      names,
    });
    expect((await drainExecution(execution)).rows).toEqual([['Grace Hopper']]);
    const inserts = fx.google.requestsTo('bigquery').slice(before).filter((r) => r.method === 'POST' && r.path.endsWith('/jobs'));
    expect(inserts).toHaveLength(1);
    const { configuration, jobReference } = inserts[0]!.body;
    expect(configuration.query).toMatchObject({
      useLegacySql: false,
      maximumBytesBilled: String(10 * 1024 ** 3),
      defaultDataset: { projectId: PROJECT, datasetId: 'crm' },
      parameterMode: 'NAMED',
      queryParameters: [{ name: 'id', parameterType: { type: 'INT64' }, parameterValue: { value: '2' } }],
    });
    expect(configuration.jobTimeoutMs).toBe('30000');
    expect(configuration.labels.hoopq_run).toBe('github_acme_ml_42');
    expect(configuration.labels.hoopq_record).toBe('5b8f1c0e-1d2a-4c8e-9b7a-0f6e2d3c4b5a');
    expect(configuration.labels.k9lives).toHaveLength(63);
    expect(configuration.jobCreationMode).toBeUndefined();
    expect(configuration.query.jobCreationMode).toBeUndefined();
    expect(jobReference.jobId).toMatch(/^hoopq_[0-9a-f_]+$/);
    expect(execution.stats().jobId).toBe(jobReference.jobId);
    expect(fx.google.requestsTo('bigquery').some((r) => r.method === 'POST' && r.path.endsWith('/queries'))).toBe(false);
  });

  it('dry-runs without creating a job and reports resolved tables, statement type and bytes', async () => {
    const jobsBefore = bq().jobs.size;
    const dry = await wh.dryRun([`SELECT c.email FROM \`${PROJECT}.crm.customer_contacts\` AS c JOIN crm.payment_cards p ON p.customer_id = c.id`], {
      signal: signal(),
      maxBytesBilled: 1000,
      names,
    });
    expect(dry.statementType).toBe('SELECT');
    expect(dry.referencedTables.sort()).toEqual([`${PROJECT}.crm.customer_contacts`, `${PROJECT}.crm.customers`, `${PROJECT}.crm.payment_cards`]);
    expect(dry.bytesProcessed).toBe(5_100);
    expect(dry.referencedTablesIncomplete).toBe(false);
    expect(bq().jobs.size).toBe(jobsBefore);
  });

  it('marks a referenced-table list of 50 as possibly cut', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `${PROJECT}.analytics.t${i}`);
    bq().script(/fifty_tables_marker/, { referencedTables: fifty });
    const dry = await wh.dryRun([`SELECT 1 AS x FROM (SELECT 1) AS fifty_tables_marker`], { signal: signal() }).catch((e) => e);
    // the fake validates the SQL with DuckDB; the alias form above is enough for it
    if (dry instanceof Error) throw dry;
    expect(dry.referencedTablesIncomplete).toBe(true);
  });

  it('pages through a result of many pages, in order and complete', async () => {
    bq().pageRows = 7;
    try {
      const execution = await wh.execute([`SELECT n, kind FROM \`${PROJECT}.analytics.events\` ORDER BY n`], { signal: signal() });
      const { rows, batches } = await drainExecution(execution);
      expect(rows).toHaveLength(2_500);
      expect(batches).toBe(Math.ceil(2_500 / 7));
      expect(rows.every((r, i) => r[0] === i)).toBe(true);
      expect(execution.stats().bytesProcessed).toBe(2_000_000);
    } finally {
      bq().pageRows = 50_000;
    }
  });

  it('lists tables across pages of tables.list and datasets.list', async () => {
    bq().listPageSize = 1;
    try {
      expect(await wh.listTables('crm')).toEqual([`${PROJECT}.crm.customer_contacts`, `${PROJECT}.crm.customers`, `${PROJECT}.crm.payment_cards`]);
      expect(await wh.listTables(`${PROJECT}.crm`)).toHaveLength(3);
      const all = await wh.listTables();
      expect(all).toEqual(expect.arrayContaining([`${PROJECT}.analytics.events`, `${PROJECT}.contract.people`, `${PROJECT}.crm.customers`]));
      expect(all).toHaveLength(6);
    } finally {
      bq().listPageSize = 1000;
    }
  });

  it('cancels the BigQuery job when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const err = await failureOf(wh, LONG_RUNNING, { signal: controller.signal });
    expect(err).toMatchObject({ code: 'warehouse.cancelled', exitCode: 7 });
    const cancels = fx.google.requestsTo('bigquery').filter((r) => r.path.endsWith('/cancel'));
    expect(cancels.length).toBeGreaterThanOrEqual(1);
    const jobId = cancels.at(-1)!.path.split('/').at(-2)!;
    expect(bq().jobs.get(`${PROJECT}:${jobId}`)?.cancelled).toBe(true);
  });

  it('cancels the BigQuery job when the timeout passes', async () => {
    const err = await failureOf(wh, LONG_RUNNING, { timeoutMs: 300 });
    expect(err).toMatchObject({ code: 'warehouse.timeout', exitCode: 7 });
    const jobId = (err as WarehouseError).details!.job_id as string;
    // the job carried jobTimeoutMs too, so BigQuery may stop it at the same moment; either way a cancel was sent
    expect(fx.google.requestsTo('bigquery').some((r) => r.method === 'POST' && r.path.endsWith(`/jobs/${jobId}/cancel`))).toBe(true);
    expect(bq().isDone(bq().jobs.get(`${PROJECT}:${jobId}`)!)).toBe(true);
  });

  it('cancels at hoopq\'s own timer even when BigQuery would let the job run on', async () => {
    bq().script(/'slower' AS marker/, { runMs: 60_000 });
    const job = await wh.execute(["SELECT 'slower' AS marker"], { signal: signal(), timeoutMs: 300 }).catch((e) => e);
    expect(job).toMatchObject({ code: 'warehouse.timeout' });
    const jobId = (job as WarehouseError).details!.job_id as string;
    const sent = bq().jobs.get(`${PROJECT}:${jobId}`)!;
    expect(sent.request.configuration.jobTimeoutMs).toBe('300');
  });

  it('analyses through views and computes masks in BigQuery itself', async () => {
    const sql = 'SELECT id, email, country FROM customer_contacts ORDER BY id';
    const analysis = await wh.analyze(sql, names);
    expect(analysis.statements[0]!.reads.sort()).toEqual([`${PROJECT}.crm.customer_contacts`, `${PROJECT}.crm.customers`]);
    const rewritten = await wh.rewriteForMasks(analysis, { [`${PROJECT}.crm.customers`]: { email: 'hash' } }, names);
    expect(rewritten).toHaveLength(1);
    expect(rewritten[0]).toContain('TO_HEX(SHA256(CONCAT(@__hoopq_hash_outer');
    const { rows } = await drainExecution(await wh.execute(rewritten, { signal: signal(), names }));
    expect(rows).toEqual(CUSTOMERS.map((c) => [c[0], c[2] === null ? null : testHash(c[2] as string), c[5]]));
    const sent = bq().jobs.size > 0 ? [...bq().jobs.values()].at(-1)!.sql : '';
    expect(sent).toBe(rewritten[0]);
  });

  it('refuses a view defined in legacy SQL (exit 6)', async () => {
    await bq().createView(`${PROJECT}.crm.legacy_view`, `SELECT id FROM \`${PROJECT}.crm.customers\``);
    bq().tables.get(`${PROJECT}.crm.legacy_view`)!.legacySql = true;
    const err = await wh.analyze('SELECT * FROM crm.legacy_view', names).catch((e) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect(err.code).toBe('analysis.legacy_view');
  });

  it.each([
    ['invalidQuery', `SELECT nope FROM \`${PROJECT}.crm.customers\``, 'warehouse.invalid_query', /BigQuery invalidQuery: /],
    ['bytes cap', `SELECT * FROM \`${PROJECT}.analytics.events\``, 'warehouse.bytes_exceeded', /BigQuery bytesBilledLimitExceeded: /],
  ])('turns %s into exit 7 with the reason', async (_name, sql, code, message) => {
    const err = await wh.execute([sql], { signal: signal(), maxBytesBilled: 1_000_000 }).then(drainExecution).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(WarehouseError);
    expect(err).toMatchObject({ code, exitCode: 7 });
    expect(err.message).toMatch(message);
  });

  it('turns 404 notFound from a dry run into exit 7 with the reason', async () => {
    bq().script(/missing_table_marker/, { dryRunError: { code: 404, reason: 'notFound', message: `Not found: Table ${PROJECT}:crm.missing_table_marker was not found in location US` } });
    const err = await wh.dryRun([`SELECT * FROM crm.missing_table_marker`], { signal: signal(), names }).catch((e) => e);
    expect(err).toMatchObject({ code: 'warehouse.not_found', exitCode: 7, audience: 'agent' });
    expect(err.message).toMatch(/^BigQuery notFound: Not found: Table/);
  });

  it('turns 403 accessDenied into an operator error naming the missing role and account', async () => {
    bq().revokeDataViewer(`${PROJECT}.analytics`, AGENT_SA);
    try {
      const err = await wh.execute([`SELECT n FROM \`${PROJECT}.analytics.events\``], { signal: signal() }).catch((e) => e);
      expect(err).toMatchObject({ code: 'warehouse.access_denied', exitCode: 7, audience: 'operator' });
      expect(err.message).toMatch(/^BigQuery accessDenied: Access Denied/);
      expect(err.hint).toContain('roles/bigquery.dataViewer');
      expect(err.hint).toContain(AGENT_SA);
    } finally {
      bq().grantDataViewer(`${PROJECT}.analytics`, AGENT_SA);
    }
  });

  it('names Job User on the project when the account may not create jobs', async () => {
    bq().jobUsers.get(PROJECT)!.delete(AGENT_SA);
    try {
      const err = await wh.dryRun(['SELECT 1 AS x'], { signal: signal() }).catch((e) => e);
      expect(err).toMatchObject({ code: 'warehouse.access_denied', exitCode: 7, audience: 'operator' });
      expect(err.hint).toContain(`roles/bigquery.jobUser on project ${PROJECT}`);
    } finally {
      bq().grantJobUser(PROJECT, AGENT_SA);
    }
  });

  it('names Token Creator when the gateway may not impersonate the policy account', async () => {
    const other = 'stranger@ops-proj.iam.gserviceaccount.com';
    const denied = await openBigQueryWarehouse(configOf(fx), { impersonate: other, notAfter: inTwoHours() });
    const before = fx.google.requestsTo('bigquery').length;
    const err = await denied.describeTable(`${PROJECT}.crm.customers`).catch((e) => e);
    expect(err).toMatchObject({ code: 'warehouse.impersonation_denied', exitCode: 7, audience: 'operator' });
    expect(err.hint).toContain(`roles/iam.serviceAccountTokenCreator on service account ${other} to ${GATEWAY_SA}`);
    expect(fx.google.requestsTo('bigquery').length).toBe(before);
  });

  it('reports a refused base credential as an operator error', async () => {
    const stale = join(fx.dir, 'stale-key.json');
    const key = fx.google.serviceAccountKey('deleted@ops-proj.iam.gserviceaccount.com');
    fx.google.oauth.serviceAccounts.delete('deleted@ops-proj.iam.gserviceaccount.com');
    writeFileSync(stale, JSON.stringify(key));
    const w = await openBigQueryWarehouse(configOf(fx, { credentials: stale }), { impersonate: AGENT_SA, notAfter: inTwoHours() });
    const err = await w.describeTable(`${PROJECT}.crm.customers`).catch((e) => e);
    expect(err).toMatchObject({ code: 'warehouse.credentials_rejected', exitCode: 7, audience: 'operator' });
  });

  it('refuses an unreadable credentials file with exit 3', async () => {
    const err = await openBigQueryWarehouse(configOf(fx, { credentials: join(fx.dir, 'nope.json') }), { impersonate: AGENT_SA }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });

  it('works with an authorized_user base credential too', async () => {
    const user = join(fx.dir, 'user.json');
    writeFileSync(user, JSON.stringify({ ...fx.google.authorizedUser('operator@example.com'), token_uri: `${fx.google.url}/token` }));
    fx.google.grantTokenCreator(AGENT_SA, 'operator@example.com');
    const w = await openBigQueryWarehouse(configOf(fx, { credentials: user }), { impersonate: AGENT_SA, notAfter: inTwoHours() });
    expect((await w.describeTable(`${PROJECT}.crm.customers`))?.columns.map((c) => c.name)).toContain('email');
  });

  describe('jobs never run unobserved', () => {
    it('adopts the job a lost jobs.insert answer created, instead of leaving it to run', async () => {
      bq().script(/lost_answer_marker/, { loseInsertAnswers: 1 });
      const jobId = wh.newJobId();
      const sql = "SELECT id FROM customers WHERE country = 'UK' /* lost_answer_marker */ ORDER BY id";
      const { rows } = await drainExecution(await wh.execute([sql], { signal: signal(), names, jobId }));
      expect(rows).toEqual([[1], [3]]);
      // one job in BigQuery, under the id hoopq chose; its insert was sent again (same id) and answered 409 duplicate
      expect([...bq().jobs.values()].filter((j) => j.sql === sql).map((j) => j.jobId)).toEqual([jobId]);
      const calls = fx.google.requestsTo('bigquery').filter((r) => r.method === 'POST' && r.path.endsWith('/jobs') && r.body?.jobReference?.jobId === jobId);
      expect(calls.length).toBe(2);
      expect(fx.google.requestsTo('bigquery').some((r) => r.method === 'GET' && r.path.endsWith(`/jobs/${jobId}`))).toBe(true);
    });

    it('cancels with a credential that outlives the run token', async () => {
      bq().script(/late_cancel_marker/, { runMs: 60_000 });
      const notAfter = new Date(Date.now() + 3_000);
      const w = await openBigQueryWarehouse(configOf(fx), { impersonate: AGENT_SA, notAfter });
      const controller = new AbortController();
      const sql = "SELECT 'late_cancel_marker' AS marker";
      try {
        const pending = w.execute([sql], { signal: controller.signal });
        // abort with under a second of the run token left: a run-bound credential could not be issued any more
        setTimeout(() => controller.abort(), Math.max(0, notAfter.getTime() - Date.now() - 600));
        const err = await pending.then((e) => drainExecution(e)).catch((e) => e);
        expect(err).toMatchObject({ code: 'warehouse.cancelled' });
      } finally {
        await w.close();
      }
      const job = [...bq().jobs.values()].find((j) => j.sql === sql)!;
      expect(job.cancelled).toBe(true);
      const cancel = fx.google.requestsTo('bigquery').find((r) => r.method === 'POST' && r.path.endsWith(`/jobs/${job.jobId}/cancel`))!;
      const credential = fx.google.tokens.issued.get(cancel.bearer ?? '')!;
      expect(credential).toMatchObject({ kind: 'impersonated', principal: AGENT_SA, scopes: ['https://www.googleapis.com/auth/bigquery'] });
      expect(credential.expiresAt).toBeGreaterThan(notAfter.getTime());
    });

    it('caps a job with the configured defaults when the policy sets none', async () => {
      const w = await openBigQueryWarehouse(configOf(fx, { defaultMaxBytesBilled: 123_456_789, defaultJobTimeoutMs: 90_000 }), { impersonate: AGENT_SA, notAfter: inTwoHours() });
      try {
        const jobId = w.newJobId();
        await drainExecution(await w.execute(['SELECT 1 AS one /* default_caps_marker */'], { signal: signal(), jobId }));
        const sent = bq().jobs.get(`${PROJECT}:${jobId}`)!.request.configuration;
        expect(sent.query.maximumBytesBilled).toBe('123456789');
        expect(sent.jobTimeoutMs).toBe('90000');
      } finally {
        await w.close();
      }
      // and without configuration: 1 TiB and one hour
      const jobId = wh.newJobId();
      await drainExecution(await wh.execute(['SELECT 1 AS one /* builtin_caps_marker */'], { signal: signal(), jobId }));
      const sent = bq().jobs.get(`${PROJECT}:${jobId}`)!.request.configuration;
      expect(sent.query.maximumBytesBilled).toBe(String(2 ** 40));
      expect(sent.jobTimeoutMs).toBe('3600000');
    });

    it('never opens a connection offline', async () => {
      const before = fx.google.requests.length;
      const offline = await openBigQueryWarehouse(configOf(fx, { apiEndpoint: 'http://127.0.0.1:1', iamEndpoint: 'http://127.0.0.1:1', credentials: join(fx.dir, 'no-such-key.json') }), { offline: true });
      const analysis = await offline.analyze('SELECT email FROM customer_contacts', names);
      expect(analysis.statements[0]!.reads).toEqual([`${PROJECT}.crm.customer_contacts`]);
      expect(offline.catalogAvailable).toBe(false);
      await expect(offline.describeTable(`${PROJECT}.crm.customers`)).rejects.toMatchObject({ code: 'warehouse.offline' });
      expect(fx.google.requests.length).toBe(before);
    });
  });
});
