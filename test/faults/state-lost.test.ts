/**
 * Black-box: the kill switch survives a lost state store (issue 13). The store is deleted,
 * replaced by a wrong copy, damaged in place, made read-only, locked and left on a full file
 * system, under the CLI and under a running gateway. Every query is then refused (exit 3,
 * saying what happened and how to recover), nothing recreates the store behind the
 * operator's back, a running gateway turns red and cancels running queries within 2 s (a
 * running direct-mode query is cancelled the same way), and
 * after `hoopq state init` (rebuilt from the audit log) a revoked run is still revoked and
 * a budget is no looser than before.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openSqlite } from '../../src/sqlite/open-sqlite.js';
import { createDemo, createDemoInMode, HOOPQ, type Demo } from '../cli/cli-harness.js';
import { countRows, expectLogSound, refusalOf, unitsSpent } from './fault-harness.js';

// each case spawns several hoopq processes one after another: slow on a loaded machine
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const LONG_SQL = 'SELECT count(*) AS n FROM analytics.events a, analytics.events b, analytics.events c WHERE a.id + b.id + c.id < 0';
const J = { HOOPQ_JUSTIFICATION: 'fault test' };

function stateFile(demo: Demo): string {
  return join(demo.dir, '.hoopq', 'state.db');
}

function deleteStore(demo: Demo): void {
  for (const f of readdirSync(join(demo.dir, '.hoopq'))) if (f.startsWith('state.db')) rmSync(join(demo.dir, '.hoopq', f));
}

/** Overwrites the store's first page in place (same file, same inode): a damaged disk block. */
function damageStore(demo: Demo): void {
  const fd = openSync(stateFile(demo), 'r+');
  try {
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
  } finally {
    closeSync(fd);
  }
}

function query(demo: Demo, token: string, sql = 'SELECT 1 AS one') {
  return demo.run(['query', '--format', 'json', sql], { env: { HOOPQ_TOKEN: token, ...J } });
}

const canUnshare = spawnSync('unshare', ['-rm', 'true']).status === 0;

