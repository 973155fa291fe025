/**
 * BigQuery's wire rows (`{f: [{v: …}]}`, every scalar a string) as JSON values per the result
 * schema, the way hoopq hands rows to masking and output:
 * INT64 -> number, or bigint past 2^53 (never a rounded number; written with all its digits);
 * FLOAT64 -> number (NaN and ±Infinity stay strings, JSON has no such numbers);
 * BOOL -> boolean; NUMERIC/BIGNUMERIC -> string (exact); TIMESTAMP -> RFC 3339 UTC with
 * microseconds (the job is asked for int64 microseconds, `formatOptions.useInt64Timestamp`);
 * DATE, TIME, DATETIME, BYTES (base64), GEOGRAPHY (WKT), JSON, INTERVAL, RANGE -> BigQuery's text;
 * STRUCT -> object by field name; REPEATED -> array.
 */
import type { ResultColumn } from '../warehouse.js';

export interface BigQueryField {
  name: string;
  type: string;
  mode?: string;
  fields?: BigQueryField[];
}

export interface BigQueryRow {
  f?: Array<{ v?: unknown }>;
}

const TYPE_NAMES: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', RECORD: 'STRUCT' };

export function bigQueryColumns(fields: BigQueryField[]): ResultColumn[] {
  return fields.map((f) => ({ name: f.name, type: typeName(f) }));
}

export function convertBigQueryRow(row: BigQueryRow, fields: BigQueryField[]): unknown[] {
  const cells = row.f ?? [];
  return fields.map((field, i) => convertValue(cells[i]?.v, field));
}

function typeName(f: BigQueryField): string {
  const base = TYPE_NAMES[f.type] ?? f.type;
  const scalar = base === 'STRUCT' && f.fields ? `STRUCT<${f.fields.map((c) => `${c.name} ${typeName(c)}`).join(', ')}>` : base;
  return f.mode === 'REPEATED' ? `ARRAY<${scalar}>` : scalar;
}

function convertValue(v: unknown, field: BigQueryField): unknown {
  if (v === null || v === undefined) return null;
  if (field.mode === 'REPEATED') {
    const items = Array.isArray(v) ? v : [];
    const element = { ...field, mode: 'NULLABLE' };
    return items.map((item) => convertValue((item as { v?: unknown })?.v, element));
  }
  if (field.type === 'RECORD' || field.type === 'STRUCT') {
    const out: Record<string, unknown> = {};
    const cells = (v as BigQueryRow).f ?? [];
    (field.fields ?? []).forEach((child, i) => (out[child.name] = convertValue(cells[i]?.v, child)));
    return out;
  }
  const s = String(v);
  switch (field.type) {
    case 'INTEGER':
    case 'INT64': {
      const n = Number(s);
      if (Number.isSafeInteger(n)) return n;
      return /^-?\d+$/.test(s) ? BigInt(s) : s;
    }
    case 'FLOAT':
    case 'FLOAT64': {
      const n = Number(s);
      return Number.isFinite(n) ? n : s;
    }
    case 'BOOLEAN':
    case 'BOOL':
      return s === 'true';
    case 'TIMESTAMP':
      return timestampText(s);
    default:
      return s;
  }
}

/** int64 microseconds (or, from servers that ignore the format option, float seconds) -> RFC 3339. */
export function timestampText(s: string): string {
  let micros: bigint;
  if (/^-?\d+$/.test(s)) micros = BigInt(s);
  else {
    const seconds = Number(s);
    if (!Number.isFinite(seconds)) return s;
    micros = BigInt(Math.round(seconds * 1e6));
  }
  const second = micros >= 0n ? micros / 1_000_000n : -((-micros + 999_999n) / 1_000_000n);
  const fraction = Number(micros - second * 1_000_000n);
  const iso = new Date(Number(second) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return fraction === 0 ? `${iso}Z` : `${iso}.${String(fraction).padStart(6, '0')}Z`;
}
