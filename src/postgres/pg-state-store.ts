/**
 * The identity state store in PostgreSQL (`state: postgres://…`), shared by gateway replicas:
 * issued tokens, revocations, per-run query counters and the queries whose outcome is not
 * recorded yet — the same tables and answers as the SQLite store (state-store.ts), so a run
 * token minted or revoked at one replica holds at every replica.
 *
 * Input: a postgres:// URL (no password: PGPASSWORD or ~/.pgpass) and the deployment's anchor
 * file for it. Output: the StateStore interface, synchronous (pg-sync.ts).
 * Invariants:
 * - `consumeQueryBudget` is one INSERT … ON CONFLICT DO UPDATE … WHERE used < limit: the row
 *   lock makes it exact across replicas (N racing for a budget of L get exactly min(N, L)),
 *   and the unit's pending-outcome row goes in the same statement;
 * - a revocation commits with a NOTIFY on `hoopq_revocations`; every replica LISTENs and
 *   checks its running queries' watchers at once (and polls every 250 ms besides, so a lost
 *   notification costs at most that); committed means durable (synchronous_commit = on);
 * - the database is identified like the SQLite file: a random store id in hoopq_meta, named by
 *   `<keys>/state-postgres.json`; a database that is empty or carries another id (restored
 *   wrongly, pointed elsewhere) is refused at open and by every operation and watcher while it
 *   lasts (fail closed); a replica with no anchor yet adopts the database's id;
 * - every failure (server down, permissions, a standby that cannot write) is a ConfigError
 *   (exit 3) naming the database without its password, never "a bug".
 */
import path from 'node:path';
import pg from 'pg';
import { ConfigError, InternalError, isHoopqError } from '../errors.js';
import { describePostgresUrl } from '../config/postgres-url.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { RevocationWatchers } from '../identity/revocation-watchers.js';
import { StoreHealth } from '../identity/store-health.js';
import { newStateStoreId, readStateAnchor, writeStateAnchor } from '../identity/state-anchor.js';
import type {
  BudgetSpend,
  IssuedToken,
  PendingOutcome,
  QueryBudget,
  QueryUnit,
  Revocation,
  RevocationKind,
  RevocationResult,
  StateHealth,
  StateStore,
  StateStoreInit,
} from '../identity/state-store.js';
import { checkBudgetLimit } from '../identity/state-store.js';
import { PgSync, PgSyncError, type PgStep } from './pg-sync.js';

/** The anchor of a PostgreSQL store, beside the SQLite store's (which then keeps only approvals and operator keys). */
export const STATE_PG_ANCHOR_FILE = 'state-postgres.json';
export const REVOCATION_CHANNEL = 'hoopq_revocations';

