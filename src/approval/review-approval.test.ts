import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openJsonlFileSink } from '../audit/jsonl-file-sink.js';
import { isHoopqError } from '../errors.js';
import type { ApprovalPort } from './approval-port.js';
import { openApprovalStore, type ApprovalStore } from './approval-store.js';
import { reviewApproval, type ReviewDecision } from './review-approval.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

async function fixture(fourEyes: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-review-'));
  const store = openApprovalStore(join(dir, 'state.db'));
  const logPath = join(dir, 'audit.jsonl');
  const sink = await openJsonlFileSink(logPath);
  const approvals: ApprovalPort = { store: () => store, notify: async () => [], reviewUrl: () => undefined, fourEyes };
  const request = store.create(
    {
      run: 'r1',
      tokenId: 'tok',
      subject: 'alice@example.com',
      policy: 'p',
      policySha256: 'a'.repeat(64),
      sqlSha256: 'b'.repeat(64),
      requestSha256: 'c'.repeat(64),
      planSha256: 'd'.repeat(64),
      recordId: 'rec-1',
      summary: { sql: 'DELETE FROM t', statements: ['delete'], tables: { read: [], write: ['d.s.t'] }, masks: {}, lifted: {}, rules: [{ rule: 'x', why: 'y' }], justification: null, bytesEstimate: null, params: [], warehouse: 'duckdb' },
      expiresAt: at(600),
      tokenExpiresAt: at(900),
    },
    T0,
  );
  const review = (name: string, decision: Omit<ReviewDecision, 'id'>) => reviewApproval({ approvals, sink, now: () => at(10) }, { name, auth: 'key' }, { id: request.id, ...decision }, 'cli');
  const records = () => readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  return { store, sink, request, review, records };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isHoopqError(err)) return err.code;
    throw err;
  }
  return 'ok';
}

describe('reviewApproval: four-eyes is configurable (operators.four_eyes)', () => {
  const cases: Array<{ fourEyes: boolean; operator: string; approve: boolean; expect: string }> = [
    { fourEyes: true, operator: 'alice', approve: true, expect: 'approval.self_approval' },
    { fourEyes: true, operator: 'alice@example.com', approve: true, expect: 'approval.self_approval' },
    { fourEyes: true, operator: 'alice', approve: false, expect: 'ok' }, // a requester may withdraw their own request
    { fourEyes: true, operator: 'bob', approve: true, expect: 'ok' },
    { fourEyes: false, operator: 'alice@example.com', approve: true, expect: 'ok' },
    { fourEyes: false, operator: 'bob', approve: true, expect: 'ok' },
  ];
  for (const c of cases) {
    it(`four_eyes ${c.fourEyes}: ${c.operator} ${c.approve ? 'approves' : 'denies'} alice's request -> ${c.expect}`, async () => {
      const fx = await fixture(c.fourEyes);
      try {
        expect(await codeOf(fx.review(c.operator, { approve: c.approve, reason: 'because' }))).toBe(c.expect);
        const after = fx.store.get(fx.request.id)!;
        const last = fx.records().at(-1)!;
        if (c.expect === 'ok') {
          expect(after).toMatchObject({ status: c.approve ? 'approved' : 'denied', decidedBy: c.operator, decisionReason: 'because' });
          expect(last).toMatchObject({ event: c.approve ? 'approval.approved' : 'approval.denied', operator: { name: c.operator, auth: 'key', via: 'cli' }, approval: { id: fx.request.id, requested_in: 'rec-1', requested_by: 'alice@example.com' } });
          // an approval by the requester (allowed only without four-eyes) says so in the log
          expect(last.approval.self_approved === true).toBe(c.approve && c.operator.startsWith('alice'));
        } else {
          expect(after.status).toBe('pending');
          expect(last).toMatchObject({ event: 'approval.review_refused', code: c.expect, operator: { name: c.operator } });
        }
      } finally {
        await fx.sink.close();
        fx.store.close();
      }
    });
  }
});

describe('reviewApproval: what a grant may be', () => {
  it('a time window never outlives the run token; runs and the reason are checked; a second decision is refused and recorded', async () => {
    const fx = await fixture(true);
    try {
      expect(await codeOf(fx.review('bob', { approve: true, reason: '   ' }))).toBe('usage.review_reason');
      expect(await codeOf(fx.review('bob', { approve: true, reason: 'ok', runs: 0 }))).toBe('usage.review_runs');
      expect(await codeOf(fx.review('bob', { approve: true, reason: 'ok', runs: 1.5 }))).toBe('usage.review_runs');
      expect(fx.store.get(fx.request.id)!.status).toBe('pending');
      const decided = await fx.review('bob', { approve: true, reason: 'ok', runs: 3, windowMs: 24 * 3600_000 });
      expect(decided.grant).toEqual({ runs: 3, expiresAt: at(900).toISOString() });
      expect(await codeOf(fx.review('carol', { approve: false, reason: 'late' }))).toBe('approval.already_decided');
      expect(fx.records().at(-1)).toMatchObject({ event: 'approval.review_refused', code: 'approval.already_decided', operator: { name: 'carol' } });
      expect(fx.store.get(fx.request.id)!).toMatchObject({ status: 'approved', decidedBy: 'bob' });
    } finally {
      await fx.sink.close();
      fx.store.close();
    }
  });
});
