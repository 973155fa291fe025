/**
 * Result columns and rows in BigQuery's wire format, for the BigQuery-compatible API.
 *
 * Input: the columns a warehouse reported (DuckDB type text such as `BIGINT`, `DECIMAL(10,2)`,
 * `STRUCT(a INTEGER)`, `VARCHAR[]`, or BigQuery's `INT64`, `STRUCT<a INT64>`, `ARRAY<STRING>`)
 * and rows as hoopq hands them to output (already masked and scanned: JSON values).
 * Output: a `TableSchema` (`fields` with BigQuery's REST type names and modes) and rows as
 * `{f: [{v: …}]}` with every scalar a string, as BigQuery sends them.
 * Choices:
 * - the two engines' type spellings barely overlap, so one parser reads both; where they do
 *   (`TIMESTAMP`), a value without a zone is read as UTC (DuckDB's TIMESTAMP has none);
 * - integers wider than INT64 (HUGEINT, UBIGINT) are BIGNUMERIC/NUMERIC, exact;
 * - a list of lists, a union or a type BigQuery has no word for is a STRING holding the JSON
 *   text of the value, never dropped;
 * - TIMESTAMP follows the request's `formatOptions`: int64 microseconds
 *   (`useInt64Timestamp`), ISO 8601, or BigQuery's default, float seconds.
 */

export interface BigQueryField {
  name: string;
  type: string;
  mode: 'NULLABLE' | 'REPEATED';
  fields?: BigQueryField[];
  description?: string;
}

export type TimestampFormat = 'int64' | 'iso' | 'float';

interface FieldType {
  type: string;
  mode: 'NULLABLE' | 'REPEATED';
  fields?: BigQueryField[];
}

const SCALARS: Readonly<Record<string, string>> = {
  INTEGER: 'INTEGER', INT: 'INTEGER', INT1: 'INTEGER', INT2: 'INTEGER', INT4: 'INTEGER', INT8: 'INTEGER', INT16: 'INTEGER', INT32: 'INTEGER', INT64: 'INTEGER',
  BIGINT: 'INTEGER', SMALLINT: 'INTEGER', TINYINT: 'INTEGER', UTINYINT: 'INTEGER', USMALLINT: 'INTEGER', UINTEGER: 'INTEGER', SIGNED: 'INTEGER', LONG: 'INTEGER', SHORT: 'INTEGER',
  UBIGINT: 'NUMERIC', HUGEINT: 'BIGNUMERIC', UHUGEINT: 'BIGNUMERIC', INT128: 'BIGNUMERIC',
  DOUBLE: 'FLOAT', FLOAT: 'FLOAT', FLOAT4: 'FLOAT', FLOAT8: 'FLOAT', FLOAT64: 'FLOAT', REAL: 'FLOAT',
  BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN', LOGICAL: 'BOOLEAN',
  VARCHAR: 'STRING', STRING: 'STRING', TEXT: 'STRING', CHAR: 'STRING', BPCHAR: 'STRING', UUID: 'STRING', NVARCHAR: 'STRING', BIT: 'STRING', BITSTRING: 'STRING',
  DECIMAL: 'NUMERIC', NUMERIC: 'NUMERIC', BIGNUMERIC: 'BIGNUMERIC', BIGDECIMAL: 'BIGNUMERIC',
  DATE: 'DATE', TIME: 'TIME', DATETIME: 'DATETIME', INTERVAL: 'INTERVAL',
  TIMESTAMP: 'TIMESTAMP', TIMESTAMPTZ: 'TIMESTAMP', TIMESTAMP_S: 'TIMESTAMP', TIMESTAMP_MS: 'TIMESTAMP', TIMESTAMP_NS: 'TIMESTAMP', TIMESTAMP_US: 'TIMESTAMP',
  'TIMESTAMP WITH TIME ZONE': 'TIMESTAMP',
  BLOB: 'BYTES', BYTEA: 'BYTES', BINARY: 'BYTES', VARBINARY: 'BYTES', BYTES: 'BYTES',
  JSON: 'JSON', GEOGRAPHY: 'GEOGRAPHY',
};

/** One result column's BigQuery field. */
export function bigQueryField(name: string, typeText: string): BigQueryField {
  return { name, ...fieldType(typeText.trim()) };
}

function fieldType(text: string): FieldType {
  const upper = text.toUpperCase();
  if (text.endsWith(']')) {
    const open = matchingOpen(text, text.length - 1, '[', ']');
    if (open > 0) return repeated(fieldType(text.slice(0, open).trim()));
  }
  const generic = /^(ARRAY|STRUCT|MAP|LIST)\s*[<(]/i.exec(text);
  if (generic && (text.endsWith('>') || text.endsWith(')'))) {
    const inner = text.slice(generic[0].length, -1);
    const kind = generic[1]!.toUpperCase();
    if (kind === 'ARRAY' || kind === 'LIST') return repeated(fieldType(inner.trim()));
    if (kind === 'STRUCT') return { type: 'RECORD', mode: 'NULLABLE', fields: splitTopLevel(inner).map(structField) };
    const [key, value] = splitTopLevel(inner);
    if (key === undefined || value === undefined) return json();
    return { type: 'RECORD', mode: 'REPEATED', fields: [bigQueryField('key', key), bigQueryField('value', value)] };
  }
  const base = upper.replace(/\s*\(.*\)$/, '');
  if (/^(DECIMAL|NUMERIC)\s*\(\s*(\d+)/.test(upper)) {
    const precision = Number(/\(\s*(\d+)/.exec(upper)![1]);
    return { type: precision > 38 ? 'BIGNUMERIC' : 'NUMERIC', mode: 'NULLABLE' };
  }
  const scalar = Object.hasOwn(SCALARS, base) ? SCALARS[base]! : undefined;
  if (scalar) return { type: scalar, mode: 'NULLABLE' };
  if (base.startsWith('VARCHAR') || base.startsWith('ENUM')) return { type: 'STRING', mode: 'NULLABLE' };
  return json();
}

/** A type BigQuery cannot express: the JSON text of the value, as STRING. */
function json(): FieldType {
  return { type: 'STRING', mode: 'NULLABLE' };
}

function repeated(element: FieldType): FieldType {
  // BigQuery has no array of arrays: such a value travels as its JSON text
  if (element.mode === 'REPEATED') return json();
  return { ...element, mode: 'REPEATED' };
}

function structField(text: string): BigQueryField {
  const t = text.trim();
  const quoted = /^("(?:[^"]|"")*"|`(?:[^`]|``)*`)\s+/.exec(t);
  if (quoted) {
    const q = quoted[1]!;
    return bigQueryField(q.slice(1, -1).replaceAll(q[0]! + q[0]!, q[0]!), t.slice(quoted[0].length));
  }
  const m = /^(\S+)\s+([\s\S]+)$/.exec(t);
  return m ? bigQueryField(m[1]!, m[2]!) : { name: t, type: 'STRING', mode: 'NULLABLE' };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === '`' || c === "'") quote = c;
    else if (c === '(' || c === '<' || c === '[') depth += 1;
    else if (c === ')' || c === '>' || c === ']') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== '') parts.push(last);
  return parts;
}

function matchingOpen(text: string, close: number, open: string, closer: string): number {
  let depth = 0;
  for (let i = close; i >= 0; i -= 1) {
    if (text[i] === closer) depth += 1;
    else if (text[i] === open) {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

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
      return typeof value === 'string' ? value : JSON.stringify(value);
    default:
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
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
