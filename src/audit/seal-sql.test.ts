import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadOrCreateSqlSealKey, sealSql, unsealSql } from './seal-sql.js';

describe('sealed SQL', () => {
  it('round-trips, and a tampered or foreign seal is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-seal-'));
    const key = loadOrCreateSqlSealKey(dir);
    expect(statSync(join(dir, 'audit-sql.key')).mode & 0o777).toBe(0o600);
    const sql = "SELECT 1 WHERE ssn = '123-45-6789'";
    const sealed = sealSql(sql, key);
    expect(sealed).not.toContain('6789');
    expect(unsealSql(sealed, loadOrCreateSqlSealKey(dir))).toBe(sql);
    const [v, iv, ct, tag] = sealed.split(':');
    const flipped = Buffer.from(ct!, 'base64');
    flipped[0] ^= 1;
    expect(() => unsealSql([v, iv, flipped.toString('base64'), tag].join(':'), key)).toThrow(ConfigError);
    expect(() => unsealSql(sealed, loadOrCreateSqlSealKey(mkdtempSync(join(tmpdir(), 'hoopq-seal-'))))).toThrow(ConfigError);
  });

  it('processes racing to create the key all get the same, whole key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-seal-race-'));
    // the real module, as built by `npm test` (tsc runs first), in 8 racing processes
    const built = join(import.meta.dirname, '..', '..', 'dist', 'audit', 'seal-sql.js');
    const child = `import(${JSON.stringify(pathToFileURL(built).href)}).then((m) =>
      process.stdout.write(m.loadOrCreateSqlSealKey(${JSON.stringify(dir)}).toString('base64')))`;
    const outputs = await Promise.all(
      Array.from({ length: 8 }, () => new Promise<string>((resolve) => {
        const p = spawn(process.execPath, ['-e', child]);
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.on('close', () => resolve(out));
      })),
    );
    expect(new Set(outputs).size).toBe(1);
    expect(Buffer.from(outputs[0]!, 'base64')).toHaveLength(32);
    expect(loadOrCreateSqlSealKey(dir).toString('base64')).toBe(outputs[0]);
    expect(readdirSync(dir)).toEqual(['audit-sql.key']);
  });
});
