/**
 * The state store's anchor: a small file in the keys directory that names the one state
 * store this deployment uses (`<keys>/state-store.json`, mode 0600).
 *
 * Why: the state store holds the kill switch (revocations) and the budgets. A store that is
 * deleted, replaced or unreadable must not be silently recreated empty, or a revoked run
 * works again (issue 13). So the store carries a random id, the anchor records it, and every
 * open compares the two, as the audit log's signed checkpoints let the log sink notice a
 * deleted log (`audit.log_replaced`). The anchor lives with the signing keys: losing the
 * keys directory already stops every token, so an anchor cannot be lost on its own without
 * the deployment failing closed. `hoopq state init` is the only way to name a new store.
 *
 * Input: the anchor's path. Output: the anchor, or undefined when there is none.
 * Invariants: written atomically (temporary file, fsync, rename, directory fsync), so a
 * reader sees the old anchor or the new one, never a torn one; unreadable or invalid is an
 * error (ConfigError, exit 3), never "no anchor".
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { syncDir } from '../audit/sync-directory.js';
import { ConfigError } from '../errors.js';

export const STATE_ANCHOR_FILE = 'state-store.json';

export interface StateAnchor {
  version: 1;
  /** The store's id (also in the store's own `meta` table). */
  store_id: string;
  /** When the store was created or adopted (RFC 3339). */
  created: string;
  /** The store's path when it was anchored (information for the operator). */
  path: string;
}

export function stateAnchorPath(keysDir: string): string {
  return path.join(keysDir, STATE_ANCHOR_FILE);
}

export function readStateAnchor(file: string): StateAnchor | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('state.anchor_unreadable', `cannot read the state store's anchor ${file}: ${(err as Error).message}`, {
      rule: 'state.anchor',
      hint: `make ${file} readable by this user; it names the state store this deployment uses`,
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const anchor = value as StateAnchor | undefined;
  if (!anchor || anchor.version !== 1 || typeof anchor.store_id !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(anchor.store_id) || typeof anchor.created !== 'string' || typeof anchor.path !== 'string') {
    throw new ConfigError('state.anchor_invalid', `the state store's anchor ${file} is damaged`, {
      rule: 'state.anchor',
      hint: 'restore it from a backup, or rebuild the state store from the audit log with `hoopq state init` (docs/identity.md)',
    });
  }
  return anchor;
}

export function writeStateAnchor(file: string, anchor: StateAnchor): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(anchor, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
}

export function newStateStoreId(): string {
  return randomBytes(12).toString('base64url');
}
