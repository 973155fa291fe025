/**
 * The fake BigQuery's translation of GoogleSQL into DuckDB SQL: exactly the subset the tests
 * and hoopq's own mask rewrite produce, done on a scan that respects strings and quoted names
 * (never on raw text), so that results are computed by a real engine:
 * - `p.d.t` in backticks -> "p"."d"."t"; a wildcard table `p.d.prefix*` -> the UNION ALL BY
 *   NAME of the matching tables with their `_TABLE_SUFFIX` (the caller expands the list);
 * - BYTES semantics: SHA256 returns bytes, TO_HEX hexes bytes, CONCAT of bytes is bytes,
 *   CAST(x AS BYTES) is the UTF-8 of x (DuckDB macros bq_*, installed by the engine);
 * - record copies: `(SELECT AS STRUCT s.* REPLACE (e AS f, …))` -> struct_update(s, f := e, …),
 *   `ARRAY(SELECT … FROM UNNEST(a) AS e WITH OFFSET AS o ORDER BY o)` -> list_transform(a, e -> …);
 * - FOR SYSTEM_TIME AS OF <expr> is dropped (the fake keeps no history);
 * - `UNNEST(a) AS x` in FROM -> a lateral `(SELECT unnest(a) AS x)`;
 * - `@name` parameters -> `$name`; UNNEST(GENERATE_ARRAY(a, b)) AS x -> generate_series.
 * Test-only. Anything outside the subset is left as it is, and DuckDB's error says so.
 */

export type WildcardExpander = (project: string, dataset: string, prefix: string) => string[];

export const FAKE_MACROS = [
  `CREATE MACRO bq_to_hex(b) AS lower(hex(b))`,
  `CREATE MACRO bq_sha256(b) AS unhex(sha256(b))`,
  `CREATE MACRO bq_concat(a, b) AS a || b, (a, b, c) AS a || b || c, (a, b, c, d) AS a || b || c || d`,
  `CREATE MACRO bq_to_json_string(x) AS CAST(to_json(x) AS VARCHAR)`,
];

export function translateGoogleSql(sql: string, expandWildcard: WildcardExpander = () => []): string {
  let out = sql;
  out = replaceCalls(out, 'CAST', (args) => (/\s+AS\s+BYTES\s*$/i.test(args) ? `encode(CAST(${args.replace(/\s+AS\s+BYTES\s*$/i, '')} AS VARCHAR))` : undefined));
  out = translateRecordCopies(out);
  out = translateArrays(out);
  out = dropTimeTravel(out);
  out = translateFromUnnest(out);
  out = translateInUnnest(out);
  // the macros live in the engine's own catalog; queries run with a project's catalog in USE
  out = renameCalls(out, { TO_HEX: 'memory.main.bq_to_hex', SHA256: 'memory.main.bq_sha256', CONCAT: 'memory.main.bq_concat', TO_JSON_STRING: 'memory.main.bq_to_json_string' });
  out = out.replace(/UNNEST\(GENERATE_ARRAY\(([^()]*)\)\)\s+AS\s+(\w+)/gi, 'generate_series($1) AS _g($2)');
  out = mapCode(out, (code) => code.replace(/@(\w+)/g, '$$$1'));
  out = out.replace(/`([^`]*)`/g, (_m, name: string) => {
    const parts = name.split('.');
    const last = parts[parts.length - 1]!;
    if (parts.length === 3 && last.endsWith('*')) return wildcardUnion(parts[0]!, parts[1]!, last.slice(0, -1), expandWildcard);
    return parts.map(q).join('.');
  });
  return out;
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function wildcardUnion(project: string, dataset: string, prefix: string, expand: WildcardExpander): string {
  const tables = expand(project, dataset, prefix);
  if (tables.length === 0) return `${q(project)}.${q(dataset)}.${q(`${prefix}__no_table_matches`)}`;
  const parts = tables.map((t) => `SELECT *, '${t.slice(prefix.length).replace(/'/g, "''")}' AS _TABLE_SUFFIX FROM ${q(project)}.${q(dataset)}.${q(t)}`);
  return `(${parts.join(' UNION ALL BY NAME ')})`;
}