const SCHEMA_LOCK = 'hoopq.state.schema';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS hoopq_tokens (
     id TEXT PRIMARY KEY, run TEXT NOT NULL, policy TEXT NOT NULL, policy_sha256 TEXT NOT NULL, subject TEXT NOT NULL,
     issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, max_queries BIGINT, kid TEXT NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS hoopq_tokens_by_expiry ON hoopq_tokens (expires_at)',
  'CREATE INDEX IF NOT EXISTS hoopq_tokens_by_run ON hoopq_tokens (run)',
  `CREATE TABLE IF NOT EXISTS hoopq_revocations (
     kind TEXT NOT NULL CHECK (kind IN ('run', 'token')), value TEXT NOT NULL, revoked_at_ms BIGINT NOT NULL, reason TEXT,
     PRIMARY KEY (kind, value))`,
  'CREATE TABLE IF NOT EXISTS hoopq_counters (run TEXT PRIMARY KEY, queries_started BIGINT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS hoopq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  `CREATE TABLE IF NOT EXISTS hoopq_pending_outcomes (
     intent TEXT PRIMARY KEY, run TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, started_at_ms BIGINT NOT NULL, outcome TEXT)`,
];

export interface PgStateStoreOptions {
  /** `<keys>/state-postgres.json`; without it the store is not identity-checked (tests of the store alone). */
  anchorFile?: string;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

export function pgStateAnchorPath(keysDir: string): string {
  return path.join(keysDir, STATE_PG_ANCHOR_FILE);
}

export function openPgStateStore(url: string, options: PgStateStoreOptions = {}): PgStateStore {
  return new PgStateStore(url, options);
}

type Row = Record<string, unknown>;

export class PgStateStore implements StateStore {
  /** The database, for messages (never with a password). */
  readonly file: string;
  readonly anchorFile: string | undefined;
  readonly init: StateStoreInit | undefined;
  private readonly db: PgSync;
  private readonly id: string;
  /** Set while the database is not the anchored store: every watcher fails closed at once. */
  private problem: ConfigError | undefined;
  /** The last check's failure of any kind (what readiness and operations report until the next check). */
  private lastFailure: ConfigError | undefined;
  private readonly healthCheck = new StoreHealth(
    () => this.checkHealth(),
    () => (this.lastFailure ? { ok: false, storeId: null, problem: this.lastFailure } : { ok: true, storeId: this.id }),
  );
  private readonly watchers = new RevocationWatchers({
    findRevocation: (identity) => this.findRevocation(identity),
    currentProblem: () => this.problem,
    failureOf: (err) => this.failure('check revocations', err),
  });

  constructor(url: string, options: PgStateStoreOptions = {}) {
    this.file = describePostgresUrl(url);
    this.anchorFile = options.anchorFile;
    this.db = new PgSync(url, {
      connectTimeoutMs: options.connectTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
      listen: [REVOCATION_CHANNEL],
      // a revocation committed at any replica: every running query of this process checks now
      onNotification: () => this.watchers.checkAll(),
    });
    try {
      const opened = this.identify();
      this.id = opened.storeId;
      this.init = opened.init;
    } catch (err) {
      this.db.close();
      throw isHoopqError(err) ? err : this.failure('open the store', err);
    }
    this.healthCheck.checked();
  }

  get storeId(): string {
    return this.id;
  }

  recordIssuedToken(identity: RunIdentity): void {
    this.use('record the token', () => this.db.run([insertToken(identity)], false));
  }

  listActiveTokens(now: Date = new Date()): IssuedToken[] {
    const rows = this.use('list the tokens', () =>
      this.db.query(
        `SELECT t.id, t.run, t.policy, t.policy_sha256, t.subject, t.issued_at, t.expires_at, t.max_queries, t.kid,
                COALESCE(c.queries_started, 0) AS queries_started
           FROM hoopq_tokens t LEFT JOIN hoopq_counters c ON c.run = t.run
          WHERE t.expires_at > $1
            AND NOT EXISTS (SELECT 1 FROM hoopq_revocations r WHERE r.kind = 'token' AND r.value = t.id)
            AND NOT EXISTS (SELECT 1 FROM hoopq_revocations r WHERE r.kind = 'run' AND r.value = t.run)
          ORDER BY t.expires_at, t.id`,
        [Math.floor(now.getTime() / 1000)],
      ),
    );
    return rows.map((row) => ({
      id: String(row.id),
      run: String(row.run),
      policy: String(row.policy),
      policySha256: String(row.policy_sha256),
      subject: String(row.subject),
      issuedAt: Number(row.issued_at),
      expiresAt: Number(row.expires_at),
      maxQueries: row.max_queries === null ? null : Number(row.max_queries),
      kid: String(row.kid),
      queriesStarted: Number(row.queries_started),
    }));
  }

  revokeRun(run: string, reason: string | null = null, now: Date = new Date()): RevocationResult {
    return this.revoke('run', run, reason, now, 'SELECT COUNT(*) AS n FROM hoopq_tokens WHERE run = $1');
  }

  revokeToken(tokenId: string, reason: string | null = null, now: Date = new Date()): RevocationResult {
    return this.revoke('token', tokenId, reason, now, 'SELECT COUNT(*) AS n FROM hoopq_tokens WHERE id = $1');
  }

  findRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>): Revocation | undefined {
    const rows = this.use('check revocations', () =>
      this.db.query(
        `SELECT kind, value, revoked_at_ms, reason FROM hoopq_revocations
          WHERE (kind = 'token' AND value = $1) OR (kind = 'run' AND value = $2)
          ORDER BY revoked_at_ms LIMIT 1`,
        [identity.tokenId, identity.run],
      ),
    );
    return rows[0] ? toRevocation(rows[0]) : undefined;
  }

  isRevoked(identity: Pick<RunIdentity, 'tokenId' | 'run'>): boolean {
    return this.findRevocation(identity) !== undefined;
  }

  isRunRevoked(run: string): boolean {
    return this.use('check revocations', () => this.db.query("SELECT 1 FROM hoopq_revocations WHERE kind = 'run' AND value = $1", [run])).length > 0;
  }

  /**
   * Counts one query against the run's budget if it has room, in one statement: the insert
   * or the conditional increment takes the run's row lock, so replicas racing for the last
   * unit see each other's increments (READ COMMITTED re-checks the condition on the newest
   * row). `limit` Infinity: counted, never refused.
   */
  consumeQueryBudget(run: string, limit: number, unit?: QueryUnit): QueryBudget {
    checkBudgetLimit(limit);
    const step = spendStep(run, limit, unit);
    const rows = this.use('count the query against its budget', () => this.db.query(step.sql, step.params));
    return budgetOf(rows[0]!, limit);
  }

  /**
   * The spends of concurrent queries in one transaction and one round trip, each exactly as
   * consumeQueryBudget and each run's in the order given; all or nothing is committed. The
   * statements take the runs' row locks in the order of the run names, so two replicas'
   * batches that share runs wait for each other instead of deadlocking.
   */
  consumeQueryBudgets(spends: readonly BudgetSpend[]): QueryBudget[] {
    for (const { limit } of spends) checkBudgetLimit(limit);
    // a stable sort: the spends of one run keep their order
    const order = spends.map((_, i) => i).sort((a, b) => (spends[a]!.run < spends[b]!.run ? -1 : spends[a]!.run > spends[b]!.run ? 1 : a - b));
    const results = this.use(spends.length === 1 ? 'count the query against its budget' : 'count the queries against their budgets', () =>
      // one spend alone is one statement, committed by itself (no BEGIN/COMMIT round trips)
      this.db.run(order.map((i) => spendStep(spends[i]!.run, spends[i]!.limit, spends[i]!.unit))),
    );
    const budgets: QueryBudget[] = new Array(spends.length);
    order.forEach((i, k) => (budgets[i] = budgetOf(results[k]!.rows[0]!, spends[i]!.limit)));
    return budgets;
  }

  queriesStarted(run: string): number {
    const rows = this.use('read the budget', () => this.db.query('SELECT queries_started FROM hoopq_counters WHERE run = $1', [run]));
    return rows[0] ? Number(rows[0].queries_started) : 0;
  }

  /**
   * The query's outcome record is durable: its unit is no longer pending. Committed without
   * waiting for the WAL flush: if a crash loses it, recovery finds the outcome in the log and
   * only drops the row.
   */
  settleQuery(intent: string): void {
    // one round trip (a parameterless text may hold several statements; the id is quoted by
    // node-postgres's escapeLiteral) instead of four for BEGIN, SET LOCAL, DELETE and COMMIT
    const sql = `BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM hoopq_pending_outcomes WHERE intent = ${pg.escapeLiteral(intent)}; COMMIT`;
    this.use('settle the query', () => this.db.run([{ sql }], false));
  }

  refundQuery(intent: string): boolean {
    const rows = this.use('give the unit back', () =>
      this.db.query(
        `WITH gone AS (
           DELETE FROM hoopq_pending_outcomes WHERE intent = $1 AND outcome IS NULL RETURNING run
         ), down AS (
           UPDATE hoopq_counters c SET queries_started = c.queries_started - 1
             FROM gone WHERE c.run = gone.run AND c.queries_started > 0
           RETURNING 1
         )
         SELECT (SELECT COUNT(*) FROM gone) AS refunded, (SELECT COUNT(*) FROM down) AS counted`,
        [intent],
      ),
    );
    return Number(rows[0]?.refunded ?? 0) > 0;
  }

  keepOutcome(intent: string, outcome: string): void {
    this.use('keep the unrecorded outcome', () => this.db.query('UPDATE hoopq_pending_outcomes SET outcome = $1 WHERE intent = $2', [outcome, intent]));
  }

  pendingOutcomes(): PendingOutcome[] {
    const rows = this.use('list pending outcomes', () =>
      this.db.query('SELECT intent, run, host, pid, started_at_ms, outcome FROM hoopq_pending_outcomes ORDER BY started_at_ms, intent'),
    );
    return rows.map((r) => ({
      intent: String(r.intent),
      run: String(r.run),
      host: String(r.host),
      pid: Number(r.pid),
      startedAt: Number(r.started_at_ms),
      outcome: r.outcome === null ? null : String(r.outcome),
    }));
  }

  forgetPending(intent: string): void {
    this.use('forget the pending outcome', () => this.db.query('DELETE FROM hoopq_pending_outcomes WHERE intent = $1', [intent]));
  }

  importState(state: { tokens: RunIdentity[]; revocations: Array<Revocation & { at: Date }>; queriesStarted: Map<string, number> }): void {
    const steps: PgStep[] = [
      ...state.tokens.map(insertToken),
      ...state.revocations.map((r) => ({
        sql: 'INSERT INTO hoopq_revocations (kind, value, revoked_at_ms, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        params: [r.kind, r.value, r.at.getTime(), r.reason],
      })),
      ...[...state.queriesStarted].map(([run, n]) => ({
        sql: `INSERT INTO hoopq_counters AS c (run, queries_started) VALUES ($1, $2)
              ON CONFLICT (run) DO UPDATE SET queries_started = GREATEST(c.queries_started, excluded.queries_started)`,
        params: [run, n],
      })),
    ];
    if (steps.length > 0) this.use('load the rebuilt state', () => this.db.run(steps, true));
  }

  watchRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>, onRevoked: (revocation: Revocation) => void, intervalMs = 250): () => void {
    return this.watchers.watch(identity, onRevoked, intervalMs);
  }

  /** Checks now that the database answers and is the anchored store. One round trip. */
  checkHealth(): StateHealth {
    this.healthCheck.checked();
    try {
      const rows = this.db.query("SELECT value FROM hoopq_meta WHERE key = 'store_id'");
      const found = rows[0] ? String(rows[0].value) : null;
      if (found !== this.id) throw this.replaced(found);
      if (this.anchorFile) {
        const anchor = readStateAnchor(this.anchorFile);
        if (anchor && anchor.store_id !== this.id) throw this.replaced(this.id, anchor.store_id);
      }
      this.problem = undefined;
      this.lastFailure = undefined;
      return { ok: true, storeId: this.id };
    } catch (err) {
      const problem = isHoopqError(err) && err instanceof ConfigError ? err : this.failure('check the store', err);
      this.lastFailure = problem;
      // an unreachable server is a failure of each operation (watchers allow it 2 s); a
      // database that is not the anchored store fails every watcher closed at once
      if (problem.code === 'state.replaced') {
        this.problem = problem;
        this.watchers.lost(problem);
      }
      return { ok: false, storeId: null, problem };
    }
  }

  startMonitor(intervalMs = 500): () => void {
    return this.healthCheck.startMonitor(intervalMs);
  }

  health(): StateHealth {
    return this.healthCheck.current();
  }

  close(): void {
    this.healthCheck.stopMonitor();
    this.watchers.stopAll();
    this.db.close();
  }

  private use<T>(what: string, fn: () => T): T {
    return this.healthCheck.use(fn, (err) => this.failure(what, err));
  }

  private revoke(kind: RevocationKind, value: string, reason: string | null, now: Date, countSql: string): RevocationResult {
    if (typeof value !== 'string' || value.length === 0) {
      throw new InternalError('state.bad_revocation', `cannot revoke an empty ${kind} id`);
    }
    const [inserted, row, count] = this.use('record the revocation', () =>
      this.db.run(
        [
          { sql: 'INSERT INTO hoopq_revocations (kind, value, revoked_at_ms, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', params: [kind, value, now.getTime(), reason] },
          { sql: 'SELECT kind, value, revoked_at_ms, reason FROM hoopq_revocations WHERE kind = $1 AND value = $2', params: [kind, value] },
          { sql: countSql, params: [value] },
          // delivered to every LISTENing replica when (and only if) the transaction commits
          { sql: 'SELECT pg_notify($1, $2)', params: [REVOCATION_CHANNEL, kind] },
        ],
        true,
      ),
    );
    return { ...toRevocation(row!.rows[0]!), matchedTokens: Number(count!.rows[0]!.n), isNew: inserted!.rowCount === 1 };
  }

  /**
   * Creates the schema (under an advisory lock: replicas may start together) and the store id,
   * and checks both against the anchor. A database without an id while an anchor names one is
   * refused before anything is created in it: it is not this deployment's store.
   */
  private identify(): { storeId: string; init: StateStoreInit | undefined } {
    const anchor = this.anchorFile ? readStateAnchor(this.anchorFile) : undefined;
    const existing = this.readId();
    if (anchor) {
      if (existing !== anchor.store_id) throw this.replaced(existing, anchor.store_id);
      return { storeId: existing, init: undefined };
    }
    let storeId = existing;
    let init: StateStoreInit | undefined;
    if (!storeId) {
      const fresh = newStateStoreId();
      const results = this.db.run(
        [
          { sql: 'SELECT pg_advisory_xact_lock(hashtext($1))', params: [SCHEMA_LOCK] },
          ...SCHEMA.map((sql) => ({ sql })),
          { sql: "INSERT INTO hoopq_meta (key, value) VALUES ('store_id', $1) ON CONFLICT (key) DO NOTHING RETURNING value", params: [fresh] },
          { sql: "SELECT value FROM hoopq_meta WHERE key = 'store_id'" },
        ],
        true,
      );
      storeId = String(results.at(-1)!.rows[0]!.value);
      if (results.at(-2)!.rowCount === 1) init = { storeId, how: 'created' };
    }
    // a replica's first contact: from now on this database, and no other, is the store
    if (this.anchorFile) writeStateAnchor(this.anchorFile, { version: 1, store_id: storeId, created: new Date().toISOString(), path: this.file });
    return { storeId, init };
  }

  private readId(): string | null {
    if (this.db.query("SELECT to_regclass('hoopq_meta') IS NOT NULL AS present")[0]?.present !== true) return null;
    const value = this.db.query("SELECT value FROM hoopq_meta WHERE key = 'store_id'")[0]?.value;
    return typeof value === 'string' && value !== '' ? value : null;
  }

  private replaced(found: string | null, expected: string = this.id): ConfigError {
    return new ConfigError(
      'state.replaced',
      `refused: the PostgreSQL state store ${this.file} is not this deployment's store (it is ${found ? `store ${found}` : 'a database without a hoopq store'}; expected ${expected}), so revocations and budgets cannot be trusted; every query is refused until it is restored`,
      {
        rule: 'state.identity',
        hint: `point state: at the right database or restore it from its backups; to accept this database as a new, empty store (revocations recorded in the old one are lost), remove ${this.anchorFile ?? 'the anchor'} on every replica (docs/gateway.md "Replicas on PostgreSQL")`,
      },
    );
  }

  /** A PostgreSQL failure as the operator needs to hear it (exit 3). */
  private failure(what: string, err: unknown): ConfigError {
    const reason = (err as Error)?.message ?? String(err);
    const code = err instanceof PgSyncError ? err.code : undefined;
    const make = (hoopqCode: string, message: string, hint: string) =>
      new ConfigError(hoopqCode, `cannot ${what}: the PostgreSQL state store ${this.file} ${message}`, { rule: 'state.store', hint, cause: err });
    if (code === '42501' || code === '28000' || code === '28P01') {
      return make('state.permission', `refused this user (${reason})`, 'grant the database user hoopq connects as the rights docs/gateway.md lists; give its password in PGPASSWORD or ~/.pgpass, never in hoopq.yaml');
    }
    if (code === '25006') return make('state.read_only', `cannot be written (${reason})`, 'point state: at the primary, not a read-only standby');
    if (code === '55P03' || code === '40P01' || code === '57014') return make('state.locked', `did not answer in time (${reason})`, 'retry; if it persists, look for long transactions holding locks on the hoopq_ tables');
    return make('state.unavailable', `cannot be reached (${reason})`, 'check that the server is up and reachable from this host (state: in hoopq.yaml); every query is refused until it is');
  }
}

