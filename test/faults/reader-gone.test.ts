/**
 * Black-box: a reader that goes away (`hoopq query … | head -c 1000`) is how pipelines end,
 * not a bug (issue 13). In direct mode and through a gateway the CLI ends quietly with exit 0
 * (docs/reference.md "Exit codes") — never exit 1, "internal error" or a stack trace — and the
 * query's record says `output.closed` with the rows that did go out (not `code: internal`,
 * `rows: null`). Through a gateway the CLI drops its request, and the gateway cancels the
 * query mid-result (its record is the gateway's).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDemoInMode, HOOPQ, type Demo, type Mode } from '../cli/cli-harness.js';
import { expectLogSound } from './fault-harness.js';

// each case spawns several hoopq processes one after another: slow on a loaded machine
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

/** 1000 rows (the policy's max_rows) of 100 kB each: far more than a pipe or a socket holds. */
const WIDE_SQL = "SELECT e.id, repeat('x', 100000) AS pad FROM analytics.events e";

describe.each(['direct', 'gateway'] as Mode[])('a reader that goes away (%s mode)', (mode) => {
  let demo: Demo;

  beforeAll(async () => {
    demo = await createDemoInMode(mode);
  });

  afterAll(async () => {
    await demo.close();
    rmSync(demo.dir, { recursive: true, force: true });
  });

  it('`| head -c 1000`: exit 0 quietly, the query cancelled, its record output.closed with the rows that went out', async () => {
    const run = `head-${mode}`;
    const token = demo.mint('analyst-agent', run);
    const where = mode === 'gateway' ? { cwd: demo.gateway!.agentDir, env: { HOOPQ_GATEWAY: demo.gateway!.url } } : { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } };
    const p = spawnSync('bash', ['-c', '"$NODE" "$HOOPQ" query --format ndjson "$SQL" 2>"$ERR" | head -c 1000 >/dev/null; echo "exit=${PIPESTATUS[0]}"; cat "$ERR"'], {
      cwd: where.cwd,
      env: { PATH: process.env.PATH, NODE: process.execPath, HOOPQ, SQL: WIDE_SQL, ERR: `${demo.dir}/../stderr-${run}`, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'reader test', ...where.env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    rmSync(`${demo.dir}/../stderr-${run}`, { force: true });
    expect(p.stdout).toMatch(/^exit=0\n/);
    expect(p.stdout.replace(/^exit=0\n/, '')).toBe(''); // nothing on stderr

    // through a gateway the CLI is gone as soon as it drops the request; the gateway writes
    // its record once it has noticed and cancelled the query (on a loaded machine, later)
    const queryRecords = () => demo.auditRecords().filter((x) => x.run === run && x.event === 'query');
    for (const since = Date.now(); mode === 'gateway' && queryRecords().length === 0 && Date.now() - since < 15_000; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const records = queryRecords();
    expect(records).toHaveLength(1);
    // through a gateway this is the gateway's record: the dropped request cancelled the query
    expect(records[0]).toMatchObject({ decision: 'error', code: 'output.closed', exit_code: 7 });
    // rows handed to the output before it went away (a whole batch counts once handed over)
    expect(records[0]!.rows).toBeGreaterThan(0);
    expect(records[0]!.rows).toBeLessThanOrEqual(1000);
    expect(records[0]!.result_sha256).toMatch(/^[0-9a-f]{64}$/);
    expectLogSound(demo);
  });
});
