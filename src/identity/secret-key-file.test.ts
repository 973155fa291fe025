import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { isSameSecret, loadOrCreateSecretKey, readSecretKey } from './secret-key-file.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret key files', () => {
  it('creates a 0600 key once in a 0700 folder and then keeps it', () => {
    const file = join(dir, 'keys', 'operator.key');
    const first = loadOrCreateSecretKey(file, 'hqop');
    expect(first).toMatch(/^hqop_[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect(loadOrCreateSecretKey(file, 'hqop')).toBe(first);
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
  });

  it('refuses a key readable by others, a missing key and a malformed key', () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, `hqaw_${'a'.repeat(43)}\n`, { mode: 0o644 });
    chmodSync(loose, 0o644);
    expect(() => readSecretKey(loose)).toThrow(ConfigError);
    expect(() => readSecretKey(join(dir, 'absent.key'))).toThrow(ConfigError);
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'password123\n', { mode: 0o600 });
    expect(() => readSecretKey(bad)).toThrow(/does not hold a hoopq key/);
  });

  it('compares exactly', () => {
    const k = `hqop_${'x'.repeat(43)}`;
    expect(isSameSecret(k, k)).toBe(true);
    expect(isSameSecret(k.slice(0, -1), k)).toBe(false);
    expect(isSameSecret(k + 'y', k)).toBe(false);
    expect(isSameSecret('', k)).toBe(false);
    expect(isSameSecret(undefined, k)).toBe(false);
  });
});