function insertToken(identity: RunIdentity): PgStep {
  return {
    sql: `INSERT INTO hoopq_tokens (id, run, policy, policy_sha256, subject, issued_at, expires_at, max_queries, kid)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
    params: [identity.tokenId, identity.run, identity.policy, identity.policySha256, identity.subject, identity.issuedAt, identity.expiresAt, identity.maxQueries ?? null, identity.kid],
  };
}

function toRevocation(row: Row): Revocation {
  return { kind: row.kind as RevocationKind, value: String(row.value), revokedAt: new Date(Number(row.revoked_at_ms)).toISOString(), reason: row.reason === null ? null : String(row.reason) };
}

/** One spend's statement (see PgStateStore.consumeQueryBudget). */
function spendStep(run: string, limit: number, unit: QueryUnit | undefined): PgStep {
  const bound = Number.isFinite(limit) ? limit : null;
  return {
    sql: `WITH up AS (
           INSERT INTO hoopq_counters AS c (run, queries_started)
           SELECT $1, 1 WHERE $2::bigint IS NULL OR $2::bigint > 0
           ON CONFLICT (run) DO UPDATE SET queries_started = c.queries_started + 1
             WHERE $2::bigint IS NULL OR c.queries_started < $2::bigint
           RETURNING queries_started
         ), pending AS (
           INSERT INTO hoopq_pending_outcomes (intent, run, host, pid, started_at_ms, outcome)
           SELECT $3::text, $1, $4::text, $5::integer, $6::bigint, NULL FROM up WHERE $3::text IS NOT NULL
           RETURNING 1
         )
         SELECT (SELECT queries_started FROM up) AS used,
                (SELECT queries_started FROM hoopq_counters WHERE run = $1) AS before,
                (SELECT COUNT(*) FROM pending) AS pending`,
    params: [run, bound, unit?.intent ?? null, unit?.host ?? null, unit?.pid ?? null, Date.now()],
  };
}

function budgetOf(row: Record<string, unknown>, limit: number): QueryBudget {
  if (row.used === null) return { ok: false, used: Number(row.before ?? 0), limit };
  return { ok: true, used: Number(row.used), limit };
}
