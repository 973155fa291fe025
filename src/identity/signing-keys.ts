/**
 * The deployment's run-token signing keys, on disk.
 *
 * Input: a keys directory (config `keys:`). Output: the current Ed25519 private key for
 * signing, or every still-trusted public key (by `kid`) for verification.
 * Invariants: the directory is 0700 and private keys 0600, or nothing loads (ConfigError,
 * exit 3, with the chmod that fixes it); only the current key has a private half on disk;
 * a retired public key is kept until every token it can have signed has expired
 * (`retire_after` = rotation time + maximum TTL + clock skew) and then a grace window of
 * RETIRED_KEY_GRACE_SECONDS more, and it is pruned only once, in addition, at least
 * KEEP_RETIRED_ROTATIONS rotations followed the one that retired it: a rotation under a
 * clock that is wrong by up to 12 h, either way, never cuts off tokens that are still
 * valid (issue 13), and no number of quick rotations does either.
 *
 * Layout:
 *   keyset.json        {"version":1,"deployment":ID,"keys":[{kid,created,status,retired_at,retire_after}]}
 *   token-<kid>.key    PKCS8 PEM, 0600 (current key only)
 *   token-<kid>.pub    SPKI PEM
 *   keyset.lock        held for milliseconds while the keyset is created or rotated
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, importSPKI } from 'jose';
import type { CryptoKey } from 'jose';
import { ConfigError } from '../errors.js';

/** No run token lives longer than this (docs/reference.md: at most 12h). Retired keys are kept this long. */
export const MAX_TOKEN_TTL_SECONDS = 12 * 60 * 60;
/** Allowance for clocks that disagree; also added to key retention. */
export const CLOCK_SKEW_SECONDS = 30;
/** A retired key is pruned only after this many rotations since the one that retired it (and after its grace window). */
export const KEEP_RETIRED_ROTATIONS = 2;
/** How long past `retire_after` a retired key still verifies: room for a rotation made under a wrong clock. */
export const RETIRED_KEY_GRACE_SECONDS = 12 * 60 * 60;

const KEYSET_FILE = 'keyset.json';
const LOCK_FILE = 'keyset.lock';
const LOCK_WAIT_MS = 5_000;
const LOCK_STALE_MS = 30_000;

export type KeyStatus = 'current' | 'retired';

export interface KeysetEntry {
  kid: string;
  created: string;
  status: KeyStatus;
  retired_at: string | null;
  /** After this instant no token signed by the key can still be valid; the key is pruned. */
  retire_after: string | null;
}

export interface Keyset {
  version: 1;
  /** Random id of this deployment; run tokens carry `iss: hoopq:<deployment>`. */
  deployment: string;
  keys: KeysetEntry[];
}

export interface SigningKey {
  kid: string;
  deployment: string;
  privateKey: CryptoKey;
}

export interface VerificationKeys {
  deployment: string;
  /** kid -> public key, for current and not-yet-pruned retired keys. */
  keys: Map<string, CryptoKey>;
}

export interface KeyRotation {
  kid: string;
  deployment: string;
  retired: string[];
  pruned: string[];
}

export function privateKeyPath(dir: string, kid: string): string {
  return path.join(dir, `token-${kid}.key`);
}

export function publicKeyPath(dir: string, kid: string): string {
  return path.join(dir, `token-${kid}.pub`);
}

/** The current signing key; creates the directory, deployment id and first key when absent. */
export async function loadSigningKey(dir: string, options: { now?: Date } = {}): Promise<SigningKey> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await loadSigningKeyOnce(dir, options);
    } catch (err) {
      // A rotation in another process may delete the key we just read about; re-read once or twice.
      if (attempt >= 3 || !(err instanceof ConfigError) || err.code !== 'keys.unreadable' || !readKeyset(dir)) throw err;
    }
  }
}

async function loadSigningKeyOnce(dir: string, options: { now?: Date }): Promise<SigningKey> {
  let keyset = readKeyset(dir);
  if (!keyset || !currentEntry(keyset)) {
    keyset = await withKeysetLock(dir, async () => {
      const existing = readKeyset(dir);
      if (existing && currentEntry(existing)) return existing;
      const created = existing ?? { version: 1 as const, deployment: randomBytes(12).toString('base64url'), keys: [] };
      const kid = await writeNewKeyPair(dir);
      created.keys.push({ kid, created: (options.now ?? new Date()).toISOString(), status: 'current', retired_at: null, retire_after: null });
      writeKeysetAtomically(dir, created);
      return created;
    });
  }
  const entry = currentEntry(keyset)!;
  const file = privateKeyPath(dir, entry.kid);
  assertOwnerOnly(file, 'file');
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('keys.unreadable', `cannot read the current signing key ${file}: ${(err as Error).message}`, {
      rule: 'keys.current',
      hint: `restore ${file}, or create a new signing key with \`hoopq keys rotate\``,
    });
  }
  try {
    return { kid: entry.kid, deployment: keyset.deployment, privateKey: await importPKCS8(pem, 'EdDSA') };
  } catch {
    throw new ConfigError('keys.invalid', `signing key ${file} is not an Ed25519 PKCS8 PEM private key`, {
      rule: 'keys.current',
      hint: `restore ${file}, or create a new signing key with \`hoopq keys rotate\``,
    });
  }
}

