/**
 * The PostgreSQL sink under real processes (replicas): many writers at once, and writers
 * killed with SIGKILL. Children run the sink compiled from this checkout (tsc into tmp/, which
 * .gitignore covers), against one real PostgreSQL server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_POSTGRES, startPostgres, type PostgresServer } from '../../test/fakes/postgres-server.mjs';
import { listAuditRecordsOf, verifyAuditLogOf } from '../audit/audit-log-source.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const child = path.join(here, '..', 'audit', 'append-child.fixture.mjs');
let buildDir: string;
let keyDir: string;
let server: PostgresServer;

beforeAll(async () => {
  if (!HAS_POSTGRES) return;
  buildDir = path.join(repo, 'tmp', `pg-audit-build-${process.pid}-${Date.now()}`);
  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--outDir', buildDir, '--rootDir', path.join(repo, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--esModuleInterop', '--types', 'node', path.join(here, 'pg-audit-sink.ts')], { encoding: 'utf8', cwd: repo });
  if (!fs.existsSync(path.join(buildDir, 'postgres', 'pg-audit-sink.js'))) {
    throw new Error(`could not compile the sink for the child processes (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-pgprocs-'));
  fs.chmodSync(keyDir, 0o700);
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

interface Writer {
  proc: ChildProcess;
  acked: string[];
  exited: Promise<number | null>;
}

function startWriter(url: string, count: number | 'loop', tag: string, burst = 1): Writer {
  const proc = spawn(process.execPath, [child, buildDir, url, keyDir, String(count), tag, '0', '', String(burst)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: string[] = [];
  let stderr = '';
  let buffered = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!; // only complete lines count as acknowledged
    for (const line of parts) if (line.startsWith('ACK ')) acked.push(line.split(' ')[2]);
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') console.error(`writer ${tag} exited ${code}: ${stderr}`);
      resolve(code);
    }),
  );
  return { proc, acked, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAS_POSTGRES)('several processes appending to one PostgreSQL log', () => {
  it('gives contiguous seqs, every acknowledged record, and a log that verifies', async () => {
    const url = await server.createDatabase();
    const writers = Array.from({ length: 4 }, (_, k) => startWriter(url, 40, `w${k}`, k % 2 === 0 ? 4 : 1));
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    const records = [];
    for await (const r of listAuditRecordsOf({ kind: 'postgres', url })) records.push(r);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(writers.flatMap((w) => w.acked)));
    // the writers interleaved (it is one log of several replicas, not four logs in a row)
    const runs = records.map((r) => r.run);
    expect(runs.filter((run, i) => i > 0 && run !== runs[i - 1]).length).toBeGreaterThan(3);
    const report = await verifyAuditLogOf({ kind: 'postgres', url }, { keyDir });
    expect(report.firstBad).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.records).toBe(160);
  });

  it('a writer killed with SIGKILL mid-stream loses no acknowledged record, and the log still verifies', async () => {
    const url = await server.createDatabase();
    const acked: string[] = [];
    for (let round = 0; round < 3; round++) {
      const writers = Array.from({ length: 3 }, (_, k) => startWriter(url, 'loop', `k${round}-${k}`, 1 + k));
      for (const w of writers) {
        const t0 = Date.now();
        while (w.acked.length === 0 && w.proc.exitCode === null && Date.now() - t0 < 30_000) await sleep(5);
      }
      await sleep(50 + Math.random() * 150);
      for (const w of writers) w.proc.kill('SIGKILL');
      await Promise.all(writers.map((w) => w.exited));
      acked.push(...writers.flatMap((w) => w.acked));
    }
    expect(acked.length).toBeGreaterThan(9);
    const ids = new Set<string>();
    for await (const r of listAuditRecordsOf({ kind: 'postgres', url })) ids.add(r.id);
    for (const id of acked) expect(ids.has(id)).toBe(true);
    const report = await verifyAuditLogOf({ kind: 'postgres', url }, { keyDir });
    expect(report.firstBad).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.records).toBe(ids.size);
  });
});
