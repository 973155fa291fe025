/**
 * Classify one DuckDB statement by its leading keywords, and decompose the non-SELECT
 * shapes hoopq can take apart with certainty into: the tables it writes, the tables it
 * reads by name (UPDATE/DELETE targets: their predicates observe those rows), and SELECT
 * texts that read exactly what the statement's other parts read (so one SELECT analyser,
 * DuckDB's own parser through json_serialize_sql, sees every expression). Shapes it cannot
 * decompose are refused. Engine-control statements are marked, never decomposed: the
 * policy stage refuses them whatever the policy says.
 * Every expression a statement can hold outside a query — column DEFAULT, CHECK and
 * GENERATED expressions, ALTER … USING, macro bodies and parameter defaults — becomes a
 * SELECT text too, so the same function and table rules apply to it as to a query; and the
 * table a FOREIGN KEY references is read (an insert then tells whether a value exists there).
 * The tokens come from text whose lexing DuckDB confirmed (read-duckdb-script.ts).
 */
import { AnalysisError } from '../../errors.js';
import type { StatementKind } from '../query-analysis.js';
import { isKeyword, isPunct, type DuckDbToken } from './lex-duckdb-sql.js';

export interface DuckDbStatementPlan {
  kind: StatementKind;
  /** DuckDB's StatementType name (SELECT, INSERT, CREATE, …). */
  nativeType: string;
  engineControl?: string;
  /** The statement itself is a query: analyse its text as a SELECT. */
  isQuery: boolean;
  /** Name parts as written (quotes removed), resolved later. */
  writes: NamePartsOrSchema[];
  /** Targets whose rows the statement observes (UPDATE/DELETE/RETURNING). */
  targetReads: string[][];
  /** SELECT texts whose reads belong to this statement. */
  selects: string[];
  /** Objects this statement creates, so later statements of the script may read them. */
  creates: NamePartsOrSchema[];
}

/** A table-like name, or a whole schema (`schema: true`, written as `project.dataset.*`). */
export interface NamePartsOrSchema {
  parts: string[];
  schema?: boolean;
}

const QUERY_START = ['SELECT', 'VALUES', 'FROM', 'TABLE', 'DESCRIBE', 'DESC', 'SHOW', 'SUMMARIZE', 'PIVOT', 'UNPIVOT', 'PIVOT_WIDER', 'PIVOT_LONGER'];

interface EngineControlEntry { kind: StatementKind; nativeType: string }
const ENGINE_CONTROL: Record<string, EngineControlEntry> = {
  ATTACH: { kind: 'other', nativeType: 'ATTACH' },
  DETACH: { kind: 'other', nativeType: 'DETACH' },
  USE: { kind: 'other', nativeType: 'SET' },
  INSTALL: { kind: 'other', nativeType: 'LOAD' },
  LOAD: { kind: 'other', nativeType: 'LOAD' },
  FORCE: { kind: 'other', nativeType: 'LOAD' },
  SET: { kind: 'script', nativeType: 'SET' },
  RESET: { kind: 'script', nativeType: 'SET' },
  PRAGMA: { kind: 'other', nativeType: 'PRAGMA' },
  CALL: { kind: 'call', nativeType: 'CALL' },
  CHECKPOINT: { kind: 'other', nativeType: 'PRAGMA' },
  BEGIN: { kind: 'script', nativeType: 'TRANSACTION' },
  START: { kind: 'script', nativeType: 'TRANSACTION' },
  COMMIT: { kind: 'script', nativeType: 'TRANSACTION' },
  END: { kind: 'script', nativeType: 'TRANSACTION' },
  ROLLBACK: { kind: 'script', nativeType: 'TRANSACTION' },
  ABORT: { kind: 'script', nativeType: 'TRANSACTION' },
  PREPARE: { kind: 'other', nativeType: 'PREPARE' },
  EXECUTE: { kind: 'other', nativeType: 'EXECUTE' },
  DEALLOCATE: { kind: 'other', nativeType: 'PREPARE' },
  VACUUM: { kind: 'other', nativeType: 'VACUUM' },
  ANALYZE: { kind: 'other', nativeType: 'ANALYZE' },
  EXPLAIN: { kind: 'other', nativeType: 'EXPLAIN' },
};

