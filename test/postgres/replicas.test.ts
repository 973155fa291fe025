/**
 * Three `hoopq gateway` replicas sharing one PostgreSQL database (real server, real gateway
 * processes, the agent's CLI in gateway mode): a token minted once works at every replica,
 * 32 concurrent clients spread over the replicas against `max_queries: 10` get exactly 10
 * queries, a revocation at one replica interrupts the run's query running at another within
 * 2 s, masks hold at every replica, and a replica killed with SIGKILL mid-query loses no
 * committed record: the shared audit log still verifies.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, hoopq, hoopqAsync, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';
import { HAS_POSTGRES, startPostgres, type PostgresServer } from '../fakes/postgres-server.mjs';

let server: PostgresServer;
let demo: Demo;
let replicas: GatewayProcess[] = [];
let agentDir: string;
let stateUrl: string;
const J = { HOOPQ_JUSTIFICATION: 'replica test' };
const SLOW = 'SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range = -1';

beforeAll(async () => {
  if (!HAS_POSTGRES) return;
  server = await startPostgres();
  demo = createDemo();
  stateUrl = await server.createDatabase();
  // one database for the state store and the audit log of every replica
  writeFileSync(demo.config, readFileSync(demo.config, 'utf8').replace(/^audit: .*$/m, `postgres: ${stateUrl}`));
  writeFileSync(join(demo.dir, 'policies', 'budgeted.yaml'), 'name: budgeted\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nlimits:\n  max_queries: 10\nrequire_justification: false\n');
  agentDir = mkdtempSync(join(tmpdir(), 'hoopq-agent-'));
  for (let i = 0; i < 3; i++) replicas.push(await startGatewayProcess(demo.dir, demo.config));
}, 120_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => stopProcess(r.process)));
  await server?.stop();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

/** The shared log, as `hoopq audit export` gives it (from the database). */
function auditRecords(): Array<Record<string, any>> {
  const r = hoopq(['audit', 'export'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
  if (r.code !== 0) throw new Error(`audit export failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function agent(replica: GatewayProcess, args: string[], token: string) {
  return hoopqAsync(args, { cwd: agentDir, env: { HOOPQ_GATEWAY: replica.url, HOOPQ_TOKEN: token, ...J } });
}

async function metric(replica: GatewayProcess, name: string): Promise<number> {
  const text = await (await fetch(replica.url + '/metrics')).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe.skipIf(!HAS_POSTGRES)('gateway replicas on PostgreSQL', () => {
  it('the replicas share one store: each is ready and names the same store', async () => {
    const ids = new Set<string>();
    for (const r of replicas) {
      const res = await fetch(r.url + '/readyz');
      expect(res.status).toBe(200);
    }
    const status = hoopq(['state', 'status'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.file).toBe(stateUrl);
    ids.add(s.store_id);
    const tables = await server.sql(stateUrl, "SELECT value FROM hoopq_meta WHERE key = 'store_id'");
    expect(ids).toEqual(new Set([tables.rows[0].value]));
  });

  it('32 concurrent clients over 3 replicas against max_queries: 10 run exactly 10 queries', async () => {
    const token = demo.mint('budgeted', 'run-budget');
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => agent(replicas[i % 3]!, ['query', '--format', 'json', 'SELECT 1 AS one'], token)));
    const ok = results.filter((r) => r.code === 0);
    expect(ok).toHaveLength(10);
    const refused = results.filter((r) => r.code !== 0);
    expect(refused).toHaveLength(22);
    for (const r of refused) {
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/used its budget of 10 queries/);
    }
    // every replica served some of them, and the shared store counted all of them
    const counted = await server.sql(stateUrl, "SELECT queries_started FROM hoopq_counters WHERE run = 'run-budget'");
    expect(Number(counted.rows[0].queries_started)).toBe(10);
    const ran = auditRecords().filter((x) => x.event === 'query' && x.run === 'run-budget' && x.decision === 'allow');
    expect(ran).toHaveLength(10);
  });

  it('a token revoked at one replica is refused at the others, and its query running at another replica is interrupted within 2 s', async () => {
    const token = demo.mint('analyst-agent', 'run-slow');
    const [a, b, c] = replicas as [GatewayProcess, GatewayProcess, GatewayProcess];
    const running = agent(b, ['query', '--format', 'json', SLOW], token);
    const deadline = Date.now() + 20_000;
    while ((await metric(b, 'hoopq_gateway_queries_in_flight')) < 1 && Date.now() < deadline) await sleep(50);
    await sleep(300); // inside execution
    // the run's own token may revoke its run (the CI recipe's last step), at replica a; timed
    // from the request (a CLI's own start-up on a loaded machine is not the replicas' doing)
    const revokedAt = Date.now();
    const revoke = await fetch(a.url + '/v1/revoke', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ run: 'run-slow', reason: 'job ended' }) });
    expect(revoke.status).toBe(200);
    while ((await metric(b, 'hoopq_gateway_queries_in_flight')) > 0 && Date.now() - revokedAt < 20_000) await sleep(25);
    const tookMs = Date.now() - revokedAt;
    const r = await running;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/revoked while its query was running/);
    expect(tookMs).toBeLessThan(2_000);
    const later = await agent(c, ['query', 'SELECT 1'], token);
    expect(later.code).toBe(4);
    expect(later.stderr).toMatch(/revoked/);
  });

  it('masks hold at every replica', async () => {
    const token = demo.mint('analyst-agent', 'run-masks');
    const outputs = await Promise.all(replicas.map((r) => agent(r, ['query', '--format', 'json', 'SELECT email, ssn FROM demo.crm.customers ORDER BY name LIMIT 3'], token)));
    for (const o of outputs) expect(o.code, o.stderr).toBe(0);
    const rows = outputs.map((o) => JSON.parse(o.stdout));
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
    for (const row of rows[0]) {
      expect(String(row.email)).not.toContain('@');
      expect(String(row.ssn)).not.toMatch(/\d{3}-\d{2}-\d{4}/);
    }
  });

  it('a replica killed with SIGKILL mid-query loses no committed record, the others go on, and the log verifies', async () => {
    const token = demo.mint('analyst-agent', 'run-kill');
    const victim = replicas[2]!;
    const running = agent(victim, ['query', '--format', 'json', SLOW], token);
    const deadline = Date.now() + 20_000;
    const started = () => auditRecords().some((x) => x.event === 'query.intent' && x.run === 'run-kill');
    while (!started() && Date.now() < deadline) await sleep(50);
    await sleep(300); // inside execution
    const before = auditRecords();
    expect(before.filter((x) => x.run === 'run-kill').map((x) => x.event)).toContain('query.intent');
    victim.process.kill('SIGKILL');
    const r = await running;
    expect(r.code).not.toBe(0);
    // every record committed before the kill is still there, unchanged
    const after = auditRecords();
    expect(after.slice(0, before.length)).toEqual(before);
    const go = await agent(replicas[0]!, ['query', '--format', 'json', 'SELECT 1 AS one'], token);
    expect(go.code).toBe(0);
    const verify = hoopq(['audit', 'verify'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(verify.stderr + verify.stdout).not.toMatch(/error/i);
    expect(verify.code).toBe(0);
    replicas = replicas.filter((x) => x !== victim);
  });

  it('a database that cannot be reached: every replica refuses queries (exit 3) and is not ready, so a balancer sends no traffic', async () => {
    const token = demo.mint('analyst-agent', 'run-down');
    const name = new URL(stateUrl).pathname.slice(1);
    const admin = stateUrl.replace(`/${name}`, '/postgres');
    await server.sql(admin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await server.sql(admin, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    try {
      for (const r of replicas) {
        const q = await agent(r, ['query', 'SELECT 1'], token);
        expect(q.code, q.stderr).toBe(3);
        expect(q.stderr).toMatch(/state store/);
        const deadline = Date.now() + 10_000;
        let ready: { status: number; checks: Record<string, string> } = { status: 0, checks: {} };
        // both the state store and the audit sink report it (the audit check is cached 2 s)
        while (Date.now() < deadline && (ready.status !== 503 || ready.checks.audit === 'ok')) {
          const res = await fetch(r.url + '/readyz');
          ready = { status: res.status, checks: ((await res.json()) as any).checks };
          if (ready.checks.audit === 'ok') await sleep(200);
        }
        expect(ready.status).toBe(503);
        expect(ready.checks.state).toMatch(/^state\./);
        expect(ready.checks.audit).toMatch(/^audit\./);
      }
    } finally {
      await server.sql(admin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    // and back: the next query runs once the database answers again
    const deadline = Date.now() + 10_000;
    let again = await agent(replicas[0]!, ['query', 'SELECT 1'], token);
    while (again.code !== 0 && Date.now() < deadline) again = await agent(replicas[0]!, ['query', 'SELECT 1'], token);
    expect(again.code, again.stderr).toBe(0);
  });
});
