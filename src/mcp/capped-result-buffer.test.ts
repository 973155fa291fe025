import { describe, expect, it } from 'vitest';
import { CappedResultBuffer, splitJsonArray } from './capped-result-buffer.js';

async function fill(cap: number, chunks: string[]): Promise<CappedResultBuffer> {
  const b = new CappedResultBuffer(cap);
  for (const c of chunks) await new Promise<void>((resolve, reject) => b.write(c, (err) => (err ? reject(err) : resolve())));
  return b;
}

describe('splitJsonArray', () => {
  it.each<[string, string, string[]]>([
    ['empty array', '[]\n', []],
    ['whole rows', '[{"a":1},{"a":2}]\n', ['{"a":1}', '{"a":2}']],
    ['a cut last row is dropped', '[{"a":1},{"a":"x', ['{"a":1}']],
    ['braces, brackets and escaped quotes inside strings', '[{"s":"}{\\"]["},{"t":[1,{"u":"]"}]}', ['{"s":"}{\\"]["}', '{"t":[1,{"u":"]"}]}']],
    ['an escaped backslash before a quote', '[{"s":"a\\\\"},{"b":2}]', ['{"s":"a\\\\"}', '{"b":2}']],
    ['pretty-printed', '[\n  {"a":1},\n  {"a":2}\n]', ['{"a":1}', '{"a":2}']],
    ['not an array', '{"a":1}', []],
  ])('%s', (_what, text, rows) => {
    expect(splitJsonArray(text)).toEqual(rows);
  });
});

describe('CappedResultBuffer', () => {
  it('returns exactly the bytes written when they fit', async () => {
    const b = await fill(1024, ['[', '{"a":1}', ',{"a":2}', ']\n']);
    expect(b.isWhole()).toBe(true);
    expect(b.fittingJson()).toEqual({ text: '[{"a":1},{"a":2}]\n', rowsShown: 2 });
  });

  it('keeps whole rows up to the cap and counts every byte written', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `{"i":${i},"s":"${'x'.repeat(20)}"}`);
    const b = await fill(200, ['[' + rows.join(','), ']\n']);
    expect(b.isWhole()).toBe(false);
    expect(b.totalBytes).toBe(Buffer.byteLength('[' + rows.join(',') + ']\n'));
    const { text, rowsShown } = b.fittingJson();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(200);
    expect(rowsShown).toBeGreaterThan(0);
    expect(JSON.parse(text)).toEqual(rows.slice(0, rowsShown).map((r) => JSON.parse(r)));
  });

  it('never cuts inside a multi-byte character', async () => {
    const row = `{"s":"${'é'.repeat(30)}"}`;
    const b = await fill(100, ['[' + [row, row, row].join(',') + ']']);
    const { text, rowsShown } = b.fittingJson();
    expect(rowsShown).toBe(1);
    expect(JSON.parse(text)).toEqual([{ s: 'é'.repeat(30) }]);
  });

  it('shows no row when the first alone is over the cap', async () => {
    const b = await fill(64, [`[{"s":"${'x'.repeat(500)}"}]`]);
    expect(b.fittingJson()).toEqual({ text: '[]', rowsShown: 0 });
  });
});
