/**
 * Values as JSON text, for `hoopq query --format json|prettyjson|ndjson` (and the MCP tool
 * and gateway, which print the same bytes). One rule per SQL type, the same for every engine
 * (docs/reference.md, "JSON types"):
 * - every integer type (TINYINT … HUGEINT, INT64): a JSON number with all its digits, never
 *   rounded (a 64-bit value past 2^53 is written exactly; a reader that parses numbers as
 *   doubles, such as JSON.parse, rounds it: use --format csv, or hoopq bq for strings);
 * - FLOAT, DOUBLE, FLOAT64: a JSON number; NaN, Infinity and -Infinity as those strings;
 * - DECIMAL, NUMERIC, BIGNUMERIC: a string with the exact decimal digits;
 * - BOOLEAN: true or false;
 * - text, UUID, ENUM, DATE, TIME, TIMESTAMP, DATETIME, INTERVAL, GEOGRAPHY, JSON: a string
 *   (the engine's text form; BigQuery TIMESTAMP as RFC 3339 UTC);
 * - BLOB, BYTES: a base64 string;
 * - STRUCT / RECORD: an object; LIST / ARRAY: an array; MAP: an array of {key, value};
 * - NULL: null.
 * The engines deliver values that way (json-value-converter.ts, convert-bigquery-rows.ts):
 * integers as numbers or, past 2^53, as bigint; this file writes them.
 */

export function jsonText(value: unknown, indent?: number): string {
  return write(value, indent === undefined ? undefined : ' '.repeat(indent), '');
}

function write(value: unknown, indent: string | undefined, at: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const inner = indent === undefined ? undefined : at + indent;
      const open = inner === undefined ? '' : '\n' + inner;
      const close = inner === undefined ? '' : '\n' + at;
      const colon = indent === undefined ? ':' : ': ';
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]';
        return '[' + open + value.map((v) => write(v === undefined ? null : v, indent, inner ?? '')).join(',' + open) + close + ']';
      }
      const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
      const kept = entries.filter(([, v]) => v !== undefined && typeof v !== 'function');
      if (kept.length === 0) return '{}';
      return '{' + open + kept.map(([k, v]) => JSON.stringify(k) + colon + write(v, indent, inner ?? '')).join(',' + open) + close + '}';
    }
    default:
      return 'null';
  }
}

/** Display form of a value for csv and pretty: text as is, nested values as JSON. */
export function plainText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      if (value === null) return '';
      if (value instanceof Date) return value.toISOString();
      return jsonText(value);
    default:
      return '';
  }
}
