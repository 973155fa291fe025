/**
 * Query parameters on DuckDB, written as on BigQuery:
 * - `@name` in the SQL is a named parameter: before analysis it is read as DuckDB's own
 *   `$name` (one character for one, so every offset of the text holds). DuckDB's prefix `@`
 *   (absolute value) is therefore not available to queries: write abs(x). The operators `<@`,
 *   `@>` and `@@` are left alone.
 * - values (`--parameter name:TYPE:VALUE`, query-parameter-type.ts) are bound typed: INT64 as
 *   BIGINT, FLOAT64 as DOUBLE, BOOL as BOOLEAN, BYTES (base64) as BLOB, ARRAY as LIST and
 *   STRUCT as STRUCT of those; every other scalar as text, which DuckDB casts where the SQL
 *   needs another type.
 * Names starting with hoopq's reserved prefix are refused here, as on every engine.
 */
import {
  BIGINT, BLOB, BOOLEAN, DOUBLE, LIST, STRUCT, VARCHAR, blobValue, listValue, structValue,
  type DuckDBPreparedStatement, type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';
import { isReservedName, reservedNameError } from '../../analysis/reserved-names.js';
import { lexDuckDbSql, type DuckDbToken } from '../../analysis/duckdb/lex-duckdb-sql.js';
import { WarehouseError } from '../../errors.js';
import { parseQueryParameters, type ParameterType, type ParameterValue } from '../query-parameter-type.js';
import type { QueryParameter } from '../warehouse.js';

/** The SQL with `@name` as `$name`; refuses reserved names. Same length as `sql`. */
export function prepareDuckDbParameters(sql: string): string {
  let tokens: DuckDbToken[];
  try {
    tokens = lexDuckDbSql(sql);
  } catch {
    return sql; // the analysis lexes again and refuses with the lexer's own reason
  }
  const chars = sql.split('');
  for (const [i, t] of tokens.entries()) {
    if ((t.kind === 'word' || t.kind === 'ident' || t.kind === 'param') && isReservedName(t.kind === 'ident' ? t.value : t.text)) throw reservedNameError(t.text);
    if (t.kind !== 'punct' || t.text !== '@') continue;
    const next = tokens[i + 1];
    const prev = tokens[i - 1];
    if (!next || next.start !== t.end || (next.kind !== 'word' && next.kind !== 'ident')) continue;
    if (prev && prev.end === t.start && prev.kind === 'punct' && ['<', '@'].includes(prev.text)) continue;
    chars[t.start] = '$';
  }
  return chars.join('');
}

/**
 * Binds values by name (`$name`; positional `?`/`$1` parameters are named "1", "2" …).
 * A parameter the SQL uses without a value is a WarehouseError.
 */
export function bindDuckDbParameters(prepared: DuckDBPreparedStatement, params: readonly QueryParameter[] | undefined): void {
  if (prepared.parameterCount === 0) return;
  const parsed = parseQueryParameters(params);
  const values: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType> = {};
  for (let i = 1; i <= prepared.parameterCount; i += 1) {
    const name = prepared.parameterName(i);
    const param = parsed.find((p) => p.name === name) ?? parsed.find((p, k) => p.name === '' && String(k + 1) === name);
    if (!param) {
      throw new WarehouseError('warehouse.missing_parameter', `the SQL uses the parameter @${name} but no value was given for it`, {
        rule: 'warehouse.parameters',
        hint: `pass --parameter ${name}:TYPE:VALUE`,
      });
    }
    types[name] = duckDbType(param.type);
    values[name] = duckDbValue(param.value, param.type, name);
  }
  prepared.bind(values, types);
}

function duckDbType(type: ParameterType): DuckDBType {
  if (type.kind === 'array') return LIST(duckDbType(type.element));
  if (type.kind === 'struct') return STRUCT(Object.fromEntries(type.fields.map((f, i) => [f.name || `f${i}`, duckDbType(f.type)])));
  switch (type.name) {
    case 'INT64':
      return BIGINT;
    case 'FLOAT64':
      return DOUBLE;
    case 'BOOL':
      return BOOLEAN;
    case 'BYTES':
      return BLOB;
    default:
      return VARCHAR;
  }
}

function duckDbValue(value: ParameterValue, type: ParameterType, name: string): DuckDBValue {
  if (value === null) return null;
  if (type.kind === 'array') return listValue((value as ParameterValue[]).map((v) => duckDbValue(v, type.element, name)));
  if (type.kind === 'struct') {
    const fields = value as Record<string, ParameterValue>;
    return structValue(Object.fromEntries(type.fields.map((f, i) => [f.name || `f${i}`, duckDbValue(fields[f.name] ?? null, f.type, name)])));
  }
  const text = value as string;
  switch (type.name) {
    case 'INT64':
      if (!/^[+-]?\d+$/.test(text.trim())) throw badValue(name, text, 'an integer');
      return BigInt(text.trim());
    case 'FLOAT64': {
      const n = Number(text);
      if (Number.isNaN(n) && text.trim().toLowerCase() !== 'nan') throw badValue(name, text, 'a number');
      return n;
    }
    case 'BOOL':
      if (!/^(true|false|1|0)$/i.test(text.trim())) throw badValue(name, text, 'true or false');
      return /^(true|1)$/i.test(text.trim());
    case 'BYTES':
      return blobValue(Buffer.from(text, 'base64'));
    default:
      return text;
  }
}

function badValue(name: string, text: string, what: string): WarehouseError {
  return new WarehouseError('warehouse.bad_parameter', `parameter ${name}: "${text}" is not ${what}`, {
    rule: 'warehouse.parameters',
    hint: `give ${what} for this parameter`,
  });
}
