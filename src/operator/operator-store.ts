/**
 * Personal operator keys (`hoopq operator add NAME`): each operator gets their own random
 * 256-bit key, shown once; the store keeps only its SHA-256, so the state file never holds a
 * usable key. Lives in the identity state's SQLite file, in a table of its own.
 * Invariants: a name has at most one key; removing an operator ends what their key can do at
 * its next use; keys are looked up by digest (a digest match leaks nothing usable).
 */
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { openWalDatabase } from '../sqlite/open-wal-database.js';
import type { SqliteDatabase } from '../sqlite/open-sqlite.js';
import type { Operator } from './operator.js';
import { OPERATOR_NAME_PATTERN } from './operators-config.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS operator_keys (
  name TEXT PRIMARY KEY,
  key_sha256 TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** hqok_ + 43 base64url characters (256 bits). */
export const OPERATOR_KEY_PATTERN = /^hqok_[A-Za-z0-9_-]{43}$/;

export interface OperatorKeyInfo {
  name: string;
  createdAt: string;
}

export function openOperatorStore(file: string): OperatorStore {
  return new OperatorStore(openWalDatabase(file, SCHEMA, 'operator store'));
}

export class OperatorStore {
  constructor(private readonly db: SqliteDatabase) {}

  /** A new key for `name` (replacing any old one, which stops working); returns the key, the only time it exists in clear. */
  addKey(name: string, now: Date = new Date()): string {
    checkOperatorName(name);
    const key = `hqok_${randomBytes(32).toString('base64url')}`;
    this.db
      .prepare('INSERT INTO operator_keys (name, key_sha256, created_at_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET key_sha256 = excluded.key_sha256, created_at_ms = excluded.created_at_ms')
      .run(name, operatorKeyDigest(key), now.getTime());
    return key;
  }

  remove(name: string): boolean {
    return Number(this.db.prepare('DELETE FROM operator_keys WHERE name = ?').run(name).changes) === 1;
  }

  list(): OperatorKeyInfo[] {
    return this.db
      .prepare('SELECT name, created_at_ms FROM operator_keys ORDER BY name')
      .all()
      .map((r) => ({ name: String(r.name), createdAt: new Date(Number(r.created_at_ms)).toISOString() }));
  }

  /** The operator a key belongs to, or undefined. */
  authenticate(key: string | undefined): Operator | undefined {
    if (typeof key !== 'string' || !OPERATOR_KEY_PATTERN.test(key.trim())) return undefined;
    const row = this.db.prepare('SELECT name FROM operator_keys WHERE key_sha256 = ?').get(operatorKeyDigest(key));
    return row ? { name: String(row.name), auth: 'key' } : undefined;
  }

  /**
   * Whether `name` still holds the key with this digest: what a console session opened with a
   * key is checked against on every request, so removing an operator (or giving them a new key)
   * ends their sessions too, not only their key's next use.
   */
  isCurrentKey(name: string, keySha256: string): boolean {
    return this.db.prepare('SELECT 1 AS ok FROM operator_keys WHERE name = ? AND key_sha256 = ?').get(name, keySha256) !== undefined;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

export function checkOperatorName(name: string): void {
  if (!OPERATOR_NAME_PATTERN.test(name)) {
    throw new UsageError('usage.operator_name', `"${name}" is not an operator name`, {
      hint: 'use letters, digits and . _ @ + - (e.g. alice or alice@example.com), at most 128 characters',
    });
  }
}

/** The SHA-256 of a personal key, as the store keeps it. */
export function operatorKeyDigest(key: string): string {
  return createHash('sha256').update(key.trim()).digest('hex');
}
