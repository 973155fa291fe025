/**
 * The configuration every hoopq DuckDB instance is created with. It is the engine's own
 * second line of defence: even SQL the analysis got wrong cannot reach the file system,
 * the network, extensions, settings or other databases. All of it is passed to
 * `DuckDBInstance.create`, so the instance is locked before any connection exists and no
 * statement ever runs on an unlocked engine.
 *
 * Measured on @duckdb/node-api 1.5 (see duckdb-warehouse.test.ts, which re-checks each):
 * with these options read_csv/read_text/glob/FROM 'file', COPY TO, EXPORT/IMPORT DATABASE,
 * ATTACH of a file, INSTALL/LOAD, CREATE (persistent) SECRET, and SET/RESET/PRAGMA of any
 * setting all fail with a Permission or "configuration has been locked" error.
 * Not covered by DuckDB's lock (so the analysis must refuse them, and it does): table
 * functions that run SQL text (`query`, `query_table`), `CALL enable_logging()` (instance
 * wide; logging to a file then fails every later statement, in memory it records queries),
 * `PRAGMA enable_progress_bar`/`disable_profiling`, `CHECKPOINT`/`VACUUM` (they do not
 * change a read-only file), `SET schema`, TEMP tables, and `ATTACH ':memory:'` (writable
 * instances only).
 */
/** `warehouse.max_query_memory` when hoopq.yaml sets none. */
export const DEFAULT_QUERY_MEMORY_BYTES = 256 * 2 ** 20;

/** `warehouse.query_threads` when hoopq.yaml sets none. */
export const DEFAULT_QUERY_THREADS = 1;

export function duckDbLockdownOptions(
  accessMode: 'READ_ONLY' | 'READ_WRITE',
  memoryLimitBytes: number = DEFAULT_QUERY_MEMORY_BYTES,
  threads: number = DEFAULT_QUERY_THREADS,
): Record<string, string> {
  return {
    // Each query (CLI) or run (gateway, warm-duckdb-opener.ts) gets an instance of its own,
    // and this bounds it: measured on 1.5, a result chunk of 1,000 one-megabyte strings takes
    // 1.5 GB of native memory before hoopq sees a row; under the limit DuckDB fails the query
    // with "Out of Memory Error" instead (exit 7, warehouse.memory_exceeded), so one run
    // cannot take the gateway's memory.
    memory_limit: `${Math.floor(memoryLimitBytes)}B`,
    // DuckDB's default is a thread per core for every instance, i.e. every query: two heavy
    // queries of one run then took all the cores from everyone else. One thread each keeps a
    // run's share of the CPU to its share of query slots (measured on 2 cores: another run's
    // SELECT 1 beside two cross joins, +650-980 ms with a thread per core, +0-250 ms with one).
    threads: String(threads),
    // One writer per file: a read-only instance cannot write the warehouse whatever the SQL.
    access_mode: accessMode,
    // Closes every file and network path except the database file itself, its WAL and its
    // temp directory (DuckDB adds those to allowed_paths/allowed_directories on its own):
    // read_csv('/etc/passwd'), FROM 'x.parquet', COPY … TO, EXPORT DATABASE, ATTACH 'f.db',
    // INSTALL (the extension directory is a file path) and http(s):// URLs all fail.
    // allowed_directories/allowed_paths are left at those defaults, i.e. nothing extra.
    enable_external_access: 'false',
    // No extension may be fetched or loaded behind the SQL's back (httpfs, postgres_scanner
    // and friends are exactly the "other databases and the network" we keep out).
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
    // Secrets are credentials for remote file systems; none may be persisted to disk.
    allow_persistent_secrets: 'false',
    // (enable_progress_bar cannot be set here: it is a per-connection setting, off by default
    // outside DuckDB's own shell. `PRAGMA enable_progress_bar` is one the lock does not cover.)
    // Last: from here on no SET/RESET/PRAGMA can change any option above (or any other).
    // disabled_filesystems is not needed on top: with external access off the local file
    // system only serves the database's own files, and the network file systems live in
    // extensions that cannot be loaded.
    lock_configuration: 'true',
  };
}
