/**
 * bq's own text layouts, for the `hoopq bq` face: `pretty` (a bordered table: headers
 * centred, STRING columns left-aligned, every other column right-aligned, a multi-line value
 * spread over several lines), `sparse` (the same without borders, as `bq ls` and `bq show`
 * print by default), `csv` (minimal quoting, `\n` line ends, header unquoted), and `json` /
 * `prettyjson` (keys sorted; prettyjson indented by two with `, ` between items, as Python's
 * json.dumps writes them). An empty table prints nothing at all in pretty, sparse and csv,
 * and `[]` in JSON, as `bq` does.
 * Invariant: text is made safe for a terminal (control characters other than newline and tab,
 * and bidirectional overrides, are shown escaped), so a value cannot recolour or reorder
 * what a person reads.
 */

export type BqTextFormat = 'pretty' | 'sparse';

export interface BqColumn {
  name: string;
  /** 'l' for STRING columns, 'r' for the rest (bq's rule); headers are always centred. */
  align: 'l' | 'r';
}

// as pretty-table-encoder.ts, less newline (bq spreads a cell over lines) and tab
const UNSAFE_FOR_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Newline and tab stay (bq splits cells on newlines); every other unsafe character is escaped. */
export function bqCellText(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => (c === '\r' ? '\\r' : '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
}

function width(line: string): number {
  return [...line].length;
}

function pad(line: string, cellWidth: number, align: 'l' | 'r' | 'c'): string {
  const room = cellWidth - width(line);
  if (align === 'l') return ` ${line}${' '.repeat(room)} `;
  if (align === 'r') return ` ${' '.repeat(room)}${line} `;
  const left = Math.floor(room / 2);
  return ` ${' '.repeat(left)}${line}${' '.repeat(room - left)} `;
}

/** The lines of a table in bq's pretty or sparse layout ('' for an empty table). */
export function formatBqTable(format: BqTextFormat, columns: readonly BqColumn[], rows: readonly string[][]): string {
  if (rows.length === 0) return '';
  const junction = format === 'pretty' ? '+' : ' ';
  const vertical = format === 'pretty' ? '|' : ' ';
  const split = (cells: readonly string[]) => cells.map((c) => bqCellText(c).split('\n'));
  const header = split(columns.map((c) => c.name));
  const body = rows.map(split);
  const widths = columns.map((_, i) => Math.max(...header[i]!.map(width), ...body.map((r) => Math.max(...r[i]!.map(width)))));
  const hrule = junction + widths.map((w) => '-'.repeat(w + 2)).join(junction) + junction;
  const lines = (cells: string[][], aligns: Array<'l' | 'r' | 'c'>): string[] => {
    const height = Math.max(...cells.map((c) => c.length));
    const out: string[] = [];
    for (let l = 0; l < height; l++) {
      out.push(vertical + cells.map((c, i) => (l < c.length ? pad(c[l]!, widths[i]!, aligns[i]!) : ' '.repeat(widths[i]! + 2))).join(vertical) + vertical);
    }
    return out;
  };
  const aligns = columns.map((c) => c.align);
  const headerLines = lines(header, columns.map(() => 'c'));
  const rowLines = body.flatMap((r) => lines(r, aligns));
  const all = format === 'pretty' ? [hrule, ...headerLines, hrule, ...rowLines, hrule] : [...headerLines, hrule, ...rowLines];
  return all.join('\n') + '\n';
}

/** One CSV field as Python's csv module writes it with QUOTE_MINIMAL and `\n` line ends. */
export function bqCsvField(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (without its line end); a row of one empty field is `""`, as Python writes it. */
export function bqCsvLine(cells: readonly string[]): string {
  if (cells.length === 1 && cells[0] === '') return '""';
  return cells.map(bqCsvField).join(',');
}

export interface BqJsonStyle {
  /** Two spaces per level, one item a line. */
  indent: boolean;
  sortKeys: boolean;
  /** Between items: `,` or `, ` (bq's result formatter indents with `, `, so its lines end in a space). */
  itemSeparator: ',' | ', ';
  /** Non-ASCII as \uXXXX, as Python's json.dumps does by default (bq's printing of API objects). */
  ensureAscii?: boolean;
}

/** bq's result rows (its JsonFormatter / PrettyJsonFormatter): sorted keys, ensure_ascii off. */
export const BQ_ROWS_JSON: BqJsonStyle = { indent: false, sortKeys: true, itemSeparator: ',' };
export const BQ_ROWS_PRETTYJSON: BqJsonStyle = { indent: true, sortKeys: true, itemSeparator: ', ' };
/** bq's API objects (ls, show, dry run): compact in API order, or indented with sorted keys. */
export const BQ_OBJECT_JSON: BqJsonStyle = { indent: false, sortKeys: false, itemSeparator: ',', ensureAscii: true };
export const BQ_OBJECT_PRETTYJSON: BqJsonStyle = { indent: true, sortKeys: true, itemSeparator: ',', ensureAscii: true };

function jsonString(s: string, ensureAscii: boolean | undefined): string {
  const text = JSON.stringify(s);
  return ensureAscii ? text.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : text;
}

/** JSON as bq prints it: Python's json.dumps with the given style. */
export function bqJson(value: unknown, style: BqJsonStyle, depth = 0): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return jsonString(value, style.ensureAscii);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const inner = style.indent ? '\n' + '  '.repeat(depth + 1) : '';
  const outer = style.indent ? '\n' + '  '.repeat(depth) : '';
  const comma = style.itemSeparator;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + inner + value.map((v) => bqJson(v, style, depth + 1)).join(comma + inner) + outer + ']';
  }
  let entries = Object.entries(value as Record<string, unknown>);
  if (style.sortKeys) entries = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '{}';
  const colon = style.indent ? ': ' : ':';
  return '{' + inner + entries.map(([k, v]) => jsonString(k, style.ensureAscii) + colon + bqJson(v, style, depth + 1)).join(comma + inner) + outer + '}';
}