export function classifyDuckDbStatement(tokens: DuckDbToken[], text: string): DuckDbStatementPlan {
  const first = tokens[0];
  if (!first) throw refuse('analysis.empty', 'refused: empty statement', 'send one SQL statement between semicolons');
  const kw = first.kind === 'word' ? first.value : '';
  if (QUERY_START.includes(kw) || isPunct(first, '(')) return queryPlan();
  if (kw === 'WITH') {
    const after = skipWithClause(tokens, 1);
    const main = tokens[after];
    if (isKeyword(main, ...QUERY_START) || isPunct(main, '(')) return queryPlan();
    if (isKeyword(main, 'INSERT', 'UPDATE', 'DELETE')) {
      const withText = text.slice(first.start, tokens[after - 1]!.end);
      return decomposeDml(tokens.slice(after), text, withText);
    }
    if (isKeyword(main, 'MERGE')) throw unsupported('MERGE');
    throw unknownStatement(tokens, after);
  }
  if (kw === 'INSERT' || kw === 'DELETE') return decomposeDml(tokens, text, '');
  if (kw === 'UPDATE') {
    if (isKeyword(tokens[1], 'EXTENSIONS')) return control('other', 'UPDATE_EXTENSIONS', 'UPDATE EXTENSIONS');
    return decomposeDml(tokens, text, '');
  }
  if (kw === 'MERGE') throw unsupported('MERGE');
  if (kw === 'TRUNCATE') {
    const at = isKeyword(tokens[1], 'TABLE') ? 2 : 1;
    const name = readName(tokens, at);
    expectEnd(tokens, name.next, 'TRUNCATE');
    return { ...empty('truncate', 'DELETE'), writes: [{ parts: name.parts }] };
  }
  if (kw === 'CREATE') return classifyCreate(tokens, text);
  if (kw === 'DROP') return classifyDrop(tokens);
  if (kw === 'ALTER') return classifyAlter(tokens, text);
  if (kw === 'COMMENT') return classifyComment(tokens);
  if (kw === 'COPY') {
    const direction = tokens.some((t, i) => i > 0 && isKeyword(t, 'TO') && depthAt(tokens, i) === 0) ? 'export' : 'load';
    return control(direction, isKeyword(tokens[1], 'FROM') && isKeyword(tokens[2], 'DATABASE') ? 'COPY_DATABASE' : 'COPY', 'COPY');
  }
  if (kw === 'EXPORT' && isKeyword(tokens[1], 'DATABASE')) return control('export', 'EXPORT', 'EXPORT DATABASE');
  if (kw === 'IMPORT' && isKeyword(tokens[1], 'DATABASE')) return control('load', 'PRAGMA', 'IMPORT DATABASE');
  const entry = ENGINE_CONTROL[kw];
  if (entry) {
    let name = kw;
    if (kw === 'FORCE') name = isKeyword(tokens[1], 'CHECKPOINT') ? 'FORCE CHECKPOINT' : 'FORCE INSTALL';
    if (kw === 'EXPLAIN' && isKeyword(tokens[1], 'ANALYZE')) name = 'EXPLAIN ANALYZE';
    if (kw === 'START') name = 'START TRANSACTION';
    return control(entry.kind, kw === 'FORCE' && name === 'FORCE CHECKPOINT' ? 'PRAGMA' : entry.nativeType, name);
  }
  throw unknownStatement(tokens, 0);
}

function queryPlan(): DuckDbStatementPlan {
  return { ...empty('select', 'SELECT'), isQuery: true };
}

function empty(kind: StatementKind, nativeType: string): DuckDbStatementPlan {
  return { kind, nativeType, isQuery: false, writes: [], targetReads: [], selects: [], creates: [] };
}

function control(kind: StatementKind, nativeType: string, name: string): DuckDbStatementPlan {
  return { ...empty(kind, nativeType), engineControl: name };
}

// ---------- DML ----------

