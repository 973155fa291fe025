/**
 * createResultWriter: the last stage, result rows (already masked and scanned) to bytes.
 *
 * Input: batches of rows in column order. Output: the chosen format on `out`, and at the
 * end what was written: row count, whether rows were cut, and the SHA-256 of exactly the
 * bytes given to `out` (the audit's `result_sha256`).
 * Invariants: streamed — rows are encoded one at a time and handed to `out` in pieces of at
 * most FLUSH_BYTES (plus one row), and writeBatch does not resolve while `out` is over its
 * high-water mark, so memory stays flat with row count and with row width (pretty alone
 * buffers, capped at PRETTY_ROW_CAP rows of capped cells); a row whose text exceeds
 * `maxRowBytes` ends the result with `warehouse.row_too_large` (exit 7) instead of being
 * held; no row past the limit is written; a reader that goes away (EPIPE on stdout, `| head`,
 * a closed HTTP response) is `output.closed` (exit 7: the query is cancelled), never an
 * internal error, and `progress()` still says how many rows went out before it did.
 */
import { createHash } from 'node:crypto';
import { UsageError, WarehouseError, isHoopqError } from '../errors.js';
import type { ResultColumn } from '../warehouse/warehouse.js';
import { createCsvEncoder } from './csv-encoder.js';
import { drained } from './drained.js';
import { createJsonEncoder, createPrettyJsonEncoder } from './json-encoder.js';
import { createNdjsonEncoder } from './ndjson-encoder.js';
import { PRETTY_ROW_CAP, createPrettyTableEncoder } from './pretty-table-encoder.js';
import type { RowEncoderFactory } from './row-encoder.js';
import { BQ_ENCODERS } from './bq-encoders.js';

