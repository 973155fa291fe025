#!/usr/bin/env node
// Two builds of hoopq side by side: one gateway from each checkout (each built with
// `npm run build`), queried in turn, request by request, so that both see the same machine
// at the same moment. The machine here changes speed by up to 2x within minutes; alternating
// requests keeps that out of the comparison, where two runs one after the other do not.
//
//   node bench/gateway-ab.mjs CHECKOUT_A CHECKOUT_B   (env: N sequential queries each, default 600; SQL)
//
// Prints p25/p50/p75 of each side's client-side latency and B's p50 as a ratio of A's.
// Not run by `npm run bench`: it needs a second checkout (e.g. `git worktree add ../a <commit>`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gatewayQuery, startGateway, stopGateway } from './gateway-process.mjs';

const checkouts = process.argv.slice(2, 4).map((p) => resolve(p));
if (checkouts.length !== 2) {
  console.error('usage: node bench/gateway-ab.mjs CHECKOUT_A CHECKOUT_B');
  process.exit(2);
}
const N = Number(process.env.N ?? 600);
const SQL = process.env.SQL ?? 'SELECT 1 AS one';
const sides = [];
try {
  for (const checkout of checkouts) {
    const hoopq = join(checkout, 'bin', 'hoopq');
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-ab-'));
    const side = { checkout, dir, times: [] };
    sides.push(side);
    const demo = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
    if (demo.status !== 0) throw new Error(`quickstart failed in ${checkout}: ${demo.stderr}`);
    writeFileSync(join(dir, 'policies', 'bench.yaml'), 'name: bench\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
    const config = join(dir, 'hoopq.yaml');
    const minted = spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'bench', '--run', 'ab', '--ttl', '1h'], { encoding: 'utf8' });
    if (minted.status !== 0) throw new Error(`token mint failed in ${checkout}: ${minted.stderr}`);
    const { gateway, url } = await startGateway(hoopq, config);
    side.gateway = gateway;
    side.client = gatewayQuery(url, minted.stdout.trim(), SQL, 1);
  }
  for (let i = 0; i < 100; i++) for (const s of sides) await s.client.query(); // warm-up, not timed
  for (let i = 0; i < N; i++) {
    // A then B, then B then A: neither always follows the other
    for (const s of i % 2 ? sides : [...sides].reverse()) {
      const started = process.hrtime.bigint();
      await s.client.query();
      s.times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const at = (t, q) => t[Math.min(t.length - 1, Math.floor(q * t.length))];
  for (const [name, s] of [['A', sides[0]], ['B', sides[1]]]) {
    s.times.sort((a, b) => a - b);
    console.log(`${name} ${s.checkout}: p25 ${at(s.times, 0.25).toFixed(2)} ms, p50 ${at(s.times, 0.5).toFixed(2)} ms, p75 ${at(s.times, 0.75).toFixed(2)} ms (${N} queries)`);
  }
  console.log(`B p50 / A p50: ${(at(sides[1].times, 0.5) / at(sides[0].times, 0.5)).toFixed(3)}`);
} finally {
  for (const s of sides) {
    s.client?.close();
    await stopGateway(s.gateway);
    rmSync(s.dir, { recursive: true, force: true });
  }
}
