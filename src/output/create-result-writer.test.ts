import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, createResultWriter, type OutputFormat, type ResultWriterOptions } from './create-result-writer.js';

const COLUMNS = [
  { name: 'id', type: 'BIGINT' },
  { name: 'name', type: 'VARCHAR' },
  { name: 'note', type: 'VARCHAR' },
  { name: 'tags', type: 'STRUCT' },
];
const ROWS: unknown[][] = [
  [1, 'Ann', 'plain', { a: [1, 2], b: null }],
  [2n, 'Bob, Jr.', 'says "hi"\nbye', null],
  [3, null, '', ['x']],
];

function capture(): { out: PassThrough; text: () => string; bytes: () => Buffer } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('utf8'), bytes: () => Buffer.concat(chunks) };
}

async function render(format: OutputFormat, rows = ROWS, options: ResultWriterOptions = {}, columns = COLUMNS) {
  const c = capture();
  const writer = createResultWriter(format, c.out, columns, options);
  // two batches, to prove separators work across batch boundaries
  await writer.writeBatch(rows.slice(0, 1));
  await writer.writeBatch(rows.slice(1));
  const result = await writer.end();
  return { text: c.text(), bytes: c.bytes(), result };
}

describe('formats: exact output', () => {
  test('json: one array of row objects on one line, every integer a number (bigint too)', async () => {
    const { text } = await render('json');
    expect(text).toBe(
      '[{"id":1,"name":"Ann","note":"plain","tags":{"a":[1,2],"b":null}},' +
        '{"id":2,"name":"Bob, Jr.","note":"says \\"hi\\"\\nbye","tags":null},' +
        '{"id":3,"name":null,"note":"","tags":["x"]}]\n',
    );
    expect(JSON.parse(text)).toEqual([
      { id: 1, name: 'Ann', note: 'plain', tags: { a: [1, 2], b: null } },
      { id: 2, name: 'Bob, Jr.', note: 'says "hi"\nbye', tags: null },
      { id: 3, name: null, note: '', tags: ['x'] },
    ]);
  });

  test('prettyjson: indented, parses back to the same rows', async () => {
    const { text } = await render('prettyjson', ROWS.slice(0, 1).concat([[2, 'B', 'n', null]]));
    expect(text).toBe(
      [
        '[',
        '  {',
        '    "id": 1,',
        '    "name": "Ann",',
        '    "note": "plain",',
        '    "tags": {',
        '      "a": [',
        '        1,',
        '        2',
        '      ],',
        '      "b": null',
        '    }',
        '  },',
        '  {',
        '    "id": 2,',
        '    "name": "B",',
        '    "note": "n",',
        '    "tags": null',
        '  }',
        ']',
        '',
      ].join('\n'),
    );
    expect(JSON.parse((await render('prettyjson')).text)).toEqual(JSON.parse((await render('json')).text));
  });

  test('ndjson: one object per line', async () => {
    const { text } = await render('ndjson');
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines[0]).toBe('{"id":1,"name":"Ann","note":"plain","tags":{"a":[1,2],"b":null}}');
    expect(lines.slice(0, 3).map((l) => JSON.parse(l))).toEqual(JSON.parse((await render('json')).text));
  });

  test('csv: header, RFC 4180 quoting of commas, quotes and newlines, NULL empty', async () => {
    const { text } = await render('csv');
    expect(text).toBe(
      'id,name,note,tags\n' + '1,Ann,plain,"{""a"":[1,2],""b"":null}"\n' + '2,"Bob, Jr.","says ""hi""\nbye",\n' + '3,,,"[""x""]"\n',
    );
  });

  test('csv quotes a header that needs it and a lone CR', async () => {
    const { text } = await render('csv', [['a\rb']], {}, [{ name: 'x,y', type: 'VARCHAR' }]);
    expect(text).toBe('"x,y"\n"a\rb"\n');
  });

  test('pretty: a bordered table, numbers right-aligned, NULL shown, controls escaped', async () => {
    expect((await render('pretty')).text).toBe(expectedPretty());
  });

  test('pretty neutralises terminal escapes and bidi overrides', async () => {
    const { text } = await render('pretty', [['\u001b[31mred\u001b[0m', 'a\u202eb']], {}, [
      { name: 'x', type: 'VARCHAR' },
      { name: 'y', type: 'VARCHAR' },
    ]);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('\\u001b[31mred\\u001b[0m');
    expect(text).toContain('a\\u202eb');
  });

  test('empty results are still well-formed', async () => {
    expect((await render('json', [])).text).toBe('[]\n');
    expect((await render('prettyjson', [])).text).toBe('[]\n');
    expect((await render('ndjson', [])).text).toBe('');
    expect((await render('csv', [])).text).toBe('id,name,note,tags\n');
    expect((await render('pretty', [])).text).toBe('+----+------+------+------+\n| id | name | note | tags |\n+----+------+------+------+\n');
  });

  test('repeated column names get distinct keys in objects', async () => {
    const cols = [
      { name: 'a', type: 'INT' },
      { name: 'a', type: 'INT' },
      { name: '__proto__', type: 'INT' },
    ];
    expect((await render('json', [[1, 2, 3]], {}, cols)).text).toBe('[{"a":1,"a_1":2,"__proto__":3}]\n');
    expect(JSON.parse((await render('prettyjson', [[1, 2, 3]], {}, cols)).text)).toEqual([JSON.parse('{"a":1,"a_1":2,"__proto__":3}')]);
  });

  test('values JSON cannot hold natively: bigint (all digits, as a number), NaN, bytes, Map, Date', async () => {
    const cols = [{ name: 'v', type: 'ANY' }];
    const rows = [[{ big: 9007199254740993n, nan: NaN }], [Infinity], [new Map([['k', 1]])], [new Date(0)], [{ b: new Uint8Array([104, 105]) }], [-170141183460469231731687303715884105728n]];
    expect((await render('ndjson', rows, {}, cols)).text).toBe(
      '{"v":{"big":9007199254740993,"nan":"NaN"}}\n{"v":"Infinity"}\n{"v":{"k":1}}\n{"v":"1970-01-01T00:00:00.000Z"}\n{"v":{"b":"aGk="}}\n{"v":-170141183460469231731687303715884105728}\n',
    );
    // prettyjson indents nested values the same way JSON.stringify does
    const nested = [[{ a: [1, { b: 2n }], c: {} }]];
    expect(JSON.parse((await render('prettyjson', nested, {}, cols)).text)).toEqual([{ v: { a: [1, { b: 2 }], c: {} } }]);
    expect((await render('prettyjson', [[{ a: [1], c: 'x' }]], {}, cols)).text).toBe('[\n  {\n    "v": {\n      "a": [\n        1\n      ],\n      "c": "x"\n    }\n  }\n]\n');
  });
});

