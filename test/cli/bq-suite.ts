/**
 * Black-box: `hoopq bq …` as an agent used to bq types it, in direct and gateway mode: exit
 * codes, stderr and bq's exact output shapes (pretty, sparse, json, prettyjson, csv, none) for
 * query, ls, show and head; refused flags in one line; the `bq` shim.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemoInMode, type Demo, type Mode } from './cli-harness.js';

export function defineBqSuite(mode: Mode): void {
  describe(`hoopq bq (${mode} mode)`, () => {
    let demo: Demo;
    let token: string;
    const J = 'bq face test';

    beforeAll(async () => {
      demo = await createDemoInMode(mode);
      token = demo.mint('analyst-agent', `bq-${mode}`);
    }, 120_000);

    afterAll(async () => {
      await demo.close();
      rmSync(demo.dir, { recursive: true, force: true });
    });

    const bq = (args: string[], env: Record<string, string> = {}) => demo.run(['bq', ...args], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J, ...env } });

    describe('query: bq output shapes exactly', () => {
      const SQL = "SELECT 'Ann' AS name, 7 AS n";
      it.each([
        ['pretty', '+------+---+\n| name | n |\n+------+---+\n| Ann  | 7 |\n+------+---+\n'],
        ['sparse', '  name   n  \n ------ --- \n  Ann    7  \n'],
        ['json', '[{"n":"7","name":"Ann"}]\n'],
        ['prettyjson', '[\n  {\n    "n": "7", \n    "name": "Ann"\n  }\n]\n'],
        ['csv', 'name,n\nAnn,7\n'],
        ['none', ''],
      ])('--format=%s', (format, expected) => {
        const r = bq([`--format=${format}`, 'query', '--nouse_legacy_sql', SQL]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(expected);
      });

      it('pretty is the default; the words of an unquoted query are joined, as bq does', () => {
        const r = bq(['query', '--use_legacy_sql=false', 'SELECT', "'Ann'", 'AS', 'name,', '7', 'AS', 'n']);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('+------+---+\n| name | n |\n+------+---+\n| Ann  | 7 |\n+------+---+\n');
      });

      it('an empty result prints nothing in pretty and csv, [] in json', () => {
        const empty = 'SELECT 1 AS x WHERE 1 = 0';
        expect(bq(['query', empty]).stdout).toBe('');
        expect(bq(['--format=csv', 'query', empty]).stdout).toBe('');
        expect(bq(['--format=json', 'query', empty]).stdout).toBe('[]\n');
      });

      it('global flags before the command and every value a string, where hoopq query types them', () => {
        const sql = 'SELECT count(*) AS n, 1.5::DOUBLE AS f, true AS b, NULL AS z FROM customers';
        const r = bq(['--format=json', '--project_id=demo', '--dataset_id=crm', '-q', '--headless', '--apilog=/dev/null', '--location=US', 'query', '--nouse_legacy_sql', sql]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const typed = demo.run(['query', '--format', 'json', 'SELECT count(*) AS n FROM crm.customers'], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
        const n = (JSON.parse(typed.stdout) as Array<{ n: number }>)[0]!.n;
        expect(typeof n).toBe('number');
        expect(r.stdout).toBe(`[{"b":"true","f":"1.5","n":"${n}","z":null}]\n`);
      });

      it('masks hold: an email is hashed, an SSN redacted, in bq shapes too', () => {
        const rows = JSON.parse(bq(['--format=json', 'query', 'SELECT email, ssn, phone FROM crm.customers ORDER BY id LIMIT 3']).stdout) as Array<Record<string, string>>;
        expect(rows).toHaveLength(3);
        for (const row of rows) {
          expect(row.email).toMatch(/^[0-9a-f]{64}$/);
          expect(row.ssn).toBe('[REDACTED]');
          expect(row.phone).toMatch(/^\*+\d{4}$/);
        }
      });

      it('-n and --max_rows cut quietly; by default at most 100 rows, as bq', () => {
        const two = bq(['--format=json', 'query', '-n', '2', 'SELECT * FROM analytics.events']);
        expect(two.stderr).toBe('');
        expect(JSON.parse(two.stdout)).toHaveLength(2);
        expect(JSON.parse(bq(['--format=json', 'query', '--max_rows=3', 'SELECT * FROM analytics.events']).stdout)).toHaveLength(3);
        const all = bq(['--format=csv', 'query', 'SELECT id FROM analytics.events']);
        expect(all.stderr).toBe('');
        expect(all.stdout.trim().split('\n')).toHaveLength(101);
      });

      it('common bq query flags are accepted: --maximum_bytes_billed, --label, --batch, --use_cache, --job_id, --parameter', () => {
        const r = bq(['--format=csv', '--job_id=my-job', 'query', '--maximum_bytes_billed=1000000000', '--label', 'team:ml', '--batch', '--nouse_cache', '--parameter', 'x:INT64:41', 'SELECT $x + 1 AS y']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('y\n42\n');
      });

      it('--dry_run prints bq\'s sentence and runs nothing; --dry_run=false runs', () => {
        const before = demo.auditRecords().filter((x) => x.event === 'query').length;
        const dry = bq(['query', '--dry_run', 'SELECT * FROM crm.customers']);
        expect(dry.code).toBe(0);
        expect(dry.stdout).toMatch(/^Query successfully validated\. /);
        const job = JSON.parse(bq(['--format=json', 'query', '--dry_run=true', 'SELECT * FROM crm.customers']).stdout);
        expect(job).toMatchObject({ configuration: { dryRun: true }, statistics: { query: { referencedTables: [{ projectId: 'demo', datasetId: 'crm', tableId: 'customers' }] } } });
        expect(demo.auditRecords().filter((x) => x.event === 'query').length).toBe(before);
        expect(bq(['--format=csv', 'query', '--dry_run=false', 'SELECT 1 AS one']).stdout).toBe('one\n1\n');
      });

      it.each([
        [['query', '--destination_table=crm.copy', 'SELECT 1'], /^hoopq: bq flag --destination_table is not supported: /],
        [['query', '--use_legacy_sql=true', 'SELECT 1'], /^hoopq: bq: legacy SQL is not supported/],
        [['query', '--no_such_flag', 'SELECT 1'], /^hoopq: unknown bq flag --no_such_flag/],
        [['--credential_file=/tmp/sa.json', 'ls'], /^hoopq: bq flag --credential_file is not supported: under hoopq the run token/],
        [['mk', 'crm.t'], /^hoopq: bq mk is not supported: /],
        [['--format=xml', 'ls'], /^hoopq: bq: --format must be one of none, pretty, sparse, json, prettyjson, csv/],
      ])('refuses %j with one line, exit 2', (args, line) => {
        const r = bq(args);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(line);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      });

      it('a denied table: exit 5, one line naming the rule; with --format=json one JSON object', () => {
        const r = bq(['query', 'SELECT * FROM crm.payment_cards']);
        expect(r.code).toBe(5);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^hoopq: refused: reading demo\.crm\.payment_cards is denied .*tables\.deny/);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        const j = bq(['--format=json', 'query', 'SELECT * FROM crm.payment_cards']);
        expect(j.code).toBe(5);
        expect(JSON.parse(j.stderr)).toMatchObject({ code: 'policy.table_denied', exit: 5 });
      });
    });

    describe('ls, show, head', () => {
      it('ls: sparse datasetId listing by default, as bq', () => {
        const r = bq(['ls']);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('  datasetId  \n ----------- \n  analytics  \n  crm        \n');
      });

      it('ls DATASET: tableId, Type … ; json gives tables.list objects; -a and -n accepted', () => {
        const sparse = bq(['ls', 'demo:crm']);
        expect(sparse.stdout.split('\n')[0]).toMatch(/^ +tableId +Type +Labels +Time Partitioning +Clustered Fields +$/);
        expect(sparse.stdout).toMatch(/\n {2}customers +TABLE/);
        expect(sparse.stdout).not.toContain('payment_cards');
        const json = JSON.parse(bq(['ls', '--format=json', 'crm']).stdout);
        expect(json).toContainEqual({ kind: 'bigquery#table', id: 'demo:crm.customers', tableReference: { projectId: 'demo', datasetId: 'crm', tableId: 'customers' }, type: 'TABLE' });
        expect(JSON.parse(bq(['ls', '-a', '-n', '1', '--format=json', 'crm']).stdout)).toHaveLength(1);
        expect(JSON.parse(bq(['--dataset_id=crm', '--format=json', 'ls']).stdout).map((t: { id: string }) => t.id)).toContain('demo:crm.customers');
      });

      it('ls of a dataset no read rule reaches: exit 5, not an empty listing', () => {
        const r = bq(['ls', 'nosuchds']);
        expect(r.code).toBe(5);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^hoopq: refused: policy analyst-agent lets this run read no table in dataset demo\.nosuchds/);
      });

      it('show TABLE: "Table P:D.T", the schema as bq\'s tree', () => {
        const r = bq(['show', 'crm.customers']);
        expect(r.code).toBe(0);
        expect(r.stdout.startsWith('Table demo:crm.customers\n\n')).toBe(true);
        expect(r.stdout).toContain('|- email: string');
        expect(r.stdout).toContain('|- id: integer');
        expect(r.stdout.endsWith('\n\n')).toBe(true);
      });

      it('show --schema and --format=json: the tables.get schema shape (INTEGER, STRING, mode)', () => {
        const fields = JSON.parse(bq(['show', '--schema', 'crm.customers']).stdout) as Array<{ name: string; type: string; mode: string }>;
        expect(fields[0]).toEqual({ name: 'id', type: 'INTEGER', mode: 'NULLABLE' });
        expect(fields.find((f) => f.name === 'email')).toEqual({ name: 'email', type: 'STRING', mode: 'NULLABLE' });
        const table = JSON.parse(bq(['show', '--format=json', 'demo:crm.customers']).stdout);
        expect(table).toMatchObject({ kind: 'bigquery#table', id: 'demo:crm.customers', tableReference: { projectId: 'demo', datasetId: 'crm', tableId: 'customers' }, type: 'TABLE' });
        expect(table.schema.fields).toEqual(fields);
        expect(bq(['show', '--schema', '--format=pretty', 'crm.customers']).code).toBe(2);
      });

      it('show DATASET, and a denied table is refused as a query of it would be', () => {
        const ds = bq(['show', 'crm']);
        expect(ds.code).toBe(0);
        expect(ds.stdout.startsWith('Dataset demo:crm\n\n')).toBe(true);
        expect(JSON.parse(bq(['show', '--format=json', 'crm']).stdout)).toEqual({ kind: 'bigquery#dataset', id: 'demo:crm', datasetReference: { datasetId: 'crm', projectId: 'demo' } });
        expect(bq(['show', 'crm.payment_cards']).code).toBe(5);
      });

      it('head: the first rows, masked, in bq\'s pretty layout; -n, -s and -c', () => {
        const r = bq(['--format=json', 'head', '-n', '2', '-s', '1', '-c', 'id,email', 'crm.customers']);
        expect(r.code).toBe(0);
        const rows = JSON.parse(r.stdout) as Array<{ id: string; email: string }>;
        expect(rows).toHaveLength(2);
        expect(Object.keys(rows[0]!).sort()).toEqual(['email', 'id']);
        expect(rows[0]!.email).toMatch(/^[0-9a-f]{64}$/);
        const pretty = bq(['head', '-n', '1', 'crm.customers']);
        expect(pretty.stdout.split('\n')[0]).toMatch(/^\+-+\+/);
        expect(bq(['head', 'crm.payment_cards']).code).toBe(5);
      });
    });

    it('bq habits on plain hoopq: bq\'s global flags before query/ls/show, hoopq head, unquoted SQL words', () => {
      const env = { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } };
      const r = demo.run(['--format=json', '--dataset_id=crm', 'query', 'SELECT count(*) AS n FROM customers'], env);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^\[\{"n":"\d+"\}\]\n$/);
      expect(demo.run(['--format', 'json', 'ls'], env).stdout).toBe('[{"kind":"bigquery#dataset","id":"demo:analytics","datasetReference":{"datasetId":"analytics","projectId":"demo"}},{"kind":"bigquery#dataset","id":"demo:crm","datasetReference":{"datasetId":"crm","projectId":"demo"}}]\n');
      const head = demo.run(['head', '-n', '1', '-c', 'id', 'crm.customers'], env);
      expect(head.code).toBe(0);
      expect(head.stdout).toBe('+----+\n| id |\n+----+\n|  1 |\n+----+\n');
      const words = demo.run(['query', '--format', 'csv', 'SELECT', '1', 'AS', 'one'], env);
      expect(words.stdout).toBe('one\n1\n');
    });

    it("a flag only bq has, on plain hoopq query/ls/show, hands the command to bq's face; show DATASET as bq", () => {
      const env = { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } };
      const q = demo.run(['query', '--format=json', '--maximum_bytes_billed=1000000000', '--label=team:data', '--batch', '--use_cache=false', '--job_id=j1', 'SELECT 1 AS one'], env);
      expect(q.stderr).toBe('');
      expect(q.stdout).toBe('[{"one":"1"}]\n'); // bq's json: every value a string
      const dest = demo.run(['query', '--destination_table=crm.copy', 'SELECT 1'], env);
      expect(dest.code).toBe(2);
      expect(dest.stderr).toMatch(/^hoopq: bq flag --destination_table is not supported: .*CREATE TABLE/);
      expect(dest.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(demo.run(['query', '--no_such_flag', 'SELECT 1'], env).code).toBe(2); // unknown to both: refused, never ignored
      const ls = demo.run(['ls', '-a'], env);
      expect(ls.code).toBe(0);
      expect(ls.stdout).toMatch(/^ +datasetId +\n -+ \n +analytics +\n +crm +\n$/);
      const schema = demo.run(['show', '--schema', 'crm.customers'], env);
      expect(JSON.parse(schema.stdout)[0]).toEqual({ name: 'id', type: 'INTEGER', mode: 'NULLABLE' });
      const dataset = demo.run(['show', '--format=json', 'analytics'], env);
      expect(dataset.code).toBe(0);
      expect(JSON.parse(dataset.stdout)).toEqual({ kind: 'bigquery#dataset', id: 'demo:analytics', datasetReference: { datasetId: 'analytics', projectId: 'demo' } });
      expect(demo.run(['show', 'customers'], env).stdout).toMatch(/^Table demo:crm\.customers \(policy analyst-agent\)/); // a table of the default dataset first
      const neither = demo.run(['show', 'nosuch'], env);
      expect(neither.code).toBe(5); // neither a readable table nor a dataset: the table's refusal
      expect(neither.stderr).toMatch(/^hoopq: refused: reading demo\.crm\.nosuch is not allowed/);
    });

    it.each([
      // results larger than a pipe's buffer (~100 and ~150 KB), so the reader leaves mid-result
      [['bq', '--format=prettyjson', 'query', '-n', '1000', 'SELECT * FROM analytics.events']],
      [['query', '--format', 'ndjson', '-n', '1000', 'SELECT * FROM analytics.events']],
      [['query', '--format', 'csv', '-n', '1000', 'SELECT *, repeat(event_type, 500) AS pad FROM analytics.events']], // ~4 MB
      [['bq', 'ls']],
    ])('%j | head -1: exit 0, nothing on stderr, promptly', (args) => {
      const env = mode === 'gateway' ? { HOOPQ_GATEWAY: demo.gateway!.url } : { HOOPQ_CONFIG: demo.config };
      const quoted = args.map((a) => `'${a}'`).join(' ');
      const errFile = join(demo.dir, `bq-pipe-${process.hrtime.bigint()}.err`);
      const started = Date.now();
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${HOOPQ}" ${quoted} 2>"${errFile}" | head -1 > /dev/null; echo "exit=\${PIPESTATUS[0]}"`], {
        encoding: 'utf8',
        cwd: mode === 'gateway' ? demo.gateway!.agentDir : demo.dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J, ...env },
      });
      expect(readFileSync(errFile, 'utf8')).toBe('');
      expect(r.stdout).toBe('exit=0\n');
      expect(Date.now() - started).toBeLessThan(25_000); // not held until the gateway's 30 s stall timeout
    });

    it('the bq shim runs hoopq bq', () => {
      if (mode === 'gateway') return; // the shim is a local file; hoopq bq above covers gateway mode
      const dir = mkdtempSync(join(tmpdir(), 'hoopq-shim-'));
      try {
        const r = demo.run(['shim', 'install', dir]);
        expect(r.code).toBe(0);
        const shim = join(dir, 'bq');
        expect(existsSync(shim)).toBe(true);
        expect(statSync(shim).mode & 0o111).not.toBe(0);
        const viaShim = spawnSync(shim, ['--format=json', 'query', 'SELECT 1 AS one'], {
          encoding: 'utf8',
          cwd: demo.dir,
          env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J },
        });
        expect(viaShim.stderr).toBe('');
        expect(viaShim.stdout).toBe('[{"one":"1"}]\n');
        expect(demo.run(['shim', 'install', dir]).code).toBe(0); // its own file may be rewritten
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