function decomposeDml(tokens: DuckDbToken[], text: string, withText: string): DuckDbStatementPlan {
  const kw = tokens[0]!.value;
  const slice = (from: number, to: number) => (from >= to ? '' : text.slice(tokens[from]!.start, tokens[to - 1]!.end));
  const withPrefix = withText ? `${withText} ` : '';
  if (kw === 'INSERT') {
    let i = 1;
    if (isKeyword(tokens[i], 'OR') && isKeyword(tokens[i + 1], 'REPLACE', 'IGNORE')) i += 2;
    if (!isKeyword(tokens[i], 'INTO')) throw cannotDecompose('INSERT', 'expected INTO');
    const target = readName(tokens, i + 1);
    i = target.next;
    if (isKeyword(tokens[i], 'AS')) i += 2;
    if (isPunct(tokens[i], '(') && !isKeyword(tokens[i + 1], 'SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE') && !isPunct(tokens[i + 1], '(')) {
      i = skipParens(tokens, i);
    }
    if (isKeyword(tokens[i], 'BY') && isKeyword(tokens[i + 1], 'NAME', 'POSITION')) i += 2;
    const plan: DuckDbStatementPlan = { ...empty('insert', 'INSERT'), writes: [{ parts: target.parts }] };
    const conflict = findTopLevel(tokens, i, (t, j) => isKeyword(t, 'ON') && isKeyword(tokens[j + 1], 'CONFLICT'));
    const returning = findTopLevel(tokens, i, (t) => isKeyword(t, 'RETURNING'));
    const sourceEnd = Math.min(conflict, returning);
    if (isKeyword(tokens[i], 'DEFAULT') && isKeyword(tokens[i + 1], 'VALUES')) {
      if (i + 2 !== sourceEnd) throw cannotDecompose('INSERT', 'unexpected text after DEFAULT VALUES');
    } else {
      if (i >= sourceEnd) throw cannotDecompose('INSERT', 'no source query');
      plan.selects.push(`${withPrefix}SELECT * FROM (${slice(i, sourceEnd)}) AS hoopq_source`);
    }
    if (conflict < tokens.length) {
      const doAt = findTopLevel(tokens, conflict, (t) => isKeyword(t, 'DO'));
      if (!(isKeyword(tokens[doAt + 1], 'NOTHING') && doAt + 2 === returning)) {
        throw cannotDecompose('INSERT', 'ON CONFLICT is accepted only as ON CONFLICT … DO NOTHING');
      }
      if (findTopLevel(tokens, conflict, (t) => isKeyword(t, 'WHERE')) < doAt) {
        throw cannotDecompose('INSERT', 'ON CONFLICT with a WHERE clause');
      }
    }
    addReturning(plan, tokens, returning, target.parts, slice, withPrefix);
    return plan;
  }
  if (kw === 'UPDATE') {
    const target = readName(tokens, 1);
    let i = target.next;
    if (isKeyword(tokens[i], 'AS')) i++;
    if (!isKeyword(tokens[i], 'SET')) i++; // an alias written without AS
    if (!isKeyword(tokens[i], 'SET')) throw cannotDecompose('UPDATE', 'expected SET');
    const setStart = i + 1;
    const from = findTopLevel(tokens, setStart, (t) => isKeyword(t, 'FROM'));
    const where = findTopLevel(tokens, setStart, (t) => isKeyword(t, 'WHERE'));
    const returning = findTopLevel(tokens, setStart, (t) => isKeyword(t, 'RETURNING'));
    const setEnd = Math.min(from, where, returning);
    const values = splitTopLevel(tokens, setStart, setEnd).map(([a, b]) => {
      const eq = findTopLevel(tokens, a, (t) => isPunct(t, '='));
      if (eq >= b || eq === a) throw cannotDecompose('UPDATE', 'an assignment without "="');
      if (isKeyword(tokens[eq + 1], 'DEFAULT') && eq + 2 === b) return 'NULL';
      return `(${slice(eq + 1, b)})`;
    });
    if (values.length === 0) throw cannotDecompose('UPDATE', 'empty SET');
    const fromText = from < tokens.length ? ` FROM ${slice(from + 1, Math.min(where, returning))}` : '';
    const whereText = where < tokens.length ? `, (${slice(where + 1, returning)})` : '';
    const plan: DuckDbStatementPlan = {
      ...empty('update', 'UPDATE'),
      writes: [{ parts: target.parts }],
      targetReads: [target.parts],
      selects: [`${withPrefix}SELECT ${values.join(', ')}${whereText}${fromText}`],
    };
    addReturning(plan, tokens, returning, target.parts, slice, withPrefix);
    return plan;
  }
  // DELETE FROM t [AS a] [USING …] [WHERE …] [RETURNING …]
  if (!isKeyword(tokens[1], 'FROM')) throw cannotDecompose('DELETE', 'expected DELETE FROM');
  const target = readName(tokens, 2);
  let i = target.next;
  if (isKeyword(tokens[i], 'AS')) i += 2;
  else if (i < tokens.length && !isKeyword(tokens[i], 'USING', 'WHERE', 'RETURNING')) i++;
  const using = isKeyword(tokens[i], 'USING') ? i : tokens.length;
  const where = findTopLevel(tokens, i, (t) => isKeyword(t, 'WHERE'));
  const returning = findTopLevel(tokens, i, (t) => isKeyword(t, 'RETURNING'));
  if (using === tokens.length && i !== Math.min(where, returning)) throw cannotDecompose('DELETE', 'unexpected text after the target');
  const fromText = using < tokens.length ? ` FROM ${slice(using + 1, Math.min(where, returning))}` : '';
  const whereText = where < tokens.length ? `(${slice(where + 1, returning)})` : '1';
  const plan: DuckDbStatementPlan = {
    ...empty('delete', 'DELETE'),
    writes: [{ parts: target.parts }],
    targetReads: [target.parts],
    selects: [`${withPrefix}SELECT ${whereText}${fromText}`],
  };
  addReturning(plan, tokens, returning, target.parts, slice, withPrefix);
  return plan;
}