function expectedPretty(): string {
  return [
    '+----+----------+----------------+----------------------+',
    '| id | name     | note           | tags                 |',
    '+----+----------+----------------+----------------------+',
    '|  1 | Ann      | plain          | {"a":[1,2],"b":null} |',
    '|  2 | Bob, Jr. | says "hi"\\nbye | NULL                 |',
    '|  3 | NULL     |                | ["x"]                |',
    '+----+----------+----------------+----------------------+',
    '',
  ].join('\n');
}

describe('digest and limits', () => {
  test.each(OUTPUT_FORMATS)('%s: sha256 is the digest of exactly the bytes written', async (format) => {
    const { bytes, result } = await render(format, [...ROWS, [4, 'Zoë ☃', 'ünïcode', { k: 'v' }]]);
    expect(bytes.length).toBeGreaterThan(0);
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(result.rows).toBe(4);
    expect(result.truncated).toBe(false);
  });

  test.each(OUTPUT_FORMATS)('%s: maxRows cuts the result and says so', async (format) => {
    const { text, bytes, result } = await render(format, ROWS, { maxRows: 2 });
    expect(result).toMatchObject({ rows: 2, truncated: true, limit: 2 });
    expect(text).not.toMatch(format === 'csv' ? /^3,/m : format === 'pretty' ? /^\|\s+3 \|/m : /"id": ?3/);
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    if (format === 'json' || format === 'prettyjson') expect(JSON.parse(text)).toHaveLength(2);
    if (format === 'ndjson') expect(text.trim().split('\n')).toHaveLength(2);
  });

  test('exactly maxRows rows is not a cut; one more offered row is', async () => {
    const exact = await render('ndjson', ROWS, { maxRows: 3 });
    expect(exact.result).toMatchObject({ rows: 3, truncated: false });
    const c = capture();
    const w = createResultWriter('ndjson', c.out, COLUMNS, { maxRows: 3 });
    await w.writeBatch(ROWS);
    expect(w.isTruncated()).toBe(false);
    await w.writeBatch([ROWS[0]!]);
    expect(w.isTruncated()).toBe(true);
    expect((await w.end()).rows).toBe(3);
  });

  test('maxRows 0 writes no row but a well-formed empty result', async () => {
    const { text, result } = await render('json', ROWS, { maxRows: 0 });
    expect(text).toBe('[]\n');
    expect(result).toMatchObject({ rows: 0, truncated: true });
  });

  test('pretty holds at most 1000 rows even without maxRows', async () => {
    const rows = Array.from({ length: 1500 }, (_, i) => [i, 'n', 'x', null]);
    const { text, result } = await render('pretty', rows);
    expect(result).toMatchObject({ rows: 1000, truncated: true, limit: 1000 });
    expect(text.trim().split('\n')).toHaveLength(1000 + 4);
    const capped = await render('pretty', rows, { maxRows: 5000 });
    expect(capped.result.limit).toBe(1000);
  });

  test('bad format or maxRows are refused', () => {
    const out = new PassThrough();
    expect(() => createResultWriter('xml' as OutputFormat, out, COLUMNS)).toThrow(UsageError);
    expect(() => createResultWriter('json', out, COLUMNS, { maxRows: -1 })).toThrow(UsageError);
    expect(() => createResultWriter('json', out, COLUMNS, { maxRows: 1.5 })).toThrow(UsageError);
  });
});

