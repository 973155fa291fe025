/**
 * The audit sink for a log shared by gateway replicas: the same hash-chained records as the
 * JSONL file (jsonl-file-sink.ts), kept in PostgreSQL (pg-audit-schema.ts).
 *
 * Input: record bodies. Output: the stored records (with seq, prev, hash), committed before
 * append() resolves.
 * Invariants:
 * - every append transaction takes one advisory lock (pg_advisory_xact_lock) and reads the
 *   head inside it, so seq is contiguous and the chain unbroken whatever other replicas do;
 *   the lock ends with the transaction, so a replica killed mid-append holds nothing;
 * - group commit: appends from concurrent queries of one process share one transaction; each
 *   resolves only after its COMMIT returns, and a failed transaction fails every append of its
 *   group (nothing of it is in the log);
 * - synchronous_commit is on in every transaction, and the server must run with fsync on: a
 *   committed record is durable, so "intent durable before execution" holds;
 * - a signed checkpoint goes into hoopq_audit_checkpoints in the same transaction as the
 *   records it covers, when `every` records have passed since the last one and on close()
 *   when this sink appended anything; with a witness file it is appended there after COMMIT;
 * - every failure is an AuditWriteError (exit 8) naming the database without a password.
 */
import pg from 'pg';
import type { AuditRecord, AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import { parseCheckpointLine, readLastCheckpointSeq, signCheckpoint, type AuditCheckpoint } from '../audit/checkpoint.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { GroupCommitQueue, type PendingAppend } from '../audit/group-commit.js';
import type { IntentOutcomeState } from '../audit/find-outcome-of-intent.js';
import { GENESIS_PREV, isSha256Hex, serializeAuditRecord } from '../audit/hash-record.js';
import { appendToWitness, auditWriteError, isCheckpointDue, openSinkCheckpointing, type SinkCheckpointing, type SinkCheckpointOptions } from '../audit/sink-checkpointing.js';
import { describePostgresUrl } from '../config/postgres-url.js';
import { isHoopqError } from '../errors.js';
import { pgAuditError } from './pg-audit-error.js';
import { ADVISORY_NAMESPACE, AUDIT_APPEND_LOCK, AUDIT_CHECKPOINTS_TABLE, AUDIT_LOG_TABLE, ensureAuditSchema } from './pg-audit-schema.js';

export interface PgAuditSinkOptions {
  /** Sign a checkpoint every `every` records (and on close) with the key in keyDir; copy each to `witness`. */
  checkpoint?: SinkCheckpointOptions;
  /** How long to wait for other writers' transactions before failing (default 30 s). */
  lockTimeoutMs?: number;
  /** How long to wait for a connection (default 10 s). */
  connectTimeoutMs?: number;
  now?: () => Date;
  /** Called with the number of records each group commit made durable (gateway metrics). */
  onGroupCommit?: (records: number) => void;
}

const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How much longer than the lock timeout a statement may take before the client gives up on it. */
const QUERY_DEADLINE_MARGIN_MS = 30_000;

interface Head {
  seq: number;
  hash: string;
  endBytes: number;
  lastCheckpointSeq: number;
}

const HEAD_SQL = `
SELECT l.seq, l.hash, l.end_bytes, (SELECT coalesce(max(seq), 0) FROM ${AUDIT_CHECKPOINTS_TABLE}) AS checkpoint_seq
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (SELECT seq, hash, end_bytes FROM ${AUDIT_LOG_TABLE} ORDER BY seq DESC LIMIT 1) AS l ON true`;

/** The group's records and, when one is due ($8 not null), its checkpoint: one statement, one round trip. */
const INSERT_SQL = `
WITH records AS (
  INSERT INTO ${AUDIT_LOG_TABLE} (seq, hash, line, end_bytes, id, intent)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])
)
INSERT INTO ${AUDIT_CHECKPOINTS_TABLE} (seq, line) SELECT $7::bigint, $8::text WHERE $8::text IS NOT NULL`;

const INSERT_CHECKPOINT_SQL = `INSERT INTO ${AUDIT_CHECKPOINTS_TABLE} (seq, line) VALUES ($1, $2)`;

export class PgAuditSink implements AuditSink {
  private appended = 0;
  private readonly queue: GroupCommitQueue;

  constructor(
    /** The database as messages name it (no password). */
    readonly database: string,
    private readonly pool: pg.Pool,
    private readonly checkpoint: SinkCheckpointing | null,
    private readonly lockTimeoutMs: number,
    private readonly now: () => Date,
    private readonly onGroupCommit: (records: number) => void = () => {},
  ) {
    this.queue = new GroupCommitQueue(database, (take) => this.commitGroup(take()));
  }

  /**
   * Group commit: the appends of one turn of the event loop share one transaction; those that
   * arrive while it runs join the next. Each resolves after the COMMIT that covers it.
   */
  append(body: AuditRecordBody): Promise<AuditRecord> {
    return this.queue.append(body);
  }

  async close(): Promise<void> {
    if (!(await this.queue.close())) return;
    try {
      const cp = this.checkpoint;
      if (cp && this.appended > 0) {
        // Best effort, as for the file: the records are committed; without this checkpoint they
        // are only not yet covered by a signature, and the next writer's checkpoint covers them.
        let signed: AuditCheckpoint | null = null;
        await this.transaction('checkpoint', async (client, head) => {
          if (head.seq > head.lastCheckpointSeq) signed = await this.insertCheckpoint(client, head.seq, head.hash, head.endBytes);
        }).catch(() => undefined);
        if (signed && cp.witness) {
          try {
            appendToWitness(cp.witness, signed);
          } catch {
            // the witness catches up with the next checkpoint; verify compares what it holds
          }
        }
      }
    } finally {
      await this.pool.end().catch(() => undefined);
    }
  }

  /** Readiness: the database answers now (AuditWriteError, exit 8, when it does not). */
  async ping(): Promise<void> {
    await this.query('reach the database', 'SELECT 1');
  }

  /** The newest signed checkpoint in the database (GET /v1/audit/checkpoint), or null. */
  async newestCheckpoint(): Promise<AuditCheckpoint | null> {
    const rows = await this.query('read the newest checkpoint', `SELECT line FROM ${AUDIT_CHECKPOINTS_TABLE} ORDER BY seq DESC, n DESC LIMIT 1`);
    if (rows.length === 0) return null;
    try {
      return parseCheckpointLine(String(rows[0].line));
    } catch {
      return null;
    }
  }

  /** The head (seq, and how many checkpoints there are): changes whenever the log does. */
  async headKey(): Promise<string> {
    const rows = await this.query('read the head', `SELECT (SELECT coalesce(max(seq), 0) FROM ${AUDIT_LOG_TABLE}) AS seq, (SELECT count(*) FROM ${AUDIT_CHECKPOINTS_TABLE}) AS checkpoints`);
    return `${rows[0].seq}:${rows[0].checkpoints}`;
  }

  /** Whether the log holds an outcome for an intent record (outcome recovery's read-back). */
  async findOutcomeOfIntent(intentId: string): Promise<IntentOutcomeState> {
    const rows = await this.query(
      'look up an intent',
      `SELECT EXISTS (SELECT 1 FROM ${AUDIT_LOG_TABLE} WHERE intent = $1) AS outcome, EXISTS (SELECT 1 FROM ${AUDIT_LOG_TABLE} WHERE id = $1) AS intent`,
      [intentId],
    );
    return rows[0].outcome ? 'outcome' : rows[0].intent ? 'intent-only' : 'no-intent';
  }

  /** One transaction for the group; then the witness, and each append resolves. */
  private async commitGroup(group: PendingAppend[]): Promise<void> {
    const done: Array<[PendingAppend, AuditRecord]> = [];
    let signed: AuditCheckpoint | null = null;
    await this.transaction('append', async (client, head) => {
      if (head.seq === 0) this.refuseIfLogWasReplaced(head);
      let { seq, hash: prev, endBytes } = head;
      const columns: [number[], string[], string[], number[], string[], Array<string | null>] = [[], [], [], [], [], []];
      for (const waiter of group) {
        let serialized: { record: AuditRecord; line: string };
        try {
          serialized = serializeAuditRecord({ ...(waiter.content as AuditRecordBody), seq: seq + 1, prev });
        } catch (err) {
          // only this record cannot be written
          waiter.reject(auditWriteError(this.database, `the record cannot be written as canonical JSON: ${(err as Error).message}`, 'audit.invalid_record', 'this is a bug in the caller: report it', err));
          continue;
        }
        seq += 1;
        prev = serialized.record.hash;
        endBytes += Buffer.byteLength(serialized.line, 'utf8') + 1;
        const { record, line } = serialized;
        columns[0].push(seq);
        columns[1].push(prev);
        columns[2].push(line);
        columns[3].push(endBytes);
        columns[4].push(record.id);
        columns[5].push(typeof record.intent === 'string' ? record.intent : null);
        done.push([waiter, record]);
      }
      if (done.length === 0) return;
      const cp = this.checkpoint;
      // the first record of a log is signed at once (`audit verify` refuses records that no
      // checkpoint covers), then each multiple of `every` passed: in this same transaction
      if (cp && isCheckpointDue(head.lastCheckpointSeq, seq, cp.every)) signed = signCheckpoint(cp.key, { seq, hash: prev, logSizeBytes: endBytes }, this.now());
      await client.query(INSERT_SQL, [...columns, seq, signed ? canonicalJson(signed) : null]);
    });
    if (done.length === 0) return;
    this.appended += done.length;
    // after COMMIT: a witness never holds a checkpoint of records that were rolled back
    if (signed && this.checkpoint?.witness) appendToWitness(this.checkpoint.witness, signed);
    this.onGroupCommit(done.length);
    for (const [waiter, record] of done) waiter.resolve(record);
  }

  private async insertCheckpoint(client: pg.PoolClient, seq: number, hash: string, logSizeBytes: number): Promise<AuditCheckpoint> {
    const signed = signCheckpoint(this.checkpoint!.key, { seq, hash, logSizeBytes }, this.now());
    await client.query(INSERT_CHECKPOINT_SQL, [seq, canonicalJson(signed)]);
    return signed;
  }

  /**
   * An empty log beside checkpoints that cover records (in the database or the witness file)
   * was deleted or replaced; starting a fresh chain would bury that, so refuse.
   */
  private refuseIfLogWasReplaced(head: Head): void {
    const witness = this.checkpoint?.witness;
    let witnessed = 0;
    try {
      witnessed = witness ? readLastCheckpointSeq(witness) : 0;
    } catch {
      witnessed = 0; // an unreadable witness is reported when it is written
    }
    const [covered, where] = head.lastCheckpointSeq >= witnessed ? [head.lastCheckpointSeq, AUDIT_CHECKPOINTS_TABLE] : [witnessed, witness];
    if (covered > 0) {
      throw auditWriteError(this.database, `the log is empty but ${where} has signed checkpoints up to seq ${covered}: it was deleted or replaced`, 'audit.log_replaced', 'restore the log from backup (hoopq audit verify checks it); nothing was run');
    }
  }

  /**
   * BEGIN, the session settings, the append lock and the head (one round trip), fn, COMMIT;
   * any failure rolls back and is an AuditWriteError.
   */
  private async transaction(what: string, fn: (client: pg.PoolClient, head: Head) => Promise<void>): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw pgAuditError(this.database, 'connect', err);
    }
    let broken: unknown;
    try {
      const results = (await client.query(
        `BEGIN; SET LOCAL synchronous_commit = on; SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.lockTimeoutMs))}; SELECT pg_advisory_xact_lock(${ADVISORY_NAMESPACE}, ${AUDIT_APPEND_LOCK}); ${HEAD_SQL}`,
      )) as unknown as pg.QueryResult[];
      await fn(client, headOf(results[results.length - 1].rows[0] as HeadRow));
      await client.query('COMMIT');
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => undefined);
      if (isHoopqError(err)) throw err;
      throw pgAuditError(this.database, what, err);
    } finally {
      // a connection that failed mid-transaction is not reused
      client.release(broken !== undefined && !isHoopqError(broken) ? (broken as Error) : undefined);
    }
  }

  private async query(what: string, text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>> {
    try {
      return (await this.pool.query(text, params)).rows;
    } catch (err) {
      throw pgAuditError(this.database, what, err);
    }
  }
}

