/**
 * Black-box: an audit log proves its own completeness (issue 15, item 6). An attacker on the
 * log's host deletes `audit.jsonl.checkpoints` and cuts the log's tail: `audit verify` exits 9
 * (no checkpoint covers the records) unless the operator says `--allow-no-checkpoint`. With a
 * witness (`audit_witness:` a second file, or the gateway's GET /v1/audit/checkpoint kept by a
 * verifier elsewhere), cutting the log and its checkpoints file together is still detected.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, startGatewayProcess, stopProcess, type Demo } from './cli-harness.js';

const J = { HOOPQ_JUSTIFICATION: 'completeness test' };

let demo: Demo;
let token: string;
let elsewhere: string;
const log = () => join(demo.dir, 'audit.jsonl');
const checkpoints = () => `${log()}.checkpoints`;

function cutLog(keep: number): void {
  const lines = readFileSync(log(), 'utf8').split('\n').filter(Boolean);
  writeFileSync(log(), lines.slice(0, keep).map((l) => l + '\n').join(''));
}

function verify(...args: string[]) {
  return demo.run(['audit', 'verify', ...args]);
}

beforeAll(() => {
  demo = createDemo();
  elsewhere = mkdtempSync(join(tmpdir(), 'hoopq-witness-'));
  token = demo.mint('analyst-agent', 'completeness');
}, 120_000);

afterAll(() => {
  rmSync(demo.dir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('without a witness', () => {
  it('a first record is signed at once; deleting the checkpoints and cutting the tail fails verification (exit 9)', () => {
    for (let i = 0; i < 3; i++) expect(demo.run(['query', `SELECT ${i} AS n`], { env: { ...J, HOOPQ_TOKEN: token } }).code).toBe(0);
    expect(verify().code).toBe(0);
    const before = readFileSync(log(), 'utf8');
    const cps = readFileSync(checkpoints(), 'utf8');
    rmSync(checkpoints());
    cutLog(2);
    const r = verify();
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/no signed checkpoint covers this log's 2 records/);
    const allowed = verify('--allow-no-checkpoint');
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/warning: no signed checkpoint covers this log/);
    writeFileSync(log(), before);
    writeFileSync(checkpoints(), cps);
    expect(verify().code).toBe(0);
  });
});

describe('with a witness file on another path', () => {
  beforeAll(() => {
    appendFileSync(demo.config, `audit_witness: ${join(elsewhere, 'witness.checkpoints')}\n`);
  });

  it('every checkpoint is copied to the witness; cutting the log and its checkpoints file together is detected', () => {
    for (let i = 0; i < 2; i++) expect(demo.run(['query', `SELECT ${i} AS n`], { env: { ...J, HOOPQ_TOKEN: token } }).code).toBe(0);
    const witnessed = readFileSync(join(elsewhere, 'witness.checkpoints'), 'utf8').trim().split('\n');
    expect(witnessed.length).toBeGreaterThan(0);
    expect(readFileSync(checkpoints(), 'utf8')).toContain(witnessed.at(-1)!);
    expect(verify().code).toBe(0);

    const before = readFileSync(log(), 'utf8');
    const cps = readFileSync(checkpoints(), 'utf8');
    const total = before.split('\n').filter(Boolean).length;
    // the attacker rewrites the local checkpoints to stop before the cut, and cuts the log
    const kept = cps.split('\n').filter(Boolean).filter((l) => (JSON.parse(l) as { seq: number }).seq <= total - 2);
    writeFileSync(checkpoints(), kept.map((l) => l + '\n').join(''));
    cutLog(total - 2);
    const r = verify();
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/witness\.checkpoints.*covers seq \d+: the last 2 records were cut off/);
    writeFileSync(log(), before);
    writeFileSync(checkpoints(), cps);
    expect(verify().code).toBe(0);
  });

  it('a deleted witness fails verification, and queries stop while it cannot be written', () => {
    const witness = join(elsewhere, 'witness.checkpoints');
    const saved = readFileSync(witness, 'utf8');
    rmSync(witness);
    const r = verify();
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/witness .* does not exist/);
    writeFileSync(witness, saved);
    rmSync(elsewhere, { recursive: true, force: true }); // the witness's file system is gone
    const q = demo.run(['query', 'SELECT 1 AS n'], { env: { ...J, HOOPQ_TOKEN: token } });
    expect(q.code).toBe(8);
    expect(q.stderr).toMatch(/witness/);
  });
});

describe('the gateway serves its newest checkpoint to verifiers elsewhere', () => {
  it('GET /v1/audit/checkpoint, and verify --witness URL detects a cut of log and checkpoints', async () => {
    // the witness of the previous block is gone: this deployment runs without one
    writeFileSync(demo.config, readFileSync(demo.config, 'utf8').replace(/^audit_witness:.*\n/m, ''));
    const gw = await startGatewayProcess(demo.dir, demo.config);
    try {
      const res = await fetch(`${gw.url}/v1/audit/checkpoint`);
      expect(res.status).toBe(200);
      const cp = (await res.json()) as { seq: number; hash: string; signature: string };
      const lines = readFileSync(log(), 'utf8').split('\n').filter(Boolean);
      expect(cp.seq).toBeLessThanOrEqual(lines.length);
      expect((JSON.parse(lines[cp.seq - 1]!) as { hash: string }).hash).toBe(cp.hash);
      expect(verify('--witness', gw.url).code).toBe(0);
      // cut the log and its checkpoints file below the seq the gateway served
      const cps = readFileSync(checkpoints(), 'utf8').split('\n').filter(Boolean).filter((l) => (JSON.parse(l) as { seq: number }).seq < cp.seq);
      writeFileSync(checkpoints(), cps.map((l) => l + '\n').join(''));
      cutLog(cp.seq - 1);
      // a verifier elsewhere kept what it fetched; the gateway itself remembers what it served
      const kept = join(demo.dir, '..', `${cp.seq}-witness.jsonl`);
      writeFileSync(kept, JSON.stringify(cp) + '\n');
      for (const witness of [kept, gw.url]) {
        const r = verify('--witness', witness);
        expect(r.code).toBe(9);
        expect(r.stderr).toMatch(/covers seq \d+: the last 1 record was cut off/);
      }
      rmSync(kept);
    } finally {
      await stopProcess(gw.process);
    }
  }, 60_000);
});