describe('backpressure', () => {
  function slowSink() {
    let delivered = 0;
    let maxBuffered = 0;
    const chunks: Buffer[] = [];
    const out = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        maxBuffered = Math.max(maxBuffered, out.writableLength);
        chunks.push(chunk);
        setTimeout(() => {
          delivered++;
          cb();
        }, 2);
      },
    });
    return { out, chunks, delivered: () => delivered, maxBuffered: () => maxBuffered };
  }

  test('writeBatch awaits drain: it resolves only after the slow sink took the batch', async () => {
    const sink = slowSink();
    const writer = createResultWriter('ndjson', sink.out, COLUMNS);
    const batch = Array.from({ length: 50 }, (_, i) => [i, 'name', 'note '.repeat(20), null]);
    let batchBytes = 0;
    for (let n = 0; n < 30; n++) {
      const before = sink.delivered();
      await writer.writeBatch(batch);
      // resolved only once the chunk was consumed and nothing is left buffered
      expect(sink.delivered()).toBe(before + 1);
      expect(sink.out.writableLength).toBe(0);
      batchBytes = Math.max(batchBytes, sink.chunks[sink.chunks.length - 1]!.length);
    }
    const result = await writer.end();
    expect(result.rows).toBe(1500);
    // memory stays flat: never more than one batch waiting in the stream
    expect(sink.maxBuffered()).toBeLessThanOrEqual(batchBytes);
    expect(result.sha256).toBe(createHash('sha256').update(Buffer.concat(sink.chunks)).digest('hex'));
  });

  test('batches not awaited still go out in order and one at a time', async () => {
    const sink = slowSink();
    const writer = createResultWriter('ndjson', sink.out, [{ name: 'i', type: 'INT' }]);
    const pending = Array.from({ length: 20 }, (_, i) => writer.writeBatch([[i]]));
    await Promise.all(pending);
    await writer.end();
    expect(Buffer.concat(sink.chunks).toString()).toBe(Array.from({ length: 20 }, (_, i) => `{"i":${i}}\n`).join(''));
    expect(sink.maxBuffered()).toBeLessThanOrEqual(`{"i":10}\n`.length);
  });

  test('a reader that goes away makes writeBatch reject instead of hanging', async () => {
    const out = new Writable({ highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 1000) });
    const writer = createResultWriter('ndjson', out, COLUMNS);
    const pending = writer.writeBatch([[1, 'a', 'b', null]]);
    out.destroy(new Error('EPIPE'));
    await expect(pending).rejects.toThrow();
    await expect(writer.writeBatch([[2, 'a', 'b', null]])).rejects.toThrow();
    await expect(writer.end()).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 10)); // the stream's own 'error' comes later, and is held
  });

  test('a stream error while waiting for drain rejects with that error', async () => {
    const out = new Writable({ highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 1000) });
    const writer = createResultWriter('ndjson', out, COLUMNS);
    const pending = writer.writeBatch([[1, 'a', 'b', null]]);
    await new Promise((r) => setTimeout(r, 10)); // the write is out and waiting for drain
    out.destroy(new Error('EPIPE'));
    await expect(pending).rejects.toThrow('EPIPE');
  });

  test('the writer leaves no listeners behind on a stream it does not own', async () => {
    const out = new PassThrough();
    out.resume();
    const before = out.listenerCount('error');
    const writer = createResultWriter('json', out, COLUMNS);
    await writer.writeBatch(ROWS);
    await writer.end();
    expect(out.listenerCount('error')).toBe(before);
    expect(out.listenerCount('drain')).toBe(0);
  });
});

