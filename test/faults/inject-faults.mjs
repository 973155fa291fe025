/**
 * The fault-injection test binary's hook: preloaded into a real hoopq process
 * (`node --import test/faults/inject-faults.mjs bin/hoopq …`), it makes one chosen write of
 * the audit log, its checkpoints or the state store fail the way the operating system or
 * SQLite fails: ENOSPC, EIO, EROFS, a lock held elsewhere (BUSY), or the process killed
 * (SIGKILL) before, in the middle of, or right after the write. hoopq's own code is not
 * touched: the hook sits where hoopq meets the OS (node:fs) and SQLite (the driver's
 * statements), i.e. at the process boundary, and is chosen by the environment:
 *
 *   FAULT_PLAN='{"target":"audit","op":"write","nth":2,"fault":"ENOSPC"}'
 *
 * target: audit (the .jsonl log) | checkpoints (<log>.checkpoints) | state (state.db)
 * op:     audit/checkpoints: write | sync;  state: write (INSERT/UPDATE/DELETE) | begin | commit
 * match:  (state) only statements whose SQL contains this text, e.g. "pending_outcomes"
 * nth:    the nth matching operation of this process fails (1-based; default 1)
 * count:  how many in a row from there (default 1; 0 = every one after)
 * fault:  ENOSPC | EIO | EROFS | BUSY | kill (before) | kill-mid (half written, fs only) | kill-after
 * FAULT_TRACE=1 prints every matching operation on stderr.
 * Only for tests: nothing in hoopq loads it.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const plan = process.env.FAULT_PLAN ? JSON.parse(process.env.FAULT_PLAN) : null;
const trace = process.env.FAULT_TRACE === '1';
let seen = 0;

const SQLITE_FAULTS = {
  ENOSPC: ['SQLITE_FULL', 13, 'database or disk is full'],
  EIO: ['SQLITE_IOERR', 10, 'disk I/O error'],
  EROFS: ['SQLITE_READONLY', 8, 'attempt to write a readonly database'],
  BUSY: ['SQLITE_BUSY', 5, 'database is locked'],
};

function die() {
  process.kill(process.pid, 'SIGKILL');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}

/** The fault to apply to this operation, or null; counts matching operations. */
function faultFor(target, op, detail) {
  if (!plan || plan.target !== target || plan.op !== op) return null;
  if (plan.match && !String(detail ?? '').includes(plan.match)) return null;
  seen += 1;
  const nth = plan.nth ?? 1;
  const count = plan.count ?? 1;
  const hit = seen >= nth && (count === 0 || seen < nth + count);
  if (trace) process.stderr.write(`fault-injection: ${target} ${op} #${seen}${hit ? ` -> ${plan.fault}` : ''} ${detail ?? ''}\n`);
  return hit ? plan.fault : null;
}

function errnoError(code, syscall, file) {
  const errno = { ENOSPC: -28, EIO: -5, EROFS: -30 }[code] ?? -5;
  return Object.assign(new Error(`${code}: injected fault, ${syscall} '${file}'`), { code, errno, syscall, path: file });
}

// ---- node:fs: the audit log and its checkpoints --------------------------------------
const fdPaths = new Map();
const origOpen = fs.openSync;
const origClose = fs.closeSync;
fs.openSync = function (file, ...rest) {
  const fd = origOpen.call(this, file, ...rest);
  fdPaths.set(fd, String(file));
  return fd;
};
fs.closeSync = function (fd, ...rest) {
  fdPaths.delete(fd);
  return origClose.call(this, fd, ...rest);
};
function fsTarget(fd) {
  const file = fdPaths.get(fd);
  if (!file) return null;
  if (file.endsWith('.checkpoints')) return 'checkpoints';
  if (file.endsWith('.jsonl')) return 'audit';
  return null;
}
const origWrite = fs.writeSync;
fs.writeSync = function (fd, buffer, ...rest) {
  const target = fsTarget(fd);
  const fault = target && faultFor(target, 'write', fdPaths.get(fd));
  if (fault === 'kill') die();
  if (fault === 'kill-mid' && Buffer.isBuffer(buffer)) {
    origWrite.call(this, fd, buffer.subarray(0, Math.max(1, buffer.length >> 1)));
    die();
  }
  if (fault && fault !== 'kill-after') throw errnoError(fault, 'write', fdPaths.get(fd));
  const written = origWrite.call(this, fd, buffer, ...rest);
  if (fault === 'kill-after') die();
  return written;
};
for (const name of ['fdatasyncSync', 'fsyncSync']) {
  const orig = fs[name];
  fs[name] = function (fd, ...rest) {
    const target = fsTarget(fd);
    const fault = target && faultFor(target, 'sync', fdPaths.get(fd));
    if (fault === 'kill' || fault === 'kill-mid') die();
    if (fault && fault !== 'kill-after') throw errnoError(fault, name.replace('Sync', ''), fdPaths.get(fd));
    const result = orig.call(this, fd, ...rest);
    if (fault === 'kill-after') die();
    return result;
  };
}