/**
 * Imported public keys by file, for a long-lived process: a key file is imported again only
 * when it changed (inode, size or mtime). The keyset itself is still read on every call, so
 * which keys count (rotation, retirement, pruning) is decided afresh each time.
 */
export type PublicKeyCache = Map<string, { stamp: string; key: CryptoKey }>;

/**
 * Every public key a valid token may name, without creating anything: a deployment that has
 * never minted has no keys, and every token is then signed by an unknown key.
 */
export async function loadVerificationKeys(dir: string, options: { now?: Date; cache?: PublicKeyCache } = {}): Promise<VerificationKeys | undefined> {
  const keyset = readKeyset(dir);
  if (!keyset) return undefined;
  const current = currentEntry(keyset);
  // "Refuse to start on looser permissions of private keys": verification checks them too,
  // so a deployment with a leaked-looking key stops everywhere, not only when minting.
  if (current && fs.existsSync(privateKeyPath(dir, current.kid))) assertOwnerOnly(privateKeyPath(dir, current.kid), 'file');
  const now = options.now ?? new Date();
  const keys = new Map<string, CryptoKey>();
  for (const entry of keyset.keys) {
    if (!isTrusted(entry, now)) continue;
    const file = publicKeyPath(dir, entry.kid);
    const key = await readPublicKey(file, options.cache);
    if (key) keys.set(entry.kid, key);
  }
  if (options.cache) for (const file of options.cache.keys()) if (!keyset.keys.some((e) => publicKeyPath(dir, e.kid) === file)) options.cache.delete(file);
  return { deployment: keyset.deployment, keys };
}

/** The key, or undefined when its file is missing (its tokens then fail closed). */
async function readPublicKey(file: string, cache: PublicKeyCache | undefined): Promise<CryptoKey | undefined> {
  let stamp = '';
  if (cache) {
    try {
      const st = fs.statSync(file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      cache.delete(file);
      return undefined;
    }
    const hit = cache.get(file);
    if (hit && hit.stamp === stamp) return hit.key;
  }
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // a missing public key only makes its tokens unverifiable: fail closed
  }
  let key: CryptoKey;
  try {
    key = await importSPKI(pem, 'EdDSA');
  } catch {
    throw new ConfigError('keys.invalid', `public key ${file} is not an Ed25519 SPKI PEM key`, {
      rule: 'keys.public',
      hint: `restore ${file} or remove its entry from ${path.join(path.dirname(file), KEYSET_FILE)}`,
    });
  }
  cache?.set(file, { stamp, key });
  return key;
}

/**
 * Makes a new current key. The previous current key's private half is deleted (nothing may
 * sign with it again); its public half stays until `retire_after` has passed and
 * KEEP_RETIRED_ROTATIONS newer keys exist (isPrunable), then it is pruned.
 */
export async function rotateSigningKey(dir: string, options: { now?: Date } = {}): Promise<KeyRotation> {
  const now = options.now ?? new Date();
  return withKeysetLock(dir, async () => {
    const keyset = readKeyset(dir) ?? { version: 1 as const, deployment: randomBytes(12).toString('base64url'), keys: [] };
    const retired: string[] = [];
    const pruned: string[] = [];
    const retireAfter = new Date(now.getTime() + (MAX_TOKEN_TTL_SECONDS + 2 * CLOCK_SKEW_SECONDS) * 1000).toISOString();
    for (const entry of keyset.keys) {
      if (entry.status !== 'current') continue;
      entry.status = 'retired';
      entry.retired_at = now.toISOString();
      entry.retire_after = retireAfter;
      retired.push(entry.kid);
    }
    keyset.keys = keyset.keys.filter((entry, index) => {
      const expired = isPrunable(entry, keyset.keys.length - 1 - index, now);
      if (expired) {
        pruned.push(entry.kid);
        fs.rmSync(publicKeyPath(dir, entry.kid), { force: true });
        fs.rmSync(privateKeyPath(dir, entry.kid), { force: true });
      }
      return !expired;
    });
    const kid = await writeNewKeyPair(dir);
    keyset.keys.push({ kid, created: now.toISOString(), status: 'current', retired_at: null, retire_after: null });
    writeKeysetAtomically(dir, keyset);
    // Only after the new keyset is in place, so a concurrent reader never finds no current key.
    for (const old of retired) fs.rmSync(privateKeyPath(dir, old), { force: true });
    return { kid, deployment: keyset.deployment, retired, pruned };
  });
}

/**
 * Whether verification (and the JWKS) still trusts a key: the current key, and a retired
 * one until its grace window past `retire_after` ends. Tokens are still checked for expiry
 * on their own; the window only absorbs a rotation whose clock was wrong.
 */