describe('a lost state store under the CLI', () => {
  let demo: Demo;
  let revoked: string;
  let budgeted: string;
  let other: string;

  beforeAll(() => {
    demo = createDemo();
    revoked = demo.mint('analyst-agent', 'lost-revoked');
    budgeted = demo.mint('analyst-agent', 'lost-budget', ['--max-queries', '3']);
    other = demo.mint('analyst-agent', 'lost-other');
    expect(query(demo, revoked).code).toBe(0);
    expect(demo.admin(['token', 'revoke', '--run', 'lost-revoked']).code).toBe(0);
    expect(query(demo, budgeted).code).toBe(0);
    expect(query(demo, budgeted).code).toBe(0);
  });

  afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

  it('deleted: every query is refused with exit 3 — the revoked run too — and nothing recreates the store', () => {
    deleteStore(demo);
    for (const token of [revoked, budgeted, other]) {
      const r = query(demo, token);
      expect(r.code, r.stderr).toBe(3);
      expect(refusalOf(r)).toMatchObject({ code: 'state.missing', exit: 3 });
      expect(refusalOf(r).message).toMatch(/state store .*state\.db is missing/);
      expect(refusalOf(r).hint).toMatch(/hoopq state init/);
    }
    const revoke = demo.admin(['token', 'revoke', '--run', 'lost-other']);
    expect(revoke.code).toBe(3);
    expect(revoke.stderr).toMatch(/state store .* is missing/);
    expect(demo.admin(['token', 'mint', '--policy', 'analyst-agent', '--run', 'lost-new']).code).toBe(3);
    expect(existsSync(stateFile(demo))).toBe(false);
    expectLogSound(demo);
  });

  it('hoopq state init rebuilds it from the audit log: the revoked run stays revoked, the budget is no looser', () => {
    const init = demo.admin(['state', 'init']);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, changed: true, restored: { revocations: 1 } });
    const r = query(demo, revoked);
    expect(r.code).toBe(4);
    expect(refusalOf(r).code).toBe('token.revoked');
    // 2 of 3 were used before the store was lost: one more, then the budget is spent
    expect(query(demo, budgeted).code).toBe(0);
    const intentsBefore = demo.auditRecords().filter((x) => x.event === 'query.intent' && x.run === 'lost-budget').length;
    const spent = query(demo, budgeted);
    expect(spent.code).toBe(5);
    expect(refusalOf(spent)).toMatchObject({ code: 'policy.budget_spent' });
    // refused on the count before any intent: one deny record, no intent, no unit
    const after = demo.auditRecords().filter((x) => x.run === 'lost-budget');
    expect(after.filter((x) => x.event === 'query.intent')).toHaveLength(intentsBefore);
    expect(after.at(-1)).toMatchObject({ event: 'query', decision: 'deny', code: 'policy.budget_spent' });
    expect(after.at(-1)!.intent ?? null).toBeNull();
    expect(query(demo, other).code).toBe(0);
    expect(demo.auditRecords().filter((x) => x.event === 'state.init').map((x) => x.state.how)).toEqual(['created', 'rebuilt']);
    expectLogSound(demo);
  });

  it('replaced by a wrong copy (an older store of this deployment): exit 3 state.replaced until it is put right', () => {
    const old = join(demo.dir, 'state-copy.db');
    copyFileSync(stateFile(demo), old);
    expect(demo.admin(['state', 'init', '--force']).code).toBe(0); // a new store id
    deleteStore(demo);
    copyFileSync(old, stateFile(demo));
    const r = query(demo, other);
    expect(r.code, r.stderr).toBe(3);
    expect(refusalOf(r)).toMatchObject({ code: 'state.replaced' });
    expect(demo.admin(['state', 'status']).code).toBe(3);
    expect(demo.admin(['state', 'init']).code).toBe(0);
    expect(query(demo, other).code).toBe(0);
    expect(query(demo, revoked).code).toBe(4);
  });

  it('damaged in place: exit 3 state.unreadable', () => {
    damageStore(demo);
    const r = query(demo, other);
    expect(r.code, r.stderr).toBe(3);
    expect(refusalOf(r)).toMatchObject({ code: 'state.unreadable' });
    expect(r.stderr).not.toMatch(/bug in hoopq/);
    expect(demo.admin(['state', 'init']).code).toBe(0);
    expect(query(demo, other).code).toBe(0);
    expectLogSound(demo);
  });

  it('state init --force carries operator keys over from the healthy store; a lost store\'s are not restored', () => {
    const add = demo.admin(['operator', 'add', 'alice']);
    expect(add.code, add.stderr).toBe(0);
    const forced = demo.admin(['state', 'init', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ changed: true, carried: { operator_keys: 1 } });
    expect(demo.admin(['operator', 'list']).stdout).toMatch(/^alice\t/m);
    deleteStore(demo);
    const init = demo.admin(['state', 'init']);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ changed: true, carried: null });
    expect(init.stderr).toMatch(/operator keys and requests for approval were not carried over/);
    const list = demo.admin(['operator', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toMatch(/alice/);
    expectLogSound(demo);
  });

  it.each([
    ['deleted', 'state.missing', deleteStore],
    ['damaged in place', 'state.unreadable', damageStore],
  ] as const)('%s while a direct-mode query runs: that query is cancelled within 2 s (exit 3 %s)', async (_what, code, lose) => {
    const token = demo.mint('analyst-agent', `lost-running-${code}`);
    const long = demo.runAsync(['query', '--format', 'json', LONG_SQL], { env: { HOOPQ_TOKEN: token, ...J } }).then((r) => ({ ...r, at: Date.now() }));
    // running once its budget unit is spent, the last step before the warehouse (the process
    // may take seconds to get there on a loaded machine; lost before, it is refused unrun)
    for (const since = Date.now(); unitsSpent(demo, `lost-running-${code}`) === 0; ) {
      expect(Date.now() - since).toBeLessThan(60_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lostAt = Date.now();
    lose(demo);
    const ended = await long;
    const init = demo.admin(['state', 'init']);
    expect(init.code, init.stderr).toBe(0);
    expect(ended.code, ended.stderr).toBe(3);
    expect(refusalOf(ended)).toMatchObject({ code, message: expect.stringMatching(/running query was cancelled/) });
    // detection (250 ms polls, 2 s at most) plus the process's own exit on a loaded machine
    expect(ended.at - lostAt).toBeLessThan(2_000 + 3_000);
    // the query's intent and its outcome (the refusal) are both in the log
    const records = demo.auditRecords().filter((x) => x.run === `lost-running-${code}` && String(x.event).startsWith('query'));
    expect(records.map((x) => x.event)).toEqual(['query.intent', 'query']);
    expect(records[1]).toMatchObject({ intent: records[0]!.id, code, exit_code: 3 });
    expect(query(demo, other).code).toBe(0);
    expectLogSound(demo);
  });

  it('locked by another process for longer than the busy timeout: exit 3 state.locked with a true hint, nothing ran', async () => {
    const writer = demo.mint('scratch-writer', 'lost-writer');
    expect(demo.run(['query', 'CREATE TABLE scratch.locked (n INTEGER)'], { env: { HOOPQ_TOKEN: writer } }).code).toBe(0);
    const holder = openSqlite(stateFile(demo), 0);
    holder.exec('BEGIN IMMEDIATE');
    let r;
    try {
      r = demo.run(['query', '--format', 'json', 'INSERT INTO scratch.locked VALUES (1)'], { env: { HOOPQ_TOKEN: writer } });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(r.code, r.stderr).toBe(3);
    expect(refusalOf(r)).toMatchObject({ code: 'state.locked', message: expect.stringMatching(/locked by another process/) });
    expect(refusalOf(r).hint).toMatch(/fuser/);
    expect(await countRows(demo, 'scratch.locked')).toBe(0);
    expectLogSound(demo);
  });

  it('on a read-only file system: exit 3 state.read_only, not "a bug"', (ctx) => {
    const token = other;
    let r: { code: number | null; stderr: string };
    if (process.getuid?.() !== 0) {
      // an ordinary user: the directory and the file made read-only
      const dir = join(demo.dir, '.hoopq');
      spawnSync('chmod', ['a-w', dir, stateFile(demo)]);
      try {
        r = query(demo, token);
      } finally {
        spawnSync('chmod', ['u+w', dir, stateFile(demo)]);
      }
    } else {
      if (!canUnshare) return ctx.skip();
      // root ignores file modes: remount the store's directory read-only in a private mount namespace
      const dir = join(demo.dir, '.hoopq');
      const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
      const p = spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', dir, process.execPath, HOOPQ, 'query', '--format', 'json', 'SELECT 1 AS one'], {
        cwd: demo.dir,
        env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token, ...J },
        encoding: 'utf8',
      });
      r = { code: p.status, stderr: p.stderr };
    }
    expect(r.code, r.stderr).toBe(3);
    expect(refusalOf(r as never)).toMatchObject({ code: 'state.read_only' });
    expect(refusalOf(r as never).hint).toMatch(/writable/);
  });

  it('a real full file system: exit 8 before anything runs, and the log verifies once there is room again', (ctx) => {
    if (!canUnshare) return ctx.skip();
    const writer = demo.mint('scratch-writer', 'lost-full');
    // the whole deployment on a small tmpfs in a private mount namespace, filled to the last byte
    const script = [
      'set -u',
      'mount -t tmpfs -o size=64m tmpfs "$MNT"',
      'cp -a "$SRC"/. "$MNT"/',
      'dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null; dd if=/dev/zero of="$MNT/filler2" bs=1 2>/dev/null',
      'export HOOPQ_CONFIG="$MNT/hoopq.yaml"',
      '"$NODE" "$HOOPQ" query --format json "INSERT INTO scratch.full_t SELECT 1" 2>"$MNT/../stderr-full" ; echo "exit=$?"',
      'cat "$MNT/../stderr-full" >&2',
      'rm -f "$MNT/filler" "$MNT/filler2"',
      '"$NODE" "$HOOPQ" audit verify >/dev/null 2>&1; echo "verify=$?"',
      'HOOPQ_TOKEN="$ADMIN" "$NODE" "$HOOPQ" query --format json "SELECT count(*) AS n FROM scratch.full_t"; echo "count-exit=$?"',
    ].join('\n');
    expect(demo.run(['query', 'CREATE TABLE scratch.full_t (n INTEGER)'], { env: { HOOPQ_TOKEN: writer } }).code).toBe(0);
    const mnt = join(demo.dir, '..', `full-${process.pid}`);
    spawnSync('mkdir', ['-p', mnt]);
    try {
      const p = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
        env: { PATH: process.env.PATH, MNT: mnt, SRC: demo.dir, NODE: process.execPath, HOOPQ, HOOPQ_TOKEN: writer, ADMIN: writer },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(p.stdout, p.stderr).toMatch(/exit=8/);
      expect(p.stderr).toMatch(/"exit":8/);
      expect(p.stderr).toMatch(/disk is full/);
      expect(p.stderr).not.toMatch(/bug in hoopq|internal error/);
      expect(p.stdout).toMatch(/verify=0/);
      expect(p.stdout).toMatch(/\[\{"n":0\}\]\s*count-exit=0/); // nothing ran (count(*) is a JSON number)
    } finally {
      rmSync(mnt, { recursive: true, force: true });
      rmSync(join(demo.dir, '..', 'stderr-full'), { force: true });
    }
  });
});

