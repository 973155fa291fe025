// A writer process for the multi-process audit tests (jsonl-file-sink.processes.test.ts, and
// src/postgres/pg-audit-sink.processes.test.ts when LOG is a postgres:// URL).
// usage: node append-child.fixture.mjs BUILD_DIR LOG KEY_DIR COUNT|loop TAG [SQL_BYTES] [pause-mid-write] [BURST]
// Appends through the real sink compiled into BUILD_DIR and prints "ACK <seq> <id>" on stdout
// after each append resolved (the record is durable), so the parent knows what was acknowledged.
// With BURST > 1, appends go BURST at a time without waiting (concurrent queries of one
// process): they share group commits, and each is acknowledged when its own append resolves.
// With pause-mid-write, the first write of records to the log is cut in two like a write()
// interrupted by a fatal signal: the first half reaches the file, "MIDWRITE" is printed and
// the process sleeps (holding the log's lock) until the parent SIGKILLs it.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [buildDir, log, keyDir, count, tag, sqlBytes = '0', mode = '', burstArg = '1'] = process.argv.slice(2);
const burst = Math.max(1, Number(burstArg) || 1);
if (mode === 'pause-mid-write') {
  const realWriteSync = fs.writeSync;
  fs.writeSync = function (fd, buffer, ...rest) {
    const isLogLine = Buffer.isBuffer(buffer) && buffer[0] === 0x7b && buffer[buffer.length - 1] === 0x0a && fs.existsSync(log) && fs.fstatSync(fd).ino === fs.statSync(log).ino;
    if (!isLogLine) return realWriteSync.call(fs, fd, buffer, ...rest);
    realWriteSync.call(fs, fd, buffer.subarray(0, buffer.length >> 1));
    realWriteSync.call(fs, 1, 'MIDWRITE\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    process.exit(3); // not reached: the parent kills first
  };
}
const sink = log.startsWith('postgres://')
  ? await (await import(pathToFileURL(join(buildDir, 'postgres', 'pg-audit-sink.js')).href)).openPgAuditSink(log, { checkpoint: { keyDir, every: 10 } })
  : await (await import(pathToFileURL(join(buildDir, 'audit', 'jsonl-file-sink.js')).href)).openJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
const padding = 'x'.repeat(Number(sqlBytes));
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
    sql: `SELECT ${i} /* ${padding} */`,
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
