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
}

export interface HoopqConfig {
  /** Absolute path of the file it came from (null when running with no config, e.g. remote mode). */
  file: string;
  dir: string;
  warehouse: WarehouseConfig;
  policiesDir: string;
  /** A file path, or an http(s) URL of a gateway. */
  audit: { kind: 'file'; path: string } | { kind: 'gateway'; url: string };
  keysDir: string;
  /** SQLite state store for tokens, revocations and budgets. */
  statePath: string;
  /** Remote mode: forward queries to this gateway. */
  gateway?: string;
  /** Signed audit checkpoint every N records. */
  checkpointEvery: number;
  /** A second file receiving a copy of every checkpoint (`audit_witness`), absolute. */
  auditWitness?: string;
}
