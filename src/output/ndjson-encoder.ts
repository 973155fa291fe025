/** ndjson: one JSON object per row, one row per line. */
import type { ResultColumn } from '../warehouse/warehouse.js';
import { encodeRowObject, objectKeys } from './json-encoder.js';
import type { RowEncoder } from './row-encoder.js';

export function createNdjsonEncoder(columns: readonly ResultColumn[]): RowEncoder {
  const quoted = objectKeys(columns).map((k) => JSON.stringify(k));
  return {
    start: () => '',
    row: (values) => encodeRowObject(quoted, values) + '\n',
    finish: () => '',
  };
}
