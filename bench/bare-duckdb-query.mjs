// Baseline for query-e2e: a bare Node script that opens the same DuckDB file read-only,
// runs the same query and prints the rows as JSON. No token, policy, analysis or audit.
import { DuckDBInstance } from '@duckdb/node-api';
const [path, sql] = process.argv.slice(2);
const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
const conn = await instance.connect();
const reader = await conn.runAndReadAll(sql);
process.stdout.write(JSON.stringify(reader.getRowObjectsJson()) + '\n');
conn.closeSync();
instance.closeSync();
