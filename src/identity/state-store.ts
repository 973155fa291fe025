/**
 * Shared identity state: issued tokens, revocations, per-run query counters, and the
 * queries whose outcome is not recorded yet.
 *
 * Input: the path of a SQLite file shared by every hoopq process of a deployment, and (for a
 * deployment) the path of its anchor (state-anchor.ts).
 * Output: synchronous reads and writes, each a real SQLite transaction.
 * Invariants:
 * - the token string is never stored (only its id and claims); a revocation, once committed,
 *   is seen by every process's next check (WAL readers see the latest commit);
 * - `consumeQueryBudget` is a check-and-increment under `BEGIN IMMEDIATE`, so N processes
 *   racing for a budget of L get exactly min(N, L) successes; with a `unit` it also records
 *   the query's intent id in the same transaction (the unit is the intent's, and stays
 *   listed until the outcome is recorded: recover-outcomes.ts);
 * - with an anchor, the store is the one the anchor names or nothing works: a store that is
 *   missing, replaced (another id, or none) or unreadable is refused at open and, later, by
 *   every operation and every revocation watcher (which then fire: fail closed), until the
 *   operator names a store with `hoopq state init`; a running process notices within
 *   HEALTH_CHECK_MS (it re-checks the file on disk, not its own open handle, so a deleted or
 *   overwritten file is seen) and picks up a store re-initialised under it;
 * - every SQLite failure becomes a ConfigError (exit 3) that says what happened (a lock held
 *   by another process, a read-only or full file system, a damaged file), never "a bug".
 *
 * Why SQLite in WAL mode: transactions that hold across processes (a file lock, not an
 * in-process mutex), crash safety (committed = durable, torn writes roll back), readers that
 * never block the writer, and no server to run. A JSON-file store (lowdb and friends) has a
 * single writer and loses updates when two processes read-modify-write at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { immediateTransaction, isSqliteBusy, openSqlite, type SqliteDatabase, type SqliteStatement } from '../sqlite/open-sqlite.js';
import { ConfigError, InternalError, isHoopqError } from '../errors.js';
import type { RunIdentity } from './run-identity.js';
import { newStateStoreId, readStateAnchor, writeStateAnchor, type StateAnchor } from './state-anchor.js';
import { RevocationWatchers } from './revocation-watchers.js';
import { StoreHealth } from './store-health.js';
import { missingStore, replacedStore, stateError, unanchored } from './state-store-errors.js';

export type RevocationKind = 'run' | 'token';

export interface Revocation {
  kind: RevocationKind;
  /** The run id or the token id. */
  value: string;
  /** RFC 3339 UTC. */
  revokedAt: string;
  reason: string | null;
  /** Set when a watcher fails closed: revocations can no longer be checked, and why. */
  problem?: ConfigError;
}

export interface RevocationResult extends Revocation {
  /** Tokens the store knows of that this revocation covers (0 for a token minted elsewhere). */
  matchedTokens: number;
  /** False when the same revocation was already recorded (the first time is kept). */
  isNew: boolean;
}

/** What `token list` shows: never the token itself. */
export interface IssuedToken {
  id: string;
  run: string;
  policy: string;
  policySha256: string;
  subject: string;
  issuedAt: number;
  expiresAt: number;
  maxQueries: number | null;
  kid: string;
  /** Queries started so far by the token's run (all tokens of the run share the budget). */
  queriesStarted: number;
}

export interface QueryBudget {
  ok: boolean;
  /** Queries started by the run, including this one when ok. */
  used: number;
  limit: number;
}

/** One spend of consumeQueryBudgets. */
export interface BudgetSpend {
  run: string;
  limit: number;
  unit?: QueryUnit;
}

/** The query a budget unit was spent on: its intent record, and the process running it. */
export interface QueryUnit {
  intent: string;
  host: string;
  pid: number;
}

/** A query whose unit was spent and whose outcome record is not in the audit log yet. */
export interface PendingOutcome extends QueryUnit {
  run: string;
  startedAt: number;
  /** The outcome record its process could not write, as JSON, when it could keep it here. */
  outcome: string | null;
}

