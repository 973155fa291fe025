import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueryAnalysis, StatementKind } from '../analysis/query-analysis.js';
import { ConfigError, PolicyDeniedError } from '../errors.js';
import { loadPolicy } from '../policy/load-policy.js';
import { evaluateApproval } from './evaluate-approval.js';

function policyFile(approval: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-approval-'));
  const f = join(dir, 'p.yaml');
  writeFileSync(f, `name: p\nstatements: [select, delete]\ntables:\n  read: ["demo.*.*"]\n  write: ["demo.scratch.*"]\n${approval}`);
  return f;
}

function analysis(kind: StatementKind, reads: string[], writes: string[] = []): QueryAnalysis {
  return { dialect: 'duckdb', statements: [{ kind, nativeType: kind, text: '', reads, writes, views: [] }], run: [''] };
}

const policy = loadPolicy(
  policyFile(`approval:
  rules:
    - name: deletes
      statements: [delete]
    - name: crm
      tables: ["demo.crm.*"]
    - name: big
      bytes_billed_over: 1GiB
    - name: crm-deletes
      statements: [delete]
      tables: ["demo.crm.*"]
    - name: unmask
      unmask: true
`),
);

describe('evaluateApproval', () => {
  const cases: Array<{ name: string; a: QueryAnalysis; bytes: number | null | undefined; lifted?: Record<string, string>; rules: string[] }> = [
    { name: 'a select of analytics under the byte limit', a: analysis('select', ['demo.analytics.events']), bytes: 100, rules: [] },
    { name: 'a delete', a: analysis('delete', ['demo.scratch.t'], ['demo.scratch.t']), bytes: 100, rules: ['deletes'] },
    { name: 'a read of crm (case-insensitive on DuckDB)', a: analysis('select', ['DEMO.CRM.customers']), bytes: 100, rules: ['crm'] },
    { name: 'every condition of a rule must hold', a: analysis('delete', ['demo.crm.x'], ['demo.crm.x']), bytes: 100, rules: ['deletes', 'crm', 'crm-deletes'] },
    { name: 'over the byte threshold', a: analysis('select', ['demo.analytics.events']), bytes: 2 * 2 ** 30, rules: ['big'] },
    { name: 'exactly at the threshold is not over', a: analysis('select', ['demo.analytics.events']), bytes: 2 ** 30, rules: [] },
    { name: 'no estimate from the warehouse: held (fail closed)', a: analysis('select', ['demo.analytics.events']), bytes: null, rules: ['big'] },
    { name: 'offline (estimate not asked): byte rules are not decided', a: analysis('select', ['demo.analytics.events']), bytes: undefined, rules: [] },
    { name: 'masks to lift', a: analysis('select', ['demo.analytics.events']), bytes: 1, lifted: { 'demo.analytics.events.email': 'hash' }, rules: ['unmask'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const matched = evaluateApproval({ analysis: c.a, policy, lifted: c.lifted ?? {}, bytesEstimate: c.bytes, caseInsensitive: true });
      expect(matched.map((m) => m.rule)).toEqual(c.rules);
    });
  }

  it('says why each rule matched', () => {
    const [m] = evaluateApproval({ analysis: analysis('select', ['demo.analytics.e']), policy, lifted: {}, bytesEstimate: 3 * 2 ** 30, caseInsensitive: true });
    expect(m).toEqual({ rule: 'big', why: `an estimated ${3 * 2 ** 30} bytes, over ${2 ** 30}` });
  });

  it('refuses lifting masks when no rule lets a person allow it', () => {
    const plain = loadPolicy(policyFile('approval:\n  rules:\n    - statements: [delete]\n'));
    expect(() => evaluateApproval({ analysis: analysis('select', ['demo.crm.c']), policy: plain, lifted: { 'demo.crm.c.ssn': 'redact' }, bytesEstimate: 1, caseInsensitive: true })).toThrow(PolicyDeniedError);
    const none = loadPolicy(policyFile(''));
    expect(evaluateApproval({ analysis: analysis('delete', ['demo.scratch.t']), policy: none, lifted: {}, bytesEstimate: null, caseInsensitive: true })).toEqual([]);
  });
});

describe('approval: in a policy file', () => {
  it('names rules, defaults expiry to 1h and max_pending to 5', () => {
    expect(policy.approval).toMatchObject({ expiresMs: 3_600_000, maxPending: 5 });
    expect(policy.approval!.rules[2]).toEqual({ name: 'big', bytesBilledOver: 2 ** 30 });
    const unnamed = loadPolicy(policyFile('approval:\n  rules:\n    - statements: [delete]\n  expires: 15m\n'));
    expect(unnamed.approval).toMatchObject({ expiresMs: 900_000, rules: [{ name: 'approval.rules[0]', statements: ['delete'] }] });
  });

  it('refuses a rule without a condition, and unknown keys, with file:line:col', () => {
    const f = policyFile('approval:\n  rules:\n    - name: everything\n');
    expect(() => loadPolicy(f)).toThrow(ConfigError);
    expect(() => loadPolicy(f)).toThrow(/p\.yaml:8:7: invalid policy \(approval\.rules\.0\): an approval rule needs at least one condition/);
    expect(() => loadPolicy(policyFile('approval:\n  rules:\n    - statement: [delete]\n'))).toThrow(/unknown key "statement"/);
    expect(() => loadPolicy(policyFile('approval:\n  rules:\n    - unmask: false\n'))).toThrow(ConfigError);
    expect(() => loadPolicy(policyFile('approval:\n  rules: []\n'))).toThrow(ConfigError);
  });
});
