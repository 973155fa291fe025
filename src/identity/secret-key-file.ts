/**
 * Secrets kept in files beside the signing keys: the operator key (mints and revokes through
 * the gateway), the audit-writer key (appends records for direct-mode writers) and the `hash`
 * mask's key (never leaves the process that masks).
 * Created on first start (random 256 bits, mode 0600, never overwritten); a file readable by
 * group or others is refused, like a private signing key. Compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { assertOwnerOnly } from './signing-keys.js';

export const OPERATOR_KEY_FILE = 'operator.key';
export const AUDIT_WRITER_KEY_FILE = 'audit-writer.key';
/** The `hash` mask's HMAC key (masking/hash-key.ts). */
export const HASH_KEY_FILE = 'hash.key';

const KEY_TEXT = /^hq[a-z]{2}_[A-Za-z0-9_-]{43}$/;

/** The secret in `file`, created (with its 0700 folder) when absent. */
export function loadOrCreateSecretKey(file: string, prefix: 'hqop' | 'hqaw' | 'hqhk'): string {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, `${prefix}_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError('keys.unwritable', `cannot create ${file}: ${(err as Error).message}`, { rule: 'keys.permissions' });
    }
  }
  return readSecretKey(file);
}

/** Reads an existing secret; ConfigError when missing, loose or malformed. */
export function readSecretKey(file: string): string {
  if (!fs.existsSync(file)) {
    throw new ConfigError('keys.secret_missing', `no key file at ${file}`, {
      rule: 'keys.secret',
      hint: 'copy the file from the gateway\'s keys folder (mode 0600)',
    });
  }
  assertOwnerOnly(file, 'file');
  const text = fs.readFileSync(file, 'utf8').trim();
  if (!KEY_TEXT.test(text)) {
    throw new ConfigError('keys.secret_invalid', `${file} does not hold a hoopq key`, {
      rule: 'keys.secret',
      hint: `delete ${file} on the gateway to have a new one created at its next start`,
    });
  }
  return text;
}

/** Constant-time equality; hashing first makes the comparison independent of length too. */
export function isSameSecret(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The 32 secret bytes of a key file's text (`hq??_<base64url>`). */
export function secretKeyBytes(text: string): Buffer {
  return Buffer.from(text.slice(text.indexOf('_') + 1), 'base64url');
}

/**
 * Replaces the key in `file` with a new one; the old file is kept as `<file>.retired-<time>`
 * (mode 0600) so hashes made under it can still be explained. Returns both texts.
 */
export function rotateSecretKey(file: string, prefix: 'hqhk', now: Date): { previous: string | null; current: string } {
  let previous: string | null = null;
  if (fs.existsSync(file)) {
    previous = readSecretKey(file);
    fs.renameSync(file, `${file}.retired-${now.toISOString().replace(/[:.]/g, '-')}`);
  }
  return { previous, current: loadOrCreateSecretKey(file, prefix) };
}