export function isTrusted(entry: KeysetEntry, now: Date): boolean {
  if (entry.status !== 'retired' || entry.retire_after === null) return true;
  return Date.parse(entry.retire_after) + RETIRED_KEY_GRACE_SECONDS * 1000 > now.getTime();
}

/**
 * A retired key may go once it is no longer trusted (isTrusted) and more than
 * KEEP_RETIRED_ROTATIONS keys came after it, the one this rotation makes included (the
 * first of them is the key that retired it): a clock that runs ahead during one or two
 * rotations does not remove a key whose tokens are still valid.
 */
function isPrunable(entry: KeysetEntry, keysAfter: number, now: Date): boolean {
  if (entry.status !== 'retired') return false;
  return keysAfter + 1 > KEEP_RETIRED_ROTATIONS && !isTrusted(entry, now);
}

/** The keyset, or undefined when the directory or file does not exist yet. */
export function readKeyset(dir: string): Keyset | undefined {
  if (!fs.existsSync(dir)) return undefined;
  assertOwnerOnly(dir, 'directory');
  const file = path.join(dir, KEYSET_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('keys.unreadable', `cannot read ${file}: ${(err as Error).message}`, { rule: 'keys.keyset' });
  }
  const invalid = (why: string) =>
    new ConfigError('keys.keyset_invalid', `${file} is invalid: ${why}`, {
      rule: 'keys.keyset',
      hint: `restore ${file} from a backup; without it no existing token can be verified`,
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const keyset = parsed as Keyset;
  if (!keyset || typeof keyset !== 'object' || keyset.version !== 1) throw invalid('expected {"version": 1, …}');
  if (typeof keyset.deployment !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(keyset.deployment)) throw invalid('bad deployment id');
  if (!Array.isArray(keyset.keys)) throw invalid('keys is not a list');
  for (const entry of keyset.keys) {
    if (!entry || typeof entry.kid !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(entry.kid)) throw invalid('a key has a bad kid');
    if (entry.status !== 'current' && entry.status !== 'retired') throw invalid(`key ${entry.kid} has a bad status`);
  }
  if (keyset.keys.filter((entry) => entry.status === 'current').length > 1) throw invalid('more than one current key');
  return keyset;
}

/** Refuses group/other permission bits on a private key (0600) or the keys directory (0700). */
export function assertOwnerOnly(target: string, kind: 'file' | 'directory'): void {
  // Windows has no POSIX modes; its ACLs are out of scope here.
  if (process.platform === 'win32') return;
  let mode: number;
  try {
    mode = fs.statSync(target).mode & 0o777;
  } catch (err) {
    throw new ConfigError('keys.unreadable', `cannot stat ${target}: ${(err as Error).message}`, { rule: 'keys.permissions' });
  }
  if ((mode & 0o077) === 0) return;
  const wanted = kind === 'file' ? '600' : '700';
  const what = kind === 'file' ? 'private key file' : 'keys directory';
  throw new ConfigError(
    'keys.permissions',
    `refusing to use ${what} ${target}: its mode is 0${mode.toString(8)}, readable by other users; it must be 0${wanted}`,
    { rule: 'keys.permissions', hint: `chmod ${wanted} ${target}`, details: { file: target, mode: `0${mode.toString(8)}` } },
  );
}

function currentEntry(keyset: Keyset): KeysetEntry | undefined {
  return keyset.keys.find((entry) => entry.status === 'current');
}

function ensureKeysDir(dir: string): void {
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  }
  assertOwnerOnly(dir, 'directory');
}

/** Writes a fresh Ed25519 pair; the kid is the start of the public key's RFC 7638 thumbprint. */
async function writeNewKeyPair(dir: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const kid = (await calculateJwkThumbprint(await exportJWK(publicKey))).slice(0, 16);
  // 'wx': never overwrite, and the mode applies at creation so the key is never world-readable.
  fs.writeFileSync(privateKeyPath(dir, kid), await exportPKCS8(privateKey), { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(publicKeyPath(dir, kid), await exportSPKI(publicKey), { mode: 0o644, flag: 'wx' });
  return kid;
}

function writeKeysetAtomically(dir: string, keyset: Keyset): void {
  const file = path.join(dir, KEYSET_FILE);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeSync(fd, `${JSON.stringify(keyset, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** A lock file taken with O_EXCL, so two processes never create or rotate keys at once. */
async function withKeysetLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  ensureKeysDir(dir);
  const lock = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        // A crashed holder leaves its lock behind; key operations take milliseconds.
        if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { force: true });
      } catch {
        /* it vanished between the two calls: retry */
      }
      if (Date.now() > deadline) {
        throw new ConfigError('keys.locked', `keys directory ${dir} is locked by another process (${lock})`, {
          rule: 'keys.lock',
          hint: `if no hoopq process is creating or rotating keys, remove ${lock}`,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return await body();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
