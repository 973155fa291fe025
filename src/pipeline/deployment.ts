/**
 * What a command asks of a hoopq deployment, whether it reaches it directly (its config, keys,
 * state and audit log on this host: local-deployment.ts) or through its gateway (HOOPQ_GATEWAY:
 * src/gateway-client/remote-deployment.ts). Commands call one of these and print the answer;
 * none of them asks which kind it has, so direct and gateway mode print the same and exit
 * with the same codes (the gateway's errors come back as the same HoopqError). Not yet here:
 * `query`, `bq` and `mcp`, which stream and still pick their path in src/cli/query-target.ts.
 *
 * Credentials: in direct mode, reading the config is the authority (as it always was); through
 * a gateway, agent calls carry the run token they are given, operator calls the operator
 * credential the remote deployment was opened with.
 */
import type { AuditRecord } from '../audit/audit-record.js';
import type { AuditFilter } from '../audit/read-audit-log.js';
import type { VerifyReport } from '../audit/verify-audit-log.js';
import type { KeyRotation } from '../identity/signing-keys.js';
import type { IssuedToken } from '../identity/state-store.js';
import type { TableDescription } from './describe-table.js';
import type { Explanation } from './explain-query.js';
import type { TableListing } from './list-tables.js';
import type { ReplayReport } from './replay-query.js';
import type { HashKeyRotation, TokenInspection, RevokedTarget } from './token-lifecycle.js';

export interface DeploymentExplain {
  sql: string;
  token: string | undefined;
  policy?: string;
  justification: string | null;
  offline: boolean;
}

export interface DeploymentMint {
  policy: string;
  run: string;
  ttlSeconds: number;
  subject?: string;
  maxQueries?: number;
}

export interface DeploymentExchange {
  policy: string;
  oidcToken: string;
  audience?: string;
  ttlSeconds: number;
}

export interface DeploymentRevoke {
  run?: string;
  tokenId?: string;
  reason?: string;
  /** Through a gateway without an operator credential: the run token revoking its own run or itself. */
  token?: string;
}

/** Called for each record in log order; a returned promise is awaited (backpressure). */
export type AuditVisitor = (record: AuditRecord) => void | Promise<void>;

export interface Deployment {
  explain(input: DeploymentExplain): Promise<Explanation>;
  listTables(token: string | undefined, dataset: string | undefined): Promise<TableListing>;
  describeTable(token: string | undefined, table: string): Promise<TableDescription>;

  mintToken(input: DeploymentMint): Promise<{ token: string }>;
  exchangeToken(input: DeploymentExchange): Promise<{ token: string }>;
  revoke(input: DeploymentRevoke): Promise<RevokedTarget>;
  inspectToken(token: string | undefined): Promise<TokenInspection>;
  listTokens(): Promise<IssuedToken[]>;
  rotateKeys(): Promise<KeyRotation>;
  /** A new key for the `hash` mask (`keys rotate --hash-key`). */
  rotateHashKey(): Promise<HashKeyRotation>;

  /** The deployment's own log (not a copy given with --file: that is read where it is). */
  visitAuditRecords(filter: AuditFilter, visit: AuditVisitor): Promise<void>;
  /** The record with this id; none is a usage error (exit 2). */
  findAuditRecord(id: string): Promise<AuditRecord>;
  /** `onRecords` reports progress where the log is read here (direct mode). */
  /**
   * `witness`: a second copy of the checkpoints (file or gateway URL; default the deployment's
   * audit_witness); `onRecords` reports progress where the log is read here (direct mode).
   */
  verifyAudit(options: { signatures: 'all' | 'latest'; allowNoCheckpoint?: boolean; witness?: string; onRecords?: (checked: number) => void }): Promise<VerifyReport>;
  replay(id: string, options: { execute: boolean }): Promise<ReplayReport>;

  close(): Promise<void>;
}
