/**
 * Black-box, direct mode: a full disk, I/O errors and SIGKILL at each audit-log, checkpoint
 * and state-store write of a real `hoopq query` (the fault-injection test binary,
 * inject-faults.mjs). Each case checks the exit code and message, that nothing ran when
 * exit 8 says so (the warehouse's rows), that the budget units agree with the records (no
 * unit without an intent), that every intent ends with exactly one outcome once the next
 * process has recovered, and that `hoopq audit verify` passes.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDemo, type Demo } from '../cli/cli-harness.js';
import { auditLedger, countRows, expectLogSound, expectUnitsBackedByRecords, refusalOf, runWithFault, unitsSpent, type FaultPlan } from './fault-harness.js';

// each case spawns several hoopq processes one after another: slow on a loaded machine
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

let demo: Demo;
let token: string;
const RUN = 'faults-writer';

beforeAll(() => {
  demo = createDemo();
  token = demo.mint('scratch-writer', RUN);
  const create = demo.run(['query', 'CREATE TABLE scratch.t (n INTEGER)'], { env: { HOOPQ_TOKEN: token } });
  expect(create.code, create.stderr).toBe(0);
});

afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

const INSERT = ['query', '--format', 'json', 'INSERT INTO scratch.t VALUES (1)'];

function insertWithFault(plan: FaultPlan) {
  return runWithFault(demo, INSERT, plan, { HOOPQ_TOKEN: token });
}

/** A clean query: the next process, which also recovers what the faulty one left. */
function nextQuery() {
  const r = demo.run(['query', '--format', 'json', 'SELECT count(*) AS n FROM scratch.t'], { env: { HOOPQ_TOKEN: token } });
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** Intents of this run and their outcomes, after the next process recovered. */
function intentsSince(before: number) {
  const { intents, outcomes } = auditLedger(demo);
  return intents.filter((r) => r.run === RUN).slice(before).map((i) => ({ intent: i, outcomes: outcomes.get(i.id) ?? [] }));
}

function snapshot() {
  return { intents: auditLedger(demo).intents.filter((r) => r.run === RUN).length, units: unitsSpent(demo, RUN) };
}

describe('audit log write faults: exit 8 only when nothing ran', () => {
  it.each([
    ['ENOSPC at the intent write', { target: 'audit', op: 'write', fault: 'ENOSPC' }, /disk is full \(ENOSPC\)/],
    ['EIO at the intent write', { target: 'audit', op: 'write', fault: 'EIO' }, /I\/O error occurred \(EIO\)/],
    ['EIO at the intent fsync', { target: 'audit', op: 'sync', fault: 'EIO' }, /I\/O error occurred \(EIO\)/],
  ] as Array<[string, FaultPlan, RegExp]>)('%s: exit 8, nothing ran, no unit spent, the log verifies', async (_what, plan, message) => {
    const rows = await countRows(demo, 'scratch.t');
    const before = snapshot();
    const r = insertWithFault(plan);
    expect(r.code, r.stderr).toBe(8);
    expect(refusalOf(r)).toMatchObject({ code: 'audit.write_failed', exit: 8, message: expect.stringMatching(message) });
    expect(refusalOf(r).hint).toMatch(/nothing was run/);
    expect(await countRows(demo, 'scratch.t')).toBe(rows);
    expect(unitsSpent(demo, RUN)).toBe(before.units);
    nextQuery();
    expect(intentsSince(before.intents).filter((i) => i.intent.sql?.startsWith('INSERT'))).toEqual([]);
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });

  it('ENOSPC at the outcome write, after the INSERT ran: exit 12 (never 8), the outcome is written by the next process', async () => {
    const rows = await countRows(demo, 'scratch.t');
    const before = snapshot();
    const r = insertWithFault({ target: 'audit', op: 'write', nth: 2, fault: 'ENOSPC' });
    expect(r.code, r.stderr).toBe(12);
    const error = refusalOf(r);
    expect(error).toMatchObject({ code: 'audit.outcome_unrecorded', exit: 12 });
    expect(error.message).toMatch(/the query ran, but its outcome could not be recorded: .*disk is full.*do not run it again/);
    expect(error.message).not.toMatch(/nothing was run/);
    // it did run: the row is there, and its unit was spent
    expect(await countRows(demo, 'scratch.t')).toBe(rows + 1);
    expect(unitsSpent(demo, RUN)).toBe(before.units + 1);
    const [pending] = intentsSince(before.intents);
    expect(pending!.outcomes).toEqual([]);
    nextQuery();
    const [recovered] = intentsSince(before.intents);
    expect(recovered!.outcomes).toHaveLength(1);
    expect(recovered!.outcomes[0]).toMatchObject({ event: 'query', decision: 'allow', rows: 1, recovered: { kept: true } });
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });

  it('ENOSPC at a checkpoint write: the query succeeds (its records are durable) and the log verifies', () => {
    // every query process writes a checkpoint when it closes its sink
    const r = runWithFault(demo, ['query', '--format', 'json', 'SELECT 1 AS one'], { target: 'checkpoints', op: 'write', fault: 'ENOSPC', count: 0 }, { HOOPQ_TOKEN: token });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ one: 1 }]);
    expectLogSound(demo);
  });
});

