/**
 * The embedded DuckDB warehouse: one locked-down DuckDB instance on one database file,
 * its own or lent by a warm process (warm-duckdb-opener.ts). Connections, each with one job:
 * - `parser`: analysis only (DuckDB's own parser: extractStatements, getTableNames,
 *   json_serialize_sql); never runs the caller's SQL;
 * - `metadata`: the Catalog's lookups in duckdb_views()/duckdb_tables()/duckdb_columns();
 * - one fresh connection per execute(), so interrupting a query stops only that query and
 *   two executions never share a stream; getReady() opens it (and sets its search path) while
 *   the query is still checked, so that wait is off the query's path, and prepareAhead()
 *   prepares the allowed statement on it while the intent record is written (parse, bind and
 *   plan: nothing runs). It never ran anything before the query it was opened for.
 * Analysis and the mask rewrite are DuckDB-dialect stages of their own (src/analysis/duckdb,
 * src/masking/duckdb); this class hands them the parser and the catalog.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';
import { analyzeDuckDbSql } from '../../analysis/duckdb/analyze-duckdb-sql.js';
import type { NameDefaults, QueryAnalysis } from '../../analysis/query-analysis.js';
import { isHoopqError, WarehouseError } from '../../errors.js';
import { scrubHashKey, type HashKey } from '../../masking/hash-key.js';
import { prepareDuckDbParameters } from './duckdb-parameters.js';
import { mapExecutionErrors } from '../map-execution-errors.js';
import { rewriteDuckDbSqlForMasks } from '../../masking/duckdb/rewrite-duckdb-sql-for-masks.js';
import type { ExecuteOptions, MaskPlan, QueryExecution, TableInfo, Warehouse } from '../warehouse.js';
import { DuckDbCatalog } from './duckdb-catalog.js';
import { DUCKDB_DIALECT } from './duckdb-dialect.js';
import { toWarehouseError } from './duckdb-error.js';
import { streamDuckDbQuery } from './stream-duckdb-query.js';
import { toAnalysisError } from '../to-analysis-error.js';

export interface DuckDbWarehouseParts {
  instance: DuckDBInstance;
  parser: DuckDBConnection;
  metadata: DuckDBConnection;
  /** The attached database's catalog name, lower-case. */
  project: string;
  /** Absolute path of the database file. */
  path: string;
  writable: boolean;
  /**
   * The catalog over `metadata`, when it outlives this warehouse (a warm instance's pooled
   * connections keep theirs: the file cannot change while the instance holds its lock).
   */
  catalog?: DuckDbCatalog;
  /**
   * Called once by close(), after every running query is interrupted: closes the parser,
   * metadata connection and instance and releases the file lock, or gives them back to
   * the warm instance they were lent from (warm-duckdb-opener.ts).
   */
  release: () => void;
  /** The `hash` mask's key (a warm warehouse is given its key per lending: useHashKey). */
  hashKey?: HashKey;
}

