/**
 * Black-box: Google's own Node client (@google-cloud/bigquery, the version hoopq ships),
 * pointed at `hoopq gateway` with `apiEndpoint` and a run token as its bearer credential,
 * against the DuckDB demo: queries, jobs and paging, dry runs, parameters, the catalog and
 * table reads — masked, refused in BigQuery's error shape, recorded in the audit log, and a
 * running job cancelled by revoking its run.
 */
import { rmSync } from 'node:fs';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopqAsync, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let analystToken: string;
let writerToken: string;
let otherToken: string;
let revokedRunToken: string;

const JUSTIFIED = { hoopq_justification: 'bigquery-api-test' };

function client(token: string, headers: Record<string, string> = {}): BigQuery {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: token });
  const bq = new BigQuery({ projectId: 'demo', apiEndpoint: url, authClient: auth, autoRetry: false });
  if (Object.keys(headers).length > 0) {
    bq.interceptors.push({
      request: (opts) => {
        opts.headers = { ...opts.headers, ...headers };
        return opts;
      },
    });
  }
  return bq;
}

/** The ApiError a call rejects with. */
async function failureOf(work: () => Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await work();
  } catch (err) {
    const e = err as { code?: number; errors?: Array<{ reason?: string }>; message: string };
    return { code: e.code ?? 0, reason: e.errors?.[0]?.reason ?? '', message: e.message };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  analystToken = demo.mint('analyst-agent', 'bq-api-analyst');
  writerToken = demo.mint('scratch-writer', 'bq-api-writer');
  otherToken = demo.mint('scratch-writer', 'bq-api-other');
  // minted up front: a synchronous spawn during a test stalls the client's event loop
  revokedRunToken = demo.mint('scratch-writer', 'bq-api-revoked');
});

afterAll(async () => {
  await demo?.close();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
});

