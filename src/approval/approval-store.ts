/**
 * Requests for approval, shared by every hoopq process of a deployment (the gateway, the CLI
 * in direct mode, `hoopq review`), in the identity state's SQLite file, in tables of their own.
 *
 * Input: the state file. Output: synchronous reads and writes, each a real transaction.
 * Invariants: a request's content (who, what SQL, which policy, what would run) is written
 * once and never changed; only its status moves, and only forward: pending -> approved |
 * denied | expired. A decision and a grant's use are compare-and-set under BEGIN IMMEDIATE,
 * so two approvers (or two executions racing for the last run of a grant) cannot both win.
 * The SQL itself is never stored: only its digest and the literal-redacted text for display.
 */
import { randomBytes } from 'node:crypto';
import type { MatchedApprovalRule } from './evaluate-approval.js';
import { openWalDatabase } from '../sqlite/open-wal-database.js';
import { immediateTransaction, type SqliteDatabase, type SqliteRow } from '../sqlite/open-sqlite.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** What a person reviewing the request sees: nothing that could carry a literal or a masked value. */
export interface ApprovalSummary {
  /** The SQL with every literal redacted. */
  sql: string;
  statements: string[];
  tables: { read: string[]; write: string[] };
  /** Masks that stay on. */
  masks: Record<string, string>;
  /** Masks the request asks to lift. */
  lifted: Record<string, string>;
  rules: MatchedApprovalRule[];
  justification: string | null;
  bytesEstimate: number | null;
  /** Names and types of query parameters; never their values. */
  params: Array<{ name: string; type: string }>;
  warehouse: string;
}

export interface NewApprovalRequest {
  run: string;
  tokenId: string;
  subject: string;
  policy: string;
  policySha256: string;
  sqlSha256: string;
  /** SQL, parameters and unmask request: what the agent must send again to use the approval. */
  requestSha256: string;
  /** What would run: statement texts, tables, masks. Checked again at execution. */
  planSha256: string;
  /** The audit record of the attempt that made the request. */
  recordId: string;
  summary: ApprovalSummary;
  expiresAt: Date;
  /** The run token's expiry: no grant outlives it. */
  tokenExpiresAt: Date;
}

export interface ApprovalRequest extends Omit<NewApprovalRequest, 'expiresAt' | 'tokenExpiresAt'> {
  id: string;
  createdAt: string;
  expiresAt: string;
  tokenExpiresAt: string;
  status: ApprovalStatus;
  notified: string[];
  decidedAt: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  /** Set when approved: how many runs, until when. */
  grant: { runs: number; expiresAt: string } | null;
  runsUsed: number;
}

