/**
 * The exact SQL of a query under a masking policy is kept in the audit log only sealed
 * (AES-256-GCM with a deployment key, file mode 0600 beside the signing keys), next to a
 * literal-redacted `sql` anyone reading the log may see. The operator's `replay` unseals it;
 * a reader of the log alone learns no literal the caller typed (which may be a raw value of a
 * masked column, `WHERE ssn = '…'`). GCM's tag also makes the sealed text tamper-evident on
 * top of the hash chain.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditWriteError, ConfigError } from '../errors.js';

const KEY_FILE = 'audit-sql.key';
const VERSION = 'v1';

export function loadOrCreateSqlSealKey(keysDir: string): Buffer {
  const file = join(keysDir, KEY_FILE);
  if (!existsSync(file)) {
    // Written whole under a private name, then linked into place: a process racing us either
    // wins the link (and we read its key) or loses it; nobody ever reads a half-written key.
    const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(keysDir, { recursive: true, mode: 0o700 });
      writeFileSync(temp, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditWriteError('audit.seal_key', `cannot create the audit SQL sealing key ${file} (${(err as NodeJS.ErrnoException).code ?? err})`, { cause: err });
      }
    } finally {
      rmSync(temp, { force: true });
    }
  }
  return readSqlSealKey(keysDir)!;
}

/**
 * loadOrCreateSqlSealKey for a long-lived process: the key is read again only when its file
 * changed (inode, mode, size, mtime), so a loosened permission is still refused at once.
 */
export function createSqlSealKeyLoader(keysDir: string): () => Buffer {
  const file = join(keysDir, KEY_FILE);
  let cached: { stamp: string; key: Buffer } | undefined;
  const stampOf = () => {
    try {
      const st = statSync(file);
      return `${st.ino}:${st.mode}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  return () => {
    const stamp = stampOf();
    if (cached && cached.stamp === stamp) return cached.key;
    const key = loadOrCreateSqlSealKey(keysDir);
    // the stamp from before the read: a change while reading only means reading once more
    cached = stamp === 'missing' ? undefined : { stamp, key };
    return key;
  };
}

/** The deployment's sealing key, or null when there is none (nothing was ever sealed with it). */
export function readSqlSealKey(keysDir: string): Buffer | null {
  const file = join(keysDir, KEY_FILE);
  if (!existsSync(file)) return null;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new ConfigError('keys.permissions', `the audit SQL sealing key ${file} is readable by others (mode ${mode.toString(8)})`, {
      hint: `chmod 600 ${file}`,
    });
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError('keys.invalid', `the audit SQL sealing key ${file} is not a 32-byte key`);
  return key;
}

export function sealSql(sql: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(sql, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), ct.toString('base64'), cipher.getAuthTag().toString('base64')].join(':');
}

/** The exact SQL, or throws ConfigError when the text was altered or the key is another's. */
export function unsealSql(sealed: string, key: Buffer): string {
  const [version, iv, ct, tag] = sealed.split(':');
  if (version !== VERSION || !iv || ct === undefined || !tag) throw new ConfigError('audit.sealed_sql', 'the sealed SQL of this record is malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new ConfigError('audit.sealed_sql', 'the sealed SQL of this record cannot be opened with this deployment\'s key (altered, or sealed elsewhere)', { cause: err });
  }
}