describe('queries through the Node client', () => {
  it('query() returns masked values with a typed schema', async () => {
    const [rows] = await client(analystToken).query({
      query: 'SELECT id, name, email, ssn, phone, created_at FROM crm.customers ORDER BY id LIMIT 3',
      labels: JUSTIFIED,
    });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(typeof row.id).toBe('number');
      expect(row.email).toMatch(/^[0-9a-f]{64}$/);
      expect(row.ssn).toBe('[REDACTED]');
      expect(row.phone).toMatch(/^\*+.{4}$/);
      expect(row.created_at.value).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    }
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('a denied table is 403 accessDenied with hoopq\'s reason; unanalysable SQL is 400 invalidQuery; no token is 401', async () => {
    const denied = await failureOf(() => client(analystToken).query({ query: 'SELECT * FROM crm.payment_cards', labels: JUSTIFIED }));
    expect(denied).toMatchObject({ code: 403, reason: 'accessDenied' });
    expect(denied.message).toContain('tables.deny');
    expect(denied.message).not.toContain('card_number');
    const viaJob = await failureOf(() => client(analystToken).createQueryJob({ query: 'SELECT card_number FROM crm.payment_cards', labels: JUSTIFIED }));
    expect(viaJob).toMatchObject({ code: 403, reason: 'accessDenied' });
    const unanalysable = await failureOf(() => client(writerToken).query("SELECT * FROM read_csv('/etc/passwd')"));
    expect(unanalysable).toMatchObject({ code: 400, reason: 'invalidQuery' });
    const anonymous = await fetch(`${url}/bigquery/v2/projects/demo/queries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'SELECT 1' }) });
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.errors[0].reason).toBe('authError');
  });

  it('a policy that requires a justification refuses without one, and takes it from the header too', async () => {
    const refused = await failureOf(() => client(analystToken).query('SELECT city FROM crm.customers LIMIT 1'));
    expect(refused).toMatchObject({ code: 403, reason: 'accessDenied' });
    expect(refused.message).toContain('require_justification');
    const [rows] = await client(analystToken, { 'x-hoopq-justification': 'header justification' }).query('SELECT city FROM crm.customers LIMIT 1');
    expect(rows).toHaveLength(1);
    const record = demo.auditRecords().find((r) => r.event === 'query' && r.justification === 'header justification');
    expect(record?.decision).toBe('allow');
  });

  it('createQueryJob + getQueryResults pages through 10,000 rows; jobs.get maps the job to its audit record', async () => {
    const bq = client(writerToken);
    const [job] = await bq.createQueryJob({
      query: 'SELECT e.id AS id, k.id AS k FROM analytics.events e, analytics.events k WHERE k.id <= 2 ORDER BY e.id, k.id',
      labels: { team: 'ml' },
    });
    const seen: number[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const [rows, next] = await job.getQueryResults({ maxResults: 1500, autoPaginate: false, ...(pageToken ? { pageToken } : {}) });
      pages += 1;
      for (const r of rows) seen.push(r.id * 10 + r.k);
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    expect(pages).toBe(7);
    expect(seen).toHaveLength(10_000);
    expect(seen[0]).toBe(11);
    expect(seen[9_999]).toBe(50_002);
    // the client's own paging gives the same rows
    const [all] = await job.getQueryResults();
    expect(all).toHaveLength(10_000);

    const [metadata] = await job.getMetadata();
    expect(metadata.status.state).toBe('DONE');
    expect(metadata.configuration.labels).toEqual({ team: 'ml' });
    const records = demo.auditRecords();
    const outcome = records.find((r) => r.id === metadata.hoopq.record)!;
    expect(outcome).toMatchObject({ event: 'query', decision: 'allow', run: 'bq-api-writer', rows: 10_000, via: 'bigquery-api' });
    expect(outcome.bigquery_api).toMatchObject({ method: 'jobs.insert', job_id: job.id, labels: { team: 'ml' } });
    // intent before execution: the intent record of this job precedes its outcome
    const intent = records.find((r) => r.id === outcome.intent)!;
    expect(intent.event).toBe('query.intent');
    expect(intent.seq).toBeLessThan(outcome.seq);
    expect(records.filter((r) => r.event === 'bigquery_api.call' && r.bigquery_api?.method === 'jobs.getQueryResults' && r.bigquery_api?.job_id === job.id).length).toBeGreaterThanOrEqual(pages);
  });

  it('dry runs run nothing and report the tables; named parameters bind', async () => {
    const bq = client(writerToken);
    const before = demo.auditRecords().length;
    const [job] = await bq.createQueryJob({ query: 'SELECT count(*) AS n FROM analytics.events', dryRun: true });
    expect(job.metadata.status.state).toBe('DONE');
    expect(job.metadata.statistics.query.referencedTables).toEqual([{ projectId: 'demo', datasetId: 'analytics', tableId: 'events' }]);
    const added = demo.auditRecords().slice(before);
    expect(added.map((r) => r.event)).toEqual(['query.dry_run']);

    const [rows] = await bq.query({ query: 'SELECT id, event_type FROM analytics.events WHERE id = $id', params: { id: 42 } });
    expect(rows).toEqual([{ id: 42, event_type: expect.any(String) }]);
  });

  it('options that would change what runs are refused with 501, not ignored', async () => {
    const bq = client(writerToken);
    const destination = await failureOf(() => bq.createQueryJob({ query: 'SELECT 1', destination: bq.dataset('scratch').table('t') }));
    expect(destination).toMatchObject({ code: 501, reason: 'notImplemented' });
    expect(destination.message).toContain('destinationTable');
    const legacy = await failureOf(() => bq.query({ query: 'SELECT 1', useLegacySql: true }));
    expect(legacy.code).toBe(400);
    const createTable = await failureOf(() => bq.dataset('scratch').createTable('t2', {}));
    expect(createTable).toMatchObject({ code: 501, reason: 'notImplemented' });
  });
});

describe('catalog and table reads', () => {
  it('tables.list hides denied tables; tables.get marks masked columns', async () => {
    const bq = client(analystToken);
    const [tables] = await bq.dataset('crm').getTables();
    expect(tables.map((t) => t.id).sort()).toEqual(['customer_directory', 'customers']);
    const [metadata] = await bq.dataset('crm').table('customers').getMetadata();
    const email = metadata.schema.fields.find((f: { name: string }) => f.name === 'email');
    expect(email).toMatchObject({ type: 'STRING', description: expect.stringContaining('hash') });
    expect(metadata.schema.fields.find((f: { name: string }) => f.name === 'id')).toMatchObject({ type: 'INTEGER' });
    const denied = await failureOf(() => bq.dataset('crm').table('payment_cards').getMetadata());
    expect(denied).toMatchObject({ code: 403, reason: 'accessDenied' });
    const [datasets] = await bq.getDatasets();
    expect(datasets.map((d) => d.id).sort()).toEqual(['analytics', 'crm']);
  });

  it('table.getRows() reads through the same policy as SELECT *, masked', async () => {
    const bq = client(analystToken, { 'x-hoopq-justification': 'reading customers' });
    const [rows] = await bq.dataset('crm').table('customers').getRows({ maxResults: 5 });
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row.email).toMatch(/^[0-9a-f]{64}$/);
      expect(row.ssn).toBe('[REDACTED]');
      expect(JSON.stringify(row)).not.toMatch(/\d{3}-\d{2}-\d{4}/);
    }
    const denied = await failureOf(() => bq.dataset('crm').table('payment_cards').getRows());
    expect(denied).toMatchObject({ code: 403, reason: 'accessDenied' });
    // pages come from one listing; its page token reads nothing else
    const [first, next] = await bq.dataset('crm').table('customers').getRows({ maxResults: 2, autoPaginate: false });
    const pageToken = (next as { pageToken?: string } | null)?.pageToken;
    expect(pageToken).toBeTruthy();
    const [second] = await bq.dataset('crm').table('customers').getRows({ maxResults: 2, autoPaginate: false, pageToken });
    expect(second.map((r) => r.id)).not.toEqual(first.map((r) => r.id));
    const crossed = await fetch(`${url}/bigquery/v2/projects/demo/datasets/crm/tables/customer_directory/data?pageToken=${pageToken}`, { headers: { authorization: `Bearer ${analystToken}` } });
    expect(crossed.status).toBe(400);
    const stranger = await fetch(`${url}/bigquery/v2/projects/demo/datasets/crm/tables/customers/data?pageToken=${pageToken}`, { headers: { authorization: `Bearer ${otherToken}` } });
    expect(stranger.status).toBe(400);
    const record = demo.auditRecords().find((r) => r.event === 'query' && r.bigquery_api?.method === 'tabledata.list' && r.decision === 'allow');
    expect(record).toMatchObject({ run: 'bq-api-analyst', masked: { columns: expect.objectContaining({ 'demo.crm.customers.email': 'hash' }) } });
  });
});

describe('jobs of a run', () => {
  it('jobs.list shows only the run\'s own jobs; another run\'s job is not found', async () => {
    const mine = client(otherToken);
    const [job] = await mine.createQueryJob('SELECT 1 AS one');
    await job.getQueryResults();
    const [jobs] = await mine.getJobs();
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    const [writerJobs] = await client(writerToken).getJobs();
    expect(writerJobs.map((j) => j.id)).not.toContain(job.id);
    const stolen = await failureOf(() => client(writerToken).job(job.id!).getMetadata());
    expect(stolen).toMatchObject({ code: 404, reason: 'notFound' });
  });

  it('jobs.cancel stops a running job; revoking the run cancels its running job', async () => {
    const slow = 'SELECT count(*) AS n FROM analytics.events a, analytics.events b, analytics.events c WHERE a.id + b.id + c.id > 0';
    const bq = client(revokedRunToken);

    // DuckDB loses an interrupt that arrives while a statement is still being prepared, so the
    // test lets each query get going before it stops it (jobs.insert itself waits 500 ms)
    const settle = () => new Promise((r) => setTimeout(r, 1_000));
    const [cancelled] = await bq.createQueryJob(slow);
    expect(cancelled.metadata.status.state).toBe('RUNNING');
    await settle();
    await cancelled.cancel();
    const cancelledAt = Date.now();
    let [metadata] = await cancelled.getMetadata();
    while (metadata.status.state !== 'DONE' && Date.now() - cancelledAt < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      [metadata] = await cancelled.getMetadata();
    }
    expect(metadata.status.errorResult).toMatchObject({ reason: 'stopped', message: expect.stringContaining('jobs.cancel') });
    const cancelRecord = demo.auditRecords().find((r) => r.event === 'query' && r.bigquery_api?.job_id === cancelled.id);
    expect(cancelRecord).toMatchObject({ decision: 'error', code: 'warehouse.cancelled' });

    const [job] = await bq.createQueryJob(slow);
    expect(job.metadata.status.state).toBe('RUNNING');
    await settle();
    const revokedAt = Date.now();
    const revoked = await hoopqAsync(['token', 'revoke', '--run', 'bq-api-revoked'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(revoked.code).toBe(0);
    let record: Record<string, any> | undefined;
    while (!record && Date.now() - revokedAt < 30_000) {
      record = demo.auditRecords().find((r) => r.event === 'query' && r.bigquery_api?.job_id === job.id);
      if (!record) await new Promise((r) => setTimeout(r, 100));
    }
    expect(record).toMatchObject({ decision: 'deny', code: 'token.revoked', run: 'bq-api-revoked' });
    const after = await failureOf(() => job.getMetadata());
    expect(after, JSON.stringify(after)).toMatchObject({ code: 401, reason: 'authError' });
    expect((await hoopqAsync(['audit', 'verify'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } })).code).toBe(0);
  });
});
