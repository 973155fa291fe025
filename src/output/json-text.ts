/**
 * Values as JSON text. Result values are JSON-compatible, except what engines hand back
 * natively: bigint (64-bit integers, as strings so no digit is lost, like BigQuery's own JSON),
 * non-finite floats (as "NaN"/"Infinity" strings, which JSON cannot hold), bytes (base64, as
 * BigQuery does) and Maps (as objects).
 */

export function jsonText(value: unknown, indent?: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value.toString()}"`;
    case 'object':
      if (value === null) return 'null';
      return JSON.stringify(value, replaceNonJson, indent);
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

function replaceNonJson(this: unknown, key: string, value: unknown): unknown {
  // `value` has been through toJSON already (Buffer -> {type,data}); look at the original
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof Map) return Object.fromEntries(raw);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}
