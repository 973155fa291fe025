// Content detectors: what they cost on a realistic 1M-row x 5-text-column result.
// Build first (npm run build, or npx tsc -p tsconfig.json --noEmitOnError false), then:
//   node bench/scan-cells.bench.mjs [rows=1000000] [repeats=3]
// Prints rows/s for: scanning alone; ndjson encoding to a null sink with detectors off;
// the same with all detectors on; and the on/off throughput ratio (goal >= 0.5).
// Then the same rows read back from an in-memory DuckDB table in streamed chunks, so the
// ratio includes the warehouse's share of the work as the CLI pipeline would.
import { Writable } from 'node:stream';
import { DuckDBInstance } from '@duckdb/node-api';
import { createCellScanner } from '../dist/masking/scan-cells.js';
import { createResultWriter } from '../dist/output/create-result-writer.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const REPEATS = Number(process.argv[3] ?? 3);
const BATCH = 2048; // DuckDB's vector size: the batch size the warehouse hands over
const ALL = ['email', 'phone', 'credit_card', 'us_ssn', 'iban', 'ipv4', 'ipv6', 'secret'];
const COLUMNS = ['name', 'city', 'customer_id', 'note', 'status'].map((name) => ({ name, type: 'VARCHAR' }));

// deterministic data: a small LCG so every run scans the same text
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const FIRST = ['Alice', 'Bruno', 'Chloé', 'Dmitri', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Keiko', 'Liam'];
const LAST = ['Martin', 'Bernard', 'Nguyen', 'Schmidt', 'Rossi', 'García', 'Kowalski', 'Smith', 'Dubois', 'Okafor'];
const CITY = ['Lyon', 'Berlin', 'Porto', 'Chicago', 'Osaka', 'Nairobi', 'Toronto', 'Kraków', 'São Paulo', 'Leeds'];
const STATUS = ['active', 'trial', 'churned', 'paused', 'active - priority support'];

function note(i, first, last) {
  const r = rand();
  if (r < 0.1) return `Prefers email: ${first.toLowerCase()}.${last.toLowerCase()}${i % 97}@example.com`;
  if (r < 0.2) return `Call back at (555) ${100 + (i % 900)}-${1000 + (i % 9000)} after 5pm`;
  if (r < 0.35) return `Asked about invoice ${100000 + i}, resolved on 2024-03-${10 + (i % 19)}`;
  if (r < 0.5) return `Shipped order #${i} via UPS, 2 parcels`;
  if (r < 0.6) return 'No issues reported during onboarding call';
  if (r < 0.7) return `Upgraded plan to Pro tier (seat count ${1 + (i % 40)})`;
  if (r < 0.8) return `Complained about latency from office network, ticket T-${i}`;
  return 'Happy with the service; renewal expected next quarter';
}

function generate(n) {
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    rows[i] = [`${first} ${last}`, pick(CITY), `CUST-${String(i).padStart(7, '0')}`, note(i, first, last), pick(STATUS)];
  }
  return rows;
}

function nullSink() {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}

async function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function scanOnly(rows) {
  const scanner = createCellScanner(ALL);
  for (let i = 0; i < rows.length; i++) scanner.scanRow(rows[i]);
  return scanner.counts();
}

async function pipeline(rows, detectors) {
  const scanner = detectors ? createCellScanner(ALL) : undefined;
  const writer = createResultWriter('ndjson', nullSink(), COLUMNS);
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    await writer.writeBatch(scanner ? batch.map((r) => scanner.scanRow(r)) : batch);
  }
  return writer.end();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (s) => Math.round(ROWS / s).toLocaleString('en-US');

const t0 = Date.now();
const rows = generate(ROWS);
console.log(`generated ${ROWS.toLocaleString('en-US')} rows x ${COLUMNS.length} text columns in ${Date.now() - t0} ms`);
console.log('detected:', JSON.stringify(await scanOnly(rows.slice(0, 10_000))), '(first 10,000 rows)');

const times = { scan: [], off: [], on: [] };
for (let r = 0; r < REPEATS; r++) {
  times.off.push(await timeIt(() => pipeline(rows, false)));
  times.on.push(await timeIt(() => pipeline(rows, true)));
  times.scan.push(await timeIt(() => scanOnly(rows)));
}
const off = median(times.off);
const on = median(times.on);
console.log(`scan only            ${rate(median(times.scan))} rows/s`);
console.log(`ndjson, detectors off ${rate(off)} rows/s`);
console.log(`ndjson, detectors on  ${rate(on)} rows/s`);
console.log(`throughput ratio on/off = ${(off / on).toFixed(2)} (goal >= 0.5; median of ${REPEATS})`);

// --- through DuckDB: load the same rows, then stream them back chunk by chunk
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run('CREATE TABLE t (name VARCHAR, city VARCHAR, customer_id VARCHAR, note VARCHAR, status VARCHAR)');
const appender = await connection.createAppender('t');
for (const row of rows) {
  for (const v of row) appender.appendVarchar(v);
  appender.endRow();
}
appender.closeSync();

async function fromDuckDb(detectors) {
  const scanner = detectors ? createCellScanner(ALL) : undefined;
  const writer = createResultWriter('ndjson', nullSink(), COLUMNS);
  const result = await connection.stream('SELECT * FROM t');
  for await (const batch of result.yieldRowsJs()) {
    await writer.writeBatch(scanner ? batch.map((r) => scanner.scanRow(r)) : batch);
  }
  return writer.end();
}

const db = { off: [], on: [] };
for (let r = 0; r < REPEATS; r++) {
  db.off.push(await timeIt(() => fromDuckDb(false)));
  db.on.push(await timeIt(() => fromDuckDb(true)));
}
const dbOff = median(db.off);
const dbOn = median(db.on);
console.log(`duckdb -> ndjson, detectors off ${rate(dbOff)} rows/s`);
console.log(`duckdb -> ndjson, detectors on  ${rate(dbOn)} rows/s`);
console.log(`throughput ratio on/off = ${(dbOff / dbOn).toFixed(2)} (goal >= 0.5; median of ${REPEATS})`);
connection.closeSync();
