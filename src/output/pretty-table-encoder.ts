/**
 * pretty: a table with box borders, as `bq --format=pretty`. It must see every row to size
 * the columns, so it buffers; the result writer caps it at PRETTY_ROW_CAP rows. Text is made
 * safe for a terminal: control characters and bidirectional overrides are shown escaped, so
 * a value can neither break the table nor reorder or recolour what a person reads; a cell
 * shows at most PRETTY_CELL_CAP characters, so the buffer stays bounded by row count.
 */
import type { ResultColumn } from '../warehouse/warehouse.js';
import { plainText } from './json-text.js';
import { terminalText } from './terminal-text.js';
import type { RowEncoder } from './row-encoder.js';

/** Rows pretty output holds at most; beyond it the result is cut (and says so). */
export const PRETTY_ROW_CAP = 1000;

/** Characters of one cell shown at most: wider values are cut with `…` (a table of megabyte-wide cells is unreadable, and every row is padded to the widest). */
export const PRETTY_CELL_CAP = 10_000;

interface Cell {
  text: string;
  width: number;
  right: boolean;
}

function toCell(value: unknown): Cell {
  const full = value === null || value === undefined ? 'NULL' : plainText(value);
  const text = terminalText(full.length > PRETTY_CELL_CAP ? full.slice(0, PRETTY_CELL_CAP - 1) + '…' : full);
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
