/**
 * Black-box: the governed query path from the command line, on the quickstart demo, in
 * either mode. Ordinary analyst SQL returns exactly DuckDB's rows; every refusal exits 5 or 6
 * with one actionable line, writes no file and leaves the warehouse byte-for-byte unchanged.
 * In gateway mode every query and explain is sent from an empty folder holding nothing but
 * HOOPQ_GATEWAY and the token, and must behave exactly as in direct mode; operator commands
 * (mint, audit verify, policy validate) run on the gateway's side.
 * test/cli/query.test.ts runs it in direct mode, test/gateway/query-gateway.test.ts through the gateway.
 */
import { duckdbJsonRows } from '../fixtures/duckdb-json-rows.js';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, type Demo, type Mode } from './cli-harness.js';

export function defineQuerySuite(mode: Mode): void {
  let demo: Demo;
  let token: string;
  const J = { HOOPQ_JUSTIFICATION: 'black-box test' };

  beforeAll(async () => {
    demo = await createDemoInMode(mode);
    token = demo.mint('analyst-agent', 'bb-query');
  });

  afterAll(async () => {
    await demo.close();
    rmSync(demo.dir, { recursive: true, force: true });
  });

  const duckdbRows = (sql: string) => duckdbJsonRows(join(demo.dir, 'demo.duckdb'), sql);

  function query(sql: string, extra: string[] = [], env: Record<string, string> = {}) {
    return demo.run(['query', '--format', 'json', ...extra, sql], { env: { HOOPQ_TOKEN: token, ...J, ...env } });
  }

  describe('allowed analyst queries return exactly what DuckDB returns', () => {
    it.each([
      ['aggregate', 'SELECT event_type, count(*) AS n, sum(amount) AS total FROM analytics.events GROUP BY event_type ORDER BY event_type'],
      ['join with default-dataset name', 'SELECT c.city, count(*) AS n FROM customers c JOIN analytics.events e ON e.customer_id = c.id GROUP BY c.city ORDER BY c.city'],
      ['CTE', 'WITH big AS (SELECT * FROM analytics.events WHERE amount > 400) SELECT event_type, count(*) AS n FROM big GROUP BY 1 ORDER BY 1'],
      ['window function', 'SELECT id, customer_id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY id) AS rn FROM analytics.events WHERE customer_id < 4 ORDER BY id'],
      ['QUALIFY', 'SELECT customer_id, id, amount FROM analytics.events QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC, id) = 1 ORDER BY customer_id LIMIT 20'],
      ['set operation', "SELECT id FROM analytics.events WHERE event_type = 'refund' AND id < 300 UNION SELECT id FROM analytics.events WHERE event_type = 'purchase' AND id < 200 ORDER BY id"],
      ['EXCEPT and INTERSECT', 'SELECT customer_id FROM analytics.events WHERE id < 500 EXCEPT SELECT id FROM customers WHERE id > 100 ORDER BY 1'],
      ['subquery in WHERE', 'SELECT id, name, city FROM customers WHERE id IN (SELECT customer_id FROM analytics.events WHERE amount > 490) ORDER BY id'],
      ['fully qualified names', 'SELECT count(*) AS n FROM demo.analytics.events'],
      ['view in an allowed dataset', 'SELECT * FROM analytics.daily_events ORDER BY day, event_type LIMIT 25'],
      ['quoted and re-cased names', 'SELECT count(*) AS n FROM "ANALYTICS"."Events"'],
    ])('%s', async (_what, sql) => {
      const r = query(sql);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(await duckdbRows(sql));
    });
  });

  describe('refusals: exit 5 or 6, one actionable line, nothing written, warehouse unchanged', () => {
    const tmpTargets = ['/tmp/hoopq-bb-copy.csv', '/tmp/hoopq-bb-export', '/tmp/hoopq-bb-attach.db'];
    const refusals: Array<[string, string, 5 | 6]> = [
      ['denied table', 'SELECT * FROM crm.payment_cards', 5],
      ['denied table, fully qualified', 'SELECT card_number FROM demo.crm.payment_cards', 5],
      ['denied table, re-cased and quoted', 'SELECT * FROM "CRM"."PAYMENT_CARDS"', 5],
      ['denied table via default dataset', 'SELECT * FROM payment_cards', 5],
      ['denied table with a comment inside the name', 'SELECT * FROM crm./* hi */payment_cards', 5],
      ['a table that does not exist (cannot be resolved with certainty)', 'SELECT * FROM scratch.anything', 6],
      ['CTE shadowing a denied table', 'WITH customers AS (SELECT * FROM crm.payment_cards) SELECT * FROM customers', 5],
      ['CTE named like an allowed table hiding a denied read', 'WITH events AS (SELECT card_number FROM payment_cards) SELECT * FROM events', 5],
      ['scalar subquery', 'SELECT (SELECT max(card_number) FROM crm.payment_cards) AS x', 5],
      ['EXISTS subquery', 'SELECT 1 WHERE EXISTS (SELECT 1 FROM crm.payment_cards)', 5],
      ['LATERAL subquery', 'SELECT * FROM analytics.events e, LATERAL (SELECT card_number FROM crm.payment_cards p WHERE p.customer_id = e.customer_id) x LIMIT 1', 5],
      ['UNION', 'SELECT name FROM customers UNION ALL SELECT card_number FROM crm.payment_cards', 5],
      ['several statements, the second denied', 'SELECT 1; SELECT * FROM crm.payment_cards', 5],
      ['view in an allowed dataset over a denied table', 'SELECT * FROM analytics.card_spend', 5],
      ['DELETE', 'DELETE FROM analytics.events', 5],
      ['DROP', 'DROP TABLE analytics.events', 5],
      ['UPDATE', "UPDATE crm.customers SET email = 'x'", 5],
      ['CREATE TABLE AS', 'CREATE TABLE analytics.copy AS SELECT * FROM analytics.events', 5],
      ['INSERT', 'INSERT INTO analytics.events SELECT * FROM analytics.events', 5],
      ['read_csv', "SELECT * FROM read_csv('/etc/passwd')", 6],
      ['read_text', "SELECT * FROM read_text('/etc/hostname')", 6],
      ['glob', "SELECT * FROM glob('/etc/*')", 6],
      ['replacement scan', "SELECT * FROM '/etc/passwd'", 6],
      ['replacement scan of a csv name', "SELECT * FROM 'x.csv'", 6],
      ['COPY TO', "COPY (SELECT * FROM analytics.events) TO '/tmp/hoopq-bb-copy.csv'", 5],
      ['COPY FROM', "COPY analytics.events FROM '/etc/passwd'", 5],
      ['EXPORT DATABASE', "EXPORT DATABASE '/tmp/hoopq-bb-export'", 5],
      ['IMPORT DATABASE', "IMPORT DATABASE '/tmp/hoopq-bb-export'", 5],
      ['ATTACH', "ATTACH '/tmp/hoopq-bb-attach.db' AS other", 5],
      ['DETACH', 'DETACH demo', 5],
      ['USE', 'USE crm', 5],
      ['INSTALL', 'INSTALL httpfs', 5],
      ['LOAD', 'LOAD httpfs', 5],
      ['SET', 'SET enable_external_access = true', 5],
      ['PRAGMA', "PRAGMA table_info('crm.payment_cards')", 5],
      ['CALL', 'CALL pragma_version()', 5],
      ['CHECKPOINT', 'CHECKPOINT', 5],
      ['BEGIN', 'BEGIN TRANSACTION', 5],
      ['macro', 'CREATE MACRO m(x) AS x + 1', 5],
      ['unparseable', 'SELEC * FROM customers', 6],
      ['unterminated string', "SELECT 'abc FROM customers", 6],
      ['duckdb_ catalog function', 'SELECT * FROM duckdb_tables()', 6],
    ];
    let before: string;
    beforeAll(() => {
      for (const t of tmpTargets) rmSync(t, { recursive: true, force: true });
      before = demo.warehouseSha256();
    });

    it.each(refusals)('%s', (_what, sql, expected) => {
      const filesBefore = demo.files();
      const r = demo.run(['query', sql], { env: { HOOPQ_TOKEN: token, ...J } });
      expect(r.stdout).toBe('');
      expect([5, 6]).toContain(r.code);
      expect(r.code).toBe(expected);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/refused|cannot|not allowed|denied/i);
      expect(demo.warehouseSha256()).toBe(before);
      expect(demo.files()).toEqual(filesBefore);
      for (const t of tmpTargets) expect(existsSync(t)).toBe(false);
    });

    it('every refusal was recorded with its reason', () => {
      const denied = demo.auditRecords().filter((r) => r.event === 'query' && r.decision === 'deny');
      expect(denied.length).toBeGreaterThanOrEqual(refusals.length);
      for (const r of denied) {
        expect(typeof r.reason).toBe('string');
        expect(r.reason.length).toBeGreaterThan(10);
      }
    });
  });

  describe('errors for machines', () => {
    it('--format json puts one JSON object on stderr', () => {
      const r = query('SELECT * FROM crm.payment_cards');
      expect(r.code).toBe(5);
      const err = JSON.parse(r.stderr);
      expect(err).toMatchObject({ code: 'policy.table_denied' });
      expect(err.message).toContain('demo.crm.payment_cards');
      expect(typeof err.hint).toBe('string');
    });

    it('--format ndjson too', () => {
      const r = demo.run(['query', '--format', 'ndjson', "SELECT * FROM read_csv('/etc/passwd')"], { env: { HOOPQ_TOKEN: token, ...J } });
      expect(r.code).toBe(6);
      expect(Object.keys(JSON.parse(r.stderr))).toEqual(expect.arrayContaining(['code', 'message', 'hint']));
    });
  });

  describe('identity and justification', () => {
    it('no token: exit 4', () => {
      const r = demo.run(['query', 'SELECT 1'], { env: J });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/token/i);
    });

    it('a garbage token: exit 4', () => {
      expect(demo.run(['query', 'SELECT 1'], { env: { HOOPQ_TOKEN: 'not.a.token', ...J } }).code).toBe(4);
    });

    it('--token wins over HOOPQ_TOKEN', () => {
      const r = demo.run(['query', '--token', token, '--format', 'json', 'SELECT 1 AS one'], { env: { HOOPQ_TOKEN: 'garbage', ...J } });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([{ one: 1 }]);
    });

    it('no justification under a policy that requires one: exit 5, rule named', () => {
      const r = demo.run(['query', 'SELECT 1'], { env: { HOOPQ_TOKEN: token } });
      expect(r.code).toBe(5);
      expect(r.stderr).toContain('require_justification');
      expect(r.stderr).toContain('--justification');
    });
  });

  describe('input and output', () => {
    it('reads SQL from stdin and from --file', () => {
      const viaStdin = demo.run(['query', '--format', 'json', '-'], { input: 'SELECT 2 AS two', env: { HOOPQ_TOKEN: token, ...J } });
      expect(JSON.parse(viaStdin.stdout)).toEqual([{ two: 2 }]);
      const absent = demo.run(['query', '--format', 'json'], { input: 'SELECT 3 AS three', env: { HOOPQ_TOKEN: token, ...J } });
      expect(JSON.parse(absent.stdout)).toEqual([{ three: 3 }]);
    });

    it('formats csv and ndjson', () => {
      const csv = query('SELECT 1 AS a, \'x,y\' AS b', ['--format', 'csv']);
      expect(csv.stdout).toBe('a,b\n1,"x,y"\n');
      const nd = query('SELECT * FROM (VALUES (1), (2)) t(a)', ['--format', 'ndjson']);
      expect(nd.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ a: 1 }, { a: 2 }]);
    });

    it('accepts bq spellings', () => {
      const r = demo.run(['query', '--use_legacy_sql=false', '--format=json', '--max_rows=2', 'SELECT * FROM range(5) t(i)'], { env: { HOOPQ_TOKEN: token, ...J } });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveLength(2);
    });

    it('--max-rows cuts the result quietly (asked for); the audit records the cut', () => {
      const r = query('SELECT id FROM analytics.events ORDER BY id', ['--max-rows', '7']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveLength(7);
      // the caller asked for 7 rows and got them: no notice (the policy's own cut is still told)
      expect(r.stderr).toBe('');
      const rec = demo.auditRecords().filter((x) => x.event === 'query' && x.decision === 'allow').at(-1)!;
      expect(rec.rows).toBe(7);
      expect(rec.truncated).toBe(true);
    });

    it('bad flags are usage errors (exit 2)', () => {
      expect(demo.run(['query', '--format', 'xml', 'SELECT 1']).code).toBe(2);
      expect(demo.run(['query', '--max-rows', '-3', 'SELECT 1']).code).toBe(2);
      expect(demo.run(['frobnicate']).code).toBe(2);
    });
  });

  describe('audit', () => {
    it('records carry every contract field and verify', () => {
      const ok = query('SELECT count(*) AS n FROM analytics.events');
      expect(ok.code).toBe(0);
      const recs = demo.auditRecords();
      const last = recs.filter((r) => r.event === 'query').at(-1)!;
      for (const f of ['seq', 'id', 'time', 'event', 'run', 'subject', 'token_id', 'policy', 'justification', 'sql', 'statements', 'tables', 'decision', 'reason', 'masked', 'warehouse', 'rows', 'result_sha256', 'duration_ms', 'prev', 'hash']) {
        expect(last, f).toHaveProperty(f);
      }
      expect(last.run).toBe('bb-query');
      expect(last.policy.name).toBe('analyst-agent');
      expect(last.sql).toBe('SELECT count(*) AS n FROM analytics.events');
      expect(last.tables.read).toEqual(['demo.analytics.events']);
      expect(last.statements).toEqual(['select']);
      expect(last.result_sha256).toMatch(/^[0-9a-f]{64}$/);
      const seqs = recs.map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(demo.admin(['audit', 'verify']).code).toBe(0);
    });

    it('the intent is recorded before the outcome', () => {
      query('SELECT 42 AS x');
      const recs = demo.auditRecords();
      const outcome = recs.at(-1)!;
      const intent = recs.find((r) => r.id === outcome.intent)!;
      expect(intent.event).toBe('query.intent');
      expect(intent.seq).toBeLessThan(outcome.seq);
    });

    it('concurrent processes keep seq contiguous and the chain intact', async () => {
      const runs = await Promise.all(
        Array.from({ length: 8 }, (_, i) => demo.runAsync(['query', '--format', 'json', `SELECT ${i} AS i`], { env: { HOOPQ_TOKEN: token, ...J } })),
      );
      for (const r of runs) expect(r.code).toBe(0);
      const seqs = demo.auditRecords().map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(demo.admin(['audit', 'verify']).code).toBe(0);
    });
  });

  describe('explain', () => {
    it('explains a denial without running or recording anything', () => {
      const n = demo.auditRecords().length;
      const r = demo.run(['explain', '--offline', 'DELETE FROM analytics.events WHERE id = 1'], { env: { HOOPQ_TOKEN: token } });
      expect(r.code).toBe(0);
      const e = JSON.parse(r.stdout);
      expect(e.statements).toEqual(['delete']);
      expect(e.tables.write).toEqual(['demo.analytics.events']);
      expect(e.decision).toBe('deny');
      expect(e.rule).toBe('statements');
      expect(demo.auditRecords().length).toBe(n);
    });

    it('explains masks under --policy', () => {
      // in gateway mode a what-if needs a credential: the CLI sends $HOOPQ_TOKEN (direct mode ignores it with --policy)
      const auth = { env: { HOOPQ_TOKEN: token } };
      const r = demo.run(['explain', '--policy', 'analyst-agent', 'SELECT email, ssn, phone FROM customers'], auth);
      const e = JSON.parse(r.stdout);
      expect(e.decision).toBe('deny'); // no justification given
      const r2 = demo.run(['explain', '--policy', 'analyst-agent', '--justification', 'x', 'SELECT email, ssn, phone FROM customers'], auth);
      const e2 = JSON.parse(r2.stdout);
      expect(e2.decision).toBe('allow');
      expect(e2.masks).toEqual({ 'demo.crm.customers.email': 'hash', 'demo.crm.customers.ssn': 'redact', 'demo.crm.customers.phone': 'partial' });
    });

    it("run_sql is the SQL that runs: the masks' own '*' shown as written, the caller's literals redacted", () => {
      const sql = "SELECT phone FROM customers WHERE city <> 'Atlantis-9931' LIMIT 1";
      const r = demo.run(['explain', '--justification', 'x', sql], { env: { HOOPQ_TOKEN: token } });
      expect(r.code).toBe(0);
      const shown: string = JSON.parse(r.stdout).run_sql.join('\n');
      expect(shown).toMatch(/repeat\('\*', /);
      expect(shown).not.toContain("repeat('[REDACTED]'");
      expect(shown).toContain("'[REDACTED]'"); // the redact mask of ssn, and the caller's literal
      expect(shown).not.toContain('Atlantis-9931');
      const q = demo.run(['query', '--format', 'json', '--justification', 'x', sql], { env: { HOOPQ_TOKEN: token } });
      expect(JSON.parse(q.stdout)[0].phone).toMatch(/^\*+\d{4}$/);
    });
  });

  describe('policy validate', () => {
    it('accepts the demo policies and rejects a broken one with file:line:col', () => {
      expect(demo.admin(['policy', 'validate']).code).toBe(0);
      const bad = join(demo.dir, 'bad.yaml');
      writeFileSync(bad, 'name: bad\nstatements: [select]\ntables:\n  raed: []\n');
      const r = demo.admin(['policy', 'validate', bad]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${bad}:4:3`);
    });
  });

  if (mode === 'gateway') {
    describe('gateway mode: the agent holds nothing', () => {
      it('the agent\'s folder is still empty, and the gateway recorded the queries', () => {
        expect(readdirSync(demo.gateway!.agentDir)).toEqual([]);
        const viaGateway = demo.auditRecords().filter((r) => r.event === 'query' && r.via === 'gateway');
        expect(viaGateway.length).toBeGreaterThan(20);
      });
    });
  }
}
