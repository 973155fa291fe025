/**
 * A column's engine type as a field of BigQuery's table schema (`tables.get`: `name`, `type`
 * in BigQuery's legacy names INTEGER, FLOAT, NUMERIC, BOOLEAN, STRING, BYTES, DATE, TIME,
 * DATETIME, TIMESTAMP, RECORD, JSON …, `mode` NULLABLE or REPEATED, nested `fields`), as
 * `bq show --format=json` and `bq show --schema` print it. Reads DuckDB's type text
 * (`INTEGER[]`, `STRUCT(a INTEGER, b VARCHAR)`, `MAP(VARCHAR, INTEGER)`, `DECIMAL(18,3)`) and
 * GoogleSQL's (`ARRAY<INT64>`, `STRUCT<a INT64>`). The one word both spell differently is
 * TIMESTAMP: DuckDB's has no time zone (BigQuery's DATETIME), GoogleSQL's is an instant; each
 * engine says which it is through TYPE_DIALECTS, an explicit map by warehouse kind.
 */
import type { Warehouse } from './warehouse.js';

export interface BigQuerySchemaField {
  name: string;
  type: string;
  mode: 'NULLABLE' | 'REPEATED' | 'REQUIRED';
  fields?: BigQuerySchemaField[];
}

type Dialect = { timestamp: 'DATETIME' | 'TIMESTAMP' };

const TYPE_DIALECTS: Record<Warehouse['kind'], Dialect> = {
  duckdb: { timestamp: 'DATETIME' },
  bigquery: { timestamp: 'TIMESTAMP' },
};

const SCALARS: Record<string, string> = {
  TINYINT: 'INTEGER', SMALLINT: 'INTEGER', INTEGER: 'INTEGER', INT: 'INTEGER', BIGINT: 'INTEGER', HUGEINT: 'INTEGER',
  UTINYINT: 'INTEGER', USMALLINT: 'INTEGER', UINTEGER: 'INTEGER', UBIGINT: 'INTEGER', UHUGEINT: 'INTEGER',
  INT1: 'INTEGER', INT2: 'INTEGER', INT4: 'INTEGER', INT8: 'INTEGER', INT64: 'INTEGER', SHORT: 'INTEGER', LONG: 'INTEGER',
  FLOAT: 'FLOAT', FLOAT4: 'FLOAT', FLOAT8: 'FLOAT', FLOAT64: 'FLOAT', REAL: 'FLOAT', DOUBLE: 'FLOAT',
  DECIMAL: 'NUMERIC', NUMERIC: 'NUMERIC', BIGNUMERIC: 'BIGNUMERIC', BIGDECIMAL: 'BIGNUMERIC',
  BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN',
  VARCHAR: 'STRING', STRING: 'STRING', TEXT: 'STRING', CHAR: 'STRING', BPCHAR: 'STRING', UUID: 'STRING', ENUM: 'STRING', BIT: 'STRING', NVARCHAR: 'STRING',
  BLOB: 'BYTES', BYTEA: 'BYTES', BYTES: 'BYTES', VARBINARY: 'BYTES',
  DATE: 'DATE', TIME: 'TIME', TIMETZ: 'TIME', 'TIME WITH TIME ZONE': 'TIME',
  DATETIME: 'DATETIME', TIMESTAMP_S: 'DATETIME', TIMESTAMP_MS: 'DATETIME', TIMESTAMP_NS: 'DATETIME',
  TIMESTAMPTZ: 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE': 'TIMESTAMP',
  INTERVAL: 'INTERVAL', JSON: 'JSON', GEOGRAPHY: 'GEOGRAPHY', RANGE: 'RANGE',
};

export function bigQuerySchemaField(kind: Warehouse['kind'], name: string, engineType: string): BigQuerySchemaField {
  return fieldOf(TYPE_DIALECTS[kind] ?? TYPE_DIALECTS.bigquery, name, engineType.trim());
}

function fieldOf(dialect: Dialect, name: string, type: string): BigQuerySchemaField {
  // DuckDB lists and arrays: INTEGER[], INTEGER[3]; GoogleSQL: ARRAY<INT64>
  const list = /^([\s\S]*)\[\d*\]$/.exec(type);
  const array = /^ARRAY\s*<([\s\S]*)>$/i.exec(type);
  if (list || array) {
    const element = fieldOf(dialect, name, (list ? list[1]! : array![1]!).trim());
    return { ...element, mode: 'REPEATED' };
  }
  const struct = /^(?:STRUCT|UNION)\s*[(<]([\s\S]*)[)>]$/i.exec(type);
  if (struct) {
    const members = splitTopLevel(struct[1]!).map((member) => {
      const m = /^("(?:[^"]|"")*"|`[^`]*`|\S+)\s+([\s\S]+)$/.exec(member.trim());
      if (!m) return { name: member.trim(), type: 'STRING', mode: 'NULLABLE' as const };
      return fieldOf(dialect, unquote(m[1]!), m[2]!.trim());
    });
    return { name, type: 'RECORD', mode: 'NULLABLE', fields: members };
  }
  const map = /^MAP\s*\(([\s\S]*)\)$/i.exec(type);
  if (map) {
    const [k, v] = splitTopLevel(map[1]!);
    return { name, type: 'RECORD', mode: 'REPEATED', fields: [fieldOf(dialect, 'key', (k ?? 'VARCHAR').trim()), fieldOf(dialect, 'value', (v ?? 'VARCHAR').trim())] };
  }
  const upper = type.toUpperCase();
  const base = upper.replace(/\s*\([\s\S]*\)$/, '');
  if (base === 'TIMESTAMP') return { name, type: dialect.timestamp, mode: 'NULLABLE' };
  if (base === 'DECIMAL' || base === 'NUMERIC') {
    const precision = Number(/\(\s*(\d+)/.exec(upper)?.[1] ?? 0);
    return { name, type: precision > 38 ? 'BIGNUMERIC' : 'NUMERIC', mode: 'NULLABLE' };
  }
  return { name, type: SCALARS[base] ?? 'STRING', mode: 'NULLABLE' };
}

/** Splits `a INTEGER, b STRUCT(c INTEGER, d VARCHAR)` at the commas not inside brackets or quotes. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === '`' || c === "'") quote = c;
    else if (c === '(' || c === '<' || c === '[') depth++;
    else if (c === ')' || c === '>' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  const last = text.slice(start);
  if (last.trim() !== '') out.push(last);
  return out;
}

function unquote(name: string): string {
  if (name.startsWith('"') && name.endsWith('"')) return name.slice(1, -1).replace(/""/g, '"');
  if (name.startsWith('`') && name.endsWith('`')) return name.slice(1, -1);
  return name;
}
