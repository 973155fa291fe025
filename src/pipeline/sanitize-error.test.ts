/**
 * Adversarial: errors a real DuckDB raises over personal data, converted by the adapter and
 * passed through sanitizeError, must keep nothing of the data — whatever the function, cast
 * or engine template — while still naming the error class and the names the caller wrote.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSqlSealKey, sealSql, unsealSql } from '../audit/seal-sql.js';
import { AnalysisError, InternalError, PolicyDeniedError, WarehouseError } from '../errors.js';
import { toWarehouseError } from '../warehouse/duckdb/duckdb-error.js';
import { describeForLog, sanitizeError } from './sanitize-error.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PERSONAL = {
  name: 'Marguerite Okonkwo-Vance',
  email: 'marguerite.ov@example.org',
  phone: '+1 415-555-0172',
  ssn: '123-45-6789',
  card: '4111 1111 1111 1111',
  notes: 'Prefers email; alt contact zed.alt7@mail.example.org, call 415 555 0199',
  big: '98765432109',
};
/** Pieces of the data, any of which in an error would be a leak. */
const FRAGMENTS = ['Marguerite', 'Okonkwo', 'marguerite', 'example.org', '@', '555', '0172', '6789', '1111', 'zed.alt7', 'Prefers', '98765', '9876-54-321'];

let connection: DuckDBConnection;
let instance: DuckDBInstance;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run(
    `CREATE TABLE people AS SELECT '${PERSONAL.name}' AS name, '${PERSONAL.email}' AS email, '${PERSONAL.phone}' AS phone, '${PERSONAL.ssn}' AS ssn, '${PERSONAL.card}' AS card, '${PERSONAL.notes}' AS notes, ${PERSONAL.big} AS big`,
  );
});

afterAll(() => {
  connection.closeSync();
  instance.closeSync();
});

async function engineError(sql: string): Promise<WarehouseError> {
  try {
    await connection.runAndReadAll(sql);
  } catch (err) {
    return toWarehouseError(err);
  }
  throw new Error(`expected ${sql} to fail`);
}

