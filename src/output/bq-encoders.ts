/**
 * The `hoopq bq` face's result formats: exactly what `bq query --format=…` prints, over the
 * rows hoopq has already masked and scanned. Values become bq's strings (bq-values.ts);
 * layouts are bq's (bq-table-formatter.ts). `json`, `prettyjson` and `csv` stream row by
 * row; `pretty` and `sparse` must see every row to size the columns, so they buffer (the
 * result writer caps them as it caps hoopq's pretty).
 */
import { UsageError } from '../errors.js';
import type { ResultColumn } from '../warehouse/warehouse.js';
import { isBqStringType, toBqRow } from './bq-values.js';
import { BQ_ROWS_JSON, BQ_ROWS_PRETTYJSON, bqCsvLine, bqJson, formatBqTable, type BqTextFormat } from './bq-table-formatter.js';
import { objectKeys } from './json-encoder.js';
import type { RowEncoder, RowEncoderFactory } from './row-encoder.js';

/** A value in a pretty, sparse or csv cell: nested values as compact JSON (keys in field order), NULL as `NULL` or empty. */
function cellText(value: unknown, nullText: string): string {
  if (value === null || value === undefined) return nullText;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function bqTableEncoder(format: BqTextFormat): RowEncoderFactory {
  return (columns) => {
    const types = columns.map((c) => c.type);
    const rows: string[][] = [];
    return {
      start: () => '',
      row(values) {
        rows.push(toBqRow(values, types).map((v) => cellText(v, 'NULL')));
        return '';
      },
      finish: () =>
        formatBqTable(
          format,
          columns.map((c) => ({ name: c.name, align: isBqStringType(c.type) ? 'l' : 'r' })),
          rows,
        ),
    };
  };
}

function objectOf(keys: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  keys.forEach((k, i) => Object.defineProperty(o, k, { value: values[i] ?? null, enumerable: true, writable: true, configurable: true }));
  return o;
}

function bqJsonEncoder(pretty: boolean): RowEncoderFactory {
  return (columns) => {
    const keys = objectKeys(columns);
    const types = columns.map((c) => c.type);
    let rows = 0;
    return {
      start: () => '',
      row(values) {
        const text = bqJson(objectOf(keys, toBqRow(values, types)), pretty ? BQ_ROWS_PRETTYJSON : BQ_ROWS_JSON, pretty ? 1 : 0);
        const lead = rows === 0 ? (pretty ? '[\n  ' : '[') : pretty ? ', \n  ' : ',';
        rows++;
        return lead + text;
      },
      finish: () => (rows === 0 ? '[]\n' : pretty ? '\n]\n' : ']\n'),
    };
  };
}

/** bq refuses RECORD and REPEATED columns in CSV; so does this, before any row is written. */
function refuseNestedForCsv(columns: readonly ResultColumn[]): void {
  for (const c of columns) {
    const t = c.type.trim().toUpperCase();
    const nested = /^(STRUCT|MAP|UNION|ARRAY)\b/.test(t) || /\]$/.test(t) || t === 'RECORD';
    if (nested) {
      throw new UsageError('usage.csv_nested', `refused: cannot print the ${/^STRUCT|RECORD|MAP|UNION/.test(t) ? 'record' : 'repeated'} field "${c.name}" in CSV format`, {
        rule: 'format',
        hint: 'use --format=json or prettyjson, or select its members as separate columns',
      });
    }
  }
}

const bqCsvEncoder: RowEncoderFactory = (columns) => {
  refuseNestedForCsv(columns);
  const types = columns.map((c) => c.type);
  // bq prints header and rows, then strips trailing white space from the whole text: hold
  // back a row's trailing white space until a later row shows it was not the end
  let held = '';
  let rows = 0;
  return {
    start: () => '',
    row(values) {
      const line = bqCsvLine(toBqRow(values, types).map((v) => cellText(v, '')));
      const text = held + (rows === 0 ? columns.map((c) => c.name).join(',') + '\n' : '\n') + line;
      rows++;
      const tail = /\s*$/.exec(text)!;
      held = tail[0];
      return text.slice(0, tail.index);
    },
    finish: () => (rows === 0 ? '' : '\n'),
  };
};

const bqNoneEncoder: RowEncoderFactory = (): RowEncoder => ({ start: () => '', row: () => '', finish: () => '' });

export const BQ_ENCODERS = {
  'bq-pretty': bqTableEncoder('pretty'),
  'bq-sparse': bqTableEncoder('sparse'),
  'bq-json': bqJsonEncoder(false),
  'bq-prettyjson': bqJsonEncoder(true),
  'bq-csv': bqCsvEncoder,
  'bq-none': bqNoneEncoder,
} as const satisfies Record<string, RowEncoderFactory>;
