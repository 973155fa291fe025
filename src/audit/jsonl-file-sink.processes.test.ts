/**
 * The sink under real processes: many writers at once, and writers killed with SIGKILL.
 * Children run the sink compiled from this checkout (tsc on src/audit's import closure into
 * tmp/, which .gitignore covers), so the test does not depend on a prior build of dist/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJsonlFileSink } from './jsonl-file-sink.js';
import { listAuditRecords } from './read-audit-log.js';
import { verifyAuditLog } from './verify-audit-log.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const child = path.join(here, 'append-child.fixture.mjs');
let buildDir: string;
let dir: string;

beforeAll(() => {
  buildDir = path.join(repo, 'tmp', `audit-build-${process.pid}-${Date.now()}`);
  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--outDir', buildDir, '--rootDir', path.join(repo, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node', path.join(here, 'jsonl-file-sink.ts')], { encoding: 'utf8', cwd: repo });
  if (!fs.existsSync(path.join(buildDir, 'audit', 'jsonl-file-sink.js'))) {
    throw new Error(`could not compile the sink for the child processes (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-procs-'));
});
afterAll(() => {
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Writer {
  proc: ChildProcess;
  acked: string[];
  midWrite: Promise<void>;
  exited: Promise<number | null>;
}

function startWriter(log: string, keyDir: string, count: number | 'loop', tag: string, options: { sqlBytes?: number; pauseMidWrite?: boolean; burst?: number } = {}): Writer {
  const args = [child, buildDir, log, keyDir, String(count), tag, String(options.sqlBytes ?? 0), options.pauseMidWrite ? 'pause-mid-write' : '', String(options.burst ?? 1)];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: string[] = [];
  let stderr = '';
  let buffered = '';
  let onMid: () => void = () => {};
  const midWrite = new Promise<void>((resolve) => (onMid = resolve));
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!; // only complete lines count as acknowledged
    for (const line of parts) {
      if (line === 'MIDWRITE') onMid();
      else if (line.startsWith('ACK ')) acked.push(line.split(' ')[2]);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') console.error(`writer ${tag} exited ${code}: ${stderr}`);
      resolve(code);
    }),
  );
  return { proc, acked, midWrite, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function firstAck(w: Writer): Promise<void> {
  const t0 = Date.now();
  while (w.acked.length === 0 && w.proc.exitCode === null && Date.now() - t0 < 30_000) await sleep(5);
}

/** Rounds of 3 looping writers, each killed with SIGKILL at a random moment after its first acknowledgement. */
async function killAtRandom(log: string, keyDir: string, tag: string, options: (k: number) => { sqlBytes?: number; burst?: number }): Promise<string[]> {
  const acked: string[] = [];
  for (let round = 0; round < 4; round++) {
    const ws = Array.from({ length: 3 }, (_, k) => startWriter(log, keyDir, 'loop', `${tag}${round}-${k}`, options(k)));
    await Promise.all(
      ws.map(async (w) => {
        await firstAck(w);
        await sleep(Math.random() * 150);
        w.proc.kill('SIGKILL');
      }),
    );
    await Promise.all(ws.map((w) => w.exited));
    for (const w of ws) acked.push(...w.acked);
  }
  return acked;
}

/** One more append by this process (it recovers whatever torn tail the killed writers left). */
async function appendFinal(log: string, keyDir: string) {
  const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
  const record = await sink.append({
    id: randomUUID(), time: new Date().toISOString(), event: 'query', run: 'final', subject: null, token_id: null, policy: { name: null, sha256: null },
    justification: null, sql: 'SELECT 1', statements: ['select'], tables: { read: [], write: [] }, decision: 'allow', reason: null,
    masked: { columns: {}, detected: {} }, warehouse: { kind: null, job_id: null, bytes_processed: null }, rows: 1, result_sha256: null, duration_ms: 1,
  });
  await sink.close();
  return record;
}

