/**
 * What the fault-injection suites share: the test binary (the built hoopq with
 * inject-faults.mjs preloaded), and the ledgers each case checks after its fault — the
 * audit records (every intent with its outcomes), the budget units the state store counted,
 * and the rows the warehouse really holds.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import type { CliResult, Demo } from '../cli/cli-harness.js';

export const FAULT_HOOK = resolve(import.meta.dirname, 'inject-faults.mjs');

export interface FaultPlan {
  target: 'audit' | 'checkpoints' | 'state';
  op: 'write' | 'sync' | 'begin' | 'commit';
  fault: 'ENOSPC' | 'EIO' | 'EROFS' | 'BUSY' | 'kill' | 'kill-mid' | 'kill-after';
  nth?: number;
  count?: number;
  match?: string;
}

/** Runs hoopq (direct mode, in the demo) with one planned fault. */
export function runWithFault(demo: Demo, args: string[], plan: FaultPlan, env: Record<string, string> = {}): CliResult {
  return demo.run(args, { nodeArgs: ['--import', FAULT_HOOK], env: { FAULT_PLAN: JSON.stringify(plan), ...env } });
}

export interface AuditLedger {
  records: Array<Record<string, any>>;
  intents: Array<Record<string, any>>;
  /** intent id -> the outcome records that name it */
  outcomes: Map<string, Array<Record<string, any>>>;
}

export function auditLedger(demo: Demo): AuditLedger {
  const records = demo.auditRecords();
  const intents = records.filter((r) => r.event === 'query.intent');
  const outcomes = new Map<string, Array<Record<string, any>>>();
  for (const r of records) {
    if (typeof r.intent !== 'string') continue;
    outcomes.set(r.intent, [...(outcomes.get(r.intent) ?? []), r]);
  }
  return { records, intents, outcomes };
}

/** Budget units the state store counted for the run (through `hoopq token list`, as an operator sees them). */
export function unitsSpent(demo: Demo, run: string): number {
  const r = demo.admin(['token', 'list', '--format', 'json']);
  expect(r.code, r.stderr).toBe(0);
  const tokens = JSON.parse(r.stdout) as Array<{ run: string; queriesStarted: number }>;
  return tokens.find((t) => t.run === run)?.queriesStarted ?? 0;
}

/** No budget unit without a record: the run's units never exceed its intent records. */
export function expectUnitsBackedByRecords(demo: Demo, run: string): void {
  const intents = auditLedger(demo).intents.filter((r) => r.run === run).length;
  expect(unitsSpent(demo, run)).toBeLessThanOrEqual(intents);
}

/** Every intent has at most one outcome, and the log verifies. */
export function expectLogSound(demo: Demo): void {
  const { intents, outcomes } = auditLedger(demo);
  for (const intent of intents) expect((outcomes.get(intent.id) ?? []).length, `outcomes of intent ${intent.id}`).toBeLessThanOrEqual(1);
  const verify = demo.admin(['audit', 'verify']);
  expect(verify.code, verify.stderr).toBe(0);
}

/** Rows in a table, read from the warehouse file itself (read-only, outside hoopq). */
export async function countRows(demo: Demo, table: string): Promise<number> {
  const instance = await DuckDBInstance.create(join(demo.dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(`SELECT count(*) FROM demo.${table}`);
      return Number(reader.getRowsJS()[0]![0]);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** The stderr JSON object of a refusal under --format json. */
export function refusalOf(r: CliResult): { code: string; message: string; hint: string | null; exit: number } {
  return JSON.parse(r.stderr.trim().split('\n').pop()!);
}
