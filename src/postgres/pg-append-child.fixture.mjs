// A writer process for the multi-process PostgreSQL audit tests (pg-audit-sink.processes.test.ts).
// usage: node pg-append-child.fixture.mjs BUILD_DIR URL KEY_DIR COUNT|loop TAG [BURST]
// Appends through the real sink compiled into BUILD_DIR and prints "ACK <seq> <id>" on stdout
// after each append resolved (its transaction committed), so the parent knows what was
// acknowledged. With BURST > 1, appends go BURST at a time without waiting (concurrent queries
// of one process): they share group commits.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [buildDir, url, keyDir, count, tag, burstArg = '1'] = process.argv.slice(2);
const burst = Math.max(1, Number(burstArg) || 1);
const { openPgAuditSink } = await import(pathToFileURL(join(buildDir, 'postgres', 'pg-audit-sink.js')).href);
const sink = await openPgAuditSink(url, { checkpoint: { keyDir, every: 10 } });
const limit = count === 'loop' ? Infinity : Number(count);
const appendOne = async (i) => {
  const record = await sink.append({
    id: `${tag}-${i}`,
    time: new Date().toISOString(),
    event: 'query',
    run: tag,
    subject: 'child',
    token_id: null,
    policy: { name: 'analyst', sha256: null },
    justification: null,
    sql: `SELECT ${i}`,
    statements: ['select'],
    tables: { read: [], write: [] },
    decision: 'allow',
    reason: null,
    masked: { columns: {}, detected: {} },
    warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null },
    rows: 1,
    result_sha256: null,
    duration_ms: 1,
  });
  process.stdout.write(`ACK ${record.seq} ${record.id}\n`);
};
for (let i = 0; i < limit; i += burst) {
  await Promise.all(Array.from({ length: Math.min(burst, limit - i) }, (_, k) => appendOne(i + k)));
}
await sink.close();