/** RETURNING hands rows of the target back, so the target counts as read. */
function addReturning(
  plan: DuckDbStatementPlan,
  tokens: DuckDbToken[],
  returning: number,
  target: string[],
  slice: (a: number, b: number) => string,
  withPrefix: string,
): void {
  if (returning >= tokens.length) return;
  const list = slice(returning + 1, tokens.length);
  if (!list) throw cannotDecompose(plan.nativeType, 'empty RETURNING');
  if (!plan.targetReads.some((p) => p.join('.') === target.join('.'))) plan.targetReads.push(target);
  // Only the expressions matter here (DuckDB parses without binding), so no FROM is needed.
  plan.selects.push(`${withPrefix}SELECT ${list}`);
}

// ---------- DDL ----------

function classifyCreate(tokens: DuckDbToken[], text: string): DuckDbStatementPlan {
  let i = 1;
  if (isKeyword(tokens[i], 'OR') && isKeyword(tokens[i + 1], 'REPLACE')) i += 2;
  let temporary = false;
  if (isKeyword(tokens[i], 'TEMP', 'TEMPORARY')) { temporary = true; i++; }
  if (isKeyword(tokens[i], 'PERSISTENT')) i++;
  if (isKeyword(tokens[i], 'UNIQUE')) i++;
  const object = tokens[i]?.kind === 'word' ? tokens[i]!.value : '';
  if (object === 'SECRET') return control('create', 'CREATE', 'CREATE SECRET');
  if (temporary) {
    // Temporary objects live in the `temp` catalog, which DuckDB searches before the
    // default schema: they could shadow the tables hoopq resolved. Refused outright.
    throw refuse('analysis.temporary_object', 'refused: CREATE TEMPORARY objects are not supported by hoopq', 'create the object in a schema your policy allows writing, with a qualified name');
  }
  i++;
  if (isKeyword(tokens[i], 'IF') && isKeyword(tokens[i + 1], 'NOT') && isKeyword(tokens[i + 2], 'EXISTS')) i += 3;
  const plan = empty('create', 'CREATE');
  const rest = (from: number) => tokens.slice(from);
  switch (object) {
    case 'SCHEMA': {
      const name = readName(tokens, i, 2);
      expectEnd(tokens, name.next, 'CREATE SCHEMA');
      const target = { parts: name.parts, schema: true };
      return { ...empty('define', 'CREATE'), writes: [target], creates: [target] };
    }
    case 'MACRO':
    case 'FUNCTION':
      return classifyMacro(tokens, text, i);
    case 'TABLE':
    case 'VIEW': {
      const name = readName(tokens, i);
      let j = name.next;
      const target = { parts: name.parts };
      const out: DuckDbStatementPlan = { ...plan, writes: [target], creates: [target] };
      if (isPunct(tokens[j], '(')) {
        const close = skipParens(tokens, j);
        if (rest(j).slice(0, close - j).some((t) => isKeyword(t, 'SELECT'))) throw cannotDecompose('CREATE', 'a subquery inside column definitions');
        if (object === 'TABLE') addDefinitionExpressions(out, tokens, text, j + 1, close - 1);
        j = close;
      }
      if (j >= tokens.length) {
        if (object === 'VIEW') throw cannotDecompose('CREATE VIEW', 'expected AS');
        return out;
      }
      if (!isKeyword(tokens[j], 'AS')) throw cannotDecompose(`CREATE ${object}`, `unexpected "${tokens[j]!.text}"`);
      let end = tokens.length;
      // CREATE TABLE … AS query WITH [NO] DATA
      if (object === 'TABLE' && isKeyword(tokens[end - 1], 'DATA') && isKeyword(tokens[end - 2], 'WITH')) end -= 2;
      else if (object === 'TABLE' && isKeyword(tokens[end - 1], 'DATA') && isKeyword(tokens[end - 2], 'NO') && isKeyword(tokens[end - 3], 'WITH')) end -= 3;
      if (j + 1 >= end) throw cannotDecompose(`CREATE ${object}`, 'no query after AS');
      out.selects.push(text.slice(tokens[j + 1]!.start, tokens[end - 1]!.end));
      return out;
    }
    case 'INDEX': {
      const on = findTopLevel(tokens, i, (t) => isKeyword(t, 'ON'));
      const name = readName(tokens, on + 1);
      if (rest(name.next).some((t) => isKeyword(t, 'SELECT'))) throw cannotDecompose('CREATE INDEX', 'a subquery');
      return { ...plan, writes: [{ parts: name.parts }] };
    }
    case 'SEQUENCE':
    case 'TYPE': {
      const name = readName(tokens, i);
      if (rest(name.next).some((t) => isKeyword(t, 'SELECT', 'FROM', 'TABLE'))) throw cannotDecompose(`CREATE ${object}`, 'a query inside the definition');
      const target = { parts: name.parts };
      const out: DuckDbStatementPlan = { ...empty('define', 'CREATE'), writes: [target], creates: [target] };
      checkCalledFunctions(out, tokens, name.next, tokens.length);
      return out;
    }
    default:
      throw unknownStatement(tokens, 0);
  }
}

