/**
 * The Ed25519 key that signs audit checkpoints: separate from the run-token keys, so a
 * leaked token key cannot vouch for the log and rotating one does not touch the other.
 *
 * Layout under the keys directory (0700, created when first needed):
 *   audit-checkpoint.key          PKCS8 PEM, 0600: the signing key
 *   audit-checkpoint-<kid>.pub    SPKI PEM: its public half; verifiers trust every such file
 * `kid` = the first 16 hex digits of sha256(SPKI DER of the public key), and is checked
 * against the file's content when loaded.
 * Creation is race-free across processes: the key is written to a private temporary file and
 * hard-linked into place; the loser of a race uses the winner's key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { syncDir } from './sync-directory.js';

export interface CheckpointSigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const PRIVATE_FILE = 'audit-checkpoint.key';
const PUBLIC_FILE = /^audit-checkpoint-([0-9a-f]{16})\.pub$/;

export function checkpointKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Loads the signing key, creating the directory and key when absent. Throws ConfigError. */
export function loadOrCreateCheckpointKey(keyDir: string): CheckpointSigningKey {
  ensurePrivateDir(keyDir);
  const file = path.join(keyDir, PRIVATE_FILE);
  if (!fs.existsSync(file)) createKeyFile(keyDir, file);
  const privateKey = readPrivateKey(file);
  const publicKey = createPublicKey(privateKey);
  const keyId = checkpointKeyId(publicKey);
  const pubFile = path.join(keyDir, `audit-checkpoint-${keyId}.pub`);
  if (!fs.existsSync(pubFile)) {
    writeOnce(keyDir, pubFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  }
  return { keyId, privateKey, publicKey };
}

/** Every trusted public key in the directory, by key id. A missing directory gives none. */
export function loadCheckpointPublicKeys(keyDir: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  let names: string[];
  try {
    names = fs.readdirSync(keyDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return keys;
    throw new ConfigError('audit.key_unreadable', `cannot read the keys directory ${keyDir}: ${(err as Error).message}`, { hint: 'check the keys: setting and the directory permissions', cause: err });
  }
  for (const name of names) {
    const m = PUBLIC_FILE.exec(name);
    if (!m) continue;
    const file = path.join(keyDir, name);
    let key: KeyObject;
    try {
      key = createPublicKey(fs.readFileSync(file));
    } catch (err) {
      throw new ConfigError('audit.key_invalid', `${file} is not a readable public key: ${(err as Error).message}`, { hint: 'restore the file or remove it', cause: err });
    }
    // a file whose name does not match its content is not trusted under either id
    if (key.asymmetricKeyType === 'ed25519' && checkpointKeyId(key) === m[1]) keys.set(m[1], key);
  }
  return keys;
}

function ensurePrivateDir(keyDir: string): void {
  try {
    fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ConfigError('audit.key_dir', `cannot create the keys directory ${keyDir}: ${(err as Error).message}`, { hint: 'check the keys: setting and that its parent directory is writable', cause: err });
  }
  const mode = fs.statSync(keyDir).mode & 0o777;
  if (mode & 0o077) {
    throw new ConfigError('audit.key_dir_permissions', `the keys directory ${keyDir} is accessible to other users (mode ${mode.toString(8)})`, {
      rule: 'keys.permissions',
      hint: `run: chmod 700 ${keyDir}`,
    });
  }
}

function readPrivateKey(file: string): KeyObject {
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new ConfigError('audit.key_permissions', `the audit checkpoint key ${file} is readable by other users (mode ${mode.toString(8)})`, {
      rule: 'keys.permissions',
      hint: `run: chmod 600 ${file}`,
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(fs.readFileSync(file));
  } catch (err) {
    throw new ConfigError('audit.key_invalid', `cannot read the audit checkpoint key ${file}: ${(err as Error).message}`, { hint: 'restore the key from backup; a new key makes earlier checkpoints unverifiable unless its .pub file is kept', cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError('audit.key_invalid', `the audit checkpoint key ${file} is ${key.asymmetricKeyType}, not Ed25519`, { hint: 'restore the Ed25519 key from backup' });
  }
  return key;
}

function createKeyFile(keyDir: string, file: string): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeOnce(keyDir, file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
}

/** Writes content to `file` unless it already exists (then keeps the existing one). */
function writeOnce(keyDir: string, file: string, content: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    syncDir(keyDir);
  } catch (err) {
    throw new ConfigError('audit.key_write', `cannot write ${file}: ${(err as Error).message}`, { hint: 'check that the keys directory is writable', cause: err });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

