import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { McpSessions, digestToken, isSameTokenDigest, type McpSessionEntry } from './mcp-sessions.js';

/** A session whose close is observable; the transport is never called by the registry. */
function entry(id: string, closed: string[]): McpSessionEntry {
  return {
    id,
    run: `run-${id}`,
    tokenDigest: digestToken(`token-${id}`),
    transport: { handleRequest: async () => {} },
    isCallRunning: () => false,
    close: async () => {
      closed.push(id);
    },
  };
}

describe('McpSessions', () => {
  it('refuses one more than maxSessions, counting sessions still opening', () => {
    const sessions = new McpSessions(2, 60_000);
    const closed: string[] = [];
    const a = sessions.reserve()!;
    const b = sessions.reserve()!;
    expect(sessions.reserve()).toBeUndefined(); // two opening already fill it
    sessions.add(entry('a', closed));
    a();
    expect(sessions.reserve()).toBeUndefined(); // one open, one opening
    b(); // the second initialise failed: its place is free again
    b(); // releasing twice gives back one place only
    const c = sessions.reserve();
    expect(c).toBeDefined();
    expect(sessions.reserve()).toBeUndefined();
  });

  it('closes a session idle for idleMs, never one with a request running', async () => {
    const sessions = new McpSessions(4, 40);
    const closed: string[] = [];
    sessions.add(entry('busy', closed));
    sessions.add(entry('idle', closed));
    const done = sessions.begin('busy');
    await sleep(120);
    expect(closed).toEqual(['idle']);
    expect(sessions.find('idle')).toBeUndefined();
    expect(sessions.find('busy')).toBeDefined();
    done();
    done(); // a second end does not start a second clock or go negative
    await sleep(20);
    const again = sessions.begin('busy'); // a new request stops the clock
    await sleep(80);
    expect(closed).toEqual(['idle']);
    again();
    await sleep(120);
    expect(closed).toEqual(['idle', 'busy']);
    expect(sessions.size).toBe(0);
  });

  it('closeAll closes every session once and refuses new ones', async () => {
    const sessions = new McpSessions(4, 60_000);
    const closed: string[] = [];
    sessions.add(entry('a', closed));
    sessions.add(entry('b', closed));
    await sessions.close('a');
    await sessions.close('a');
    await sessions.closeAll();
    expect(closed.sort()).toEqual(['a', 'b']);
    expect(sessions.reserve()).toBeUndefined();
    sessions.add(entry('late', closed)); // initialised during shutdown: closed at once
    await sleep(0);
    expect(closed).toContain('late');
    expect(sessions.find('late')).toBeUndefined();
  });

  it('binds by token digest: same token only, a missing token never matches', () => {
    const d = digestToken('abc.def.ghi');
    expect(isSameTokenDigest(d, 'abc.def.ghi')).toBe(true);
    expect(isSameTokenDigest(d, 'abc.def.ghj')).toBe(false);
    expect(isSameTokenDigest(d, '')).toBe(false);
    expect(isSameTokenDigest(d, undefined)).toBe(false);
    expect(d.toString('hex')).not.toContain('abc');
  });
});

describe('McpSessions per run', () => {
  it('one run holds at most maxPerRun (opening included); other runs are not affected', () => {
    const sessions = new McpSessions(10, 60_000, 2);
    const closed: string[] = [];
    const r1 = sessions.reserve('run-a')!;
    sessions.add({ ...entry('a1', closed), run: 'run-a' });
    r1();
    const r2 = sessions.reserve('run-a');
    expect(r2).toBeDefined();
    expect(sessions.reserve('run-a')).toBeUndefined(); // one open, one opening
    expect(sessions.whyFull('run-a')).toBe('run');
    expect(sessions.reserve('run-b')).toBeDefined();
    r2!();
    expect(sessions.countOf('run-a')).toBe(1);
  });

  it('closeWhere closes the matching sessions at once and lists none of them after', async () => {
    const sessions = new McpSessions(10, 60_000, 5);
    const closed: string[] = [];
    for (const [id, run] of [['s1', 'r'], ['s2', 'r'], ['s3', 'other']] as const) sessions.add({ ...entry(id, closed), run, tokenId: `t-${id}` });
    expect(sessions.list().map((s) => [s.id, s.run, s.token_id])).toEqual([['s1', 'r', 't-s1'], ['s2', 'r', 't-s2'], ['s3', 'other', 't-s3']]);
    expect(await sessions.closeWhere((s) => s.run === 'r')).toEqual(['s1', 's2']);
    expect(closed.sort()).toEqual(['s1', 's2']);
    expect(sessions.list().map((s) => s.id)).toEqual(['s3']);
    expect(JSON.stringify(sessions.list())).not.toContain('token-'); // never the token
  });
});
