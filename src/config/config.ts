import type { ApprovalsConfig } from '../approval/approvals-config.js';
import type { ConsoleConfig } from '../console/console-config.js';
import type { OperatorsConfig } from '../operator/operators-config.js';

/**
 * The normalised configuration (`hoopq.yaml`, docs/reference.md "Configuration keys"). Paths are absolute.
 */
export interface WarehouseConfig {
  kind: 'duckdb' | 'bigquery';
  /** duckdb: the database file. */
  path?: string;
  /** bigquery */
  project?: string;
  location?: string;
  credentials?: string;
  apiEndpoint?: string;
  iamEndpoint?: string;
  /** bigquery: maximumBytesBilled of a job whose policy sets no max_bytes_billed (default 1 TiB). */
  defaultMaxBytesBilled?: number;
  /** bigquery: jobTimeoutMs of a job whose policy sets no timeout (default 1 h). */
  defaultJobTimeoutMs?: number;
  defaultProject?: string;
  defaultDataset?: string;
  /** duckdb: memory one query may use (DuckDB's memory_limit of its instance); default 256 MiB. */
  maxQueryMemoryBytes?: number;
  /** duckdb: threads one query may use; default 1 (fair share of the CPU between runs). */
  queryThreads?: number;
}

export interface HoopqConfig {
  /** Absolute path of the file it came from (null when running with no config, e.g. remote mode). */
  file: string;
  dir: string;
  warehouse: WarehouseConfig;
  policiesDir: string;
  /** A file path, an http(s) URL of a gateway, or a PostgreSQL database shared by replicas. */
  audit: { kind: 'file'; path: string } | { kind: 'gateway'; url: string } | { kind: 'postgres'; url: string };
  keysDir: string;
  /**
   * SQLite state store for tokens, revocations and budgets; with `statePostgres`, it keeps only
   * this replica's approval requests and personal operator keys.
   */
  statePath: string;
  /** `state: postgres://…`: tokens, revocations, budgets and pending outcomes shared by replicas. */
  statePostgres?: string;
  /** Remote mode: forward queries to this gateway. */
  gateway?: string;
  /** Signed audit checkpoint every N records. */
  checkpointEvery: number;
  approvals: ApprovalsConfig;
  operators: OperatorsConfig;
  /** The web console; undefined: off. */
  console?: ConsoleConfig;
  /**
   * The `aud` an OIDC ID token must carry to be exchanged, when the policy's identity rule
   * names none (`oidc.audience`). Never taken from a request; the gateway defaults it to its
   * own URL.
   */
  oidcAudience?: string;
  /** A second file receiving a copy of every checkpoint (`audit_witness`), absolute. */
  auditWitness?: string;
}
