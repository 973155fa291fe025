/**
 * The console's live feed over a log kept in PostgreSQL, against a real server
 * (test/fakes/postgres-server.mjs): what two replicas' sinks append shows up once each, in seq
 * order, with in-flight queries; the first poll reads only the recent window; a server that
 * goes away and comes back costs nothing but the polls in between.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HAS_POSTGRES } from '../../test/fakes/postgres-server.mjs';
import { usePgTestDatabase } from '../../test/fakes/pg-test-database.mjs';
import { sampleAuditBody } from '../audit/audit-record.case.js';
import { PgAuditFeed } from './pg-audit-feed.js';
import { openPgAuditSink } from './pg-audit-sink.js';

const db = usePgTestDatabase('hoopq-pgfeed-');

const open = () => openPgAuditSink(db.url, { checkpoint: { keyDir: db.keyDir, every: 100 } });

describe.skipIf(!HAS_POSTGRES)('the live feed of a log in PostgreSQL', () => {
  it('shows what every replica appends, once each and in seq order, and which queries are running', async () => {
    const [a, b] = [await open(), await open()];
    const feed = new PgAuditFeed(db.url, 60_000);
    const seen: number[] = [];
    feed.subscribe((r) => seen.push(r.seq));
    feed.start();
    await feed.poll();
    const intent = await a.append(sampleAuditBody({ id: `i-${randomUUID()}`, event: 'query.intent' }));
    await b.append(sampleAuditBody({ id: `x-${randomUUID()}` }));
    await feed.poll();
    expect(feed.running().map((r) => r.id)).toEqual([intent.id]);
    await a.append(sampleAuditBody({ id: `o-${randomUUID()}`, intent: intent.id }));
    await Promise.all([feed.poll(), feed.poll()]); // a poll while one runs does not read twice
    await feed.poll();
    expect(feed.running()).toEqual([]);
    expect(seen).toEqual([1, 2, 3]);
    expect(feed.latest(3).map((r) => r.seq)).toEqual([3, 2, 1]);
    expect(feed.related(feed.get(intent.id)!).map((r) => r.seq)).toEqual([3]);
    feed.stop();
    await Promise.all([a.close(), b.close()]);
  });

  it('starts with the most recent 2,000 records of a longer log', async () => {
    const sink = await open();
    await Promise.all(Array.from({ length: 2100 }, () => sink.append(sampleAuditBody({ id: randomUUID() }))));
    await sink.close();
    const feed = new PgAuditFeed(db.url, 60_000);
    feed.start();
    await feed.poll();
    const shown = feed.latest(5000).map((r) => r.seq);
    expect(shown).toHaveLength(2000);
    expect(shown[0]).toBe(2100);
    expect(shown.at(-1)).toBe(101);
    feed.stop();
  });

  it('a session the server cuts leaves the feed as it was; a later poll connects again and goes on from the last seq, nothing twice', async () => {
    const sink = await open();
    await sink.append(sampleAuditBody({ id: randomUUID() }));
    const feed = new PgAuditFeed(db.url, 60_000);
    feed.start();
    await feed.poll();
    expect(feed.latest(10)).toHaveLength(1);
    // the feed's session is cut by the server (as a restart or a failover would)
    const cut = await db.server.sql(db.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hoopq console feed'");
    expect(cut.rowCount).toBe(1);
    await sink.append(sampleAuditBody({ id: randomUUID() }));
    await sink.append(sampleAuditBody({ id: randomUUID() }));
    // a poll on the cut session fails quietly (the feed stays as it was); a later one connects again
    for (let i = 0; i < 3 && feed.latest(10).length < 3; i++) await feed.poll();
    expect(feed.latest(10).map((r) => r.seq)).toEqual([3, 2, 1]);
    feed.stop();
    await sink.close();
  });
});
