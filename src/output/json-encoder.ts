/**
 * json (`bq --format=json`): one array of row objects on one line; prettyjson: the same,
 * indented by two spaces. Streamed: `[`, rows separated by `,`, `]` — the array is never
 * built in memory.
 */
import type { ResultColumn } from '../warehouse/warehouse.js';
import { jsonText } from './json-text.js';
import type { RowEncoder } from './row-encoder.js';

/**
 * Object keys for the columns. A result may repeat a column name (`SELECT a, a`); an object
 * cannot, so later copies get `_1`, `_2` … as BigQuery names them.
 */
export function objectKeys(columns: readonly ResultColumn[]): string[] {
  const used = new Set<string>();
  return columns.map((c) => {
    let key = c.name;
    for (let n = 1; used.has(key); n++) key = `${c.name}_${n}`;
    used.add(key);
    return key;
  });
}

/** `{"a":1,"b":"x"}` built by concatenation: faster than an object plus JSON.stringify. */
export function encodeRowObject(quotedKeys: readonly string[], values: readonly unknown[]): string {
  let s = '{';
  for (let i = 0; i < quotedKeys.length; i++) {
    if (i > 0) s += ',';
    s += quotedKeys[i] + ':' + jsonText(values[i]);
  }
  return s + '}';
}

export function createJsonEncoder(columns: readonly ResultColumn[]): RowEncoder {
  const quoted = objectKeys(columns).map((k) => JSON.stringify(k));
  let first = true;
  return {
    start: () => '[',
    row(values) {
      const text = encodeRowObject(quoted, values);
      if (first) {
        first = false;
        return text;
      }
      return ',' + text;
    },
    finish: () => ']\n',
  };
}

export function createPrettyJsonEncoder(columns: readonly ResultColumn[]): RowEncoder {
  const keys = objectKeys(columns);
  let first = true;
  return {
    start: () => '[',
    row(values) {
      // fromEntries defines a "__proto__" column as a plain key
      const obj = Object.fromEntries(keys.map((k, i) => [k, values[i] === undefined ? null : values[i]]));
      // JSON strings never hold a raw newline, so re-indenting by line is safe
      const text = '\n  ' + jsonText(obj, 2).replace(/\n/g, '\n  ');
      if (first) {
        first = false;
        return text;
      }
      return ',' + text;
    },
    finish: () => (first ? ']\n' : '\n]\n'),
  };
}
