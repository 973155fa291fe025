/**
 * The differential fuzzer for DuckDB analysis. hoopq's decision (checkQuery: analysis, policy,
 * masks — the pipeline's own code) on each generated text is compared with DuckDB's own
 * reading of the same bytes, on the quickstart demo warehouse under the analyst-agent policy:
 * - the statement count and statement types DuckDB extracts and binds;
 * - the tables in DuckDB's own parse tree of the received text (json_serialize_sql), walked
 *   by the same collector, must all be tables hoopq named;
 * - no engine-control statement (SET, PRAGMA, CALL, transactions …) in DuckDB's reading;
 * and for every allowed case, hoopq's statements are run for real and the result must hold
 * no card number and no raw e-mail or SSN, forwards or reversed.
 * A disagreement is only counted when hoopq ALLOWED the text: refusing is always safe.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { collectDuckDbTableReferences } from '../../src/analysis/duckdb/collect-duckdb-table-references.js';
import { tablesOf } from '../../src/analysis/query-analysis.js';
import { resolveTableName } from '../../src/analysis/table-name.js';
import { WarehouseError } from '../../src/errors.js';
import { checkQuery } from '../../src/pipeline/check-query.js';
import { loadPolicy } from '../../src/policy/load-policy.js';
import { createDemoWarehouse } from '../../src/quickstart/create-demo-warehouse.js';
import { generateDemoData } from '../../src/quickstart/demo-data.js';
import { readDemoPolicy } from '../../src/quickstart/demo-files.js';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/open-duckdb-warehouse.js';
import { TEST_HASH_KEY } from '../fixtures/test-hash-key.js';
import type { DuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.js';
import { generateCase, mutateCase, prng } from './smuggling-cases.js';

export interface Disagreement {
  sql: string;
  why: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  allowed: number;
  refused: number;
  /** Allowed cases whose result was checked for secrets by running them. */
  executed: number;
  disagreements: Disagreement[];
}

const ENGINE_CONTROL_TYPES = new Set(['SET', 'VARIABLE_SET', 'PRAGMA', 'CALL', 'TRANSACTION', 'ATTACH', 'DETACH', 'LOAD', 'EXPORT', 'COPY', 'COPY_DATABASE', 'PREPARE', 'EXECUTE', 'EXPLAIN', 'VACUUM', 'ANALYZE', 'LOGICAL_PLAN', 'RELATION', 'EXTENSION', 'MULTI', 'UPDATE_EXTENSIONS']);

export interface FuzzHarness {
  run(cases: number, seed: number, onProgress?: (done: number) => void): Promise<FuzzReport>;
  close(): Promise<void>;
}

