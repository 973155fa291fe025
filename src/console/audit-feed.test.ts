import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditFeed } from './audit-feed.js';

const line = (o: Record<string, unknown>) => JSON.stringify(o) + '\n';

describe('AuditFeed', () => {
  it('reads only whole lines, tracks intents without outcomes, tells subscribers, skips garbage', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'hoopq-feed-')), 'audit.jsonl');
    writeFileSync(f, line({ id: 'a', event: 'token.mint' }));
    const feed = new AuditFeed(f, 60_000);
    const seen: string[] = [];
    feed.subscribe((r) => seen.push(r.id));
    feed.start();
    const whole = line({ id: 'i1', event: 'query.intent', run: 'r' });
    const second = line({ id: 'i2', event: 'query.intent', run: 'r' });
    appendFileSync(f, whole + 'not json\n' + second.slice(0, 10));
    feed.poll();
    expect(seen).toEqual(['a', 'i1']);
    expect(feed.running().map((r) => r.id)).toEqual(['i1']);
    appendFileSync(f, second.slice(10) + line({ id: 'o1', event: 'query', intent: 'i1' }));
    feed.poll();
    expect(seen).toEqual(['a', 'i1', 'i2', 'o1']);
    expect(feed.running().map((r) => r.id)).toEqual(['i2']);
    expect(feed.latest(2).map((r) => r.id)).toEqual(['o1', 'i2']);
    expect(feed.related(feed.get('o1')!).map((r) => r.id)).toEqual(['i1']);
    feed.stop();
  });

  it('starts over when the file is replaced by a shorter one', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'hoopq-feed-')), 'audit.jsonl');
    writeFileSync(f, line({ id: 'a', event: 'x' }) + line({ id: 'b', event: 'x' }));
    const feed = new AuditFeed(f, 60_000);
    feed.start();
    writeFileSync(f, line({ id: 'c', event: 'x' }));
    feed.poll();
    expect(feed.latest(5).map((r) => r.id)).toEqual(['c', 'b', 'a']);
    feed.stop();
  });
});
