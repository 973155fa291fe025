/**
 * Black-box: graceful shutdown. On SIGTERM the gateway stops taking requests, gives running
 * queries `--shutdown-grace` to finish, cancels the rest, records them, and exits 0.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, hoopqAsync, startGatewayProcess, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
beforeAll(() => {
  demo = createDemo();
});
afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

async function inFlight(url: string): Promise<number> {
  const text = await (await fetch(url + '/metrics')).text();
  return Number(/^hoopq_gateway_queries_in_flight (\d+)$/m.exec(text)![1]);
}

describe('graceful shutdown', () => {
  it('SIGTERM: a query still running after the grace period is cancelled and recorded; the gateway exits 0', async () => {
    const gw = await startGatewayProcess(demo.dir, demo.config, ['--shutdown-grace', '1s']);
    const token = demo.mint('analyst-agent', 'shutdown-run');
    const exited = new Promise<number | null>((resolve) => gw.process.once('exit', (code) => resolve(code)));
    const slow = hoopqAsync(['query', 'SELECT count(*) FROM range(300000) a, range(300000) b WHERE a.range + b.range = -1'], {
      cwd: demo.dir,
      env: { HOOPQ_GATEWAY: gw.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'shutdown test' },
    });
    const deadline = Date.now() + 20_000;
    while ((await inFlight(gw.url)) < 1 && Date.now() < deadline) await sleep(100);
    const t0 = Date.now();
    gw.process.kill('SIGTERM');
    const r = await slow;
    expect(r.code).toBe(7); // cancelled: a warehouse outcome the agent may retry
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(gw.stderr()).toMatch(/gateway stopping \(SIGTERM\)/);
    expect(gw.stderr()).toMatch(/cancelling 1 request/);
    expect(gw.stderr()).toMatch(/gateway stopped/);
    const rec = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'shutdown-run').at(-1)!;
    expect(rec.decision).toBe('error');
    expect(rec.intent).toBeTruthy(); // the outcome completes the intent written before execution
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });

  it('a query that finishes within the grace period completes normally', async () => {
    const gw = await startGatewayProcess(demo.dir, demo.config, ['--shutdown-grace', '20s', '--stall-timeout', '60s']);
    const token = demo.mint('analyst-agent', 'grace-run');
    const exited = new Promise<number | null>((resolve) => gw.process.once('exit', (code) => resolve(code)));
    // about a second of work, done well within the 20 s grace
    const running = hoopqAsync(['query', '--format', 'json', 'SELECT count(*) AS n FROM range(10000) a, range(10000) b WHERE a.range + b.range = -1'], {
      cwd: demo.dir,
      env: { HOOPQ_GATEWAY: gw.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'grace test' },
    });
    const deadline = Date.now() + 20_000;
    while ((await inFlight(gw.url)) < 1 && Date.now() < deadline) await sleep(50);
    gw.process.kill('SIGTERM');
    const r = await running;
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([{ n: 0 }]);
    expect(await exited).toBe(0);
    expect(demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'grace-run').at(-1)!.decision).toBe('allow');
  });
});
