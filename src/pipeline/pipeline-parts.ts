/**
 * The parts a query travels through, as the composition root (CLI, gateway, MCP) builds them.
 * Tests swap parts by building them differently (another warehouse file, a sink in a
 * read-only folder), never by mocking modules.
 */
import type { ApprovalPort } from '../approval/approval-port.js';
import type { AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import type { HoopqError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';

export interface IdentityPort {
  /** Verifies signature, expiry, revocation; throws AuthError (exit 4). */
  verify(token: string | undefined): Promise<RunIdentity>;
  /**
   * Atomically counts one query against the run's budget (`limit` may be Infinity) and ties
   * the unit to the query's intent record. The intent is written at the same time; nothing
   * runs until both are durable, and a unit whose intent fails is given back (refundQuery).
   */
  consumeBudget(identity: RunIdentity, limit: number, intent: string): Promise<{ ok: boolean; used: number; limit: number }>;
  /** Whether the run has a unit left (a read: nothing is spent). */
  checkBudget(identity: RunIdentity, limit: number): Promise<{ ok: boolean; used: number; limit: number }>;
  /** The outcome record of the query with this intent is durable. */
  settleQuery(intent: string): Promise<void>;
  /** The intent record could not be made durable (the query did not run): give its unit back. */
  refundQuery(intent: string): Promise<void>;
  /** The outcome record could not be written: keep it so that recovery writes it later. */
  keepOutcome(intent: string, outcome: AuditRecordBody): Promise<void>;
  /**
   * Calls onRevoked (once) when the run or token is revoked from any process, or with
   * `problem` when revocations can no longer be checked (the state store was lost): fail
   * closed. Returns a stop function.
   */
  watchRevocation(identity: RunIdentity, onRevoked: (why: { problem?: HoopqError }) => void): () => void;
}

export interface PolicyPort {
  /** The policy, or undefined if no policy has that name. Throws ConfigError if the file is invalid. */
  get(name: string): Policy | undefined;
  names(): string[];
}

/**
 * Who the warehouse connection is for. BigQuery uses the policy's `impersonate` account and
 * keeps its short-lived credential within the run token's remaining life.
 */
export interface WarehouseSession {
  writable: boolean;
  policy?: Policy;
  identity?: RunIdentity;
  /** No call to a remote catalog (`explain --offline`). */
  offline?: boolean;
}

export interface PipelineParts {
  config: HoopqConfig;
  identity: IdentityPort;
  policies: PolicyPort;
  openWarehouse(options: WarehouseSession): Promise<Warehouse>;
  audit(): Promise<AuditSink>;
  now(): Date;
  /** The audit SQL sealing key, kept by a long-lived process; absent: read from keysDir each time. */
  sqlSealKey?(): Buffer;
  /** Requests for approval (policy `approval:`); without it a query a rule holds is refused (exit 3). */
  approvals?: ApprovalPort;
}
