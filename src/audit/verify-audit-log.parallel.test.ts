/**
 * verifyAuditLog on logs large enough for its helper thread (precheck-worker.ts): the same
 * report, line for line, as on one thread, for an untouched log and for tampering deep inside.
 * The thread's entry must be compiled JavaScript, so this file compiles the verifier (tsc, into
 * tmp/, which .gitignore covers) and tests that build; under vitest's TypeScript sources the
 * verifier would silently stay on one thread.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as VerifyModule from './verify-audit-log.js';
import type * as HashModule from './hash-record.js';
import type * as CheckpointModule from './checkpoint.js';
import type * as CheckpointKeyModule from './checkpoint-key.js';
import type * as CanonicalModule from './canonical-json.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..', '..');
let buildDir: string;
let dir: string;
let verify: typeof VerifyModule;
let hashing: typeof HashModule;
let checkpoint: typeof CheckpointModule;
let checkpointKey: typeof CheckpointKeyModule;
let canonical: typeof CanonicalModule;

beforeAll(async () => {
  buildDir = path.join(repo, 'tmp', `audit-verify-build-${process.pid}-${Date.now()}`);
  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const files = ['verify-audit-log.ts', 'precheck-worker-thread.ts', 'hash-record.ts', 'checkpoint.ts', 'checkpoint-key.ts', 'canonical-json.ts'].map((f) => path.join(here, f));
  const r = spawnSync(process.execPath, [tsc, '--outDir', buildDir, '--rootDir', path.join(repo, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node', ...files], { encoding: 'utf8', cwd: repo });
  const load = async (f: string) => import(pathToFileURL(path.join(buildDir, 'audit', f)).href);
  if (!fs.existsSync(path.join(buildDir, 'audit', 'precheck-worker-thread.js'))) throw new Error(`could not compile the verifier (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  verify = await load('verify-audit-log.js');
  hashing = await load('hash-record.js');
  checkpoint = await load('checkpoint.js');
  checkpointKey = await load('checkpoint-key.js');
  canonical = await load('canonical-json.js');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-verify-parallel-'));
}, 120_000);
afterAll(() => {
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Lines of n records as the sink writes them (about 1 KB each), some with escapes and non-ASCII text (slow path). */
function makeLines(n: number, bigSqlAt: ReadonlySet<number> = new Set()): string[] {
  const lines: string[] = [];
  let prev = hashing.GENESIS_PREV;
  for (let seq = 1; seq <= n; seq++) {
    const odd = seq % 7 === 0;
    const { record, line } = hashing.serializeAuditRecord({
      id: `rec-${seq}`, time: new Date(Date.UTC(2026, 10, 1) + seq * 1000).toISOString(), event: seq % 2 ? 'query.intent' : 'query',
      run: `nightly-${seq % 13}`, subject: 'repo:acme/ml:ref:refs/heads/main', token_id: `tok-${seq % 13}`,
      policy: { name: 'analyst-agent', sha256: sha(String(seq % 3)) }, justification: odd ? `Zoë's "nightly"\tpull — ${seq}\n` : 'nightly fine-tune data pull',
      sql: `SELECT c.name, c.email, sum(o.amount) AS total FROM crm.customers c JOIN sales.orders o ON o.customer_id = c.id WHERE o.id > ${seq} GROUP BY 1, 2 ORDER BY total DESC LIMIT 10 /* ${'x'.repeat(bigSqlAt.has(seq) ? 2_500_000 : seq % 400)} */`,
      statements: ['select'], tables: { read: ['demo.crm.customers', 'demo.sales.orders'], write: [] },
      decision: 'allow', reason: null, masked: { columns: { 'demo.crm.customers.email': 'hash' }, detected: {} },
      warehouse: { kind: 'duckdb', job_id: null, bytes_processed: seq * 1000 }, rows: seq % 50, result_sha256: sha(String(seq)), duration_ms: 37,
      seq, prev,
    } as never);
    prev = record.hash;
    lines.push(line);
  }
  return lines;
}

/**
 * Writes the lines, and checkpoints every `every` records (and at the end) of `signed` (the
 * log as first written, before any tampering), signed with a key in keyDir.
 */
function writeLog(file: string, lines: string[], keyDir: string, every: number, signed: string[] = lines): void {
  const key = checkpointKey.loadOrCreateCheckpointKey(keyDir);
  const cps: string[] = [];
  let size = 0;
  signed.forEach((line, i) => {
    size += Buffer.byteLength(line) + 1;
    const seq = i + 1;
    const hash = (JSON.parse(line) as { hash: string }).hash;
    if (seq % every === 0 || seq === signed.length) cps.push(canonical.canonicalJson(checkpoint.signCheckpoint(key, { seq, hash, logSizeBytes: size }, new Date(Date.UTC(2026, 10, 2)))));
  });
  fs.writeFileSync(file, lines.map((l) => l + '\n').join(''));
  fs.writeFileSync(`${file}.checkpoints`, cps.join('\n') + '\n');
}

