/**
 * Query parameters as `bq query --parameter` writes them, read once for every engine:
 * `name:TYPE:VALUE` where TYPE is a GoogleSQL type — a scalar (INT64, STRING, …, with bq's
 * aliases), `ARRAY<T>` or `STRUCT<name T, …>` (nested freely) — and VALUE is the text of a
 * scalar, or JSON for an ARRAY (a JSON array) or a STRUCT (a JSON object by field name).
 * `NULL` is the null value. Each engine turns the parsed value into its own binding
 * (BigQuery's REST queryParameters, DuckDB's typed values). A type or value that does not
 * parse is a usage error (exit 2).
 */
import { isReservedName } from '../analysis/reserved-names.js';
import { UsageError } from '../errors.js';
import type { QueryParameter } from './warehouse.js';

export type ParameterType =
  | { kind: 'scalar'; name: string }
  | { kind: 'array'; element: ParameterType }
  | { kind: 'struct'; fields: Array<{ name: string; type: ParameterType }> };

/** A scalar's text, null, an array of values, or a struct's values by field name. */
export type ParameterValue = string | null | ParameterValue[] | { [field: string]: ParameterValue };

export interface ParsedParameter {
  /** '' for a positional parameter. */
  name: string;
  type: ParameterType;
  value: ParameterValue;
}

export const SCALAR_TYPES = [
  'STRING', 'BYTES', 'INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'TIMESTAMP', 'DATE', 'TIME', 'DATETIME', 'GEOGRAPHY', 'JSON', 'INTERVAL',
] as const;
const ALIASES: Record<string, string> = { INTEGER: 'INT64', INT: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', DECIMAL: 'NUMERIC', BIGDECIMAL: 'BIGNUMERIC' };

export function parseQueryParameter(p: QueryParameter): ParsedParameter {
  if (p.name !== '' && (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name) || isReservedName(p.name))) {
    throw bad(p, isReservedName(p.name) ? 'the name is reserved for hoopq' : 'a parameter name is letters, digits and _ (not starting with a digit)');
  }
  const type = parseType(p.type, p);
  if (p.value === null) return { name: p.name, type, value: null };
  if (type.kind === 'scalar') return { name: p.name, type, value: scalarText(p.value, type.name, p) };
  let json: unknown;
  try {
    json = JSON.parse(p.value);
  } catch {
    throw bad(p, type.kind === 'array' ? 'an ARRAY value must be a JSON array, e.g. [1,2,3]' : 'a STRUCT value must be a JSON object, e.g. {"a": 1, "b": "x"}');
  }
  return { name: p.name, type, value: valueOf(json, type, p) };
}

export function parseQueryParameters(params: readonly QueryParameter[] | undefined): ParsedParameter[] {
  return (params ?? []).map(parseQueryParameter);
}

/** `ARRAY<STRUCT<a INT64, b STRING>>` -> a type tree. */
export function parseType(text: string, p: QueryParameter): ParameterType {
  const tokens = text.trim().match(/[A-Za-z_][A-Za-z0-9_]*|[<>,]|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw bad(p, `cannot read the type "${text}"`);
    return t;
  };
  const type = (): ParameterType => {
    const word = take().toUpperCase();
    if (word === 'ARRAY') {
      take('<');
      const element = type();
      take('>');
      if (element.kind === 'array') throw bad(p, 'BigQuery has no ARRAY of ARRAY; use an ARRAY of STRUCT');
      return { kind: 'array', element };
    }
    if (word === 'STRUCT') {
      take('<');
      const fields: Array<{ name: string; type: ParameterType }> = [];
      for (;;) {
        // `name TYPE`, or a bare TYPE (an unnamed field, as GoogleSQL allows)
        const first = peek();
        const named = first !== undefined && tokens[i + 1] !== undefined && /^[A-Za-z_]/.test(tokens[i + 1]!) && !['<', '>', ','].includes(tokens[i + 1]!);
        const name = named ? take() : '';
        fields.push({ name, type: type() });
        if (peek() === ',') {
          take(',');
          continue;
        }
        take('>');
        break;
      }
      const names = fields.map((f) => f.name.toLowerCase()).filter((n) => n !== '');
      if (new Set(names).size !== names.length) throw bad(p, 'a STRUCT has two fields of the same name');
      return { kind: 'struct', fields };
    }
    const scalar = ALIASES[word] ?? word;
    if (!(SCALAR_TYPES as readonly string[]).includes(scalar)) throw bad(p, `unknown type ${word}`);
    return { kind: 'scalar', name: scalar };
  };
  const out = type();
  if (i !== tokens.length) throw bad(p, `cannot read the type "${text}"`);
  return out;
}

function valueOf(json: unknown, type: ParameterType, p: QueryParameter): ParameterValue {
  if (json === null) return null;
  switch (type.kind) {
    case 'scalar':
      if (typeof json === 'object') throw bad(p, `a ${type.name} value cannot be ${JSON.stringify(json)}`);
      return scalarText(String(json), type.name, p);
    case 'array':
      if (!Array.isArray(json)) throw bad(p, 'an ARRAY value must be a JSON array, e.g. [1,2,3]');
      return json.map((v) => valueOf(v, type.element, p));
    case 'struct': {
      if (typeof json !== 'object' || Array.isArray(json)) throw bad(p, 'a STRUCT value must be a JSON object, e.g. {"a": 1, "b": "x"}');
      const given = json as Record<string, unknown>;
      const known = new Set(type.fields.map((f) => f.name.toLowerCase()));
      const extra = Object.keys(given).find((k) => !known.has(k.toLowerCase()));
      if (extra !== undefined) throw bad(p, `the STRUCT has no field ${extra}`);
      const out: Record<string, ParameterValue> = {};
      for (const f of type.fields) {
        const key = Object.keys(given).find((k) => k.toLowerCase() === f.name.toLowerCase());
        out[f.name] = key === undefined ? null : valueOf(given[key], f.type, p);
      }
      return out;
    }
  }
}

/** A scalar's text, checked where the type's form is fixed (INT64, FLOAT64, BOOL). */
function scalarText(text: string, type: string, p: QueryParameter): string {
  const t = text.trim();
  if (type === 'INT64' && !/^[+-]?\d+$/.test(t)) throw bad(p, `"${text}" is not an INT64`);
  if (type === 'FLOAT64' && Number.isNaN(Number(t)) && !/^[+-]?(nan|inf|infinity)$/i.test(t)) throw bad(p, `"${text}" is not a FLOAT64`);
  if (type === 'BOOL' && !/^(true|false)$/i.test(t)) throw bad(p, `"${text}" is not a BOOL (true or false)`);
  return text;
}

/** The type as GoogleSQL writes it. */
export function typeText(type: ParameterType): string {
  if (type.kind === 'scalar') return type.name;
  if (type.kind === 'array') return `ARRAY<${typeText(type.element)}>`;
  return `STRUCT<${type.fields.map((f) => `${f.name ? `${f.name} ` : ''}${typeText(f.type)}`).join(', ')}>`;
}

function bad(p: QueryParameter, why: string): UsageError {
  return new UsageError('usage.parameter', `--parameter ${p.name || '(positional)'}: ${why}`, {
    rule: 'parameters',
    hint: `types: ${SCALAR_TYPES.join(', ')}, ARRAY<type> with a JSON array value, STRUCT<name type, …> with a JSON object value`,
  });
}