interface HeadRow {
  seq: string | null;
  hash: string | null;
  end_bytes: string | null;
  checkpoint_seq: string;
}

function headOf(row: HeadRow): Head {
  const lastCheckpointSeq = Number(row.checkpoint_seq);
  if (row.seq === null) return { seq: 0, hash: GENESIS_PREV, endBytes: 0, lastCheckpointSeq };
  // whatever head is there is extended, as with the file: judging it is verification's job
  return { seq: Number(row.seq), hash: isSha256Hex(row.hash) ? row.hash : String(row.hash), endBytes: Number(row.end_bytes), lastCheckpointSeq };
}

/**
 * A pool for a postgres:// URL (passwords come from PGPASSWORD or ~/.pgpass, as for libpq).
 * Every statement has a client-side deadline past the lock timeout, so a server that stops
 * answering without closing the connection fails the append (exit 8) instead of hanging it.
 */
function createAuditPool(url: string, connectTimeoutMs: number, lockTimeoutMs: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: lockTimeoutMs + QUERY_DEADLINE_MARGIN_MS,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    max: 4,
    application_name: 'hoopq audit',
  });
  // an idle connection the server dropped: the next use gets a new one (or fails, and says so)
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Connects, checks the server keeps commits durable, creates the tables when missing and
 * loads the checkpoint key, so that a sink that cannot work fails here, before any query
 * runs. Throws AuditWriteError (exit 8), or ConfigError (exit 3) for a key with loose permissions.
 */
