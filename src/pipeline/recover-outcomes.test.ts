/**
 * recoverOutcomes over a real SQLite state store and a real audit log, for units left by a
 * process that has ended (a pid taken from a child that already exited):
 * - its intent is in the log without an outcome: an `audit.outcome_lost` outcome is written
 *   and the unit stays counted (the query may have run);
 * - its intent is not in the log (the process died while the intent was written, beside the
 *   unit's spend): nothing is written and the unit is given back (the query never ran);
 * - its outcome is already in the log: nothing is written twice.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJsonlFileSink, type JsonlFileSink } from '../audit/jsonl-file-sink.js';
import { openStateStore, type SqliteStateStore } from '../identity/state-store.js';
import { newAuditBody } from './audit-body.js';
import { recoverOutcomes } from './recover-outcomes.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-recover-'));
const log = join(dir, 'audit.jsonl');
let state: SqliteStateStore;
let sink: JsonlFileSink;
let deadPid: number;

beforeAll(async () => {
  state = openStateStore(join(dir, 'state.db'));
  sink = await openJsonlFileSink(log);
  const child = spawnSync(process.execPath, ['-e', '0']);
  deadPid = child.pid!;
});

afterAll(async () => {
  await sink.close();
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const records = () =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const spend = (run: string, intent: string) => state.consumeQueryBudget(run, 10, { intent, host: os.hostname(), pid: deadPid });

describe('recoverOutcomes for a process that has ended', () => {
  it('an intent in the log without an outcome: outcome_lost is written, the unit stays counted', async () => {
    const intent = newAuditBody('query.intent', new Date(), { run: 'rec-lost' });
    await sink.append(intent);
    expect(spend('rec-lost', intent.id).ok).toBe(true);
    expect(await recoverOutcomes(state, sink)).toBe(1);
    const outcome = records().find((r) => r.intent === intent.id);
    expect(outcome).toMatchObject({ event: 'query', run: 'rec-lost', decision: 'error', code: 'audit.outcome_lost', recovered: { kept: false, pid: deadPid } });
    expect(state.queriesStarted('rec-lost')).toBe(1);
    expect(state.pendingOutcomes()).toEqual([]);
  });

  it('no intent in the log (the process died while writing it): nothing is written and the unit is given back', async () => {
    const before = records().length;
    expect(spend('rec-refund', 'intent-never-written').ok).toBe(true);
    expect(spend('rec-refund', 'intent-never-written-2').ok).toBe(true);
    expect(state.queriesStarted('rec-refund')).toBe(2);
    expect(await recoverOutcomes(state, sink)).toBe(0);
    expect(records()).toHaveLength(before);
    expect(state.queriesStarted('rec-refund')).toBe(0);
    expect(state.pendingOutcomes()).toEqual([]);
  });

  it('an outcome already in the log is not written twice, and its unit stays counted', async () => {
    const intent = newAuditBody('query.intent', new Date(), { run: 'rec-done' });
    await sink.append(intent);
    expect(spend('rec-done', intent.id).ok).toBe(true);
    await sink.append(newAuditBody('query', new Date(), { run: 'rec-done', intent: intent.id, decision: 'allow' }));
    const before = records().length;
    expect(await recoverOutcomes(state, sink)).toBe(0);
    expect(records()).toHaveLength(before);
    expect(state.queriesStarted('rec-done')).toBe(1);
    expect(state.pendingOutcomes()).toEqual([]);
  });

  it("a unit of a process still running (this one) is left alone, even with no intent in the log yet", async () => {
    expect(state.consumeQueryBudget('rec-alive', 10, { intent: 'in-flight', host: os.hostname(), pid: process.pid }).ok).toBe(true);
    expect(await recoverOutcomes(state, sink)).toBe(0);
    expect(state.queriesStarted('rec-alive')).toBe(1);
    expect(state.pendingOutcomes().map((p) => p.intent)).toEqual(['in-flight']);
    state.settleQuery('in-flight');
  });
});