export interface StateStoreOptions {
  /** How long a writer waits for another process's transaction. Default 10 s. */
  busyTimeoutMs?: number;
  /** The deployment's anchor file; without it the store is not identity-checked (tests of the store alone). */
  anchorFile?: string;
}

/** What opening did to the store, for the caller to record in the audit log. */
export interface StateStoreInit {
  storeId: string;
  /** 'created': a new empty store; 'adopted': a store from before anchors got its id. */
  how: 'created' | 'adopted';
}

export interface StateHealth {
  ok: boolean;
  storeId: string | null;
  /** The refusal every operation throws while not ok. */
  problem?: ConfigError;
}

const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  run TEXT NOT NULL,
  policy TEXT NOT NULL,
  policy_sha256 TEXT NOT NULL,
  subject TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  max_queries INTEGER,
  kid TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at);
CREATE INDEX IF NOT EXISTS tokens_by_run ON tokens (run);
CREATE TABLE IF NOT EXISTS revocations (
  kind TEXT NOT NULL CHECK (kind IN ('run', 'token')),
  value TEXT NOT NULL,
  revoked_at_ms INTEGER NOT NULL,
  reason TEXT,
  PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
  run TEXT PRIMARY KEY,
  queries_started INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_outcomes (
  intent TEXT PRIMARY KEY,
  run TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  outcome TEXT
) WITHOUT ROWID;
`;

interface RevocationRow {
  kind: RevocationKind;
  value: string;
  revoked_at_ms: number;
  reason: string | null;
}

/** The default location: beside the keys directory, e.g. `.hoopq/state.db` for `.hoopq/keys`. */
export function defaultStatePath(keysDir: string): string {
  return path.join(path.dirname(path.resolve(keysDir)), 'state.db');
}

export function openStateStore(file: string, options: StateStoreOptions = {}): SqliteStateStore {
  return new SqliteStateStore(file, options);
}

/** One open connection to the store file, with the file's identity on disk when opened. */
interface Connection {
  db: SqliteDatabase;
  statements: Map<string, SqliteStatement>;
  dev: number;
  ino: number;
  storeId: string;
}

/**
 * What the rest of hoopq uses of a state store: the SQLite file below (the embedded default)
 * and PostgreSQL shared by gateway replicas (src/postgres/pg-state-store.ts) both give it.
 */
export interface StateStore {
  /** Where the store is, for messages (a file path, or a postgres:// URL without password). */
  readonly file: string;
  /** The file that names the store this deployment uses (state-anchor.ts), when there is one. */
  readonly anchorFile?: string;
  /** Set when this open created the store or gave a legacy store its id (record it in the audit log). */
  readonly init: StateStoreInit | undefined;
  readonly storeId: string;
  recordIssuedToken(identity: RunIdentity): void;
  listActiveTokens(now?: Date): IssuedToken[];
  revokeRun(run: string, reason?: string | null, now?: Date): RevocationResult;
  revokeToken(tokenId: string, reason?: string | null, now?: Date): RevocationResult;
  findRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>): Revocation | undefined;
  isRevoked(identity: Pick<RunIdentity, 'tokenId' | 'run'>): boolean;
  isRunRevoked(run: string): boolean;
  consumeQueryBudget(run: string, limit: number, unit?: QueryUnit): QueryBudget;
  /**
   * Several spends in one transaction (one commit, one fsync), each exactly as
   * consumeQueryBudget and in order; all or nothing is committed. Optional: a store without
   * it gets one consumeQueryBudget per spend (batch-budget-spends.ts).
   */
  consumeQueryBudgets?(spends: readonly BudgetSpend[]): QueryBudget[];
  queriesStarted(run: string): number;
  settleQuery(intent: string): void;
  /**
   * Gives back the unit spent for this intent, whose intent record never became durable (the
   * query did not run): the pending row goes and the run's count drops by one, in one
   * transaction. A unit with a kept outcome (its intent was durable) is never given back.
   * Returns whether a unit was given back.
   */
  refundQuery(intent: string): boolean;
  keepOutcome(intent: string, outcome: string): void;
  pendingOutcomes(): PendingOutcome[];
  forgetPending(intent: string): void;
  importState(state: { tokens: RunIdentity[]; revocations: Array<Revocation & { at: Date }>; queriesStarted: Map<string, number> }): void;
  watchRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>, onRevoked: (revocation: Revocation) => void, intervalMs?: number): () => void;
  checkHealth(): StateHealth;
  startMonitor(intervalMs?: number): () => void;
  health(): StateHealth;
  close(): void;
}

export class SqliteStateStore implements StateStore {
  readonly file: string;
  readonly anchorFile: string | undefined;
  /** Set when this open created the store or gave a legacy store its id (record it in the audit log). */
  readonly init: StateStoreInit | undefined;
  private readonly busyTimeoutMs: number;
  private connection: Connection;
  private problem: ConfigError | undefined;
  private readonly healthCheck = new StoreHealth(
    () => this.checkHealth(),
    () => (this.problem ? { ok: false, storeId: null, problem: this.problem } : { ok: true, storeId: this.connection.storeId }),
  );
  private readonly watchers = new RevocationWatchers({
    findRevocation: (identity) => this.findRevocation(identity),
    currentProblem: () => this.problem,
    failureOf: (err) => stateError(this.file, 'check revocations', err, this.busyTimeoutMs),
  });

  constructor(file: string, options: StateStoreOptions = {}) {
    this.file = path.resolve(file);
    this.anchorFile = options.anchorFile;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    const anchor = this.anchorFile ? readStateAnchor(this.anchorFile) : undefined;
    if (this.anchorFile && anchor && !fs.existsSync(this.file)) throw missingStore(this.file, anchor);
    const opened = this.connect({ create: true });
    try {
      this.init = this.identify(opened, anchor);
    } catch (err) {
      opened.db.close();
      throw err;
    }
    this.connection = opened;
    this.healthCheck.checked();
  }

  /** The store's id (the anchor names it). */
  get storeId(): string {
    return this.connection.storeId;
  }

  /** Records a minted token's claims (never the token). Idempotent by token id. */
  recordIssuedToken(identity: RunIdentity): void {
    this.use('record the token', () => {
      this.prepared(
        `INSERT OR IGNORE INTO tokens (id, run, policy, policy_sha256, subject, issued_at, expires_at, max_queries, kid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        identity.tokenId,
        identity.run,
        identity.policy,
        identity.policySha256,
        identity.subject,
        identity.issuedAt,
        identity.expiresAt,
        identity.maxQueries ?? null,
        identity.kid,
      );
    });
  }

  /** Tokens not yet expired and not revoked (by id or by run), soonest expiry first. */
  listActiveTokens(now: Date = new Date()): IssuedToken[] {
    const rows = this.use('list the tokens', () =>
      this.prepared(
        `SELECT t.id, t.run, t.policy, t.policy_sha256, t.subject, t.issued_at, t.expires_at, t.max_queries, t.kid,
                COALESCE(c.queries_started, 0) AS queries_started
           FROM tokens t LEFT JOIN counters c ON c.run = t.run
          WHERE t.expires_at > ?
            AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'token' AND r.value = t.id)
            AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'run' AND r.value = t.run)
          ORDER BY t.expires_at, t.id`,
      ).all(Math.floor(now.getTime() / 1000)),
    ) as Array<Record<string, string | number | null>>;
    return rows.map((row) => ({
      id: row.id as string,
      run: row.run as string,
      policy: row.policy as string,
      policySha256: row.policy_sha256 as string,
      subject: row.subject as string,
      issuedAt: row.issued_at as number,
      expiresAt: row.expires_at as number,
      maxQueries: row.max_queries as number | null,
      kid: row.kid as string,
      queriesStarted: row.queries_started as number,
    }));
  }

  /** Revokes every token of a run, present and future. */
  revokeRun(run: string, reason: string | null = null, now: Date = new Date()): RevocationResult {
    return this.revoke('run', run, reason, now, 'SELECT COUNT(*) AS n FROM tokens WHERE run = ?');
  }

  /** Revokes one token by its id (`jti`). */
  revokeToken(tokenId: string, reason: string | null = null, now: Date = new Date()): RevocationResult {
    return this.revoke('token', tokenId, reason, now, 'SELECT COUNT(*) AS n FROM tokens WHERE id = ?');
  }

  /** The revocation covering this token (by its id or its run), if any. */
  findRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>): Revocation | undefined {
    const row = this.use('check revocations', () =>
      this.prepared(
        `SELECT kind, value, revoked_at_ms, reason FROM revocations
          WHERE (kind = 'token' AND value = ?) OR (kind = 'run' AND value = ?)
          ORDER BY revoked_at_ms LIMIT 1`,
      ).get(identity.tokenId, identity.run),
    ) as RevocationRow | undefined;
    return row ? toRevocation(row) : undefined;
  }

  isRevoked(identity: Pick<RunIdentity, 'tokenId' | 'run'>): boolean {
    return this.findRevocation(identity) !== undefined;
  }

  isRunRevoked(run: string): boolean {
    return this.use('check revocations', () => this.prepared("SELECT 1 FROM revocations WHERE kind = 'run' AND value = ?").get(run)) !== undefined;
  }

  /**
   * Counts one query against the run's budget if it has room. `limit` may be Infinity
   * (counted, never refused). Atomic across processes: BEGIN IMMEDIATE takes the write lock
   * before the read, so no two processes see the same count. With `unit`, the unit is tied
   * to the query's intent record in the same transaction (see settleQuery).
   */
  consumeQueryBudget(run: string, limit: number, unit?: QueryUnit): QueryBudget {
    return this.consumeQueryBudgets([{ run, limit, unit }])[0]!;
  }

  /** The spends of concurrent queries in one IMMEDIATE transaction: one commit for all. */
  consumeQueryBudgets(spends: readonly BudgetSpend[]): QueryBudget[] {
    for (const { limit } of spends) checkBudgetLimit(limit);
    return this.use(spends.length === 1 ? 'count the query against its budget' : 'count the queries against their budgets', () =>
      immediateTransaction(this.connection.db, (): QueryBudget[] => spends.map(({ run, limit, unit }) => this.spendIn(run, limit, unit))),
    );
  }

  /** One check-and-increment, inside the caller's transaction. */
  private spendIn(run: string, limit: number, unit: QueryUnit | undefined): QueryBudget {
    const used = this.startedIn(run);
    if (used >= limit) return { ok: false, used, limit };
    this.prepared(
      `INSERT INTO counters (run, queries_started) VALUES (?, 1)
       ON CONFLICT (run) DO UPDATE SET queries_started = queries_started + 1`,
    ).run(run);
    if (unit) {
      this.prepared('INSERT INTO pending_outcomes (intent, run, host, pid, started_at_ms, outcome) VALUES (?, ?, ?, ?, ?, NULL)').run(
        unit.intent,
        run,
        unit.host,
        unit.pid,
        Date.now(),
      );
    }
    return { ok: true, used: used + 1, limit };
  }

  queriesStarted(run: string): number {
    return this.use('read the budget', () => this.startedIn(run));
  }

  /**
   * The query's outcome record is durable: its unit is no longer pending. Written without
   * waiting for the disk (synchronous = NORMAL): if a crash loses it, recovery finds the
   * outcome in the log and only drops the row.
   */
  settleQuery(intent: string): void {
    this.use('settle the query', () => {
      const db = this.connection.db;
      db.exec('PRAGMA synchronous = NORMAL');
      try {
        this.prepared('DELETE FROM pending_outcomes WHERE intent = ?').run(intent);
      } finally {
        db.exec('PRAGMA synchronous = FULL');
      }
    });
  }

  refundQuery(intent: string): boolean {
    return this.use('give the unit back', () =>
      immediateTransaction(this.connection.db, (): boolean => {
        const row = this.prepared('DELETE FROM pending_outcomes WHERE intent = ? AND outcome IS NULL RETURNING run').get(intent) as { run?: string } | undefined;
        if (row?.run === undefined) return false;
        this.prepared('UPDATE counters SET queries_started = queries_started - 1 WHERE run = ? AND queries_started > 0').run(row.run);
        return true;
      }),
    );
  }

  /** Keeps an outcome record its process could not write, for recovery to append later. */
  keepOutcome(intent: string, outcome: string): void {
    this.use('keep the unrecorded outcome', () => this.prepared('UPDATE pending_outcomes SET outcome = ? WHERE intent = ?').run(outcome, intent));
  }

  pendingOutcomes(): PendingOutcome[] {
    const rows = this.use('list pending outcomes', () =>
      this.prepared('SELECT intent, run, host, pid, started_at_ms, outcome FROM pending_outcomes ORDER BY started_at_ms, intent').all(),
    ) as Array<{ intent: string; run: string; host: string; pid: number; started_at_ms: number; outcome: string | null }>;
    return rows.map((r) => ({ intent: r.intent, run: r.run, host: r.host, pid: Number(r.pid), startedAt: Number(r.started_at_ms), outcome: r.outcome }));
  }

  /** The unit's outcome is in the audit log now (written by recovery, or found there). */
  forgetPending(intent: string): void {
    this.use('forget the pending outcome', () => this.prepared('DELETE FROM pending_outcomes WHERE intent = ?').run(intent));
  }

  /**
   * Loads rebuilt state into an empty store, in one transaction (`hoopq state init`,
   * rebuild-state-store.ts): tokens, revocations (the first time of each is kept) and each
   * run's count of started queries.
   */
  importState(state: { tokens: RunIdentity[]; revocations: Array<Revocation & { at: Date }>; queriesStarted: Map<string, number> }): void {
    this.use('load the rebuilt state', () =>
      immediateTransaction(this.connection.db, () => {
        for (const token of state.tokens) this.recordIssuedToken(token);
        const revoke = this.prepared('INSERT OR IGNORE INTO revocations (kind, value, revoked_at_ms, reason) VALUES (?, ?, ?, ?)');
        for (const r of state.revocations) revoke.run(r.kind, r.value, r.at.getTime(), r.reason);
        const count = this.prepared('INSERT INTO counters (run, queries_started) VALUES (?, ?) ON CONFLICT (run) DO UPDATE SET queries_started = max(queries_started, excluded.queries_started)');
        for (const [run, n] of state.queriesStarted) count.run(run, n);
      }),
    );
  }

  /**
   * Polls for a revocation of this token or its run and calls `onRevoked` once when it
   * appears (in any process). Returns a function that stops watching. The poll is one
   * primary-key lookup. If the store stops being the anchored one (deleted, replaced,
   * damaged) the watcher fires at once with that reason; if it cannot be read for 2 s it
   * fails closed too (revocation-watchers.ts).
   */
  watchRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>, onRevoked: (revocation: Revocation) => void, intervalMs = 250): () => void {
    return this.watchers.watch(identity, onRevoked, intervalMs);
  }

  /**
   * Checks now that the file on disk is the anchored store and readable, and returns the
   * verdict. A store that failed and has since been re-initialised (`hoopq state init`) is
   * reopened here. Cheap: a stat, the anchor, and one read on a fresh connection.
   */
  checkHealth(): StateHealth {
    this.healthCheck.checked();
    if (!this.anchorFile) return { ok: true, storeId: this.connection.storeId };
    try {
      const anchor = readStateAnchor(this.anchorFile);
      if (!anchor) throw unanchored(this.file, this.anchorFile, this.connection.storeId);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(this.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missingStore(this.file, anchor);
        throw stateError(this.file, 'check the store', err);
      }
      const sameFile = stat.dev === this.connection.dev && stat.ino === this.connection.ino;
      // Read through a fresh connection: the open one may answer from its cache or from a
      // deleted file's inode, and would not notice the file being overwritten or removed.
      const fresh = this.connect({ create: false });
      let keep = false;
      try {
        const id = readStoreId(fresh.db);
        if (id !== anchor.store_id) throw replacedStore(this.file, anchor, id);
        if (!sameFile || id !== this.connection.storeId) {
          // the store was re-initialised under us: use the one the anchor names now
          const old = this.connection;
          this.connection = { ...fresh, storeId: id };
          keep = true;
          closeQuietly(old.db);
        }
      } finally {
        if (!keep) closeQuietly(fresh.db);
      }
      this.problem = undefined;
      return { ok: true, storeId: this.connection.storeId };
    } catch (err) {
      const problem = isHoopqError(err) && err instanceof ConfigError ? err : stateError(this.file, 'check the store', err);
      this.problem = problem;
      this.watchers.lost(problem);
      return { ok: false, storeId: null, problem };
    }
  }

  /** Re-checks health every `intervalMs` in the background (a gateway), so readiness and watchers learn of a lost store without a request. */
  startMonitor(intervalMs = 500): () => void {
    return this.healthCheck.startMonitor(intervalMs);
  }

  /** The last verdict, re-checked if older than HEALTH_CHECK_MS. */
  health(): StateHealth {
    return this.healthCheck.current();
  }

  close(): void {
    this.healthCheck.stopMonitor();
    this.watchers.stopAll();
    closeQuietly(this.connection.db);
  }

  /** Runs one operation on a healthy store; every failure becomes a ConfigError that tells the truth. */
  private use<T>(what: string, fn: () => T): T {
    return this.healthCheck.use(fn, (err) => stateError(this.file, what, err, this.busyTimeoutMs));
  }

  private startedIn(run: string): number {
    const row = this.prepared('SELECT queries_started FROM counters WHERE run = ?').get(run) as { queries_started: number } | undefined;
    return row?.queries_started ?? 0;
  }

  /** Every statement is prepared once per connection and kept (a gateway runs many queries). */
  private prepared(sql: string): SqliteStatement {
    const statements = this.connection.statements;
    let statement = statements.get(sql);
    if (!statement) {
      statement = this.connection.db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  }

  private connect(options: { create: boolean }): Connection {
    let db: SqliteDatabase | undefined;
    try {
      if (options.create) {
        fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
        if (!fs.existsSync(this.file)) {
          // Created 0600 up front: run ids, subjects and revocation reasons are nobody else's business.
          fs.closeSync(fs.openSync(this.file, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600));
        }
      } else if (!fs.existsSync(this.file)) {
        throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      }
      const stat = fs.statSync(this.file);
      db = openSqlite(this.file, this.busyTimeoutMs);
      setWalMode(db, this.busyTimeoutMs);
      // FULL: a revocation that `token revoke` reported must survive a power cut.
      db.exec('PRAGMA synchronous = FULL');
      return { db, statements: new Map(), dev: stat.dev, ino: stat.ino, storeId: '' };
    } catch (err) {
      if (db) closeQuietly(db);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !options.create) {
        const anchor = this.anchorFile ? readStateAnchor(this.anchorFile) : undefined;
        if (anchor) throw missingStore(this.file, anchor);
      }
      throw stateError(this.file, 'open the store', err, this.busyTimeoutMs);
    }
  }

  /**
   * Makes sure the schema is current and the store has an id, and that it is the anchored
   * one. The write lock is taken only when something must be created, and every decision
   * to create is re-made under it (many processes may open a new deployment at once).
   */
  private identify(connection: Connection, anchorAtOpen: StateAnchor | undefined): StateStoreInit | undefined {
    const { db } = connection;
    const fail = (err: unknown): never => {
      throw isHoopqError(err) ? err : stateError(this.file, 'open the store', err, this.busyTimeoutMs);
    };
    let id: string | null;
    let current: boolean;
    try {
      current = Number(db.prepare('PRAGMA user_version').get()?.user_version) >= SCHEMA_VERSION;
      id = current ? readStoreId(db) : null;
    } catch (err) {
      return fail(err);
    }
    if (id && this.anchorFile) {
      if (!anchorAtOpen) throw unanchored(this.file, this.anchorFile, id);
      if (id !== anchorAtOpen.store_id) throw replacedStore(this.file, anchorAtOpen, id);
    }
    if (id) {
      connection.storeId = id;
      return undefined;
    }
    try {
      return immediateTransaction(db, (): StateStoreInit | undefined => {
        db.exec(SCHEMA);
        const existing = readStoreId(db);
        const anchor = this.anchorFile ? readStateAnchor(this.anchorFile) : undefined;
        if (existing) {
          // another process created it while we waited for the lock
          if (this.anchorFile && anchor?.store_id !== existing) throw anchor ? replacedStore(this.file, anchor, existing) : unanchored(this.file, this.anchorFile, existing);
          connection.storeId = existing;
          return undefined;
        }
        // An anchored deployment never adopts a store without an id: that is a replaced file.
        if (anchor) throw replacedStore(this.file, anchor, null);
        const hasRows = db.prepare('SELECT (SELECT COUNT(*) FROM tokens) + (SELECT COUNT(*) FROM revocations) + (SELECT COUNT(*) FROM counters) AS n').get()?.n;
        const storeId = newStateStoreId();
        db.prepare("INSERT INTO meta (key, value) VALUES ('store_id', ?)").run(storeId);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        // The anchor goes in last, while the lock is held: a process that sees the id
        // committed always finds the anchor naming it.
        if (this.anchorFile) writeStateAnchor(this.anchorFile, { version: 1, store_id: storeId, created: new Date().toISOString(), path: this.file });
        connection.storeId = storeId;
        return { storeId, how: Number(hasRows) > 0 ? 'adopted' : 'created' };
      });
    } catch (err) {
      return fail(err);
    }
  }

  private revoke(kind: RevocationKind, value: string, reason: string | null, now: Date, countSql: string): RevocationResult {
    if (typeof value !== 'string' || value.length === 0) {
      throw new InternalError('state.bad_revocation', `cannot revoke an empty ${kind} id`);
    }
    return this.use('record the revocation', () =>
      immediateTransaction(this.connection.db, (): RevocationResult => {
        const inserted = this.prepared('INSERT OR IGNORE INTO revocations (kind, value, revoked_at_ms, reason) VALUES (?, ?, ?, ?)').run(kind, value, now.getTime(), reason);
        const row = this.prepared('SELECT kind, value, revoked_at_ms, reason FROM revocations WHERE kind = ? AND value = ?').get(kind, value) as unknown as RevocationRow;
        const matched = (this.prepared(countSql).get(value) as { n: number }).n;
        return { ...toRevocation(row), matchedTokens: matched, isNew: Number(inserted.changes) === 1 };
      }),
    );
  }
}

