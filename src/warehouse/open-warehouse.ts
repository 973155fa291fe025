/**
 * The one place a `warehouse.kind` from hoopq.yaml becomes a Warehouse. Adding a warehouse
 * means adding a folder and one line in OPENERS; nothing registers itself by being imported.
 */
import type { WarehouseConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { EngineCallScope } from './engine-call-gate.js';
import { openDuckDbWarehouse } from './duckdb/open-duckdb-warehouse.js';
import type { SqlDialect } from '../masking/redact-sql.js';
import type { Warehouse } from './warehouse.js';

export interface OpenWarehouseOptions {
  /** Open for writing (only when the policy could allow a write at all). */
  writable: boolean;
  /** DuckDB: how long to wait for another process holding the file; default 10 s. */
  writerWaitMs?: number;
  /** BigQuery: the service account to impersonate (the policy's `impersonate`). */
  impersonate?: string;
  /** BigQuery: the impersonated credential must not outlive this (the run token's expiry). */
  notAfter?: Date;
  /** DuckDB: the engine-call gate scope of the run (engine-call-gate.ts); ungated when absent. */
  engineCalls?: EngineCallScope;
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
    return openDuckDbWarehouse({ path: config.path, writable: options.writable, writerWaitMs: options.writerWaitMs, engineCalls: options.engineCalls });
  },
  // loaded on demand: the Google client libraries cost ~0.5 s to import, and most runs use DuckDB
  bigquery: async (config, options) =>
    (await import('./bigquery/open-bigquery-warehouse.js')).openBigQueryWarehouse(config, { impersonate: options.impersonate, notAfter: options.notAfter }),
};

/** The SQL dialect each warehouse kind speaks (how its text is read for redaction before it is analysed). */
const DIALECTS: Record<WarehouseConfig['kind'], SqlDialect> = { duckdb: 'duckdb', bigquery: 'googlesql' };

export function sqlDialectOf(kind: WarehouseConfig['kind']): SqlDialect {
  return Object.hasOwn(DIALECTS, kind) ? DIALECTS[kind] : 'duckdb';
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
