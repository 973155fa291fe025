/**
 * Copies the audit log kept in PostgreSQL into files shaped exactly like the JSONL sink's:
 * `<dir>/audit.jsonl` (each stored line and a newline, in seq order) and
 * `<dir>/audit.jsonl.checkpoints` (each checkpoint line, in the order written), so the file
 * readers and the verifier prove the same things of it as of a file: nothing is trusted from
 * the database but the bytes of its lines.
 *
 * Input: a postgres:// URL and an empty private directory. Output: the two paths. Both are
 * read in one REPEATABLE READ snapshot, so records and checkpoints agree with each other
 * while replicas keep appending. A table that does not exist leaves its file absent (the
 * verifier then says what is missing). Files are created 0600.
 * Throws AuditVerifyError (exit 9) when the database cannot be read: a log that cannot be
 * read is not assumed complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describePostgresUrl } from '../config/postgres-url.js';
import { AuditVerifyError } from '../errors.js';
import { pgErrorCode } from './pg-audit-error.js';
import { AUDIT_CHECKPOINTS_TABLE, AUDIT_LOG_TABLE } from './pg-audit-schema.js';

export const COPIED_LOG_NAME = 'audit.jsonl';

/** Rows per round trip: bounds memory whatever the log's size. */
const PAGE = 5_000;
const FLUSH_BYTES = 1 << 20;

export async function copyPgAuditLog(url: string, dir: string, connectTimeoutMs = 10_000): Promise<{ log: string; checkpoints: string }> {
  const log = path.join(dir, COPIED_LOG_NAME);
  const checkpoints = `${log}.checkpoints`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, query_timeout: 120_000, keepAlive: true, application_name: 'hoopq audit read' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const present = (await client.query(`SELECT to_regclass('${AUDIT_LOG_TABLE}') IS NOT NULL AS log, to_regclass('${AUDIT_CHECKPOINTS_TABLE}') IS NOT NULL AS checkpoints`)).rows[0] as { log: boolean; checkpoints: boolean };
    if (present.log) await copyLines(client, log, `SELECT seq AS key, line FROM ${AUDIT_LOG_TABLE} WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`);
    if (present.checkpoints) await copyLines(client, checkpoints, `SELECT n AS key, line FROM ${AUDIT_CHECKPOINTS_TABLE} WHERE n > $1 ORDER BY n LIMIT ${PAGE}`);
    await client.query('COMMIT');
  } catch (err) {
    if (err instanceof AuditVerifyError) throw err;
    throw new AuditVerifyError('audit.unreadable', `cannot read the audit log in ${describePostgresUrl(url)}: ${(err as Error).message || pgErrorCode(err) || String(err)}`, {
      rule: 'audit.chain',
      hint: 'check that PostgreSQL is up and that this user may SELECT from hoopq_audit_log and hoopq_audit_checkpoints (password in PGPASSWORD or ~/.pgpass); a log that cannot be read is not assumed complete',
      cause: err,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
  return { log, checkpoints };
}

/** Pages through `sql` (rows of key, line ordered by key) writing each line and a newline. */
async function copyLines(client: pg.Client, file: string, sql: string): Promise<void> {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    let after = '0';
    let chunks: Buffer[] = [];
    let buffered = 0;
    const flush = () => {
      const bytes = Buffer.concat(chunks);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      chunks = [];
      buffered = 0;
    };
    for (;;) {
      const rows = (await client.query<{ key: string; line: string }>(sql, [after])).rows;
      for (const row of rows) {
        const bytes = Buffer.from(`${row.line}\n`, 'utf8');
        chunks.push(bytes);
        buffered += bytes.length;
        if (buffered >= FLUSH_BYTES) flush();
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1].key;
    }
    flush();
  } finally {
    fs.closeSync(fd);
  }
}
