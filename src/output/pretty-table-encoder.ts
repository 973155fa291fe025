/**
 * pretty: a table with box borders, as `bq --format=pretty`. It must see every row to size
 * the columns, so it buffers; the result writer caps it at PRETTY_ROW_CAP rows. Text is made
 * safe for a terminal: control characters and bidirectional overrides are shown escaped, so
 * a value can neither break the table nor reorder or recolour what a person reads.
 */
import type { ResultColumn } from '../warehouse/warehouse.js';
import { plainText } from './json-text.js';
import type { RowEncoder } from './row-encoder.js';

/** Rows pretty output holds at most; beyond it the result is cut (and says so). */
export const PRETTY_ROW_CAP = 1000;

// C0/C1 controls, DEL, zero-width and bidi formatting characters, line/paragraph separators
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

interface Cell {
  text: string;
  width: number;
  right: boolean;
}

function toCell(value: unknown): Cell {
  const text = value === null || value === undefined ? 'NULL' : terminalSafe(plainText(value));
  const right = typeof value === 'number' || typeof value === 'bigint';
  return { text, width: [...text].length, right };
}

export function createPrettyTableEncoder(columns: readonly ResultColumn[]): RowEncoder {
  const rows: Cell[][] = [];
  return {
    start: () => '',
    row(values) {
      rows.push(columns.map((_, i) => toCell(values[i])));
      return '';
    },
    finish() {
      const header = columns.map((c) => toCell(c.name));
      const widths = header.map((h, i) => Math.max(h.width, ...rows.map((r) => r[i]!.width)));
      const border = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+\n';
      const line = (cells: Cell[]) =>
        '|' +
        cells
          .map((c, i) => {
            const pad = ' '.repeat(widths[i]! - c.width);
            return ' ' + (c.right ? pad + c.text : c.text + pad) + ' ';
          })
          .join('|') +
        '|\n';
      const headerLine = line(header.map((h) => ({ ...h, right: false })));
      return border + headerLine + border + (rows.length > 0 ? rows.map(line).join('') + border : '');
    },
  };
}