function classifyDrop(tokens: DuckDbToken[]): DuckDbStatementPlan {
  let i = 1;
  if (isKeyword(tokens[i], 'PERSISTENT', 'TEMPORARY', 'TEMP')) i++;
  const object = tokens[i]?.kind === 'word' ? tokens[i]!.value : '';
  if (object === 'SECRET') return control('drop', 'DROP', 'DROP SECRET');
  if (!['TABLE', 'VIEW', 'SEQUENCE', 'INDEX', 'TYPE', 'SCHEMA', 'MACRO', 'FUNCTION'].includes(object) || i !== 1) throw unknownStatement(tokens, 0);
  i++;
  if ((object === 'MACRO' || object === 'FUNCTION') && isKeyword(tokens[i], 'TABLE')) i++;
  if (isKeyword(tokens[i], 'IF') && isKeyword(tokens[i + 1], 'EXISTS')) i += 2;
  const writes: NamePartsOrSchema[] = [];
  for (;;) {
    const name = readName(tokens, i, object === 'SCHEMA' ? 2 : 3);
    writes.push(object === 'SCHEMA' ? { parts: name.parts, schema: true } : { parts: name.parts });
    i = name.next;
    if (isPunct(tokens[i], ',')) { i++; continue; }
    break;
  }
  if (isKeyword(tokens[i], 'CASCADE', 'RESTRICT')) i++;
  expectEnd(tokens, i, `DROP ${object}`);
  const defines = ['SEQUENCE', 'TYPE', 'SCHEMA', 'MACRO', 'FUNCTION'].includes(object);
  return { ...empty(defines ? 'define' : 'drop', 'DROP'), writes };
}

function classifyAlter(tokens: DuckDbToken[], text: string): DuckDbStatementPlan {
  const object = tokens[1]?.kind === 'word' ? tokens[1]!.value : '';
  if (!['TABLE', 'VIEW', 'SEQUENCE'].includes(object)) throw unknownStatement(tokens, 0);
  let i = 2;
  if (isKeyword(tokens[i], 'IF') && isKeyword(tokens[i + 1], 'EXISTS')) i += 2;
  const name = readName(tokens, i);
  const rest = tokens.slice(name.next);
  if (rest.some((t) => isKeyword(t, 'SELECT'))) throw cannotDecompose(`ALTER ${object}`, 'a subquery');
  const writes: NamePartsOrSchema[] = [{ parts: name.parts }];
  const creates: NamePartsOrSchema[] = [];
  const plan = empty(object === 'SEQUENCE' ? 'define' : 'alter', 'ALTER');
  if (object === 'TABLE') addDefinitionExpressions(plan, tokens, text, name.next, tokens.length);
  if (isKeyword(rest[0], 'RENAME') && isKeyword(rest[1], 'TO')) {
    // The new name lands beside the old one: same catalog and schema.
    const renamed = readName(rest, 2, 1);
    expectEnd(rest, renamed.next, `ALTER ${object}`);
    const target = { parts: [...name.parts.slice(0, -1), renamed.parts[0]!] };
    if (name.parts.length === 1) {
      throw cannotDecompose(`ALTER ${object}`, 'RENAME TO needs the table written as dataset.table or project.dataset.table');
    }
    writes.push(target);
    creates.push(target);
  }
  return { ...plan, writes, creates };
}

