import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbParseTrees } from './duckdb-parse-trees.js';

// The oracle: DuckDB's own json_serialize_sql of one text, one query each, as analysis made it before batching.
async function oneByOne(parser: DuckDBConnection, text: string): Promise<string> {
  const reader = await parser.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [text]);
  return String(reader.getRows()[0]![0]);
}

const TEXTS = [
  'SELECT 1 AS one',
  'SELECT 1 AS "hoopq_0", \'it\'\'s\' AS "hoopq_1"',
  'SELECT * FROM a.b.c WHERE x = $1',
  'SELECT 1; SELECT 2', // two statements: the tree says so
  'SELEC nonsense', // a parse error: DuckDB's error object, not a thrown error
  'CREATE TABLE t (a INT)', // not a query: DuckDB's "not implemented" object
  '',
  'SELECT \'\u00e9\u4e2d\' AS s -- comment\r, 2',
  'SELECT 1 /* unterminated',
];

describe('DuckDbParseTrees: DuckDB\'s trees, fetched in batches', () => {
  let instance: DuckDBInstance;
  let parser: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    parser = await instance.connect();
  });
  afterAll(() => {
    parser.closeSync();
    instance.closeSync();
  });

  it('gives, for every text of a batch, exactly what json_serialize_sql gives for it alone', async () => {
    const trees = new DuckDbParseTrees(parser);
    trees.load(TEXTS);
    for (const text of TEXTS) expect(await trees.raw(text)).toBe(await oneByOne(parser, text));
  });

  it('fetches a text it was not given up front, and repeats of one text in a batch', async () => {
    const trees = new DuckDbParseTrees(parser);
    trees.load(['SELECT 1 AS one', 'SELECT 1 AS one', 'SELECT 2 AS two']);
    expect(await trees.raw('SELECT 3 AS three')).toBe(await oneByOne(parser, 'SELECT 3 AS three'));
    expect(await trees.raw('SELECT 2 AS two')).toBe(await oneByOne(parser, 'SELECT 2 AS two'));
  });

  it('never gives one analysis the trees of another sharing its connection (bind and run are queued)', async () => {
    // many analyses at once on one connection, each its own texts: every answer is its own text's tree
    const sets = Array.from({ length: 24 }, (_, i) => [`SELECT ${i} AS a${i}`, `SELECT '${'x'.repeat(i)}' AS s${i} FROM t${i}`]);
    const all = sets.map((texts) => {
      const trees = new DuckDbParseTrees(parser);
      trees.load(texts);
      return Promise.all(texts.map((t) => trees.raw(t)));
    });
    const got = await Promise.all(all);
    for (let i = 0; i < sets.length; i++) {
      for (let k = 0; k < 2; k++) expect(got[i]![k]).toBe(await oneByOne(parser, sets[i]![k]!));
    }
  });

  it('fails every text of a batch when the engine call fails, and works again on a new connection', async () => {
    const own = await instance.connect();
    const trees = new DuckDbParseTrees(own);
    trees.load(['SELECT 1']); // prepares on `own`
    await trees.raw('SELECT 1');
    own.closeSync();
    const after = new DuckDbParseTrees(own);
    after.load(['SELECT 2', 'SELECT 3']);
    await expect(after.raw('SELECT 2')).rejects.toThrow();
    await expect(after.raw('SELECT 3')).rejects.toThrow();
    const fresh = await instance.connect();
    try {
      expect(await new DuckDbParseTrees(fresh).raw('SELECT 2')).toBe(await oneByOne(parser, 'SELECT 2'));
    } finally {
      fresh.closeSync();
    }
  });
});
