/**
 * The differential fuzzer in `npm test`: >= 5,000 generated and mutated cases with a fixed
 * seed. `npm run fuzz` runs the long mode (HOOPQ_FUZZ_CASES, default there 200,000, and
 * HOOPQ_FUZZ_SEED, random when unset and printed). Goal: 0 disagreements that allow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFuzzHarness, type FuzzHarness } from './duckdb-differential.js';

const CASES = Number(process.env.HOOPQ_FUZZ_CASES ?? 5000);
const SEED = Number(process.env.HOOPQ_FUZZ_SEED ?? 20261207);

describe('DuckDB analysis against DuckDB itself (differential fuzzer)', () => {
  let harness: FuzzHarness;
  beforeAll(async () => {
    harness = await openFuzzHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it(`allows nothing DuckDB reads differently (${CASES} cases, seed ${SEED})`, { timeout: Math.max(600_000, CASES * 50) }, async () => {
    const started = Date.now();
    const report = await harness.run(CASES, SEED, (done) => {
      if (CASES > 10_000) console.log(`fuzz: ${done}/${CASES} cases, ${Math.round((Date.now() - started) / 1000)} s`);
    });
    console.log(`fuzz: seed ${report.seed}: ${report.cases} cases, ${report.allowed} allowed (${report.executed} run and searched for secrets), ${report.refused} refused, ${report.disagreements.length} disagreements that allow, ${Math.round((Date.now() - started) / 1000)} s`);
    expect(report.disagreements.slice(0, 5)).toEqual([]);
    // the generator must reach both sides, or the test proves nothing
    expect(report.cases).toBe(CASES);
    expect(report.allowed).toBeGreaterThan(CASES * 0.1);
    expect(report.refused).toBeGreaterThan(CASES * 0.1);
    expect(report.executed).toBeGreaterThan(CASES * 0.05);
  });
});