function classifyComment(tokens: DuckDbToken[]): DuckDbStatementPlan {
  if (!isKeyword(tokens[1], 'ON') || !isKeyword(tokens[2], 'TABLE', 'VIEW', 'COLUMN')) throw unknownStatement(tokens, 0);
  const isColumn = isKeyword(tokens[2], 'COLUMN');
  const name = readName(tokens, 3, isColumn ? 4 : 3);
  if (!isKeyword(tokens[name.next], 'IS')) throw cannotDecompose('COMMENT', 'expected IS');
  const parts = isColumn ? name.parts.slice(0, -1) : name.parts;
  if (parts.length === 0) throw cannotDecompose('COMMENT', 'a column without its table');
  return { ...empty('alter', 'ALTER'), writes: [{ parts }] };
}

// ---------- expressions inside definitions ----------

/** Keywords that end a DEFAULT expression or a column type in a column definition. */
const CONSTRAINT_WORDS = ['NOT', 'NULL', 'PRIMARY', 'UNIQUE', 'CHECK', 'REFERENCES', 'COLLATE', 'GENERATED', 'CONSTRAINT', 'DEFAULT', 'AS', 'USING', 'FOREIGN', 'ON', 'VIRTUAL', 'STORED', 'COMPRESSION'];

/**
 * tokens[from, to): column definitions and table constraints (CREATE TABLE), or the rest of an
 * ALTER TABLE. Every DEFAULT / CHECK / GENERATED … AS / AS / USING expression becomes a SELECT
 * text, every FOREIGN KEY … REFERENCES target a read, and every call anywhere in the region
 * must pass the function rules even where hoopq did not isolate its expression.
 */
function addDefinitionExpressions(plan: DuckDbStatementPlan, tokens: DuckDbToken[], text: string, from: number, to: number): void {
  const slice = (a: number, b: number) => text.slice(tokens[a]!.start, tokens[b - 1]!.end);
  const referenced = new Set<number>();
  for (let k = from; k < to; k++) {
    const t = tokens[k]!;
    if (isKeyword(t, 'REFERENCES')) {
      const name = readName(tokens, k + 1);
      plan.targetReads.push(name.parts);
      for (let j = k + 1; j < name.next; j++) referenced.add(j);
      continue;
    }
    let exprStart = -1;
    if (isKeyword(t, 'DEFAULT', 'USING')) exprStart = k + 1;
    else if (isKeyword(t, 'CHECK', 'AS') && isPunct(tokens[k + 1], '(')) exprStart = k + 1;
    if (exprStart < 0 || exprStart >= to) continue;
    let end: number;
    if (isPunct(tokens[exprStart], '(') && !isKeyword(t, 'DEFAULT', 'USING')) {
      end = skipParens(tokens, exprStart);
    } else {
      // up to the next constraint keyword or comma at this depth (a lone NULL is the expression)
      end = exprStart;
      let depth = 0;
      while (end < to) {
        const u = tokens[end]!;
        if (depth === 0 && (isPunct(u, ',') || isPunct(u, ')'))) break;
        if (depth === 0 && end > exprStart && isKeyword(u, ...CONSTRAINT_WORDS)) break;
        if (isOpen(u)) depth++;
        else if (isClose(u)) depth--;
        end++;
      }
    }
    if (end > exprStart) plan.selects.push(`SELECT (${slice(exprStart, end)})`);
  }
  checkCalledFunctions(plan, tokens, from, to, referenced);
}

/**
 * Any `name(` in tokens[from, to) that is not a type or a constraint keyword is a call: it is
 * added as a SELECT of a call with no arguments, so the function rules see its name even
 * when hoopq isolated no expression around it.
 */
function checkCalledFunctions(plan: DuckDbStatementPlan, tokens: DuckDbToken[], from: number, to: number, tableNames: ReadonlySet<number> = new Set()): void {
  for (let k = from; k + 1 < to; k++) {
    const t = tokens[k]!;
    if ((t.kind !== 'word' && t.kind !== 'ident') || !isPunct(tokens[k + 1], '(') || tableNames.has(k)) continue;
    if (t.kind === 'word' && (TYPE_WORDS.has(t.value) || CONSTRAINT_WORDS.includes(t.value) || ['KEY', 'ENUM', 'TABLE'].includes(t.value))) continue;
    const qualifier = isPunct(tokens[k - 1], '.') && tokens[k - 2] ? `${tokens[k - 2]!.text}.` : '';
    plan.selects.push(`SELECT ${qualifier}${t.text}()`);
  }
}