// ---- SQLite: the state store (better-sqlite3 on Node 20, node:sqlite where Node has it) --
function sqliteOp(sql) {
  const s = String(sql).trim().toUpperCase();
  if (s.startsWith('BEGIN')) return 'begin';
  if (s.startsWith('COMMIT')) return 'commit';
  if (/^(INSERT|UPDATE|DELETE|REPLACE)\b/.test(s)) return 'write';
  return null;
}
function isStateFile(file) {
  return typeof file === 'string' && path.basename(file) === 'state.db';
}
/** Runs `run` unless the plan says otherwise; `makeError` builds the driver's own error. */
function guarded(file, sql, makeError, run) {
  const op = isStateFile(file) ? sqliteOp(sql) : null;
  const fault = op && faultFor('state', op, sql);
  if (fault === 'kill' || fault === 'kill-mid') die();
  if (fault && fault !== 'kill-after') throw makeError(fault);
  const result = run();
  if (fault === 'kill-after') die();
  return result;
}

const nodeSqlite = (() => {
  try {
    return process.getBuiltinModule?.('node:sqlite') ?? null;
  } catch {
    return null;
  }
})();
if (nodeSqlite?.DatabaseSync) {
  const files = new WeakMap();
  const statements = new WeakMap();
  const Original = nodeSqlite.DatabaseSync;
  const fileOf = (db) => files.get(db) ?? (typeof db.location === 'function' ? db.location() : undefined);
  const makeError = (fault) => {
    const [, errcode, message] = SQLITE_FAULTS[fault] ?? SQLITE_FAULTS.EIO;
    return Object.assign(new Error(message), { code: 'ERR_SQLITE_ERROR', errcode, errstr: message });
  };
  try {
    nodeSqlite.DatabaseSync = class extends Original {
      constructor(file, ...rest) {
        super(file, ...rest);
        files.set(this, String(file));
      }
    };
  } catch {
    // exports not writable: location() names the file instead
  }
  const origExec = Original.prototype.exec;
  Original.prototype.exec = function (sql) {
    return guarded(fileOf(this), sql, makeError, () => origExec.call(this, sql));
  };
  const origPrepare = Original.prototype.prepare;
  Original.prototype.prepare = function (sql, ...rest) {
    const statement = origPrepare.call(this, sql, ...rest);
    statements.set(statement, { sql, file: fileOf(this) });
    return statement;
  };
  const origRun = nodeSqlite.StatementSync.prototype.run;
  nodeSqlite.StatementSync.prototype.run = function (...args) {
    const info = statements.get(this) ?? {};
    return guarded(info.file, info.sql, makeError, () => origRun.apply(this, args));
  };
} else {
  const require = createRequire(path.join(process.cwd(), 'noop.js'));
  let Database;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3');
  } catch {
    Database = require('better-sqlite3');
  }
  const makeError = (fault) => {
    const [code, , message] = SQLITE_FAULTS[fault] ?? SQLITE_FAULTS.EIO;
    return new Database.SqliteError(message, code);
  };
  const origExec = Database.prototype.exec;
  Database.prototype.exec = function (sql) {
    return guarded(this.name, sql, makeError, () => origExec.call(this, sql));
  };
  const probe = new Database(':memory:');
  const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
  probe.close();
  const origRun = Statement.run;
  Statement.run = function (...args) {
    return guarded(this.database?.name, this.source, makeError, () => origRun.apply(this, args));
  };
}
