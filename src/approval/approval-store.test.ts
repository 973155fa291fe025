import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApprovalStore, type NewApprovalRequest } from './approval-store.js';
import { isSamePerson } from './review-approval.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function request(over: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  return {
    run: 'r',
    tokenId: 'tok',
    subject: 'alice',
    policy: 'p',
    policySha256: 'a'.repeat(64),
    sqlSha256: 'b'.repeat(64),
    requestSha256: 'c'.repeat(64),
    planSha256: 'd'.repeat(64),
    recordId: 'rec',
    summary: { sql: 'DELETE FROM t', statements: ['delete'], tables: { read: [], write: ['d.s.t'] }, masks: {}, lifted: {}, rules: [{ rule: 'x', why: 'y' }], justification: null, bytesEstimate: null, params: [], warehouse: 'duckdb' },
    expiresAt: at(60),
    tokenExpiresAt: at(3600),
    ...over,
  };
}

function store() {
  return openApprovalStore(join(mkdtempSync(join(tmpdir(), 'hoopq-apr-')), 'state.db'));
}

describe('ApprovalStore', () => {
  it('a decision is made once: the second approver (or a late one) is refused', () => {
    const s = store();
    const r = s.create(request(), T0);
    expect(r).toMatchObject({ status: 'pending', runsUsed: 0, grant: null, notified: [] });
    expect(s.decide(r.id, { approve: true, by: 'bob', reason: 'ok', runs: 2, grantExpiresAt: at(600) }, at(1))).toMatchObject({ ok: true, request: { status: 'approved', decidedBy: 'bob', grant: { runs: 2 } } });
    expect(s.decide(r.id, { approve: false, by: 'carol', reason: 'no', runs: 1, grantExpiresAt: at(600) }, at(2))).toMatchObject({ ok: false, why: 'decided' });
    expect(s.decide('apr_nope', { approve: true, by: 'bob', reason: 'ok', runs: 1, grantExpiresAt: at(600) }, at(2))).toEqual({ ok: false, why: 'unknown' });
    const late = s.create(request({ requestSha256: 'e'.repeat(64) }), T0);
    expect(s.decide(late.id, { approve: true, by: 'bob', reason: 'ok', runs: 1, grantExpiresAt: at(600) }, at(61))).toMatchObject({ ok: false, why: 'expired' });
  });

  it('a grant gives exactly its runs, and none after it ends', () => {
    const s = store();
    const r = s.create(request(), T0);
    expect(s.useGrant(r.id, at(1))).toEqual({ ok: false, why: 'not_approved' });
    s.decide(r.id, { approve: true, by: 'bob', reason: 'ok', runs: 2, grantExpiresAt: at(100) }, at(1));
    expect(s.useGrant(r.id, at(2))).toEqual({ ok: true, use: 1, of: 2 });
    expect(s.useGrant(r.id, at(3))).toEqual({ ok: true, use: 2, of: 2 });
    expect(s.useGrant(r.id, at(4))).toEqual({ ok: false, why: 'used_up' });
    const other = s.create(request({ requestSha256: 'f'.repeat(64) }), T0);
    s.decide(other.id, { approve: true, by: 'bob', reason: 'ok', runs: 5, grantExpiresAt: at(10) }, at(1));
    expect(s.useGrant(other.id, at(10))).toEqual({ ok: false, why: 'grant_expired' });
  });

  it('expires due requests once, across store connections', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hoopq-apr-')), 'state.db');
    const a = openApprovalStore(file);
    const b = openApprovalStore(file);
    const r = a.create(request(), T0);
    expect(a.list({ status: 'pending' }, at(30)).map((x) => x.id)).toEqual([r.id]);
    expect(a.list({ status: 'expired' }, at(61)).map((x) => x.id)).toEqual([r.id]); // shown as expired before it is marked
    expect(a.countPending('r', at(61))).toBe(0);
    expect(a.expireDue(at(61)).map((x) => x.id)).toEqual([r.id]);
    expect(b.expireDue(at(62))).toEqual([]);
    expect(b.get(r.id)!.status).toBe('expired');
  });

  it('finds the newest request of a token for the same request digest', () => {
    const s = store();
    const first = s.create(request(), T0);
    const second = s.create(request(), at(1));
    s.create(request({ tokenId: 'other' }), at(2));
    expect(s.latestFor('tok', 'c'.repeat(64))!.id).toBe(second.id);
    expect(s.latestFor('tok', 'x'.repeat(64))).toBeUndefined();
    expect(first.id).not.toBe(second.id);
  });
});

describe('isSamePerson (four-eyes)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['alice', 'alice', true],
    ['Alice', 'operator:alice', true],
    ['alice@example.com', 'operator:alice', true],
    ['alice', 'alice@example.com', true],
    ['alice@example.com', 'ALICE@example.com', true],
    ['bob', 'alice', false],
    ['bob@example.com', 'alice@example.com', false],
    ['alice@example.com', 'alice@other.example', false],
    ['alicia', 'operator:alice', false],
  ];
  for (const [operator, subject, same] of cases) {
    it(`${operator} vs ${subject}: ${same ? 'the same person' : 'another person'}`, () => expect(isSamePerson(operator, subject)).toBe(same));
  }
});