/** Type names written with a parenthesised argument list in column definitions. */
const TYPE_WORDS = new Set([
  'DECIMAL', 'NUMERIC', 'DEC', 'VARCHAR', 'NVARCHAR', 'CHAR', 'BPCHAR', 'CHARACTER', 'STRING', 'TEXT', 'STRUCT', 'ROW', 'MAP', 'UNION',
  'LIST', 'BIT', 'BITSTRING', 'TIMESTAMP', 'TIME', 'INTERVAL', 'FLOAT', 'DOUBLE', 'VARYING', 'ARRAY', 'GEOMETRY', 'INT', 'INTEGER',
  'BIGINT', 'SMALLINT', 'TINYINT', 'HUGEINT', 'REAL', 'BOOLEAN', 'DATE', 'BLOB', 'UUID', 'JSON', 'VARIANT',
]);

/**
 * CREATE [OR REPLACE] MACRO|FUNCTION name(params) AS [TABLE] body [, (params) AS body …].
 * The body is a query (TABLE) or an expression; both are analysed as SELECTs, as are
 * parameter defaults. The macro is a write of its name.
 */
function classifyMacro(tokens: DuckDbToken[], text: string, at: number): DuckDbStatementPlan {
  const name = readName(tokens, at);
  const target = { parts: name.parts };
  const plan: DuckDbStatementPlan = { ...empty('define', 'CREATE'), writes: [target], creates: [target] };
  const slice = (a: number, b: number) => text.slice(tokens[a]!.start, tokens[b - 1]!.end);
  let i = name.next;
  for (;;) {
    if (!isPunct(tokens[i], '(')) throw cannotDecompose('CREATE MACRO', 'expected a parameter list');
    const close = skipParens(tokens, i);
    for (const [a, b] of splitTopLevel(tokens, i + 1, close - 1)) {
      const assign = findTopLevel(tokens, a, (t, j) => (isPunct(t, ':') && isPunct(tokens[j + 1], '=')) || isPunct(t, '='));
      if (assign < b) {
        const exprStart = isPunct(tokens[assign], ':') ? assign + 2 : assign + 1;
        if (exprStart >= b) throw cannotDecompose('CREATE MACRO', 'a parameter default without a value');
        plan.selects.push(`SELECT (${slice(exprStart, b)})`);
      } else if (b - a !== 1) {
        throw cannotDecompose('CREATE MACRO', 'typed parameters');
      }
    }
    if (!isKeyword(tokens[close], 'AS')) throw cannotDecompose('CREATE MACRO', 'expected AS');
    let bodyStart = close + 1;
    const isTable = isKeyword(tokens[bodyStart], 'TABLE');
    if (isTable) bodyStart++;
    if (bodyStart >= tokens.length) throw cannotDecompose('CREATE MACRO', 'an empty body');
    // another overload follows after a top-level `, (`
    const bodyEnd = findTopLevel(tokens, bodyStart, (t, j) => isPunct(t, ',') && isPunct(tokens[j + 1], '('));
    if (isTable) {
      plan.selects.push(slice(bodyStart, bodyEnd));
    } else {
      // a scalar body is one expression: a top-level comma that does not start an overload is refused below
      plan.selects.push(`SELECT (${slice(bodyStart, bodyEnd)})`);
    }
    if (bodyEnd >= tokens.length) return plan;
    i = bodyEnd + 1;
  }
}

// ---------- token helpers ----------

export function readName(tokens: DuckDbToken[], at: number, maxParts = 3): { parts: string[]; next: number } {
  const parts: string[] = [];
  let i = at;
  for (;;) {
    const t = tokens[i];
    if (!t || (t.kind !== 'word' && t.kind !== 'ident')) {
      throw refuse('analysis.unresolvable_name', `refused: expected a name at "${t?.text ?? 'end of statement'}"`, 'name tables as project.dataset.table, dataset.table or table');
    }
    parts.push(t.kind === 'ident' ? t.value : t.text);
    i++;
    if (isPunct(tokens[i], '.') && parts.length < maxParts + 1) { i++; continue; }
    break;
  }
  if (parts.length > maxParts) {
    throw refuse('analysis.unresolvable_name', `refused: "${parts.join('.')}" has too many name parts`, 'name tables as project.dataset.table, dataset.table or table');
  }
  return { parts, next: i };
}

