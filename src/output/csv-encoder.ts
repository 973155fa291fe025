/**
 * csv: a header line of column names, then one line per row, quoted per RFC 4180: a field
 * holding a comma, a double quote, CR or LF is wrapped in double quotes with inner quotes
 * doubled. Lines end with LF (as `bq --format=csv`). NULL is an empty field; nested values
 * are their JSON text.
 */
import type { ResultColumn } from '../warehouse/warehouse.js';
import { plainText } from './json-text.js';
import type { RowEncoder } from './row-encoder.js';

const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function createCsvEncoder(columns: readonly ResultColumn[]): RowEncoder {
  return {
    start: () => columns.map((c) => csvField(c.name)).join(',') + '\n',
    row(values) {
      let s = '';
      for (let i = 0; i < columns.length; i++) {
        if (i > 0) s += ',';
        s += csvField(plainText(values[i]));
      }
      return s + '\n';
    },
    finish: () => '',
  };
}
