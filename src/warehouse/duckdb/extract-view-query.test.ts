import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import { extractViewQuery } from './extract-view-query.js';

describe('extractViewQuery', () => {
  it.each([
    ['CREATE VIEW crm.v AS SELECT a FROM crm.t;', 'v', 'SELECT a FROM crm.t', []],
    ['CREATE VIEW v AS SELECT 1;', 'v', 'SELECT 1', []],
    ['CREATE TEMP VIEW tv AS SELECT 3;', 'tv', 'SELECT 3', []],
    ['CREATE VIEW crm.MixedV (x, Y) AS SELECT a, b FROM crm.t WHERE (b != \'as\');', 'mixedv', "SELECT a, b FROM crm.t WHERE (b != 'as')", ['x', 'Y']],
    ['CREATE VIEW "my Schema"."v ""q"" as" ("AS", "b c") AS SELECT a FROM "my Schema"."T t";', 'v "q" as', 'SELECT a FROM "my Schema"."T t"', ['AS', 'b c']],
    ['CREATE VIEW par AS (SELECT 1 AS x) UNION ALL (SELECT 2);', 'par', '(SELECT 1 AS x) UNION ALL (SELECT 2)', []],
    ['CREATE VIEW q AS WITH q AS (SELECT 1 AS z)SELECT * FROM q;', 'q', 'WITH q AS (SELECT 1 AS z)SELECT * FROM q', []],
    ['CREATE VIEW sel ("select") AS SELECT 1;', 'sel', 'SELECT 1', ['select']],
  ])('%s', (sql, name, query, aliases) => {
    expect(extractViewQuery(sql, name)).toEqual({ query, columnAliases: aliases });
  });

  it.each([
    ['CREATE TABLE t AS SELECT 1;', 't'],
    ['CREATE VIEW v AS ;', 'v'],
    ['CREATE VIEW other AS SELECT 1;', 'v'], // the stored text names another view
    ['CREATE VIEW "v AS SELECT 1;', 'v'], // unterminated quote
    ['CREATE VIEW v (a, b AS SELECT 1;', 'v'],
    ['SELECT 1', 'v'],
    ['', 'v'],
  ])('refuses what it cannot read with certainty: %s', (sql, name) => {
    expect(() => extractViewQuery(sql, name)).toThrow(AnalysisError);
  });
});
