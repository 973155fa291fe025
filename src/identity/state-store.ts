/**
 * Shared identity state: issued tokens, revocations and per-run query counters.
 *
 * Input: the path of a SQLite file shared by every hoopq process of a deployment.
 * Output: synchronous reads and writes, each a real SQLite transaction.
 * Invariants: the token string is never stored (only its id and claims); a revocation,
 * once committed, is seen by every process's next check (WAL readers see the latest commit);
 * `consumeQueryBudget` is a check-and-increment under `BEGIN IMMEDIATE`, so N processes
 * racing for a budget of L get exactly min(N, L) successes.
 *
 * Why SQLite in WAL mode: transactions that hold across processes (a file lock, not an
 * in-process mutex), crash safety (committed = durable, torn writes roll back), readers that
 * never block the writer, and no server to run. A JSON-file store (lowdb and friends) has a
 * single writer and loses updates when two processes read-modify-write at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { immediateTransaction, isSqliteBusy, openSqlite, type SqliteDatabase, type SqliteStatement } from '../sqlite/open-sqlite.js';
import { ConfigError, InternalError } from '../errors.js';
import type { RunIdentity } from './run-identity.js';

export type RevocationKind = 'run' | 'token';

export interface Revocation {
  kind: RevocationKind;
  /** The run id or the token id. */
  value: string;
  /** RFC 3339 UTC. */
  revokedAt: string;
  reason: string | null;
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

export interface StateStoreOptions {
  /** How long a writer waits for another process's transaction. Default 10 s. */
  busyTimeoutMs?: number;
}

/** How long a watcher tolerates an unreadable store before failing closed. */
const WATCH_ERROR_GRACE_MS = 2_000;

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

export function openStateStore(file: string, options: StateStoreOptions = {}): StateStore {
  return new StateStore(file, options);
}

export class StateStore {
  readonly file: string;
  private readonly db: SqliteDatabase;
  /** Every statement is prepared once and kept for the store's life (a gateway runs many queries). */
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly watchers = new Set<() => void>();
  private readonly findRevocationStmt: SqliteStatement;
  private readonly queriesStartedStmt: SqliteStatement;

