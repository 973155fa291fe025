import { describe, expect, it } from 'vitest';
import { BQ_OBJECT_JSON, BQ_OBJECT_PRETTYJSON, BQ_ROWS_JSON, BQ_ROWS_PRETTYJSON, bqCellText, bqCsvLine, bqJson, formatBqTable } from './bq-table-formatter.js';

const COLUMNS = [
  { name: 'name', align: 'l' as const },
  { name: 'n', align: 'r' as const },
];
const ROWS = [
  ['Ann', '1'],
  ['Bob\nJr', '22'],
];

describe("bq's layouts", () => {
  it('pretty: borders, headers centred (left-leaning), STRING left, others right, multi-line cells', () => {
    expect(formatBqTable('pretty', COLUMNS, ROWS)).toBe(
      ['+------+----+', '| name | n  |', '+------+----+', '| Ann  |  1 |', '| Bob  | 22 |', '| Jr   |    |', '+------+----+', ''].join('\n'),
    );
  });

  it('sparse: the same without borders, no closing rule', () => {
    expect(formatBqTable('sparse', COLUMNS, ROWS)).toBe(['  name   n   ', ' ------ ---- ', '  Ann     1  ', '  Bob    22  ', '  Jr         ', ''].join('\n'));
  });

  it('an empty table prints nothing at all', () => {
    expect(formatBqTable('pretty', COLUMNS, [])).toBe('');
    expect(formatBqTable('sparse', COLUMNS, [])).toBe('');
  });

  it('a header wider than its values, with odd room, leans left', () => {
    expect(formatBqTable('pretty', [{ name: 'abc', align: 'r' }], [['1234']])).toBe('+------+\n| abc  |\n+------+\n| 1234 |\n+------+\n');
  });

  it('escapes terminal controls but keeps tab, and splits on newline', () => {
    expect(bqCellText('a\u001b[31mb\tc\u202ed\re')).toBe('a\\u001b[31mb\tc\\u202ed\\re');
    expect(bqCellText('C:\\temp')).toBe('C:\\temp');
  });

  it("csv fields as Python's csv writes them", () => {
    expect(bqCsvLine(['a,b', 'x"y', '', 'l\nm', ' s ', '\r'])).toBe('"a,b","x""y",,"l\nm", s ,\r');
    expect(bqCsvLine([''])).toBe('""');
  });

  it("json as Python's json.dumps writes it for rows: sorted keys, compact or indented with ', '", () => {
    const row = { b: '1', a: null, c: { y: ['1', '2'], x: {} }, 'é': 'ü' };
    expect(bqJson([row], BQ_ROWS_JSON)).toBe('[{"a":null,"b":"1","c":{"x":{},"y":["1","2"]},"é":"ü"}]');
    expect(bqJson([row], BQ_ROWS_PRETTYJSON)).toBe(
      '[\n  {\n    "a": null, \n    "b": "1", \n    "c": {\n      "x": {}, \n      "y": [\n        "1", \n        "2"\n      ]\n    }, \n    "é": "ü"\n  }\n]',
    );
    expect(bqJson([], BQ_ROWS_PRETTYJSON)).toBe('[]');
  });

  it('json for API objects: compact in API order, or indented with sorted keys; non-ASCII escaped', () => {
    const obj = { kind: 'k', id: 'p:d', ref: { projectId: 'p', datasetId: 'd' }, name: 'é' };
    expect(bqJson(obj, BQ_OBJECT_JSON)).toBe('{"kind":"k","id":"p:d","ref":{"projectId":"p","datasetId":"d"},"name":"\\u00e9"}');
    expect(bqJson(obj, BQ_OBJECT_PRETTYJSON)).toBe('{\n  "id": "p:d",\n  "kind": "k",\n  "name": "\\u00e9",\n  "ref": {\n    "datasetId": "d",\n    "projectId": "p"\n  }\n}');
  });
});