/** Runs fn, counting the worker threads started meanwhile. */
async function countingWorkers<T>(fn: () => Promise<T>): Promise<{ out: T; workers: number }> {
  let workers = 0;
  const onWorker = () => workers++;
  process.on('worker', onWorker);
  try {
    return { out: await fn(), workers };
  } finally {
    process.off('worker', onWorker);
  }
}

/** Verifies on two threads and on one; both reports must be equal; returns the two-thread one. */
async function verifyBothWays(file: string, keyDir: string): Promise<VerifyModule.VerifyReport> {
  const two = await countingWorkers(() => verify.verifyAuditLog(file, { keyDir, parallelMinBytes: 1 }));
  const one = await countingWorkers(() => verify.verifyAuditLog(file, { keyDir, parallelMinBytes: Infinity }));
  expect(two.workers).toBe(1);
  expect(one.workers).toBe(0);
  expect(two.out).toEqual(one.out);
  return two.out;
}

describe('verifyAuditLog with its helper thread (several 1 MB batches)', () => {
  const N = 6000;
  let lines: string[];
  let keyDir: string;
  let file: string;
  beforeAll(() => {
    lines = makeLines(N);
    keyDir = path.join(dir, 'keys');
    file = path.join(dir, 'audit.jsonl');
  });
  const write = (ls: string[]) => writeLog(file, ls, keyDir, 100, lines);
  const tampered = (i: number, edit: (line: string) => string) => lines.map((l, j) => (j === i ? edit(l) : l));

  it('an untouched log verifies, with the same report as on one thread', async () => {
    write(lines);
    expect(fs.statSync(file).size).toBeGreaterThan(4 << 20);
    const report = await verifyBothWays(file, keyDir);
    expect(report).toMatchObject({ ok: true, records: N, head: { seq: N, hash: (JSON.parse(lines[N - 1]) as { hash: string }).hash }, warnings: [] });
    expect(report.checkpoints.verified).toBe(N / 100);
  });

  // positions in different batches, so some are prechecked on the helper thread and some here
  for (const at of [700, 1234, 1900, 2600, 3001, 3700, 4400, 4999, 5600, N - 1]) {
    it(`an edited SQL text at line ${at + 1} is reported at that line`, async () => {
      write(tampered(at, (l) => l.replace('LIMIT 10', 'LIMIT 11')));
      const report = await verifyBothWays(file, keyDir);
      expect(report.ok).toBe(false);
      expect(report.firstBad).toMatchObject({ line: at + 1, seq: at + 1, problem: expect.stringMatching(/content no longer matches its hash/) });
      expect(report.records).toBe(at);
    });
  }

  it('an edited line with its hash recomputed is reported (the next line links elsewhere)', async () => {
    const ls = [...lines];
    const at = 4321;
    const { hash: _h, ...rest } = JSON.parse(ls[at]) as Record<string, unknown>;
    ls[at] = hashing.serializeAuditRecord({ ...rest, rows: 9999 } as never).line;
    write(ls);
    const report = await verifyBothWays(file, keyDir);
    expect(report.firstBad).toMatchObject({ line: at + 1, problem: expect.stringMatching(/links \(prev\) to a different hash/) });
  });

  it('swapped, deleted lines and a cut tail are reported at the right line', async () => {
    const swapped = [...lines];
    [swapped[3500], swapped[3501]] = [swapped[3501], swapped[3500]];
    write(swapped);
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: 3501, problem: expect.stringMatching(/seq 3502 where 3501 was expected/) });

    write(lines.filter((_, j) => j !== 2750));
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: 2751, problem: expect.stringMatching(/record 2751 is missing/) });

    write(lines);
    fs.truncateSync(file, lines.slice(0, N - 150).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: N - 149, problem: expect.stringMatching(/the last 150 records were cut off/) });
  });

  it('re-encodings that keep the content (key order, whitespace, \\u escapes) verify the same way on both threads; the next checkpoint catches a changed size, naming the first line it covers', async () => {
    const at = 4100;
    // keys reordered: same content and the same size, so the same hash and byte count
    write(tampered(at, (l) => {
      const { hash, ...rest } = JSON.parse(l) as Record<string, unknown>;
      const reversed = Object.fromEntries(Object.entries(rest).reverse());
      return JSON.stringify({ ...reversed, hash });
    }));
    expect(await verifyBothWays(file, keyDir)).toMatchObject({ ok: true, records: N });
    // a space: one byte more, caught by the next signed checkpoint's byte count
    write(tampered(at, (l) => l.replace('"decision":', '"decision": ')));
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: 4101, seq: 4101, problem: expect.stringMatching(/seq 4101 to 4200 was re-encoded/) });
    // a \u escape for a plain letter: the same, five bytes more
    write(tampered(at, (l) => l.replace('"decision":"allow"', '"decision":"\\u0061llow"')));
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: 4101, seq: 4101, problem: expect.stringMatching(/seq 4101 to 4200 was re-encoded/) });
  });

  it('a torn final line is warned about the same way', async () => {
    write(lines);
    fs.appendFileSync(file, lines[0].slice(0, 300));
    const report = await verifyBothWays(file, keyDir);
    expect(report.ok).toBe(true);
    expect(report.warnings.join()).toMatch(new RegExp(`incomplete line ${N + 1} \\(300 bytes\\)`));
  });
});