/** Applies `f` to the code between strings, quoted names and comments. */
function mapCode(sql: string, f: (code: string) => string): string {
  let out = '';
  let code = '';
  for (let i = 0; i < sql.length; ) {
    const end = skipLiteral(sql, i);
    if (end > i) {
      out += f(code) + sql.slice(i, end);
      code = '';
      i = end;
    } else {
      code += sql[i];
      i++;
    }
  }
  return out + f(code);
}

/** End of the string, quoted name or comment starting at i, or i when none starts there. */
function skipLiteral(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"' || c === '`') {
    let j = i + 1;
    while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const nl = sql.indexOf('\n', i);
    return nl === -1 ? sql.length : nl;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close === -1 ? sql.length : close + 2;
  }
  return i;
}

/** Index of the `)` closing the `(` at `open`. */
function closeOf(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; ) {
    const end = skipLiteral(sql, i);
    if (end > i) {
      i = end;
      continue;
    }
    if (sql[i] === '(') depth++;
    if (sql[i] === ')' && --depth === 0) return i;
    i++;
  }
  throw new Error(`fake BigQuery: unbalanced parentheses in ${sql}`);
}

/** Top-level comma-separated parts of a list. */
function splitTop(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; ) {
    const end = skipLiteral(list, i);
    if (end > i) {
      i = end;
      continue;
    }
    const c = list[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  parts.push(list.slice(start).trim());
  return parts;
}

/** Every call `NAME(args)` (code only, word boundary) whose rewrite `f` gives; innermost first. */
function replaceCalls(sql: string, name: string, f: (args: string) => string | undefined): string {
  const re = new RegExp(`\\b${name}\\s*\\(`, 'gi');
  for (let from = sql.length; ; ) {
    let found = -1;
    for (const m of sql.matchAll(re)) if (m.index! < from && isCode(sql, m.index!)) found = m.index!;
    if (found === -1) return sql;
    const open = sql.indexOf('(', found);
    const close = closeOf(sql, open);
    const replaced = f(translateNested(sql.slice(open + 1, close), name, f));
    if (replaced !== undefined) sql = sql.slice(0, found) + replaced + sql.slice(close + 1);
    from = found;
  }
}

function translateNested(args: string, name: string, f: (args: string) => string | undefined): string {
  return replaceCalls(args, name, f);
}

function isCode(sql: string, at: number): boolean {
  for (let i = 0; i < at; ) {
    const end = skipLiteral(sql, i);
    if (end > at && end > i) return false;
    i = end > i ? end : i + 1;
  }
  return true;
}

function renameCalls(sql: string, names: Record<string, string>): string {
  return mapCode(sql, (code) => code.replace(new RegExp(`\\b(${Object.keys(names).join('|')})\\s*\\(`, 'gi'), (_m, n: string) => `${names[n.toUpperCase()]}(`));
}

/** `(SELECT AS STRUCT s.* REPLACE (e AS f, …))` -> `struct_update(s, f := e, …)`. */
function translateRecordCopies(sql: string): string {
  const re = /\(\s*SELECT\s+AS\s+STRUCT\s+/gi;
  for (;;) {
    const matches = [...sql.matchAll(re)].filter((m) => isCode(sql, m.index!));
    const m = matches.at(-1);
    if (!m) return sql;
    const open = m.index!;
    const close = closeOf(sql, open);
    const body = sql.slice(open + m[0].length, close);
    const parsed = /^([\s\S]*?)\.\*\s+REPLACE\s*\(/i.exec(body);
    if (!parsed) throw new Error(`fake BigQuery: unsupported SELECT AS STRUCT: ${body}`);
    const replaceOpen = parsed[0].length - 1;
    const replaceClose = closeOf(body, replaceOpen);
    const rest = body.slice(replaceClose + 1).trim();
    let items = splitTop(body.slice(replaceOpen + 1, replaceClose)).map(renamedItem);
    let ref = parsed[1]!.trim();
    // `… FROM UNNEST([path]) AS n`: the struct at `path`, bound to the name n
    const bound = /^FROM\s+UNNEST\(\[([\s\S]*)\]\)\s+AS\s+(\w+)$/i.exec(rest);
    if (bound) {
      items = items.map((i) => i.split(bound[2]!).join(bound[1]!));
      ref = bound[1]!;
    }
    const struct = `struct_update(${ref}, ${items.join(', ')})`;
    // inside ARRAY(… FROM UNNEST(a) AS e …) the FROM stays for translateArrays
    sql = sql.slice(0, open) + (rest === '' || bound ? struct : `(SELECT ${struct} ${rest})`) + sql.slice(close + 1);
  }
}

/** `expr AS \`f\`` -> `"f" := expr`. */
function renamedItem(item: string): string {
  const m = /^([\s\S]*)\s+AS\s+`?([A-Za-z_][A-Za-z0-9_]*)`?$/i.exec(item);
  if (!m) throw new Error(`fake BigQuery: unsupported REPLACE item: ${item}`);
  return `${m[2]} := ${m[1]!.trim()}`;
}

/** `ARRAY(SELECT x FROM UNNEST(a) AS e WITH OFFSET AS o ORDER BY o)` -> `list_transform(a, e -> x)`. */
function translateArrays(sql: string): string {
  return replaceCalls(sql, 'ARRAY', (args) => {
    const m = /^\s*\(?\s*SELECT\s+([\s\S]*)\s+FROM\s+UNNEST\(([\s\S]*)\)\s+AS\s+(\w+)\s+WITH\s+OFFSET\s+AS\s+(\w+)\s+ORDER\s+BY\s+\4\s*\)?\s*$/i.exec(args);
    if (!m) return undefined;
    return `list_transform(${m[2]}, ${m[3]} -> ${m[1]!.trim()})`;
  });
}

/**
 * `FROM …, UNNEST(arr) AS x` (no WITH OFFSET) -> `(SELECT unnest(arr) AS x) AS _unnest_x`, a
 * lateral subquery whose column x is each element (for an ARRAY<STRUCT>, `x.field` reads a field).
 */
function translateFromUnnest(sql: string): string {
  const re = /\bUNNEST\s*\(/gi;
  for (let from = sql.length; ; ) {
    const m = [...sql.matchAll(re)].filter((x) => x.index! < from && isCode(sql, x.index!)).at(-1);
    if (!m) return sql;
    from = m.index!;
    const open = m.index! + m[0].length - 1;
    const close = closeOf(sql, open);
    const args = sql.slice(open + 1, close);
    const alias = /^\s+AS\s+(\w+)\b(?!\s+WITH\s+OFFSET)/i.exec(sql.slice(close + 1));
    if (!alias || /^\s*GENERATE_ARRAY\s*\(/i.test(args)) continue;
    const name = alias[1]!;
    sql = `${sql.slice(0, m.index!)}(SELECT unnest(${args}) AS ${name}) AS _unnest_${name}${sql.slice(close + 1 + alias[0].length)}`;
  }
}

/** `x IN UNNEST(arr)` -> `x IN (SELECT unnest(arr))`. */
function translateInUnnest(sql: string): string {
  const re = /\bIN\s+UNNEST\s*\(/gi;
  for (;;) {
    const m = [...sql.matchAll(re)].filter((x) => isCode(sql, x.index!)).at(-1);
    if (!m) return sql;
    const open = m.index! + m[0].length - 1;
    const close = closeOf(sql, open);
    sql = `${sql.slice(0, m.index!)}IN (SELECT unnest(${sql.slice(open + 1, close)}))${sql.slice(close + 1)}`;
  }
}

/** `FOR SYSTEM_TIME AS OF <expr>` up to the next `)`, `,`, keyword or end. */
function dropTimeTravel(sql: string): string {
  return mapCode(sql, (code) => code.replace(/\bFOR\s+SYSTEM_TIME\s+AS\s+OF\s+(?:TIMESTAMP\s*)?(?:\w+\s*\([^()]*(?:\([^()]*\))?[^()]*\)|[^\s(),]+)/gi, ' '));
}
