/**
 * The PostgreSQL state store against a real server: exact budgets across processes, a
 * revocation seen by another process's watcher through NOTIFY, the store's identity (a
 * database that is not the anchored one is refused, before anything is created in it), and
 * failing closed when the server cannot be reached.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/cli-harness.js';
import { HAS_POSTGRES, startPostgres, type PostgresServer } from '../fakes/postgres-server.mjs';
import { openPgStateStore, type PgStateStore } from '../../src/postgres/pg-state-store.js';
import type { Revocation } from '../../src/identity/state-store.js';
import type { RunIdentity } from '../../src/identity/run-identity.js';

const MODULE = join(ROOT, 'dist', 'postgres', 'pg-state-store.js');
let server: PostgresServer;
let tmp: string;

beforeAll(async () => {
  if (!HAS_POSTGRES) return;
  server = await startPostgres();
  tmp = mkdtempSync(join(tmpdir(), 'hoopq-pgstate-'));
}, 60_000);
afterAll(async () => {
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function identity(run: string, tokenId = `tok-${run}`): RunIdentity {
  const now = Math.floor(Date.now() / 1000);
  return { tokenId, run, policy: 'analyst', policySha256: 'a'.repeat(64), subject: 'ci', issuedAt: now, expiresAt: now + 3600, maxQueries: 10, kid: 'k1' } as RunIdentity;
}

/** N processes, each with its own store (own sessions), each trying `tries` budget units at once. */
function raceForBudget(url: string, run: string, limit: number, processes: number, tries: number): Promise<number[]> {
  const script = `
    const { openPgStateStore } = await import(${JSON.stringify(MODULE)});
    const store = openPgStateStore(process.argv[1]);
    let ok = 0;
    for (let i = 0; i < ${tries}; i++) if (store.consumeQueryBudget(${JSON.stringify(run)}, ${limit}, { intent: 'i-' + process.pid + '-' + i, host: 'h', pid: process.pid }).ok) ok++;
    store.close();
    process.stdout.write(String(ok));`;
  return inProcesses(processes, script, url).then((outs) => outs.map(Number));
}

