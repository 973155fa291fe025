/**
 * Black-box: `audit: postgres://…` (issue 15, items 5 and 6) with the built `hoopq` and a real
 * PostgreSQL server. Queries are recorded in the database; `audit list/show/export` print what
 * they print for the same records in a file; `audit verify` proves the chain and checkpoints
 * over the database and catches tampering by the table owner (trigger dropped), including a
 * cut of records and checkpoints together when a witness file is kept; a database that cannot
 * be reached refuses the query (exit 8) before anything runs. The gateway serves the newest
 * checkpoint and the operator's audit commands from the database; `state init` rebuilds from it.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HAS_POSTGRES, startPostgres, type PostgresServer } from '../fakes/postgres-server.mjs';
import { createDemo, hoopq, readDemoRows, startGatewayProcess, stopProcess, type Demo } from './cli-harness.js';

const J = { HOOPQ_JUSTIFICATION: 'postgres audit test' };

let server: PostgresServer;
let demo: Demo;
let token: string;
let url: string;
let config: string;
let elsewhere: string;

const run = (args: string[], env: Record<string, string> = {}) => demo.run(args, { env: { HOOPQ_CONFIG: config, ...env } });
const query = (sql: string) => run(['query', '--format', 'json', sql], { ...J, HOOPQ_TOKEN: token });
const rows = async (sql: string) => (await server.sql(url, sql)).rows;

beforeAll(async () => {
  if (!HAS_POSTGRES) return;
  server = await startPostgres();
  demo = createDemo();
  elsewhere = mkdtempSync(join(tmpdir(), 'hoopq-pgwitness-'));
  token = demo.mint('analyst-agent', 'pg-audit');
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
  if (elsewhere) rmSync(elsewhere, { recursive: true, force: true });
});

beforeEach(async () => {
  if (!HAS_POSTGRES) return;
  url = await server.createDatabase();
  config = join(demo.dir, `hoopq-pg-${Date.now()}.yaml`);
  writeFileSync(config, readFileSync(demo.config, 'utf8').replace(/^audit: .*$/m, `audit: ${url}`));
});

describe.skipIf(!HAS_POSTGRES)('an audit log in PostgreSQL', () => {
  it('records queries, verifies (exit 0), and audit list/show/export print what they print for the same log in a file', async () => {
    for (let i = 0; i < 3; i++) expect(query(`SELECT ${i} AS n`).code).toBe(0);
    expect(query('SELECT ssn FROM nowhere').code).not.toBe(0);
    const stored = await rows('SELECT seq::int AS seq, line FROM hoopq_audit_log ORDER BY seq');
    expect(stored.length).toBeGreaterThanOrEqual(7); // intents and outcomes, the refusal
    expect(stored.map((r) => r.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(stored.some((r) => JSON.parse(r.line).event === 'query.intent')).toBe(true);

    const v = run(['audit', 'verify']);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^ok postgres://[^ ]+@127\\.0\\.0\\.1:${server.port}/[a-z0-9_]+: ${stored.length} records, chain intact, [1-9]\\d* signed checkpoint\\(s\\) verified\\n$`));

    // the same records as a JSONL file, read with --file
    const copy = join(elsewhere, 'copy.jsonl');
    writeFileSync(copy, stored.map((r) => `${r.line}\n`).join(''));
    const id = JSON.parse(stored[2].line).id as string;
    for (const args of [['audit', 'list'], ['audit', 'list', '--format', 'jsonl', '--event', 'query'], ['audit', 'export'], ['audit', 'export', '--format', 'ocsf'], ['audit', 'show', id]]) {
      const fromDb = run(args);
      const fromFile = run([...args, '--file', copy]);
      expect(fromDb.code).toBe(0);
      expect(fromDb.stdout).not.toBe('');
      expect(fromDb.stdout).toBe(fromFile.stdout);
    }
  });

  it('catches a record edited through SQL by the table owner after dropping the trigger (exit 9, names the line)', async () => {
    for (let i = 0; i < 2; i++) expect(query(`SELECT ${i} AS n`).code).toBe(0);
    // the trigger refuses even the owner, until it is dropped
    await expect(server.sql(url, "UPDATE hoopq_audit_log SET line = replace(line, 'SELECT 1', 'SELECT 2') WHERE seq = 3")).rejects.toThrow(/append-only/);
    await server.sql(url, 'DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_log');
    const edited = await server.sql(url, `UPDATE hoopq_audit_log SET line = replace(line, '"decision":"allow"', '"decision":"deny"') WHERE seq = 2`);
    expect(edited.rowCount).toBe(1);
    const r = run(['audit', 'verify']);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/postgres:\/\/[^ ]+ line 2 \(seq 2\)/);
    expect(r.stderr).toMatch(/hash/);
  });

  it('catches a cut tail (exit 9): the signed checkpoint covers records that are gone', async () => {
    for (let i = 0; i < 3; i++) expect(query(`SELECT ${i} AS n`).code).toBe(0);
    const [{ n }] = await rows('SELECT count(*)::int AS n FROM hoopq_audit_log');
    await server.sql(url, `DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_log; DELETE FROM hoopq_audit_log WHERE seq > ${n - 2}`);
    const r = run(['audit', 'verify']);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(new RegExp(`the log ends at seq ${n - 2}, but a signed checkpoint \\(line \\d+ of hoopq_audit_checkpoints.*covers seq ${n}: the last 2 records were cut off`));
  });

  it('records and no covering checkpoint fail (exit 9) unless the operator says --allow-no-checkpoint', async () => {
    expect(query('SELECT 1 AS n').code).toBe(0);
    await server.sql(url, 'DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_checkpoints; DELETE FROM hoopq_audit_checkpoints');
    const r = run(['audit', 'verify']);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/no signed checkpoint covers this log's \d+ records/);
    const allowed = run(['audit', 'verify', '--allow-no-checkpoint']);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/warning: no signed checkpoint covers this log/);
  });

  it('with a witness file, deleting the checkpoints AND the tail in the database is still detected (exit 9)', async () => {
    const witness = join(elsewhere, `witness-${Date.now()}.checkpoints`);
    appendFileSync(config, `audit_witness: ${witness}\n`);
    for (let i = 0; i < 3; i++) expect(query(`SELECT ${i} AS n`).code).toBe(0);
    const newest = (await rows('SELECT line FROM hoopq_audit_checkpoints ORDER BY seq DESC LIMIT 1'))[0].line as string;
    expect(readFileSync(witness, 'utf8').trim().split('\n').at(-1)).toBe(newest);
    expect(run(['audit', 'verify']).code).toBe(0);
    const [{ n }] = await rows('SELECT count(*)::int AS n FROM hoopq_audit_log');
    await server.sql(url, `
      DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_log; DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_checkpoints;
      DELETE FROM hoopq_audit_checkpoints; DELETE FROM hoopq_audit_log WHERE seq > ${n - 2}`);
    for (const args of [['audit', 'verify'], ['audit', 'verify', '--allow-no-checkpoint']]) {
      const r = run(args);
      expect(r.code).toBe(9);
      expect(r.stderr).toMatch(new RegExp(`line \\d+ of ${witness.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*covers seq ${n}: the last 2 records were cut off`));
    }
  });

  it('the gateway serves the newest checkpoint from the database, and the operator reads and verifies the log through it', async () => {
    for (let i = 0; i < 2; i++) expect(query(`SELECT ${i} AS n`).code).toBe(0);
    const gw = await startGatewayProcess(demo.dir, config);
    const agentDir = mkdtempSync(join(tmpdir(), 'hoopq-pgop-'));
    try {
      const res = await fetch(`${gw.url}/v1/audit/checkpoint`);
      expect(res.status).toBe(200);
      const served = (await res.text()).trim();
      const newest = (await rows('SELECT line FROM hoopq_audit_checkpoints ORDER BY seq DESC, n DESC LIMIT 1'))[0].line;
      expect(served).toBe(newest);
      // the operator with only the gateway's URL and the operator key: same output as on the host
      const env = { HOOPQ_GATEWAY: gw.url, HOOPQ_OPERATOR_KEY: readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim() };
      for (const args of [['audit', 'list', '--format', 'jsonl'], ['audit', 'export', '--format', 'ocsf']]) {
        const remote = hoopq(args, { cwd: agentDir, env });
        expect(remote.code, remote.stderr).toBe(0);
        expect(remote.stdout).toBe(run(args).stdout);
      }
      const verified = hoopq(['audit', 'verify'], { cwd: agentDir, env });
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^ok postgres:\/\/\S+: \d+ records, chain intact/);
    } finally {
      await stopProcess(gw.process);
      rmSync(agentDir, { recursive: true, force: true });
    }
  });

  it('hoopq state init rebuilds a lost state store from the log in PostgreSQL: a revoked run stays revoked', async () => {
    const revoked = run(['token', 'mint', '--policy', 'analyst-agent', '--run', 'pg-revoked']).stdout.trim();
    expect(run(['token', 'revoke', '--run', 'pg-revoked']).code).toBe(0);
    for (const f of readdirSync(join(demo.dir, '.hoopq'))) if (f.startsWith('state.db')) rmSync(join(demo.dir, '.hoopq', f));
    const init = run(['state', 'init']);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, restored: { revocations: 1 } });
    const r = run(['query', '--format', 'json', 'SELECT 1 AS n'], { ...J, HOOPQ_TOKEN: revoked });
    expect(r.code).toBe(4);
    // a log edited in the database is not used to rebuild who is revoked
    await server.sql(url, `DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_log; UPDATE hoopq_audit_log SET line = replace(line, 'pg-revoked', 'pg-xxxxxxx') WHERE line LIKE '%"event":"token.revoke"%'`);
    const refused = run(['state', 'init', '--force']);
    expect(refused.code).toBe(9);
    expect(refused.stderr).toMatch(/rebuilt only from a log that verifies/);
  });

  // last: it stops the server
  it('a database that cannot be reached refuses the query with exit 8, and nothing runs', async () => {
    const writer = run(['token', 'mint', '--policy', 'scratch-writer', '--run', 'pg-audit-down']).stdout.trim();
    const dead = join(demo.dir, 'hoopq-pg-dead.yaml');
    writeFileSync(dead, readFileSync(config, 'utf8'));
    expect(run(['query', 'SELECT 1 AS n'], { ...J, HOOPQ_TOKEN: writer }).code).toBe(0);
    await server.stop();
    const r = demo.run(['query', '--format', 'json', 'CREATE TABLE scratch.must_not_exist AS SELECT 1 AS x'], { env: { HOOPQ_CONFIG: dead, HOOPQ_TOKEN: writer } });
    expect(r.code).toBe(8);
    expect(r.stdout).toBe('');
    const err = JSON.parse(r.stderr.trim()) as { code: string; message: string; hint: string };
    expect(err.code, r.stderr).toBe('audit.unreachable');
    expect(err.message).toContain(new URL(url).host);
    expect(err.hint).toMatch(/nothing was run/);
    expect(await readDemoRows(demo.dir, "SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_name = 'must_not_exist'")).toEqual([{ n: 0 }]);
  });
});
