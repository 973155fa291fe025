import { describe, expect, it } from 'vitest';
import { createEngineCallGate, engineCallLimitsFor, libuvPoolSize } from './engine-call-gate.js';

/** A call that stays in flight until `release()`; `started` says whether the gate let it start. */
function heldCall() {
  let release!: () => void;
  const state = { started: false };
  const done = new Promise<void>((resolve) => (release = resolve));
  return { state, release, call: async () => ((state.started = true), await done) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('engine call gate', () => {
  it('keeps at most maxPerRun calls of one run in flight, and lets other runs through meanwhile', async () => {
    const gate = createEngineCallGate({ maxInFlight: 4, maxPerRun: 2 });
    const long = [heldCall(), heldCall(), heldCall()];
    const running = long.map((h) => gate.scope('long').run(h.call));
    await tick();
    expect(long.map((h) => h.state.started)).toEqual([true, true, false]);
    const short = heldCall();
    const shortDone = gate.scope('short').run(short.call);
    await tick();
    expect(short.state.started).toBe(true);
    short.release();
    await shortDone;
    long[0]!.release();
    await tick();
    expect(long[2]!.state.started).toBe(true);
    for (const h of long) h.release();
    await Promise.all(running);
    expect(gate.load()).toEqual({ inFlight: 0, waiting: 0 });
  });

  it('keeps the process-wide total at maxInFlight, and a waiting run at its limit does not hold up others', async () => {
    const gate = createEngineCallGate({ maxInFlight: 2, maxPerRun: 1 });
    const a1 = heldCall();
    const a2 = heldCall();
    const b = heldCall();
    const c = heldCall();
    const all = [gate.scope('a').run(a1.call), gate.scope('a').run(a2.call), gate.scope('b').run(b.call), gate.scope('c').run(c.call)];
    await tick();
    expect([a1, a2, b, c].map((h) => h.state.started)).toEqual([true, false, true, false]);
    expect(gate.load()).toEqual({ inFlight: 2, waiting: 2 });
    // a slot frees up from b: a2 is first in line but a is at its limit, so c goes
    b.release();
    await tick();
    await tick();
    expect([a2.state.started, c.state.started]).toEqual([false, true]);
    a1.release();
    await tick();
    await tick();
    expect(a2.state.started).toBe(true);
    a2.release();
    c.release();
    await Promise.all(all);
  });

  it('gives the slot back when the call fails', async () => {
    const gate = createEngineCallGate({ maxInFlight: 1, maxPerRun: 1 });
    await expect(gate.scope('r').run(async () => Promise.reject(new Error('engine error')))).rejects.toThrow('engine error');
    await expect(gate.scope('r').run(() => { throw new Error('sync throw'); })).rejects.toThrow('sync throw');
    expect(await gate.scope('r').run(async () => 42)).toBe(42);
    expect(gate.load()).toEqual({ inFlight: 0, waiting: 0 });
  });

  it.each([
    // pool, cores -> maxInFlight, maxPerRun
    [4, 2, 2, 1],
    [24, 2, 18, 2],
    [24, 16, 18, 4],
    [64, 32, 48, 12],
    [1, 1, 1, 1],
  ])('limits for a pool of %i threads on %i cores: %i in flight, %i per run', (pool, cores, inFlight, perRun) => {
    const limits = engineCallLimitsFor(pool, cores);
    expect(limits).toEqual({ maxInFlight: inFlight, maxPerRun: perRun });
    // the pool always keeps threads for file and crypto work
    if (pool >= 4) expect(pool - limits.maxInFlight).toBeGreaterThanOrEqual(2);
  });

  it('reads UV_THREADPOOL_SIZE as libuv does', () => {
    expect(libuvPoolSize(undefined)).toBe(4);
    expect(libuvPoolSize('')).toBe(4);
    expect(libuvPoolSize('abc')).toBe(4);
    expect(libuvPoolSize('16')).toBe(16);
    expect(libuvPoolSize('0')).toBe(1);
    expect(libuvPoolSize('5000')).toBe(1024);
  });
});