/** Runs an ES module script in N processes at once (argv[1]: `arg`); resolves with each one's stdout. */
function inProcesses(processes: number, script: string, arg: string): Promise<string[]> {
  return Promise.all(
    Array.from({ length: processes }, () => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child ${code}: ${err}`))));
    })),
  );
}

describe.skipIf(!HAS_POSTGRES)('PostgreSQL state store', () => {
  it('gives exactly max_queries units to processes racing for them, and records each unit as pending', async () => {
    const url = await server.createDatabase();
    openPgStateStore(url).close(); // schema in place
    const won = await raceForBudget(url, 'run-race', 10, 6, 6);
    expect(won.reduce((a, b) => a + b, 0)).toBe(10);
    const store = openPgStateStore(url);
    try {
      expect(store.queriesStarted('run-race')).toBe(10);
      expect(store.pendingOutcomes().filter((p) => p.run === 'run-race')).toHaveLength(10);
      expect(store.consumeQueryBudget('run-race', 10)).toEqual({ ok: false, used: 10, limit: 10 });
      expect(store.consumeQueryBudget('run-zero', 0)).toEqual({ ok: false, used: 0, limit: 0 });
      expect(store.consumeQueryBudget('run-open', Infinity)).toEqual({ ok: true, used: 1, limit: Infinity });
    } finally {
      store.close();
    }
  });

  it('batched spends (consumeQueryBudgets): exact per run across processes whose batches lock the same runs in different orders, never a deadlock', async () => {
    const url = await server.createDatabase();
    openPgStateStore(url).close(); // schema in place
    // 6 processes, each 8 batches of 6 spends over runs a, b, c in an order of its own (shuffled
    // per batch): 288 spends for 3 runs with a budget of 10 each
    const script = `
      const { openPgStateStore } = await import(${JSON.stringify(MODULE)});
      const store = openPgStateStore(process.argv[1]);
      const won = { a: 0, b: 0, c: 0 };
      let seed = process.pid;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let k = 0; k < 8; k++) {
        const runs = ['a', 'b', 'c', 'a', 'b', 'c'].sort(() => rand() - 0.5);
        const spends = runs.map((run, i) => ({ run: 'batch-' + run, limit: 10, unit: { intent: 'b-' + process.pid + '-' + k + '-' + i, host: 'h', pid: process.pid } }));
        const budgets = store.consumeQueryBudgets(spends);
        budgets.forEach((b, i) => { if (b.ok) won[runs[i]]++; });
      }
      store.close();
      process.stdout.write(JSON.stringify(won));`;
    const results = (await inProcesses(6, script, url)).map((out) => JSON.parse(out) as Record<string, number>);
    for (const run of ['a', 'b', 'c']) expect(results.reduce((n, r) => n + r[run]!, 0)).toBe(10);
    const store = openPgStateStore(url);
    try {
      for (const run of ['a', 'b', 'c']) {
        expect(store.queriesStarted(`batch-${run}`)).toBe(10);
        expect(store.pendingOutcomes().filter((p) => p.run === `batch-${run}`)).toHaveLength(10);
      }
    } finally {
      store.close();
    }
  });

  it('batched spends answer in the order asked, each run in order, and commit all or nothing', async () => {
    const url = await server.createDatabase();
    const store = openPgStateStore(url);
    try {
      const unit = (intent: string) => ({ intent, host: 'h', pid: 1 });
      const budgets = store.consumeQueryBudgets([
        { run: 'z', limit: 2, unit: unit('z1') },
        { run: 'y', limit: Infinity },
        { run: 'z', limit: 2, unit: unit('z2') },
        { run: 'x', limit: 0 },
        { run: 'z', limit: 2, unit: unit('z3') },
        { run: 'y', limit: Infinity },
      ]);
      expect(budgets).toEqual([
        { ok: true, used: 1, limit: 2 },
        { ok: true, used: 1, limit: Infinity },
        { ok: true, used: 2, limit: 2 },
        { ok: false, used: 0, limit: 0 },
        { ok: false, used: 2, limit: 2 },
        { ok: true, used: 2, limit: Infinity },
      ]);
      expect(store.pendingOutcomes().map((p) => p.intent).sort()).toEqual(['z1', 'z2']);
      // an intent already pending fails its statement: the whole batch is rolled back
      expect(() =>
        store.consumeQueryBudgets([
          { run: 'w', limit: 5, unit: unit('w1') },
          { run: 'w', limit: 5, unit: unit('z1') },
        ]),
      ).toThrow(expect.objectContaining({ exitCode: 3 }));
      expect(store.queriesStarted('w')).toBe(0);
      expect(store.pendingOutcomes().map((p) => p.intent).sort()).toEqual(['z1', 'z2']);
      expect(() => store.consumeQueryBudgets([{ run: 'w', limit: Number.NaN }])).toThrow();
    } finally {
      store.close();
    }
  });

  it('a revocation committed by one store reaches another store\'s watcher through NOTIFY, without waiting for its poll', async () => {
    const url = await server.createDatabase();
    const a = openPgStateStore(url);
    const b = openPgStateStore(url);
    try {
      const who = identity('run-watched');
      a.recordIssuedToken(who);
      const seen = new Promise<{ revocation: Revocation; at: number }>((resolve) => b.watchRevocation(who, (revocation) => resolve({ revocation, at: Date.now() }), 3_600_000));
      await new Promise((r) => setTimeout(r, 300)); // the first check ran and found nothing
      const at = Date.now();
      const result = a.revokeRun('run-watched', 'job ended');
      expect(result).toMatchObject({ kind: 'run', value: 'run-watched', isNew: true, matchedTokens: 1 });
      const { revocation, at: firedAt } = await seen;
      expect(revocation).toMatchObject({ kind: 'run', value: 'run-watched', reason: 'job ended' });
      expect(firedAt - at).toBeLessThan(2_000);
      expect(b.isRevoked(who)).toBe(true);
      expect(b.listActiveTokens().map((t) => t.run)).not.toContain('run-watched');
      expect(a.revokeRun('run-watched', 'again').isNew).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });

  it('keeps tokens, pending outcomes and kept outcomes like the SQLite store', async () => {
    const url = await server.createDatabase();
    const store = openPgStateStore(url);
    try {
      store.recordIssuedToken(identity('run-t', 'tok-1'));
      store.recordIssuedToken(identity('run-t', 'tok-1')); // idempotent
      expect(store.listActiveTokens()).toMatchObject([{ id: 'tok-1', run: 'run-t', maxQueries: 10, queriesStarted: 0 }]);
      expect(store.consumeQueryBudget('run-t', 10, { intent: 'intent-1', host: 'h1', pid: 42 }).ok).toBe(true);
      store.keepOutcome('intent-1', '{"x":1}');
      expect(store.pendingOutcomes()).toMatchObject([{ intent: 'intent-1', run: 'run-t', host: 'h1', pid: 42, outcome: '{"x":1}' }]);
      store.settleQuery('intent-1');
      expect(store.pendingOutcomes()).toEqual([]);
      // a unit whose intent was never recorded is given back once; a kept outcome never is
      expect(store.consumeQueryBudget('run-t', 2, { intent: 'intent-2', host: 'h1', pid: 42 }).ok).toBe(true);
      expect(store.consumeQueryBudget('run-t', 2, { intent: 'intent-3', host: 'h1', pid: 42 }).ok).toBe(false);
      expect(store.refundQuery('intent-2')).toBe(true);
      expect(store.refundQuery('intent-2')).toBe(false);
      expect(store.refundQuery('never-spent')).toBe(false);
      expect(store.queriesStarted('run-t')).toBe(1);
      expect(store.pendingOutcomes()).toEqual([]);
      expect(store.consumeQueryBudget('run-t', 2, { intent: 'intent-4', host: 'h1', pid: 42 }).ok).toBe(true);
      store.keepOutcome('intent-4', '{"x":2}');
      expect(store.refundQuery('intent-4')).toBe(false);
      expect(store.queriesStarted('run-t')).toBe(2);
      store.settleQuery('intent-4');
      expect(store.revokeToken('tok-1').matchedTokens).toBe(1);
      expect(store.findRevocation({ tokenId: 'tok-1', run: 'other' })).toMatchObject({ kind: 'token', value: 'tok-1' });
    } finally {
      store.close();
    }
  });

  it('anchors the database: another database (empty, or another store) is refused, and nothing is created in it', async () => {
    const keys = mkdtempSync(join(tmp, 'keys-'));
    const anchorFile = join(keys, 'state-postgres.json');
    const first = await server.createDatabase();
    const store = openPgStateStore(first, { anchorFile });
    expect(store.init).toMatchObject({ how: 'created' });
    const id = store.storeId;
    store.close();
    expect(JSON.parse(readFileSync(anchorFile, 'utf8')).store_id).toBe(id);
    // a replica with a copy of the anchor opens the same database
    const again = openPgStateStore(first, { anchorFile });
    expect(again.storeId).toBe(id);
    expect(again.init).toBeUndefined();
    again.close();

    const empty = await server.createDatabase();
    expect(() => openPgStateStore(empty, { anchorFile })).toThrow(expect.objectContaining({ code: 'state.replaced', exitCode: 3 }));
    const tables = await server.sql(empty, "SELECT to_regclass('hoopq_meta') AS t");
    expect(tables.rows[0].t).toBeNull();

    const other = await server.createDatabase();
    openPgStateStore(other).close();
    expect(() => openPgStateStore(other, { anchorFile })).toThrow(/not this deployment's store/);
  });

  it('a store replaced under a running process fails every operation and watcher closed at once', async () => {
    const url = await server.createDatabase();
    const keys = mkdtempSync(join(tmp, 'keys-'));
    const store = openPgStateStore(url, { anchorFile: join(keys, 'state-postgres.json') });
    try {
      const fired = new Promise<Revocation>((resolve) => store.watchRevocation(identity('run-x'), resolve, 100));
      await server.sql(url, "UPDATE hoopq_meta SET value = 'someone-elses-store' WHERE key = 'store_id'");
      const revocation = await fired;
      expect(revocation.problem).toMatchObject({ code: 'state.replaced' });
      expect(() => store.consumeQueryBudget('run-x', 10)).toThrow(expect.objectContaining({ code: 'state.replaced' }));
    } finally {
      store.close();
    }
  });

  it('a server that cannot be reached: refused with exit 3 naming the database, and watchers fail closed', async () => {
    expect(() => openPgStateStore('postgres://hoopq@127.0.0.1:1/nowhere', { connectTimeoutMs: 1_000 })).toThrow(
      expect.objectContaining({ code: 'state.unavailable', exitCode: 3, message: expect.stringContaining('postgres://hoopq@127.0.0.1:1/nowhere') }),
    );
    const name = `gone_${process.pid}`;
    const url = await server.createDatabase(name);
    const store = openPgStateStore(url, { connectTimeoutMs: 1_000 });
    try {
      const fired = new Promise<{ revocation: Revocation; at: number }>((resolve) => store.watchRevocation(identity('run-y'), (revocation) => resolve({ revocation, at: Date.now() }), 100));
      const admin = url.replace(`/${name}`, '/postgres');
      await server.sql(admin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      const cut = Date.now();
      await server.sql(admin, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      const { revocation, at } = await fired;
      expect(revocation.reason).toMatch(/failing closed/);
      expect(at - cut).toBeLessThan(10_000);
      expect(() => store.consumeQueryBudget('run-y', 10)).toThrow(expect.objectContaining({ exitCode: 3 }));
    } finally {
      store.close();
    }
  });

  it('settling takes any id as data, and a failed settle leaves the session usable', async () => {
    const url = await server.createDatabase();
    const store = openPgStateStore(url);
    try {
      const odd = "x'); DROP TABLE hoopq_revocations; --";
      expect(store.consumeQueryBudget('run-odd', 10, { intent: odd, host: 'h', pid: 1 }).ok).toBe(true);
      store.settleQuery(odd);
      expect(store.pendingOutcomes()).toEqual([]);
      expect((await server.sql(url, "SELECT to_regclass('hoopq_revocations') IS NOT NULL AS present")).rows[0].present).toBe(true);
      // a settle that fails inside its transaction (here a trigger refuses the delete) must not
      // leave the session in an aborted transaction for the next call
      await server.sql(url, "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$ LANGUAGE plpgsql");
      await server.sql(url, 'CREATE TRIGGER refuse BEFORE DELETE ON hoopq_pending_outcomes FOR EACH ROW EXECUTE FUNCTION refuse()');
      expect(store.consumeQueryBudget('run-after', 10, { intent: 'held', host: 'h', pid: 1 }).ok).toBe(true);
      expect(() => store.settleQuery('held')).toThrow(expect.objectContaining({ exitCode: 3 }));
      await server.sql(url, 'DROP TRIGGER refuse ON hoopq_pending_outcomes');
      expect(store.consumeQueryBudget('run-after', 10).ok).toBe(true);
      expect(store.queriesStarted('run-after')).toBe(2);
      store.settleQuery('held');
      expect(store.pendingOutcomes()).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('the compiled thread is where the store looks for it', () => {
    expect(existsSync(join(ROOT, 'dist', 'postgres', 'pg-sync-thread.js'))).toBe(true);
  });
});
