import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WarehouseConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { openWarehouse } from './open-warehouse.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-open-warehouse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openWarehouse', () => {
  it('opens a duckdb warehouse from its config', async () => {
    const warehouse = await openWarehouse({ kind: 'duckdb', path: join(dir, 'demo.duckdb') }, { writable: true });
    try {
      expect(warehouse.kind).toBe('duckdb');
      expect(warehouse.project).toBe('demo');
    } finally {
      await warehouse.close();
    }
  });

  it.each<[string, WarehouseConfig]>([
    ['duckdb without a path', { kind: 'duckdb' }],
    ['bigquery (not yet available)', { kind: 'bigquery', project: 'p' }],
    ['an unknown kind', { kind: 'postgres' as WarehouseConfig['kind'] }],
    ['a kind that is an Object.prototype key', { kind: 'toString' as WarehouseConfig['kind'] }],
  ])('refuses %s with a ConfigError (exit 3)', async (_label, config) => {
    const err = await openWarehouse(config, { writable: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(3);
  });
});