  constructor(file: string, options: StateStoreOptions = {}) {
    this.file = path.resolve(file);
    const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      if (!fs.existsSync(this.file)) {
        // Created 0600 up front: run ids, subjects and revocation reasons are nobody else's business.
        fs.closeSync(fs.openSync(this.file, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600));
      }
      this.db = openSqlite(this.file, busyTimeoutMs);
      setWalMode(this.db, busyTimeoutMs);
      // FULL: a revocation that `token revoke` reported must survive a power cut.
      this.db.exec('PRAGMA synchronous = FULL');
      immediateTransaction(this.db, () => this.db.exec(SCHEMA));
    } catch (err) {
      throw new ConfigError('state.unavailable', `cannot open the identity state store ${this.file}: ${(err as Error).message}`, {
        rule: 'state.open',
        hint: `check that ${path.dirname(this.file)} is writable by this user and on a local file system`,
        cause: err,
      });
    }
    this.findRevocationStmt = this.db.prepare(
      `SELECT kind, value, revoked_at_ms, reason FROM revocations
        WHERE (kind = 'token' AND value = ?) OR (kind = 'run' AND value = ?)
        ORDER BY revoked_at_ms LIMIT 1`,
    );
    this.queriesStartedStmt = this.db.prepare('SELECT queries_started FROM counters WHERE run = ?');
  }

  /** Records a minted token's claims (never the token). Idempotent by token id. */
  recordIssuedToken(identity: RunIdentity): void {
    this.prepared(
        `INSERT OR IGNORE INTO tokens (id, run, policy, policy_sha256, subject, issued_at, expires_at, max_queries, kid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
  }

  /** Tokens not yet expired and not revoked (by id or by run), soonest expiry first. */
  listActiveTokens(now: Date = new Date()): IssuedToken[] {
    const rows = this.prepared(
        `SELECT t.id, t.run, t.policy, t.policy_sha256, t.subject, t.issued_at, t.expires_at, t.max_queries, t.kid,
                COALESCE(c.queries_started, 0) AS queries_started
           FROM tokens t LEFT JOIN counters c ON c.run = t.run
          WHERE t.expires_at > ?
            AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'token' AND r.value = t.id)
            AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'run' AND r.value = t.run)
          ORDER BY t.expires_at, t.id`,
      )
      .all(Math.floor(now.getTime() / 1000)) as Array<Record<string, string | number | null>>;
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
    const row = this.findRevocationStmt.get(identity.tokenId, identity.run) as RevocationRow | undefined;
    return row ? toRevocation(row) : undefined;
  }

  isRevoked(identity: Pick<RunIdentity, 'tokenId' | 'run'>): boolean {
    return this.findRevocation(identity) !== undefined;
  }

  isRunRevoked(run: string): boolean {
    return this.prepared("SELECT 1 FROM revocations WHERE kind = 'run' AND value = ?").get(run) !== undefined;
  }

  /**
   * Counts one query against the run's budget if it has room. `limit` may be Infinity
   * (counted, never refused). Atomic across processes: BEGIN IMMEDIATE takes the write lock
   * before the read, so no two processes see the same count.
   */
  consumeQueryBudget(run: string, limit: number): QueryBudget {
    if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit))) {
      throw new InternalError('state.bad_limit', `query budget limit must be a non-negative integer or Infinity, got ${limit}`);
    }
    return immediateTransaction(this.db, (): QueryBudget => {
      const used = this.queriesStarted(run);
      if (used >= limit) return { ok: false, used, limit };
      this.prepared(
          `INSERT INTO counters (run, queries_started) VALUES (?, 1)
           ON CONFLICT (run) DO UPDATE SET queries_started = queries_started + 1`,
        )
        .run(run);
      return { ok: true, used: used + 1, limit };
    });
  }

  queriesStarted(run: string): number {
    const row = this.queriesStartedStmt.get(run) as { queries_started: number } | undefined;
    return row?.queries_started ?? 0;
  }

  /**
   * Polls for a revocation of this token or its run and calls `onRevoked` once when it
   * appears (in any process). Returns a function that stops watching. The poll is one
   * primary-key lookup. If the store cannot be read for 2 s the watcher fails closed and
   * reports a revocation with that reason.
   */
  watchRevocation(
    identity: Pick<RunIdentity, 'tokenId' | 'run'>,
    onRevoked: (revocation: Revocation) => void,
    intervalMs = 250,
  ): () => void {
    let stopped = false;
    let failingSince: number | undefined;
    const stop = () => {
      stopped = true;
      clearInterval(timer);
      this.watchers.delete(stop);
    };
    const fire = (revocation: Revocation) => {
      if (stopped) return;
      stop();
      onRevoked(revocation);
    };
    const check = () => {
      if (stopped) return;
      try {
        const found = this.findRevocation(identity);
        failingSince = undefined;
        if (found) fire(found);
      } catch (err) {
        failingSince ??= Date.now();
        if (Date.now() - failingSince >= WATCH_ERROR_GRACE_MS) {
          fire({
            kind: 'run',
            value: identity.run,
            revokedAt: new Date().toISOString(),
            reason: `revocation state unreadable for ${WATCH_ERROR_GRACE_MS} ms (${(err as Error).message}); failing closed`,
          });
        }
      }
    };
    const timer = setInterval(check, intervalMs);
    // A forgotten watcher must not keep a CLI process alive; the running query does that.
    timer.unref();
    this.watchers.add(stop);
    setImmediate(check);
    return stop;
  }

  private prepared(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    for (const stop of [...this.watchers]) stop();
    if (this.db.isOpen) this.db.close();
  }

  private revoke(kind: RevocationKind, value: string, reason: string | null, now: Date, countSql: string): RevocationResult {
    if (typeof value !== 'string' || value.length === 0) {
      throw new InternalError('state.bad_revocation', `cannot revoke an empty ${kind} id`);
    }
    return immediateTransaction(this.db, (): RevocationResult => {
      const inserted = this.prepared('INSERT OR IGNORE INTO revocations (kind, value, revoked_at_ms, reason) VALUES (?, ?, ?, ?)')
        .run(kind, value, now.getTime(), reason);
      const row = this.prepared('SELECT kind, value, revoked_at_ms, reason FROM revocations WHERE kind = ? AND value = ?')
        .get(kind, value) as unknown as RevocationRow;
      const matched = (this.prepared(countSql).get(value) as { n: number }).n;
      return { ...toRevocation(row), matchedTokens: matched, isNew: Number(inserted.changes) === 1 };
    });
  }
}

function toRevocation(row: RevocationRow): Revocation {
  return { kind: row.kind, value: row.value, revokedAt: new Date(row.revoked_at_ms).toISOString(), reason: row.reason };
}

/**
 * Switching to WAL needs a moment of exclusive access; when many processes open a fresh
 * file at once SQLite can answer "locked" without consulting the busy handler, so retry.
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