describe('verifyAuditLog on lines longer than its 1 MB batches', () => {
  it('two 2.5 MB records in a row (an intent and its outcome carry the same long SQL): the same report on two threads as on one', async () => {
    const keyDir = path.join(dir, 'keys-long');
    const file = path.join(dir, 'long-lines.jsonl');
    const lines = makeLines(3000, new Set([1500, 1501]));
    writeLog(file, lines, keyDir, 100);
    expect(await verifyBothWays(file, keyDir)).toMatchObject({ ok: true, records: 3000 });
    const at = 2000; // after both long lines
    writeLog(file, lines.map((l, j) => (j === at ? l.replace('LIMIT 10', 'LIMIT 11') : l)), keyDir, 100, lines);
    expect((await verifyBothWays(file, keyDir)).firstBad).toMatchObject({ line: at + 1, problem: expect.stringMatching(/content no longer matches its hash/) });
  });
});

describe('verifyAuditLog at its default threshold', () => {
  it('a small log starts no thread; a log above PARALLEL_VERIFY_MIN_BYTES does, and a tampered line deep inside is reported at its line', async () => {
    const keyDir = path.join(dir, 'keys-default');
    const small = path.join(dir, 'small.jsonl');
    writeLog(small, makeLines(200), keyDir, 100);
    const s = await countingWorkers(() => verify.verifyAuditLog(small, { keyDir }));
    expect(s.out.ok).toBe(true);
    expect(s.workers).toBe(0);

    const lines = makeLines(34_000);
    const at = 33_017;
    const edited = [...lines];
    edited[at] = lines[at].replace('"rows":', '"rows":1');
    const big = path.join(dir, 'big.jsonl');
    writeLog(big, edited, keyDir, 1000, lines);
    expect(fs.statSync(big).size).toBeGreaterThanOrEqual(verify.PARALLEL_VERIFY_MIN_BYTES);
    const b = await countingWorkers(() => verify.verifyAuditLog(big, { keyDir }));
    expect(b.workers).toBe(1);
    expect(b.out.firstBad).toMatchObject({ line: at + 1, seq: at + 1, problem: expect.stringMatching(/content no longer matches its hash/) });
    expect(verify.verifyReportToError(b.out).exitCode).toBe(9);
  }, 60_000);
});

describe('verifyAuditLog when its helper thread dies mid-run', () => {
  // A copy of the compiled verifier whose thread entry fails on its second batch (after taking
  // the batch's bytes): a real Worker that really exits or throws. The verifier must start over
  // on its own thread and give the report it gives without a thread.
  const crashing = (how: 'exit' | 'throw') => `
    import { parentPort } from 'node:worker_threads';
    import { precheckLines } from './precheck-lines.js';
    let n = 0;
    parentPort.on('message', (req) => {
      if (++n === 2) ${how === 'exit' ? 'process.exit(3)' : "throw new Error('helper thread failure (test)')"};
      const facts = precheckLines(Buffer.from(req.bytes), req.starts, req.ends);
      parentPort.postMessage({ id: req.id, bytes: req.bytes, facts }, [req.bytes, facts.buffer]);
    });`;
  const N = 6000;
  let lines: string[];
  let keyDir: string;

  beforeAll(() => {
    lines = makeLines(N);
    keyDir = path.join(dir, 'keys-crash');
  });

  for (const how of ['exit', 'throw'] as const) {
    it(`the thread ${how === 'exit' ? 'exits (code 3)' : 'throws'}: same verdicts as one thread, untouched and tampered`, async () => {
      const copyDir = `${buildDir}-crash-${how}`;
      fs.cpSync(buildDir, copyDir, { recursive: true });
      fs.writeFileSync(path.join(copyDir, 'audit', 'precheck-worker-thread.js'), crashing(how));
      const crashy = (await import(pathToFileURL(path.join(copyDir, 'audit', 'verify-audit-log.js')).href)) as typeof VerifyModule;
      try {
        const file = path.join(dir, `crash-${how}.jsonl`);
        const at = 4999;
        for (const ls of [lines, lines.map((l, j) => (j === at ? l.replace('LIMIT 10', 'LIMIT 11') : l))]) {
          writeLog(file, ls, keyDir, 100, lines);
          const two = await countingWorkers(() => crashy.verifyAuditLog(file, { keyDir, parallelMinBytes: 1 }));
          const one = await verify.verifyAuditLog(file, { keyDir, parallelMinBytes: Infinity });
          expect(two.workers).toBe(1); // it did start the thread (and it died)
          expect(two.out).toEqual(one);
        }
        expect((await crashy.verifyAuditLog(file, { keyDir, parallelMinBytes: 1 })).firstBad).toMatchObject({ line: at + 1, problem: expect.stringMatching(/content no longer matches its hash/) });
      } finally {
        fs.rmSync(copyDir, { recursive: true, force: true });
      }
    });
  }
});