export async function openFuzzHarness(): Promise<FuzzHarness> {
  const root = mkdtempSync(join(tmpdir(), 'hoopq-fuzz-'));
  const dbPath = join(root, 'demo.duckdb');
  await createDemoWarehouse(dbPath);
  writeFileSync(join(root, 'analyst-agent.yaml'), readDemoPolicy('analyst-agent'));
  const policy = loadPolicy(join(root, 'analyst-agent.yaml'));
  const warehouse: DuckDbWarehouse = await openDuckDbWarehouse({ path: dbPath, writable: false, hashKey: TEST_HASH_KEY });
  const names = { defaultProject: warehouse.project, defaultDataset: 'crm' };
  // DuckDB's own reading of the received bytes, on an instance of its own
  const oracleInstance = await DuckDBInstance.create(':memory:');
  const oracle = await oracleInstance.connect();
  await oracle.run(`ATTACH '${dbPath.replace(/'/g, "''")}' AS demo (READ_ONLY); USE demo.crm`);
  const secrets = secretForms();

  async function oneCase(sql: string, report: FuzzReport): Promise<void> {
    report.cases++;
    let checked;
    try {
      checked = await checkQuery(warehouse, sql, policy, 'fuzz', names);
    } catch {
      report.refused++;
      return;
    }
    report.allowed++;
    const disagree = (why: string) => report.disagreements.push({ sql, why });
    const hoopq = checked.analysis;
    const known = new Set([...tablesOf(hoopq).read, ...tablesOf(hoopq).write]);
    const engine = await engineReading(oracle, sql, names);
    if (!engine.parsed) return disagree(`hoopq allowed what DuckDB cannot parse: ${engine.why}`);
    if (engine.types.length !== hoopq.statements.length) return disagree(`statement count: hoopq ${hoopq.statements.length}, DuckDB ${engine.types.length}`);
    for (let i = 0; i < engine.types.length; i++) {
      const type = engine.types[i]!;
      if (ENGINE_CONTROL_TYPES.has(type)) return disagree(`DuckDB reads an engine-control statement (${type})`);
      if (type !== 'UNBOUND' && type !== hoopq.statements[i]!.nativeType) return disagree(`statement ${i + 1}: hoopq ${hoopq.statements[i]!.nativeType}, DuckDB ${type}`);
    }
    if (engine.walkerRefused) return disagree(`hoopq's collector refuses DuckDB's own tree of the text: ${engine.walkerRefused}`);
    const unseen = engine.tables.find((t) => !known.has(t));
    if (unseen) return disagree(`DuckDB reads ${unseen}, which hoopq did not name`);
    if (checked.analysis.statements.every((s) => s.kind === 'select')) {
      const text = await execute(warehouse, checked.statementsToRun, names);
      report.executed++;
      const leak = secrets.find((s) => text.includes(s));
      if (leak) return disagree(`the result holds a secret (${leak.slice(0, 4)}…)`);
    }
  }

  return {
    async run(cases, seed, onProgress) {
      const report: FuzzReport = { seed, cases: 0, allowed: 0, refused: 0, executed: 0, disagreements: [] };
      const rand = prng(seed);
      for (let k = 0; k < cases; k++) {
        const generated = generateCase(rand);
        await oneCase(rand() < 0.35 ? mutateCase(rand, generated) : generated, report);
        if (onProgress && k % 1000 === 999) onProgress(k + 1);
      }
      return report;
    },
    async close() {
      oracle.closeSync();
      oracleInstance.closeSync();
      await warehouse.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

interface EngineReading {
  parsed: boolean;
  why?: string;
  types: string[];
  tables: string[];
  walkerRefused?: string;
}

async function engineReading(oracle: DuckDBConnection, sql: string, names: { defaultProject: string; defaultDataset: string }): Promise<EngineReading> {
  let count: number;
  const types: string[] = [];
  try {
    const extracted = await oracle.extractStatements(sql);
    count = extracted.count;
    for (let i = 0; i < count; i++) {
      try {
        const prepared = await extracted.prepare(i);
        types.push(StatementType[prepared.statementType] ?? String(prepared.statementType));
        prepared.destroySync();
      } catch {
        types.push('UNBOUND');
      }
    }
  } catch (err) {
    return { parsed: false, why: (err as Error).message.split('\n')[0], types: [], tables: [] };
  }
  const tables: string[] = [];
  let walkerRefused: string | undefined;
  const raw = (await oracle.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [sql])).getRows()[0]?.[0];
  const parsed = JSON.parse(String(raw)) as { error?: boolean; statements?: Record<string, unknown>[] };
  if (!parsed.error) {
    for (const tree of parsed.statements ?? []) {
      try {
        for (const ref of collectDuckDbTableReferences(tree).tables) {
          tables.push(resolveTableName(ref.parts, { caseInsensitive: true, ...names }));
        }
      } catch (err) {
        walkerRefused = (err as Error).message;
      }
    }
  }
  return { parsed: true, types, tables, walkerRefused };
}

/** The rows the statements return, as JSON; a warehouse error (the SQL fails to bind or run) returns nothing. */
async function execute(warehouse: DuckDbWarehouse, statements: readonly string[], names: { defaultProject: string; defaultDataset: string }): Promise<string> {
  const rows: unknown[] = [];
  try {
    const execution = await warehouse.execute(statements, { signal: new AbortController().signal, timeoutMs: 10_000, names });
    for await (const batch of execution.batches) rows.push(...batch);
  } catch (err) {
    if (!(err instanceof WarehouseError)) throw err;
  }
  return JSON.stringify(rows);
}

/** Card numbers, raw e-mails and SSNs of the demo data, forwards and reversed. */
function secretForms(): string[] {
  const data = generateDemoData();
  const out: string[] = [];
  const add = (s: string) => out.push(s, [...s].reverse().join(''));
  for (const c of data.cards) add(c.card_number);
  for (const c of data.customers) {
    add(c.email);
    add(c.ssn);
  }
  return out;
}
