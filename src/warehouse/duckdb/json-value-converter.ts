/**
 * DuckDB values -> JSON-compatible values, for every output format and the result digest.
 * Built on the node API's own JSON converter (DECIMAL, DATE, TIMESTAMP, TIME, UUID as
 * strings; NaN/Infinity as strings; STRUCT as objects; LIST/ARRAY as arrays; MAP as an array
 * of {key, value}, because map keys need not be strings), so that hoopq returns exactly the
 * JSON rows DuckDB's own API returns. Three changes:
 * - integers wider than 32 bits (BIGINT, HUGEINT, UBIGINT, so every `count(*)`) are numbers
 *   like the narrower ones, as bigint past 2^53, never strings: hoopq's JSON has one rule per
 *   SQL type (src/output/json-text.ts writes every integer with all its digits);
 * - BLOB is base64 (the node API's `\xFF` escapes are ambiguous with text);
 * - INTERVAL is DuckDB's text form (`1 day 02:00:00`) rather than an object, so it reads the
 *   same in CSV, pretty and JSON output.
 * The converter is passed down to nested values, so a BIGINT inside a STRUCT or LIST is
 * treated the same as a top-level one.
 */
import {
  DuckDBBlobValue,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
  type DuckDBValueConverter,
  type Json,
} from '@duckdb/node-api';

export const jsonValueConverter: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (value === null || value === undefined) return null;
  if (type.typeId === DuckDBTypeId.BLOB && value instanceof DuckDBBlobValue) {
    return Buffer.from(value.bytes).toString('base64');
  }
  if (type.typeId === DuckDBTypeId.INTERVAL) return String(value);
  if (typeof value === 'bigint') return (Number.isSafeInteger(Number(value)) ? Number(value) : value) as unknown as Json;
  return JsonDuckDBValueConverter(value, type, converter);
};