const CASES: Array<{ sql: string; keeps: RegExp }> = [
  { sql: "SELECT CAST(string_agg(notes, ', ') AS INTEGER) FROM people WHERE notes LIKE '%@%'", keeps: /^Conversion Error: Could not convert string '…' to INT32 when casting from source column string_agg\(notes\)$/ },
  { sql: "SELECT CAST(reverse('9876-54-321') AS DATE)", keeps: /^Conversion Error: invalid date field format: "…", expected format is \(YYYY-MM-DD\)/ },
  { sql: 'SELECT error(name) FROM people', keeps: /^Invalid Input Error: …$/ },
  { sql: 'SELECT error(notes) FROM people', keeps: /^Invalid Input Error:/ },
  { sql: 'SELECT CAST(big AS INTEGER) FROM people', keeps: /value … can't be cast .* INT32 when casting from source column big/ },
  { sql: 'SELECT big * big * big FROM people', keeps: /^Out of Range Error: Overflow in multiplication of INT64/ },
  { sql: "SELECT json_extract(notes, '$.a') FROM people", keeps: /^Invalid Input Error: Malformed JSON/ },
  { sql: "SELECT strptime(name, '%Y') FROM people", keeps: /^Invalid Input Error: Could not parse string/ },
  { sql: 'SELECT CAST(phone AS BIGINT) FROM people', keeps: /to INT64 when casting from source column phone/ },
  { sql: 'SELECT CAST(card AS BIGINT) FROM people', keeps: /Conversion Error/ },
  { sql: 'SELECT CAST(ssn AS DATE) FROM people', keeps: /Conversion Error/ },
  { sql: 'SELECT CAST(email AS STRUCT(a INT)) FROM people', keeps: /destination type STRUCT\(a INTEGER\)/ },
  { sql: 'SELECT from_base64(name) FROM people', keeps: /Could not decode string "…" as base64/ },
  { sql: 'SELECT date_part(name, now()) FROM people', keeps: /extract specifier "…" not recognized/ },
  { sql: 'SELECT nosuchcol FROM people', keeps: /Referenced column "nosuchcol" not found in FROM clause/ },
  { sql: 'SELECT name FROM people WHERE name = 1', keeps: /Could not convert string '…' to INT32/ },
];

describe('sanitizeError over real DuckDB errors that quote personal data', () => {
  for (const { sql, keeps } of CASES) {
    it(sql, async () => {
      const raw = await engineError(sql);
      const rawText = raw.engineMessage!.text;
      const { error, sealed } = sanitizeError(raw, { sql, seal: (t) => `sealed:${t.length}` });
      // the class, code and exit code survive; the message keeps what can be kept
      expect(error).toBeInstanceOf(WarehouseError);
      expect(error.code).toBe('warehouse.sql_error');
      expect(error.message).toMatch(keeps);
      for (const fragment of FRAGMENTS) expect(error.message, `${fragment} in ${error.message}`).not.toContain(fragment);
      // never the SQL as run (DuckDB appends it with a caret)
      expect(error.message).not.toMatch(/LINE \d+:|\^/);
      expect(sealed).toBe(`sealed:${rawText.length}`);
      expect(error.engineMessage).toBeUndefined();
      expect((error as { cause?: unknown }).cause).toBeUndefined();
      expect(JSON.stringify(error.toJSON())).not.toMatch(/marguerite|555|6789/i);
    });
  }

  it('keeps the raw text out of the adapter\'s own message, so a path that forgets the stage leaks nothing', async () => {
    const raw = await engineError("SELECT CAST(string_agg(notes, ', ') AS INTEGER) FROM people");
    expect(raw.message).toBe("Conversion Error (DuckDB's message is withheld: it may quote data)");
  });

  it('seals the original so the operator can read it, and only with the deployment key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-seal-'));
    try {
      const key = loadOrCreateSqlSealKey(dir);
      const raw = await engineError('SELECT error(email) FROM people');
      const { error, sealed } = sanitizeError(raw, { seal: (t) => sealSql(t, key) });
      expect(error.message).not.toContain(PERSONAL.email);
      expect(unsealSql(sealed!, key)).toBe(`Invalid Input Error: ${PERSONAL.email}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an internal error (anything not a HoopqError) is shown redacted and logged without its text', () => {
    const bug = new TypeError(`Cannot read properties of undefined (reading '${PERSONAL.email}')`);
    const { error, sealed } = sanitizeError(bug, { seal: (t) => t });
    expect(error).toBeInstanceOf(InternalError);
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/^internal error \(a bug in hoopq\): TypeError: Cannot read properties of undefined/);
    expect(error.message).not.toContain('example.org');
    expect(sealed).toContain(PERSONAL.email);
    const line = describeForLog(bug);
    expect(line).toMatch(/\[internal\]\n\s+at /);
    expect(line).not.toContain('example.org');
  });

  it('hoopq\'s own messages keep their words, lose literals, and lose what a detector finds', () => {
    const denied = new PolicyDeniedError('policy.table_denied', `refused: run r1 at 2026-01-02T03:04:05.000Z read demo.crm.payment_cards where card = ${PERSONAL.card}`, { rule: 'tables.deny' });
    const { error } = sanitizeError(denied, { literals: ['secret-literal'] });
    expect(error.message).toBe('refused: run r1 at 2026-01-02T03:04:05.000Z read demo.crm.payment_cards where card = [CREDIT_CARD]');
    const parse = new AnalysisError('analysis.parse_error', "syntax error at or near 'secret-literal'");
    expect(sanitizeError(parse, { literals: ['secret-literal'] }).error.message).toBe("syntax error at or near '[REDACTED]'");
  });

  it('is idempotent', async () => {
    const once = sanitizeError(await engineError('SELECT CAST(name AS DATE) FROM people'), { sql: 'SELECT CAST(name AS DATE) FROM people' }).error;
    const message = once.message;
    const twice = sanitizeError(once, { sql: 'SELECT CAST(name AS DATE) FROM people' });
    expect(twice.error.message).toBe(message);
    expect(twice.sealed).toBeNull();
  });
});
