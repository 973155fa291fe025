/**
 * DuckDB values -> JSON-compatible values, for every output format and the result digest.
 * Built on the node API's own JSON converter (DECIMAL, DATE, TIMESTAMP, TIME, UUID as
 * strings; NaN/Infinity as strings; STRUCT as objects; LIST/ARRAY as arrays; MAP as an array
 * of {key, value}, because map keys need not be strings), with three changes:
 * - integers wider than 32 bits are numbers when exactly representable, else strings
 *   (the node API makes every BIGINT a string, which surprises `count(*)` readers);
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

const WIDE_INTEGERS = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

export const jsonValueConverter: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (value === null || value === undefined) return null;
  if (WIDE_INTEGERS.has(type.typeId) && typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (type.typeId === DuckDBTypeId.BLOB && value instanceof DuckDBBlobValue) {
    return Buffer.from(value.bytes).toString('base64');
  }
  if (type.typeId === DuckDBTypeId.INTERVAL) return String(value);
  return JsonDuckDBValueConverter(value, type, converter);
};