describe('SIGKILL before the query runs (audit writes, the budget COMMIT): the next process recovers, nothing is counted twice', () => {
  it.each([
    ['before the intent write', { target: 'audit', op: 'write', fault: 'kill' }, false],
    ['in the middle of the intent write', { target: 'audit', op: 'write', fault: 'kill-mid' }, false],
    ['before the intent fsync', { target: 'audit', op: 'sync', fault: 'kill' }, false],
    // the budget's transaction rolled back by SQLite: the intent stays, without a unit
    ['at the budget COMMIT', { target: 'state', op: 'commit', fault: 'kill' }, false],
  ] as Array<[string, FaultPlan, boolean]>)('killed %s: nothing ran, no unit, the log verifies', async (_what, plan) => {
    const rows = await countRows(demo, 'scratch.t');
    const before = snapshot();
    const r = insertWithFault(plan);
    expect(r.signal).toBe('SIGKILL');
    expect(await countRows(demo, 'scratch.t')).toBe(rows);
    expect(unitsSpent(demo, RUN)).toBe(before.units);
    nextQuery();
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
    if (plan.fault === 'kill-mid') expect(auditLedger(demo).records.some((x) => x.event === 'log.recovered')).toBe(true);
  });

  it('killed in the middle of the outcome write: the row is there, the next process moves the torn bytes aside and records the outcome as lost', async () => {
    const rows = await countRows(demo, 'scratch.t');
    const before = snapshot();
    const r = insertWithFault({ target: 'audit', op: 'write', nth: 2, fault: 'kill-mid' });
    expect(r.signal).toBe('SIGKILL');
    expect(await countRows(demo, 'scratch.t')).toBe(rows + 1);
    expect(unitsSpent(demo, RUN)).toBe(before.units + 1);
    nextQuery();
    const [killed] = intentsSince(before.intents);
    expect(killed!.outcomes).toEqual([expect.objectContaining({ decision: 'error', code: 'audit.outcome_lost', recovered: expect.objectContaining({ kept: false }) })]);
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });

  it('killed right after the outcome write: the outcome is not written a second time', async () => {
    const before = snapshot();
    const r = insertWithFault({ target: 'audit', op: 'write', nth: 2, fault: 'kill-after' });
    expect(r.signal).toBe('SIGKILL');
    nextQuery();
    nextQuery();
    const [killed] = intentsSince(before.intents);
    expect(killed!.outcomes).toEqual([expect.objectContaining({ decision: 'allow', rows: 1 })]);
    expect(demo.admin(['state', 'status']).stdout).toMatch(/"pending_outcomes":0/);
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });
});

describe('state store write faults: the right exit code and a true hint, never "a bug in hoopq"', () => {
  it.each([
    ['a full disk', 'ENOSPC', 'state.full', /file system is full/, /free space/],
    ['a read-only file system', 'EROFS', 'state.read_only', /cannot be written/, /writable/],
    ['an I/O error', 'EIO', 'state.io_error', /I\/O error/, /check the disk/],
    ['a lock held by another process', 'BUSY', 'state.locked', /locked by another process/, /fuser/],
  ])('%s at the budget write: exit 3 (%s), nothing ran, no unit, intent and outcome recorded', async (_what, fault, code, message, hint) => {
    const rows = await countRows(demo, 'scratch.t');
    const before = snapshot();
    const r = insertWithFault({ target: 'state', op: 'write', match: 'counters', fault } as FaultPlan);
    expect(r.code, r.stderr).toBe(3);
    const error = refusalOf(r);
    expect(error).toMatchObject({ code, exit: 3, message: expect.stringMatching(message) });
    expect(error.hint).toMatch(hint);
    expect(r.stderr).not.toMatch(/bug in hoopq|internal error/);
    expect(await countRows(demo, 'scratch.t')).toBe(rows);
    expect(unitsSpent(demo, RUN)).toBe(before.units);
    const [refused] = intentsSince(before.intents);
    expect(refused!.outcomes).toEqual([expect.objectContaining({ decision: 'error', code, exit_code: 3 })]);
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });

  it('killed right after the budget COMMIT: the unit has its intent, and the next process records the outcome as lost', async () => {
    const before = snapshot();
    const r = insertWithFault({ target: 'state', op: 'commit', fault: 'kill-after' });
    expect(r.signal).toBe('SIGKILL');
    expect(unitsSpent(demo, RUN)).toBe(before.units + 1);
    nextQuery();
    const [killed] = intentsSince(before.intents);
    expect(killed!.outcomes).toEqual([expect.objectContaining({ code: 'audit.outcome_lost' })]);
    expectUnitsBackedByRecords(demo, RUN);
    expectLogSound(demo);
  });

  it('the unit cannot be settled after the outcome was written: the query succeeds and no outcome is written twice', async () => {
    const before = snapshot();
    const r = insertWithFault({ target: 'state', op: 'write', match: 'DELETE FROM pending_outcomes', fault: 'EIO' });
    expect(r.code, r.stderr).toBe(0);
    nextQuery();
    const [settled] = intentsSince(before.intents);
    expect(settled!.outcomes).toEqual([expect.objectContaining({ decision: 'allow', rows: 1 })]);
    expect(demo.admin(['state', 'status']).stdout).toMatch(/"pending_outcomes":0/);
    expectLogSound(demo);
  });
});
