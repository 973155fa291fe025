/**
 * Black-box: an agent under analyst-agent (email hash, ssn redact, phone partial) tries to get
 * raw values out with every shape it can think of. No raw value — nor its upper, lower,
 * reversed, digits-only, hex, base64, md5 or SHA-256 form — may appear in stdout, stderr or the audit
 * log; predicates see masked values only; unmasked queries return exactly what DuckDB returns
 * on pre-masked data. Runs in direct and gateway mode.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hashKeyFormsUnder, type CliResult, type Demo, type Mode } from './cli-harness.js';

interface Secrets {
  emails: string[];
  ssns: string[];
  phones: string[];
}

async function readRaw(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(join(dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Every encoding of a raw value that must never be seen. */
function forbiddenForms(value: string): string[] {
  const digits = value.replace(/\D/g, '');
  const forms = [
    value,
    value.toUpperCase(),
    value.toLowerCase(),
    [...value].reverse().join(''),
    Buffer.from(value).toString('hex'),
    Buffer.from(value).toString('hex').toUpperCase(),
    Buffer.from(value).toString('base64'),
    createHash('md5').update(value).digest('hex'),
    // the unkeyed SHA-256 would let a guess be checked against the mask
    createHash('sha256').update(value).digest('hex'),
  ];
  if (digits.length >= 7) forms.push(digits);
  return forms;
}

/** A shape: SQL, and whether it must succeed ('ok') or may be refused (any exit 0/5/6/7). */
const SHAPES: Array<[string, string, 'ok' | 'any']> = [
  ['select list', 'SELECT email, ssn, phone FROM customers', 'ok'],
  ['star', 'SELECT * FROM customers', 'ok'],
  ['qualified star', 'SELECT c.* FROM customers c', 'ok'],
  ['upper', 'SELECT upper(email) AS e, upper(ssn) AS s FROM customers', 'ok'],
  ['lower and reverse', 'SELECT lower(ssn) AS l, reverse(ssn) AS r, reverse(phone) AS p FROM customers', 'ok'],
  ['base64', 'SELECT to_base64(encode(email)) AS b, to_base64(encode(ssn)) AS s FROM customers', 'ok'],
  ['hex', 'SELECT hex(ssn) AS h, hex(email) AS e FROM customers', 'ok'],
  ['replace to digits', "SELECT replace(ssn, '-', '') AS d, regexp_replace(phone, '[^0-9]', '', 'g') AS p FROM customers", 'ok'],
  ['substrings', 'SELECT substr(ssn, 1, 3) AS a, substr(ssn, 5, 2) AS b, substr(ssn, 8) AS c, left(email, 5) AS e FROM customers', 'ok'],
  ['casts', 'SELECT CAST(ssn AS BLOB) AS b, CAST(phone AS VARCHAR) AS p FROM customers', 'ok'],
  ['string_agg', "SELECT string_agg(ssn, ',') AS s, string_agg(email, ',') AS e FROM customers", 'ok'],
  ['list aggregate', 'SELECT list(email) AS l, array_agg(phone ORDER BY phone) AS p FROM customers', 'ok'],
  ['to_json of a row', 'SELECT to_json(c) AS j FROM customers c', 'ok'],
  ['whole-row reference', 'SELECT c FROM customers c', 'ok'],
  ['CTE', 'WITH x AS (SELECT * FROM customers) SELECT ssn, email FROM x', 'ok'],
  ['scalar subquery', 'SELECT (SELECT max(ssn) FROM customers) AS s, (SELECT min(email) FROM customers) AS e', 'ok'],
  ['set operation', 'SELECT ssn AS v FROM customers UNION ALL SELECT email FROM customers UNION ALL SELECT phone FROM customers', 'ok'],
  ['EXCLUDE', 'SELECT * EXCLUDE (name, notes) FROM customers', 'ok'],
  ['REPLACE over a masked column', 'SELECT * REPLACE (upper(ssn) AS ssn) FROM customers', 'ok'],
  ['COLUMNS(*)', 'SELECT COLUMNS(*) FROM customers', 'ok'],
  ['column alias list', 'SELECT a, b, c FROM customers AS t(i, n, a, b, c)', 'ok'],
  ['view', 'SELECT email FROM crm.customer_directory', 'ok'],
  ['window function', 'SELECT ssn, row_number() OVER (ORDER BY ssn) AS rn, lag(email) OVER (ORDER BY id) AS prev FROM customers', 'ok'],
  ['GROUP BY', 'SELECT ssn, email, count(*) AS n FROM customers GROUP BY ssn, email', 'ok'],
  ['ORDER BY', 'SELECT email FROM customers ORDER BY email LIMIT 5', 'ok'],
  ['HAVING', 'SELECT max(ssn) AS m FROM customers GROUP BY city HAVING max(ssn) > \'\'', 'ok'],
  ['QUALIFY', 'SELECT email FROM customers QUALIFY row_number() OVER (ORDER BY id) < 3', 'ok'],
  ['derived table', 'SELECT * FROM (SELECT * FROM customers) sub', 'ok'],
  ['LATERAL', 'SELECT x.ssn, l.e FROM customers x, LATERAL (SELECT x.email AS e) l', 'ok'],
  ['concatenation', "SELECT ssn || '|' || email || '|' || phone AS all_of_it FROM customers", 'ok'],
  ['printf', "SELECT printf('%s/%s', ssn, email) AS p FROM customers", 'ok'],
  ['json_object', "SELECT json_object('s', ssn, 'e', email) AS j FROM customers", 'ok'],
  ['struct_pack', 'SELECT struct_pack(s := ssn, e := email) AS st FROM customers', 'ok'],
  ['regexp_extract', "SELECT regexp_extract(email, '(.*)@', 1) AS local_part FROM customers", 'ok'],
  ['IN subquery', 'SELECT ssn FROM customers WHERE ssn IN (SELECT ssn FROM customers)', 'ok'],
  ['self join on a masked column', 'SELECT a.ssn, b.email FROM customers a JOIN customers b ON a.email = b.email', 'ok'],
  ['md5 of a masked column', 'SELECT md5(ssn) AS m, md5(email) AS e FROM customers', 'ok'],
  ['ascii codes', 'SELECT list_transform(string_split(ssn, \'\'), x -> ascii(x)) AS codes FROM customers', 'any'],
  ['unnest of a list', 'SELECT unnest(list(ssn)) AS s FROM customers', 'ok'],
  ['several statements', 'SELECT 1; SELECT ssn, email FROM customers', 'any'],
  ['CREATE TABLE AS (refused)', 'CREATE TABLE crm.leak AS SELECT ssn FROM customers', 'any'],
  ['parse error quoting a value', "SELEC ssn FROM customers WHERE ssn = '__SSN__'", 'any'],
];

