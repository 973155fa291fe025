/**
 * policy test: runs the cases of policy test files (`NAME.test.yaml`) offline — the same
 * analysis, policy evaluation and mask planning as `query` (decideOffline), against the
 * configured warehouse's parser and catalog — and compares each decision with what the case
 * expects. Input: test files, a way to find each file's policy, a warehouse opener.
 * Output: one result per file (or the error that kept it from running) and per case, with
 * every expectation that did not hold. Never executes a query or writes audit.
 */
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { ConfigError, isHoopqError, type HoopqError } from '../errors.js';
import { loadPolicy } from '../policy/load-policy.js';
import { loadPolicyTestFile } from '../policy/load-policy-test-file.js';
import type { Policy } from '../policy/policy.js';
import type { PolicyTestExpectation } from '../policy/policy-test-schema.js';
import { decideOffline, nameDefaultsFor, type OfflineDecision } from './decide-offline.js';
import { MemoizingWarehouse } from './memoizing-warehouse.js';
import type { PipelineParts } from './pipeline-parts.js';

export interface ExpectationMismatch {
  /** The expectation's key: decision, exit_code, rule, code, reason_includes, statements, tables.read, tables.write, masks. */
  field: string;
  expected: unknown;
  actual: unknown;
}

export interface PolicyTestCaseResult {
  name: string;
  /** "file:line:col" of the case. */
  at: string;
  sql: string;
  passed: boolean;
  mismatches: ExpectationMismatch[];
  actual: OfflineDecision;
  durationMs: number;
}

export interface PolicyTestFileResult {
  file: string;
  policy: { name: string; file: string; sha256: string } | null;
  /** Why the file could not run (invalid test file, missing or invalid policy). */
  error: HoopqError | null;
  cases: PolicyTestCaseResult[];
  durationMs: number;
}

export async function runPolicyTests(parts: Pick<PipelineParts, 'config' | 'policies' | 'openWarehouse'>, files: string[]): Promise<PolicyTestFileResult[]> {
  const results: PolicyTestFileResult[] = [];
  for (const file of files) {
    const started = performance.now();
    const result: PolicyTestFileResult = { file, policy: null, error: null, cases: [], durationMs: 0 };
    results.push(result);
    let spec;
    let policy: Policy;
    try {
      spec = loadPolicyTestFile(file);
      policy = policyUnderTest(parts, file, spec.policy);
    } catch (err) {
      if (!isHoopqError(err)) throw err;
      result.error = err;
      result.durationMs = performance.now() - started;
      continue;
    }
    result.policy = { name: policy.name, file: policy.file, sha256: policy.sha256 };
    const warehouse = new MemoizingWarehouse(await parts.openWarehouse({ writable: false, policy }));
    try {
      const names = nameDefaultsFor(parts.config, warehouse);
      for (const c of spec.cases) {
        const t0 = performance.now();
        const actual = await decideOffline(warehouse, c.sql, policy, c.justification, names);
        const mismatches = compareWithExpectation(c.expect, actual);
        result.cases.push({ name: c.name, at: c.at, sql: c.sql, passed: mismatches.length === 0, mismatches, actual, durationMs: performance.now() - t0 });
      }
    } finally {
      await warehouse.close();
    }
    result.durationMs = performance.now() - started;
  }
  return results;
}

/** The policy a test file names: NAME.yaml beside it first (the file under review), else the configured folder's. */
function policyUnderTest(parts: Pick<PipelineParts, 'policies'>, testFile: string, name: string): Policy {
  for (const ext of ['.yaml', '.yml']) {
    const beside = join(dirname(testFile), name + ext);
    if (existsSync(beside)) return loadPolicy(beside);
  }
  const configured = parts.policies.get(name);
  if (!configured) {
    throw new ConfigError('config.policy_test_unknown_policy', `${testFile}: no policy "${name}" beside it or in the policies folder`, {
      hint: `put ${name}.yaml next to the test file, or set \`policy:\` to one of: ${parts.policies.names().join(', ') || '(none)'}`,
    });
  }
  return configured;
}

/** Every expectation of the case that the decision does not meet; keys the case leaves out are not checked. */
export function compareWithExpectation(expect: PolicyTestExpectation, actual: OfflineDecision): ExpectationMismatch[] {
  const out: ExpectationMismatch[] = [];
  const check = (field: string, expected: unknown, got: unknown, same: boolean) => {
    if (!same) out.push({ field, expected, actual: got });
  };
  check('decision', expect.decision, actual.decision, expect.decision === actual.decision);
  if (expect.exit_code !== undefined) check('exit_code', expect.exit_code, actual.exit_code, expect.exit_code === actual.exit_code);
  if (expect.rule !== undefined) check('rule', expect.rule, actual.rule, expect.rule === actual.rule);
  if (expect.code !== undefined) check('code', expect.code, actual.code, expect.code === actual.code);
  if (expect.reason_includes !== undefined) {
    check('reason_includes', expect.reason_includes, actual.reason, (actual.reason ?? '').includes(expect.reason_includes));
  }
  if (expect.statements !== undefined) check('statements', sorted(expect.statements), sorted(actual.statements), sameSet(expect.statements, actual.statements));
  if (expect.tables?.read !== undefined) check('tables.read', sorted(expect.tables.read), actual.tables.read, sameSet(expect.tables.read, actual.tables.read));
  if (expect.tables?.write !== undefined) check('tables.write', sorted(expect.tables.write), actual.tables.write, sameSet(expect.tables.write, actual.tables.write));
  if (expect.masks !== undefined) check('masks', sortedMap(expect.masks), sortedMap(actual.masks), JSON.stringify(sortedMap(expect.masks)) === JSON.stringify(sortedMap(actual.masks)));
  return out;
}

function sorted(xs: readonly string[]): string[] {
  return [...new Set(xs)].sort();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sortedMap(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
