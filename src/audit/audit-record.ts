import type { IntentOutcomeState } from './find-outcome-of-intent.js';

/**
 * The audit record (docs/reference.md "Audit record fields"). Every field of the contract is present on
 * every `query` record (null where it does not apply), so a reader never has to guess.
 * `seq`, `prev` and `hash` are assigned by the sink at append time, under its lock.
 */
export interface AuditPolicyRef {
  name: string | null;
  sha256: string | null;
  /** The policy digest carried in the run token (may differ from the one applied). */
  token_sha256?: string | null;
}

export interface AuditRecordBody {
  id: string;
  time: string;
  event: string; // query | query.intent | token.mint | token.revoke | token.exchange | log.recovered | …
  run: string | null;
  subject: string | null;
  token_id: string | null;
  policy: AuditPolicyRef;
  justification: string | null;
  sql: string | null;
  statements: string[];
  tables: { read: string[]; write: string[] };
  /** `pending`: held for approval (event approval.requested / approval.pending); nothing ran. */
  decision: 'allow' | 'deny' | 'error' | 'pending';
  reason: string | null;
  /** Stable error code (e.g. `policy.table_denied`) and the rule behind a refusal. */
  code?: string | null;
  rule?: string | null;
  /** `hash_key`: the id (never the key) of the key the `hash` masks used, when any did. */
  masked: { columns: Record<string, string>; detected: Record<string, number>; hash_key?: string };
  warehouse: { kind: string | null; job_id: string | null; bytes_processed: number | null };
  rows: number | null;
  result_sha256: string | null;
  duration_ms: number | null;
  /** For an outcome record: the id of its intent record. */
  intent?: string | null;
  exit_code?: number | null;
  [extra: string]: unknown;
}

export interface AuditRecord extends AuditRecordBody {
  seq: number;
  prev: string;
  hash: string;
}

/** Where records go. Implementations: a local file (jsonl-file-sink.ts), a gateway (http). */
export interface AuditSink {
  /**
   * Durably append (fsync before resolving). Throws AuditWriteError (exit 8) when it cannot;
   * callers must not run anything in that case.
   */
  append(body: AuditRecordBody): Promise<AuditRecord>;
  close(): Promise<void>;
  /** Readiness of a sink behind a server (PostgreSQL): rejects while it cannot be reached. */
  ping?(): Promise<void>;
  /**
   * Whether the log holds an outcome for an intent record (outcome recovery's read-back, so no
   * outcome is written twice); absent where the log cannot be read back (a gateway's sink).
   */
  findOutcomeOfIntent?(intentId: string): IntentOutcomeState | Promise<IntentOutcomeState>;
}

/** The sink's own record: a writer was killed mid-write and the torn bytes were moved aside. */
export const RECOVERED_EVENT = 'log.recovered';
