/**
 * Generated and mutated SQL for the differential fuzzer: allowed and denied reads, masked
 * columns and engine-control statements, hidden or separated by every construct where a
 * hand-written lexer and DuckDB's scanner could disagree — `--` comments ended by \r, \n,
 * \r\n or the end, nested block comments, every whitespace and line-separator code point,
 * dollar quotes with ASCII and non-ASCII tags, E'' / B'' / X'' and escaped strings, numbers
 * like 1e--, 1.e5, 0x, 1_000, quoted identifiers with "" doubling, unicode identifiers, and
 * semicolons inside all of these. Deterministic for a seed.
 */

export { prng } from '../../src/quickstart/demo-data.js';

/** Queries an analyst-agent token may run (some read masked columns). */
export const ALLOWED = [
  'SELECT id, city FROM crm.customers',
  'SELECT count(*) AS n FROM analytics.events',
  'SELECT 1 AS one',
  "SELECT name FROM customers WHERE city = 'Oslo'",
  'SELECT email, phone, ssn FROM crm.customers',
  'SELECT * FROM crm.customer_directory',
  'SELECT NULL AS id, NULL AS card, NULL AS expiry',
  'WITH c AS (SELECT id, email FROM crm.customers) SELECT * FROM c',
  'SELECT reverse(ssn) AS r, upper(email) AS u FROM crm.customers',
];

/** What an attacker wants to run: denied tables, raw masked values, engine control. */
export const PAYLOADS = [
  'SELECT card_number FROM crm.payment_cards',
  'SELECT id, reverse(card_number), expiry FROM crm.payment_cards',
  "SET VARIABLE leak = (SELECT string_agg(card_number, ',') FROM crm.payment_cards)",
  'CREATE TEMP TABLE t AS SELECT * FROM crm.payment_cards',
  "SELECT * FROM query('SELECT * FROM crm.payment_cards')",
  'SELECT * FROM duckdb_tables()',
  'SELECT card_number FROM analytics.card_spend',
  "SELECT getvariable('leak')",
  'CALL enable_logging()',
  "SELECT current_setting('threads')",
  'CREATE MACRO main.sha256(x) AS x',
  'SELECT reverse(ssn) FROM (SELECT ssn FROM crm.customers) AS raw',
];

/** Set operations that pull a payload's rows into an allowed query's result. */
export const UNION_TAILS = [
  ' UNION ALL SELECT id, reverse(card_number), expiry FROM crm.payment_cards',
  ' UNION ALL SELECT NULL, card_number, NULL FROM crm.payment_cards',
];

const TAGS = ['', 'a', 'é', 'ä1', 'x_y', '€', 'tag$', 'Ω'];
const SPACES = [' ', '\t', '\n', '\r', '\r\n', '\f', '\v', '\u00a0', '\u2028', '\u2029', '\u3000', '\ufeff', '\u0085', '\u1680', '\u200b', '\u2000', '\u202f', '\u205f', '\u000b', '\u001f'];
const LINE_ENDS = ['\r', '\n', '\r\n', ''];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** Wrappers a naive lexer may read as non-code while DuckDB reads code, or the reverse. */
function hide(rand: () => number, payload: string): string {
  const tag = pick(rand, TAGS);
  const other = pick(rand, TAGS);
  const end = pick(rand, LINE_ENDS);
  const forms = [
    () => ` --x${end} ${payload}${pick(rand, LINE_ENDS)}`,
    () => ` --${end}${payload}`,
    () => ` # ${payload}`,
    () => ` /* a /* b */ ${payload} */`,
    () => ` /* a */ ${payload}`,
    () => ` /* a /* b */ c */ ; ${payload}`,
    () => `/**/${payload}`,
    () => ` /*/ ${payload} */`,
    () => `; $${tag}$ ; ${payload} ; $${tag}$`,
    () => `; SELECT $${tag}$ ; ${payload} ; $${other}$`,
    () => `; SELECT E'\\'; ${payload}; '`,
    () => `; SELECT E'\\\\'; ${payload}; '`,
    () => `; SELECT 'it''s; ${payload}'`,
    () => `; SELECT B'01''; ${payload}; '`,
    () => `; SELECT X'1F''; ${payload}; '`,
    () => `; SELECT 1e--x${end}; ${payload}`,
    () => `; SELECT 1.e5; ${payload}`,
    () => `; SELECT 0x1F; ${payload}`,
    () => `; SELECT 1_000 AS n; ${payload}`,
    () => `; SELECT "a""; ${payload}" FROM crm.customers`,
    () => `; SELECT "é" FROM crm.customers; ${payload}`,
    () => `;${pick(rand, SPACES)}${payload}`,
    () => `${pick(rand, SPACES)}; ${payload}`,
    () => `; SELECT 'a'\n'; ${payload}'`,
    () => `; SELECT 'a' --c\n'; ${payload}'`,
    () => `; SELECT 'a' /* c */\n'; ${payload}'`,
    () => ` ${payload.replace(/ /g, pick(rand, SPACES))}`,
    () => `; SELECT U&'d\\0061t'; ${payload}`,
    () => `; SELECT $1 ; ${payload}`,
    () => `; SELECT ?; ${payload}`,
  ];
  return pick(rand, forms)();
}

/** One generated case: an allowed query with a payload hidden, separated or appended. */
export function generateCase(rand: () => number): string {
  const base = pick(rand, ALLOWED);
  const shape = rand();
  if (shape < 0.25) return base + hide(rand, pick(rand, UNION_TAILS).trim());
  if (shape < 0.7) return base + hide(rand, pick(rand, PAYLOADS));
  if (shape < 0.85) return `${pick(rand, PAYLOADS)}${hide(rand, base)}`;
  // two hidings in a row, to balance statement counts
  return base + hide(rand, pick(rand, PAYLOADS)) + hide(rand, pick(rand, ALLOWED));
}

const MUTATION_POOL = ['--', '\r', '\n', '/*', '*/', "'", "''", '"', '$', '$é$', '$$', ';', 'E', 'e', '1', '.', '_', '\\', '\u00a0', '\u2028', '\v', 'x', ' ', '#', '?', 'é'];

/** A random edit of a generated case: insert, delete or replace a few characters. */
export function mutateCase(rand: () => number, sql: string): string {
  let out = sql;
  const edits = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rand() * (out.length + 1));
    const op = rand();
    if (op < 0.5) out = out.slice(0, at) + pick(rand, MUTATION_POOL) + out.slice(at);
    else if (op < 0.75) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rand() * 3));
    else out = out.slice(0, at) + pick(rand, MUTATION_POOL) + out.slice(at + 1);
  }
  return out;
}
