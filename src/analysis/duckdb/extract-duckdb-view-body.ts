/**
 * The SELECT of a view definition. Catalogs may hand over either the bare query or the
 * stored `CREATE VIEW name [(cols)] AS query;` (what duckdb_views().sql holds); both give
 * the query. Anything else is refused rather than guessed.
 */
import { AnalysisError } from '../../errors.js';
import { isKeyword, isPunct, lexDuckDbSql } from './lex-duckdb-sql.js';

export function extractDuckDbViewBody(sql: string): string {
  const tokens = lexDuckDbSql(sql);
  let end = tokens.length;
  while (end > 0 && isPunct(tokens[end - 1], ';')) end--;
  if (end === 0 || tokens.slice(0, end).some((t) => isPunct(t, ';'))) throw malformed();
  if (!isKeyword(tokens[0], 'CREATE')) return sql.slice(tokens[0]!.start, tokens[end - 1]!.end);
  let i = 1;
  if (isKeyword(tokens[i], 'OR') && isKeyword(tokens[i + 1], 'REPLACE')) i += 2;
  if (isKeyword(tokens[i], 'TEMP', 'TEMPORARY')) i++;
  if (!isKeyword(tokens[i], 'VIEW')) throw malformed();
  i++;
  if (isKeyword(tokens[i], 'IF') && isKeyword(tokens[i + 1], 'NOT') && isKeyword(tokens[i + 2], 'EXISTS')) i += 3;
  // name: up to three dotted parts
  for (let parts = 0; parts < 3; parts++) {
    const t = tokens[i];
    if (!t || (t.kind !== 'word' && t.kind !== 'ident')) throw malformed();
    i++;
    if (!isPunct(tokens[i], '.')) break;
    i++;
  }
  if (isPunct(tokens[i], '(')) {
    let depth = 0;
    for (; i < end; i++) {
      if (isPunct(tokens[i], '(')) depth++;
      else if (isPunct(tokens[i], ')') && --depth === 0) { i++; break; }
    }
  }
  if (!isKeyword(tokens[i], 'AS') || i + 1 >= end) throw malformed();
  return sql.slice(tokens[i + 1]!.start, tokens[end - 1]!.end);
}

function malformed(): AnalysisError {
  return new AnalysisError('analysis.view_definition', 'refused: a view definition could not be read with certainty', {
    rule: 'views',
    hint: 'ask the operator to check the view; query its base tables directly meanwhile',
  });
}