/** hoopq's own formats (`hoopq query --format`): typed JSON values, one rule per SQL type (json-text.ts). */
export const OUTPUT_FORMATS = ['pretty', 'json', 'prettyjson', 'csv', 'ndjson'] as const;
/** The `hoopq bq` face's formats: exactly `bq --format=…` (bq-encoders.ts). */
export const BQ_OUTPUT_FORMATS = ['bq-pretty', 'bq-sparse', 'bq-json', 'bq-prettyjson', 'bq-csv', 'bq-none'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | (typeof BQ_OUTPUT_FORMATS)[number];
export const RESULT_FORMATS: readonly OutputFormat[] = [...OUTPUT_FORMATS, ...BQ_OUTPUT_FORMATS];

const ENCODERS: Readonly<Record<OutputFormat, RowEncoderFactory>> = {
  pretty: createPrettyTableEncoder,
  json: createJsonEncoder,
  prettyjson: createPrettyJsonEncoder,
  csv: createCsvEncoder,
  ndjson: createNdjsonEncoder,
  ...BQ_ENCODERS,
};

/** Formats that must see every row before writing one; capped at PRETTY_ROW_CAP rows. */
const BUFFERING_FORMATS: ReadonlySet<OutputFormat> = new Set(['pretty', 'bq-pretty', 'bq-sparse']);

/** Formats whose errors are machine-read: stderr then carries one JSON object instead of a line. */
export function isMachineFormat(format: string): boolean {
  return ['json', 'ndjson', 'bq-json', 'bq-prettyjson'].includes(format);
}

export interface ResultWriterOptions {
  /** Rows to write at most; further rows are dropped and `truncated` is set. */
  maxRows?: number;
  /** The encoded text of one row may be at most this long (UTF-16 units); default MAX_ROW_BYTES. */
  maxRowBytes?: number;
}

/** A row larger than this is refused rather than held (and handed on) whole. */
export const MAX_ROW_BYTES = 16 * 2 ** 20;
/** Encoded rows are handed to `out` once this much text has gathered. */
const FLUSH_BYTES = 64 * 1024;

export interface WrittenResult {
  rows: number;
  /** Rows were offered beyond the limit and not written. */
  truncated: boolean;
  /** hex SHA-256 of exactly the bytes written to `out`. */
  sha256: string;
  /** The limit that applied: maxRows, or for pretty at most PRETTY_ROW_CAP. */
  limit: number | undefined;
}

export interface ResultWriter {
  /** Resolves once the batch is handed to `out` and `out` is below its high-water mark. */
  writeBatch(rows: readonly unknown[][]): Promise<void>;
  /** True once a row was refused for the limit: the caller can stop reading the warehouse. */
  isTruncated(): boolean;
  /** Writes the closing text; does not end `out` (the caller owns it). Call it on failure paths too: it detaches the writer's 'error' listener. */
  end(): Promise<WrittenResult>;
  /** Rows and the digest of the bytes handed to `out` so far (what a failed result did deliver). */
  progress(): { rows: number; sha256: string };
}

/** The parts of a Writable we rely on beyond NodeJS.WritableStream. */
interface WritableState {
  destroyed?: boolean;
  errored?: Error | null;
  writableNeedDrain?: boolean;
}

export function createResultWriter(
  format: OutputFormat,
  out: NodeJS.WritableStream,
  columns: readonly ResultColumn[],
  options: ResultWriterOptions = {},
): ResultWriter {
  const factory = Object.hasOwn(ENCODERS, format) ? ENCODERS[format] : undefined;
  if (factory === undefined) {
    throw new UsageError('usage.format', `refused: unknown output format "${String(format)}"`, {
      rule: 'format',
      hint: `--format may be one of: ${OUTPUT_FORMATS.join(', ')} (hoopq bq: pretty, sparse, json, prettyjson, csv, none)`,
    });
  }
  const { maxRows } = options;
  const maxRowBytes = options.maxRowBytes ?? MAX_ROW_BYTES;
  if (maxRows !== undefined && !(Number.isSafeInteger(maxRows) && maxRows >= 0)) {
    throw new UsageError('usage.max_rows', `refused: max rows must be a whole number >= 0, got ${String(maxRows)}`, {
      rule: 'max_rows',
      hint: 'pass --max-rows N with N a whole number',
    });
  }
  const limit = BUFFERING_FORMATS.has(format) ? Math.min(maxRows ?? PRETTY_ROW_CAP, PRETTY_ROW_CAP) : maxRows;
  const encoder = factory(columns);
  const hash = createHash('sha256');
  let rows = 0;
  // rows whose bytes were handed to `out`
  let delivered = 0;
  let rowsInText = 0;
  let truncated = false;
  let started = false;
  let ended = false;
  // batches are written strictly in order even if a caller does not await writeBatch
  let queue: Promise<void> = Promise.resolve();
  // A reader that goes away (EPIPE on stdout, a closed HTTP response) makes the stream emit
  // 'error'; held here, it rejects the next write instead of crashing the process.
  let streamError: Error | undefined;
  const onStreamError = (err: Error) => {
    streamError ??= err;
  };
  out.on('error', onStreamError);
  // a destroyed stream may still emit its 'error' later: keep swallowing it there
  const detach = () => {
    if (!streamError && !(out as unknown as WritableState).destroyed) out.off('error', onStreamError);
  };

  async function emit(text: string): Promise<void> {
    if (text === '') return;
    const state = out as unknown as WritableState;
    if (streamError) throw outputError(streamError);
    // a stream destroyed with a reason (the gateway's client went away, stalled) says why
    if (state.destroyed) throw outputError(state.errored ?? new Error('output stream closed before the result was complete'));
    if (state.writableNeedDrain) await drained(out).catch((err) => Promise.reject(outputError(err)));
    const bytes = Buffer.from(text, 'utf8');
    hash.update(bytes);
    delivered = rowsInText;
    if (!out.write(bytes)) await drained(out).catch((err) => Promise.reject(outputError(err)));
  }

  async function write(batch: readonly unknown[][]): Promise<void> {
    if (ended) throw new Error('result writer used after end()');
    let text = '';
    if (!started) {
      started = true;
      text += encoder.start();
    }
    let take = batch.length;
    if (limit !== undefined && rows + take > limit) {
      take = limit - rows;
      truncated = true;
    }
    for (let i = 0; i < take; i++) {
      const row = encoder.row(batch[i]!);
      if (row.length > maxRowBytes) throw rowTooLarge(maxRowBytes);
      text += row;
      rows += 1;
      if (text.length >= FLUSH_BYTES) {
        rowsInText = rows;
        await emit(text);
        text = '';
      }
    }
    rowsInText = rows;
    await emit(text);
  }

  return {
    writeBatch(batch) {
      queue = queue.then(() => write(batch));
      return queue;
    },
    isTruncated: () => truncated,
    progress: () => ({ rows: delivered, sha256: hash.copy().digest('hex') }),
    async end() {
      const closing = queue.then(async () => {
        if (ended) throw new Error('result writer ended twice');
        let text = started ? '' : encoder.start();
        started = true;
        text += encoder.finish();
        ended = true;
        await emit(text);
      });
      queue = closing;
      try {
        await closing;
      } finally {
        detach();
      }
      return { rows, truncated, sha256: hash.digest('hex'), limit };
    },
  };
}

function rowTooLarge(maxRowBytes: number): WarehouseError {
  return new WarehouseError('warehouse.row_too_large', `refused: a row of the result is larger than ${Math.round(maxRowBytes / 2 ** 20)} MiB; the query was stopped`, {
    rule: 'limits.max_row_bytes',
    hint: 'select fewer or narrower columns (substr, length, a hash), or read large values in parts',
  });
}

/**
 * The reader went away: the query stops (exit 7) and the audit record says so. An error the
 * output already described (the gateway's frame response: `output.stalled`) is kept.
 */
function outputError(err: unknown): Error {
  if (isHoopqError(err)) return err;
  const why = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
  return new WarehouseError('output.closed', `the result's reader went away before the result was complete (${why}); the query was cancelled`, {
    rule: 'output',
    hint: 'read the whole result, or ask for fewer rows (--max-rows N, LIMIT); the audit record says how many rows were written',
    cause: err,
  });
}
