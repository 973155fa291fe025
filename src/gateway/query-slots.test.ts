import { describe, expect, it } from 'vitest';
import { createQuerySlots } from './query-slots.js';

const never = () => new AbortController().signal;

describe('query slots shared fairly between runs', () => {
  it('one run gets at most perRun slots; another run still gets one while it floods', async () => {
    const slots = createQuerySlots({ size: 4, perRun: 2 });
    const a1 = await slots.acquire('a', never());
    await slots.acquire('a', never());
    let thirdGranted = false;
    const third = slots.acquire('a', never()).then((release) => ((thirdGranted = true), release));
    const b = await slots.acquire('b', never()); // not behind a's queue
    expect(slots.running('a')).toBe(2);
    expect(slots.running('b')).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(thirdGranted).toBe(false); // a is at its share although a slot is free
    a1();
    await third;
    expect(slots.running('a')).toBe(2);
    b();
  });

  it('when slots free up, runs with waiting queries take turns (round robin), oldest first within a run', async () => {
    const slots = createQuerySlots({ size: 1, perRun: 1 });
    const first = await slots.acquire('x', never());
    const order: string[] = [];
    let holder: (() => void) | undefined;
    const wait = (run: string, tag: string) =>
      slots.acquire(run, never()).then((release) => {
        order.push(tag);
        holder = release;
      });
    const pending = [wait('a', 'a1'), wait('a', 'a2'), wait('a', 'a3'), wait('b', 'b1'), wait('c', 'c1')];
    first();
    // each holder gives its slot back once granted; the next in turn gets it
    for (let granted = 1; granted <= pending.length; granted++) {
      while (order.length < granted) await new Promise((r) => setTimeout(r, 1));
      holder!();
    }
    await Promise.all(pending);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
  });

  it('refuses at once past the per-run queue, and gives up a waiter whose client leaves', async () => {
    const slots = createQuerySlots({ size: 1, perRun: 1, perRunWaiting: 1 });
    await slots.acquire('a', never());
    const leaving = new AbortController();
    const waiter = slots.acquire('a', leaving.signal);
    await expect(slots.acquire('a', never())).rejects.toMatchObject({ code: 'gateway.busy', rule: 'gateway.run_concurrency', exitCode: 7 });
    leaving.abort();
    await expect(waiter).rejects.toMatchObject({ code: 'gateway.busy', rule: 'gateway.max_concurrent_queries' });
    expect(slots.waiting()).toBe(0);
  });

  it('a waiter that waits past maxWaitMs gives up with gateway.busy', async () => {
    const slots = createQuerySlots({ size: 1, perRun: 1, maxWaitMs: 30 });
    await slots.acquire('a', never());
    await expect(slots.acquire('b', never())).rejects.toMatchObject({ code: 'gateway.busy' });
  });
});