describe('a lost state store under a running gateway', () => {
  let demo: Demo;

  beforeAll(async () => {
    demo = await createDemoInMode('gateway');
  });

  afterAll(async () => {
    await demo.close();
    rmSync(demo.dir, { recursive: true, force: true });
  });

  async function readiness(): Promise<{ status: number; checks: Record<string, string> }> {
    const res = await fetch(`${demo.gateway!.url}/readyz`);
    return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
  }

  /** Milliseconds from `since` until /readyz is red with `code` for the state store (polling), or fails the test after 10 s. */
  async function redAfter(since: number, code: string): Promise<number> {
    for (;;) {
      const r = await readiness();
      if (r.status === 503 && r.checks.state === code) return Date.now() - since;
      if (Date.now() - since > 10_000) throw new Error(`readiness still ${r.status} ${JSON.stringify(r.checks)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('deleted: readiness red and the running query cancelled within 2 s, every query refused, a host revoke refused; state init brings it back with the revocation', async () => {
    const longRun = demo.mint('analyst-agent', 'gw-long');
    const other = demo.mint('analyst-agent', 'gw-other');
    const revoked = demo.mint('analyst-agent', 'gw-revoked');
    expect(demo.admin(['token', 'revoke', '--run', 'gw-revoked']).code).toBe(0);
    expect((await readiness()).status).toBe(200);
    const long = demo.runAsync(['query', '--format', 'json', LONG_SQL], { env: { HOOPQ_TOKEN: longRun, ...J } }).then((r) => ({ ...r, at: Date.now() }));
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the long query is running
    const deletedAt = Date.now();
    deleteStore(demo);
    const red = await redAfter(deletedAt, 'state.missing');
    const ended = await long;
    expect(red).toBeLessThan(2_000);
    expect(ended.code, ended.stderr).toBe(3);
    expect(refusalOf(ended)).toMatchObject({ code: 'state.missing', message: expect.stringMatching(/running query was cancelled/) });
    expect(ended.at - deletedAt).toBeLessThan(2_000 + 3_000); // detection, plus the remote CLI's own exit
    for (const token of [other, revoked]) expect(query(demo, token).code).toBe(3);
    expect(demo.admin(['token', 'revoke', '--run', 'gw-other']).code).toBe(3);

    const init = demo.admin(['state', 'init']);
    expect(init.code, init.stderr).toBe(0);
    const initAt = Date.now();
    for (;;) {
      if ((await readiness()).status === 200) break;
      expect(Date.now() - initAt).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(query(demo, other).code).toBe(0);
    expect(query(demo, revoked).code).toBe(4);
    expectLogSound(demo);
  });

  it('damaged in place: readiness red within 2 s and queries refused; state init brings it back', async () => {
    const token = demo.mint('analyst-agent', 'gw-damaged');
    expect(query(demo, token).code).toBe(0);
    const damagedAt = Date.now();
    damageStore(demo);
    expect(await redAfter(damagedAt, 'state.unreadable')).toBeLessThan(2_000);
    const r = query(demo, token);
    expect(r.code, r.stderr).toBe(3);
    expect(refusalOf(r).code).toBe('state.unreadable');
    expect(demo.admin(['state', 'init']).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(query(demo, token).code).toBe(0);
    expectLogSound(demo);
  });

  it('deleted: operator keys and requests for approval (tables in the same file) are refused at once, not read from the deleted file', async () => {
    const add = demo.admin(['operator', 'add', 'bob']);
    expect(add.code, add.stderr).toBe(0);
    const key = add.stdout.trim();
    const list = () => fetch(`${demo.gateway!.url}/v1/approvals`, { headers: { authorization: `Bearer ${key}` } });
    expect((await list()).status).toBe(200);
    const deletedAt = Date.now();
    deleteStore(demo);
    await redAfter(deletedAt, 'state.missing');
    const refused = await list();
    expect(refused.status).toBe(500);
    expect(await refused.json()).toMatchObject({ error: { code: 'state.missing', exit: 3 } });
    expect(demo.admin(['state', 'init']).code).toBe(0);
    for (const initAt = Date.now(); (await readiness()).status !== 200; ) {
      expect(Date.now() - initAt).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // the rebuilt store has no operator keys (the log holds none): bob needs a new one
    expect((await list()).status).toBe(401);
  });
});
