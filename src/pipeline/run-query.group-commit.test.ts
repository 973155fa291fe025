/**
 * The pipeline over a group-committing audit sink, in one warm process: concurrent queries
 * whose intent records cannot be made durable (the disk's fsync fails) all refuse with exit 8
 * and none of them reaches the warehouse, and the budget units spent beside those intents are
 * given back; once the disk works again queries run and the log verifies. The parts are the ones createLocalParts builds; only the disk under the sink is
 * a test's (a fake at the process boundary), and the warehouse opener is wrapped to count
 * executions.
 */
import { fdatasyncSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditSink } from '../audit/audit-record.js';
import { openJsonlFileSink, type AuditDisk } from '../audit/jsonl-file-sink.js';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import type { HoopqConfig } from '../config/config.js';
import { AuditWriteError } from '../errors.js';
import { mintRunToken } from '../identity/run-token.js';
import { createDemoWarehouse } from '../quickstart/create-demo-warehouse.js';
import { createLocalParts, type LocalParts } from './local-parts.js';
import type { PipelineParts } from './pipeline-parts.js';
import { runQuery } from './run-query.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-group-pipeline-'));
const log = join(dir, 'audit.jsonl');
let local: LocalParts;
let parts: PipelineParts;
let sink: AuditSink;
let token: string;
let executions = 0;
let diskFails = false;

const disk: AuditDisk = {
  fdatasync(fd) {
    if (diskFails) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    fdatasyncSync(fd);
  },
};

beforeAll(async () => {
  const policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  writeFileSync(join(policiesDir, 'reader.yaml'), 'name: reader\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
  const config: HoopqConfig = {
    file: join(dir, 'hoopq.yaml'),
    dir,
    warehouse: { kind: 'duckdb', path: join(dir, 'demo.duckdb'), defaultProject: 'demo', defaultDataset: 'analytics' },
    policiesDir,
    audit: { kind: 'file', path: log },
    keysDir: join(dir, 'keys'),
    statePath: join(dir, 'state.sqlite'),
    checkpointEvery: 1000,
    approvals: { webhooks: [] },
    operators: { fourEyes: true },
  };
  await createDemoWarehouse(config.warehouse.path!);
  local = createLocalParts(config);
  sink = await openJsonlFileSink(log, { disk, checkpoint: { keyDir: config.keysDir, every: 1000 } });
  parts = {
    ...local.parts,
    audit: async () => sink,
    openWarehouse: async (session) => {
      const warehouse = await local.parts.openWarehouse(session);
      const execute = warehouse.execute.bind(warehouse);
      warehouse.execute = (statements, options) => {
        executions += 1;
        return execute(statements, options);
      };
      return warehouse;
    },
  };
  const policy = parts.policies.get('reader')!;
  ({ token } = await mintRunToken({ keysDir: config.keysDir, policy, run: 'group-pipeline', subject: 'test', state: local.state() }));
});

afterAll(async () => {
  await sink?.close();
  await local?.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = (sql: string) =>
  runQuery(parts, { sql, token, justification: null, format: 'json', out: new Writable({ write: (_c, _e, cb) => cb() }), notice: () => {} });

describe('runQuery over a group-committing sink', () => {
  it('concurrent queries share fsyncs and each has its intent before its outcome', async () => {
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => query(`SELECT ${i} AS n`)));
    expect(outcomes.every((o) => o.rows === 1)).toBe(true);
    expect(executions).toBe(12);
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(24);
    for (const o of outcomes) {
      const outcome = records.find((r) => r.id === o.recordId)!;
      const intent = records.find((r) => r.id === outcome.intent)!;
      expect(intent.event).toBe('query.intent');
      expect(intent.seq as number).toBeLessThan(outcome.seq as number);
    }
  });

  it('when the fsync fails, every concurrent query refuses with exit 8 and none reaches the warehouse', async () => {
    const before = executions;
    const linesBefore = readFileSync(log, 'utf8');
    const unitsBefore = local.state().queriesStarted('group-pipeline');
    diskFails = true;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => query(`SELECT ${i} AS n`)));
    diskFails = false;
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(AuditWriteError);
      expect(err).toMatchObject({ exitCode: 8 });
    }
    expect(executions).toBe(before);
    expect(readFileSync(log, 'utf8')).toBe(linesBefore); // nothing of unknown durability stays
    // each unit, spent while its intent was being written, was given back: the budget counts
    // no query that did not run, and no unit is left waiting for an outcome
    expect(local.state().queriesStarted('group-pipeline')).toBe(unitsBefore);
    expect(local.state().pendingOutcomes()).toEqual([]);
    // the disk is back: queries run again on an intact chain
    await query('SELECT 42 AS n');
    expect(executions).toBe(before + 1);
    expect(await verifyAuditLog(log, { keyDir: join(dir, 'keys') })).toMatchObject({ ok: true, records: 26 });
  });
});
