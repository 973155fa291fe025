import { describe, expect, it } from 'vitest';
import { createRefusalLimiter } from './refusal-limiter.js';

describe('records of unauthenticated refusals, per source address', () => {
  it('a burst, then the rate; the rest counted and drained once; other addresses unaffected', () => {
    let t = 0;
    const limiter = createRefusalLimiter({ burst: 5, perMinute: 60, now: () => t });
    const admitted = Array.from({ length: 20 }, () => limiter.admit('10.0.0.1')).filter(Boolean).length;
    expect(admitted).toBe(5);
    expect(limiter.admit('10.0.0.2')).toBe(true);
    t += 3_000; // one a second
    expect([limiter.admit('10.0.0.1'), limiter.admit('10.0.0.1'), limiter.admit('10.0.0.1'), limiter.admit('10.0.0.1')]).toEqual([true, true, true, false]);
    const drained = limiter.drain();
    expect(drained).toEqual([{ address: '10.0.0.1', count: 16, since: new Date(0).toISOString(), until: new Date(3_000).toISOString() }]);
    expect(limiter.drain()).toEqual([]); // counted once
  });

  it('holds at most maxAddresses; the others share one bucket', () => {
    const limiter = createRefusalLimiter({ burst: 1, perMinute: 1, maxAddresses: 2, now: () => 0 });
    expect(limiter.admit('a')).toBe(true);
    expect(limiter.admit('b')).toBe(true);
    expect(limiter.admit('c')).toBe(true);
    expect(limiter.admit('d')).toBe(false); // c and d share the overflow bucket
    expect(limiter.drain()).toEqual([expect.objectContaining({ address: '(other addresses)', count: 1 })]);
  });
});
