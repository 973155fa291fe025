/**
 * The state store's failures as the operator needs to hear them: every one a ConfigError
 * (exit 3) whose code says what happened and whose hint says what to do — a store that is
 * missing, replaced or not anchored (state-anchor.ts), and SQLite or file-system failures
 * (a lock held elsewhere, a read-only or full file system, an I/O error, a damaged file),
 * never "internal error".
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { isSqliteBusy, sqliteFailureOf } from '../sqlite/open-sqlite.js';
import type { StateAnchor } from './state-anchor.js';

const REINIT_HINT = 'if the file was moved or restored wrongly, put the right one back; otherwise rebuild it from the audit log with `hoopq state init` (docs/identity.md "When the state store is lost")';

export function missingStore(file: string, anchor: StateAnchor): ConfigError {
  return new ConfigError('state.missing', `refused: the state store ${file} is missing (this deployment's store ${anchor.store_id}, created ${anchor.created}), so revocations and budgets cannot be checked; every query is refused until it is restored`, {
    rule: 'state.identity',
    hint: REINIT_HINT,
  });
}

export function replacedStore(file: string, anchor: StateAnchor, found: string | null): ConfigError {
  return new ConfigError('state.replaced', `refused: the state store ${file} is not this deployment's store (it is ${found ? `store ${found}` : 'a store without an id'}; expected ${anchor.store_id}), so revocations and budgets cannot be trusted; every query is refused until it is restored`, {
    rule: 'state.identity',
    hint: REINIT_HINT,
  });
}

export function unanchored(file: string, anchorFile: string, id: string): ConfigError {
  return new ConfigError('state.unanchored', `refused: the state store ${file} (store ${id}) is not the one ${anchorFile} names (that file is missing), so it cannot be trusted; every query is refused`, {
    rule: 'state.identity',
    hint: `restore ${anchorFile} from a backup, or rebuild the store from the audit log with \`hoopq state init\` (docs/identity.md)`,
  });
}

/** A SQLite or file-system failure of the store, as the operator needs to hear it (exit 3). */
export function stateError(file: string, what: string, err: unknown, busyTimeoutMs = 10_000): ConfigError {
  const reason = (err as Error)?.message ?? String(err);
  const dir = path.dirname(file);
  const failure = sqliteFailureOf(err);
  const errno = (err as NodeJS.ErrnoException)?.code;
  const make = (code: string, message: string, hint: string) =>
    new ConfigError(code, `cannot ${what}: the state store ${file} ${message}`, { rule: 'state.store', hint, cause: err });
  if (failure === 'busy' || isSqliteBusy(err)) {
    return make('state.locked', `is locked by another process (waited ${busyTimeoutMs} ms for its write lock)`, `another hoopq process holds the store's write lock and has not let go: retry; if it persists, find the holder with \`fuser ${file}\` and stop it`);
  }
  if (failure === 'read_only' || errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM' || failure === 'permission') {
    return make('state.read_only', `cannot be written (${reason})`, `make ${file} and ${dir} writable by this user, on a writable file system (state: in hoopq.yaml moves it)`);
  }
  // SQLite reports a full disk met while growing its -shm or -wal as an I/O error
  if (failure === 'full' || errno === 'ENOSPC' || errno === 'EDQUOT' || ((failure === 'io' || failure === 'cannot_open') && isFull(dir))) {
    return make('state.full', `cannot grow: the file system is full (${reason})`, `free space on the file system of ${dir}`);
  }
  if (failure === 'corrupt') {
    return make('state.unreadable', `is damaged (${reason}); every query is refused until it is rebuilt`, REINIT_HINT);
  }
  if (failure === 'io' || errno === 'EIO') {
    return make('state.io_error', `hit an I/O error (${reason})`, `check the disk holding ${dir}; if the file is damaged, ${REINIT_HINT}`);
  }
  if (failure === 'cannot_open' && !isWritableDir(dir)) {
    // SQLite says only "unable to open": on a read-only file system it cannot make the -shm file
    return make('state.read_only', `cannot be opened: its directory cannot be written (${reason})`, `make ${dir} writable by this user, on a writable file system (the store needs its -wal and -shm files beside it)`);
  }
  if (failure === 'cannot_open' || errno === 'ENOENT' || errno === 'ENOTDIR' || errno === 'EISDIR') {
    return make('state.unavailable', `cannot be opened (${reason})`, `check that ${dir} exists, is writable by this user and is on a local file system (the store needs its -wal and -shm files beside it)`);
  }
  return make('state.unavailable', `failed (${reason})`, `check ${file} and the disk holding it`);
}

/** Less than 64 KiB left for this user on the file system of `dir`. */
function isFull(dir: string): boolean {
  try {
    const stats = fs.statfsSync(dir);
    return Number(stats.bavail) * Number(stats.bsize) < 64 * 1024;
  } catch {
    return false;
  }
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