/** The process that spends a unit: this host and pid (recovery checks whether it is still alive). */
export function thisProcessUnit(intent: string): QueryUnit {
  return { intent, host: os.hostname(), pid: process.pid };
}

function readStoreId(db: SqliteDatabase): string | null {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) return null;
  const row = db.prepare("SELECT value FROM meta WHERE key = 'store_id'").get() as { value?: unknown } | undefined;
  return typeof row?.value === 'string' && row.value !== '' ? row.value : null;
}

function toRevocation(row: RevocationRow): Revocation {
  return { kind: row.kind, value: row.value, revokedAt: new Date(row.revoked_at_ms).toISOString(), reason: row.reason };
}

function closeQuietly(db: SqliteDatabase): void {
  try {
    if (db.isOpen) db.close();
  } catch {
    // a connection to a file that vanished may fail to close cleanly; nothing to keep
  }
}

/**
 * Switching to WAL needs a moment of exclusive access; when many processes open a fresh
 * file at once SQLite can answer "locked" without consulting the busy handler, so retry.
 * A store already in WAL mode answers at once without any lock.
 */
function setWalMode(db: SqliteDatabase, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (String(mode).toLowerCase() === 'wal') return;
      throw new Error(`journal_mode is ${String(mode)}, WAL unavailable`);
    } catch (err) {
      if (!isSqliteBusy(err)) throw err;
      if (Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
    }
  }
}

/** A budget limit is a non-negative integer, or Infinity (counted, never refused). */
export function checkBudgetLimit(limit: number): void {
  if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit))) {
    throw new InternalError('state.bad_limit', `query budget limit must be a non-negative integer or Infinity, got ${limit}`);
  }
}
