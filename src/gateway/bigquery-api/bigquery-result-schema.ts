/**
 * Result rows in BigQuery's wire format, for the BigQuery-compatible API.
 *
 * Input: rows as hoopq hands them to output (already masked and scanned: JSON values, bigint
 * past 2^53) and their fields as bigQuerySchemaField gives them for the warehouse's types.
 * Output: rows as `{f: [{v: …}]}` with every scalar a string, as BigQuery sends them.
 * Choices: a value of a type BigQuery has no word for travels as its JSON text, never
 * dropped; DATETIME is BigQuery's `YYYY-MM-DDTHH:MM:SS[.ffffff]`; TIMESTAMP follows the
 * request's `formatOptions`: int64 microseconds (`useInt64Timestamp`), ISO 8601, or
 * BigQuery's default, float seconds (a value without a zone is read as UTC).
 */
import type { BigQuerySchemaField } from '../../warehouse/bigquery-schema-field.js';


/** A result column as a field of BigQuery's schema (bigquery-schema-field.ts), with an optional note. */
export type BigQueryField = BigQuerySchemaField & { description?: string };

export type TimestampFormat = 'int64' | 'iso' | 'float';

/** One row as BigQuery sends it: `{f: [{v}]}`, scalars as strings, null as null. */
export function encodeRow(row: readonly unknown[], fields: readonly BigQueryField[], timestamps: TimestampFormat): { f: Array<{ v: unknown }> } {
  return { f: fields.map((field, i) => ({ v: encodeValue(row[i], field, timestamps) })) };
}

function encodeValue(value: unknown, field: BigQueryField, timestamps: TimestampFormat): unknown {
  if (value === null || value === undefined) return field.mode === 'REPEATED' ? [] : null;
  if (field.mode === 'REPEATED') {
    const items = Array.isArray(value) ? value : [value];
    const element: BigQueryField = { ...field, mode: 'NULLABLE' };
    return items.map((item) => ({ v: encodeValue(item, element, timestamps) }));
  }
  if (field.type === 'RECORD') {
    const fields = field.fields ?? [];
    const object = (typeof value === 'object' ? value : {}) as Record<string, unknown>;
    return { f: fields.map((child) => ({ v: encodeValue(Object.hasOwn(object, child.name) ? object[child.name] : null, child, timestamps) })) };
  }
  switch (field.type) {
    case 'BOOLEAN':
      return value === true || value === 'true' ? 'true' : 'false';
    case 'TIMESTAMP':
      return encodeTimestamp(String(value), timestamps);
    case 'DATETIME':
      return String(value).replace(' ', 'T');
    case 'JSON':
      return typeof value === 'string' ? value : jsonText(value);
    default:
      return typeof value === 'object' ? jsonText(value) : String(value);
  }
}

const TIMESTAMP_TEXT = /^(-?\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** RFC 3339 / DuckDB timestamp text -> the requested wire form; text it cannot read is passed on. */
export function encodeTimestamp(text: string, format: TimestampFormat): string {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return text;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const seconds = BigInt(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))) / 1000n;
  let offsetSeconds = 0n;
  if (!/^(Z|UTC)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetSeconds = BigInt((Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60) * (z[1] === '-' ? -1n : 1n);
  }
  const micros = (seconds - offsetSeconds) * 1_000_000n + BigInt((frac + '000000').slice(0, 6));
  if (format === 'int64') return micros.toString();
  if (format === 'iso') return isoOf(micros);
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  return `${negative ? '-' : ''}${abs / 1_000_000n}.${(abs % 1_000_000n).toString().padStart(6, '0')}`;
}

function isoOf(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // …SS.mmmZ
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

/** JSON text of a value; a bigint keeps all its digits. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
