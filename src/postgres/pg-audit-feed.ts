/**
 * The console's live feed for an audit log kept in PostgreSQL (gateway replicas): the same
 * recent records, in-flight queries and subscriptions as the file's feed (audit-feed.ts), read
 * from the log table instead of a file's tail, so every replica's console shows the decisions
 * of all replicas.
 *
 * Input: the database URL (password from PGPASSWORD or ~/.pgpass, as for the sink). Output: an
 * AuditFeed. Invariants: read-only (one SELECT of the rows after the last seq seen, on a
 * connection of its own, asynchronous, so the gateway's event loop never waits for the server);
 * rows come in seq order and none is shown twice; the first poll reads only the most recent
 * window; one poll at a time; a server that cannot be reached, or a query that fails, leaves
 * the feed as it was, and the next poll connects again.
 */
import pg from 'pg';
import { AuditFeed } from '../console/audit-feed.js';
import { AUDIT_LOG_TABLE } from './pg-audit-schema.js';

/** Records the first poll reads (the console keeps at most 2,000). */
const START_ROWS = 2000;
/** Rows per SELECT. */
const BATCH = 1000;
const CONNECT_TIMEOUT_MS = 5000;

export class PgAuditFeed extends AuditFeed {
  private client: pg.Client | undefined;
  private lastSeq: number | undefined;
  /** The poll in progress: a poll asked for meanwhile waits for it instead of reading again. */
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    pollMs = 500,
  ) {
    super('', pollMs);
  }

  /** The first poll sets the window from the table's newest seq. */
  protected override openWindow(): void {}

  /** Starts a poll unless one is running (then that one's); resolves when it is done. */
  override poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.polling ??= this.readNewRows()
      .catch(() => this.disconnect())
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  override stop(): void {
    this.stopped = true;
    super.stop();
    this.disconnect();
  }

  private async readNewRows(): Promise<void> {
    const client = await this.connected();
    if (this.lastSeq === undefined) {
      const newest = await client.query(`SELECT coalesce(max(seq), 0) AS seq FROM ${AUDIT_LOG_TABLE}`);
      this.lastSeq = Math.max(0, Number(newest.rows[0]?.seq ?? 0) - START_ROWS);
    }
    for (;;) {
      const result: pg.QueryResult<{ seq: string; line: string }> = await client.query(`SELECT seq, line FROM ${AUDIT_LOG_TABLE} WHERE seq > $1 ORDER BY seq LIMIT ${BATCH}`, [this.lastSeq]);
      const rows = result.rows;
      if (this.stopped) return;
      for (const row of rows) {
        this.lastSeq = Number(row.seq);
        this.addLine(row.line);
      }
      if (rows.length < BATCH) return;
    }
  }

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: 30_000, application_name: 'hoopq console feed' });
    client.on('error', () => this.disconnect()); // a dropped session: the next poll connects again
    await client.connect();
    if (this.stopped) {
      void client.end().catch(() => undefined);
      throw new Error('stopped');
    }
    this.client = client;
    return client;
  }

  private disconnect(): void {
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
  }
}
