/**
 * Result values the way `bq` prints them (the `hoopq bq` face). BigQuery's API hands `bq`
 * every scalar as a string, and `bq` prints those strings: INTEGER `"42"`, FLOAT `"0.5"` and
 * `"1.0E10"` (Java's double text), BOOLEAN `"true"`, TIMESTAMP `"2024-05-01 10:00:00"` (UTC,
 * seconds), DATETIME `"2024-05-01T10:00:00"`, NUMERIC, DATE, TIME, BYTES (base64) as text;
 * RECORD as an object, REPEATED as an array, NULL as null. Input: hoopq's typed result values
 * (json-text.ts) and the engine's column type. Output: the same row with bq's values.
 */

/** The column is a BigQuery STRING (bq aligns those left in pretty and sparse; every other type right). */
export function isBqStringType(engineType: string): boolean {
  const base = engineType.trim().toUpperCase().replace(/\(.*$/s, '');
  return ['VARCHAR', 'STRING', 'TEXT', 'CHAR', 'BPCHAR', 'UUID', 'ENUM', 'NVARCHAR'].includes(base);
}

function isFloatType(engineType: string): boolean {
  return /^(FLOAT|FLOAT4|FLOAT8|FLOAT64|REAL|DOUBLE)$/i.test(engineType.trim());
}

function isTimestampType(engineType: string): boolean {
  return /^(TIMESTAMP|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|DATETIME)$/i.test(engineType.trim());
}

/** One row of typed values as bq's values, column by column. */
export function toBqRow(values: readonly unknown[], types: readonly string[]): unknown[] {
  return values.map((v, i) => toBqValue(v, types[i] ?? ''));
}

export function toBqValue(value: unknown, engineType: string): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && isFloatType(engineType)) return javaDoubleText(value);
  if (typeof value === 'string' && isTimestampType(engineType)) return bqTimestampText(value);
  return bqScalar(value);
}

function bqScalar(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(bqScalar);
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      if (value instanceof Date) return bqTimestampText(value.toISOString());
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
      return Object.fromEntries(entries.map(([k, v]) => [String(k), bqScalar(v)]));
    }
    default:
      return null;
  }
}

/**
 * A timestamp as bq prints it: one with a zone (BigQuery TIMESTAMP, DuckDB TIMESTAMPTZ) as UTC
 * `YYYY-MM-DD HH:MM:SS` (bq drops fractions of a second); one without (DATETIME, DuckDB's
 * TIMESTAMP) as BigQuery's DATETIME text `YYYY-MM-DDTHH:MM:SS[.ffffff]`.
 */
export function bqTimestampText(text: string): string {
  const m = /^(-?\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  if (!m) return text;
  const [, date, time, fraction, zone] = m;
  if (zone === undefined) return `${date}T${time}${fraction ?? ''}`;
  const offset = zone === 'Z' ? '+00:00' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${date}T${time}${offset}`);
  if (Number.isNaN(ms)) return text;
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * A double as Java's Double.toString writes it (BigQuery's API is written in Java): at least
 * one digit after the point, and scientific notation `d.dddE±n` below 1e-3 and from 1e7 on.
 */
export function javaDoubleText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(n);
    return s.includes('.') ? s : `${s}.0`;
  }
  // shortest round-trip digits, then Java's layout
  const [mantissa, exponent] = n.toExponential().split('e') as [string, string];
  const digits = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${digits}E${Number(exponent)}`;
}
