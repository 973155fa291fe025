/**
 * The SELECT of a view, from the CREATE VIEW text DuckDB stores in `duckdb_views().sql`.
 * DuckDB regenerates that text from its parsed form (measured, 1.5), so it always reads
 * `CREATE [TEMP ]VIEW [schema.]name[ (alias, …)] AS <query>;` with identifiers double-quoted
 * where needed. The prefix is scanned token by token rather than split at the first " AS ",
 * because a quoted name or alias may itself contain "AS". Any other shape is refused
 * (AnalysisError): a view whose reads cannot be seen must not be let through.
 */
import { AnalysisError } from '../../errors.js';

export interface ViewQuery {
  /** The view's query, without the trailing semicolon. */
  query: string;
  /** The column aliases declared after the view name, if any. */
  columnAliases: string[];
}

export function extractViewQuery(createViewSql: string, viewName: string): ViewQuery {
  const scanner = new PrefixScanner(createViewSql, viewName);
  scanner.keyword('CREATE');
  if (!scanner.optionalKeyword('TEMP')) scanner.optionalKeyword('TEMPORARY');
  scanner.keyword('VIEW');
  const nameParts = [scanner.identifier()];
  while (scanner.optionalPunct('.')) nameParts.push(scanner.identifier());
  if (nameParts[nameParts.length - 1]!.toLowerCase() !== viewName.toLowerCase()) scanner.fail('its name does not match');
  const columnAliases: string[] = [];
  if (scanner.optionalPunct('(')) {
    do columnAliases.push(scanner.identifier());
    while (scanner.optionalPunct(','));
    scanner.punct(')');
  }
  scanner.keyword('AS');
  const query = scanner.rest().replace(/;\s*$/, '').trim();
  if (query === '') scanner.fail('it has no query');
  return { query, columnAliases };
}

class PrefixScanner {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly viewName: string,
  ) {}

  keyword(word: string): void {
    if (!this.optionalKeyword(word)) this.fail(`expected ${word}`);
  }

  optionalKeyword(word: string): boolean {
    this.skipSpace();
    const candidate = this.text.slice(this.pos, this.pos + word.length);
    const after = this.text.charAt(this.pos + word.length);
    if (candidate.toUpperCase() === word && !/[A-Za-z0-9_$]/.test(after)) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  punct(ch: string): void {
    if (!this.optionalPunct(ch)) this.fail(`expected "${ch}"`);
  }

  optionalPunct(ch: string): boolean {
    this.skipSpace();
    if (this.text.charAt(this.pos) === ch) {
      this.pos += 1;
      return true;
    }
    return false;
  }

  identifier(): string {
    this.skipSpace();
    if (this.text.charAt(this.pos) === '"') {
      let out = '';
      let i = this.pos + 1;
      for (;;) {
        const close = this.text.indexOf('"', i);
        if (close < 0) this.fail('a quoted name is not closed');
        out += this.text.slice(i, close);
        if (this.text.charAt(close + 1) === '"') {
          out += '"';
          i = close + 2;
          continue;
        }
        this.pos = close + 1;
        return out;
      }
    }
    const match = /^[^\s."(),;]+/.exec(this.text.slice(this.pos));
    if (!match) this.fail('expected a name');
    this.pos += match[0].length;
    return match[0];
  }

  rest(): string {
    return this.text.slice(this.pos);
  }

  fail(why: string): never {
    throw new AnalysisError(
      'analysis.view_unreadable',
      `cannot read the definition of view "${this.viewName}": ${why}`,
      { rule: 'views', hint: 'query the tables the view reads directly, or ask the operator to recreate the view' },
    );
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text.charAt(this.pos))) this.pos += 1;
  }
}
