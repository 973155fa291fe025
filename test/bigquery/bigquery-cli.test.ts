/**
 * Black-box: the built `hoopq query` against fake Google (OAuth token endpoint, IAM
 * Credentials, BigQuery REST) through hoopq.yaml's own keys (credentials, api_endpoint,
 * iam_endpoint), and once through an HTTPS proxy that answers as Google's real hosts.
 * Needs `npm run build`. The fakes run in this process, so the CLI is spawned asynchronously.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hoopq, hoopqAsync, keyedHashUnder, type CliResult } from '../cli/cli-harness.js';
import { AGENT_SA, CUSTOMERS, GATEWAY_SA, PROJECT, setUpFakeBigQuery, type FakeBigQuerySetup } from '../fakes/google/fake-bigquery-setup.js';
import type { FakeJob } from '../fakes/google/fake-bigquery.js';
import type { RecordedRequest } from '../fakes/google/fake-google-types.js';
import { startGoogleHttpsProxy, type GoogleHttpsProxy } from '../fakes/google/google-https-proxy.js';

const CAP = 1_000_000;

function writeDeployment(dir: string, warehouse: string[]): string {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  const config = join(dir, 'hoopq.yaml');
  writeFileSync(
    config,
    ['warehouse:', '  kind: bigquery', ...warehouse.map((l) => `  ${l}`), `  default_project: ${PROJECT}`, '  default_dataset: crm', 'policies: ./policies', 'audit: ./audit.jsonl', 'keys: ./.hoopq/keys', ''].join('\n'),
  );
  const policy = (name: string, impersonate: boolean, timeout = '2s') =>
    [
      `name: ${name}`,
      'statements: [select]',
      'tables:',
      `  read: ["${PROJECT}.crm.*", "${PROJECT}.analytics.*"]`,
      `  deny: ["${PROJECT}.crm.payment_cards"]`,
      'columns:',
      `  "${PROJECT}.crm.customers.email": hash`,
      `  "${PROJECT}.crm.customers.ssn": redact`,
      `  "${PROJECT}.crm.customers.phone": partial`,
      'limits:',
      '  max_rows: 10000',
      `  max_bytes_billed: ${CAP}`,
      `  timeout: ${timeout}`,
      'require_justification: false',
      ...(impersonate ? [`impersonate: ${AGENT_SA}`] : []),
      '',
    ].join('\n');
  writeFileSync(join(dir, 'policies', 'agent.yaml'), policy('agent', true));
  writeFileSync(join(dir, 'policies', 'bare.yaml'), policy('bare', false));
  writeFileSync(join(dir, 'policies', 'patient.yaml'), policy('patient', true, '60s'));
  return config;
}

describe('hoopq query on BigQuery (fake Google via api_endpoint / iam_endpoint)', () => {
  let fx: FakeBigQuerySetup;
  let config: string;
  let token: string;
  let bareToken: string;
  const bq = () => fx.google.bigquery;
  const env = () => ({ HOOPQ_CONFIG: config });
  const query = (sql: string, extra: string[] = [], t = token): Promise<CliResult> =>
    hoopqAsync(['query', '--token', t, ...extra, sql], { env: env(), cwd: fx.dir });
  const mint = (policy: string, run: string, ttl = '10m') => {
    const r = hoopq(['token', 'mint', '--policy', policy, '--run', run, '--ttl', ttl], { env: env(), cwd: fx.dir });
    if (r.code !== 0) throw new Error(`mint failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const audit = () => readFileSync(join(fx.dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  /** BigQuery calls made while `work` ran. */
  const during = async (work: () => Promise<CliResult>): Promise<{ result: CliResult; calls: RecordedRequest[] }> => {
    const before = fx.google.requests.length;
    const result = await work();
    return { result, calls: fx.google.requests.slice(before) };
  };
  const inserts = (calls: RecordedRequest[]) => calls.filter((r) => r.api === 'bigquery' && r.method === 'POST' && /\/jobs$/.test(r.path));
  const realJobs = (calls: RecordedRequest[]) => inserts(calls).filter((r) => r.body.configuration.dryRun !== true);

  beforeAll(async () => {
    fx = await setUpFakeBigQuery();
    config = writeDeployment(fx.dir, [`project: ${PROJECT}`, 'location: US', 'credentials: ./gateway-key.json', `api_endpoint: ${fx.google.url}`, `iam_endpoint: ${fx.google.url}`]);
    token = mint('agent', 'nightly-42');
    // minted up front: a synchronous spawn would stall the in-process fakes for concurrent tests
    bareToken = mint('bare', 'bare-run');
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('returns the rows, masked in BigQuery, with a dry run first and a labelled, capped job', async () => {
    const { result, calls } = await during(() => query('SELECT id, name, email, ssn, phone, country FROM customers ORDER BY id', ['--format', 'json']));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(
      CUSTOMERS.map(([id, name, email, ssn, phone, country]) => ({
        id,
        name,
        email: email === null ? null : keyedHashUnder(join(fx.dir, '.hoopq', 'keys'), email as string),
        ssn: '[REDACTED]',
        phone: phone === null ? null : `${'*'.repeat((phone as string).length - 4)}${(phone as string).slice(-4)}`,
        country,
      })),
    );
    // every BigQuery call with the impersonated agent's token, BigQuery scope only; never the base token
    const bigquery = calls.filter((r) => r.api === 'bigquery');
    expect(bigquery.length).toBeGreaterThanOrEqual(4);
    for (const r of bigquery) expect(fx.google.tokens.issued.get(r.bearer ?? '')).toMatchObject({ kind: 'impersonated', principal: AGENT_SA, scopes: ['https://www.googleapis.com/auth/bigquery'] });
    for (const r of calls.filter((c) => c.api === 'iam')) {
      expect(fx.google.tokens.issued.get(r.bearer ?? '')).toMatchObject({ kind: 'base', principal: GATEWAY_SA });
      const lifetime = Number(String(r.body.lifetime).replace(/s$/, ''));
      expect(lifetime).toBeLessThanOrEqual(600); // the run token's 10 minutes, below the 1 h ceiling
    }
    // a dry run, then exactly one job, with the same SQL; the job carries cap, labels, timeout
    const jobs = inserts(calls);
    expect(jobs.map((j) => j.body.configuration.dryRun === true)).toEqual([true, false]);
    const [dry, real] = jobs as [RecordedRequest, RecordedRequest];
    expect(real.body.configuration.query.query).toBe(dry.body.configuration.query.query);
    expect(real.body.configuration.query.query).toContain('TO_HEX(SHA256(CONCAT(@__hoopq_hash_outer');
    // the hash key travels as the same hidden BYTES parameters in the dry run and the job, never in the SQL text
    for (const j of jobs) {
      expect(j.body.configuration.query.queryParameters.map((p: { name: string }) => p.name)).toEqual(['__hoopq_hash_inner', '__hoopq_hash_outer']);
      expect(j.body.configuration.query.queryParameters.map((p: { parameterType: { type: string } }) => p.parameterType.type)).toEqual(['BYTES', 'BYTES']);
    }
    for (const j of jobs) expect(j.body.configuration.query).toMatchObject({ useLegacySql: false, maximumBytesBilled: String(CAP) });
    expect(real.body.configuration.jobTimeoutMs).toBe('2000');
    expect(real.body.configuration.jobCreationMode).toBeUndefined();
    const labels = real.body.configuration.labels;
    expect(labels.hoopq_run).toBe('nightly-42');
    const records = audit();
    const outcome = records.at(-1);
    expect(outcome).toMatchObject({ decision: 'allow', run: 'nightly-42', rows: 3, warehouse: { kind: 'bigquery', job_id: real.body.jobReference.jobId, bytes_processed: 5000 } });
    expect(records.map((r) => r.id)).toContain(labels.hoopq_record);
    expect(calls.some((r) => r.api === 'bigquery' && r.method === 'POST' && r.path.endsWith('/queries'))).toBe(false);
  });

  // refusals and errors run side by side (each CLI start costs seconds); their calls are told
  // apart by a marker in the SQL
  const jobsFor = (marker: string) => inserts(fx.google.requests).filter((r) => String(r.body.configuration.query.query).includes(marker));

  it.concurrent('refuses a denied table before anything reaches BigQuery as a job (exit 5)', async () => {
    const result = await query(`SELECT * FROM crm.payment_cards /* denied_marker */`);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/payment_cards/);
    expect(jobsFor('denied_marker')).toEqual([]);
  });

  it.concurrent('refuses when the dry run reveals a table the policy denies, and runs no job (exit 5)', async () => {
    bq().script(/hidden_read_marker/, { referencedTables: [`${PROJECT}.crm.customers`, `${PROJECT}.crm.payment_cards`] });
    const result = await query(`SELECT country FROM customers /* hidden_read_marker */`, ['--format', 'json']);
    expect(result.code).toBe(5);
    expect(JSON.parse(result.stderr)).toMatchObject({ code: 'policy.table_denied' });
    expect(jobsFor('hidden_read_marker').map((j) => j.body.configuration.dryRun)).toEqual([true]);
    // recorded as a refusal that names the dry run as its source
    expect(audit().filter((r) => r.rule === 'tables.deny' && /dry run/.test(String(r.reason))).length).toBeGreaterThanOrEqual(1);
  });

  it.concurrent('refuses when the dry run reveals a table the analysis missed (exit 6)', async () => {
    bq().script(/sneaky_marker/, { referencedTables: [`${PROJECT}.crm.customers`, `${PROJECT}.analytics.events`] });
    const result = await query(`SELECT country FROM customers WHERE country = 'sneaky_marker'`);
    expect(result.code).toBe(6);
    expect(realJobs(jobsFor('sneaky_marker'))).toEqual([]);
  });

  it.concurrent('refuses a query whose byte estimate exceeds max_bytes_billed, running no job (exit 5)', async () => {
    const result = await query(`SELECT n FROM analytics.events /* bytes_marker */`);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/max_bytes_billed/);
    expect(realJobs(jobsFor('bytes_marker'))).toEqual([]);
  });

  it.concurrent.each([
    ['400 invalidQuery', `SELECT nope FROM customers /* invalid_marker */`, 'warehouse.invalid_query', /invalidQuery/],
    ['404 notFound', `SELECT * FROM analytics.no_such_table /* missing_marker */`, 'warehouse.not_found', /notFound/],
  ])('turns %s into exit 7 with the reason', async (_name, sql, code, reason) => {
    const result = await query(sql, ['--format', 'json']);
    expect(result.code).toBe(7);
    const err = JSON.parse(result.stderr);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(reason);
    expect(realJobs(jobsFor(sql.slice(-20)))).toEqual([]);
  });

  it.concurrent('refuses a policy without impersonate with exit 3, calling nothing', async () => {
    const result = await query('SELECT id FROM customers /* bare_marker */', [], bareToken);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/impersonate/);
    expect(jobsFor('bare_marker')).toEqual([]);
  });

  it('stops a job at the policy timeout and cancels it in BigQuery (exit 7)', async () => {
    bq().script(/slow_marker/, { runMs: 60_000 });
    const started = Date.now();
    const { result, calls } = await during(() => query(`SELECT country FROM customers WHERE country = 'slow_marker'`, ['--format', 'json']));
    expect(result.code).toBe(7);
    expect(JSON.parse(result.stderr)).toMatchObject({ code: 'warehouse.timeout' });
    // the job would run 60 s; the whole command ends long before that, even on a loaded machine
    expect(Date.now() - started).toBeLessThan(30_000);
    const [job] = realJobs(calls);
    const jobId = job!.body.jobReference.jobId;
    const cancel = calls.find((r) => r.method === 'POST' && r.path.endsWith(`/jobs/${jobId}/cancel`));
    expect(cancel).toBeDefined();
    // measured by the fake BigQuery's own clock, so process start and token exchange are not in
    // it: the cancel arrives at the policy's 2 s timeout (the timer starts as the insert is sent,
    // which may first wait for an access token), not at once, and not much after
    const jobRanMs = cancel!.time - job!.time;
    expect(jobRanMs).toBeGreaterThanOrEqual(1_000);
    expect(jobRanMs).toBeLessThan(2_000 + 2_000);
    expect(bq().isDone(bq().jobs.get(`${PROJECT}:${jobId}`)!)).toBe(true);
  });

  it('cancels the running job when the run is revoked', async () => {
    bq().script(/revoke_marker/, { runMs: 60_000 });
    const run = 'revoked-run-1';
    const t = mint('patient', run);
    const running = query(`SELECT country FROM customers WHERE country = 'revoke_marker'`, [], t);
    const deadline = Date.now() + 45_000; // the CLI starts, analyses and dry-runs first: slow on a loaded machine
    let job: FakeJob | undefined;
    while (!(job = [...bq().jobs.values()].find((j) => j.sql.includes('revoke_marker'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(job).toBeDefined();
    const revoked = await hoopqAsync(['token', 'revoke', '--run', run], { env: env(), cwd: fx.dir });
    expect(revoked.code).toBe(0);
    const result = await running;
    expect(result.code).toBe(4);
    expect(job!.cancelled).toBe(true);
    // the intent (written before the job existed) and the outcome both name the job
    const records = audit().filter((r) => r.run === run && (r.event === 'query.intent' || r.event === 'query'));
    expect(records.map((r) => [r.event, r.warehouse.job_id])).toEqual([
      ['query.intent', job!.jobId],
      ['query', job!.jobId],
    ]);
  });

  it.concurrent.each<[string, string, string[], unknown[]]>([
    ['a named scalar', 'SELECT id FROM customers WHERE id <= @max_id ORDER BY id', ['max_id:INT64:2'], [1, 2]],
    ['an ARRAY', 'SELECT id FROM customers WHERE id IN UNNEST(@ids) ORDER BY id', ['ids:ARRAY<INT64>:[1, 3]'], [1, 3]],
    ['a STRUCT', "SELECT id FROM customers WHERE country = @who.country AND id >= @who.min_id ORDER BY id", ['who:STRUCT<country STRING, min_id INT64>:{"country": "UK", "min_id": 2}'], [3]],
  ])('runs a query with %s parameter; the dry run carries the same queryParameters as the job', async (_what, sql, params, ids) => {
    const marker = `/* params_${ids.join('_')} */`;
    const { result, calls } = await during(() => query(`${sql} ${marker}`, ['--format', 'json', ...params.flatMap((p) => ['--parameter', p])]));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).map((r: { id: number }) => r.id)).toEqual(ids);
    const jobs = inserts(calls).filter((j) => String(j.body.configuration.query.query).includes(marker));
    expect(jobs.map((j) => j.body.configuration.dryRun === true)).toEqual([true, false]);
    const [dry, real] = jobs as [RecordedRequest, RecordedRequest];
    expect(dry.body.configuration.query.queryParameters).toEqual(real.body.configuration.query.queryParameters);
    expect(dry.body.configuration.query.parameterMode).toBe('NAMED');
    // the caller's parameters first, then hoopq's hidden hash-key parameters (this policy hashes email)
    expect(real.body.configuration.query.queryParameters.map((p: { name: string }) => p.name)).toEqual([params[0]!.split(':')[0], '__hoopq_hash_inner', '__hoopq_hash_outer']);
  });

  it('pages a large result completely and in order', async () => {
    bq().pageRows = 100;
    bq().script(/paging_marker/, { bytes: 1000 });
    try {
      const { result, calls } = await during(() => query(`SELECT n, kind FROM analytics.events WHERE kind != 'paging_marker' ORDER BY n`, ['--format', 'ndjson']));
      expect(result.code).toBe(0);
      const rows = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(rows).toHaveLength(2_500);
      expect(rows.every((r, i) => r.n === i)).toBe(true);
      expect(calls.filter((r) => r.path.includes('/queries/') && r.query.get('pageToken')).length).toBe(24);
    } finally {
      bq().pageRows = 50_000;
    }
  });

  it('turns 403 accessDenied into exit 7 with a hint naming the role and account', async () => {
    bq().revokeDataViewer(`${PROJECT}.analytics`, AGENT_SA);
    try {
      const result = await query(`SELECT kind FROM analytics.events WHERE n = 1`, ['--format', 'json']);
      expect(result.code).toBe(7);
      const err = JSON.parse(result.stderr);
      expect(err.code).toBe('warehouse.access_denied');
      expect(err.message).toMatch(/accessDenied/);
      expect(err.hint).toContain('roles/bigquery.dataViewer');
      expect(err.hint).toContain(AGENT_SA);
    } finally {
      bq().grantDataViewer(`${PROJECT}.analytics`, AGENT_SA);
    }
  });

});

