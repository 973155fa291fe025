/**
 * Black-box: Google's Node client -> `hoopq gateway` (BigQuery API) -> hoopq's BigQuery
 * warehouse -> fake Google (OAuth, IAM Credentials, BigQuery REST). The same client calls as
 * against DuckDB, now passed through to a real BigQuery executor: masked rows computed by the
 * (fake) BigQuery from hoopq's rewritten SQL, the real job labelled and recorded, a denied
 * table refused before any job, and a running job cancelled in BigQuery by revocation.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hoopqAsync, keyedHashUnder, startGatewayProcess, stopProcess, type GatewayProcess } from '../cli/cli-harness.js';
import { AGENT_SA, CUSTOMERS, PROJECT, setUpFakeBigQuery, type FakeBigQuerySetup } from '../fakes/google/fake-bigquery-setup.js';


describe('the BigQuery API on a BigQuery warehouse (fake Google)', () => {
  let fx: FakeBigQuerySetup;
  let config: string;
  let gateway: GatewayProcess;
  const audit = () => readFileSync(join(fx.dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const mint = async (run: string) => {
    const r = await hoopqAsync(['token', 'mint', '--policy', 'agent', '--run', run, '--ttl', '10m'], { env: { HOOPQ_CONFIG: config }, cwd: fx.dir });
    if (r.code !== 0) throw new Error(`mint failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const client = (token: string) => {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: token });
    return new BigQuery({ projectId: PROJECT, apiEndpoint: gateway.url, authClient: auth, autoRetry: false });
  };

  beforeAll(async () => {
    fx = await setUpFakeBigQuery();
    mkdirSync(join(fx.dir, 'policies'), { recursive: true });
    config = join(fx.dir, 'hoopq.yaml');
    writeFileSync(
      config,
      [
        'warehouse:',
        '  kind: bigquery',
        `  project: ${PROJECT}`,
        '  location: US',
        '  credentials: ./gateway-key.json',
        `  api_endpoint: ${fx.google.url}`,
        `  iam_endpoint: ${fx.google.url}`,
        `  default_project: ${PROJECT}`,
        '  default_dataset: crm',
        'policies: ./policies',
        'audit: ./audit.jsonl',
        'keys: ./.hoopq/keys',
        '',
      ].join('\n'),
    );
    // reads crm and analytics, never payment cards; email hashed and ssn redacted in BigQuery
    const policy = {
      name: 'agent',
      statements: ['select'],
      tables: { read: [`${PROJECT}.crm.*`, `${PROJECT}.analytics.*`], deny: [`${PROJECT}.crm.payment_cards`] },
      columns: { [`${PROJECT}.crm.customers.email`]: 'hash', [`${PROJECT}.crm.customers.ssn`]: 'redact' },
      limits: { max_rows: 10000, max_bytes_billed: 10000000, timeout: '60s' },
      impersonate: AGENT_SA,
    };
    writeFileSync(join(fx.dir, 'policies', 'agent.yaml'), JSON.stringify(policy, null, 2)); // JSON is YAML
    gateway = await startGatewayProcess(fx.dir, config);
  });

  afterAll(async () => {
    if (gateway) await stopProcess(gateway.process);
    await fx?.cleanup();
  });

  it('query() returns what BigQuery computed from hoopq\'s masked SQL; the real job is labelled and recorded', async () => {
    const token = await mint('api-bq-1');
    const [rows] = await client(token).query({ query: 'SELECT id, name, email, ssn FROM crm.customers ORDER BY id', labels: { team: 'ml' } });
    expect(rows).toEqual(CUSTOMERS.map(([id, name, email]) => ({ id, name, email: email === null ? null : keyedHashUnder(join(fx.dir, '.hoopq', 'keys'), email as string), ssn: '[REDACTED]' })));
    const real = [...fx.google.bigquery.jobs.values()].filter((j) => j.request.configuration?.labels?.hoopq_run === 'api-bq-1' && j.request.configuration?.dryRun !== true);
    expect(real).toHaveLength(1);
    expect(real[0]!.request.configuration.labels).toMatchObject({ team: 'ml', hoopq_run: 'api-bq-1' });
    expect(real[0]!.sql).toContain('SHA256');
    const record = audit().find((r) => r.event === 'query' && r.run === 'api-bq-1')!;
    expect(record).toMatchObject({ decision: 'allow', via: 'bigquery-api', warehouse: { kind: 'bigquery', job_id: real[0]!.jobId } });
    expect(real[0]!.request.configuration.labels.hoopq_record).toBe(record.id);
  });

  it('pages a job\'s result, dry-runs, and refuses a denied table before any BigQuery job', async () => {
    const token = await mint('api-bq-2');
    const bq = client(token);
    const [job] = await bq.createQueryJob('SELECT n, kind FROM analytics.events ORDER BY n');
    const seen: number[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const [rows, next] = await job.getQueryResults({ maxResults: 600, autoPaginate: false, ...(pageToken ? { pageToken } : {}) });
      seen.push(...rows.map((r) => r.n));
      pages += 1;
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    expect(pages).toBe(5);
    expect(seen).toEqual(Array.from({ length: 2_500 }, (_, i) => i));
    const [dry] = await bq.createQueryJob({ query: 'SELECT n FROM analytics.events', dryRun: true });
    expect(dry.metadata.statistics.query.referencedTables).toEqual([{ projectId: PROJECT, datasetId: 'analytics', tableId: 'events' }]);
    const before = fx.google.bigquery.jobs.size;
    let denied: { code?: number; errors?: Array<{ reason: string }> } | undefined;
    await bq.query('SELECT card_number FROM crm.payment_cards').catch((e) => (denied = e));
    expect(denied?.code).toBe(403);
    expect(denied?.errors?.[0]?.reason).toBe('accessDenied');
    expect(fx.google.bigquery.jobs.size).toBe(before);
  });

  it('tables.get marks masks; getRows() reads masked rows', async () => {
    const token = await mint('api-bq-3');
    const table = client(token).dataset('crm').table('customers');
    const [metadata] = await table.getMetadata();
    expect(metadata.schema.fields.find((f: { name: string }) => f.name === 'ssn')).toMatchObject({ type: 'STRING', description: expect.stringContaining('redact') });
    const [rows] = await table.getRows();
    expect(rows.map((r) => r.ssn)).toEqual(['[REDACTED]', '[REDACTED]', '[REDACTED]']);
    expect(JSON.stringify(rows)).not.toContain('ada@example.com');
  });

  it('revoking the run cancels the running BigQuery job', async () => {
    fx.google.bigquery.script(/api_revoke_marker/, { runMs: 60_000 });
    const token = await mint('api-bq-revoked');
    const [job] = await client(token).createQueryJob("SELECT country FROM crm.customers WHERE country = 'api_revoke_marker'");
    expect(job.metadata.status.state).toBe('RUNNING');
    const revoked = await hoopqAsync(['token', 'revoke', '--run', 'api-bq-revoked'], { env: { HOOPQ_CONFIG: config }, cwd: fx.dir });
    expect(revoked.code).toBe(0);
    const deadline = Date.now() + 20_000;
    let fake = [...fx.google.bigquery.jobs.values()].find((j) => j.sql.includes('api_revoke_marker') && j.request.configuration?.dryRun !== true);
    while (!fake?.cancelled && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      fake = [...fx.google.bigquery.jobs.values()].find((j) => j.sql.includes('api_revoke_marker') && j.request.configuration?.dryRun !== true);
    }
    expect(fake?.cancelled).toBe(true);
  });
});