describe('memory stays flat with row width', () => {
  const WIDE = [{ name: 'x', type: 'VARCHAR' }];

  test('wide rows reach `out` in pieces of about 64 KiB, never as one batch string', async () => {
    const sizes: number[] = [];
    const out = new Writable({
      highWaterMark: 1 << 30,
      write(chunk: Buffer, _e, cb) {
        sizes.push(chunk.length);
        cb();
      },
    });
    const writer = createResultWriter('ndjson', out, WIDE);
    const cell = 'y'.repeat(100_000);
    await writer.writeBatch(Array.from({ length: 50 }, () => [cell]));
    const result = await writer.end();
    expect(result.rows).toBe(50);
    expect(sizes.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...sizes)).toBeLessThan(64 * 1024 + 100_100);
  });

  test('a row over the bound ends the result with an exit-7 refusal, nothing of it written', async () => {
    for (const format of ['json', 'ndjson', 'csv', 'prettyjson'] as const) {
      const c = capture();
      const writer = createResultWriter(format, c.out, WIDE, { maxRowBytes: 1000 });
      await writer.writeBatch([['small']]);
      const err = await writer.writeBatch([['z'.repeat(2000)]]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'warehouse.row_too_large', exitCode: 7, rule: 'limits.max_row_bytes' });
      await writer.end().catch(() => undefined);
      expect(c.text()).not.toContain('zzzz');
    }
  });

  test('pretty cuts a cell at 10,000 characters, so 1,000 rows of megabyte cells stay small', async () => {
    const { text } = await render('pretty', Array.from({ length: 1000 }, () => ['w'.repeat(1_000_000)]), {}, WIDE);
    expect(text.length).toBeLessThan(1000 * 10_010 + 100_000);
    expect(text).toContain('w…');
  });
});
