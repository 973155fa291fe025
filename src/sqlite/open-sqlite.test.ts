import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { immediateTransaction, isSqliteBusy, openSqlite } from './open-sqlite.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-sqlite-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hasNodeSqlite = (() => {
  try {
    return typeof (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule === 'function' &&
      !!process.getBuiltinModule('node:sqlite');
  } catch {
    return false;
  }
})();

describe('openSqlite', () => {
  it('runs on node:sqlite where Node has it, on better-sqlite3 only where it does not', () => {
    const db = openSqlite(path.join(dir, 'driver.db'), 100);
    try {
      expect(db.driver).toBe(hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3');
      expect(db.isOpen).toBe(true);
    } finally {
      db.close();
    }
    expect(db.isOpen).toBe(false);
  });

  it('sets the busy timeout it was given', () => {
    const db = openSqlite(path.join(dir, 'timeout.db'), 1234);
    try {
      expect(db.prepare('PRAGMA busy_timeout').get()).toEqual({ timeout: 1234 });
    } finally {
      db.close();
    }
  });

  it('immediateTransaction commits what fn wrote, and rolls back everything when fn throws', () => {
    const db = openSqlite(path.join(dir, 'tx.db'), 100);
    try {
      db.exec('CREATE TABLE t (n INTEGER)');
      immediateTransaction(db, () => db.prepare('INSERT INTO t VALUES (?)').run(1));
      expect(() =>
        immediateTransaction(db, () => {
          db.prepare('INSERT INTO t VALUES (?)').run(2);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(db.prepare('SELECT group_concat(n) AS ns FROM t').get()).toEqual({ ns: '1' });
      // no transaction was left open: a new one can begin
      expect(immediateTransaction(db, () => 'ok')).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('a second connection cannot take the write lock while the first holds it, and says busy', () => {
    const file = path.join(dir, 'busy.db');
    const a = openSqlite(file, 0);
    const b = openSqlite(file, 0);
    try {
      a.exec('BEGIN IMMEDIATE');
      let caught: unknown;
      try {
        b.exec('BEGIN IMMEDIATE');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeDefined();
      expect(isSqliteBusy(caught)).toBe(true);
      a.exec('ROLLBACK');
      b.exec('BEGIN IMMEDIATE');
      b.exec('ROLLBACK');
    } finally {
      a.close();
      b.close();
    }
  });

  it('isSqliteBusy is false for other SQLite errors and non-errors', () => {
    const db = openSqlite(path.join(dir, 'other.db'), 0);
    try {
      let caught: unknown;
      try {
        db.exec('SELEC 1');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeDefined();
      expect(isSqliteBusy(caught)).toBe(false);
      expect(isSqliteBusy(undefined)).toBe(false);
      expect(isSqliteBusy(new Error('database is locked'))).toBe(false);
    } finally {
      db.close();
    }
  });

  // The Node 24 regression this module exists for: a connection whose statements are
  // collected by the GC, or which is still open when a worker thread or the process ends,
  // must not abort the process (better-sqlite3 12 did, with exit 134).
  it('survives statements collected by the GC and connections left open at worker and process exit', () => {
    const buildDir = path.join(dir, 'build');
    fs.mkdirSync(buildDir, { recursive: true });
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(here, 'open-sqlite.ts'), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    fs.writeFileSync(path.join(buildDir, 'open-sqlite.js'), outputText);
    fs.writeFileSync(path.join(buildDir, 'package.json'), '{"type":"module"}\n');
    // resolve better-sqlite3 from the repository when the built file loads it
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(buildDir, 'node_modules'), 'dir');
    const mod = path.join(buildDir, 'open-sqlite.js');
    const script = `
      import { Worker } from 'node:worker_threads';
      const { openSqlite } = await import(${JSON.stringify(mod)});
      const file = ${JSON.stringify(path.join(dir, 'gc.db'))};
      const churn = () => {
        const db = openSqlite(file, 1000);
        db.exec('CREATE TABLE IF NOT EXISTS t (n INTEGER)');
        for (let i = 0; i < 3000; i++) db.prepare('SELECT ' + i + ' AS n, count(*) FROM t').get();
        return db; // left open on purpose
      };
      if (process.argv[2] === 'worker') { churn(); }
      else {
        churn(); globalThis.gc(); churn();
        await new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { argv: ['worker'] });
          w.on('error', reject); w.on('exit', resolve);
        });
        globalThis.gc();
        console.log('done');
      }`;
    const scriptFile = path.join(buildDir, 'churn.mjs');
    fs.writeFileSync(scriptFile, script);
    const r = spawnSync(process.execPath, ['--expose-gc', scriptFile], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toMatch(/Assertion failed/);
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('done');
  }, 90_000);
});