export function defineMaskingSuite(mode: Mode): void {
  describe(`masking (${mode} mode)`, () => {
    let demo: Demo;
    let token: string;
    let secrets: Secrets;
    let forbidden: string[];
    const outputs: CliResult[] = [];
    const env = () => ({ HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'masking black-box test' });

    beforeAll(async () => {
      demo = await createDemoInMode(mode);
      token = demo.mint('analyst-agent', `masking-${mode}`);
      const raw = await readRaw(demo.dir, 'SELECT email, ssn, phone FROM demo.crm.customers');
      secrets = { emails: raw.map((r) => String(r.email)), ssns: raw.map((r) => String(r.ssn)), phones: raw.map((r) => String(r.phone)) };
      forbidden = [...secrets.emails, ...secrets.ssns, ...secrets.phones].flatMap(forbiddenForms);
    });

    afterAll(async () => {
      await demo.close();
      rmSync(demo.dir, { recursive: true, force: true });
    });

    function assertNoRawValue(text: string, where: string): void {
      for (const f of forbidden) {
        if (text.includes(f)) throw new Error(`raw value form ${JSON.stringify(f)} found in ${where}`);
      }
    }

    it.concurrent.each(SHAPES)('%s', async (_what, sqlTemplate, expectation) => {
      const sql = sqlTemplate.replace('__SSN__', secrets.ssns[0]!);
      const r = await demo.runAsync(['query', '--format', 'json', sql], { env: env() });
      outputs.push(r);
      if (expectation === 'ok') {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).length).toBeGreaterThan(0);
      } else {
        expect([0, 5, 6, 7]).toContain(r.code);
      }
      assertNoRawValue(r.stdout, 'stdout');
      assertNoRawValue(r.stderr, 'stderr');
    });

    it.concurrent.each([
      ['equality on ssn', (s: Secrets) => `SELECT id FROM customers WHERE ssn = '${s.ssns[0]}'`],
      ['equality on email', (s: Secrets) => `SELECT id FROM customers WHERE email = '${s.emails[0]}'`],
      ['equality on upper(email)', (s: Secrets) => `SELECT id FROM customers WHERE upper(email) = '${s.emails[0]!.toUpperCase()}'`],
      ['prefix of ssn', (s: Secrets) => `SELECT id FROM customers WHERE ssn LIKE '${s.ssns[0]!.slice(0, 4)}%'`],
      ['digits of ssn', (s: Secrets) => `SELECT id FROM customers WHERE replace(ssn, '-', '') = '${s.ssns[0]!.replace(/-/g, '')}'`],
      ['phone exact', (s: Secrets) => `SELECT id FROM customers WHERE phone = '${s.phones[0]}'`],
      ['join on a raw value', (s: Secrets) => `SELECT c.id FROM customers c JOIN (SELECT '${s.ssns[1]}' AS v) x ON c.ssn = x.v`],
      ['EXISTS with a raw value', (s: Secrets) => `SELECT 1 AS hit WHERE EXISTS (SELECT 1 FROM customers WHERE ssn = '${s.ssns[2]}')`],
    ])('side channel: %s matches nothing', async (_what, build) => {
      const r = await demo.runAsync(['query', '--format', 'json', build(secrets)], { env: env() });
      outputs.push(r);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
      assertNoRawValue(r.stdout + r.stderr, 'output');
    });

    it.concurrent.each([
      // the demo's emails are first.last<id>@example.com: with an unkeyed hash, hashing that
      // guess in SQL confirmed every row; under the deployment's key no guess matches
      ['a guess built from visible columns', "SELECT count(*) AS n FROM customers WHERE email = sha256(lower(replace(name, ' ', '.')) || id || '@example.com')"],
      ['a guess through a CTE', "WITH g AS (SELECT id, sha256(lower(replace(name, ' ', '.')) || id || '@example.com') AS h FROM customers) SELECT count(*) AS n FROM customers c JOIN g ON g.id = c.id AND g.h = c.email"],
      ['a guess of one known value', (s: Secrets) => `SELECT count(*) AS n FROM customers WHERE email = sha256('${s.emails[0]}')`],
      ['md5 and sha256 of guesses', "SELECT count(*) AS n FROM customers WHERE email IN (sha256(lower(replace(name, ' ', '.')) || id || '@example.com'), md5(lower(replace(name, ' ', '.')) || id || '@example.com'))"],
    ])('guess-and-compare on a hashed column matches nothing: %s', async (_what, build) => {
      const sql = typeof build === 'string' ? build : build(secrets);
      const r = await demo.runAsync(['query', '--format', 'json', sql], { env: env() });
      outputs.push(r);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).map((row: { n: unknown }) => Number(row.n))).toEqual([0]);
    });

    it('the hash key reaches no output: not a warehouse error, not explain', async () => {
      const results = [
        await demo.runAsync(['query', 'SELECT * FROM customers WHERE nosuch = 1'], { env: env() }),
        await demo.runAsync(['query', '--format', 'json', 'SELECT CAST(email AS INTEGER) AS n FROM customers'], { env: env() }),
        await demo.runAsync(['explain', 'SELECT email FROM customers WHERE id = 1'], { env: env() }),
      ];
      outputs.push(...results);
      // any 16 hex characters of the padded keys would be a piece of the key
      const forms = hashKeyFormsUnder(join(demo.dir, '.hoopq', 'keys'), { pieces: true });
      expect(results.map((r) => r.code)).toEqual([7, 7, 0]);
      expect(JSON.parse(results[2]!.stdout).run_sql.join(' ')).toContain('system.main.sha256');
      for (const r of results) {
        for (const f of forms) expect(r.stdout + r.stderr).not.toContain(f);
        // DuckDB's excerpt of the SQL (which holds the masks) is not shown under a masking policy
        expect(r.stderr).not.toMatch(/LINE \d+:/);
      }
    });

    it('joins and grouping on a hashed column still work (equal values, equal hashes)', async () => {
      const r = await demo.runAsync(['query', '--format', 'json', 'SELECT count(*) AS n FROM customers a JOIN customers b ON a.email = b.email'], { env: env() });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).map((row: { n: unknown }) => Number(row.n))).toEqual([secrets.emails.length]);
    });

    it('masked values are exactly DuckDB on pre-masked data', async () => {
      const sql = 'SELECT id, name, email, ssn, phone, city FROM customers ORDER BY id LIMIT 50';
      const r = await demo.runAsync(['query', '--format', 'json', sql], { env: env() });
      expect(r.code).toBe(0);
      const expected = await readRaw(
        demo.dir,
        `SELECT id, name, email, '[REDACTED]' AS ssn,
                CASE WHEN length(phone) <= 4 THEN repeat('*', length(phone)) ELSE repeat('*', length(phone) - 4) || right(phone, 4) END AS phone,
                city
         FROM demo.crm.customers ORDER BY id LIMIT 50`,
      );
      // email: HMAC-SHA256 under the deployment's key, computed here independently of hoopq
      expect(JSON.parse(r.stdout)).toEqual(expected.map((row) => ({ ...row, email: demo.keyedHash(String(row.email)) })));
    });

    it('nothing in the audit log carries a raw value, and the log verifies', () => {
      const log = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8');
      assertNoRawValue(log, 'the audit log');
      // nor the hash key, which DuckDB receives inside the masks (explain's run_sql holds it redacted)
      for (const f of hashKeyFormsUnder(join(demo.dir, '.hoopq', 'keys'), { pieces: true })) expect(log.includes(f), `the audit log holds ${f}`).toBe(false);
      expect(demo.admin(['audit', 'verify']).code).toBe(0);
      const masked = demo.auditRecords().filter((r) => r.event === 'query' && r.decision === 'allow');
      expect(masked.length).toBeGreaterThan(30);
      for (const rec of masked) expect(rec.masked.columns['demo.crm.customers.ssn']).toBe('redact');
    });

    it('keys rotate --hash-key: hashes change at once, the audit names the key by id, the old key is kept aside (0600)', async () => {
      const sql = 'SELECT email FROM customers WHERE id = 1';
      const before = await demo.runAsync(['query', '--format', 'json', sql], { env: env() });
      const oldHash = JSON.parse(before.stdout)[0].email as string;
      expect(oldHash).toBe(demo.keyedHash(secrets.emails[0]!));
      const rotated = demo.admin(['keys', 'rotate', '--hash-key']);
      expect(rotated.code).toBe(0);
      const ids = JSON.parse(rotated.stdout).hash_key as { previous: string; current: string };
      expect(ids.previous).not.toBe(ids.current);
      const after = await demo.runAsync(['query', '--format', 'json', sql], { env: env() });
      const newHash = JSON.parse(after.stdout)[0].email as string;
      expect(newHash).not.toBe(oldHash);
      expect(newHash).toBe(demo.keyedHash(secrets.emails[0]!));
      const keyed = demo.auditRecords().filter((r) => r.event === 'query' && r.masked?.hash_key);
      expect(keyed.at(-1)!.masked.hash_key).toBe(ids.current);
      expect(keyed.some((r) => r.masked.hash_key === ids.previous)).toBe(true);
      const retired = readdirSync(join(demo.dir, '.hoopq', 'keys')).filter((f) => f.startsWith('hash.key.retired-'));
      expect(retired).toHaveLength(1);
      expect(statSync(join(demo.dir, '.hoopq', 'keys', retired[0]!)).mode & 0o777).toBe(0o600);
    });
  });
}