describe('hoopq query on BigQuery through an HTTPS proxy answering as Google', () => {
  let fx: FakeBigQuerySetup;
  let proxy: GoogleHttpsProxy;
  let adcKey: string;

  beforeAll(async () => {
    fx = await setUpFakeBigQuery();
    proxy = await startGoogleHttpsProxy(fx.google.dispatch);
    // a key exactly as Google issues it: token_uri is Google's own
    adcKey = join(fx.dir, 'adc-key.json');
    writeFileSync(adcKey, JSON.stringify(fx.google.serviceAccountKey(GATEWAY_SA, { tokenUri: 'https://oauth2.googleapis.com/token' })));
  });
  afterAll(async () => {
    await proxy?.close();
    await fx?.cleanup();
  });

  const runIn = async (name: string, warehouse: string[]) => {
    const dir = join(fx.dir, name);
    const config = writeDeployment(dir, warehouse);
    const env = { HOOPQ_CONFIG: config, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: proxy.caFile, GOOGLE_APPLICATION_CREDENTIALS: adcKey, NO_PROXY: '', no_proxy: '' };
    const mint = hoopq(['token', 'mint', '--policy', 'agent', '--run', name], { env, cwd: dir });
    expect(mint.code).toBe(0);
    const before = fx.google.requests.length;
    const result = await hoopqAsync(['query', '--token', mint.stdout.trim(), '--format', 'json', 'SELECT id, email FROM customers ORDER BY id'], { env, cwd: dir });
    return { result, calls: fx.google.requests.slice(before) };
  };

  it("uses Google's default hosts and Application Default Credentials", async () => {
    const { result, calls } = await runIn('defaults', [`project: ${PROJECT}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)[0]).toEqual({ id: 1, email: keyedHashUnder(join(fx.dir, 'defaults', '.hoopq', 'keys'), 'ada@example.com') });
    expect(new Set(calls.map((c) => `${c.api} ${c.host}`))).toEqual(
      new Set(['oauth oauth2.googleapis.com', 'iam iamcredentials.googleapis.com', 'bigquery bigquery.googleapis.com']),
    );
    for (const r of calls.filter((c) => c.api === 'bigquery')) expect(fx.google.tokens.issued.get(r.bearer ?? '')?.kind).toBe('impersonated');
  });

  it('still sends BigQuery and IAM calls to api_endpoint / iam_endpoint when they are set', async () => {
    const { result, calls } = await runIn('overrides', [`project: ${PROJECT}`, `api_endpoint: ${fx.google.url}`, `iam_endpoint: ${fx.google.url}`]);
    expect(result.code).toBe(0);
    const local = fx.google.url.replace('http://', '');
    for (const c of calls.filter((r) => r.api === 'bigquery' || r.api === 'iam')) expect(c.host).toBe(local);
    expect(calls.filter((r) => r.api === 'oauth').map((r) => r.host)).toEqual(['oauth2.googleapis.com']);
  });
});