export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly dialect = DUCKDB_DIALECT;
  /** The catalog is the local file: always there. */
  readonly catalogAvailable = true;
  private hashKey: HashKey | undefined;
  readonly project: string;
  readonly path: string;
  readonly writable: boolean;
  readonly catalog: DuckDbCatalog;
  private readonly running = new Set<DuckDBConnection>();
  /**
   * The connection getReady() opened for the next execute(), the search path it set, and the
   * statement prepareAhead() prepared on it.
   */
  private ready: { searchPath: string; connection: Promise<DuckDBConnection>; prepared?: PreparedAhead } | undefined;
  /** Aborted by close(): running streams then end with `warehouse.cancelled`, not short. */
  private readonly closing = new AbortController();
  private closed = false;

  constructor(private readonly parts: DuckDbWarehouseParts) {
    this.project = parts.project;
    this.path = parts.path;
    this.writable = parts.writable;
    this.catalog = parts.catalog ?? new DuckDbCatalog(parts.metadata, parts.project);
    this.hashKey = parts.hashKey;
  }

  get hashKeyId(): string | undefined {
    return this.hashKey?.id;
  }

  /** The key this lending of the warehouse masks `hash` columns with (read at each open). */
  useHashKey(key: HashKey | undefined): void {
    this.hashKey = key;
  }

  /** `@name` parameters are read as DuckDB's `$name` (same length, so every offset holds). */
  async analyze(sql: string, names: NameDefaults): Promise<QueryAnalysis> {
    this.assertOpen();
    try {
      return await analyzeDuckDbSql(prepareDuckDbParameters(sql), { parser: this.parts.parser, catalog: this.catalog, names });
    } catch (err) {
      throw asAnalysisError(err);
    }
  }

  async rewriteForMasks(analysis: QueryAnalysis, plan: MaskPlan, names: NameDefaults): Promise<string[]> {
    this.assertOpen();
    try {
      return await rewriteDuckDbSqlForMasks(analysis, { parser: this.parts.parser, catalog: this.catalog, names, plan, hashKey: this.hashKey });
    } catch (err) {
      throw this.scrub(asAnalysisError(err));
    }
  }

  async describeTable(name: string): Promise<TableInfo | null> {
    this.assertOpen();
    return this.catalog.describeTable(name);
  }

  async listTables(dataset?: string): Promise<string[]> {
    this.assertOpen();
    return this.catalog.listTables(dataset);
  }

  /** Opens the next execution's connection now, so it is ready once the query is allowed. */
  getReady(names: NameDefaults): void {
    if (this.closed || this.ready) return;
    const searchPath = this.searchPathOf(names);
    const connection = this.openSession(searchPath);
    connection.catch(() => undefined); // execute() reports it, or opens another
    this.ready = { searchPath, connection };
  }

  /** Prepares `statement` on the ready session (nothing runs); see Warehouse.prepareAhead. */
  prepareAhead(statement: string): void {
    const ready = this.ready;
    if (this.closed || !ready || ready.prepared) return;
    const prepared = ready.connection.then((connection) => connection.prepare(statement));
    prepared.catch(() => undefined); // execute() reports it: the same error a prepare there gives
    ready.prepared = { text: statement, prepared };
  }

  async execute(statements: readonly string[], options: ExecuteOptions): Promise<QueryExecution> {
    this.assertOpen();
    const searchPath = this.searchPathOf(options.names);
    const ready = this.ready?.searchPath === searchPath ? this.ready : undefined;
    if (ready) this.ready = undefined;
    else this.dropReady(); // opened for other name defaults
    // the statement prepared ahead serves only the same first text; any other is discarded
    const ahead = ready?.prepared?.text === statements[0] ? ready?.prepared?.prepared : undefined;
    const discarded = ready?.prepared && !ahead ? discardPrepared(ready.prepared.prepared) : undefined;
    let connection: DuckDBConnection;
    try {
      connection = await (ready?.connection ?? this.openSession(searchPath));
      await discarded;
    } catch (err) {
      await (ahead && discardPrepared(ahead));
      throw toWarehouseError(err);
    }
    if (this.closed) {
      await (ahead && discardPrepared(ahead));
      releaseConnection(connection);
      this.assertOpen();
    }
    this.running.add(connection);
    const signal = AbortSignal.any([options.signal, this.closing.signal]);
    // DuckDB quotes the SQL around an error's position ("LINE 1: …"): never the hash key
    return mapExecutionErrors(
      () =>
        streamDuckDbQuery(
          connection,
          statements,
          { ...options, signal },
          () => {
            if (this.running.delete(connection)) releaseConnection(connection);
          },
          ahead,
        ),
      (err) => this.scrub(err),
    );
  }

  /**
   * DuckDB quotes the SQL around an error's position (`LINE 1: … ^`). Under a masking policy
   * that text holds hoopq's mask subqueries, and a window of it could hold part of the hash
   * key: any full form of the key is scrubbed from the message and the marked excerpt alike
   * (so the pipeline's hideRewriteExcerpt still finds and leaves out the excerpt), and a quote
   * duckdb-error.ts did not recognise as the excerpt is cut here.
   */
  private scrub<E>(err: E): E {
    if (!this.hashKey || !isHoopqError(err)) return err;
    err.message = scrubHashKey(err.message, this.hashKey);
    const excerpt = err.details?.sql_excerpt;
    if (typeof excerpt === 'string' && excerpt !== '' && err.details) {
      err.details.sql_excerpt = scrubHashKey(excerpt, this.hashKey);
    } else {
      err.message = err.message.replace(/\s*LINE \d+:[\s\S]*$/, ' (the SQL excerpt is not shown: it holds hoopq\'s masks)');
    }
    return err;
  }

  /**
   * Interrupts whatever still runs and closes its connections; then `release` closes the
   * instance (so the file lock is released and another process can open the file) or gives
   * it back to the warm instance it was lent from. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.dropReady(); // a session got ready for a query that never ran (refused, or failed before execute)
    for (const connection of this.running) releaseConnection(connection);
    this.running.clear();
    this.parts.release();
  }

  /**
   * Resolve unqualified names on this connection exactly as the analysis resolved them
   * (default_project.default_dataset), instead of DuckDB's own default schema `main`: otherwise
   * `FROM customers` could read a `main.customers` the policy never saw.
   */
  private searchPathOf(names: NameDefaults | undefined): string {
    const project = names?.defaultProject ?? this.project;
    const dataset = names?.defaultDataset ?? 'main';
    const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
    return `${ident(project)}.${ident(dataset)}`;
  }

  /**
   * Closes the connection getReady() opened, once it is open, if nothing took it; a statement
   * prepared on it is destroyed first, once its prepare has finished (never under it).
   */
  private dropReady(): void {
    const ready = this.ready;
    this.ready = undefined;
    if (!ready) return;
    void Promise.resolve(ready.prepared && discardPrepared(ready.prepared.prepared))
      .then(() => ready.connection)
      .then(releaseConnection, () => undefined);
  }

  /** A fresh connection of its own for one execution, its search path set (searchPathOf). */
  private async openSession(searchPath: string): Promise<DuckDBConnection> {
    const connection = await this.parts.instance.connect();
    try {
      await connection.run(`SET search_path = '${searchPath.replace(/'/g, "''")}'`);
    } catch (err) {
      releaseConnection(connection);
      throw err;
    }
    return connection;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new WarehouseError('warehouse.closed', 'the warehouse connection is already closed', {
        rule: 'warehouse',
        hint: 'open the warehouse again',
      });
    }
  }
}

/** A statement prepareAhead() started preparing, and its text. */
interface PreparedAhead {
  text: string;
  prepared: Promise<DuckDBPreparedStatement>;
}

/** Destroys a statement prepared ahead and not used, once its prepare has settled. */
async function discardPrepared(prepared: Promise<DuckDBPreparedStatement>): Promise<void> {
  await prepared.then(
    (statement) => statement.destroySync(),
    () => undefined,
  );
}

function releaseConnection(connection: DuckDBConnection): void {
  connection.interrupt();
  connection.closeSync();
}

function asAnalysisError(err: unknown): Error {
  return toAnalysisError(err, 'send plain SQL that DuckDB can parse, one statement at a time if in doubt');
}