describe('JsonlFileSink across processes', () => {
  it('32 processes x 50 appends: seq 1..1600 without gaps, every acknowledged record present once, the chain verifies', async () => {
    const log = path.join(dir, 'concurrent.jsonl');
    const keyDir = path.join(dir, 'keys-concurrent');
    const writers = Array.from({ length: 32 }, (_, k) => startWriter(log, keyDir, 50, `p${k}`));
    const codes = await Promise.all(writers.map((w) => w.exited));
    expect(codes).toEqual(Array(32).fill(0));

    const records = [];
    for await (const r of listAuditRecords(log)) records.push(r);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1600 }, (_, i) => i + 1));
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(1600);
    for (const w of writers) {
      expect(w.acked).toHaveLength(50);
      for (const id of w.acked) expect(ids).toContain(id);
    }
    // writers really interleaved (not one after another)
    const switches = records.filter((r, i) => i > 0 && r.run !== records[i - 1].run).length;
    expect(switches).toBeGreaterThan(31);

    const report = await verifyAuditLog(log, { keyDir });
    expect(report).toMatchObject({ ok: true, records: 1600, recoveries: [], warnings: [] });
    expect(report.checkpoints.lastSeq).toBe(1600);
    expect(report.checkpoints.verified).toBe(report.checkpoints.count);
  }, 120_000);

  it('group commit across processes: writers appending 16 at a time, killed with SIGKILL at random moments (mid-commit included), lose no acknowledged record, and the chain verifies', async () => {
    const log = path.join(dir, 'group-killed.jsonl');
    const keyDir = path.join(dir, 'keys-group-killed');
    const acked = await killAtRandom(log, keyDir, 'grp', (k) => ({ burst: 16, sqlBytes: k === 0 ? 20_000 : 100 }));
    await appendFinal(log, keyDir);
    const report = await verifyAuditLog(log, { keyDir });
    expect(report.ok).toBe(true);
    const present = new Set<string>();
    for await (const r of listAuditRecords(log)) present.add(r.id);
    expect(acked.filter((id) => !present.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThan(48);
  }, 180_000);

  it('writers killed with SIGKILL at random points and in the middle of a write: the next writer recovers, nothing acknowledged is lost, verify passes and reports the recoveries', async () => {
    const log = path.join(dir, 'killed.jsonl');
    const keyDir = path.join(dir, 'keys-killed');
    const acked: string[] = [];
    const collect = (ws: Writer[]) => ws.forEach((w) => acked.push(...w.acked));

    // rounds of writers in a loop, each killed at a random moment after it started appending
    acked.push(...(await killAtRandom(log, keyDir, 'rand', (k) => ({ sqlBytes: k === 0 ? 200_000 : 100 }))));

    // rounds where one writer is killed mid-write, holding the lock, while others wait for it
    const midRounds = 3;
    for (let round = 0; round < midRounds; round++) {
      const victim = startWriter(log, keyDir, 'loop', `mid${round}`, { pauseMidWrite: true });
      await victim.midWrite;
      const others = Array.from({ length: 2 }, (_, k) => startWriter(log, keyDir, 'loop', `after${round}-${k}`));
      await sleep(300); // the others are now blocked on the lock the victim holds
      victim.proc.kill('SIGKILL');
      await Promise.all(
        others.map(async (w) => {
          await firstAck(w); // proves the lock died with the victim
          await sleep(Math.random() * 100);
          w.proc.kill('SIGKILL');
        }),
      );
      await Promise.all([victim, ...others].map((w) => w.exited));
      expect(victim.acked).toEqual([]);
      for (const w of others) expect(w.acked.length).toBeGreaterThan(0);
      collect([victim, ...others]);
    }
    // and one more torn tail left for the final writer to recover
    const last = startWriter(log, keyDir, 'loop', 'mid-final', { pauseMidWrite: true });
    await last.midWrite;
    last.proc.kill('SIGKILL');
    await last.exited;
    expect(fs.readFileSync(log).at(-1)).not.toBe(0x0a);

    const final = await appendFinal(log, keyDir);

    const report = await verifyAuditLog(log, { keyDir });
    expect(report.ok).toBe(true);
    expect(report.records).toBe(final.seq);
    expect(report.recoveries.length).toBeGreaterThanOrEqual(midRounds + 1);
    for (const r of report.recoveries) {
      expect(r.tornFileStatus).toBe('intact');
      const torn = fs.readFileSync(path.join(dir, r.tornFile), 'utf8');
      expect(torn.startsWith('{')).toBe(true);
    }
    const tornTags = report.recoveries.map((r) => fs.readFileSync(path.join(dir, r.tornFile), 'utf8'));
    for (let round = 0; round < midRounds; round++) expect(tornTags.some((t) => t.includes(`"mid${round}-0"`) || t.includes(`mid${round}`))).toBe(true);

    const present = new Set<string>();
    for await (const r of listAuditRecords(log)) present.add(r.id);
    const missing = acked.filter((id) => !present.has(id));
    expect(missing).toEqual([]);
    expect(acked.length).toBeGreaterThan(20);
    console.log(`killed writers: ${acked.length} acknowledged records all present; ${report.records} records; ${report.recoveries.length} torn tails recovered`);
  }, 180_000);
});