export type DecideResult = { ok: true; request: ApprovalRequest } | { ok: false; why: 'unknown' | 'decided' | 'expired'; request?: ApprovalRequest };
export type UseResult = { ok: true; use: number; of: number } | { ok: false; why: 'not_approved' | 'used_up' | 'grant_expired' };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS approval_requests (
  id TEXT PRIMARY KEY,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  token_expires_at_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
  run TEXT NOT NULL,
  token_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  policy TEXT NOT NULL,
  policy_sha256 TEXT NOT NULL,
  sql_sha256 TEXT NOT NULL,
  request_sha256 TEXT NOT NULL,
  plan_sha256 TEXT NOT NULL,
  record_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  notified TEXT NOT NULL DEFAULT '[]',
  decided_at_ms INTEGER,
  decided_by TEXT,
  decision_reason TEXT,
  grant_runs INTEGER,
  grant_expires_at_ms INTEGER,
  runs_used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS approval_requests_by_token ON approval_requests (token_id, request_sha256, created_at_ms);
CREATE INDEX IF NOT EXISTS approval_requests_by_status ON approval_requests (status, expires_at_ms);
`;

export function openApprovalStore(file: string): ApprovalStore {
  return new ApprovalStore(openWalDatabase(file, SCHEMA, 'approval store'));
}

export class ApprovalStore {
  constructor(private readonly db: SqliteDatabase) {}

  create(input: NewApprovalRequest, now: Date = new Date()): ApprovalRequest {
    const id = `apr_${randomBytes(12).toString('base64url')}`;
    this.db
      .prepare(
        `INSERT INTO approval_requests (id, created_at_ms, expires_at_ms, token_expires_at_ms, status, run, token_id, subject, policy, policy_sha256,
           sql_sha256, request_sha256, plan_sha256, record_id, summary)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, now.getTime(), input.expiresAt.getTime(), input.tokenExpiresAt.getTime(), input.run, input.tokenId, input.subject, input.policy, input.policySha256,
        input.sqlSha256, input.requestSha256, input.planSha256, input.recordId, JSON.stringify(input.summary));
    return this.get(id)!;
  }

  setNotified(id: string, notified: string[]): void {
    this.db.prepare('UPDATE approval_requests SET notified = ? WHERE id = ?').run(JSON.stringify(notified), id);
  }

  get(id: string): ApprovalRequest | undefined {
    const row = this.db.prepare('SELECT * FROM approval_requests WHERE id = ?').get(id);
    return row ? toRequest(row) : undefined;
  }

  /** The newest request by this token for exactly this request, if any. */
  latestFor(tokenId: string, requestSha256: string): ApprovalRequest | undefined {
    const row = this.db
      .prepare('SELECT * FROM approval_requests WHERE token_id = ? AND request_sha256 = ? ORDER BY created_at_ms DESC, rowid DESC LIMIT 1')
      .get(tokenId, requestSha256);
    return row ? toRequest(row) : undefined;
  }

  countPending(run: string, now: Date = new Date()): number {
    const row = this.db.prepare("SELECT COUNT(*) AS n FROM approval_requests WHERE run = ? AND status = 'pending' AND expires_at_ms > ?").get(run, now.getTime());
    return Number(row?.n ?? 0);
  }

  /** Newest first. `status` filters; pending requests past their expiry count as expired. */
  list(options: { status?: ApprovalStatus; limit?: number } = {}, now: Date = new Date()): ApprovalRequest[] {
    const limit = Math.max(1, Math.min(options.limit ?? 200, 10_000));
    const rows = this.db.prepare('SELECT * FROM approval_requests ORDER BY created_at_ms DESC, rowid DESC LIMIT ?').all(limit * 4);
    return rows
      .map(toRequest)
      .map((r) => withDueExpiry(r, now))
      .filter((r) => options.status === undefined || r.status === options.status)
      .slice(0, limit);
  }

  /**
   * Pending -> approved (with a grant of `runs` uses until `grantExpiresAt`) or denied.
   * Compare-and-set: a request already decided, or past its expiry, is not changed.
   */
  decide(id: string, decision: { approve: boolean; by: string; reason: string; runs: number; grantExpiresAt: Date }, now: Date = new Date()): DecideResult {
    return immediateTransaction(this.db, (): DecideResult => {
      const current = this.get(id);
      if (!current) return { ok: false, why: 'unknown' };
      if (current.status !== 'pending') return { ok: false, why: 'decided', request: current };
      if (Date.parse(current.expiresAt) <= now.getTime()) return { ok: false, why: 'expired', request: current };
      this.db
        .prepare(
          `UPDATE approval_requests SET status = ?, decided_at_ms = ?, decided_by = ?, decision_reason = ?, grant_runs = ?, grant_expires_at_ms = ?
            WHERE id = ? AND status = 'pending'`,
        )
        .run(decision.approve ? 'approved' : 'denied', now.getTime(), decision.by, decision.reason,
          decision.approve ? decision.runs : null, decision.approve ? decision.grantExpiresAt.getTime() : null, id);
      return { ok: true, request: this.get(id)! };
    });
  }

  /** Takes one run of an approved request's grant, atomically; refuses when none is left or the grant ended. */
  useGrant(id: string, now: Date = new Date()): UseResult {
    return immediateTransaction(this.db, (): UseResult => {
      const r = this.get(id);
      if (!r || r.status !== 'approved' || !r.grant) return { ok: false, why: 'not_approved' };
      if (Date.parse(r.grant.expiresAt) <= now.getTime()) return { ok: false, why: 'grant_expired' };
      if (r.runsUsed >= r.grant.runs) return { ok: false, why: 'used_up' };
      this.db.prepare('UPDATE approval_requests SET runs_used = runs_used + 1 WHERE id = ? AND runs_used = ?').run(id, r.runsUsed);
      return { ok: true, use: r.runsUsed + 1, of: r.grant.runs };
    });
  }

  /** Marks pending requests past their expiry as expired; returns those this call changed (each exactly once across processes). */
  expireDue(now: Date = new Date()): ApprovalRequest[] {
    return immediateTransaction(this.db, () => {
      const due = this.db.prepare("SELECT * FROM approval_requests WHERE status = 'pending' AND expires_at_ms <= ?").all(now.getTime()).map(toRequest);
      for (const r of due) this.db.prepare("UPDATE approval_requests SET status = 'expired' WHERE id = ? AND status = 'pending'").run(r.id);
      return due.map((r) => ({ ...r, status: 'expired' as const }));
    });
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

function withDueExpiry(r: ApprovalRequest, now: Date): ApprovalRequest {
  return r.status === 'pending' && Date.parse(r.expiresAt) <= now.getTime() ? { ...r, status: 'expired' } : r;
}

function iso(ms: unknown): string {
  return new Date(Number(ms)).toISOString();
}

function toRequest(row: SqliteRow): ApprovalRequest {
  return {
    id: String(row.id),
    createdAt: iso(row.created_at_ms),
    expiresAt: iso(row.expires_at_ms),
    tokenExpiresAt: iso(row.token_expires_at_ms),
    status: row.status as ApprovalStatus,
    run: String(row.run),
    tokenId: String(row.token_id),
    subject: String(row.subject),
    policy: String(row.policy),
    policySha256: String(row.policy_sha256),
    sqlSha256: String(row.sql_sha256),
    requestSha256: String(row.request_sha256),
    planSha256: String(row.plan_sha256),
    recordId: String(row.record_id),
    summary: JSON.parse(String(row.summary)) as ApprovalSummary,
    notified: JSON.parse(String(row.notified)) as string[],
    decidedAt: row.decided_at_ms === null ? null : iso(row.decided_at_ms),
    decidedBy: (row.decided_by as string | null) ?? null,
    decisionReason: (row.decision_reason as string | null) ?? null,
    grant: row.grant_runs === null || row.grant_runs === undefined ? null : { runs: Number(row.grant_runs), expiresAt: iso(row.grant_expires_at_ms) },
    runsUsed: Number(row.runs_used),
  };
}
