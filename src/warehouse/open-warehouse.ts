/**
 * The one place a `warehouse.kind` from hoopq.yaml becomes a Warehouse. Adding a warehouse
 * means adding a folder and one line in OPENERS; nothing registers itself by being imported.
 */
import type { WarehouseConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { EngineCallScope } from './engine-call-gate.js';
import { openDuckDbWarehouse } from './duckdb/open-duckdb-warehouse.js';
import { WarmDuckDbOpener } from './duckdb/warm-duckdb-opener.js';
import { BIGQUERY_DIALECT } from './bigquery/bigquery-dialect.js';
import { DUCKDB_DIALECT } from './duckdb/duckdb-dialect.js';
import type { Warehouse } from './warehouse.js';
import type { WarehouseDialect } from './warehouse-dialect.js';
import type { HashKey } from '../masking/hash-key.js';

export interface OpenWarehouseOptions {
  /** Open for writing (only when the policy could allow a write at all). */
  writable: boolean;
  /** DuckDB: how long to wait for another process holding the file; default 10 s. */
  writerWaitMs?: number;
  /** BigQuery: the service account to impersonate (the policy's `impersonate`). */
  impersonate?: string;
  /** BigQuery: the impersonated credential must not outlive this (the run token's expiry). */
  notAfter?: Date;
  /** No call to a remote catalog or service: analysis alone (`explain --offline`). Local engines ignore it. */
  offline?: boolean;
  /** The `hash` mask's key (the deployment's; only the process that masks holds it). */
  hashKey?: HashKey;
  /** DuckDB: the engine-call gate scope of the run (engine-call-gate.ts); ungated when absent. */
  engineCalls?: EngineCallScope;
  /**
   * DuckDB in a long-lived process: the run the warehouse serves. Each run reads through a warm
   * instance of its own, so DuckDB's memory_limit (one per instance) bounds one run, not everyone.
   */
  run?: string;
}

type Opener = (config: WarehouseConfig, options: OpenWarehouseOptions) => Promise<Warehouse>;

const OPENERS: Record<WarehouseConfig['kind'], Opener> = {
  duckdb: (config, options) => {
    if (!config.path) {
      throw new ConfigError('config.warehouse.path_missing', 'warehouse.path is required when warehouse.kind is duckdb', {
        rule: 'config.warehouse.path',
        hint: 'set warehouse.path to the DuckDB database file, e.g. ./warehouse.duckdb',
      });
    }
    return openDuckDbWarehouse({ path: config.path, writable: options.writable, writerWaitMs: options.writerWaitMs, memoryLimitBytes: config.maxQueryMemoryBytes, threads: config.queryThreads, hashKey: options.hashKey, engineCalls: options.engineCalls });
  },
  // loaded on demand: the Google client libraries cost ~0.5 s to import, and most runs use DuckDB
  bigquery: async (config, options) =>
    (await import('./bigquery/open-bigquery-warehouse.js')).openBigQueryWarehouse(config, {
      impersonate: options.impersonate,
      notAfter: options.notAfter,
      offline: options.offline,
      hashKey: options.hashKey,
    }),
};

/** Each engine's own traits (its folder declares them), known before a warehouse is opened. */
const DIALECTS: Record<WarehouseConfig['kind'], WarehouseDialect> = { duckdb: DUCKDB_DIALECT, bigquery: BIGQUERY_DIALECT };

/** Throws ConfigError for an unknown kind. */
export function warehouseDialectOf(kind: WarehouseConfig['kind']): WarehouseDialect {
  if (!Object.hasOwn(DIALECTS, kind)) {
    throw new ConfigError('config.warehouse.kind', `unknown warehouse.kind "${String(kind)}"`, {
      rule: 'config.warehouse.kind',
      hint: `use one of: ${Object.keys(DIALECTS).join(', ')}`,
    });
  }
  return DIALECTS[kind];
}

/**
 * For a long-lived process (gateway, `hoopq mcp`, and the CLI, which simply uses it once):
 * DuckDB's read-only instance is opened once and lent to each query (warm-duckdb-opener.ts);
 * other kinds open per call. close() lets the warm instance go once its queries are done.
 */
export interface WarehouseOpener {
  open(options: OpenWarehouseOptions): Promise<Warehouse>;
  close(): void;
}

export function createWarehouseOpener(config: WarehouseConfig): WarehouseOpener {
  if (config.kind !== 'duckdb' || !config.path) return { open: (options) => openWarehouse(config, options), close: () => {} };
  const warm = new WarmDuckDbOpener({ path: config.path, memoryLimitBytes: config.maxQueryMemoryBytes, threads: config.queryThreads });
  return {
    async open(options) {
      const warehouse = await warm.open(options);
      warehouse.useHashKey(options.hashKey); // read at every open: a rotated key applies at once
      return warehouse;
    },
    close: () => warm.close(),
  };
}

/** Throws ConfigError for an unknown kind or missing settings; the opener's own errors otherwise. */
export async function openWarehouse(config: WarehouseConfig, options: OpenWarehouseOptions): Promise<Warehouse> {
  const opener = Object.hasOwn(OPENERS, config.kind) ? OPENERS[config.kind] : undefined;
  if (!opener) {
    throw new ConfigError('config.warehouse.kind', `unknown warehouse.kind "${String(config.kind)}"`, {
      rule: 'config.warehouse.kind',
      hint: `use one of: ${Object.keys(OPENERS).join(', ')}`,
    });
  }
  return opener(config, options);
}