/** Index after the balanced bracket group opening at `at`. */
function skipParens(tokens: DuckDbToken[], at: number): number {
  let depth = 0;
  for (let i = at; i < tokens.length; i++) {
    if (isOpen(tokens[i])) depth++;
    else if (isClose(tokens[i])) { depth--; if (depth === 0) return i + 1; }
  }
  throw refuse('analysis.parse_error', 'refused: unbalanced parentheses', 'fix the SQL syntax');
}

function isOpen(t: DuckDbToken | undefined): boolean {
  return isPunct(t, '(') || isPunct(t, '[') || isPunct(t, '{');
}
function isClose(t: DuckDbToken | undefined): boolean {
  return isPunct(t, ')') || isPunct(t, ']') || isPunct(t, '}');
}

function depthAt(tokens: DuckDbToken[], at: number): number {
  let depth = 0;
  for (let i = 0; i < at; i++) {
    if (isOpen(tokens[i])) depth++;
    else if (isClose(tokens[i])) depth--;
  }
  return depth;
}

/** First index >= from at bracket depth 0 (relative to `from`) matching, else tokens.length. */
function findTopLevel(tokens: DuckDbToken[], from: number, match: (t: DuckDbToken, i: number) => boolean): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth === 0 && match(t, i)) return i;
    if (isOpen(t)) depth++;
    else if (isClose(t)) depth--;
  }
  return tokens.length;
}

/** [start, end) ranges between depth-0 commas in tokens[from, to). */
function splitTopLevel(tokens: DuckDbToken[], from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (isOpen(t)) depth++;
    else if (isClose(t)) depth--;
    else if (depth === 0 && isPunct(t, ',')) { out.push([start, i]); start = i + 1; }
  }
  if (start < to) out.push([start, to]);
  return out;
}

/** Index of the main statement after `WITH [RECURSIVE] name [(cols)] [USING KEY (…)] AS [NOT] [MATERIALIZED] (…), …`. */
function skipWithClause(tokens: DuckDbToken[], at: number): number {
  let i = at;
  if (isKeyword(tokens[i], 'RECURSIVE')) i++;
  for (;;) {
    const name = tokens[i];
    if (!name || (name.kind !== 'word' && name.kind !== 'ident')) throw cannotDecompose('WITH', 'expected a CTE name');
    i++;
    if (isPunct(tokens[i], '(')) i = skipParens(tokens, i);
    if (isKeyword(tokens[i], 'USING') && isKeyword(tokens[i + 1], 'KEY')) i = skipParens(tokens, i + 2);
    if (!isKeyword(tokens[i], 'AS')) throw cannotDecompose('WITH', 'expected AS');
    i++;
    if (isKeyword(tokens[i], 'NOT')) i++;
    if (isKeyword(tokens[i], 'MATERIALIZED')) i++;
    if (!isPunct(tokens[i], '(')) throw cannotDecompose('WITH', 'expected "("');
    i = skipParens(tokens, i);
    if (isPunct(tokens[i], ',')) { i++; continue; }
    return i;
  }
}

function expectEnd(tokens: DuckDbToken[], at: number, what: string): void {
  if (at < tokens.length) throw cannotDecompose(what, `unexpected "${tokens[at]!.text}"`);
}

function refuse(code: string, message: string, hint: string): AnalysisError {
  return new AnalysisError(code, message, { rule: 'analysis', hint });
}

function cannotDecompose(what: string, why: string): AnalysisError {
  return refuse('analysis.unsupported_shape', `refused: hoopq cannot analyse this ${what} statement with certainty (${why})`, 'use a simpler form: INSERT INTO t SELECT …, UPDATE t SET c = … WHERE …, DELETE FROM t WHERE …');
}

function unsupported(what: string): AnalysisError {
  return refuse('analysis.unsupported_statement', `refused: ${what} statements are not supported on the DuckDB warehouse`, 'use INSERT, UPDATE and DELETE instead');
}

function unknownStatement(tokens: DuckDbToken[], at: number): AnalysisError {
  const words = tokens.slice(at, at + 2).map((t) => t.text).join(' ');
  return refuse('analysis.unknown_statement', `refused: hoopq does not recognise the statement starting "${words}"`, 'send SELECT queries, or INSERT/UPDATE/DELETE/CREATE/DROP/ALTER statements your policy allows');
}