export async function openPgAuditSink(url: string, options: PgAuditSinkOptions = {}): Promise<PgAuditSink> {
  const database = describePostgresUrl(url);
  const checkpoint = options.checkpoint ? openSinkCheckpointing(options.checkpoint, database) : null;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const pool = createAuditPool(url, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, lockTimeoutMs);
  let client: pg.PoolClient | undefined;
  try {
    try {
      client = await pool.connect();
    } catch (err) {
      throw pgAuditError(database, 'connect', err);
    }
    let settings: { fsync: string };
    try {
      settings = (await client.query<{ fsync: string }>("SELECT current_setting('fsync') AS fsync")).rows[0];
      if (settings.fsync === 'on') await ensureAuditSchema(client);
    } catch (err) {
      throw pgAuditError(database, 'create the audit tables', err);
    }
    if (settings.fsync !== 'on') {
      throw auditWriteError(database, 'the server runs with fsync off, so a committed record may not survive a crash', 'audit.not_durable', 'turn fsync on in postgresql.conf; queries are refused until the audit log is durable');
    }
  } catch (err) {
    client?.release(true);
    client = undefined;
    await pool.end().catch(() => undefined);
    throw err;
  } finally {
    client?.release();
  }
  return new PgAuditSink(database, pool, checkpoint, lockTimeoutMs, options.now ?? (() => new Date()), options.onGroupCommit);
}
